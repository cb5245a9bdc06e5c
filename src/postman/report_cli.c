/*
 * report_cli.c — the CLI reporter's text, drawn like Newman's (reference
 * §6.2): per execution "↳ name", the request line "[200 OK, 232B, 25ms]",
 * "✓  assertion" or "N. assertion" per assertion (N numbers the failure
 * list); the summary table of executed/failed counts with the run's
 * duration, data received and response times; the numbered failure list.
 * --disable-unicode draws with ASCII. taap's own status check is shown as
 * one more line, "status <expectation>", so a request is never green
 * without saying what was checked.
 */
#include <stdlib.h>
#include <string.h>

#include "pm.h"

typedef struct glyphs {
    const char *pass, *item, *skip, *notrun;
} glyphs;

static glyphs glyphs_for(const taap_run_cli_style *s)
{
    glyphs g = {"✓", "↳", "-", "○"};
    if (s && s->ascii) {
        g.pass = "Pass";
        g.item = "Item";
        g.skip = "Skip";
        g.notrun = "NotRun";
    }
    return g;
}

static const char *col(const taap_run_cli_style *s, const char *code)
{
    return s && s->color ? code : "";
}

static void size_str(char *buf, size_t cap, uint64_t n)
{
    if (n < 1024)
        snprintf(buf, cap, "%lluB", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, cap, "%.1fkB", (double)n / 1024.0);
    else
        snprintf(buf, cap, "%.1fMB", (double)n / (1024.0 * 1024.0));
}

static void ms_str(char *buf, size_t cap, double ms)
{
    if (ms < 1000)
        snprintf(buf, cap, "%.0fms", ms);
    else
        snprintf(buf, cap, "%.1fs", ms / 1000.0);
}

typedef struct line_ctx {
    pm_buf *b;
    const taap_run_cli_style *style;
    size_t *no;
} line_ctx;

static void assertion_line(pm_buf *b, const taap_run_cli_style *s, const glyphs *g,
                           const char *name, int state, size_t no)
{
    /* state: 0 passed, 1 failed (numbered), 2 skipped, 3 not run (numbered) */
    if (state == 0)
        pm_buf_printf(b, "  %s%s%s  %s\n", col(s, "\033[32m"), g->pass, col(s, "\033[0m"), name);
    else if (state == 2)
        pm_buf_printf(b, "  %s%s  %s (skipped)%s\n", col(s, "\033[2m"), g->skip, name,
                      col(s, "\033[0m"));
    else
        pm_buf_printf(b, "  %s%zu. %s%s%s\n", col(s, "\033[31m"), no, name,
                      state == 3 ? " (not run)" : "", col(s, "\033[0m"));
}

taap_code taap_run_report_request(const taap_run_request *q, const taap_run_cli_style *style,
                                  size_t *failure_no, char **out, taap_error *err)
{
    *out = NULL;
    if (!q || !failure_no)
        return taap_fail(err, TAAP_E_USAGE, "taap_run_report_request: no request");
    glyphs g = glyphs_for(style);
    pm_buf b = {0};
    pm_buf_printf(&b, "%s %s\n", g.item, q->name);
    char size[32], ms[32];
    /* a response it was replayed over (an answered auth challenge): a line
     * of its own, as Newman prints every request */
    for (size_t k = 0; k < q->n_replayed; k++) {
        const taap_run_exchange *x = &q->replayed[k];
        size_str(size, sizeof size, x->response_bytes);
        ms_str(ms, sizeof ms, x->time_ms);
        pm_buf_printf(&b, "  %s %s [%ld%s%s, %s, %s]\n", q->method, q->url, x->status,
                      x->status_text ? " " : "", x->status_text ? x->status_text : "", size, ms);
    }
    size_str(size, sizeof size, q->response_bytes);
    ms_str(ms, sizeof ms, q->time_ms);
    pm_buf_printf(&b, "  %s %s ", q->method, q->url);
    if (q->skipped) {
        pm_buf_printf(&b, "%s[not sent]%s", col(style, "\033[2m"), col(style, "\033[0m"));
    } else if (q->transport_error || q->config_error) {
        pm_buf_printf(&b, "%s[errored]%s\n", col(style, "\033[31m"), col(style, "\033[0m"));
        pm_buf_printf(&b, "     %s", q->error ? q->error : "error");
    } else {
        pm_buf_printf(&b, "[%ld%s%s, %s, %s]", q->status, q->status_text ? " " : "",
                      q->status_text ? q->status_text : "", size, ms);
    }
    if (q->notes)
        pm_buf_printf(&b, "  %s(%s)%s", col(style, "\033[2m"), q->notes, col(style, "\033[0m"));
    pm_buf_put(&b, "\n", 1);
    if (!q->skipped && !q->transport_error && !q->config_error) {
        int assertion_failed = 0;
        for (size_t k = 0; k < q->n_assertions; k++) {
            const taap_run_assertion *a = &q->assertions[k];
            int state = a->status == TAAP_ASSERTION_PASSED    ? 0
                        : a->status == TAAP_ASSERTION_FAILED  ? 1
                        : a->status == TAAP_ASSERTION_SKIPPED ? 2
                                                              : 3;
            if (state == 1 || state == 3) {
                ++*failure_no;
                assertion_failed = 1;
            }
            if (!(style && style->no_assertions))
                assertion_line(&b, style, &g, a->name, state, *failure_no);
        }
        /* scripts that threw, in Newman's words ("TypeError in test-script") */
        for (size_t k = 0; k < q->n_script_failures; k++) {
            const taap_run_assertion *s = &q->script_failures[k];
            char what[160];
            snprintf(what, sizeof what, "%.100s in %s-script",
                     s->error_name ? s->error_name : "Error",
                     s->event && !strcmp(s->event, "prerequest") ? "prerequest" : "test");
            ++*failure_no;
            assertion_failed = 1;
            if (!(style && style->no_assertions))
                assertion_line(&b, style, &g, what, 1, *failure_no);
        }
        char check[96];
        snprintf(check, sizeof check, "status %s", q->expectation ? q->expectation : "");
        int status_failed = !q->passed && !assertion_failed;
        /* a request judged by its test scripts ("tests") has no status
         * check of taap's own to show, unless one failed without them */
        int scripted = q->expectation && !strcmp(q->expectation, "tests");
        if (status_failed)
            ++*failure_no;
        if (!(style && style->no_assertions) && (!scripted || status_failed))
            assertion_line(&b, style, &g, scripted ? "scripts" : check, status_failed,
                           *failure_no);
    } else if (q->transport_error || q->config_error) {
        ++*failure_no;
    }
    if (!(*out = pm_buf_take(&b)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

/* ---- the summary table --------------------------------------------------------- */

typedef struct box {
    const char *h, *v, *tl, *tm, *tr, *ml, *mm, *mr, *bl, *bm, *br, *ml2, *mr2;
} box;

static box box_for(const taap_run_cli_style *s)
{
    box u = {"─", "│", "┌", "┬", "┐", "├", "┼", "┤", "└", "┴", "┘", "├", "┤"};
    box a = {"-", "|", "+", "+", "+", "+", "+", "+", "+", "+", "+", "+", "+"};
    return s && s->ascii ? a : u;
}

static void rule(pm_buf *b, const box *x, const char *l, const char *m, const char *r,
                 int widths[3])
{
    pm_buf_puts(b, l);
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < widths[c] + 2; i++)
            pm_buf_puts(b, x->h);
        pm_buf_puts(b, c < 2 ? (m ? m : x->h) : r);
    }
    pm_buf_put(b, "\n", 1);
}

static void row(pm_buf *b, const box *x, const char *label, size_t done, size_t failed,
                int dash)
{
    char d[32], f[32];
    snprintf(d, sizeof d, "%zu", done);
    snprintf(f, sizeof f, "%zu", failed);
    pm_buf_printf(b, "%s %25s %s %16s %s %15s %s\n", x->v, label, x->v, d, x->v, dash ? "-" : f,
                  x->v);
}

static void wide(pm_buf *b, const box *x, const char *text)
{
    pm_buf_printf(b, "%s %-62s %s\n", x->v, text, x->v);
}

taap_code taap_run_report_cli_summary(const taap_run_result *r, const taap_run_cli_style *style,
                                      char **out, taap_error *err)
{
    *out = NULL;
    if (!r)
        return taap_fail(err, TAAP_E_USAGE, "no run result");
    taap_run_stats st;
    taap_run_result_stats(r, &st);
    box x = box_for(style);
    int w[3] = {25, 16, 15};
    pm_buf b = {0};
    rule(&b, &x, x.tl, x.tm, x.tr, w);
    pm_buf_printf(&b, "%s %25s %s %16s %s %15s %s\n", x.v, "", x.v, "executed", x.v, "failed",
                  x.v);
    rule(&b, &x, x.ml, x.mm, x.mr, w);
    row(&b, &x, "iterations", st.iterations, 0, 1);
    row(&b, &x, "requests", st.requests, st.failed + st.transport_errors + st.config_errors, 0);
    row(&b, &x, "sent", st.sent, st.transport_errors, 0);
    row(&b, &x, "token requests", st.token_requests, 0, 1);
    row(&b, &x, "prerequest-scripts", st.prerequest_scripts, 0, 1);
    row(&b, &x, "test-scripts", st.test_scripts, st.script_errors, 0);
    row(&b, &x, "assertions", st.assertions, st.assertions_failed, 0);
    if (st.assertions_not_run)
        row(&b, &x, "assertions not run", st.assertions_not_run, st.assertions_not_run, 0);
    rule(&b, &x, x.ml, x.bm, x.mr, w);
    char line[256], a[32], s1[32], s2[32], s3[32];
    ms_str(a, sizeof a, st.duration_ms);
    snprintf(line, sizeof line, "total run duration: %s", a);
    wide(&b, &x, line);
    size_str(a, sizeof a, st.response_bytes);
    snprintf(line, sizeof line, "total data received: %s", a);
    wide(&b, &x, line);
    ms_str(a, sizeof a, st.avg_ms);
    ms_str(s1, sizeof s1, st.min_ms);
    ms_str(s2, sizeof s2, st.max_ms);
    ms_str(s3, sizeof s3, st.response_sd_ms);
    snprintf(line, sizeof line, "average response time: %s [min: %s, max: %s, s.d.: %s]", a, s1,
             s2, s3);
    wide(&b, &x, line);
    /* the bottom edge spans the whole width */
    pm_buf_puts(&b, x.bl);
    for (int i = 0; i < w[0] + w[1] + w[2] + 8; i++)
        pm_buf_puts(&b, x.h);
    pm_buf_puts(&b, x.br);
    pm_buf_put(&b, "\n", 1);
    if (!(*out = pm_buf_take(&b)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

taap_code taap_run_report_summary(const taap_run_result *r, char **out, taap_error *err)
{
    return taap_run_report_cli_summary(r, NULL, out, err);
}

/* ---- the failure list ------------------------------------------------------------- */

typedef struct flist {
    pm_buf *b;
    size_t n;
} flist;

static void flist_one(void *ud, const taap_run_request *q, const pm_failure *f)
{
    flist *fl = ud;
    pm_buf *b = fl->b;
    if (!fl->n)
        pm_buf_puts(b, "  #  failure         detail\n");
    fl->n++;
    pm_buf_printf(b, "\n%3zu.  %-14s  %s\n", fl->n, f->name,
                  f->test ? f->test : f->type ? "" : "request");
    pm_buf_printf(b, "      iteration: %-4u  %s\n", q->iteration + 1, f->message);
    pm_buf_printf(b, "                       at %s\n", f->at);
    pm_buf_printf(b, "                       inside \"%s\"\n", q->path);
}

taap_code taap_run_report_failures(const taap_run_result *r, const taap_run_cli_style *style,
                                   char **out, taap_error *err)
{
    (void)style;
    *out = NULL;
    if (!r)
        return taap_fail(err, TAAP_E_USAGE, "no run result");
    pm_buf b = {0};
    flist fl = {&b, 0};
    for (size_t i = 0; i < r->n; i++)
        pm_each_failure(&r->recs[i].r, flist_one, &fl);
    *out = b.p ? pm_buf_take(&b) : taap_strdup("");
    if (!*out)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}
