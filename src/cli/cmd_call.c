/* cmd_call.c — `taap call`: a curl-like client for TAAP-protected APIs
 * (SPEC §5): access token, fresh PoP per request, streamed bodies. */
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

const char cmd_call_help[] =
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
    "from files (@FILE) are sent as they are.\n"
    "\n"
    "Request:\n"
    "  -X, --request METHOD    method (default GET, POST with a body); also positional\n"
    "  -H, --header 'N: v'     extra header (repeatable); 'N:' removes one\n"
    "  -d, --data STR|@FILE|@- body (CR/LF stripped from files, as curl)\n"
    "      --data-raw STR      body, '@' literal\n"
    "      --data-binary STR|@FILE|@-  body bytes exactly; @FILE is hashed and sent as a\n"
    "                          stream (never held in memory); @- is spooled to a temp file\n"
    "Response:\n"
    "  -o, --output FILE       write the body to FILE (streamed)\n"
    "  -i, --include           print the status line and response headers first\n"
    "  -f, --fail              print no body on an HTTP error (the explanation still goes\n"
    "                          to stderr)\n"
    "  --retry N               retry up to N times: idempotent methods (GET, HEAD, PUT,\n"
    "                          DELETE, OPTIONS) on transport errors and 408/429/500/502/\n"
    "                          503/504; any method when the connection failed. Every try\n"
    "                          gets a fresh PoP token.\n"
    "  --retry-delay SECONDS   wait before the first retry, doubled each time (default 1)\n"
    "JSON bodies are pretty-printed when stdout is a terminal. On an HTTP error status\n"
    "one line on stderr says what T-Mobile's status-code table means by it and what\n"
    "the server said (userMessage/systemMessage or error/error_description).\n"
    "\n" CLI_CLIENT_FLAGS_HELP
    "\n"
    "Exit status: 0 success (status < 400); 22 HTTP status >= 400 (like curl --fail);\n"
    "2 usage; 31 a file could not be read or written; 50 transport error (connect,\n"
    "TLS, timeout); 52 no access token (token endpoint refused: its error is\n"
    "printed); 54 settings missing or wrong; 21/33/34 private key problems.\n"
    "\n"
    "Examples:\n"
    "  taap call /iot-connectivity/v1/devices/8901260123456789012\n"
    "  taap call -e quickstart.postman_environment.json '{{baseUrl}}/iot-connectivity/v1/devices/{{ICCID}}'\n"
    "  taap call PATCH /iot-connectivity/v1/devices/{{ICCID}} --var ICCID=89012… -d '{\"status\":\"SUSPENDED\"}'\n";

enum { OPT_RETRY = 0x2401, OPT_RETRY_DELAY };

typedef struct deferred {
    int opt;
    const char *arg;
} deferred;

static int is_method_word(const char *s)
{
    if (!*s || strlen(s) > 20)
        return 0;
    for (; *s; s++)
        if (!(*s >= 'A' && *s <= 'Z'))
            return 0;
    return 1;
}

static int json_content(const taap_http_response *r)
{
    const char *ct = taap_http_response_header(r, "Content-Type");
    return ct && (strstr(ct, "json") != NULL);
}

static void print_headers(const taap_http_response *r, FILE *out)
{
    fprintf(out, "%s\r\n", r->status_line ? r->status_line : "HTTP/1.1");
    for (size_t i = 0; i < r->n_headers; i++)
        fprintf(out, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
    fputs("\r\n", out);
}

static int write_body(const taap_http_response *r, FILE *out, int pretty)
{
    if (pretty && json_content(r) && r->body_len) {
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
    if (pretty && r->body_len && r->body[r->body_len - 1] != '\n')
        fputc('\n', out);
    return 0;
}

int cmd_call(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_REQUEST_LONGOPTS,
        CLI_CLIENT_LONGOPTS,
        {"output", required_argument, NULL, 'o'},
        {"include", no_argument, NULL, 'i'},
        {"fail", no_argument, NULL, 'f'},
        {"retry", required_argument, NULL, OPT_RETRY},
        {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
        {0, 0, 0, 0},
    };
    cli_client_opts co;
    if (cli_client_init(&co) != 0)
        return CLI_EXIT_FAIL;
    deferred *defs = calloc((size_t)argc + 1, sizeof *defs);
    char **owned = calloc((size_t)argc + 2, sizeof *owned);
    size_t n_defs = 0, n_owned = 0;
    const char *outfile = NULL;
    int include = 0, fail = 0, c, rc = 0;
    long retries = 0;
    double retry_delay = 1.0;
    cli_request rq;
    cli_request_init(&rq);
    taap_client *cl = NULL;
    taap_http_response *resp = NULL;
    FILE *out = NULL;
    if (!defs || !owned) {
        cli_errorf("out of memory");
        rc = CLI_EXIT_FAIL;
        goto done;
    }

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" CLI_REQUEST_SHORTOPTS CLI_CLIENT_SHORTOPTS "o:if", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'X': case 'H': case 'd':
        case CLI_REQ_OPT_DATA_BINARY: case CLI_REQ_OPT_DATA_RAW: case CLI_REQ_OPT_URL:
            /* Applied after the settings are loaded, so {{NAME}} can be expanded. */
            defs[n_defs].opt = c;
            defs[n_defs++].arg = optarg;
            break;
        case 'o': outfile = optarg; break;
        case 'i': include = 1; break;
        case 'f': fail = 1; break;
        case OPT_RETRY: {
            char *end = NULL;
            errno = 0;
            retries = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || retries < 0 || retries > 100) {
                cli_errorf("--retry: '%s' is not a count from 0 to 100", optarg);
                rc = CLI_EXIT_USAGE;
                goto done;
            }
            break;
        }
        case OPT_RETRY_DELAY: {
            char *end = NULL;
            errno = 0;
            retry_delay = strtod(optarg, &end);
            if (errno || end == optarg || *end || retry_delay < 0 || retry_delay > 600) {
                cli_errorf("--retry-delay: '%s' is not a number of seconds from 0 to 600", optarg);
                rc = CLI_EXIT_USAGE;
                goto done;
            }
            break;
        }
        default:
            if ((rc = cli_client_take(&co, c, optarg, argv, longopts)) != 0)
                goto done;
        }
    }
    /* GNU getopt has moved the positionals ([METHOD] URL) to the end. */
    for (; optind < argc; optind++) {
        defs[n_defs].opt = 0;
        defs[n_defs++].arg = argv[optind];
    }

    if ((rc = cli_client_load(&co)) != 0)
        goto done;

    /* Positionals: [METHOD] URL. */
    const char *pos[2] = {NULL, NULL};
    size_t n_pos = 0;
    for (size_t i = 0; i < n_defs; i++)
        if (defs[i].opt == 0) {
            if (n_pos == 2) {
                cli_errorf("too many arguments: give [METHOD] URL");
                rc = CLI_EXIT_USAGE;
                goto done;
            }
            pos[n_pos++] = defs[i].arg;
        }
    if (n_pos == 2 && !is_method_word(pos[0])) {
        cli_errorf("'%s' is not a method: give [METHOD] URL (METHOD in capitals)", pos[0]);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (n_pos == 2 && cli_request_option(&rq, 'X', pos[0]) != 1) {
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    for (size_t i = 0; i < n_defs; i++) {
        if (defs[i].opt == 0)
            continue;
        char *x = cli_client_expand(&co, defs[i].arg);
        if (!x) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        owned[n_owned++] = x;
        int t = defs[i].opt == CLI_REQ_OPT_URL ? (cli_request_target(&rq, x) == 0 ? 1 : -1)
                                               : cli_request_option(&rq, defs[i].opt, x);
        if (t != 1) {
            rc = CLI_EXIT_USAGE;
            goto done;
        }
    }
    if (n_pos >= 1) {
        char *x = cli_client_expand(&co, pos[n_pos - 1]);
        if (!x) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        owned[n_owned++] = x;
        if (cli_request_target(&rq, x) != 0) {
            rc = CLI_EXIT_USAGE;
            goto done;
        }
    }
    if ((rc = cli_request_finish(&rq, 0)) != 0)
        goto done;
    co.retries = (unsigned)retries;
    co.retry_delay_ms = (unsigned)(retry_delay * 1000.0);
    if ((rc = cli_client_make(&co, &cl)) != 0)
        goto done;

    if (outfile) {
        out = fopen(outfile, "wb");
        if (!out) {
            cli_errorf("%s: %s", outfile, strerror(errno));
            rc = TAAP_E_IO;
            goto done;
        }
    }
    int tty = isatty(STDOUT_FILENO);
    /* Stream to the file, or to stdout when nothing needs the whole body
     * first (pretty-printing on a terminal, -i headers before the body). */
    FILE *sink = out ? out : (!tty && !include ? stdout : NULL);
    taap_error err = TAAP_ERROR_INIT;
    taap_client_result res;
    taap_code tc = taap_client_request(cl, &rq.req, sink, &resp, &res, &err);
    if (tc != TAAP_OK) {
        rc = cli_report(&err);
        goto done;
    }
    if (include)
        print_headers(resp, out ? out : stdout);
    int is_error = resp->status >= 400;
    if (!resp->body_streamed && !(is_error && fail)) {
        if (write_body(resp, out ? out : stdout, tty && !out) != 0) {
            cli_errorf("writing the response failed: %s", strerror(errno));
            rc = TAAP_E_IO;
            goto done;
        }
    }
    if (fflush(stdout) != 0 || (out && fflush(out) != 0)) {
        cli_errorf("writing the response failed: %s", strerror(errno));
        rc = TAAP_E_IO;
        goto done;
    }
    if (is_error) {
        char msg[400];
        taap_error_body_message(resp->body, resp->body_len, msg, sizeof msg);
        cli_errorf("HTTP %ld %s%s%s", resp->status, taap_status_meaning(resp->status),
                   msg[0] ? " — server says: " : "", msg);
        rc = CLI_EXIT_HTTP_STATUS;
    }

done:
    if (out && fclose(out) != 0 && rc == 0) {
        cli_errorf("%s: %s", outfile, strerror(errno));
        rc = TAAP_E_IO;
    }
    taap_http_response_free(resp);
    taap_client_free(cl);
    cli_request_free(&rq);
    for (size_t i = 0; owned && i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(defs);
    cli_client_free(&co);
    return rc;
}
