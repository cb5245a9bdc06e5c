/*
 * taap/verify.h — verify a PoP token against the request it came with
 * (SPEC §2). This is the security boundary of the emulator and of any
 * gateway that embeds libtaap.
 *
 * The configured key decides: kid/jwk/jku/x5c in the header never select a
 * key. Checks run in the order of SPEC §2 and stop at the first failure,
 * which gives its stable code and a one-line message saying what was wrong
 * and what was expected.
 */
#ifndef TAAP_VERIFY_H
#define TAAP_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"
#include "taap/key.h"
#include "taap/pop.h"
#include "taap/replay.h"
#include "taap/request.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TAAP_VERIFY_MAX_TOKEN 8192
#define TAAP_VERIFY_DEFAULT_LEEWAY 10

/*
 * Verification policy. Initialise with taap_verify_config_init(), then
 * change what you need.
 */
typedef struct taap_verify_config {
    size_t struct_size;       /* sizeof(taap_verify_config), set by _init */
    unsigned leeway;          /* seconds of clock skew allowed (default 10) */
    unsigned max_lifetime;    /* max exp - iat (default 120) */
    size_t max_token_len;     /* default 8192 */
    /* Parts the token must cover. NULL → the default: uri, http-method, and
     * body when the request body is non-empty. Names are header names or the
     * pseudo-names; "body" here means "body when non-empty". */
    const char *const *required;
    size_t n_required;
    taap_clock_fn clock;      /* NULL → wall clock */
    void *clock_ctx;
    taap_replay *replay;      /* NULL → no replay check */
} taap_verify_config;

TAAP_API void taap_verify_config_init(taap_verify_config *cfg);

/* What a successful (or partly successful) verification learned. */
typedef struct taap_verify_info {
    int64_t iat;
    int64_t exp;
    char jti[257];
    char *ehts;               /* owned; taap_verify_info_free() */
} taap_verify_info;

TAAP_API void taap_verify_info_free(taap_verify_info *info);

/*
 * taap_verify — check `token` (untrusted, `len` bytes) sent with `req`
 * using the public key `key`. Returns TAAP_OK or the SPEC §2 code of the
 * first failed check. `info` (may be NULL) is filled when the claims could
 * be read (it is zeroed on entry: call taap_verify_info_free() before
 * reusing one, or its ehts leaks). A body given as TAAP_BODY_FILE/CALLBACK
 * is streamed.
 * Thread-safe for a shared key and config (the replay backends lock).
 */
TAAP_API taap_code taap_verify(const char *token, size_t len, const taap_key *key,
                               const taap_request *req, const taap_verify_config *cfg,
                               taap_verify_info *info, taap_error *err);

/*
 * taap_jwt_decode — split a compact JWS and return its header and payload
 * JSON text WITHOUT verifying anything (for `taap decode`). Strict
 * base64url; the JSON is returned as decoded bytes, NUL-terminated.
 * Free both with free().
 */
TAAP_API taap_code taap_jwt_decode(const char *token, size_t len, char **header_json,
                                   char **payload_json, taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
