/* cmd_serve.c — `taap serve`: run the local TAAP emulator (SPEC §6). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_replay.h"
#include "taap_serve.h"


enum {
    OPT_LISTEN = 256, OPT_PORT_FILE, OPT_DB, OPT_ADMIN_TOKEN_FILE, OPT_THREADS, OPT_NO_LOG,
    OPT_MAX_HEADER, OPT_MAX_BODY, OPT_MAX_CONN, OPT_MAX_CONN_CLIENT, OPT_HEADER_TIMEOUT, OPT_TIMEOUT, OPT_INIT, OPT_INIT_ONLY,
    OPT_INIT_KEY, OPT_JSON, OPT_LEEWAY, OPT_MAX_POP, OPT_TOKEN_REQ, OPT_RES_REQ, OPT_NO_REPLAY,
    OPT_TOKEN_LIFE, OPT_SECRET_ITER, OPT_CLOCK_OFFSET, OPT_NOW_FILE, OPT_PORT, OPT_REQUEST_LOG,
    OPT_REPLAY
};

static const cli_opt serve_server_opts[] = {
    {"listen", OPT_LISTEN, "ADDR",
     "numeric address to bind (default 127.0.0.1)"},
    {"port", OPT_PORT, "N",
     "TCP port (default 8080; 0 picks a free one)"},
    {"port-file", OPT_PORT_FILE, "FILE",
     "write the bound port to FILE once listening"},
    {"db", OPT_DB, "FILE",
     "SQLite database (WAL); default: a temporary one"},
    {"admin-token-file", OPT_ADMIN_TOKEN_FILE, "FILE",
     "admin token for the management API; created (0600) with\na random token if missing (default DB.admin-token); refused\nwhen group or others may read it"},
    {"threads", OPT_THREADS, "N",
     "worker threads (default 4)"},
    {"no-access-log", OPT_NO_LOG, NULL,
     "do not log one line per request on stderr"},
    {"request-log", OPT_REQUEST_LOG, "N",
     "requests remembered for GET /devedge/v1/requests, `taap admin\nrequests` and the console: method, path, status, PoP verdict\nand explanation, never a token or secret (default 1000)"},
    {0}};
static const cli_opt serve_limit_opts[] = {
    {"max-header-bytes", OPT_MAX_HEADER, "N",
     "request line + headers (default 16384; more gets 431)"},
    {"max-body-bytes", OPT_MAX_BODY, "N",
     "request body (default 1048576; more gets 413)"},
    {"max-connections", OPT_MAX_CONN, "N",
     "concurrent connections (default 512)"},
    {"max-connections-per-client", OPT_MAX_CONN_CLIENT, "N",
     "connections from one client address (default 32;\nat most half of --max-connections)"},
    {"header-timeout", OPT_HEADER_TIMEOUT, "S",
     "seconds to receive a request line and its headers in all,\nhowever slowly they trickle (default 10)"},
    {"request-timeout", OPT_TIMEOUT, "S",
     "idle seconds before a connection is closed: a body that\nstops arriving, an idle kept-alive connection (default 30)"},
    {0}};
static const cli_opt serve_demo_opts[] = {
    {"init", OPT_INIT, NULL,
     "seed a demo account (application demo-app with client id and\nsecret, Connectivity subscription, one kit), print it, serve"},
    {"init-only", OPT_INIT_ONLY, NULL,
     "the same, then exit"},
    {"init-key", OPT_INIT_KEY, "FILE",
     "also register this public key (PEM) for demo-app"},
    {"json", OPT_JSON, NULL,
     "print exactly one JSON object on stdout once listening\n(url, port, admin_token_file, admin_token when new,\naccount with --init); every other line goes to stderr"},
    {0}};
static const cli_opt serve_policy_opts[] = {
    {"leeway", OPT_LEEWAY, "S",
     "clock skew allowed for PoP tokens (default 10)"},
    {"max-pop-lifetime", OPT_MAX_POP, "S",
     "largest exp - iat accepted (default 120)"},
    {"token-require", OPT_TOKEN_REQ, "PARTS",
     "parts the token endpoint's PoP must cover, comma-separated or\nrepeated (default uri,http-method,body; body = when non-empty)"},
    {"resource-require", OPT_RES_REQ, "PARTS",
     "the same for API calls\n(default Authorization,uri,http-method,body)"},
    {"no-replay-check", OPT_NO_REPLAY, NULL,
     "accept a PoP token's jti more than once"},
    {"replay", OPT_REPLAY, "SPEC",
     "where used jti values are remembered: memory (default),\nredis://HOST[:PORT][/DB] or unix:PATH (shared with other\nservers and gateways), or a SQLite FILE"},
    {"token-lifetime", OPT_TOKEN_LIFE, "S",
     "access/ID token lifetime (default 3600)"},
    {"secret-iterations", OPT_SECRET_ITER, "N",
     "PBKDF2 iterations for new client secrets (default 210000)"},
    {"clock-offset", OPT_CLOCK_OFFSET, "S",
     "add S seconds (may be negative) to the server's clock"},
    {"now-file", OPT_NOW_FILE, "FILE",
     "(testing) read the current time, in epoch seconds, from FILE\non every use"},
    {0}};
const cli_help cmd_serve_help = {
    "usage: taap serve [--port N] [--db FILE] [--init] [OPTIONS]\n"
    "\n"
    "Run a local TAAP emulator: the OAuth 2.0 token endpoint (POST /oauth2/v2/tokens, also\n"
    "v1 and v6), the Connectivity API (/iot-connectivity/v1/devices), a DevEdge-like\n"
    "management API (/devedge/v1, see `taap admin`), GET /healthz and\n"
    "GET /.well-known/jwks.json. State lives in SQLite; SIGTERM/SIGINT drain and exit 0.\n"
    "\n",
    {
        {"Server:", serve_server_opts, 26, 0, NULL},
        {"\nLimits:", serve_limit_opts, 26, 0, NULL},
        {"\nDemo data:", serve_demo_opts, 26, 0, NULL},
        {"\nPoP and token policy:", serve_policy_opts, 26, 0, NULL},
    },
    "\n"
    "Output: the admin token when it is first generated, the seeded account with --init,\n"
    "then \"listening on http://ADDR:PORT\" on stdout. A busy --port is found before the\n"
    "database is touched. Exit status 0 after a clean stop, 60 when the server cannot\n"
    "start (address in use), 1 other start failures, 2 on a usage error.\n"};

static int parse_num(const char *flag, const char *v, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        cli_errorf("%s needs an integer in %lld..%lld, got '%s'", flag, lo, hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

/* Append comma-separated names to a list. */
static int add_parts(char ***list, size_t *n, const char *arg)
{
    char *copy = strdup(arg);
    if (!copy)
        return 0;
    for (char *save = NULL, *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char **v = realloc(*list, (*n + 1) * sizeof *v);
        if (!v) {
            free(copy);
            return 0;
        }
        *list = v;
        v[(*n)++] = strdup(p);
    }
    free(copy);
    return 1;
}

static void print_seed(const char *json_text)
{
    json_t *j = json_loads(json_text, 0, NULL);
    json_t *app = json_object_get(j, "app"), *dev = json_object_get(j, "device"),
           *key = json_object_get(j, "key");
#define S(o, k) (json_string_value(json_object_get((o), (k))) ? json_string_value(json_object_get((o), (k))) : "")
    printf("demo account \"%s\" created:\n", S(app, "account"));
    printf("  application    %s\n", S(app, "name"));
    printf("  client id      %s\n", S(app, "clientId"));
    printf("  client secret  %s   (shown once: save it now)\n", S(app, "clientSecret"));
    printf("  subscribed to  %s\n", TAAP_SERVE_API_CONNECTIVITY);
    printf("  developer kit  ICCID %s  IMEI %s  (save your IMEI and ICCID)\n", S(dev, "iccid"),
           S(dev, "imei"));
    printf("                 IMSI %s  MSISDN %s  status %s\n", S(dev, "imsi"), S(dev, "msisdn"),
           S(dev, "status"));
    if (json_is_object(key))
        printf("  public key     %s (%d bits)\n", S(key, "keyId"),
               (int)json_integer_value(json_object_get(key, "bits")));
    else
        printf("  public key     none yet: taap admin key add demo-app public-key.pem\n");
#undef S
    json_decref(j);
}

/* A fixed --port that is already taken fails here, before the database
 * and the admin token are created for nothing. (The server binds for real
 * later; this is a check, not a reservation.) */
static int port_busy(const char *host, unsigned port)
{
    if (port == 0)
        return 0;
    struct sockaddr_in6 a6 = {0};
    struct sockaddr_in a4 = {0};
    int v6 = strchr(host, ':') != NULL, busy = 0;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1)
            busy = bind(fd, (struct sockaddr *)&a6, sizeof a6) != 0 && errno == EADDRINUSE;
    } else {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a4.sin_addr) == 1)
            busy = bind(fd, (struct sockaddr *)&a4, sizeof a4) != 0 && errno == EADDRINUSE;
    }
    close(fd);
    return busy;
}

/* --json: the one object on stdout, once the server listens. */
static int print_json_ready(taap_server *srv, const char *url, int created, const char *seed)
{
    json_t *o = json_pack("{sssIss}", "url", url, "port", (json_int_t)taap_serve_port(srv),
                          "admin_token_file", taap_serve_admin_token_path(srv));
    if (o && created)
        json_object_set_new(o, "admin_token", json_string(taap_serve_admin_token(srv)));
    if (o && seed)
        json_object_set_new(o, "account", json_loads(seed, 0, NULL));
    char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!txt)
        return -1;
    printf("%s\n", txt);
    free(txt);
    return 0;
}

/* What the command line asked for. */
typedef struct serve_opts {
    taap_serve_options o;
    int init, init_only, as_json;
    const char *init_key, *replay_spec;
    char **treq, **rreq; /* --token-require, --resource-require parts */
    size_t ntreq, nrreq;
} serve_opts;

static int parse_serve(int argc, char **argv, serve_opts *s)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_serve_help);
    long long v;
    int c;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_LISTEN: s->o.listen = optarg; break;
        case OPT_PORT:
            if (!parse_num("--port", optarg, 0, 65535, &v))
                return CLI_EXIT_USAGE;
            s->o.port = (unsigned)v;
            break;
        case OPT_PORT_FILE: s->o.port_file = optarg; break;
        case OPT_DB: s->o.db_path = optarg; break;
        case OPT_ADMIN_TOKEN_FILE: s->o.admin_token_file = optarg; break;
        case OPT_THREADS:
            if (!parse_num("--threads", optarg, 1, 256, &v))
                return CLI_EXIT_USAGE;
            s->o.threads = (unsigned)v;
            break;
        case OPT_NO_LOG: s->o.access_log = NULL; break;
        case OPT_MAX_HEADER:
            if (!parse_num("--max-header-bytes", optarg, 512, 1 << 20, &v))
                return CLI_EXIT_USAGE;
            s->o.max_header_bytes = (size_t)v;
            break;
        case OPT_MAX_BODY:
            if (!parse_num("--max-body-bytes", optarg, 0, 1LL << 30, &v))
                return CLI_EXIT_USAGE;
            s->o.max_body_bytes = (size_t)v;
            break;
        case OPT_REQUEST_LOG:
            if (!parse_num("--request-log", optarg, 1, 100000, &v))
                return CLI_EXIT_USAGE;
            s->o.request_log_size = (size_t)v;
            break;
        case OPT_MAX_CONN:
            if (!parse_num("--max-connections", optarg, 1, 100000, &v))
                return CLI_EXIT_USAGE;
            s->o.max_connections = (unsigned)v;
            break;
        case OPT_MAX_CONN_CLIENT:
            if (!parse_num("--max-connections-per-client", optarg, 1, 100000, &v))
                return CLI_EXIT_USAGE;
            s->o.max_connections_per_client = (unsigned)v;
            break;
        case OPT_HEADER_TIMEOUT:
            if (!parse_num("--header-timeout", optarg, 1, 86400, &v))
                return CLI_EXIT_USAGE;
            s->o.header_timeout = (unsigned)v;
            break;
        case OPT_TIMEOUT:
            if (!parse_num("--request-timeout", optarg, 1, 86400, &v))
                return CLI_EXIT_USAGE;
            s->o.request_timeout = (unsigned)v;
            break;
        case OPT_INIT: s->init = 1; break;
        case OPT_INIT_ONLY: s->init = s->init_only = 1; break;
        case OPT_INIT_KEY: s->init_key = optarg; break;
        case OPT_JSON: s->as_json = 1; break;
        case OPT_LEEWAY:
            if (!parse_num("--leeway", optarg, 0, 3600, &v))
                return CLI_EXIT_USAGE;
            s->o.leeway = (unsigned)v;
            break;
        case OPT_MAX_POP:
            if (!parse_num("--max-pop-lifetime", optarg, 1, 86400, &v))
                return CLI_EXIT_USAGE;
            s->o.max_pop_lifetime = (unsigned)v;
            break;
        case OPT_TOKEN_REQ:
            if (!add_parts(&s->treq, &s->ntreq, optarg))
                return CLI_EXIT_USAGE;
            break;
        case OPT_RES_REQ:
            if (!add_parts(&s->rreq, &s->nrreq, optarg))
                return CLI_EXIT_USAGE;
            break;
        case OPT_NO_REPLAY: s->o.no_replay_check = 1; break;
        case OPT_REPLAY: s->replay_spec = optarg; break;
        case OPT_TOKEN_LIFE:
            if (!parse_num("--token-lifetime", optarg, 1, 86400 * 366, &v))
                return CLI_EXIT_USAGE;
            s->o.token_lifetime = (unsigned)v;
            break;
        case OPT_SECRET_ITER:
            if (!parse_num("--secret-iterations", optarg, 1000, 100000000, &v))
                return CLI_EXIT_USAGE;
            s->o.secret_iterations = (unsigned)v;
            break;
        case OPT_CLOCK_OFFSET:
            if (!parse_num("--clock-offset", optarg, -(1LL << 40), 1LL << 40, &v))
                return CLI_EXIT_USAGE;
            s->o.clock_offset = v;
            break;
        case OPT_NOW_FILE: s->o.now_file = optarg; break;
        default:
            return cli_parser_bad(&p, c, argv);
        }
    }
    if (optind < argc) {
        cli_errorf("unexpected argument '%s' (see taap serve --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (s->init_key && !s->init) {
        cli_errorf("--s->init-key only makes sense with --s->init");
        return CLI_EXIT_USAGE;
    }
    if (s->replay_spec && s->o.no_replay_check) {
        cli_errorf("--replay and --no-replay-check contradict each other; give one");
        return CLI_EXIT_USAGE;
    }
    return 0;

}

/* Check the port, open the database, seed, listen until SIGINT/SIGTERM. */
static int run_serve(serve_opts *s)
{
    taap_replay *replay = NULL;
    int status = CLI_EXIT_USAGE;
    if (s->replay_spec && cli_replay_open(s->replay_spec, &replay) != 0)
        return status;
    s->o.replay = replay;
    s->o.token_require = (const char *const *)s->treq;
    s->o.n_token_require = s->ntreq;
    s->o.resource_require = (const char *const *)s->rreq;
    s->o.n_resource_require = s->nrreq;

    /* Signals are taken synchronously by sigwait below; block them before
     * any worker thread exists so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    status = CLI_EXIT_FAIL;
    const char *host = s->o.listen ? s->o.listen : "127.0.0.1";
    if (port_busy(host, s->o.port)) {
        cli_errorf("port %u on %s is in use: pick another --port, or --port 0 for a free one",
                   s->o.port, host);
        status = CLI_EXIT_SERVER;
        goto out;
    }
    taap_error err = TAAP_ERROR_INIT;
    taap_server *srv = NULL;
    int created = 0;
    char *seed = NULL;
    if (taap_serve_open(&s->o, &srv, &created, &err) != TAAP_OK) {
        cli_errorf("%s", err.message);
        goto out;
    }
    /* With --json, stdout carries only the final object. */
    FILE *text = s->as_json ? stderr : stdout;
    if (created && !s->as_json)
        fprintf(text, "admin token: %s\n  (saved in %s, mode 0600; `taap admin --admin-token-file` "
                "reads it)\n",
                taap_serve_admin_token(srv), taap_serve_admin_token_path(srv));
    if (s->init) {
        char *key = NULL, *json = NULL;
        size_t key_len = 0;
        if (s->init_key) {
            FILE *f = fopen(s->init_key, "rb");
            key = malloc(65536);
            if (!f || !key || (key_len = fread(key, 1, 65536, f)) == 0) {
                cli_errorf("cannot read --s->init-key %s", s->init_key);
                if (f)
                    fclose(f);
                free(key);
                taap_serve_close(srv);
                goto out;
            }
            fclose(f);
        }
        taap_code rc = taap_serve_seed_demo(srv, key, key_len, &json, &err);
        free(key);
        if (rc != TAAP_OK) {
            cli_errorf("%s", err.message);
            taap_serve_close(srv);
            goto out;
        }
        if (s->init_only) {
            if (s->as_json)
                printf("%s\n", json);
            else
                print_seed(json);
            free(json);
            fflush(stdout);
            taap_serve_close(srv);
            status = CLI_EXIT_OK;
            goto out;
        }
        if (!s->as_json)
            print_seed(json);
        seed = json;
    }
    if (taap_serve_start(srv, &err) != TAAP_OK) {
        cli_errorf("%s", err.message);
        free(seed);
        taap_serve_close(srv);
        status = strstr(err.message, "in use") ? CLI_EXIT_SERVER : CLI_EXIT_FAIL;
        goto out;
    }
    int v6 = strchr(host, ':') != NULL;
    char url[300];
    snprintf(url, sizeof url, "http://%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
             taap_serve_port(srv));
    fprintf(text, "listening on %s\n", url);
    if (s->as_json && print_json_ready(srv, url, created, seed) != 0)
        cli_errorf("cannot encode the --json object");
    free(seed);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    if (s->o.log)
        fprintf(stderr, "taap serve: %s received, draining and stopping\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    taap_serve_stop(srv);
    taap_serve_close(srv);
    status = CLI_EXIT_OK;
out:
    taap_replay_free(replay); /* after taap_serve_close(): the server borrowed it */
    return status;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts s;
    memset(&s, 0, sizeof s);
    taap_serve_options_init(&s.o);
    s.o.access_log = stderr;
    s.o.log = stderr;
    int status = parse_serve(argc, argv, &s);
    if (status == 0)
        status = run_serve(&s);
    for (size_t i = 0; i < s.ntreq; i++)
        free(s.treq[i]);
    free(s.treq);
    for (size_t i = 0; i < s.nrreq; i++)
        free(s.rreq[i]);
    free(s.rreq);
    return status;
}
