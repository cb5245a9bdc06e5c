/* rs256.h — RSASSA-PKCS1-v1_5 with SHA-256 on OpenSSL EVP (RFC 7518 §3.3). */
#ifndef TAAP_RS256_H
#define TAAP_RS256_H

#include <stddef.h>
#include "taap/error.h"
#include "key_internal.h"

/* Sign `input` with a private key; `sig` needs key->sig_len bytes.
 * Deterministic: same key and input give the same bytes. */
taap_code rs256_sign(const taap_key *key, const void *input, size_t len, unsigned char *sig,
                     taap_error *err);

/* Verify: the signature must be exactly key->sig_len bytes; OpenSSL
 * re-encodes the DigestInfo and compares (no parsing of the padding).
 * Returns TAAP_OK or TAAP_E_SIGNATURE. */
taap_code rs256_verify(const taap_key *key, const void *input, size_t len,
                       const unsigned char *sig, size_t sig_len, taap_error *err);

#endif
