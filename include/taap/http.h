/*
 * taap/http.h — the HTTP transport of libtaap (libcurl underneath).
 *
 * One function, taap_http_perform(), sends one taap_request exactly as
 * described (method, headers, body bytes) and returns the response. Bodies
 * given as a file or a read callback are streamed: they are never held in
 * memory. The response body is captured in memory (bounded) or streamed to a
 * FILE. Proxies come from the usual environment variables (http_proxy,
 * https_proxy, no_proxy), as with curl.
 *
 * Nothing here knows about PoP tokens or OAuth: the client (taap/client.h)
 * builds the headers and calls this.
 */
#ifndef TAAP_HTTP_H
#define TAAP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "taap/error.h"
#include "taap/request.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a debug line is about (taap_http_debug_fn). */
typedef enum taap_http_debug_kind {
    TAAP_HTTP_DEBUG_INFO = 0,   /* transport information ("Connected to …") */
    TAAP_HTTP_DEBUG_HEADER_OUT, /* one request header line, as sent */
    TAAP_HTTP_DEBUG_HEADER_IN   /* one response header line, as received */
} taap_http_debug_kind;

/*
 * Debug hook for verbose output: called with one line at a time (no line
 * ending). Credentials are already redacted: the values of Authorization,
 * Proxy-Authorization, X-Authorization, X-Auth-Originator, Cookie and
 * Set-Cookie are replaced by their scheme (if any) and "[redacted]".
 */
typedef void (*taap_http_debug_fn)(void *ctx, taap_http_debug_kind kind, const char *line);

/*
 * Transport options. Initialise with taap_http_options_init(); a zero field
 * means the default. Strings are borrowed for the duration of a call only.
 */
typedef struct taap_http_options {
    size_t size;                 /* sizeof(taap_http_options), set by _init */
    long connect_timeout_ms;     /* 0 → 30 s */
    long timeout_ms;             /* whole transfer; 0 → no limit */
    const char *cacert;          /* CA bundle file (PEM) to trust instead of the system's */
    const char *client_cert;     /* mutual TLS: client certificate (PEM) */
    const char *client_key;      /* mutual TLS: its private key (PEM); NULL → in client_cert */
    int insecure;                /* 1: do not verify the server certificate (curl -k) */
    const char *const *connect_to; /* curl --connect-to "HOST1:PORT1:HOST2:PORT2" entries */
    size_t n_connect_to;
    int no_proxy;                /* 1: ignore proxy environment variables */
    size_t max_response;         /* in-memory body limit; 0 → 64 MiB */
    int capture_errors;          /* 1: a response with status >= 400 is captured in memory
                                    (bounded by max_response) even when body_out is given,
                                    so a retry or a report never writes it there */
    taap_http_debug_fn debug;    /* verbose hook (NULL: none) */
    void *debug_ctx;
} taap_http_options;

/* Zero the options and set the size field: connect timeout 30 s, no
 * transfer limit, TLS verified, no hooks. Call before filling the struct.
 * Thread-safe. */
TAAP_API void taap_http_options_init(taap_http_options *opts);

/* A received response. Free with taap_http_response_free(). */
typedef struct taap_http_response {
    long status;              /* HTTP status code */
    char *status_line;        /* "HTTP/1.1 200 OK" (no line ending) */
    taap_header *headers;     /* in received order; names and values owned */
    size_t n_headers;
    char *body;               /* NUL-terminated; see body_len */
    size_t body_len;
    int body_streamed;        /* 1: the body went to the FILE; `body` holds at most
                                 the first 16 KiB of it (for error messages) */
    uint64_t bytes_received;  /* body bytes received */
} taap_http_response;

TAAP_API void taap_http_response_free(taap_http_response *resp);

/* Case-insensitive lookup of a response header; the first match or NULL. */
TAAP_API const char *taap_http_response_header(const taap_http_response *resp,
                                               const char *name);

/*
 * taap_http_perform — send `req` and receive the response.
 *
 * req->target must be a full http:// or https:// URL. The method is sent as
 * given. Headers are sent as given and in order; libcurl adds Host,
 * Content-Length (or Transfer-Encoding: chunked for a callback body of
 * unknown length) and a match-anything Accept; "Expect: 100-continue" is suppressed,
 * and a body without a Content-Type header goes without one (never curl's form type).
 * A TAAP_BODY_FILE body is read from its path while sending; a
 * TAAP_BODY_CALLBACK body from its callback (so it can be sent only once).
 *
 * body_out: NULL → the body is captured in resp->body (at most
 * opts->max_response bytes, TAAP_E_RESPONSE beyond); non-NULL → it is
 * written there as it arrives.
 *
 * Returns TAAP_OK whenever a complete HTTP response arrived, whatever its
 * status; TAAP_E_HTTP for transport failures (DNS, connect, TLS, timeout,
 * truncated response), with libcurl's reason in the message and, in
 * *transport_code (may be NULL), a TAAP_HTTP_FAIL_* class.
 * Thread-safe: each call uses its own libcurl handle.
 */
#define TAAP_HTTP_FAIL_NONE 0
#define TAAP_HTTP_FAIL_CONNECT 1 /* nothing was sent: resolve/connect failed */
#define TAAP_HTTP_FAIL_TIMEOUT 2
#define TAAP_HTTP_FAIL_TLS 3
#define TAAP_HTTP_FAIL_OTHER 4   /* the request may have reached the server */
TAAP_API taap_code taap_http_perform(const taap_request *req, const taap_http_options *opts,
                                     FILE *body_out, taap_http_response **resp,
                                     int *transport_code, taap_error *err);

/*
 * taap_http_redact_header — write to `out` the header line `line` as it may
 * be shown to a user: credentials replaced as described for
 * taap_http_debug_fn. Truncates to `cap` bytes (always NUL-terminated).
 */
TAAP_API void taap_http_redact_header(const char *line, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
