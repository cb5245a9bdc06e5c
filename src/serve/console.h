/*
 * console.h — the web console at /console on `taap serve`: static assets
 * compiled into the binary (console_assets.c, generated at build time from
 * src/serve/console/), and the browser session that stands in for the admin
 * token on the management API.
 *
 * Session model (docs/SECURITY.md): signing in with the admin token creates
 * a random 256-bit session id, sent only as an HttpOnly, SameSite=Strict
 * cookie and kept server-side as its SHA-256; each session has its own CSRF
 * token, given to the page in the sign-in answer (and by GET /console/session
 * to a page of the same origin), which every change (any method but GET)
 * must echo in X-CSRF-Token. Sessions live in memory, at most
 * CONSOLE_MAX_SESSIONS, for CONSOLE_SESSION_TTL seconds; sign-out and a
 * server restart end them.
 */
#ifndef TAAP_CONSOLE_H
#define TAAP_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_MAX_SESSIONS 32
#define CONSOLE_SESSION_TTL (8 * 3600)
#define CONSOLE_COOKIE "taap_console"

typedef struct console_asset {
    const char *name;          /* "app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} console_asset;

/* Generated (cmake/embed_assets.cmake). */
extern const console_asset console_assets[];
extern const size_t console_n_assets;

typedef struct console_sessions console_sessions;
struct srv_request;
struct srv_response;
struct taap_server;

console_sessions *console_sessions_new(void);
void console_sessions_free(console_sessions *c);

/*
 * Admin authentication by console session, for a request without an
 * Authorization header: 1 when its cookie names a live session and (for
 * any method but GET/HEAD) X-CSRF-Token matches; 0 when it carries no
 * session cookie; -1 when it does but is refused (rs filled: 401/403).
 */
int console_session_admin(struct taap_server *s, const struct srv_request *rq,
                          struct srv_response *rs);

/* Headers every console response carries (CSP and friends), NULL-ended
 * pairs {name, value}. */
extern const char *const console_security_headers[][2];

#endif
