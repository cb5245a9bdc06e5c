/* http.c — the libcurl transport (taap/http.h): the one HTTP sender of
 * taap. One request at a time, bodies streamed both ways, credentials
 * redacted from verbose output; a session keeps a libcurl handle (and so
 * its connection cache) between requests. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util.h"
#include "taap/http.h"

#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)64 << 20)
#define HTTP_STREAM_KEEP 16384     /* bytes of a streamed body kept for error messages */
#define HTTP_MAX_HEADER_BYTES (256u << 10)
#define HTTP_MAX_HEADERS 500

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_OK;

static void http_global_init(void)
{
    /* Thread-safe in this libcurl build (the "threadsafe" feature). */
    http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void taap_http_options_init(taap_http_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
}

void taap_http_response_free(taap_http_response *resp)
{
    if (!resp)
        return;
    for (size_t i = 0; i < resp->n_headers; i++) {
        free((char *)resp->headers[i].name);
        free((char *)resp->headers[i].value);
    }
    free(resp->headers);
    free(resp->status_line);
    free(resp->body);
    free(resp);
}

const char *taap_http_response_header(const taap_http_response *resp, const char *name)
{
    if (!resp || !name)
        return NULL;
    for (size_t i = 0; i < resp->n_headers; i++)
        if (taap_ascii_casecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

/* ---- redaction ------------------------------------------------------------ */

/* The list itself is util's (taap_header_is_secret): one for every layer. */
int taap_http_header_sensitive(const char *name)
{
    return name && taap_header_is_secret(name, strlen(name));
}

void taap_http_redact_header(const char *line, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = '\0';
    const char *colon = strchr(line, ':');
    if (colon) {
        size_t nlen = (size_t)(colon - line);
        {
            if (taap_header_is_secret(line, nlen)) {
                const char *v = colon + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                /* Keep a scheme word ("Bearer", "Basic") so the user can see
                 * which kind of credential went out, never the credential. */
                size_t slen = 0;
                while (v[slen] && v[slen] != ' ')
                    slen++;
                int has_scheme = v[slen] == ' ' && slen > 0 && slen < 16;
                if (has_scheme)
                    snprintf(out, cap, "%.*s: %.*s [redacted]", (int)nlen, line, (int)slen, v);
                else
                    snprintf(out, cap, "%.*s: [redacted]", (int)nlen, line);
                return;
            }
        }
    }
    snprintf(out, cap, "%s", line);
}

/* ---- transfer state ------------------------------------------------------- */

typedef struct http_xfer {
    const taap_http_options *opts;
    taap_http_response *resp;
    FILE *out;
    size_t max_body;
    size_t body_cap;
    size_t header_bytes;
    size_t headers_cap;
    int too_big;        /* body over the limit */
    int header_overflow;
    int write_failed;
    int decided;        /* the first body byte decided streaming vs capture */
    CURL *h;
    /* body source */
    int fd;
    taap_read_fn read;
    void *read_ctx;
    int read_failed;
} http_xfer;

static void http_clear_headers(taap_http_response *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    r->n_headers = 0;
    free(r->status_line);
    r->status_line = NULL;
}

static size_t http_on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    http_xfer *x = ud;
    size_t n = size * nmemb;
    x->header_bytes += n;
    if (x->header_bytes > HTTP_MAX_HEADER_BYTES) {
        x->header_overflow = 1;
        return 0;
    }
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    if (n == 0)
        return size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after 1xx or a proxy CONNECT): start over. */
        http_clear_headers(x->resp);
        x->resp->status_line = taap_strndup(data, n);
        return x->resp->status_line ? size * nmemb : 0;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return size * nmemb; /* obs-fold or junk: ignore */
    if (x->resp->n_headers >= HTTP_MAX_HEADERS) {
        x->header_overflow = 1;
        return 0;
    }
    if (x->resp->n_headers == x->headers_cap) {
        size_t nc = x->headers_cap ? x->headers_cap * 2 : 16;
        taap_header *nh = realloc(x->resp->headers, nc * sizeof *nh);
        if (!nh)
            return 0;
        x->resp->headers = nh;
        x->headers_cap = nc;
    }
    const char *v = colon + 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char *name = taap_strndup(data, (size_t)(colon - data));
    char *value = taap_strndup(v, (size_t)(end - v));
    if (!name || !value) {
        free(name);
        free(value);
        return 0;
    }
    x->resp->headers[x->resp->n_headers].name = name;
    x->resp->headers[x->resp->n_headers].value = value;
    x->resp->n_headers++;
    return size * nmemb;
}

static int http_keep(http_xfer *x, const char *data, size_t n, size_t limit)
{
    taap_http_response *r = x->resp;
    if (r->body_len >= limit)
        return 0;
    if (n > limit - r->body_len)
        n = limit - r->body_len;
    if (r->body_len + n + 1 > x->body_cap) {
        size_t nc = x->body_cap ? x->body_cap : 4096;
        while (nc < r->body_len + n + 1)
            nc *= 2;
        char *nb = realloc(r->body, nc);
        if (!nb)
            return -1;
        r->body = nb;
        x->body_cap = nc;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    http_xfer *x = ud;
    size_t n = size * nmemb;
    x->resp->bytes_received += n;
    if (!x->decided) {
        x->decided = 1;
        long st = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
        if (x->out && x->opts->capture_errors && st >= 400)
            x->out = NULL;
    }
    if (x->out) {
        if (n && fwrite(data, 1, n, x->out) != n) {
            x->write_failed = 1;
            return 0;
        }
        return http_keep(x, data, n, HTTP_STREAM_KEEP) == 0 ? n : 0;
    }
    if (x->resp->body_len + n > x->max_body) {
        if (x->opts->truncate_response) { /* keep the head, count the rest */
            x->resp->body_truncated = 1;
            return http_keep(x, data, n, x->max_body) == 0 ? size * nmemb : 0;
        }
        x->too_big = 1;
        return 0;
    }
    return http_keep(x, data, n, x->max_body) == 0 ? n : 0;
}

static size_t http_on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    http_xfer *x = ud;
    size_t cap = size * nitems;
    if (x->fd >= 0) {
        for (;;) {
            ssize_t r = read(x->fd, buf, cap);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                x->read_failed = 1;
                return CURL_READFUNC_ABORT;
            }
            return (size_t)r;
        }
    }
    ssize_t r = x->read(x->read_ctx, buf, cap);
    if (r < 0) {
        x->read_failed = 1;
        return CURL_READFUNC_ABORT;
    }
    return (size_t)r;
}

static int http_on_seek(void *ud, curl_off_t offset, int origin)
{
    http_xfer *x = ud;
    if (x->fd < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    return lseek(x->fd, (off_t)offset, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static void http_emit_lines(http_xfer *x, taap_http_debug_kind kind, const char *data, size_t n)
{
    char line[1024], red[1024];
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && data[j] != '\n' && data[j] != '\r')
            j++;
        size_t len = j - i;
        if (len > 0) {
            if (len >= sizeof line)
                len = sizeof line - 1;
            memcpy(line, data + i, len);
            line[len] = '\0';
            if (kind == TAAP_HTTP_DEBUG_INFO) {
                /* libcurl names proxy users in these lines. */
                if (strstr(line, "auth using") || strstr(line, "user '"))
                    snprintf(red, sizeof red, "(authentication detail redacted)");
                else
                    snprintf(red, sizeof red, "%s", line);
            } else {
                taap_http_redact_header(line, red, sizeof red);
            }
            x->opts->debug(x->opts->debug_ctx, kind, red);
        }
        while (j < n && (data[j] == '\n' || data[j] == '\r'))
            j++;
        i = j;
    }
}

/* libcurl's progress meter → the caller's hook (upload side only). */
static int http_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    const taap_http_options *o = ud;
    return o->progress(o->progress_ctx, (uint64_t)ulnow, ultotal > 0 ? (int64_t)ultotal : -1);
}

static int http_on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    http_xfer *x = ud;
    switch (type) {
    case CURLINFO_TEXT:
        http_emit_lines(x, TAAP_HTTP_DEBUG_INFO, data, size);
        break;
    case CURLINFO_HEADER_OUT:
        http_emit_lines(x, TAAP_HTTP_DEBUG_HEADER_OUT, data, size);
        break;
    case CURLINFO_HEADER_IN:
        http_emit_lines(x, TAAP_HTTP_DEBUG_HEADER_IN, data, size);
        break;
    default: /* bodies are never shown: they may hold tokens */
        break;
    }
    return 0;
}

static int http_classify(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return TAAP_HTTP_FAIL_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return TAAP_HTTP_FAIL_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return TAAP_HTTP_FAIL_TLS;
    default:
        return TAAP_HTTP_FAIL_OTHER;
    }
}

static int http_is_url(const char *t)
{
    return taap_ascii_ncasecmp(t, "http://", 7) == 0 || taap_ascii_ncasecmp(t, "https://", 8) == 0;
}

static double http_ms(CURL *h, CURLINFO what)
{
    curl_off_t us = 0;
    curl_easy_getinfo(h, what, &us);
    return (double)us / 1000.0;
}

/* One request on handle h (reset first: only its connections carry over). */
static taap_code http_perform_on(CURL *h, const taap_request *req, const taap_http_options *opts,
                                 FILE *body_out, taap_http_response **resp, int *transport_code,
                                 taap_error *err)
{
    taap_http_options defaults;
    if (resp)
        *resp = NULL;
    if (transport_code)
        *transport_code = TAAP_HTTP_FAIL_NONE;
    if (!req || !resp || !req->method || !req->target)
        return taap_fail(err, TAAP_E_USAGE, "taap_http_perform: request, method, target and resp are required");
    if (!opts) {
        taap_http_options_init(&defaults);
        opts = &defaults;
    }
    if (!http_is_url(req->target))
        return taap_fail(err, TAAP_E_USAGE, "'%s' is not an http:// or https:// URL", req->target);
    for (const char *m = req->method; *m; m++)
        if (!taap_is_tchar((unsigned char)*m))
            return taap_fail(err, TAAP_E_USAGE, "'%s' is not a valid HTTP method", req->method);
    if (!*req->method)
        return taap_fail(err, TAAP_E_USAGE, "empty HTTP method");

    taap_code rc = TAAP_OK;
    http_xfer x;
    memset(&x, 0, sizeof x);
    x.opts = opts;
    x.out = body_out;
    x.fd = -1;
    x.max_body = opts->max_response ? opts->max_response : HTTP_DEFAULT_MAX_RESPONSE;
    x.resp = calloc(1, sizeof *x.resp);
    struct curl_slist *hdrs = NULL, *cto = NULL;
    curl_easy_reset(h);
    x.h = h;
    if (!x.resp) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory starting an HTTP request");
        goto done;
    }

    for (size_t i = 0; i < req->n_headers; i++) {
        const char *n = req->headers[i].name, *v = req->headers[i].value ? req->headers[i].value : "";
        if (!n || !*n || strpbrk(n, ":\r\n") || strpbrk(v, "\r\n")) {
            rc = taap_fail(err, TAAP_E_USAGE, "header %zu: a name must be non-empty without ':' and "
                           "values may not contain line breaks", i + 1);
            goto done;
        }
        size_t l = strlen(n) + strlen(v) + 3;
        char *line = malloc(l);
        if (!line) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            goto done;
        }
        /* "Name;" is libcurl's way to send a header with an empty value. */
        if (*v)
            snprintf(line, l, "%s: %s", n, v);
        else
            snprintf(line, l, "%s;", n);
        struct curl_slist *nh = curl_slist_append(hdrs, line);
        free(line);
        if (!nh) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            goto done;
        }
        hdrs = nh;
    }
    /* The PoP covers the exact body; a 100-continue round trip only adds latency. */
    struct curl_slist *nh = curl_slist_append(hdrs, "Expect:");
    if (!nh) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    hdrs = nh;
    /* Sent as given: a body without a Content-Type header goes without one
     * (libcurl would invent application/x-www-form-urlencoded for a POST). */
    int has_ct = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        has_ct |= taap_ascii_casecmp(req->headers[i].name, "Content-Type") == 0;
    if (!has_ct) {
        if (!(nh = curl_slist_append(hdrs, "Content-Type:"))) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            goto done;
        }
        hdrs = nh;
    }
    for (size_t i = 0; i < opts->n_connect_to; i++) {
        struct curl_slist *nc = curl_slist_append(cto, opts->connect_to[i]);
        if (!nc) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            goto done;
        }
        cto = nc;
    }

    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, req->target);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 30000L);
    if (opts->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, opts->timeout_ms);
    if (opts->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, opts->cacert);
    if (opts->client_cert)
        curl_easy_setopt(h, CURLOPT_SSLCERT, opts->client_cert);
    if (opts->client_key)
        curl_easy_setopt(h, CURLOPT_SSLKEY, opts->client_key);
    if (opts->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (cto)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, cto);
    if (opts->no_proxy)
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    if (opts->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, opts->max_redirects > 0 ? opts->max_redirects : 10L);
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (opts->compressed)
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (opts->progress) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)opts);
    }
    if (opts->debug) {
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, http_on_debug);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, &x);
    }

    const taap_body *b = &req->body;
    int is_post = strcmp(req->method, "POST") == 0;
    switch (b->kind) {
    case TAAP_BODY_NONE:
        if (strcmp(req->method, "GET") == 0) {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(req->method, "HEAD") == 0) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (is_post) {
            /* An empty POST still says Content-Length: 0. */
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        }
        break;
    case TAAP_BODY_MEMORY:
        if (b->len < 0 || (b->len > 0 && !b->data)) {
            rc = taap_fail(err, TAAP_E_USAGE, "memory body without data or with a negative length");
            goto done;
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->len ? b->data : "");
        if (!is_post)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        break;
    case TAAP_BODY_FILE: {
        if (!b->path) {
            rc = taap_fail(err, TAAP_E_USAGE, "file body without a path");
            goto done;
        }
        x.fd = open(b->path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (x.fd < 0 || fstat(x.fd, &st) != 0) {
            rc = taap_fail(err, TAAP_E_IO, "%s: %s", b->path, strerror(errno));
            goto done;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = taap_fail(err, TAAP_E_IO, "%s: not a regular file (use a callback body for pipes)", b->path);
            goto done;
        }
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, http_on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, http_on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
        if (!is_post)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        break;
    }
    case TAAP_BODY_CALLBACK:
        if (!b->read) {
            rc = taap_fail(err, TAAP_E_USAGE, "callback body without a read function");
            goto done;
        }
        x.read = b->read;
        x.read_ctx = b->read_ctx;
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, http_on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        if (b->len >= 0)
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
        if (!is_post)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        break;
    default:
        rc = taap_fail(err, TAAP_E_USAGE, "unknown body kind %d", (int)b->kind);
        goto done;
    }

    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (x.too_big)
            rc = taap_fail(err, TAAP_E_RESPONSE, "response body larger than the %zu-byte limit "
                           "(write it to a file instead)", x.max_body);
        else if (x.write_failed)
            rc = taap_fail(err, TAAP_E_IO, "writing the response body failed: %s", strerror(errno));
        else if (x.read_failed)
            rc = taap_fail(err, TAAP_E_IO, "reading the request body failed while sending");
        else if (x.header_overflow)
            rc = taap_fail(err, TAAP_E_RESPONSE, "response headers larger than %u bytes or more "
                           "than %d headers", HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADERS);
        else {
            if (transport_code)
                *transport_code = http_classify(cc);
            rc = taap_fail(err, TAAP_E_HTTP, "%s: %s", req->target,
                           errbuf[0] ? errbuf : curl_easy_strerror(cc));
        }
        goto done;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    x.resp->status = status;
    curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &x.resp->redirects);
    x.resp->dns_ms = http_ms(h, CURLINFO_NAMELOOKUP_TIME_T);
    x.resp->connect_ms = http_ms(h, CURLINFO_CONNECT_TIME_T);
    x.resp->tls_ms = http_ms(h, CURLINFO_APPCONNECT_TIME_T);
    x.resp->ttfb_ms = http_ms(h, CURLINFO_STARTTRANSFER_TIME_T);
    x.resp->total_ms = http_ms(h, CURLINFO_TOTAL_TIME_T);
    x.resp->body_streamed = x.out != NULL && !(opts->capture_errors && status >= 400);
    if (!x.resp->body) {
        x.resp->body = calloc(1, 1);
        if (!x.resp->body) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            goto done;
        }
    }
    if (body_out && fflush(body_out) != 0) {
        rc = taap_fail(err, TAAP_E_IO, "writing the response body failed: %s", strerror(errno));
        goto done;
    }
    *resp = x.resp;
    x.resp = NULL;

done:
    /* The handle points at this call's lists, buffers and callbacks: drop
     * them all (its connections stay open for the next request). */
    curl_easy_reset(h);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(cto);
    if (x.fd >= 0)
        close(x.fd);
    taap_http_response_free(x.resp);
    return rc;
}

/* ---- sessions ---------------------------------------------------------------- */

struct taap_http_session {
    CURL *h;
};

static taap_code http_ready(taap_error *err)
{
    pthread_once(&http_once, http_global_init);
    if (http_global_rc != CURLE_OK)
        return taap_fail(err, TAAP_E_HTTP, "libcurl could not initialise: %s",
                         curl_easy_strerror(http_global_rc));
    return TAAP_OK;
}

taap_code taap_http_session_new(taap_http_session **out, taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_http_session_new: out is required");
    *out = NULL;
    taap_code rc = http_ready(err);
    if (rc != TAAP_OK)
        return rc;
    taap_http_session *s = calloc(1, sizeof *s);
    if (!s || !(s->h = curl_easy_init())) {
        free(s);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory starting an HTTP session");
    }
    *out = s;
    return TAAP_OK;
}

void taap_http_session_free(taap_http_session *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->h);
    free(s);
}

taap_code taap_http_session_perform(taap_http_session *s, const taap_request *req,
                                    const taap_http_options *opts, FILE *body_out,
                                    taap_http_response **resp, int *transport_code,
                                    taap_error *err)
{
    if (!s)
        return taap_fail(err, TAAP_E_USAGE, "taap_http_session_perform: no session");
    return http_perform_on(s->h, req, opts, body_out, resp, transport_code, err);
}

taap_code taap_http_perform(const taap_request *req, const taap_http_options *opts,
                            FILE *body_out, taap_http_response **resp, int *transport_code,
                            taap_error *err)
{
    if (resp)
        *resp = NULL;
    if (transport_code)
        *transport_code = TAAP_HTTP_FAIL_NONE;
    taap_http_session *s = NULL;
    taap_code rc = taap_http_session_new(&s, err);
    if (rc == TAAP_OK)
        rc = taap_http_session_perform(s, req, opts, body_out, resp, transport_code, err);
    taap_http_session_free(s);
    return rc;
}
