/*
 * vars.c — variable scopes and what {{…}} resolves to in a run, with
 * Newman's semantics: first match in the scope list local > data >
 * environment > collection > global, then the dynamic $generators. The
 * token rules and rounds are util's one resolver (src/util/expand.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "expand.h"
#include "pm.h"
#include "taap/pop.h"

/* ---- escaping into the runner's buffers (util's taap_buf) --------------- */

void pm_buf_json_str(pm_buf *b, const char *s)
{
    taap_buf_put(b, "\"", 1);
    if (s)
        taap_buf_json_escape(b, s, strlen(s));
    taap_buf_put(b, "\"", 1);
}

void pm_buf_xml(pm_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '<': pm_buf_puts(b, "&lt;"); break;
        case '>': pm_buf_puts(b, "&gt;"); break;
        case '&': pm_buf_puts(b, "&amp;"); break;
        case '"': pm_buf_puts(b, "&quot;"); break;
        case '\'': pm_buf_puts(b, "&apos;"); break;
        default:
            /* XML 1.0 forbids most control characters even escaped */
            if (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
                pm_buf_put(b, "?", 1);
            else
                pm_buf_put(b, p, 1);
        }
    }
}

/* ---- messages ---- */

void pm_err_oneline(taap_error *err)
{
    /* jansson quotes the offending input ("near '\"b\\\n'") and item names
     * come from the file: messages must stay one line */
    if (!err)
        return;
    for (char *p = err->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

taap_code pm_err_prefix(taap_error *err, taap_code rc, const char *what)
{
    if (!err)
        return rc;
    char tmp[TAAP_ERROR_MESSAGE_MAX];
    snprintf(tmp, sizeof tmp, "%s", err->message);
    return taap_fail(err, rc, "%s: %s", what, tmp);
}

/* ---- scopes ---------------------------------------------------------------- */

const pm_var *pm_scope_find(const pm_scope *s, const char *key)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0)
            return &s->v[i];
    return NULL;
}

const char *pm_scope_get(const pm_scope *s, const char *key)
{
    const pm_var *v = pm_scope_find(s, key);
    return v ? v->value : NULL;
}

int pm_scope_set(pm_scope *s, const char *key, const char *value, int secret)
{
    char *nv = taap_strdup(value ? value : "");
    if (!nv)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0) {
            free(s->v[i].value);
            s->v[i].value = nv;
            s->v[i].secret |= secret;
            return 0;
        }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        pm_var *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            free(nv);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    char *nk = taap_strdup(key);
    if (!nk) {
        free(nv);
        return -1;
    }
    s->v[s->n].key = nk;
    s->v[s->n].value = nv;
    s->v[s->n].secret = secret;
    s->n++;
    return 0;
}

void pm_scope_clear(pm_scope *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].key);
        taap_free_secret_str(s->v[i].value);
    }
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

char *pm_json_to_string(const json_t *v)
{
    char tmp[64];
    if (!v || json_is_null(v))
        return taap_strdup(json_is_null(v) ? "null" : "");
    if (json_is_string(v))
        return taap_strndup(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        return taap_strdup(tmp);
    }
    if (json_is_real(v)) {
        /* JavaScript prints integral doubles without a fraction */
        double d = json_real_value(v);
        if (d == (double)(long long)d && d > -1e15 && d < 1e15)
            snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        else
            snprintf(tmp, sizeof tmp, "%.17g", d);
        return taap_strdup(tmp);
    }
    if (json_is_true(v))
        return taap_strdup("true");
    if (json_is_false(v))
        return taap_strdup("false");
    if (json_is_array(v)) { /* String([a,b]) = "a,b" */
        pm_buf b = {0};
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (i)
                pm_buf_put(&b, ",", 1);
            char *s = json_is_null(e) ? taap_strdup("") : pm_json_to_string(e);
            if (s)
                pm_buf_puts(&b, s);
            free(s);
        }
        return pm_buf_take(&b);
    }
    return taap_strdup("[object Object]");
}

/* ---- dynamic variables ------------------------------------------------------ */

static unsigned rnd(unsigned n)
{
    uint32_t x = 0;
    if (n == 0)
        return 0;
    if (RAND_bytes((unsigned char *)&x, sizeof x) != 1)
        x = 0; /* test data, not a secret: a failed RNG gives a fixed value */
    return x % n;
}

static const char *const first_names[] = {"Ada", "Alan", "Grace", "Linus", "Barbara", "Dennis",
                                          "Margaret", "Ken", "Radia", "Edsger"};
static const char *const last_names[] = {"Lovelace", "Turing", "Hopper", "Torvalds", "Liskov",
                                         "Ritchie", "Hamilton", "Thompson", "Perlman",
                                         "Dijkstra"};
static const char *const words[] = {"signal", "tower", "carrier", "packet", "antenna",
                                    "roaming", "spectrum", "handset", "modem", "sim"};
static const char *const colors[] = {"red", "green", "blue", "magenta", "cyan", "orange",
                                     "purple", "teal", "black", "white"};
#define PICK(a) ((a)[rnd((unsigned)(sizeof(a) / sizeof((a)[0])))])

int pm_dynamic(const char *name, size_t len, char *buf, size_t cap,
               int64_t (*clock)(void *), void *clock_ctx)
{
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    if (IS("$guid") || IS("$randomUUID")) {
        char u[37];
        if (taap_uuid_v4(u, NULL) != TAAP_OK) { /* fall back to RAND directly */
            unsigned char r[16];
            if (RAND_bytes(r, 16) != 1)
                return 0;
            r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
            r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
            snprintf(u, sizeof u,
                     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                     r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                     r[12], r[13], r[14], r[15]);
        }
        snprintf(buf, cap, "%s", u);
        return 1;
    }
    if (IS("$timestamp")) {
        int64_t now = clock ? clock(clock_ctx) : (int64_t)time(NULL);
        snprintf(buf, cap, "%lld", (long long)now);
        return 1;
    }
    if (IS("$isoTimestamp")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        time_t t = clock ? (time_t)clock(clock_ctx) : ts.tv_sec;
        long ms = clock ? 0 : ts.tv_nsec / 1000000;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        return 1;
    }
    if (IS("$randomInt")) {
        snprintf(buf, cap, "%u", rnd(1001));
        return 1;
    }
    if (IS("$randomBoolean")) {
        snprintf(buf, cap, "%s", rnd(2) ? "true" : "false");
        return 1;
    }
    if (IS("$randomAlphaNumeric")) {
        static const char an[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        snprintf(buf, cap, "%c", an[rnd(36)]);
        return 1;
    }
    if (IS("$randomHexadecimal")) {
        snprintf(buf, cap, "%x", rnd(16));
        return 1;
    }
    if (IS("$randomFirstName")) {
        snprintf(buf, cap, "%s", PICK(first_names));
        return 1;
    }
    if (IS("$randomLastName")) {
        snprintf(buf, cap, "%s", PICK(last_names));
        return 1;
    }
    if (IS("$randomFullName")) {
        snprintf(buf, cap, "%s %s", PICK(first_names), PICK(last_names));
        return 1;
    }
    if (IS("$randomEmail")) {
        snprintf(buf, cap, "%s.%s%u@example.com", PICK(first_names), PICK(last_names), rnd(100));
        return 1;
    }
    if (IS("$randomWord")) {
        snprintf(buf, cap, "%s", PICK(words));
        return 1;
    }
    if (IS("$randomColor")) {
        snprintf(buf, cap, "%s", PICK(colors));
        return 1;
    }
    if (IS("$randomIP")) {
        snprintf(buf, cap, "%u.%u.%u.%u", rnd(256), rnd(256), rnd(256), rnd(256));
        return 1;
    }
    if (IS("$randomPhoneNumber")) {
        snprintf(buf, cap, "%03u-%03u-%04u", 200 + rnd(800), rnd(1000), rnd(10000));
        return 1;
    }
    if (IS("$randomPrice")) {
        snprintf(buf, cap, "%u.%02u", rnd(1000), rnd(100));
        return 1;
    }
    return 0;
#undef IS
}

/* ---- resolution --------------------------------------------------------------- */

/* A name in the scopes, first match wins, then the $dynamic values (the
 * resolver itself is util's taap_expand). */
static const char *lookup(void *ctx, const char *name, size_t len, char *dyn, size_t dyncap)
{
    const pm_resolver *r = ctx;
    char key[1024];
    if (len >= sizeof key)
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    for (size_t i = 0; i < r->n_scopes; i++) {
        const char *v = pm_scope_get(r->scopes[i], key);
        if (v)
            return v;
    }
    if (len > 1 && name[0] == '$' && pm_dynamic(name, len, dyn, dyncap, r->clock, r->clock_ctx))
        return dyn;
    return NULL;
}

int pm_resolve(const pm_resolver *r, const char *in, char **out)
{
    return taap_expand(in, TAAP_EXPAND_ROUNDS, PM_RESOLVE_MAX, lookup, (void *)r, out) == 0 ? 0 : -1;
}

/* Each distinct name is reported once: a small open-addressing set of
 * (pointer, length) slices keeps this linear (a resolved string may hold
 * millions of tokens; comparing each with all earlier ones was quadratic). */
typedef struct name_slot {
    const char *p;
    size_t len;
} name_slot;

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void pm_unresolved(const char *s, void (*fn)(void *ctx, const char *name, size_t len), void *ctx)
{
    name_slot *set = NULL;
    size_t cap = 0, used = 0;
    const char *p = s, *nb, *ne, *t;
    while (p && (t = taap_expand_next(p, &nb, &ne)) != NULL) {
        size_t len = (size_t)(ne - nb);
        p = ne + 2;
        if (used * 2 >= cap) { /* grow (and rehash) at half load */
            size_t ncap = cap ? cap * 2 : 64;
            name_slot *ns = calloc(ncap, sizeof *ns);
            if (!ns) { /* no memory: report without de-duplication */
                fn(ctx, nb, len);
                continue;
            }
            for (size_t i = 0; i < cap; i++)
                if (set[i].p) {
                    size_t j = (size_t)fnv1a(set[i].p, set[i].len) & (ncap - 1);
                    while (ns[j].p)
                        j = (j + 1) & (ncap - 1);
                    ns[j] = set[i];
                }
            free(set);
            set = ns;
            cap = ncap;
        }
        size_t j = (size_t)fnv1a(nb, len) & (cap - 1);
        int seen = 0;
        while (set[j].p) {
            if (set[j].len == len && memcmp(set[j].p, nb, len) == 0) {
                seen = 1;
                break;
            }
            j = (j + 1) & (cap - 1);
        }
        if (seen)
            continue;
        set[j].p = nb;
        set[j].len = len;
        used++;
        fn(ctx, nb, len);
    }
    free(set);
}
