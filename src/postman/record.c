/*
 * record.c — what the reporters see: each execution stored as a public
 * taap_run_request (every string redacted unless --no-redact), the event
 * callback, and once-only warnings.
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "taap/http.h"

/* ---- events ------------------------------------------------------------------ */

void pm_emit(pm_run *cx, taap_run_event_type type, unsigned iteration, const char *path,
                 const char *msg, const taap_run_request *rq)
{
    if (!cx->report)
        return;
    taap_run_event ev = {type, iteration, cx->iterations, cx->done, cx->total, path, msg, rq};
    cx->report(cx->rctx, &ev);
}

/* Once per key per run; caller holds cx->lock. Returns 1 the first time. */
int pm_first_time(pm_run *cx, const char *key)
{
    for (size_t i = 0; i < cx->n_warned; i++)
        if (strcmp(cx->warned[i], key) == 0)
            return 0;
    if (cx->n_warned == cx->cap_warned) {
        size_t cap = cx->cap_warned ? cx->cap_warned * 2 : 16;
        char **w = realloc(cx->warned, cap * sizeof *w);
        if (!w)
            return 1;
        cx->warned = w;
        cx->cap_warned = cap;
    }
    char *k = taap_strdup(key);
    if (k)
        cx->warned[cx->n_warned++] = k;
    return 1;
}

/* ---- recording ------------------------------------------------------------------- */

void pm_note(pm_outcome *oc, const char *s)
{
    size_t l = strlen(oc->notes);
    snprintf(oc->notes + l, sizeof oc->notes - l, "%s%s", l ? "; " : "", s);
}

static char *redact_header(pm_run *cx, const char *name, const char *value)
{
    if (cx->o->no_redact)
        return taap_strdup(value);
    if (taap_http_header_sensitive(name)) {
        const char *sp = strchr(value, ' ');
        pm_buf b = {0};
        if (sp && (size_t)(sp - value) < 16) /* keep the scheme: "Bearer <redacted>" */
            pm_buf_put(&b, value, (size_t)(sp - value) + 1);
        pm_buf_puts(&b, "<redacted>");
        return pm_buf_take(&b);
    }
    return pm_redact(&cx->secrets, value);
}

static char *red(pm_run *cx, const char *s)
{
    if (!s)
        return NULL;
    return cx->o->no_redact ? taap_strdup(s) : pm_redact(&cx->secrets, s);
}

int pm_assertions_add(pm_assertions *l, const char *name, pm_assert_status status,
                      const char *error_name, const char *error_message, const char *event)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        pm_assertion *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    pm_assertion *a = &l->v[l->n];
    memset(a, 0, sizeof *a);
    a->status = status;
    a->name = taap_strdup(name ? name : "");
    a->error_name = error_name ? taap_strdup(error_name) : NULL;
    a->error_message = error_message ? taap_strdup(error_message) : NULL;
    a->event = taap_strdup(event ? event : "test");
    if (!a->name || !a->event || (error_name && !a->error_name) ||
        (error_message && !a->error_message)) {
        free(a->name);
        free(a->error_name);
        free(a->error_message);
        free(a->event);
        return -1;
    }
    l->n++;
    return 0;
}

void pm_assertions_free(pm_assertions *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].error_name);
        free(l->v[i].error_message);
        free(l->v[i].event);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* The outcome's assertions as the public records (strings redacted). */
/* Copies (redacted) of the assertions or script failures l into *out. */
static size_t copy_assertions(pm_run *cx, taap_run_assertion **out, const pm_assertions *l)
{
    if (!l->n || !(*out = calloc(l->n, sizeof **out)))
        return 0;
    for (size_t i = 0; i < l->n; i++) {
        taap_run_assertion *a = &(*out)[i];
        a->name = red(cx, l->v[i].name);
        a->status = (taap_assertion_status)l->v[i].status;
        a->error_name = l->v[i].error_name ? taap_strdup(l->v[i].error_name) : NULL;
        a->error_message = red(cx, l->v[i].error_message);
        a->event = taap_strdup(l->v[i].event);
    }
    return l->n;
}

/* A failed assertion fails the request, and so does one that did not run
 * (never a silent pass); the first such assertion is the error shown. */
static void record_verdict(pm_record *rec, const pm_outcome *oc)
{
    taap_run_request *q = &rec->r;
    if (q->skipped)
        return;
    for (size_t i = 0; i < q->n_assertions; i++) {
        const taap_run_assertion *a = &q->assertions[i];
        if (a->status != TAAP_ASSERTION_FAILED && a->status != TAAP_ASSERTION_NOT_RUN)
            continue;
        q->passed = 0;
        if (!q->error) {
            pm_buf b = {0};
            if (a->status == TAAP_ASSERTION_FAILED)
                pm_buf_printf(&b, "%s: %s", a->name, a->error_message ? a->error_message : "failed");
            else
                pm_buf_printf(&b, "%s: not run (its script was not executed)", a->name);
            q->error = rec->own[5] = pm_buf_take(&b);
        }
    }
    (void)oc;
}

/* The responses replayed over, for the record (NULL when none or OOM). */
static taap_run_exchange *copy_replayed(const pm_outcome *oc, size_t *n)
{
    *n = 0;
    taap_run_exchange *v = oc->n_replayed ? calloc(oc->n_replayed, sizeof *v) : NULL;
    for (size_t i = 0; v && i < oc->n_replayed; i++) {
        const pm_exchange *x = &oc->replayed[i];
        v[i].status = x->status;
        v[i].status_text = x->status_text[0] ? taap_strdup(x->status_text) : NULL;
        v[i].time_ms = x->time_ms;
        v[i].response_bytes = x->bytes;
        *n = i + 1;
    }
    return v;
}

/* The item's place in the plan (Newman's cursor.position). */
static size_t plan_position(const pm_run *cx, const pm_item *it)
{
    for (size_t i = 0; i < cx->n_plan; i++)
        if (cx->plan[i].it == it)
            return i;
    return 0;
}

/* Store the record and report it (takes cx->lock). */
void pm_record_result(pm_worker *w, const pm_plan_item *pi, const pm_built *b, pm_outcome *oc)
{
    pm_run *cx = w->cx;
    const pm_item *it = pi->it;
    pthread_mutex_lock(&cx->lock);
    taap_run_result *res = cx->res;
    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 64;
        pm_record *r = realloc(res->recs, cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&cx->lock);
            return;
        }
        res->recs = r;
        res->cap = cap;
    }
    pm_record *rec = &res->recs[res->n++];
    memset(rec, 0, sizeof *rec);
    taap_run_request *q = &rec->r;
    q->iteration = w->iteration;
    q->path = rec->own[0] = taap_strdup(it->path);
    q->name = rec->own[1] = taap_strdup(it->name);
    q->method = rec->own[2] = taap_strdup(b && b->method ? b->method : it->method);
    q->url = rec->own[3] = red(cx, b && b->url ? b->url : it->url);
    q->expectation = rec->own[4] = taap_strdup(oc->expect);
    q->error = rec->own[5] = oc->error[0] ? red(cx, oc->error) : NULL;
    if (oc->detail) {
        char *d = red(cx, oc->detail);
        if (d && !cx->o->no_redact && strstr(d, "access_token")) {
            free(d);
            d = taap_strdup("<redacted: the response carries a token>");
        }
        q->detail = rec->own[6] = d;
    }
    q->notes = rec->own[7] = oc->notes[0] ? taap_strdup(oc->notes) : NULL;
    if (b && b->nh) {
        rec->hn = calloc(b->nh, sizeof *rec->hn);
        rec->hv = calloc(b->nh, sizeof *rec->hv);
        if (rec->hn && rec->hv) {
            for (size_t i = 0; i < b->nh; i++) {
                rec->hn[i] = taap_strdup(b->hn[i]);
                rec->hv[i] = redact_header(cx, b->hn[i], b->hv[i]);
            }
            q->n_headers = b->nh;
        }
    }
    q->header_names = (const char *const *)rec->hn;
    q->header_values = (const char *const *)rec->hv;
    q->status = oc->status;
    q->time_ms = oc->time_ms;
    q->response_bytes = oc->bytes;
    q->passed = oc->passed;
    q->transport_error = oc->transport;
    q->config_error = oc->config;
    q->skipped = oc->skipped;
    q->attempts = oc->attempts;
    q->n_assertions = copy_assertions(cx, &rec->as, &oc->asserts);
    q->assertions = rec->as;
    q->n_script_failures = copy_assertions(cx, &rec->sf, &oc->script_errs);
    q->script_failures = rec->sf;
    q->replayed = rec->rp = copy_replayed(oc, &q->n_replayed);
    record_verdict(rec, oc);
    q->item_id = rec->own[8] = it->id ? taap_strdup(it->id) : NULL;
    q->status_text = rec->own[9] = oc->status_text[0] ? taap_strdup(oc->status_text) : NULL;
    q->position = plan_position(cx, it);
    q->plan_length = cx->n_plan;
    q->prerequest_scripts = oc->prerequest_scripts;
    q->test_scripts = oc->test_scripts;
    q->script_errors = oc->script_errors;
    q->dns_ms = oc->dns_ms;
    q->connect_ms = oc->connect_ms;
    q->tls_ms = oc->tls_ms;
    q->first_byte_ms = oc->ttfb_ms;
    cx->done++;
    if (!q->passed && cx->o->bail)
        cx->stop = 1;
    pm_emit(cx, TAAP_RUN_EV_REQUEST, w->iteration, it->path, NULL, q);
    pthread_mutex_unlock(&cx->lock);
}
