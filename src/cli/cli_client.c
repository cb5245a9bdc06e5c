/* cli_client.c — connection flags → settings → taap_client (cli_client.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_client.h"
#include "cli_secret.h"
#include "util.h"

const cli_opt cli_client_connection_opts[] = {
    {"profile", CLI_CL_PROFILE, "NAME", "profile from $XDG_CONFIG_HOME/taap/profiles.ini (env TAAP_PROFILE;\n"
                                        "default: [default] when the file has one)"},
    {"base-url", CLI_CL_BASE_URL, "URL", "API and token server, e.g. https://api.t-mobile.com (TAAP_BASE_URL)"},
    {"token-path", CLI_CL_TOKEN_PATH, "PATH|URL", "token endpoint (default /oauth2/v2/tokens; TAAP_TOKEN_PATH)"},
    {"client-id", CLI_CL_CLIENT_ID, "ID", "DevEdge client id (TAAP_CLIENT_ID)"},
    {"secret-env", CLI_CL_SECRET_ENV, "VAR", "read the client secret from environment variable VAR"},
    {"secret-file", CLI_CL_SECRET_FILE, "FILE", "read it from FILE (must be mode 0600); TAAP_CLIENT_SECRET holds\n"
                                                "the secret itself; never give a secret as an argument"},
    {"key", CLI_CL_KEY, "FILE", "private key for PoP tokens (TAAP_PRIVATE_KEY: a path or PEM text)"},
    {"passphrase-file", CLI_CL_PASSPHRASE_FILE, "FILE", "passphrase of an encrypted key (TAAP_KEY_PASSPHRASE; else prompt)"},
    {"environment", 'e', "FILE", "Postman environment file: \"client id\"/clientId, \"client secret\",\n"
                                 "\"private key\", baseUrl, tokenUrl … and every entry as {{NAME}}"},
    {"var", CLI_CL_VAR, "NAME=VALUE", "value for {{NAME}} placeholders (beats profile var.NAME and -e)"},
    {"id-token", CLI_CL_ID_TOKEN, NULL, "also send X-Auth-Originator: <id_token> on API calls"},
    {"cnf", CLI_CL_CNF, NULL, "send {\"cnf\":\"<public key PEM>\"} in the token request body"},
    {"no-cache", CLI_CL_NO_CACHE, NULL, "do not read or write the shared token cache"},
    {0}};

const cli_opt cli_client_transport_opts[] = {
    {"cacert", CLI_CL_CACERT, "FILE", "trust this CA bundle (PEM)"},
    {"cert", CLI_CL_CERT, "FILE", "client certificate for mutual TLS (PEM)"},
    {"cert-key", CLI_CL_CERT_KEY, "FILE", "its private key (--key is the PoP key, not the TLS key)"},
    {"insecure", 'k', NULL, "do not verify the server's TLS certificate"},
    {"connect-to", CLI_CL_CONNECT_TO, "H1:P1:H2:P2", "connect to H2:P2 instead of H1:P1 (curl's --connect-to)"},
    {"max-time", CLI_CL_MAX_TIME, "SECONDS", "limit for each whole transfer"},
    {"connect-timeout", CLI_CL_CONNECT_TIMEOUT, "SECONDS", "limit for connecting (default 30)"},
    {"verbose", 'v', NULL, "request and response headers on stderr, credentials redacted"},
    {0}};

int cli_client_init(cli_client_opts *o)
{
    memset(o, 0, sizeof *o);
    return cli_config_init(&o->cfg);
}

void cli_client_free(cli_client_opts *o)
{
    cli_config_free(&o->cfg);
}

static int set_flag(cli_client_opts *o, const char *name, const char *value)
{
    return cli_config_set(&o->cfg, name, value) == 0 ? 1 : -1;
}

static int parse_seconds(const char *arg, const char *flag, long *ms)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || v <= 0 || v > 86400.0 * 7) {
        cli_errorf("%s: '%s' is not a number of seconds (0 < s <= 604800)", flag, arg);
        return -1;
    }
    *ms = (long)(v * 1000.0 + 0.5);
    if (*ms < 1)
        *ms = 1;
    return 1;
}

int cli_client_option(cli_client_opts *o, int opt, const char *arg)
{
    char buf[PATH_MAX + 8];
    switch (opt) {
    case CLI_CL_PROFILE: o->cfg.profile = arg; return 1;
    case CLI_CL_BASE_URL: return set_flag(o, "base_url", arg);
    case CLI_CL_TOKEN_PATH: return set_flag(o, "token_path", arg);
    case CLI_CL_CLIENT_ID: return set_flag(o, "client_id", arg);
    case CLI_CL_SECRET_ENV:
        snprintf(buf, sizeof buf, "env:%s", arg);
        return set_flag(o, "secret", buf);
    case CLI_CL_SECRET_FILE:
        snprintf(buf, sizeof buf, "file:%s", arg);
        return set_flag(o, "secret", buf);
    case CLI_CL_KEY: return set_flag(o, "private_key", arg);
    case CLI_CL_PASSPHRASE_FILE:
        snprintf(buf, sizeof buf, "file:%s", arg);
        return set_flag(o, "passphrase", buf);
    case 'e': o->cfg.envfile = arg; return 1;
    case CLI_CL_VAR: return cli_config_set_var(&o->cfg, arg) == 0 ? 1 : -1;
    case CLI_CL_ID_TOKEN: return set_flag(o, "id_token", "yes");
    case CLI_CL_CNF: return set_flag(o, "cnf", "yes");
    case CLI_CL_CACERT: return set_flag(o, "cacert", arg);
    case CLI_CL_CERT: return set_flag(o, "cert", arg);
    case CLI_CL_CERT_KEY: return set_flag(o, "cert_key", arg);
    case 'k': o->insecure = 1; return 1;
    case CLI_CL_CONNECT_TO:
        if (o->n_connect_to == CLI_CL_MAX_CONNECT_TO) {
            cli_errorf("at most %d --connect-to flags", CLI_CL_MAX_CONNECT_TO);
            return -1;
        }
        o->connect_to[o->n_connect_to++] = arg;
        return 1;
    case CLI_CL_MAX_TIME: return parse_seconds(arg, "--max-time", &o->max_time_ms);
    case CLI_CL_CONNECT_TIMEOUT: return parse_seconds(arg, "--connect-timeout", &o->connect_timeout_ms);
    case CLI_CL_NO_CACHE: o->no_cache = 1; return 1;
    case 'v': o->verbose = 1; return 1;
    default: return 0;
    }
}

int cli_client_take(cli_client_opts *o, int opt, const char *arg, char **argv, const cli_parser *p)
{
    int t = cli_client_option(o, opt, arg);
    if (t == 1)
        return 0;
    return t == 0 ? cli_parser_bad(p, opt, argv) : CLI_EXIT_USAGE;
}

int cli_client_no_args(int argc, char **argv, int optind_)
{
    if (optind_ < argc) {
        cli_errorf("unexpected argument '%s'", argv[optind_]);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int cli_client_load(cli_client_opts *o)
{
    return cli_config_load(&o->cfg);
}

char *cli_client_expand(cli_client_opts *o, const char *in)
{
    taap_error err = TAAP_ERROR_INIT;
    char *out = NULL, *unresolved = NULL;
    if (taap_settings_expand(o->cfg.settings, in, &out, &unresolved, &err) != TAAP_OK) {
        cli_report(&err);
        return NULL;
    }
    if (unresolved) {
        cli_warnf("{{%s}} has no value (give --var %s=VALUE, a profile var.%s or -e FILE); "
                  "left as is", unresolved, unresolved, unresolved);
        free(unresolved);
    }
    return out;
}

void cli_client_debug(void *ctx, taap_http_debug_kind kind, const char *line)
{
    (void)ctx;
    const char *p = kind == TAAP_HTTP_DEBUG_HEADER_OUT ? "> " : kind == TAAP_HTTP_DEBUG_HEADER_IN ? "< " : "* ";
    fprintf(stderr, "%s%s\n", p, line);
}

/*
 * The client secret from its source spec (env:, file:, prompt, plain:) —
 * the library's lazy secret source (taap_secret_fn): asked for only when a
 * new access token is needed, so a valid cached token works while the
 * secret's variable is unset or no terminal is there to type it.
 */
static taap_code lazy_secret(void *ctx, char **out, taap_error *err)
{
    cli_client_opts *o = ctx;
    const char *spec = taap_settings_get(o->cfg.settings, "secret", NULL);
    *out = NULL;
    if (!spec || !*spec)
        return taap_fail(err, TAAP_E_CONFIG, "no client secret: give --secret-env VAR, --secret-file "
                         "FILE, TAAP_CLIENT_SECRET, a profile secret source or a \"client secret\" in "
                         "-e FILE");
    taap_code rc = taap_settings_read_secret(spec, out, err);
    if (rc != TAAP_E_NEED_PASSPHRASE)
        return rc;
    char *s = NULL;
    cli_secret_status st = cli_secret_prompt("Client secret: ", 0, &s);
    if (st == CLI_SECRET_NONE)
        return taap_fail(err, TAAP_E_CONFIG, "the client secret is to be typed at a prompt, but there "
                         "is no terminal");
    if (st != CLI_SECRET_OK)
        return taap_fail(err, TAAP_E_CONFIG, "no client secret was typed");
    *out = taap_strdup(s);
    cli_secret_free(s);
    return *out ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
}

int cli_client_make(cli_client_opts *o, taap_client **out)
{
    *out = NULL;
    taap_settings *s = o->cfg.settings;
    const char *base = taap_settings_get(s, "base_url", NULL);
    const char *id = taap_settings_get(s, "client_id", NULL);
    if (!base || !*base) {
        cli_errorf("no base URL: give --base-url, TAAP_BASE_URL, a profile (taap profile add) or "
                   "a baseUrl in the -e environment file");
        return CLI_EXIT_CONFIG;
    }
    if (!id || !*id) {
        cli_errorf("no client id: give --client-id, TAAP_CLIENT_ID, a profile or a \"client id\" "
                   "in the -e environment file");
        return CLI_EXIT_CONFIG;
    }
    taap_key *key = NULL;
    int rc = cli_config_key(&o->cfg, NULL, &key);
    if (rc != 0)
        return rc;
    taap_client_config cfg;
    taap_client_config_init(&cfg);
    cfg.base_url = base;
    cfg.token_path = taap_settings_get(s, "token_path", NULL);
    cfg.client_id = id;
    cfg.secret_fn = lazy_secret;
    cfg.secret_ctx = o;
    cfg.key = key;
    cfg.send_id_token = taap_settings_bool(taap_settings_get(s, "id_token", NULL)) == 1;
    cfg.send_cnf = taap_settings_bool(taap_settings_get(s, "cnf", NULL)) == 1;
    cfg.cache = o->no_cache ? TAAP_CLIENT_CACHE_MEMORY : TAAP_CLIENT_CACHE_DISK;
    cfg.cache_profile = o->cfg.profile_used;
    cfg.retries = o->retries;
    cfg.retry_delay_ms = o->retry_delay_ms;
    cfg.http.cacert = taap_settings_get(s, "cacert", NULL);
    cfg.http.client_cert = taap_settings_get(s, "cert", NULL);
    cfg.http.client_key = taap_settings_get(s, "cert_key", NULL);
    cfg.http.insecure = o->insecure;
    cfg.http.connect_to = o->connect_to;
    cfg.http.n_connect_to = o->n_connect_to;
    cfg.http.timeout_ms = o->max_time_ms;
    cfg.http.connect_timeout_ms = o->connect_timeout_ms;
    cfg.http.compressed = o->compressed;
    cfg.http.progress = o->progress;
    cfg.http.progress_ctx = o->progress_ctx;
    if (o->verbose) {
        cfg.http.debug = cli_client_debug;
        cfg.http.debug_ctx = o;
    }
    taap_error err = TAAP_ERROR_INIT;
    taap_code c = taap_client_new(&cfg, out, &err);
    taap_key_free(key);
    if (c != TAAP_OK)
        return cli_report(&err);
    return 0;
}
