/*
 * serve.c — the emulator's life cycle and the owner of its identity:
 * options, open (database, emulator key, admin token), close, the
 * injectable clock, and the accessors through which routes and handlers
 * reach the server's parts (serve_internal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "console.h"
#include "request_log.h"
#include "serve_state.h"
#include "util.h"

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
    o->header_timeout = 10;
    o->max_connections_per_client = 32;
    o->drain_timeout = 10;
    o->leeway = TAAP_VERIFY_DEFAULT_LEEWAY;
    o->max_pop_lifetime = TAAP_POP_MAX_LIFETIME;
    o->token_lifetime = 3600;
    o->secret_iterations = 210000;
}

/* ---- the clock ---------------------------------------------------------- */

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

/* The emulator's signing key lives in the database (created 0600). */
static taap_code load_signing_key(taap_server *s, taap_error *err)
{
    char *pem = NULL;
    int found = store_meta_get(s, "signing_key", &pem);
    taap_code rc;
    if (found < 0)
        return taap_fail(err, TAAP_E_STORE, "database %s: cannot read the emulator key", s->db_path);
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
        int ok = store_meta_set(s, "signing_key", pem);
        taap_key_free_pem(pem);
        if (ok != 0)
            return taap_fail(err, TAAP_E_STORE, "database %s: cannot store the emulator key",
                        s->db_path);
    }
    char *jwk = NULL;
    rc = taap_key_public_jwk(s->signing_key, &jwk, err);
    if (rc != TAAP_OK)
        return rc;
    json_t *j = json_loads(jwk, 0, NULL);
    taap_key_free_pem(jwk);
    if (!j)
        return taap_fail(err, TAAP_E_CRYPTO, "emulator key: bad JWK from the key module");
    json_object_set_new(j, "use", json_string("sig"));
    json_object_set_new(j, "alg", json_string("RS256"));
    const char *kid = json_string_value(json_object_get(j, "kid"));
    snprintf(s->kid, sizeof s->kid, "%s", kid ? kid : "taap-serve");
    json_t *set = json_pack("{s:[o]}", "keys", j);
    s->jwks_json = set ? json_dumps(set, JSON_COMPACT) : NULL;
    json_decref(set);
    if (!s->jwks_json)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

static taap_code load_admin_token(taap_server *s, int *created, taap_error *err)
{
    *created = 0;
    int fd = open(s->admin_token_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
        /* The admin token is a secret like a private key: a copy others can
         * read is refused, as taap refuses such key and profile files. */
        close(fd);
        return taap_fail(err, TAAP_E_USAGE,
                         "admin token file %s is accessible by group or others (mode %04o): "
                         "run chmod 600 %s",
                         s->admin_token_path, (unsigned)(st.st_mode & 0777), s->admin_token_path);
    }
    if (fd >= 0) {
        char buf[128];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0)
            return taap_fail(err, TAAP_E_IO, "cannot read admin token file %s: %s",
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
            return taap_fail(err, TAAP_E_USAGE,
                        "admin token file %s must hold one token of 16..63 visible ASCII "
                        "characters",
                        s->admin_token_path);
        }
        memcpy(s->admin_token, buf + a, b - a);
        s->admin_token[b - a] = '\0';
        OPENSSL_cleanse(buf, sizeof buf);
    } else if (errno == ENOENT) {
        if (srv_random_alnum(s->admin_token, 40) != 0)
            return taap_fail(err, TAAP_E_CRYPTO, "no randomness for the admin token");
        fd = open(s->admin_token_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return taap_fail(err, TAAP_E_IO, "cannot create admin token file %s: %s",
                        s->admin_token_path, strerror(errno));
        char line[80];
        int len = snprintf(line, sizeof line, "%s\n", s->admin_token);
        ssize_t w = write(fd, line, (size_t)len);
        OPENSSL_cleanse(line, sizeof line);
        if (w != len || fsync(fd) != 0) {
            close(fd);
            return taap_fail(err, TAAP_E_IO, "cannot write admin token file %s", s->admin_token_path);
        }
        close(fd);
        *created = 1;
    } else {
        return taap_fail(err, TAAP_E_IO, "cannot open admin token file %s: %s", s->admin_token_path,
                    strerror(errno));
    }
    taap_sha256_digest(s->admin_token, strlen(s->admin_token), s->admin_token_hash);
    return TAAP_OK;
}

taap_code taap_serve_open(const taap_serve_options *o, taap_server **out,
                          int *admin_token_created, taap_error *err)
{
    *out = NULL;
    if (admin_token_created)
        *admin_token_created = 0;
    if (!o || o->struct_size != sizeof *o)
        return taap_fail(err, TAAP_E_USAGE, "taap_serve_open: options not initialised");
    if (o->threads < 1 || o->threads > 256)
        return taap_fail(err, TAAP_E_USAGE, "--threads must be 1..256");
    if (o->max_pop_lifetime < 1 || o->token_lifetime < 1 || o->max_header_bytes < 512 ||
        o->max_connections < 1 || o->request_timeout < 1 || o->header_timeout < 1 ||
        o->max_connections_per_client < 1)
        return taap_fail(err, TAAP_E_USAGE, "a server limit is zero or too small");
    taap_server *s = calloc(1, sizeof *s);
    if (!s)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    s->o = *o;
    pthread_mutex_init(&s->db_mu, NULL);
    pthread_mutex_init(&s->secret_mu, NULL);
    pthread_mutex_init(&s->at_mu, NULL);
    pthread_mutex_init(&s->conn_mu, NULL);
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
            rc = taap_fail(err, TAAP_E_IO, "cannot create a temporary directory: %s", strerror(errno));
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
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto out;
    }
    if (!o->no_replay_check && o->replay) {
        s->replay = o->replay;
        s->replay_borrowed = 1;
    } else if (!o->no_replay_check &&
               (rc = taap_replay_memory_new(0, &s->replay, err)) != TAAP_OK) {
        goto out;
    }
    if (!(s->reqlog = srv_reqlog_new(o->request_log_size ? o->request_log_size
                                                          : REQLOG_DEFAULT_SIZE))) {
        rc = taap_fail(err, o->request_log_size > REQLOG_MAX_SIZE ? TAAP_E_USAGE : TAAP_E_NOMEM,
                       "request log of %zu entries: give 1..%d", o->request_log_size,
                       REQLOG_MAX_SIZE);
        goto out;
    }
    if (!(s->console = console_sessions_new())) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
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

struct console_sessions *srv_console_of(taap_server *s)
{
    return s->console;
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
    if (!s->replay_borrowed)
        taap_replay_free(s->replay);
    srv_reqlog_free(s->reqlog);
    console_sessions_free(s->console);
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
    pthread_mutex_destroy(&s->conn_mu);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* ---- accessors: the server's parts as routes and handlers see them ---------- */

const taap_serve_options *srv_options(const taap_server *s)
{
    return &s->o;
}

void srv_verify_config(taap_server *s, srv_auth where, taap_verify_config *cfg)
{
    static const char *const resource_default[] = {"Authorization", "uri", "http-method", "body"};
    taap_verify_config_init(cfg);
    cfg->leeway = s->o.leeway;
    cfg->max_lifetime = s->o.max_pop_lifetime;
    cfg->clock = srv_clock_fn;
    cfg->clock_ctx = s;
    cfg->replay = s->replay;
    if (where == SRV_AUTH_TAAP) {
        cfg->required = s->resource_require ? (const char *const *)s->resource_require
                                            : resource_default;
        cfg->n_required = s->resource_require ? s->o.n_resource_require : 4;
    } else if (s->token_require) {
        /* The token endpoint: the verifier's own default unless configured. */
        cfg->required = (const char *const *)s->token_require;
        cfg->n_required = s->o.n_token_require;
    }
}

const char *srv_issuer(const taap_server *s)
{
    return s->issuer;
}

const taap_key *srv_signing_key(const taap_server *s)
{
    return s->signing_key;
}

const char *srv_jwks(const taap_server *s)
{
    return s->jwks_json;
}

char *srv_sign_jwt(taap_server *s, json_t *claims)
{
    char *payload = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", s->kid);
    char *header = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    char *tok = NULL;
    if (payload && header)
        taap_jws_sign(s->signing_key, header, payload, &tok, NULL);
    free(payload);
    free(header);
    return tok;
}

int srv_admin_token_matches(const taap_server *s, const char *token, size_t len)
{
    /* Compare digests so the comparison time does not depend on the length
     * or on where the first difference is. */
    unsigned char h[32];
    taap_sha256_digest(token, len, h);
    return CRYPTO_memcmp(h, s->admin_token_hash, 32) == 0;
}
