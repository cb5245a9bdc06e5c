/*
 * soak.c — `make soak`: load the emulator for a while and watch its memory.
 *
 *   taap_soak [SECONDS [CONNECTIONS [CLOCK_STEP]]]     (defaults 600, 32, 10)
 *
 * Starts `taap serve` on port 0 (through tests/support/serve_harness), sets
 * up an application with a key, a subscription and a kit, takes an access
 * token, then runs CONNECTIONS client threads for SECONDS: each one loops on
 * GET /iot-connectivity/v1/devices/{iccid} with a fresh PoP per request
 * (every 10th request a PATCH with a body, every 50th a new token from the
 * token endpoint). The emulator's clock (--now-file) advances CLOCK_STEP s
 * per real second, so the replay window (a 60 s PoP + 10 s leeway = 70 s)
 * and the access-token lifetime (--token-lifetime 70 here) pass many times
 * during the run: replay entries and cached access tokens expire and must be
 * reclaimed. A worker takes a new token at least every 30 emulator seconds,
 * so none expires in use.
 *
 * Measured: requests, errors (any status other than the expected one or a
 * transport failure), latency percentiles, and the server's resident memory
 * (VmRSS from /proc/PID/status) every second. Passes (exit 0) when there
 * were zero errors and the RSS after the first two replay windows never rose
 * more than 2 MiB above the highest RSS seen during them (the baseline): memory
 * follows the live load, not the number of requests served.
 * Prints the numbers either way. `make soak` runs 600 s; the ctest
 * soak_smoke runs a short one with a fast clock (tests/fuzz/smoke.cmake).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve_harness.h"
#include "taap/taap.h"

static sh_server srv;
static char *g_id, *g_secret;
static char g_iccid[24];
static atomic_int g_stop;
static atomic_long g_requests, g_errors, g_tokens;

#define REPLAY_WINDOW 70   /* emulator seconds: PoP lifetime 60 + leeway 10 */
#define TOKEN_LIFETIME 70  /* emulator seconds (--token-lifetime) */
#define TOKEN_REFRESH 30   /* a worker's token is never older than this */
#define RSS_SLACK_KIB 2048
static pthread_mutex_t g_lat_lock = PTHREAD_MUTEX_INITIALIZER;
static double *g_lat;
static size_t g_nlat, g_caplat;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void record(double ms)
{
    pthread_mutex_lock(&g_lat_lock);
    if (g_nlat == g_caplat) {
        size_t cap = g_caplat ? g_caplat * 2 : 65536;
        double *n = realloc(g_lat, cap * sizeof *n);
        if (n) {
            g_lat = n;
            g_caplat = cap;
        }
    }
    if (g_nlat < g_caplat)
        g_lat[g_nlat++] = ms;
    pthread_mutex_unlock(&g_lat_lock);
}

static void error_once(const char *what, long status, const char *body)
{
    long n = atomic_fetch_add(&g_errors, 1);
    if (n < 10)
        fprintf(stderr, "soak: error: %s → %ld %.200s\n", what, status, body ? body : "");
}

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    const taap_key *key = sh_test_key(0);
    char *at = sh_get_token(&srv, g_id, g_secret, key);
    if (!at) {
        error_once("initial token", 0, NULL);
        return NULL;
    }
    int64_t at_time = srv.now;
    char path[128];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", g_iccid);
    for (unsigned long i = 0; !atomic_load(&g_stop); i++) {
        sh_resp r = { 0 };
        double t0 = now_ms();
        long st;
        long want = 200;
        if (i % 50 == 49 || srv.now - at_time >= TOKEN_REFRESH) {
            at_time = srv.now;
            char *fresh = sh_get_token(&srv, g_id, g_secret, key);
            atomic_fetch_add(&g_tokens, 1);
            if (!fresh) {
                error_once("token refresh", 0, NULL);
                continue;
            }
            free(at);
            at = fresh;
            record(now_ms() - t0);
            atomic_fetch_add(&g_requests, 1);
            continue;
        }
        if (i % 10 == 9)
            st = sh_call(&srv, "PATCH", path, at, key,
                         (id + (long)i) % 2 ? "{\"status\":\"ACTIVE\"}" : "{\"status\":\"SUSPENDED\"}",
                         NULL, &r);
        else
            st = sh_call(&srv, "GET", path, at, key, NULL, NULL, &r);
        record(now_ms() - t0);
        atomic_fetch_add(&g_requests, 1);
        if (st != want)
            error_once(i % 10 == 9 ? "PATCH device" : "GET device", st, r.body);
        sh_resp_free(&r);
    }
    free(at);
    return NULL;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long secs = argc > 1 ? strtol(argv[1], NULL, 10) : 600;
    long conns = argc > 2 ? strtol(argv[2], NULL, 10) : 32;
    long step = argc > 3 ? strtol(argv[3], NULL, 10) : 10;
    /* Real seconds in two replay windows: the baseline is taken there. */
    long warm = step > 0 ? (2 * REPLAY_WINDOW + step - 1) / step : 0;
    if (conns <= 0 || conns > 1024 || step <= 0 || step > TOKEN_REFRESH || secs < 2 * warm + 2) {
        fprintf(stderr,
                "usage: %s [SECONDS [CONNECTIONS [CLOCK_STEP]]]\n"
                "  CONNECTIONS 1..1024, CLOCK_STEP 1..%d emulator seconds per second, and\n"
                "  SECONDS at least four replay windows (4 x %d emulator seconds)\n",
                argv[0], TOKEN_REFRESH, REPLAY_WINDOW);
        return 2;
    }
#ifdef TAAP_SOAK_BIN
    setenv("TAAP_BIN", TAAP_SOAK_BIN, 0); /* `make soak` runs it outside ctest */
#endif
    /* Every load connection comes from one address: lift the per-client
     * share (at most half of --max-connections). */
    static const char *const args[] = { "--no-access-log", "--threads", "4",
                                        "--token-lifetime", "70", "--max-connections", "4096",
                                        "--max-connections-per-client", "2048", NULL };
    if (sh_start(&srv, NULL, args) != 0)
        return 1;
    if (sh_make_app(&srv, "soak", NULL, &g_id, &g_secret) != 0)
        return 1;
    char kid[17];
    if (sh_add_key(&srv, "soak", sh_test_key(0), kid) || sh_subscribe(&srv, "soak") ||
        sh_activate_kit(&srv, "soak", g_iccid))
        return 1;

    pthread_t *th = calloc((size_t)conns, sizeof *th);
    for (long i = 0; i < conns; i++)
        pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);

    long *rss = calloc((size_t)secs + 1, sizeof *rss);
    double start = now_ms();
    long last_req = 0;
    printf("soak: %ld s, %ld connections against pid %d; clock x%ld (replay window %ld s "
           "real), baseline at t=%lds\n",
           secs, conns, (int)srv.pid, step, (REPLAY_WINDOW + step - 1) / step, warm);
    for (long s = 0; s < secs; s++) {
        double target = start + (double)(s + 1) * 1000.0;
        while (now_ms() < target)
            usleep(20000);
        /* The emulator's clock moves `step` s per second: entries expire. */
        sh_set_now(&srv, srv.now + step);
        rss[s] = rss_kib(srv.pid);
        long req = atomic_load(&g_requests);
        if (s % 10 == 9 || s == secs - 1)
            printf("  t=%3lds  %6ld req/s  rss %ld KiB  errors %ld\n", s + 1, req - last_req,
                   rss[s], atomic_load(&g_errors));
        last_req = req;
    }
    atomic_store(&g_stop, 1);
    for (long i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    double elapsed = (now_ms() - start) / 1000.0;

    /* Baseline: the highest RSS seen during the first two replay windows
     * (by then every cache holds its steady load); then the rest of the run
     * may not rise more than RSS_SLACK_KIB above it. */
    long base = 0, peak = 0;
    for (long s = 0; s < warm; s++)
        if (rss[s] > base)
            base = rss[s];
    for (long s = warm; s < secs; s++)
        if (rss[s] > peak)
            peak = rss[s];
    long growth = peak - base;
    long allowed = RSS_SLACK_KIB;

    qsort(g_lat, g_nlat, sizeof *g_lat, cmp_double);
    double p50 = g_nlat ? g_lat[g_nlat / 2] : 0, p99 = g_nlat ? g_lat[g_nlat * 99 / 100] : 0,
           mx = g_nlat ? g_lat[g_nlat - 1] : 0;
    long req = atomic_load(&g_requests), errs = atomic_load(&g_errors);
    int stop_status = sh_stop(&srv);
    printf("soak result: %ld requests (%ld token requests) in %.1f s = %.0f req/s at %ld "
           "connections; errors %ld\n",
           req, atomic_load(&g_tokens), elapsed, (double)req / elapsed, conns, errs);
    printf("latency ms: p50 %.2f  p99 %.2f  max %.2f\n", p50, p99, mx);
    printf("server RSS KiB: t=1s %ld, peak in the first two replay windows (to t=%lds) %ld, "
           "peak after %ld, end %ld (growth %ld KiB, allowed %ld)\n",
           rss[0], warm, base, peak, rss[secs - 1], growth, allowed);
    printf("server stop: exit %d\n", stop_status);
    sh_cleanup(&srv);
    free(rss);
    free(th);
    free(g_lat);
    free(g_id);
    free(g_secret);
    int ok = errs == 0 && base > 0 && growth <= allowed && stop_status == 0 && req > 0;
    printf("soak: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
