/* replay_redis.c — the replay cache (SPEC §2.11) in Redis, shared by every
 * gateway node: one `SET key 1 NX PX ttl` per token is the atomic
 * check-and-insert, and Redis expires the key when the token could no longer
 * be accepted. One blocking hiredis connection per cache, opened lazily,
 * reused, and reopened after any error or in a forked child; every connect
 * and command is bounded by the timeout. Any failure is TAAP_E_REPLAY_STORE
 * (fail closed) with the server and the cause in the message. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "util.h"
#include "taap/replay_redis.h"

#define URL_MAX 1024
#define KEY_PREFIX "taap:replay:"
#define KEY_MAX (sizeof KEY_PREFIX + 64 + 1 + 256 + 1)

typedef struct redis_replay {
    taap_replay base;
    pthread_mutex_t mu; /* one connection, used by one thread at a time */
    redisContext *c;
    pid_t pid;          /* the process that opened c: a connection must not cross fork() */
    char *host;         /* TCP host, or NULL for a Unix socket */
    int port;
    char *path;         /* Unix socket path */
    long db;            /* -1: leave the default database selected */
    char *password;     /* NULL: no AUTH; wiped on free */
    struct timeval timeout;
    char where[300];    /* "redis 127.0.0.1:6379" for messages */
} redis_replay;

int taap_replay_redis_url(const char *spec)
{
    return spec && (strncmp(spec, "redis://", 8) == 0 || strncmp(spec, "unix:", 5) == 0);
}

/* A decimal in lo..hi, the whole string. */
static int parse_num(const char *s, size_t n, long lo, long hi, long *out)
{
    if (n == 0 || n > 10)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* redis://[:PASSWORD@]HOST[:PORT][/DB] into r. */
static taap_code parse_tcp(redis_replay *r, const char *url, taap_error *err)
{
    const char *p = url + 8, *end = p + strlen(p);
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        if (*p != ':' || at == p + 1)
            return taap_fail(err, TAAP_E_USAGE,
                             "Redis URL: credentials must be ':PASSWORD@' (no user name), as in "
                             "redis://:secret@host:6379/0");
        r->password = taap_strndup(p + 1, (size_t)(at - p - 1));
        if (!r->password)
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        p = at + 1;
    }
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *hp_end = slash ? slash : end;
    const char *host = p, *host_end, *colon;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(hp_end - p));
        if (!close)
            return taap_fail(err, TAAP_E_USAGE, "Redis URL: '[' without ']' around the IPv6 host");
        host = p + 1;
        host_end = close;
        colon = close + 1 < hp_end && close[1] == ':' ? close + 1 : NULL;
        if (close + 1 < hp_end && !colon)
            return taap_fail(err, TAAP_E_USAGE, "Redis URL: expected ':PORT' after ']'");
    } else {
        colon = memchr(p, ':', (size_t)(hp_end - p));
        host_end = colon ? colon : hp_end;
    }
    if (host_end == host)
        return taap_fail(err, TAAP_E_USAGE,
                         "Redis URL '%.200s' has no host; expected redis://HOST[:PORT][/DB]",
                         url);
    long port = 6379;
    if (colon && parse_num(colon + 1, (size_t)(hp_end - colon - 1), 1, 65535, &port) != 0)
        return taap_fail(err, TAAP_E_USAGE, "Redis URL: the port must be a number in 1..65535");
    if (slash && slash + 1 < end &&
        parse_num(slash + 1, (size_t)(end - slash - 1), 0, INT_MAX, &r->db) != 0)
        return taap_fail(err, TAAP_E_USAGE,
                         "Redis URL: the database after '/' must be a number (0, 1, …)");
    r->host = taap_strndup(host, (size_t)(host_end - host));
    if (!r->host)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    r->port = (int)port;
    snprintf(r->where, sizeof r->where, "Redis at %s%s%s:%d", host[-1] == '[' ? "[" : "",
             r->host, host[-1] == '[' ? "]" : "", r->port);
    return TAAP_OK;
}

/* Drop the connection (it is reopened by the next check). */
static void drop(redis_replay *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

static taap_code store_fail(const redis_replay *r, taap_error *err, const char *what, const char *why)
{
    return taap_fail(err, TAAP_E_REPLAY_STORE,
                     "replay cache unavailable: %s: %s: %.200s; refusing the token (fail "
                     "closed)",
                     r->where, what, why);
}

/* Run one command whose reply must be status OK (AUTH, SELECT). */
static taap_code simple_command(redis_replay *r, const char *what, taap_error *err,
                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    taap_code rc = TAAP_OK;
    if (!rep)
        rc = store_fail(r, err, what, r->c->errstr[0] ? r->c->errstr : "no reply");
    else if (rep->type == REDIS_REPLY_ERROR)
        rc = store_fail(r, err, what, rep->str);
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* Open the connection (in this process) unless one is open. */
static taap_code connect_once(redis_replay *r, taap_error *err)
{
    if (r->c && r->pid != getpid()) {
        /* Inherited across fork(): the socket is the parent's conversation.
         * Close our copy without a word on the wire. */
        drop(r);
    }
    if (r->c)
        return TAAP_OK;
    r->c = r->host ? redisConnectWithTimeout(r->host, r->port, r->timeout)
                   : redisConnectUnixWithTimeout(r->path, r->timeout);
    if (!r->c)
        return store_fail(r, err, "connect", "out of memory");
    if (r->c->err) {
        taap_code rc = store_fail(r, err, "connect", r->c->errstr);
        drop(r);
        return rc;
    }
    r->pid = getpid();
    taap_code rc = TAAP_OK;
    if (redisSetTimeout(r->c, r->timeout) != REDIS_OK)
        rc = store_fail(r, err, "connect", "cannot set the socket timeout");
    if (rc == TAAP_OK && r->password)
        rc = simple_command(r, "AUTH", err, "AUTH %s", r->password);
    if (rc == TAAP_OK && r->db >= 0)
        rc = simple_command(r, "SELECT", err, "SELECT %ld", r->db);
    if (rc != TAAP_OK)
        drop(r);
    return rc;
}

/* What a reply to SET … NX PX means: OK recorded it, nil found it already
 * there, anything else is the store failing. One decision for the blocking
 * path and the event-driven reader. */
static taap_code decide_reply(const redis_replay *r, const redisReply *rep, const char *what,
                              taap_error *err)
{
    if (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0)
        return TAAP_OK;
    if (rep->type == REDIS_REPLY_NIL)
        return taap_fail(err, TAAP_E_REPLAY,
                         "jti already used with this key; a PoP token is valid for one request");
    if (rep->type == REDIS_REPLY_ERROR)
        return store_fail(r, err, what, rep->str); /* e.g. OOM under maxmemory */
    return store_fail(r, err, what, "unexpected reply type");
}

/* One SET … NX PX on the open connection. *io_error = 1 when the failure
 * was the connection's (worth one retry on a fresh one). */
static taap_code set_nx(redis_replay *r, const char *cmd, size_t cmd_len, int *io_error,
                        taap_error *err)
{
    *io_error = 0;
    void *reply = NULL;
    if (redisAppendFormattedCommand(r->c, cmd, cmd_len) != REDIS_OK ||
        redisGetReply(r->c, &reply) != REDIS_OK)
        reply = NULL;
    redisReply *rep = reply;
    if (!rep) {
        *io_error = 1;
        taap_code rc = store_fail(r, err, "SET", r->c->err == REDIS_ERR_EOF
                                                     ? "the server closed the connection"
                                                     : r->c->errstr[0] ? r->c->errstr
                                                                       : "no reply (timeout?)");
        drop(r);
        return rc;
    }
    taap_code rc = decide_reply(r, rep, "SET", err);
    freeReplyObject(rep);
    return rc;
}

/* The key and TTL of one token: the key lives as long as the token could be
 * accepted; a token already past that point still gets a short-lived key
 * (Redis needs a TTL > 0), and the verifier refuses it as expired anyway. */
static taap_code replay_key(const unsigned char key_id[32], const char *jti, int64_t expires_at,
                            int64_t now, char key[KEY_MAX], int *key_len, long long *ttl_ms,
                            taap_error *err)
{
    size_t jl = jti ? strlen(jti) : 0;
    if (jl == 0 || jl > 256)
        return taap_fail(err, TAAP_E_USAGE, "replay cache: jti must be 1..256 bytes");
    int64_t ttl_s = expires_at - now;
    *ttl_ms = ttl_s <= 0 ? 1 : ttl_s > INT64_C(1) << 40 ? (long long)1 << 50
                                                         : (long long)ttl_s * 1000;
    char hex[65];
    taap_hex_encode(key_id, 32, hex);
    *key_len = snprintf(key, KEY_MAX, KEY_PREFIX "%s:%s", hex, jti);
    if (*key_len < 0 || (size_t)*key_len >= KEY_MAX)
        return taap_fail(err, TAAP_E_USAGE, "replay cache: key too long");
    return TAAP_OK;
}

static taap_code redis_check_and_insert(taap_replay *self, const unsigned char key_id[32],
                                        const char *jti, int64_t expires_at, int64_t now,
                                        taap_error *err)
{
    redis_replay *r = (redis_replay *)self;
    char *cmd = NULL;
    size_t cmd_len = 0;
    taap_code rc = taap_replay_redis_command(key_id, jti, expires_at, now, &cmd, &cmd_len, err);
    if (rc != TAAP_OK)
        return rc;

    pthread_mutex_lock(&r->mu);
    int reused = r->c && r->pid == getpid();
    rc = connect_once(r, err);
    int io_error = 0;
    if (rc == TAAP_OK)
        rc = set_nx(r, cmd, cmd_len, &io_error, err);
    /* A reused connection may have died since its last use (Redis restarted,
     * idle timeout): one more try on a fresh one. If the lost reply was in
     * fact an OK, the retry answers "already used": a false refusal, never a
     * replay let through. */
    if (rc == TAAP_E_REPLAY_STORE && io_error && reused) {
        rc = connect_once(r, err);
        if (rc == TAAP_OK)
            rc = set_nx(r, cmd, cmd_len, &io_error, err);
    }
    pthread_mutex_unlock(&r->mu);
    free(cmd);
    return rc;
}

static void redis_destroy(taap_replay *self)
{
    redis_replay *r = (redis_replay *)self;
    /* A forked child must not close the parent's conversation politely;
     * redisFree only closes our descriptor, which is what we want either way. */
    drop(r);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r->path);
    taap_free_secret_str(r->password);
    free(r);
}

static const taap_replay_ops redis_ops = {redis_check_and_insert, redis_destroy};

taap_code taap_replay_redis_new(const char *url, unsigned timeout_ms, taap_replay **out,
                                taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_replay_redis_new: out is NULL");
    *out = NULL;
    if (!url || !taap_replay_redis_url(url))
        return taap_fail(err, TAAP_E_USAGE,
                         "replay cache '%.200s' is not a Redis address; expected "
                         "redis://HOST[:PORT][/DB] or unix:PATH",
                         url ? url : "(null)");
    if (strlen(url) > URL_MAX)
        return taap_fail(err, TAAP_E_USAGE, "Redis URL is longer than %d bytes", URL_MAX);
    redis_replay *r = calloc(1, sizeof *r);
    if (!r)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    r->base.ops = &redis_ops;
    r->db = -1;
    unsigned ms = timeout_ms ? timeout_ms : TAAP_REPLAY_REDIS_DEFAULT_TIMEOUT_MS;
    r->timeout.tv_sec = (time_t)(ms / 1000);
    r->timeout.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    pthread_mutex_init(&r->mu, NULL);
    taap_code rc = TAAP_OK;
    if (strncmp(url, "unix:", 5) == 0) {
        if (url[5] != '/')
            rc = taap_fail(err, TAAP_E_USAGE,
                           "Redis socket '%.200s': expected unix:/absolute/path", url);
        else if (!(r->path = taap_strdup(url + 5)))
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        else
            snprintf(r->where, sizeof r->where, "Redis at unix:%.250s", r->path);
    } else {
        rc = parse_tcp(r, url, err);
    }
    if (rc != TAAP_OK) {
        redis_destroy(&r->base);
        return rc;
    }
    *out = &r->base;
    return TAAP_OK;
}

/* ---- For callers that own the socket (the nginx gateway's event loop) ---- */

static const redis_replay *as_redis(const taap_replay *r)
{
    return r && r->ops == &redis_ops ? (const redis_replay *)r : NULL;
}

taap_code taap_replay_redis_endpoint(const taap_replay *cache, taap_replay_redis_endpoint_info *out,
                                     taap_error *err)
{
    const redis_replay *r = as_redis(cache);
    if (!r || !out)
        return taap_fail(err, TAAP_E_USAGE, "taap_replay_redis_endpoint: not a Redis cache");
    out->host = r->host;
    out->port = r->port;
    out->unix_path = r->path;
    out->where = r->where;
    out->timeout_ms = (unsigned)(r->timeout.tv_sec * 1000 + r->timeout.tv_usec / 1000);
    return TAAP_OK;
}

/* Append one command formatted by hiredis (`cmd`, `n` bytes or n < 0 when
 * formatting failed) to a malloc'd buffer; `cmd` is consumed (wiped: an AUTH
 * holds the password). */
static taap_code append_command(char **buf, size_t *len, char *cmd, long long n)
{
    if (n < 0 || !cmd)
        return TAAP_E_NOMEM;
    char *grown = malloc(*len + (size_t)n + 1); /* not realloc: the old block is wiped */
    if (grown) {
        if (*len)
            memcpy(grown, *buf, *len);
        memcpy(grown + *len, cmd, (size_t)n);
        taap_free_secret(*buf, *len);
        *len += (size_t)n;
        grown[*len] = '\0';
        *buf = grown;
    }
    taap_free_secret(cmd, (size_t)n);
    return grown ? TAAP_OK : TAAP_E_NOMEM;
}

taap_code taap_replay_redis_handshake(const taap_replay *cache, char **cmd, size_t *len,
                                      unsigned *replies, taap_error *err)
{
    const redis_replay *r = as_redis(cache);
    if (!r || !cmd || !len || !replies)
        return taap_fail(err, TAAP_E_USAGE, "taap_replay_redis_handshake: bad arguments");
    *cmd = NULL;
    *len = 0;
    *replies = 0;
    char *one = NULL;
    long long n;
    if (r->password) {
        n = redisFormatCommand(&one, "AUTH %s", r->password);
        if (append_command(cmd, len, one, n))
            goto nomem;
        ++*replies;
    }
    if (r->db >= 0) {
        n = redisFormatCommand(&one, "SELECT %ld", r->db);
        if (append_command(cmd, len, one, n))
            goto nomem;
        ++*replies;
    }
    return TAAP_OK;
nomem:
    taap_free_secret(*cmd, *len); /* it may hold the password */
    *cmd = NULL;
    *len = 0;
    return taap_fail(err, TAAP_E_NOMEM, "out of memory");
}

taap_code taap_replay_redis_command(const unsigned char key_id[32], const char *jti,
                                    int64_t expires_at, int64_t now, char **cmd, size_t *len,
                                    taap_error *err)
{
    if (!key_id || !cmd || !len)
        return taap_fail(err, TAAP_E_USAGE, "taap_replay_redis_command: bad arguments");
    *cmd = NULL;
    *len = 0;
    char key[KEY_MAX];
    int kl = 0;
    long long ttl_ms = 0;
    taap_code rc = replay_key(key_id, jti, expires_at, now, key, &kl, &ttl_ms, err);
    if (rc != TAAP_OK)
        return rc;
    char *one = NULL;
    long long n = redisFormatCommand(&one, "SET %b 1 NX PX %lld", key, (size_t)kl, ttl_ms);
    if (append_command(cmd, len, one, n))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

taap_code taap_replay_redis_fail(const taap_replay *cache, const char *what, const char *why,
                                 taap_error *err)
{
    const redis_replay *r = as_redis(cache);
    if (!r)
        return taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache unavailable: %s: %.200s", what,
                         why);
    return store_fail(r, err, what, why);
}

struct taap_replay_redis_reader {
    const redis_replay *r;
    redisReader *reader;
};

taap_code taap_replay_redis_reader_new(const taap_replay *cache, taap_replay_redis_reader **out,
                                       taap_error *err)
{
    const redis_replay *r = as_redis(cache);
    if (!r || !out)
        return taap_fail(err, TAAP_E_USAGE, "taap_replay_redis_reader_new: not a Redis cache");
    taap_replay_redis_reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->reader = redisReaderCreate())) {
        free(rd);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    rd->r = r;
    *out = rd;
    return TAAP_OK;
}

taap_code taap_replay_redis_reader_feed(taap_replay_redis_reader *rd, const void *buf, size_t len,
                                        taap_error *err)
{
    if (redisReaderFeed(rd->reader, buf, len) != REDIS_OK)
        return store_fail(rd->r, err, "reply", "out of memory");
    return TAAP_OK;
}

int taap_replay_redis_reader_next(taap_replay_redis_reader *rd, const char *what, taap_code *rc,
                                  taap_error *err)
{
    void *reply = NULL;
    if (redisReaderGetReply(rd->reader, &reply) != REDIS_OK) {
        *rc = store_fail(rd->r, err, what,
                         rd->reader->errstr[0] ? rd->reader->errstr : "malformed reply");
        return -1;
    }
    if (!reply)
        return 0;
    *rc = decide_reply(rd->r, reply, what, err);
    freeReplyObject(reply);
    return 1;
}

void taap_replay_redis_reader_free(taap_replay_redis_reader *rd)
{
    if (!rd)
        return;
    redisReaderFree(rd->reader);
    free(rd);
}
