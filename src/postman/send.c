/*
 * send.c — the runner's HTTP sender on libcurl. One handle per worker so
 * connections are reused across requests. The runner decides every header
 * and the exact body bytes (the PoP covers them), so curl must add nothing
 * that changes them: its automatic form Content-Type and "Expect:
 * 100-continue" are suppressed.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "pm.h"

struct pm_http {
    CURL *curl;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

pm_http *pm_http_new(void)
{
    pthread_once(&curl_once, curl_init_once);
    pm_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    return h;
}

void pm_http_free(pm_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void pm_http_resp_clear(pm_http_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    pm_http_resp *r = ud;
    size_t len = size * n;
    r->total_bytes += len;
    if (r->body_len < PM_RESP_KEEP) {
        size_t take = len;
        if (r->body_len + take > PM_RESP_KEEP)
            take = PM_RESP_KEEP - r->body_len;
        char *nb = realloc(r->body, r->body_len + take + 1);
        if (!nb)
            return 0;
        r->body = nb;
        memcpy(r->body + r->body_len, data, take);
        r->body_len += take;
        r->body[r->body_len] = '\0';
    }
    return len;
}

typedef struct mem_reader {
    const char *p;
    size_t left;
    int fd;
} mem_reader;

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    mem_reader *m = ud;
    size_t cap = size * n;
    if (m->fd >= 0) {
        ssize_t got = read(m->fd, buf, cap);
        return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
    }
    size_t take = m->left < cap ? m->left : cap;
    memcpy(buf, m->p, take);
    m->p += take;
    m->left -= take;
    return take;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    mem_reader *m = ud;
    (void)m;
    (void)off;
    (void)origin;
    return CURL_SEEKFUNC_CANTSEEK;
}

int pm_http_send(pm_http *h, const pm_http_req *rq, pm_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    CURL *c = h->curl;
    curl_easy_reset(c);
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hl = NULL, *ct = NULL;
    int has_ct = 0, has_accept = 0;
    for (size_t i = 0; i < rq->n_headers; i++) {
        size_t n = strlen(rq->hnames[i]) + strlen(rq->hvalues[i]) + 3;
        char *line = malloc(n);
        if (!line)
            goto oom;
        /* "Name;" is curl's way to send a header with an empty value */
        if (rq->hvalues[i][0])
            snprintf(line, n, "%s: %s", rq->hnames[i], rq->hvalues[i]);
        else
            snprintf(line, n, "%s;", rq->hnames[i]);
        struct curl_slist *t = curl_slist_append(hl, line);
        free(line);
        if (!t)
            goto oom;
        hl = t;
        if (taap_ascii_casecmp(rq->hnames[i], "Content-Type") == 0)
            has_ct = 1;
        if (taap_ascii_casecmp(rq->hnames[i], "Accept") == 0)
            has_accept = 1;
    }
    struct curl_slist *t = curl_slist_append(hl, "Expect:");
    if (!t)
        goto oom;
    hl = t;
    if (!has_ct) {
        /* stop curl inventing application/x-www-form-urlencoded */
        if (!(t = curl_slist_append(hl, "Content-Type:")))
            goto oom;
        hl = t;
    }
    if (!has_accept) { /* Postman sends Accept: * / *; curl does too by default */
        if (!(t = curl_slist_append(hl, "Accept: */*")))
            goto oom;
        hl = t;
    }
    (void)ct;
    for (size_t i = 0; i < rq->n_connect_to; i++) {
        struct curl_slist *t2 = curl_slist_append(ct, rq->connect_to[i]);
        if (!t2)
            goto oom;
        ct = t2;
    }

    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (ct)
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, ct);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    if (rq->timeout_ms)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rq->timeout_ms ? (long)rq->timeout_ms : 30000L);
    if (rq->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (rq->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, rq->cacert);

    mem_reader mr = {NULL, 0, -1};
    int has_body = rq->body_file || rq->body_len > 0;
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
        curl_off_t size;
        if (rq->body_file) {
            mr.fd = open(rq->body_file, O_RDONLY | O_CLOEXEC);
            struct stat st;
            if (mr.fd < 0 || fstat(mr.fd, &st) != 0) {
                snprintf(resp->error, sizeof resp->error, "cannot read body file %s",
                         rq->body_file);
                if (mr.fd >= 0)
                    close(mr.fd);
                curl_slist_free_all(hl);
                curl_slist_free_all(ct);
                return -1;
            }
            size = (curl_off_t)st.st_size;
        } else {
            mr.p = rq->body;
            mr.left = rq->body_len;
            size = (curl_off_t)rq->body_len;
        }
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &mr);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, &mr);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, size);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
        if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
            strcmp(rq->method, "PATCH") == 0) {
            /* an empty body still gets Content-Length: 0 */
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
        }
    }

    CURLcode cc = curl_easy_perform(c);
    if (mr.fd >= 0)
        close(mr.fd);
    curl_off_t us = 0;
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
    resp->time_ms = (double)us / 1000.0;
    curl_slist_free_all(hl);
    curl_slist_free_all(ct);
    if (cc != CURLE_OK) {
        snprintf(resp->error, sizeof resp->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
oom:
    curl_slist_free_all(hl);
    curl_slist_free_all(ct);
    snprintf(resp->error, sizeof resp->error, "out of memory");
    return -1;
}

char *pm_url_encode_loose(const char *url)
{
    pm_buf b = {0};
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        unsigned char c = *p;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`' ||
            c == '{' || c == '}' || c == '|' || c == '\\' || c == '^') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            pm_buf_put(&b, e, 3);
        } else {
            pm_buf_put(&b, p, 1);
        }
    }
    return pm_buf_take(&b);
}
