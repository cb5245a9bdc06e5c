/*
 * report_junit.c — `-r junit` as Newman's junit reporter: one <testsuite>
 * per request path (first-execution order), one <testcase> per assertion
 * name, its failures across iterations merged into one <failure> ("Failed
 * N times."). taap adds one testcase Newman lacks, "status <expectation>",
 * for its own status check, so a request without test scripts is still
 * visible in CI. A request that was not sent is a testcase with
 * <skipped/>; an assertion whose script did not run is <skipped
 * message="not run"/> and counted as a failure (never a pass); transport
 * and config errors are <error>.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pm.h"

static void iso_time(char *buf, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* "Folder / Sub / Name" → "Folder.Sub" for the classname ("root" at the top) */
static void classname(pm_buf *b, const taap_run_request *q)
{
    char parent[1024];
    pm_parent_path(q, parent, sizeof parent);
    if (!*parent) {
        pm_buf_xml(b, "root");
        return;
    }
    pm_buf tmp = {0};
    for (const char *p = parent; *p; p++) {
        if (!strncmp(p, " / ", 3)) {
            pm_buf_put(&tmp, ".", 1);
            p += 2;
        } else {
            pm_buf_put(&tmp, p, 1);
        }
    }
    char *s = pm_buf_take(&tmp);
    pm_buf_xml(b, s ? s : "");
    free(s);
}

/* One testcase: `name` over the executions of `path`; kind selects what
 * counts (0 = the status check, 1 = assertion `name`, 2 = request errors). */
typedef struct tc_acc {
    size_t runs, failed, not_run, skipped;
    double time_ms;
    const char *first_msg;
    const char *first_type;
} tc_acc;

static void tc_write(pm_buf *b, const taap_run_request *first, const char *name, const tc_acc *a,
                     int is_error)
{
    pm_buf_puts(b, "    <testcase name=\"");
    pm_buf_xml(b, name);
    pm_buf_puts(b, "\" classname=\"");
    classname(b, first);
    pm_buf_printf(b, "\" time=\"%.3f\">\n", a->time_ms / 1000.0);
    if (a->failed && is_error) {
        pm_buf_puts(b, "      <error type=\"");
        pm_buf_xml(b, a->first_type);
        pm_buf_puts(b, "\" message=\"");
        pm_buf_xml(b, a->first_msg);
        pm_buf_printf(b, "\">Failed %zu time%s.</error>\n", a->failed, a->failed == 1 ? "" : "s");
    } else if (a->failed) {
        pm_buf_puts(b, "      <failure type=\"AssertionFailure\" message=\"");
        pm_buf_xml(b, a->first_msg);
        pm_buf_printf(b, "\">Failed %zu time%s. ", a->failed, a->failed == 1 ? "" : "s");
        pm_buf_xml(b, first->path);
        pm_buf_puts(b, ": ");
        pm_buf_xml(b, a->first_msg);
        pm_buf_puts(b, "</failure>\n");
    } else if (a->not_run) {
        pm_buf_puts(b, "      <skipped message=\"not run: its script was not executed\"/>\n");
    } else if (a->skipped == a->runs) {
        pm_buf_puts(b, "      <skipped/>\n");
    }
    pm_buf_puts(b, "    </testcase>\n");
}

/* Assertion names of `path` in first-seen order, each once. */
static int seen_before(const taap_run_result *r, size_t upto_rec, size_t upto_k, const char *path,
                       const char *name)
{
    for (size_t i = 0; i <= upto_rec && i < r->n; i++) {
        const taap_run_request *q = &r->recs[i].r;
        if (strcmp(q->path, path) != 0)
            continue;
        size_t lim = i == upto_rec ? upto_k : q->n_assertions;
        for (size_t k = 0; k < lim; k++)
            if (!strcmp(q->assertions[k].name, name))
                return 1;
    }
    return 0;
}

static void suite(pm_buf *b, const taap_run_result *r, size_t first_i, char *done,
                  const char *started, size_t *tests, size_t *fails, size_t *errs)
{
    const taap_run_request *first = &r->recs[first_i].r;
    const char *path = first->path;
    pm_buf cases = {0};
    size_t n_cases = 0, n_fail = 0, n_err = 0;
    double t = 0;
    tc_acc status = {0}, errors = {0}, sent = {0};
    int own_check = 0; /* a request judged by taap's status check, not its test scripts */
    for (size_t i = first_i; i < r->n; i++) {
        const taap_run_request *q = &r->recs[i].r;
        if (strcmp(q->path, path) != 0)
            continue;
        done[i] = 1;
        t += q->time_ms;
        if (q->transport_error || q->config_error) {
            errors.runs++;
            if (!errors.failed++) {
                errors.first_msg = q->error ? q->error : "error";
                errors.first_type = q->transport_error ? "TransportError" : "ConfigError";
            }
            continue;
        }
        sent.runs++;
        if (q->skipped) {
            sent.skipped++;
            continue;
        }
        status.runs++;
        status.time_ms += q->time_ms;
        own_check |= !q->expectation || strcmp(q->expectation, "tests") != 0;
        int assertion_failed = 0;
        for (size_t k = 0; k < q->n_assertions; k++)
            assertion_failed |= q->assertions[k].status == TAAP_ASSERTION_FAILED ||
                                q->assertions[k].status == TAAP_ASSERTION_NOT_RUN;
        if (!q->passed && !assertion_failed && !status.failed++)
            status.first_msg = q->error ? q->error : "failed";
    }
    if (sent.runs && sent.skipped == sent.runs) { /* never sent: one skipped case */
        tc_write(&cases, first, first->name, &sent, 0);
        n_cases++;
    }
    if (status.runs && (own_check || status.failed)) {
        char name[96];
        snprintf(name, sizeof name, "status %s", first->expectation ? first->expectation : "");
        if (!own_check) /* the scripts failed without a failed assertion (a script error) */
            snprintf(name, sizeof name, "scripts");
        for (size_t i = first_i; i < r->n && !strcmp(name, "status -"); i++)
            if (!strcmp(r->recs[i].r.path, path) && !r->recs[i].r.skipped)
                snprintf(name, sizeof name, "status %s", r->recs[i].r.expectation);
        tc_write(&cases, first, name, &status, 0);
        n_cases++;
        n_fail += status.failed ? 1 : 0;
    }
    for (size_t i = first_i; i < r->n; i++) {
        const taap_run_request *q = &r->recs[i].r;
        if (strcmp(q->path, path) != 0)
            continue;
        for (size_t k = 0; k < q->n_assertions; k++) {
            const char *name = q->assertions[k].name;
            if (seen_before(r, i, k, path, name))
                continue;
            tc_acc a = {0};
            for (size_t j = i; j < r->n; j++) {
                const taap_run_request *qj = &r->recs[j].r;
                if (strcmp(qj->path, path) != 0)
                    continue;
                for (size_t m = 0; m < qj->n_assertions; m++) {
                    const taap_run_assertion *as = &qj->assertions[m];
                    if (strcmp(as->name, name) != 0)
                        continue;
                    a.runs++;
                    if (as->status == TAAP_ASSERTION_FAILED && !a.failed++)
                        a.first_msg = as->error_message ? as->error_message : "failed";
                    else if (as->status == TAAP_ASSERTION_NOT_RUN)
                        a.not_run++;
                    else if (as->status == TAAP_ASSERTION_SKIPPED)
                        a.skipped++;
                }
            }
            tc_write(&cases, first, name, &a, 0);
            n_cases++;
            n_fail += a.failed || a.not_run ? 1 : 0;
        }
    }
    if (errors.runs) {
        tc_write(&cases, first, "request", &errors, 1);
        n_cases++;
        n_err++;
    }
    pm_buf_puts(b, "  <testsuite name=\"");
    pm_buf_xml(b, path);
    pm_buf_puts(b, "\" id=\"");
    pm_buf_xml(b, first->item_id ? first->item_id : "");
    pm_buf_printf(b, "\" timestamp=\"%s\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                  "time=\"%.3f\">\n",
                  started, n_cases, n_fail, n_err, t / 1000.0);
    if (cases.p)
        pm_buf_put(b, cases.p, cases.len);
    pm_buf_free(&cases);
    pm_buf_puts(b, "  </testsuite>\n");
    *tests += n_cases;
    *fails += n_fail;
    *errs += n_err;
}

taap_code taap_run_report_junit(const taap_run_result *r, char **out, taap_error *err)
{
    *out = NULL;
    if (!r)
        return taap_fail(err, TAAP_E_USAGE, "no run result");
    taap_run_stats st;
    taap_run_result_stats(r, &st);
    char started[40];
    iso_time(started, sizeof started, r->started);
    char *done = calloc(r->n ? r->n : 1, 1);
    if (!done)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    pm_buf suites = {0};
    size_t tests = 0, fails = 0, errs = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!done[i])
            suite(&suites, r, i, done, started, &tests, &fails, &errs);
    free(done);
    pm_buf b = {0};
    pm_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
    pm_buf_xml(&b, r->collection_name);
    pm_buf_printf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", tests,
                  fails, errs, st.duration_ms / 1000.0);
    if (suites.p)
        pm_buf_put(&b, suites.p, suites.len);
    pm_buf_free(&suites);
    pm_buf_puts(&b, "</testsuites>\n");
    if (!(*out = pm_buf_take(&b)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}
