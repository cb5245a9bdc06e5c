/*
 * script.c — an item's scripts in Postman's own sandbox (sandbox.h), in
 * Newman's order: the pre-request scripts of the collection, the folders
 * (outermost first) and the item before the request is built; the test
 * scripts in the same order after the response. What a script does flows
 * back into the run: variables (all scopes), pm.request changes (applied
 * before taap builds and signs the request), assertions, console lines,
 * skipRequest and setNextRequest. A script's pm.sendRequest is sent by taap
 * with the worker's transport.
 *
 * PoP scripts stay native (issue 12 item 2): a pre-request script that
 * builds a PoP with jsrsasign runs with a preamble that makes jsrsasign a
 * harmless stand-in (its eval of the library is skipped, KJUR & co. return
 * a placeholder) while everything else it does runs as written; taap then
 * signs the PoP natively, last, over the exact bytes it sends. The library
 * itself is never downloaded: pm.sendRequest to a jsrsasign URL is answered
 * by taap without touching the network.
 *
 * A script that does not run (--ignore-scripts, or a request taap does not
 * send) is never a pass: its pm.test names are listed as "not run".
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "sandbox.h"

/* Prepended (one line, so error line numbers stay the script's own) to a
 * pre-request script that signs a PoP with jsrsasign. */
static const char pop_preamble[] =
    "var __taapRealEval = (function () { return this.eval; })(), __taapPop = (function () { "
    "var P = 'taap-native-pop'; var s = new Proxy(function () {}, { get: function (t, p) { "
    "if (p === Symbol.toPrimitive || p === 'toString' || p === 'valueOf' || p === 'toJSON') "
    "{ return function () { return P; }; } if (p === 'then') { return undefined; } return s; "
    "}, apply: function () { return P; }, construct: function () { return s; } }); return s; "
    "})(), KJUR = __taapPop, KEYUTIL = __taapPop, RSAKey = __taapPop, jsrsasign = __taapPop, "
    "X509 = __taapPop, ASN1HEX = __taapPop, hextob64u = __taapPop, hextob64 = __taapPop, "
    "b64utohex = __taapPop, b64tohex = __taapPop, utf8tob64u = __taapPop, b64utoutf8 = "
    "__taapPop, stob64u = __taapPop, hex2b64 = __taapPop, rstrtohex = __taapPop, eval = "
    "function (src) { return (src === undefined || src === null || "
    "/KJUR|jsrsasign/.test(String(src).slice(0, 65536))) ? undefined : __taapRealEval(src); };";

/* What a script sees instead of a private key held in a variable: the key
 * stays in taap (it signs the PoP natively). */
static const char key_placeholder[] = "<private key: kept by taap, signs natively>";

/* The body taap hands a script that asks for jsrsasign. */
static const char jsrsasign_stub[] =
    "/* jsrsasign: not downloaded - taap signs PoP tokens natively */";

int pm_script_is_pop(const char *text)
{
    pm_script_info si;
    pm_script_analyze(text, &si);
    return si.pop || si.loads_lib;
}

/* ---- static view of a script: the assertions it would make ----------------- */

static const char *js_string_at(const char *p, char *out, size_t cap)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    char q = *p;
    if (q != '\'' && q != '"' && q != '`')
        return NULL;
    size_t n = 0;
    for (p++; *p && *p != q; p++) {
        if (*p == '\\' && p[1])
            p++;
        if (n + 1 < cap)
            out[n++] = *p;
    }
    out[n] = '\0';
    return *p == q ? p + 1 : NULL;
}

/* Add the names of pm.test(...) and tests[...] in `text` as not run. */
static void add_not_run(pm_outcome *oc, const char *text, const char *event, const char *where)
{
    static const char *const calls[] = {"pm.test(", "pm.test.skip(", "tests["};
    size_t found = 0;
    for (size_t c = 0; c < 3; c++)
        for (const char *p = strstr(text, calls[c]); p; p = strstr(p + 1, calls[c])) {
            char name[256];
            if (!js_string_at(p + strlen(calls[c]), name, sizeof name))
                continue;
            pm_assertions_add(&oc->asserts, name, PM_ASSERT_NOT_RUN, NULL, NULL, event);
            found++;
        }
    if (!found && (strstr(text, "pm.expect") || strstr(text, "pm.response.to"))) {
        char name[300];
        snprintf(name, sizeof name, "%s script of \"%s\"", event, where);
        pm_assertions_add(&oc->asserts, name, PM_ASSERT_NOT_RUN, NULL, NULL, event);
    }
}

/* ---- the chain of scripts of an item ------------------------------------------ */

/* The item and its ancestors, outermost (the collection) first. */
static size_t chain_of(const pm_item *it, const pm_item **out, size_t cap)
{
    size_t n = 0;
    for (const pm_item *p = it; p && n < cap; p = p->parent)
        out[n++] = p;
    for (size_t i = 0; i < n / 2; i++) {
        const pm_item *t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return n;
}

static const char *script_of(const pm_item *p, int test)
{
    return test ? p->test : p->prerequest;
}

int pm_item_has_scripts(const pm_item *it, int test)
{
    for (const pm_item *p = it; p; p = p->parent)
        if (script_of(p, test))
            return 1;
    return 0;
}

void pm_scripts_not_run(pm_run *cx, const pm_item *it, int test, pm_outcome *oc)
{
    const pm_item *chain[TAAP_COLLECTION_MAX_DEPTH + 2];
    size_t n = chain_of(it, chain, sizeof chain / sizeof chain[0]);
    for (size_t i = 0; i < n; i++) {
        const char *text = script_of(chain[i], test);
        if (text)
            add_not_run(oc, text, test ? "test" : "prerequest",
                        chain[i]->parent ? chain[i]->path : taap_collection_name(cx->c));
    }
}

/* ---- set-up: are there scripts, and can they run? --------------------------------- */

taap_code pm_scripts_setup(pm_run *cx, taap_error *err)
{
    int any = 0;
    for (size_t i = 0; i < cx->n_plan && !any; i++)
        any = pm_item_has_scripts(cx->plan[i].it, 0) || pm_item_has_scripts(cx->plan[i].it, 1);
    cx->scripts = any ? (cx->o->ignore_scripts ? PM_SCRIPTS_IGNORED : PM_SCRIPTS_RUN)
                      : PM_SCRIPTS_NONE;
    if (cx->scripts != PM_SCRIPTS_RUN)
        return TAAP_OK;
    return pm_sandbox_locate(cx->o->node, cx->o->sandbox_dir, &cx->sb_where, err);
}

/* Warnings and notes about the scripts on an item's path, once each (under
 * cx->lock): every ignored script is listed; a PoP script says it is
 * signed natively. */
void pm_scripts_notes(pm_run *cx, const pm_item *it)
{
    for (const pm_item *p = it; p; p = p->parent) {
        const char *where = p->parent ? p->path : "collection";
        for (int test = 0; test < 2; test++) {
            const char *text = script_of(p, test);
            if (!text)
                continue;
            char key[64], msg[700];
            snprintf(key, sizeof key, "script:%d:%p", test, (const void *)p);
            if (!pm_first_time(cx, key))
                continue;
            const char *k = test ? "test" : "pre-request";
            if (cx->scripts == PM_SCRIPTS_IGNORED) {
                snprintf(msg, sizeof msg,
                         "%s script of \"%s\" ignored (--ignore-scripts): its assertions are "
                         "reported as not run",
                         k, where);
                pm_emit(cx, TAAP_RUN_EV_WARNING, 0, p->path, msg, NULL);
            }
        }
    }
    if (cx->scripts != PM_SCRIPTS_RUN)
        return;
    /* PoP: once per item whose pre-request chain signs one */
    for (const pm_item *p = it; p; p = p->parent) {
        if (!p->prerequest || !pm_script_is_pop(p->prerequest))
            continue;
        char key[64], msg[700];
        snprintf(key, sizeof key, "pop:%p", (const void *)it);
        if (pm_first_time(cx, key)) {
            snprintf(msg, sizeof msg,
                     "\"%s\": the PoP token is signed natively by taap; the jsrsasign part of "
                     "the pre-request script of \"%s\" is replaced (jsrsasign is never "
                     "downloaded), the rest of the script runs in the sandbox",
                     it->path, p->parent ? p->path : "collection");
            pm_emit(cx, TAAP_RUN_EV_NOTE, 0, it->path, msg, NULL);
        }
        break;
    }
}

/* ---- context for one script -------------------------------------------------------- */

static json_t *jstr_lossy(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *c = taap_strndup(s, n); /* not UTF-8: non-ASCII bytes become '?' */
    if (!c)
        return NULL;
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(c);
    free(c);
    return j;
}

/* A scope as [[key, value]…]; a private key is never handed to a script. */
static json_t *scope_json(const pm_scope *s)
{
    json_t *a = json_array();
    for (size_t i = 0; s && a && i < s->n; i++) {
        const char *v = strstr(s->v[i].value, "PRIVATE KEY") ? key_placeholder : s->v[i].value;
        json_array_append_new(a, json_pack("[o,o]", jstr_lossy(s->v[i].key, strlen(s->v[i].key)),
                                           jstr_lossy(v, strlen(v))));
    }
    return a;
}

static json_t *data_json(const pm_scope *s)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < s->n; i++)
        json_object_set_new(o, s->v[i].key, jstr_lossy(s->v[i].value, strlen(s->v[i].value)));
    return o;
}

/* The request as sent, for test scripts (Postman request JSON). */
static json_t *sent_request_json(const pm_built *b)
{
    json_t *h = json_array();
    for (size_t i = 0; h && i < b->nh; i++)
        json_array_append_new(h, json_pack("{s:o,s:o}", "key", jstr_lossy(b->hn[i], strlen(b->hn[i])),
                                           "value", jstr_lossy(b->hv[i], strlen(b->hv[i]))));
    json_t *r = json_pack("{s:s?, s:s?, s:o}", "method", b->method, "url", b->url, "header", h);
    if (r && b->body && b->body_len)
        json_object_set_new(r, "body", json_pack("{s:s, s:o}", "mode", "raw", "raw",
                                                 jstr_lossy(b->body, b->body_len)));
    return r;
}

static json_t *headers_json(const taap_header *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("[o,o]", jstr_lossy(h[i].name, strlen(h[i].name)),
                                           jstr_lossy(h[i].value, strlen(h[i].value))));
    return a;
}

static json_t *response_json(const pm_http_resp *resp)
{
    char *b64 = pm_sb_b64(resp->body ? resp->body : "", resp->body ? resp->body_len : 0);
    json_t *r = json_pack("{s:I, s:s, s:o, s:s, s:I}", "code", (json_int_t)resp->status, "status",
                          resp->reason ? resp->reason : "", "header",
                          headers_json(resp->headers, resp->n_headers), "body64", b64 ? b64 : "",
                          "time", (json_int_t)resp->time_ms);
    free(b64);
    return r;
}

/* Scopes, data and the request, read under cx->lock. */
static json_t *context_json(pm_worker *w, json_t *request, const pm_http_resp *resp)
{
    pm_run *cx = w->cx;
    json_t *c = json_pack("{s:o, s:o, s:o, s:o, s:o}", "environment",
                          scope_json(pm_varset_scope(cx->env)), "globals",
                          scope_json(pm_varset_scope(cx->globals)), "collectionVariables",
                          scope_json(&cx->coll), "_variables", scope_json(&cx->local), "data",
                          data_json(&w->data));
    if (c && request)
        json_object_set(c, "request", request);
    if (c && resp)
        json_object_set_new(c, "response", response_json(resp));
    return c;
}

static json_t *info_json(pm_worker *w, const pm_item *it, const pm_item *owner)
{
    json_t *path = json_array();
    const pm_item *chain[TAAP_COLLECTION_MAX_DEPTH + 2];
    size_t n = chain_of(it, chain, sizeof chain / sizeof chain[0]);
    for (size_t i = 1; path && i < n; i++) /* folder names and the item's (not the collection) */
        json_array_append_new(path, json_string(chain[i]->name ? chain[i]->name : ""));
    const char *owner_name = owner->parent ? owner->name : taap_collection_name(w->cx->c);
    return json_pack("{s:i, s:i, s:s?, s:s?, s:o, s:s?}", "iteration", (int)w->iteration,
                     "iterations", (int)w->cx->iterations, "itemId", it->id, "itemName", it->name,
                     "itemPath", path, "eventItemName", owner_name);
}

/* ---- a script's pm.sendRequest ------------------------------------------------------ */

static int send_for_script(void *ctx, const json_t *req, json_t **out, char *err, size_t cap)
{
    pm_worker *w = ctx;
    pm_run *cx = w->cx;
    const char *url = json_string_value(json_object_get(req, "url"));
    if (pm_is_jsrsasign_url(url)) { /* never fetch code: signing is native */
        char *b64 = pm_sb_b64(jsrsasign_stub, strlen(jsrsasign_stub));
        *out = json_pack("{s:i, s:s, s:[], s:s, s:i}", "code", 200, "status", "OK", "header",
                         "body64", b64 ? b64 : "", "time", 0);
        free(b64);
        return *out ? 0 : -1;
    }
    json_t *h = json_object_get(req, "header");
    size_t nh = json_array_size(h);
    const char **hn = calloc(nh + 1, sizeof *hn), **hv = calloc(nh + 1, sizeof *hv);
    size_t body_len = 0;
    const char *b64 = json_string_value(json_object_get(req, "body64"));
    unsigned char *body = pm_sb_unb64(b64 ? b64 : "", &body_len);
    if (!hn || !hv || !body) {
        free(hn);
        free(hv);
        free(body);
        snprintf(err, cap, "pm.sendRequest: out of memory or a bad body");
        return -1;
    }
    for (size_t i = 0; i < nh; i++) {
        hn[i] = json_string_value(json_array_get(json_array_get(h, i), 0));
        hv[i] = json_string_value(json_array_get(json_array_get(h, i), 1));
        if (!hn[i] || !hv[i])
            hn[i] = hv[i] = "";
    }
    const char *method = json_string_value(json_object_get(req, "method"));
    char *enc = pm_url_encode_loose(url);
    pm_http_req hr = {method ? method : "GET", enc ? enc : url, hn, hv, nh, body, body_len, NULL,
                      cx->o->timeout_ms, cx->o->insecure, cx->o->cacert, cx->o->connect_to,
                      cx->o->n_connect_to, 0};
    pm_http_resp resp;
    memset(&resp, 0, sizeof resp);
    int sr = w->http->ops->send(w->http, &hr, &resp);
    if (sr != 0)
        snprintf(err, cap, "%s", resp.error[0] ? resp.error : "the request failed");
    else
        *out = response_json(&resp);
    pm_http_resp_clear(&resp);
    free(enc);
    free(hn);
    free(hv);
    free(body);
    return sr != 0 ? -1 : (*out ? 0 : -1);
}

/* ---- applying what a script did ----------------------------------------------------- */

static void scope_unset(pm_scope *s, const char *key)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0) {
            free(s->v[i].key);
            taap_free_secret_str(s->v[i].value);
            memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
            s->n--;
            return;
        }
}

/* Variables a script set or unset (under cx->lock). A value put in a
 * secret-looking name is redacted from then on. */
static void apply_vars(pm_run *cx, json_t *vars)
{
    static const char *const names[] = {"environment", "globals", "collectionVariables",
                                        "_variables"};
    pm_scope *scopes[] = {pm_varset_scope(cx->env), pm_varset_scope(cx->globals), &cx->coll,
                          &cx->local};
    for (size_t s = 0; s < 4; s++) {
        json_t *m = json_object_get(vars, names[s]);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(m, "set"), i, e) {
            const char *k = json_string_value(json_array_get(e, 0));
            const char *v = json_string_value(json_array_get(e, 1));
            if (!strcmp(v, key_placeholder))
                continue; /* the stand-in copied back: the key stays as it was */
            if (s == 0)
                taap_varset_set(cx->env, k, v, NULL);
            else if (s == 1)
                taap_varset_set(cx->globals, k, v, NULL);
            else
                pm_scope_set(scopes[s], k, v, 0);
            if (pm_name_sensitive(k) || strstr(v, "PRIVATE KEY"))
                pm_secrets_add(&cx->secrets, v);
        }
        json_array_foreach(json_object_get(m, "unset"), i, e) {
            scope_unset(scopes[s], json_string_value(e));
        }
    }
}

/* Assertions, errors, console lines and flow control into the outcome and
 * the worker (under cx->lock). */
static void apply_result(pm_worker *w, const pm_item *it, const char *event, pm_sb_result *r,
                         pm_outcome *oc, const char *where)
{
    pm_run *cx = w->cx;
    for (size_t i = 0; i < r->n_asserts; i++) {
        const pm_sb_assertion *a = &r->asserts[i];
        pm_assert_status st = a->skipped  ? PM_ASSERT_SKIPPED
                              : a->passed ? PM_ASSERT_PASSED
                                          : PM_ASSERT_FAILED;
        pm_assertions_add(&oc->asserts, a->name, st, a->error_name, a->error_message, event);
    }
    for (size_t i = 0; i < r->n_logs; i++) {
        char *text = cx->o->no_redact ? taap_strdup(r->logs[i].text)
                                      : pm_redact(&cx->secrets, r->logs[i].text);
        char msg[1200];
        snprintf(msg, sizeof msg, "%s%s%s", strcmp(r->logs[i].level, "log") ? r->logs[i].level : "",
                 strcmp(r->logs[i].level, "log") ? ": " : "", text ? text : "");
        pm_emit(cx, TAAP_RUN_EV_CONSOLE, w->iteration, it->path, msg, NULL);
        taap_free_secret_str(text);
    }
    if (r->error_name) {
        char e[400];
        snprintf(e, sizeof e, "%.60s in the %s script of \"%.100s\": %.200s", r->error_name,
                 strcmp(event, "test") ? "pre-request" : "test", where,
                 r->error_message ? r->error_message : "");
        if (!oc->script_error[0])
            snprintf(oc->script_error, sizeof oc->script_error, "%s", e);
        pm_assertions_add(&oc->script_errs, where, PM_ASSERT_FAILED, r->error_name,
                          r->error_message ? r->error_message : "", event);
    }
    if (r->vars)
        apply_vars(cx, r->vars);
    if (r->next_set) {
        free(w->next_request);
        w->next_request = r->next_request ? taap_strdup(r->next_request) : NULL;
        w->next_set = 1;
    }
}

/* ---- running one chain ------------------------------------------------------------- */

static taap_code ensure_host(pm_worker *w, taap_error *err)
{
    if (w->sb)
        return TAAP_OK;
    return pm_sandbox_start(&w->cx->sb_where, &w->sb, err);
}

/* One script of `owner` on behalf of item `it`. Returns 0, or -1 when the
 * host failed (oc->script_error says why). */
static int run_one(pm_worker *w, const pm_item *it, const pm_item *owner, int test,
                   json_t **request, const pm_built *b, const pm_http_resp *resp, pm_outcome *oc,
                   int *skip)
{
    pm_run *cx = w->cx;
    const char *text = script_of(owner, test);
    const char *where = owner->parent ? owner->path : "collection";
    pm_buf code = {0};
    if (!test && pm_script_is_pop(text))
        pm_buf_puts(&code, pop_preamble);
    pm_buf_puts(&code, text);
    json_t *sent = test && b ? sent_request_json(b) : NULL;
    pthread_mutex_lock(&cx->lock);
    json_t *ctx = context_json(w, test ? sent : *request, test ? resp : NULL);
    pthread_mutex_unlock(&cx->lock);
    json_t *info = info_json(w, it, owner);
    pm_sb_exec x = {test ? "test" : "prerequest", code.p ? code.p : "", cx->o->timeout_script_ms,
                    ctx, info, send_for_script, w};
    pm_sb_result r;
    memset(&r, 0, sizeof r);
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = code.failed || !ctx || !info ? taap_fail(&err, TAAP_E_NOMEM, "out of memory")
                                             : ensure_host(w, &err);
    if (rc == TAAP_OK)
        rc = pm_sandbox_exec(w->sb, &x, &r, &err);
    pm_buf_free(&code);
    json_decref(ctx);
    json_decref(info);
    json_decref(sent);
    if (rc != TAAP_OK) {
        oc->script_errors++;
        pm_sandbox_free(w->sb); /* a new host for the next script */
        w->sb = NULL;
        snprintf(oc->script_error, sizeof oc->script_error, "%s script of \"%.100s\" did not run: %.250s",
                 test ? "test" : "pre-request", where, err.message);
        pm_assertions_add(&oc->script_errs, where, PM_ASSERT_FAILED, "Error", oc->script_error,
                          test ? "test" : "prerequest");
        pm_sb_result_clear(&r);
        return -1;
    }
    if (test)
        oc->test_scripts++;
    else
        oc->prerequest_scripts++;
    if (r.error_name)
        oc->script_errors++;
    pthread_mutex_lock(&cx->lock);
    apply_result(w, it, test ? "test" : "prerequest", &r, oc, where);
    pthread_mutex_unlock(&cx->lock);
    if (!test && r.request) {
        json_decref(*request);
        *request = json_incref(r.request);
    }
    if (r.skip_request)
        *skip = 1;
    pm_sb_result_clear(&r);
    return 0;
}

int pm_scripts_prerequest(pm_worker *w, const pm_item *it, json_t **request, pm_outcome *oc)
{
    *request = NULL;
    if (w->cx->scripts == PM_SCRIPTS_NONE || !pm_item_has_scripts(it, 0))
        return 0;
    if (w->cx->scripts == PM_SCRIPTS_IGNORED) {
        pm_scripts_not_run(w->cx, it, 0, oc);
        return 0;
    }
    json_t *original = it->request_json ? json_incref(it->request_json)
                                        : json_pack("{s:s, s:s}", "method", it->method, "url",
                                                    it->url);
    *request = original;
    const pm_item *chain[TAAP_COLLECTION_MAX_DEPTH + 2];
    size_t n = chain_of(it, chain, sizeof chain / sizeof chain[0]);
    int skip = 0;
    for (size_t i = 0; i < n && !skip; i++)
        if (chain[i]->prerequest &&
            run_one(w, it, chain[i], 0, request, NULL, NULL, oc, &skip) != 0)
            break;
    if (*request == original) { /* unchanged */
        json_decref(*request);
        *request = NULL;
    }
    return skip;
}

void pm_scripts_test(pm_worker *w, const pm_item *it, const pm_built *b,
                     const pm_http_resp *resp, pm_outcome *oc)
{
    if (w->cx->scripts == PM_SCRIPTS_NONE || !pm_item_has_scripts(it, 1))
        return;
    if (w->cx->scripts == PM_SCRIPTS_IGNORED) {
        pm_scripts_not_run(w->cx, it, 1, oc);
        return;
    }
    const pm_item *chain[TAAP_COLLECTION_MAX_DEPTH + 2];
    size_t n = chain_of(it, chain, sizeof chain / sizeof chain[0]);
    int skip = 0;
    for (size_t i = 0; i < n; i++)
        if (chain[i]->test && run_one(w, it, chain[i], 1, NULL, b, resp, oc, &skip) != 0)
            break;
}

void pm_scripts_worker_free(pm_worker *w)
{
    pm_sandbox_free(w->sb);
    w->sb = NULL;
    free(w->next_request);
    w->next_request = NULL;
}
