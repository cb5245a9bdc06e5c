/*
 * cli_options.h — the one way a taap command reports a bad option.
 *
 * Every command parses through its option table (cli_help.h): getopt_long
 * with opterr = 0 and an optstring that starts with ':', so getopt prints
 * nothing and returns '?' (unknown option) or ':' (missing value); the
 * command then returns cli_parser_bad() → cli_bad_option(), which prints
 * one line in one format:
 *
 *   taap pop: unknown option '--jsno' (did you mean '--json'?); see taap pop --help
 *   taap pop: option '--key' needs a value; see taap pop --help
 */
#ifndef TAAP_CLI_OPTIONS_H
#define TAAP_CLI_OPTIONS_H

#include <getopt.h>

/* `c` is getopt_long's result, `argv` the command's; returns CLI_EXIT_USAGE. */
int cli_bad_option(int c, char **argv, const struct option *longopts);

/* The long option closest to `name` (without dashes), or NULL when none is
 * close enough to be a likely typo. */
const char *cli_option_suggest(const char *name, const struct option *longopts);

#endif
