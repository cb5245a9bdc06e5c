/*
 * exec.c — one item through build → sign → send → check, with retries on
 * transport errors and 5xx (a fresh PoP each time), one token refresh
 * after a 401, and the runtime's replay when the auth answered the
 * server's challenge (digest); the iterations over the data rows; the -j N
 * workers.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run.h"

/* ---- unresolved variables (warned once per name, or fatal with --strict-vars) */

typedef struct unres_ctx {
    pm_run *cx;
    const char *path;
    char first[200];
    int count;
} unres_ctx;

static void on_unresolved(void *ud, const char *name, size_t len)
{
    unres_ctx *u = ud;
    char key[300], msg[400];
    if (!u->count)
        snprintf(u->first, sizeof u->first, "%.*s", (int)(len > 150 ? 150 : len), name);
    u->count++;
    snprintf(key, sizeof key, "var:%.*s", (int)(len > 250 ? 250 : len), name);
    if (pm_first_time(u->cx, key)) {
        snprintf(msg, sizeof msg,
                 "unresolved variable {{%.*s}} (in \"%s\"): not in the environment, data, "
                 "collection or globals; sent verbatim",
                 (int)(len > 150 ? 150 : len), name, u->path);
        pm_emit(u->cx, TAAP_RUN_EV_WARNING, 0, u->path, msg, NULL);
    }
}

/* ---- executing one item ------------------------------------------------------------- */

/* Items that are recorded without being sent: the jsrsasign download
 * (signing is native) and a token request while the token is valid.
 * Returns 1 when the item was handled here. */
static int exec_not_sent(pm_worker *w, const pm_plan_item *pi, int from_token_lock,
                         const char *why)
{
    pm_run *cx = w->cx;
    pm_outcome oc;
    memset(&oc, 0, sizeof oc);
    if (why)
        pm_note(&oc, why);
    if (pi->jsrsasign) {
        oc.skipped = oc.passed = 1;
        snprintf(oc.expect, sizeof oc.expect, "-");
        pm_note(&oc, "jsrsasign download not needed: PoP tokens are signed natively");
        pm_record_result(w, pi, NULL, &oc); /* skipped: its scripts do not run */
        return 1;
    }
    /* a token request while the token is valid is not sent (taap's token
     * reuse): like a request a script skipped, its scripts do not run and
     * it is reported as skipped, never as passed assertions */
    if (!pi->is_token || from_token_lock)
        return 0;
    /* the token request: parallel workers share one token */
    pthread_mutex_lock(&cx->token_lock);
    pthread_mutex_lock(&cx->lock);
    int valid = pm_token_valid(cx);
    char n[96];
    if (cx->token_exp)
        snprintf(n, sizeof n, "not sent: the access token is valid for %lld s more",
                 (long long)(cx->token_exp - pm_now(cx)));
    else
        snprintf(n, sizeof n, "not sent: the access token from this run is reused");
    pthread_mutex_unlock(&cx->lock);
    if (valid) {
        pthread_mutex_unlock(&cx->token_lock);
        oc.skipped = oc.passed = 1;
        snprintf(oc.expect, sizeof oc.expect, "-");
        pm_note(&oc, n);
        pm_record_result(w, pi, NULL, &oc);
    } else {
        pm_exec_item(w, pi, 1, why);
        pthread_mutex_unlock(&cx->token_lock);
    }
    return 1;
}

/* Fetch or refresh the token this request needs. A missing token is
 * fetched here only when the token request is not in the plan (e.g.
 * --folder Connectivity): otherwise it has run (and failed) already, or
 * runs in its turn. */
static void exec_token_first(pm_worker *w, const pm_plan_item *pi)
{
    pm_run *cx = w->cx;
    if (pi->is_token || !cx->token_item || !pm_mentions_token(cx, pi->it))
        return;
    pthread_mutex_lock(&cx->lock);
    const char *tv = pm_lookup_var(w, cx->access_var);
    int missing = !tv || !*tv;
    int expiring = cx->have_token && !pm_token_valid(cx);
    pthread_mutex_unlock(&cx->lock);
    if ((missing && !cx->token_in_plan) || expiring)
        pm_token_ensure(w, 0, 0,
                        missing ? "fetched automatically: a later request needs a token"
                                : "refreshed before expiry");
}

/* The request could not be built (`during` what): a config error naming
 * the item and why. Returns -1. */
static int exec_build_failed(pm_outcome *oc, const pm_plan_item *pi, const char *during,
                             const pm_built *b)
{
    oc->config = 1;
    snprintf(oc->error, sizeof oc->error, "%s: %s%s", pi->it->path, during,
             b->err[0] ? b->err : "out of memory");
    return -1;
}

/* b's warnings as Newman's console warns (caller holds cx->lock). */
static void exec_console_warnings(pm_worker *w, const pm_plan_item *pi, const pm_built *b)
{
    for (const char *l = b->warnings.len ? b->warnings.p : ""; *l;) {
        size_t n = strcspn(l, "\n");
        char msg[600];
        snprintf(msg, sizeof msg, "warn: %.*s", (int)(n > 580 ? 580 : n), l);
        pm_emit(w->cx, TAAP_RUN_EV_CONSOLE, w->iteration, pi->it->path, msg, NULL);
        l += n + (l[n] == '\n');
    }
}

/* A fresh PoP over b's bytes into its X-Authorization header. 0, or -1
 * with oc->config set. */
static int exec_sign_pop(pm_run *cx, pm_built *b, pm_outcome *oc)
{
    char e[300];
    if (!cx->key)
        snprintf(e, sizeof e, "no private key for the PoP token");
    else if (pm_pop_sign(cx, b, e, sizeof e) == 0)
        return 0;
    oc->config = 1;
    snprintf(oc->error, sizeof oc->error, "%s", e);
    return -1;
}

/* Build, sign and check one attempt's bytes. 0, or -1 with oc->config set
 * (*gen: the token generation the request was built with). */
static int exec_prepare(pm_worker *w, const pm_plan_item *pi, pm_built *b, pm_outcome *oc,
                        unsigned *gen)
{
    pm_run *cx = w->cx;
    pthread_mutex_lock(&cx->lock);
    int brc = pm_build_request(w, pi, b);
    *gen = cx->token_gen;
    pthread_mutex_unlock(&cx->lock);
    if (brc != 0)
        return exec_build_failed(oc, pi, "", b);
    if (b->pop && exec_sign_pop(cx, b, oc) != 0)
        return -1;
    /* warnings (and --strict-vars) for what is left unresolved in the final bytes */
    unres_ctx uc = {cx, pi->it->path, "", 0};
    pthread_mutex_lock(&cx->lock);
    if (!oc->attempts) /* files not read: Newman's console warnings, once */
        exec_console_warnings(w, pi, b);
    pm_unresolved(b->url_raw ? b->url_raw : b->url, on_unresolved, &uc);
    for (size_t i = 0; i < b->nh; i++) {
        pm_unresolved(b->hn[i], on_unresolved, &uc);
        pm_unresolved(b->hv[i], on_unresolved, &uc);
    }
    if (b->body && b->body_len == strlen(b->body))
        pm_unresolved(b->body, on_unresolved, &uc);
    pthread_mutex_unlock(&cx->lock);
    if (uc.count && cx->o->strict_vars) {
        oc->config = 1;
        snprintf(oc->error, sizeof oc->error, "unresolved variable {{%s}} (--strict-vars)",
                 uc.first);
        return -1;
    }
    return 0;
}

/* b on the wire once; what came back goes into oc. 0, or -1 on a
 * transport error (oc->error says why). */
static int exec_transmit(pm_worker *w, const pm_built *b, pm_outcome *oc, pm_http_resp *resp)
{
    pm_run *cx = w->cx;
    pm_http_resp_clear(resp);
    const char *const *hn = (const char *const *)b->hn, *const *hv = (const char *const *)b->hv;
    pm_http_req hr = {b->method, b->url, hn, hv, b->nh, b->body, b->body_len, b->body_file,
                      cx->o->timeout_ms, cx->o->insecure, cx->o->cacert, cx->o->connect_to,
                      cx->o->n_connect_to, cx->o->ignore_redirects};
    int sr = w->http->ops->send(w->http, &hr, resp);
    oc->time_ms = resp->time_ms;
    if (sr != 0) {
        oc->transport = 1;
        snprintf(oc->error, sizeof oc->error, "%s", resp->error);
        return -1;
    }
    oc->transport = 0;
    oc->error[0] = '\0';
    oc->status = resp->status;
    oc->bytes = resp->total_bytes;
    snprintf(oc->status_text, sizeof oc->status_text, "%s", resp->reason ? resp->reason : "");
    oc->dns_ms = resp->dns_ms;
    oc->connect_ms = resp->connect_ms;
    oc->tls_ms = resp->tls_ms;
    oc->ttfb_ms = resp->ttfb_ms;
    return 0;
}

/* Keep the response being replayed over: Newman reports it (a line of its
 * own, one more request). 0, or -1 on OOM. */
static int exec_keep_replayed(pm_outcome *oc)
{
    pm_exchange *v = realloc(oc->replayed, (oc->n_replayed + 1) * sizeof *v);
    if (!v)
        return -1;
    oc->replayed = v;
    pm_exchange *x = &v[oc->n_replayed++];
    x->status = oc->status;
    snprintf(x->status_text, sizeof x->status_text, "%s", oc->status_text);
    x->time_ms = oc->time_ms;
    x->bytes = oc->bytes;
    return 0;
}

/* The runtime's replay: the auth's post hook read the response (digest
 * took the server's challenge) and wants the request again, re-signed
 * (replay-controller.js: at most PM_MAX_REPLAYS times, then its warning and
 * this response stands). 1 when b is ready to go again, 0 when this
 * response is final, -1 when the replay could not be built (oc->config). */
static int exec_replay(pm_worker *w, const pm_plan_item *pi, pm_built *b, pm_outcome *oc,
                       const pm_http_resp *resp)
{
    pm_run *cx = w->cx;
    pthread_mutex_lock(&cx->lock);
    int again = pm_auth_post(w, pi->it, resp);
    if (again && oc->replays >= PM_MAX_REPLAYS) {
        pm_emit(cx, TAAP_RUN_EV_CONSOLE, w->iteration, pi->it->path,
                "warn: runtime: maximum intermediate request limit exceeded", NULL);
        again = 0;
    }
    int rc = 0;
    if (again) {
        pm_buf_free(&b->warnings);
        rc = exec_keep_replayed(oc) == 0 ? pm_auth_replay(w, pi->it, b) : -1;
        if (rc == 0)
            exec_console_warnings(w, pi, b); /* e.g. an algorithm it cannot sign with */
    }
    pthread_mutex_unlock(&cx->lock);
    if (rc != 0)
        return exec_build_failed(oc, pi, "replaying the request: ", b);
    /* Newman resends the script's PoP header as it was; taap signs every
     * request afresh (a second use of a jti is a replay to any TAAP server,
     * and the new Authorization header is one of the signed parts). */
    if (again && b->pop && exec_sign_pop(cx, b, oc) != 0)
        return -1;
    oc->replays += (unsigned)again;
    return again;
}

/* Send with retries: transport errors and 5xx are retried (each try built
 * and signed afresh), a 401 on a token-bearing request refreshes the
 * token once; within a try, an answered auth challenge is replayed (as
 * Newman does). *refreshed says whether the token was refreshed. */
static void exec_send(pm_worker *w, const pm_plan_item *pi, pm_built *b, pm_outcome *oc,
                      pm_http_resp *resp, int *refreshed)
{
    pm_run *cx = w->cx;
    unsigned tries = cx->o->retries + 1;
    for (unsigned attempt = 0; attempt < tries; attempt++) {
        if (attempt > 0 && cx->o->cancel && *cx->o->cancel)
            return; /* interrupted: no new try starts */
        pm_built_free(b);
        pm_http_resp_clear(resp);
        unsigned gen;
        if (exec_prepare(w, pi, b, oc, &gen) != 0)
            return;
        oc->attempts++;
        oc->replays = 0;
        int sr, replay = 0;
        while ((sr = exec_transmit(w, b, oc, resp)) == 0 &&
               (replay = exec_replay(w, pi, b, oc, resp)) > 0)
            ;
        if (replay < 0)
            return;
        if (sr != 0)
            continue; /* retry with a fresh PoP */
        if (pi->is_token) {
            pthread_mutex_lock(&cx->lock);
            cx->res->token_requests++;
            pthread_mutex_unlock(&cx->lock);
        }
        if (resp->status == 401 && !pi->is_token && b->uses_token && cx->token_item &&
            !*refreshed) {
            *refreshed = 1;
            pm_token_ensure(w, 1, gen, "refreshed after a 401");
            pm_note(oc, "401: token refreshed, retried");
            tries++;
            continue;
        }
        if (resp->status >= 500 && attempt + 1 < tries)
            continue;
        return;
    }
}

/* Did the response meet the expectation? (A token response must also
 * carry an access_token, which is captured.) */
static void exec_judge(pm_worker *w, const pm_plan_item *pi, pm_outcome *oc,
                       const pm_http_resp *resp)
{
    pm_run *cx = w->cx;
    if (oc->transport || oc->config || !oc->attempts) {
        if (!oc->expect[0])
            snprintf(oc->expect, sizeof oc->expect, "%s",
                     cx->n_ranges ? cx->o->expect_status : "response");
        return;
    }
    /* with test scripts the scripts decide (their assertions, judged after
     * they ran); --expect-status still applies when given */
    if (cx->scripts != PM_SCRIPTS_NONE && pm_item_has_scripts(pi->it, 1) && !cx->n_ranges) {
        oc->passed = 1;
        snprintf(oc->expect, sizeof oc->expect, "tests");
    } else {
        oc->passed = pm_status_ok(cx, pi, oc->status, oc->expect, sizeof oc->expect);
    }
    if (pi->is_token && oc->status >= 200 && oc->status <= 299) {
        pthread_mutex_lock(&cx->lock);
        int cr = pm_token_capture(cx, resp->body, oc);
        pthread_mutex_unlock(&cx->lock);
        if (cr != 0 && oc->passed) {
            oc->passed = 0;
            snprintf(oc->error, sizeof oc->error,
                     "token response has no access_token (expected OAuth 2.0 JSON)");
        }
    }
    if (!oc->passed && !oc->error[0])
        snprintf(oc->error, sizeof oc->error, "expected status %s, got %ld", oc->expect,
                 oc->status);
    if (!oc->passed && resp->body && resp->body_len) {
        size_t n = resp->body_len < 300 ? resp->body_len : 300;
        oc->detail = taap_strndup(resp->body, n);
    }
}

/* The scripts' verdict: a failed or not-run assertion, or a script that
 * threw, fails the request (never a silent pass). */
static void exec_verdict(pm_outcome *oc)
{
    size_t failed = 0, not_run = 0;
    const pm_assertion *first = NULL;
    for (size_t i = 0; i < oc->asserts.n; i++) {
        const pm_assertion *a = &oc->asserts.v[i];
        if (a->status == PM_ASSERT_FAILED && !failed++)
            first = a;
        if (a->status == PM_ASSERT_NOT_RUN)
            not_run++;
    }
    if (!failed && !not_run && !oc->script_error[0])
        return;
    oc->passed = 0;
    if (oc->error[0])
        return;
    if (oc->script_error[0])
        snprintf(oc->error, sizeof oc->error, "%s", oc->script_error);
    else if (failed)
        snprintf(oc->error, sizeof oc->error, "%zu assertion%s failed: \"%s\": %s", failed,
                 failed > 1 ? "s" : "", first->name ? first->name : "",
                 first->error_message ? first->error_message : "failed");
    else
        snprintf(oc->error, sizeof oc->error, "%zu assertion%s not run (scripts ignored)",
                 not_run, not_run > 1 ? "s" : "");
}

/* The request as a pre-request script left it: a private item with the
 * original's name, path and place in the tree (auth inheritance). */
static int exec_mutated(const pm_plan_item *pi, json_t *request, pm_item *mut,
                        pm_plan_item *pmut, pm_outcome *oc)
{
    memset(mut, 0, sizeof *mut);
    mut->name = pi->it->name;
    mut->id = pi->it->id;
    mut->path = pi->it->path;
    mut->parent = pi->it->parent;
    taap_error e = TAAP_ERROR_INIT;
    if (pm_request_parse(request, mut, &e) != TAAP_OK) {
        oc->config = 1;
        snprintf(oc->error, sizeof oc->error, "%.150s: pm.request as the pre-request script left it: %.200s",
                 pi->it->path, e.message);
        return -1;
    }
    *pmut = *pi;
    pmut->it = mut;
    return 0;
}

static void exec_mutated_free(pm_item *mut)
{
    mut->name = mut->id = mut->path = NULL; /* borrowed */
    pm_item_clear(mut);
}

void pm_exec_item(pm_worker *w, const pm_plan_item *pi, int from_token_lock, const char *why)
{
    pm_run *cx = w->cx;
    if (exec_not_sent(w, pi, from_token_lock, why))
        return;
    exec_token_first(w, pi);
    pm_outcome oc;
    memset(&oc, 0, sizeof oc);
    if (why)
        pm_note(&oc, why);
    pm_built b;
    memset(&b, 0, sizeof b);
    pm_http_resp resp;
    memset(&resp, 0, sizeof resp);
    int refreshed = 0;
    /* pre-request scripts: variables, pm.request changes, skipRequest */
    json_t *changed = NULL;
    pm_item mut;
    memset(&mut, 0, sizeof mut);
    pm_plan_item pmut = *pi;
    int skip = pm_scripts_prerequest(w, pi->it, &changed, &oc);
    int bad = changed && exec_mutated(pi, changed, &mut, &pmut, &oc) != 0;
    json_decref(changed);
    if (skip || bad) {
        oc.skipped = skip;
        oc.passed = skip;
        snprintf(oc.expect, sizeof oc.expect, "-");
        if (skip)
            pm_note(&oc, "not sent: pm.execution.skipRequest() in a pre-request script");
        exec_verdict(&oc);
        pm_record_result(w, pi, NULL, &oc);
        pm_assertions_free(&oc.asserts);
        pm_assertions_free(&oc.script_errs);
        exec_mutated_free(&mut);
        return;
    }
    exec_send(w, &pmut, &b, &oc, &resp, &refreshed);
    if (b.pop && oc.attempts)
        pm_note(&oc, oc.attempts > 1 ? "PoP signed (fresh on each try)" : "PoP signed");
    if (b.basic_from_env)
        pm_note(&oc, "Basic credentials from the environment");
    /* test scripts first, then taap's own token capture (its clock, its
     * variable names) has the last word on the token variables */
    if (!oc.transport && !oc.config && oc.attempts)
        pm_scripts_test(w, pi->it, &b, &resp, &oc);
    else if (cx->scripts != PM_SCRIPTS_NONE && pm_item_has_scripts(pi->it, 1))
        pm_scripts_not_run(cx, pi->it, 1, &oc); /* no response: its tests did not run */
    exec_judge(w, &pmut, &oc, &resp);
    exec_verdict(&oc);
    if (oc.attempts > 1 && !refreshed) {
        char n[64];
        snprintf(n, sizeof n, "%u tries", oc.attempts);
        pm_note(&oc, n);
    }
    pm_record_result(w, pi, &b, &oc);
    free(oc.detail);
    free(oc.replayed);
    /* the runtime restores the item's request after it ran: what a post
     * hook set on the item's own auth is gone; a folder's or the
     * collection's auth keeps it */
    pthread_mutex_lock(&cx->lock);
    pm_auth_state_drop(cx, pi->it->auth);
    pm_auth_state_drop(cx, mut.auth);
    pthread_mutex_unlock(&cx->lock);
    pm_assertions_free(&oc.asserts);
    pm_assertions_free(&oc.script_errs);
    exec_mutated_free(&mut);
    pm_built_free(&b);
    pm_http_resp_clear(&resp);
    if (cx->o->delay_ms) {
        struct timespec ts = {(time_t)(cx->o->delay_ms / 1000),
                              (long)(cx->o->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int pm_stopped(pm_run *cx)
{
    pthread_mutex_lock(&cx->lock);
    if (cx->o->cancel && *cx->o->cancel)
        cx->stop = cx->interrupted = 1;
    int s = cx->stop;
    pthread_mutex_unlock(&cx->lock);
    return s;
}

void pm_run_iteration(pm_worker *w, unsigned it)
{
    pm_run *cx = w->cx;
    w->iteration = it;
    pm_scope_clear(&w->data);
    pthread_mutex_lock(&cx->lock);
    pm_iterdata_scope(cx->data, it, &w->data);
    pthread_mutex_unlock(&cx->lock);
    size_t i = 0;
    while (i < cx->n_plan && !pm_stopped(cx)) {
        w->next_set = 0;
        pm_exec_item(w, &cx->plan[i], 0, NULL);
        if (!w->next_set) {
            i++;
            continue;
        }
        /* setNextRequest: jump to that item (by name, else id); null ends
         * the iteration, as in Newman */
        if (!w->next_request)
            break;
        size_t j = cx->n_plan;
        for (size_t k = 0; k < cx->n_plan && j == cx->n_plan; k++)
            if (!strcmp(cx->plan[k].it->name, w->next_request))
                j = k;
        for (size_t k = 0; k < cx->n_plan && j == cx->n_plan; k++)
            if (cx->plan[k].it->id && !strcmp(cx->plan[k].it->id, w->next_request))
                j = k;
        if (j == cx->n_plan) {
            char msg[400];
            snprintf(msg, sizeof msg,
                     "setNextRequest(\"%.300s\"): no such request in this run; the iteration "
                     "ends",
                     w->next_request);
            pthread_mutex_lock(&cx->lock);
            pm_emit(cx, TAAP_RUN_EV_WARNING, it, cx->plan[i].it->path, msg, NULL);
            pthread_mutex_unlock(&cx->lock);
            break;
        }
        i = j;
    }
}

void *pm_worker_main(void *arg)
{
    pm_worker *w = arg;
    pm_run *cx = w->cx;
    for (;;) {
        pthread_mutex_lock(&cx->lock);
        unsigned it = cx->next_iter;
        int go = !cx->stop && it < cx->iterations;
        if (go)
            cx->next_iter++;
        pthread_mutex_unlock(&cx->lock);
        if (!go)
            break;
        pm_run_iteration(w, it);
    }
    return NULL;
}
