/*
 * cli.h — the taap command: the command table and the helpers every
 * command shares. Commands only call the public libtaap API.
 */
#ifndef TAAP_CLI_H
#define TAAP_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "taap/taap.h"
#include "cli_config.h"

#include "cli_exit.h"
#include "cli_help.h"

/* One command: `taap NAME …`. `help` gives `taap help NAME` and `taap NAME
 * --help` (usage line first) from the command's option table (cli_help.h). */
typedef struct cli_command {
    const char *name;
    const char *summary;               /* one line for `taap help` */
    int needs_network;                 /* 1: in taap-full only (commands.def) */
    int (*run)(int argc, char **argv); /* argv[0] is the command name; NULL: exec taap-full */
    const cli_help *help;
} cli_command;

/* The table (main.c). */
extern const cli_command cli_commands[];

/* Print a command's help to `out`. */
void cli_print_help(const cli_command *cmd, FILE *out);
const cli_command *cli_find_command(const char *name);

/* Each command, one file each (cmd_NAME.c). */
#define CLI_COMMAND(name, net, summary)     \
    int cmd_##name(int argc, char **argv); \
    extern const cli_help cmd_##name##_help;
#include "commands.def"
#undef CLI_COMMAND

/* Diagnostics on stderr, prefixed "taap: " (or "taap CMD: "). */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a library error as one line and return the exit status to use:
 * the taap_code number itself (SPEC §2 codes are exit statuses). */
int cli_report(const taap_error *err);

/* Set by main from the command name, used as the diagnostics prefix. */
extern const char *cli_progname;

/* 1 when colour may be used on `f`: a terminal, NO_COLOR unset or empty,
 * TERM not "dumb" (cli_term.c). */
int cli_use_color(FILE *f);

/* 1 when UTF-8 symbols (box drawing, ✓ ✗) may be printed: the locale
 * (LC_ALL, else LC_CTYPE, else LANG) names UTF-8. */
int cli_use_unicode(void);

/* Largest time a JWT claim may hold (SPEC §2.6): 9999-12-31T23:59:59Z. */
#define CLI_MAX_EPOCH INT64_C(253402300799)

/* `--now EPOCH`: seconds since 1970 in 0..CLI_MAX_EPOCH. Returns 0, or
 * CLI_EXIT_USAGE after printing what was wrong (naming `flag`). */
int cli_parse_epoch(const char *flag, const char *arg, int64_t *out);

/* A library clock callback (taap_pop_options.clock, taap_verify_config.clock)
 * that returns the int64_t `ctx` points to: the pinned --now. */
int64_t cli_fixed_clock(void *ctx);

#endif
