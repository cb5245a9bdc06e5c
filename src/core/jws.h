/*
 * jws.h — strict compact-JWS handling for the PoP verifier (SPEC §2 items
 * 1–3 and 5): split, strict base64url, strict JSON, the RS256-only header
 * policy, and the pinned-key signature check. Everything here treats its
 * input as untrusted.
 */
#ifndef TAAP_JWS_H
#define TAAP_JWS_H

#include <stddef.h>
#include <jansson.h>

#include "taap/error.h"
#include "key_internal.h"

/* Bracket depth allowed in a header or payload ({ and [ count). */
#define JWS_MAX_JSON_DEPTH 32

/*
 * A split and decoded compact JWS. The three decoded parts live in one
 * allocation (`buf`); header and payload are NUL-terminated (the NUL is not
 * counted). `signing_input` points into the caller's token: it is
 * "b64(header).b64(payload)" exactly as received.
 */
typedef struct jws_parts {
    const char *untrusted_signing_input;
    size_t signing_input_len;
    unsigned char *header;
    size_t header_len;
    unsigned char *payload;
    size_t payload_len;
    unsigned char *sig;
    size_t sig_len;
    unsigned char *buf;
} jws_parts;

/*
 * jws_split — SPEC §2.1: `len` ≤ max_len, exactly three '.'-separated
 * segments, each strict base64url (no '=', no whitespace, zero trailing
 * bits). Header and payload must be non-empty. Fails with TAAP_E_MALFORMED
 * and a message naming the segment. On success free with jws_parts_free().
 */
taap_code jws_split(const char *untrusted, size_t len, size_t max_len, jws_parts *out,
                    taap_error *err);
void jws_parts_free(jws_parts *p);

/*
 * jws_parse_json — SPEC §2.2: `text` must be valid UTF-8 without a BOM,
 * nest at most JWS_MAX_JSON_DEPTH deep, hold exactly one JSON object and
 * nothing after it but whitespace, with no duplicate member names. `what`
 * ("header" / "payload") names the part in messages. A number too large for
 * a 64-bit integer or a double gives `overflow_code` (the payload uses
 * TAAP_E_CLAIMS: it is valid JSON with an out-of-range claim); everything
 * else TAAP_E_MALFORMED. *out is a new reference (json_decref()).
 */
taap_code jws_parse_json(const unsigned char *text, size_t len, const char *what,
                         taap_code overflow_code, json_t **out, taap_error *err);

/*
 * jws_check_header — SPEC §2.3 on a decoded header: alg exactly "RS256";
 * crit or b64 present → reject; cty naming a JWT → reject; typ absent or
 * JWT / application/jwt (case-insensitive). kid/jwk/jku/x5c are ignored:
 * they never select a key. Fails with TAAP_E_ALG.
 *
 * The common header texts {"alg":"RS256","typ":"JWT"}, its reverse and
 * {"alg":"RS256"} are recognised byte for byte without a JSON parse
 * (jws_header_fast_ok), which is the verifier's hot path.
 */
taap_code jws_check_header(const json_t *header, taap_error *err);
int jws_header_fast_ok(const unsigned char *header, size_t len);

/*
 * jws_verify_rs256 — SPEC §2 items 1–5 on any compact JWS: split (bounded by
 * max_len), strict JSON header (the payload is NOT parsed: it may be any
 * bytes), header policy, then RS256 with the pinned key (signature exactly
 * k bytes). For JWS that are not PoP tokens: the conformance suites, and
 * access/ID tokens. When `out` is non-NULL and the result is TAAP_OK, the
 * decoded parts are handed over (jws_parts_free()); otherwise nothing is.
 */
taap_code jws_verify_rs256(const char *untrusted, size_t len, size_t max_len,
                           const taap_key *key, jws_parts *out, taap_error *err);

#endif
