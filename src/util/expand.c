/* expand.c — the one {{…}} resolver (expand.h). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "expand.h"
#include "util.h"

const char *taap_expand_next(const char *p, const char **nb, const char **ne)
{
    for (;;) {
        /* a plain scan, not strstr: sanitizer interceptors make each strstr
         * call measure the whole remaining string, which turns this loop
         * quadratic on megabyte-sized expansions */
        const char *o = p;
        while (*o && !(o[0] == '{' && o[1] == '{'))
            o++;
        if (!*o)
            return NULL;
        /* the lazy regex starts at the last '{' of a run of opening braces
         * that still leaves "{{" (so "{{{{a}}_b}}" matches "{{a}}") */
        const char *s = o;
        while (s[2] == '{')
            s++;
        const char *q = s + 2;
        while (*q && *q != '{' && *q != '}')
            q++;
        if (q[0] == '}' && q[1] == '}') {
            *nb = s + 2;
            *ne = q;
            return s;
        }
        p = s + 2;
        if (!*q)
            return NULL;
    }
}

/* One round over cur into b; *changed when a token was replaced. */
static void expand_round(const char *cur, taap_expand_lookup lookup, void *ctx, taap_buf *b,
                         int *changed)
{
    const char *p = cur, *nb, *ne, *t;
    while (!b->failed && (t = taap_expand_next(p, &nb, &ne)) != NULL) {
        char scratch[128];
        const char *v = lookup(ctx, nb, (size_t)(ne - nb), scratch, sizeof scratch);
        taap_buf_put(b, p, (size_t)(t - p));
        if (v) {
            taap_buf_puts(b, v);
            *changed = 1;
        } else {
            taap_buf_put(b, t, (size_t)(ne + 2 - t));
        }
        p = ne + 2;
    }
    taap_buf_puts(b, p);
}

int taap_expand(const char *in, int rounds, size_t max, taap_expand_lookup lookup, void *ctx,
                char **out)
{
    *out = NULL;
    char *cur = taap_strdup(in ? in : "");
    if (!cur)
        return TAAP_BUF_NOMEM;
    for (int round = 0; round < rounds && strstr(cur, "{{"); round++) {
        taap_buf b = taap_buf_limited(max);
        int changed = 0;
        expand_round(cur, lookup, ctx, &b, &changed);
        int failed = b.failed;
        char *next = taap_buf_take(&b);
        free(cur);
        if (!next)
            return failed ? failed : TAAP_BUF_NOMEM;
        cur = next;
        if (!changed)
            break;
    }
    *out = cur;
    return 0;
}
