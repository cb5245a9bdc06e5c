/* upstream.c — see upstream.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "upstream.h"

#define HEAD_MAX 65536

typedef struct conn {
    int fd;
    char head[HEAD_MAX + 1];
    size_t have; /* bytes in head (may include the start of the body) */
} conn;

/* Read until the end of the header block; returns the header length or -1. */
static long read_head(conn *c)
{
    for (;;) {
        c->head[c->have] = '\0';
        char *end = strstr(c->head, "\r\n\r\n");
        if (end)
            return (long)(end - c->head) + 4;
        if (c->have == HEAD_MAX)
            return -1;
        ssize_t n = recv(c->fd, c->head + c->have, HEAD_MAX - c->have, 0);
        if (n <= 0)
            return -1;
        c->have += (size_t)n;
    }
}

/* Read exactly n body bytes (some may already be in head) into the digest. */
static int read_exact(conn *c, size_t *pos, size_t n, EVP_MD_CTX *md, size_t *total)
{
    char buf[65536];
    while (n > 0) {
        size_t k;
        if (*pos < c->have) {
            k = c->have - *pos < n ? c->have - *pos : n;
            EVP_DigestUpdate(md, c->head + *pos, k);
            *pos += k;
        } else {
            ssize_t got = recv(c->fd, buf, n < sizeof buf ? n : sizeof buf, 0);
            if (got <= 0)
                return -1;
            k = (size_t)got;
            EVP_DigestUpdate(md, buf, k);
        }
        n -= k;
        *total += k;
    }
    return 0;
}

/* One line (for chunk sizes) from the buffered head or the socket. */
static int read_line(conn *c, size_t *pos, char *line, size_t cap)
{
    size_t o = 0;
    for (;;) {
        char ch;
        if (*pos < c->have) {
            ch = c->head[(*pos)++];
        } else if (recv(c->fd, &ch, 1, 0) != 1) {
            return -1;
        }
        if (ch == '\n')
            break;
        if (o + 1 < cap && ch != '\r')
            line[o++] = ch;
    }
    line[o] = '\0';
    return 0;
}

static void serve_one(up_server *u, int fd)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->fd = fd;
    long hl = read_head(c);
    up_request r;
    memset(&r, 0, sizeof r);
    if (hl < 0) {
        free(c);
        return;
    }
    char *line_end = strstr(c->head, "\r\n");
    char *sp1 = memchr(c->head, ' ', (size_t)(line_end - c->head));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (sp1 && sp2) {
        snprintf(r.method, sizeof r.method, "%.*s", (int)(sp1 - c->head), c->head);
        snprintf(r.target, sizeof r.target, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    }
    snprintf(r.headers, sizeof r.headers, "%.*s", (int)(hl - (line_end + 2 - c->head)),
             line_end + 2);
    char v[64];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    size_t pos = (size_t)hl, total = 0;
    int ok = 0;
    if (up_header(&r, "Content-Length", v, sizeof v)) {
        ok = read_exact(c, &pos, (size_t)strtoull(v, NULL, 10), md, &total) == 0;
    } else if (up_header(&r, "Transfer-Encoding", v, sizeof v)) {
        char line[64];
        for (ok = 1; ok;) {
            if (read_line(c, &pos, line, sizeof line) != 0) {
                ok = 0;
                break;
            }
            size_t n = (size_t)strtoull(line, NULL, 16);
            if (n == 0) {
                ok = read_line(c, &pos, line, sizeof line) == 0;
                break;
            }
            ok = read_exact(c, &pos, n, md, &total) == 0 &&
                 read_line(c, &pos, line, sizeof line) == 0;
        }
    } else {
        ok = 1;
    }
    unsigned char d[32];
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(r.body_sha256 + 2 * i, 3, "%02x", d[i]);
    r.body_len = total;
    if (ok) {
        pthread_mutex_lock(&u->mu);
        u->count++;
        u->last = r;
        pthread_mutex_unlock(&u->mu);
        static const char resp[] =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            "Connection: close\r\n\r\nok";
        send(fd, resp, sizeof resp - 1, MSG_NOSIGNAL);
    }
    free(c);
}

static void *loop(void *arg)
{
    up_server *u = arg;
    for (;;) {
        struct pollfd p = {u->fd, POLLIN, 0};
        int n = poll(&p, 1, 100);
        pthread_mutex_lock(&u->mu);
        int stop = u->stop;
        pthread_mutex_unlock(&u->mu);
        if (stop)
            return NULL;
        if (n <= 0)
            continue;
        int fd = accept(u->fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_one(u, fd);
        close(fd);
    }
}

int up_start(up_server *u)
{
    memset(u, 0, sizeof *u);
    pthread_mutex_init(&u->mu, NULL);
    u->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (u->fd < 0 || bind(u->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(u->fd, 128) != 0 ||
        getsockname(u->fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    u->port = ntohs(a.sin_port);
    return pthread_create(&u->thread, NULL, loop, u) == 0 ? 0 : -1;
}

void up_stop(up_server *u)
{
    pthread_mutex_lock(&u->mu);
    u->stop = 1;
    pthread_mutex_unlock(&u->mu);
    pthread_join(u->thread, NULL);
    close(u->fd);
    pthread_mutex_destroy(&u->mu);
}

unsigned long up_count(up_server *u)
{
    pthread_mutex_lock(&u->mu);
    unsigned long n = u->count;
    pthread_mutex_unlock(&u->mu);
    return n;
}

void up_last(up_server *u, up_request *out)
{
    pthread_mutex_lock(&u->mu);
    *out = u->last;
    pthread_mutex_unlock(&u->mu);
}

int up_header(const up_request *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = r->headers;
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            eol = p + strlen(p);
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            snprintf(out, cap, "%.*s", (int)vl, v);
            return 1;
        }
        p = *eol ? eol + 2 : eol;
    }
    return 0;
}
