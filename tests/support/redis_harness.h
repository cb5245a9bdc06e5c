/*
 * redis_harness.h — a private redis-server for a test: its own port (chosen
 * at run time), its own directory, no persistence. Stop and start it again
 * on the same port to test outages.
 */
#ifndef TAAP_REDIS_HARNESS_H
#define TAAP_REDIS_HARNESS_H

#include <sys/types.h>

typedef struct rh_redis {
    pid_t pid;
    unsigned port;
    char dir[512];
    char log[600];
    char url[64]; /* "redis://127.0.0.1:PORT" */
} rh_redis;

/* Start redis-server in `dir` (must exist) on a free port (r->port == 0) or
 * on r->port again. 0, or -1 with a line on stderr. */
int rh_start(rh_redis *r, const char *dir);
/* Stop it (SIGTERM) and wait until the port refuses connections. */
void rh_stop(rh_redis *r);

#endif
