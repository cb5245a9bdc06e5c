/*
 * auth_digest.c — the "digest" row of the auth table: HTTP Digest (RFC
 * 7616) the way the Postman runtime (authorizer/digest.js) does it. MD5,
 * SHA-256 and SHA-512-256, each also "-sess"; qop auth and auth-int (the
 * body's hash); the header's fields in the runtime's order. Without a
 * username or realm nothing is signed (the runtime's rule); an unknown
 * algorithm is warned about and the request goes unsigned, as Newman does.
 *
 * The server's challenge is answered as the runtime answers it: without a
 * nonce and realm the request goes unsigned (its pre hook); the post hook
 * reads a 401/403's `WWW-Authenticate: Digest …`, takes its nonce, realm,
 * qop and opaque (a fresh 8-character client nonce and nonceCount 00000001
 * when a qop is in play) and asks exec.c to replay the request signed —
 * unless the auth already had every one of them. Any other response
 * counts the nonce once more. What the hook sets stays on the auth for the
 * rest of the run (auth.c), so later requests are signed at once.
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
    if (!EVP_Digest(data, n, h, &hl, md, NULL))
        hl = 0;
    taap_hex_encode(h, hl, out);
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
    /* the runtime's pre hook: without a nonce and realm the request goes
     * unsigned, and the post hook answers the server's challenge */
    if (rc == 0 && *p[D_NONCE] && *p[D_REALM] && *p[D_USER]) {
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

/* ---- the post hook: answering the server's challenge ---------------------------- */

/* The first WWW-Authenticate whose value starts with "Digest " (a server
 * may offer several schemes, one header each), or NULL. */
static const char *digest_challenge(const pm_http_resp *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (!taap_ascii_casecmp(resp->headers[i].name, "WWW-Authenticate") &&
            !taap_ascii_ncasecmp(resp->headers[i].value, "Digest ", 7))
            return resp->headers[i].value;
    return NULL;
}

/* The runtime's /name="([^"]*)"/i: the quoted value after the first
 * `name="` anywhere in the challenge (malloc'd; "" when there is none). */
static char *challenge_field(const char *challenge, const char *name)
{
    char pat[16];
    snprintf(pat, sizeof pat, "%s=\"", name);
    const char *v = taap_ascii_casestr(challenge, pat);
    const char *end = v ? strchr(v + strlen(pat), '"') : NULL;
    if (!end)
        return taap_strdup("");
    v += strlen(pat);
    return taap_strndup(v, (size_t)(end - v));
}

/* lodash's parseInt(nonceCount) + 1, zero-padded to 8 ("00000001" when it
 * is not a number): decimal, hexadecimal after "0x", leading zeros never
 * octal. */
static void next_nonce_count(const char *nc, char out[32])
{
    const char *d = nc + strspn(nc, " \t\n\r\f\v");
    d += *d == '-' || *d == '+';
    int hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
    char *end = NULL;
    long long n = strtoll(nc, &end, hex ? 16 : 10);
    if (end == nc) {
        snprintf(out, 32, "00000001");
        return;
    }
    char digits[24];
    snprintf(digits, sizeof digits, "%lld", n + 1);
    snprintf(out, 32, "%8s", digits);
    for (char *p = out; *p == ' '; p++)
        *p = '0';
}

/* Each of keys[0..n) set (non-empty) on the auth already? */
static int all_set(pm_worker *w, const pm_auth *a, const char *const *keys, size_t n)
{
    int all = 1;
    for (size_t i = 0; i < n && all; i++) {
        char *v = pm_auth_value(w, a, keys[i]);
        all = v && *v;
        taap_free_secret_str(v);
    }
    return all;
}

/* The challenge's parameters in the runtime's order: nonce, realm, then
 * opaque and qop when present, then a fresh client nonce and nonceCount
 * 00000001 when the challenge or the auth has a qop. Returns how many. */
static size_t challenge_params(pm_worker *w, const pm_auth *a, const char *challenge,
                               const char *keys[6], char *vals[6])
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char *const fields[4] = {"nonce", "realm", "opaque", "qop"};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        char *v = challenge_field(challenge, fields[i]);
        if (i >= 2 && v && !*v) { /* opaque and qop only when given */
            free(v);
            continue;
        }
        keys[n] = fields[i];
        vals[n++] = v;
    }
    char *own_qop = pm_auth_value(w, a, "qop");
    int qop = (n > 2 && !strcmp(keys[n - 1], "qop")) || (own_qop && *own_qop);
    taap_free_secret_str(own_qop);
    if (qop) {
        char cnonce[9];
        pm_random_chars(w->cx, alnum, cnonce, 8);
        keys[n] = "clientNonce";
        vals[n++] = taap_strdup(cnonce);
        keys[n] = "nonceCount";
        vals[n++] = taap_strdup("00000001");
    }
    return n;
}

int pm_auth_digest_post(pm_worker *w, const pm_auth *a, const pm_http_resp *resp)
{
    char *off = pm_auth_value(w, a, "disableRetryRequest");
    int disabled = !off || pm_auth_flag(off);
    taap_free_secret_str(off);
    if (disabled)
        return 0;
    const char *challenge =
        resp->status == 401 || resp->status == 403 ? digest_challenge(resp) : NULL;
    if (!challenge) { /* answered: the next request counts the nonce once more */
        char *nc = pm_auth_value(w, a, "nonceCount");
        char next[32];
        next_nonce_count(nc ? nc : "", next);
        taap_free_secret_str(nc);
        pm_auth_state_set(w, a, "nonceCount", next);
        return 0;
    }
    const char *keys[6];
    char *vals[6];
    size_t n = challenge_params(w, a, challenge, keys, vals);
    /* the runtime does not retry when the auth had all of them already */
    int replay = !all_set(w, a, keys, n);
    for (size_t i = 0; i < n; i++) {
        if (replay && vals[i] && pm_auth_state_set(w, a, keys[i], vals[i]) != 0)
            replay = 0;
        free(vals[i]);
    }
    return replay;
}
