/*
 * taap/pop.h — build T-Mobile PoP tokens (SPEC §1).
 *
 * A PoP token is a compact RS256 JWS whose payload is
 *   {"iat":I,"exp":E,"ehts":"K1;K2;…","edts":"D","jti":"J","v":"1"}
 * with edts = base64url(SHA-256(value1 ‖ … ‖ valueN)).
 *
 * Two entry points: taap_pop_build() signs an explicit ordered list of
 * (name, value) pairs; taap_pop_build_request() derives that list from the
 * HTTP request about to be sent (SPEC §1.1 default coverage) and streams the
 * body into the hash. Both are thread-safe for a shared key.
 */
#ifndef TAAP_POP_H
#define TAAP_POP_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"
#include "taap/key.h"
#include "taap/request.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TAAP_POP_MAX_ENTRIES 100
#define TAAP_POP_DEFAULT_LIFETIME 60
#define TAAP_POP_MAX_LIFETIME 120

/* A clock: seconds since the epoch. Inject one for reproducible tokens. */
typedef int64_t (*taap_clock_fn)(void *ctx);

/* One signed part: `name` (header name, or `uri`, `http-method`, `body`)
 * and its value bytes (not NUL-terminated necessarily). */
typedef struct taap_pop_entry {
    const char *name;
    const void *value;
    size_t value_len;
} taap_pop_entry;

/*
 * Builder options. Zero-initialise, or use taap_pop_options_init(); a zero
 * field means the default.
 */
typedef struct taap_pop_options {
    unsigned lifetime;        /* seconds, 1..120; 0 → 60 */
    taap_clock_fn clock;      /* NULL → wall clock */
    void *clock_ctx;
    const char *jti;          /* NULL → random UUID v4 from the OS CSPRNG */
    /* taap_pop_build_request only: extra headers to sign (by name, in this
     * order, after the defaults) and headers to leave out of the defaults. */
    const char *const *sign_headers;
    size_t n_sign_headers;
    const char *const *no_sign_headers;
    size_t n_no_sign_headers;
} taap_pop_options;

/* Zero the options: lifetime 60 s, wall clock, random jti, default coverage.
 * Thread-safe. */
TAAP_API void taap_pop_options_init(taap_pop_options *opts);

/* What a build produced, for `taap pop --json` and logs. Strings are owned
 * by the struct; release with taap_pop_info_free(). */
typedef struct taap_pop_info {
    char *ehts;           /* "K1;K2;…" */
    char edts[44];        /* base64url SHA-256, NUL-terminated */
    char jti[257];
    int64_t iat;
    int64_t exp;
} taap_pop_info;

/* Free what a build put in `info` (its ehts; the pointer is reset); the
 * struct itself is the caller's. NULL-safe. */
TAAP_API void taap_pop_info_free(taap_pop_info *info);

/*
 * taap_pop_build — sign the ordered entries. Refusals (SPEC §1.1), each with
 * its own code: no entries (TAAP_E_BUILD_EMPTY), more than 100
 * (TAAP_E_BUILD_TOO_MANY), an empty name, a name that is neither an HTTP
 * token nor a pseudo-name, a name with ';', duplicate names ignoring case;
 * lifetime outside 1..120 (TAAP_E_BUILD_LIFETIME). `key` must be private.
 * *token is malloc'd (free()); `info` may be NULL.
 */
TAAP_API taap_code taap_pop_build(const taap_key *key, const taap_pop_entry *entries, size_t n,
                                  const taap_pop_options *opts, char **token,
                                  taap_pop_info *info, taap_error *err);

/*
 * taap_pop_build_request — sign a request with the default coverage:
 * Content-Type and Authorization when sent, then uri, http-method, then
 * body when non-empty; adjusted by opts->sign_headers / no_sign_headers.
 * X-Authorization is never signed. The body is hashed as a stream (a
 * TAAP_BODY_FILE or TAAP_BODY_CALLBACK body is read once, never held whole).
 *
 * Details: header names go into ehts spelled as the request sends them.
 * A body of unknown length (a callback with len -1, a pipe) counts as
 * non-empty. no_sign_headers removes defaults (headers ignoring case, or
 * the pseudo-names uri/http-method/body exactly); a name that is not a
 * default is ignored. sign_headers are appended in order; one already
 * covered is not added twice; "body" may be named to sign an empty body.
 * Refusals: a sign_headers name the request lacks, or X-Authorization,
 * → TAAP_E_BUILD_BAD_NAME; a signed header sent more than once →
 * TAAP_E_BUILD_BAD_NAME; the name refusals of taap_pop_build; an
 * unreadable body file → TAAP_E_IO; no method or target → TAAP_E_USAGE.
 * A caller-supplied opts->jti must be 1..256 bytes of UTF-8 (else
 * TAAP_E_USAGE); it is JSON-escaped in the payload.
 */
TAAP_API taap_code taap_pop_build_request(const taap_key *key, const taap_request *req,
                                          const taap_pop_options *opts, char **token,
                                          taap_pop_info *info, taap_error *err);

/*
 * taap_pop_edts — edts for ordered entries without signing (for tests and
 * `taap verify --json`). `out` gets 43 characters + NUL.
 */
TAAP_API taap_code taap_pop_edts(const taap_pop_entry *entries, size_t n, char out[44],
                                 taap_error *err);

/* taap_uuid_v4 — a random UUID v4, lower-case hex, 36 chars + NUL. */
TAAP_API taap_code taap_uuid_v4(char out[37], taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
