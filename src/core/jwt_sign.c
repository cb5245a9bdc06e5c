/* jwt_sign.c — public RS256 sign/verify and compact JWS (taap/jws.h), for
 * tokens other than PoP tokens (the emulator's access and ID tokens). */
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "util.h"
#include "jws.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/jws.h"

TAAP_API taap_code taap_rs256_sign(const taap_key *key, const void *data, size_t len,
                                   unsigned char **sig, size_t *sig_len, taap_error *err)
{
    if (!key || !sig || !sig_len || (!data && len))
        return taap_fail(err, TAAP_E_USAGE, "taap_rs256_sign: NULL argument");
    *sig = NULL;
    *sig_len = 0;
    unsigned char *buf = malloc(key->sig_len);
    if (!buf)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    taap_code rc = rs256_sign(key, data ? data : "", len, buf, err);
    if (rc != TAAP_OK) {
        free(buf);
        return rc;
    }
    *sig = buf;
    *sig_len = key->sig_len;
    return TAAP_OK;
}

TAAP_API taap_code taap_rs256_verify(const taap_key *key, const void *data, size_t len,
                                     const unsigned char *sig, size_t sig_len, taap_error *err)
{
    if (!key || !sig || (!data && len))
        return taap_fail(err, TAAP_E_USAGE, "taap_rs256_verify: NULL argument");
    return rs256_verify(key, data ? data : "", len, sig, sig_len, err);
}

TAAP_API taap_code taap_jws_sign(const taap_key *key, const char *header_json,
                                 const char *payload_json, char **token, taap_error *err)
{
    if (!key || !header_json || !payload_json || !token)
        return taap_fail(err, TAAP_E_USAGE, "taap_jws_sign: NULL argument");
    *token = NULL;
    size_t hl = strlen(header_json), pl = strlen(payload_json);
    size_t cap = TAAP_B64URL_LEN(hl) + 1 + TAAP_B64URL_LEN(pl) + 1 + TAAP_B64URL_LEN(key->sig_len) + 1;
    char *out = malloc(cap);
    unsigned char *sig = malloc(key->sig_len);
    if (!out || !sig) {
        free(out);
        free(sig);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    size_t n = taap_b64url_encode(header_json, hl, out);
    out[n++] = '.';
    n += taap_b64url_encode(payload_json, pl, out + n);
    taap_code rc = rs256_sign(key, out, n, sig, err);
    if (rc != TAAP_OK) {
        free(out);
        free(sig);
        return rc;
    }
    out[n++] = '.';
    taap_b64url_encode(sig, key->sig_len, out + n);
    free(sig);
    *token = out;
    return TAAP_OK;
}

TAAP_API taap_code taap_jws_verify(const taap_key *key, const char *token, size_t len,
                                   size_t max_len, char **header_json, char **payload_json,
                                   taap_error *err)
{
    if (header_json)
        *header_json = NULL;
    if (payload_json)
        *payload_json = NULL;
    if (!key || !token)
        return taap_fail(err, TAAP_E_USAGE, "taap_jws_verify: NULL argument");
    /* One implementation of the split + header policy + pinned-key check:
     * the verifier's (jws.c). Nothing is handed over unless it verified. */
    jws_parts p;
    taap_code rc = jws_verify_rs256(token, len, max_len ? max_len : 8192, key, &p, err);
    if (rc != TAAP_OK)
        return rc;
    char *h = NULL, *pl = NULL;
    if (header_json && !(h = taap_strndup((const char *)p.header, p.header_len)))
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
    if (rc == TAAP_OK && payload_json &&
        !(pl = taap_strndup((const char *)p.payload, p.payload_len)))
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
    jws_parts_free(&p);
    if (rc != TAAP_OK) {
        free(h);
        free(pl);
        return rc;
    }
    if (header_json)
        *header_json = h;
    if (payload_json)
        *payload_json = pl;
    return TAAP_OK;
}
