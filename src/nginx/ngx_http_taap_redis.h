/*
 * ngx_http_taap_redis.h — the gateway's replay check in Redis without
 * blocking the worker. A blocking round trip (libtaap-replay-redis' own
 * connection) stalls every connection of an nginx worker for as long as
 * Redis takes to answer; here the SET is written on a connection owned by
 * nginx's event loop, the worker goes on serving, and the request resumes
 * when its reply arrives. Commands are pipelined (replies come in order).
 *
 * The library still decides what makes the nodes agree — the key, the TTL,
 * the handshake (AUTH, SELECT) and what each reply means — so a gateway and
 * `taap serve --replay redis://…` share one replay cache.
 */
#ifndef NGX_HTTP_TAAP_REDIS_H
#define NGX_HTTP_TAAP_REDIS_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "taap/replay_redis.h"

typedef struct ngx_http_taap_redis_s ngx_http_taap_redis_t;
typedef struct ngx_http_taap_redis_wait_s ngx_http_taap_redis_wait_t;

/* Called once per check with TAAP_OK (recorded), TAAP_E_REPLAY (already
 * used) or TAAP_E_REPLAY_STORE (Redis could not answer; err says why). */
typedef void (*ngx_http_taap_redis_done_pt)(void *data, taap_code rc, const taap_error *err);

/* At configuration time: the client for `cache` (a taap_replay_redis_new
 * cache), its address resolved now. NULL after logging the reason. */
ngx_http_taap_redis_t *ngx_http_taap_redis_create(ngx_conf_t *cf, taap_replay *cache);

/* Queue the check-and-insert of one token. Returns a handle, and `done`
 * runs later, from the event loop, unless cancelled first. NULL when the
 * check cannot even be sent (no connection could be opened): *err says why
 * (TAAP_E_REPLAY_STORE) and `done` never runs. */
ngx_http_taap_redis_wait_t *ngx_http_taap_redis_check(ngx_http_taap_redis_t *rs,
                                                      const unsigned char key_id[32],
                                                      const char *jti, int64_t expires_at,
                                                      int64_t now,
                                                      ngx_http_taap_redis_done_pt done,
                                                      void *data, taap_error *err);

/* The waiting request is gone: its reply is read and dropped. */
void ngx_http_taap_redis_cancel(ngx_http_taap_redis_wait_t *w);

#endif
