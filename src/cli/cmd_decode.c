/* cmd_decode.c — `taap decode`: show a token's header and claims, verifying
 * nothing (and saying so). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"

enum { OPT_JSON = 0x2701, OPT_NOW };

static const cli_opt decode_opts_table[] = {
    {"json", OPT_JSON, NULL, "print {\"header\":{...},\"payload\":{...},\"verified\":false}"},
    {"now", OPT_NOW, "EPOCH", "the time \"now\" for the relative times (seconds since 1970)"},
    {"help", 'h', NULL, "this help"},
    {0}};

const cli_help cmd_decode_help = {
    "usage: taap decode [--json] [--now EPOCH] TOKEN|-\n"
    "\n"
    "Show a JWT's header and claims (a PoP token, an access token, an ID token)\n"
    "WITHOUT verifying anything: the signature and the request binding are not\n"
    "checked (use `taap verify` for that). With - the token is read from stdin.\n"
    "\n"
    "The human form shows the header and payload JSON, iat/nbf/exp as ISO-8601\n"
    "UTC with the time relative to now (\"expires in 42 s\", \"expired 3 min ago\"),\n"
    "the lifetime, and ehts as a numbered list.\n"
    "\n",
    {{"Options:", decode_opts_table, 17, 0, NULL}},
    "\n"
    "Exit status: 0 decoded, 2 usage error, 10 not a compact JWS (bad base64url,\n"
    "not three segments, header or payload not a JSON object, over 64 KiB).\n"
    "\n"
    "Examples:\n"
    "  taap decode \"$(taap pop https://api.example.com/v1/x)\"\n"
    "  taap pop https://api.example.com/v1/x | taap decode -\n"};

/* Access tokens carry a cnf PEM: allow more than the 8 KiB PoP limit. */
#define DECODE_MAX_TOKEN 65536

/* Read stdin (bounded); -1 = too large (reported), -2 = read error. */
static int read_stdin(char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        if (n == cap)
            return -1;
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -2;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

/* "42 s", "3 min", "5 h", "12 days" — rounded down, like a person says it. */
static void human_span(int64_t s, char *out, size_t cap)
{
    if (s < 120)
        snprintf(out, cap, "%lld s", (long long)s);
    else if (s < 120 * 60)
        snprintf(out, cap, "%lld min", (long long)(s / 60));
    else if (s < 48 * 3600)
        snprintf(out, cap, "%lld h", (long long)(s / 3600));
    else
        snprintf(out, cap, "%lld days", (long long)(s / 86400));
}

static void iso8601(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t < 0 || t > CLI_MAX_EPOCH || !gmtime_r(&tt, &tm) ||
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "(out of range)");
}

/* One time claim line: "exp  1700000120  2023-11-14T22:15:20Z  (expired 3 min ago)". */
static void show_time(json_t *payload, const char *name, int64_t now)
{
    json_t *v = json_object_get(payload, name);
    if (!v)
        return;
    if (!json_is_integer(v)) {
        char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        printf("%-4s %s  (not an integer: a verifier refuses this)\n", name, txt ? txt : "?");
        free(txt);
        return;
    }
    int64_t t = (int64_t)json_integer_value(v);
    char iso[64], span[48], rel[80];
    iso8601(t, iso, sizeof iso);
    int64_t d = t - now;
    human_span(d < 0 ? -d : d, span, sizeof span);
    if (strcmp(name, "exp") == 0)
        snprintf(rel, sizeof rel, d > 0 ? "expires in %s" : "expired %s ago", span);
    else if (strcmp(name, "iat") == 0)
        snprintf(rel, sizeof rel, d > 0 ? "issued %s in the future" : "issued %s ago", span);
    else
        snprintf(rel, sizeof rel, d > 0 ? "valid in %s" : "valid since %s", span);
    if (d == 0)
        snprintf(rel, sizeof rel, "%s",
                 strcmp(name, "exp") == 0   ? "expires now"
                 : strcmp(name, "iat") == 0 ? "issued now"
                                            : "valid from now");
    printf("%-4s %lld  %s  (%s)\n", name, (long long)t, iso, rel);
}

static json_t *parse_part(const char *text, const char *what)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        cli_errorf("the token's %s is not valid JSON: %s (at byte %d)", what, e.text, e.position);
        return NULL;
    }
    if (!json_is_object(j)) {
        cli_errorf("the token's %s is JSON but not an object", what);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* What the command line asked for. */
typedef struct decode_opts {
    int json;
    int64_t now;
    const char *token; /* the argument: a token or "-" */
} decode_opts;

static int parse_decode(int argc, char **argv, decode_opts *o)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_decode_help);
    o->now = (int64_t)time(NULL);
    int c;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_JSON: o->json = 1; break;
        case OPT_NOW:
            if (cli_parse_epoch("--now", optarg, &o->now))
                return CLI_EXIT_USAGE;
            break;
        default: return cli_parser_bad(&p, c, argv);
        }
    }
    if (argc - optind != 1) {
        cli_errorf("give exactly one token, or - to read it from stdin (see taap decode --help)");
        return CLI_EXIT_USAGE;
    }
    o->token = argv[optind];
    return 0;
}

static int run_decode(const decode_opts *o)
{
    const char *arg = o->token;
    int64_t now = o->now;
    int json = o->json;
    static char buf[DECODE_MAX_TOKEN + 1];
    const char *tok = arg;
    size_t len;
    if (strcmp(arg, "-") == 0) {
        int r = read_stdin(buf, sizeof buf, &len);
        if (r == -1) {
            cli_errorf("the token on stdin is larger than %d bytes", DECODE_MAX_TOKEN);
            return TAAP_E_MALFORMED;
        }
        if (r == -2) {
            cli_errorf("cannot read stdin: %s", strerror(errno));
            return TAAP_E_IO;
        }
        tok = buf;
    } else {
        len = strlen(arg);
    }
    /* Surrounding whitespace (a newline from echo or a file) is not part of
     * the token; anything inside it is and is refused by the decoder. */
    while (len && strchr(" \t\r\n", tok[0])) {
        tok++;
        len--;
    }
    while (len && strchr(" \t\r\n", tok[len - 1]))
        len--;
    if (len == 0) {
        cli_errorf("the token is empty");
        return TAAP_E_MALFORMED;
    }

    char *hjson = NULL, *pjson = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_jwt_decode(tok, len, &hjson, &pjson, &err) != TAAP_OK) {
        int rc = cli_report(&err);
        return rc == TAAP_E_NOMEM ? rc : TAAP_E_MALFORMED;
    }
    json_t *header = parse_part(hjson, "header");
    json_t *payload = header ? parse_part(pjson, "payload") : NULL;
    free(hjson);
    free(pjson);
    if (!header || !payload) {
        json_decref(header);
        return TAAP_E_MALFORMED;
    }

    int rc = CLI_EXIT_OK;
    if (json) {
        json_t *out = json_pack("{sOsOsb}", "header", header, "payload", payload, "verified", 0);
        char *s = out ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (s)
            printf("%s\n", s);
        else
            rc = CLI_EXIT_FAIL;
        free(s);
        json_decref(out);
    } else {
        char *h = json_dumps(header, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        char *p = json_dumps(payload, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("Header:\n%s\nPayload:\n%s\n\n", h ? h : "?", p ? p : "?");
        free(h);
        free(p);
        show_time(payload, "iat", now);
        show_time(payload, "nbf", now);
        show_time(payload, "exp", now);
        json_t *iat = json_object_get(payload, "iat"), *exp = json_object_get(payload, "exp");
        if (json_is_integer(iat) && json_is_integer(exp))
            printf("lifetime %lld s\n",
                   (long long)(json_integer_value(exp) - json_integer_value(iat)));
        const char *ehts = json_string_value(json_object_get(payload, "ehts"));
        if (ehts) {
            size_t n = 1;
            for (const char *q = ehts; *q; q++)
                n += *q == ';';
            printf("ehts (%zu signed part%s, in hash order):\n", n, n == 1 ? "" : "s");
            size_t i = 1;
            for (const char *q = ehts;; i++) {
                size_t l = strcspn(q, ";");
                printf("  %zu. %.*s\n", i, (int)l, q);
                if (!q[l])
                    break;
                q += l + 1;
            }
        }
        const char *d2 = strrchr(tok, '.');
        size_t sig_chars = d2 ? len - (size_t)(d2 + 1 - tok) : 0;
        printf("signature %zu bytes (not checked)\n", sig_chars * 3 / 4);
        printf("NOT VERIFIED: the signature and the request binding were not checked "
               "(use taap verify)\n");
    }
    json_decref(header);
    json_decref(payload);
    return rc;
}

int cmd_decode(int argc, char **argv)
{
    decode_opts o = {0};
    int rc = parse_decode(argc, argv, &o);
    return rc ? rc : run_decode(&o);
}
