/*
 * transport_curl.c — the runner's real transport: a taap_http_session (the
 * one sender, src/client/http.c) per worker, so connections are reused
 * across requests. The runner decides every header and the exact body
 * bytes (the PoP covers them); the policy that is Postman's rather than
 * HTTP's lives here: an `Accept: * / *` header when the request has none
 * (sent after the collection's headers, as the runtime does), an empty
 * body still saying Content-Length: 0 for POST/PUT/PATCH (as node does),
 * redirects followed (10 at most) unless turned off, and only the first
 * PM_RESP_KEEP bytes of a response kept (all of them counted).
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "taap/http.h"

typedef struct curl_transport {
    pm_transport base;
    taap_http_session *session;
} curl_transport;

void pm_http_resp_clear(pm_http_resp *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    free(r->reason);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* "HTTP/1.1 200 OK" → "OK" */
static char *reason_of(const char *status_line)
{
    if (!status_line)
        return NULL;
    const char *sp = strchr(status_line, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;
    return sp ? taap_strdup(sp + 1) : NULL;
}

static int empty_body_has_length(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

static int curl_send(pm_transport *t, const pm_http_req *rq, pm_http_resp *resp)
{
    curl_transport *ct = (curl_transport *)t;
    memset(resp, 0, sizeof *resp);
    taap_header *hs = calloc(rq->n_headers + 1, sizeof *hs);
    if (!hs) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return -1;
    }
    int has_accept = 0;
    for (size_t i = 0; i < rq->n_headers; i++) {
        hs[i].name = rq->hnames[i];
        hs[i].value = rq->hvalues[i];
        has_accept |= taap_ascii_casecmp(rq->hnames[i], "Accept") == 0;
    }
    size_t nh = rq->n_headers;
    if (!has_accept) {
        hs[nh].name = "Accept";
        hs[nh].value = "*/*";
        nh++;
    }
    taap_request req;
    memset(&req, 0, sizeof req);
    req.method = rq->method;
    req.target = rq->url;
    req.headers = hs;
    req.n_headers = nh;
    if (strcmp(rq->method, "HEAD") == 0) {
        req.body.kind = TAAP_BODY_NONE;
    } else if (rq->body_file) {
        req.body.kind = TAAP_BODY_FILE;
        req.body.path = rq->body_file;
    } else if (rq->body_len > 0 || empty_body_has_length(rq->method)) {
        req.body.kind = TAAP_BODY_MEMORY;
        req.body.data = rq->body;
        req.body.len = (int64_t)rq->body_len;
    }

    taap_http_options o;
    taap_http_options_init(&o);
    o.timeout_ms = (long)rq->timeout_ms;
    o.connect_timeout_ms = rq->timeout_ms ? (long)rq->timeout_ms : 30000L;
    o.insecure = rq->insecure;
    o.cacert = rq->cacert;
    o.connect_to = rq->connect_to;
    o.n_connect_to = rq->n_connect_to;
    o.follow_redirects = !rq->no_redirects;
    o.max_redirects = 10;
    o.max_response = PM_RESP_KEEP;
    o.truncate_response = 1;

    taap_http_response *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_http_session_perform(ct->session, &req, &o, NULL, &r, NULL, &err);
    free(hs);
    if (rc != TAAP_OK) {
        snprintf(resp->error, sizeof resp->error, "%.250s", err.message);
        return -1;
    }
    resp->status = r->status;
    resp->reason = reason_of(r->status_line);
    resp->headers = r->headers;
    resp->n_headers = r->n_headers;
    r->headers = NULL;
    r->n_headers = 0;
    resp->body = r->body;
    resp->body_len = r->body_len;
    r->body = NULL;
    resp->total_bytes = r->bytes_received;
    resp->time_ms = r->total_ms;
    resp->dns_ms = r->dns_ms;
    resp->connect_ms = r->connect_ms;
    resp->tls_ms = r->tls_ms;
    resp->ttfb_ms = r->ttfb_ms;
    taap_http_response_free(r);
    return 0;
}

static void curl_close(pm_transport *t)
{
    curl_transport *ct = (curl_transport *)t;
    taap_http_session_free(ct->session);
    free(ct);
}

static const pm_transport_ops curl_ops = {curl_send, curl_close};

pm_transport *pm_transport_curl_open(void *ctx)
{
    (void)ctx;
    curl_transport *ct = calloc(1, sizeof *ct);
    if (!ct)
        return NULL;
    if (taap_http_session_new(&ct->session, NULL) != TAAP_OK) {
        free(ct);
        return NULL;
    }
    ct->base.ops = &curl_ops;
    return &ct->base;
}
