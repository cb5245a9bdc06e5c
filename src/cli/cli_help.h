/*
 * cli_help.h — one table per command describing its options (names,
 * argument, help text), read by both the parser and `--help` (and so by the
 * man page, which scripts/gen-man.sh makes from `taap help COMMAND`).
 *
 *   static const cli_opt pop_opts[] = {
 *       {"key", OPT_KEY, "FILE", "private key …\nelse $TAAP_PRIVATE_KEY …"},
 *       {"json", OPT_JSON, NULL, "print {\"token\",…}"},
 *       {"help", 'h', NULL, "this help"},
 *       {0}};
 *   const cli_help cmd_pop_help = {
 *       "usage: taap pop …\n\nBuild a PoP token …\n",
 *       {{"\nOptions:", pop_opts, 28}},
 *       "\nExit status: …\n"};
 *
 *   cli_parser p;
 *   cli_parser_init(&p, &cmd_pop_help);
 *   while ((c = cli_next_option(&p, argc, argv)) != -1) switch (c) { … }
 *
 * A help row is "  -k, --name ARG" padded to the group's column, then the
 * text; a '\n' in the text continues it on the next line at the column. A
 * long-only option lines up after "-X, " in a group that says align_long.
 */
#ifndef TAAP_CLI_HELP_H
#define TAAP_CLI_HELP_H

#include <getopt.h>
#include <stdio.h>

/* One option. */
typedef struct cli_opt {
    const char *name; /* long name without "--"; NULL ends the table */
    int key;          /* what the parser returns: a short option letter (shown as
                         "-k, ") or a command's OPT_ constant (>= 0x100) */
    const char *arg;  /* "FILE", "N"…; NULL: a flag; "[WORD]": an optional value */
    const char *help; /* NULL: an alias the parser takes and help does not show */
} cli_opt;

/* A titled group of options in the help text. */
typedef struct cli_opt_group {
    const char *title;   /* printed as is, then '\n' (e.g. "\nOptions:") */
    const cli_opt *opts; /* NULL ends the groups */
    int column;          /* where help texts start (0: 24) */
    int align_long;      /* 1: "      --name" under "  -X, --name" */
    const char *note;    /* printed after the rows (may be NULL) */
} cli_opt_group;

#define CLI_HELP_MAX_GROUPS 8

/* A command's whole help: the text before the options, the option groups,
 * the text after (exit status, examples). */
typedef struct cli_help {
    const char *intro;
    cli_opt_group groups[CLI_HELP_MAX_GROUPS];
    const char *outro;
} cli_help;

void cli_help_print(const cli_help *h, FILE *out);

/* The getopt_long tables built from a help's option groups. */
#define CLI_PARSER_MAX_OPTS 128
typedef struct cli_parser {
    const cli_help *help;
    struct option longs[CLI_PARSER_MAX_OPTS + 1];
    char shorts[3 * CLI_PARSER_MAX_OPTS + 2];
} cli_parser;

/* Build the tables (and reset getopt: optind = 1, opterr = 0). */
void cli_parser_init(cli_parser *p, const cli_help *h);

/* getopt_long over the tables: the option's key, -1 at the end, '?' for an
 * unknown option and ':' for a missing value (give those to
 * cli_parser_bad()). An option named "help" prints the help on stdout and
 * exits 0 (main.c answers a plain --help before the command runs; this is
 * for -h inside a cluster and the like). */
int cli_next_option(cli_parser *p, int argc, char **argv);

/* The one message for '?' or ':' (cli_options.h); returns CLI_EXIT_USAGE. */
int cli_parser_bad(const cli_parser *p, int c, char **argv);

#endif
