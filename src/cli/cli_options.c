/* cli_options.c — bad-option messages with a "did you mean" (cli_options.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_options.h"

#define MAX_NAME 64

/* Edit distance (insert, delete, substitute, swap of neighbours). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAX_NAME || lb >= MAX_NAME)
        return (size_t)-1;
    size_t d[MAX_NAME + 1][MAX_NAME + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *cli_option_suggest(const char *name, const struct option *longopts)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (const struct option *o = longopts; o && o->name; o++) {
        size_t d = distance(name, o->name);
        if (d < best_d) {
            best_d = d;
            best = o->name;
        }
    }
    /* A typo, not a different word: at most 2 edits, and fewer than half the name. */
    size_t len = strlen(name);
    return best && best_d <= 2 && best_d * 2 < len ? best : NULL;
}

/* The message for unknown option `opt` ("--jsno"), with a suggestion from
 * `longopts` (may be NULL). */
static int unknown_option(const char *opt, const struct option *longopts)
{
    const char *name = opt;
    while (*name == '-')
        name++;
    const char *guess = longopts ? cli_option_suggest(name, longopts) : NULL;
    if (guess)
        cli_errorf("unknown option '%s' (did you mean '--%s'?); see %s --help", opt, guess,
                   cli_progname);
    else
        cli_errorf("unknown option '%s'; see %s --help", opt, cli_progname);
    return CLI_EXIT_USAGE;
}

int cli_bad_option(int c, char **argv, const struct option *longopts)
{
    char opt[MAX_NAME + 3];
    /* A long option is the argument itself (up to '='); a short one may sit
     * in a cluster (-sZ), so getopt's optopt names it. */
    const char *arg = argv[optind - 1];
    int is_long = arg && arg[0] == '-' && arg[1] == '-';
    if (is_long)
        snprintf(opt, sizeof opt, "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(opt, sizeof opt, "-%c", optopt);
    if (c == ':') {
        cli_errorf("option '%s' needs a value; see %s --help", opt, cli_progname);
        return CLI_EXIT_USAGE;
    }
    return unknown_option(opt, is_long ? longopts : NULL);
}

