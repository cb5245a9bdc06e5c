/*
 * taap/oauth.h — the OAuth 2.0 token request of TAAP (SPEC §4) and the
 * on-disk token cache shared by concurrent processes.
 *
 * taap_oauth_fetch() sends
 *   POST {base}{token_path}
 *   Authorization: Basic base64(client_id:client_secret)
 *   Content-Type: application/json
 *   X-Authorization: <PoP over Content-Type;Authorization;uri;http-method[;body]>
 * with an optional body {"cnf":"<public key PEM on one line>"} and parses
 * the JSON answer. Most programs use taap/client.h, which calls this and
 * caches the result.
 */
#ifndef TAAP_OAUTH_H
#define TAAP_OAUTH_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"
#include "taap/http.h"
#include "taap/key.h"
#include "taap/pop.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TAAP_OAUTH_DEFAULT_PATH "/oauth2/v2/tokens"
/* Seconds before expiry at which a cached token is no longer used (SPEC §4).
 * Tokens that live under 2 minutes are reused for half their life instead. */
#define TAAP_OAUTH_REFRESH_MARGIN 60

/* An access token and what came with it. Free with taap_oauth_token_free(),
 * which wipes the token strings. */
typedef struct taap_oauth_token {
    char *access_token;   /* never NULL in a returned token */
    char *id_token;       /* NULL when the server sent none */
    char *token_type;     /* "Bearer" when the server sent none */
    char *scope;          /* NULL when unknown (from the response or the token's claims) */
    int64_t expires_in;   /* seconds, as answered */
    int64_t obtained_at;  /* client clock when received */
    int64_t expires_at;   /* obtained_at + expires_in */
} taap_oauth_token;

TAAP_API void taap_oauth_token_free(taap_oauth_token *tok);

/* 1 if `tok` may still be used at time `now` (before expires_at minus the
 * refresh margin). */
TAAP_API int taap_oauth_token_usable(const taap_oauth_token *tok, int64_t now);

/*
 * taap_oauth_parse_response — parse a token endpoint's 200 body (bounded:
 * at most 64 KiB, strict JSON). access_token (non-empty string) is
 * required; expires_in is a JSON integer or a string of digits (1..10^9;
 * absent → 3600, as T-Mobile documents); id_token, token_type and scope
 * optional strings. Anything else wrong → TAAP_E_OAUTH naming the field.
 * `now` becomes obtained_at. *out is freed with taap_oauth_token_free().
 */
TAAP_API taap_code taap_oauth_parse_response(const char *body, size_t len, int64_t now,
                                             taap_oauth_token **out, taap_error *err);

/* Everything a token request needs. Strings are borrowed during the call. */
typedef struct taap_oauth_params {
    size_t size;                /* sizeof(taap_oauth_params), set by _init */
    const char *base_url;       /* "https://host[:port]" (a trailing '/' is fine) */
    const char *token_path;     /* NULL → TAAP_OAUTH_DEFAULT_PATH; a full URL is used as is */
    const char *client_id;
    const char *client_secret;
    const taap_key *key;        /* private key for the PoP (and the cnf) */
    int send_cnf;               /* 1: body {"cnf":"<one-line PEM>"}; 0: empty body */
    const taap_pop_options *pop;/* lifetime/clock/jti for the PoP (NULL: defaults) */
    const taap_http_options *http; /* NULL: defaults */
    taap_clock_fn clock;        /* for obtained_at; NULL → wall clock */
    void *clock_ctx;
} taap_oauth_params;

/* Zero the struct and set its size field; zero fields mean the documented
 * defaults above. Call before filling it. Thread-safe. */
TAAP_API void taap_oauth_params_init(taap_oauth_params *p);

/*
 * taap_oauth_fetch — request a new access token. Returns TAAP_OK with *out,
 * TAAP_E_HTTP for transport failures, TAAP_E_OAUTH when the endpoint
 * answers an error (the message carries the status, the OAuth `error` /
 * `error_description` or T-Mobile `userMessage`/`systemMessage`, never
 * the secret or the Basic header) or an unusable body. *http_status (may be
 * NULL) gets the status, 0 if none arrived. Thread-safe.
 */
TAAP_API taap_code taap_oauth_fetch(const taap_oauth_params *p, taap_oauth_token **out,
                                    long *http_status, taap_error *err);

/* ---- the token cache -------------------------------------------------------
 *
 * One JSON file per (profile, identity) under a directory (mode 0700), mode
 * 0600, replaced atomically (temporary file + rename) and guarded by an
 * flock()ed lock file per profile beside it (reused, never piling up), so
 * that concurrent processes share one
 * token and a reader never sees half a file. The identity (base URL, token
 * path, client id, key fingerprint) is stored and checked: a token is never
 * handed to a different application. A file that does not parse or does not
 * match is treated as absent and replaced; it is never trusted.
 */
typedef struct taap_token_cache taap_token_cache;

/*
 * taap_token_cache_open — `dir` NULL → $XDG_CACHE_HOME/taap or
 * ~/.cache/taap (created 0700). `profile` names the file (NULL →
 * "default"; only [A-Za-z0-9._-] kept). `identity` is any string that
 * changes when the token would be wrong (the client builds one); it is
 * hashed into the file name and stored. Free with taap_token_cache_close().
 */
TAAP_API taap_code taap_token_cache_open(const char *dir, const char *profile,
                                         const char *identity, taap_token_cache **out,
                                         taap_error *err);
/* Release the lock if held and free the handle. NULL-safe. */
TAAP_API void taap_token_cache_close(taap_token_cache *c);

/* The cache file's path (owned by the cache). */
TAAP_API const char *taap_token_cache_path(const taap_token_cache *c);

/* Take / release the exclusive lock (blocking; flock on
 * "DIR/token-PROFILE.lock", shared by the profile's identities and kept for
 * reuse; an empty "<path>.lock" left by older versions is removed).
 * Hold it from the read through the refresh and the write, so one process
 * fetches while the others wait and then reuse its token. */
TAAP_API taap_code taap_token_cache_lock(taap_token_cache *c, taap_error *err);
TAAP_API void taap_token_cache_unlock(taap_token_cache *c);

/*
 * taap_token_cache_read — the stored token, or *out = NULL when there is
 * none, it does not match the identity, or the file is corrupt
 * (*corrupt set to 1 then, when non-NULL). Returns TAAP_OK in all those
 * cases; an error only for an unreadable directory.
 */
TAAP_API taap_code taap_token_cache_read(taap_token_cache *c, taap_oauth_token **out,
                                         int *corrupt, taap_error *err);

/* taap_token_cache_write — store `tok` (atomically, 0600). */
TAAP_API taap_code taap_token_cache_write(taap_token_cache *c, const taap_oauth_token *tok,
                                          taap_error *err);

/* taap_token_cache_remove — delete the stored token (missing is fine). */
TAAP_API taap_code taap_token_cache_remove(taap_token_cache *c, taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
