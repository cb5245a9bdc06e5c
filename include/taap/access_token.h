/*
 * taap/access_token.h — verify a TAAP access token (the Bearer token an
 * OAuth token endpoint such as `taap serve` issues) the way a resource
 * server or a gateway must before it checks the PoP: RS256 with one of the
 * issuer's keys, the JWS header policy of SPEC §2 items 1–3, exp / nbf with
 * leeway, iss, aud, and the `cnf` key the PoP must be signed with.
 *
 * The issuer's keys come as a key set: a JWKS ({"keys":[…]}, as `taap
 * serve` publishes at /.well-known/jwks.json), one JWK, or one PEM public
 * key. A token's `kid` header only orders the search (the matching key is
 * tried first); every key in the set is trusted, none comes from the token.
 *
 * Failures use the SPEC §2 codes with a message naming the check:
 * TAAP_E_MALFORMED (not a JWS, bad JSON, too big), TAAP_E_ALG,
 * TAAP_E_SIGNATURE (no key of the set verifies it: another issuer),
 * TAAP_E_EXPIRED, TAAP_E_NOT_YET_VALID, TAAP_E_CLAIMS (iss or aud not the
 * configured ones, exp missing, no usable cnf).
 */
#ifndef TAAP_ACCESS_TOKEN_H
#define TAAP_ACCESS_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"
#include "taap/key.h"
#include "taap/pop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct taap_keyset taap_keyset;

/* Most keys a set holds (a JWKS with more is refused). */
#define TAAP_KEYSET_MAX 32

/*
 * taap_keyset_load — parse the issuer's keys from memory: a JWKS, one JWK
 * or one public key in any form taap_key_load_public() takes. JWKS entries
 * that are not RSA signature keys (kty other than RSA, use other than
 * "sig") are skipped; a set with no usable key, or an RSA key refused by
 * the key policy, fails with TAAP_E_KEY and says which entry.
 * Immutable once loaded; share it between threads. taap_keyset_free().
 */
TAAP_API taap_code taap_keyset_load(const void *data, size_t len, taap_keyset **out,
                                    taap_error *err);
/* The same from a file (at most 1 MiB). */
TAAP_API taap_code taap_keyset_load_file(const char *path, taap_keyset **out, taap_error *err);
/* Number of keys in the set. */
TAAP_API size_t taap_keyset_count(const taap_keyset *set);
/* NULL-safe. */
TAAP_API void taap_keyset_free(taap_keyset *set);

/* Default bound on an access token's size. */
#define TAAP_ACCESS_TOKEN_MAX 16384

/* What to require of an access token. taap_access_token_config_init()
 * sets the defaults; issuer and audience NULL mean "not checked". */
typedef struct taap_access_token_config {
    size_t struct_size;       /* set by _init */
    const char *issuer;       /* iss must equal this */
    const char *audience;     /* aud (a string or an array of strings) must hold this */
    unsigned leeway;          /* seconds of clock skew for exp and nbf (default 10) */
    size_t max_token_len;     /* default TAAP_ACCESS_TOKEN_MAX */
    taap_clock_fn clock;      /* NULL → wall clock */
    void *clock_ctx;
} taap_access_token_config;

TAAP_API void taap_access_token_config_init(taap_access_token_config *cfg);

/* What a valid token says. */
typedef struct taap_access_token_info {
    char client_id[257];      /* client_id claim, else sub ("" when neither) */
    char jti[257];            /* "" when absent */
    int64_t exp;
    taap_key *cnf_key;        /* the key PoP tokens must be signed with (owned) */
} taap_access_token_info;

/* Free cnf_key and zero the record. NULL-safe. */
TAAP_API void taap_access_token_info_free(taap_access_token_info *info);

/*
 * taap_access_token_verify — check `token` (untrusted, `len` bytes, without
 * the "Bearer " scheme) against the issuer's key set and `cfg` (NULL →
 * defaults). The `cnf` claim must bind a public key: a PEM string (as
 * `taap serve` issues) or an RFC 7800 object {"jwk":{…}}; it must pass the
 * SPEC §2.4 key policy. On TAAP_OK *info is filled (call
 * taap_access_token_info_free()); on failure it is left zeroed.
 * Thread-safe.
 */
TAAP_API taap_code taap_access_token_verify(const taap_keyset *keys, const char *token,
                                            size_t len, const taap_access_token_config *cfg,
                                            taap_access_token_info *info, taap_error *err);

/*
 * A cache of verified access tokens, for a resource server that sees the
 * same bearer token on many requests: a token seen before skips the
 * signature check, the JSON parse and the cnf key parse (the expensive part:
 * about a millisecond with OpenSSL 3's decoders), keeping only a SHA-256 of
 * the token, a lookup and the exp/nbf checks against the current time. A
 * cache belongs to ONE key set and ONE config (issuer, audience, leeway):
 * what it remembers was verified under them. Bounded (direct-mapped slots: a
 * colliding token replaces the older one). Thread-safe.
 */
typedef struct taap_access_token_cache taap_access_token_cache;

/* slots 0 → 1024. Free with taap_access_token_cache_free() (NULL-safe). */
TAAP_API taap_code taap_access_token_cache_new(size_t slots, taap_access_token_cache **out,
                                               taap_error *err);
TAAP_API void taap_access_token_cache_free(taap_access_token_cache *cache);

/* taap_access_token_verify through `cache` (NULL → no cache): the same
 * answers, the same *info (cnf_key is a new handle on the cached key). Only
 * fully valid tokens are remembered; a cached token that has since expired
 * goes through the full check again, which says why it fails. */
TAAP_API taap_code taap_access_token_verify_cached(taap_access_token_cache *cache,
                                                   const taap_keyset *keys, const char *token,
                                                   size_t len,
                                                   const taap_access_token_config *cfg,
                                                   taap_access_token_info *info, taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
