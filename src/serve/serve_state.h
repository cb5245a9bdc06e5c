/*
 * serve_state.h — struct taap_server. Included only by the files that own a
 * part of it: serve.c (life cycle, identity, options, clock), server.c (the
 * libmicrohttpd daemon), store.c (SQLite connections), token_cache.c (the
 * verified access tokens) and client_secret.c (the verified-secret cache).
 * Routes and handlers reach the server through serve_internal.h's accessors.
 */
#ifndef TAAP_SERVE_STATE_H
#define TAAP_SERVE_STATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve_internal.h"

struct MHD_Daemon;
struct store_conn;
struct srv_conn;

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
    int replay_borrowed;           /* replay came from the options: the caller frees it */

    /* Store: one SQLite connection per thread (store.c). */
    pthread_key_t db_key;
    int db_key_ok;
    pthread_mutex_t db_mu;
    struct store_conn **conns;
    size_t n_conns, cap_conns;

    /* Verified-secret cache (client_secret.c): app id → SHA-256(pepper ‖
     * salt ‖ secret) of the last secret that passed the slow hash, so a
     * well-behaved client does not pay PBKDF2 on every token request. Wrong
     * secrets always take the slow path. */
    pthread_mutex_t secret_mu;
    unsigned char pepper[32];
    struct { int64_t app_id; unsigned char h[32]; } secret_cache[SRV_SECRET_CACHE];

    /* Verified access tokens (token_cache.c). */
    pthread_mutex_t at_mu;
    srv_at_entry *at_slots[SRV_AT_SLOTS];
    size_t at_sweep;               /* next slot the expiry sweep looks at */
    atomic_uint_fast64_t at_generation;

    /* The HTTP transport (server.c). */
    struct MHD_Daemon *mhd;
    pthread_mutex_t conn_mu;       /* guards conns_open (the header deadline's list) */
    struct srv_conn *conns_open;
    pthread_t reaper;
    int reaper_running;
    unsigned port;
    atomic_int inflight;
    atomic_int stopping;

    struct console_sessions *console; /* web console sign-ins (console.c) */
    struct srv_reqlog *reqlog;     /* recent requests and PoP explanations (request_log.c) */
};

#endif
