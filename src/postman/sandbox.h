/*
 * sandbox.h — the bridge from the runner to Postman's script sandbox: one
 * long-lived `node host.js` per worker (src/postman/sandbox/host.js, which
 * documents the line protocol), spoken to over a socket on the host's file
 * descriptor 3. The sandbox only executes scripts; requests (including a
 * script's pm.sendRequest) are built, signed and sent by taap. Internal to
 * libtaap-postman; never installed.
 *
 *   sandbox.c        the host process: locate, start, exchange, stop
 *   sandbox_proto.c  the messages: encode an exec, fold the answers into a
 *                    pm_sb_result (pure functions, unit-tested)
 */
#ifndef TAAP_PM_SANDBOX_H
#define TAAP_PM_SANDBOX_H

#include <stddef.h>
#include <jansson.h>

#include "taap/error.h"

#define PM_SB_PROTOCOL 1                      /* host.js VERSION */
#define PM_SB_MAX_LINE (64u * 1024u * 1024u)  /* one message, either way */
#define PM_SB_MAX_EVENTS 100000u              /* assertions + logs per script */
#define PM_SB_HELLO_MS 60000                  /* node start-up + sandbox boot */
#define PM_SB_GRACE_MS 30000                  /* past --timeout-script: host hung */

/* Where the pieces are: the node binary and the folder with host.js and
 * node_modules/postman-sandbox. */
typedef struct pm_sb_where {
    char node[1024];
    char dir[1024];
} pm_sb_where;

/*
 * Find node and the sandbox folder. `node` / `dir` override (NULL → the
 * environment's TAAP_NODE / TAAP_SANDBOX_DIR, else `node` on PATH and the
 * folders compiled in: the source tree's src/postman/sandbox, then the
 * installed share/taap/sandbox). TAAP_E_CONFIG names the missing piece and
 * the one command that installs it.
 */
taap_code pm_sandbox_locate(const char *node, const char *dir, pm_sb_where *out,
                            taap_error *err);

typedef struct pm_sandbox pm_sandbox;

/* Start a host and wait for its hello (bounded by PM_SB_HELLO_MS). */
taap_code pm_sandbox_start(const pm_sb_where *w, pm_sandbox **out, taap_error *err);
/* Speak the protocol over an already connected socket (unit tests play the
 * host); the hello is awaited as for a started host. Takes the fd. */
taap_code pm_sandbox_attach(int fd, pm_sandbox **out, taap_error *err);
/* End the host (EOF, then a bounded wait, then SIGKILL). NULL-safe. */
void pm_sandbox_free(pm_sandbox *sb);
/* The sandbox version the host reported ("6.7.4"). */
const char *pm_sandbox_version(const pm_sandbox *sb);

typedef struct pm_sb_assertion {
    char *name;
    int passed, skipped;
    char *error_name;      /* "AssertionError" …; NULL when passed */
    char *error_message;
} pm_sb_assertion;

typedef struct pm_sb_log {
    char *level;           /* log, info, warn, error … */
    char *text;            /* the arguments formatted by the host */
} pm_sb_log;

typedef struct pm_sb_result {
    char *error_name;      /* the script threw or timed out; NULL otherwise */
    char *error_message;
    pm_sb_assertion *asserts;
    size_t n_asserts, cap_asserts;
    pm_sb_log *logs;
    size_t n_logs, cap_logs;
    json_t *vars;          /* {"environment":{"set":[[k,v]],"unset":[k]},…} or NULL */
    int skip_request;      /* pm.execution.skipRequest() */
    int next_set;          /* setNextRequest was called … */
    char *next_request;    /* … with this name or id; NULL = setNextRequest(null) */
    json_t *request;       /* pm.request after a pre-request script changed it */
} pm_sb_result;
void pm_sb_result_clear(pm_sb_result *r);

/*
 * A script's pm.sendRequest, performed by the caller: `request` is
 * {"method","url","header":[[k,v]…],"body64"}; on success *response gets
 * {"code","status","header":[[k,v]…],"body64","time"} (a new reference) and
 * 0 is returned; on failure -1 with a message in err (handed to the script
 * as the callback's error).
 */
typedef int (*pm_sb_send_fn)(void *ctx, const json_t *request, json_t **response, char *err,
                             size_t cap);

typedef struct pm_sb_exec {
    const char *listen;    /* "prerequest" | "test" */
    const char *script;
    unsigned timeout_ms;   /* --timeout-script; 0 = none */
    json_t *context;       /* borrowed: request, response, scopes, data */
    json_t *info;          /* borrowed: iteration, iterations, item name/id/path */
    pm_sb_send_fn send;    /* NULL → pm.sendRequest fails with a message */
    void *send_ctx;
} pm_sb_exec;

/*
 * Run one script and collect what it did into *r (cleared first).
 * TAAP_OK when the host answered — the script's own failure is in
 * r->error_*. An error when the host failed (exited, hung past the script
 * timeout + PM_SB_GRACE_MS, spoke nonsense): the message says why (with the
 * end of node's own output) and the handle is dead: free it and start
 * another.
 */
taap_code pm_sandbox_exec(pm_sandbox *sb, const pm_sb_exec *x, pm_sb_result *r, taap_error *err);

/* ---- the messages (sandbox_proto.c) ------------------------------------- */

/* The exec line for `x` with execution id `id`, '\n'-terminated (malloc'd;
 * NULL on OOM). */
char *pm_sb_encode_exec(const char *id, const pm_sb_exec *x);
/* The response line for request `rid`: `response` or `error` (one is NULL). */
char *pm_sb_encode_response(const char *id, json_int_t rid, const json_t *response,
                            const char *error);

typedef enum pm_sb_msg {
    PM_SB_MSG_IGNORED = 0, /* another execution's, or an unknown type */
    PM_SB_MSG_EVENT,       /* an assertion or a console line: folded into r */
    PM_SB_MSG_REQUEST,     /* a pm.sendRequest: the caller performs it */
    PM_SB_MSG_DONE         /* the script finished: r is complete */
} pm_sb_msg;

/* Fold one message from the host (parsed) into r. `id` is the execution
 * under way. Returns the kind, or -1 with err set when the message breaks
 * the protocol (fatal from the host, wrong shapes, too many events). */
int pm_sb_fold(json_t *msg, const char *id, pm_sb_result *r, taap_error *err);
/* Check a hello: 0, or -1 with err (a fatal message, a wrong version). */
int pm_sb_check_hello(json_t *msg, char *version, size_t cap, taap_error *err);

/* base64 of bytes (malloc'd) and back (malloc'd, *len set; NULL if bad). */
char *pm_sb_b64(const void *data, size_t len);
unsigned char *pm_sb_unb64(const char *s, size_t *len);

#endif
