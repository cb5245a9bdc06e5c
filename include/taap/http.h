/*
 * taap/http.h — the HTTP transport of libtaap (libcurl underneath): the one
 * sender every part of taap uses (`taap call`, the OAuth client, the
 * collection runner, `taap admin`).
 *
 * taap_http_perform() sends one taap_request exactly as described (method,
 * headers, body bytes) and returns the response. A taap_http_session does
 * the same over a kept connection cache: consecutive requests to the same
 * host reuse the connection (keep-alive), as a browser or Newman would. Bodies
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
 * ending). Credentials are already redacted: the values of the sensitive
 * headers (taap_http_header_sensitive) are replaced by their scheme (if
 * any) and "[redacted]".
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
    int follow_redirects;        /* 1: follow 3xx Location (http/https only), up to
                                    max_redirects; 0: the 3xx is the response */
    long max_redirects;          /* with follow_redirects; 0 → 10 (Postman's default) */
    int truncate_response;       /* 1: a body longer than max_response is cut there
                                    (resp->body_truncated = 1; bytes_received still
                                    counts every byte) instead of TAAP_E_RESPONSE */
    int compressed;              /* 1: ask for every encoding libcurl can decode
                                    (Accept-Encoding) and decode the body (curl
                                    --compressed); the PoP never covers Accept-Encoding */
    /* Progress hook, called often while sending (libcurl's meter) with the
     * bytes sent so far and the upload size (-1 unknown); a non-zero
     * return aborts the transfer (TAAP_E_HTTP). NULL: none. */
    int (*progress)(void *ctx, uint64_t sent, int64_t total);
    void *progress_ctx;
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
    int body_truncated;       /* 1: cut at max_response (opts->truncate_response) */
    long redirects;           /* redirects followed */
    /* Timing in milliseconds from the start of the transfer (libcurl's
     * *_TIME_T): name resolved, connected, TLS done, first response byte,
     * complete. A reused connection has dns/connect/tls of 0. */
    double dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
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
 * A session: one libcurl handle whose connection cache survives between
 * requests, so consecutive requests reuse connections. Each request is
 * still described completely by its taap_request and options (nothing
 * carries over but the open connections). One thread at a time may use a
 * session; make one per thread. Errors: TAAP_E_NOMEM, TAAP_E_HTTP (libcurl
 * could not initialise).
 */
typedef struct taap_http_session taap_http_session;
TAAP_API taap_code taap_http_session_new(taap_http_session **out, taap_error *err);
/* Close the session's connections and free it. NULL-safe. */
TAAP_API void taap_http_session_free(taap_http_session *s);
/* As taap_http_perform, over the session's connections. */
TAAP_API taap_code taap_http_session_perform(taap_http_session *s, const taap_request *req,
                                             const taap_http_options *opts, FILE *body_out,
                                             taap_http_response **resp, int *transport_code,
                                             taap_error *err);

/*
 * taap_http_header_sensitive — 1 if a header carries a credential whose
 * value is never shown (Authorization, Proxy-Authorization,
 * X-Authorization, X-Auth-Originator, Cookie, Set-Cookie, X-Api-Key,
 * Api-Key; case-insensitive). The one list used by the verbose output, the
 * runner's reports and `taap call`.
 */
TAAP_API int taap_http_header_sensitive(const char *name);

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
