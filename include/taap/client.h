/*
 * taap/client.h — call TAAP-protected APIs (SPEC §4, §5) from C.
 *
 * Configure a taap_client once (base URL, client id and secret, private
 * key, transport options), then call taap_client_request() for each API
 * request. The client gets an access token when it needs one (from its
 * memory, from the on-disk cache shared with other processes, or from the
 * token endpoint), adds
 *   Content-Type: application/json        (unless the request sets one)
 *   Authorization: Bearer <access_token>
 *   X-Auth-Originator: <id_token>         (only when asked)
 *   X-Authorization: <PoP>                (built last, over exactly these bytes)
 * sends the request, and on a 401 fetches a new token and sends the request
 * once more with a fresh PoP.
 *
 *   taap_client_config cfg;
 *   taap_client_config_init(&cfg);
 *   cfg.base_url = "https://api.t-mobile.com";
 *   cfg.client_id = id; cfg.client_secret = secret; cfg.key = key;
 *   taap_client *c;  taap_client_new(&cfg, &c, &err);
 *   taap_request req = { .method = "GET", .target = "/iot-connectivity/v1/devices/8901…" };
 *   taap_http_response *resp;  taap_client_request(c, &req, NULL, &resp, NULL, &err);
 */
#ifndef TAAP_CLIENT_H
#define TAAP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "taap/error.h"
#include "taap/http.h"
#include "taap/key.h"
#include "taap/oauth.h"
#include "taap/pop.h"
#include "taap/request.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct taap_client taap_client;

/*
 * A client secret asked for only when the client needs a new access token
 * (a valid cached token is used without it). Return TAAP_OK with *out a
 * malloc'ed NUL-terminated secret, which the client wipes and frees; or an
 * error (filled into err) naming what is missing — the client returns it
 * unchanged. Called under the client's lock; once it succeeded, never again.
 */
typedef taap_code (*taap_secret_fn)(void *ctx, char **out, taap_error *err);

/* Where the client keeps access tokens between processes. */
typedef enum taap_client_cache {
    TAAP_CLIENT_CACHE_MEMORY = 0, /* this handle only (the default for library users) */
    TAAP_CLIENT_CACHE_DISK = 1    /* also the shared file cache (taap/oauth.h), as `taap` does */
} taap_client_cache;

/*
 * Configuration. Initialise with taap_client_config_init(); zero fields take
 * defaults. Everything is copied by taap_client_new() (the key by
 * reference count), so the caller may free its own copies afterwards.
 */
typedef struct taap_client_config {
    size_t size;                /* sizeof(taap_client_config), set by _init */
    const char *base_url;       /* "https://host[:port]": token endpoint and relative targets */
    const char *token_path;     /* NULL → /oauth2/v2/tokens; a full URL also works */
    const char *client_id;
    const char *client_secret;  /* or NULL with secret_fn set */
    taap_secret_fn secret_fn;   /* lazy source: asked only when a token is to be fetched */
    void *secret_ctx;           /* must outlive the client */
    const taap_key *key;        /* private key for PoP tokens */
    int send_id_token;          /* 1: add X-Auth-Originator: <id_token> to API calls */
    int send_cnf;               /* 1: token request body {"cnf":"<one-line public PEM>"} */
    taap_client_cache cache;
    const char *cache_dir;      /* DISK: NULL → $XDG_CACHE_HOME/taap or ~/.cache/taap */
    const char *cache_profile;  /* DISK: file name part; NULL → "default" */
    unsigned pop_lifetime;      /* PoP lifetime, 1..120 s; 0 → 60 */
    taap_clock_fn clock;        /* decides token expiry; NULL → wall clock */
    void *clock_ctx;
    taap_clock_fn pop_clock;    /* iat of PoP tokens; NULL → `clock` */
    void *pop_clock_ctx;
    unsigned retries;           /* extra tries: idempotent methods on transport errors and
                                   408/429/500/502/503/504, any method when nothing was sent */
    unsigned retry_delay_ms;    /* before the first retry, doubled each time (max 10 min) */
    taap_http_options http;     /* timeouts, TLS, proxy, verbose hook */
} taap_client_config;

TAAP_API void taap_client_config_init(taap_client_config *cfg);

/*
 * taap_client_new — check and copy the configuration. Fails with
 * TAAP_E_CONFIG naming the missing setting (base URL, client id, secret or
 * secret_fn, private key). Free with taap_client_free(), which wipes the
 * secret. The on-disk cache is keyed by token URL, client id, key and cnf —
 * not the secret, so a cached token is found before the secret is known.
 */
TAAP_API taap_code taap_client_new(const taap_client_config *cfg, taap_client **out,
                                   taap_error *err);
TAAP_API void taap_client_free(taap_client *c);

/*
 * taap_client_token — an access token for this client: the one in memory or
 * in the cache while usable (expires_at minus 60 s), else a new one from the
 * token endpoint (written back to the cache). `force` skips the reuse.
 * *out is a copy (taap_oauth_token_free()); *from_cache (may be NULL) is 1
 * when no request was made. Errors: TAAP_E_OAUTH, TAAP_E_HTTP, TAAP_E_IO.
 * Thread-safe.
 */
TAAP_API taap_code taap_client_token(taap_client *c, int force, taap_oauth_token **out,
                                     int *from_cache, taap_error *err);

/* taap_client_forget_token — drop the token from memory and the cache. */
TAAP_API taap_code taap_client_forget_token(taap_client *c, taap_error *err);

/* What happened during one taap_client_request() (optional). */
typedef struct taap_client_result {
    unsigned attempts;       /* requests sent (retries and the 401 re-send included) */
    int token_fetched;       /* 1 if a token request was made */
    int token_refreshed_401; /* 1 if a 401 made the client fetch a new token */
    int transport_code;      /* TAAP_HTTP_FAIL_* of the last transport error */
} taap_client_result;

/*
 * taap_client_request — sign, authenticate, send `req`, return the response.
 *
 * req->target: a full URL, or a path ("/iot-connectivity/…") appended to
 * the base URL. req->headers: extra headers, sent in order; any
 * Authorization, X-Authorization or X-Auth-Originator given here is
 * replaced by the client's. A TAAP_BODY_CALLBACK body is first copied to
 * an unlinked temporary file so it can be hashed and sent (and re-sent).
 * body_out: NULL → the body is in (*resp)->body; else streamed there (error
 * statuses are still captured in memory so that a retry never writes twice).
 *
 * Returns TAAP_OK when a response arrived, whatever its status (look at
 * (*resp)->status); TAAP_E_OAUTH when no token could be had; TAAP_E_HTTP
 * for transport failures after the retries. Free *resp with
 * taap_http_response_free(). Thread-safe for a shared client.
 */
TAAP_API taap_code taap_client_request(taap_client *c, const taap_request *req, FILE *body_out,
                                       taap_http_response **resp, taap_client_result *result,
                                       taap_error *err);

/* taap_client_token_requests — how many token requests this handle made
 * (for tests and statistics). */
TAAP_API unsigned taap_client_token_requests(const taap_client *c);

/*
 * taap_status_meaning — T-Mobile's documented meaning of an HTTP status
 * (taap-protocol §7), e.g. 401 → "unauthorized: invalid or missing
 * credentials". Falls back to the class meaning (4xx, 5xx). Never NULL.
 */
TAAP_API const char *taap_status_meaning(long status);

/*
 * taap_error_body_message — one printable line from an API error body:
 * T-Mobile's userMessage/systemMessage, OAuth's error/error_description,
 * or the start of a non-JSON body. Writes "" when there is nothing useful.
 */
TAAP_API void taap_error_body_message(const char *body, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
