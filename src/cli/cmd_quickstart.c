/* cmd_quickstart.c — `taap quickstart`: T-Mobile's DevEdge Quick Start end
 * to end, against a private emulator (default) or a real endpoint. */
#include <ftw.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_client.h"

enum { OPT_ICCID = 0x2501, OPT_KEEP, OPT_QUIET, OPT_JSON };

static const cli_opt quickstart_opts_table[] = {
    {"iccid", OPT_ICCID, "ICCID", "the device to read (real endpoint)"},
    {"keep", OPT_KEEP, NULL, "emulator mode: keep the emulator's directory (database,\n"
                             "keys, admin token) and print where it is"},
    {"quiet", OPT_QUIET, NULL, "print only the device JSON"},
    {"json", OPT_JSON, NULL, "print one JSON object on stdout (ok, exit, steps, base_url,\n"
                             "client_id, iccid, key_id, token, status, device); the\n"
                             "steps also go to stderr as text"},
    {0}};

const cli_help cmd_quickstart_help = {
    "usage: taap quickstart [--keep] [--quiet] [--json]\n"
    "       taap quickstart --base-url URL --client-id ID --secret-env VAR --key FILE --iccid ICCID\n"
    "\n"
    "Run T-Mobile's DevEdge Quick Start from the command line, printing each step\n"
    "as the guide names it.\n"
    "\n"
    "Without connection flags it needs nothing: it starts its own emulator (`taap\n"
    "serve --port 0` with a temporary database, as a child process), activates a\n"
    "developer kit (IMEI, ICCID), creates an application (client id and secret) and\n"
    "subscribes it to the Connectivity API, generates an RSA key pair (Step C),\n"
    "registers the public key (Step C 10-13), gets an access token with a PoP token\n"
    "(Step F 1-5) and calls GET /iot-connectivity/v1/devices/{ICCID} (Step F 6-8),\n"
    "ending with the device JSON. The emulator and its files are removed at the end.\n"
    "\n"
    "With --base-url, --profile or -e it runs only Steps F 1-5 and F 6-8 against that\n"
    "endpoint with your own credentials (same flags as `taap call`); the ICCID comes\n"
    "from --iccid, --var ICCID=…, the profile's var.ICCID or the -e file's ICCID.\n"
    "\n",
    {{"Options:", quickstart_opts_table, 26, 0, NULL}, CLI_CLIENT_HELP_GROUPS},
    "\n"
    "Exit status: 0 every step passed; 1 the emulator could not start or a\n"
    "management step failed; 22 the API call answered >= 400; 50 transport error;\n"
    "52 no access token; 54 settings missing.\n"};

typedef struct qs {
    int quiet;
    json_t *json; /* --json: the object printed at the end (steps on stderr) */
    char dir[256];
    pid_t child;
    char base[128];
    char admin[128];
} qs;

static void step(const qs *q, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void step(const qs *q, const char *name, const char *fmt, ...)
{
    if (q->quiet && !q->json)
        return;
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (q->json) {
        json_array_append_new(json_object_get(q->json, "steps"),
                              json_pack("{s:s,s:s}", "step", name, "text", text));
        if (q->quiet)
            return;
    }
    FILE *out = q->json ? stderr : stdout;
    fprintf(out, "%-13s %s\n", name, text);
    fflush(out);
}

/* --json: one result field (a string; NULL values are left out). */
static void qs_set(const qs *q, const char *field, const char *value)
{
    if (q->json && value)
        json_object_set_new(q->json, field, json_string(value));
}

/* --json: print the one object, with the outcome. */
static int qs_finish(qs *q, int rc)
{
    if (!q->json)
        return rc;
    json_object_set_new(q->json, "ok", json_boolean(rc == 0));
    json_object_set_new(q->json, "exit", json_integer(rc));
    char *txt = json_dumps(q->json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(q->json);
    q->json = NULL;
    if (!txt) {
        cli_errorf("out of memory");
        return rc ? rc : CLI_EXIT_FAIL;
    }
    puts(txt);
    free(txt);
    return rc;
}

static void qs_path(const qs *q, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", q->dir, name);
}

static int qs_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove the emulator's directory and everything the emulator put in it. */
static void qs_rmdir(const char *dir)
{
    nftw(dir, qs_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void qs_stop(qs *q)
{
    if (q->child > 0) {
        kill(q->child, SIGTERM);
        int st;
        while (waitpid(q->child, &st, 0) < 0 && errno == EINTR)
            ;
        q->child = 0;
    }
}

/* Read a small text file's first line; 0 when it has one. */
static int read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

static int qs_start_emulator(qs *q)
{
    char db[300], portf[300], tokf[300], logf[300];
    qs_path(q, "taap.db", db, sizeof db);
    qs_path(q, "port", portf, sizeof portf);
    qs_path(q, "admin-token", tokf, sizeof tokf);
    qs_path(q, "serve.log", logf, sizeof logf);
    pid_t pid = fork();
    if (pid < 0) {
        cli_errorf("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        char *args[] = {"taap", "serve", "--port", "0", "--port-file", portf, "--db", db,
                        "--admin-token-file", tokf, "--secret-iterations", "10000", NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    q->child = pid;
    /* Wait for the port file (written atomically once the socket listens). */
    char port[32];
    for (int i = 0; i < 1000; i++) {
        if (read_line(portf, port, sizeof port) == 0)
            break;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            q->child = 0;
            char line[300] = "";
            read_line(logf, line, sizeof line);
            cli_errorf("the emulator exited before listening%s%s", line[0] ? ": " : "", line);
            return -1;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (read_line(portf, port, sizeof port) != 0) {
        cli_errorf("the emulator did not start listening within 10 s");
        return -1;
    }
    snprintf(q->base, sizeof q->base, "http://127.0.0.1:%s", port);
    if (read_line(tokf, q->admin, sizeof q->admin) != 0) {
        cli_errorf("the emulator wrote no admin token (%s)", tokf);
        return -1;
    }
    return 0;
}

/* One management call; returns the parsed JSON (or NULL after printing). */
static json_t *qs_admin(qs *q, const char *method, const char *path, const char *body)
{
    char url[512], auth[200];
    snprintf(url, sizeof url, "%s%s", q->base, path);
    snprintf(auth, sizeof auth, "Bearer %s", q->admin);
    taap_header h[2] = {{"Authorization", auth}, {"Content-Type", "application/json"}};
    taap_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = method;
    rq.target = url;
    rq.headers = h;
    rq.n_headers = 2;
    if (body) {
        rq.body.kind = TAAP_BODY_MEMORY;
        rq.body.data = body;
        rq.body.len = (int64_t)strlen(body);
    }
    taap_http_options ho;
    taap_http_options_init(&ho);
    ho.no_proxy = 1;
    ho.timeout_ms = 30000;
    taap_http_response *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_http_perform(&rq, &ho, NULL, &r, NULL, &err) != TAAP_OK) {
        cli_report(&err);
        return NULL;
    }
    json_error_t je;
    json_t *j = r->body_len ? json_loadb(r->body, r->body_len, 0, &je) : json_object();
    if (r->status >= 300 || !j) {
        char msg[300];
        taap_error_body_message(r->body, r->body_len, msg, sizeof msg);
        cli_errorf("%s %s answered %ld: %s", method, path, r->status, msg);
        json_decref(j);
        j = NULL;
    }
    taap_http_response_free(r);
    return j;
}

static int qs_write_private(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(data), off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

/* Steps F 1-5 and F 6-8 with a configured client. */
static int qs_token_and_call(qs *q, taap_client *cl, const char *iccid)
{
    taap_error err = TAAP_ERROR_INIT;
    taap_oauth_token *tok = NULL;
    if (taap_client_token(cl, 0, &tok, NULL, &err) != TAAP_OK) {
        step(q, "Step F 1-5", "1-PoP_Token_Creation > OAuth 2.0: FAILED");
        return cli_report(&err);
    }
    step(q, "Step F 1-5", "1-PoP_Token_Creation > OAuth 2.0: access token received (%s, expires in "
         "%lld s%s%s)", tok->token_type ? tok->token_type : "Bearer", (long long)tok->expires_in,
         tok->scope ? ", scope " : "", tok->scope ? tok->scope : "");
    if (q->json)
        json_object_set_new(q->json, "token",
                            json_pack("{s:s,s:I,s:s?}", "token_type", tok->token_type ? tok->token_type : "Bearer",
                                      "expires_in", (json_int_t)tok->expires_in, "scope", tok->scope));
    taap_oauth_token_free(tok);

    char path[160];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", iccid);
    taap_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = "GET";
    rq.target = path;
    taap_http_response *r = NULL;
    if (taap_client_request(cl, &rq, NULL, &r, NULL, &err) != TAAP_OK) {
        step(q, "Step F 6-8", "Connectivity > GET Connectivity: FAILED");
        return cli_report(&err);
    }
    int rc = 0;
    step(q, "Step F 6-8", "Connectivity > GET Connectivity: GET %s -> %ld", path, r->status);
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    char *txt = j && !q->json ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (q->json) {
        json_object_set_new(q->json, "status", json_integer(r->status));
        json_object_set(q->json, "device", j ? j : json_null());
    }
    if (r->status >= 400) {
        char msg[300];
        taap_error_body_message(r->body, r->body_len, msg, sizeof msg);
        cli_errorf("HTTP %ld %s%s%s", r->status, taap_status_meaning(r->status),
                   msg[0] ? " — server says: " : "", msg);
        rc = CLI_EXIT_HTTP_STATUS;
    } else if (q->json) {
        /* the device is in the object */
    } else if (txt) {
        puts(txt);
    } else {
        fwrite(r->body, 1, r->body_len, stdout);
        putchar('\n');
    }
    free(txt);
    json_decref(j);
    taap_http_response_free(r);
    return rc;
}

static int qs_emulator(qs *q, int keep)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(q->dir, sizeof q->dir, "%s/taap-quickstart-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(q->dir)) {
        cli_errorf("cannot create a temporary directory: %s", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    int rc = CLI_EXIT_FAIL;
    json_t *kit = NULL, *app = NULL, *key = NULL;
    taap_key *pk = NULL;
    char *priv = NULL, *pub = NULL;
    taap_client *cl = NULL;
    taap_error err = TAAP_ERROR_INIT;

    if (qs_start_emulator(q) != 0)
        goto done;
    step(q, "Step A", "DevEdge account: local TAAP emulator at %s (temporary database)", q->base);
    qs_set(q, "base_url", q->base);

    if (!(kit = qs_admin(q, "POST", "/devedge/v1/kits", "{\"account\":\"default\"}")))
        goto done;
    const char *iccid = json_string_value(json_object_get(kit, "iccid"));
    const char *imei = json_string_value(json_object_get(kit, "imei"));
    if (!iccid) {
        cli_errorf("kit activation returned no ICCID");
        goto done;
    }
    step(q, "Step B", "Activate your developer kit: IMEI %s, ICCID %s", imei ? imei : "?", iccid);
    qs_set(q, "iccid", iccid);
    qs_set(q, "imei", imei);

    if (!(app = qs_admin(q, "POST", "/devedge/v1/apps", "{\"name\":\"quickstart\",\"account\":\"default\"}")))
        goto done;
    const char *cid = json_string_value(json_object_get(app, "clientId"));
    const char *secret = json_string_value(json_object_get(app, "clientSecret"));
    if (!cid || !secret) {
        cli_errorf("application creation returned no client id or secret");
        goto done;
    }
    json_t *sub = qs_admin(q, "POST", "/devedge/v1/apps/quickstart/subscriptions",
                           "{\"api\":\"iot-connectivity\"}");
    if (!sub)
        goto done;
    json_decref(sub);
    step(q, "Step C", "Create an application: client id %s, client secret (shown once; kept in "
         "memory), subscribed to the Connectivity API", cid);
    qs_set(q, "client_id", cid);

    if (taap_key_generate(2048, &pk, &err) != TAAP_OK || taap_key_private_pem(pk, NULL, &priv, &err) != TAAP_OK ||
        taap_key_public_pem(pk, &pub, &err) != TAAP_OK) {
        rc = cli_report(&err);
        goto done;
    }
    char privp[300], pubp[300];
    qs_path(q, "private-key.pem", privp, sizeof privp);
    qs_path(q, "public-key.pem", pubp, sizeof pubp);
    if (qs_write_private(privp, priv) != 0 || qs_write_private(pubp, pub) != 0) {
        cli_errorf("cannot write the key pair in %s: %s", q->dir, strerror(errno));
        goto done;
    }
    step(q, "Step C", "Generate a key pair (RSA 2048, like openssl genrsa + pkcs8 -topk8 + rsa "
         "-pubout): %s", keep ? privp : "private-key.pem, public-key.pem");

    json_t *kb = json_pack("{s:s}", "publicKey", pub);
    char *kbody = kb ? json_dumps(kb, JSON_COMPACT) : NULL;
    json_decref(kb);
    if (!kbody) {
        cli_errorf("out of memory");
        goto done;
    }
    key = qs_admin(q, "POST", "/devedge/v1/apps/quickstart/keys", kbody);
    free(kbody);
    if (!key)
        goto done;
    const char *kid = json_string_value(json_object_get(key, "keyId"));
    step(q, "Step C 10-13", "Add the public key to the application: key id %s", kid ? kid : "?");
    qs_set(q, "key_id", kid);

    taap_client_config cfg;
    taap_client_config_init(&cfg);
    cfg.base_url = q->base;
    cfg.client_id = cid;
    cfg.client_secret = secret;
    cfg.key = pk;
    cfg.http.no_proxy = 1;
    cfg.http.timeout_ms = 30000;
    if (taap_client_new(&cfg, &cl, &err) != TAAP_OK) {
        rc = cli_report(&err);
        goto done;
    }
    rc = qs_token_and_call(q, cl, iccid);
    if (rc == 0 && keep) {
        char tokf[300];
        qs_path(q, "admin-token", tokf, sizeof tokf);
        qs_set(q, "kept", q->dir);
        if (!q->quiet)
            fprintf(q->json ? stderr : stdout, "\nKept %s (the emulator has stopped; restart it with\n"
                    "  taap serve --db %s/taap.db --admin-token-file %s)\n", q->dir, q->dir, tokf);
    }

done:
    taap_client_free(cl);
    taap_key_free(pk);
    taap_key_free_pem(priv);
    taap_key_free_pem(pub);
    json_decref(kit);
    json_decref(app);
    json_decref(key);
    qs_stop(q);
    if (!keep)
        qs_rmdir(q->dir);
    return rc;
}

/* What the command line asked for. */
typedef struct qs_opts {
    cli_client_opts co;
    const char *iccid;
    int keep;
    int real; /* --base-url, --profile or -e: a real endpoint, Steps F only */
} qs_opts;

static int parse_quickstart(int argc, char **argv, qs_opts *o, qs *q)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_quickstart_help);
    int c, rc;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_ICCID: o->iccid = optarg; break;
        case OPT_KEEP: o->keep = 1; break;
        case OPT_QUIET: q->quiet = 1; break;
        case OPT_JSON:
            if (!q->json && !(q->json = json_pack("{s:[]}", "steps"))) {
                cli_errorf("out of memory");
                return CLI_EXIT_FAIL;
            }
            break;
        default:
            if (c == CLI_CL_BASE_URL || c == CLI_CL_PROFILE || c == 'e')
                o->real = 1;
            if ((rc = cli_client_take(&o->co, c, optarg, argv, &p)) != 0)
                return rc;
        }
    }
    return cli_client_no_args(argc, argv, optind);
}

/* Steps F against a real endpoint with the user's own settings. */
static int run_real(qs_opts *o, qs *q)
{
    int rc = cli_client_load(&o->co);
    if (rc != 0)
        return rc;
    const char *iccid = o->iccid ? o->iccid : taap_settings_var(o->co.cfg.settings, "ICCID");
    if (!iccid || !*iccid) {
        cli_errorf("no ICCID: give --iccid, --var ICCID=…, a profile var.ICCID or an ICCID in -e FILE");
        return CLI_EXIT_CONFIG;
    }
    for (const char *p = iccid; *p; p++)
        if (*p < '0' || *p > '9' || p - iccid > 22) {
            cli_errorf("ICCID '%.24s' must be 19-20 digits", iccid);
            return CLI_EXIT_USAGE;
        }
    taap_client *cl = NULL;
    if ((rc = cli_client_make(&o->co, &cl)) != 0)
        return rc;
    const char *base = taap_settings_get(o->co.cfg.settings, "base_url", NULL);
    const char *cid = taap_settings_get(o->co.cfg.settings, "client_id", NULL);
    step(q, "Step F", "against %s as client %s", base, cid);
    qs_set(q, "base_url", base);
    qs_set(q, "client_id", cid);
    qs_set(q, "iccid", iccid);
    rc = qs_token_and_call(q, cl, iccid);
    taap_client_free(cl);
    return rc;
}

static int run_quickstart(qs_opts *o, qs *q)
{
    return qs_finish(q, o->real ? run_real(o, q) : qs_emulator(q, o->keep));
}

int cmd_quickstart(int argc, char **argv)
{
    qs q;
    memset(&q, 0, sizeof q);
    qs_opts o;
    memset(&o, 0, sizeof o);
    if (cli_client_init(&o.co) != 0)
        return CLI_EXIT_FAIL;
    int rc = parse_quickstart(argc, argv, &o, &q);
    if (rc == 0)
        rc = run_quickstart(&o, &q);
    json_decref(q.json);
    cli_client_free(&o.co);
    return rc;
}
