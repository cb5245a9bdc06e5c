/*
 * health.c — endpoints outside the protocol: the health check, and the
 * testing sink the benchmarks stream bodies into.
 */
#include <string.h>

#include <openssl/evp.h>

#include "serve_internal.h"
#include "util.h"

void h_healthz(taap_server *s, const srv_request *rq, const srv_principal *who,
               srv_response *rs)
{
    (void)rq;
    (void)who;
    if (!store_ping(s)) {
        srv_error(rs, 503, NULL, "database unavailable");
        return;
    }
    srv_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

/* The testing sink (taap_serve_options.testing_sink): what arrived, never
 * what it said. A body handed over whole (the testing transport) is hashed
 * here. */
void h_sink(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs)
{
    (void)s;
    (void)who;
    unsigned char d[32];
    uint64_t n = rq->streamed_len;
    if (rq->streamed) {
        memcpy(d, rq->streamed_sha256, sizeof d);
    } else {
        n = rq->body_len;
        taap_sha256_digest(rq->body ? (const void *)rq->body : "", rq->body_len, d);
    }
    char hex[65];
    taap_hex_encode(d, sizeof d, hex);
    srv_json(rs, 200, json_pack("{s:I, s:s}", "bytes", (json_int_t)n, "sha256", hex));
}
