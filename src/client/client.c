/* client.c — the taap_client handle (taap/client.h): token reuse and
 * refresh, a fresh PoP over every request, retries. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"
#include "oauth_internal.h"
#include "taap/client.h"

struct taap_client {
    char *base_url;
    char *token_path;
    char *client_id;
    char *client_secret;     /* NULL until secret_fn gave it */
    taap_secret_fn secret_fn;
    void *secret_ctx;
    taap_key *key;           /* our own reference */
    int send_id_token;
    int send_cnf;
    unsigned pop_lifetime;
    taap_clock_fn clock;
    void *clock_ctx;
    taap_clock_fn pop_clock;
    void *pop_clock_ctx;
    unsigned retries;
    unsigned retry_delay_ms;
    taap_http_options http;
    /* copies of the borrowed strings inside `http` */
    char *cacert, *client_cert, *client_key;
    char **connect_to;
    taap_token_cache *cache; /* NULL: memory only */
    pthread_mutex_t lock;    /* guards `token` and `token_requests` */
    taap_oauth_token *token;
    unsigned token_requests;
};

void taap_client_config_init(taap_client_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    taap_http_options_init(&cfg->http);
}

static int64_t client_now(const taap_client *c)
{
    return c->clock ? c->clock(c->clock_ctx) : taap_wall_clock(NULL);
}

static void client_info(const taap_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void client_info(const taap_client *c, const char *fmt, ...)
{
    if (!c->http.debug)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->http.debug(c->http.debug_ctx, TAAP_HTTP_DEBUG_INFO, line);
}

void taap_client_free(taap_client *c)
{
    if (!c)
        return;
    free(c->base_url);
    free(c->token_path);
    free(c->client_id);
    taap_free_secret_str(c->client_secret);
    taap_key_free(c->key);
    free(c->cacert);
    free(c->client_cert);
    free(c->client_key);
    if (c->connect_to) {
        for (size_t i = 0; i < c->http.n_connect_to; i++)
            free(c->connect_to[i]);
        free(c->connect_to);
    }
    taap_token_cache_close(c->cache);
    taap_oauth_token_free(c->token);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int client_dup(char **dst, const char *src)
{
    if (!src) {
        *dst = NULL;
        return 0;
    }
    *dst = taap_strdup(src);
    return *dst ? 0 : -1;
}

static char *client_identity(const taap_client *c)
{
    /* Everything that makes a cached token right or wrong for this client,
     * hashed again into the cache file name. Not the secret: the cache must
     * be found before the secret is asked for (a token is bound to the
     * client id and the key; a rotated secret shows as a 401, which fetches
     * a new token with the secret then given). */
    unsigned char fp[32];
    taap_key_fingerprint(c->key, fp);
    char hex[65];
    taap_hex_encode(fp, sizeof fp, hex);
    char *url = oauth_join_url(c->base_url, c->token_path ? c->token_path : TAAP_OAUTH_DEFAULT_PATH);
    if (!url)
        return NULL;
    size_t n = strlen(url) + strlen(c->client_id) + 96;
    char *id = malloc(n);
    if (id)
        snprintf(id, n, "v2\n%s\n%s\n%s\ncnf=%d", url, c->client_id, hex, c->send_cnf);
    free(url);
    return id;
}

/* The secret, asked for the first time a token must be fetched. Called
 * with c->lock held. */
static taap_code client_secret(taap_client *c, taap_error *err)
{
    if (c->client_secret)
        return TAAP_OK;
    char *s = NULL;
    taap_code rc = c->secret_fn(c->secret_ctx, &s, err);
    if (rc != TAAP_OK) {
        if (s)
            taap_free_secret_str(s);
        return rc;
    }
    if (!s || !*s) {
        if (s)
            taap_free_secret_str(s);
        return taap_fail(err, TAAP_E_CONFIG, "the client secret is empty");
    }
    c->client_secret = s;
    return TAAP_OK;
}

taap_code taap_client_new(const taap_client_config *cfg, taap_client **out, taap_error *err)
{
    *out = NULL;
    if (!cfg || cfg->size < sizeof *cfg)
        return taap_fail(err, TAAP_E_USAGE, "taap_client_new: config not initialised with "
                         "taap_client_config_init()");
    if (!cfg->base_url || !*cfg->base_url)
        return taap_fail(err, TAAP_E_CONFIG, "no base URL (set --base-url, TAAP_BASE_URL or a profile)");
    if (taap_ascii_ncasecmp(cfg->base_url, "http://", 7) != 0 &&
        taap_ascii_ncasecmp(cfg->base_url, "https://", 8) != 0)
        return taap_fail(err, TAAP_E_CONFIG, "base URL '%s' must start with https:// or http://",
                         cfg->base_url);
    if (!cfg->client_id || !*cfg->client_id)
        return taap_fail(err, TAAP_E_CONFIG, "no client id (set --client-id, TAAP_CLIENT_ID or a profile)");
    if ((!cfg->client_secret || !*cfg->client_secret) && !cfg->secret_fn)
        return taap_fail(err, TAAP_E_CONFIG, "no client secret (set --secret-env, --secret-file, "
                         "TAAP_CLIENT_SECRET or a profile)");
    if (!cfg->key || !taap_key_is_private(cfg->key))
        return taap_fail(err, TAAP_E_CONFIG, "no private key for PoP tokens (set --key, "
                         "TAAP_PRIVATE_KEY or a profile)");
    if (cfg->pop_lifetime > TAAP_POP_MAX_LIFETIME)
        return taap_fail(err, TAAP_E_BUILD_LIFETIME, "PoP lifetime %u s is outside 1..120",
                         cfg->pop_lifetime);

    taap_client *c = calloc(1, sizeof *c);
    if (!c)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    int bad = taap_key_dup(cfg->key, &c->key, NULL) != TAAP_OK;
    bad |= client_dup(&c->base_url, cfg->base_url) | client_dup(&c->token_path, cfg->token_path) |
           client_dup(&c->client_id, cfg->client_id);
    if (cfg->client_secret && *cfg->client_secret)
        bad |= client_dup(&c->client_secret, cfg->client_secret);
    c->secret_fn = cfg->secret_fn;
    c->secret_ctx = cfg->secret_ctx;
    c->send_id_token = cfg->send_id_token;
    c->send_cnf = cfg->send_cnf;
    c->pop_lifetime = cfg->pop_lifetime;
    c->clock = cfg->clock;
    c->clock_ctx = cfg->clock_ctx;
    c->pop_clock = cfg->pop_clock ? cfg->pop_clock : cfg->clock;
    c->pop_clock_ctx = cfg->pop_clock ? cfg->pop_clock_ctx : cfg->clock_ctx;
    c->retries = cfg->retries;
    c->retry_delay_ms = cfg->retry_delay_ms;
    c->http = cfg->http;
    if (c->http.size == 0)
        taap_http_options_init(&c->http);
    bad |= client_dup(&c->cacert, cfg->http.cacert) | client_dup(&c->client_cert, cfg->http.client_cert) |
           client_dup(&c->client_key, cfg->http.client_key);
    c->http.cacert = c->cacert;
    c->http.client_cert = c->client_cert;
    c->http.client_key = c->client_key;
    if (!bad && cfg->http.n_connect_to) {
        c->connect_to = calloc(cfg->http.n_connect_to, sizeof *c->connect_to);
        bad = !c->connect_to;
        for (size_t i = 0; !bad && i < cfg->http.n_connect_to; i++)
            bad = client_dup(&c->connect_to[i], cfg->http.connect_to[i]);
    }
    c->http.connect_to = (const char *const *)c->connect_to;
    if (bad) {
        taap_client_free(c);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    if (cfg->cache == TAAP_CLIENT_CACHE_DISK) {
        char *id = client_identity(c);
        if (!id) {
            taap_client_free(c);
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        }
        taap_code rc = taap_token_cache_open(cfg->cache_dir, cfg->cache_profile, id, &c->cache, err);
        free(id);
        if (rc != TAAP_OK) {
            taap_client_free(c);
            return rc;
        }
    }
    *out = c;
    return TAAP_OK;
}

unsigned taap_client_token_requests(const taap_client *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&c->lock);
    unsigned n = c->token_requests;
    pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
    return n;
}

static taap_oauth_token *client_token_dup(const taap_oauth_token *t)
{
    taap_oauth_token *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = *t;
    d->access_token = taap_strdup(t->access_token);
    d->id_token = t->id_token ? taap_strdup(t->id_token) : NULL;
    d->token_type = t->token_type ? taap_strdup(t->token_type) : NULL;
    d->scope = t->scope ? taap_strdup(t->scope) : NULL;
    if (!d->access_token || (t->id_token && !d->id_token) || (t->token_type && !d->token_type) ||
        (t->scope && !d->scope)) {
        taap_oauth_token_free(d);
        return NULL;
    }
    return d;
}

static int client_same_token(const taap_oauth_token *t, const char *rejected)
{
    return rejected && t && t->access_token && strlen(t->access_token) == strlen(rejected) &&
           CRYPTO_memcmp(t->access_token, rejected, strlen(rejected)) == 0;
}

/* The core of token management. `rejected`: the token a server just refused
 * with 401 — anything but that one may be reused (another process may have
 * refreshed it already). Called with c->lock held. */
static taap_code client_get_token(taap_client *c, int force, const char *rejected,
                                  taap_oauth_token **out, int *from_cache, int *fetched,
                                  taap_error *err)
{
    *out = NULL;
    if (from_cache)
        *from_cache = 0;
    int64_t now = client_now(c);
    if (!force && c->token && taap_oauth_token_usable(c->token, now) &&
        !client_same_token(c->token, rejected)) {
        *out = client_token_dup(c->token);
        if (from_cache)
            *from_cache = 1;
        client_info(c, "Reusing the access token in memory (expires in %lld s)",
                    (long long)(c->token->expires_at - now));
        return *out ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    taap_code rc = TAAP_OK;
    if (c->cache) {
        /* Hold the file lock from the read through the write: concurrent
         * processes wait here and then find the token this one fetched. */
        if ((rc = taap_token_cache_lock(c->cache, err)) != TAAP_OK)
            return rc;
        if (!force) {
            taap_oauth_token *t = NULL;
            int corrupt = 0;
            rc = taap_token_cache_read(c->cache, &t, &corrupt, err);
            if (rc != TAAP_OK) {
                taap_token_cache_unlock(c->cache);
                return rc;
            }
            if (corrupt)
                client_info(c, "Token cache %s is damaged or not private: ignoring and replacing it",
                            taap_token_cache_path(c->cache));
            now = client_now(c);
            if (t && taap_oauth_token_usable(t, now) && !client_same_token(t, rejected)) {
                taap_token_cache_unlock(c->cache);
                client_info(c, "Reusing the cached access token from %s (expires in %lld s)",
                            taap_token_cache_path(c->cache), (long long)(t->expires_at - now));
                taap_oauth_token_free(c->token);
                c->token = t;
                *out = client_token_dup(t);
                if (from_cache)
                    *from_cache = 1;
                return *out ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
            }
            taap_oauth_token_free(t);
        }
    }
    if ((rc = client_secret(c, err)) != TAAP_OK) {
        if (c->cache)
            taap_token_cache_unlock(c->cache);
        return rc;
    }
    taap_oauth_params p;
    taap_oauth_params_init(&p);
    taap_pop_options popt;
    taap_pop_options_init(&popt);
    popt.lifetime = c->pop_lifetime;
    popt.clock = c->pop_clock;
    popt.clock_ctx = c->pop_clock_ctx;
    p.base_url = c->base_url;
    p.token_path = c->token_path;
    p.client_id = c->client_id;
    p.client_secret = c->client_secret;
    p.key = c->key;
    p.send_cnf = c->send_cnf;
    p.pop = &popt;
    p.http = &c->http;
    p.clock = c->clock;
    p.clock_ctx = c->clock_ctx;
    client_info(c, "Requesting an access token (client id %s)", c->client_id);
    taap_oauth_token *t = NULL;
    c->token_requests++;
    if (fetched)
        *fetched = 1;
    rc = taap_oauth_fetch(&p, &t, NULL, err);
    if (rc == TAAP_OK) {
        client_info(c, "Got an access token (expires in %lld s)", (long long)t->expires_in);
        if (c->cache) {
            taap_error werr = TAAP_ERROR_INIT;
            if (taap_token_cache_write(c->cache, t, &werr) != TAAP_OK)
                client_info(c, "Could not write the token cache: %s", werr.message);
        }
        taap_oauth_token_free(c->token);
        c->token = t;
        *out = client_token_dup(t);
        if (!*out)
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    if (c->cache)
        taap_token_cache_unlock(c->cache);
    return rc;
}

taap_code taap_client_token(taap_client *c, int force, taap_oauth_token **out, int *from_cache,
                            taap_error *err)
{
    if (!c || !out)
        return taap_fail(err, TAAP_E_USAGE, "taap_client_token: client and out are required");
    pthread_mutex_lock(&c->lock);
    taap_code rc = client_get_token(c, force, NULL, out, from_cache, NULL, err);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

taap_code taap_client_forget_token(taap_client *c, taap_error *err)
{
    if (!c)
        return TAAP_OK;
    pthread_mutex_lock(&c->lock);
    taap_oauth_token_free(c->token);
    c->token = NULL;
    taap_code rc = TAAP_OK;
    if (c->cache && (rc = taap_token_cache_lock(c->cache, err)) == TAAP_OK) {
        rc = taap_token_cache_remove(c->cache, err);
        taap_token_cache_unlock(c->cache);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int client_idempotent(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", NULL};
    for (const char *const *p = ok; *p; p++)
        if (strcmp(m, *p) == 0)
            return 1;
    return 0;
}

static int client_retryable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static void client_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int client_is_owned_header(const char *n)
{
    return taap_ascii_casecmp(n, "Authorization") == 0 || taap_ascii_casecmp(n, "X-Authorization") == 0 ||
           taap_ascii_casecmp(n, "X-Auth-Originator") == 0;
}

/* Copy a callback body into an unlinked-on-exit temporary file so it can be
 * hashed for the PoP and then sent (possibly twice). Memory stays bounded. */
static taap_code client_spool(const taap_body *b, char **path_out, taap_error *err)
{
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || tmpdir[0] != '/')
        tmpdir = "/tmp";
    size_t n = strlen(tmpdir) + 24;
    char *path = malloc(n);
    if (!path)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    snprintf(path, n, "%s/taap-body-XXXXXX", tmpdir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        taap_code rc = taap_fail(err, TAAP_E_IO, "cannot create a temporary file in %s: %s", tmpdir,
                                 strerror(errno));
        free(path);
        return rc;
    }
    fchmod(fd, 0600);
    char *buf = malloc(65536);
    taap_code rc = buf ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
    while (rc == TAAP_OK) {
        ssize_t r = b->read(b->read_ctx, buf, 65536);
        if (r < 0) {
            rc = taap_fail(err, TAAP_E_IO, "reading the request body failed");
            break;
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = taap_fail(err, TAAP_E_IO, "%s: %s", path, strerror(errno));
                break;
            }
            off += w;
        }
    }
    free(buf);
    close(fd);
    if (rc != TAAP_OK) {
        unlink(path);
        free(path);
        return rc;
    }
    *path_out = path;
    return TAAP_OK;
}

taap_code taap_client_request(taap_client *c, const taap_request *req_in, FILE *body_out,
                              taap_http_response **resp, taap_client_result *result,
                              taap_error *err)
{
    taap_client_result dummy;
    if (!result)
        result = &dummy;
    memset(result, 0, sizeof *result);
    if (resp)
        *resp = NULL;
    if (!c || !req_in || !resp || !req_in->method || !req_in->target)
        return taap_fail(err, TAAP_E_USAGE, "taap_client_request: client, request (method, target) "
                         "and resp are required");
    char *url = NULL, *spool = NULL, *auth = NULL, *pop = NULL;
    taap_header *hdrs = NULL;
    taap_oauth_token *tok = NULL;
    taap_http_session *session = NULL; /* retries reuse the connection */
    taap_code rc = TAAP_OK;
    taap_request req = *req_in;

    if (req_in->target[0] == '/')
        url = oauth_join_url(c->base_url, req_in->target);
    else
        url = taap_strdup(req_in->target);
    if (!url)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    req.target = url;
    if (req.body.kind == TAAP_BODY_CALLBACK) {
        if (!req.body.read) {
            free(url);
            return taap_fail(err, TAAP_E_USAGE, "callback body without a read function");
        }
        if ((rc = client_spool(&req.body, &spool, err)) != TAAP_OK) {
            free(url);
            return rc;
        }
        memset(&req.body, 0, sizeof req.body);
        req.body.kind = TAAP_BODY_FILE;
        req.body.path = spool;
    }

    int has_ct = 0;
    size_t n_user = 0;
    hdrs = calloc(req_in->n_headers + 4, sizeof *hdrs);
    if (!hdrs) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < req_in->n_headers; i++) {
        const taap_header *h = &req_in->headers[i];
        if (!h->name || client_is_owned_header(h->name))
            continue;
        if (taap_ascii_casecmp(h->name, "Content-Type") == 0)
            has_ct = 1;
        hdrs[n_user++] = *h;
    }
    if (!has_ct)
        hdrs[n_user++] = (taap_header){"Content-Type", "application/json"};

    off_t out_start = -1;
    if (body_out) {
        fflush(body_out);
        out_start = lseek(fileno(body_out), 0, SEEK_CUR);
    }
    int idempotent = client_idempotent(req.method);
    unsigned delay = c->retry_delay_ms, retries_left = c->retries;
    int refetched = 0;
    const char *rejected = NULL;
    char *rejected_copy = NULL;
    taap_http_options hopts = c->http;
    hopts.capture_errors = 1;

    for (;;) {
        taap_oauth_token_free(tok);
        tok = NULL;
        int fetched = 0;
        pthread_mutex_lock(&c->lock);
        rc = client_get_token(c, 0, rejected, &tok, NULL, &fetched, err);
        pthread_mutex_unlock(&c->lock);
        if (fetched)
            result->token_fetched = 1;
        if (rc != TAAP_OK)
            break; /* TAAP_E_HTTP stays a transport error: nothing reached the API */
        size_t n = n_user;
        size_t alen = strlen(tok->token_type ? tok->token_type : "Bearer") + strlen(tok->access_token) + 2;
        if (auth)
            taap_free_secret(auth, strlen(auth));
        auth = malloc(alen);
        if (!auth) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            break;
        }
        /* "Bearer" whatever case the server used for token_type. */
        snprintf(auth, alen, "%s %s",
                 tok->token_type && taap_ascii_casecmp(tok->token_type, "bearer") != 0 ? tok->token_type
                                                                                      : "Bearer",
                 tok->access_token);
        hdrs[n++] = (taap_header){"Authorization", auth};
        if (c->send_id_token && tok->id_token)
            hdrs[n++] = (taap_header){"X-Auth-Originator", tok->id_token};
        req.headers = hdrs;
        req.n_headers = n;
        taap_pop_options popt;
        taap_pop_options_init(&popt);
        popt.lifetime = c->pop_lifetime;
        popt.clock = c->pop_clock;
        popt.clock_ctx = c->pop_clock_ctx;
        free(pop);
        pop = NULL;
        /* Built last: every other header and the body are final now. */
        if ((rc = taap_pop_build_request(c->key, &req, &popt, &pop, NULL, err)) != TAAP_OK)
            break;
        hdrs[n++] = (taap_header){"X-Authorization", pop};
        req.n_headers = n;

        taap_http_response_free(*resp);
        *resp = NULL;
        int tcode = 0;
        result->attempts++;
        if (!session && (rc = taap_http_session_new(&session, err)) != TAAP_OK)
            break;
        rc = taap_http_session_perform(session, &req, &hopts, body_out, resp, &tcode, err);
        if (rc == TAAP_E_HTTP) {
            result->transport_code = tcode;
            /* Never let a retry write a body twice: rewind a file, and on a
             * pipe retry only failures where nothing came back at all. */
            int rewound = 1;
            if (body_out && out_start < 0) {
                rewound = tcode == TAAP_HTTP_FAIL_CONNECT;
            } else if (body_out) {
                fflush(body_out);
                off_t pos = lseek(fileno(body_out), 0, SEEK_CUR);
                if (pos != out_start)
                    rewound = ftruncate(fileno(body_out), out_start) == 0 &&
                              fseeko(body_out, out_start, SEEK_SET) == 0;
            }
            if (retries_left > 0 && rewound && (idempotent || tcode == TAAP_HTTP_FAIL_CONNECT)) {
                retries_left--;
                client_info(c, "Transport error (%s); retrying in %u ms (%u retries left)",
                            err ? err->message : "", delay, retries_left);
                client_sleep_ms(delay);
                delay = delay > 300000 ? 600000 : delay * 2;
                continue;
            }
            break;
        }
        if (rc != TAAP_OK)
            break;
        long st = (*resp)->status;
        if (st == 401 && !refetched) {
            /* SPEC §4: one more try with a new token. */
            refetched = 1;
            result->token_refreshed_401 = 1;
            rejected_copy = taap_strdup(tok->access_token);
            if (!rejected_copy) {
                rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
                break;
            }
            rejected = rejected_copy;
            client_info(c, "Got 401: fetching a new access token and sending once more");
            continue;
        }
        if (client_retryable_status(st) && idempotent && retries_left > 0) {
            retries_left--;
            client_info(c, "Got %ld; retrying in %u ms (%u retries left)", st, delay, retries_left);
            client_sleep_ms(delay);
            delay = delay > 300000 ? 600000 : delay * 2;
            continue;
        }
        break;
    }
    if (rc != TAAP_OK) {
        taap_http_response_free(*resp);
        *resp = NULL;
    }
    if (rejected_copy)
        taap_free_secret_str(rejected_copy);
done:
    taap_http_session_free(session);
    taap_oauth_token_free(tok);
    if (auth)
        taap_free_secret(auth, strlen(auth));
    free(pop);
    free(hdrs);
    if (spool) {
        unlink(spool);
        free(spool);
    }
    free(url);
    return rc;
}

/* ---- status meanings (taap-protocol §7, T-Mobile's status-code page) ------ */

const char *taap_status_meaning(long s)
{
    switch (s) {
    case 200: return "success: the request was successful";
    case 201: return "created: success, the resource was created";
    case 202: return "accepted: accepted for processing, not yet completed";
    case 204: return "no_content: success, nothing to return";
    case 302: return "redirect: the resource has moved";
    case 304: return "not_modified: not changed since last access";
    case 400: return "bad_request: invalid or missing data";
    case 401: return "unauthorized: invalid or missing credentials (access token or PoP token)";
    case 403: return "forbidden/access_denied: the client has no access to the resource";
    case 404: return "not_found: the resource does not exist (e.g. an unknown ICCID)";
    case 405: return "method_not_allowed: the method is not supported by the target";
    case 409: return "conflict: trying to overwrite or duplicate a resource";
    case 415: return "unsupported_media_type: the body's Content-Type is not accepted";
    case 429: return "too_many_requests: rate limit reached, slow down";
    default: break;
    }
    if (s >= 200 && s < 300)
        return "success: the request was received, understood and accepted";
    if (s >= 300 && s < 400)
        return "redirect: the user agent must take further action";
    if (s >= 400 && s < 500)
        return "client error: most often an invalid parameter";
    if (s >= 500 && s < 600)
        return "server error: the request was accepted but the T-Mobile service failed handling it";
    return "unexpected status";
}

void taap_error_body_message(const char *body, size_t len, char *out, size_t cap)
{
    if (!out || !cap)
        return;
    out[0] = '\0';
    if (!body)
        return;
    oauth_error_summary(body, len, NULL, out, cap);
}
