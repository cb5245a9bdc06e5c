/*
 * ngx_http_taap_redis.c — one Redis connection per worker and replay cache,
 * driven by nginx's event loop (see ngx_http_taap_redis.h for why).
 *
 * State: a FIFO of waiting checks in the order their commands were
 * written, an output buffer, and the reply reader. Any failure — connect
 * refused, the server closing, a reply that is not Redis protocol, no
 * progress within the timeout — closes the connection and answers every
 * waiting check TAAP_E_REPLAY_STORE at once (the module then fails closed
 * or open as configured); the next check opens a new connection, so a
 * restarted Redis is picked up without a reload.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_taap_redis.h"

struct ngx_http_taap_redis_wait_s {
    ngx_queue_t queue;
    ngx_http_taap_redis_done_pt done; /* NULL once cancelled */
    void *data;
};

struct ngx_http_taap_redis_s {
    taap_replay *cache;
    ngx_addr_t addr;
    ngx_msec_t timeout;
    ngx_peer_connection_t peer;       /* peer.connection: NULL when closed */
    unsigned connecting:1;
    unsigned out_secret:1;            /* out holds the AUTH password */
    taap_replay_redis_reader *reader;
    unsigned handshake_left;          /* replies owed to AUTH/SELECT */
    ngx_uint_t generation;            /* counts connections opened */
    u_char *out;
    size_t out_len, out_sent, out_cap;
    ngx_queue_t waiting;              /* in the order the commands went out */
};

static void ngx_http_taap_redis_read(ngx_event_t *rev);
static void ngx_http_taap_redis_write(ngx_event_t *wev);

ngx_http_taap_redis_t *ngx_http_taap_redis_create(ngx_conf_t *cf, taap_replay *cache)
{
    taap_replay_redis_endpoint_info ep;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_replay_redis_endpoint(cache, &ep, &err) != TAAP_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "taap_replay: %s", err.message);
        return NULL;
    }
    ngx_http_taap_redis_t *rs = ngx_pcalloc(cf->pool, sizeof *rs);
    if (rs == NULL)
        return NULL;
    ngx_url_t u;
    ngx_memzero(&u, sizeof u);
    u_char *s = ngx_pnalloc(cf->pool, 1100);
    if (s == NULL)
        return NULL;
    u_char *e = ep.host ? ngx_snprintf(s, 1100, ngx_strchr(ep.host, ':') ? "[%s]:%d" : "%s:%d",
                                       ep.host, ep.port)
                        : ngx_snprintf(s, 1100, "unix:%s", ep.unix_path);
    u.url.data = s;
    u.url.len = (size_t)(e - s);
    u.default_port = 6379;
    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "taap_replay: cannot resolve %V%s%s", &u.url,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NULL;
    }
    rs->cache = cache;
    rs->addr = u.addrs[0];
    rs->timeout = ep.timeout_ms;
    ngx_queue_init(&rs->waiting);
    return rs;
}

/* Append wire bytes to the output buffer. */
static ngx_int_t ngx_http_taap_redis_append(ngx_http_taap_redis_t *rs, const char *p, size_t n)
{
    if (rs->out_len + n > rs->out_cap) {
        size_t cap = ngx_max(rs->out_cap * 2, rs->out_len + n + 4096);
        u_char *grown = ngx_alloc(cap, ngx_cycle->log);
        if (grown == NULL)
            return NGX_ERROR;
        if (rs->out_len)
            ngx_memcpy(grown, rs->out, rs->out_len);
        if (rs->out) {
            ngx_explicit_memzero(rs->out, rs->out_cap);
            ngx_free(rs->out);
        }
        rs->out = grown;
        rs->out_cap = cap;
    }
    ngx_memcpy(rs->out + rs->out_len, p, n);
    rs->out_len += n;
    return NGX_OK;
}

/* Close the connection and answer every waiting check with `err`. */
static void ngx_http_taap_redis_fail(ngx_http_taap_redis_t *rs, const taap_error *err)
{
    if (rs->peer.connection) {
        ngx_close_connection(rs->peer.connection);
        rs->peer.connection = NULL;
    }
    rs->connecting = 0;
    taap_replay_redis_reader_free(rs->reader);
    rs->reader = NULL;
    rs->handshake_left = 0;
    if (rs->out)
        ngx_explicit_memzero(rs->out, rs->out_len);
    rs->out_len = rs->out_sent = 0;
    rs->out_secret = 0;
    /* Detach first: a done() may queue a new check (a new connection). */
    ngx_queue_t failed;
    ngx_queue_init(&failed);
    if (!ngx_queue_empty(&rs->waiting)) {
        failed = rs->waiting;
        failed.next->prev = &failed;
        failed.prev->next = &failed;
        ngx_queue_init(&rs->waiting);
    }
    while (!ngx_queue_empty(&failed)) {
        ngx_queue_t *q = ngx_queue_head(&failed);
        ngx_queue_remove(q);
        ngx_http_taap_redis_wait_t *w = ngx_queue_data(q, ngx_http_taap_redis_wait_t, queue);
        if (w->done)
            w->done(w->data, TAAP_E_REPLAY_STORE, err);
        ngx_free(w);
    }
}

static void ngx_http_taap_redis_fail_with(ngx_http_taap_redis_t *rs, const char *what,
                                          const char *why)
{
    taap_error err = TAAP_ERROR_INIT;
    taap_replay_redis_fail(rs->cache, what, why, &err);
    ngx_http_taap_redis_fail(rs, &err);
}

/* Wait for replies with a deadline while anything is outstanding. */
static void ngx_http_taap_redis_arm(ngx_http_taap_redis_t *rs)
{
    ngx_event_t *rev = rs->peer.connection->read;
    if (!ngx_queue_empty(&rs->waiting) || rs->handshake_left) {
        ngx_add_timer(rev, rs->timeout);
    } else if (rev->timer_set) {
        ngx_del_timer(rev);
    }
}

/* Write what is buffered; the rest when the socket can take it. */
static void ngx_http_taap_redis_flush(ngx_http_taap_redis_t *rs)
{
    ngx_connection_t *c = rs->peer.connection;
    while (rs->out_sent < rs->out_len) {
        ssize_t n = c->send(c, rs->out + rs->out_sent, rs->out_len - rs->out_sent);
        if (n == NGX_AGAIN)
            break;
        if (n == NGX_ERROR || n == 0) {
            ngx_http_taap_redis_fail_with(rs, "send", "the connection was lost");
            return;
        }
        rs->out_sent += (size_t)n;
    }
    if (rs->out_sent == rs->out_len) {
        if (rs->out_secret)
            ngx_explicit_memzero(rs->out, rs->out_len);
        rs->out_secret = 0;
        rs->out_len = rs->out_sent = 0;
    }
    if (ngx_handle_write_event(c->write, 0) != NGX_OK)
        ngx_http_taap_redis_fail_with(rs, "send", "cannot watch the socket");
}

/* A new connection: the handshake goes out first. */
static ngx_int_t ngx_http_taap_redis_open(ngx_http_taap_redis_t *rs, taap_error *err)
{
    char *hello = NULL;
    size_t hello_len = 0;
    unsigned replies = 0;
    if (taap_replay_redis_handshake(rs->cache, &hello, &hello_len, &replies, err) != TAAP_OK)
        return NGX_ERROR;
    ngx_int_t appended = hello_len ? ngx_http_taap_redis_append(rs, hello, hello_len) : NGX_OK;
    if (hello)
        ngx_explicit_memzero(hello, hello_len);
    free(hello);
    if (appended != NGX_OK ||
        taap_replay_redis_reader_new(rs->cache, &rs->reader, err) != TAAP_OK) {
        taap_replay_redis_fail(rs->cache, "connect", "out of memory", err);
        return NGX_ERROR;
    }
    rs->out_secret = hello_len > 0;
    rs->handshake_left = replies;
    rs->generation++;

    ngx_memzero(&rs->peer, sizeof rs->peer);
    rs->peer.sockaddr = rs->addr.sockaddr;
    rs->peer.socklen = rs->addr.socklen;
    rs->peer.name = &rs->addr.name;
    rs->peer.get = ngx_event_get_peer;
    rs->peer.log = ngx_cycle->log;
    rs->peer.log_error = NGX_ERROR_ERR;
    ngx_int_t rc = ngx_event_connect_peer(&rs->peer);
    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (rs->peer.connection) {
            ngx_close_connection(rs->peer.connection);
            rs->peer.connection = NULL;
        }
        taap_replay_redis_reader_free(rs->reader);
        rs->reader = NULL;
        ngx_explicit_memzero(rs->out, rs->out_len);
        rs->out_len = rs->out_sent = 0;
        rs->out_secret = 0;
        rs->handshake_left = 0;
        taap_replay_redis_fail(rs->cache, "connect",
                               "connection refused or unreachable (see the error log)", err);
        return NGX_ERROR;
    }
    ngx_connection_t *c = rs->peer.connection;
    c->data = rs;
    c->read->handler = ngx_http_taap_redis_read;
    c->write->handler = ngx_http_taap_redis_write;
    rs->connecting = rc == NGX_AGAIN;
    if (rs->connecting) {
        ngx_add_timer(c->write, rs->timeout);
    }
    return NGX_OK;
}

ngx_http_taap_redis_wait_t *ngx_http_taap_redis_check(ngx_http_taap_redis_t *rs,
                                                      const unsigned char key_id[32],
                                                      const char *jti, int64_t expires_at,
                                                      int64_t now,
                                                      ngx_http_taap_redis_done_pt done,
                                                      void *data, taap_error *err)
{
    char *cmd = NULL;
    size_t cmd_len = 0;
    if (taap_replay_redis_command(key_id, jti, expires_at, now, &cmd, &cmd_len, err) != TAAP_OK)
        return NULL;
    ngx_http_taap_redis_wait_t *w = ngx_alloc(sizeof *w, ngx_cycle->log);
    if (w == NULL || (rs->peer.connection == NULL && ngx_http_taap_redis_open(rs, err) != NGX_OK)) {
        if (w == NULL)
            taap_replay_redis_fail(rs->cache, "SET", "out of memory", err);
        ngx_free(w);
        free(cmd);
        return NULL;
    }
    ngx_int_t appended = ngx_http_taap_redis_append(rs, cmd, cmd_len);
    free(cmd);
    if (appended != NGX_OK) {
        ngx_free(w);
        taap_replay_redis_fail(rs->cache, "SET", "out of memory", err);
        return NULL;
    }
    w->done = done;
    w->data = data;
    ngx_queue_insert_tail(&rs->waiting, &w->queue);
    ngx_http_taap_redis_arm(rs);
    /* Written from the event loop, never from here: a failure answers
     * done() callbacks, which must not run inside the caller's check; and
     * the checks of one loop iteration go out in one send. */
    ngx_event_t *wev = rs->peer.connection->write;
    if (!rs->connecting && !wev->posted) {
        ngx_post_event(wev, &ngx_posted_events);
    }
    return w;
}

void ngx_http_taap_redis_cancel(ngx_http_taap_redis_wait_t *w)
{
    if (w)
        w->done = NULL;
}

static void ngx_http_taap_redis_write(ngx_event_t *wev)
{
    ngx_connection_t *c = wev->data;
    ngx_http_taap_redis_t *rs = c->data;
    if (rs->connecting) {
        if (wev->timedout) {
            ngx_http_taap_redis_fail_with(rs, "connect", "no answer in time (timeout)");
            return;
        }
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == -1)
            so_error = ngx_socket_errno;
        if (so_error) {
            ngx_http_taap_redis_fail_with(rs, "connect", strerror(so_error));
            return;
        }
        if (wev->timer_set) {
            ngx_del_timer(wev);
        }
        rs->connecting = 0;
    }
    ngx_http_taap_redis_flush(rs);
}

/* Hand one decided reply to the check that is owed it. 0: go on. */
static ngx_int_t ngx_http_taap_redis_deliver(ngx_http_taap_redis_t *rs, taap_code rc,
                                             const taap_error *err)
{
    if (rs->handshake_left) {
        rs->handshake_left--;
        if (rc != TAAP_OK) {
            ngx_http_taap_redis_fail(rs, err); /* AUTH or SELECT refused */
            return NGX_ERROR;
        }
        return NGX_OK;
    }
    if (ngx_queue_empty(&rs->waiting)) {
        ngx_http_taap_redis_fail_with(rs, "reply", "a reply nobody asked for");
        return NGX_ERROR;
    }
    ngx_queue_t *q = ngx_queue_head(&rs->waiting);
    ngx_queue_remove(q);
    ngx_http_taap_redis_wait_t *w = ngx_queue_data(q, ngx_http_taap_redis_wait_t, queue);
    if (w->done)
        w->done(w->data, rc, err);
    ngx_free(w);
    return NGX_OK;
}

static void ngx_http_taap_redis_read(ngx_event_t *rev)
{
    ngx_connection_t *c = rev->data;
    ngx_http_taap_redis_t *rs = c->data;
    ngx_uint_t generation = rs->generation;
    if (rev->timedout) {
        ngx_http_taap_redis_fail_with(rs, "SET", "no reply in time (timeout)");
        return;
    }
    u_char buf[16384];
    for (;;) {
        ssize_t n = c->recv(c, buf, sizeof buf);
        if (n == NGX_AGAIN)
            break;
        if (n == 0 || n == NGX_ERROR) {
            ngx_http_taap_redis_fail_with(rs, "reply", n == 0 ? "the server closed the connection"
                                                              : "the connection was lost");
            return;
        }
        taap_error err = TAAP_ERROR_INIT;
        if (taap_replay_redis_reader_feed(rs->reader, buf, (size_t)n, &err) != TAAP_OK) {
            ngx_http_taap_redis_fail(rs, &err);
            return;
        }
        for (;;) {
            taap_code rc;
            const char *what = rs->handshake_left ? "AUTH/SELECT" : "SET";
            int got = taap_replay_redis_reader_next(rs->reader, what, &rc, &err);
            if (got == 0)
                break;
            if (got < 0) {
                ngx_http_taap_redis_fail(rs, &err);
                return;
            }
            if (ngx_http_taap_redis_deliver(rs, rc, &err) != NGX_OK ||
                rs->generation != generation || rs->peer.connection == NULL)
                return; /* failed, or a done() closed (and reopened) it */
        }
    }
    ngx_http_taap_redis_arm(rs);
    if (ngx_handle_read_event(rev, 0) != NGX_OK)
        ngx_http_taap_redis_fail_with(rs, "reply", "cannot watch the socket");
}
