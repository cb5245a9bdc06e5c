/*
 * connectivity.c — the Connectivity API's device handlers (SPEC §6): get,
 * list (status filter, paging), patch (status, rate plan). Every call here
 * has passed auth.c's TAAP check; `who` is the application's account.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

static const char *const statuses[] = {"ACTIVE", "SUSPENDED", "DEACTIVATED", "INVENTORY",
                                       "TEST_READY", NULL};

static int status_ok(const char *v)
{
    for (int i = 0; statuses[i]; i++)
        if (strcmp(v, statuses[i]) == 0)
            return 1;
    return 0;
}

/* One device of the caller's account as JSON, or NULL with rs filled. */
static json_t *device_for(taap_server *s, const srv_request *rq, const srv_principal *who,
                          srv_response *rs)
{
    const char *iccid = rq->param[0];
    const char *why = srv_iccid_problem(iccid);
    if (why) {
        srv_error(rs, 400, NULL, "malformed ICCID in the path: %s", why);
        return NULL;
    }
    json_t *dev = NULL;
    int64_t owner = 0;
    int found = store_device_get(s, iccid, 0, &dev, &owner);
    if (found != 1) {
        if (found == 0)
            srv_error(rs, 404, NULL, "no device with ICCID %s", iccid);
        else
            srv_error(rs, 500, NULL, "database error");
        return NULL;
    }
    if (owner != who->account_id) {
        json_decref(dev);
        srv_error(rs, 403, NULL, "device %s belongs to another account", iccid);
        return NULL;
    }
    return dev;
}

void h_device_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                  srv_response *rs)
{
    json_t *dev = device_for(s, rq, who, rs);
    if (dev)
        srv_json(rs, 200, dev);
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
    json_t *arr = NULL;
    int64_t total = 0;
    if (store_device_page(s, who->account_id, status[0] ? status : NULL, limit, offset, &arr,
                          &total) != 0) {
        srv_error(rs, 500, NULL, "database error");
        return;
    }
    srv_json(rs, 200,
             json_pack("{s:o, s:I, s:I, s:I}", "devices", arr, "total", (json_int_t)total, "limit",
                       (json_int_t)limit, "offset", (json_int_t)offset));
}

void h_device_patch(taap_server *s, const srv_request *rq, const srv_principal *who,
                    srv_response *rs)
{
    json_t *dev = device_for(s, rq, who, rs);
    if (!dev)
        return;
    json_decref(dev);
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
    int rc = store_device_update(s, rq->param[0], status, plan);
    json_decref(j);
    if (rc != 0) {
        srv_error(rs, 500, NULL, "database error while updating the device");
        return;
    }
    h_device_get(s, rq, who, rs);
}
