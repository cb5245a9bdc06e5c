/*
 * server.c — the emulator's life cycle and its libmicrohttpd wiring:
 * options, open (database, emulator key, admin token), the injectable clock,
 * the HTTP daemon (thread pool + epoll), request accumulation with early
 * 431/413 refusals, the access log, draining shutdown, and the response
 * helpers shared by the handlers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "request_log.h"
#include "serve_internal.h"

#define SRV_ISSUER "https://taap-serve.local/oauth2/v6"

/* ---- options ------------------------------------------------------------- */

void taap_serve_options_init(taap_serve_options *o)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->listen = "127.0.0.1";
    o->port = TAAP_SERVE_DEFAULT_PORT;
    o->threads = 4;
    o->max_header_bytes = 16384;
    o->max_body_bytes = 1024 * 1024;
    o->max_connections = 512;
    o->request_timeout = 30;
    o->drain_timeout = 10;
    o->leeway = TAAP_VERIFY_DEFAULT_LEEWAY;
    o->max_pop_lifetime = TAAP_POP_MAX_LIFETIME;
    o->token_lifetime = 3600;
    o->secret_iterations = 210000;
}

/* ---- small helpers --------------------------------------------------------- */

static taap_code fail(taap_error *err, taap_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static taap_code fail(taap_error *err, taap_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

int srv_random_alnum(char *out, size_t n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t i = 0;
    while (i < n) {
        unsigned char buf[64];
        if (RAND_bytes(buf, sizeof buf) != 1)
            return -1;
        for (size_t j = 0; j < sizeof buf && i < n; j++)
            if (buf[j] < 248) /* 248 = 4 * 62: no modulo bias */
                out[i++] = alpha[buf[j] % 62];
        OPENSSL_cleanse(buf, sizeof buf);
    }
    out[n] = '\0';
    return 0;
}

void srv_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void srv_key_id(const unsigned char fp[32], char out[17])
{
    srv_hex(fp, 8, out);
}

void srv_time_str(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

int64_t srv_now(taap_server *s)
{
    int64_t base = (int64_t)time(NULL);
    if (s->now_file) {
        /* Re-read on every use: tests move the clock by rewriting the file. */
        char buf[64];
        int fd = open(s->now_file, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n > 0) {
                buf[n] = '\0';
                char *end = NULL;
                errno = 0;
                long long v = strtoll(buf, &end, 10);
                if (errno == 0 && end != buf && v >= 0)
                    base = (int64_t)v;
            }
        }
    }
    return base + s->o.clock_offset;
}

int64_t srv_clock_fn(void *ctx)
{
    return srv_now(ctx);
}

/* ---- responses --------------------------------------------------------------- */

void srv_response_free(srv_response *r)
{
    free(r->body);
    free(r->www_authenticate);
    free(r->explanation);
    memset(r, 0, sizeof *r);
}

static void set_body(srv_response *r, char *body, size_t len)
{
    free(r->body);
    r->body = body;
    r->body_len = len;
}

void srv_json(srv_response *r, unsigned status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    r->status = status;
    r->content_type = "application/json";
    if (!text) {
        r->status = 500;
        text = strdup("{\"code\":\"500\",\"userMessage\":\"Internal Server Error\","
                      "\"systemMessage\":\"out of memory\"}");
    }
    set_body(r, text, text ? strlen(text) : 0);
}

static const char *reason(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Invalid Access Token";
    case 403: return "Access Denied";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void srv_error(srv_response *r, unsigned status, const char *user, const char *fmt, ...)
{
    char sys[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sys, sizeof sys, fmt, ap);
    va_end(ap);
    char code[8];
    snprintf(code, sizeof code, "%u", status);
    srv_json(r, status,
             json_pack("{s:s, s:s, s:s}", "code", code, "userMessage", user ? user : reason(status),
                       "systemMessage", sys));
}

void srv_sanitize_desc(char *d)
{
    for (; *d; d++) {
        unsigned char c = (unsigned char)*d;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            *d = '\'';
    }
}

void srv_oauth_error(srv_response *r, unsigned status, const char *scheme, const char *error,
                     const char *fmt, ...)
{
    char desc[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    srv_sanitize_desc(desc);
    srv_json(r, status, json_pack("{s:s, s:s}", "error", error, "error_description", desc));
    r->no_store = 1;
    if (status == 401 && scheme) {
        size_t cap = strlen(desc) + 128;
        char *h = malloc(cap);
        if (h)
            snprintf(h, cap, "%s realm=\"taap\", error=\"%s\", error_description=\"%s\"", scheme,
                     error, desc);
        free(r->www_authenticate);
        r->www_authenticate = h;
    }
}

size_t srv_header(const srv_request *rq, const char *name, const char **value)
{
    size_t n = 0;
    *value = NULL;
    for (size_t i = 0; i < rq->n_headers; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0) {
            n++;
            *value = rq->headers[i].value;
        }
    return n;
}

/* ---- open / close ------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char **dup_list(const char *const *v, size_t n)
{
    if (!v)
        return NULL;
    char **d = calloc(n + 1, sizeof *d);
    for (size_t i = 0; d && i < n; i++)
        d[i] = strdup(v[i]);
    return d;
}

static void free_list(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int meta_get(taap_server *s, const char *key, char **val)
{
    static const char sql[] = "SELECT value FROM meta WHERE key = ?1";
    sqlite3_stmt *st = store_stmt(s, sql);
    *val = NULL;
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        *val = malloc((size_t)n + 1);
        if (*val) {
            if (n)
                memcpy(*val, b, (size_t)n);
            (*val)[n] = '\0';
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int meta_set(taap_server *s, const char *key, const char *val)
{
    static const char sql[] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, val, (int)strlen(val), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The emulator's signing key lives in the database (created 0600). */
static taap_code load_signing_key(taap_server *s, taap_error *err)
{
    char *pem = NULL;
    int found = meta_get(s, "signing_key", &pem);
    taap_code rc;
    if (found < 0)
        return fail(err, TAAP_E_STORE, "database %s: cannot read the emulator key", s->db_path);
    if (found == 1) {
        rc = taap_key_load_private(pem, strlen(pem), NULL, 0, &s->signing_key, err);
        OPENSSL_cleanse(pem, strlen(pem));
        free(pem);
        if (rc != TAAP_OK)
            return rc;
    } else {
        rc = taap_key_generate(2048, &s->signing_key, err);
        if (rc == TAAP_OK)
            rc = taap_key_private_pem(s->signing_key, NULL, &pem, err);
        if (rc != TAAP_OK)
            return rc;
        int ok = meta_set(s, "signing_key", pem);
        taap_key_free_pem(pem);
        if (ok != 0)
            return fail(err, TAAP_E_STORE, "database %s: cannot store the emulator key",
                        s->db_path);
    }
    char *jwk = NULL;
    rc = taap_key_public_jwk(s->signing_key, &jwk, err);
    if (rc != TAAP_OK)
        return rc;
    json_t *j = json_loads(jwk, 0, NULL);
    taap_key_free_pem(jwk);
    if (!j)
        return fail(err, TAAP_E_CRYPTO, "emulator key: bad JWK from the key module");
    json_object_set_new(j, "use", json_string("sig"));
    json_object_set_new(j, "alg", json_string("RS256"));
    const char *kid = json_string_value(json_object_get(j, "kid"));
    snprintf(s->kid, sizeof s->kid, "%s", kid ? kid : "taap-serve");
    json_t *set = json_pack("{s:[o]}", "keys", j);
    s->jwks_json = set ? json_dumps(set, JSON_COMPACT) : NULL;
    json_decref(set);
    if (!s->jwks_json)
        return fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

static taap_code load_admin_token(taap_server *s, int *created, taap_error *err)
{
    *created = 0;
    int fd = open(s->admin_token_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        char buf[128];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0)
            return fail(err, TAAP_E_IO, "cannot read admin token file %s: %s",
                        s->admin_token_path, strerror(errno));
        buf[n] = '\0';
        size_t a = 0, b = (size_t)n;
        while (a < b && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\r' || buf[a] == '\n'))
            a++;
        while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t' || buf[b - 1] == '\r' ||
                         buf[b - 1] == '\n'))
            b--;
        int ok = b - a >= 16 && b - a < sizeof s->admin_token;
        for (size_t i = a; ok && i < b; i++)
            ok = buf[i] > 0x20 && buf[i] < 0x7f;
        if (!ok) {
            OPENSSL_cleanse(buf, sizeof buf);
            return fail(err, TAAP_E_USAGE,
                        "admin token file %s must hold one token of 16..63 visible ASCII "
                        "characters",
                        s->admin_token_path);
        }
        memcpy(s->admin_token, buf + a, b - a);
        s->admin_token[b - a] = '\0';
        OPENSSL_cleanse(buf, sizeof buf);
    } else if (errno == ENOENT) {
        if (srv_random_alnum(s->admin_token, 40) != 0)
            return fail(err, TAAP_E_CRYPTO, "no randomness for the admin token");
        fd = open(s->admin_token_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return fail(err, TAAP_E_IO, "cannot create admin token file %s: %s",
                        s->admin_token_path, strerror(errno));
        char line[80];
        int len = snprintf(line, sizeof line, "%s\n", s->admin_token);
        ssize_t w = write(fd, line, (size_t)len);
        OPENSSL_cleanse(line, sizeof line);
        if (w != len || fsync(fd) != 0) {
            close(fd);
            return fail(err, TAAP_E_IO, "cannot write admin token file %s", s->admin_token_path);
        }
        close(fd);
        *created = 1;
    } else {
        return fail(err, TAAP_E_IO, "cannot open admin token file %s: %s", s->admin_token_path,
                    strerror(errno));
    }
    EVP_Digest(s->admin_token, strlen(s->admin_token), s->admin_token_hash, NULL, EVP_sha256(),
               NULL);
    return TAAP_OK;
}

taap_code taap_serve_open(const taap_serve_options *o, taap_server **out,
                          int *admin_token_created, taap_error *err)
{
    *out = NULL;
    if (admin_token_created)
        *admin_token_created = 0;
    if (!o || o->struct_size != sizeof *o)
        return fail(err, TAAP_E_USAGE, "taap_serve_open: options not initialised");
    if (o->threads < 1 || o->threads > 256)
        return fail(err, TAAP_E_USAGE, "--threads must be 1..256");
    if (o->max_pop_lifetime < 1 || o->token_lifetime < 1 || o->max_header_bytes < 512 ||
        o->max_connections < 1 || o->request_timeout < 1)
        return fail(err, TAAP_E_USAGE, "a server limit is zero or too small");
    taap_server *s = calloc(1, sizeof *s);
    if (!s)
        return fail(err, TAAP_E_NOMEM, "out of memory");
    s->o = *o;
    pthread_mutex_init(&s->db_mu, NULL);
    pthread_mutex_init(&s->secret_mu, NULL);
    pthread_mutex_init(&s->at_mu, NULL);
    s->listen = strdup(o->listen ? o->listen : "127.0.0.1");
    s->port_file = dup_or_null(o->port_file);
    s->now_file = dup_or_null(o->now_file);
    s->token_require = dup_list(o->token_require, o->n_token_require);
    s->resource_require = dup_list(o->resource_require, o->n_resource_require);
    snprintf(s->issuer, sizeof s->issuer, "%s", SRV_ISSUER);
    RAND_bytes(s->pepper, sizeof s->pepper);
    taap_code rc = TAAP_OK;
    if (o->db_path) {
        s->db_path = strdup(o->db_path);
    } else {
        const char *tmp = getenv("TMPDIR");
        char tmpl[4096];
        snprintf(tmpl, sizeof tmpl, "%s/taap-serve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl)) {
            rc = fail(err, TAAP_E_IO, "cannot create a temporary directory: %s", strerror(errno));
            goto out;
        }
        s->temp_dir = strdup(tmpl);
        size_t cap = strlen(tmpl) + 32;
        s->db_path = malloc(cap);
        if (s->db_path)
            snprintf(s->db_path, cap, "%s/taap-serve.db", tmpl);
    }
    if (o->admin_token_file) {
        s->admin_token_path = strdup(o->admin_token_file);
    } else if (s->db_path) {
        size_t cap = strlen(s->db_path) + 16;
        s->admin_token_path = malloc(cap);
        if (s->admin_token_path)
            snprintf(s->admin_token_path, cap, "%s.admin-token", s->db_path);
    }
    if (!s->listen || !s->db_path || !s->admin_token_path ||
        (o->port_file && !s->port_file) || (o->now_file && !s->now_file)) {
        rc = fail(err, TAAP_E_NOMEM, "out of memory");
        goto out;
    }
    if (!o->no_replay_check &&
        (rc = taap_replay_memory_new(0, &s->replay, err)) != TAAP_OK)
        goto out;
    if (!(s->reqlog = srv_reqlog_new(o->request_log_size ? o->request_log_size
                                                          : REQLOG_DEFAULT_SIZE))) {
        rc = fail(err, o->request_log_size > REQLOG_MAX_SIZE ? TAAP_E_USAGE : TAAP_E_NOMEM,
                  "request log of %zu entries: give 1..%d", o->request_log_size, REQLOG_MAX_SIZE);
        goto out;
    }
    if ((rc = store_open(s, err)) != TAAP_OK)
        goto out;
    if ((rc = load_signing_key(s, err)) != TAAP_OK)
        goto out;
    int created = 0;
    if ((rc = load_admin_token(s, &created, err)) != TAAP_OK)
        goto out;
    if (admin_token_created)
        *admin_token_created = created;
out:
    if (rc != TAAP_OK) {
        taap_serve_close(s);
        return rc;
    }
    *out = s;
    return TAAP_OK;
}

const char *taap_serve_admin_token(const taap_server *s)
{
    return s->admin_token;
}

const char *taap_serve_admin_token_path(const taap_server *s)
{
    return s->admin_token_path;
}

struct srv_reqlog *srv_reqlog_of(taap_server *s)
{
    return s->reqlog;
}

const char *taap_serve_db_path(const taap_server *s)
{
    return s->db_path;
}

unsigned taap_serve_port(const taap_server *s)
{
    return s ? s->port : 0;
}

static void remove_temp(taap_server *s)
{
    if (!s->temp_dir)
        return;
    const char *sfx[] = {"", "-wal", "-shm", "-journal", ".admin-token"};
    char path[4200];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(path, sizeof path, "%s%s", s->db_path, sfx[i]);
        unlink(path);
    }
    rmdir(s->temp_dir);
}

void taap_serve_close(taap_server *s)
{
    if (!s)
        return;
    taap_serve_stop(s);
    srv_at_clear(s);
    store_close_all(s);
    remove_temp(s);
    taap_key_free(s->signing_key);
    taap_replay_free(s->replay);
    srv_reqlog_free(s->reqlog);
    free(s->jwks_json);
    free(s->listen);
    free(s->port_file);
    free(s->now_file);
    free(s->db_path);
    free(s->temp_dir);
    free(s->admin_token_path);
    free_list(s->token_require, s->o.n_token_require);
    free_list(s->resource_require, s->o.n_resource_require);
    pthread_mutex_destroy(&s->db_mu);
    pthread_mutex_destroy(&s->secret_mu);
    pthread_mutex_destroy(&s->at_mu);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* ---- libmicrohttpd ----------------------------------------------------------- */

/* Per-request state (MHD's con_cls), created by the URI log callback so the
 * raw request target is kept exactly as sent (MHD unescapes its `url`). */
typedef struct conn_req {
    taap_server *s;
    struct timespec t0;
    char *target;
    char method[24];
    int started;
    int responded;
    int logged;            /* the access-log line is written (once) */
    int too_big;
    unsigned status;
    unsigned char *body;
    size_t len, cap, limit;
    size_t discarded;
    EVP_MD_CTX *sink;      /* the testing sink: hash as the body arrives, keep nothing */
    uint64_t sunk;
} conn_req;

/* RFC 9112 §3.2.2: a server must accept the absolute form
 * ("GET http://host/path"); routing and the PoP's `uri` (SPEC §1.1: no
 * scheme, no host) both use the origin form, so drop "scheme://authority". */
static char *origin_form(const char *uri)
{
    size_t skip = 0;
    if (strncasecmp(uri, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(uri, "https://", 8) == 0)
        skip = 8;
    if (!skip)
        return strdup(uri);
    const char *p = uri + skip + strcspn(uri + skip, "/?");
    if (*p == '/')
        return strdup(p);
    size_t n = strlen(p); /* "" or "?query": the path is "/" */
    char *o = malloc(n + 2);
    if (o) {
        o[0] = '/';
        memcpy(o + 1, p, n + 1);
    }
    return o;
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)con;
    taap_server *s = cls;
    conn_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->target = uri ? origin_form(uri) : strdup("");
    if (!r->target) {
        free(r);
        return NULL;
    }
    return r;
}

static void log_request(taap_server *s, conn_req *r, const char *note)
{
    if (!s->o.access_log)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
    /* Path only: the query is dropped (it may carry secrets), control and
     * non-ASCII bytes are escaped, and the line is bounded. */
    char path[256];
    size_t j = 0;
    for (const char *p = r->target ? r->target : ""; *p && *p != '?' && j + 5 < sizeof path; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x21 || c > 0x7e || c == '"')
            j += (size_t)snprintf(path + j, sizeof path - j, "\\x%02x", c);
        else
            path[j++] = (char)c;
    }
    path[j] = '\0';
    const char *q = r->target && strchr(r->target, '?') ? "?…" : "";
    char method[24];
    size_t m = 0;
    for (const char *p = r->method; *p && m + 1 < sizeof method; p++)
        method[m++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
    method[m] = '\0';
    char st[16];
    if (r->status)
        snprintf(st, sizeof st, "%u", r->status);
    else
        snprintf(st, sizeof st, "-");
    flockfile(s->o.access_log);
    fprintf(s->o.access_log, "%s %s%s %s %.2fms%s%s\n", m ? method : "-", path, q, st, ms,
            note ? " " : "", note ? note : "");
    fflush(s->o.access_log);
    funlockfile(s->o.access_log);
}

static void done_cb(void *cls, struct MHD_Connection *con, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)con;
    taap_server *s = cls;
    conn_req *r = *con_cls;
    if (!r)
        return;
    const char *note = NULL;
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
        note = "(timeout)";
    else if (toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT)
        note = "(client closed)";
    else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->responded)
        note = "(aborted)";
    if (!r->logged)
        log_request(s, r, note);
    free(r->target);
    free(r->body);
    EVP_MD_CTX_free(r->sink);
    if (r->started)
        atomic_fetch_sub(&s->inflight, 1);
    free(r);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    taap_server *s = cls;
    if (!s->o.log)
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    fprintf(s->o.log, "taap serve: http: %s\n", buf);
}

static enum MHD_Result queue(struct MHD_Connection *con, conn_req *r, srv_response *rs)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        rs->body_len, rs->body ? rs->body : (void *)"", rs->body ? MHD_RESPMEM_MUST_FREE
                                                                 : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        srv_response_free(rs);
        return MHD_NO;
    }
    rs->body = NULL; /* owned by MHD now */
    if (rs->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    if (rs->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, rs->www_authenticate);
    if (rs->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rs->allow);
    if (rs->no_store) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_PRAGMA, "no-cache");
    }
    if (rs->close || atomic_load(&r->s->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = rs->status;
    r->responded = 1;
    /* Log before the response leaves: a client that has its answer can rely
     * on the line being there (tests count token requests in the log). */
    log_request(r->s, r, NULL);
    r->logged = 1;
    enum MHD_Result ret = MHD_queue_response(con, rs->status, resp);
    MHD_destroy_response(resp);
    srv_response_free(rs);
    return ret;
}

typedef struct hdr_collect {
    taap_header *v;
    size_t n;
    size_t bytes;
    int overflow;
    int bad_byte;          /* a CR, LF or NUL inside a field name or value (RFC 9112 §2.2) */
    size_t n_length;       /* Content-Length fields seen */
    const char *length;    /* the first Content-Length value */
    int length_differs;    /* a later Content-Length disagrees with the first */
} hdr_collect;

/* MHD 0.9.75 splits lines at LF only, so a bare CR stays inside a value
 * (RFC 9112 §2.2: invalid). A NUL cannot be caught here: MHD already cut
 * the value at it (value_size counts only the bytes before it); the size
 * check is for MHD versions that pass it through. */
static int field_bytes_ok(const char *p, size_t n)
{
    return p == NULL || (strlen(p) == n && !memchr(p, '\r', n) && !memchr(p, '\n', n));
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    hdr_collect *c = cls;
    c->bytes += key_size + value_size + 4;
    if (!field_bytes_ok(key, key_size) || !field_bytes_ok(value, value_size))
        c->bad_byte = 1;
    if (key && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (c->n_length++ == 0)
            c->length = value ? value : "";
        else if (strcmp(c->length, value ? value : "") != 0)
            c->length_differs = 1;
    }
    if (c->n >= SRV_MAX_HEADERS) {
        c->overflow = 1;
        return MHD_YES;
    }
    c->v[c->n].name = key;
    c->v[c->n].value = value ? value : "";
    c->n++;
    return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    taap_server *s = cls;
    conn_req *r = *con_cls;
    if (!r)
        return MHD_NO; /* out of memory in uri_cb */
    if (r->responded) {
        /* A refusal was queued early; swallow whatever body still arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    srv_response rs = {0};
    if (!r->started) {
        /* In flight from here (headers complete) until done_cb: what a
         * draining stop waits for. */
        r->started = 1;
        atomic_fetch_add(&s->inflight, 1);
        snprintf(r->method, sizeof r->method, "%s", method);
        taap_header hv[SRV_MAX_HEADERS];
        hdr_collect hc = {hv, 0, 0, 0, 0, 0, NULL, 0};
        MHD_get_connection_values_n(con, MHD_HEADER_KIND, collect_header, &hc);
        size_t line = strlen(method) + strlen(r->target) + 12;
        if (hc.overflow || hc.bytes + line > s->o.max_header_bytes) {
            srv_error(&rs, 431, NULL,
                      "request header section is %zu bytes in %zu fields; the limit is %zu bytes "
                      "and %d fields",
                      hc.bytes + line, hc.n + (size_t)hc.overflow, s->o.max_header_bytes,
                      SRV_MAX_HEADERS);
            rs.close = 1;
            return queue(con, r, &rs);
        }
        if (hc.bad_byte) {
            srv_error(&rs, 400, NULL, "a header field holds a bare CR, LF or NUL byte");
            rs.close = 1;
            return queue(con, r, &rs);
        }
        if (hc.length_differs) {
            /* RFC 9112 §6.3: conflicting lengths make the framing unknowable
             * (request smuggling); identical repeats are tolerated. */
            srv_error(&rs, 400, NULL, "%zu Content-Length fields with different values",
                      hc.n_length);
            rs.close = 1;
            return queue(con, r, &rs);
        }
        char path[8192];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(r->target, "?"), r->target);
        r->limit = srv_body_limit(s, method, path);
        if (srv_is_sink(s, method, path)) {
            r->sink = EVP_MD_CTX_new();
            if (!r->sink || EVP_DigestInit_ex(r->sink, EVP_sha256(), NULL) != 1)
                return MHD_NO;
        }
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && *end == '\0' && v > r->limit) {
                srv_error(&rs, 413, NULL,
                          "request body is %llu bytes; this endpoint accepts at most %zu", v,
                          r->limit);
                rs.close = 1;
                return queue(con, r, &rs);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->sink) {
            r->sunk += n;
            return EVP_DigestUpdate(r->sink, upload_data, n) == 1 ? MHD_YES : MHD_NO;
        }
        if (r->too_big || r->len + n > r->limit) {
            /* MHD cannot answer in the middle of an upload: drop the body
             * and answer 413 at the end, but do not read more than a few
             * times the limit from a client that will not stop. */
            r->too_big = 1;
            r->discarded += n;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            return r->discarded > 4 * (r->limit + 65536) ? MHD_NO : MHD_YES;
        }
        if (r->len + n > r->cap) {
            size_t cap = r->cap ? r->cap : 1024;
            while (cap < r->len + n)
                cap *= 2;
            unsigned char *b = realloc(r->body, cap);
            if (!b)
                return MHD_NO;
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        return MHD_YES;
    }
    if (r->too_big) {
        srv_error(&rs, 413, NULL, "request body exceeds %zu bytes, the limit for this endpoint",
                  r->limit);
        rs.close = 1;
        return queue(con, r, &rs);
    }
    /* Final call: the whole request is here. */
    taap_header hv[SRV_MAX_HEADERS];
    hdr_collect hc = {hv, 0, 0, 0, 0, 0, NULL, 0};
    MHD_get_connection_values_n(con, MHD_HEADER_KIND, collect_header, &hc);
    size_t plen = strcspn(r->target, "?");
    char *path = strndup(r->target, plen);
    if (!path)
        return MHD_NO;
    srv_request rq = {0};
    rq.method = method;
    rq.target = r->target;
    rq.path = path;
    rq.query = r->target[plen] == '?' ? r->target + plen + 1 : NULL;
    rq.headers = hv;
    rq.n_headers = hc.n;
    rq.body = r->body;
    rq.body_len = r->len;
    if (r->sink) {
        rq.streamed = 1;
        rq.streamed_len = r->sunk;
        EVP_DigestFinal_ex(r->sink, rq.streamed_sha256, NULL);
    }
    srv_dispatch(s, &rq, &rs);
    free(path);
    return queue(con, r, &rs);
}

static taap_code write_port_file(taap_server *s, taap_error *err)
{
    if (!s->port_file)
        return TAAP_OK;
    char tmp[4200], text[16];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", s->port_file, (long)getpid());
    int len = snprintf(text, sizeof text, "%u\n", s->port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)len) != len || close(fd) != 0 ||
        rename(tmp, s->port_file) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(err, TAAP_E_IO, "cannot write port file %s: %s", s->port_file, strerror(e));
    }
    return TAAP_OK;
}

taap_code taap_serve_start(taap_server *s, taap_error *err)
{
    if (s->mhd)
        return fail(err, TAAP_E_USAGE, "server already started");
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%u", s->o.port);
    if (getaddrinfo(s->listen, port, &hints, &ai) != 0 || !ai)
        return fail(err, TAAP_E_USAGE, "--listen %s is not a numeric IPv4 or IPv6 address",
                    s->listen);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* MHD's own per-connection pool must hold the largest header section we
     * accept plus working room; above that MHD answers 431 itself. */
    size_t memlimit = s->o.max_header_bytes * 2 + 16384;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->o.threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->o.max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->o.request_timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)memlimit, NULL},
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->o.port, NULL, NULL, access_cb, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                              MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
                              MHD_OPTION_NOTIFY_COMPLETED, done_cb, s,
                              MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->mhd)
        return fail(err, TAAP_E_SERVER, "cannot listen on %s port %u (in use, or not an address of "
                                        "this machine?)",
                    s->listen, s->o.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    taap_code rc = write_port_file(s, err);
    if (rc != TAAP_OK) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        return rc;
    }
    return TAAP_OK;
}

void taap_serve_stop(taap_server *s)
{
    if (!s || !s->mhd)
        return;
    atomic_store(&s->stopping, 1);
    MHD_socket lsock = MHD_quiesce_daemon(s->mhd);
    /* Drain: requests already being read or handled get to finish. */
    struct timespec step = {0, 10 * 1000 * 1000};
    for (unsigned i = 0; i < s->o.drain_timeout * 100 && atomic_load(&s->inflight) > 0; i++)
        nanosleep(&step, NULL);
    MHD_stop_daemon(s->mhd);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    s->mhd = NULL;
}
