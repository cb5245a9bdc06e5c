/* cmd_pop.c — `taap pop`: build a PoP token for a request, curl-style. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_request.h"
#include "cli_secret.h"


enum {
    OPT_KEY = 0x2201,
    OPT_PASSFILE,
    OPT_LIFETIME,
    OPT_NOW,
    OPT_JTI,
    OPT_SIGN,
    OPT_NOSIGN,
    OPT_JSON,
    OPT_LEGACY,
    OPT_PROFILE,
};

typedef struct pop_opts {
    cli_config cfg; /* --key, --profile, --passphrase-file */
    int legacy;
    long lifetime; /* -1: default */
    int64_t now;
    int have_now;
    const char *jti;
    const char **sign;
    size_t n_sign;
    const char **nosign;
    size_t n_nosign;
    int json;
} pop_opts;

static const cli_opt pop_request_opts[] = {
    {"request", 'X', "METHOD",
     "method (default GET, or POST when a body is given)"},
    {"header", 'H', "'N: v'",
     "a header (repeatable, order kept); 'N:' drops one"},
    {"data", 'd', "STR|@FILE|@-",
     "body; from a file or stdin CR/LF are stripped (as curl)"},
    {"data-raw", CLI_REQ_OPT_DATA_RAW, "STR",
     "body, '@' not special"},
    {"data-binary", CLI_REQ_OPT_DATA_BINARY, "STR|@FILE|@-",
     "body bytes exactly; one @FILE is streamed"},
    {"url", CLI_REQ_OPT_URL, "URL",
     "the URL (or give it as the argument)"},
    {"data-ascii", 'd', "DATA", NULL},
    {0}};
static const cli_opt pop_opts_table[] = {
    {"key", OPT_KEY, "FILE",
     "private key (PKCS#8, PKCS#1, encrypted; PEM or DER);\nelse $TAAP_PRIVATE_KEY (a path, or the PEM itself), else\nthe profile's private_key, else ./private-key.pem"},
    {"profile", OPT_PROFILE, "NAME",
     "profile to take the key from (else $TAAP_PROFILE, else\n[default] when the profile file has one)"},
    {"passphrase-file", OPT_PASSFILE, "FILE",
     "passphrase of an encrypted key (else $TAAP_KEY_PASSPHRASE,\nelse a prompt on the terminal)"},
    {"legacy", OPT_LEGACY, NULL,
     "allow legacy PBES1/DES encrypted keys (also TAAP_KEY_LEGACY=1)"},
    {"lifetime", OPT_LIFETIME, "N",
     "seconds until exp, 1..120 (default 60)"},
    {"now", OPT_NOW, "EPOCH",
     "iat instead of the clock (reproducible tokens)"},
    {"jti", OPT_JTI, "ID",
     "jti instead of a random UUID v4 (at most 256 bytes)"},
    {"sign-header", OPT_SIGN, "NAME",
     "also sign this header (repeatable; must be in -H)"},
    {"no-sign-header", OPT_NOSIGN, "NAME",
     "leave a default part out (Authorization, body, ...)"},
    {"json", OPT_JSON, NULL,
     "print {\"token\",\"ehts\",\"edts\",\"iat\",\"exp\",\"jti\"}"},
    {"help", 'h', NULL,
     "this help"},
    {0}};
const cli_help cmd_pop_help = {
    "usage: taap pop [REQUEST FLAGS] [--key FILE|--profile NAME] [--passphrase-file FILE] [--lifetime N]\n"
    "                [--now EPOCH] [--jti ID] [--sign-header NAME]... [--no-sign-header NAME]...\n"
    "                [--legacy] [--json] URL|PATH\n"
    "\n"
    "Build a PoP token (the X-Authorization header value) for one HTTP request and\n"
    "print it on one line. The request is described with curl's flags, so the same\n"
    "flags sign and send it:\n"
    "\n"
    "  tok=$(taap pop -X POST -H 'Authorization: Bearer abc' -d @body.json URL)\n"
    "  curl -H 'Authorization: Bearer abc' -H 'Content-Type: application/json' \\\n"
    "       -H \"X-Authorization: $tok\" -d @body.json URL\n"
    "\n"
    "Signed by default (SPEC 1.1): Content-Type and Authorization when given, then\n"
    "uri (path + decoded query), http-method, then body when non-empty.\n"
    "\n",
    {
        {"Request flags:", pop_request_opts, 28, 1, "  A body without a Content-Type header gets Content-Type: application/json\n" "  (curl would use application/x-www-form-urlencoded; say -H 'Content-Type: …'\n" "  to choose, or -H 'Content-Type:' for none). Repeated -d join with '&'.\n"},
        {"\nOptions:", pop_opts_table, 28, 0, NULL},
    },
    "\n"
    "Exit status: 0 token printed; 2 usage (bad flag, no URL, --now/--jti malformed);\n"
    "54 no key anywhere or no such profile; 21 key refused; 31 file unreadable;\n"
    "33/34 passphrase missing/wrong;\n"
    "40-46 the builder refused (43 a header to sign is not in the request or is\n"
    "X-Authorization, 44 duplicate, 45 ';' in a name, 46 --lifetime outside 1..120).\n"};

static int push(const char ***list, size_t *n, const char *v)
{
    const char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l) {
        cli_errorf("out of memory");
        return -1;
    }
    l[(*n)++] = v;
    *list = l;
    return 0;
}

/* The key as every command finds it (cli_config_key): --key,
 * $TAAP_PRIVATE_KEY, the profile, ./private-key.pem. Passphrases come from
 * --passphrase-file, $TAAP_KEY_PASSPHRASE or a prompt on the terminal. */
static int load_key(pop_opts *o, taap_key **key)
{
    cli_key_options ko = {0};
    ko.allow_legacy = o->legacy;
    int rc = cli_config_load(&o->cfg);
    return rc ? rc : cli_config_key(&o->cfg, &ko, key);
}

static int print_json(const char *token, const taap_pop_info *info)
{
    json_t *o = json_pack("{sssssssIsIss}", "token", token, "ehts", info->ehts, "edts",
                          info->edts, "iat", (json_int_t)info->iat, "exp", (json_int_t)info->exp,
                          "jti", info->jti);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s) {
        cli_errorf("cannot encode the JSON output");
        return CLI_EXIT_FAIL;
    }
    printf("%s\n", s);
    free(s);
    return CLI_EXIT_OK;
}

static int parse_pop(int argc, char **argv, pop_opts *o, cli_request *rq)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_pop_help);
    int c;
    char *end;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_KEY:
            if (cli_config_set(&o->cfg, "private_key", optarg))
                return CLI_EXIT_USAGE;
            break;
        case OPT_PROFILE:
            o->cfg.profile = optarg;
            break;
        case OPT_PASSFILE: {
            char spec[4096];
            snprintf(spec, sizeof spec, "file:%s", optarg);
            if (cli_config_set(&o->cfg, "passphrase", spec))
                return CLI_EXIT_USAGE;
            break;
        }
        case OPT_LEGACY:
            o->legacy = 1;
            break;
        case OPT_LIFETIME:
            errno = 0;
            o->lifetime = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end) {
                cli_errorf("--lifetime '%s' is not a number of seconds (1..%d)", optarg,
                           TAAP_POP_MAX_LIFETIME);
                return CLI_EXIT_USAGE;
            }
            if (o->lifetime < 1 || o->lifetime > TAAP_POP_MAX_LIFETIME) {
                cli_errorf("--lifetime %s is outside 1..%d s (the PoP default is %d s)", optarg,
                           TAAP_POP_MAX_LIFETIME, TAAP_POP_DEFAULT_LIFETIME);
                return TAAP_E_BUILD_LIFETIME;
            }
            break;
        case OPT_NOW:
            if (cli_parse_epoch("--now", optarg, &o->now))
                return CLI_EXIT_USAGE;
            o->have_now = 1;
            break;
        case OPT_JTI:
            o->jti = optarg;
            break;
        case OPT_SIGN:
            if (push(&o->sign, &o->n_sign, optarg))
                return CLI_EXIT_FAIL;
            break;
        case OPT_NOSIGN:
            if (push(&o->nosign, &o->n_nosign, optarg))
                return CLI_EXIT_FAIL;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        default: {
            int r = cli_request_option(rq, c, optarg);
            if (r == 1)
                break;
            return r == 0 ? cli_parser_bad(&p, c, argv) : CLI_EXIT_USAGE;
        }
        }
    }
    for (; optind < argc; optind++)
        if (cli_request_target(rq, argv[optind]) != 0)
            return CLI_EXIT_USAGE;
    return cli_request_finish(rq, 0);
}

/* Sign the parsed request and print the token. */
static int run_pop(pop_opts *o, cli_request *rq)
{
    taap_key *key = NULL;
    char *token = NULL;
    taap_pop_info info = {0};
    int rc = load_key(o, &key);
    if (rc == 0) {
        taap_pop_options po;
        taap_pop_options_init(&po);
        if (o->lifetime > 0)
            po.lifetime = (unsigned)o->lifetime;
        if (o->have_now) {
            po.clock = cli_fixed_clock;
            po.clock_ctx = &o->now;
        }
        po.jti = o->jti;
        po.sign_headers = o->sign;
        po.n_sign_headers = o->n_sign;
        po.no_sign_headers = o->nosign;
        po.n_no_sign_headers = o->n_nosign;
        taap_error err = TAAP_ERROR_INIT;
        if (taap_pop_build_request(key, &rq->req, &po, &token, &info, &err) != TAAP_OK)
            rc = cli_report(&err);
    }
    if (rc == 0) {
        if (o->json) {
            rc = print_json(token, &info);
        } else {
            fputs(token, stdout);
            fputc('\n', stdout);
        }
        if (fflush(stdout) != 0) {
            cli_errorf("cannot write the token: %s", strerror(errno));
            rc = TAAP_E_IO;
        }
    }
    free(token);
    taap_pop_info_free(&info);
    taap_key_free(key);
    return rc;
}

int cmd_pop(int argc, char **argv)
{
    pop_opts o = {.lifetime = -1};
    if (cli_config_init(&o.cfg) != 0)
        return CLI_EXIT_FAIL;
    cli_request rq;
    cli_request_init(&rq);
    int rc = parse_pop(argc, argv, &o, &rq);
    if (rc == 0)
        rc = run_pop(&o, &rq);
    cli_request_free(&rq);
    free(o.sign);
    free(o.nosign);
    cli_config_free(&o.cfg);
    return rc;
}
