/* explain_causes.c — find the client mistake behind an edts mismatch. Each
 * known mistake (taap/explain.h) is replayed on the canonical values of
 * this request and edts recomputed; a cause is named only when its edts
 * equals the token's. The search is bounded (EXPLAIN_MAX_VARIANTS hashes,
 * bodies up to TAAP_EXPLAIN_MAX_BODY) and runs only on failures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "canon.h"
#include "explain_internal.h"
#include "util.h"

#define EXPLAIN_MAX_VARIANTS 600
/* Reordering re-hashes every value: only for requests this small. */
#define EXPLAIN_ORDER_MAX_BYTES 65536

typedef struct search {
    taap_explain *e;
    const explain_values *vals;
    int found;
    int nomem;
} search;

static const char *const cause_names[] = {
    "none", "query_percent_encoded", "query_plus_as_space", "query_space_as_plus",
    "absolute_uri", "trailing_slash_added", "trailing_slash_dropped", "method_lower_case",
    "header_whitespace", "content_type_parameter", "authorization_without_bearer",
    "body_line_endings", "body_trailing_newline", "json_reserialised", "ehts_order",
    "other_request",
};

static const char *const cause_texts[] = {
    "",
    "edts matches this request only if the query is percent-encoded: sign the decoded query",
    "edts matches this request only if '+' in the query is read as a space: sign the query "
    "with '+' as sent",
    "edts matches this request only if a space in the query is written '+': sign the decoded "
    "query (%20 is a space)",
    "edts matches this request only if uri includes the scheme or host: sign the path and "
    "query only",
    "edts matches this request only if the path ends with '/': sign the path exactly as sent",
    "edts matches this request only without the path's trailing '/': sign the path exactly "
    "as sent",
    "edts matches this request only if the method is lower case: sign the method in upper case",
    "edts matches this request only if a header value keeps surrounding whitespace: sign "
    "header values trimmed",
    "edts matches this request only with another Content-Type parameter: sign Content-Type "
    "exactly as sent",
    "edts matches this request only if Authorization is signed without 'Bearer ': sign the "
    "whole header value",
    "edts matches this request only with other line endings in the body: sign the body bytes "
    "exactly as sent",
    "edts matches this request only with a trailing newline added or dropped: sign the body "
    "bytes exactly as sent",
    "edts matches this request only if the JSON body is serialised another way (compact vs "
    "pretty): sign the bytes you send",
    "edts matches this request only if the values are hashed in another order: hash them in "
    "ehts order",
    "no known client mistake reproduces edts: the token was made for another request "
    "(method, uri, headers or body differ)",
};

const char *taap_explain_cause_name(taap_explain_cause c)
{
    return (size_t)c < sizeof cause_names / sizeof *cause_names ? cause_names[c] : "unknown";
}

const char *taap_explain_cause_text(taap_explain_cause c)
{
    return (size_t)c < sizeof cause_texts / sizeof *cause_texts ? cause_texts[c] : "";
}

/* Name `cause` with a printf detail. */
static void name_cause(search *s, taap_explain_cause cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void name_cause(search *s, taap_explain_cause cause, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s->e->cause = cause;
    s->e->cause_detail = taap_strdup(buf);
    if (!s->e->cause_detail)
        s->nomem = 1;
    s->found = 1;
}

/* Hash the values with part `k` replaced; 1 when it equals the token's. */
static int try_sub(search *s, size_t k, const void *v, size_t l)
{
    if (s->found || s->e->variants_tried >= EXPLAIN_MAX_VARIANTS)
        return 0;
    /* A variant equal to the received value is no mistake. */
    if (l == s->vals->len[k] && (l == 0 || memcmp(v, s->vals->v[k], l) == 0))
        return 0;
    char edts[44];
    s->e->variants_tried++;
    return explain_edts(s->vals, NULL, k, v, l, edts) &&
           CRYPTO_memcmp(edts, s->e->token_edts, 43) == 0;
}

static int try_str(search *s, size_t k, const char *v)
{
    return v && try_sub(s, k, v, strlen(v));
}

/* malloc'd printf (NULL on failure). */
static char *fmt_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* The target's path and query exactly as sent (no decoding), and its
 * "scheme://host" when the target is an absolute URL. */
static char *raw_path_query(const char *target, char **origin)
{
    const char *p = target, *se = strstr(target, "://");
    *origin = NULL;
    if (se && se < target + strcspn(target, "/?#")) {
        p = se + 3;
        p += strcspn(p, "/?#");
        *origin = taap_strndup(target, (size_t)(p - target));
    }
    size_t l = strcspn(p, "#");
    return l && p[0] != '?' ? taap_strndup(p, l) : fmt_alloc("/%.*s", (int)l, p);
}

/* Copy of s with every byte `from` in the query (after '?') set to `to`. */
static char *swap_in_query(const char *uri, char from, char to, int *changed)
{
    char *c = taap_strdup(uri);
    *changed = 0;
    char *q = c ? strchr(c, '?') : NULL;
    for (; q && *q; q++)
        if (*q == from) {
            *q = to;
            *changed = 1;
        }
    return c;
}

static void uri_mistakes(search *s, size_t k, const taap_request *req)
{
    const char *uri = (const char *)s->vals->v[k];
    char *origin = NULL, *raw = raw_path_query(req->target, &origin);
    int changed;
    if (raw && try_str(s, k, raw))
        name_cause(s, TAAP_CAUSE_QUERY_ENCODED, "uri hashed as '%.200s' (query not decoded)", raw);
    char *v = swap_in_query(uri, '+', ' ', &changed);
    if (changed && try_str(s, k, v))
        name_cause(s, TAAP_CAUSE_QUERY_PLUS_AS_SPACE, "uri hashed as '%.200s'", v);
    free(v);
    v = swap_in_query(uri, ' ', '+', &changed);
    if (changed && try_str(s, k, v))
        name_cause(s, TAAP_CAUSE_QUERY_SPACE_AS_PLUS, "uri hashed as '%.200s'", v);
    free(v);

    /* Absolute URL: the target's own origin, the other scheme, the bare
     * host (from the URL or the Host header). */
    const char *host = NULL;
    size_t hl = 0;
    if (origin) {
        host = strstr(origin, "://") + 3;
        hl = strlen(host);
    } else if (canon_find_header(req, "Host", 4, &host, &hl) != 1) {
        host = NULL;
    }
    if (host && hl) {
        char *cands[4] = {
            origin ? taap_strdup(origin) : NULL,
            fmt_alloc("https://%.*s%s", (int)hl, host, uri),
            fmt_alloc("http://%.*s%s", (int)hl, host, uri),
            fmt_alloc("%.*s%s", (int)hl, host, uri),
        };
        if (cands[0]) {
            char *full = fmt_alloc("%s%s", cands[0], uri);
            free(cands[0]);
            cands[0] = full;
        }
        for (int i = 0; i < 4; i++) {
            if (cands[i] && try_str(s, k, cands[i]))
                name_cause(s, TAAP_CAUSE_ABSOLUTE_URI, "uri hashed as '%.200s'", cands[i]);
            free(cands[i]);
        }
    }

    /* Trailing slash on the path (before any query). */
    size_t pl = strcspn(uri, "?");
    if (pl > 1 && uri[pl - 1] == '/') {
        v = fmt_alloc("%.*s%s", (int)(pl - 1), uri, uri + pl);
        if (try_str(s, k, v))
            name_cause(s, TAAP_CAUSE_TRAILING_SLASH_DROPPED, "uri hashed as '%.200s'", v);
    } else {
        v = fmt_alloc("%.*s/%s", (int)pl, uri, uri + pl);
        if (try_str(s, k, v))
            name_cause(s, TAAP_CAUSE_TRAILING_SLASH_ADDED, "uri hashed as '%.200s'", v);
    }
    free(v);
    free(raw);
    free(origin);
}

static void method_mistakes(search *s, size_t k)
{
    char m[64];
    size_t l = s->vals->len[k];
    if (l == 0 || l >= sizeof m)
        return;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = s->vals->v[k][i];
        m[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    m[l] = '\0';
    if (try_sub(s, k, m, l))
        name_cause(s, TAAP_CAUSE_METHOD_LOWER, "http-method hashed as '%s'", m);
}

static void header_mistakes(search *s, size_t k)
{
    const char *name = s->e->parts[k].name;
    const char *v = (const char *)s->vals->v[k];
    int vl = (int)(s->vals->len[k] > 4096 ? 4096 : s->vals->len[k]);
    if ((size_t)vl != s->vals->len[k])
        return;
    /* The detail describes the change, never the value (it may be a
     * credential, and explanations go to logs). */
    const char *pre[] = {" ", "", " ", ""}, *suf[] = {"", " ", " ", "\r\n"};
    const char *what[] = {"a leading space", "a trailing space", "a space on each side",
                          "a trailing CRLF"};
    for (size_t i = 0; i < 4 && !s->found; i++) {
        char *c = fmt_alloc("%s%.*s%s", pre[i], vl, v, suf[i]);
        if (try_str(s, k, c))
            name_cause(s, TAAP_CAUSE_HEADER_WHITESPACE, "%.64s hashed with %s (not trimmed)",
                       name, what[i]);
        free(c);
    }
    if (taap_ascii_casecmp(name, "Content-Type") == 0) {
        const char *semi = memchr(v, ';', (size_t)vl);
        if (semi) { /* parameter dropped */
            int bl = (int)(semi - v);
            while (bl && (v[bl - 1] == ' ' || v[bl - 1] == '\t'))
                bl--;
            char *c = fmt_alloc("%.*s", bl, v);
            if (try_str(s, k, c))
                name_cause(s, TAAP_CAUSE_CONTENT_TYPE_PARAM, "Content-Type hashed as '%.200s'", c);
            free(c);
        } else { /* a charset added */
            const char *params[] = {"; charset=utf-8", "; charset=UTF-8", ";charset=utf-8",
                                    ";charset=UTF-8"};
            for (size_t i = 0; i < 4 && !s->found; i++) {
                char *c = fmt_alloc("%.*s%s", vl, v, params[i]);
                if (try_str(s, k, c))
                    name_cause(s, TAAP_CAUSE_CONTENT_TYPE_PARAM, "Content-Type hashed as '%.200s'",
                               c);
                free(c);
            }
        }
    }
    if (taap_ascii_casecmp(name, "Authorization") == 0) {
        const char *sp = memchr(v, ' ', (size_t)vl);
        if (sp && try_sub(s, k, sp + 1, (size_t)vl - (size_t)(sp + 1 - v)))
            name_cause(s, TAAP_CAUSE_AUTH_NO_BEARER,
                       "Authorization hashed without its scheme '%.*s '", (int)(sp - v), v);
    }
}

/* Body with every LF turned into CRLF (to_crlf) or every CRLF into LF. */
static char *line_endings(const unsigned char *b, size_t l, int to_crlf, size_t *out_len)
{
    char *o = malloc(2 * l + 1);
    size_t n = 0;
    int changed = 0;
    for (size_t i = 0; o && i < l; i++) {
        if (to_crlf && b[i] == '\n' && (i == 0 || b[i - 1] != '\r')) {
            o[n++] = '\r';
            changed = 1;
        } else if (!to_crlf && b[i] == '\r' && i + 1 < l && b[i + 1] == '\n') {
            changed = 1;
            continue;
        }
        o[n++] = (char)b[i];
    }
    if (!changed) {
        free(o);
        return NULL;
    }
    *out_len = n;
    return o;
}

static void body_mistakes(search *s, size_t k)
{
    const unsigned char *b = s->vals->v[k];
    size_t l = s->vals->len[k], nl;
    for (int crlf = 1; crlf >= 0 && !s->found; crlf--) {
        char *c = line_endings(b, l, crlf, &nl);
        if (c && try_sub(s, k, c, nl))
            name_cause(s, TAAP_CAUSE_BODY_LINE_ENDINGS, "body hashed with %s line endings (%zu bytes)",
                       crlf ? "CRLF" : "LF", nl);
        free(c);
    }
    /* Trailing newline dropped, or added. */
    size_t cut = l && b[l - 1] == '\n' ? (l > 1 && b[l - 2] == '\r' ? 2 : 1) : 0;
    if (cut && try_sub(s, k, b, l - cut))
        name_cause(s, TAAP_CAUSE_BODY_TRAILING_NEWLINE, "body hashed without its trailing newline");
    const char *adds[] = {"\n", "\r\n"};
    for (int i = 0; i < 2 && !s->found && !cut; i++) {
        char *c = malloc(l + 3);
        if (!c) {
            s->nomem = 1;
            return;
        }
        memcpy(c, b, l);
        memcpy(c + l, adds[i], strlen(adds[i]));
        if (try_sub(s, k, c, l + strlen(adds[i])))
            name_cause(s, TAAP_CAUSE_BODY_TRAILING_NEWLINE, "body hashed with a trailing %s",
                       i ? "CRLF" : "newline");
        free(c);
    }
    /* JSON re-serialised: compact, "a": 1 with spaces, pretty 2 and 4. */
    json_t *j = s->found ? NULL : json_loadb((const char *)b, l, JSON_REJECT_DUPLICATES, NULL);
    const size_t styles[] = {JSON_COMPACT, 0, JSON_INDENT(2), JSON_INDENT(4)};
    const char *style_names[] = {"compact", "with spaces after ':' and ','", "pretty (indent 2)",
                                 "pretty (indent 4)"};
    for (int i = 0; j && i < 4 && !s->found; i++) {
        char *c = json_dumps(j, styles[i] | JSON_PRESERVE_ORDER);
        if (c && try_str(s, k, c))
            name_cause(s, TAAP_CAUSE_JSON_RESERIALISED, "body hashed as JSON %s (%zu bytes)",
                       style_names[i], strlen(c));
        free(c);
    }
    json_decref(j);
}

/* Next permutation of idx[0..n-1] (lexicographic); 0 after the last. */
static int next_perm(size_t *idx, size_t n)
{
    size_t i = n - 1;
    while (i > 0 && idx[i - 1] >= idx[i])
        i--;
    if (i == 0)
        return 0;
    size_t j = n - 1;
    while (idx[j] <= idx[i - 1])
        j--;
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
    for (size_t a = i, b = n - 1; a < b; a++, b--) {
        t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
    }
    return 1;
}

static int try_order(search *s, const size_t *idx)
{
    char edts[44];
    if (s->e->variants_tried >= EXPLAIN_MAX_VARIANTS)
        return 0;
    s->e->variants_tried++;
    if (!explain_edts(s->vals, idx, (size_t)-1, NULL, 0, edts) ||
        CRYPTO_memcmp(edts, s->e->token_edts, 43) != 0)
        return 0;
    char list[400];
    size_t o = 0;
    for (size_t i = 0; i < s->vals->n && o < sizeof list - 70; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%.64s", i ? ";" : "",
                              s->e->parts[idx[i]].name);
    name_cause(s, TAAP_CAUSE_EHTS_ORDER, "values hashed in the order %s", list);
    return 1;
}

/* All orders for up to 5 parts; otherwise every swap of two parts. */
static void order_mistakes(search *s)
{
    size_t n = s->vals->n, total = 0, idx[TAAP_POP_MAX_ENTRIES];
    for (size_t i = 0; i < n; i++) {
        total += s->vals->len[i];
        idx[i] = i;
    }
    if (n < 2 || total > EXPLAIN_ORDER_MAX_BYTES)
        return;
    if (n <= 5) {
        while (!s->found && next_perm(idx, n) && !try_order(s, idx))
            ;
        return;
    }
    for (size_t a = 0; a < n && !s->found; a++)
        for (size_t b = a + 1; b < n && !s->found; b++) {
            idx[a] = b;
            idx[b] = a;
            try_order(s, idx);
            idx[a] = a;
            idx[b] = b;
        }
}

taap_code explain_find_cause(taap_explain *e, const explain_values *vals,
                             const taap_request *req, taap_error *err)
{
    search s = {e, vals, 0, 0};
    if (!e->token_edts || strlen(e->token_edts) != 43)
        goto none;
    for (size_t k = 0; k < vals->n && !s.found; k++) {
        const char *name = e->parts[k].name;
        if (strcmp(name, "uri") == 0)
            uri_mistakes(&s, k, req);
        else if (strcmp(name, "http-method") == 0)
            method_mistakes(&s, k);
        else if (e->parts[k].is_body)
            body_mistakes(&s, k);
        else
            header_mistakes(&s, k);
    }
    if (!s.found)
        order_mistakes(&s);
none:
    if (s.nomem)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    if (!s.found)
        e->cause = TAAP_CAUSE_OTHER_REQUEST;
    return TAAP_OK;
}
