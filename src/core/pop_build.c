/*
 * pop_build.c — the PoP token builder (SPEC §1, include/taap/pop.h).
 *
 * The hot path is one SHA-256 over the signed values, one RSA private-key
 * operation and a few hundred bytes of string building. Everything else is
 * kept out of it: the key is parsed once by the caller, the payload is
 * written with bounded appends into a stack buffer (heap only when an
 * unusually long ehts or jti needs it), the token is one malloc, and no JSON
 * library is involved because the payload's shape is fixed by SPEC §1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "buf.h"
#include "canon.h"
#include "util.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/pop.h"

/* base64url of {"alg":"RS256","typ":"JWT"}: the header never changes. */
static const char POP_HEADER_B64[] = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";
#define POP_HEADER_B64_LEN (sizeof POP_HEADER_B64 - 1)

/* SPEC §2.6 bounds that the verifier applies: build nothing it would refuse. */
#define POP_MAX_JTI 256
#define POP_MAX_TIME INT64_C(253402300799)

/* Payload and signature buffers on the stack for the usual sizes. */
#define POP_PAYLOAD_STACK 2048
#define POP_SIG_STACK 1024 /* 8192-bit keys */
#define PUT_LIT(b, lit) taap_buf_put((b), (lit), sizeof(lit) - 1)

void taap_pop_options_init(taap_pop_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->lifetime = TAAP_POP_DEFAULT_LIFETIME;
}

void taap_pop_info_free(taap_pop_info *info)
{
    if (!info)
        return;
    free(info->ehts);
    info->ehts = NULL;
}

taap_code taap_uuid_v4(char out[37], taap_error *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "the OS random generator failed (jti)");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant 10xx */
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return TAAP_OK;
}

/* A name fit for an error message: at most 64 bytes, non-printables as '?'
 * (names come from callers and requests, so never echo them raw). */
static const char *shown(const char *name, size_t len, char buf[72])
{
    size_t n = len > 64 ? 64 : len, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > 64) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/*
 * SPEC §1.1 refusals, each with its own code. Checked in this order so a
 * name gets the most specific reason: empty, ';' (a separator in ehts),
 * neither token nor pseudo-name, then duplicates ignoring case.
 */
static taap_code check_names(const char *const *names, const size_t *lens, size_t n,
                             taap_error *err)
{
    char b1[72], b2[72];
    if (n == 0)
        return taap_fail(err, TAAP_E_BUILD_EMPTY,
                         "nothing to sign: a PoP token needs at least one ehts entry");
    if (n > TAAP_POP_MAX_ENTRIES)
        return taap_fail(err, TAAP_E_BUILD_TOO_MANY,
                         "%zu ehts entries: at most %d are allowed", n, TAAP_POP_MAX_ENTRIES);
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        size_t len = lens[i];
        if (!nm || len == 0)
            return taap_fail(err, TAAP_E_BUILD_EMPTY_NAME, "ehts entry %zu has an empty name",
                             i + 1);
        if (memchr(nm, ';', len))
            return taap_fail(err, TAAP_E_BUILD_SEMICOLON,
                             "ehts entry %zu ('%s') contains ';', the ehts separator", i + 1,
                             shown(nm, len, b1));
        if (!taap_is_token(nm, len) && !canon_is_pseudo(nm, len))
            return taap_fail(err, TAAP_E_BUILD_BAD_NAME,
                             "ehts entry %zu ('%s') is not an HTTP header name (RFC 9110 token) "
                             "nor one of uri, http-method, body",
                             i + 1, shown(nm, len, b1));
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (lens[i] == lens[j] && taap_ascii_ncasecmp(names[i], names[j], lens[i]) == 0)
                return taap_fail(err, TAAP_E_BUILD_DUPLICATE,
                                 "ehts entry %zu ('%s') repeats entry %zu ('%s') (names are "
                                 "compared ignoring case)",
                                 i + 1, shown(names[i], lens[i], b1), j + 1,
                                 shown(names[j], lens[j], b2));
    return TAAP_OK;
}

/* jti as given by a caller: what the verifier will accept (SPEC §2.6). */
static taap_code check_jti(const char *jti, taap_error *err)
{
    size_t len = strlen(jti);
    if (len == 0)
        return taap_fail(err, TAAP_E_USAGE, "jti is empty: give a unique id or none for a UUID");
    if (len > POP_MAX_JTI)
        return taap_fail(err, TAAP_E_USAGE, "jti is %zu bytes: at most %d are allowed", len,
                         POP_MAX_JTI);
    /* Valid UTF-8 only: the verifier's strict JSON parser would refuse the
     * token otherwise. */
    const unsigned char *s = (const unsigned char *)jti;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3, cp = c & 0x07;
        } else {
            goto bad;
        }
        if (i + k >= len) /* truncated sequence */
            goto bad;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                goto bad;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            goto bad;
        i += k + 1;
    }
    return TAAP_OK;
bad:
    return taap_fail(err, TAAP_E_USAGE, "jti is not valid UTF-8");
}

/*
 * The common tail of both entry points: names already checked, edts
 * computed. Writes the payload, signs header.payload and assembles the
 * token in one allocation.
 */
static taap_code sign_token(const taap_key *key, const char *const *names, const size_t *lens,
                            size_t n, const char edts[44], const taap_pop_options *opts,
                            char **token, taap_pop_info *info, taap_error *err)
{
    unsigned lifetime = opts && opts->lifetime ? opts->lifetime : TAAP_POP_DEFAULT_LIFETIME;
    if (lifetime > TAAP_POP_MAX_LIFETIME)
        return taap_fail(err, TAAP_E_BUILD_LIFETIME,
                         "lifetime %u s is outside 1..%d s (the PoP default is %d s)", lifetime,
                         TAAP_POP_MAX_LIFETIME, TAAP_POP_DEFAULT_LIFETIME);
    char jti_buf[37];
    const char *jti;
    taap_code rc;
    if (opts && opts->jti) {
        if ((rc = check_jti(opts->jti, err)) != TAAP_OK)
            return rc;
        jti = opts->jti;
    } else {
        if ((rc = taap_uuid_v4(jti_buf, err)) != TAAP_OK)
            return rc;
        jti = jti_buf;
    }
    int64_t iat = opts && opts->clock ? opts->clock(opts->clock_ctx) : taap_wall_clock(NULL);
    if (iat < 0 || iat > POP_MAX_TIME - (int64_t)lifetime)
        return taap_fail(err, TAAP_E_USAGE, "the clock says %lld, outside 0..%lld",
                         (long long)iat, (long long)(POP_MAX_TIME - (int64_t)lifetime));
    int64_t exp = iat + (int64_t)lifetime;

    size_t ehts_len = n - 1, jti_len = strlen(jti);
    for (size_t i = 0; i < n; i++)
        ehts_len += lens[i];
    /* Fixed text (~70 bytes) + two integers (<= 12 digits each) + ehts +
     * edts + the jti escaped at worst 6x + the buffer's NUL. The buffer is
     * fixed at that size: `failed` records a bug in the count instead of a
     * write past the end. */
    size_t bound = 96 + 2 * 20 + ehts_len + 43 + 6 * jti_len + 1;
    char stack_payload[POP_PAYLOAD_STACK];
    char *heap_payload = NULL;
    taap_buf pl = taap_buf_fixed(stack_payload, sizeof stack_payload);
    if (bound > sizeof stack_payload) {
        if (!(heap_payload = malloc(bound)))
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        pl = taap_buf_fixed(heap_payload, bound);
    }
    PUT_LIT(&pl, "{\"iat\":");
    taap_buf_put_i64(&pl, iat);
    PUT_LIT(&pl, ",\"exp\":");
    taap_buf_put_i64(&pl, exp);
    PUT_LIT(&pl, ",\"ehts\":\"");
    size_t ehts_off = pl.len;
    for (size_t i = 0; i < n; i++) {
        if (i)
            taap_buf_put(&pl, ";", 1);
        taap_buf_put(&pl, names[i], lens[i]); /* tokens and pseudo-names: no escaping needed */
    }
    PUT_LIT(&pl, "\",\"edts\":\"");
    taap_buf_put(&pl, edts, 43);
    PUT_LIT(&pl, "\",\"jti\":\"");
    taap_buf_json_escape(&pl, jti, jti_len);
    PUT_LIT(&pl, "\",\"v\":\"1\"}");
    if (pl.failed) {
        free(heap_payload);
        return taap_fail(err, TAAP_E_CRYPTO, "internal error: PoP payload size miscounted");
    }

    size_t sig_len = key->sig_len;
    size_t pl_b64 = TAAP_B64URL_LEN(pl.len);
    size_t input_len = POP_HEADER_B64_LEN + 1 + pl_b64;
    size_t total = input_len + 1 + TAAP_B64URL_LEN(sig_len) + 1;
    unsigned char stack_sig[POP_SIG_STACK];
    unsigned char *sig = sig_len <= sizeof stack_sig ? stack_sig : malloc(sig_len);
    char *tok = malloc(total);
    char *ehts_copy = NULL;
    if (info && tok && sig)
        ehts_copy = taap_strndup(pl.p + ehts_off, ehts_len);
    if (!tok || !sig || (info && !ehts_copy)) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto out;
    }
    memcpy(tok, POP_HEADER_B64, POP_HEADER_B64_LEN);
    tok[POP_HEADER_B64_LEN] = '.';
    taap_b64url_encode(pl.p, pl.len, tok + POP_HEADER_B64_LEN + 1);
    if ((rc = rs256_sign(key, tok, input_len, sig, err)) != TAAP_OK)
        goto out;
    tok[input_len] = '.';
    taap_b64url_encode(sig, sig_len, tok + input_len + 1);
    if (info) {
        info->ehts = ehts_copy;
        ehts_copy = NULL;
        memcpy(info->edts, edts, 44);
        if (jti_len >= sizeof info->jti) /* cannot happen: check_jti bounds it */
            jti_len = sizeof info->jti - 1;
        memcpy(info->jti, jti, jti_len);
        info->jti[jti_len] = '\0';
        info->iat = iat;
        info->exp = exp;
    }
    *token = tok;
    tok = NULL;
out:
    free(tok);
    free(ehts_copy);
    if (sig != stack_sig)
        free(sig);
    if (heap_payload)
        free(heap_payload);
    return rc;
}

/* Common argument checks of the two entry points. */
static taap_code check_call(const taap_key *key, char **token, taap_pop_info *info,
                            taap_error *err)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!token)
        return taap_fail(err, TAAP_E_USAGE, "no place to return the token (token is NULL)");
    *token = NULL;
    if (!key)
        return taap_fail(err, TAAP_E_USAGE, "no key given: a private RSA key is needed to sign");
    if (!key->is_private)
        return taap_fail(err, TAAP_E_KEY, "this is a public key, a private key is needed to sign");
    return TAAP_OK;
}

/* Names and lengths of caller entries, on the stack (n <= 100 once
 * check_names has passed, but it runs after this: clamp first). */
static taap_code entries_edts(const taap_pop_entry *entries, size_t n, const char **names,
                              size_t *lens, char out[44], taap_error *err)
{
    if (n && !entries)
        return taap_fail(err, TAAP_E_USAGE, "entries is NULL but n is %zu", n);
    size_t m = n > TAAP_POP_MAX_ENTRIES ? 0 : n;
    for (size_t i = 0; i < m; i++) {
        names[i] = entries[i].name;
        lens[i] = entries[i].name ? strlen(entries[i].name) : 0;
    }
    taap_code rc = check_names(names, lens, n, err);
    if (rc != TAAP_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].value_len && !entries[i].value) {
            char b[72];
            return taap_fail(err, TAAP_E_USAGE, "ehts entry %zu ('%s') has a NULL value of %zu bytes",
                             i + 1, shown(names[i], lens[i], b), entries[i].value_len);
        }
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, taap_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 init failed");
    }
    for (size_t i = 0; i < n; i++)
        if (entries[i].value_len && !EVP_DigestUpdate(md, entries[i].value, entries[i].value_len)) {
            EVP_MD_CTX_free(md);
            return taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 update failed");
        }
    unsigned char digest[32];
    unsigned dlen = 0;
    int ok = EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    if (!ok)
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 final failed");
    canon_digest_to_edts(digest, out);
    return TAAP_OK;
}

taap_code taap_pop_edts(const taap_pop_entry *entries, size_t n, char out[44], taap_error *err)
{
    const char *names[TAAP_POP_MAX_ENTRIES];
    size_t lens[TAAP_POP_MAX_ENTRIES];
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "no output buffer for edts");
    return entries_edts(entries, n, names, lens, out, err);
}

taap_code taap_pop_build(const taap_key *key, const taap_pop_entry *entries, size_t n,
                         const taap_pop_options *opts, char **token, taap_pop_info *info,
                         taap_error *err)
{
    taap_code rc = check_call(key, token, info, err);
    if (rc != TAAP_OK)
        return rc;
    const char *names[TAAP_POP_MAX_ENTRIES];
    size_t lens[TAAP_POP_MAX_ENTRIES];
    char edts[44];
    if ((rc = entries_edts(entries, n, names, lens, edts, err)) != TAAP_OK)
        return rc;
    return sign_token(key, names, lens, n, edts, opts, token, info, err);
}

/* ---- request coverage ----------------------------------------------------- */

/* The coverage list being assembled; one slot of slack lets "too many" be
 * detected by check_names rather than silently capped. */
typedef struct cover {
    const char *names[TAAP_POP_MAX_ENTRIES + 1];
    size_t lens[TAAP_POP_MAX_ENTRIES + 1];
    size_t n;
    size_t wanted; /* how many were asked for, even past the cap */
} cover;

static int cover_has(const cover *c, const char *name, size_t len)
{
    int pseudo = canon_is_pseudo(name, len);
    for (size_t i = 0; i < c->n; i++) {
        if (c->lens[i] != len)
            continue;
        /* Pseudo-names are exact; header names compare ignoring case. */
        if (pseudo ? memcmp(c->names[i], name, len) == 0
                   : taap_ascii_ncasecmp(c->names[i], name, len) == 0)
            return 1;
    }
    return 0;
}

static void cover_add(cover *c, const char *name, size_t len)
{
    c->wanted++;
    if (c->n < TAAP_POP_MAX_ENTRIES + 1) {
        c->names[c->n] = name;
        c->lens[c->n] = len;
        c->n++;
    }
}

/* The header's name as the request spells it (ehts carries the name as
 * sent), or NULL when the request does not have it. */
static const char *header_as_sent(const taap_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (req->headers[i].name && taap_ascii_casecmp(req->headers[i].name, name) == 0)
            return req->headers[i].name;
    return NULL;
}

static int listed(const char *const *list, size_t n, const char *name, size_t len)
{
    int pseudo = canon_is_pseudo(name, len);
    for (size_t i = 0; i < n; i++) {
        if (!list[i] || strlen(list[i]) != len)
            continue;
        if (pseudo ? memcmp(list[i], name, len) == 0
                   : taap_ascii_ncasecmp(list[i], name, len) == 0)
            return 1;
    }
    return 0;
}

taap_code taap_pop_build_request(const taap_key *key, const taap_request *req,
                                 const taap_pop_options *opts, char **token,
                                 taap_pop_info *info, taap_error *err)
{
    taap_code rc = check_call(key, token, info, err);
    if (rc != TAAP_OK)
        return rc;
    if (!req)
        return taap_fail(err, TAAP_E_USAGE, "no request given");
    if (!req->method || !*req->method)
        return taap_fail(err, TAAP_E_USAGE, "the request has no method");
    if (!req->target || !*req->target)
        return taap_fail(err, TAAP_E_USAGE, "the request has no URL or path");
    if (req->n_headers && !req->headers)
        return taap_fail(err, TAAP_E_USAGE, "the request's headers are NULL but n_headers is %zu",
                         req->n_headers);
    const char *const *sign = opts ? opts->sign_headers : NULL;
    size_t n_sign = sign ? opts->n_sign_headers : 0;
    const char *const *nosign = opts ? opts->no_sign_headers : NULL;
    size_t n_nosign = nosign ? opts->n_no_sign_headers : 0;

    /* Extra headers first: refuse what can never be signed before reading
     * a possibly large body. */
    char b[72];
    for (size_t i = 0; i < n_sign; i++) {
        const char *s = sign[i];
        if (!s || !*s)
            return taap_fail(err, TAAP_E_BUILD_EMPTY_NAME, "sign_headers entry %zu is empty",
                             i + 1);
        size_t len = strlen(s);
        if (taap_ascii_casecmp(s, "X-Authorization") == 0)
            return taap_fail(err, TAAP_E_BUILD_BAD_NAME,
                             "X-Authorization carries the PoP token itself and is never signed");
        if (!canon_is_pseudo(s, len) && taap_is_token(s, len) && !header_as_sent(req, s))
            return taap_fail(err, TAAP_E_BUILD_BAD_NAME,
                             "cannot sign header '%s': the request does not have it",
                             shown(s, len, b));
    }

    cover c = {.n = 0};
    static const char *const defaults[] = {"Content-Type", "Authorization"};
    for (size_t i = 0; i < 2; i++) {
        const char *sent = header_as_sent(req, defaults[i]);
        if (sent && !listed(nosign, n_nosign, sent, strlen(sent)))
            cover_add(&c, sent, strlen(sent));
    }
    if (!listed(nosign, n_nosign, "uri", 3))
        cover_add(&c, "uri", 3);
    if (!listed(nosign, n_nosign, "http-method", 11))
        cover_add(&c, "http-method", 11);
    if (!listed(nosign, n_nosign, "body", 4)) {
        taap_error e = TAAP_ERROR_INIT;
        int64_t blen = canon_body_length(&req->body, &e);
        if (blen < 0 && e.code != TAAP_OK) {
            if (err)
                *err = e;
            return e.code;
        }
        /* -1 without an error: a callback or pipe of unknown length.
         * Count it as non-empty: it is hashed as a stream either way. */
        if (blen != 0)
            cover_add(&c, "body", 4);
    }
    for (size_t i = 0; i < n_sign; i++) {
        const char *s = sign[i];
        size_t len = strlen(s);
        /* Asked for what is already covered: nothing to add. */
        if (cover_has(&c, s, len))
            continue;
        const char *sent = canon_is_pseudo(s, len) ? NULL : header_as_sent(req, s);
        cover_add(&c, sent ? sent : s, len);
    }
    if (c.wanted > TAAP_POP_MAX_ENTRIES)
        return taap_fail(err, TAAP_E_BUILD_TOO_MANY, "%zu parts to sign: at most %d are allowed",
                         c.wanted, TAAP_POP_MAX_ENTRIES);
    if ((rc = check_names(c.names, c.lens, c.n, err)) != TAAP_OK)
        return rc;
    char edts[44];
    /* A covered header that occurs twice is ambiguous: canon refuses it. */
    if ((rc = canon_request_edts(req, c.names, c.lens, c.n, TAAP_E_BUILD_BAD_NAME, edts, err)) !=
        TAAP_OK)
        return rc;
    return sign_token(key, c.names, c.lens, c.n, edts, opts, token, info, err);
}
