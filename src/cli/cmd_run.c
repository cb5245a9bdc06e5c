/*
 * cmd_run.c — `taap run`: run a Postman collection like Newman, with PoP
 * tokens signed natively, tokens captured and refreshed, data-driven
 * iterations (optionally in parallel) and cli/json/junit reports.
 * All the work is in libtaap (taap/postman.h); this file parses flags,
 * prints events and writes the report files.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_secret.h"
#include "taap/postman.h"

const char cmd_run_help[] =
    "usage: taap run COLLECTION [-e ENV] [-g GLOBALS] [-d DATA] [options]\n"
    "\n"
    "Run a Postman collection (format v2.0/v2.1) like `newman run`, without\n"
    "JavaScript: every request that carries an X-Authorization header (or all\n"
    "requests with --taap) gets a fresh PoP token signed natively over exactly\n"
    "the bytes sent; the OAuth token request's access_token/id_token are captured\n"
    "into the variables the collection uses and refreshed before expiry and\n"
    "after a 401. Scripts are not executed: PoP-building, token-capturing and\n"
    "status-checking scripts are recognised and handled natively; any other\n"
    "script gets one warning.\n"
    "\n"
    "Inputs:\n"
    "  -e, --environment FILE       Postman environment (enabled:false honoured)\n"
    "  -g, --globals FILE           Postman globals\n"
    "  -d, --iteration-data FILE    CSV (RFC 4180) or JSON array; values stay strings\n"
    "  -n, --iteration-count N      iterations (default: data rows, else 1)\n"
    "      --folder NAME            run only this folder or request (name, id or\n"
    "                               path A/B); repeatable\n"
    "      --env-var KEY=VALUE      set an environment variable (repeatable)\n"
    "      --global-var KEY=VALUE   set a global variable (repeatable)\n"
    "      --working-dir DIR        base directory for file bodies and uploads\n"
    "\n"
    "Requests:\n"
    "      --delay-request MS       pause between requests\n"
    "      --timeout-request MS     per-request timeout (default: none)\n"
    "      --retry N                retry transport errors and 5xx N times, each\n"
    "                               with a fresh PoP\n"
    "  -j, --jobs N                 run N iterations in parallel (one shared token)\n"
    "      --bail                   stop at the first failed request\n"
    "  -k, --insecure               do not verify TLS certificates\n"
    "      --cacert FILE            CA bundle for TLS\n"
    "      --connect-to H:P:H2:P2   connect to H2:P2 for requests to H:P (like curl)\n"
    "      --expect-status RANGE    pass when the status is in RANGE (2xx, 200,\n"
    "                               200-204, comma-separated); overrides the\n"
    "                               status checks found in test scripts; the\n"
    "                               default is those checks, else 2xx\n"
    "      --strict-vars            an unresolved {{variable}} fails the request\n"
    "\n"
    "TAAP:\n"
    "      --taap                   sign every request with a PoP token\n"
    "      --key FILE               private key for PoP tokens (else $TAAP_PRIVATE_KEY,\n"
    "                               else the profile's private_key, else a PEM in the\n"
    "                               environment, e.g. privateKey)\n"
    "      --profile NAME           profile to take the key from (else $TAAP_PROFILE)\n"
    "      --passphrase-file FILE   passphrase of an encrypted --key (else\n"
    "                               $TAAP_KEY_PASSPHRASE)\n"
    "      --token-var NAME         variable that receives the access token (default:\n"
    "                               the one the collection's test script sets, else\n"
    "                               access_token)\n"
    "\n"
    "Output:\n"
    "  -r, --reporters LIST         cli,json,junit (default cli)\n"
    "      --reporter-json-export FILE   JSON report (default taap-run-report.json)\n"
    "      --reporter-junit-export FILE  JUnit XML (default taap-run-report.xml)\n"
    "      --json                   print the JSON report on stdout instead of lines\n"
    "  -q, --quiet                  no per-request lines (summary and errors only)\n"
    "      --export-environment FILE    write the environment after the run\n"
    "      --export-globals FILE        write the globals after the run (both keep\n"
    "                               types, enabled flags and secret markers; written\n"
    "                               atomically with mode 0600; may be the input file)\n"
    "      --no-redact              show tokens and secrets in output and reports\n"
    "                               (redacted by default)\n"
    "      --now-file FILE          (testing) read the current time, in epoch seconds,\n"
    "                               from FILE (as `taap serve --now-file`)\n"
    "\n"
    "Exit status: 0 every request met its expectation; 1 a request failed its\n"
    "expectation; 2 usage, unreadable or invalid collection/environment/data,\n"
    "unknown --folder, no key, or an unresolved variable under --strict-vars;\n"
    "50 a transport error (connect, TLS, timeout); see taap help exit-status.\n";

enum {
    OPT_FOLDER = 1000,
    OPT_DELAY,
    OPT_TIMEOUT,
    OPT_BAIL,
    OPT_ENV_VAR,
    OPT_GLOBAL_VAR,
    OPT_EXPORT_ENV,
    OPT_EXPORT_GLOBALS,
    OPT_JSON_EXPORT,
    OPT_JUNIT_EXPORT,
    OPT_EXPECT,
    OPT_RETRY,
    OPT_STRICT,
    OPT_TAAP,
    OPT_TOKEN_VAR,
    OPT_KEY,
    OPT_PASSFILE,
    OPT_PROFILE,
    OPT_NO_REDACT,
    OPT_CONNECT_TO,
    OPT_CACERT,
    OPT_WORKDIR,
    OPT_JSON,
    OPT_NOW_FILE,
};

#define MAX_LIST 64

typedef struct run_cli {
    const char *env_path, *glob_path, *data_path;
    const char *folders[MAX_LIST];
    size_t n_folders;
    const char *env_vars[MAX_LIST], *glob_vars[MAX_LIST];
    size_t n_env_vars, n_glob_vars;
    const char *connect_to[MAX_LIST];
    size_t n_connect_to;
    const char *export_env, *export_glob;
    const char *json_path, *junit_path;
    int rep_cli, rep_json, rep_junit;
    int json_stdout, quiet;
    const char *key_path, *passphrase_file, *profile;
    /* printing state */
    int color, progress, progress_shown, parallel;
    unsigned iterations;
} run_cli;

/* --now-file (testing, like `taap serve --now-file`): the current time in
 * epoch seconds is read from the file at every use, so a test can share
 * one clock with the emulator. */
static int64_t now_from_file(void *ctx)
{
    char buf[64] = "";
    FILE *f = fopen((const char *)ctx, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    char *end;
    long long v = strtoll(buf, &end, 10);
    return end != buf ? (int64_t)v : (int64_t)time(NULL);
}

static int parse_uint(const char *flag, const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || (unsigned long long)v > max) {
        cli_errorf("%s: expected a whole number 0..%u, got \"%s\"", flag, max, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int add_list(const char **list, size_t *n, const char *v, const char *flag)
{
    if (*n >= MAX_LIST) {
        cli_errorf("%s given more than %d times", flag, MAX_LIST);
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}

static int parse_reporters(run_cli *c, const char *list)
{
    c->rep_cli = c->rep_json = c->rep_junit = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 3 && !strncmp(p, "cli", 3))
            c->rep_cli = 1;
        else if (n == 4 && !strncmp(p, "json", 4))
            c->rep_json = 1;
        else if (n == 5 && !strncmp(p, "junit", 5))
            c->rep_junit = 1;
        else if (n) {
            cli_errorf("--reporters: unknown reporter \"%.*s\" (cli, json, junit)", (int)n, p);
            return -1;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static void clear_progress(run_cli *c)
{
    if (c->progress_shown) {
        fputs("\r\033[K", stderr);
        c->progress_shown = 0;
    }
}

static void on_event(void *ctx, const taap_run_event *ev)
{
    run_cli *c = ctx;
    const char *green = c->color ? "\033[32m" : "", *red = c->color ? "\033[31m" : "",
               *dim = c->color ? "\033[2m" : "", *off = c->color ? "\033[0m" : "";
    switch (ev->type) {
    case TAAP_RUN_EV_START:
        if (c->rep_cli && !c->json_stdout)
            printf("%s\n", ev->message ? ev->message : "");
        break;
    case TAAP_RUN_EV_ITERATION:
        if (c->rep_cli && !c->json_stdout && !c->quiet && ev->iterations > 1) {
            clear_progress(c);
            printf("\nIteration %u/%u\n", ev->iteration + 1, ev->iterations);
        }
        break;
    case TAAP_RUN_EV_WARNING:
        clear_progress(c);
        cli_warnf("%s", ev->message);
        break;
    case TAAP_RUN_EV_NOTE:
        clear_progress(c);
        fprintf(stderr, "%s: note: %s\n", cli_progname, ev->message);
        break;
    case TAAP_RUN_EV_REQUEST: {
        const taap_run_request *q = ev->request;
        if (c->rep_cli && !c->json_stdout && !c->quiet) {
            clear_progress(c);
            char it[32] = "";
            if (c->parallel && ev->iterations > 1)
                snprintf(it, sizeof it, "[%u] ", q->iteration + 1);
            if (q->skipped) {
                printf("%s- %s%s%s  (%s)%s\n", dim, it, q->path, "", q->notes ? q->notes : "",
                       off);
            } else if (q->transport_error || q->config_error) {
                printf("%s✗%s %s%s  %s %s  [%s]", red, off, it, q->path, q->method, q->url,
                       q->error ? q->error : "error");
                if (q->notes)
                    printf("  %s(%s)%s", dim, q->notes, off);
                putchar('\n');
            } else {
                printf("%s%s%s %s%s  %s %s  [%ld, %llu B, %.0f ms]", q->passed ? green : red,
                       q->passed ? "✓" : "✗", off, it, q->path, q->method, q->url, q->status,
                       (unsigned long long)q->response_bytes, q->time_ms);
                if (!q->passed)
                    printf("  %s%s%s", red, q->error ? q->error : "failed", off);
                if (q->notes)
                    printf("  %s(%s)%s", dim, q->notes, off);
                putchar('\n');
                if (!q->passed && q->detail)
                    printf("    %s\n", q->detail);
            }
            fflush(stdout);
        }
        if (c->progress) {
            fprintf(stderr, "\r\033[K[%zu/%zu] %s", ev->done, ev->total, q->path);
            c->progress_shown = 1;
        }
        break;
    }
    case TAAP_RUN_EV_END:
        clear_progress(c);
        break;
    }
}

static int set_vars(taap_varset *v, const char *const *list, size_t n, const char *flag)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(list[i], '=');
        if (!eq || eq == list[i]) {
            cli_errorf("%s: expected KEY=VALUE, got \"%s\"", flag, list[i]);
            return -1;
        }
        char key[512];
        size_t kl = (size_t)(eq - list[i]);
        if (kl >= sizeof key) {
            cli_errorf("%s: variable name too long", flag);
            return -1;
        }
        memcpy(key, list[i], kl);
        key[kl] = '\0';
        taap_error err = TAAP_ERROR_INIT;
        if (taap_varset_set(v, key, eq + 1, &err) != TAAP_OK) {
            cli_errorf("%s: %s", flag, err.message);
            return -1;
        }
    }
    return 0;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_errorf("%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n;
    if (fclose(f) != 0 || bad) {
        cli_errorf("%s: write failed", path);
        return -1;
    }
    return 0;
}

static void print_failures(const taap_run_result *r)
{
    size_t k = 0;
    for (size_t i = 0; i < taap_run_result_count(r); i++) {
        const taap_run_request *q = taap_run_result_get(r, i);
        if (q->passed)
            continue;
        if (!k)
            printf("  #  failure\n");
        k++;
        printf("%3zu. %s%s%s\n     iteration %u: %s\n", k, q->path,
               q->transport_error ? " (transport)" : q->config_error ? " (config)" : "", "",
               q->iteration + 1, q->error ? q->error : "failed");
    }
}

/* The one exit-status table (cli_exit.h): a configuration problem is a
 * usage error, a transport error 50 as in `taap call`, a failed check 1. */
static int run_exit_status(const taap_run_result *res)
{
    taap_run_stats st;
    taap_run_result_stats(res, &st);
    if (st.config_errors)
        return CLI_EXIT_USAGE;
    if (st.transport_errors)
        return CLI_EXIT_TRANSPORT;
    return st.failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
    run_cli c;
    memset(&c, 0, sizeof c);
    c.rep_cli = 1;
    taap_run_options o;
    taap_run_options_init(&o);
    static const struct option longs[] = {
        {"environment", required_argument, NULL, 'e'},
        {"globals", required_argument, NULL, 'g'},
        {"iteration-data", required_argument, NULL, 'd'},
        {"iteration-count", required_argument, NULL, 'n'},
        {"folder", required_argument, NULL, OPT_FOLDER},
        {"delay-request", required_argument, NULL, OPT_DELAY},
        {"timeout-request", required_argument, NULL, OPT_TIMEOUT},
        {"bail", no_argument, NULL, OPT_BAIL},
        {"insecure", no_argument, NULL, 'k'},
        {"env-var", required_argument, NULL, OPT_ENV_VAR},
        {"global-var", required_argument, NULL, OPT_GLOBAL_VAR},
        {"export-environment", required_argument, NULL, OPT_EXPORT_ENV},
        {"export-globals", required_argument, NULL, OPT_EXPORT_GLOBALS},
        {"reporters", required_argument, NULL, 'r'},
        {"reporter-json-export", required_argument, NULL, OPT_JSON_EXPORT},
        {"reporter-junit-export", required_argument, NULL, OPT_JUNIT_EXPORT},
        {"expect-status", required_argument, NULL, OPT_EXPECT},
        {"retry", required_argument, NULL, OPT_RETRY},
        {"jobs", required_argument, NULL, 'j'},
        {"strict-vars", no_argument, NULL, OPT_STRICT},
        {"taap", no_argument, NULL, OPT_TAAP},
        {"token-var", required_argument, NULL, OPT_TOKEN_VAR},
        {"key", required_argument, NULL, OPT_KEY},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"passphrase-file", required_argument, NULL, OPT_PASSFILE},
        {"no-redact", no_argument, NULL, OPT_NO_REDACT},
        {"connect-to", required_argument, NULL, OPT_CONNECT_TO},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"working-dir", required_argument, NULL, OPT_WORKDIR},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"now-file", required_argument, NULL, OPT_NOW_FILE},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    unsigned u;
    while ((ch = getopt_long(argc, argv, ":e:g:d:n:kr:j:q", longs, NULL)) != -1) {
        switch (ch) {
        case 'e': c.env_path = optarg; break;
        case 'g': c.glob_path = optarg; break;
        case 'd': c.data_path = optarg; break;
        case 'n':
            if (parse_uint("-n", optarg, 10000000u, &o.iterations) || o.iterations == 0) {
                if (o.iterations == 0)
                    cli_errorf("-n: at least 1 iteration");
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_FOLDER:
            if (add_list(c.folders, &c.n_folders, optarg, "--folder"))
                return CLI_EXIT_USAGE;
            break;
        case OPT_DELAY:
            if (parse_uint("--delay-request", optarg, 3600000u, &o.delay_ms))
                return CLI_EXIT_USAGE;
            break;
        case OPT_TIMEOUT:
            if (parse_uint("--timeout-request", optarg, 86400000u, &o.timeout_ms))
                return CLI_EXIT_USAGE;
            break;
        case OPT_BAIL: o.bail = 1; break;
        case 'k': o.insecure = 1; break;
        case OPT_ENV_VAR:
            if (add_list(c.env_vars, &c.n_env_vars, optarg, "--env-var"))
                return CLI_EXIT_USAGE;
            break;
        case OPT_GLOBAL_VAR:
            if (add_list(c.glob_vars, &c.n_glob_vars, optarg, "--global-var"))
                return CLI_EXIT_USAGE;
            break;
        case OPT_EXPORT_ENV: c.export_env = optarg; break;
        case OPT_EXPORT_GLOBALS: c.export_glob = optarg; break;
        case 'r':
            if (parse_reporters(&c, optarg))
                return CLI_EXIT_USAGE;
            break;
        case OPT_JSON_EXPORT: c.json_path = optarg; c.rep_json = 1; break;
        case OPT_JUNIT_EXPORT: c.junit_path = optarg; c.rep_junit = 1; break;
        case OPT_EXPECT: o.expect_status = optarg; break;
        case OPT_RETRY:
            if (parse_uint("--retry", optarg, 100u, &o.retries))
                return CLI_EXIT_USAGE;
            break;
        case 'j':
            if (parse_uint("-j", optarg, 64u, &u) || u == 0) {
                if (u == 0)
                    cli_errorf("-j: between 1 and 64");
                return CLI_EXIT_USAGE;
            }
            o.jobs = u;
            break;
        case OPT_STRICT: o.strict_vars = 1; break;
        case OPT_TAAP: o.taap = 1; break;
        case OPT_TOKEN_VAR: o.token_var = optarg; break;
        case OPT_KEY: c.key_path = optarg; break;
        case OPT_PASSFILE: c.passphrase_file = optarg; break;
        case OPT_PROFILE: c.profile = optarg; break;
        case OPT_NO_REDACT: o.no_redact = 1; break;
        case OPT_CONNECT_TO:
            if (add_list(c.connect_to, &c.n_connect_to, optarg, "--connect-to"))
                return CLI_EXIT_USAGE;
            break;
        case OPT_CACERT: o.cacert = optarg; break;
        case OPT_WORKDIR: o.working_dir = optarg; break;
        case OPT_JSON: c.json_stdout = 1; break;
        case 'q': c.quiet = 1; break;
        case OPT_NOW_FILE:
            o.clock = now_from_file;
            o.clock_ctx = optarg;
            break;
        default:
            return cli_bad_option(ch, argv, longs);
        }
    }
    if (optind + 1 != argc) {
        cli_errorf(optind >= argc ? "no collection given (usage: taap run COLLECTION [options])"
                                  : "one collection at a time (got \"%s\" too)",
                   optind < argc ? argv[optind + 1] : "");
        return CLI_EXIT_USAGE;
    }
    const char *coll_path = argv[optind];
    o.folders = c.folders;
    o.n_folders = c.n_folders;
    o.connect_to = c.connect_to;
    o.n_connect_to = c.n_connect_to;

    int rc = CLI_EXIT_USAGE;
    taap_error err = TAAP_ERROR_INIT;
    taap_collection *coll = NULL;
    taap_varset *env = NULL, *glob = NULL;
    taap_iterdata *data = NULL;
    taap_key *key = NULL;
    taap_run_result *res = NULL;
    char *text = NULL;

    if (taap_collection_load(coll_path, &coll, &err) != TAAP_OK) {
        cli_errorf("%s", err.message);
        goto out;
    }
    if (c.env_path ? taap_varset_load(c.env_path, &env, &err) != TAAP_OK
                   : !(env = taap_varset_new())) {
        cli_errorf("environment %s", err.message);
        goto out;
    }
    if (c.glob_path ? taap_varset_load(c.glob_path, &glob, &err) != TAAP_OK
                    : !(glob = taap_varset_new())) {
        cli_errorf("globals %s", err.message);
        goto out;
    }
    if (c.data_path && taap_iterdata_load(c.data_path, &data, &err) != TAAP_OK) {
        cli_errorf("%s", err.message);
        goto out;
    }
    if (set_vars(env, c.env_vars, c.n_env_vars, "--env-var") ||
        set_vars(glob, c.glob_vars, c.n_glob_vars, "--global-var"))
        goto out;
    /* the key as every command finds it (cli_config): --key, else
     * $TAAP_PRIVATE_KEY, else the profile's private_key; without any of
     * them the library finds a PEM in the collection's environment */
    cli_config kc;
    if ((rc = cli_config_init(&kc)) != 0)
        goto out;
    kc.profile = c.profile;
    rc = (c.key_path && cli_config_set(&kc, "private_key", c.key_path)) ? CLI_EXIT_USAGE
                                                                        : cli_config_load(&kc);
    if (rc == 0 && cli_config_get(&kc, "private_key", NULL, 0)) {
        cli_key_options ko = {0};
        ko.passphrase_file = c.passphrase_file;
        rc = cli_config_key(&kc, &ko, &key) ? CLI_EXIT_USAGE : 0;
    }
    cli_config_free(&kc);
    if (rc)
        goto out;
    o.key = key;

    c.color = cli_use_color(stdout);
    c.progress = isatty(STDERR_FILENO) && !c.json_stdout;
    c.parallel = o.jobs > 1;
    if (taap_run_collection(coll, env, glob, data, &o, on_event, &c, &res, &err) != TAAP_OK) {
        clear_progress(&c);
        cli_errorf("%s", err.message);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    rc = run_exit_status(res);

    if (c.json_stdout || c.rep_json) {
        if (taap_run_report_json(res, &text, &err) != TAAP_OK) {
            cli_errorf("%s", err.message);
            goto out;
        }
        if (c.json_stdout)
            fputs(text, stdout);
        if (c.rep_json &&
            write_text(c.json_path ? c.json_path : "taap-run-report.json", text) != 0)
            rc = rc ? rc : CLI_EXIT_FAIL;
        free(text);
        text = NULL;
    }
    if (c.rep_junit) {
        if (taap_run_report_junit(res, &text, &err) != TAAP_OK) {
            cli_errorf("%s", err.message);
            goto out;
        }
        if (write_text(c.junit_path ? c.junit_path : "taap-run-report.xml", text) != 0)
            rc = rc ? rc : CLI_EXIT_FAIL;
        free(text);
        text = NULL;
    }
    if (c.rep_cli && !c.json_stdout) {
        if (taap_run_report_summary(res, &text, &err) == TAAP_OK) {
            putchar('\n');
            fputs(text, stdout);
        }
        free(text);
        text = NULL;
        print_failures(res);
        taap_run_stats st;
        taap_run_result_stats(res, &st);
        if (st.bailed)
            printf("stopped early (--bail)\n");
    }
    if (c.export_env && taap_varset_export(env, c.export_env, &err) != TAAP_OK) {
        cli_errorf("--export-environment: %s", err.message);
        rc = rc ? rc : CLI_EXIT_FAIL;
    }
    if (c.export_glob && taap_varset_export(glob, c.export_glob, &err) != TAAP_OK) {
        cli_errorf("--export-globals: %s", err.message);
        rc = rc ? rc : CLI_EXIT_FAIL;
    }
out:
    fflush(stdout);
    free(text);
    taap_run_result_free(res);
    taap_key_free(key);
    taap_iterdata_free(data);
    taap_varset_free(glob);
    taap_varset_free(env);
    taap_collection_free(coll);
    return rc;
}
