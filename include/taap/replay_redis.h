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

#ifdef __cplusplus
}
#endif
#endif
