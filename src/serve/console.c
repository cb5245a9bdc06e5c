/* console.c — /console: the compiled-in page and its assets, and the
 * browser session (sign in with the admin token, CSRF token, sign out).
 * Everything else the page does goes through the management API
 * (/devedge/v1), authenticated by console_session_admin(). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "console.h"
#include "serve_internal.h"
#include "util.h"

const char *const console_security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {NULL, NULL},
};

typedef struct session {
    unsigned char id_hash[32]; /* SHA-256 of the cookie value */
    char csrf[65];
    int64_t expires;           /* 0 = free slot */
} session;

struct console_sessions {
    pthread_mutex_t mu;
    session s[CONSOLE_MAX_SESSIONS];
};

console_sessions *console_sessions_new(void)
{
    console_sessions *c = calloc(1, sizeof *c);
    if (c)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

void console_sessions_free(console_sessions *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c->s, sizeof c->s);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int random_hex(char *out, size_t bytes)
{
    unsigned char b[32];
    if (bytes > sizeof b || RAND_bytes(b, (int)bytes) != 1)
        return -1;
    taap_hex_encode(b, bytes, out);
    OPENSSL_cleanse(b, sizeof b);
    return 0;
}

/* The session cookie's value from the Cookie header(s), or 0. */
static int cookie_value(const srv_request *rq, char out[65])
{
    const size_t nl = strlen(CONSOLE_COOKIE);
    for (size_t i = 0; i < rq->n_headers; i++) {
        if (taap_ascii_casecmp(rq->headers[i].name, "Cookie") != 0)
            continue;
        const char *p = rq->headers[i].value;
        while (p && *p) {
            while (*p == ' ' || *p == ';')
                p++;
            size_t l = strcspn(p, ";");
            if (l == nl + 65 && strncmp(p, CONSOLE_COOKIE "=", nl + 1) == 0) {
                memcpy(out, p + nl + 1, 64);
                out[64] = '\0';
                return 1;
            }
            p += l;
        }
    }
    return 0;
}

/* The live session for this request's cookie (lock held by the caller). */
static session *find_session(console_sessions *c, const char *id, int64_t now)
{
    unsigned char h[32];
    taap_sha256_digest(id, strlen(id), h);
    for (size_t i = 0; i < CONSOLE_MAX_SESSIONS; i++) {
        session *s = &c->s[i];
        if (s->expires > now && CRYPTO_memcmp(s->id_hash, h, 32) == 0)
            return s;
    }
    return NULL;
}

int console_session_admin(taap_server *sv, const srv_request *rq, srv_response *rs)
{
    char id[65];
    if (!cookie_value(rq, id))
        return 0;
    console_sessions *c = srv_console_of(sv);
    int safe = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
    const char *csrf = NULL;
    size_t nc = srv_header(rq, "X-CSRF-Token", &csrf);
    pthread_mutex_lock(&c->mu);
    session *s = find_session(c, id, srv_now(sv));
    int ok = s && (safe || (nc == 1 && strlen(csrf) == 64 && CRYPTO_memcmp(csrf, s->csrf, 64) == 0));
    pthread_mutex_unlock(&c->mu);
    OPENSSL_cleanse(id, sizeof id);
    if (ok)
        return 1;
    if (!s)
        srv_error(rs, 401, "Unauthorized", "the console session has ended: sign in again");
    else
        srv_error(rs, 403, "Forbidden",
                  "a change from the console needs its X-CSRF-Token header (reload the page)");
    return -1;
}

static void security_headers(srv_response *rs)
{
    rs->console = 1;
    rs->no_store = 1;
}

static void send_asset(srv_response *rs, const char *name)
{
    for (size_t i = 0; i < console_n_assets; i++) {
        const console_asset *a = &console_assets[i];
        if (strcmp(a->name, name) != 0)
            continue;
        char *body = malloc(a->len ? a->len : 1);
        if (!body) {
            srv_error(rs, 500, NULL, "out of memory");
            return;
        }
        memcpy(body, a->data, a->len);
        rs->status = 200;
        rs->body = body;
        rs->body_len = a->len;
        rs->content_type = a->content_type;
        security_headers(rs);
        return;
    }
    srv_error(rs, 404, NULL, "no such console file: %.64s", name);
    security_headers(rs);
}

void h_console_page(taap_server *s, const srv_request *rq, const srv_principal *who,
                    srv_response *rs)
{
    (void)s;
    (void)rq;
    (void)who;
    send_asset(rs, "index.html");
}

void h_console_asset(taap_server *s, const srv_request *rq, const srv_principal *who,
                     srv_response *rs)
{
    (void)s;
    (void)who;
    send_asset(rs, rq->param[0]);
}

/* GET /console/session: {"signedIn", "csrf"} for a page of this origin
 * (a cross-origin page cannot read the answer). */
void h_console_session_get(taap_server *sv, const srv_request *rq, const srv_principal *who,
                           srv_response *rs)
{
    (void)who;
    char id[65], csrf[65] = "";
    console_sessions *c = srv_console_of(sv);
    if (cookie_value(rq, id)) {
        pthread_mutex_lock(&c->mu);
        session *s = find_session(c, id, srv_now(sv));
        if (s)
            memcpy(csrf, s->csrf, sizeof csrf);
        pthread_mutex_unlock(&c->mu);
    }
    srv_json(rs, 200, csrf[0] ? json_pack("{s:b, s:s}", "signedIn", 1, "csrf", csrf)
                              : json_pack("{s:b}", "signedIn", 0));
    security_headers(rs);
}

/* POST /console/session {"token": admin token}: a JSON body (so a
 * cross-site form cannot post it). */
void h_console_session_post(taap_server *sv, const srv_request *rq, const srv_principal *who,
                            srv_response *rs)
{
    (void)who;
    const char *ct = NULL;
    security_headers(rs);
    if (srv_header(rq, "Content-Type", &ct) != 1 || taap_ascii_ncasecmp(ct, "application/json", 16) != 0) {
        srv_error(rs, 415, NULL, "sign in with a JSON body {\"token\": \"<admin token>\"}");
        return;
    }
    json_t *j = rq->body_len ? json_loadb((const char *)rq->body, rq->body_len, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(j, "token"));
    int ok = tok && srv_admin_token_matches(sv, tok, strlen(tok));
    json_decref(j);
    if (!ok) {
        srv_error(rs, 401, "Unauthorized",
                  "wrong admin token: `taap serve` printed it when it created it, and keeps it "
                  "in its admin token file (see --admin-token-file)");
        return;
    }
    char id[65], csrf[65];
    if (random_hex(id, 32) || random_hex(csrf, 32)) {
        srv_error(rs, 500, NULL, "no randomness for a session");
        return;
    }
    console_sessions *c = srv_console_of(sv);
    int64_t now = srv_now(sv);
    pthread_mutex_lock(&c->mu);
    session *slot = &c->s[0]; /* a free or expired slot, else the oldest */
    for (size_t i = 0; i < CONSOLE_MAX_SESSIONS; i++)
        if (c->s[i].expires <= now || c->s[i].expires < slot->expires)
            slot = &c->s[i];
    taap_sha256_digest(id, 64, slot->id_hash);
    memcpy(slot->csrf, csrf, sizeof csrf);
    slot->expires = now + CONSOLE_SESSION_TTL;
    pthread_mutex_unlock(&c->mu);
    size_t cap = 200;
    rs->set_cookie = malloc(cap);
    if (rs->set_cookie)
        snprintf(rs->set_cookie, cap, CONSOLE_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d",
                 id, CONSOLE_SESSION_TTL);
    OPENSSL_cleanse(id, sizeof id);
    srv_json(rs, 200, json_pack("{s:b, s:s}", "signedIn", 1, "csrf", csrf));
}

/* DELETE /console/session: sign out (needs the CSRF token like any change). */
void h_console_session_delete(taap_server *sv, const srv_request *rq, const srv_principal *who,
                              srv_response *rs)
{
    (void)who;
    char id[65];
    security_headers(rs);
    const char *csrf = NULL;
    size_t nc = srv_header(rq, "X-CSRF-Token", &csrf);
    console_sessions *c = srv_console_of(sv);
    int ok = 0;
    if (cookie_value(rq, id)) {
        pthread_mutex_lock(&c->mu);
        session *s = find_session(c, id, srv_now(sv));
        ok = s && nc == 1 && strlen(csrf) == 64 && CRYPTO_memcmp(csrf, s->csrf, 64) == 0;
        if (ok)
            memset(s, 0, sizeof *s);
        pthread_mutex_unlock(&c->mu);
    }
    if (!ok) {
        srv_error(rs, 403, "Forbidden", "signing out needs the session cookie and its X-CSRF-Token");
        return;
    }
    rs->set_cookie = strdup(CONSOLE_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    rs->status = 204;
}
