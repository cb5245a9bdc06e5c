/*
 * serve_internal.h — what the emulator's modules share: the server struct,
 * the transport-independent request/response, the route table, the store.
 *
 * Data flow: server.c (libmicrohttpd) or raw.c (in-memory bytes) turns bytes
 * into an srv_request, routes.c matches the route table, authenticates
 * (admin token or TAAP access token + PoP) and calls a handler that fills an
 * srv_response; the transport serialises it. Handlers never see MHD.
 */
#ifndef TAAP_SERVE_INTERNAL_H
#define TAAP_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "taap/taap.h"
#include "taap/jws.h"
#include "taap_serve.h"

struct MHD_Daemon;

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
    /* A PoP check's verdict and explanation, for the request log
     * (request_log.h): a static code name, a cause, redacted JSON. */
    const char *verdict;
    taap_explain_cause cause;
    char *explanation;
} srv_response;

void srv_response_free(srv_response *r);

/* Fill a response with JSON (steals the reference). */
void srv_json(srv_response *r, unsigned status, json_t *j);
/* T-Mobile's error model {"code":"<status>","userMessage","systemMessage"}. */
void srv_error(srv_response *r, unsigned status, const char *user, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* OAuth 2.0 error (RFC 6749 §5.2): {"error","error_description"}; a 401 gets
 * WWW-Authenticate with `scheme` (Basic/Bearer) and the error. */
void srv_oauth_error(srv_response *r, unsigned status, const char *scheme, const char *error,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Make `desc` safe inside an RFC 6749 error_description / quoted string:
 * only %x20-21 / %x23-5B / %x5D-7E survive (others become '?'). */
void srv_sanitize_desc(char *desc);

/* First occurrence count of a header: returns the number of occurrences and
 * sets *value to the last one found (trimmed by the caller if needed). */
size_t srv_header(const srv_request *rq, const char *name, const char **value);

/* ---- routes ------------------------------------------------------------ */

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
} srv_route;

/* The largest body any route with this method+path accepts (min with the
 * global limit); used by transports to refuse early with 413. */
size_t srv_body_limit(taap_server *s, const char *method, const char *raw_path);
/* 1 when method+path is the testing sink and it is enabled. */
int srv_is_sink(taap_server *s, const char *method, const char *raw_path);

/* Route, authenticate, handle. Always fills rs. */
void srv_dispatch(taap_server *s, srv_request *rq, srv_response *rs);

/* ---- handlers (oauth_endpoint.c, connectivity.c, devedge.c) ------------- */

void h_token(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs);
void h_jwks(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs);
void h_device_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                  srv_response *rs);
void h_device_list(taap_server *s, const srv_request *rq, const srv_principal *who,
                   srv_response *rs);
void h_device_patch(taap_server *s, const srv_request *rq, const srv_principal *who,
                    srv_response *rs);
void h_admin_apps_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs);
void h_admin_apps_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs);
void h_admin_app_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                     srv_response *rs);
void h_admin_app_delete(taap_server *s, const srv_request *rq, const srv_principal *who,
                        srv_response *rs);
void h_admin_keys_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs);
void h_admin_keys_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs);
void h_admin_key_delete(taap_server *s, const srv_request *rq, const srv_principal *who,
                        srv_response *rs);
void h_admin_subs_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs);
void h_admin_sub_delete(taap_server *s, const srv_request *rq, const srv_principal *who,
                        srv_response *rs);
void h_admin_kits_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs);
void h_admin_devices_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                         srv_response *rs);
/* GET /devedge/v1/requests (request_log.c). */
void h_admin_requests(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs);
/* The server's request log (NULL when off). */
struct srv_reqlog *srv_reqlog_of(taap_server *s);

/* Resource authentication (connectivity.c): access token + PoP with cnf.
 * Returns 1 and fills `who`, or 0 with rs filled with the error. */
int srv_auth_taap(taap_server *s, const srv_request *rq, srv_principal *who, srv_response *rs);

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

/* ---- the server ---------------------------------------------------------- */

#define SRV_SECRET_CACHE 256

struct taap_server {
    taap_serve_options o;          /* strings below are owned copies */
    char *listen;
    char *port_file;
    char *db_path;
    char *temp_dir;                /* non-NULL for a temporary database */
    char *admin_token_path;
    char *now_file;
    char **token_require;
    char **resource_require;

    char admin_token[64];
    unsigned char admin_token_hash[32];

    taap_key *signing_key;         /* the emulator's RS256 key */
    char kid[48];
    char *jwks_json;
    char issuer[160];

    taap_replay *replay;           /* shared by every thread; NULL with no_replay_check */

    /* Store: one SQLite connection per thread (store.c). */
    pthread_key_t db_key;
    int db_key_ok;
    pthread_mutex_t db_mu;
    struct store_conn **conns;
    size_t n_conns, cap_conns;

    /* Verified-secret cache: app id → SHA-256(pepper ‖ salt ‖ secret) of the
     * last secret that passed the slow hash, so a well-behaved client does not
     * pay PBKDF2 on every token request. Wrong secrets always take the slow path. */
    pthread_mutex_t secret_mu;
    unsigned char pepper[32];
    struct { int64_t app_id; unsigned char h[32]; } secret_cache[SRV_SECRET_CACHE];

    /* Verified access tokens (token_cache.c). */
    pthread_mutex_t at_mu;
    srv_at_entry *at_slots[SRV_AT_SLOTS];
    size_t at_sweep;               /* next slot the expiry sweep looks at */
    atomic_uint_fast64_t at_generation;

    struct MHD_Daemon *mhd;
    unsigned port;
    atomic_int inflight;
    atomic_int stopping;

    struct srv_reqlog *reqlog;     /* recent requests and PoP explanations */
};

/* now per the injectable clock (seconds). */
int64_t srv_now(taap_server *s);
/* Same, as a taap_clock_fn (ctx = the server). */
int64_t srv_clock_fn(void *ctx);

/* Random alphanumeric string of n chars (CSPRNG) into out[n+1]. */
int srv_random_alnum(char *out, size_t n);

/* ---- store.c ------------------------------------------------------------ */

#define STORE_SCHEMA_VERSION 1

typedef struct store_conn store_conn;

taap_code store_open(taap_server *s, taap_error *err);
void store_close_all(taap_server *s);
/* This thread's connection (opened on first use); NULL on failure. */
sqlite3 *store_db(taap_server *s);
/* A cached prepared statement for `sql` (a string literal: cached by address)
 * on this thread's connection, reset and unbound. NULL on failure. */
sqlite3_stmt *store_stmt(taap_server *s, const char *sql);
/* Run SQL without results; returns SQLITE_OK or an error code. */
int store_exec(taap_server *s, const char *sql);

typedef struct store_app {
    int64_t id;
    int64_t account_id;
    char name[130];
    char account[130];
    char client_id[72];
    unsigned char salt[16];
    unsigned char hash[32];
    int iterations;
    int64_t created;
} store_app;

/* Find an app by name or client id (`by_client_id` restricts to client id).
 * Returns 1 found, 0 not found, -1 error. */
int store_app_find(taap_server *s, const char *ref, int by_client_id, store_app *out);

/* Registered keys of an app, as SPKI PEM strings (malloc'd array of malloc'd
 * strings, *n entries). Free with store_free_strings(). -1 on error. */
int store_app_keys(taap_server *s, int64_t app_id, char ***pems, size_t *n);
void store_free_strings(char **v, size_t n);
/* Everything a resource call needs to know about its application in one
 * read (one SQLite read transaction instead of three): the app with this
 * client id (id, account_id, name, client_id filled), whether a key with
 * fingerprint fp_hex is registered for it, whether it is subscribed to `api`.
 * Returns 1 found, 0 no such app, -1 error. */
int store_app_auth(taap_server *s, const char *client_id, const char *fp_hex, const char *api,
                   store_app *out, int *key_registered, int *subscribed);

/* Subscriptions as a JSON array of strings (new reference). */
json_t *store_app_subscriptions(taap_server *s, int64_t app_id);

/* Device row → JSON (new reference) from a statement positioned on a row
 * selected with STORE_DEVICE_COLUMNS. */
#define STORE_DEVICE_COLUMNS \
    "d.iccid, d.imei, d.imsi, d.msisdn, d.status, d.rate_plan, d.data_usage, d.last_seen, " \
    "d.account_id, (SELECT name FROM accounts a WHERE a.id = d.account_id)"
json_t *store_device_json(sqlite3_stmt *st, int with_account);

/* ---- devedge.c helpers shared with the token endpoint -------------------- */

/* PBKDF2-HMAC-SHA256 of secret with salt → out[32]. 0 on success. */
int srv_hash_secret(const char *secret, size_t len, const unsigned char salt[16],
                    int iterations, unsigned char out[32]);

/* ICCID syntax: 19–20 digits, "89" prefix, valid Luhn check digit.
 * Returns NULL when fine, else a static description of what is wrong. */
const char *srv_iccid_problem(const char *iccid);
int srv_luhn_ok(const char *digits);

/* Hex of the first 8 bytes of a fingerprint: the key id shown to users. */
void srv_key_id(const unsigned char fp[32], char out[17]);
void srv_hex(const unsigned char *in, size_t n, char *out);

/* Render an RFC 3339 UTC timestamp. */
void srv_time_str(int64_t t, char out[32]);

#endif
