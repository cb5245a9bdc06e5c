/* cmd_verify.c — `taap verify`: check a PoP token against the request it
 * came with (SPEC §2), curl-style request flags, exit status = the SPEC §2
 * code. A thin layer over taap_verify(). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_explain.h"
#include "cli_options.h"
#include "cli_replay.h"
#include "cli_request.h"


#define MAX_STDIN_TOKEN 65536

enum {
    OPT_KEY = 0x2301,
    OPT_NOW,
    OPT_LEEWAY,
    OPT_MAX_LIFETIME,
    OPT_REQUIRE,
    OPT_REPLAY,
    OPT_JSON,
    OPT_EXPLAIN,
    OPT_PROFILE,
};

typedef struct verify_opts {
    const char *key_path;
    const char *profile;
    const char *token_arg;
    int64_t now;
    int have_now;
    long leeway, max_lifetime; /* -1: default */
    const char **require;
    size_t n_require;
    const char *replay_path;
    int json;
    int explain;
} verify_opts;

static const cli_opt verify_request_opts[] = {
    {"request", 'X', "METHOD",
     "method (default GET, or POST when a body is given)"},
    {"header", 'H', "'N: v'",
     "a header as received (repeatable)"},
    {"data", 'd', "STR|@FILE|@-",
     "body; from a file or stdin CR/LF are stripped (as curl)"},
    {"data-raw", CLI_REQ_OPT_DATA_RAW, "STR",
     "body, '@' not special"},
    {"data-binary", CLI_REQ_OPT_DATA_BINARY, "STR|@FILE|@-",
     "body bytes exactly (streamed from a file)"},
    {"url", CLI_REQ_OPT_URL, "URL",
     "the URL (or give it as the argument)"},
    {"data-ascii", 'd', "DATA", NULL},
    {0}};
static const cli_opt verify_opts_table[] = {
    {"key", OPT_KEY, "FILE",
     "public key: SPKI or PKCS#1 PEM, JWK, DER (a private\nkey file works too; only its public half is used);\nelse $TAAP_PRIVATE_KEY's or the profile's key (its\npublic half), else ./public-key.pem"},
    {"profile", OPT_PROFILE, "NAME",
     "profile to take the key from (else $TAAP_PROFILE)"},
    {"now", OPT_NOW, "EPOCH",
     "the current time instead of the clock"},
    {"leeway", OPT_LEEWAY, "S",
     "clock skew allowed, seconds (default 10, max 3600)"},
    {"max-lifetime", OPT_MAX_LIFETIME, "S",
     "largest exp - iat accepted (default 120, max 86400)"},
    {"require", OPT_REQUIRE, "PART",
     "parts the token must cover (repeatable; replaces the\ndefault uri, http-method, body-when-non-empty); PART is\nuri, http-method, body or a header name"},
    {"replay-cache", OPT_REPLAY, "SPEC",
     "remember used jti values: in a SQLite FILE (shared\nsafely by concurrent runs) or in Redis, shared by\nevery machine (redis://HOST[:PORT][/DB], unix:PATH);\na second use exits 20"},
    {"explain", OPT_EXPLAIN, NULL,
     "say what was hashed and why edts differs: the parts in\nehts order with their canonical values (a body as\nlength, SHA-256 and first bytes), token vs computed\nedts, the time window, and the likely cause: the known\nclient mistake (percent-encoded query, absolute URL,\ntrailing slash, lower-case method, header spaces,\nContent-Type parameter, Authorization without Bearer,\nline endings, trailing newline, JSON re-serialised,\nehts order) whose recomputed edts equals the token's"},
    {"json", OPT_JSON, NULL,
     "print {\"valid\",\"code\",\"exit\",\"message\",\"header\",\n\"claims\"} on stdout (with --explain: and \"explain\")"},
    {"help", 'h', NULL,
     "this help"},
    {0}};
const cli_help cmd_verify_help = {
    "usage: taap verify TOKEN|- --key PUBKEY [REQUEST FLAGS] [--now EPOCH] [--leeway S]\n"
    "                   [--max-lifetime S] [--require PART]... [--replay-cache SPEC]\n"
    "                   [--explain] [--json] URL|PATH\n"
    "\n"
    "Verify a PoP token (an X-Authorization header value) against the request it\n"
    "was sent with, as a TAAP gateway does (SPEC 2): strict compact JWS, RS256 with\n"
    "the given key only, claims and their types, time window, ehts, coverage, edts\n"
    "over the request bytes, and optionally replay. The request is described with\n"
    "the same curl flags as `taap pop`, so a token made with\n"
    "  taap pop -X POST -H 'Authorization: Bearer abc' -d @body.json URL\n"
    "verifies with\n"
    "  taap verify \"$tok\" --key public-key.pem -X POST -H 'Authorization: Bearer abc' \\\n"
    "       -d @body.json URL\n"
    "\n"
    "TOKEN is the token itself, or '-' to read it from stdin (surrounding\n"
    "whitespace removed).\n"
    "\n",
    {
        {"Request flags:", verify_request_opts, 28, 1, "  A body without a Content-Type header gets Content-Type: application/json, as\n" "  with `taap pop`.\n"},
        {"\nOptions:", verify_opts_table, 28, 0, NULL},
    },
    "\n"
    "Exit status: 0 valid; 10 malformed; 11 alg/header refused; 12 bad signature;\n"
    "13 expired; 14 not yet valid; 15 lifetime; 16 claims; 17 ehts; 18 coverage;\n"
    "19 edts mismatch; 20 replay; 21 key missing, unreadable or refused; 2 usage;\n"
    "31 file unreadable; 35 replay cache unavailable or full.\n"};

static int parse_long(const char *flag, const char *arg, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min || v > max) {
        cli_errorf("%s '%s': give a whole number of seconds in %ld..%ld", flag, arg, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_verify(int argc, char **argv, verify_opts *o, cli_request *rq)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_verify_help);
    int c;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_KEY:
            o->key_path = optarg;
            break;
        case OPT_PROFILE:
            o->profile = optarg;
            break;
        case OPT_NOW:
            if (cli_parse_epoch("--now", optarg, &o->now))
                return CLI_EXIT_USAGE;
            o->have_now = 1;
            break;
        case OPT_LEEWAY:
            if (parse_long("--leeway", optarg, 0, 3600, &o->leeway))
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_LIFETIME:
            if (parse_long("--max-lifetime", optarg, 1, 86400, &o->max_lifetime))
                return CLI_EXIT_USAGE;
            break;
        case OPT_REQUIRE: {
            if (!*optarg) {
                cli_errorf("--require needs a part name (uri, http-method, body or a header)");
                return CLI_EXIT_USAGE;
            }
            const char **l = realloc(o->require, (o->n_require + 1) * sizeof *l);
            if (!l) {
                cli_errorf("out of memory");
                return CLI_EXIT_FAIL;
            }
            l[o->n_require++] = optarg;
            o->require = l;
            break;
        }
        case OPT_REPLAY:
            o->replay_path = optarg;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_EXPLAIN:
            o->explain = 1;
            break;
        default: {
            int r = cli_request_option(rq, c, optarg);
            if (r == 1)
                break;
            return r == 0 ? cli_parser_bad(&p, c, argv) : CLI_EXIT_USAGE;
        }
        }
    }
    /* First operand: the token; the rest: the URL. */
    if (optind >= argc) {
        cli_errorf("no token given: taap verify TOKEN|- --key PUBKEY [request flags] URL");
        return CLI_EXIT_USAGE;
    }
    o->token_arg = argv[optind++];
    for (; optind < argc; optind++)
        if (cli_request_target(rq, argv[optind]) != 0)
            return CLI_EXIT_USAGE;
    if (strcmp(o->token_arg, "-") == 0) {
        /* A body read from stdin (a part with neither text nor a file)
         * cannot share it with the token. */
        for (size_t i = 0; i < rq->n_parts; i++)
            if (!rq->parts[i].text && !rq->parts[i].path) {
                cli_errorf("the token and the body cannot both come from stdin");
                return CLI_EXIT_USAGE;
            }
    }
    return 0;
}

/* Read the token from stdin, bounded, surrounding whitespace removed. */
static int read_stdin_token(char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_STDIN_TOKEN) {
                free(buf);
                cli_errorf("token on stdin is larger than %d bytes", MAX_STDIN_TOKEN);
                return TAAP_E_MALFORMED;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                cli_errorf("out of memory");
                return CLI_EXIT_FAIL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            cli_errorf("cannot read the token from stdin: %s", strerror(errno));
            return TAAP_E_IO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    size_t s = 0;
    while (s < n && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r' || buf[s] == '\n'))
        s++;
    while (n > s && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r' ||
                     buf[n - 1] == '\n'))
        n--;
    memmove(buf, buf + s, n - s);
    *len = n - s;
    *out = buf;
    return 0;
}

/* {"valid","code","exit","message","header","claims"}: header and claims
 * are the decoded JSON when it parses (null otherwise). The token itself is
 * never printed. */
static int print_json(const char *token, size_t len, taap_code rc, const char *message,
                      const taap_explain *ex)
{
    char *h = NULL, *p = NULL;
    json_t *hj = NULL, *pj = NULL;
    if (taap_jwt_decode(token, len, &h, &p, NULL) == TAAP_OK) {
        hj = json_loads(h, JSON_REJECT_DUPLICATES, NULL);
        pj = json_loads(p, JSON_REJECT_DUPLICATES, NULL);
    }
    free(h);
    free(p);
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "valid", json_boolean(rc == TAAP_OK)) ||
        json_object_set_new(o, "code", json_string(taap_code_name(rc))) ||
        json_object_set_new(o, "exit", json_integer((json_int_t)rc)) ||
        json_object_set_new(o, "message", rc == TAAP_OK ? json_string("valid") : json_string(message)) ||
        json_object_set_new(o, "header", json_is_object(hj) ? json_incref(hj) : json_null()) ||
        json_object_set_new(o, "claims", json_is_object(pj) ? json_incref(pj) : json_null())) {
        json_decref(o);
        json_decref(hj);
        json_decref(pj);
        cli_errorf("cannot encode the JSON output");
        return -1;
    }
    json_decref(hj);
    json_decref(pj);
    if (ex) {
        char *text = NULL;
        json_t *xj = taap_explain_to_json(ex, 0, &text, NULL) == TAAP_OK
                         ? json_loads(text, 0, NULL)
                         : NULL;
        free(text);
        if (!xj || json_object_set_new(o, "explain", xj)) {
            json_decref(o);
            cli_errorf("cannot encode the JSON output");
            return -1;
        }
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) {
        cli_errorf("cannot encode the JSON output");
        return -1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

/* The verification key: --key, else the public half of the private key
 * the settings name ($TAAP_PRIVATE_KEY, the profile: cli_config), else
 * ./public-key.pem (what `taap keygen` writes). */
static int load_key(const verify_opts *o, taap_key **key)
{
    cli_config cfg;
    int rc = cli_config_init(&cfg);
    if (rc)
        return rc;
    cfg.profile = o->profile;
    char from[512] = "from --key";
    const char *spec = o->key_path;
    if (!spec && (rc = cli_config_load(&cfg)) == 0)
        spec = cli_config_get(&cfg, "private_key", from, sizeof from);
    if (!spec && rc == 0 && access("public-key.pem", F_OK) == 0) {
        spec = "public-key.pem";
        snprintf(from, sizeof from, "found in the current directory");
    }
    if (!spec && rc == 0) {
        cli_errorf("no key: give --key with the sender's public key (SPKI/PKCS#1 PEM, JWK or DER)");
        rc = CLI_EXIT_USAGE;
    }
    taap_error err = TAAP_ERROR_INIT;
    if (rc == 0 && (strstr(spec, "-----BEGIN") ? taap_key_load_public(spec, strlen(spec), key, &err)
                                               : taap_key_load_public_file(spec, key, &err)) != TAAP_OK) {
        /* SPEC §2: exit 21 is "key unreadable or refused", whatever the cause. */
        cli_errorf("TAAP_E_KEY: %s (the key %s)", err.message, from);
        rc = err.code == TAAP_E_NOMEM ? CLI_EXIT_FAIL : (int)TAAP_E_KEY;
    }
    cli_config_free(&cfg);
    return rc;
}

/* Read the token, load the key, verify the request and print the verdict. */
static int run_verify(verify_opts *o, cli_request *rq)
{
    taap_key *key = NULL;
    taap_replay *cache = NULL;
    char *stdin_token = NULL;
    const char *token = NULL;
    size_t token_len = 0;
    taap_error err = TAAP_ERROR_INIT;

    int rc = 0;
    if (strcmp(o->token_arg, "-") == 0) {
        rc = read_stdin_token(&stdin_token, &token_len);
        token = stdin_token;
    } else if (rc == 0) {
        token = o->token_arg;
        token_len = strlen(token);
    }
    /* --explain reads the body again for its search: a body from stdin is
     * kept in memory rather than streamed once. */
    if (rc == 0)
        rc = cli_request_finish(rq, o->explain ? CLI_REQ_STDIN_MEMORY : 0);
    if (rc == 0)
        rc = load_key(o, &key);
    if (rc == 0 && o->replay_path)
        rc = cli_replay_open(o->replay_path, &cache);
    if (rc == 0) {
        taap_verify_config cfg;
        taap_verify_config_init(&cfg);
        if (o->have_now) {
            cfg.clock = cli_fixed_clock;
            cfg.clock_ctx = &o->now;
        }
        if (o->leeway >= 0)
            cfg.leeway = (unsigned)o->leeway;
        if (o->max_lifetime > 0)
            cfg.max_lifetime = (unsigned)o->max_lifetime;
        if (o->n_require) {
            cfg.required = o->require;
            cfg.n_required = o->n_require;
        }
        cfg.replay = cache;
        taap_verify_info info;
        taap_explain *ex = NULL;
        taap_code vrc = taap_verify(token, token_len, key, &rq->req, &cfg, &info, &err);
        if (o->explain) {
            /* Explain the verdict just reached (no second replay check). */
            taap_error xerr = TAAP_ERROR_INIT;
            if (taap_explain_verdict(token, token_len, &rq->req, &cfg, vrc, err.message, &ex,
                                     &xerr) != TAAP_OK)
                cli_errorf("cannot explain: %s", xerr.message);
        }
        if (vrc != TAAP_OK)
            cli_errorf("%s: %s", taap_code_name(vrc), err.message);
        if (o->json) {
            if (print_json(token, token_len, vrc, err.message, ex) != 0 && vrc == TAAP_OK)
                vrc = CLI_EXIT_FAIL;
        } else if (ex) {
            cli_explain_print(stdout, ex);
        } else if (vrc == TAAP_OK) {
            printf("valid: jti %s, covers %s, iat %lld, exp %lld\n", info.jti, info.ehts,
                   (long long)info.iat, (long long)info.exp);
        }
        taap_verify_info_free(&info);
        taap_explain_free(ex);
        if (fflush(stdout) != 0 && vrc == TAAP_OK) {
            cli_errorf("cannot write the result: %s", strerror(errno));
            vrc = TAAP_E_IO;
        }
        rc = (int)vrc;
    }
    taap_replay_free(cache);
    taap_key_free(key);
    free(stdin_token);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    verify_opts o = {.leeway = -1, .max_lifetime = -1};
    cli_request rq;
    cli_request_init(&rq);
    int rc = parse_verify(argc, argv, &o, &rq);
    if (rc == 0)
        rc = run_verify(&o, &rq);
    cli_request_free(&rq);
    free(o.require);
    return rc;
}
