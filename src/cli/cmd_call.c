/* cmd_call.c — `taap call`: a curl-like client for TAAP-protected APIs
 * (SPEC §5): access token, fresh PoP per request (and per redirect hop),
 * streamed bodies. parse_call → call_opts → run_call. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_client.h"
#include "cli_request.h"
#include "cmd_call_output.h"
#include "util.h"

enum {
    OPT_RETRY = 0x2401,
    OPT_RETRY_DELAY,
    OPT_MAX_REDIRS,
    OPT_COMPRESSED,
    OPT_JSON_DATA,
    OPT_JSON_OUTPUT,
    OPT_FAIL_WITH_BODY,
    OPT_CURL_EXIT,
};

static const cli_opt call_request_opts[] = {
    {"request", 'X', "METHOD",
     "method (default GET, POST with a body); also positional"},
    {"header", 'H', "'N: v'",
     "extra header (repeatable); 'N:' removes one"},
    {"data", 'd', "STR|@FILE|@-",
     "body (CR/LF stripped from files, as curl)"},
    {"data-ascii", 'd', "DATA", NULL},
    {"data-raw", CLI_REQ_OPT_DATA_RAW, "STR",
     "body, '@' literal"},
    {"data-binary", CLI_REQ_OPT_DATA_BINARY, "STR|@FILE|@-",
     "body bytes exactly; @FILE is hashed and sent as a\nstream (never held in memory); @- is spooled to a temp file"},
    {"json", OPT_JSON_DATA, "DATA",
     "curl 7.82's --json: DATA as --data-binary, plus\nAccept: application/json (Content-Type is JSON anyway)"},
    {"get", 'G', NULL,
     "put the -d/--data-raw strings in the query string (joined\nwith '&') and send a GET"},
    {"head", 'I', NULL,
     "send HEAD and print the status line and headers only"},
    {"location", 'L', NULL,
     "follow redirects (301/302/303/307/308) on the same origin,\neach hop with a fresh PoP over its own URL; 303 (and a\nPOST answered 301/302) continues as GET without a body.\nA redirect to another host is refused (the access token\nwould go with it)"},
    {"max-redirs", OPT_MAX_REDIRS, "N",
     "at most N hops with -L (default 50)"},
    {"url", CLI_REQ_OPT_URL, "URL", NULL},
    {"compressed", OPT_COMPRESSED, NULL,
     "ask for a compressed response and decode it"},
    {0}};
static const cli_opt call_response_opts[] = {
    {"output", 'o', "FILE",
     "write the body to FILE (streamed); '-' is stdout"},
    {"include", 'i', NULL,
     "print the status line and response headers first"},
    {"dump-header", 'D', "FILE",
     "write the status line and headers of every response to\nFILE ('-' is stdout)"},
    {"write-out", 'w', "FORMAT",
     "print FORMAT after the transfer: %{http_code},\n%{time_total}, %{size_download}, %{url_effective},\n%{header_json}, %{num_redirects}, %{content_type},\n%{method}, %{exitcode}, %{json}; \\n escapes"},
    {"json-output", OPT_JSON_OUTPUT, NULL,
     "print one JSON object instead of the body: status,\nheaders, body (parsed when JSON), time_total, url_effective"},
    {"fail", 'f', NULL,
     "print no body on an HTTP error (exit 22)"},
    {"fail-with-body", OPT_FAIL_WITH_BODY, NULL,
     "print the body on an HTTP error too (exit 22)"},
    {"curl-exit", OPT_CURL_EXIT, NULL,
     "exit as curl does: 0 on an HTTP error unless -f or\n--fail-with-body is given"},
    {"silent", 's', NULL,
     "no progress line and no explanation of HTTP errors"},
    {"show-error", 'S', NULL,
     "with -s, still print error messages"},
    {"retry", OPT_RETRY, "N",
     "retry up to N times: idempotent methods (GET, HEAD, PUT,\nDELETE, OPTIONS) on transport errors and 408/429/500/502/\n503/504; any method when the connection failed. Every try\ngets a fresh PoP token."},
    {"retry-delay", OPT_RETRY_DELAY, "SECONDS",
     "wait before the first retry, doubled each time (default 1)"},
    {0}};
const cli_help cmd_call_help = {
    "usage: taap call [OPTIONS] [METHOD] URL\n"
    "\n"
    "Call a TAAP-protected API like curl would, adding what TAAP needs (Quick Start\n"
    "Step F 6-8): Authorization: Bearer <access token> (fetched and cached as by\n"
    "`taap token`), Content-Type: application/json unless you set one, and\n"
    "X-Authorization: a fresh PoP token over exactly the bytes sent (Content-Type,\n"
    "Authorization, uri, http-method, body). A 401 makes taap fetch a new access\n"
    "token and send the request once more.\n"
    "\n"
    "URL is a full URL or a path (/iot-connectivity/v1/devices/{{ICCID}}) appended to\n"
    "the base URL. {{NAME}} placeholders in the URL, -H values and -d/--data-* strings\n"
    "are replaced from --var, the profile's var.NAME entries and the -e environment\n"
    "file (as Postman does; an unknown name is left as is, with a warning). Bytes read\n"
    "from files (@FILE) are sent as they are. The PoP key is found as `taap pop` finds\n"
    "it: --key, TAAP_PRIVATE_KEY, the profile, ./private-key.pem.\n"
    "\n",
    {
        {"Request:", call_request_opts, 26, 1, NULL},
        {"Response:", call_response_opts, 26, 1,
         "JSON bodies are pretty-printed when stdout is a terminal, and a body is always\n"
         "followed by a newline there. On an HTTP error status one line on stderr says\n"
         "what T-Mobile's status-code table means by it and what the server said\n"
         "(userMessage/systemMessage or error/error_description). Sending a body from a\n"
         "file shows a progress line (bytes sent, rate) on stderr when it is a terminal\n"
         "and the upload takes more than a second ($TAAP_PROGRESS_DELAY_MS changes that).\n"
         "\n"
         "One deliberate difference from curl: an HTTP status >= 400 exits 22 even without\n"
         "-f (a script must not mistake an error for an answer); --curl-exit restores\n"
         "curl's exit 0.\n"},
        CLI_CLIENT_HELP_GROUPS,
    },
    "\n"
    "Exit status: 0 success (status < 400); 22 HTTP status >= 400 (like curl --fail);\n"
    "2 usage; 31 a file could not be read or written; 50 transport error (connect,\n"
    "TLS, timeout); 52 no access token (token endpoint refused: its error is\n"
    "printed); 54 settings missing or wrong; 21/33/34 private key problems; 1 too\n"
    "many redirects or a refused one (see taap help exit-status).\n"
    "\n"
    "Examples:\n"
    "  taap call /iot-connectivity/v1/devices/8901260123456789012\n"
    "  taap call -s -o /dev/null -w '%{http_code}\\n' /iot-connectivity/v1/devices/{{ICCID}}\n"
    "  taap call -e quickstart.postman_environment.json '{{baseUrl}}/iot-connectivity/v1/devices/{{ICCID}}'\n"
    "  taap call PATCH /iot-connectivity/v1/devices/{{ICCID}} --var ICCID=89012… -d '{\"status\":\"SUSPENDED\"}'\n"};


#define CALL_FAIL 1           /* -f: no body on an HTTP error */
#define CALL_FAIL_WITH_BODY 2 /* --fail-with-body */
#define CALL_MAX_REDIRS 50    /* curl's default */

/* A request flag or positional (opt 0), applied once the settings are
 * loaded so {{NAME}} can be expanded. */
typedef struct deferred {
    int opt;
    const char *arg;
} deferred;

typedef struct call_opts {
    cli_client_opts co;
    deferred *defs;
    size_t n_defs;
    const char *outfile, *dump_header, *write_out;
    int include, head, get, location, silent, show_error, json_output, json_data, curl_exit;
    int fail;
    long retries, max_redirs;
    double retry_delay;
} call_opts;

static int parse_number(const char *flag, const char *arg, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || v < 0 || v > max) {
        cli_errorf("%s: '%s' is not a number from 0 to %g", flag, arg, max);
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

static int parse_call(int argc, char **argv, call_opts *o)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_call_help);
    double v;
    int c, rc;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_JSON_DATA:
            o->json_data = 1;
            o->defs[o->n_defs].opt = CLI_REQ_OPT_DATA_BINARY;
            o->defs[o->n_defs++].arg = optarg;
            break;
        case 'X': case 'H': case 'd':
        case CLI_REQ_OPT_DATA_BINARY: case CLI_REQ_OPT_DATA_RAW: case CLI_REQ_OPT_URL:
            o->defs[o->n_defs].opt = c;
            o->defs[o->n_defs++].arg = optarg;
            break;
        case 'o': o->outfile = optarg; break;
        case 'i': o->include = 1; break;
        case 'f': o->fail = CALL_FAIL; break;
        case OPT_FAIL_WITH_BODY: o->fail = CALL_FAIL_WITH_BODY; break;
        case OPT_CURL_EXIT: o->curl_exit = 1; break;
        case 's': o->silent = 1; break;
        case 'S': o->show_error = 1; break;
        case 'L': o->location = 1; break;
        case 'w': o->write_out = optarg; break;
        case 'D': o->dump_header = optarg; break;
        case 'I': o->head = 1; break;
        case 'G': o->get = 1; break;
        case OPT_JSON_OUTPUT: o->json_output = 1; break;
        case OPT_COMPRESSED: o->co.compressed = 1; break;
        case OPT_MAX_REDIRS:
            if ((rc = parse_number("--max-redirs", optarg, 1000, &v)) != 0)
                return rc;
            o->max_redirs = (long)v;
            break;
        case OPT_RETRY:
            if ((rc = parse_number("--retry", optarg, 100, &v)) != 0)
                return rc;
            o->retries = (long)v;
            break;
        case OPT_RETRY_DELAY:
            if ((rc = parse_number("--retry-delay", optarg, 600, &o->retry_delay)) != 0)
                return rc;
            break;
        default:
            if ((rc = cli_client_take(&o->co, c, optarg, argv, &p)) != 0)
                return rc;
        }
    }
    /* GNU getopt has moved the positionals ([METHOD] URL) to the end. */
    for (; optind < argc; optind++) {
        o->defs[o->n_defs].opt = 0;
        o->defs[o->n_defs++].arg = argv[optind];
    }
    if (o->head && o->get) {
        cli_errorf("-I and -G cannot go together (HEAD or GET?)");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int is_method_word(const char *s)
{
    if (!*s || strlen(s) > 20)
        return 0;
    for (; *s; s++)
        if (!(*s >= 'A' && *s <= 'Z'))
            return 0;
    return 1;
}

/* Strings made while building the request, freed at the end. */
typedef struct owned {
    char **v;
    size_t n, cap;
} owned;

static char *own(owned *w, char *s)
{
    if (!s || w->n == w->cap) {
        free(s);
        cli_errorf("out of memory");
        return NULL;
    }
    return w->v[w->n++] = s;
}

static char *expand(call_opts *o, owned *w, const char *in)
{
    char *x = cli_client_expand(&o->co, in);
    return x ? own(w, x) : NULL;
}

/* -G: the -d/--data-raw strings, joined with '&', go after the URL's '?'. */
static char *with_query(owned *w, const char *url, const char *query)
{
    size_t n = strlen(url) + strlen(query) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", url, *query ? (strchr(url, '?') ? "&" : "?") : "", query);
    return own(w, s);
}

/* Settings loaded: the request flags, expanded, into `rq`. */
static int build_request(call_opts *o, owned *w, cli_request *rq)
{
    const char *pos[2] = {NULL, NULL};
    size_t n_pos = 0;
    char *query = own(w, calloc(1, 1));
    size_t qlen = 0;
    if (!query)
        return CLI_EXIT_FAIL;
    for (size_t i = 0; i < o->n_defs; i++)
        if (o->defs[i].opt == 0) {
            if (n_pos == 2) {
                cli_errorf("too many arguments: give [METHOD] URL");
                return CLI_EXIT_USAGE;
            }
            pos[n_pos++] = o->defs[i].arg;
        }
    if (n_pos == 2 && !is_method_word(pos[0])) {
        cli_errorf("'%s' is not a method: give [METHOD] URL (METHOD in capitals)", pos[0]);
        return CLI_EXIT_USAGE;
    }
    if (n_pos == 2 && cli_request_option(rq, 'X', pos[0]) != 1)
        return CLI_EXIT_USAGE;
    if (o->head && cli_request_option(rq, 'X', "HEAD") != 1)
        return CLI_EXIT_USAGE;
    const char *url = NULL;
    for (size_t i = 0; i < o->n_defs; i++) {
        int opt = o->defs[i].opt;
        if (opt == 0)
            continue;
        char *x = expand(o, w, o->defs[i].arg);
        if (!x)
            return CLI_EXIT_FAIL;
        if (opt == CLI_REQ_OPT_URL) {
            url = x;
        } else if (o->get && (opt == 'd' || opt == CLI_REQ_OPT_DATA_RAW || opt == CLI_REQ_OPT_DATA_BINARY)) {
            if (opt != CLI_REQ_OPT_DATA_RAW && x[0] == '@') {
                cli_errorf("-G puts data in the URL: give it as a string, not %s", x);
                return CLI_EXIT_USAGE;
            }
            size_t n = qlen + strlen(x) + 2;
            char *q = malloc(n);
            if (!q || !own(w, q))
                return CLI_EXIT_FAIL;
            snprintf(q, n, "%s%s%s", query, qlen ? "&" : "", x);
            query = q;
            qlen = strlen(q);
        } else if (cli_request_option(rq, opt, x) != 1) {
            return CLI_EXIT_USAGE;
        }
    }
    if (n_pos >= 1 && !(url = expand(o, w, pos[n_pos - 1])))
        return CLI_EXIT_FAIL;
    if (url && o->get && !(url = with_query(w, url, query)))
        return CLI_EXIT_FAIL;
    if (url && cli_request_target(rq, url) != 0)
        return CLI_EXIT_USAGE;
    if (o->json_data) {
        int has_accept = 0;
        for (size_t i = 0; i < rq->n_headers; i++)
            has_accept |= taap_ascii_casecmp(rq->headers[i].name, "Accept") == 0;
        if (!has_accept && cli_request_option(rq, 'H', "Accept: application/json") != 1)
            return CLI_EXIT_FAIL;
    }
    return cli_request_finish(rq, 0);
}

/* ---- redirects (-L) ------------------------------------------------------- */

static int is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Length of "scheme://host[:port]" at the start of `url`, 0 if none. */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p || strcspn(url, "/?#") < (size_t)(p - url))
        return 0;
    p += 3;
    return (size_t)(p + strcspn(p, "/?#") - url);
}

/* The full URL a request target means (a path goes after the base URL). */
static char *effective_url(call_opts *o, owned *w, const char *target)
{
    if (target[0] != '/')
        return own(w, strdup(target));
    const char *base = cli_config_get(&o->co.cfg, "base_url", NULL, 0);
    size_t bl = base ? strlen(base) : 0;
    while (bl && base[bl - 1] == '/')
        bl--;
    size_t n = bl + strlen(target) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%.*s%s", (int)bl, base ? base : "", target);
    return own(w, s);
}

/* Location resolved against the URL it answered (RFC 3986, the usual forms). */
static char *resolve_location(owned *w, const char *cur, const char *loc)
{
    size_t ol = origin_len(cur), n;
    char *s;
    if (origin_len(loc))
        return own(w, strdup(loc));
    if (loc[0] == '/' && loc[1] == '/') { /* scheme-relative */
        size_t sl = (size_t)(strstr(cur, "://") - cur) + 1;
        n = sl + strlen(loc) + 1;
        if ((s = malloc(n)))
            snprintf(s, n, "%.*s%s", (int)sl, cur, loc);
        return own(w, s);
    }
    size_t keep = ol;
    if (loc[0] != '/') { /* relative: beside the current path */
        size_t path_end = ol + strcspn(cur + ol, "?#");
        keep = path_end;
        while (keep > ol && cur[keep - 1] != '/')
            keep--;
    }
    n = keep + strlen(loc) + 2;
    if ((s = malloc(n)))
        snprintf(s, n, "%.*s%s%s", (int)keep, cur, (loc[0] != '/' && keep == ol) ? "/" : "", loc);
    return own(w, s);
}

/* Point `rq` at the Location of `resp`: 0, or the exit status (printed). */
static int next_hop(owned *w, cli_request *rq, const char **url, const taap_http_response *resp)
{
    const char *loc = taap_http_response_header(resp, "Location");
    if (!loc || !*loc) {
        cli_errorf("HTTP %ld without a Location header: nothing to follow", resp->status);
        return CLI_EXIT_FAIL;
    }
    char *next = resolve_location(w, *url, loc);
    if (!next)
        return CLI_EXIT_FAIL;
    size_t a = origin_len(*url), b = origin_len(next);
    if (a != b || taap_ascii_ncasecmp(*url, next, a) != 0) {
        cli_errorf("redirect to %s refused: it leaves %.*s, and the access token would go "
                   "with it (call that URL yourself if you trust it)", next, (int)a, *url);
        return CLI_EXIT_FAIL;
    }
    int to_get = resp->status == 303 ||
                 ((resp->status == 301 || resp->status == 302) && strcmp(rq->req.method, "POST") == 0);
    if (to_get && strcmp(rq->req.method, "HEAD") != 0) {
        rq->req.method = "GET";
        rq->req.body.kind = TAAP_BODY_NONE;
    } else if (rq->req.body.kind == TAAP_BODY_CALLBACK) {
        cli_errorf("HTTP %ld asks to send the body again, but it came from stdin and is gone",
                   resp->status);
        return CLI_EXIT_FAIL;
    }
    rq->req.target = next;
    *url = next;
    return 0;
}

/* ---- output --------------------------------------------------------------- */

static int write_body(const taap_http_response *r, FILE *out, int tty)
{
    const char *ct = taap_http_response_header(r, "Content-Type");
    if (tty && ct && strstr(ct, "json") && r->body_len) {
        json_error_t je;
        json_t *o = json_loadb(r->body, r->body_len, 0, &je);
        char *txt = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (txt) {
            int ok = fputs(txt, out) >= 0 && fputc('\n', out) != EOF;
            free(txt);
            return ok ? 0 : -1;
        }
    }
    if (r->body_len && fwrite(r->body, 1, r->body_len, out) != r->body_len)
        return -1;
    /* On a terminal the prompt (or `; echo`) starts on its own line. */
    if (tty && r->body_len && r->body[r->body_len - 1] != '\n')
        fputc('\n', out);
    return 0;
}

static FILE *open_out(const char *path, int *is_stdout)
{
    *is_stdout = !path || strcmp(path, "-") == 0;
    if (!path || *is_stdout)
        return stdout;
    FILE *f = fopen(path, "wb");
    if (!f)
        cli_errorf("%s: %s", path, strerror(errno));
    return f;
}

/* ---- run ------------------------------------------------------------------ */

static int run_call(call_opts *o)
{
    owned w = {calloc((size_t)o->n_defs * 2 + 16 + CALL_MAX_REDIRS * 4, sizeof(char *)), 0,
               (size_t)o->n_defs * 2 + 16 + CALL_MAX_REDIRS * 4};
    cli_request rq;
    cli_request_init(&rq);
    taap_client *cl = NULL;
    taap_http_response *resp = NULL;
    FILE *out = NULL, *dump = NULL;
    int out_stdout = 1, dump_stdout = 0, rc;
    call_progress prog = {0};
    long max_redirs = o->max_redirs >= 0 ? o->max_redirs : CALL_MAX_REDIRS;
    if (!w.v) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    if ((rc = cli_client_load(&o->co)) != 0 || (rc = build_request(o, &w, &rq)) != 0)
        goto done;
    o->co.retries = (unsigned)o->retries;
    o->co.retry_delay_ms = (unsigned)(o->retry_delay * 1000.0);
    int show_errors = !o->silent || o->show_error;
    if (!o->silent && isatty(STDERR_FILENO) &&
        (rq.req.body.kind == TAAP_BODY_FILE || rq.req.body.kind == TAAP_BODY_CALLBACK)) {
        o->co.progress = call_progress_hook;
        o->co.progress_ctx = &prog;
    }
    if ((rc = cli_client_make(&o->co, &cl)) != 0)
        goto done;
    if (!(out = open_out(o->outfile, &out_stdout)) ||
        (o->dump_header && !(dump = open_out(o->dump_header, &dump_stdout)))) {
        rc = TAAP_E_IO;
        goto done;
    }
    int tty = out_stdout && isatty(STDOUT_FILENO);
    /* Stream the body unless something needs it whole first: pretty
     * printing, headers before it, a JSON report, or redirect hops whose
     * bodies are not the answer. */
    FILE *sink = (tty || o->include || o->head || o->json_output || o->location) ? NULL : out;
    const char *url = effective_url(o, &w, rq.req.target);
    if (!url) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    call_result res = {.method = rq.req.method};
    int64_t t0 = call_now_ns();
    prog.start_ns = t0;
    prog.delay_ns = call_progress_delay_ns();
    for (long hop = 0;; hop++) {
        taap_error err = TAAP_ERROR_INIT;
        taap_http_response_free(resp);
        resp = NULL;
        if (taap_client_request(cl, &rq.req, sink, &resp, NULL, &err) != TAAP_OK) {
            call_progress_end(&prog);
            rc = show_errors ? cli_report(&err) : (int)err.code;
            goto done;
        }
        if (dump)
            call_print_headers(dump, resp);
        if (!o->location || !is_redirect(resp->status))
            break;
        if (hop == max_redirs) {
            cli_errorf("stopped after %ld redirects (--max-redirs)", max_redirs);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        if ((rc = next_hop(&w, &rq, &url, resp)) != 0)
            goto done;
        res.redirects++;
    }
    call_progress_end(&prog);
    res.time_total = (double)(call_now_ns() - t0) / 1e9;
    res.resp = resp;
    res.url_effective = url;
    res.method = rq.req.method;
    int is_error = resp->status >= 400;
    rc = is_error && !(o->curl_exit && !o->fail) ? CLI_EXIT_HTTP_STATUS : 0;
    res.exit_status = rc;
    if (o->json_output) {
        if (call_print_json(out, &res) != 0)
            rc = TAAP_E_IO;
    } else {
        if (o->include || o->head)
            call_print_headers(out, resp);
        if (!o->head && !resp->body_streamed && !(is_error && o->fail == CALL_FAIL) &&
            write_body(resp, out, tty) != 0)
            rc = TAAP_E_IO;
    }
    if (o->write_out && call_write_out(stdout, o->write_out, &res) != 0)
        rc = TAAP_E_IO;
    if (fflush(stdout) != 0 || fflush(out) != 0 || (dump && fflush(dump) != 0)) {
        cli_errorf("writing the response failed: %s", strerror(errno));
        rc = TAAP_E_IO;
    }
    if (is_error && show_errors) {
        char msg[400];
        taap_error_body_message(resp->body, resp->body_len, msg, sizeof msg);
        cli_errorf("HTTP %ld %s%s%s", resp->status, taap_status_meaning(resp->status),
                   msg[0] ? " — server says: " : "", msg);
    }

done:
    if (out && !out_stdout && fclose(out) != 0 && rc == 0) {
        cli_errorf("%s: %s", o->outfile, strerror(errno));
        rc = TAAP_E_IO;
    }
    if (dump && !dump_stdout && dump != stdout && fclose(dump) != 0 && rc == 0) {
        cli_errorf("%s: %s", o->dump_header, strerror(errno));
        rc = TAAP_E_IO;
    }
    taap_http_response_free(resp);
    taap_client_free(cl);
    cli_request_free(&rq);
    for (size_t i = 0; i < w.n; i++)
        free(w.v[i]);
    free(w.v);
    return rc;
}

int cmd_call(int argc, char **argv)
{
    call_opts o = {.retry_delay = 1.0, .max_redirs = -1};
    if (cli_client_init(&o.co) != 0)
        return CLI_EXIT_FAIL;
    int rc = CLI_EXIT_FAIL;
    o.defs = calloc((size_t)argc + 1, sizeof *o.defs);
    if (!o.defs)
        cli_errorf("out of memory");
    else if ((rc = parse_call(argc, argv, &o)) == 0)
        rc = run_call(&o);
    free(o.defs);
    cli_client_free(&o.co);
    return rc;
}
