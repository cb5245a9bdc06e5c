/*
 * taap_serve.h — the local TAAP emulator (`taap serve`), as a C API for the
 * taap command, the tests and the fuzzer (SPEC §6).
 *
 * A taap_server owns: the SQLite state (WAL; one connection per thread), the
 * emulator's own RS256 signing key (kept in the database), the admin token,
 * a replay cache shared by every worker thread, and — once started — a
 * libmicrohttpd daemon with a thread pool.
 *
 * Life cycle:
 *     taap_serve_options o; taap_serve_options_init(&o); o.db_path = "x.db";
 *     taap_server *s; taap_serve_open(&o, &s, &err);   // state ready, no socket
 *     taap_serve_start(s, &err);                        // listening
 *     ... taap_serve_port(s) ...
 *     taap_serve_stop(s);                               // drain, stop listening
 *     taap_serve_close(s);                              // DB closed, key wiped
 *
 * Between open and close the management functions (taap_serve_app_create …)
 * and taap_serve_handle_raw() may be called from any thread, whether or not
 * the HTTP daemon is running.
 */
#ifndef TAAP_SERVE_H
#define TAAP_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "taap/error.h"
#include "taap/replay.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct taap_server taap_server;

#define TAAP_SERVE_DEFAULT_PORT 8080
#define TAAP_SERVE_API_CONNECTIVITY "iot-connectivity"

/*
 * Options. Initialise with taap_serve_options_init(); every field then
 * holds its documented default. Strings are copied by taap_serve_open().
 */
typedef struct taap_serve_options {
    size_t struct_size;            /* sizeof(taap_serve_options), set by _init */
    const char *listen;            /* address to bind, default "127.0.0.1" */
    unsigned port;                 /* default 8080; 0 = pick a free port */
    const char *port_file;         /* write the bound port here (atomically) when started */
    const char *db_path;           /* SQLite file; NULL = a temporary database (removed at close) */
    const char *admin_token_file;  /* read the admin token from here, or create it (0600) if
                                      missing; NULL = "<db>.admin-token" (temp dir for a temp db) */
    unsigned threads;              /* worker threads, default 4 */
    size_t max_header_bytes;       /* request line + headers, default 16384 → 431 above */
    size_t max_body_bytes;         /* default 1 MiB → 413 above */
    unsigned max_connections;      /* default 512 */
    unsigned request_timeout;      /* idle seconds before a connection is closed (a body that
                                      stops arriving, a kept-alive connection), default 30 */
    unsigned header_timeout;       /* seconds to receive a request line and its headers in
                                      all, however steadily the bytes trickle, default 10 */
    unsigned max_connections_per_client; /* connections from one client address, default 32
                                      (and at most half of max_connections, so one address
                                      can never take every slot) */
    unsigned drain_timeout;        /* seconds to let in-flight requests finish on stop, default 10 */
    /* PoP policy (SPEC §2). */
    unsigned leeway;               /* default 10 */
    unsigned max_pop_lifetime;     /* default 120 */
    const char *const *token_require;    /* coverage for the token endpoint; NULL = uri,
                                            http-method, body (when non-empty) */
    size_t n_token_require;
    const char *const *resource_require; /* coverage for resources; NULL = Authorization, uri,
                                            http-method, body (when non-empty) */
    size_t n_resource_require;
    int no_replay_check;           /* 1 = do not remember jti values */
    taap_replay *replay;           /* the replay cache to use (e.g. Redis, shared with other
                                      servers); NULL = an in-memory one. Borrowed: the caller
                                      frees it after taap_serve_close() */
    unsigned token_lifetime;       /* access/ID token lifetime, default 3600 */
    unsigned secret_iterations;    /* PBKDF2-HMAC-SHA256 iterations for new client secrets,
                                      default 210000 */
    /* Clock: now = (now_file ? the integer in that file : wall clock) + clock_offset.
     * The file is re-read on every use, so a test can move time without sleeping. */
    int64_t clock_offset;
    const char *now_file;
    FILE *access_log;              /* one line per request; NULL = no access log */
    FILE *log;                     /* server diagnostics (startup, daemon errors); NULL = none */
    /* Testing only (benchmarks): 1 = also serve POST /testing/v1/sink, which
     * takes a body of any size without authentication, keeps none of it
     * (hashes and counts it as it arrives) and answers
     * {"bytes":N,"sha256":"<hex>"}. Off by default; no command-line flag. */
    int testing_sink;
    /* Requests remembered for GET /devedge/v1/requests and the console
     * (method, path, status, PoP verdict and explanation); 0 = 1000. */
    size_t request_log_size;
} taap_serve_options;

void taap_serve_options_init(taap_serve_options *o);

/*
 * taap_serve_open — open (or create) the database, apply migrations, load or
 * create the emulator key and the admin token. Does not listen.
 * *admin_token_created is set to 1 when the admin token was generated now
 * (the caller prints it once), else 0; may be NULL.
 * Errors: TAAP_E_STORE (database), TAAP_E_IO (token file), TAAP_E_USAGE (bad
 * option), TAAP_E_CRYPTO. Free with taap_serve_close().
 */
taap_code taap_serve_open(const taap_serve_options *o, taap_server **out,
                          int *admin_token_created, taap_error *err);

/* The admin token (NUL-terminated, owned by the server; never log it). */
const char *taap_serve_admin_token(const taap_server *s);
/* Where the admin token is stored. */
const char *taap_serve_admin_token_path(const taap_server *s);
/* The database path in use (the temporary one when none was given). */
const char *taap_serve_db_path(const taap_server *s);

/*
 * taap_serve_start — bind and serve with a libmicrohttpd thread pool (epoll).
 * Writes opts->port_file once bound. TAAP_E_SERVER when the address cannot
 * be bound.
 */
taap_code taap_serve_start(taap_server *s, taap_error *err);

/* The bound TCP port (after start), 0 before. */
unsigned taap_serve_port(const taap_server *s);

/*
 * taap_serve_stop — stop accepting, let in-flight requests finish (up to
 * drain_timeout), then stop the daemon. Safe to call twice or without start.
 * Not async-signal-safe: call it from a normal thread (e.g. after sigwait).
 */
void taap_serve_stop(taap_server *s);

/* taap_serve_close — stop if needed, close every database connection, wipe
 * the key, remove a temporary database. NULL-safe. */
void taap_serve_close(taap_server *s);

/*
 * taap_serve_handle_raw — handle one raw HTTP/1.1 request held in memory
 * (request line, headers, CRLF CRLF, body per Content-Length) exactly as a
 * network request would be handled, without any socket: the fuzzer's entry
 * point. `untrusted` need not be NUL-terminated. *response gets the raw
 * response (status line, headers, body; malloc'd, free()); *response_len its
 * size. Malformed input gives a 4xx response, never a crash.
 * Returns TAAP_OK whenever a response was produced; TAAP_E_NOMEM otherwise.
 * Thread-safe.
 */
taap_code taap_serve_handle_raw(taap_server *s, const void *untrusted, size_t len,
                                char **response, size_t *response_len);

/*
 * Management operations (the DevEdge-like JSON API, callable in-process).
 * Each returns TAAP_OK and, when `json` is non-NULL, a malloc'd JSON text
 * (free()) of the same shape the HTTP API returns; on failure a code and
 * a one-line message in err:
 *   TAAP_E_NOT_FOUND  no such application / key / account
 *   TAAP_E_USAGE      invalid input (bad name, bad PEM with the Quick Start's advice, …)
 *   TAAP_E_KEY        the key is refused by the key policy (too small, not RSA, …)
 *   TAAP_E_STORE      database failure
 * `app` names an application by its name or its client id.
 * All are thread-safe.
 */

/* Create an application in `account` (NULL → "default", created on demand).
 * JSON: {"name","account","clientId","subscriptions":[],"keys":0,"createdAt","clientSecret"}
 * — the only time the secret is shown. A second app with the same name → TAAP_E_USAGE. */
taap_code taap_serve_app_create(taap_server *s, const char *name, const char *account,
                                char **json, taap_error *err);
/* JSON: {"apps":[{"name","account","clientId","subscriptions":[…],"keys":N,"createdAt"}]} */
taap_code taap_serve_app_list(taap_server *s, char **json, taap_error *err);
taap_code taap_serve_app_show(taap_server *s, const char *app, char **json, taap_error *err);
taap_code taap_serve_app_delete(taap_server *s, const char *app, taap_error *err);
/* Subscribe to / unsubscribe from an API (only "iot-connectivity" exists).
 * JSON: the application as in app_show. */
taap_code taap_serve_app_subscribe(taap_server *s, const char *app, const char *api,
                                   char **json, taap_error *err);
taap_code taap_serve_app_unsubscribe(taap_server *s, const char *app, const char *api,
                                     taap_error *err);

/* Register a public key (PEM pasted whole, PKCS#1 PEM, JWK or DER).
 * JSON: {"keyId","app","bits","fingerprint","publicKey","createdAt"}. */
taap_code taap_serve_key_add(taap_server *s, const char *app, const void *key, size_t len,
                             char **json, taap_error *err);
/* JSON: {"app","keys":[{"keyId","bits","fingerprint","createdAt"}]} */
taap_code taap_serve_key_list(taap_server *s, const char *app, char **json, taap_error *err);
taap_code taap_serve_key_delete(taap_server *s, const char *app, const char *key_id,
                                taap_error *err);

/* Activate a developer kit for an application's account (`app` non-NULL) or
 * an account by name. JSON: the device {"iccid","imei","imsi","msisdn",
 * "status","ratePlan","dataUsage","lastSeen","account"}. */
taap_code taap_serve_kit_activate(taap_server *s, const char *app, const char *account,
                                  char **json, taap_error *err);
/* The same with the kit's own IMEI (15 digits, Luhn) and ICCID (19–20 digits,
 * 89 prefix, Luhn), both or neither; refused when already activated. */
taap_code taap_serve_kit_activate_ids(taap_server *s, const char *app, const char *account,
                                      const char *imei, const char *iccid, char **json,
                                      taap_error *err);
/* Suspend or reactivate a device: status ACTIVE or SUSPENDED. JSON: the device. */
taap_code taap_serve_device_set_status(taap_server *s, const char *iccid, const char *status,
                                       char **json, taap_error *err);
/* JSON: {"devices":[…]} — every device, or one account's when `account` is set. */
taap_code taap_serve_device_list(taap_server *s, const char *account, char **json,
                                 taap_error *err);

/*
 * taap_serve_seed_demo — the `--init` demo account: account "demo", an
 * application "demo-app" subscribed to the Connectivity API, one activated
 * kit, and, when `public_key` is non-NULL, that key registered.
 * JSON: {"app":{… with clientSecret …},"device":{…},"key":{…}|null}.
 * If "demo-app" already exists → TAAP_E_USAGE (the secret cannot be shown again).
 */
taap_code taap_serve_seed_demo(taap_server *s, const void *public_key, size_t key_len,
                               char **json, taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
