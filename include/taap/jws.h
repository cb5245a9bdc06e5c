/*
 * taap/jws.h — RS256 signatures and compact JWS over arbitrary bytes.
 *
 * The PoP builder and verifier (pop.h, verify.h) cover T-Mobile's PoP
 * tokens. This module is for everything else a TAAP server signs: access
 * tokens and ID tokens minted by an OAuth endpoint (the emulator's
 * `taap serve`). The algorithm is pinned to RS256; nothing in a token ever
 * selects the algorithm or the key.
 */
#ifndef TAAP_TAAP_JWS_H
#define TAAP_TAAP_JWS_H

#include <stddef.h>
#include "taap/error.h"
#include "taap/key.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * taap_rs256_sign — RSASSA-PKCS1-v1_5 / SHA-256 signature of `len` bytes
 * with a private key. *sig is malloc'd (free()), *sig_len = modulus bytes.
 * Errors: TAAP_E_KEY (public key given), TAAP_E_CRYPTO, TAAP_E_NOMEM.
 * Thread-safe for a shared key.
 */
TAAP_API taap_code taap_rs256_sign(const taap_key *key, const void *data, size_t len,
                                   unsigned char **sig, size_t *sig_len, taap_error *err);

/*
 * taap_rs256_verify — TAAP_OK when `sig` (exactly modulus bytes) is a valid
 * RS256 signature of `data` under `key` (public or private), else
 * TAAP_E_SIGNATURE. Thread-safe.
 */
TAAP_API taap_code taap_rs256_verify(const taap_key *key, const void *data, size_t len,
                                     const unsigned char *sig, size_t sig_len, taap_error *err);

/*
 * taap_jws_sign — a compact JWS: base64url(header_json) "." base64url(
 * payload_json) "." base64url(RS256 signature). The JSON texts are signed
 * as given (the caller chooses the bytes, e.g. {"alg":"RS256","typ":"JWT"}).
 * *token is malloc'd, NUL-terminated (free()).
 */
TAAP_API taap_code taap_jws_sign(const taap_key *key, const char *header_json,
                                 const char *payload_json, char **token, taap_error *err);

/*
 * taap_jws_verify — split an untrusted compact JWS (at most `max_len`
 * bytes; 0 → 8192) with strict base64url, apply the same header policy as
 * the PoP verifier (SPEC §2 items 1–3: strict JSON, alg exactly RS256, no
 * crit/b64, no nested cty, typ absent or JWT), verify the RS256 signature
 * with `key`, and return the decoded header and payload JSON text
 * (NUL-terminated, malloc'd; free()). Either output may be NULL when not
 * wanted. Nothing is returned unless the signature holds. The payload is
 * not parsed: checking claims is the caller's job.
 * Errors: TAAP_E_MALFORMED, TAAP_E_ALG, TAAP_E_SIGNATURE. Thread-safe.
 */
TAAP_API taap_code taap_jws_verify(const taap_key *key, const char *token, size_t len,
                                   size_t max_len, char **header_json, char **payload_json,
                                   taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
