/*
 * canon.h — SPEC §1.1 canonicalisation shared by the PoP builder and the
 * verifier: which bytes a signed part name stands for in a request, and
 * the streaming edts hash over them.
 */
#ifndef TAAP_CANON_H
#define TAAP_CANON_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "taap/request.h"

/* 1 if `name` (len bytes) is one of the pseudo-names uri, http-method, body
 * (exact, lower case). */
int canon_is_pseudo(const char *name, size_t len);

/* Byte length of a request body: MEMORY len, FILE size (stat), CALLBACK
 * len (-1 when unknown). Returns -1 and fills err if a file cannot be read. */
int64_t canon_body_length(const taap_body *body, taap_error *err);

/*
 * Find header `name` (len bytes, case-insensitive) in the request. Returns 1
 * and the value trimmed of surrounding spaces/tabs when it occurs exactly
 * once; 0 when absent; 2 when it occurs more than once.
 */
int canon_find_header(const taap_request *req, const char *name, size_t len,
                      const char **value, size_t *value_len);

/* Feed the body bytes into the digest, streaming files and callbacks in
 * 64 KiB chunks. */
taap_code canon_hash_body(EVP_MD_CTX *md, const taap_body *body, taap_error *err);

/*
 * edts for a request and an ordered list of part names (names[i], lens[i]):
 * SHA-256 over each part's value in order, base64url into out[44].
 * A header named but absent or repeated → `missing_code` (TAAP_E_EHTS for
 * the verifier, TAAP_E_BUILD_BAD_NAME for the builder) with a message.
 * `uri` is computed once from req->target.
 */
taap_code canon_request_edts(const taap_request *req, const char *const *names,
                             const size_t *lens, size_t n, taap_code missing_code,
                             char out[44], taap_error *err);

/* SHA-256 digest → base64url edts (43 chars + NUL). */
void canon_digest_to_edts(const unsigned char digest[32], char out[44]);

#endif
