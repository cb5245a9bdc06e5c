/* buf.c — the one growable buffer with a maximum (buf.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

void taap_buf_put_slow(taap_buf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    size_t limit = b->max && b->max < SIZE_MAX / 2 ? b->max : SIZE_MAX / 2;
    if (n > limit || b->len > limit - n) {
        b->failed = TAAP_BUF_FULL;
        return;
    }
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        if (b->fixed) {
            b->failed = TAAP_BUF_FULL;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (cap > limit + 1) /* keeps taap_buf_put's fast test within max */
            cap = limit + 1;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = TAAP_BUF_NOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void taap_buf_printf(taap_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        taap_buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        if (!b->failed)
            b->failed = TAAP_BUF_NOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    taap_buf_put(b, big, (size_t)n);
    free(big);
}

void taap_buf_put_i64(taap_buf *b, long long v)
{
    char tmp[24];
    size_t o = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--o] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--o] = '-';
    taap_buf_put(b, tmp + o, sizeof tmp - o);
}

void taap_buf_json_escape(taap_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* unescaped bytes go in runs, not one at a time */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        taap_buf_put(b, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            e[1] = (char)c;
            taap_buf_put(b, e, 2);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            taap_buf_put(b, e, 2);
        } else {
            taap_buf_put(b, e, 6);
        }
    }
    taap_buf_put(b, s + run, n - run);
}

char *taap_buf_take(taap_buf *b)
{
    char *p = b->failed ? NULL : b->p;
    if (b->failed)
        free(b->p);
    else if (!p)
        p = calloc(1, 1);
    size_t max = b->max;
    *b = (taap_buf){.max = max};
    return p;
}

void taap_buf_free(taap_buf *b)
{
    if (b->fixed) {
        b->len = 0;
        b->failed = TAAP_BUF_OK;
        if (b->p && b->cap)
            b->p[0] = '\0';
        return;
    }
    free(b->p);
    size_t max = b->max;
    *b = (taap_buf){.max = max};
}
