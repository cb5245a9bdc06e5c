/*
 * cmd_admin.c — `taap admin`: DevEdge-style management of a running
 * `taap serve` through its JSON API (/devedge/v1, admin bearer token).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "taap/http.h"

static const char admin_help_text[] =
    "usage: taap admin [--url URL] [--admin-token-file FILE] [--json] COMMAND ARGS\n"
    "\n"
    "Manage a running `taap serve` the way DevEdge does: applications, their public\n"
    "keys, API subscriptions and developer kits.\n"
    "\n"
    "Commands:\n"
    "  app create NAME [--account ACCOUNT]  new application: prints client id and client\n"
    "                                       secret (the secret is shown only this once)\n"
    "  app list                             all applications\n"
    "  app show APP                         one application (APP = name or client id)\n"
    "  app delete APP                       delete it with its keys and subscriptions\n"
    "  app subscribe APP [API]              subscribe to an API (default iot-connectivity)\n"
    "  app unsubscribe APP [API]            remove the subscription\n"
    "  key add APP FILE|-                   register a public key (PEM with its BEGIN/END\n"
    "                                       lines, PKCS#1 PEM, JWK or DER; - = stdin)\n"
    "  key list APP                         the application's keys\n"
    "  key delete APP KEYID                 remove a key (KEYID from key list)\n"
    "  kit activate --app APP | --account ACCOUNT [--imei IMEI --iccid ICCID]\n"
    "                                       activate a developer kit: a device with IMEI,\n"
    "                                       ICCID, IMSI and MSISDN in that account\n"
    "                                       (--imei/--iccid: the numbers printed on your\n"
    "                                       kit, Luhn-checked; else new ones are drawn)\n"
    "  device list [--account ACCOUNT]      devices (all accounts by default)\n"
    "  device suspend|activate ICCID        change a device's status\n"
    "  requests [--follow]                  the server's recent requests (method, path,\n"
    "                                       status, PoP verdict); a rejected PoP shows\n"
    "                                       its likely cause (--json: the full explanation,\n"
    "                                       one object a line); --follow keeps printing new\n"
    "                                       ones (every second) until interrupted\n"
    "\n";

enum { OPT_URL = 0x2901, OPT_TOKEN_FILE, OPT_JSON, OPT_ACCOUNT, OPT_APP, OPT_IMEI, OPT_ICCID, OPT_FOLLOW };

/* --account, --app, --imei, --iccid and --follow belong to commands: the
 * Commands list above says where (help NULL keeps them out of Options). */
static const cli_opt admin_opts_table[] = {
    {"url", OPT_URL, "URL", "the server (default $TAAP_ADMIN_URL, $TAAP_BASE_URL, or\n"
                            "http://127.0.0.1:8080)"},
    {"admin-token-file", OPT_TOKEN_FILE, "FILE", "file holding the admin token (default\n"
                                                 "$TAAP_ADMIN_TOKEN_FILE; `taap serve` prints where it is)"},
    {"json", OPT_JSON, NULL, "print the server's JSON answer"},
    {"account", OPT_ACCOUNT, "ACCOUNT", NULL},
    {"app", OPT_APP, "APP", NULL},
    {"imei", OPT_IMEI, "IMEI", NULL},
    {"iccid", OPT_ICCID, "ICCID", NULL},
    {"follow", OPT_FOLLOW, NULL, NULL},
    {0}};

const cli_help cmd_admin_help = {
    admin_help_text,
    {{"Options:", admin_opts_table, 27, 0, NULL}},
    "\n"
    "The token may also come from $TAAP_ADMIN_TOKEN. Exit status: 0 done, 1 the server\n"
    "refused (its reason is printed), 2 usage, 50 the server could not be reached.\n"};

#define MAX_WORDS 8

typedef struct admin_opts {
    const char *url;
    const char *token_file;
    const char *account;
    const char *app;
    const char *imei, *iccid;
    int json;
    int follow;
    const char *words[MAX_WORDS];
    int n;
} admin_opts;

/* Read the admin token (first line, trimmed) from a file or the environment. */
static char *admin_token(const admin_opts *o)
{
    const char *file = o->token_file ? o->token_file : getenv("TAAP_ADMIN_TOKEN_FILE");
    const char *env = getenv("TAAP_ADMIN_TOKEN");
    char line[256];
    if (file && *file) {
        FILE *f = fopen(file, "r");
        if (!f) {
            cli_errorf("cannot read admin token file %s", file);
            return NULL;
        }
        char *got = fgets(line, sizeof line, f);
        fclose(f);
        if (!got) {
            cli_errorf("admin token file %s is empty", file);
            return NULL;
        }
    } else if (env && *env) {
        snprintf(line, sizeof line, "%s", env);
    } else {
        cli_errorf("no admin token: give --admin-token-file FILE (taap serve prints where it "
                   "stored the token; by default DB.admin-token)");
        return NULL;
    }
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    return strdup(line);
}

/* Names and ids go into URL paths: allow only what the server allows. */
static int safe_word(const char *w, const char *what)
{
    size_t n = strlen(w);
    int ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++) {
        char c = w[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        cli_errorf("%s '%s' may only use A-Z a-z 0-9 . _ - (1..128 characters)", what, w);
    return ok;
}

/*
 * One request (through the one HTTP sender, taap/http.h). Returns the
 * HTTP status (0 on a transport failure, with a message printed); *out
 * gets the parsed JSON answer (or NULL).
 */
static long request(const admin_opts *o, const char *token, const char *method, const char *path,
                    const char *content_type, const void *body, size_t len, json_t **out,
                    char **raw)
{
    *out = NULL;
    if (raw)
        *raw = NULL;
    const char *base = o->url ? o->url : getenv("TAAP_ADMIN_URL");
    if (!base || !*base)
        base = getenv("TAAP_BASE_URL");
    if (!base || !*base)
        base = "http://127.0.0.1:8080";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char url[2048], auth[320];
    snprintf(url, sizeof url, "%.*s%s", (int)bl, base, path);
    snprintf(auth, sizeof auth, "Bearer %s", token);
    taap_header hs[2] = {{"Authorization", auth}, {"Content-Type", content_type}};
    taap_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = method;
    rq.target = url;
    rq.headers = hs;
    rq.n_headers = content_type ? 2 : 1;
    if (body) {
        rq.body.kind = TAAP_BODY_MEMORY;
        rq.body.data = body;
        rq.body.len = (int64_t)len;
    }
    taap_http_options ho;
    taap_http_options_init(&ho);
    ho.timeout_ms = 30000;
    ho.max_response = 16u << 20; /* a management answer is small; refuse a runaway one */
    taap_http_response *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    long status = 0;
    if (taap_http_perform(&rq, &ho, NULL, &r, NULL, &err) == TAAP_OK)
        status = r->status;
    else
        cli_errorf("cannot reach %.*s: %s", (int)bl, base, err.message);
    OPENSSL_cleanse(auth, sizeof auth);
    if (r && r->body_len)
        *out = json_loadb(r->body, r->body_len, 0, NULL);
    if (raw && r && r->body_len) {
        *raw = r->body;
        r->body = NULL;
    }
    taap_http_response_free(r);
    return status;
}

static const char *str(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v ? v : "";
}

/* Print the server's refusal and pick the exit status. */
static int refused(long status, json_t *j)
{
    if (status == 0)
        return TAAP_E_HTTP;
    const char *msg = str(j, "systemMessage");
    cli_errorf("server answered %ld: %s", status, *msg ? msg : "(no details)");
    return CLI_EXIT_FAIL;
}

static void print_subs(json_t *app)
{
    json_t *subs = json_object_get(app, "subscriptions");
    if (!json_array_size(subs)) {
        printf("-");
        return;
    }
    for (size_t i = 0; i < json_array_size(subs); i++)
        printf("%s%s", i ? "," : "", json_string_value(json_array_get(subs, i)));
}

static void print_device(json_t *d)
{
    printf("  ICCID   %s\n  IMEI    %s\n  IMSI    %s\n  MSISDN  %s\n  status  %s\n  plan    %s\n",
           str(d, "iccid"), str(d, "imei"), str(d, "imsi"), str(d, "msisdn"), str(d, "status"),
           str(d, "ratePlan"));
}

static char *read_key(const char *file, size_t *len)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        cli_errorf("cannot open %s", file);
        return NULL;
    }
    size_t cap = 65536;
    char *p = malloc(cap + 1);
    size_t n = p ? fread(p, 1, cap + 1, f) : 0;
    if (f != stdin)
        fclose(f);
    if (!p || n == 0 || n > cap) {
        free(p);
        cli_errorf("%s: %s", file, n > cap ? "larger than 64 KiB, not a public key" : "empty");
        return NULL;
    }
    p[n] = '\0';
    /* A private key never leaves this machine, not even to be refused. */
    if (memmem(p, n, "PRIVATE KEY-----", 16)) {
        OPENSSL_cleanse(p, n);
        free(p);
        cli_errorf("%s is a PRIVATE key: it was not sent. Register the public key (taap keygen "
                   "wrote it as public-key.pem; or: openssl pkey -in %s -pubout)", file, file);
        return NULL;
    }
    *len = n;
    return p;
}

/* One request-log entry: a line, and for a rejected PoP its likely cause. */
static void print_request(json_t *e, int json)
{
    if (json) {
        char *s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
            printf("%s\n", s);
        free(s);
        return;
    }
    printf("%-6lld %-20s %-6s %-40s %3d %s\n", (long long)json_integer_value(json_object_get(e, "id")),
           str(e, "time"), str(e, "method"), str(e, "path"),
           (int)json_integer_value(json_object_get(e, "status")),
           *str(e, "verdict") ? str(e, "verdict") : "-");
    if (*str(e, "causeText"))
        printf("       likely cause: %s\n", str(e, "causeText"));
}

/* `requests [--follow]`: print the log, then (follow) poll for new entries
 * once a second until the server goes away or the user interrupts. */
static int requests_cmd(const admin_opts *o, const char *token)
{
    long long last = 0;
    int header = !o->json;
    for (;;) {
        char path[96];
        snprintf(path, sizeof path, "/devedge/v1/requests?since=%lld&limit=1000", last);
        json_t *j = NULL;
        long st = request(o, token, "GET", path, NULL, NULL, 0, &j, NULL);
        if (st != 200) {
            int rc = refused(st, j);
            json_decref(j);
            return rc;
        }
        json_t *arr = json_object_get(j, "requests");
        if (header) {
            printf("%-6s %-20s %-6s %-40s %3s %s\n", "ID", "TIME", "METHOD", "PATH", "ST",
                   "VERDICT");
            header = 0;
        }
        for (size_t i = 0; i < json_array_size(arr); i++)
            print_request(json_array_get(arr, i), o->json);
        json_int_t l = json_integer_value(json_object_get(j, "last"));
        if (l > last)
            last = (long long)l;
        json_decref(j);
        fflush(stdout);
        if (!o->follow)
            return CLI_EXIT_OK;
        sleep(1);
    }
}

static int usage_error(const char *msg)
{
    cli_errorf("%s (see taap admin --help)", msg);
    return CLI_EXIT_USAGE;
}

static int run(const admin_opts *o, const char *token)
{
    const char *w0 = o->n > 0 ? o->words[0] : "", *w1 = o->n > 1 ? o->words[1] : "";
    char path[512], body[512];
    json_t *j = NULL;
    long st;
    int rc = CLI_EXIT_OK;
    char *raw = NULL;
#define NEED(k, what)                                    \
    do {                                                 \
        if (o->n != (k))                                 \
            return usage_error("usage: taap admin " what); \
    } while (0)
#define DONE(ok_status)                                  \
    do {                                                 \
        if (st != (ok_status)) {                         \
            rc = refused(st, j);                         \
            goto out;                                    \
        }                                                \
        if (o->json && raw) {                            \
            printf("%s\n", raw);                         \
            goto out;                                    \
        }                                                \
    } while (0)

    if (strcmp(w0, "app") == 0 && strcmp(w1, "create") == 0) {
        NEED(3, "app create NAME [--account ACCOUNT]");
        if (!safe_word(o->words[2], "application name") ||
            (o->account && !safe_word(o->account, "account")))
            return CLI_EXIT_USAGE;
        if (o->account)
            snprintf(body, sizeof body, "{\"name\":\"%s\",\"account\":\"%s\"}", o->words[2], o->account);
        else
            snprintf(body, sizeof body, "{\"name\":\"%s\"}", o->words[2]);
        st = request(o, token, "POST", "/devedge/v1/apps", "application/json", body, strlen(body), &j,
                     &raw);
        DONE(201);
        printf("application    %s (account %s)\n", str(j, "name"), str(j, "account"));
        printf("client id      %s\n", str(j, "clientId"));
        printf("client secret  %s   (shown once: save it now)\n", str(j, "clientSecret"));
        printf("next: taap admin key add %s public-key.pem; taap admin app subscribe %s\n",
               str(j, "name"), str(j, "name"));
    } else if (strcmp(w0, "app") == 0 && strcmp(w1, "list") == 0) {
        NEED(2, "app list");
        st = request(o, token, "GET", "/devedge/v1/apps", NULL, NULL, 0, &j, &raw);
        DONE(200);
        printf("%-20s %-12s %-34s %-4s %s\n", "NAME", "ACCOUNT", "CLIENT ID", "KEYS", "SUBSCRIPTIONS");
        json_t *apps = json_object_get(j, "apps");
        for (size_t i = 0; i < json_array_size(apps); i++) {
            json_t *a = json_array_get(apps, i);
            printf("%-20s %-12s %-34s %-4d ", str(a, "name"), str(a, "account"), str(a, "clientId"),
                   (int)json_integer_value(json_object_get(a, "keys")));
            print_subs(a);
            printf("\n");
        }
    } else if (strcmp(w0, "app") == 0 && (strcmp(w1, "show") == 0 || strcmp(w1, "delete") == 0)) {
        NEED(3, "app show|delete APP");
        if (!safe_word(o->words[2], "application"))
            return CLI_EXIT_USAGE;
        snprintf(path, sizeof path, "/devedge/v1/apps/%s", o->words[2]);
        int del = strcmp(w1, "delete") == 0;
        st = request(o, token, del ? "DELETE" : "GET", path, NULL, NULL, 0, &j, &raw);
        DONE(del ? 204 : 200);
        if (del) {
            printf("application %s deleted\n", o->words[2]);
        } else {
            printf("application    %s (account %s)\nclient id      %s\nkeys           %d\n"
                   "subscriptions  ",
                   str(j, "name"), str(j, "account"), str(j, "clientId"),
                   (int)json_integer_value(json_object_get(j, "keys")));
            print_subs(j);
            printf("\ncreated        %s\n", str(j, "createdAt"));
        }
    } else if (strcmp(w0, "app") == 0 &&
               (strcmp(w1, "subscribe") == 0 || strcmp(w1, "unsubscribe") == 0)) {
        if (o->n != 3 && o->n != 4)
            return usage_error("usage: taap admin app subscribe|unsubscribe APP [API]");
        const char *api = o->n == 4 ? o->words[3] : "iot-connectivity";
        if (!safe_word(o->words[2], "application") || !safe_word(api, "API"))
            return CLI_EXIT_USAGE;
        if (strcmp(w1, "subscribe") == 0) {
            snprintf(path, sizeof path, "/devedge/v1/apps/%s/subscriptions", o->words[2]);
            snprintf(body, sizeof body, "{\"api\":\"%s\"}", api);
            st = request(o, token, "POST", path, "application/json", body, strlen(body), &j, &raw);
            DONE(200);
            printf("application %s subscribed to %s\n", o->words[2], api);
        } else {
            snprintf(path, sizeof path, "/devedge/v1/apps/%s/subscriptions/%s", o->words[2], api);
            st = request(o, token, "DELETE", path, NULL, NULL, 0, &j, &raw);
            DONE(204);
            printf("application %s unsubscribed from %s\n", o->words[2], api);
        }
    } else if (strcmp(w0, "key") == 0 && strcmp(w1, "add") == 0) {
        NEED(4, "key add APP FILE|-");
        if (!safe_word(o->words[2], "application"))
            return CLI_EXIT_USAGE;
        size_t len = 0;
        char *key = read_key(o->words[3], &len);
        if (!key)
            return CLI_EXIT_FAIL;
        snprintf(path, sizeof path, "/devedge/v1/apps/%s/keys", o->words[2]);
        st = request(o, token, "POST", path, "application/x-pem-file", key, len, &j, &raw);
        free(key);
        DONE(201);
        printf("key %s added to %s (%d bits, SHA-256 %s)\n", str(j, "keyId"), str(j, "app"),
               (int)json_integer_value(json_object_get(j, "bits")), str(j, "fingerprint"));
    } else if (strcmp(w0, "key") == 0 && strcmp(w1, "list") == 0) {
        NEED(3, "key list APP");
        if (!safe_word(o->words[2], "application"))
            return CLI_EXIT_USAGE;
        snprintf(path, sizeof path, "/devedge/v1/apps/%s/keys", o->words[2]);
        st = request(o, token, "GET", path, NULL, NULL, 0, &j, &raw);
        DONE(200);
        printf("%-17s %-5s %s\n", "KEY ID", "BITS", "ADDED");
        json_t *keys = json_object_get(j, "keys");
        for (size_t i = 0; i < json_array_size(keys); i++) {
            json_t *k = json_array_get(keys, i);
            printf("%-17s %-5d %s\n", str(k, "keyId"), (int)json_integer_value(json_object_get(k, "bits")),
                   str(k, "createdAt"));
        }
    } else if (strcmp(w0, "key") == 0 && strcmp(w1, "delete") == 0) {
        NEED(4, "key delete APP KEYID");
        if (!safe_word(o->words[2], "application") || !safe_word(o->words[3], "key id"))
            return CLI_EXIT_USAGE;
        snprintf(path, sizeof path, "/devedge/v1/apps/%s/keys/%s", o->words[2], o->words[3]);
        st = request(o, token, "DELETE", path, NULL, NULL, 0, &j, &raw);
        DONE(204);
        printf("key %s deleted from %s\n", o->words[3], o->words[2]);
    } else if (strcmp(w0, "kit") == 0 && strcmp(w1, "activate") == 0) {
        NEED(2, "kit activate --app APP | --account ACCOUNT");
        if (!!o->app == !!o->account)
            return usage_error("kit activate needs exactly one of --app APP or --account ACCOUNT");
        const char *v = o->app ? o->app : o->account;
        if (!safe_word(v, o->app ? "application" : "account"))
            return CLI_EXIT_USAGE;
        if (!!o->imei != !!o->iccid)
            return usage_error("kit activate needs both --imei and --iccid, or neither");
        if (o->imei && (!safe_word(o->imei, "IMEI") || !safe_word(o->iccid, "ICCID")))
            return CLI_EXIT_USAGE;
        if (o->imei)
            snprintf(body, sizeof body, "{\"%s\":\"%s\",\"imei\":\"%s\",\"iccid\":\"%s\"}",
                     o->app ? "app" : "account", v, o->imei, o->iccid);
        else
            snprintf(body, sizeof body, "{\"%s\":\"%s\"}", o->app ? "app" : "account", v);
        st = request(o, token, "POST", "/devedge/v1/kits", "application/json", body, strlen(body),
                     &j, &raw);
        DONE(201);
        printf("developer kit activated in account %s (save your IMEI and ICCID):\n",
               str(j, "account"));
        print_device(j);
    } else if (strcmp(w0, "device") == 0 && strcmp(w1, "list") == 0) {
        NEED(2, "device list [--account ACCOUNT]");
        if (o->account && !safe_word(o->account, "account"))
            return CLI_EXIT_USAGE;
        snprintf(path, sizeof path, "/devedge/v1/devices%s%s", o->account ? "?account=" : "",
                 o->account ? o->account : "");
        st = request(o, token, "GET", path, NULL, NULL, 0, &j, &raw);
        DONE(200);
        printf("%-21s %-16s %-16s %-12s %-11s %s\n", "ICCID", "IMEI", "IMSI", "MSISDN", "STATUS",
               "ACCOUNT");
        json_t *devs = json_object_get(j, "devices");
        for (size_t i = 0; i < json_array_size(devs); i++) {
            json_t *d = json_array_get(devs, i);
            printf("%-21s %-16s %-16s %-12s %-11s %s\n", str(d, "iccid"), str(d, "imei"),
                   str(d, "imsi"), str(d, "msisdn"), str(d, "status"), str(d, "account"));
        }
    } else if (strcmp(w0, "device") == 0 &&
               (strcmp(w1, "suspend") == 0 || strcmp(w1, "activate") == 0)) {
        NEED(3, "device suspend|activate ICCID");
        if (!safe_word(o->words[2], "ICCID"))
            return CLI_EXIT_USAGE;
        snprintf(path, sizeof path, "/devedge/v1/devices/%s", o->words[2]);
        snprintf(body, sizeof body, "{\"status\":\"%s\"}",
                 strcmp(w1, "suspend") == 0 ? "SUSPENDED" : "ACTIVE");
        st = request(o, token, "PATCH", path, "application/json", body, strlen(body), &j, &raw);
        DONE(200);
        printf("device %s is %s\n", str(j, "iccid"), str(j, "status"));
    } else if (strcmp(w0, "requests") == 0) {
        NEED(1, "requests [--follow] [--json]");
        return requests_cmd(o, token);
    } else {
        return usage_error(o->n ? "unknown admin command" : "missing admin command");
    }
out:
    json_decref(j);
    free(raw);
    return rc;
#undef NEED
#undef DONE
}

static int parse_admin(int argc, char **argv, admin_opts *o)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_admin_help);
    int c;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_URL: o->url = optarg; break;
        case OPT_TOKEN_FILE: o->token_file = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_ACCOUNT: o->account = optarg; break;
        case OPT_APP: o->app = optarg; break;
        case OPT_IMEI: o->imei = optarg; break;
        case OPT_ICCID: o->iccid = optarg; break;
        case OPT_FOLLOW: o->follow = 1; break;
        default: return cli_parser_bad(&p, c, argv);
        }
    }
    /* GNU getopt has moved the command words to the end. */
    for (; optind < argc; optind++) {
        if (o->n >= MAX_WORDS)
            return usage_error("too many arguments");
        o->words[o->n++] = argv[optind];
    }
    return o->n == 0 ? usage_error("missing admin command") : 0;
}

int cmd_admin(int argc, char **argv)
{
    admin_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_admin(argc, argv, &o);
    if (rc != 0)
        return rc;
    char *token = admin_token(&o);
    if (!token)
        return CLI_EXIT_USAGE;
    rc = run(&o, token);
    memset(token, 0, strlen(token));
    free(token);
    return rc;
}
