/*
 * cli_exit.h — the one exit-status table of every taap command.
 *
 * A command's exit status is the taap_code of what failed (include/taap/
 * error.h: the SPEC §2 verification codes are exit statuses), plus the few
 * statuses that are the command's own (1, 2, 22). `taap help exit-status`,
 * the man page's EXIT STATUS section and README's table all come from (or
 * are checked against) cli_exit_table[].
 */
#ifndef TAAP_CLI_EXIT_H
#define TAAP_CLI_EXIT_H

#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1         /* the operation did not succeed (run: a request failed its check) */
#define CLI_EXIT_USAGE 2        /* bad flag, argument or value */
#define CLI_EXIT_HTTP_STATUS 22 /* the server answered >= 400 (curl --fail's 22) */
#define CLI_EXIT_TRANSPORT 50   /* TAAP_E_HTTP: connect, TLS, timeout */
#define CLI_EXIT_OAUTH 52       /* TAAP_E_OAUTH: no access token */
#define CLI_EXIT_CONFIG 54      /* TAAP_E_CONFIG: settings missing or wrong, no such profile */
#define CLI_EXIT_SERVER 60      /* TAAP_E_SERVER: the emulator cannot start (port busy…) */
#define CLI_EXIT_NOT_FOUND 62   /* TAAP_E_NOT_FOUND: a named emulator object does not exist */

typedef struct cli_exit_row {
    int first, last;     /* a status or a range */
    const char *meaning; /* one line */
} cli_exit_row;

/* Ascending, terminated by {-1, -1, NULL}. */
extern const cli_exit_row cli_exit_table[];

/* The table as `taap help exit-status` prints it. */
void cli_exit_print(FILE *out);

#endif
