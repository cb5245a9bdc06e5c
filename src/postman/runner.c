/*
 * runner.c — run a collection: plan the requests (--folder), iterate over
 * the data rows (sequentially or -j N in parallel), build each request the
 * way the Postman runtime does (reference §4: resolve → auth → body and
 * implicit Content-Type → PoP signed LAST over the exact bytes), send it,
 * capture tokens, check the expectation and record the result.
 *
 * Locking: ctx->lock guards the variable scopes, the result list, the
 * warnings and the reporter callback; ctx->token_lock serialises token
 * fetches so that parallel workers share one access token (the first
 * fetches, the others wait and reuse it). Order is always token_lock then
 * lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "b64url.h"
#include "pm.h"
#include "taap/pop.h"
#include "taap/request.h"

int pm_iterdata_scope(const taap_iterdata *d, size_t row, pm_scope *out);
pm_scope *pm_varset_scope(taap_varset *v);

#define MAX_RANGES 16
#define TOKEN_SKEW 60 /* refresh this many seconds before expiry (SPEC §4) */

typedef struct range {
    int lo, hi;
} range;

typedef struct plan_item {
    const pm_item *it;
    pm_script_info si;      /* test scripts of the item and its ancestors */
    int is_token;
    int jsrsasign;
} plan_item;

typedef struct run_ctx {
    const taap_collection *c;
    const taap_run_options *o;
    taap_varset *env, *globals;
    const taap_iterdata *data;
    taap_run_report_fn report;
    void *rctx;
    pthread_mutex_t lock, token_lock;
    taap_run_result *res;
    plan_item *plan;
    size_t n_plan;
    unsigned iterations;
    size_t total, done;
    char **warned;
    size_t n_warned, cap_warned;
    pm_secrets secrets;
    taap_key *own_key;
    const taap_key *key;
    range ranges[MAX_RANGES];
    size_t n_ranges;
    pm_scope coll, local;    /* run copies: collection variables, local */
    const pm_item *token_item;
    pm_script_info token_si;
    char access_var[128], id_var[128];
    int have_token;
    int64_t token_exp;       /* 0 = unknown */
    unsigned token_gen;
    int stop;
    unsigned next_iter;
    int pop_all;
    int token_in_plan;
    struct timespec t0;
} run_ctx;

typedef struct worker {
    run_ctx *cx;
    pm_http *http;
    pm_scope data;
    unsigned iteration;
} worker;

static int64_t now_s(run_ctx *cx)
{
    return cx->o->clock ? cx->o->clock(cx->o->clock_ctx) : (int64_t)time(NULL);
}

/* ---- events ------------------------------------------------------------------ */

static void emit(run_ctx *cx, taap_run_event_type type, unsigned iteration, const char *path,
                 const char *msg, const taap_run_request *rq)
{
    if (!cx->report)
        return;
    taap_run_event ev = {type, iteration, cx->iterations, cx->done, cx->total, path, msg, rq};
    cx->report(cx->rctx, &ev);
}

/* Once per key per run; caller holds cx->lock. Returns 1 the first time. */
static int first_time(run_ctx *cx, const char *key)
{
    for (size_t i = 0; i < cx->n_warned; i++)
        if (strcmp(cx->warned[i], key) == 0)
            return 0;
    if (cx->n_warned == cx->cap_warned) {
        size_t cap = cx->cap_warned ? cx->cap_warned * 2 : 16;
        char **w = realloc(cx->warned, cap * sizeof *w);
        if (!w)
            return 1;
        cx->warned = w;
        cx->cap_warned = cap;
    }
    char *k = taap_strdup(key);
    if (k)
        cx->warned[cx->n_warned++] = k;
    return 1;
}

/* ---- expectations ---------------------------------------------------------------- */

static int parse_ranges(const char *s, range *out, size_t *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*n >= MAX_RANGES)
            return -1;
        if (p[0] >= '1' && p[0] <= '5' && (p[1] == 'x' || p[1] == 'X') &&
            (p[2] == 'x' || p[2] == 'X')) {
            out[*n].lo = (p[0] - '0') * 100;
            out[*n].hi = out[*n].lo + 99;
            (*n)++;
            p += 3;
        } else {
            char *e;
            long lo = strtol(p, &e, 10), hi = lo;
            if (e == p || lo < 100 || lo > 599)
                return -1;
            p = e;
            if (*p == '-') {
                hi = strtol(p + 1, &e, 10);
                if (e == p + 1 || hi < lo || hi > 599)
                    return -1;
                p = e;
            }
            out[*n].lo = (int)lo;
            out[*n].hi = (int)hi;
            (*n)++;
        }
        if (*p && *p != ',' && *p != ' ')
            return -1;
    }
    return *n ? 0 : -1;
}

static int status_ok(run_ctx *cx, const plan_item *pi, long status, char *expect, size_t cap)
{
    if (cx->n_ranges) {
        snprintf(expect, cap, "%s", cx->o->expect_status);
        for (size_t i = 0; i < cx->n_ranges; i++)
            if (status >= cx->ranges[i].lo && status <= cx->ranges[i].hi)
                return 1;
        return 0;
    }
    if (pi->si.n_status) {
        size_t off = 0;
        int ok = 0;
        expect[0] = '\0';
        for (size_t i = 0; i < pi->si.n_status; i++) {
            int w = snprintf(expect + off, cap - off, "%s%d", i ? "," : "", pi->si.status[i]);
            if (w > 0 && (size_t)w < cap - off)
                off += (size_t)w;
            if (status == pi->si.status[i])
                ok = 1;
        }
        return ok;
    }
    snprintf(expect, cap, "2xx");
    return status >= 200 && status <= 299;
}

/* ---- building one request ------------------------------------------------------- */

typedef struct built {
    char *method;
    char *url;
    char *url_raw;          /* before percent-encoding, for the unresolved check */
    char **hn, **hv;
    size_t nh, caph;
    char *body;             /* memory body (may contain NULs: body_len) */
    size_t body_len;
    char *body_file;
    int pop;
    int basic_from_env;
    char err[300];          /* config error */
    int uses_token;
} built;

static void built_free(built *b)
{
    free(b->method);
    free(b->url);
    free(b->url_raw);
    for (size_t i = 0; i < b->nh; i++) {
        free(b->hn[i]);
        taap_free_secret_str(b->hv[i]);
    }
    free(b->hn);
    free(b->hv);
    free(b->body);
    free(b->body_file);
    memset(b, 0, sizeof *b);
}

static int hdr_add(built *b, const char *name, const char *value)
{
    if (b->nh == b->caph) {
        size_t cap = b->caph ? b->caph * 2 : 16;
        char **n = realloc(b->hn, cap * sizeof *n);
        if (!n)
            return -1;
        b->hn = n;
        char **v = realloc(b->hv, cap * sizeof *v);
        if (!v)
            return -1;
        b->hv = v;
        b->caph = cap;
    }
    b->hn[b->nh] = taap_strdup(name);
    b->hv[b->nh] = taap_strdup(value);
    if (!b->hn[b->nh] || !b->hv[b->nh]) {
        free(b->hn[b->nh]);
        free(b->hv[b->nh]);
        return -1;
    }
    b->nh++;
    return 0;
}

static int hdr_find(const built *b, const char *name)
{
    for (size_t i = 0; i < b->nh; i++)
        if (taap_ascii_casecmp(b->hn[i], name) == 0)
            return (int)i;
    return -1;
}

static void hdr_remove(built *b, const char *name)
{
    size_t w = 0;
    for (size_t i = 0; i < b->nh; i++) {
        if (taap_ascii_casecmp(b->hn[i], name) == 0) {
            free(b->hn[i]);
            taap_free_secret_str(b->hv[i]);
            continue;
        }
        b->hn[w] = b->hn[i];
        b->hv[w] = b->hv[i];
        w++;
    }
    b->nh = w;
}

static int hdr_set(built *b, const char *name, const char *value)
{
    int i = hdr_find(b, name);
    if (i < 0)
        return hdr_add(b, name, value);
    char *v = taap_strdup(value);
    if (!v)
        return -1;
    taap_free_secret_str(b->hv[i]);
    b->hv[i] = v;
    return 0;
}

static void resolver_init(worker *w, pm_resolver *r)
{
    run_ctx *cx = w->cx;
    memset(r, 0, sizeof *r);
    r->scopes[r->n_scopes++] = &cx->local;
    r->scopes[r->n_scopes++] = &w->data;
    r->scopes[r->n_scopes++] = pm_varset_scope(cx->env);
    r->scopes[r->n_scopes++] = &cx->coll;
    r->scopes[r->n_scopes++] = pm_varset_scope(cx->globals);
    r->clock = cx->o->clock;
    r->clock_ctx = cx->o->clock_ctx;
}

static const char *lookup_var(worker *w, const char *name)
{
    pm_resolver r;
    resolver_init(w, &r);
    for (size_t i = 0; i < r.n_scopes; i++) {
        const char *v = pm_scope_get(r.scopes[i], name);
        if (v)
            return v;
    }
    return NULL;
}

static const char *lookup_any(worker *w, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        const char *v = lookup_var(w, names[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

static char *resolve(worker *w, const char *s, built *b)
{
    pm_resolver r;
    resolver_init(w, &r);
    char *out;
    if (pm_resolve(&r, s ? s : "", &out) != 0) {
        snprintf(b->err, sizeof b->err, "variable expansion grew beyond %u bytes (a cycle?)",
                 PM_RESOLVE_MAX);
        return NULL;
    }
    return out;
}

static void put_urlenc(pm_buf *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            pm_buf_put(o, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            pm_buf_put(o, e, 3);
        }
    }
}

/* Substitute :name path segments from url.variable[] (values resolved). */
static char *apply_path_vars(worker *w, const pm_item *it, const char *url, built *b)
{
    if (it->path_vars.n == 0)
        return taap_strdup(url);
    const char *s = strstr(url, "://");
    const char *path = s ? strchr(s + 3, '/') : strchr(url, '/');
    if (!path)
        return taap_strdup(url);
    size_t qpos = strcspn(path, "?#");
    pm_buf o = {0};
    pm_buf_put(&o, url, (size_t)(path - url));
    const char *p = path, *end = path + qpos;
    while (p < end) {
        if (*p == '/' && p + 1 < end && p[1] == ':') {
            const char *ns = p + 2, *ne = ns;
            while (ne < end && *ne != '/' && *ne != '.')
                ne++;
            char name[256];
            size_t nl = (size_t)(ne - ns);
            const char *val = NULL;
            if (nl && nl < sizeof name) {
                memcpy(name, ns, nl);
                name[nl] = '\0';
                val = pm_kv_get(&it->path_vars, name);
            }
            if (val) {
                char *rv = resolve(w, val, b);
                if (!rv) {
                    pm_buf_free(&o);
                    return NULL;
                }
                pm_buf_put(&o, "/", 1);
                pm_buf_puts(&o, rv);
                free(rv);
                p = ne;
                continue;
            }
        }
        pm_buf_put(&o, p, 1);
        p++;
    }
    pm_buf_puts(&o, end);
    return pm_buf_take(&o);
}

static int method_prunes_body(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "COPY") || !strcmp(m, "PURGE") ||
           !strcmp(m, "UNLOCK");
}

static char *join_path(run_ctx *cx, const char *src)
{
    if (!src || src[0] == '/' || !cx->o->working_dir)
        return taap_strdup(src);
    pm_buf b = {0};
    pm_buf_puts(&b, cx->o->working_dir);
    pm_buf_put(&b, "/", 1);
    pm_buf_puts(&b, src);
    return pm_buf_take(&b);
}

static int build_body(worker *w, const pm_item *it, built *b)
{
    run_ctx *cx = w->cx;
    const pm_body *bd = &it->body;
    pm_buf o = {0};
    const char *implicit_ct = NULL;
    char ctbuf[128];
    switch (bd->mode) {
    case PM_BODY_NONE:
        return 0;
    case PM_BODY_UNSUPPORTED:
        snprintf(b->err, sizeof b->err, "body mode \"%s\" is not supported",
                 bd->mode_name ? bd->mode_name : "?");
        return -1;
    case PM_BODY_RAW: {
        char *s = resolve(w, bd->raw, b);
        if (!s)
            return -1;
        b->body_len = strlen(s);
        b->body = s;
        const char *lang = bd->language ? bd->language : "text";
        implicit_ct = !strcmp(lang, "json")         ? "application/json"
                      : !strcmp(lang, "javascript") ? "application/javascript"
                      : !strcmp(lang, "xml")        ? "application/xml"
                      : !strcmp(lang, "html")       ? "text/html"
                                                    : "text/plain";
        if (b->body_len == 0)
            implicit_ct = NULL;
        break;
    }
    case PM_BODY_URLENCODED: {
        int first = 1;
        for (size_t i = 0; i < bd->params.n; i++) {
            const pm_kv *kv = &bd->params.v[i];
            if (kv->disabled || !kv->key)
                continue;
            char *k = resolve(w, kv->key, b), *v = resolve(w, kv->value ? kv->value : "", b);
            if (!k || !v) {
                free(k);
                free(v);
                pm_buf_free(&o);
                return -1;
            }
            if (!first)
                pm_buf_put(&o, "&", 1);
            first = 0;
            put_urlenc(&o, k);
            pm_buf_put(&o, "=", 1);
            put_urlenc(&o, v);
            free(k);
            free(v);
        }
        b->body_len = o.len;
        b->body = pm_buf_take(&o);
        implicit_ct = "application/x-www-form-urlencoded";
        break;
    }
    case PM_BODY_FORMDATA: {
        unsigned char r[12];
        if (RAND_bytes(r, sizeof r) != 1)
            memset(r, 7, sizeof r);
        char boundary[64];
        int bl = snprintf(boundary, sizeof boundary, "--------------------------");
        for (size_t i = 0; i < sizeof r && bl + 2 < (int)sizeof boundary; i++)
            bl += snprintf(boundary + bl, sizeof boundary - (size_t)bl, "%02u", r[i] % 100u);
        for (size_t i = 0; i < bd->params.n; i++) {
            const pm_kv *kv = &bd->params.v[i];
            if (kv->disabled || !kv->key)
                continue;
            char *k = resolve(w, kv->key, b);
            if (!k) {
                pm_buf_free(&o);
                return -1;
            }
            int is_file = kv->type && !strcmp(kv->type, "file");
            if (is_file) {
                for (size_t s = 0; s < kv->n_src; s++) {
                    if (!kv->src[s] || !*kv->src[s])
                        continue;
                    char *path = join_path(cx, kv->src[s]);
                    char *data = NULL;
                    size_t dl = 0;
                    taap_error e = TAAP_ERROR_INIT;
                    if (!path || taap_read_file(path, TAAP_COLLECTION_MAX_BYTES, 0, &data, &dl,
                                                &e) != TAAP_OK) {
                        snprintf(b->err, sizeof b->err, "formdata file: %.250s", e.message);
                        free(path);
                        free(k);
                        pm_buf_free(&o);
                        return -1;
                    }
                    const char *base = strrchr(path, '/');
                    base = base ? base + 1 : path;
                    pm_buf_printf(&o,
                                  "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                                  "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
                                  boundary, k, base,
                                  kv->content_type ? kv->content_type : "application/octet-stream");
                    pm_buf_put(&o, data, dl);
                    pm_buf_puts(&o, "\r\n");
                    free(data);
                    free(path);
                }
            } else {
                char *v = resolve(w, kv->value ? kv->value : "", b);
                if (!v) {
                    free(k);
                    pm_buf_free(&o);
                    return -1;
                }
                pm_buf_printf(&o, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n",
                              boundary, k);
                if (kv->content_type)
                    pm_buf_printf(&o, "Content-Type: %s\r\n", kv->content_type);
                pm_buf_puts(&o, "\r\n");
                pm_buf_puts(&o, v);
                pm_buf_puts(&o, "\r\n");
                free(v);
            }
            free(k);
        }
        pm_buf_printf(&o, "--%s--\r\n", boundary);
        b->body_len = o.len;
        b->body = pm_buf_take(&o);
        snprintf(ctbuf, sizeof ctbuf, "multipart/form-data; boundary=%s", boundary);
        implicit_ct = ctbuf;
        break;
    }
    case PM_BODY_FILE:
        if (bd->file_src && *bd->file_src) {
            char *src = resolve(w, bd->file_src, b);
            if (!src)
                return -1;
            b->body_file = join_path(cx, src);
            free(src);
            if (access(b->body_file, R_OK) != 0) {
                snprintf(b->err, sizeof b->err, "body file %s cannot be read", b->body_file);
                return -1;
            }
        }
        break; /* src null: no file chosen, send an empty body */
    case PM_BODY_GRAPHQL: {
        char *q = resolve(w, bd->gql_query ? bd->gql_query : "", b);
        char *v = resolve(w, bd->gql_variables ? bd->gql_variables : "", b);
        if (!q || !v) {
            free(q);
            free(v);
            return -1;
        }
        pm_buf_puts(&o, "{\"query\":");
        pm_buf_json_str(&o, q);
        pm_buf_puts(&o, ",\"variables\":");
        json_t *vj = *v ? json_loads(v, 0, NULL) : NULL;
        if (vj) {
            char *d = json_dumps(vj, JSON_COMPACT | JSON_ENCODE_ANY);
            pm_buf_puts(&o, d ? d : "{}");
            free(d);
            json_decref(vj);
        } else {
            pm_buf_puts(&o, "{}");
        }
        pm_buf_put(&o, "}", 1);
        free(q);
        free(v);
        b->body_len = o.len;
        b->body = pm_buf_take(&o);
        implicit_ct = "application/json";
        break;
    }
    }
    if (!b->body && !b->body_file && bd->mode != PM_BODY_FILE) {
        snprintf(b->err, sizeof b->err, "out of memory");
        return -1;
    }
    if (implicit_ct && hdr_find(b, "Content-Type") < 0 && hdr_add(b, "Content-Type", implicit_ct))
        return -1;
    return 0;
}

static int mentions_token(const run_ctx *cx, const pm_item *it)
{
    char needle[160];
    snprintf(needle, sizeof needle, "{{%s}}", cx->access_var);
    for (size_t i = 0; i < it->headers.n; i++)
        if (it->headers.v[i].value && strstr(it->headers.v[i].value, needle))
            return 1;
    const pm_auth *a = pm_item_auth(it);
    if (a)
        for (size_t i = 0; i < a->attrs.n; i++)
            if (a->attrs.v[i].value && strstr(a->attrs.v[i].value, needle))
                return 1;
    return 0;
}

static int apply_auth(worker *w, const pm_item *it, built *b)
{
    const pm_auth *a = pm_item_auth(it);
    if (!a || !strcmp(a->type, "noauth"))
        return 0;
    if (!strcmp(a->type, "basic")) {
        char *u = resolve(w, pm_kv_get(&a->attrs, "username"), b);
        char *p = resolve(w, pm_kv_get(&a->attrs, "password"), b);
        int rc = -1;
        if (u && p) {
            pm_buf c = {0};
            pm_buf_puts(&c, u);
            pm_buf_put(&c, ":", 1);
            pm_buf_puts(&c, p);
            char *enc = c.oom ? NULL : malloc(TAAP_B64STD_LEN(c.len) + 1);
            if (enc) {
                taap_b64std_encode(c.p, c.len, enc);
                pm_buf v = {0};
                pm_buf_puts(&v, "Basic ");
                pm_buf_puts(&v, enc);
                char *val = pm_buf_take(&v);
                hdr_remove(b, "Authorization");
                rc = val ? hdr_add(b, "Authorization", val) : -1;
                taap_free_secret_str(val);
                taap_free_secret_str(enc);
            }
            if (c.p)
                taap_free_secret(c.p, c.len);
        }
        taap_free_secret_str(u);
        taap_free_secret_str(p);
        return rc;
    }
    if (!strcmp(a->type, "bearer") || !strcmp(a->type, "oauth2")) {
        const char *attr = !strcmp(a->type, "bearer") ? "token" : "accessToken";
        char *t = resolve(w, pm_kv_get(&a->attrs, attr), b);
        if (!t)
            return -1;
        int rc = 0;
        if (*t) { /* nothing is sent for an empty token (runtime behaviour) */
            const char *prefix = pm_kv_get(&a->attrs, "headerPrefix");
            pm_buf v = {0};
            pm_buf_puts(&v, prefix && *prefix ? prefix : "Bearer");
            pm_buf_put(&v, " ", 1);
            pm_buf_puts(&v, t);
            char *val = pm_buf_take(&v);
            hdr_remove(b, "Authorization");
            rc = val ? hdr_add(b, "Authorization", val) : -1;
            taap_free_secret_str(val);
        }
        taap_free_secret_str(t);
        return rc;
    }
    if (!strcmp(a->type, "apikey")) {
        char *k = resolve(w, pm_kv_get(&a->attrs, "key"), b);
        char *v = resolve(w, pm_kv_get(&a->attrs, "value"), b);
        const char *in = pm_kv_get(&a->attrs, "in");
        int rc = -1;
        if (k && v && *k) {
            if (in && !strcmp(in, "query")) {
                pm_buf u = {0};
                pm_buf_puts(&u, b->url);
                pm_buf_put(&u, strchr(b->url, '?') ? "&" : "?", 1);
                put_urlenc(&u, k);
                pm_buf_put(&u, "=", 1);
                put_urlenc(&u, v);
                char *nu = pm_buf_take(&u);
                if (nu) {
                    free(b->url);
                    b->url = nu;
                    rc = 0;
                }
            } else {
                hdr_remove(b, k);
                rc = hdr_add(b, k, v);
            }
        } else if (k && v) {
            rc = 0;
        }
        free(k);
        taap_free_secret_str(v);
        return rc;
    }
    snprintf(b->err, sizeof b->err, "auth type \"%s\" is not supported by taap run", a->type);
    return -1;
}

static const char *const client_id_names[] = {"client_id", "clientId", "clientID", "CLIENT_ID",
                                              "client-id", "consumerKey", "consumer_key",
                                              "apiKey", NULL};
static const char *const client_secret_names[] = {"client_secret", "clientSecret",
                                                  "CLIENT_SECRET", "client-secret",
                                                  "consumerSecret", "consumer_secret",
                                                  "apiSecret", NULL};
static const char *const key_names[] = {"privateKey", "private_key", "PRIVATE_KEY", "privKey",
                                        "privatekey", "pop_private_key", "popPrivateKey",
                                        "private-key", "rsaPrivateKey", NULL};

/* Basic credentials for an OAuth token request when the collection expects
 * a script to have made them (no Authorization, or a placeholder left). */
static int token_basic(worker *w, built *b)
{
    int i = hdr_find(b, "Authorization");
    if (i >= 0) {
        const char *v = b->hv[i];
        if (!strstr(v, "{{") && strcmp(v, "Basic") != 0 && strcmp(v, "Basic ") != 0 && *v)
            return 0; /* the collection already sends credentials */
    }
    const char *id = lookup_any(w, client_id_names);
    const char *sec = lookup_any(w, client_secret_names);
    if (!id || !sec) {
        if (first_time(w->cx, "basic:missing"))
            emit(w->cx, TAAP_RUN_EV_WARNING, w->iteration, NULL,
                 "the token request needs Basic credentials but the environment has no "
                 "client id and secret (client_id / client_secret)",
                 NULL);
        return 0;
    }
    pm_buf c = {0};
    pm_buf_puts(&c, id);
    pm_buf_put(&c, ":", 1);
    pm_buf_puts(&c, sec);
    char *enc = c.oom ? NULL : malloc(TAAP_B64STD_LEN(c.len) + 1);
    int rc = -1;
    if (enc) {
        taap_b64std_encode(c.p, c.len, enc);
        pm_buf v = {0};
        pm_buf_puts(&v, "Basic ");
        pm_buf_puts(&v, enc);
        char *val = pm_buf_take(&v);
        rc = val ? hdr_set(b, "Authorization", val) : -1;
        taap_free_secret_str(val);
        taap_free_secret_str(enc);
        b->basic_from_env = 1;
    }
    if (c.p)
        taap_free_secret(c.p, c.len);
    return rc;
}

typedef struct unres_ctx {
    run_ctx *cx;
    const char *path;
    char first[200];
    int count;
} unres_ctx;

static void on_unresolved(void *ud, const char *name, size_t len)
{
    unres_ctx *u = ud;
    char key[300], msg[400];
    if (!u->count)
        snprintf(u->first, sizeof u->first, "%.*s", (int)(len > 150 ? 150 : len), name);
    u->count++;
    snprintf(key, sizeof key, "var:%.*s", (int)(len > 250 ? 250 : len), name);
    if (first_time(u->cx, key)) {
        snprintf(msg, sizeof msg,
                 "unresolved variable {{%.*s}} (in \"%s\"): not in the environment, data, "
                 "collection or globals; sent verbatim",
                 (int)(len > 150 ? 150 : len), name, u->path);
        emit(u->cx, TAAP_RUN_EV_WARNING, 0, u->path, msg, NULL);
    }
}

/* Resolve everything of the item into b (under cx->lock). 0 or -1 (b->err). */
static int build_request(worker *w, const plan_item *pi, built *b)
{
    run_ctx *cx = w->cx;
    const pm_item *it = pi->it;
    memset(b, 0, sizeof *b);
    b->method = taap_strdup(it->method);
    char *u = resolve(w, it->url, b);
    if (!u || !b->method)
        return -1;
    char *u2 = apply_path_vars(w, it, u, b);
    free(u);
    if (!u2)
        return -1;
    /* no scheme → http:// (Postman's default); protocol-relative → http: */
    pm_buf ub = {0};
    if (!strncmp(u2, "//", 2))
        pm_buf_puts(&ub, "http:");
    else if (!strstr(u2, "://") && *u2)
        pm_buf_puts(&ub, "http://");
    size_t ul = strcspn(u2, "#"); /* the fragment is never sent */
    pm_buf_put(&ub, u2, ul);
    free(u2);
    char *u3 = pm_buf_take(&ub);
    if (!u3)
        return -1;
    b->url = pm_url_encode_loose(u3);
    b->url_raw = u3;
    if (!b->url)
        return -1;
    if (!*b->url) {
        snprintf(b->err, sizeof b->err, "the request has no URL");
        return -1;
    }
    for (size_t i = 0; i < it->headers.n; i++) {
        const pm_kv *h = &it->headers.v[i];
        if (h->disabled || !h->key || !*h->key)
            continue;
        char *k = resolve(w, h->key, b), *v = resolve(w, h->value ? h->value : "", b);
        int rc = (k && v) ? hdr_add(b, k, v) : -1;
        free(k);
        taap_free_secret_str(v);
        if (rc)
            return -1;
    }
    b->pop = cx->pop_all || hdr_find(b, "X-Authorization") >= 0;
    b->uses_token = mentions_token(cx, it);
    if (apply_auth(w, it, b) != 0)
        return -1;
    if (!method_prunes_body(b->method) && build_body(w, it, b) != 0)
        return -1;
    if (pi->is_token && token_basic(w, b) != 0)
        return -1;
    return 0;
}

/* ---- PoP --------------------------------------------------------------------------- */

static int sign(run_ctx *cx, built *b, char *errbuf, size_t cap)
{
    /* drop any placeholder, remember where it was so the order stays */
    int pos = hdr_find(b, "X-Authorization");
    hdr_remove(b, "X-Authorization");
    taap_header *hs = calloc(b->nh ? b->nh : 1, sizeof *hs);
    if (!hs) {
        snprintf(errbuf, cap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < b->nh; i++) {
        hs[i].name = b->hn[i];
        hs[i].value = b->hv[i];
    }
    taap_request rq = {0};
    rq.method = b->method;
    rq.target = b->url;
    rq.headers = hs;
    rq.n_headers = b->nh;
    if (b->body_file) {
        rq.body.kind = TAAP_BODY_FILE;
        rq.body.path = b->body_file;
    } else if (b->body_len) {
        rq.body.kind = TAAP_BODY_MEMORY;
        rq.body.data = b->body;
        rq.body.len = (int64_t)b->body_len;
    }
    taap_pop_options po;
    taap_pop_options_init(&po);
    po.clock = cx->o->clock; /* NULL → wall clock */
    po.clock_ctx = cx->o->clock_ctx;
    char *tok = NULL;
    taap_error e = TAAP_ERROR_INIT;
    taap_code rc = taap_pop_build_request(cx->key, &rq, &po, &tok, NULL, &e);
    free(hs);
    if (rc != TAAP_OK) {
        snprintf(errbuf, cap, "PoP signing failed: %.250s", e.message);
        return -1;
    }
    int r = hdr_add(b, "X-Authorization", tok);
    free(tok);
    if (r)
        return -1;
    /* move it back to where the collection had it */
    if (pos >= 0 && (size_t)pos < b->nh - 1) {
        char *n = b->hn[b->nh - 1], *v = b->hv[b->nh - 1];
        memmove(b->hn + pos + 1, b->hn + pos, (b->nh - 1 - (size_t)pos) * sizeof *b->hn);
        memmove(b->hv + pos + 1, b->hv + pos, (b->nh - 1 - (size_t)pos) * sizeof *b->hv);
        b->hn[pos] = n;
        b->hv[pos] = v;
    }
    return 0;
}

/* ---- recording ------------------------------------------------------------------- */

typedef struct outcome {
    long status;
    double time_ms;
    uint64_t bytes;
    int passed, transport, config, skipped;
    unsigned attempts;
    char expect[64];
    char error[400];
    char *detail;
    char notes[256];
} outcome;

static void note(outcome *oc, const char *s)
{
    size_t l = strlen(oc->notes);
    snprintf(oc->notes + l, sizeof oc->notes - l, "%s%s", l ? "; " : "", s);
}

static char *redact_header(run_ctx *cx, const char *name, const char *value)
{
    if (cx->o->no_redact)
        return taap_strdup(value);
    if (pm_header_sensitive(name)) {
        const char *sp = strchr(value, ' ');
        pm_buf b = {0};
        if (sp && (size_t)(sp - value) < 16) /* keep the scheme: "Bearer <redacted>" */
            pm_buf_put(&b, value, (size_t)(sp - value) + 1);
        pm_buf_puts(&b, "<redacted>");
        return pm_buf_take(&b);
    }
    return pm_redact(&cx->secrets, value);
}

static char *red(run_ctx *cx, const char *s)
{
    if (!s)
        return NULL;
    return cx->o->no_redact ? taap_strdup(s) : pm_redact(&cx->secrets, s);
}

/* Store the record and report it (takes cx->lock). */
static void record(worker *w, const plan_item *pi, const built *b, outcome *oc)
{
    run_ctx *cx = w->cx;
    const pm_item *it = pi->it;
    pthread_mutex_lock(&cx->lock);
    taap_run_result *res = cx->res;
    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 64;
        pm_record *r = realloc(res->recs, cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&cx->lock);
            return;
        }
        res->recs = r;
        res->cap = cap;
    }
    pm_record *rec = &res->recs[res->n++];
    memset(rec, 0, sizeof *rec);
    taap_run_request *q = &rec->r;
    q->iteration = w->iteration;
    q->path = rec->own[0] = taap_strdup(it->path);
    q->name = rec->own[1] = taap_strdup(it->name);
    q->method = rec->own[2] = taap_strdup(b && b->method ? b->method : it->method);
    q->url = rec->own[3] = red(cx, b && b->url ? b->url : it->url);
    q->expectation = rec->own[4] = taap_strdup(oc->expect);
    q->error = rec->own[5] = oc->error[0] ? red(cx, oc->error) : NULL;
    if (oc->detail) {
        char *d = red(cx, oc->detail);
        if (d && !cx->o->no_redact && strstr(d, "access_token")) {
            free(d);
            d = taap_strdup("<redacted: the response carries a token>");
        }
        q->detail = rec->own[6] = d;
    }
    q->notes = rec->own[7] = oc->notes[0] ? taap_strdup(oc->notes) : NULL;
    if (b && b->nh) {
        rec->hn = calloc(b->nh, sizeof *rec->hn);
        rec->hv = calloc(b->nh, sizeof *rec->hv);
        if (rec->hn && rec->hv) {
            for (size_t i = 0; i < b->nh; i++) {
                rec->hn[i] = taap_strdup(b->hn[i]);
                rec->hv[i] = redact_header(cx, b->hn[i], b->hv[i]);
            }
            q->n_headers = b->nh;
        }
    }
    q->header_names = (const char *const *)rec->hn;
    q->header_values = (const char *const *)rec->hv;
    q->status = oc->status;
    q->time_ms = oc->time_ms;
    q->response_bytes = oc->bytes;
    q->passed = oc->passed;
    q->transport_error = oc->transport;
    q->config_error = oc->config;
    q->skipped = oc->skipped;
    q->attempts = oc->attempts;
    cx->done++;
    if (!oc->passed && cx->o->bail)
        cx->stop = 1;
    emit(cx, TAAP_RUN_EV_REQUEST, w->iteration, it->path, NULL, q);
    pthread_mutex_unlock(&cx->lock);
}

/* ---- token handling ------------------------------------------------------------ */

static void store_var(run_ctx *cx, char scope, const char *name, const char *value)
{
    pm_scope *s = scope == 'g'   ? pm_varset_scope(cx->globals)
                  : scope == 'c' ? &cx->coll
                  : scope == 'l' ? &cx->local
                                 : pm_varset_scope(cx->env);
    if (scope == 'g')
        taap_varset_set(cx->globals, name, value, NULL);
    else if (scope == 'e' || !scope)
        taap_varset_set(cx->env, name, value, NULL);
    else
        pm_scope_set(s, name, value, 0);
}

/* Parse a token response and store it (caller holds cx->lock). */
static int capture_token(run_ctx *cx, const char *body, outcome *oc)
{
    json_t *j = body ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *at = json_object_get(j, "access_token");
    if (!json_is_string(at) || !json_string_length(at)) {
        json_decref(j);
        return -1;
    }
    const char *access = json_string_value(at);
    const char *idt = json_string_value(json_object_get(j, "id_token"));
    json_t *ei = json_object_get(j, "expires_in");
    long long exp_in = -1;
    if (json_is_integer(ei))
        exp_in = (long long)json_integer_value(ei);
    else if (json_is_real(ei))
        exp_in = (long long)json_real_value(ei);
    else if (json_is_string(ei)) {
        char *e;
        long long v = strtoll(json_string_value(ei), &e, 10);
        if (e != json_string_value(ei) && *e == '\0')
            exp_in = v;
    }
    pm_secrets_add(&cx->secrets, access);
    if (idt)
        pm_secrets_add(&cx->secrets, idt);
    int64_t now = now_s(cx);
    int stored_access = 0, stored_id = 0;
    for (size_t i = 0; i < cx->token_si.n_caps; i++) {
        const pm_capture *c = &cx->token_si.caps[i];
        char buf[64];
        switch (c->field) {
        case PM_F_ACCESS:
            if (cx->o->token_var)
                break;
            store_var(cx, c->scope, c->name, access);
            stored_access = 1;
            break;
        case PM_F_ID:
            if (idt) {
                store_var(cx, c->scope, c->name, idt);
                stored_id = 1;
            }
            break;
        case PM_F_EXPIRES_IN:
            if (exp_in >= 0) {
                snprintf(buf, sizeof buf, "%lld", exp_in);
                store_var(cx, c->scope, c->name, buf);
            }
            break;
        case PM_F_EXPIRY_MS:
            if (exp_in >= 0) {
                snprintf(buf, sizeof buf, "%lld", (long long)(now + exp_in) * 1000LL);
                store_var(cx, c->scope, c->name, buf);
            }
            break;
        }
    }
    if (!stored_access)
        store_var(cx, 'e', cx->access_var, access);
    if (idt && !stored_id)
        store_var(cx, 'e', cx->id_var, idt);
    cx->have_token = 1;
    cx->token_exp = exp_in > 0 ? now + exp_in : 0;
    cx->token_gen++;
    char n[200];
    snprintf(n, sizeof n, "token captured into {{%s}}", cx->access_var);
    note(oc, n);
    json_decref(j);
    return 0;
}

static int token_valid(run_ctx *cx)
{
    if (!cx->have_token)
        return 0;
    return cx->token_exp == 0 || now_s(cx) < cx->token_exp - TOKEN_SKEW;
}

static void exec_item(worker *w, const plan_item *pi, int from_token_lock, const char *why);

/* Make sure a valid token exists (fetching it with the collection's token
 * request); `force` refetches unless another worker already did since
 * generation `seen_gen`. */
static void ensure_token(worker *w, int force, unsigned seen_gen, const char *why)
{
    run_ctx *cx = w->cx;
    if (!cx->token_item)
        return;
    pthread_mutex_lock(&cx->token_lock);
    pthread_mutex_lock(&cx->lock);
    int need = force ? cx->token_gen == seen_gen : !token_valid(cx);
    pthread_mutex_unlock(&cx->lock);
    if (need) {
        plan_item pi = {0};
        pi.it = cx->token_item;
        pi.si = cx->token_si;
        pi.is_token = 1;
        exec_item(w, &pi, 1, why);
    }
    pthread_mutex_unlock(&cx->token_lock);
}

/* ---- executing one item ------------------------------------------------------------- */

static void exec_item(worker *w, const plan_item *pi, int from_token_lock, const char *why)
{
    run_ctx *cx = w->cx;
    outcome oc;
    memset(&oc, 0, sizeof oc);
    built b;
    memset(&b, 0, sizeof b);
    if (why)
        note(&oc, why);

    if (pi->jsrsasign) {
        oc.skipped = oc.passed = 1;
        snprintf(oc.expect, sizeof oc.expect, "-");
        note(&oc, "jsrsasign download not needed: PoP tokens are signed natively");
        record(w, pi, NULL, &oc);
        return;
    }
    /* the token request: parallel workers share one token */
    if (pi->is_token && !from_token_lock) {
        pthread_mutex_lock(&cx->token_lock);
        pthread_mutex_lock(&cx->lock);
        int valid = token_valid(cx);
        pthread_mutex_unlock(&cx->lock);
        if (valid) {
            pthread_mutex_unlock(&cx->token_lock);
            oc.skipped = oc.passed = 1;
            snprintf(oc.expect, sizeof oc.expect, "-");
            char n[96];
            pthread_mutex_lock(&cx->lock);
            if (cx->token_exp)
                snprintf(n, sizeof n, "not sent: the access token is valid for %lld s more",
                         (long long)(cx->token_exp - now_s(cx)));
            else
                snprintf(n, sizeof n, "not sent: the access token from this run is reused");
            pthread_mutex_unlock(&cx->lock);
            note(&oc, n);
            record(w, pi, NULL, &oc);
            return;
        }
        exec_item(w, pi, 1, why);
        pthread_mutex_unlock(&cx->token_lock);
        return;
    }
    /* fetch or refresh the token this request needs */
    if (!pi->is_token && cx->token_item && mentions_token(cx, pi->it)) {
        pthread_mutex_lock(&cx->lock);
        const char *tv = lookup_var(w, cx->access_var);
        int missing = !tv || !*tv;
        int expiring = cx->have_token && !token_valid(cx);
        pthread_mutex_unlock(&cx->lock);
        /* a missing token is fetched here only when the token request is
         * not in the plan (e.g. --folder Connectivity): otherwise it has run
         * (and failed) already, or runs in its turn */
        if ((missing && !cx->token_in_plan) || expiring)
            ensure_token(w, 0, 0, missing ? "fetched automatically: a later request needs a token"
                                          : "refreshed before expiry");
    }

    unsigned tries = cx->o->retries + 1;
    int refreshed = 0;
    pm_http_resp resp;
    memset(&resp, 0, sizeof resp);
    for (unsigned attempt = 0; attempt < tries; attempt++) {
        built_free(&b);
        pm_http_resp_clear(&resp);
        pthread_mutex_lock(&cx->lock);
        int brc = build_request(w, pi, &b);
        unsigned gen = cx->token_gen;
        pthread_mutex_unlock(&cx->lock);
        if (brc != 0) {
            oc.config = 1;
            snprintf(oc.error, sizeof oc.error, "%s: %s", pi->it->path,
                     b.err[0] ? b.err : "out of memory");
            break;
        }
        if (b.pop) {
            char e[300];
            if (!cx->key) {
                oc.config = 1;
                snprintf(oc.error, sizeof oc.error, "no private key for the PoP token");
                break;
            }
            if (sign(cx, &b, e, sizeof e) != 0) {
                oc.config = 1;
                snprintf(oc.error, sizeof oc.error, "%s", e);
                break;
            }
        }
        /* warnings (and --strict-vars) for what is left unresolved in the final bytes */
        unres_ctx uc = {cx, pi->it->path, "", 0};
        pthread_mutex_lock(&cx->lock);
        pm_unresolved(b.url_raw ? b.url_raw : b.url, on_unresolved, &uc);
        for (size_t i = 0; i < b.nh; i++) {
            pm_unresolved(b.hn[i], on_unresolved, &uc);
            pm_unresolved(b.hv[i], on_unresolved, &uc);
        }
        if (b.body && b.body_len == strlen(b.body))
            pm_unresolved(b.body, on_unresolved, &uc);
        pthread_mutex_unlock(&cx->lock);
        if (uc.count && cx->o->strict_vars) {
            oc.config = 1;
            snprintf(oc.error, sizeof oc.error, "unresolved variable {{%s}} (--strict-vars)",
                     uc.first);
            break;
        }

        const char *const *hn = (const char *const *)b.hn, *const *hv = (const char *const *)b.hv;
        pm_http_req hr = {b.method, b.url, hn, hv, b.nh, b.body, b.body_len, b.body_file,
                          cx->o->timeout_ms, cx->o->insecure, cx->o->cacert, cx->o->connect_to,
                          cx->o->n_connect_to};
        oc.attempts++;
        int sr = pm_http_send(w->http, &hr, &resp);
        oc.time_ms = resp.time_ms;
        if (sr != 0) {
            oc.transport = 1;
            snprintf(oc.error, sizeof oc.error, "%s", resp.error);
            continue; /* retry with a fresh PoP */
        }
        oc.transport = 0;
        oc.error[0] = '\0';
        oc.status = resp.status;
        oc.bytes = resp.total_bytes;
        if (pi->is_token) {
            pthread_mutex_lock(&cx->lock);
            cx->res->token_requests++;
            pthread_mutex_unlock(&cx->lock);
        }
        if (resp.status == 401 && !pi->is_token && b.uses_token && cx->token_item && !refreshed) {
            refreshed = 1;
            ensure_token(w, 1, gen, "refreshed after a 401");
            note(&oc, "401: token refreshed, retried");
            tries++;
            continue;
        }
        if (resp.status >= 500 && attempt + 1 < tries)
            continue;
        break;
    }
    if (b.pop && oc.attempts)
        note(&oc, oc.attempts > 1 ? "PoP signed (fresh on each try)" : "PoP signed");
    if (b.basic_from_env)
        note(&oc, "Basic credentials from the environment");
    if (!oc.transport && !oc.config && oc.attempts) {
        oc.passed = status_ok(cx, pi, oc.status, oc.expect, sizeof oc.expect);
        if (pi->is_token && oc.status >= 200 && oc.status <= 299) {
            pthread_mutex_lock(&cx->lock);
            int cr = capture_token(cx, resp.body, &oc);
            pthread_mutex_unlock(&cx->lock);
            if (cr != 0 && oc.passed) {
                oc.passed = 0;
                snprintf(oc.error, sizeof oc.error,
                         "token response has no access_token (expected OAuth 2.0 JSON)");
            }
        }
        if (!oc.passed && !oc.error[0])
            snprintf(oc.error, sizeof oc.error, "expected status %s, got %ld", oc.expect,
                     oc.status);
        if (!oc.passed && resp.body && resp.body_len) {
            size_t n = resp.body_len < 300 ? resp.body_len : 300;
            oc.detail = taap_strndup(resp.body, n);
        }
    } else if (!oc.expect[0]) {
        snprintf(oc.expect, sizeof oc.expect, "%s",
                 cx->n_ranges ? cx->o->expect_status : "response");
    }
    if (oc.attempts > 1 && !refreshed) {
        char n[64];
        snprintf(n, sizeof n, "%u tries", oc.attempts);
        note(&oc, n);
    }
    record(w, pi, &b, &oc);
    free(oc.detail);
    built_free(&b);
    pm_http_resp_clear(&resp);
    if (cx->o->delay_ms) {
        struct timespec ts = {(time_t)(cx->o->delay_ms / 1000),
                              (long)(cx->o->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int stopped(run_ctx *cx)
{
    pthread_mutex_lock(&cx->lock);
    int s = cx->stop;
    pthread_mutex_unlock(&cx->lock);
    return s;
}

static void run_iteration(worker *w, unsigned it)
{
    run_ctx *cx = w->cx;
    w->iteration = it;
    pm_scope_clear(&w->data);
    pthread_mutex_lock(&cx->lock);
    pm_iterdata_scope(cx->data, it, &w->data);
    pthread_mutex_unlock(&cx->lock);
    for (size_t i = 0; i < cx->n_plan && !stopped(cx); i++)
        exec_item(w, &cx->plan[i], 0, NULL);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run_ctx *cx = w->cx;
    for (;;) {
        pthread_mutex_lock(&cx->lock);
        unsigned it = cx->next_iter;
        int go = !cx->stop && it < cx->iterations;
        if (go)
            cx->next_iter++;
        pthread_mutex_unlock(&cx->lock);
        if (!go)
            break;
        run_iteration(w, it);
    }
    return NULL;
}

/* ---- planning ------------------------------------------------------------------------ */

static int path_eq(const char *item_path, const char *sel)
{
    /* item paths are "A / B / C"; a selection may say "A/B/C" */
    const char *p = item_path, *s = sel;
    while (*p && *s) {
        if (!strncmp(p, " / ", 3) && *s == '/') {
            p += 3;
            s++;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return !*p && !*s;
}

static int selected(const taap_run_options *o, const pm_item *it, int *hits)
{
    if (!o->n_folders)
        return 1;
    for (const pm_item *p = it; p && p->parent; p = p->parent)
        for (size_t i = 0; i < o->n_folders; i++) {
            const char *s = o->folders[i];
            if (!strcmp(p->name, s) || (p->id && !strcmp(p->id, s)) || path_eq(p->path, s)) {
                hits[i]++;
                return 1;
            }
        }
    return 0;
}

static void mark_hits(const taap_run_options *o, const pm_item *it, int *hits)
{
    for (size_t i = 0; i < o->n_folders; i++) {
        const char *s = o->folders[i];
        if (!strcmp(it->name, s) || (it->id && !strcmp(it->id, s)) || path_eq(it->path, s))
            hits[i]++;
    }
    for (size_t k = 0; k < it->n_children; k++)
        mark_hits(o, &it->children[k], hits);
}

static void analyze_chain(const pm_item *it, pm_script_info *out)
{
    /* status expectations and captures from the test scripts of the item
     * and its ancestors (collection and folder tests run for every item) */
    pm_script_info acc;
    memset(&acc, 0, sizeof acc);
    for (const pm_item *p = it; p; p = p->parent) {
        pm_script_info si;
        pm_script_analyze(p->test, &si);
        for (size_t i = 0; i < si.n_status && acc.n_status < 16; i++)
            acc.status[acc.n_status++] = si.status[i];
        for (size_t i = 0; i < si.n_caps && acc.n_caps < 8; i++)
            acc.caps[acc.n_caps++] = si.caps[i];
        acc.status_2xx |= si.status_2xx;
    }
    if (acc.status_2xx && !acc.n_status)
        for (int s = 200; s < 216; s++)
            acc.status[acc.n_status++] = s;
    *out = acc;
}

static int is_token_item(const pm_item *it, const pm_script_info *si)
{
    if (pm_is_token_url(it->url))
        return 1;
    for (size_t i = 0; i < si->n_caps; i++)
        if (si->caps[i].field == PM_F_ACCESS)
            return 1;
    return 0;
}

static int plan_add(run_ctx *cx, const pm_item *it, size_t *cap)
{
    if (cx->n_plan == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        plan_item *p = realloc(cx->plan, nc * sizeof *p);
        if (!p)
            return -1;
        cx->plan = p;
        *cap = nc;
    }
    plan_item *pi = &cx->plan[cx->n_plan++];
    memset(pi, 0, sizeof *pi);
    pi->it = it;
    analyze_chain(it, &pi->si);
    pi->is_token = is_token_item(it, &pi->si);
    if (it == cx->token_item)
        cx->token_in_plan = 1;
    pi->jsrsasign = pm_is_jsrsasign_url(it->url);
    return 0;
}

static int walk(run_ctx *cx, const pm_item *it, int *hits, size_t *cap)
{
    for (size_t k = 0; k < it->n_children; k++) {
        const pm_item *ch = &it->children[k];
        if (ch->is_folder) {
            if (walk(cx, ch, hits, cap))
                return -1;
        } else {
            if (!cx->token_item) {
                pm_script_info si;
                analyze_chain(ch, &si);
                if (is_token_item(ch, &si) && !pm_is_jsrsasign_url(ch->url)) {
                    cx->token_item = ch;
                    cx->token_si = si;
                }
            }
            if (selected(cx->o, ch, hits) && plan_add(cx, ch, cap))
                return -1;
        }
    }
    return 0;
}

/* Notes and warnings about scripts, once per node on the plan's paths. */
static void script_notes(run_ctx *cx, const pm_item *it)
{
    for (const pm_item *p = it; p; p = p->parent) {
        const char *where = p->parent ? p->path : "collection";
        for (int kind = 0; kind < 2; kind++) {
            const char *text = kind ? p->test : p->prerequest;
            if (!text)
                continue;
            char key[600], msg[700];
            snprintf(key, sizeof key, "script:%d:%p", kind, (const void *)p);
            if (!first_time(cx, key))
                continue;
            pm_script_info si;
            pm_script_analyze(text, &si);
            const char *k = kind ? "test" : "pre-request";
            if (si.other || si.console_only) {
                snprintf(msg, sizeof msg,
                         "%s script of \"%s\" not executed (taap run does not run JavaScript%s)",
                         k, where, si.console_only ? "; it only logs" : "");
                emit(cx, TAAP_RUN_EV_WARNING, 0, p->path, msg, NULL);
            } else {
                pm_buf b = {0};
                if (si.pop)
                    pm_buf_puts(&b, "PoP signing");
                if (si.loads_lib && !si.pop)
                    pm_buf_puts(&b, "jsrsasign loading");
                for (size_t i = 0; i < si.n_caps; i++)
                    pm_buf_printf(&b, "%scapture of {{%s}}", b.len ? ", " : "", si.caps[i].name);
                if (si.n_status || si.status_2xx)
                    pm_buf_printf(&b, "%sstatus check", b.len ? ", " : "");
                snprintf(msg, sizeof msg, "%s script of \"%s\" handled natively (%s)", k, where,
                         b.p ? b.p : "");
                pm_buf_free(&b);
                emit(cx, TAAP_RUN_EV_NOTE, 0, p->path, msg, NULL);
            }
        }
    }
}

static void collect_secrets(run_ctx *cx, const pm_scope *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->v[i].secret || pm_name_sensitive(s->v[i].key) ||
            strstr(s->v[i].value, "PRIVATE KEY"))
            pm_secrets_add(&cx->secrets, s->v[i].value);
}

static taap_code load_key(run_ctx *cx, taap_error *err)
{
    if (cx->o->key) {
        cx->key = cx->o->key;
        return TAAP_OK;
    }
    const char *pem = NULL;
    const char *from = NULL;
    const pm_scope *scopes[] = {pm_varset_scope(cx->env), &cx->coll, pm_varset_scope(cx->globals)};
    for (size_t n = 0; key_names[n] && !pem; n++)
        for (size_t s = 0; s < 3 && !pem; s++) {
            const char *v = pm_scope_get(scopes[s], key_names[n]);
            if (v && strstr(v, "PRIVATE KEY")) {
                pem = v;
                from = key_names[n];
            }
        }
    for (size_t s = 0; s < 3 && !pem; s++)
        for (size_t i = 0; scopes[s] && i < scopes[s]->n && !pem; i++)
            if (strstr(scopes[s]->v[i].value, "-----BEGIN") &&
                strstr(scopes[s]->v[i].value, "PRIVATE KEY")) {
                pem = scopes[s]->v[i].value;
                from = scopes[s]->v[i].key;
            }
    if (!pem)
        return taap_fail(err, TAAP_E_CONFIG,
                         "a request needs a PoP token (X-Authorization) but there is no private "
                         "key: give --key FILE or put the PEM in the environment as privateKey");
    taap_error e = TAAP_ERROR_INIT;
    /* Postman environments often hold the PEM with literal "\n" sequences */
    pm_buf b = {0};
    for (const char *p = pem; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            pm_buf_put(&b, "\n", 1);
            p++;
        } else {
            pm_buf_put(&b, p, 1);
        }
    }
    if (b.oom) {
        pm_buf_free(&b);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    taap_code rc = taap_key_load_private(b.p, b.len, NULL, 0, &cx->own_key, &e);
    taap_free_secret(b.p, b.cap);
    if (rc != TAAP_OK)
        return taap_fail(err, rc, "private key in variable \"%s\": %s", from, e.message);
    cx->key = cx->own_key;
    return TAAP_OK;
}

void taap_run_options_init(taap_run_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

static int truthy(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"));
}

taap_code taap_run_collection(const taap_collection *c, taap_varset *env, taap_varset *globals,
                              const taap_iterdata *data, const taap_run_options *opts,
                              taap_run_report_fn report, void *report_ctx,
                              taap_run_result **out, taap_error *err)
{
    *out = NULL;
    if (!c || !opts || opts->struct_size != sizeof(taap_run_options))
        return taap_fail(err, TAAP_E_USAGE, "taap_run_collection: bad arguments");
    run_ctx *cx = calloc(1, sizeof *cx);
    if (!cx)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    taap_varset *own_env = NULL, *own_glob = NULL;
    if (!env)
        env = own_env = taap_varset_new();
    if (!globals)
        globals = own_glob = taap_varset_new();
    cx->c = c;
    cx->o = opts;
    cx->env = env;
    cx->globals = globals;
    cx->data = data;
    cx->report = report;
    cx->rctx = report_ctx;
    pthread_mutex_init(&cx->lock, NULL);
    pthread_mutex_init(&cx->token_lock, NULL);
    taap_code rc = TAAP_OK;
    int *hits = calloc(opts->n_folders + 1, sizeof *hits);
    cx->res = calloc(1, sizeof *cx->res);
    if (!env || !globals || !hits || !cx->res) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    cx->res->collection_name = taap_strdup(taap_collection_name(c));
    for (size_t i = 0; i < c->vars.n; i++)
        pm_scope_set(&cx->coll, c->vars.v[i].key, c->vars.v[i].value, 0);
    if (opts->expect_status && parse_ranges(opts->expect_status, cx->ranges, &cx->n_ranges)) {
        rc = taap_fail(err, TAAP_E_CONFIG,
                       "--expect-status \"%s\": expected codes or ranges like 2xx, 200, "
                       "200-204 (comma-separated)",
                       opts->expect_status);
        goto done;
    }
    size_t cap = 0;
    if (walk(cx, &c->root, hits, &cap)) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    if (opts->n_folders) {
        memset(hits, 0, opts->n_folders * sizeof *hits);
        mark_hits(opts, &c->root, hits);
        for (size_t i = 0; i < opts->n_folders; i++)
            if (!hits[i]) {
                rc = taap_fail(err, TAAP_E_CONFIG, "no folder or request named \"%s\"",
                               opts->folders[i]);
                goto done;
            }
    }
    /* variable names the collection uses for the token */
    snprintf(cx->access_var, sizeof cx->access_var, "%s",
             opts->token_var ? opts->token_var : "access_token");
    snprintf(cx->id_var, sizeof cx->id_var, "id_token");
    if (!opts->token_var)
        for (size_t i = 0; i < cx->token_si.n_caps; i++)
            if (cx->token_si.caps[i].field == PM_F_ACCESS) {
                snprintf(cx->access_var, sizeof cx->access_var, "%s", cx->token_si.caps[i].name);
                break;
            }
    /* a token kept in the environment from an earlier run (with the expiry
     * the collection's script records) is reused while it is valid */
    for (size_t i = 0; i < cx->token_si.n_caps; i++) {
        const pm_capture *cp = &cx->token_si.caps[i];
        const char *at = taap_varset_get(env, cx->access_var);
        const char *ev = cp->field == PM_F_EXPIRY_MS ? taap_varset_get(env, cp->name) : NULL;
        if (!ev || !at || !*at)
            continue;
        char *e;
        long long ms = strtoll(ev, &e, 10);
        if (e != ev && *e == '\0' && ms > 0) {
            cx->have_token = 1;
            cx->token_exp = (int64_t)(ms / 1000);
        }
    }
    cx->pop_all = opts->taap || truthy(pm_scope_get(&cx->coll, "taap_pop")) ||
                  truthy(pm_scope_get(&cx->coll, "taapPop"));
    int need_key = cx->pop_all;
    for (size_t i = 0; i < cx->n_plan && !need_key; i++)
        for (size_t h = 0; h < cx->plan[i].it->headers.n; h++) {
            const pm_kv *kv = &cx->plan[i].it->headers.v[h];
            if (!kv->disabled && kv->key && !taap_ascii_casecmp(kv->key, "X-Authorization"))
                need_key = 1;
        }
    if (need_key && (rc = load_key(cx, err)) != TAAP_OK)
        goto done;
    collect_secrets(cx, pm_varset_scope(env));
    collect_secrets(cx, pm_varset_scope(globals));
    collect_secrets(cx, &cx->coll);

    unsigned iters = opts->iterations;
    if (!iters)
        iters = data && taap_iterdata_rows(data) ? (unsigned)taap_iterdata_rows(data) : 1;
    cx->iterations = cx->res->iterations = iters;
    cx->total = (size_t)iters * cx->n_plan;
    clock_gettime(CLOCK_MONOTONIC, &cx->t0);
    cx->res->started = (int64_t)time(NULL);

    pthread_mutex_lock(&cx->lock);
    emit(cx, TAAP_RUN_EV_START, 0, NULL, taap_collection_name(c), NULL);
    for (size_t i = 0; i < cx->n_plan; i++)
        script_notes(cx, cx->plan[i].it);
    pthread_mutex_unlock(&cx->lock);

    unsigned jobs = opts->jobs > 1 ? opts->jobs : 1;
    if (jobs > iters)
        jobs = iters;
    if (jobs > 64)
        jobs = 64;
    worker *ws = calloc(jobs, sizeof *ws);
    pthread_t *th = calloc(jobs, sizeof *th);
    if (!ws || !th) {
        free(ws);
        free(th);
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    for (unsigned j = 0; j < jobs; j++) {
        ws[j].cx = cx;
        ws[j].http = pm_http_new();
        if (!ws[j].http)
            rc = taap_fail(err, TAAP_E_NOMEM, "could not create an HTTP handle");
    }
    if (rc == TAAP_OK) {
        if (jobs == 1) {
            for (unsigned it = 0; it < iters && !stopped(cx); it++) {
                pthread_mutex_lock(&cx->lock);
                emit(cx, TAAP_RUN_EV_ITERATION, it, NULL, NULL, NULL);
                pthread_mutex_unlock(&cx->lock);
                run_iteration(&ws[0], it);
            }
        } else {
            unsigned started = 0;
            for (unsigned j = 0; j < jobs; j++)
                if (pthread_create(&th[j], NULL, worker_main, &ws[j]) == 0)
                    started++;
                else
                    break;
            if (!started)
                worker_main(&ws[0]);
            for (unsigned j = 0; j < started; j++)
                pthread_join(th[j], NULL);
        }
    }
    for (unsigned j = 0; j < jobs; j++) {
        pm_http_free(ws[j].http);
        pm_scope_clear(&ws[j].data);
    }
    free(ws);
    free(th);
    if (rc != TAAP_OK)
        goto done;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cx->res->duration_ms =
        (double)(t1.tv_sec - cx->t0.tv_sec) * 1000.0 + (double)(t1.tv_nsec - cx->t0.tv_nsec) / 1e6;
    cx->res->bailed = cx->stop;
    pthread_mutex_lock(&cx->lock);
    emit(cx, TAAP_RUN_EV_END, 0, NULL, NULL, NULL);
    pthread_mutex_unlock(&cx->lock);
    *out = cx->res;
    cx->res = NULL;
done:
    taap_run_result_free(cx->res);
    free(hits);
    free(cx->plan);
    for (size_t i = 0; i < cx->n_warned; i++)
        free(cx->warned[i]);
    free(cx->warned);
    pm_secrets_free(&cx->secrets);
    pm_scope_clear(&cx->coll);
    pm_scope_clear(&cx->local);
    taap_key_free(cx->own_key);
    pthread_mutex_destroy(&cx->lock);
    pthread_mutex_destroy(&cx->token_lock);
    taap_varset_free(own_env);
    taap_varset_free(own_glob);
    free(cx);
    if (rc != TAAP_OK)
        pm_err_oneline(err);
    return rc;
}
