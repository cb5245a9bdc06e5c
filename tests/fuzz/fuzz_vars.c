/*
 * fuzz_vars — the {{…}} resolver of the Postman runner (pm_resolve,
 * pm_unresolved; Newman semantics: nested references, 19 rounds,
 * unresolved names kept verbatim, dynamic variables).
 *
 * Input: TEMPLATE, then optionally NUL and "name=value" lines that fill two
 * scopes (lines starting with '!' go to the second, lower-precedence one),
 * so self-reference, mutual reference and growth are all reachable.
 *
 * Invariants: the resolver terminates, returns 0 with a string or -1 (size
 * bound / no memory), and never returns more than PM_RESOLVE_MAX bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "pm.h"

/* ASan's strstr/strchr interceptors measure the whole haystack on every
 * call, which turns the resolver's linear scan of an 8 MiB expansion into a
 * quadratic one under ASan only (a false time-out). The resolver's own
 * accesses are still checked; only those libc string scans are not. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "intercept_strstr=0:intercept_strchr=0";
}

static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return 1700000000;
}

static void count_unresolved(void *ctx, const char *name, size_t len)
{
    (void)name;
    if (len > PM_RESOLVE_MAX)
        fuzz_fail("pm_unresolved reported an impossible name length", NULL);
    ++*(size_t *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    pm_scope s1 = { 0 }, s2 = { 0 };
    size_t tlen = strlen(text);
    if (tlen < size) {
        char *p = text + tlen + 1, *end = text + size;
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                nl = end;
            *nl = '\0';
            char *eq = strchr(p, '=');
            if (eq) {
                *eq = '\0';
                pm_scope *s = (*p == '!') ? &s2 : &s1;
                pm_scope_set(s, *p == '!' ? p + 1 : p, eq + 1, 0);
            }
            p = nl + 1;
        }
    }
    pm_resolver r = { 0 };
    r.scopes[0] = &s1;
    r.scopes[1] = &s2;
    r.n_scopes = 2;
    r.clock = fixed_clock;

    char *out = NULL;
    int rc = pm_resolve(&r, text, &out);
    if (rc != 0 && rc != -1)
        fuzz_fail("pm_resolve returned neither 0 nor -1", NULL);
    if (rc == 0) {
        if (!out)
            fuzz_fail("pm_resolve succeeded without output", NULL);
        if (strlen(out) > PM_RESOLVE_MAX)
            fuzz_fail("pm_resolve exceeded PM_RESOLVE_MAX", NULL);
        size_t n = 0;
        pm_unresolved(out, count_unresolved, &n);
    }
    free(out);
    pm_scope_clear(&s1);
    pm_scope_clear(&s2);
    free(text);
    return 0;
}
