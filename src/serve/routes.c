/*
 * routes.c — the one static route table (method, path pattern, handler,
 * auth kind, body limit, argument) and the dispatcher: match, 404/405, authenticate,
 * call the handler. A new endpoint is one row here and one handler
 * declared in serve_internal.h. Patterns match the RAW path (percent-escapes are never
 * decoded before matching, so "%2F" cannot smuggle a separator).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request_log.h"
#include "serve_internal.h"

#define KB 1024

static const srv_route routes[] = {
    {"GET", "/healthz", h_healthz, SRV_AUTH_NONE, 0, NULL},
    {"GET", "/.well-known/jwks.json", h_jwks, SRV_AUTH_NONE, 0, NULL},
    {"POST", "/oauth2/v2/tokens", h_token, SRV_AUTH_NONE, 64 * KB, NULL},
    {"POST", "/oauth2/v1/tokens", h_token, SRV_AUTH_NONE, 64 * KB, NULL},
    {"POST", "/oauth2/v6/tokens", h_token, SRV_AUTH_NONE, 64 * KB, NULL},
    {"GET", "/iot-connectivity/v1/devices", h_device_list, SRV_AUTH_TAAP, 0, NULL},
    {"GET", "/iot-connectivity/v1/devices/{iccid*}", h_device_get, SRV_AUTH_TAAP, 0, NULL},
    {"PATCH", "/iot-connectivity/v1/devices/{iccid*}", h_device_patch, SRV_AUTH_TAAP, 64 * KB,
     NULL},
    /* The management API: one handler, the row says which call it makes. */
    {"POST", "/devedge/v1/apps", h_admin, SRV_AUTH_ADMIN, 16 * KB, &srv_admin_app_create},
    {"GET", "/devedge/v1/apps", h_admin, SRV_AUTH_ADMIN, 0, &srv_admin_app_list},
    {"GET", "/devedge/v1/apps/{app}", h_admin, SRV_AUTH_ADMIN, 0, &srv_admin_app_show},
    {"DELETE", "/devedge/v1/apps/{app}", h_admin, SRV_AUTH_ADMIN, 0, &srv_admin_app_delete},
    {"POST", "/devedge/v1/apps/{app}/keys", h_admin, SRV_AUTH_ADMIN, 64 * KB, &srv_admin_key_add},
    {"GET", "/devedge/v1/apps/{app}/keys", h_admin, SRV_AUTH_ADMIN, 0, &srv_admin_key_list},
    {"DELETE", "/devedge/v1/apps/{app}/keys/{key}", h_admin, SRV_AUTH_ADMIN, 0,
     &srv_admin_key_delete},
    {"POST", "/devedge/v1/apps/{app}/subscriptions", h_admin, SRV_AUTH_ADMIN, 4 * KB,
     &srv_admin_subscribe},
    {"DELETE", "/devedge/v1/apps/{app}/subscriptions/{api}", h_admin, SRV_AUTH_ADMIN, 0,
     &srv_admin_unsubscribe},
    {"POST", "/devedge/v1/kits", h_admin, SRV_AUTH_ADMIN, 4 * KB, &srv_admin_kit_activate},
    {"GET", "/devedge/v1/devices", h_admin, SRV_AUTH_ADMIN, 0, &srv_admin_device_list},
    {"PATCH", "/devedge/v1/devices/{iccid}", h_admin, SRV_AUTH_ADMIN, 4 * KB,
     &srv_admin_device_status},
    {"GET", "/devedge/v1/requests", h_admin_requests, SRV_AUTH_ADMIN, 0, NULL},
    /* The web console: its own session endpoints, then the page and assets. */
    {"GET", "/console", h_console_page, SRV_AUTH_NONE, 0, NULL},
    {"GET", "/console/session", h_console_session_get, SRV_AUTH_NONE, 0, NULL},
    {"POST", "/console/session", h_console_session_post, SRV_AUTH_NONE, 4 * KB, NULL},
    {"DELETE", "/console/session", h_console_session_delete, SRV_AUTH_NONE, 0, NULL},
    {"GET", "/console/{asset}", h_console_asset, SRV_AUTH_NONE, 0, NULL},
    /* Only with taap_serve_options.testing_sink: the body is streamed (hashed
     * and counted, never buffered), any size. */
    {"POST", "/testing/v1/sink", h_sink, SRV_AUTH_NONE, SIZE_MAX, NULL},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

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
        if ((routes[i].handler == h_sink && !srv_options(s)->testing_sink) ||
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
    size_t global = srv_options(s)->max_body_bytes;
    return r->body_limit < global ? r->body_limit : global;
}

int srv_is_sink(taap_server *s, const char *method, const char *raw_path)
{
    const srv_route *r = find_route(s, method, raw_path);
    return r && r->handler == h_sink;
}

static void dispatch(taap_server *s, srv_request *rq, srv_response *rs);

void srv_dispatch(taap_server *s, srv_request *rq, srv_response *rs)
{
    dispatch(s, rq, rs);
    srv_reqlog_add(srv_reqlog_of(s), srv_now(s), rq, rs);
}

static void dispatch(taap_server *s, srv_request *rq, srv_response *rs)
{
    const srv_route *hit = NULL;
    char allow[sizeof rs->allow] = ""; /* the Allow header it becomes */
    for (size_t i = 0; i < N_ROUTES; i++) {
        char *params[SRV_MAX_PARAMS] = {0};
        if ((routes[i].handler == h_sink && !srv_options(s)->testing_sink) ||
            !match(routes[i].pattern, rq->path, params))
            continue;
        if (strcmp(routes[i].method, rq->method) == 0) {
            hit = &routes[i];
            memcpy(rq->param, params, sizeof params);
            rq->route_arg = routes[i].arg;
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
        ok = srv_auth_admin(s, rq, rs);
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
