/* main.c — `taap COMMAND …`: one table drives dispatch and `taap help`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef TAAP_VERSION
#define TAAP_VERSION "0.1.0"
#endif

const char *cli_progname = "taap";

/* The table comes from commands.def. In the light `taap` binary the
 * commands that need the network are not linked in: their entries have no
 * function and are handed to taap-full (see run_full()). */
#ifdef TAAP_CLI_LIGHT
#define CLI_RUN(name, net) CLI_RUN_##net(name)
#define CLI_RUN_0(name) cmd_##name, &cmd_##name##_help
#define CLI_RUN_1(name) NULL, NULL
#else
#define CLI_RUN(name, net) cmd_##name, &cmd_##name##_help
#endif

const cli_command cli_commands[] = {
#define CLI_COMMAND(name, net, summary) {#name, summary, net, CLI_RUN(name, net)},
#include "commands.def"
#undef CLI_COMMAND
    {NULL, NULL, 0, NULL, NULL},
};

/*
 * Hand the whole command line to taap-full: beside this executable (the
 * build tree), in ../libexec/taap/ relative to it (an install under any
 * prefix), else the libexec path configured at build time. Returns only on
 * failure.
 */
static int run_full(char **argv)
{
    static const char *const relative[] = {"taap-full", "../libexec/taap/taap-full"};
    char self[4096], path[4096 + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = NULL;
    if (n > 0) {
        self[n] = '\0';
        slash = strrchr(self, '/');
    }
    for (size_t i = 0; slash && i < sizeof relative / sizeof relative[0]; i++) {
        *slash = '\0';
        snprintf(path, sizeof path, "%s/%s", self, relative[i]);
        if (access(path, X_OK) == 0) {
            execv(path, argv);
            cli_errorf("cannot run %s: %s", path, strerror(errno));
            return CLI_EXIT_FAIL;
        }
    }
#ifdef TAAP_FULL_INSTALLED
    execv(TAAP_FULL_INSTALLED, argv);
    cli_errorf("this command needs %s: %s", TAAP_FULL_INSTALLED, strerror(errno));
#else
    cli_errorf("this command needs taap-full beside taap: not found");
#endif
    return CLI_EXIT_FAIL;
}

const cli_command *cli_find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

void cli_print_help(const cli_command *cmd, FILE *out)
{
    cli_help_print(cmd->help, out);
}

__attribute__((format(printf, 2, 0)))
static void vmsg(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", cli_progname, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_warnf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

int cli_report(const taap_error *err)
{
    cli_errorf("%s", err->message[0] ? err->message : taap_strerror(err->code));
    return err->code == TAAP_OK ? CLI_EXIT_FAIL : (int)err->code;
}

int cli_parse_epoch(const char *flag, const char *arg, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < 0 || v > CLI_MAX_EPOCH) {
        cli_errorf("%s '%s': give seconds since 1970 (0..%lld)", flag, arg,
                   (long long)CLI_MAX_EPOCH);
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

int64_t cli_fixed_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: taap COMMAND [OPTIONS]\n\n"
                 "taap — T-Mobile API Access Protocol (TAAP) from the command line.\n\n"
                 "Commands:\n");
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-11s %s\n", c->name, c->summary);
    fprintf(out, "\n  help [COMMAND]  show help (also: taap COMMAND --help)\n"
                 "  help exit-status  the exit statuses of every command\n"
                 "  version         show the version\n\n"
                 "Exit status: 0 success, 1 failure, 2 usage error, 10-21 PoP verification\n"
                 "codes (SPEC §2), 22 HTTP status >= 400, others in `taap help exit-status`.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc >= 3 && strcmp(argv[2], "exit-status") == 0) {
            cli_exit_print(stdout);
            return CLI_EXIT_OK;
        }
        if (argc >= 3) {
            const cli_command *c = cli_find_command(argv[2]);
            if (!c) {
                cli_errorf("no such command '%s' (see `taap help`)", argv[2]);
                return CLI_EXIT_USAGE;
            }
            if (!c->run)
                return run_full(argv);
            cli_print_help(c, stdout);
            return CLI_EXIT_OK;
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("taap %s (libtaap %s)\n", TAAP_VERSION, taap_version());
        return CLI_EXIT_OK;
    }
    const cli_command *c = cli_find_command(name);
    if (!c) {
        cli_errorf("no such command '%s' (see `taap help`)", name);
        return CLI_EXIT_USAGE;
    }
    if (!c->run)
        return run_full(argv);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help(c, stdout);
            return CLI_EXIT_OK;
        }
    }
    static char prog[64];
    snprintf(prog, sizeof prog, "taap %s", c->name);
    cli_progname = prog;
    return c->run(argc - 1, argv + 1);
}
