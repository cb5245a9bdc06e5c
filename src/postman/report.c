/*
 * report.c — a finished run as numbers: the totals (Newman's stats), the
 * exit status, and freeing the result. The reporters are report_json.c,
 * report_junit.c and report_cli.c; every string they print was redacted
 * when it was recorded (record.c).
 */
#include <stdlib.h>
#include <string.h>

#include "pm.h"

/* ---- results ------------------------------------------------------------------ */

size_t taap_run_result_count(const taap_run_result *r)
{
    return r ? r->n : 0;
}

const taap_run_request *taap_run_result_get(const taap_run_result *r, size_t i)
{
    return r && i < r->n ? &r->recs[i].r : NULL;
}

/* Square root by Newton's method (bounded), so the library needs no libm. */
static double root(double v)
{
    if (v <= 0)
        return 0;
    double x = v > 1 ? v : 1;
    for (int i = 0; i < 64; i++)
        x = 0.5 * (x + v / x);
    return x;
}

/* One response's time into the sent count, minimum and maximum. */
static void count_sent(taap_run_stats *st, double ms, double *sum)
{
    st->sent++;
    if (st->sent == 1 || ms < st->min_ms)
        st->min_ms = ms;
    if (ms > st->max_ms)
        st->max_ms = ms;
    *sum += ms;
}

void taap_run_result_stats(const taap_run_result *r, taap_run_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!r)
        return;
    st->iterations = r->iterations;
    st->duration_ms = r->duration_ms;
    st->bailed = r->bailed;
    st->token_requests = r->token_requests;
    double sum = 0;
    for (size_t i = 0; i < r->n; i++) {
        const taap_run_request *q = &r->recs[i].r;
        st->requests++;
        if (q->transport_error)
            st->transport_errors++;
        else if (q->config_error)
            st->config_errors++;
        else if (!q->passed)
            st->failed++;
        /* the responses replayed over were requests on the wire too (Newman's count) */
        for (size_t k = 0; k < q->n_replayed; k++)
            count_sent(st, q->replayed[k].time_ms, &sum);
        if ((q->status > 0 || q->transport_error) && !q->skipped)
            count_sent(st, q->time_ms, &sum);
    }
    st->avg_ms = st->sent ? sum / (double)st->sent : 0;
    st->interrupted = r->interrupted;
    double var = 0;
    for (size_t i = 0; i < r->n; i++) {
        const taap_run_request *q = &r->recs[i].r;
        st->response_bytes += q->response_bytes;
        st->prerequest_scripts += q->prerequest_scripts;
        st->test_scripts += q->test_scripts;
        st->script_errors += q->script_errors;
        for (size_t k = 0; k < q->n_assertions; k++) {
            st->assertions++;
            switch (q->assertions[k].status) {
            case TAAP_ASSERTION_FAILED: st->assertions_failed++; break;
            case TAAP_ASSERTION_SKIPPED: st->assertions_skipped++; break;
            case TAAP_ASSERTION_NOT_RUN: st->assertions_not_run++; break;
            default: break;
            }
        }
        for (size_t k = 0; k < q->n_replayed; k++) {
            st->response_bytes += q->replayed[k].response_bytes;
            var += (q->replayed[k].time_ms - st->avg_ms) * (q->replayed[k].time_ms - st->avg_ms);
        }
        if ((q->status > 0 || q->transport_error) && !q->skipped)
            var += (q->time_ms - st->avg_ms) * (q->time_ms - st->avg_ms);
    }
    st->response_sd_ms = st->sent ? root(var / (double)st->sent) : 0;
}

int taap_run_result_exit_code(const taap_run_result *r)
{
    taap_run_stats st;
    taap_run_result_stats(r, &st);
    if (st.config_errors)
        return 2;
    if (st.transport_errors)
        return 3;
    if (st.failed)
        return 1;
    return 0;
}

static void free_assertions(taap_run_assertion *as, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free((char *)as[k].name);
        free((char *)as[k].error_name);
        free((char *)as[k].error_message);
        free((char *)as[k].event);
    }
    free(as);
}

void taap_run_result_free(taap_run_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        pm_record *rec = &r->recs[i];
        for (size_t k = 0; k < sizeof rec->own / sizeof rec->own[0]; k++)
            free(rec->own[k]);
        for (size_t k = 0; k < rec->r.n_headers; k++) {
            free(rec->hn[k]);
            free(rec->hv[k]);
        }
        free(rec->hn);
        free(rec->hv);
        free_assertions(rec->as, rec->r.n_assertions);
        free_assertions(rec->sf, rec->r.n_script_failures);
        for (size_t k = 0; k < rec->r.n_replayed; k++)
            free((char *)rec->rp[k].status_text);
        free(rec->rp);
    }
    free(r->recs);
    free(r->collection_name);
    free(r->collection_json);
    free(r->environment_json);
    free(r->globals_json);
    free(r);
}

/* ---- failures ---------------------------------------------------------------- */

void pm_parent_path(const taap_run_request *q, char *buf, size_t cap)
{
    size_t pl = strlen(q->path), nl = strlen(q->name);
    size_t keep = pl > nl + 3 ? pl - nl - 3 : 0;
    snprintf(buf, cap, "%.*s", (int)keep, q->path);
}

size_t pm_each_failure(const taap_run_request *q,
                       void (*fn)(void *ctx, const taap_run_request *q, const pm_failure *f),
                       void *ctx)
{
    size_t n = 0;
    if (q->transport_error || q->config_error) {
        pm_failure f = {NULL, q->transport_error ? "Error" : "ConfigError",
                        q->error ? q->error : "the request failed", NULL, -1, "request"};
        fn(ctx, q, &f);
        return 1;
    }
    if (q->skipped)
        return 0;
    int assertion_failed = 0;
    for (size_t k = 0; k < q->n_assertions; k++) {
        const taap_run_assertion *a = &q->assertions[k];
        if (a->status != TAAP_ASSERTION_FAILED && a->status != TAAP_ASSERTION_NOT_RUN)
            continue;
        char at[96];
        snprintf(at, sizeof at, "assertion:%zu in %s-script", k,
                 a->event && !strcmp(a->event, "prerequest") ? "prerequest" : "test");
        pm_failure f = {NULL,
                        a->status == TAAP_ASSERTION_NOT_RUN ? "NotRun"
                        : a->error_name                     ? a->error_name
                                                            : "AssertionError",
                        a->status == TAAP_ASSERTION_NOT_RUN ? "not run: its script was not executed"
                        : a->error_message                  ? a->error_message
                                                            : "failed",
                        a->name, (long)k, at};
        fn(ctx, q, &f);
        n++;
        assertion_failed = 1;
    }
    /* scripts that threw, as Newman lists them (error.type "Error", the
     * script's error name and message, at "test-script"/"prerequest-script") */
    for (size_t k = 0; k < q->n_script_failures; k++) {
        const taap_run_assertion *s = &q->script_failures[k];
        int pre = s->event && !strcmp(s->event, "prerequest");
        pm_failure f = {"Error", s->error_name ? s->error_name : "Error",
                        s->error_message ? s->error_message : "", NULL, -1,
                        pre ? "prerequest-script" : "test-script"};
        fn(ctx, q, &f);
        n++;
        assertion_failed = 1;
    }
    if (!q->passed && !assertion_failed) {
        char test[96];
        snprintf(test, sizeof test, "status %s", q->expectation ? q->expectation : "");
        pm_failure f = {NULL, "StatusError", q->error ? q->error : "failed", test, -1, "status"};
        fn(ctx, q, &f);
        n++;
    }
    return n;
}
