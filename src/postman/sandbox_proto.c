/*
 * sandbox_proto.c — the messages between taap and the script host
 * (protocol v1, documented in src/postman/sandbox/host.js): the exec and
 * response lines taap writes, and the folding of what the host answers into
 * a pm_sb_result. Pure functions over jansson values, so the protocol is
 * unit-tested without node.
 */
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "pm.h"
#include "sandbox.h"

char *pm_sb_b64(const void *data, size_t len)
{
    char *out = malloc(TAAP_B64STD_LEN(len) + 1);
    if (out)
        taap_b64std_encode(data, len, out);
    return out;
}

unsigned char *pm_sb_unb64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        return NULL;
    if (n && taap_b64_decode_lenient(s, n, out, len) != 0) {
        free(out);
        return NULL;
    }
    if (!n)
        *len = 0;
    out[*len] = '\0';
    return out;
}

static char *line_of(json_t *msg)
{
    char *s = msg ? json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(msg);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

char *pm_sb_encode_exec(const char *id, const pm_sb_exec *x)
{
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:I, s:O?, s:O?}", "t", "exec", "id", id,
                          "listen", x->listen, "script", x->script ? x->script : "", "timeout",
                          (json_int_t)x->timeout_ms, "context", x->context, "info", x->info);
    return line_of(m);
}

char *pm_sb_encode_response(const char *id, json_int_t rid, const json_t *response,
                            const char *error)
{
    json_t *m = json_pack("{s:s, s:s, s:I}", "t", "response", "id", id, "rid", rid);
    if (!m)
        return NULL;
    if (error) {
        json_object_set_new(m, "error", json_string(error));
    } else {
        json_object_set_new(m, "error", json_null());
        json_object_set(m, "response", (json_t *)response);
    }
    return line_of(m);
}

static char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? taap_strndup(json_string_value(v), json_string_length(v)) : NULL;
}

void pm_sb_result_clear(pm_sb_result *r)
{
    free(r->error_name);
    free(r->error_message);
    for (size_t i = 0; i < r->n_asserts; i++) {
        free(r->asserts[i].name);
        free(r->asserts[i].error_name);
        free(r->asserts[i].error_message);
    }
    free(r->asserts);
    for (size_t i = 0; i < r->n_logs; i++) {
        free(r->logs[i].level);
        taap_free_secret_str(r->logs[i].text); /* a script may print a secret */
    }
    free(r->logs);
    json_decref(r->vars);
    free(r->next_request);
    json_decref(r->request);
    memset(r, 0, sizeof *r);
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(*v, nc * size);
    if (!p)
        return -1;
    *v = p;
    *cap = nc;
    return 0;
}

static int fold_assertion(json_t *msg, pm_sb_result *r, taap_error *err)
{
    json_t *name = json_object_get(msg, "name");
    if (!json_is_string(name))
        return taap_fail(err, TAAP_E_MALFORMED, "script host: an assertion without a name"), -1;
    if (grow((void **)&r->asserts, &r->cap_asserts, r->n_asserts, sizeof *r->asserts))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory"), -1;
    pm_sb_assertion *a = &r->asserts[r->n_asserts++];
    memset(a, 0, sizeof *a);
    a->name = str_of(msg, "name");
    a->passed = json_is_true(json_object_get(msg, "passed"));
    a->skipped = json_is_true(json_object_get(msg, "skipped"));
    json_t *e = json_object_get(msg, "error");
    if (json_is_object(e)) {
        a->error_name = str_of(e, "name");
        a->error_message = str_of(e, "message");
        a->passed = 0; /* an assertion with an error never counts as passed */
    }
    return a->name ? PM_SB_MSG_EVENT : (taap_fail(err, TAAP_E_NOMEM, "out of memory"), -1);
}

static int fold_console(json_t *msg, pm_sb_result *r, taap_error *err)
{
    if (grow((void **)&r->logs, &r->cap_logs, r->n_logs, sizeof *r->logs))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory"), -1;
    pm_sb_log *l = &r->logs[r->n_logs++];
    l->level = str_of(msg, "level");
    l->text = str_of(msg, "text");
    if (!l->level)
        l->level = taap_strdup("log");
    if (!l->text)
        l->text = taap_strdup("");
    return l->level && l->text ? PM_SB_MSG_EVENT : (taap_fail(err, TAAP_E_NOMEM, "out of memory"), -1);
}

/* vars: {scope: {set: [[k, v]…], unset: [k…]}} with string keys and values */
static int vars_valid(json_t *vars)
{
    const char *scope;
    json_t *s;
    json_object_foreach(vars, scope, s) {
        json_t *set = json_object_get(s, "set"), *unset = json_object_get(s, "unset");
        if (!json_is_object(s) || (set && !json_is_array(set)) || (unset && !json_is_array(unset)))
            return 0;
        size_t i;
        json_t *e;
        json_array_foreach(set, i, e) {
            if (!json_is_array(e) || json_array_size(e) != 2 ||
                !json_is_string(json_array_get(e, 0)) || !json_is_string(json_array_get(e, 1)))
                return 0;
        }
        json_array_foreach(unset, i, e) {
            if (!json_is_string(e))
                return 0;
        }
    }
    return 1;
}

static int fold_done(json_t *msg, pm_sb_result *r, taap_error *err)
{
    json_t *e = json_object_get(msg, "error");
    if (json_is_object(e)) {
        r->error_name = str_of(e, "name");
        r->error_message = str_of(e, "message");
        if (!r->error_name)
            r->error_name = taap_strdup("Error");
        if (!r->error_message)
            r->error_message = taap_strdup("the script failed");
    }
    r->skip_request = json_is_true(json_object_get(msg, "skipRequest"));
    json_t *next = json_object_get(msg, "nextRequest");
    if (next) {
        r->next_set = 1;
        r->next_request = str_of(msg, "nextRequest"); /* null → stop the run */
    }
    json_t *vars = json_object_get(msg, "vars");
    if (vars) {
        if (!json_is_object(vars) || !vars_valid(vars))
            return taap_fail(err, TAAP_E_MALFORMED, "script host: malformed variables"), -1;
        r->vars = json_incref(vars);
    }
    json_t *rq = json_object_get(msg, "request");
    if (rq) {
        if (!json_is_object(rq))
            return taap_fail(err, TAAP_E_MALFORMED, "script host: malformed request"), -1;
        r->request = json_incref(rq);
    }
    return PM_SB_MSG_DONE;
}

int pm_sb_fold(json_t *msg, const char *id, pm_sb_result *r, taap_error *err)
{
    const char *t = json_string_value(json_object_get(msg, "t"));
    if (!json_is_object(msg) || !t)
        return taap_fail(err, TAAP_E_MALFORMED, "script host: a message without a type"), -1;
    if (!strcmp(t, "fatal"))
        return taap_fail(err, TAAP_E_CONFIG, "script host: %s",
                         json_string_value(json_object_get(msg, "message"))
                             ? json_string_value(json_object_get(msg, "message"))
                             : "failed"),
               -1;
    const char *mid = json_string_value(json_object_get(msg, "id"));
    /* console lines from a timer of an earlier script carry its id: keep
     * them with the script under way only when they are this one's */
    if (!mid || strcmp(mid, id) != 0)
        return PM_SB_MSG_IGNORED;
    if (r->n_asserts + r->n_logs >= PM_SB_MAX_EVENTS &&
        (!strcmp(t, "assertion") || !strcmp(t, "console")))
        return taap_fail(err, TAAP_E_MALFORMED,
                         "script host: more than %u assertions and console lines in one script",
                         PM_SB_MAX_EVENTS),
               -1;
    if (!strcmp(t, "assertion"))
        return fold_assertion(msg, r, err);
    if (!strcmp(t, "console"))
        return fold_console(msg, r, err);
    if (!strcmp(t, "request")) {
        if (!json_is_integer(json_object_get(msg, "rid")) ||
            !json_is_string(json_object_get(msg, "url")))
            return taap_fail(err, TAAP_E_MALFORMED, "script host: malformed request"), -1;
        return PM_SB_MSG_REQUEST;
    }
    if (!strcmp(t, "done"))
        return fold_done(msg, r, err);
    return PM_SB_MSG_IGNORED;
}

int pm_sb_check_hello(json_t *msg, char *version, size_t cap, taap_error *err)
{
    const char *t = json_string_value(json_object_get(msg, "t"));
    if (t && !strcmp(t, "fatal")) {
        const char *m = json_string_value(json_object_get(msg, "message"));
        return taap_fail(err, TAAP_E_CONFIG, "script host: %s", m ? m : "failed"), -1;
    }
    if (!t || strcmp(t, "hello") != 0)
        return taap_fail(err, TAAP_E_MALFORMED, "script host: no hello"), -1;
    json_t *v = json_object_get(msg, "v");
    if (!json_is_integer(v) || json_integer_value(v) != PM_SB_PROTOCOL)
        return taap_fail(err, TAAP_E_CONFIG,
                         "script host speaks protocol %lld, taap speaks %d: host.js and taap "
                         "come from different versions (reinstall taap)",
                         json_is_integer(v) ? (long long)json_integer_value(v) : -1LL,
                         PM_SB_PROTOCOL),
               -1;
    const char *sv = json_string_value(json_object_get(msg, "sandbox"));
    snprintf(version, cap, "%s", sv ? sv : "?");
    return 0;
}
