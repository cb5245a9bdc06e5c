/*
 * auth.c — who may call: the management API's admin token, and the
 * resource-side TAAP check every Connectivity call goes through: an access
 * token minted by this emulator (RS256 with its key; iss, aud = sub, exp,
 * nbf; the application still existing) and a PoP verified with the key in
 * the token's cnf, which must still be registered for the application.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "console.h"
#include "request_log.h"
#include "serve_internal.h"
#include "util.h"

#define CONNECTIVITY TAAP_SERVE_API_CONNECTIVITY
#define MAX_ACCESS_TOKEN 16384

/* 401 with both faces of the error: the T-Mobile body and RFC 6750's
 * WWW-Authenticate challenge. error == NULL → no error attribute (no
 * credentials at all). */
static void deny(srv_response *rs, unsigned status, const char *error, const char *user,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void deny(srv_response *rs, unsigned status, const char *error, const char *user,
                 const char *fmt, ...)
{
    char sys[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sys, sizeof sys, fmt, ap);
    va_end(ap);
    srv_error(rs, status, user, "%s", sys);
    if (status == 401 || (status == 403 && error)) {
        srv_sanitize_desc(sys);
        srv_challenge(rs, "Bearer", error, sys);
    }
}

static int b64token_ok(const char *t, size_t n)
{
    if (!n)
        return 0;
    size_t i = 0;
    for (; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("-._~+/", c)))
            break;
    }
    while (i < n && t[i] == '=')
        i++;
    return i == n;
}

static int int_claim(json_t *j, const char *name, int64_t *out)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_integer(v))
        return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

/*
 * The full access-token check (no cache): RS256 with the emulator key, JSON
 * claims, issuer, aud = sub, exp and nbf against `now`, a cnf that parses as
 * a public key. Returns a referenced entry, not yet cached (the caller
 * caches it once the database check passed, with *gen read here, before any
 * check, so a cache clear in between wins), or NULL with rs filled.
 */
static srv_at_entry *verify_access_token(taap_server *s, const char *tok, size_t tok_len,
                                         const unsigned char th[32], int64_t now,
                                         uint64_t *gen, srv_response *rs)
{
    *gen = srv_at_generation(s);
    char *payload = NULL;
    taap_error e = TAAP_ERROR_INIT;
    taap_code rc = taap_jws_verify(srv_signing_key(s), tok, tok_len, MAX_ACCESS_TOKEN, NULL,
                                   &payload, &e);
    if (rc != TAAP_OK) {
        deny(rs, 401, "invalid_token", "Invalid Access Token", "%s",
             rc == TAAP_E_SIGNATURE
                 ? "access token was not issued by this server (its signature does not verify "
                   "with the emulator key)"
                 : e.message);
        return NULL;
    }
    json_t *c = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
    free(payload);
    int64_t exp = 0, nbf = 0;
    int has_nbf = 0;
    const char *iss = c ? json_string_value(json_object_get(c, "iss")) : NULL;
    const char *aud = c ? json_string_value(json_object_get(c, "aud")) : NULL;
    const char *sub = c ? json_string_value(json_object_get(c, "sub")) : NULL;
    const char *cnf = c ? json_string_value(json_object_get(c, "cnf")) : NULL;
    int ok = 0;
    if (!c || !json_is_object(c))
        deny(rs, 401, "invalid_token", "Invalid Access Token", "access token claims are not JSON");
    else if (!iss || strcmp(iss, srv_issuer(s)) != 0)
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "access token issuer is not %s", srv_issuer(s));
    else if (!aud || !sub || strcmp(aud, sub) != 0 ||
             strlen(aud) >= sizeof(((srv_at_entry *)0)->client_id))
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "access token audience must be the client id (aud = sub)");
    else if (!int_claim(c, "exp", &exp))
        deny(rs, 401, "invalid_token", "Invalid Access Token", "access token has no integer exp");
    else if (now >= exp)
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "access token expired %lld s ago; get a new one from /oauth2/v2/tokens",
             (long long)(now - exp));
    else if ((has_nbf = int_claim(c, "nbf", &nbf)) && nbf > now + (int64_t)srv_options(s)->leeway)
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "access token is not valid for another %lld s (nbf)", (long long)(nbf - now));
    else if (!cnf)
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "this is not an access token (no cnf key binding; an ID token?)");
    else
        ok = 1;
    srv_at_entry *at = ok ? calloc(1, sizeof *at) : NULL;
    if (ok && !at)
        srv_error(rs, 500, NULL, "out of memory");
    if (at) {
        atomic_init(&at->refs, 1);
        memcpy(at->hash, th, 32);
        at->exp = exp;
        at->nbf = nbf;
        at->has_nbf = has_nbf;
        snprintf(at->client_id, sizeof at->client_id, "%s", aud);
        rc = taap_key_load_public(cnf, strlen(cnf), &at->key, &e);
        if (rc != TAAP_OK) {
            deny(rs, 401, "invalid_token", "Invalid Access Token",
                 "access token cnf is not a usable public key: %s", e.message);
            srv_at_release(at);
            at = NULL;
        }
    }
    json_decref(c);
    if (!at)
        return NULL;
    unsigned char fp[32];
    taap_key_fingerprint(at->key, fp);
    taap_hex_encode(fp, 32, at->fp_hex);
    srv_key_id(fp, at->kid);
    return at;
}

/* 1 if the raw query has a parameter named access_token (RFC 6750 §2.3). */
static int query_has_access_token(const char *q)
{
    static const char name[] = "access_token";
    const size_t nl = sizeof name - 1;
    while (q && *q) {
        if (strncmp(q, name, nl) == 0 && (q[nl] == '=' || q[nl] == '&' || q[nl] == '\0'))
            return 1;
        q = strchr(q, '&');
        if (q)
            q++;
    }
    return 0;
}

int srv_auth_taap(taap_server *s, const srv_request *rq, srv_principal *who, srv_response *rs)
{
    if (query_has_access_token(rq->query)) {
        /* RFC 6750 §2: one method only; and a token in a URL ends up in logs.
         * TAAP sends it in the Authorization header, nowhere else. */
        deny(rs, 400, "invalid_request", "Bad Request",
             "the access token goes in the Authorization header only, not in the query "
             "(access_token)");
        return 0;
    }
    const char *auth = NULL;
    size_t n = srv_header(rq, "Authorization", &auth);
    if (n == 0) {
        deny(rs, 401, NULL, "Invalid Access Token",
             "no Authorization header: send Authorization: Bearer <access token>");
        return 0;
    }
    if (n > 1) {
        deny(rs, 400, "invalid_request", "Bad Request", "more than one Authorization header");
        return 0;
    }
    size_t tok_len = 0;
    const char *tok = srv_auth_credentials(auth, "Bearer", &tok_len);
    if (!tok) {
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "Authorization must be 'Bearer <access token>'");
        return 0;
    }
    if (!b64token_ok(tok, tok_len)) {
        deny(rs, 400, "invalid_request", "Bad Request",
             "the bearer token has characters outside the RFC 6750 b64token set");
        return 0;
    }
    int64_t now = srv_now(s);
    unsigned char th[32];
    taap_sha256_digest(tok, tok_len, th);
    srv_at_entry *at = srv_at_get(s, th);
    if (at && (now >= at->exp || (at->has_nbf && at->nbf > now + (int64_t)srv_options(s)->leeway))) {
        /* Verified once but not valid now: the full check says why. */
        srv_at_release(at);
        at = NULL;
    }
    uint64_t gen = 0;
    int cached = at != NULL;
    if (!at && !(at = verify_access_token(s, tok, tok_len, th, now, &gen, rs)))
        return 0;
    store_app app;
    int sub_ok = 1;
    if (!cached) {
        int reg = 0;
        int found = store_app_auth(s, at->client_id, at->fp_hex, CONNECTIVITY, &app, &reg, &sub_ok);
        if (found != 1) {
            srv_at_release(at);
            if (found < 0)
                srv_error(rs, 500, NULL, "database error");
            else
                deny(rs, 401, "invalid_token", "Invalid Access Token",
                     "the application this access token was issued to no longer exists");
            return 0;
        }
        if (!reg) {
            deny(rs, 401, "invalid_token", "Invalid Access Token",
                 "the key bound to this access token (key id %s) is no longer registered for "
                 "application '%s'",
                 at->kid, app.name);
            srv_at_release(at);
            return 0;
        }
        at->app_id = app.id;
        at->account_id = app.account_id;
        if (sub_ok) /* only fully authorised tokens are cached */
            srv_at_put(s, at, gen);
    }
    const taap_key *key = at->key;
    const char *pop = NULL;
    size_t np = srv_header(rq, "X-Authorization", &pop);
    if (np != 1) {
        srv_at_release(at);
        deny(rs, 400, "invalid_request", "Bad Request", "%s",
             np ? "more than one X-Authorization header"
                : "X-Authorization header (the PoP token) is missing");
        return 0;
    }
    taap_verify_config cfg;
    srv_verify_config(s, SRV_AUTH_TAAP, &cfg);
    taap_request req = {rq->method, rq->target, rq->headers, rq->n_headers,
                        {rq->body_len ? TAAP_BODY_MEMORY : TAAP_BODY_NONE, rq->body,
                         (int64_t)rq->body_len, NULL, NULL, NULL}};
    taap_error verr = TAAP_ERROR_INIT;
    taap_code rc = taap_verify(pop, strlen(pop), key, &req, &cfg, NULL, &verr);
    int64_t app_id = at->app_id, account_id = at->account_id;
    char client_id[sizeof at->client_id];
    memcpy(client_id, at->client_id, sizeof client_id);
    srv_at_release(at);
    if (rc != TAAP_OK) {
        char cause[256];
        srv_explain_pop(pop, &req, &cfg, rc, verr.message, rs, cause, sizeof cause);
        deny(rs, 401, "invalid_token", "Invalid PoP Token", "%s: PoP token rejected: %s%s%s",
             taap_code_name(rc), verr.message[0] ? verr.message : taap_strerror(rc),
             cause[0] ? "; likely cause: " : "", cause);
        return 0;
    }
    rs->verdict = taap_code_name(TAAP_OK); /* for the request log */
    if (!sub_ok) {
        deny(rs, 403, "insufficient_scope", "Access Denied",
             "application '%s' is not subscribed to the Connectivity API (%s)", app.name,
             CONNECTIVITY);
        return 0;
    }
    who->app_id = app_id;
    who->account_id = account_id;
    snprintf(who->client_id, sizeof who->client_id, "%s", client_id);
    return 1;
}

/* ---- the management API ---------------------------------------------------- */

int srv_auth_admin(taap_server *s, const srv_request *rq, srv_response *rs)
{
    const char *auth = NULL;
    size_t n = srv_header(rq, "Authorization", &auth);
    int console = n == 0 ? console_session_admin(s, rq, rs) : 0; /* the web console */
    if (console)
        return console > 0;
    if (n == 0) {
        srv_error(rs, 401, "Unauthorized",
                  "the management API needs 'Authorization: Bearer <admin token>' (the token "
                  "is in the server's admin token file: see --admin-token-file)");
        rs->www_authenticate = strdup("Bearer realm=\"taap-admin\"");
        return 0;
    }
    size_t tok_len = 0;
    const char *tok = n == 1 ? srv_auth_credentials(auth, "Bearer", &tok_len) : NULL;
    if (!tok) {
        srv_error(rs, n > 1 ? 400 : 401, "Unauthorized",
                  n > 1 ? "more than one Authorization header"
                        : "the management API needs a Bearer admin token");
        if (n == 1)
            rs->www_authenticate = strdup("Bearer realm=\"taap-admin\", error=\"invalid_token\"");
        return 0;
    }
    if (!srv_admin_token_matches(s, tok, tok_len)) {
        srv_error(rs, 401, "Unauthorized", "wrong admin token");
        rs->www_authenticate = strdup("Bearer realm=\"taap-admin\", error=\"invalid_token\"");
        return 0;
    }
    return 1;
}
