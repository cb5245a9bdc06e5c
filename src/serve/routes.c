/*
 * routes.c — the one static route table (method, path pattern, handler,
 * auth kind, body limit) and the dispatcher: match, 404/405, authenticate,
 * call the handler. Patterns match the RAW path (percent-escapes are never
 * decoded before matching, so "%2F" cannot smuggle a separator).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "request_log.h"
#include "serve_internal.h"

#define KB 1024
static void h_healthz(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs);
static void h_sink(taap_server *s, const srv_request *rq, const srv_principal *who,
                   srv_response *rs);

static const srv_route routes[] = {
    {"GET", "/healthz", h_healthz, SRV_AUTH_NONE, 0},
    {"GET", "/.well-known/jwks.json", h_jwks, SRV_AUTH_NONE, 0},
    {"POST", "/oauth2/v2/tokens", h_token, SRV_AUTH_NONE, 64 * KB},
    {"POST", "/oauth2/v1/tokens", h_token, SRV_AUTH_NONE, 64 * KB},
    {"POST", "/oauth2/v6/tokens", h_token, SRV_AUTH_NONE, 64 * KB},
    {"GET", "/iot-connectivity/v1/devices", h_device_list, SRV_AUTH_TAAP, 0},
    {"GET", "/iot-connectivity/v1/devices/{iccid*}", h_device_get, SRV_AUTH_TAAP, 0},
    {"PATCH", "/iot-connectivity/v1/devices/{iccid*}", h_device_patch, SRV_AUTH_TAAP, 64 * KB},
    {"POST", "/devedge/v1/apps", h_admin_apps_post, SRV_AUTH_ADMIN, 16 * KB},
    {"GET", "/devedge/v1/apps", h_admin_apps_get, SRV_AUTH_ADMIN, 0},
    {"GET", "/devedge/v1/apps/{app}", h_admin_app_get, SRV_AUTH_ADMIN, 0},
    {"DELETE", "/devedge/v1/apps/{app}", h_admin_app_delete, SRV_AUTH_ADMIN, 0},
    {"POST", "/devedge/v1/apps/{app}/keys", h_admin_keys_post, SRV_AUTH_ADMIN, 64 * KB},
    {"GET", "/devedge/v1/apps/{app}/keys", h_admin_keys_get, SRV_AUTH_ADMIN, 0},
    {"DELETE", "/devedge/v1/apps/{app}/keys/{key}", h_admin_key_delete, SRV_AUTH_ADMIN, 0},
    {"POST", "/devedge/v1/apps/{app}/subscriptions", h_admin_subs_post, SRV_AUTH_ADMIN, 4 * KB},
    {"DELETE", "/devedge/v1/apps/{app}/subscriptions/{api}", h_admin_sub_delete, SRV_AUTH_ADMIN,
     0},
    {"POST", "/devedge/v1/kits", h_admin_kits_post, SRV_AUTH_ADMIN, 4 * KB},
    {"GET", "/devedge/v1/devices", h_admin_devices_get, SRV_AUTH_ADMIN, 0},
    {"GET", "/devedge/v1/requests", h_admin_requests, SRV_AUTH_ADMIN, 0},
    /* Only with taap_serve_options.testing_sink: the body is streamed (hashed
     * and counted, never buffered), any size. */
    {"POST", "/testing/v1/sink", h_sink, SRV_AUTH_NONE, SIZE_MAX},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static void h_healthz(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs)
{
    (void)rq;
    (void)who;
    sqlite3_stmt *st = store_stmt(s, "SELECT 1");
    int ok = st && sqlite3_step(st) == SQLITE_ROW;
    if (st)
        sqlite3_reset(st);
    if (!ok) {
        srv_error(rs, 503, NULL, "database unavailable");
        return;
    }
    srv_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

/* The testing sink (taap_serve_options.testing_sink): what arrived, never
 * what it said. A body handed over whole (the raw transport) is hashed here. */
static void h_sink(taap_server *s, const srv_request *rq, const srv_principal *who,
                   srv_response *rs)
{
    (void)s;
    (void)who;
    unsigned char d[32];
    uint64_t n = rq->streamed_len;
    if (rq->streamed) {
        memcpy(d, rq->streamed_sha256, sizeof d);
    } else {
        n = rq->body_len;
        EVP_Digest(rq->body ? (const void *)rq->body : "", rq->body_len, d, NULL, EVP_sha256(),
                   NULL);
    }
    char hex[65];
    srv_hex(d, sizeof d, hex);
    srv_json(rs, 200, json_pack("{s:I, s:s}", "bytes", (json_int_t)n, "sha256", hex));
}

/*
 * Match `path` against `pattern`; captured segments are copied into
 * params (malloc'd). Returns 1 on a match.
 */
static int match(const char *pattern, const char *path, char *params[SRV_MAX_PARAMS])
{
    size_t np = 0;
    const char *p = pattern, *q = path;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close)
                goto no;
            int rest = close > p && close[-1] == '*';
            size_t seg = rest ? strlen(q) : strcspn(q, "/");
            if (seg == 0 || np >= SRV_MAX_PARAMS)
                goto no;
            params[np] = strndup(q, seg);
            if (!params[np])
                goto no;
            np++;
            q += seg;
            p = close + 1;
            continue;
        }
        if (*p != *q)
            goto no;
        p++;
        q++;
    }
    if (*q == '\0')
        return 1;
no:
    for (size_t i = 0; i < np; i++) {
        free(params[i]);
        params[i] = NULL;
    }
    return 0;
}

/* The route for method+path (skipping a disabled testing sink), or NULL. */
static const srv_route *find_route(taap_server *s, const char *method, const char *raw_path)
{
    for (size_t i = 0; i < N_ROUTES; i++) {
        char *params[SRV_MAX_PARAMS] = {0};
        if ((routes[i].handler == h_sink && !s->o.testing_sink) ||
            strcmp(routes[i].method, method) != 0 || !match(routes[i].pattern, raw_path, params))
            continue;
        for (size_t j = 0; j < SRV_MAX_PARAMS; j++)
            free(params[j]);
        return &routes[i];
    }
    return NULL;
}

size_t srv_body_limit(taap_server *s, const char *method, const char *raw_path)
{
    const srv_route *r = find_route(s, method, raw_path);
    /* Unknown route: accept nothing; the dispatcher answers 404/405. */
    if (!r)
        return 0;
    if (r->handler == h_sink)
        return SIZE_MAX; /* streamed, never buffered */
    return r->body_limit < s->o.max_body_bytes ? r->body_limit : s->o.max_body_bytes;
}

int srv_is_sink(taap_server *s, const char *method, const char *raw_path)
{
    const srv_route *r = find_route(s, method, raw_path);
    return r && r->handler == h_sink;
}

static int admin_ok(taap_server *s, const srv_request *rq, srv_response *rs)
{
    const char *auth = NULL;
    size_t n = srv_header(rq, "Authorization", &auth);
    if (n == 0) {
        srv_error(rs, 401, "Unauthorized",
                  "the management API needs 'Authorization: Bearer <admin token>' (the token is "
                  "in %s)",
                  taap_serve_admin_token_path(s));
        rs->www_authenticate = strdup("Bearer realm=\"taap-admin\"");
        return 0;
    }
    if (n > 1 || strncasecmp(auth, "Bearer ", 7) != 0) {
        srv_error(rs, n > 1 ? 400 : 401, "Unauthorized",
                  n > 1 ? "more than one Authorization header"
                        : "the management API needs a Bearer admin token");
        if (n == 1)
            rs->www_authenticate = strdup("Bearer realm=\"taap-admin\", error=\"invalid_token\"");
        return 0;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    /* Compare digests so the comparison time does not depend on the length
     * or on where the first difference is. */
    unsigned char h[32];
    EVP_Digest(tok, strlen(tok), h, NULL, EVP_sha256(), NULL);
    if (CRYPTO_memcmp(h, s->admin_token_hash, 32) != 0) {
        srv_error(rs, 401, "Unauthorized", "wrong admin token");
        rs->www_authenticate = strdup("Bearer realm=\"taap-admin\", error=\"invalid_token\"");
        return 0;
    }
    return 1;
}

static void dispatch(taap_server *s, srv_request *rq, srv_response *rs);

void srv_dispatch(taap_server *s, srv_request *rq, srv_response *rs)
{
    dispatch(s, rq, rs);
    srv_reqlog_add(s->reqlog, srv_now(s), rq, rs);
}

static void dispatch(taap_server *s, srv_request *rq, srv_response *rs)
{
    const srv_route *hit = NULL;
    char allow[sizeof rs->allow] = ""; /* the Allow header it becomes */
    for (size_t i = 0; i < N_ROUTES; i++) {
        char *params[SRV_MAX_PARAMS] = {0};
        if ((routes[i].handler == h_sink && !s->o.testing_sink) ||
            !match(routes[i].pattern, rq->path, params))
            continue;
        if (strcmp(routes[i].method, rq->method) == 0) {
            hit = &routes[i];
            memcpy(rq->param, params, sizeof params);
            break;
        }
        for (size_t j = 0; j < SRV_MAX_PARAMS; j++)
            free(params[j]);
        if (!strstr(allow, routes[i].method)) {
            size_t n = strlen(allow);
            snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", routes[i].method);
        }
    }
    if (!hit) {
        if (allow[0]) {
            srv_error(rs, 405, NULL, "%s is not allowed here; use %s", rq->method, allow);
            snprintf(rs->allow, sizeof rs->allow, "%s", allow);
        } else {
            srv_error(rs, 404, NULL, "no such endpoint: %s", rq->path);
        }
        return;
    }
    srv_principal who = {0};
    int ok = 1;
    if (hit->auth == SRV_AUTH_ADMIN)
        ok = admin_ok(s, rq, rs);
    else if (hit->auth == SRV_AUTH_TAAP)
        ok = srv_auth_taap(s, rq, &who, rs);
    if (ok) {
        if (rq->body_len > hit->body_limit)
            srv_error(rs, 413, NULL, "%s %s accepts at most %zu body bytes", rq->method,
                      hit->pattern, hit->body_limit);
        else
            hit->handler(s, rq, &who, rs);
    }
    for (size_t j = 0; j < SRV_MAX_PARAMS; j++) {
        free(rq->param[j]);
        rq->param[j] = NULL;
    }
}
