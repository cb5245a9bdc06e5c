/*
 * build.c — one request resolved into the exact bytes that go out, the way
 * the Postman runtime builds it (reference §4): variables resolved in the
 * URL (string form) and headers, path variables, auth (auth.c), the body
 * and its implicit Content-Type, Basic credentials for the token request
 * (token.c), and the PoP signed LAST over exactly those bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "b64url.h"
#include "run.h"
#include "taap/pop.h"
#include "taap/request.h"

/* ---- building one request ------------------------------------------------------- */

void pm_built_free(pm_built *b)
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
    pm_buf_free(&b->warnings);
    memset(b, 0, sizeof *b);
}

int pm_hdr_add(pm_built *b, const char *name, const char *value)
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

int pm_hdr_find(const pm_built *b, const char *name)
{
    for (size_t i = 0; i < b->nh; i++)
        if (taap_ascii_casecmp(b->hn[i], name) == 0)
            return (int)i;
    return -1;
}

void pm_hdr_remove(pm_built *b, const char *name)
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

int pm_hdr_set(pm_built *b, const char *name, const char *value)
{
    int i = pm_hdr_find(b, name);
    if (i < 0)
        return pm_hdr_add(b, name, value);
    char *v = taap_strdup(value);
    if (!v)
        return -1;
    taap_free_secret_str(b->hv[i]);
    b->hv[i] = v;
    return 0;
}


void pm_resolver_for(pm_worker *w, pm_resolver *r)
{
    pm_run *cx = w->cx;
    memset(r, 0, sizeof *r);
    r->scopes[r->n_scopes++] = &cx->local;
    r->scopes[r->n_scopes++] = &w->data;
    r->scopes[r->n_scopes++] = pm_varset_scope(cx->env);
    r->scopes[r->n_scopes++] = &cx->coll;
    r->scopes[r->n_scopes++] = pm_varset_scope(cx->globals);
    r->clock = cx->o->clock;
    r->clock_ctx = cx->o->clock_ctx;
}

const char *pm_lookup_var(pm_worker *w, const char *name)
{
    pm_resolver r;
    pm_resolver_for(w, &r);
    for (size_t i = 0; i < r.n_scopes; i++) {
        const char *v = pm_scope_get(r.scopes[i], name);
        if (v)
            return v;
    }
    return NULL;
}

const char *pm_lookup_any(pm_worker *w, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        const char *v = pm_lookup_var(w, names[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

char *pm_run_resolve(pm_worker *w, const char *s, pm_built *b)
{
    pm_resolver r;
    pm_resolver_for(w, &r);
    char *out;
    if (pm_resolve(&r, s ? s : "", &out) != 0) {
        snprintf(b->err, sizeof b->err, "variable expansion grew beyond %u bytes (a cycle?)",
                 PM_RESOLVE_MAX);
        return NULL;
    }
    return out;
}

void pm_put_urlenc(pm_buf *o, const char *s)
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
static char *apply_path_vars(pm_worker *w, const pm_item *it, const char *url, pm_built *b)
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
                char *rv = pm_run_resolve(w, val, b);
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

/* JSON comments removed from a raw JSON body the way the runtime does
 * before sending (// to the end of the line, keeping the line break and
 * dropping a '\r' before it; slash-star blocks; nothing inside strings).
 * In place; returns the new length. */
static size_t strip_json_comments(char *s, size_t n)
{
    size_t o = 0;
    int in_str = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '"') {
            size_t bs = 0;
            while (bs < i && s[i - 1 - bs] == '\\')
                bs++;
            if (!(bs & 1))
                in_str = !in_str;
        }
        if (!in_str && i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
            i += 2;
            while (i < n && s[i] != '\n' && !(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
                i++;
            if (i < n && s[i] == '\r')
                i++;
            continue;
        }
        if (!in_str && i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
            i += 2;
            while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/'))
                i++;
            i = i < n ? i + 2 : n;
            continue;
        }
        s[o++] = s[i++];
    }
    s[o] = '\0';
    return o;
}

/* Is a raw body JSON for the runtime: options.raw.language "json", or no
 * language and a Content-Type application/json or application/…+json. */
static int raw_is_json(const pm_body *bd, const pm_built *b)
{
    if (bd->language)
        return !strcmp(bd->language, "json");
    int i = pm_hdr_find(b, "Content-Type");
    if (i < 0 || strncmp(b->hv[i], "application/", 12) != 0)
        return 0;
    /* /^application\/(\S+\+)?json/: "json" first, or after a '+' in the type */
    const char *t = b->hv[i] + 12;
    if (strncmp(t, "json", 4) == 0)
        return 1;
    for (const char *p = t; *p && !strchr(" \t\r\n", *p); p++)
        if (*p == '+' && p > t && strncmp(p + 1, "json", 4) == 0)
            return 1;
    return 0;
}

/* A GraphQL body the way the runtime writes it: with variables given as a
 * string, the string is spliced in as written (empty: left out); as a JSON
 * value, JSON.stringify({query, operationName, variables}). Either way the
 * keys come in that order and an absent one is left out. */
static int build_graphql(pm_worker *w, const pm_body *bd, pm_buf *o, pm_built *b)
{
    const char *parts[3] = {bd->gql_query, bd->gql_operation, bd->gql_variables};
    static const char *const names[3] = {"query", "operationName", "variables"};
    int first = 1;
    pm_buf_put(o, "{", 1);
    for (int i = 0; i < 3; i++) {
        if (!parts[i] || (i == 2 && !bd->gql_vars_json && !*parts[i]))
            continue;
        char *v = pm_run_resolve(w, parts[i], b);
        if (!v)
            return -1;
        pm_buf_printf(o, "%s\"%s\":", first ? "" : ",", names[i]);
        first = 0;
        if (i == 2)
            pm_buf_puts(o, v); /* JSON already */
        else
            pm_buf_json_str(o, v);
        free(v);
    }
    pm_buf_put(o, "}", 1);
    return 0;
}

/* The body and its implicit Content-Type (when the request has none). The
 * runtime's body builder adds it for raw and GraphQL bodies before the
 * system headers (Accept): *early; for urlencoded and multipart bodies the
 * HTTP client adds it after every header: *late. The caller adds them. */
static int build_body(pm_worker *w, const pm_item *it, pm_built *b, char *early, char *late,
                      size_t cap)
{
    pm_run *cx = w->cx;
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
        char *s = pm_run_resolve(w, bd->raw, b);
        if (!s)
            return -1;
        b->body_len = strlen(s);
        b->body = s;
        if (raw_is_json(bd, b) && (strstr(s, "//") || strstr(s, "/*")))
            b->body_len = strip_json_comments(s, b->body_len);
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
            char *k = pm_run_resolve(w, kv->key, b), *v = pm_run_resolve(w, kv->value ? kv->value : "", b);
            if (!k || !v) {
                free(k);
                free(v);
                pm_buf_free(&o);
                return -1;
            }
            if (!first)
                pm_buf_put(&o, "&", 1);
            first = 0;
            pm_put_urlenc(&o, k);
            pm_buf_put(&o, "=", 1);
            pm_put_urlenc(&o, v);
            free(k);
            free(v);
        }
        b->body_len = o.len;
        b->body = pm_buf_take(&o);
        b->form = 1;
        implicit_ct = "application/x-www-form-urlencoded";
        break;
    }
    case PM_BODY_FORMDATA: {
        size_t parts = 0;
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
            char *k = pm_run_resolve(w, kv->key, b);
            if (!k) {
                pm_buf_free(&o);
                return -1;
            }
            int is_file = kv->type && !strcmp(kv->type, "file");
            if (is_file) {
                /* a file that cannot be read: Newman warns and leaves that
                 * part out, the request still goes */
                for (size_t s = 0; s < kv->n_src; s++) {
                    char *src = pm_run_resolve(w, kv->src[s] ? kv->src[s] : "", b);
                    char why[300], msg[420];
                    char *path = src ? pm_file_resolve(cx, src, why, sizeof why) : NULL;
                    char *data = NULL;
                    size_t dl = 0;
                    taap_error e = TAAP_ERROR_INIT;
                    if (src && path &&
                        taap_read_file(path, TAAP_COLLECTION_MAX_BYTES, 0, &data, &dl, &e) != TAAP_OK) {
                        snprintf(why, sizeof why, "%.250s", e.message);
                        free(path);
                        path = NULL;
                    }
                    free(src);
                    if (!path) {
                        snprintf(msg, sizeof msg, "Form param `%.80s`, file load error: %s", k, why);
                        pm_built_warn(b, msg);
                        continue;
                    }
                    parts++;
                    const char *base = strrchr(path, '/');
                    base = base ? base + 1 : path;
                    pm_buf_printf(&o,
                                  "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                                  "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
                                  boundary, k, base,
                                  kv->content_type ? kv->content_type : pm_file_mime(path));
                    pm_buf_put(&o, data, dl);
                    pm_buf_puts(&o, "\r\n");
                    free(data);
                    free(path);
                }
                if (kv->n_src == 0) {
                    char msg[200];
                    snprintf(msg, sizeof msg, "Form param `%.80s`, file load error: missing file source", k);
                    pm_built_warn(b, msg);
                }
            } else {
                char *v = pm_run_resolve(w, kv->value ? kv->value : "", b);
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
                parts++;
            }
            free(k);
        }
        if (!parts) { /* every part left out: no body at all, as Newman */
            pm_buf_free(&o);
            return 0;
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
            char *src = pm_run_resolve(w, bd->file_src, b);
            if (!src)
                return -1;
            char why[300], msg[340];
            b->body_file = pm_file_resolve(cx, src, why, sizeof why);
            free(src);
            if (!b->body_file) { /* Newman warns and sends no body */
                snprintf(msg, sizeof msg, "Binary file load error: %s", why);
                pm_built_warn(b, msg);
                return 0;
            }
        }
        break; /* src null: no file chosen, send an empty body */
    case PM_BODY_GRAPHQL:
        if (build_graphql(w, bd, &o, b) != 0)
            return -1;
        b->body_len = o.len;
        b->body = pm_buf_take(&o);
        implicit_ct = "application/json";
        break;
    }
    if (!b->body && !b->body_file && bd->mode != PM_BODY_FILE) {
        snprintf(b->err, sizeof b->err, "out of memory");
        return -1;
    }
    if (implicit_ct)
        snprintf(bd->mode == PM_BODY_URLENCODED || bd->mode == PM_BODY_FORMDATA ? late : early,
                 cap, "%s", implicit_ct);
    return 0;
}

static int hex_val(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

char *pm_pct_decode(const char *s, size_t n, int plus_space, size_t *len)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; o && i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_val((unsigned char)s[i + 1])) >= 0 &&
            (lo = hex_val((unsigned char)s[i + 2])) >= 0) {
            o[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            o[k++] = plus_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    if (o)
        o[k] = '\0';
    if (len)
        *len = k;
    return o;
}

/* Credentials in the URL ("user:pass@host"), after variables are resolved:
 * cut out of `url` (in place) and returned as the Basic value the HTTP
 * client Newman uses sends for them (each part %-decoded, the password
 * after the first ':'; the host after the last '@'). NULL when there are
 * none. */
static char *take_userinfo(char *url)
{
    char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    char *at = NULL;
    for (char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return NULL;
    size_t ulen = (size_t)(at - auth);
    const char *colon = memchr(auth, ':', ulen);
    size_t nl = colon ? (size_t)(colon - auth) : ulen;
    char *user = pm_pct_decode(auth, nl, 0, NULL);
    char *pass = colon ? pm_pct_decode(colon + 1, ulen - nl - 1, 0, NULL) : taap_strdup("");
    char *val = user && pass ? pm_basic_value(user, pass) : NULL;
    taap_free_secret_str(user);
    taap_free_secret_str(pass);
    memmove(auth, at + 1, strlen(at + 1) + 1);
    return val;
}

int pm_mentions_token(const pm_run *cx, const pm_item *it)
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

static int build_rest(pm_worker *w, const pm_plan_item *pi, pm_built *b, const char *userinfo);

/* A binary body from a file: Newman's client writes its length, then (when
 * the request has none) a type looked up from the file's name. */
static int file_headers(pm_built *b)
{
    struct stat st;
    if (stat(b->body_file, &st) != 0) {
        snprintf(b->err, sizeof b->err, "body file %.250s cannot be read", b->body_file);
        return -1;
    }
    char len[32];
    snprintf(len, sizeof len, "%lld", (long long)st.st_size);
    if (pm_hdr_find(b, "Content-Length") < 0 && pm_hdr_add(b, "Content-Length", len) != 0)
        return -1;
    if (pm_hdr_find(b, "Content-Type") < 0 &&
        pm_hdr_add(b, "Content-Type", pm_file_mime(b->body_file)) != 0)
        return -1;
    return 0;
}

/* Resolve everything of the item into b (under cx->lock). 0 or -1 (b->err). */
int pm_build_request(pm_worker *w, const pm_plan_item *pi, pm_built *b)
{
    const pm_item *it = pi->it;
    memset(b, 0, sizeof *b);
    b->method = taap_strdup(it->method);
    char *u = pm_run_resolve(w, it->url, b);
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
    char *userinfo = take_userinfo(u3); /* sent as a header, never in the URL */
    b->url = pm_url_encode_loose(u3);
    b->url_raw = u3;
    int rc = b->url ? build_rest(w, pi, b, userinfo) : -1;
    taap_free_secret_str(userinfo);
    return rc;
}

/* Everything after the URL: headers, auth, body, system headers. */
static int build_rest(pm_worker *w, const pm_plan_item *pi, pm_built *b, const char *userinfo)
{
    pm_run *cx = w->cx;
    const pm_item *it = pi->it;
    if (!*b->url) {
        snprintf(b->err, sizeof b->err, "the request has no URL");
        return -1;
    }
    for (size_t i = 0; i < it->headers.n; i++) {
        const pm_kv *h = &it->headers.v[i];
        if (h->disabled || !h->key || !*h->key)
            continue;
        char *k = pm_run_resolve(w, h->key, b), *v = pm_run_resolve(w, h->value ? h->value : "", b);
        int rc = (k && v) ? pm_hdr_add(b, k, v) : -1;
        free(k);
        taap_free_secret_str(v);
        if (rc)
            return -1;
    }
    b->pop = cx->pop_all || pm_hdr_find(b, "X-Authorization") >= 0;
    b->uses_token = pm_mentions_token(cx, it);
    /* The body is built before auth (digest auth-int and OAuth 1.0 sign
     * it), but its headers go where Newman puts them: the collection's
     * headers, auth's, a raw or GraphQL body's Content-Type, the runtime's
     * system header Accept, then what its HTTP client adds: a urlencoded
     * body's Content-Type, the URL's credentials (unless auth set
     * Authorization), a multipart boundary. */
    char early_ct[128] = "", late_ct[128] = "";
    if (!method_prunes_body(b->method) &&
        build_body(w, it, b, early_ct, late_ct, sizeof late_ct) != 0)
        return -1;
    /* a JSON raw body's Content-Type is added before auth: the runtime's
     * comment-stripping step builds that body (and its header) first */
    if (early_ct[0] && it->body.mode == PM_BODY_RAW && it->body.language &&
        !strcmp(it->body.language, "json") && pm_hdr_find(b, "Content-Type") < 0 &&
        pm_hdr_add(b, "Content-Type", early_ct) != 0)
        return -1;
    if (pm_auth_apply(w, it, b) != 0)
        return -1;
    int has_ct = pm_hdr_find(b, "Content-Type") >= 0;
    if (early_ct[0] && !has_ct && pm_hdr_add(b, "Content-Type", early_ct) != 0)
        return -1;
    if (pm_hdr_find(b, "Accept") < 0 && pm_hdr_add(b, "Accept", "*/*") != 0)
        return -1;
    b->client_from = b->nh; /* what follows, Newman's HTTP client adds (a replay re-adds it) */
    int multipart = !strncmp(late_ct, "multipart/", 10);
    if (late_ct[0] && !has_ct && !multipart && pm_hdr_add(b, "Content-Type", late_ct) != 0)
        return -1;
    if (userinfo && pm_hdr_find(b, "Authorization") < 0 &&
        pm_hdr_add(b, "Authorization", userinfo) != 0)
        return -1;
    if (multipart && !has_ct && pm_hdr_add(b, "Content-Type", late_ct) != 0)
        return -1;
    if (b->body_file && file_headers(b) != 0)
        return -1;
    if (pi->is_token && pm_token_basic(w, b) != 0)
        return -1;
    return 0;
}

/* ---- PoP --------------------------------------------------------------------------- */

int pm_pop_sign(pm_run *cx, pm_built *b, char *errbuf, size_t cap)
{
    /* drop any placeholder, remember where it was so the order stays */
    int pos = pm_hdr_find(b, "X-Authorization");
    pm_hdr_remove(b, "X-Authorization");
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
    int r = pm_hdr_add(b, "X-Authorization", tok);
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

char *pm_url_encode_loose(const char *url)
{
    pm_buf b = {0};
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        unsigned char c = *p;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`' ||
            c == '{' || c == '}' || c == '|' || c == '\\' || c == '^') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            pm_buf_put(&b, e, 3);
        } else {
            pm_buf_put(&b, p, 1);
        }
    }
    return pm_buf_take(&b);
}
