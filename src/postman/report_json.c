/*
 * report_json.c — `-r json` in the shape of Newman's JSON reporter
 * (newman lib/reporters/json: the run summary serialised), so tooling that
 * reads Newman's report reads taap's: run.stats.*.{total,pending,failed},
 * run.timings, run.executions[] {cursor, item, request, response,
 * assertions[{assertion, skipped, error}]} (once per request sent, as
 * Newman lists a replayed one), run.failures[] {error, at,
 * source, parent, cursor}, run.error. An assertion that did not run
 * carries an error (name "NotRun"), so a reader that counts "no error" as
 * a pass never counts it as one. Fields Newman lacks are added beside
 * Newman's (an execution's path, passed, notes…), never instead of them.
 * Strings were redacted when recorded.
 */
#include <stdlib.h>
#include <string.h>

#include "pm.h"

static void str_or_null(pm_buf *b, const char *s)
{
    if (s)
        pm_buf_json_str(b, s);
    else
        pm_buf_puts(b, "null");
}

static void counter(pm_buf *b, const char *name, size_t total, size_t pending, size_t failed,
                    int comma)
{
    pm_buf_printf(b, "%s\"%s\":{\"total\":%zu,\"pending\":%zu,\"failed\":%zu", comma ? "," : "",
                  name, total, pending, failed);
}

static void stats(pm_buf *b, const taap_run_result *r, const taap_run_stats *st)
{
    pm_buf_puts(b, "\"stats\":{");
    counter(b, "iterations", st->iterations, 0, 0, 0);
    pm_buf_put(b, "}", 1);
    counter(b, "items", st->requests, 0, st->failed + st->transport_errors + st->config_errors, 1);
    pm_buf_put(b, "}", 1);
    counter(b, "scripts", st->prerequest_scripts + st->test_scripts, 0, st->script_errors, 1);
    pm_buf_put(b, "}", 1);
    counter(b, "prerequests", st->requests, 0, 0, 1);
    pm_buf_put(b, "}", 1);
    counter(b, "requests", st->sent, 0, st->transport_errors + st->config_errors, 1);
    pm_buf_printf(b, ",\"sent\":%zu,\"transportErrors\":%zu,\"configErrors\":%zu,"
                  "\"expectationFailures\":%zu,\"tokenRequests\":%zu}",
                  st->sent, st->transport_errors, st->config_errors, st->failed,
                  r->token_requests);
    counter(b, "tests", st->requests, 0, 0, 1);
    pm_buf_put(b, "}", 1);
    counter(b, "assertions", st->assertions, st->assertions_skipped,
            st->assertions_failed + st->assertions_not_run, 1);
    pm_buf_printf(b, ",\"notRun\":%zu}", st->assertions_not_run);
    counter(b, "testScripts", st->test_scripts, 0, 0, 1);
    pm_buf_put(b, "}", 1);
    counter(b, "prerequestScripts", st->prerequest_scripts, 0, 0, 1);
    pm_buf_puts(b, "}},");
}

static void timings(pm_buf *b, const taap_run_result *r, const taap_run_stats *st)
{
    long long started = (long long)r->started * 1000LL;
    pm_buf_printf(b,
                  "\"timings\":{\"responseAverage\":%.3f,\"responseMin\":%.3f,"
                  "\"responseMax\":%.3f,\"responseSd\":%.3f,\"started\":%lld,"
                  "\"completed\":%lld,\"durationMs\":%.3f},",
                  st->avg_ms, st->min_ms, st->max_ms, st->response_sd_ms, started,
                  started + (long long)st->duration_ms, st->duration_ms);
}

static void cursor(pm_buf *b, const taap_run_result *r, const taap_run_request *q)
{
    int bof = q->position == 0 && q->iteration == 0;
    int eof = q->position + 1 >= q->plan_length && q->iteration + 1 >= r->iterations;
    pm_buf_printf(b,
                  "\"cursor\":{\"position\":%zu,\"iteration\":%u,\"length\":%zu,\"cycles\":%u,"
                  "\"empty\":false,\"eof\":%s,\"bof\":%s,\"cr\":false,\"ref\":\"%u-%zu\"}",
                  q->position, q->iteration, q->plan_length, r->iterations, eof ? "true" : "false",
                  bof ? "true" : "false", q->iteration, q->position);
}

static void item_ref(pm_buf *b, const char *key, const char *id, const char *name)
{
    pm_buf_printf(b, "\"%s\":{\"id\":", key);
    str_or_null(b, id);
    pm_buf_puts(b, ",\"name\":");
    pm_buf_json_str(b, name);
}

static void request_json(pm_buf *b, const taap_run_request *q)
{
    pm_buf_puts(b, "\"request\":{\"url\":");
    pm_buf_json_str(b, q->url);
    pm_buf_puts(b, ",\"method\":");
    pm_buf_json_str(b, q->method);
    pm_buf_puts(b, ",\"header\":[");
    for (size_t h = 0; h < q->n_headers; h++) {
        pm_buf_puts(b, h ? ",{\"key\":" : "{\"key\":");
        pm_buf_json_str(b, q->header_names[h]);
        pm_buf_puts(b, ",\"value\":");
        pm_buf_json_str(b, q->header_values[h]);
        pm_buf_put(b, "}", 1);
    }
    pm_buf_puts(b, "]}");
}

static void assertion_json(pm_buf *b, const taap_run_assertion *a, size_t index)
{
    pm_buf_puts(b, "{\"assertion\":");
    pm_buf_json_str(b, a->name);
    pm_buf_printf(b, ",\"skipped\":%s",
                  a->status == TAAP_ASSERTION_SKIPPED || a->status == TAAP_ASSERTION_NOT_RUN
                      ? "true"
                      : "false");
    if (a->status == TAAP_ASSERTION_FAILED || a->status == TAAP_ASSERTION_NOT_RUN) {
        int not_run = a->status == TAAP_ASSERTION_NOT_RUN;
        pm_buf_puts(b, ",\"error\":{\"name\":");
        pm_buf_json_str(b, not_run ? "NotRun" : a->error_name ? a->error_name : "AssertionError");
        pm_buf_printf(b, ",\"index\":%zu,\"test\":", index);
        pm_buf_json_str(b, a->name);
        pm_buf_puts(b, ",\"message\":");
        pm_buf_json_str(b, not_run                ? "not run: its script was not executed"
                           : a->error_message     ? a->error_message
                                                  : "failed");
        pm_buf_put(b, "}", 1);
    }
    if (a->status == TAAP_ASSERTION_NOT_RUN)
        pm_buf_puts(b, ",\"notRun\":true");
    pm_buf_put(b, "}", 1);
}

static void execution(pm_buf *b, const taap_run_result *r, const taap_run_request *q)
{
    pm_buf_put(b, "{", 1);
    cursor(b, r, q);
    pm_buf_put(b, ",", 1);
    item_ref(b, "item", q->item_id, q->name);
    pm_buf_puts(b, ",\"path\":");
    pm_buf_json_str(b, q->path);
    pm_buf_puts(b, "},");
    request_json(b, q);
    pm_buf_puts(b, ",\"response\":");
    if (q->status > 0) {
        pm_buf_puts(b, "{\"status\":");
        pm_buf_json_str(b, q->status_text ? q->status_text : "");
        pm_buf_printf(b, ",\"code\":%ld,\"responseTime\":%.3f,\"responseSize\":%llu}", q->status,
                      q->time_ms, (unsigned long long)q->response_bytes);
    } else {
        pm_buf_puts(b, "null");
    }
    pm_buf_puts(b, ",\"id\":");
    str_or_null(b, q->item_id);
    pm_buf_puts(b, ",\"assertions\":[");
    for (size_t k = 0; k < q->n_assertions; k++) {
        if (k)
            pm_buf_put(b, ",", 1);
        assertion_json(b, &q->assertions[k], k);
    }
    pm_buf_printf(b, "],\"iteration\":%u,\"passed\":%s,\"skipped\":%s,\"attempts\":%u,"
                  "\"expectation\":",
                  q->iteration + 1, q->passed ? "true" : "false", q->skipped ? "true" : "false",
                  q->attempts);
    pm_buf_json_str(b, q->expectation);
    pm_buf_puts(b, ",\"error\":");
    str_or_null(b, q->error);
    pm_buf_puts(b, ",\"detail\":");
    str_or_null(b, q->detail);
    pm_buf_puts(b, ",\"notes\":");
    str_or_null(b, q->notes);
    pm_buf_put(b, "}", 1);
}

typedef struct fail_ctx {
    pm_buf *b;
    const taap_run_result *r;
    size_t n;
} fail_ctx;

static void failure(void *ud, const taap_run_request *q, const pm_failure *f)
{
    fail_ctx *fc = ud;
    pm_buf *b = fc->b;
    pm_buf_puts(b, fc->n++ ? ",{\"error\":{" : "{\"error\":{");
    if (f->type) { /* a script that threw: Newman's {type, name, message} */
        pm_buf_puts(b, "\"type\":");
        pm_buf_json_str(b, f->type);
        pm_buf_put(b, ",", 1);
    }
    pm_buf_puts(b, "\"name\":");
    pm_buf_json_str(b, f->name);
    if (f->index >= 0)
        pm_buf_printf(b, ",\"index\":%ld", f->index);
    if (!f->type) {
        pm_buf_puts(b, ",\"test\":");
        str_or_null(b, f->test);
    }
    pm_buf_puts(b, ",\"message\":");
    pm_buf_json_str(b, f->message);
    pm_buf_puts(b, "},\"at\":");
    pm_buf_json_str(b, f->at);
    pm_buf_put(b, ",", 1);
    item_ref(b, "source", q->item_id, q->name);
    pm_buf_puts(b, ",\"path\":");
    pm_buf_json_str(b, q->path);
    pm_buf_puts(b, "},");
    char parent[512];
    pm_parent_path(q, parent, sizeof parent);
    item_ref(b, "parent", NULL, *parent ? parent : fc->r->collection_name);
    pm_buf_puts(b, "},");
    cursor(b, fc->r, q);
    pm_buf_printf(b, ",\"iteration\":%u,\"path\":", q->iteration + 1);
    pm_buf_json_str(b, q->path);
    pm_buf_put(b, "}", 1);
}

taap_code taap_run_report_json(const taap_run_result *r, char **out, taap_error *err)
{
    *out = NULL;
    if (!r)
        return taap_fail(err, TAAP_E_USAGE, "no run result");
    taap_run_stats st;
    taap_run_result_stats(r, &st);
    pm_buf b = {0};
    /* the sections Newman writes first (report_scopes.c built them) */
    pm_buf_puts(&b, "{\"collection\":");
    if (r->collection_json) {
        pm_buf_puts(&b, r->collection_json);
    } else {
        pm_buf_puts(&b, "{\"info\":{\"name\":");
        pm_buf_json_str(&b, r->collection_name);
        pm_buf_puts(&b, "}}");
    }
    pm_buf_puts(&b, ",\"environment\":");
    pm_buf_puts(&b, r->environment_json ? r->environment_json : "{\"values\":[]}");
    pm_buf_puts(&b, ",\"globals\":");
    pm_buf_puts(&b, r->globals_json ? r->globals_json : "{\"values\":[]}");
    pm_buf_puts(&b, ",\"run\":{");
    stats(&b, r, &st);
    timings(&b, r, &st);
    /* Newman pushes an execution on every request event, so one replayed
     * over a response (an answered auth challenge) is listed once per
     * request sent, each time as it finally was */
    pm_buf_puts(&b, "\"executions\":[");
    size_t listed = 0;
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k <= r->recs[i].r.n_replayed; k++) {
            if (listed++)
                pm_buf_put(&b, ",", 1);
            execution(&b, r, &r->recs[i].r);
        }
    pm_buf_printf(&b, "],\"transfers\":{\"responseTotal\":%llu},\"failures\":[",
                  (unsigned long long)st.response_bytes);
    fail_ctx fc = {&b, r, 0};
    for (size_t i = 0; i < r->n; i++)
        pm_each_failure(&r->recs[i].r, failure, &fc);
    pm_buf_printf(&b, "],\"error\":null,\"bailed\":%s,\"interrupted\":%s,\"exitCode\":%d}}\n",
                  st.bailed ? "true" : "false", st.interrupted ? "true" : "false",
                  taap_run_result_exit_code(r));
    if (!(*out = pm_buf_take(&b)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}
