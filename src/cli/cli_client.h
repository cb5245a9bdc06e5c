/*
 * cli_client.h — the connection flags shared by `taap token`, `taap call`
 * and `taap quickstart`, and how they become a taap_client (SPEC §7:
 * flags > environment > profile > Postman environment file).
 *
 *   --profile NAME          profile in $XDG_CONFIG_HOME/taap/profiles.ini (env TAAP_PROFILE)
 *   --base-url URL          e.g. https://api.t-mobile.com        (env TAAP_BASE_URL)
 *   --token-path PATH|URL   default /oauth2/v2/tokens             (env TAAP_TOKEN_PATH)
 *   --client-id ID                                               (env TAAP_CLIENT_ID)
 *   --secret-env VAR        read the client secret from $VAR      (env TAAP_CLIENT_SECRET = the secret)
 *   --secret-file FILE      read it from FILE (mode 0600)
 *   --key FILE              PoP private key (PEM)                 (env TAAP_PRIVATE_KEY: path or PEM)
 *   --passphrase-file FILE  passphrase of an encrypted key        (env TAAP_KEY_PASSPHRASE)
 *   -e, --environment FILE  Postman environment (client id, client secret, private key, ICCID…)
 *   --var NAME=VALUE        value for {{NAME}} placeholders (repeatable)
 *   --id-token              send X-Auth-Originator: <id_token> on API calls
 *   --cnf                   send {"cnf": public key} in the token request
 *   --cacert FILE, --cert FILE, --cert-key FILE, -k/--insecure, --connect-to H1:P1:H2:P2,
 *   --max-time SECONDS, --connect-timeout SECONDS, --no-cache, -v/--verbose
 */
#ifndef TAAP_CLI_CLIENT_H
#define TAAP_CLI_CLIENT_H

#include <getopt.h>
#include <stdio.h>
#include "taap/taap.h"
#include "cli_config.h"
#include "cli_help.h"

enum {
    CLI_CL_PROFILE = 0x2201,
    CLI_CL_BASE_URL,
    CLI_CL_TOKEN_PATH,
    CLI_CL_CLIENT_ID,
    CLI_CL_SECRET_ENV,
    CLI_CL_SECRET_FILE,
    CLI_CL_KEY,
    CLI_CL_PASSPHRASE_FILE,
    CLI_CL_VAR,
    CLI_CL_ID_TOKEN,
    CLI_CL_CNF,
    CLI_CL_CACERT,
    CLI_CL_CERT,
    CLI_CL_CERT_KEY,
    CLI_CL_CONNECT_TO,
    CLI_CL_MAX_TIME,
    CLI_CL_CONNECT_TIMEOUT,
    CLI_CL_NO_CACHE,
};

/* The connection and transport options (cli_client.c), as two groups of a
 * command's help (cli_help.h); their keys go to cli_client_take(). */
extern const cli_opt cli_client_connection_opts[];
extern const cli_opt cli_client_transport_opts[];
#define CLI_CLIENT_HELP_GROUPS                                                                 \
    {"\nConnection (flags > environment > profile > Postman environment file):",               \
     cli_client_connection_opts, 26, 0, NULL},                                                  \
    {"Transport:", cli_client_transport_opts, 26, 0,                                            \
     "  Proxies come from http_proxy / https_proxy / no_proxy, as with curl.\n"}

#define CLI_CL_MAX_VARS 256
#define CLI_CL_MAX_CONNECT_TO 32

typedef struct cli_client_opts {
    cli_config cfg;            /* the settings: flags layer filled as options arrive */
    const char *connect_to[CLI_CL_MAX_CONNECT_TO];
    size_t n_connect_to;
    long max_time_ms, connect_timeout_ms;
    int insecure, verbose, no_cache;
    unsigned retries, retry_delay_ms; /* set by the command before cli_client_make */
    int compressed;                   /* curl --compressed (set by the command) */
    int (*progress)(void *ctx, uint64_t sent, int64_t total); /* upload progress hook */
    void *progress_ctx;
} cli_client_opts;

/* Returns 0 or CLI_EXIT_USAGE/1 after printing why. */
int cli_client_init(cli_client_opts *o);
void cli_client_free(cli_client_opts *o);

/* Offer a getopt result: 1 taken, 0 not ours, -1 bad value (printed). */
int cli_client_option(cli_client_opts *o, int opt, const char *arg);

/* The default: branch of a command's cli_next_option() loop. Returns 0 when
 * the option was a connection flag (taken), else CLI_EXIT_USAGE (the one
 * bad-option message printed). */
int cli_client_take(cli_client_opts *o, int opt, const char *arg, char **argv, const cli_parser *p);

/* After the loop of a command without positional arguments: 0, or
 * CLI_EXIT_USAGE after naming the first unexpected one. */
int cli_client_no_args(int argc, char **argv, int optind_);

/* Load environment, profile and environment file into the settings.
 * Returns 0 or the exit status (message printed). */
int cli_client_load(cli_client_opts *o);

/*
 * Make the client from the settings (the key resolved now; the secret only
 * when a new access token must be fetched, so a valid cached token needs no
 * secret — the client's error then names the missing source). `o` must
 * outlive the client. Returns 0 or the exit status (message printed).
 */
int cli_client_make(cli_client_opts *o, taap_client **out);

/* Expand {{NAME}} in `in` (malloc'd result; warns once per unresolved name).
 * NULL on allocation failure (printed). */
char *cli_client_expand(cli_client_opts *o, const char *in);

/* The verbose hook: "* info", "> header", "< header" on stderr. */
void cli_client_debug(void *ctx, taap_http_debug_kind kind, const char *line);

#endif
