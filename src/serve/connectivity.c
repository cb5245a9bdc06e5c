/*
 * connectivity.c — the Connectivity API (SPEC §6) and the resource-side
 * TAAP check every call goes through: an access token minted by this
 * emulator (RS256 with its key; iss, aud = sub, exp, nbf; the application
 * still existing) and a PoP verified with the key in the token's cnf, which
 * must still be registered for the application.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "request_log.h"
#include "serve_internal.h"

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
        size_t cap = strlen(sys) + 128;
        char *h = malloc(cap);
        if (h) {
            if (error)
                snprintf(h, cap, "Bearer realm=\"taap\", error=\"%s\", error_description=\"%s\"",
                         error, sys);
            else
                snprintf(h, cap, "Bearer realm=\"taap\"");
        }
        rs->www_authenticate = h;
    }
}

static int b64token_ok(const char *t)
{
    if (!*t)
        return 0;
    size_t i = 0;
    for (; t[i]; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("-._~+/", c)))
            break;
    }
    while (t[i] == '=')
        i++;
    return t[i] == '\0';
}

static int int_claim(json_t *j, const char *name, int64_t *out)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_integer(v))
        return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

/* SHA-256 fetched once: every API call hashes its bearer token (the cache
 * key), and OpenSSL 3 would otherwise fetch the digest by name each time. */
static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_fetched ? sha256_fetched : EVP_sha256();
}

/*
 * The full access-token check (no cache): RS256 with the emulator key, JSON
 * claims, issuer, aud = sub, exp and nbf against `now`, a cnf that parses as
 * a public key. Returns a referenced entry, not yet cached (the caller
 * caches it once the database check passed, with *gen read here, before any
 * check, so a cache clear in between wins), or NULL with rs filled.
 */
static srv_at_entry *verify_access_token(taap_server *s, const char *tok,
                                         const unsigned char th[32], int64_t now,
                                         uint64_t *gen, srv_response *rs)
{
    *gen = srv_at_generation(s);
    char *payload = NULL;
    taap_error e = TAAP_ERROR_INIT;
    taap_code rc = taap_jws_verify(s->signing_key, tok, strlen(tok), MAX_ACCESS_TOKEN, NULL,
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
    else if (!iss || strcmp(iss, s->issuer) != 0)
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "access token issuer is not %s", s->issuer);
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
    else if ((has_nbf = int_claim(c, "nbf", &nbf)) && nbf > now + (int64_t)s->o.leeway)
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
    srv_hex(fp, 32, at->fp_hex);
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
    if (strncasecmp(auth, "Bearer ", 7) != 0) {
        deny(rs, 401, "invalid_token", "Invalid Access Token",
             "Authorization must be 'Bearer <access token>'");
        return 0;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    if (!b64token_ok(tok)) {
        deny(rs, 400, "invalid_request", "Bad Request",
             "the bearer token has characters outside the RFC 6750 b64token set");
        return 0;
    }
    int64_t now = srv_now(s);
    unsigned char th[32];
    EVP_Digest(tok, strlen(tok), th, NULL, sha256_md(), NULL);
    srv_at_entry *at = srv_at_get(s, th);
    if (at && (now >= at->exp || (at->has_nbf && at->nbf > now + (int64_t)s->o.leeway))) {
        /* Verified once but not valid now: the full check says why. */
        srv_at_release(at);
        at = NULL;
    }
    uint64_t gen = 0;
    int cached = at != NULL;
    if (!at && !(at = verify_access_token(s, tok, th, now, &gen, rs)))
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
    static const char *const default_required[] = {"Authorization", "uri", "http-method", "body"};
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.leeway = s->o.leeway;
    cfg.max_lifetime = s->o.max_pop_lifetime;
    cfg.clock = srv_clock_fn;
    cfg.clock_ctx = s;
    cfg.replay = s->replay;
    if (s->resource_require) {
        cfg.required = (const char *const *)s->resource_require;
        cfg.n_required = s->o.n_resource_require;
    } else {
        cfg.required = default_required;
        cfg.n_required = 4;
    }
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

/* ---- devices ------------------------------------------------------------------ */

static const char *const statuses[] = {"ACTIVE", "SUSPENDED", "DEACTIVATED", "INVENTORY",
                                       "TEST_READY", NULL};

static int status_ok(const char *v)
{
    for (int i = 0; statuses[i]; i++)
        if (strcmp(v, statuses[i]) == 0)
            return 1;
    return 0;
}

int srv_luhn_ok(const char *d)
{
    size_t n = strlen(d);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int x = d[n - 1 - i] - '0';
        if (i % 2 == 1) {
            x *= 2;
            if (x > 9)
                x -= 9;
        }
        sum += x;
    }
    return n > 0 && sum % 10 == 0;
}

const char *srv_iccid_problem(const char *iccid)
{
    size_t n = strlen(iccid);
    for (size_t i = 0; i < n; i++)
        if (iccid[i] < '0' || iccid[i] > '9')
            return "an ICCID is 19 or 20 digits (no letters, '/', '%' or '.')";
    if (n < 19 || n > 20)
        return "an ICCID is 19 or 20 digits";
    if (iccid[0] != '8' || iccid[1] != '9')
        return "an ICCID starts with 89 (telecom industry identifier)";
    if (!srv_luhn_ok(iccid))
        return "the ICCID's last digit is not a valid Luhn check digit";
    return NULL;
}

/* Look up one device for the caller; fills rs on failure. Returns a stepped
 * statement positioned on the row (caller resets) or NULL. */
static sqlite3_stmt *device_for(taap_server *s, const srv_request *rq, const srv_principal *who,
                                srv_response *rs)
{
    static const char sql[] =
        "SELECT " STORE_DEVICE_COLUMNS " FROM devices d WHERE d.iccid = ?1";
    const char *iccid = rq->param[0];
    const char *why = srv_iccid_problem(iccid);
    if (why) {
        srv_error(rs, 400, NULL, "malformed ICCID in the path: %s", why);
        return NULL;
    }
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st) {
        srv_error(rs, 500, NULL, "database error");
        return NULL;
    }
    sqlite3_bind_text(st, 1, iccid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            srv_error(rs, 404, NULL, "no device with ICCID %s", iccid);
        else
            srv_error(rs, 500, NULL, "database error");
        return NULL;
    }
    if (sqlite3_column_int64(st, 8) != who->account_id) {
        sqlite3_reset(st);
        srv_error(rs, 403, NULL, "device %s belongs to another account", iccid);
        return NULL;
    }
    return st;
}

void h_device_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                  srv_response *rs)
{
    sqlite3_stmt *st = device_for(s, rq, who, rs);
    if (!st)
        return;
    json_t *j = store_device_json(st, 0);
    sqlite3_reset(st);
    srv_json(rs, 200, j);
}

/* Parse a decimal query value within [lo, hi]. */
static int parse_uint(const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return 0;
    *out = x;
    return 1;
}

void h_device_list(taap_server *s, const srv_request *rq, const srv_principal *who,
                   srv_response *rs)
{
    static const char sql_all[] =
        "SELECT " STORE_DEVICE_COLUMNS " FROM devices d WHERE d.account_id = ?1"
        " ORDER BY d.iccid LIMIT ?2 OFFSET ?3";
    static const char sql_status[] =
        "SELECT " STORE_DEVICE_COLUMNS " FROM devices d WHERE d.account_id = ?1 AND d.status = ?4"
        " ORDER BY d.iccid LIMIT ?2 OFFSET ?3";
    static const char sql_count[] =
        "SELECT count(*) FROM devices WHERE account_id = ?1 AND (?2 IS NULL OR status = ?2)";
    long limit = 100, offset = 0;
    char status[32] = "";
    if (rq->query && *rq->query) {
        char *q = strdup(rq->query);
        if (!q) {
            srv_error(rs, 500, NULL, "out of memory");
            return;
        }
        int bad = 0;
        char what[160] = "";
        for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv && !bad;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            const char *val = eq ? eq + 1 : "";
            if (eq)
                *eq = '\0';
            if (strcmp(kv, "limit") == 0) {
                if (!parse_uint(val, 1, 1000, &limit))
                    bad = snprintf(what, sizeof what, "limit must be an integer 1..1000");
            } else if (strcmp(kv, "offset") == 0) {
                if (!parse_uint(val, 0, 1000000000L, &offset))
                    bad = snprintf(what, sizeof what, "offset must be a non-negative integer");
            } else if (strcmp(kv, "status") == 0) {
                if (!status_ok(val))
                    bad = snprintf(what, sizeof what,
                                   "status must be one of ACTIVE, SUSPENDED, DEACTIVATED, "
                                   "INVENTORY, TEST_READY");
                else
                    snprintf(status, sizeof status, "%s", val);
            } else {
                bad = snprintf(what, sizeof what, "unknown query parameter '%.40s' (use status, "
                                                  "limit, offset)",
                               kv);
            }
        }
        free(q);
        if (bad) {
            srv_error(rs, 400, NULL, "%s", what);
            return;
        }
    }
    sqlite3_stmt *st = store_stmt(s, status[0] ? sql_status : sql_all);
    json_t *arr = json_array();
    if (!st || !arr) {
        json_decref(arr);
        srv_error(rs, 500, NULL, "database error");
        return;
    }
    sqlite3_bind_int64(st, 1, who->account_id);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    if (status[0])
        sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, store_device_json(st, 0));
    sqlite3_reset(st);
    json_int_t total = 0;
    sqlite3_stmt *ct = store_stmt(s, sql_count);
    if (ct) {
        sqlite3_bind_int64(ct, 1, who->account_id);
        if (status[0])
            sqlite3_bind_text(ct, 2, status, -1, SQLITE_STATIC);
        if (sqlite3_step(ct) == SQLITE_ROW)
            total = sqlite3_column_int64(ct, 0);
        sqlite3_reset(ct);
    }
    srv_json(rs, 200,
             json_pack("{s:o, s:I, s:I, s:I}", "devices", arr, "total", total, "limit",
                       (json_int_t)limit, "offset", (json_int_t)offset));
}

void h_device_patch(taap_server *s, const srv_request *rq, const srv_principal *who,
                    srv_response *rs)
{
    static const char sql_update[] =
        "UPDATE devices SET status = coalesce(?2, status), rate_plan = coalesce(?3, rate_plan)"
        " WHERE iccid = ?1";
    sqlite3_stmt *st = device_for(s, rq, who, rs);
    if (!st)
        return;
    sqlite3_reset(st);
    json_error_t je;
    json_t *j = rq->body_len ? json_loadb((const char *)rq->body, rq->body_len,
                                          JSON_REJECT_DUPLICATES, &je)
                             : NULL;
    if (!j || !json_is_object(j) || json_object_size(j) == 0) {
        json_decref(j);
        srv_error(rs, 400, NULL,
                  "body must be a non-empty JSON object, e.g. {\"status\":\"SUSPENDED\"}");
        return;
    }
    const char *status = NULL, *plan = NULL;
    for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        if (strcmp(key, "status") == 0 && json_is_string(v) && status_ok(json_string_value(v))) {
            status = json_string_value(v);
        } else if (strcmp(key, "ratePlan") == 0 && json_is_string(v) &&
                   json_string_length(v) > 0 && json_string_length(v) <= 64) {
            plan = json_string_value(v);
        } else {
            char what[200];
            snprintf(what, sizeof what, "%.60s", key);
            json_decref(j);
            srv_error(rs, 400, NULL,
                      "cannot change '%s': PATCH accepts status (ACTIVE, SUSPENDED, DEACTIVATED, "
                      "INVENTORY, TEST_READY) and ratePlan (1..64 characters)",
                      what);
            return;
        }
    }
    sqlite3_stmt *up = store_stmt(s, sql_update);
    int rc = SQLITE_ERROR;
    if (up) {
        sqlite3_bind_text(up, 1, rq->param[0], -1, SQLITE_STATIC);
        if (status)
            sqlite3_bind_text(up, 2, status, -1, SQLITE_TRANSIENT);
        if (plan)
            sqlite3_bind_text(up, 3, plan, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(up);
        sqlite3_reset(up);
    }
    json_decref(j);
    if (rc != SQLITE_DONE) {
        srv_error(rs, 500, NULL, "database error while updating the device");
        return;
    }
    h_device_get(s, rq, who, rs);
}
