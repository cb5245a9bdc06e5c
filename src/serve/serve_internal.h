/*
 * serve_internal.h — what the emulator's modules share. The graph runs one
 * way:
 *
 *     transport          server.c (libmicrohttpd) | testing_transport.c (bytes in memory)
 *        ↓  an srv_request
 *     routes             routes.c: the one route table, 404/405, body limits
 *        ↓  authenticated by auth.c (admin token | access token + PoP)
 *     handlers           oauth_endpoint.c, connectivity.c, admin_api.c, health.c
 *        ↓
 *     {auth, store, response, util}
 *                        store*.c (every SQL statement), response.c, serve_util.c,
 *                        devedge.c (management operations), client_secret.c,
 *                        token_cache.c
 *
 * struct taap_server is defined in serve_state.h and only the files that own
 * a part of it include that header (serve.c, server.c, store.c,
 * token_cache.c, client_secret.c); everyone else uses the accessors below.
 * Handlers never see libmicrohttpd or SQLite.
 */
#ifndef TAAP_SERVE_INTERNAL_H
#define TAAP_SERVE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "taap/taap.h"
#include "taap/jws.h"
#include "taap_serve.h"

/* ---- request / response ------------------------------------------------ */

#define SRV_MAX_PARAMS 3
#define SRV_MAX_HEADERS 128

typedef struct srv_request {
    const char *method;          /* as received */
    const char *target;          /* raw request target: path?query, as received */
    const char *path;            /* raw path (no query), NUL-terminated copy */
    const char *query;           /* raw query after '?', or NULL */
    const taap_header *headers;  /* in received order, duplicates kept */
    size_t n_headers;
    const unsigned char *body;   /* may be NULL when body_len == 0 */
    size_t body_len;
    char *param[SRV_MAX_PARAMS]; /* captured {name} path segments (raw), set by routes.c */
    const void *route_arg;       /* the matched route's `arg`, set by routes.c */
    /* The testing sink's body is hashed as it arrives and never kept: then
     * body is NULL and these say what came. */
    int streamed;
    uint64_t streamed_len;
    unsigned char streamed_sha256[32];
} srv_request;

typedef struct srv_response {
    unsigned status;
    char *body;                  /* malloc'd */
    size_t body_len;
    const char *content_type;    /* static string */
    char *www_authenticate;      /* malloc'd or NULL */
    char allow[64];              /* Allow header for a 405, or empty */
    int no_store;                /* Cache-Control: no-store, Pragma: no-cache */
    int close;                   /* ask the transport to close the connection */
    const char *log_note;        /* static text for the access log only, never the client */
    /* A PoP check's verdict and explanation, for the request log
     * (request_log.h): a static code name, a cause, redacted JSON. */
    const char *verdict;
    taap_explain_cause cause;
    char *explanation;
    /* The console (console.c): a Set-Cookie value (malloc'd) and whether
     * to send console_security_headers (CSP, nosniff, ...). */
    char *set_cookie;
    int console;
} srv_response;

/* ---- response.c ------------------------------------------------------------ */

void srv_response_free(srv_response *r);

/* Fill a response with JSON (steals the reference). */
void srv_json(srv_response *r, unsigned status, json_t *j);
/* Fill a response with a JSON text (steals the malloc'd string). */
void srv_json_text(srv_response *r, unsigned status, char *text);
/* T-Mobile's error model {"code":"<status>","userMessage","systemMessage"}. */
void srv_error(srv_response *r, unsigned status, const char *user, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* OAuth 2.0 error (RFC 6749 §5.2): {"error","error_description"}; a 401 gets
 * WWW-Authenticate with `scheme` (Basic/Bearer) and the error. */
void srv_oauth_error(srv_response *r, unsigned status, const char *scheme, const char *error,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* WWW-Authenticate: `scheme realm="taap"`, with error and error_description
 * (already sanitised) when error is non-NULL. */
void srv_challenge(srv_response *r, const char *scheme, const char *error, const char *desc);
/* Make `desc` safe inside an RFC 6749 error_description / quoted string:
 * only %x20-21 / %x23-5B / %x5D-7E survive (others become '\''). */
void srv_sanitize_desc(char *desc);
/* The reason phrase a transport puts on its status line. */
const char *srv_status_text(unsigned status);

/* Number of occurrences of a header; *value is the last one found. */
size_t srv_header(const srv_request *rq, const char *name, const char **value);

/* The credentials after "<scheme>" in an Authorization value (scheme
 * compared ASCII case-insensitively, then at least one SP/HTAB), with the
 * optional whitespace around them (RFC 9110 §5.6.3) left out, exactly as the
 * verifier trims the header values it hashes. NULL when the scheme differs;
 * else a pointer into `value` and *len. The one place every Authorization
 * value is taken apart (admin token, access token, Basic credentials). */
const char *srv_auth_credentials(const char *value, const char *scheme, size_t *len);

/* ---- routes.c -------------------------------------------------------------- */

typedef enum srv_auth { SRV_AUTH_NONE, SRV_AUTH_ADMIN, SRV_AUTH_TAAP } srv_auth;

/* Who a TAAP-authenticated resource call is from. */
typedef struct srv_principal {
    int64_t app_id;
    int64_t account_id;
    char client_id[72];
} srv_principal;

typedef void (*srv_handler)(taap_server *s, const srv_request *rq, const srv_principal *who,
                            srv_response *rs);

typedef struct srv_route {
    const char *method;
    const char *pattern;   /* "/a/{x}/b"; a last segment "{x*}" takes the rest of the path */
    srv_handler handler;
    srv_auth auth;
    size_t body_limit;     /* bytes; 0 = no body accepted beyond the global limit of 0 */
    const void *arg;       /* handed to the handler as rq->route_arg (table-driven handlers) */
} srv_route;

/* The largest body any route with this method+path accepts (min with the
 * global limit); used by transports to refuse early with 413. */
size_t srv_body_limit(taap_server *s, const char *method, const char *raw_path);
/* 1 when method+path is the testing sink and it is enabled. */
int srv_is_sink(taap_server *s, const char *method, const char *raw_path);

/* Route, authenticate, handle. Always fills rs. */
void srv_dispatch(taap_server *s, srv_request *rq, srv_response *rs);

/* ---- auth.c ---------------------------------------------------------------- */

/* The management API's admin token (Bearer). 1, or 0 with rs filled. */
int srv_auth_admin(taap_server *s, const srv_request *rq, srv_response *rs);
/* Resource authentication: access token + PoP with cnf.
 * Returns 1 and fills `who`, or 0 with rs filled with the error. */
int srv_auth_taap(taap_server *s, const srv_request *rq, srv_principal *who, srv_response *rs);

/* ---- handlers -------------------------------------------------------------- */

/* health.c */
void h_healthz(taap_server *s, const srv_request *rq, const srv_principal *who,
               srv_response *rs);
void h_sink(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs);
/* oauth_endpoint.c */
void h_token(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs);
void h_jwks(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs);
/* connectivity.c */
void h_device_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                  srv_response *rs);
void h_device_list(taap_server *s, const srv_request *rq, const srv_principal *who,
                   srv_response *rs);
void h_device_patch(taap_server *s, const srv_request *rq, const srv_principal *who,
                    srv_response *rs);
/* admin_api.c: every /devedge/v1 route is h_admin with one of these as its
 * `arg` (which management call, which success status, how the body reads). */
typedef struct srv_admin_op srv_admin_op;
void h_admin(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs);
/* GET /devedge/v1/requests (request_log.c). */
void h_admin_requests(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs);
extern const srv_admin_op srv_admin_app_create, srv_admin_app_list, srv_admin_app_show,
    srv_admin_app_delete, srv_admin_key_add, srv_admin_key_list, srv_admin_key_delete,
    srv_admin_subscribe, srv_admin_unsubscribe, srv_admin_kit_activate, srv_admin_device_list,
    srv_admin_device_status;
/* The web console (console.c): page, assets, session. */
void h_console_page(taap_server *s, const srv_request *rq, const srv_principal *who,
                    srv_response *rs);
void h_console_asset(taap_server *s, const srv_request *rq, const srv_principal *who,
                     srv_response *rs);
void h_console_session_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                           srv_response *rs);
void h_console_session_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                            srv_response *rs);
void h_console_session_delete(taap_server *s, const srv_request *rq, const srv_principal *who,
                              srv_response *rs);

/* ---- the server's parts, through their owners (serve.c) ---------------------- */

/* The options the server was opened with (numbers only: the string fields
 * belong to the caller of taap_serve_open). */
const taap_serve_options *srv_options(const taap_server *s);
/* now per the injectable clock (seconds). */
int64_t srv_now(taap_server *s);
/* Same, as a taap_clock_fn (ctx = the server). */
int64_t srv_clock_fn(void *ctx);
/* The verifier configuration for PoP tokens at the token endpoint
 * (SRV_AUTH_NONE) or on resources (SRV_AUTH_TAAP): leeway, lifetime, the
 * server's clock and replay cache, the required coverage. */
void srv_verify_config(taap_server *s, srv_auth where, taap_verify_config *cfg);
/* The emulator's identity: issuer, signing key, JWKS text. */
const char *srv_issuer(const taap_server *s);
const taap_key *srv_signing_key(const taap_server *s);
const char *srv_jwks(const taap_server *s);
/* Sign claims (steals the reference) as an RS256 JWT with the emulator key
 * (kid in the header). malloc'd, or NULL. */
char *srv_sign_jwt(taap_server *s, json_t *claims);
/* The server's request log (NULL when off). */
struct srv_reqlog *srv_reqlog_of(taap_server *s);
/* The web console's sign-ins (console.c). */
struct console_sessions *srv_console_of(taap_server *s);
/* 1 when `token` is the admin token (constant time over digests). */
int srv_admin_token_matches(const taap_server *s, const char *token, size_t len);

/* ---- client_secret.c ----------------------------------------------------------- */

struct store_app;
/* PBKDF2-HMAC-SHA256 of secret with salt → out[32]. 0 on success. */
int srv_hash_secret(const char *secret, size_t len, const unsigned char salt[16],
                    int iterations, unsigned char out[32]);
/* Client authentication. Same work whether or not the client exists (`app`
 * NULL: an unknown id is hashed against a dummy record). 1 when it matches. */
int srv_check_secret(taap_server *s, const struct store_app *app, const char *secret);

/* ---- verified access tokens (token_cache.c) ------------------------------- */

#define SRV_AT_SLOTS 4096

/* An access token that passed every check that does not depend on the
 * clock or the database: signature with the emulator key, issuer, aud = sub,
 * integer exp, a usable cnf key. Immutable once built; shared by reference. */
typedef struct srv_at_entry {
    atomic_int refs;
    unsigned char hash[32];  /* SHA-256 of the token text */
    int64_t exp;
    int64_t nbf;
    int has_nbf;
    char client_id[72];      /* aud */
    taap_key *key;           /* parsed cnf */
    char fp_hex[65];         /* its fingerprint, as the store keeps it */
    char kid[17];
    /* The database check (application exists, key still registered,
     * subscribed) that passed before the entry was cached: a hit skips it.
     * Every in-process way to revoke (delete app or key, unsubscribe)
     * clears the cache, so a hit can never outlive a revocation. */
    int64_t app_id;
    int64_t account_id;
} srv_at_entry;

/* A referenced entry for this token hash, or NULL. srv_at_release() it. */
srv_at_entry *srv_at_get(taap_server *s, const unsigned char hash[32]);
/* Drop a reference (NULL-safe); the last one frees the entry and its key. */
void srv_at_release(srv_at_entry *e);
/* Read before validating; pass to srv_at_put so a clear in between wins. */
uint64_t srv_at_generation(taap_server *s);
/* Insert (the table takes its own reference; the caller keeps its own). */
void srv_at_put(taap_server *s, srv_at_entry *e, uint64_t generation);
/* Forget every entry: an application, key or subscription went away. */
void srv_at_clear(taap_server *s);
/* Entries held (for tests: the expiry sweep keeps this near the live tokens). */
size_t srv_at_count(taap_server *s);

/* ---- serve_util.c ------------------------------------------------------------ */

/* Random alphanumeric string of n chars (CSPRNG) into out[n+1]. */
int srv_random_alnum(char *out, size_t n);
/* n random decimal digits (CSPRNG) into out[n+1]. */
int srv_random_digits(char *out, size_t n);

/* ICCID syntax: 19–20 digits, "89" prefix, valid Luhn check digit.
 * Returns NULL when fine, else a static description of what is wrong. */
const char *srv_iccid_problem(const char *iccid);
int srv_luhn_ok(const char *digits);

/* Hex of the first 8 bytes of a fingerprint: the key id shown to users. */
void srv_key_id(const unsigned char fp[32], char out[17]);

/* Render an RFC 3339 UTC timestamp. */
void srv_time_str(int64_t t, char out[32]);

#include "store.h"

#endif
