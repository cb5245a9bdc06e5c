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

const char cmd_token_help[] =
    "usage: taap token [--profile P] [--base-url URL] [--client-id ID] [--secret-env VAR|\n"
    "                  --secret-file F] [--key FILE] [--force-refresh] [--forget] [--json]\n"
    "                  [--show-token] [--print]\n"
    "\n"
    "Get an OAuth 2.0 access token the TAAP way (Quick Start Step F 1-5): POST to the\n"
    "token endpoint with HTTP Basic client credentials and a fresh PoP token over\n"
    "Content-Type;Authorization;uri;http-method. The token is cached per profile in\n"
    "$XDG_CACHE_HOME/taap (mode 0600, shared by concurrent taap processes) and reused\n"
    "until 60 s before it expires; `taap call` uses the same cache.\n"
    "\n"
    "Prints the token type, when it expires and its scope. The token is printed only\n"
    "with --print or --show-token (it is a credential: keep it out of logs).\n"
    "\n"
    "Options:\n"
    "  --force-refresh         ignore the cached token and get a new one\n"
    "  --forget                delete the cached token and exit\n"
    "  --json                  one JSON object: token_type, expires_in, expires_at, scope,\n"
    "                          source, client_id (+ access_token, id_token with --show-token)\n"
    "  --print                 print only the access token, on one line, for scripts:\n"
    "                          curl -H \"Authorization: Bearer $(taap token --print)\" …\n"
    "                          (--show-token alone does the same)\n"
    "  --show-token            with --json: add access_token and id_token to it\n"
    "\n"
    CLI_CLIENT_FLAGS_HELP
    "\n"
    "Exit status: 0 token available; 2 usage; 50 transport error (connect, TLS,\n"
    "timeout); 52 the token endpoint refused (its error is printed); 54 settings\n"
    "missing or wrong; 21/31/33/34 private key problems (see taap help keygen).\n"
    "\n"
    "Example:\n"
    "  TAAP_CLIENT_SECRET=... taap token --base-url http://127.0.0.1:8080 \\\n"
    "      --client-id $ID --key private-key.pem\n";

enum { OPT_FORCE = 0x2301, OPT_JSON, OPT_SHOW, OPT_FORGET, OPT_PRINT };

static void iso8601(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, cap, "%lld", (long long)t);
}

int cmd_token(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_CLIENT_LONGOPTS,
        {"force-refresh", no_argument, NULL, OPT_FORCE},
        {"forget", no_argument, NULL, OPT_FORGET},
        {"json", no_argument, NULL, OPT_JSON},
        {"show-token", no_argument, NULL, OPT_SHOW},
        {"print", no_argument, NULL, OPT_PRINT},
        {0, 0, 0, 0},
    };
    cli_client_opts co;
    if (cli_client_init(&co) != 0)
        return CLI_EXIT_FAIL;
    int force = 0, json = 0, show = 0, forget = 0, print_only = 0, c, rc = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" CLI_CLIENT_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FORCE: force = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_SHOW: show = 1; break;
        case OPT_PRINT: print_only = 1; break;
        case OPT_FORGET: forget = 1; break;
        default:
            if ((rc = cli_client_take(&co, c, optarg, argv, longopts)) != 0) {
                cli_client_free(&co);
                return rc;
            }
        }
    }
    if ((rc = cli_client_no_args(argc, argv, optind)) != 0) {
        cli_client_free(&co);
        return rc;
    }
    taap_client *cl = NULL;
    if ((rc = cli_client_load(&co)) != 0 || (rc = cli_client_make(&co, &cl)) != 0) {
        cli_client_free(&co);
        return rc;
    }
    taap_error err = TAAP_ERROR_INIT;
    if (forget) {
        if (taap_client_forget_token(cl, &err) != TAAP_OK)
            rc = cli_report(&err);
        taap_client_free(cl);
        cli_client_free(&co);
        return rc;
    }
    taap_oauth_token *tok = NULL;
    int from_cache = 0;
    if (taap_client_token(cl, force, &tok, &from_cache, &err) != TAAP_OK) {
        rc = cli_report(&err);
        taap_client_free(cl);
        cli_client_free(&co);
        return rc;
    }
    int64_t now = (int64_t)time(NULL);
    int64_t left = tok->expires_at - now;
    char when[40];
    iso8601(tok->expires_at, when, sizeof when);
    const char *source = from_cache ? "cache" : "token endpoint";
    const char *cid = taap_settings_get(co.cfg.settings, "client_id", NULL);
    /* Only the token (as `gh auth token`): --print, or --show-token alone. */
    if (print_only || (show && !json)) {
        puts(tok->access_token);
    } else if (json) {
        json_t *o = json_pack("{s:s,s:I,s:s,s:s?,s:s,s:s,s:s}", "token_type",
                              tok->token_type ? tok->token_type : "Bearer", "expires_in",
                              (json_int_t)left, "expires_at", when, "scope", tok->scope, "source",
                              source, "client_id", cid ? cid : "", "profile", co.cfg.profile_used);
        if (o && show) {
            json_object_set_new(o, "access_token", json_string(tok->access_token));
            if (tok->id_token)
                json_object_set_new(o, "id_token", json_string(tok->id_token));
        }
        char *txt = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (txt) {
            puts(txt);
            free(txt);
        } else {
            cli_errorf("out of memory");
            rc = CLI_EXIT_FAIL;
        }
        json_decref(o);
    } else {
        printf("token_type:   %s\n", tok->token_type ? tok->token_type : "Bearer");
        printf("expires_in:   %lld s (at %s)\n", (long long)left, when);
        printf("scope:        %s\n", tok->scope ? tok->scope : "(not stated)");
        printf("id_token:     %s\n", tok->id_token ? "received (--json --show-token prints it)" : "none");
        printf("source:       %s\n", source);
    }
    taap_oauth_token_free(tok);
    taap_client_free(cl);
    cli_client_free(&co);
    return rc;
}
