/*
 * auth_digest.c — the "digest" row of the auth table: HTTP Digest (RFC
 * 7616) the way the Postman runtime signs it from the collection's
 * attributes. MD5, SHA-256 and SHA-512-256, each also "-sess"; qop auth
 * and auth-int (the body's hash); the header's fields in the runtime's
 * order. Without a username or realm nothing is signed (the runtime's
 * rule); an unknown algorithm is warned about and the request goes
 * unsigned, as Newman does.
 *
 * Not done: answering a server's challenge. Newman sends a request with no
 * nonce/realm unsigned, reads the 401's WWW-Authenticate and replays it
 * signed; taap sends it unsigned and says so once per request.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "run.h"

/* hex digest of `data` with `md` into out (2 * EVP_MAX_MD_SIZE + 1). */
static void hex_hash(const EVP_MD *md, const void *data, size_t n, char *out)
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    static const char hex[] = "0123456789abcdef";
    if (!EVP_Digest(data, n, h, &hl, md, NULL))
        hl = 0;
    for (unsigned i = 0; i < hl; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[2 * hl] = '\0';
}

/* hex hash of the parts joined with ':'. */
static void hash_joined(const EVP_MD *md, const char *const *parts, size_t n, char *out)
{
    pm_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (i)
            pm_buf_put(&b, ":", 1);
        pm_buf_puts(&b, parts[i]);
    }
    hex_hash(md, b.p ? b.p : "", b.len, out);
    if (b.p)
        taap_free_secret(b.p, b.cap);
}

/* The body's hash for qop=auth-int: the bytes that go out (a file body is
 * read; an empty body hashes the empty string). */
static int body_hash(const EVP_MD *md, const pm_built *b, char *out)
{
    if (!b->body_file) {
        hex_hash(md, b->body ? b->body : "", b->body_len, out);
        return 0;
    }
    char *data = NULL;
    size_t n = 0;
    taap_error e = TAAP_ERROR_INIT;
    if (taap_read_file(b->body_file, TAAP_COLLECTION_MAX_BYTES, 0, &data, &n, &e) != TAAP_OK)
        return -1;
    hex_hash(md, data, n, out);
    free(data);
    return 0;
}

static const EVP_MD *digest_md(const char *algorithm)
{
    static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
    } algs[] = {
        {"MD5", EVP_md5},           {"MD5-sess", EVP_md5},
        {"SHA-256", EVP_sha256},    {"SHA-256-sess", EVP_sha256},
        {"SHA-512-256", EVP_sha512_256}, {"SHA-512-256-sess", EVP_sha512_256},
    };
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (!strcmp(algorithm, algs[i].name))
            return algs[i].md();
    return NULL;
}

enum { D_ALG, D_USER, D_REALM, D_PASS, D_NONCE, D_NC, D_CNONCE, D_OPAQUE, D_QOP, D_N };
static const char *const d_keys[D_N] = {"algorithm", "username",   "realm",  "password", "nonce",
                                        "nonceCount", "clientNonce", "opaque", "qop"};

/* The header from resolved attributes p[]; NULL with b->err or a warning. */
static char *digest_header(char **p, pm_built *b)
{
    const char *alg = *p[D_ALG] ? p[D_ALG] : "MD5";
    const EVP_MD *md = digest_md(alg);
    if (!md) {
        char what[200];
        snprintf(what, sizeof what, "Unsupported digest algorithm: %.100s", alg);
        pm_auth_warn(b, "digest", what);
        return NULL;
    }
    char *uri = pm_url_path(b->url);
    if (!uri)
        return NULL;
    int sess = strlen(alg) > 5 && !strcmp(alg + strlen(alg) - 5, "-sess");
    int qop_auth = !strcmp(p[D_QOP], "auth"), qop_int = !strcmp(p[D_QOP], "auth-int");
    char ha1[2 * EVP_MAX_MD_SIZE + 1], ha2[2 * EVP_MAX_MD_SIZE + 1], resp[2 * EVP_MAX_MD_SIZE + 1];
    char bh[2 * EVP_MAX_MD_SIZE + 1] = "";
    const char *a1[3] = {p[D_USER], p[D_REALM], p[D_PASS]};
    hash_joined(md, a1, 3, ha1);
    if (sess) { /* HA1 = H(H(user:realm:password):nonce:cnonce) */
        char h0[sizeof ha1];
        memcpy(h0, ha1, sizeof h0);
        const char *s1[3] = {h0, p[D_NONCE], p[D_CNONCE]};
        hash_joined(md, s1, 3, ha1);
    }
    if (qop_int && body_hash(md, b, bh) != 0) {
        free(uri);
        snprintf(b->err, sizeof b->err, "digest auth-int: the body file cannot be read");
        return NULL;
    }
    const char *a2[3] = {b->method, uri, bh};
    hash_joined(md, a2, qop_int ? 3 : 2, ha2);
    if (qop_auth || qop_int) {
        const char *r[6] = {ha1, p[D_NONCE], p[D_NC], p[D_CNONCE], p[D_QOP], ha2};
        hash_joined(md, r, 6, resp);
    } else {
        const char *r[3] = {ha1, p[D_NONCE], ha2};
        hash_joined(md, r, 3, resp);
    }
    pm_buf h = {0};
    pm_buf_printf(&h, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\"", p[D_USER],
                  p[D_REALM], p[D_NONCE], uri);
    pm_buf_printf(&h, ", algorithm=\"%s\"", alg);
    if (qop_auth || qop_int)
        pm_buf_printf(&h, ", qop=%s", p[D_QOP]);
    if (qop_auth || qop_int || !strcmp(alg, "MD5-sess")) {
        if (*p[D_NC])
            pm_buf_printf(&h, ", nc=%s", p[D_NC]);
        pm_buf_printf(&h, ", cnonce=\"%s\"", p[D_CNONCE]);
    }
    pm_buf_printf(&h, ", response=\"%s\"", resp);
    if (*p[D_OPAQUE])
        pm_buf_printf(&h, ", opaque=\"%s\"", p[D_OPAQUE]);
    free(uri);
    return pm_buf_take(&h);
}

int pm_auth_digest(pm_worker *w, const pm_auth *a, pm_built *b)
{
    char *p[D_N] = {0};
    int rc = 0;
    for (size_t i = 0; i < D_N && rc == 0; i++)
        if (!(p[i] = pm_auth_attr(w, a, d_keys[i], b)))
            rc = -1;
    if (rc == 0 && (!*p[D_NONCE] || !*p[D_REALM])) {
        /* the runtime's pre-hook: not signed; it would answer the 401 */
        pm_built_warn(b, "digest auth: no nonce or realm: sent unsigned (taap does not answer "
                         "the server's challenge; Newman replays the request signed)");
    } else if (rc == 0 && *p[D_USER]) {
        char *h = digest_header(p, b);
        if (h) {
            pm_hdr_remove(b, "Authorization");
            rc = pm_hdr_add(b, "Authorization", h);
            taap_free_secret_str(h);
        } else if (b->err[0]) {
            rc = -1;
        }
    }
    for (size_t i = 0; i < D_N; i++)
        taap_free_secret_str(p[i]);
    return rc;
}
