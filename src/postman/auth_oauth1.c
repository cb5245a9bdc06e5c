/*
 * auth_oauth1.c — the "oauth1" row of the auth table: OAuth 1.0a request
 * signing (RFC 5849) the way the Postman runtime does it from the
 * collection's attributes: HMAC-SHA1, HMAC-SHA256, HMAC-SHA512 and
 * PLAINTEXT; the parameters in the Authorization header
 * (addParamsToHeader), else in a POST/PUT urlencoded body, else in the
 * query; oauth_body_hash (includeBodyHash); empty parameters signed only
 * with addEmptyParamsToSign. The nonce (11 characters) and the timestamp
 * come from the run's random source and clock, so tests fix both.
 *
 * Runtime rules kept on purpose, because they change the bytes sent: the
 * query is re-encoded with OAuth's percent-encoding once signed; the
 * header leaves out empty values; a port 80 or 443 is dropped from the
 * signed URL whatever the scheme. RSA-SHA* is not done: it is warned about
 * and the request goes unsigned (as Newman does when it cannot sign).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64url.h"
#include "run.h"

/* the runtime's nonce alphabet (sic: no 'Y' and no 'j') */
#define NONCE_CHARS "0123456789ABCDEFGHIJKLMNOPQRSTUVWXTZabcdefghiklmnopqrstuvwxyz"

typedef struct pair {
    char *k, *v; /* v NULL: a query key without '=' */
} pair;
typedef struct pairs {
    pair *p;
    size_t n, cap;
    int oom;
} pairs;

static void pairs_add(pairs *l, const char *k, size_t kl, const char *v, size_t vl)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pair *np = realloc(l->p, cap * sizeof *np);
        if (!np) {
            l->oom = 1;
            return;
        }
        l->p = np;
        l->cap = cap;
    }
    pair *e = &l->p[l->n++];
    e->k = taap_strndup(k, kl);
    e->v = v ? taap_strndup(v, vl) : NULL;
    if (!e->k || (v && !e->v))
        l->oom = 1;
}

static void pairs_free(pairs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->p[i].k);
        taap_free_secret_str(l->p[i].v);
    }
    free(l->p);
    memset(l, 0, sizeof *l);
}

/* The parameters the runtime removes from the query and body before it
 * signs (any other oauth_* stays, and is signed). */
static int is_oauth_param(const char *k)
{
    static const char *const names[] = {
        "oauth_consumer_key", "oauth_token",    "oauth_signature_method", "oauth_timestamp",
        "oauth_nonce",        "oauth_version",  "oauth_signature",        "oauth_callback",
        "oauth_verifier",     "oauth_body_hash"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(k, names[i]))
            return 1;
    return 0;
}

/* "a=1&b&c=%20" → pairs, decoded (the runtime's decodeForm); `skip_oauth`
 * leaves out the runtime's own oauth_* parameters. */
static void decode_form(pairs *l, const char *s, size_t n, int skip_oauth)
{
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if (e > s) {
            const char *eq = memchr(s, '=', (size_t)(e - s));
            size_t kl, vl = 0;
            char *k = pm_pct_decode(s, (size_t)((eq ? eq : e) - s), 1, &kl);
            char *v = eq ? pm_pct_decode(eq + 1, (size_t)(e - eq - 1), 1, &vl) : NULL;
            if (!k || (eq && !v))
                l->oom = 1;
            else if (!(skip_oauth && is_oauth_param(k)))
                pairs_add(l, k, kl, v, vl);
            free(k);
            free(v);
        }
        s = e + (amp != NULL);
    }
}

static void enc(pm_buf *o, const char *s)
{
    pm_put_urlenc(o, s ? s : ""); /* RFC 3986 unreserved kept: OAuth's encoding */
}

static int cmp_enc(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The signature base string: METHOD&url&params, params sorted by their
 * encoded "name value" (the runtime's order). */
static char *base_string(const char *method, const char *base_url, const pairs *ps)
{
    char **keys = calloc(ps->n ? ps->n : 1, sizeof *keys);
    if (!keys)
        return NULL;
    size_t nk = 0;
    int oom = 0;
    for (size_t i = 0; i < ps->n; i++) {
        if (!strcmp(ps->p[i].k, "oauth_signature"))
            continue;
        pm_buf e = {0};
        enc(&e, ps->p[i].k);
        pm_buf_put(&e, " ", 1);
        enc(&e, ps->p[i].v);
        /* after the sort key, the pair itself ("k=v") for the output */
        pm_buf_put(&e, "\0", 1);
        enc(&e, ps->p[i].k);
        pm_buf_put(&e, "=", 1);
        enc(&e, ps->p[i].v);
        if (!(keys[nk] = pm_buf_take(&e)))
            oom = 1;
        else
            nk++;
    }
    qsort(keys, nk, sizeof *keys, cmp_enc);
    pm_buf norm = {0}, out = {0};
    for (size_t i = 0; i < nk; i++) {
        if (i)
            pm_buf_put(&norm, "&", 1);
        pm_buf_puts(&norm, keys[i] + strlen(keys[i]) + 1);
        taap_free_secret_str(keys[i]);
    }
    free(keys);
    char *up = taap_strdup(method);
    for (char *p = up; p && *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    enc(&out, up);
    pm_buf_put(&out, "&", 1);
    enc(&out, base_url);
    pm_buf_put(&out, "&", 1);
    enc(&out, norm.p ? norm.p : "");
    free(up);
    if (norm.p)
        taap_free_secret(norm.p, norm.cap);
    if (oom || !up) {
        pm_buf_free(&out);
        return NULL;
    }
    return pm_buf_take(&out);
}

static void put_lower(pm_buf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
        pm_buf_put(o, &c, 1);
    }
}

/* scheme://host[:port]/path of `url` (no query), scheme and host lowered,
 * a port 80 or 443 dropped; *query points at the query (or ""). */
static char *base_url(const char *url, const char **query)
{
    const char *s = strstr(url, "://");
    const char *auth = s ? s + 3 : url;
    size_t al = strcspn(auth, "/?");
    const char *path = auth + al;
    size_t pl = strcspn(path, "?");
    *query = path[pl] == '?' ? path + pl + 1 : "";
    pm_buf o = {0};
    put_lower(&o, s ? url : "http", s ? (size_t)(s - url) : 4);
    pm_buf_puts(&o, "://");
    size_t hl = al;
    if (al > 3 && !strncmp(auth + al - 3, ":80", 3))
        hl = al - 3;
    else if (al > 4 && !strncmp(auth + al - 4, ":443", 4))
        hl = al - 4;
    put_lower(&o, auth, hl);
    if (pl == 0)
        pm_buf_put(&o, "/", 1);
    else
        pm_buf_put(&o, path, pl);
    return pm_buf_take(&o);
}

/* base64 of HMAC(key, data) with md, or of the key itself (PLAINTEXT). */
static char *signature(const char *method, const char *key, const char *base)
{
    const EVP_MD *md = !strcmp(method, "HMAC-SHA1")     ? EVP_sha1()
                       : !strcmp(method, "HMAC-SHA256") ? EVP_sha256()
                       : !strcmp(method, "HMAC-SHA512") ? EVP_sha512()
                                                        : NULL;
    if (!strcmp(method, "PLAINTEXT"))
        return taap_strdup(key);
    if (!md)
        return NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (!HMAC(md, key, (int)strlen(key), (const unsigned char *)base, strlen(base), mac, &ml))
        return NULL;
    char *out = malloc(TAAP_B64STD_LEN(ml) + 1);
    if (out)
        taap_b64std_encode(mac, ml, out);
    return out;
}

/* oauth_body_hash: base64 of the body's hash with the method's algorithm. */
static char *body_hash(const char *method, const pm_built *b)
{
    const char *dash = strchr(method, '-');
    const EVP_MD *md = !dash                     ? NULL
                       : !strcmp(dash, "-SHA1")   ? EVP_sha1()
                       : !strcmp(dash, "-SHA256") ? EVP_sha256()
                       : !strcmp(dash, "-SHA512") ? EVP_sha512()
                                                  : NULL;
    if (!md || b->form)
        return NULL;
    char *data = NULL;
    size_t n = b->body_len;
    taap_error e = TAAP_ERROR_INIT;
    if (b->body_file && taap_read_file(b->body_file, TAAP_COLLECTION_MAX_BYTES, 0, &data, &n, &e) != TAAP_OK)
        return NULL;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    int ok = EVP_Digest(data ? data : (b->body ? b->body : ""), data ? n : b->body_len, h, &hl, md,
                        NULL);
    free(data);
    char *out = ok ? malloc(TAAP_B64STD_LEN(hl) + 1) : NULL;
    if (out)
        taap_b64std_encode(h, hl, out);
    return out;
}

enum { O_CKEY, O_CSECRET, O_TOKEN, O_TSECRET, O_METHOD, O_CALLBACK, O_VERIFIER, O_TS, O_NONCE,
       O_VERSION, O_REALM, O_BODYHASH, O_HEADER, O_EMPTY, O_NOENC, O_N };
static const char *const o_keys[O_N] = {
    "consumerKey", "consumerSecret", "token",   "tokenSecret",      "signatureMethod",
    "callback",    "verifier",       "timestamp", "nonce",          "version",
    "realm",       "includeBodyHash", "addParamsToHeader", "addEmptyParamsToSign",
    "disableHeaderEncoding"};

/* the query of b->url replaced by `q` (already encoded; "" drops it) */
static int set_query(pm_built *b, const char *q)
{
    pm_buf u = {0};
    pm_buf_put(&u, b->url, strcspn(b->url, "?"));
    if (*q) {
        pm_buf_put(&u, "?", 1);
        pm_buf_puts(&u, q);
    }
    char *nu = pm_buf_take(&u);
    if (!nu)
        return -1;
    free(b->url);
    b->url = nu;
    return 0;
}

/* pairs → "k=v&k" with OAuth's encoding (NULL values: the key alone) */
static void put_pairs(pm_buf *o, const pairs *ps, size_t from)
{
    for (size_t i = from; i < ps->n; i++) {
        if (o->len)
            pm_buf_put(o, "&", 1);
        enc(o, ps->p[i].k);
        if (ps->p[i].v) {
            pm_buf_put(o, "=", 1);
            enc(o, ps->p[i].v);
        }
    }
}

/* Put the signed parameters sp where the attributes say: the
 * Authorization header, a POST/PUT urlencoded body, or the query. The
 * query q (oauth_* removed) is written back in OAuth's encoding. */
static int oauth1_place(pm_built *b, char **p, const pairs *sp, const pairs *q)
{
    pm_buf qs = {0};
    put_pairs(&qs, q, 0);
    int form_body = b->form && (strstr(b->method, "PUT") || strstr(b->method, "POST"));
    int rc = 0;
    if (pm_auth_flag(p[O_HEADER])) {
        int raw = pm_auth_flag(p[O_NOENC]);
        pm_buf h = {0};
        pm_buf_puts(&h, "OAuth ");
        int n = 0;
        if (p[O_REALM][strspn(p[O_REALM], " \t\r\n")]) {
            pm_buf_puts(&h, "realm=\"");
            raw ? pm_buf_puts(&h, p[O_REALM]) : enc(&h, p[O_REALM]);
            pm_buf_put(&h, "\"", 1);
            n++;
        }
        for (size_t i = 0; i < sp->n; i++) {
            const char *v = sp->p[i].v;
            v += strspn(v, " \t\r\n"); /* trimmed; empty values left out */
            size_t vl = strlen(v);
            while (vl && strchr(" \t\r\n", v[vl - 1]))
                vl--;
            if (!vl)
                continue;
            char *tv = taap_strndup(v, vl);
            pm_buf_puts(&h, n++ ? "," : "");
            pm_buf_puts(&h, sp->p[i].k);
            pm_buf_puts(&h, "=\"");
            raw ? pm_buf_puts(&h, tv ? tv : "") : enc(&h, tv);
            pm_buf_put(&h, "\"", 1);
            taap_free_secret_str(tv);
        }
        char *hv = pm_buf_take(&h);
        pm_hdr_remove(b, "Authorization");
        rc = hv ? pm_hdr_add(b, "Authorization", hv) : -1;
        taap_free_secret_str(hv);
    } else if (form_body) { /* the body, its own oauth_* replaced */
        pairs bp = {0};
        decode_form(&bp, b->body ? b->body : "", b->body_len, 1);
        pm_buf nb = {0};
        put_pairs(&nb, &bp, 0);
        put_pairs(&nb, sp, 0);
        pairs_free(&bp);
        free(b->body);
        b->body_len = nb.len;
        b->body = pm_buf_take(&nb);
        rc = b->body ? 0 : -1;
    } else {
        put_pairs(&qs, sp, 0); /* an empty value as "k=" */
    }
    if (rc == 0)
        rc = qs.failed ? -1 : set_query(b, qs.p ? qs.p : "");
    pm_buf_free(&qs);
    return rc;
}

/* Sign with the resolved attributes p[]; 0, or -1 (b->err). */
static int oauth1_sign(pm_run *cx, char **p, pm_built *b)
{
    int empty_ok = pm_auth_flag(p[O_EMPTY]);
    if (!empty_ok) /* whitespace-only values count as absent */
        for (size_t i = 0; i < O_N; i++)
            if (p[i][strspn(p[i], " \t\r\n")] == '\0')
                p[i][0] = '\0';
    char nonce[16], ts[32];
    if (!*p[O_NONCE])
        pm_random_chars(cx, NONCE_CHARS, nonce, 11);
    snprintf(ts, sizeof ts, "%lld", (long long)pm_now(cx));
    const char *method = *p[O_METHOD] ? p[O_METHOD] : "HMAC-SHA1";
    char *bh = pm_auth_flag(p[O_BODYHASH]) ? body_hash(method, b) : NULL;
    /* the signature parameters, in the runtime's order */
    pairs sp = {0};
    const char *vals[9][2] = {
        {"oauth_consumer_key", p[O_CKEY]},   {"oauth_token", p[O_TOKEN]},
        {"oauth_signature_method", p[O_METHOD]},
        {"oauth_timestamp", *p[O_TS] ? p[O_TS] : ts},
        {"oauth_nonce", *p[O_NONCE] ? p[O_NONCE] : nonce},
        {"oauth_version", p[O_VERSION]},     {"oauth_body_hash", bh ? bh : ""},
        {"oauth_callback", p[O_CALLBACK]},   {"oauth_verifier", p[O_VERIFIER]}};
    for (size_t i = 0; i < 9; i++) {
        int optional = i >= 6; /* body hash, callback, verifier: only when set */
        if (*vals[i][1] || (empty_ok && !optional))
            pairs_add(&sp, vals[i][0], strlen(vals[i][0]), vals[i][1], strlen(vals[i][1]));
    }
    free(bh);
    /* everything signed: those, the query, a urlencoded body */
    const char *query;
    char *burl = base_url(b->url, &query);
    pairs all = {0}, q = {0};
    decode_form(&q, query, strlen(query), 1);
    for (size_t i = 0; i < sp.n; i++)
        pairs_add(&all, sp.p[i].k, strlen(sp.p[i].k), sp.p[i].v, strlen(sp.p[i].v));
    if (b->form && b->body)
        decode_form(&all, b->body, b->body_len, 1);
    for (size_t i = 0; i < q.n; i++)
        pairs_add(&all, q.p[i].k, strlen(q.p[i].k), q.p[i].v, q.p[i].v ? strlen(q.p[i].v) : 0);
    if (!*p[O_METHOD]) /* the library signs with HMAC-SHA1 and says so */
        pairs_add(&all, "oauth_signature_method", 22, method, strlen(method));
    pm_buf key = {0};
    enc(&key, p[O_CSECRET]);
    pm_buf_put(&key, "&", 1);
    enc(&key, p[O_TSECRET]);
    char *base = burl ? base_string(b->method, burl, &all) : NULL;
    char *sig = base && key.p ? signature(method, key.p, base) : NULL;
    int rc = 0;
    if (sp.oom || all.oom || q.oom || !burl || !base || !key.p) {
        snprintf(b->err, sizeof b->err, "out of memory");
        rc = -1;
    } else if (!sig) {
        char what[160];
        snprintf(what, sizeof what, "signature method %.80s is not supported by taap", method);
        pm_auth_warn(b, "oauth1", what);
    }
    if (rc == 0 && sig) {
        pairs_add(&sp, "oauth_signature", 15, sig, strlen(sig));
        rc = oauth1_place(b, p, &sp, &q);
    }
    taap_free_secret_str(sig);
    taap_free_secret_str(base);
    if (key.p)
        taap_free_secret(key.p, key.cap);
    free(burl);
    pairs_free(&sp);
    pairs_free(&all);
    pairs_free(&q);
    return rc;
}

int pm_auth_oauth1(pm_worker *w, const pm_auth *a, pm_built *b)
{
    char *p[O_N] = {0};
    int rc = 0;
    for (size_t i = 0; i < O_N && rc == 0; i++)
        if (!(p[i] = pm_auth_attr(w, a, o_keys[i], b)))
            rc = -1;
    if (rc == 0 && !strncmp(p[O_METHOD], "RSA", 3)) {
        pm_auth_warn(b, "oauth1", "RSA-SHA signatures are not supported by taap");
    } else if (rc == 0 && *p[O_CKEY] && *p[O_CSECRET]) {
        /* (without a consumer key and secret the runtime signs nothing) */
        rc = oauth1_sign(w->cx, p, b);
    }
    for (size_t i = 0; i < O_N; i++)
        taap_free_secret_str(p[i]);
    return rc;
}
