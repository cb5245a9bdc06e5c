/* cmd_token.c — `taap token`: get (or reuse) an OAuth 2.0 access token
 * (SPEC §4) and say when it expires; the token itself only on request. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_client.h"

enum { OPT_FORCE = 0x2301, OPT_JSON, OPT_SHOW, OPT_FORGET, OPT_PRINT };

static const cli_opt token_opts_table[] = {
    {"force-refresh", OPT_FORCE, NULL, "ignore the cached token and get a new one"},
    {"forget", OPT_FORGET, NULL, "delete the cached token and exit"},
    {"json", OPT_JSON, NULL, "one JSON object: token_type, expires_in, expires_at, scope,\n"
                             "source, client_id (+ access_token, id_token with --show-token)"},
    {"print", OPT_PRINT, NULL, "print only the access token, on one line, for scripts:\n"
                               "curl -H \"Authorization: Bearer $(taap token --print)\" …\n"
                               "(--show-token alone does the same)"},
    {"show-token", OPT_SHOW, NULL, "with --json: add access_token and id_token to it"},
    {0}};

const cli_help cmd_token_help = {
    "usage: taap token [--profile P] [--base-url URL] [--client-id ID] [--secret-env VAR|\n"
    "                  --secret-file F] [--key FILE] [--force-refresh] [--forget] [--json]\n"
    "                  [--show-token] [--print]\n"
    "\n"
    "Get an OAuth 2.0 access token the TAAP way (Quick Start Step F 1-5): POST to the\n"
    "token endpoint with HTTP Basic client credentials and a fresh PoP token over\n"
    "Content-Type;Authorization;uri;http-method. The token is cached per profile in\n"
    "$XDG_CACHE_HOME/taap (mode 0600, shared by concurrent taap processes) and reused\n"
    "until 60 s before it expires; `taap call` uses the same cache. A valid cached\n"
    "token needs no client secret: the secret is read only to fetch a new token.\n"
    "\n"
    "Prints the token type, when it expires and its scope. The token is printed only\n"
    "with --print or --show-token (it is a credential: keep it out of logs).\n"
    "\n",
    {{"Options:", token_opts_table, 26, 0, NULL}, CLI_CLIENT_HELP_GROUPS},
    "\n"
    "Exit status: 0 token available; 2 usage; 50 transport error (connect, TLS,\n"
    "timeout); 52 the token endpoint refused (its error is printed); 54 settings\n"
    "missing or wrong; 21/31/33/34 private key problems (see taap help keygen).\n"
    "\n"
    "Example:\n"
    "  TAAP_CLIENT_SECRET=... taap token --base-url http://127.0.0.1:8080 \\\n"
    "      --client-id $ID --key private-key.pem\n"};

static void iso8601(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, cap, "%lld", (long long)t);
}

/* What the command line asked for. */
typedef struct token_opts {
    cli_client_opts co;
    int force, json, show, forget, print_only;
} token_opts;

static int parse_token(int argc, char **argv, token_opts *o)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_token_help);
    int c, rc;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_FORCE: o->force = 1; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_SHOW: o->show = 1; break;
        case OPT_PRINT: o->print_only = 1; break;
        case OPT_FORGET: o->forget = 1; break;
        default:
            if ((rc = cli_client_take(&o->co, c, optarg, argv, &p)) != 0)
                return rc;
        }
    }
    return cli_client_no_args(argc, argv, optind);
}

static int print_token(const token_opts *o, const taap_oauth_token *tok, int from_cache)
{
    int64_t left = tok->expires_at - (int64_t)time(NULL);
    char when[40];
    iso8601(tok->expires_at, when, sizeof when);
    const char *source = from_cache ? "cache" : "token endpoint";
    const char *cid = taap_settings_get(o->co.cfg.settings, "client_id", NULL);
    /* Only the token (as `gh auth token`): --print, or --show-token alone. */
    if (o->print_only || (o->show && !o->json)) {
        puts(tok->access_token);
        return CLI_EXIT_OK;
    }
    if (!o->json) {
        printf("token_type:   %s\n", tok->token_type ? tok->token_type : "Bearer");
        printf("expires_in:   %lld s (at %s)\n", (long long)left, when);
        printf("scope:        %s\n", tok->scope ? tok->scope : "(not stated)");
        printf("id_token:     %s\n", tok->id_token ? "received (--json --show-token prints it)" : "none");
        printf("source:       %s\n", source);
        return CLI_EXIT_OK;
    }
    json_t *j = json_pack("{s:s,s:I,s:s,s:s?,s:s,s:s,s:s}", "token_type",
                          tok->token_type ? tok->token_type : "Bearer", "expires_in", (json_int_t)left,
                          "expires_at", when, "scope", tok->scope, "source", source, "client_id",
                          cid ? cid : "", "profile", o->co.cfg.profile_used);
    if (j && o->show) {
        json_object_set_new(j, "access_token", json_string(tok->access_token));
        if (tok->id_token)
            json_object_set_new(j, "id_token", json_string(tok->id_token));
    }
    char *txt = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!txt) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    puts(txt);
    free(txt);
    return CLI_EXIT_OK;
}

static int run_token(token_opts *o)
{
    taap_client *cl = NULL;
    int rc = cli_client_load(&o->co);
    if (rc != 0 || (rc = cli_client_make(&o->co, &cl)) != 0)
        return rc;
    taap_error err = TAAP_ERROR_INIT;
    taap_oauth_token *tok = NULL;
    int from_cache = 0;
    if (o->forget) {
        if (taap_client_forget_token(cl, &err) != TAAP_OK)
            rc = cli_report(&err);
    } else if (taap_client_token(cl, o->force, &tok, &from_cache, &err) != TAAP_OK) {
        rc = cli_report(&err);
    } else {
        rc = print_token(o, tok, from_cache);
    }
    taap_oauth_token_free(tok);
    taap_client_free(cl);
    return rc;
}

int cmd_token(int argc, char **argv)
{
    token_opts o;
    memset(&o, 0, sizeof o);
    if (cli_client_init(&o.co) != 0)
        return CLI_EXIT_FAIL;
    int rc = parse_token(argc, argv, &o);
    if (rc == 0)
        rc = run_token(&o);
    cli_client_free(&o.co);
    return rc;
}
