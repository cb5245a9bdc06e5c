/* cmd_call_output.c — -w, -D, --json-output and progress for `taap call`. */
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "cmd_call_output.h"

int64_t call_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void call_print_headers(FILE *out, const taap_http_response *r)
{
    fprintf(out, "%s\r\n", r->status_line ? r->status_line : "HTTP/1.1");
    for (size_t i = 0; i < r->n_headers; i++)
        fprintf(out, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
    fputs("\r\n", out);
}

/* {"name": ["value", …]} with lower-case names, as curl's %{header_json}. */
static json_t *headers_json(const taap_http_response *r)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < r->n_headers; i++) {
        char name[256];
        size_t n = 0;
        for (const char *p = r->headers[i].name; *p && n + 1 < sizeof name; p++)
            name[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
        name[n] = '\0';
        json_t *a = json_object_get(o, name);
        if (!a) {
            a = json_array();
            json_object_set_new(o, name, a);
        }
        json_array_append_new(a, json_string(r->headers[i].value));
    }
    return o;
}

static json_t *vars_json(const call_result *r)
{
    const char *ct = taap_http_response_header(r->resp, "Content-Type");
    return json_pack("{sIsIsfsIsssIsssssI}", "http_code", (json_int_t)r->resp->status,
                     "response_code", (json_int_t)r->resp->status, "time_total", r->time_total,
                     "size_download", (json_int_t)r->resp->bytes_received, "url_effective",
                     r->url_effective ? r->url_effective : "", "num_redirects",
                     (json_int_t)r->redirects, "content_type", ct ? ct : "", "method",
                     r->method ? r->method : "", "exitcode", (json_int_t)r->exit_status);
}

static void put_json(FILE *out, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        fputs(s, out);
    free(s);
    json_decref(j);
}

/* One variable; 0 when known. */
static int put_var(FILE *out, const char *name, size_t n, const call_result *r)
{
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, n) == 0)
    const taap_http_response *resp = r->resp;
    if (IS("http_code") || IS("response_code"))
        fprintf(out, "%03ld", resp ? resp->status : 0L);
    else if (IS("time_total"))
        fprintf(out, "%.6f", r->time_total);
    else if (IS("size_download"))
        fprintf(out, "%llu", resp ? (unsigned long long)resp->bytes_received : 0ULL);
    else if (IS("url_effective"))
        fputs(r->url_effective ? r->url_effective : "", out);
    else if (IS("num_redirects"))
        fprintf(out, "%ld", r->redirects);
    else if (IS("method"))
        fputs(r->method ? r->method : "", out);
    else if (IS("exitcode"))
        fprintf(out, "%d", r->exit_status);
    else if (IS("content_type")) {
        const char *ct = resp ? taap_http_response_header(resp, "Content-Type") : NULL;
        fputs(ct ? ct : "", out);
    } else if (IS("header_json"))
        put_json(out, resp ? headers_json(resp) : json_object());
    else if (IS("json"))
        put_json(out, resp ? vars_json(r) : json_object());
    else
        return -1;
    return 0;
#undef IS
}

int call_write_out(FILE *out, const char *f, const call_result *r)
{
    int warned = 0;
    for (const char *p = f; *p; p++) {
        if (p[0] == '%' && p[1] == '%') {
            fputc('%', out);
            p++;
        } else if (p[0] == '%' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            if (!close) {
                fputs(p, out);
                break;
            }
            if (put_var(out, p + 2, (size_t)(close - p - 2), r) != 0 && !warned++)
                cli_warnf("unknown --write-out variable '%.*s' (see taap call --help)",
                          (int)(close - p - 2), p + 2);
            p = close;
        } else if (p[0] == '\\' && p[1]) {
            char c = p[1];
            fputc(c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c, out);
            p++;
        } else {
            fputc(*p, out);
        }
    }
    return ferror(out) ? -1 : 0;
}

int call_print_json(FILE *out, const call_result *r)
{
    const taap_http_response *resp = r->resp;
    json_t *o = vars_json(r);
    if (!o)
        return -1;
    json_object_set_new(o, "status", json_integer(resp->status));
    json_object_set_new(o, "headers", headers_json(resp));
    const char *ct = taap_http_response_header(resp, "Content-Type");
    json_t *body = NULL;
    if (ct && strstr(ct, "json") && resp->body_len)
        body = json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
    if (!body && resp->body)
        body = json_stringn(resp->body, resp->body_len);
    if (!body && resp->body_len)
        json_object_set_new(o, "body_bytes", json_integer((json_int_t)resp->body_len));
    json_object_set_new(o, "body", body ? body : json_null());
    put_json(out, o);
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}

static void human(char *buf, size_t cap, double v)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

int64_t call_progress_delay_ns(void)
{
    const char *v = getenv("TAAP_PROGRESS_DELAY_MS");
    char *end = NULL;
    long ms = v && *v ? strtol(v, &end, 10) : -1;
    if (!v || !*v || *end || ms < 0 || ms > 60000)
        ms = 1000;
    return (int64_t)ms * 1000000LL;
}

int call_progress_hook(void *ctx, uint64_t sent, int64_t total)
{
    call_progress *p = ctx;
    int64_t now = call_now_ns();
    if (now - p->start_ns < p->delay_ns || (p->shown && now - p->last_ns < 250000000LL) || !sent)
        return 0;
    p->last_ns = now;
    p->shown = 1;
    double secs = (double)(now - p->start_ns) / 1e9;
    char a[32], b[32], rate[32];
    human(a, sizeof a, (double)sent);
    human(rate, sizeof rate, (double)sent / secs);
    if (total > 0) {
        human(b, sizeof b, (double)total);
        fprintf(stderr, "\r\033[Ksent %s of %s (%d%%), %s/s", a, b, (int)(sent * 100 / (uint64_t)total),
                rate);
    } else {
        fprintf(stderr, "\r\033[Ksent %s, %s/s", a, rate);
    }
    fflush(stderr);
    return 0;
}

void call_progress_end(call_progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}
