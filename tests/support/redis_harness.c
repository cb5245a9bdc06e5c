/* redis_harness.c — see redis_harness.h. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "redis_harness.h"

int rh_start(rh_redis *r, const char *dir)
{
    if (!r->port)
        r->port = dm_free_port();
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    snprintf(r->log, sizeof r->log, "%s/redis.log", dir);
    snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%u", r->port);
    char port[16];
    snprintf(port, sizeof port, "%u", r->port);
    char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", r->dir,
                    "--daemonize", "no", "--maxmemory-policy", "noeviction", NULL};
    r->pid = dm_spawn(argv, r->log);
    if (r->pid < 0 || dm_wait_port(r->port, r->pid, 10000) != 0) {
        fprintf(stderr, "redis_harness: redis-server did not start (log %s)\n", r->log);
        return -1;
    }
    return 0;
}

void rh_stop(rh_redis *r)
{
    if (r->pid > 0) {
        dm_stop(r->pid, SIGTERM, 10000);
        dm_wait_port_closed(r->port, 5000);
    }
    r->pid = 0;
}
