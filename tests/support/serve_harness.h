/*
 * serve_harness.h — run the real `taap serve` as a subprocess on port 0 and
 * talk TAAP to it over loopback (libcurl + libtaap). Used by the emulator's
 * e2e tests and by any test that needs a TAAP server (the OAuth client, the
 * Postman runner, `taap call`).
 *
 * Typical use:
 *
 *     sh_server srv;
 *     assert_int_equal(sh_start(&srv, NULL, NULL), 0);   // temp dir, fresh db
 *     char *id, *secret, iccid[24], kid[17];
 *     sh_make_app(&srv, "app1", NULL, &id, &secret);      // admin API
 *     taap_key *key = sh_test_key(0);                     // cached 2048-bit key
 *     sh_add_key(&srv, "app1", key, kid);
 *     sh_subscribe(&srv, "app1");
 *     sh_activate_kit(&srv, "app1", iccid);
 *     char *at = sh_get_token(&srv, id, secret, key);     // PoP-signed token request
 *     sh_resp r;
 *     sh_call(&srv, "GET", path, at, key, NULL, &r);      // PoP-signed API call
 *     ...
 *     sh_stop(&srv);       // SIGTERM → returns the exit status (0 = clean drain)
 *     sh_cleanup(&srv);    // removes the temp dir (keep it for a restart first)
 *
 * The clock: the server runs with --now-file; srv.now is what both sides
 * believe the time is (starts at SH_EPOCH). sh_set_now() moves it for the
 * server and for every PoP the harness builds afterwards: tests expire
 * tokens without sleeping.
 *
 * The server also gets --secret-iterations 1000 (PBKDF2 stays real but cheap)
 * unless the extra args override it. Failures inside the harness print a
 * line on stderr (with the server log's tail when the server died) and
 * return -1/NULL; tests assert on that.
 */
#ifndef TAAP_SERVE_HARNESS_H
#define TAAP_SERVE_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "taap/taap.h"

/* 2026-01-01T00:00:00Z: the harness's fixed starting time. */
#define SH_EPOCH 1767225600

typedef struct sh_server {
    pid_t pid;
    int out_fd;             /* read end of the server's stdout */
    int own_dir;            /* dir was created by sh_start */
    char dir[512];          /* holds serve.db, serve.db.admin-token, port, now, serve.log */
    char db[600];
    char port_file[600];
    char now_file[600];
    char token_file[600];
    char log_file[600];
    unsigned port;
    char base[64];          /* "http://127.0.0.1:PORT" */
    char admin_token[80];
    char stdout_text[4096]; /* what the server printed before "listening on" */
    int64_t now;
} sh_server;

/*
 * sh_start — zero-initialise *s before the first call. Start
 * `$TAAP_BIN serve --port 0` with its files in `dir`
 * (NULL → a new temp dir, removed by sh_cleanup; an existing dir is reused,
 * which is how a test restarts on the same database), plus `extra_args`
 * (NULL-terminated, may be NULL). Returns once the server printed
 * "listening on …" (no polling loop: it reads the server's stdout).
 * The clock file is (re)written with s->now (SH_EPOCH on first start).
 * Returns 0, or -1 with a message on stderr.
 */
int sh_start(sh_server *s, const char *dir, const char *const *extra_args);

/* sh_stop — SIGTERM, wait; returns the exit status (128+sig if killed),
 * -1 if not running. sh_kill — SIGKILL (for crash-recovery tests). */
int sh_stop(sh_server *s);
void sh_kill(sh_server *s);
/* 1 while the server process is alive. */
int sh_alive(sh_server *s);
/* Remove the temp dir made by sh_start (after sh_stop). */
void sh_cleanup(sh_server *s);
/* The server's stderr so far (access log, diagnostics). free(). */
char *sh_log(sh_server *s);

/* Move the shared clock. */
void sh_set_now(sh_server *s, int64_t now);

/* ---- HTTP ------------------------------------------------------------------ */

typedef struct sh_resp {
    long status;       /* 0 when the transport failed */
    char *body;        /* NUL-terminated */
    size_t len;
    char *headers;     /* the raw response header block */
} sh_resp;

void sh_resp_free(sh_resp *r);

/*
 * sh_http — one request with libcurl. `headers` is a NULL-terminated list of
 * "Name: value" lines (may be NULL); curl adds no Content-Type and no
 * Expect of its own. `body` may be NULL. Returns the status (0 on a
 * transport error). 10 s timeout.
 */
long sh_http(const char *method, const char *url, const char *const *headers, const void *body,
             size_t len, sh_resp *out);

/* Case-insensitive lookup of a response header; copies the value into out
 * (trimmed). Returns 1 if present. */
int sh_resp_header(const sh_resp *r, const char *name, char *out, size_t cap);

/* ---- management (admin token) ------------------------------------------------ */

/* An admin request to s->base + path with the admin token. */
long sh_admin(sh_server *s, const char *method, const char *path, const char *json_body,
              sh_resp *out);
/* Create an application (account NULL → "default"); *client_id and *secret
 * are malloc'd. 0 or -1. */
int sh_make_app(sh_server *s, const char *name, const char *account, char **client_id,
                char **secret);
/* Register key's public half; key_id gets the 16-hex-char id. 0 or -1. */
int sh_add_key(sh_server *s, const char *app, const taap_key *key, char key_id[17]);
int sh_subscribe(sh_server *s, const char *app);
/* Activate a kit for the app's account; iccid gets the new ICCID. 0 or -1. */
int sh_activate_kit(sh_server *s, const char *app, char iccid[24]);

/* A 2048-bit test key, generated once per process per index (0..7) and
 * cached; do not free. */
taap_key *sh_test_key(int index);

/* ---- TAAP -------------------------------------------------------------------- */

/* Overrides for a harness-built PoP (zero = default). */
typedef struct sh_pop_opts {
    int64_t iat_offset;   /* iat = s->now + iat_offset */
    unsigned lifetime;    /* default 60 */
    const char *jti;      /* default random */
    const char *const *no_sign; /* headers to leave out of the default coverage */
    size_t n_no_sign;
    int omit;             /* do not send X-Authorization at all */
} sh_pop_opts;

/*
 * sh_pop — a PoP over (method, target, headers, body) with the default
 * coverage (SPEC §1.1), iat from the shared clock. malloc'd; NULL on error.
 */
char *sh_pop(sh_server *s, const taap_key *key, const char *method, const char *target,
             const char *const *headers, const void *body, size_t len, const sh_pop_opts *o);

/* "Authorization: Basic base64(client_id:secret)" (the whole header line). */
void sh_basic_header(const char *client_id, const char *secret, char *out, size_t cap);

/* Send a request to s->base + target with these "Name: value" headers, the
 * body (may be NULL) and `pop` as X-Authorization (NULL → none): for tests
 * that sign one request and send another. */
long sh_send(sh_server *s, const char *method, const char *target, const char *const *headers,
             const char *body, const char *pop, sh_resp *out);

/* The harness clock as a taap_clock_fn (ctx = the sh_server), for
 * taap_pop_build() with hand-picked entries. */
int64_t sh_clock(void *ctx);

/*
 * sh_token_request — POST {base}{path} (path NULL → /oauth2/v2/tokens) with
 * Basic client_id:secret, Content-Type: application/json, `body` (may be
 * NULL), and a PoP by `key` (key NULL or o->omit → no X-Authorization).
 */
long sh_token_request(sh_server *s, const char *path, const char *client_id, const char *secret,
                      const taap_key *key, const char *body, const sh_pop_opts *o, sh_resp *out);
/* The access token from a successful token request (malloc'd) or NULL. */
char *sh_get_token(sh_server *s, const char *client_id, const char *secret, const taap_key *key);

/*
 * sh_call — an API call: Authorization: Bearer <token>, Content-Type:
 * application/json, body (may be NULL), and a PoP by `key` over all of it.
 */
long sh_call(sh_server *s, const char *method, const char *target, const char *access_token,
             const taap_key *key, const char *body, const sh_pop_opts *o, sh_resp *out);

/* ---- raw sockets --------------------------------------------------------------- */

/* A TCP connection to the server (blocking fd), or -1. */
int sh_connect(sh_server *s);
/* Send `len` bytes on a new connection, then read until the server closes
 * or `timeout_ms` passes; returns the status code of the first response line
 * (0 if none). *resp (may be NULL) gets what was read (malloc'd). */
int sh_raw(sh_server *s, const void *data, size_t len, int timeout_ms, char **resp);

#endif
