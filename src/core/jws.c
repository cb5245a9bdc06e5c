/* jws.c — strict compact-JWS split/decode, strict JSON, the RS256-only
 * header policy (SPEC §2 items 1–3, 5). The algorithm is pinned here and
 * the key is the caller's: nothing in a token selects either. */
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "util.h"
#include "jws.h"
#include "rs256.h"
#include "taap/verify.h"

/* Copy at most `max` bytes of untrusted text into `out` for a message,
 * replacing anything that is not printable ASCII (or is a quote/backslash)
 * with '?', so a message can never carry control bytes or a long token. */
static const char *safe_text(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = len < cap - 4 ? len : cap - 4, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    if (n < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Why a segment failed strict base64url, for the message (failure path only). */
static const char *b64_diagnosis(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=')
            return "contains '=' padding (base64url in a JWS has none)";
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            return "contains whitespace";
        if (c == '+' || c == '/')
            return "uses the standard base64 alphabet ('+' or '/'), not base64url ('-' and '_')";
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return "contains a character outside the base64url alphabet";
    }
    if (n % 4 == 1)
        return "has a length that no base64url encoding can have (length mod 4 = 1)";
    return "has non-zero unused trailing bits (not the canonical encoding)";
}

void jws_parts_free(jws_parts *p)
{
    if (!p)
        return;
    free(p->buf);
    memset(p, 0, sizeof *p);
}

taap_code jws_split(const char *untrusted, size_t len, size_t max_len, jws_parts *out,
                    taap_error *err)
{
    memset(out, 0, sizeof *out);
    if (!untrusted || len == 0)
        return taap_fail(err, TAAP_E_MALFORMED, "token is empty; expected a compact JWS");
    if (len > max_len)
        return taap_fail(err, TAAP_E_MALFORMED, "token is %zu bytes; the limit is %zu", len,
                         max_len);
    const char *dot1 = memchr(untrusted, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - untrusted)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - untrusted))) {
        size_t segs = 1;
        for (size_t i = 0; i < len; i++)
            segs += untrusted[i] == '.';
        return taap_fail(err, TAAP_E_MALFORMED,
                         "token has %zu segment%s; a compact JWS has exactly 3 separated by '.'",
                         segs, segs == 1 ? "" : "s");
    }
    const char *seg[3] = {untrusted, dot1 + 1, dot2 + 1};
    size_t seglen[3] = {(size_t)(dot1 - untrusted), (size_t)(dot2 - dot1 - 1),
                        len - (size_t)(dot2 + 1 - untrusted)};
    static const char *const names[3] = {"header", "payload", "signature"};
    if (seglen[0] == 0)
        return taap_fail(err, TAAP_E_MALFORMED, "header segment is empty");
    /* Decoded sizes are at most 3/4 of the text; +1 for each NUL. */
    size_t cap[3];
    for (int i = 0; i < 3; i++)
        cap[i] = seglen[i] / 4 * 3 + 3 + 1;
    unsigned char *buf = malloc(cap[0] + cap[1] + cap[2]);
    if (!buf)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    unsigned char *dst[3] = {buf, buf + cap[0], buf + cap[0] + cap[1]};
    size_t dlen[3];
    for (int i = 0; i < 3; i++) {
        if (taap_b64url_decode(seg[i], seglen[i], dst[i], &dlen[i]) != 0) {
            free(buf);
            return taap_fail(err, TAAP_E_MALFORMED, "%s segment %s", names[i],
                             b64_diagnosis(seg[i], seglen[i]));
        }
        dst[i][dlen[i]] = '\0';
    }
    out->untrusted_signing_input = untrusted;
    out->signing_input_len = (size_t)(dot2 - untrusted);
    out->header = dst[0];
    out->header_len = dlen[0];
    out->payload = dst[1];
    out->payload_len = dlen[1];
    out->sig = dst[2];
    out->sig_len = dlen[2];
    out->buf = buf;
    return TAAP_OK;
}

/*
 * One pass over the JSON text: strict UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF) and the bracket depth outside strings. jansson
 * would also reject bad UTF-8, but this gives a precise message, and the
 * depth bound keeps a hostile 2000-deep token from ever reaching the
 * recursive parser.
 */
static taap_code scan_json(const unsigned char *s, size_t n, const char *what, taap_error *err)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (in_str) {
                if (c == '\\') {
                    /* Skip the escaped character (ASCII in valid JSON). */
                    if (i + 1 < n && s[i + 1] < 0x80)
                        i++;
                } else if (c == '"') {
                    in_str = 0;
                }
            } else if (c == '"') {
                in_str = 1;
            } else if (c == '{' || c == '[') {
                if (++depth > JWS_MAX_JSON_DEPTH)
                    return taap_fail(err, TAAP_E_MALFORMED,
                                     "%s nests deeper than %d levels", what, JWS_MAX_JSON_DEPTH);
            } else if (c == '}' || c == ']') {
                depth--;
            }
            i++;
            continue;
        }
        size_t need;
        unsigned min;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1, min = 0x80, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, min = 0x800, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return taap_fail(err, TAAP_E_MALFORMED, "%s is not valid UTF-8 (byte %zu is 0x%02x)",
                             what, i, c);
        }
        if (i + need >= n)
            return taap_fail(err, TAAP_E_MALFORMED, "%s is not valid UTF-8 (truncated sequence at byte %zu)",
                             what, i);
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return taap_fail(err, TAAP_E_MALFORMED,
                                 "%s is not valid UTF-8 (bad continuation byte at %zu)", what, i + k);
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return taap_fail(err, TAAP_E_MALFORMED,
                             "%s is not valid UTF-8 (overlong, surrogate or out-of-range code point at byte %zu)",
                             what, i);
        i += need + 1;
    }
    return TAAP_OK;
}

taap_code jws_parse_json(const unsigned char *text, size_t len, const char *what,
                         taap_code overflow_code, json_t **out, taap_error *err)
{
    *out = NULL;
    if (len >= 3 && text[0] == 0xef && text[1] == 0xbb && text[2] == 0xbf)
        return taap_fail(err, TAAP_E_MALFORMED,
                         "%s starts with a UTF-8 byte order mark; expected a bare JSON object", what);
    taap_code rc = scan_json(text, len, what, err);
    if (rc != TAAP_OK)
        return rc;
    json_error_t jerr;
    /* Default flags already refuse trailing data after the value (EOF
     * check), \u0000 in strings, and top-level scalars. */
    json_t *j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        enum json_error_code ec = json_error_code(&jerr);
        if (ec == json_error_numeric_overflow)
            return taap_fail(err, overflow_code,
                             "%s holds a number out of range (%s); claims must be integers in 0..253402300799",
                             what, jerr.text);
        if (ec == json_error_duplicate_key)
            return taap_fail(err, TAAP_E_MALFORMED,
                             "%s has a duplicate member name; each member may appear once", what);
        if (ec == json_error_end_of_input_expected)
            return taap_fail(err, TAAP_E_MALFORMED,
                             "%s has data after the JSON object (at byte %d); expected one object only",
                             what, jerr.position);
        return taap_fail(err, TAAP_E_MALFORMED, "%s is not valid JSON: %s (at byte %d)", what,
                         jerr.text, jerr.position);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return taap_fail(err, TAAP_E_MALFORMED, "%s is a JSON array; expected a JSON object", what);
    }
    *out = j;
    return TAAP_OK;
}

static int ieq(const char *a, const char *b)
{
    return taap_ascii_casecmp(a, b) == 0;
}

taap_code jws_check_header(const json_t *h, taap_error *err)
{
    char tmp[48];
    const json_t *alg = json_object_get(h, "alg");
    if (!alg)
        return taap_fail(err, TAAP_E_ALG, "header has no alg; only RS256 is accepted");
    if (!json_is_string(alg))
        return taap_fail(err, TAAP_E_ALG, "alg is not a string; only \"RS256\" is accepted");
    if (json_string_length(alg) != 5 || memcmp(json_string_value(alg), "RS256", 5) != 0)
        return taap_fail(err, TAAP_E_ALG, "alg is \"%s\"; only RS256 is accepted",
                         safe_text(json_string_value(alg), json_string_length(alg), tmp, sizeof tmp));
    if (json_object_get(h, "crit"))
        return taap_fail(err, TAAP_E_ALG,
                         "header has crit; no JWS extensions are supported, expected no crit");
    if (json_object_get(h, "b64"))
        return taap_fail(err, TAAP_E_ALG,
                         "header has b64; unencoded payloads (RFC 7797) are not accepted");
    const json_t *cty = json_object_get(h, "cty");
    if (cty) {
        if (!json_is_string(cty))
            return taap_fail(err, TAAP_E_ALG, "cty is not a string");
        const char *v = json_string_value(cty);
        if (ieq(v, "JWT") || ieq(v, "application/jwt"))
            return taap_fail(err, TAAP_E_ALG,
                             "cty \"%s\" announces a nested token; a PoP token is never nested",
                             safe_text(v, json_string_length(cty), tmp, sizeof tmp));
    }
    const json_t *typ = json_object_get(h, "typ");
    if (typ) {
        if (!json_is_string(typ))
            return taap_fail(err, TAAP_E_ALG, "typ is not a string; expected JWT or application/jwt");
        const char *v = json_string_value(typ);
        if (!ieq(v, "JWT") && !ieq(v, "application/jwt"))
            return taap_fail(err, TAAP_E_ALG, "typ is \"%s\"; expected JWT or application/jwt",
                             safe_text(v, json_string_length(typ), tmp, sizeof tmp));
    }
    /* kid, jwk, jku, x5c, x5u, x5t: deliberately never read. */
    return TAAP_OK;
}

int jws_header_fast_ok(const unsigned char *header, size_t len)
{
    static const char a[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    static const char b[] = "{\"typ\":\"JWT\",\"alg\":\"RS256\"}";
    static const char c[] = "{\"alg\":\"RS256\"}";
    return (len == sizeof a - 1 && memcmp(header, a, len) == 0) ||
           (len == sizeof b - 1 && memcmp(header, b, len) == 0) ||
           (len == sizeof c - 1 && memcmp(header, c, len) == 0);
}

taap_code jws_verify_rs256(const char *untrusted, size_t len, size_t max_len,
                           const taap_key *key, jws_parts *out, taap_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    jws_parts p;
    taap_code rc = jws_split(untrusted, len, max_len, &p, err);
    if (rc != TAAP_OK)
        return rc;
    if (!jws_header_fast_ok(p.header, p.header_len)) {
        json_t *h = NULL;
        rc = jws_parse_json(p.header, p.header_len, "header", TAAP_E_MALFORMED, &h, err);
        if (rc == TAAP_OK)
            rc = jws_check_header(h, err);
        json_decref(h);
    }
    if (rc == TAAP_OK)
        rc = rs256_verify(key, p.untrusted_signing_input, p.signing_input_len, p.sig, p.sig_len,
                          err);
    if (rc == TAAP_OK && out)
        *out = p;
    else
        jws_parts_free(&p);
    return rc;
}

taap_code taap_jwt_decode(const char *token, size_t len, char **header_json,
                          char **payload_json, taap_error *err)
{
    if (header_json)
        *header_json = NULL;
    if (payload_json)
        *payload_json = NULL;
    if (!header_json || !payload_json)
        return taap_fail(err, TAAP_E_USAGE, "taap_jwt_decode: output pointers must not be NULL");
    /* Access tokens (with a cnf PEM) are larger than PoP tokens: allow 64 KiB. */
    jws_parts p;
    taap_code rc = jws_split(token, len, 65536, &p, err);
    if (rc != TAAP_OK)
        return rc;
    char *h = taap_strndup((const char *)p.header, p.header_len);
    char *pl = taap_strndup((const char *)p.payload, p.payload_len);
    jws_parts_free(&p);
    if (!h || !pl) {
        free(h);
        free(pl);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    *header_json = h;
    *payload_json = pl;
    return TAAP_OK;
}
