/*
 * cmd_run.c — `taap run`: run a Postman collection like Newman, with PoP
 * tokens signed natively, tokens captured and refreshed, data-driven
 * iterations (optionally in parallel) and cli/json/junit reports.
 * All the work is in libtaap (taap/postman.h); this file parses flags,
 * prints events and writes the report files.
 */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_secret.h"
#include "taap/http.h"
#include "taap/postman.h"
#include "util.h"


enum {
    OPT_FOLDER = 1000,
    OPT_DELAY,
    OPT_TIMEOUT,
    OPT_BAIL,
    OPT_ENV_VAR,
    OPT_GLOBAL_VAR,
    OPT_EXPORT_ENV,
    OPT_EXPORT_GLOBALS,
    OPT_EXPORT_COLLECTION,
    OPT_JSON_EXPORT,
    OPT_JUNIT_EXPORT,
    OPT_EXPECT,
    OPT_RETRY,
    OPT_STRICT,
    OPT_TAAP,
    OPT_TOKEN_VAR,
    OPT_KEY,
    OPT_PASSFILE,
    OPT_NO_REDACT,
    OPT_CONNECT_TO,
    OPT_CACERT,
    OPT_WORKDIR,
    OPT_NO_INSECURE_FILE_READ,
    OPT_JSON,
    OPT_NOW_FILE,
    OPT_SILENT,
    OPT_VERBOSE,
    OPT_COLOR,
    OPT_DISABLE_UNICODE,
    OPT_NO_SUMMARY,
    OPT_NO_FAILURES,
    OPT_NO_ASSERTIONS,
    OPT_TIMEOUT_SCRIPT,
    OPT_IGNORE_REDIRECTS,
    OPT_PROFILE,
    OPT_IGNORE_SCRIPTS,
};

#define MAX_LIST 64

typedef struct run_cli {
    const char *coll_path, *env_path, *glob_path, *data_path;
    const char *folders[MAX_LIST];
    size_t n_folders;
    const char *env_vars[MAX_LIST], *glob_vars[MAX_LIST];
    size_t n_env_vars, n_glob_vars;
    const char *connect_to[MAX_LIST];
    size_t n_connect_to;
    const char *export_env, *export_glob, *export_coll;
    const char *json_path, *junit_path;
    int rep_cli, rep_json, rep_junit;
    int json_stdout, quiet, silent, verbose, suppress_exit;
    int no_summary, no_failures;
    int color_mode; /* -1 auto, 0 off, 1 on */
    const char *key_path, *passphrase_file, *profile;
    /* printing state */
    taap_run_cli_style style;
    int progress, progress_shown, parallel;
    size_t failure_no;
    size_t failures;           /* for the status line */
    int64_t start_ns, last_ns;
    char folder[1024]; /* the folder whose header was printed last */
} run_cli;

/* ---- signals: stop starting requests, keep what ran ------------------------ */

static volatile sig_atomic_t run_signal;

static void on_signal(int sig)
{
    run_signal = sig;
}

/* SIGINT/SIGTERM set run_signal (the runner polls it between requests);
 * SA_RESETHAND: a second signal ends taap at once. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

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

/* --bail [folder|failure] (Newman): failure (or nothing) stops at the first
 * failed request; folder only refuses an unknown --folder, which taap
 * always does. */
static int parse_bail(const char *arg, int *bail)
{
    if (!arg) {
        *bail = 1;
        return 0;
    }
    *bail = 0;
    const char *p = arg;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 7 && !strncmp(p, "failure", 7))
            *bail = 1;
        else if (!(n == 6 && !strncmp(p, "folder", 6)) && n) {
            cli_errorf("--bail: expected folder or failure (comma-separated), got \"%.*s\"",
                       (int)n, p);
            return -1;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int parse_color(const char *arg, int *mode)
{
    if (!strcmp(arg, "on"))
        *mode = 1;
    else if (!strcmp(arg, "off"))
        *mode = 0;
    else if (!strcmp(arg, "auto"))
        *mode = -1;
    else {
        cli_errorf("--color: expected on, off or auto, got \"%s\"", arg);
        return -1;
    }
    return 0;
}

/* ---- printing events ------------------------------------------------------------ */

static void clear_progress(run_cli *c)
{
    if (c->progress_shown) {
        fputs("\r\033[K", stderr);
        c->progress_shown = 0;
    }
}

static int prints_lines(const run_cli *c)
{
    return c->rep_cli && !c->json_stdout && !c->quiet && !c->silent;
}

/* "❏ Folder" when the request's folder differs from the last one printed. */
static void folder_header(run_cli *c, const taap_run_request *q)
{
    size_t pl = strlen(q->path), nl = strlen(q->name);
    size_t keep = pl > nl + 3 ? pl - nl - 3 : 0;
    if (strlen(c->folder) == keep && !strncmp(c->folder, q->path, keep))
        return;
    snprintf(c->folder, sizeof c->folder, "%.*s", (int)keep, q->path);
    if (keep)
        printf("\n%s %s\n", c->style.ascii ? "Folder" : "❏", c->folder);
    else
        putchar('\n');
}

static void verbose_lines(const run_cli *c, const taap_run_request *q)
{
    for (size_t h = 0; h < q->n_headers; h++)
        printf("    %s: %s\n", q->header_names[h], q->header_values[h]);
    if (!q->skipped && q->status > 0)
        printf("    dns %.1fms  connect %.1fms  tls %.1fms  first byte %.1fms  total %.1fms\n",
               q->dns_ms, q->connect_ms, q->tls_ms, q->first_byte_ms, q->time_ms);
    (void)c;
}

static void print_request(run_cli *c, const taap_run_event *ev)
{
    const taap_run_request *q = ev->request;
    char *text = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_run_report_request(q, &c->style, &c->failure_no, &text, &err) != TAAP_OK)
        return;
    if (prints_lines(c)) {
        clear_progress(c);
        folder_header(c, q);
        if (c->parallel && ev->iterations > 1)
            printf("[%u] ", q->iteration + 1);
        fputs(text, stdout);
        if (c->verbose)
            verbose_lines(c, q);
        if (!q->passed && q->detail && !q->transport_error && !q->config_error)
            printf("    %s\n", q->detail);
        fflush(stdout);
    }
    free(text);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The one status line on a terminal: iteration, requests, failures, rate,
 * ETA; redrawn at most ten times a second (and for the last request). */
static void show_progress(run_cli *c, const taap_run_event *ev)
{
    const taap_run_request *q = ev->request;
    c->failures += !q->skipped && (q->transport_error || q->config_error || !q->passed);
    int64_t now = mono_ns();
    if (ev->done < ev->total && now - c->last_ns < 100000000LL)
        return;
    c->last_ns = now;
    double secs = (double)(now - c->start_ns) / 1e9;
    double rate = secs > 0 ? (double)ev->done / secs : 0;
    char eta[32] = "-";
    if (rate > 0 && ev->total > ev->done) {
        long left = (long)((double)(ev->total - ev->done) / rate + 0.5);
        snprintf(eta, sizeof eta, "%ldm%02lds", left / 60, left % 60);
    }
    fprintf(stderr, "\r\033[Kiteration %u/%u  requests %zu/%zu  failures %zu  %.1f req/s  ETA %s",
            q->iteration + 1, ev->iterations ? ev->iterations : 1, ev->done, ev->total,
            c->failures, rate, eta);
    fflush(stderr);
    c->progress_shown = 1;
}

static void on_event(void *ctx, const taap_run_event *ev)
{
    run_cli *c = ctx;
    switch (ev->type) {
    case TAAP_RUN_EV_START:
        if (c->rep_cli && !c->json_stdout && !c->silent)
            printf("%s\n", ev->message ? ev->message : "");
        break;
    case TAAP_RUN_EV_ITERATION:
        if (prints_lines(c) && ev->iterations > 1) {
            clear_progress(c);
            printf("\nIteration %u/%u\n", ev->iteration + 1, ev->iterations);
            c->folder[0] = '\0';
        }
        break;
    case TAAP_RUN_EV_WARNING:
        clear_progress(c);
        if (!c->silent)
            cli_warnf("%s", ev->message);
        break;
    case TAAP_RUN_EV_NOTE:
        clear_progress(c);
        if (!c->silent)
            fprintf(stderr, "%s: note: %s\n", cli_progname, ev->message);
        break;
    case TAAP_RUN_EV_REQUEST:
        print_request(c, ev);
        if (c->progress)
            show_progress(c, ev);
        break;
    case TAAP_RUN_EV_END:
        clear_progress(c);
        break;
    case TAAP_RUN_EV_CONSOLE: /* a script's console line, already redacted */
        if (prints_lines(c)) {
            clear_progress(c);
            printf("  │ %s\n", ev->message ? ev->message : "");
        }
        break;
    }
}

/* ---- inputs: a file, an http(s) URL, or - (standard input) ------------------ */

static int is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static int fetch_url(const char *url, size_t max, char **out, size_t *len, const char *what)
{
    taap_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = "GET";
    rq.target = url;
    taap_http_options ho;
    taap_http_options_init(&ho);
    ho.follow_redirects = 1;
    ho.max_response = max;
    ho.timeout_ms = 60000;
    taap_http_response *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_http_perform(&rq, &ho, NULL, &r, NULL, &err) != TAAP_OK) {
        cli_errorf("%s %s: %s", what, url, err.message);
        return -1;
    }
    if (r->status < 200 || r->status > 299) {
        cli_errorf("%s %s: the server answered %ld", what, url, r->status);
        taap_http_response_free(r);
        return -1;
    }
    *out = r->body;
    *len = r->body_len;
    r->body = NULL;
    taap_http_response_free(r);
    return 0;
}

static int read_stdin(size_t max, char **out, size_t *len, const char *what)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= max) {
                cli_errorf("%s from standard input: larger than %zu bytes", what, max);
                free(buf);
                return -1;
            }
            cap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                break;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (!buf || ferror(stdin)) {
        cli_errorf("%s from standard input: %s", what, buf ? strerror(errno) : "out of memory");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The bytes of `src` (path, URL or "-"), bounded by max. 0 or -1 (printed). */
static int read_source(const char *src, size_t max, char **out, size_t *len, const char *what)
{
    if (!strcmp(src, "-"))
        return read_stdin(max, out, len, what);
    if (is_url(src))
        return fetch_url(src, max, out, len, what);
    taap_error err = TAAP_ERROR_INIT;
    if (taap_read_file(src, max, 0, out, len, &err) != TAAP_OK) {
        cli_errorf("%s %s", what, err.message);
        return -1;
    }
    return 0;
}

static int load_varset(const char *src, taap_varset **out, const char *what)
{
    if (!src)
        return (*out = taap_varset_new()) ? 0 : -1;
    char *buf = NULL;
    size_t len = 0;
    if (read_source(src, TAAP_VARSET_MAX_BYTES, &buf, &len, what))
        return -1;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_varset_parse(buf, len, out, &err);
    taap_free_secret(buf, len);
    if (rc != TAAP_OK) {
        cli_errorf("%s %s: %s", what, src, err.message);
        return -1;
    }
    return 0;
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

/* ---- outputs ------------------------------------------------------------------- */

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

/* The environment or globals after the run. An interrupted run's export
 * says so in "_taap_run" ({"interrupted":true, "requests": n}) beside the
 * values, so nobody takes a partial run's state for a finished one. */
static int export_varset(const taap_varset *v, const char *path, const char *flag,
                         const taap_run_result *res)
{
    taap_run_stats st;
    taap_run_result_stats(res, &st);
    taap_error err = TAAP_ERROR_INIT;
    if (!st.interrupted) {
        if (taap_varset_export(v, path, &err) == TAAP_OK)
            return 0;
        cli_errorf("%s: %s", flag, err.message);
        return -1;
    }
    char *text = NULL;
    if (taap_varset_dump(v, &text, &err) != TAAP_OK) {
        cli_errorf("%s: %s", flag, err.message);
        return -1;
    }
    json_t *doc = json_loads(text, 0, NULL);
    taap_free_secret_str(text);
    text = NULL;
    if (json_is_object(doc))
        json_object_set_new(doc, "_taap_run",
                            json_pack("{s:b, s:I}", "interrupted", 1, "requests",
                                      (json_int_t)st.requests));
    char *out = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    int rc = out && taap_write_file_atomic(path, out, strlen(out), 0600, 1, &err) == TAAP_OK
                 ? 0
                 : -1;
    if (rc)
        cli_errorf("%s: %s", flag, out ? err.message : "out of memory");
    if (out)
        taap_free_secret_str(out);
    return rc;
}

/* Every requested report and export; 0, or -1 when one could not be written. */
static int write_outputs(run_cli *c, const taap_run_result *res, const taap_varset *env,
                         const taap_varset *glob, const char *coll_text, size_t coll_len)
{
    int bad = 0;
    char *text = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (c->json_stdout || c->rep_json) {
        if (taap_run_report_json(res, &text, &err) != TAAP_OK) {
            cli_errorf("%s", err.message);
            return -1;
        }
        if (c->json_stdout)
            fputs(text, stdout);
        if (c->rep_json)
            bad |= write_text(c->json_path ? c->json_path : "taap-run-report.json", text);
        free(text);
        text = NULL;
    }
    if (c->rep_junit) {
        if (taap_run_report_junit(res, &text, &err) != TAAP_OK) {
            cli_errorf("%s", err.message);
            return -1;
        }
        bad |= write_text(c->junit_path ? c->junit_path : "taap-run-report.xml", text);
        free(text);
        text = NULL;
    }
    if (c->export_env)
        bad |= export_varset(env, c->export_env, "--export-environment", res);
    if (c->export_glob)
        bad |= export_varset(glob, c->export_glob, "--export-globals", res);
    if (c->export_coll &&
        taap_write_file_atomic(c->export_coll, coll_text, coll_len, 0600, 1, &err) != TAAP_OK) {
        cli_errorf("--export-collection: %s", err.message);
        bad = 1;
    }
    return bad ? -1 : 0;
}

static void print_cli_end(run_cli *c, const taap_run_result *res)
{
    if (!c->rep_cli || c->json_stdout || c->silent)
        return;
    char *text = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (!c->no_summary && taap_run_report_cli_summary(res, &c->style, &text, &err) == TAAP_OK) {
        putchar('\n');
        fputs(text, stdout);
    }
    free(text);
    text = NULL;
    if (!c->no_failures && taap_run_report_failures(res, &c->style, &text, &err) == TAAP_OK &&
        *text) {
        putchar('\n');
        fputs(text, stdout);
    }
    free(text);
    taap_run_stats st;
    taap_run_result_stats(res, &st);
    if (st.bailed)
        printf("stopped early (--bail)\n");
    if (st.interrupted)
        printf("interrupted: %zu request%s ran; the reports say so\n", st.requests,
               st.requests == 1 ? "" : "s");
}

/* ---- the command line ------------------------------------------------------------ */

static const cli_opt run_input_opts[] = {
    {"environment", 'e', "FILE",
     "Postman environment (enabled:false honoured)"},
    {"globals", 'g', "FILE",
     "Postman globals"},
    {"iteration-data", 'd', "FILE",
     "CSV (RFC 4180) or JSON array; values stay strings"},
    {"iteration-count", 'n', "N",
     "iterations (default: data rows, else 1)"},
    {"folder", OPT_FOLDER, "NAME",
     "run only this folder or request (name, id or\npath A/B); repeatable"},
    {"env-var", OPT_ENV_VAR, "KEY=VALUE",
     "set an environment variable (repeatable)"},
    {"global-var", OPT_GLOBAL_VAR, "KEY=VALUE",
     "set a global variable (repeatable)"},
    {"working-dir", OPT_WORKDIR, "DIR",
     "base directory for file bodies and uploads"},
    {"no-insecure-file-read", OPT_NO_INSECURE_FILE_READ, NULL,
     "refuse files outside --working-dir (like Newman:\nwarned about, the request sent without them)"},
    {0}};
static const cli_opt run_request_opts[] = {
    {"delay-request", OPT_DELAY, "MS",
     "pause between requests"},
    {"timeout-request", OPT_TIMEOUT, "MS",
     "per-request timeout (default: none)"},
    {"retry", OPT_RETRY, "N",
     "retry transport errors and 5xx N times, each\nwith a fresh PoP"},
    {"jobs", 'j', "N",
     "run N iterations in parallel (one shared token)"},
    {"bail", OPT_BAIL, "[folder|failure]",
     "stop at the first failed request (`folder`\nalone: only refuse an unknown --folder,\nwhich taap always does)"},
    {"ignore-redirects", OPT_IGNORE_REDIRECTS, NULL,
     "do not follow 3xx responses"},
    {"insecure", 'k', NULL,
     "do not verify TLS certificates"},
    {"cacert", OPT_CACERT, "FILE",
     "CA bundle for TLS"},
    {"connect-to", OPT_CONNECT_TO, "H:P:H2:P2",
     "connect to H2:P2 for requests to H:P (like curl)"},
    {"expect-status", OPT_EXPECT, "RANGE",
     "pass when the status is in RANGE (2xx, 200,\n200-204, comma-separated); a request with\ntest scripts must also pass them; without\ntest scripts the default is 2xx"},
    {"strict-vars", OPT_STRICT, NULL,
     "an unresolved {{variable}} fails the request"},
    {0}};
static const cli_opt run_script_opts[] = {
    {"ignore-scripts", OPT_IGNORE_SCRIPTS, NULL,
     "do not run scripts: each is listed, and their\nassertions count as not run (never as passed)"},
    {"timeout-script", OPT_TIMEOUT_SCRIPT, "MS",
     "stop a script after MS milliseconds (default: none)\n(node: $TAAP_NODE, else PATH; the sandbox:\n$TAAP_SANDBOX_DIR, else the one installed with taap)"},
    {0}};
static const cli_opt run_taap_opts[] = {
    {"taap", OPT_TAAP, NULL,
     "sign every request with a PoP token"},
    {"key", OPT_KEY, "FILE",
     "private key for PoP tokens (else $TAAP_PRIVATE_KEY,\nelse the profile's private_key, else a PEM in the\nenvironment, e.g. privateKey)"},
    {"profile", OPT_PROFILE, "NAME",
     "profile to take the key from (else $TAAP_PROFILE)"},
    {"passphrase-file", OPT_PASSFILE, "FILE",
     "passphrase of an encrypted --key (else\n$TAAP_KEY_PASSPHRASE)"},
    {"token-var", OPT_TOKEN_VAR, "NAME",
     "variable that receives the access token (default:\nthe one the collection's test script sets, else\naccess_token)"},
    {0}};
static const cli_opt run_output_opts[] = {
    {"reporters", 'r', "LIST",
     "cli,json,junit (default cli); json and junit\nare in Newman's report shapes"},
    {"reporter-json-export", OPT_JSON_EXPORT, "FILE",
     "JSON report (default taap-run-report.json)"},
    {"reporter-junit-export", OPT_JUNIT_EXPORT, "FILE",
     "JUnit XML (default taap-run-report.xml)"},
    {"json", OPT_JSON, NULL,
     "print the JSON report on stdout instead of lines"},
    {"quiet", 'q', NULL,
     "no per-request lines (summary and errors only)"},
    {"silent", OPT_SILENT, NULL,
     "no CLI reporter output at all (errors only)"},
    {"verbose", OPT_VERBOSE, NULL,
     "request headers and timing phases per request"},
    {"color", OPT_COLOR, "on|off|auto",
     "colour the CLI output (auto: on a terminal)"},
    {"disable-unicode", OPT_DISABLE_UNICODE, NULL,
     "draw with ASCII only (also without a UTF-8 locale,\ne.g. LC_ALL=C)"},
    {"reporter-cli-no-summary", OPT_NO_SUMMARY, NULL,
     "leave out the summary table"},
    {"reporter-cli-no-failures", OPT_NO_FAILURES, NULL,
     "leave out the numbered failure list"},
    {"reporter-cli-no-assertions", OPT_NO_ASSERTIONS, NULL,
     "leave out the per-assertion lines"},
    {"suppress-exit-code", 'x', NULL,
     "exit 0 whatever the requests' outcome"},
    {"export-collection", OPT_EXPORT_COLLECTION, "FILE",
     "write the collection as run"},
    {"export-environment", OPT_EXPORT_ENV, "FILE",
     "write the environment after the run"},
    {"export-globals", OPT_EXPORT_GLOBALS, "FILE",
     "write the globals after the run (both keep\ntypes, enabled flags and secret markers; written\natomically with mode 0600; may be the input file)"},
    {"no-redact", OPT_NO_REDACT, NULL,
     "show tokens and secrets in output and reports\n(redacted by default)"},
    {"now-file", OPT_NOW_FILE, "FILE",
     "(testing) read the current time, in epoch seconds,\nfrom FILE (as `taap serve --now-file`)"},
    {0}};
const cli_help cmd_run_help = {
    "usage: taap run COLLECTION [-e ENV] [-g GLOBALS] [-d DATA] [options]\n"
    "\n"
    "Run a Postman collection (format v2.0/v2.1) like `newman run`: every\n"
    "request that carries an X-Authorization header (or all requests with\n"
    "--taap) gets a fresh PoP token signed natively over exactly the bytes sent;\n"
    "the OAuth token request's access_token/id_token are captured into the\n"
    "variables the collection uses and refreshed before expiry and after a 401.\n"
    "Pre-request and test scripts run in Postman's own sandbox (node with npm\n"
    "postman-sandbox, one process per worker), in Newman's order; their\n"
    "assertions decide whether a request passed. A pre-request script that signs\n"
    "a PoP with jsrsasign is replaced by native signing (jsrsasign is never\n"
    "downloaded); the rest of it still runs. Scripts are code: they run with\n"
    "your rights (see docs/SECURITY.md); use --ignore-scripts for a collection\n"
    "you do not trust. Auth helpers: noauth, basic, bearer, apikey, oauth2 (its\n"
    "stored access token), digest (MD5, SHA-256, SHA-512-256, -sess, qop\n"
    "auth/auth-int; a server's 401/403 challenge is answered by replaying the\n"
    "request signed, as Newman does) and OAuth 1.0\n"
    "(HMAC-SHA1, HMAC-SHA256, HMAC-SHA512, PLAINTEXT; not RSA); another type\n"
    "fails its request. Requests go out as Newman sends them, byte for byte.\n"
    "\n",
    {
        {"Inputs (the collection and -e may be a file, an http(s):// URL, or - for\n"
         "standard input):", run_input_opts, 31, 1, NULL},
        {"\nRequests:", run_request_opts, 31, 1, NULL},
        {"\nScripts:", run_script_opts, 31, 1, NULL},
        {"\nTAAP:", run_taap_opts, 31, 1, NULL},
        {"\nOutput:", run_output_opts, 31, 1, NULL},
    },
    "\n"
    "SIGINT or SIGTERM stops the run: no new request starts, those in flight\n"
    "finish, every requested report and export is written with what ran\n"
    "(marked interrupted), and taap exits 130 (SIGINT) or 143 (SIGTERM).\n"
    "\n"
    "Exit status: 0 every request met its expectation; 1 a request failed its\n"
    "expectation or an assertion failed or did not run, or a script threw; 2\n"
    "usage, unreadable or invalid collection/environment/data, unknown --folder,\n"
    "no key, scripts that cannot run (node or the sandbox missing: the message\n"
    "names the command that installs it), or an unresolved variable under\n"
    "--strict-vars; 50 a transport error (connect, TLS,\n"
    "timeout); 130/143 interrupted; see taap help exit-status.\n"};

/* Newman writes `--bail failure` with a space: take the next word when it
 * is one of --bail's. */
static const char *bail_word(int argc, char **argv)
{
    if (optarg || optind >= argc)
        return optarg;
    const char *w = argv[optind];
    if (!strcmp(w, "folder") || !strcmp(w, "failure") || !strcmp(w, "folder,failure") ||
        !strcmp(w, "failure,folder")) {
        optind++;
        return w;
    }
    return NULL;
}

/* One option into c/o. 0, or -1 after printing what was wrong. */
static int run_option(run_cli *c, taap_run_options *o, int ch, int argc, char **argv,
                      const cli_parser *p)
{
    unsigned u = 0;
    switch (ch) {
    case 'e': c->env_path = optarg; return 0;
    case 'g': c->glob_path = optarg; return 0;
    case 'd': c->data_path = optarg; return 0;
    case 'n':
        if (parse_uint("-n", optarg, 10000000u, &o->iterations))
            return -1;
        if (o->iterations == 0) {
            cli_errorf("-n: at least 1 iteration");
            return -1;
        }
        return 0;
    case OPT_FOLDER: return add_list(c->folders, &c->n_folders, optarg, "--folder");
    case OPT_DELAY: return parse_uint("--delay-request", optarg, 3600000u, &o->delay_ms);
    case OPT_TIMEOUT: return parse_uint("--timeout-request", optarg, 86400000u, &o->timeout_ms);
    case OPT_TIMEOUT_SCRIPT:
        return parse_uint("--timeout-script", optarg, 86400000u, &o->timeout_script_ms);
    case OPT_BAIL: return parse_bail(bail_word(argc, argv), &o->bail);
    case 'k': o->insecure = 1; return 0;
    case OPT_IGNORE_REDIRECTS: o->ignore_redirects = 1; return 0;
    case OPT_ENV_VAR: return add_list(c->env_vars, &c->n_env_vars, optarg, "--env-var");
    case OPT_GLOBAL_VAR: return add_list(c->glob_vars, &c->n_glob_vars, optarg, "--global-var");
    case OPT_EXPORT_ENV: c->export_env = optarg; return 0;
    case OPT_EXPORT_GLOBALS: c->export_glob = optarg; return 0;
    case OPT_EXPORT_COLLECTION: c->export_coll = optarg; return 0;
    case 'r': return parse_reporters(c, optarg);
    case OPT_JSON_EXPORT: c->json_path = optarg; c->rep_json = 1; return 0;
    case OPT_JUNIT_EXPORT: c->junit_path = optarg; c->rep_junit = 1; return 0;
    case OPT_NO_SUMMARY: c->no_summary = 1; return 0;
    case OPT_NO_FAILURES: c->no_failures = 1; return 0;
    case OPT_NO_ASSERTIONS: c->style.no_assertions = 1; return 0;
    case OPT_EXPECT: o->expect_status = optarg; return 0;
    case OPT_RETRY: return parse_uint("--retry", optarg, 100u, &o->retries);
    case 'j':
        if (parse_uint("-j", optarg, 64u, &u))
            return -1;
        if (u == 0) {
            cli_errorf("-j: between 1 and 64");
            return -1;
        }
        o->jobs = u;
        return 0;
    case OPT_STRICT: o->strict_vars = 1; return 0;
    case OPT_TAAP: o->taap = 1; return 0;
    case OPT_TOKEN_VAR: o->token_var = optarg; return 0;
    case OPT_KEY: c->key_path = optarg; return 0;
    case OPT_PASSFILE: c->passphrase_file = optarg; return 0;
    case OPT_NO_REDACT: o->no_redact = 1; return 0;
    case OPT_CONNECT_TO: return add_list(c->connect_to, &c->n_connect_to, optarg, "--connect-to");
    case OPT_CACERT: o->cacert = optarg; return 0;
    case OPT_WORKDIR: o->working_dir = optarg; return 0;
    case OPT_NO_INSECURE_FILE_READ: o->no_insecure_file_read = 1; return 0;
    case OPT_IGNORE_SCRIPTS: o->ignore_scripts = 1; return 0;
    case OPT_JSON: c->json_stdout = 1; return 0;
    case 'q': c->quiet = 1; return 0;
    case OPT_SILENT: c->silent = 1; return 0;
    case OPT_VERBOSE: c->verbose = 1; return 0;
    case OPT_COLOR: return parse_color(optarg, &c->color_mode);
    case OPT_DISABLE_UNICODE: c->style.ascii = 1; return 0;
    case 'x': c->suppress_exit = 1; return 0;
    case OPT_NOW_FILE:
        o->clock = now_from_file;
        o->clock_ctx = optarg;
        return 0;
    case OPT_PROFILE: c->profile = optarg; return 0;
    default:
        cli_parser_bad(p, ch, argv);
        return -1;
    }
}

static int parse_run(int argc, char **argv, run_cli *c, taap_run_options *o)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_run_help);
    int ch;
    while ((ch = cli_next_option(&p, argc, argv)) != -1)
        if (run_option(c, o, ch, argc, argv, &p))
            return -1;
    if (optind + 1 != argc) {
        cli_errorf(optind >= argc ? "no collection given (usage: taap run COLLECTION [options])"
                                  : "one collection at a time (got \"%s\" too)",
                   optind < argc ? argv[optind + 1] : "");
        return -1;
    }
    c->coll_path = argv[optind];
    if (!strcmp(c->coll_path, "-") && c->env_path && !strcmp(c->env_path, "-")) {
        cli_errorf("the collection and the environment cannot both come from standard input");
        return -1;
    }
    if (o->no_insecure_file_read && !o->working_dir)
        o->working_dir = ".";
    o->folders = c->folders;
    o->n_folders = c->n_folders;
    o->connect_to = c->connect_to;
    o->n_connect_to = c->n_connect_to;
    return 0;
}

/* The key as every command finds it (cli_config): --key, else
 * $TAAP_PRIVATE_KEY, else the profile's private_key; without any of them
 * the library finds a PEM in the collection's environment. 0 or an exit
 * status. */
static int load_key(const run_cli *c, taap_key **key)
{
    cli_config kc;
    int rc = cli_config_init(&kc);
    if (rc != 0)
        return rc;
    kc.profile = c->profile;
    rc = (c->key_path && cli_config_set(&kc, "private_key", c->key_path)) ? CLI_EXIT_USAGE
                                                                          : cli_config_load(&kc);
    if (rc == 0 && cli_config_get(&kc, "private_key", NULL, 0)) {
        cli_key_options ko = {0};
        ko.passphrase_file = c->passphrase_file;
        rc = cli_config_key(&kc, &ko, key) ? CLI_EXIT_USAGE : 0;
    }
    cli_config_free(&kc);
    return rc;
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
    c.color_mode = -1;
    taap_run_options o;
    taap_run_options_init(&o);
    if (parse_run(argc, argv, &c, &o))
        return CLI_EXIT_USAGE;

    int rc = CLI_EXIT_USAGE;
    taap_error err = TAAP_ERROR_INIT;
    taap_collection *coll = NULL;
    taap_varset *env = NULL, *glob = NULL;
    taap_iterdata *data = NULL;
    taap_key *key = NULL;
    taap_run_result *res = NULL;
    char *coll_text = NULL;
    size_t coll_len = 0;

    if (read_source(c.coll_path, TAAP_COLLECTION_MAX_BYTES, &coll_text, &coll_len, "collection"))
        goto out;
    if (taap_collection_parse(coll_text, coll_len, &coll, &err) != TAAP_OK) {
        cli_errorf("%s: %s", c.coll_path, err.message);
        goto out;
    }
    if (load_varset(c.env_path, &env, "environment") ||
        load_varset(c.glob_path, &glob, "globals"))
        goto out;
    if (c.data_path && taap_iterdata_load(c.data_path, &data, &err) != TAAP_OK) {
        cli_errorf("%s", err.message);
        goto out;
    }
    if (set_vars(env, c.env_vars, c.n_env_vars, "--env-var") ||
        set_vars(glob, c.glob_vars, c.n_glob_vars, "--global-var"))
        goto out;
    if ((rc = load_key(&c, &key)) != 0)
        goto out;
    rc = CLI_EXIT_USAGE;
    o.key = key;

    c.style.color = c.color_mode < 0 ? cli_use_color(stdout) : c.color_mode;
    /* ASCII also when the locale is not UTF-8 (LC_ALL=C …) */
    c.style.ascii = c.style.ascii || !cli_use_unicode();
    c.start_ns = mono_ns();
    c.style.verbose = c.verbose;
    c.progress = isatty(STDERR_FILENO) && !c.json_stdout && !c.silent;
    c.parallel = o.jobs > 1;
    o.cancel = &run_signal;
    catch_signals();
    if (taap_run_collection(coll, env, glob, data, &o, on_event, &c, &res, &err) != TAAP_OK) {
        clear_progress(&c);
        cli_errorf("%s", err.message);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    rc = run_exit_status(res);
    print_cli_end(&c, res);
    if (write_outputs(&c, res, env, glob, coll_text, coll_len) != 0)
        rc = rc ? rc : CLI_EXIT_FAIL;
    if (c.suppress_exit)
        rc = 0;
    if (run_signal)
        rc = 128 + (int)run_signal; /* 130 SIGINT, 143 SIGTERM: never suppressed */
out:
    fflush(stdout);
    free(coll_text);
    taap_run_result_free(res);
    taap_key_free(key);
    taap_iterdata_free(data);
    taap_varset_free(glob);
    taap_varset_free(env);
    taap_collection_free(coll);
    return rc;
}
