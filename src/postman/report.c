/*
 * report.c — redaction and the run reporters (summary table, JSON, JUnit).
 *
 * Newman writes bearer tokens and secrets into its reports (newman#2326,
 * #3070). Here every string that leaves the runner goes through
 * pm_redact(): known secret values, anything shaped like a JWT, PEM blocks,
 * and the values of Authorization-like headers are replaced, unless the
 * user asked for --no-redact.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pm.h"

#define REDACTED "<redacted>"

void pm_secrets_add(pm_secrets *s, const char *value)
{
    if (!value || strlen(value) < 6) /* short values ("true", "1") would shred the text */
        return;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], value) == 0)
            return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return;
        s->v = v;
        s->cap = cap;
    }
    char *c = taap_strdup(value);
    if (c)
        s->v[s->n++] = c;
}

void pm_secrets_free(pm_secrets *s)
{
    for (size_t i = 0; i < s->n; i++)
        taap_free_secret_str(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Length of a JWT-shaped run at p ("eyJ…" "." "…" "." "…"), or 0. */
static size_t jwt_len(const char *p)
{
    if (strncmp(p, "eyJ", 3) != 0)
        return 0;
    size_t i = 0;
    int dots = 0;
    for (;;) {
        while (b64url_char(p[i]))
            i++;
        if (p[i] == '.' && dots < 2 && b64url_char(p[i + 1])) {
            dots++;
            i++;
            continue;
        }
        break;
    }
    return dots >= 1 ? i : 0;
}

char *pm_redact(const pm_secrets *s, const char *text)
{
    if (!text)
        return NULL;
    pm_buf b = {0};
    const char *p = text;
    while (*p) {
        size_t n;
        if (*p == 'e' && (n = jwt_len(p)) > 0) {
            pm_buf_puts(&b, "<redacted:jwt>");
            p += n;
            continue;
        }
        if (*p == '-' && strncmp(p, "-----BEGIN", 10) == 0) {
            const char *end = strstr(p + 10, "-----END");
            if (end) {
                const char *close = strstr(end + 8, "-----");
                if (close) {
                    pm_buf_puts(&b, "<redacted:pem>");
                    p = close + 5;
                    continue;
                }
            }
        }
        size_t best = 0;
        for (size_t i = 0; s && i < s->n; i++) {
            size_t l = strlen(s->v[i]);
            if (l > best && strncmp(p, s->v[i], l) == 0)
                best = l;
        }
        if (best) {
            pm_buf_puts(&b, REDACTED);
            p += best;
            continue;
        }
        pm_buf_put(&b, p, 1);
        p++;
    }
    return pm_buf_take(&b);
}

int pm_name_sensitive(const char *name)
{
    static const char *const words[] = {"secret", "password", "passwd", "private", "token",
                                        "apikey", "api_key", "credential", "bearer", "pem"};
    size_t n = strlen(name);
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t l = strlen(words[w]);
        for (size_t i = 0; i + l <= n; i++)
            if (taap_ascii_ncasecmp(name + i, words[w], l) == 0)
                return 1;
    }
    return 0;
}

/* ---- results ------------------------------------------------------------------ */

size_t taap_run_result_count(const taap_run_result *r)
{
    return r ? r->n : 0;
}

const taap_run_request *taap_run_result_get(const taap_run_result *r, size_t i)
{
    return r && i < r->n ? &r->recs[i].r : NULL;
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
        if (q->status > 0 || q->transport_error) {
            if (!q->skipped) {
                st->sent++;
                if (st->sent == 1 || q->time_ms < st->min_ms)
                    st->min_ms = q->time_ms;
                if (q->time_ms > st->max_ms)
                    st->max_ms = q->time_ms;
                sum += q->time_ms;
            }
        }
    }
    st->avg_ms = st->sent ? sum / (double)st->sent : 0;
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
        for (size_t k = 0; k < rec->r.n_assertions; k++) {
            free((char *)rec->as[k].name);
            free((char *)rec->as[k].error_name);
            free((char *)rec->as[k].error_message);
            free((char *)rec->as[k].event);
        }
        free(rec->as);
    }
    free(r->recs);
    free(r->collection_name);
    free(r);
}

/* ---- reporters ---------------------------------------------------------------- */

static void iso_time(char *buf, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

taap_code taap_run_report_json(const taap_run_result *r, char **out, taap_error *err)
{
    *out = NULL;
    if (!r)
        return taap_fail(err, TAAP_E_USAGE, "no run result");
    taap_run_stats st;
    taap_run_result_stats(r, &st);
    char started[32];
    iso_time(started, sizeof started, r->started);
    pm_buf b = {0};
    pm_buf_puts(&b, "{\"collection\":{\"name\":");
    pm_buf_json_str(&b, r->collection_name);
    pm_buf_puts(&b, "},\"run\":{\"stats\":{");
    pm_buf_printf(&b, "\"iterations\":{\"total\":%u},", st.iterations);
    pm_buf_printf(&b,
                  "\"requests\":{\"total\":%zu,\"sent\":%zu,\"failed\":%zu,"
                  "\"transportErrors\":%zu,\"configErrors\":%zu,\"tokenRequests\":%zu}},",
                  st.requests, st.sent, st.failed, st.transport_errors, st.config_errors,
                  st.token_requests);
    pm_buf_printf(&b,
                  "\"timings\":{\"started\":\"%s\",\"durationMs\":%.3f,\"responseMin\":%.3f,"
                  "\"responseAverage\":%.3f,\"responseMax\":%.3f},",
                  started, st.duration_ms, st.min_ms, st.avg_ms, st.max_ms);
    pm_buf_printf(&b, "\"bailed\":%s,\"exitCode\":%d,\"executions\":[", st.bailed ? "true" : "false",
                  taap_run_result_exit_code(r));
    for (size_t i = 0; i < r->n; i++) {
        const taap_run_request *q = &r->recs[i].r;
        if (i)
            pm_buf_put(&b, ",", 1);
        pm_buf_printf(&b, "{\"iteration\":%u,\"item\":{\"name\":", q->iteration + 1);
        pm_buf_json_str(&b, q->name);
        pm_buf_puts(&b, ",\"path\":");
        pm_buf_json_str(&b, q->path);
        pm_buf_puts(&b, "},\"request\":{\"method\":");
        pm_buf_json_str(&b, q->method);
        pm_buf_puts(&b, ",\"url\":");
        pm_buf_json_str(&b, q->url);
        pm_buf_puts(&b, ",\"header\":[");
        for (size_t h = 0; h < q->n_headers; h++) {
            pm_buf_puts(&b, h ? ",{\"key\":" : "{\"key\":");
            pm_buf_json_str(&b, q->header_names[h]);
            pm_buf_puts(&b, ",\"value\":");
            pm_buf_json_str(&b, q->header_values[h]);
            pm_buf_put(&b, "}", 1);
        }
        pm_buf_puts(&b, "]},\"response\":");
        if (q->status > 0)
            pm_buf_printf(&b, "{\"code\":%ld,\"responseTime\":%.3f,\"responseSize\":%llu}",
                          q->status, q->time_ms, (unsigned long long)q->response_bytes);
        else
            pm_buf_puts(&b, "null");
        pm_buf_printf(&b, ",\"passed\":%s,\"skipped\":%s,\"attempts\":%u,\"expectation\":",
                      q->passed ? "true" : "false", q->skipped ? "true" : "false", q->attempts);
        pm_buf_json_str(&b, q->expectation);
        pm_buf_puts(&b, ",\"error\":");
        if (q->error)
            pm_buf_json_str(&b, q->error);
        else
            pm_buf_puts(&b, "null");
        pm_buf_puts(&b, ",\"detail\":");
        if (q->detail)
            pm_buf_json_str(&b, q->detail);
        else
            pm_buf_puts(&b, "null");
        pm_buf_puts(&b, ",\"notes\":");
        if (q->notes)
            pm_buf_json_str(&b, q->notes);
        else
            pm_buf_puts(&b, "null");
        pm_buf_put(&b, "}", 1);
    }
    pm_buf_puts(&b, "],\"failures\":[");
    int first = 1;
    for (size_t i = 0; i < r->n; i++) {
        const taap_run_request *q = &r->recs[i].r;
        if (q->passed)
            continue;
        pm_buf_puts(&b, first ? "{\"path\":" : ",{\"path\":");
        first = 0;
        pm_buf_json_str(&b, q->path);
        pm_buf_printf(&b, ",\"iteration\":%u,\"error\":", q->iteration + 1);
        pm_buf_json_str(&b, q->error ? q->error : "failed");
        pm_buf_put(&b, "}", 1);
    }
    pm_buf_puts(&b, "]}}\n");
    if (!(*out = pm_buf_take(&b)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

/* "Folder / Sub / Name" → "Folder.Sub" for the JUnit classname */
static void classname(pm_buf *b, const char *path, const char *name)
{
    size_t pl = strlen(path), nl = strlen(name);
    size_t keep = pl > nl + 3 ? pl - nl - 3 : 0;
    if (!keep) {
        pm_buf_xml(b, "root");
        return;
    }
    pm_buf tmp = {0};
    for (size_t i = 0; i < keep; i++) {
        if (strncmp(path + i, " / ", 3) == 0) {
            pm_buf_put(&tmp, ".", 1);
            i += 2;
        } else {
            pm_buf_put(&tmp, path + i, 1);
        }
    }
    char *s = pm_buf_take(&tmp);
    pm_buf_xml(b, s ? s : "");
    free(s);
}

taap_code taap_run_report_junit(const taap_run_result *r, char **out, taap_error *err)
{
    *out = NULL;
    if (!r)
        return taap_fail(err, TAAP_E_USAGE, "no run result");
    taap_run_stats st;
    taap_run_result_stats(r, &st);
    char started[32];
    iso_time(started, sizeof started, r->started);
    pm_buf b = {0};
    pm_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
    pm_buf_xml(&b, r->collection_name);
    pm_buf_printf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n",
                  st.requests, st.failed, st.transport_errors + st.config_errors,
                  st.duration_ms / 1000.0);
    /* one testsuite per request path, in first-execution order */
    char *done = calloc(r->n ? r->n : 1, 1);
    if (!done)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        if (done[i])
            continue;
        const char *path = r->recs[i].r.path;
        size_t tests = 0, fails = 0, errs = 0;
        double t = 0;
        for (size_t j = i; j < r->n; j++) {
            const taap_run_request *q = &r->recs[j].r;
            if (strcmp(q->path, path) != 0)
                continue;
            tests++;
            t += q->time_ms;
            if (q->transport_error || q->config_error)
                errs++;
            else if (!q->passed)
                fails++;
        }
        pm_buf_puts(&b, "  <testsuite name=\"");
        pm_buf_xml(&b, path);
        pm_buf_printf(&b,
                      "\" timestamp=\"%s\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                      "time=\"%.3f\">\n",
                      started, tests, fails, errs, t / 1000.0);
        for (size_t j = i; j < r->n; j++) {
            const taap_run_request *q = &r->recs[j].r;
            if (strcmp(q->path, path) != 0)
                continue;
            done[j] = 1;
            pm_buf_puts(&b, "    <testcase name=\"");
            pm_buf_xml(&b, q->name);
            if (r->iterations > 1)
                pm_buf_printf(&b, " [iteration %u]", q->iteration + 1);
            pm_buf_puts(&b, "\" classname=\"");
            classname(&b, q->path, q->name);
            pm_buf_printf(&b, "\" time=\"%.3f\">\n", q->time_ms / 1000.0);
            if (q->transport_error || q->config_error) {
                pm_buf_puts(&b, "      <error type=\"");
                pm_buf_puts(&b, q->transport_error ? "TransportError" : "ConfigError");
                pm_buf_puts(&b, "\" message=\"");
                pm_buf_xml(&b, q->error);
                pm_buf_puts(&b, "\"/>\n");
            } else if (!q->passed) {
                pm_buf_puts(&b, "      <failure type=\"StatusFailure\" message=\"");
                pm_buf_xml(&b, q->error);
                pm_buf_puts(&b, "\">");
                pm_buf_xml(&b, q->detail);
                pm_buf_puts(&b, "</failure>\n");
            }
            pm_buf_puts(&b, "      <system-out>");
            pm_buf_xml(&b, q->method);
            pm_buf_put(&b, " ", 1);
            pm_buf_xml(&b, q->url);
            if (q->skipped)
                pm_buf_puts(&b, " (not sent)");
            else
                pm_buf_printf(&b, " status %ld, %.1f ms, %llu B", q->status, q->time_ms,
                              (unsigned long long)q->response_bytes);
            if (q->notes) {
                pm_buf_puts(&b, "; ");
                pm_buf_xml(&b, q->notes);
            }
            pm_buf_puts(&b, "</system-out>\n    </testcase>\n");
        }
        pm_buf_puts(&b, "  </testsuite>\n");
    }
    free(done);
    pm_buf_puts(&b, "</testsuites>\n");
    if (!(*out = pm_buf_take(&b)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

static void row(pm_buf *b, const char *label, const char *a, const char *f)
{
    pm_buf_printf(b, "│ %22s │ %12s │ %12s │\n", label, a, f);
}

taap_code taap_run_report_summary(const taap_run_result *r, char **out, taap_error *err)
{
    *out = NULL;
    if (!r)
        return taap_fail(err, TAAP_E_USAGE, "no run result");
    taap_run_stats st;
    taap_run_result_stats(r, &st);
    pm_buf b = {0};
    char a[32], f[32];
    pm_buf_puts(&b, "┌────────────────────────┬──────────────┬──────────────┐\n");
    row(&b, "", "executed", "failed");
    pm_buf_puts(&b, "├────────────────────────┼──────────────┼──────────────┤\n");
    snprintf(a, sizeof a, "%u", st.iterations);
    row(&b, "iterations", a, "-");
    snprintf(a, sizeof a, "%zu", st.requests);
    snprintf(f, sizeof f, "%zu", st.failed + st.transport_errors + st.config_errors);
    row(&b, "requests", a, f);
    snprintf(a, sizeof a, "%zu", st.sent);
    snprintf(f, sizeof f, "%zu", st.transport_errors);
    row(&b, "sent", a, f);
    snprintf(a, sizeof a, "%zu", st.token_requests);
    row(&b, "token requests", a, "-");
    pm_buf_puts(&b, "├────────────────────────┴──────────────┴──────────────┤\n");
    char line[128];
    snprintf(line, sizeof line, "total run duration: %.0f ms", st.duration_ms);
    pm_buf_printf(&b, "│ %-52s │\n", line);
    snprintf(line, sizeof line, "response time: min %.1f ms, avg %.1f ms, max %.1f ms", st.min_ms,
             st.avg_ms, st.max_ms);
    pm_buf_printf(&b, "│ %-52s │\n", line);
    pm_buf_puts(&b, "└──────────────────────────────────────────────────────┘\n");
    if (!(*out = pm_buf_take(&b)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}
