/*
 * taap/replay_redis.h — the replay cache of SPEC §2.11 in Redis, shared by
 * every process and every machine that points at the same server: a PoP
 * accepted by one gateway node is refused by all the others.
 * Library: libtaap-replay-redis (hiredis).
 *
 * One atomic `SET taap:replay:<key fingerprint hex>:<jti> 1 NX PX <ttl>` per
 * token, ttl = (exp + leeway − now) in milliseconds: Redis both checks and
 * records in one step and forgets the jti when the token could no longer be
 * accepted anyway. The connection is opened on first use, reused, reopened
 * after an error (and in a forked child), and every connect and command is
 * bounded by a timeout. When Redis cannot answer, the call fails with
 * TAAP_E_REPLAY_STORE and a message naming the server and the cause: the
 * token is refused (fail closed). Whether a caller then lets the request
 * through anyway is the caller's policy, never this library's.
 *
 * Redis must not evict these keys before they expire (an evicted jti is a
 * replay let through): run it with `maxmemory-policy noeviction` (the
 * default); a full Redis then answers OOM and the cache fails closed.
 */
#ifndef TAAP_REPLAY_REDIS_H
#define TAAP_REPLAY_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include "taap/replay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default bound on connecting and on each command, in milliseconds. */
#define TAAP_REPLAY_REDIS_DEFAULT_TIMEOUT_MS 250

/*
 * taap_replay_redis_new — a cache on the Redis server named by `url`:
 *   redis://HOST[:PORT][/DB]   TCP (port 6379 by default; HOST may be
 *                              [IPv6]); DB is the database number (0..)
 *   redis://:PASSWORD@HOST…    the same with AUTH (the password is wiped
 *                              from memory when the cache is freed)
 *   unix:PATH                  a Unix socket
 * `timeout_ms` bounds connecting and every command (0 → the default).
 * Only the URL is checked here (TAAP_E_USAGE with a message saying what is
 * wrong): nothing connects until the first check, so a cache can be made
 * before Redis is up and survives Redis restarts.
 * Thread-safe (one connection, used under a lock). Free with
 * taap_replay_free().
 */
TAAP_API taap_code taap_replay_redis_new(const char *url, unsigned timeout_ms, taap_replay **out,
                                         taap_error *err);

/* 1 if `spec` names a Redis cache (starts with "redis://" or "unix:"), the
 * test callers use to choose this backend over a file. */
TAAP_API int taap_replay_redis_url(const char *spec);

/*
 * For callers that own the socket and run an event loop (the nginx gateway
 * keeps serving other requests while a SET is in flight). The library still
 * decides everything that makes nodes agree: the key, the TTL, the
 * handshake, and what each reply means. The caller connects to the endpoint,
 * sends the handshake first on every new connection, then one command per
 * token (pipelining is fine: replies come back in order), and feeds what it
 * reads to a reader, which yields one decision per reply.
 */
typedef struct taap_replay_redis_endpoint_info {
    const char *host;      /* TCP host (no brackets), or NULL for a Unix socket */
    int port;              /* TCP port */
    const char *unix_path; /* Unix socket path, or NULL */
    const char *where;     /* "Redis at HOST:PORT" for messages */
    unsigned timeout_ms;   /* the cache's connect/command bound */
} taap_replay_redis_endpoint_info;

/* Where `cache` (made by taap_replay_redis_new) connects. The strings
 * belong to the cache. TAAP_E_USAGE when it is not a Redis cache. */
TAAP_API taap_code taap_replay_redis_endpoint(const taap_replay *cache,
                                              taap_replay_redis_endpoint_info *out,
                                              taap_error *err);

/* The commands a new connection sends first (AUTH, SELECT), as wire bytes
 * in *cmd (malloc'd; may be empty; it can hold the password: wipe it before
 * freeing) and how many replies they produce (each must decide TAAP_OK). */
TAAP_API taap_code taap_replay_redis_handshake(const taap_replay *cache, char **cmd, size_t *len,
                                               unsigned *replies, taap_error *err);

/* The atomic check-and-insert of one token as wire bytes (*cmd malloc'd):
 * the same key and TTL as the blocking cache uses. */
TAAP_API taap_code taap_replay_redis_command(const unsigned char key_id[32], const char *jti,
                                             int64_t expires_at, int64_t now, char **cmd,
                                             size_t *len, taap_error *err);

/* TAAP_E_REPLAY_STORE with the cache's one message format ("replay cache
 * unavailable: Redis at …: WHAT: WHY; refusing the token (fail closed)"). */
TAAP_API taap_code taap_replay_redis_fail(const taap_replay *cache, const char *what,
                                          const char *why, taap_error *err);

/* Decodes replies as they arrive. */
typedef struct taap_replay_redis_reader taap_replay_redis_reader;
TAAP_API taap_code taap_replay_redis_reader_new(const taap_replay *cache,
                                                taap_replay_redis_reader **out, taap_error *err);
TAAP_API taap_code taap_replay_redis_reader_feed(taap_replay_redis_reader *rd, const void *buf,
                                                 size_t len, taap_error *err);
/* 1: one reply decided into *rc (TAAP_OK recorded, TAAP_E_REPLAY already
 * used, TAAP_E_REPLAY_STORE the server refused; err says which; `what`
 * names the command in messages); 0: no whole reply yet; -1: the stream is
 * not Redis protocol (*rc TAAP_E_REPLAY_STORE): drop the connection. */
TAAP_API int taap_replay_redis_reader_next(taap_replay_redis_reader *rd, const char *what,
                                           taap_code *rc, taap_error *err);
TAAP_API void taap_replay_redis_reader_free(taap_replay_redis_reader *rd);

#ifdef __cplusplus
}
#endif
#endif
