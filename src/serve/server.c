/*
 * server.c — the HTTP transport: libmicrohttpd (thread pool + epoll), request
 * accumulation with early 431/413 refusals, the access log, draining
 * shutdown. It turns a request into an srv_request for routes.c and an
 * srv_response back into bytes; nothing else here knows the routes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "console.h"
#include "serve_state.h"
#include "util.h"



/* ---- libmicrohttpd ----------------------------------------------------------- */

/* ---- the header deadline ------------------------------------------------------ */

/*
 * libmicrohttpd's connection timeout is an idle timer: every byte resets it,
 * so a client trickling one header byte a second holds its slot for ever.
 * The deadline below is a total: a connection gets header_timeout seconds
 * from the moment it opens (or its previous response was sent) until its
 * header section is complete. A reaper thread shuts down the sockets that
 * miss it; libmicrohttpd then sees the end of the stream and frees the slot.
 * Bodies stay under the idle timer (request_timeout).
 *
 * Each connection's entry is its MHD socket context, on a list under
 * conn_mu. MHD closes the socket only after the CLOSED notification, which
 * unlinks the entry under the same mutex, so the reaper never shuts down a
 * descriptor that has been closed and reused.
 */
typedef struct srv_conn {
    struct srv_conn *prev, *next;
    int fd;
    int64_t deadline_ms;   /* monotonic; 0 = headers received, no deadline */
} srv_conn;

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void conn_set_deadline(taap_server *s, srv_conn *c, int64_t deadline_ms)
{
    pthread_mutex_lock(&s->conn_mu);
    c->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&s->conn_mu);
}

static srv_conn *conn_of(struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void notify_conn(void *cls, struct MHD_Connection *con, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    taap_server *s = cls;
    srv_conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = ci ? calloc(1, sizeof *c) : NULL;
        if (!c)
            return; /* no deadline for this one: the idle timer still applies */
        c->fd = ci->connect_fd;
        c->deadline_ms = mono_ms() + (int64_t)s->o.header_timeout * 1000;
        pthread_mutex_lock(&s->conn_mu);
        c->next = s->conns_open;
        if (c->next)
            c->next->prev = c;
        s->conns_open = c;
        pthread_mutex_unlock(&s->conn_mu);
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    pthread_mutex_lock(&s->conn_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns_open = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conn_mu);
    free(c);
    *socket_context = NULL;
}

static int deadline_passed(const srv_conn *c, int64_t now)
{
    return c->deadline_ms && now > c->deadline_ms;
}

/* The log line is written before the sockets are shut down: a client (or a
 * test) that sees its connection close can already read why. */
static void *reaper(void *arg)
{
    taap_server *s = arg;
    struct timespec step = {0, 100 * 1000 * 1000};
    while (!atomic_load(&s->stopping)) {
        nanosleep(&step, NULL);
        int64_t now = mono_ms();
        int cut = 0;
        pthread_mutex_lock(&s->conn_mu);
        for (srv_conn *c = s->conns_open; c; c = c->next)
            cut += deadline_passed(c, now);
        if (cut && s->o.access_log) {
            flockfile(s->o.access_log);
            fprintf(s->o.access_log, "- - - - (%d connection%s cut: no complete header section "
                    "within %u s)\n", cut, cut == 1 ? "" : "s", s->o.header_timeout);
            fflush(s->o.access_log);
            funlockfile(s->o.access_log);
        }
        for (srv_conn *c = s->conns_open; c; c = c->next)
            if (deadline_passed(c, now)) {
                shutdown(c->fd, SHUT_RDWR);
                c->deadline_ms = 0;
            }
        pthread_mutex_unlock(&s->conn_mu);
    }
    return NULL;
}

/* Per-request state (MHD's con_cls), created by the URI log callback so the
 * raw request target is kept exactly as sent (MHD unescapes its `url`). */
typedef struct conn_req {
    taap_server *s;
    struct timespec t0;
    char *target;
    char method[24];
    int started;
    int responded;
    int logged;            /* the access-log line is written (once) */
    int too_big;
    unsigned status;
    unsigned char *body;
    size_t len, cap, limit;
    size_t discarded;
    EVP_MD_CTX *sink;      /* the testing sink: hash as the body arrives, keep nothing */
    uint64_t sunk;
} conn_req;

/* RFC 9112 §3.2.2: a server must accept the absolute form
 * ("GET http://host/path"); routing and the PoP's `uri` (SPEC §1.1: no
 * scheme, no host) both use the origin form, so drop "scheme://authority". */
static char *origin_form(const char *uri)
{
    size_t skip = 0;
    if (taap_ascii_ncasecmp(uri, "http://", 7) == 0)
        skip = 7;
    else if (taap_ascii_ncasecmp(uri, "https://", 8) == 0)
        skip = 8;
    if (!skip)
        return strdup(uri);
    const char *p = uri + skip + strcspn(uri + skip, "/?");
    if (*p == '/')
        return strdup(p);
    size_t n = strlen(p); /* "" or "?query": the path is "/" */
    char *o = malloc(n + 2);
    if (o) {
        o[0] = '/';
        memcpy(o + 1, p, n + 1);
    }
    return o;
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)con;
    taap_server *s = cls;
    conn_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->target = uri ? origin_form(uri) : strdup("");
    if (!r->target) {
        free(r);
        return NULL;
    }
    return r;
}

static void log_request(taap_server *s, conn_req *r, const char *note)
{
    if (!s->o.access_log)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
    /* Path only: the query is dropped (it may carry secrets), control and
     * non-ASCII bytes are escaped, and the line is bounded. */
    char path[256];
    size_t j = 0;
    for (const char *p = r->target ? r->target : ""; *p && *p != '?' && j + 5 < sizeof path; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x21 || c > 0x7e || c == '"')
            j += (size_t)snprintf(path + j, sizeof path - j, "\\x%02x", c);
        else
            path[j++] = (char)c;
    }
    path[j] = '\0';
    const char *q = r->target && strchr(r->target, '?') ? "?…" : "";
    char method[24];
    size_t m = 0;
    for (const char *p = r->method; *p && m + 1 < sizeof method; p++)
        method[m++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
    method[m] = '\0';
    char st[16];
    if (r->status)
        snprintf(st, sizeof st, "%u", r->status);
    else
        snprintf(st, sizeof st, "-");
    flockfile(s->o.access_log);
    fprintf(s->o.access_log, "%s %s%s %s %.2fms%s%s\n", m ? method : "-", path, q, st, ms,
            note ? " " : "", note ? note : "");
    fflush(s->o.access_log);
    funlockfile(s->o.access_log);
}

static void done_cb(void *cls, struct MHD_Connection *con, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    taap_server *s = cls;
    conn_req *r = *con_cls;
    if (!r)
        return;
    const char *note = NULL;
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
        note = "(timeout)";
    else if (toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT)
        note = "(client closed)";
    else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->responded)
        note = "(aborted)";
    if (!r->logged)
        log_request(s, r, note);
    /* Kept alive: the next request's headers get the idle time plus the
     * header deadline, counted from now. */
    srv_conn *c = conn_of(con);
    if (c)
        conn_set_deadline(s, c,
                          mono_ms() + (int64_t)(s->o.request_timeout + s->o.header_timeout) * 1000);
    free(r->target);
    free(r->body);
    EVP_MD_CTX_free(r->sink);
    if (r->started)
        atomic_fetch_sub(&s->inflight, 1);
    free(r);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    taap_server *s = cls;
    if (!s->o.log)
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    fprintf(s->o.log, "taap serve: http: %s\n", buf);
}

static enum MHD_Result queue(struct MHD_Connection *con, conn_req *r, srv_response *rs)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        rs->body_len, rs->body ? rs->body : (void *)"", rs->body ? MHD_RESPMEM_MUST_FREE
                                                                 : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        srv_response_free(rs);
        return MHD_NO;
    }
    rs->body = NULL; /* owned by MHD now */
    if (rs->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    if (rs->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, rs->www_authenticate);
    if (rs->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rs->allow);
    if (rs->no_store) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_PRAGMA, "no-cache");
    }
    if (rs->set_cookie)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, rs->set_cookie);
    for (size_t i = 0; rs->console && console_security_headers[i][0]; i++)
        MHD_add_response_header(resp, console_security_headers[i][0], console_security_headers[i][1]);
    if (rs->close || atomic_load(&r->s->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = rs->status;
    r->responded = 1;
    /* Log before the response leaves: a client that has its answer can rely
     * on the line being there (tests count token requests in the log). */
    log_request(r->s, r, rs->log_note);
    r->logged = 1;
    enum MHD_Result ret = MHD_queue_response(con, rs->status, resp);
    MHD_destroy_response(resp);
    srv_response_free(rs);
    return ret;
}

typedef struct hdr_collect {
    taap_header *v;
    size_t n;
    size_t bytes;
    int overflow;
    int bad_byte;          /* a CR, LF or NUL inside a field name or value (RFC 9112 §2.2) */
    size_t n_length;       /* Content-Length fields seen */
    const char *length;    /* the first Content-Length value */
    int length_differs;    /* a later Content-Length disagrees with the first */
    int bad_name;          /* a field name that is not a token (e.g. "X-Foo " before ':') */
    size_t n_te;           /* Transfer-Encoding fields seen */
    char te[128];          /* their values joined with ',' (truncation is flagged) */
    int te_long;
} hdr_collect;

/* MHD 0.9.75 splits lines at LF only, so a bare CR stays inside a value
 * (RFC 9112 §2.2: invalid). A NUL cannot be caught here: MHD already cut
 * the value at it (value_size counts only the bytes before it); the size
 * check is for MHD versions that pass it through. */
static int field_bytes_ok(const char *p, size_t n)
{
    return p == NULL || (strlen(p) == n && !memchr(p, '\r', n) && !memchr(p, '\n', n));
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    hdr_collect *c = cls;
    c->bytes += key_size + value_size + 4;
    if (!field_bytes_ok(key, key_size) || !field_bytes_ok(value, value_size))
        c->bad_byte = 1;
    for (size_t i = 0; key && i < key_size; i++)
        if (!taap_is_tchar((unsigned char)key[i]))
            c->bad_name = 1;
    if (key && taap_ascii_casecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        size_t used = strlen(c->te);
        int n = snprintf(c->te + used, sizeof c->te - used, "%s%s", c->n_te++ ? "," : "",
                         value ? value : "");
        if (n < 0 || (size_t)n >= sizeof c->te - used)
            c->te_long = 1;
    }
    if (key && taap_ascii_casecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (c->n_length++ == 0)
            c->length = value ? value : "";
        else if (strcmp(c->length, value ? value : "") != 0)
            c->length_differs = 1;
    }
    if (c->n >= SRV_MAX_HEADERS) {
        c->overflow = 1;
        return MHD_YES;
    }
    c->v[c->n].name = key;
    c->v[c->n].value = value ? value : "";
    c->n++;
    return MHD_YES;
}

/* The next element of a comma-separated list, OWS trimmed: *p advances. */
static size_t list_element(const char **p, const char **start)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strcspn(s, ",");
    *p = s[n] ? s + n + 1 : s + n;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *start = s;
    return n;
}

/*
 * RFC 9112 framing rules libmicrohttpd 0.9.75 does not enforce, checked as
 * soon as the header section is complete (the first access call, before a
 * body byte is handed over) and answered with Connection: close, so nothing
 * the client sent after this request is ever read as another request:
 *  - a field name with whitespace or a separator before the colon (§5.1:
 *    "X-Foo : bar"; MHD would keep "Transfer-Encoding " and ignore it) → 400;
 *  - Transfer-Encoding together with Content-Length (§6.1: a proxy framing
 *    by the length sees another request than we would: smuggling) → 400;
 *  - Transfer-Encoding on HTTP/1.0 (§6.1: the framing is faulty) → 400;
 *  - a coding other than chunked (not implemented here) → 501; chunked
 *    more than once, or an empty list → 400.
 * Returns 1 with rs filled when the request is refused.
 */
static int framing_refused(const hdr_collect *hc, const char *version, srv_response *rs)
{
    if (hc->bad_name) {
        srv_error(rs, 400, NULL,
                  "a header field name holds whitespace or a separator (nothing may stand "
                  "between the name and its colon: RFC 9112 section 5.1)");
    } else if (hc->n_te == 0) {
        return 0;
    } else if (hc->n_length > 0) {
        srv_error(rs, 400, NULL,
                  "both Content-Length and Transfer-Encoding: the body's length is ambiguous "
                  "(RFC 9112 section 6.1); send one of them");
    } else if (version && strcmp(version, MHD_HTTP_VERSION_1_1) != 0) {
        srv_error(rs, 400, NULL, "Transfer-Encoding needs HTTP/1.1; send Content-Length");
    } else {
        const char *p = hc->te, *el = NULL;
        size_t chunked = 0, other = 0, len;
        char unknown[64] = "";
        while (*p) {
            len = list_element(&p, &el);
            if (len == 7 && taap_ascii_ncasecmp(el, "chunked", 7) == 0) {
                chunked++;
            } else if (len && !other++) {
                snprintf(unknown, sizeof unknown, "%.*s", (int)(len < 40 ? len : 40), el);
                srv_sanitize_desc(unknown);
            }
        }
        if (other || hc->te_long)
            srv_error(rs, 501, NULL,
                      "Transfer-Encoding '%s' is not implemented: send the body with "
                      "Content-Length or Transfer-Encoding: chunked",
                      hc->te_long ? "(too long)" : unknown);
        else if (chunked != 1)
            srv_error(rs, 400, NULL, "Transfer-Encoding must be exactly 'chunked' (it was '%s')",
                      chunked ? "chunked, chunked" : "");
        else
            return 0;
    }
    rs->close = 1;
    return 1;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)url;
    taap_server *s = cls;
    conn_req *r = *con_cls;
    if (!r)
        return MHD_NO; /* out of memory in uri_cb */
    if (r->responded) {
        /* A refusal was queued early; swallow whatever body still arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    srv_response rs = {0};
    if (!r->started) {
        /* In flight from here (headers complete) until done_cb: what a
         * draining stop waits for. */
        r->started = 1;
        atomic_fetch_add(&s->inflight, 1);
        srv_conn *c = conn_of(con);
        if (c)
            conn_set_deadline(s, c, 0); /* the header section is complete */
        snprintf(r->method, sizeof r->method, "%s", method);
        taap_header hv[SRV_MAX_HEADERS];
        hdr_collect hc = {.v = hv};
        MHD_get_connection_values_n(con, MHD_HEADER_KIND, collect_header, &hc);
        size_t line = strlen(method) + strlen(r->target) + 12;
        if (hc.overflow || hc.bytes + line > s->o.max_header_bytes) {
            srv_error(&rs, 431, NULL,
                      "request header section is %zu bytes in %zu fields; the limit is %zu bytes "
                      "and %d fields",
                      hc.bytes + line, hc.n + (size_t)hc.overflow, s->o.max_header_bytes,
                      SRV_MAX_HEADERS);
            rs.close = 1;
            return queue(con, r, &rs);
        }
        if (hc.bad_byte) {
            srv_error(&rs, 400, NULL, "a header field holds a bare CR, LF or NUL byte");
            rs.close = 1;
            return queue(con, r, &rs);
        }
        if (framing_refused(&hc, version, &rs))
            return queue(con, r, &rs);
        if (hc.length_differs) {
            /* RFC 9112 §6.3: conflicting lengths make the framing unknowable
             * (request smuggling); identical repeats are tolerated. */
            srv_error(&rs, 400, NULL, "%zu Content-Length fields with different values",
                      hc.n_length);
            rs.close = 1;
            return queue(con, r, &rs);
        }
        char path[8192];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(r->target, "?"), r->target);
        r->limit = srv_body_limit(s, method, path);
        if (srv_is_sink(s, method, path)) {
            r->sink = EVP_MD_CTX_new();
            if (!r->sink || EVP_DigestInit_ex(r->sink, taap_sha256(), NULL) != 1)
                return MHD_NO;
        }
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && *end == '\0' && v > r->limit) {
                srv_error(&rs, 413, NULL,
                          "request body is %llu bytes; this endpoint accepts at most %zu", v,
                          r->limit);
                rs.close = 1;
                return queue(con, r, &rs);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->sink) {
            r->sunk += n;
            return EVP_DigestUpdate(r->sink, upload_data, n) == 1 ? MHD_YES : MHD_NO;
        }
        if (r->too_big || r->len + n > r->limit) {
            /* MHD cannot answer in the middle of an upload: drop the body
             * and answer 413 at the end, but do not read more than a few
             * times the limit from a client that will not stop. */
            r->too_big = 1;
            r->discarded += n;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            return r->discarded > 4 * (r->limit + 65536) ? MHD_NO : MHD_YES;
        }
        if (r->len + n > r->cap) {
            size_t cap = r->cap ? r->cap : 1024;
            while (cap < r->len + n)
                cap *= 2;
            unsigned char *b = realloc(r->body, cap);
            if (!b)
                return MHD_NO;
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        return MHD_YES;
    }
    if (r->too_big) {
        srv_error(&rs, 413, NULL, "request body exceeds %zu bytes, the limit for this endpoint",
                  r->limit);
        rs.close = 1;
        return queue(con, r, &rs);
    }
    /* Final call: the whole request is here. */
    taap_header hv[SRV_MAX_HEADERS];
    hdr_collect hc = {.v = hv};
    MHD_get_connection_values_n(con, MHD_HEADER_KIND, collect_header, &hc);
    size_t plen = strcspn(r->target, "?");
    char *path = strndup(r->target, plen);
    if (!path)
        return MHD_NO;
    srv_request rq = {0};
    rq.method = method;
    rq.target = r->target;
    rq.path = path;
    rq.query = r->target[plen] == '?' ? r->target + plen + 1 : NULL;
    rq.headers = hv;
    rq.n_headers = hc.n;
    rq.body = r->body;
    rq.body_len = r->len;
    if (r->sink) {
        rq.streamed = 1;
        rq.streamed_len = r->sunk;
        EVP_DigestFinal_ex(r->sink, rq.streamed_sha256, NULL);
    }
    srv_dispatch(s, &rq, &rs);
    free(path);
    return queue(con, r, &rs);
}

static taap_code write_port_file(taap_server *s, taap_error *err)
{
    if (!s->port_file)
        return TAAP_OK;
    char tmp[4200], text[16];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", s->port_file, (long)getpid());
    int len = snprintf(text, sizeof text, "%u\n", s->port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)len) != len || close(fd) != 0 ||
        rename(tmp, s->port_file) != 0) {
        int e = errno;
        unlink(tmp);
        return taap_fail(err, TAAP_E_IO, "cannot write port file %s: %s", s->port_file, strerror(e));
    }
    return TAAP_OK;
}

taap_code taap_serve_start(taap_server *s, taap_error *err)
{
    if (s->mhd)
        return taap_fail(err, TAAP_E_USAGE, "server already started");
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%u", s->o.port);
    if (getaddrinfo(s->listen, port, &hints, &ai) != 0 || !ai)
        return taap_fail(err, TAAP_E_USAGE, "--listen %s is not a numeric IPv4 or IPv6 address",
                    s->listen);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* MHD's own per-connection pool must hold the largest header section we
     * accept plus working room; above that MHD answers 431 itself. */
    size_t memlimit = s->o.max_header_bytes * 2 + 16384;
    /* One address never gets every slot: at most half of them. */
    unsigned per_client = s->o.max_connections_per_client;
    if (s->o.max_connections >= 2 && per_client > s->o.max_connections / 2)
        per_client = s->o.max_connections / 2;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->o.threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->o.max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_client, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->o.request_timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)memlimit, NULL},
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->o.port, NULL, NULL, access_cb, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                              MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
                              MHD_OPTION_NOTIFY_COMPLETED, done_cb, s,
                              MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
                              MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->mhd)
        return taap_fail(err, TAAP_E_SERVER, "cannot listen on %s port %u (in use, or not an address of "
                                        "this machine?)",
                    s->listen, s->o.port);
    atomic_store(&s->stopping, 0);
    if (pthread_create(&s->reaper, NULL, reaper, s) != 0) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        return taap_fail(err, TAAP_E_SERVER, "cannot start the header-deadline thread");
    }
    s->reaper_running = 1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    taap_code rc = write_port_file(s, err);
    if (rc != TAAP_OK) {
        taap_serve_stop(s);
        return rc;
    }
    return TAAP_OK;
}

void taap_serve_stop(taap_server *s)
{
    if (!s || !s->mhd)
        return;
    atomic_store(&s->stopping, 1);
    MHD_socket lsock = MHD_quiesce_daemon(s->mhd);
    /* Drain: requests already being read or handled get to finish. */
    struct timespec step = {0, 10 * 1000 * 1000};
    for (unsigned i = 0; i < s->o.drain_timeout * 100 && atomic_load(&s->inflight) > 0; i++)
        nanosleep(&step, NULL);
    MHD_stop_daemon(s->mhd);
    if (s->reaper_running) {
        pthread_join(s->reaper, NULL); /* it ends once `stopping` is set */
        s->reaper_running = 0;
    }
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    s->mhd = NULL;
}
