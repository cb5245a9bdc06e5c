/*
 * buf.h — the one growable byte buffer (src/util, internal). Every layer
 * that assembles text builds it here: the PoP payload (into the caller's
 * stack storage, never grown), the runner's requests and reports, the
 * command's {{…}} expansion. A buffer has a maximum; growing past it, or
 * failing to allocate, sets `failed` once and every later append is
 * ignored, so callers append freely and check once at the end.
 *
 * The contents are NUL-terminated whenever p is not NULL (the NUL is not
 * counted in len and needs one byte of cap).
 */
#ifndef TAAP_BUF_H
#define TAAP_BUF_H

#include <stddef.h>
#include <string.h>

enum { TAAP_BUF_OK = 0, TAAP_BUF_NOMEM = 1, TAAP_BUF_FULL = 2 };

typedef struct taap_buf {
    char *p;
    size_t len, cap;
    size_t max;     /* the most bytes it may hold; 0 = no limit but memory */
    int failed;     /* TAAP_BUF_NOMEM or TAAP_BUF_FULL, sticky */
    int fixed;      /* p is the caller's storage: never reallocated or freed */
} taap_buf;

/* `{0}` is an empty growable buffer without a limit; these set one up. */
static inline taap_buf taap_buf_limited(size_t max)
{
    return (taap_buf){.max = max};
}
/* Appends into storage[cap] the caller owns (at most cap - 1 bytes). */
static inline taap_buf taap_buf_fixed(char *storage, size_t cap)
{
    return (taap_buf){.p = storage, .cap = cap, .max = cap ? cap - 1 : 0, .fixed = 1,
                      .failed = cap ? TAAP_BUF_OK : TAAP_BUF_FULL};
}

/* The slow path of taap_buf_put: grow (or fail). */
void taap_buf_put_slow(taap_buf *b, const void *data, size_t n);

/* Append n bytes. Inline: the PoP builder's appends stay a memcpy. */
static inline void taap_buf_put(taap_buf *b, const void *data, size_t n)
{
    /* cap never exceeds max + 1, so fitting in cap is within the limit */
    if (!b->failed && n < b->cap - b->len) {
        if (n)
            memcpy(b->p + b->len, data, n);
        b->len += n;
        b->p[b->len] = '\0';
        return;
    }
    taap_buf_put_slow(b, data, n);
}

static inline void taap_buf_puts(taap_buf *b, const char *s)
{
    taap_buf_put(b, s, strlen(s));
}

void taap_buf_printf(taap_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The decimal digits of v. */
void taap_buf_put_i64(taap_buf *b, long long v);

/* A JSON string's body (RFC 8259 §7, no quotes): '"', '\\' and control
 * characters escaped (\n \r \t short, the rest \u00XX), UTF-8 as is. */
void taap_buf_json_escape(taap_buf *b, const char *s, size_t n);

/* The contents (malloc'd, "" when empty), the buffer reset; NULL when the
 * buffer failed (it is freed). Not for fixed buffers. */
char *taap_buf_take(taap_buf *b);

/* Free the contents (a fixed buffer's storage stays the caller's) and
 * reset; the limit stays. */
void taap_buf_free(taap_buf *b);

#endif
