/*
 * testing_transport.c — the testing transport: taap_serve_handle_raw() takes
 * one HTTP/1.1 request from memory through the same routes and handlers as
 * the network transport (server.c), without a socket. Only tests and the
 * fuzzer use it; `taap serve` never does. The
 * parser here is deliberately strict (RFC 9112): CRLF line ends only, no
 * obs-fold, no whitespace before a colon, no NUL or bare CR, one valid
 * Content-Length, no Transfer-Encoding; the fuzzer drives it.
 */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "serve_internal.h"
#include "util.h"

static taap_code serialise(srv_response *rs, char **out, size_t *out_len)
{
    size_t cap = rs->body_len + 1024 + (rs->www_authenticate ? strlen(rs->www_authenticate) : 0) +
                 (rs->set_cookie ? strlen(rs->set_cookie) : 0);
    char *buf = malloc(cap);
    if (!buf)
        return TAAP_E_NOMEM;
    int n = snprintf(buf, cap, "HTTP/1.1 %u %s\r\nContent-Length: %zu\r\n", rs->status,
                     srv_status_text(rs->status), rs->body_len);
    if (rs->content_type)
        n += snprintf(buf + n, cap - (size_t)n, "Content-Type: %s\r\n", rs->content_type);
    if (rs->www_authenticate)
        n += snprintf(buf + n, cap - (size_t)n, "WWW-Authenticate: %s\r\n", rs->www_authenticate);
    if (rs->allow[0])
        n += snprintf(buf + n, cap - (size_t)n, "Allow: %s\r\n", rs->allow);
    if (rs->no_store)
        n += snprintf(buf + n, cap - (size_t)n, "Cache-Control: no-store\r\nPragma: no-cache\r\n");
    if (rs->set_cookie)
        n += snprintf(buf + n, cap - (size_t)n, "Set-Cookie: %s\r\n", rs->set_cookie);
    for (size_t i = 0; rs->console && console_security_headers[i][0]; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%s: %s\r\n", console_security_headers[i][0],
                      console_security_headers[i][1]);
    if (rs->close)
        n += snprintf(buf + n, cap - (size_t)n, "Connection: close\r\n");
    n += snprintf(buf + n, cap - (size_t)n, "\r\n");
    if (rs->body_len)
        memcpy(buf + n, rs->body, rs->body_len);
    *out = buf;
    *out_len = (size_t)n + rs->body_len;
    return TAAP_OK;
}

/* Parse and dispatch; fills rs with either the handler's answer or a 4xx. */
static void handle(taap_server *s, const char *in, size_t len, srv_response *rs)
{
    size_t limit = srv_options(s)->max_header_bytes;
    size_t scan = len < limit + 4 ? len : limit + 4;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < scan; i++)
        if (in[i] == '\r' && in[i + 1] == '\n' && in[i + 2] == '\r' && in[i + 3] == '\n') {
            end = in + i;
            break;
        }
    if (!end) {
        if (len >= limit + 4)
            srv_error(rs, 431, NULL, "request header section exceeds %zu bytes", limit);
        else
            srv_error(rs, 400, NULL, "incomplete request: no CRLF CRLF after the header section");
        rs->close = 1;
        return;
    }
    size_t hlen = (size_t)(end - in);
    if (memchr(in, '\0', hlen)) {
        srv_error(rs, 400, NULL, "NUL byte in the request header section");
        rs->close = 1;
        return;
    }
    char *head = strndup(in, hlen);
    taap_header *hv = calloc(SRV_MAX_HEADERS, sizeof *hv);
    char *path = NULL;
    if (!head || !hv) {
        srv_error(rs, 500, NULL, "out of memory");
        goto out;
    }
    /* Request line. */
    char *line_end = strstr(head, "\r\n");
    char *next = line_end ? line_end + 2 : head + hlen;
    if (line_end)
        *line_end = '\0';
    char *sp1 = strchr(head, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == head || sp2 == sp1 + 1) {
        srv_error(rs, 400, NULL, "malformed request line (need METHOD SP target SP HTTP/1.1)");
        rs->close = 1;
        goto out;
    }
    *sp1 = *sp2 = '\0';
    const char *method = head, *target = sp1 + 1, *version = sp2 + 1;
    for (const char *p = method; *p; p++)
        if (!taap_is_tchar((unsigned char)*p)) {
            srv_error(rs, 400, NULL, "method is not an HTTP token");
            rs->close = 1;
            goto out;
        }
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
        srv_error(rs, 400, NULL, "unsupported protocol version (need HTTP/1.0 or HTTP/1.1)");
        rs->close = 1;
        goto out;
    }
    if (target[0] != '/') {
        srv_error(rs, 400, NULL, "request target must be in origin form (start with '/')");
        rs->close = 1;
        goto out;
    }
    for (const char *p = target; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) {
            srv_error(rs, 400, NULL, "control character or space in the request target");
            rs->close = 1;
            goto out;
        }
    /* Header fields. */
    size_t nh = 0;
    const char *content_length = NULL;
    while (next < head + hlen) {
        char *e = strstr(next, "\r\n");
        if (e)
            *e = '\0';
        char *line = next;
        next = e ? e + 2 : head + hlen;
        if (*line == ' ' || *line == '\t') {
            srv_error(rs, 400, NULL, "obsolete line folding in a header field");
            rs->close = 1;
            goto out;
        }
        char *colon = strchr(line, ':');
        if (!colon || colon == line) {
            srv_error(rs, 400, NULL, "header line without a field name and ':'");
            rs->close = 1;
            goto out;
        }
        for (char *p = line; p < colon; p++)
            if (!taap_is_tchar((unsigned char)*p)) {
                srv_error(rs, 400, NULL,
                          "invalid character in a header field name (whitespace before ':'?)");
                rs->close = 1;
                goto out;
            }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            *--ve = '\0';
        for (char *p = v; *p; p++)
            if (*p == '\r' || *p == '\n') {
                srv_error(rs, 400, NULL, "bare CR or LF in a header field value");
                rs->close = 1;
                goto out;
            }
        if (nh >= SRV_MAX_HEADERS) {
            srv_error(rs, 431, NULL, "more than %d header fields", SRV_MAX_HEADERS);
            rs->close = 1;
            goto out;
        }
        if (taap_ascii_casecmp(line, "Transfer-Encoding") == 0) {
            srv_error(rs, 501, NULL, "Transfer-Encoding is not supported here; send Content-Length");
            rs->close = 1;
            goto out;
        }
        if (taap_ascii_casecmp(line, "Content-Length") == 0) {
            if (content_length && strcmp(content_length, v) != 0) {
                srv_error(rs, 400, NULL, "two different Content-Length values");
                rs->close = 1;
                goto out;
            }
            content_length = v;
        }
        hv[nh].name = line;
        hv[nh].value = v;
        nh++;
    }
    if (hlen + 4 > limit) {
        srv_error(rs, 431, NULL, "request header section is %zu bytes; the limit is %zu", hlen + 4,
                  limit);
        rs->close = 1;
        goto out;
    }
    size_t plen = strcspn(target, "?");
    path = strndup(target, plen);
    if (!path) {
        srv_error(rs, 500, NULL, "out of memory");
        goto out;
    }
    size_t body_len = 0;
    if (content_length) {
        unsigned long long v = 0;
        const char *p = content_length;
        if (!*p) {
            srv_error(rs, 400, NULL, "empty Content-Length");
            rs->close = 1;
            goto out;
        }
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || v > (1ULL << 40)) {
                srv_error(rs, 400, NULL, "Content-Length is not a decimal byte count");
                rs->close = 1;
                goto out;
            }
            v = v * 10 + (unsigned)(*p - '0');
        }
        size_t blimit = srv_body_limit(s, method, path);
        if (v > blimit) {
            srv_error(rs, 413, NULL, "request body is %llu bytes; this endpoint accepts at most %zu",
                      v, blimit);
            rs->close = 1;
            goto out;
        }
        if (v > len - hlen - 4) {
            srv_error(rs, 400, NULL, "body shorter than its Content-Length");
            rs->close = 1;
            goto out;
        }
        body_len = (size_t)v;
    }
    srv_request rq = {0};
    rq.method = method;
    rq.target = target;
    rq.path = path;
    rq.query = target[plen] == '?' ? target + plen + 1 : NULL;
    rq.headers = hv;
    rq.n_headers = nh;
    rq.body = body_len ? (const unsigned char *)end + 4 : NULL;
    rq.body_len = body_len;
    srv_dispatch(s, &rq, rs);
out:
    free(path);
    free(hv);
    free(head);
}

taap_code taap_serve_handle_raw(taap_server *s, const void *untrusted, size_t len,
                                char **response, size_t *response_len)
{
    *response = NULL;
    *response_len = 0;
    srv_response rs = {0};
    handle(s, untrusted ? (const char *)untrusted : "", untrusted ? len : 0, &rs);
    if (!rs.status)
        srv_error(&rs, 500, NULL, "no response produced");
    taap_code rc = serialise(&rs, response, response_len);
    srv_response_free(&rs);
    return rc;
}
