/*
 * admin_api.c — the DevEdge-like management API under /devedge/v1. Every
 * route is h_admin with an srv_admin_op as its argument: which management
 * call (devedge.c) it makes, the status it answers on success, and whether
 * its body is read as a JSON object first. A new admin endpoint is an op
 * here and a row in routes.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"
#include "util.h"

typedef taap_code (*admin_call)(taap_server *s, const srv_request *rq, json_t *body,
                                char **out, taap_error *err);

struct srv_admin_op {
    admin_call call;
    unsigned ok_status;  /* 204: no body */
    int json_body;       /* parse the body as a JSON object (none = {}) before the call */
    int no_store;        /* the answer carries a secret */
};

static unsigned status_for(const taap_error *err, taap_code c)
{
    switch (c) {
    case TAAP_E_NOT_FOUND: return 404;
    case TAAP_E_USAGE:
    case TAAP_E_KEY: return strstr(err->message, "already") ? 409 : 400;
    default: return 500;
    }
}

/* Parse a JSON object body (none = {}); NULL when it is not one. */
static json_t *body_object(const srv_request *rq)
{
    json_error_t je;
    json_t *j = rq->body_len ? json_loadb((const char *)rq->body, rq->body_len,
                                          JSON_REJECT_DUPLICATES, &je)
                             : json_object();
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *str_member(json_t *j, const char *name)
{
    return json_string_value(json_object_get(j, name));
}

static taap_code not_object(taap_error *err)
{
    return taap_fail(err, TAAP_E_USAGE, "request body must be a JSON object");
}

void h_admin(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs)
{
    (void)who;
    const srv_admin_op *op = rq->route_arg;
    json_t *body = NULL;
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc;
    if (op->json_body && !(body = body_object(rq))) {
        rc = not_object(&err);
    } else {
        rc = op->call(s, rq, body, &out, &err);
        rs->no_store = op->no_store;
    }
    json_decref(body);
    if (rc != TAAP_OK) {
        free(out);
        srv_error(rs, status_for(&err, rc), NULL, "%s", err.message);
        return;
    }
    if (op->ok_status == 204) {
        free(out);
        rs->status = 204;
        return;
    }
    srv_json_text(rs, op->ok_status, out);
}

/* ---- the calls ------------------------------------------------------------------- */

static taap_code app_create(taap_server *s, const srv_request *rq, json_t *body, char **out,
                            taap_error *err)
{
    (void)rq;
    return taap_serve_app_create(s, str_member(body, "name"), str_member(body, "account"), out,
                                 err);
}

static taap_code app_list(taap_server *s, const srv_request *rq, json_t *body, char **out,
                          taap_error *err)
{
    (void)rq;
    (void)body;
    return taap_serve_app_list(s, out, err);
}

static taap_code app_show(taap_server *s, const srv_request *rq, json_t *body, char **out,
                          taap_error *err)
{
    (void)body;
    return taap_serve_app_show(s, rq->param[0], out, err);
}

static taap_code app_delete(taap_server *s, const srv_request *rq, json_t *body, char **out,
                            taap_error *err)
{
    (void)body;
    (void)out;
    return taap_serve_app_delete(s, rq->param[0], err);
}

/* The key as {"publicKey": "<PEM>"} / {"publicKey": {JWK}} in a JSON body,
 * or pasted as the raw body (text/plain, application/x-pem-file). */
static taap_code key_add(taap_server *s, const srv_request *rq, json_t *body, char **out,
                         taap_error *err)
{
    (void)body;
    const char *ct = NULL;
    srv_header(rq, "Content-Type", &ct);
    if (!ct || taap_ascii_ncasecmp(ct, "application/json", 16) != 0)
        return taap_serve_key_add(s, rq->param[0], rq->body ? (const void *)rq->body : "",
                                  rq->body_len, out, err);
    json_t *j = body_object(rq);
    if (!j)
        return not_object(err);
    json_t *k = json_object_get(j, "publicKey");
    char *text = json_is_string(k)   ? strdup(json_string_value(k))
                 : json_is_object(k) ? json_dumps(k, JSON_COMPACT)
                                     : NULL;
    json_decref(j);
    if (!text)
        return taap_fail(err, TAAP_E_USAGE,
                         "JSON body needs \"publicKey\": the PEM text (or a JWK object)");
    taap_code rc = taap_serve_key_add(s, rq->param[0], text, strlen(text), out, err);
    free(text);
    return rc;
}

static taap_code key_list(taap_server *s, const srv_request *rq, json_t *body, char **out,
                          taap_error *err)
{
    (void)body;
    return taap_serve_key_list(s, rq->param[0], out, err);
}

static taap_code key_delete(taap_server *s, const srv_request *rq, json_t *body, char **out,
                            taap_error *err)
{
    (void)body;
    (void)out;
    return taap_serve_key_delete(s, rq->param[0], rq->param[1], err);
}

static taap_code subscribe(taap_server *s, const srv_request *rq, json_t *body, char **out,
                           taap_error *err)
{
    return taap_serve_app_subscribe(s, rq->param[0], str_member(body, "api"), out, err);
}

static taap_code unsubscribe(taap_server *s, const srv_request *rq, json_t *body, char **out,
                             taap_error *err)
{
    (void)body;
    (void)out;
    return taap_serve_app_unsubscribe(s, rq->param[0], rq->param[1], err);
}

static taap_code kit_activate(taap_server *s, const srv_request *rq, json_t *body, char **out,
                              taap_error *err)
{
    (void)rq;
    const char *app = str_member(body, "app"), *acct = str_member(body, "account");
    if (!app && !acct)
        return taap_fail(err, TAAP_E_USAGE, "body needs {\"app\":NAME} or {\"account\":NAME}");
    return taap_serve_kit_activate_ids(s, app, acct, str_member(body, "imei"),
                                       str_member(body, "iccid"), out, err);
}

static taap_code device_status(taap_server *s, const srv_request *rq, json_t *body, char **out,
                               taap_error *err)
{
    return taap_serve_device_set_status(s, rq->param[0], str_member(body, "status"), out, err);
}

static taap_code device_list(taap_server *s, const srv_request *rq, json_t *body, char **out,
                             taap_error *err)
{
    (void)body;
    char account[80] = "";
    if (rq->query && strncmp(rq->query, "account=", 8) == 0)
        snprintf(account, sizeof account, "%s", rq->query + 8);
    return taap_serve_device_list(s, account[0] ? account : NULL, out, err);
}

/* ---- the table rows (routes.c names them) ------------------------------------------ */

const srv_admin_op srv_admin_app_create = {app_create, 201, 1, 1};
const srv_admin_op srv_admin_app_list = {app_list, 200, 0, 0};
const srv_admin_op srv_admin_app_show = {app_show, 200, 0, 0};
const srv_admin_op srv_admin_app_delete = {app_delete, 204, 0, 0};
const srv_admin_op srv_admin_key_add = {key_add, 201, 0, 0};
const srv_admin_op srv_admin_key_list = {key_list, 200, 0, 0};
const srv_admin_op srv_admin_key_delete = {key_delete, 204, 0, 0};
const srv_admin_op srv_admin_subscribe = {subscribe, 200, 1, 0};
const srv_admin_op srv_admin_unsubscribe = {unsubscribe, 204, 0, 0};
const srv_admin_op srv_admin_kit_activate = {kit_activate, 201, 1, 0};
const srv_admin_op srv_admin_device_list = {device_list, 200, 0, 0};
const srv_admin_op srv_admin_device_status = {device_status, 200, 1, 0};
