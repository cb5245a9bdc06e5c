/*
 * request_log.h — the emulator's memory of its last N requests (default
 * 1,000), for `GET /devedge/v1/requests`, `taap admin requests` and the
 * console's live log. Each entry keeps method, path (no query), status, the
 * PoP verdict and, for a rejected PoP, the full explanation (taap/explain.h,
 * credential headers redacted, no body bytes). Never a token, a secret or
 * an Authorization header. A fixed ring: memory is bounded by N entries of
 * at most REQLOG_MAX_EXPLANATION bytes each.
 */
#ifndef TAAP_REQUEST_LOG_H
#define TAAP_REQUEST_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "taap/explain.h"

#define REQLOG_DEFAULT_SIZE 1000
#define REQLOG_MAX_SIZE 100000
#define REQLOG_MAX_EXPLANATION 16384

typedef struct srv_reqlog srv_reqlog;
struct srv_request;
struct srv_response;
struct taap_server;

/* A ring of `size` entries (1..REQLOG_MAX_SIZE); NULL on allocation failure. */
srv_reqlog *srv_reqlog_new(size_t size);
void srv_reqlog_free(srv_reqlog *l);

/* Record one answered request (thread-safe). Takes the response's
 * explanation, if any. Reads of the log itself are not recorded (the
 * console polls it). */
void srv_reqlog_add(srv_reqlog *l, int64_t now, const struct srv_request *rq,
                    struct srv_response *rs);

/*
 * The explanation of a PoP failure for a response: sets rs->verdict and
 * rs->explanation (redacted JSON) and writes the one-line likely cause into
 * cause[cap] ("" when none could be named). The request is the one
 * verified, the config the one used.
 */
void srv_explain_pop(const char *pop, const taap_request *req, const taap_verify_config *cfg,
                     taap_code verdict, const char *message, struct srv_response *rs,
                     char *cause, size_t cap);

#endif
