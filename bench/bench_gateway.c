/*
 * bench_gateway.c — the cost of TAAP enforcement in nginx (issue 10 item 4).
 *
 *   bench_gateway --key PEM --wrk WRK [--pops N] [--seconds S] [--connections C]
 *
 * One nginx (Debian's, with ngx_http_taap_module from the build tree, 2
 * workers) serves two locations in front of the same upstream (a second
 * server block of that nginx answering 200 "ok", reached over keep-alive
 * proxy connections): /plain/ proxies as is, /taap/ has `taap on` with the
 * replay cache in a private redis-server. `taap serve` issues the access
 * token. N PoPs (unique jti, 120 s lifetime) for GET /taap/v1/things are
 * signed before the clock starts, in 2 threads; wrk (C connections, 2
 * threads, --latency) then sends each PoP at most once through a Lua script
 * (half of them per /taap/ run), for S seconds against /plain/ and S seconds
 * against /taap/ (plain first, then taap, then both again; the better of
 * each pair is kept, as the host is shared). Reported: requests/s of each, the ratio taap/plain (target
 * ≥ 0.8), and the p99 latencies and their difference (target ≤ 1 ms). Any
 * non-2xx response under /taap/ (e.g. PoPs running out: raise --pops) is
 * reported and makes the ratio meaningless, which the output says.
 * Also reported: CPU time per request of the nginx workers and of Redis
 * (from /proc/PID/schedstat around each run), which a loaded host moves far
 * less than requests/s: it is the module's own cost.
 * Ends with one RESULT line.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"
#include "nginx_harness.h"
#include "redis_harness.h"
#include "serve_harness.h"
#include "testutil.h"

typedef struct signer {
    taap_key *key;
    const char *auth; /* "Bearer …" */
    char **pops;
    long from, to;
    int64_t now;
} signer;

static int64_t clock_of(void *ctx)
{
    return *(const int64_t *)ctx;
}

static void *sign_range(void *arg)
{
    signer *s = arg;
    taap_header h[] = {{"Authorization", s->auth}};
    taap_request req = {"GET", "/taap/v1/things", h, 1, {TAAP_BODY_NONE, NULL, 0, NULL, NULL, NULL}};
    taap_pop_options o;
    taap_pop_options_init(&o);
    o.lifetime = 120;
    o.clock = clock_of;
    o.clock_ctx = &s->now;
    for (long i = s->from; i < s->to; i++)
        if (taap_pop_build_request(s->key, &req, &o, &s->pops[i], NULL, NULL) != TAAP_OK)
            return (void *)1;
    return NULL;
}

/* Sign n PoPs in 2 threads and write them one per line to `path`. */
static int sign_all(taap_key *key, const char *auth, long n, const char *path, double *secs)
{
    char **list = calloc((size_t)n, sizeof *list);
    if (!list)
        return -1;
    signer sg[2];
    pthread_t th[2];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 2; i++) {
        sg[i] = (signer){key, auth, list, n * i / 2, n * (i + 1) / 2, (int64_t)time(NULL)};
        pthread_create(&th[i], NULL, sign_range, &sg[i]);
    }
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        void *rv = NULL;
        pthread_join(th[i], &rv);
        failed |= rv != NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    FILE *f = failed ? NULL : fopen(path, "w");
    for (long i = 0; f && i < n; i++)
        fprintf(f, "%s\n", list[i]);
    int rc = f && fclose(f) == 0 ? 0 : -1;
    for (long i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return rc;
}

typedef struct wrk_result {
    double rps, p99_ms;
    long non2xx, requests;
    double nginx_us, redis_us; /* CPU per request */
} wrk_result;

/* "1.23ms" / "850.00us" / "1.01s" → ms */
/* Nanoseconds `pid` has run on a CPU (all its threads). */
static unsigned long long cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    FILE *f = fopen(path, "r");
    unsigned long long ns = 0;
    if (f) {
        if (fscanf(f, "%llu", &ns) != 1) /* NOLINT(cert-err34-c): a kernel counter */
            ns = 0;
        fclose(f);
    }
    return ns;
}

/* The nginx workers: the master's children. */
static int workers_of(pid_t master, pid_t *out, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master, (int)master);
    FILE *f = fopen(path, "r");
    int n = 0;
    long p;
    while (f && n < max && fscanf(f, "%ld", &p) == 1) /* NOLINT(cert-err34-c) */
        out[n++] = (pid_t)p;
    if (f)
        fclose(f);
    return n;
}

typedef struct cpu_mark {
    unsigned long long nginx, redis;
} cpu_mark;

static cpu_mark cpu_now(pid_t master, pid_t redis)
{
    pid_t w[16];
    int n = workers_of(master, w, 16);
    cpu_mark m = {0, cpu_ns(redis)};
    for (int i = 0; i < n; i++)
        m.nginx += cpu_ns(w[i]);
    return m;
}

static double to_ms(const char *v)
{
    char *end = NULL;
    double x = strtod(v, &end);
    if (end && strncmp(end, "us", 2) == 0)
        return x / 1000.0;
    if (end && strncmp(end, "ms", 2) == 0)
        return x;
    if (end && *end == 's')
        return x * 1000.0;
    return x;
}

static int run_wrk(const char *wrk, const char *script, const char *url, long seconds,
                   long connections, pid_t master, pid_t redis, wrk_result *r)
{
    cpu_mark before = cpu_now(master, redis);
    char dur[32], conns[32];
    snprintf(dur, sizeof dur, "%lds", seconds);
    snprintf(conns, sizeof conns, "%ld", connections);
    char *argv[] = {(char *)wrk, "-t2", "-c", conns, "-d", dur, "--latency", "-s",
                    (char *)script, (char *)url, NULL};
    char *out = NULL;
    int rc = tu_run(argv, NULL, &out, NULL);
    cpu_mark after = cpu_now(master, redis);
    memset(r, 0, sizeof *r);
    if (rc != 0 || !out) {
        fprintf(stderr, "bench_gateway: wrk failed (%d): %s\n", rc, out ? out : "");
        free(out);
        return -1;
    }
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ')
            line++;
        if (strncmp(line, "Requests/sec:", 13) == 0)
            r->rps = strtod(line + 13, NULL);
        else if (strncmp(line, "99%", 3) == 0)
            r->p99_ms = to_ms(line + 3 + strspn(line + 3, " \t"));
        else if (strncmp(line, "Non-2xx or 3xx responses:", 25) == 0)
            r->non2xx = strtol(line + 25, NULL, 10);
        else if (strstr(line, "requests in "))
            r->requests = strtol(line, NULL, 10);
    }
    free(out);
    if (r->requests > 0) {
        r->nginx_us = (double)(after.nginx - before.nginx) / 1000.0 / (double)r->requests;
        r->redis_us = (double)(after.redis - before.redis) / 1000.0 / (double)r->requests;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *key_path = NULL, *wrk = "/usr/bin/wrk";
    long pops = 100000, seconds = 3, connections = 32;
    const char *replay = NULL; /* NULL: the private Redis */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--key") == 0)
            key_path = argv[i + 1];
        else if (strcmp(argv[i], "--wrk") == 0)
            wrk = argv[i + 1];
        else if (strcmp(argv[i], "--pops") == 0)
            pops = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--replay") == 0)
            replay = argv[i + 1];
        else if (strcmp(argv[i], "--connections") == 0)
            connections = strtol(argv[i + 1], NULL, 10);
    }
    if (!key_path || pops < 100 || seconds < 1 || connections < 1) {
        fprintf(stderr, "usage: bench_gateway --key PEM [--wrk WRK] [--pops N] [--seconds S] "
                        "[--connections C]\n");
        return 2;
    }
    if (!dm_have(wrk) || !dm_have("nginx") || !dm_have("redis-server") || !nh_module_path()) {
        printf("SKIP gateway: needs wrk, nginx, redis-server and the module (scripts/deps.sh "
               "bench, make nginx-module)\n");
        return 0;
    }
    taap_key *key = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_key_load_private_file(key_path, NULL, 0, &key, NULL, &err) != TAAP_OK) {
        fprintf(stderr, "bench_gateway: %s\n", err.message);
        return 1;
    }
    char *dir = tu_tempdir();
    rh_redis rds;
    memset(&rds, 0, sizeof rds);
    sh_server srv;
    memset(&srv, 0, sizeof srv);
    srv.now = (int64_t)time(NULL);
    char *id = NULL, *secret = NULL, kid[17];
    nh_nginx gw;
    memset(&gw, 0, sizeof gw);
    int status = 1;
    if (rh_start(&rds, dir) != 0 || sh_start(&srv, NULL, NULL) != 0 ||
        sh_make_app(&srv, "bench", NULL, &id, &secret) || sh_add_key(&srv, "bench", key, kid))
        goto out;
    char *token = sh_get_token(&srv, id, secret, key);
    sh_resp jr;
    char url[256];
    snprintf(url, sizeof url, "%s/.well-known/jwks.json", srv.base);
    if (!token || sh_http("GET", url, NULL, NULL, 0, &jr) != 200)
        goto out;
    char path[700];
    snprintf(path, sizeof path, "%s/jwks.json", dir);
    tu_write(path, jr.body, strlen(jr.body));
    sh_resp_free(&jr);

    /* nginx: the measured server, and the upstream as a second server. */
    unsigned up_port = dm_free_port();
    gw.port = dm_free_port();
    snprintf(gw.dir, sizeof gw.dir, "%s", dir);
    snprintf(gw.conf, sizeof gw.conf, "%s/nginx.conf", dir);
    snprintf(gw.error_log, sizeof gw.error_log, "%s/error.log", dir);
    snprintf(gw.base, sizeof gw.base, "http://127.0.0.1:%u", gw.port);
    FILE *f = fopen(gw.conf, "w");
    if (!f)
        goto out;
    fprintf(f,
            "load_module %s;\n%s"
            "worker_processes 2;\nerror_log %s warn;\npid %s/nginx.pid;\n"
            "events { worker_connections 1024; }\n"
            "http {\n  access_log off;\n"
            "  client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
            "  fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
            "  upstream api { server 127.0.0.1:%u; keepalive 64; }\n"
            "  server { listen 127.0.0.1:%u; location / { return 200 \"ok\"; } }\n"
            "  server {\n    listen 127.0.0.1:%u;\n"
            "    proxy_http_version 1.1; proxy_set_header Connection \"\";\n"
            "    location /plain/ { proxy_pass http://api; }\n"
            "    location /taap/ {\n      taap on; taap_access_token_keys %s/jwks.json;\n"
            "      taap_issuer https://taap-serve.local/oauth2/v6; taap_replay %s;\n"
            "      proxy_pass http://api;\n    }\n  }\n}\n",
            nh_module_path(), geteuid() == 0 ? "user root;\n" : "", gw.error_log, dir, dir, dir,
            dir, dir, dir, up_port, up_port, gw.port, dir, replay ? replay : rds.url);
    fclose(f);
    if (nh_start(&gw) != 0 || dm_wait_port(up_port, gw.pid, 10000) != 0)
        goto out;

    char auth[8300];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    char script[700];
    snprintf(script, sizeof script, "%s/pops.lua", dir);
    /* wrk: thread t takes lines t, t+2, …; each PoP is sent at most once. */
    f = fopen(script, "w");
    if (!f)
        goto out;
    fprintf(f,
            "local n = 0\n"
            "function setup(thread) thread:set('tid', n); n = n + 1 end\n"
            "function init(args)\n"
            "  pops = {}; idx = 0; local i = 0\n"
            "  for line in io.lines(os.getenv('BENCH_POPS')) do\n"
            "    if i %% 2 == tid then pops[#pops + 1] = line end\n"
            "    i = i + 1\n"
            "  end\n"
            "end\n"
            "function request()\n"
            "  idx = idx + 1; if idx > #pops then idx = 1 end\n"
            "  return wrk.format('GET', string.gsub(wrk.path, '^/[a-z]+/', prefix), {\n"
            "    ['Authorization'] = '%s', ['X-Authorization'] = pops[idx] })\n"
            "end\n"
            "prefix = os.getenv('BENCH_PREFIX') or '/taap/'\n",
            auth);
    fclose(f);
    printf("gateway: nginx 1.22, 2 workers, module + Redis replay (%s); upstream: nginx return "
           "200 over keep-alive; wrk -t2 -c%ld -d%lds; %ld PoPs pre-signed before each taap run\n",
           replay ? replay : rds.url, connections, seconds, pops);
    wrk_result plain[2], taap[2];
    char plain_url[128], taap_url[128];
    snprintf(plain_url, sizeof plain_url, "%s/plain/v1/things", gw.base);
    snprintf(taap_url, sizeof taap_url, "%s/taap/v1/things", gw.base);
    char pops_file[700];
    snprintf(pops_file, sizeof pops_file, "%s/pops.txt", dir);
    setenv("BENCH_POPS", pops_file, 1);
    for (int round = 0; round < 2; round++) {
        /* Fresh PoPs for this round (a PoP lives 120 s at most). */
        double sign_s = 0;
        if (sign_all(key, auth, pops, pops_file, &sign_s) != 0)
            goto out;
        setenv("BENCH_PREFIX", "/plain/", 1);
        if (run_wrk(wrk, script, plain_url, seconds, connections, gw.pid, rds.pid,
                    &plain[round]) != 0)
            goto out;
        setenv("BENCH_PREFIX", "/taap/", 1);
        if (run_wrk(wrk, script, taap_url, seconds, connections, gw.pid, rds.pid,
                    &taap[round]) != 0)
            goto out;
        printf("  round %d (%ld PoPs signed in %.1f s): plain %.0f req/s p99 %.2f ms | taap %.0f "
               "req/s p99 %.2f ms, %ld non-2xx of %ld\n"
               "    CPU per request: nginx workers %.1f us plain, %.1f us taap; redis %.1f us\n",
               round + 1, pops, sign_s, plain[round].rps, plain[round].p99_ms, taap[round].rps,
               taap[round].p99_ms, taap[round].non2xx, taap[round].requests,
               plain[round].nginx_us, taap[round].nginx_us, taap[round].redis_us);
    }
    wrk_result *bp = plain[0].rps >= plain[1].rps ? &plain[0] : &plain[1];
    wrk_result *bt = taap[0].rps >= taap[1].rps ? &taap[0] : &taap[1];
    double ratio = bp->rps > 0 ? bt->rps / bp->rps : 0;
    double added = bt->p99_ms - bp->p99_ms;
    int valid = taap[0].non2xx == 0 && taap[1].non2xx == 0;
    printf("  best: plain %.0f req/s, taap %.0f req/s: ratio %.2f (target >= 0.80); p99 %.2f vs "
           "%.2f ms: added %.2f ms (target <= 1.00)%s\n",
           bp->rps, bt->rps, ratio, bt->p99_ms, bp->p99_ms, added,
           valid ? "" : "  [INVALID: non-2xx responses under /taap/; raise --pops]");
    /* The lowest CPU cost seen on each side (least disturbed by the host). */
    double pn = plain[0].nginx_us < plain[1].nginx_us ? plain[0].nginx_us : plain[1].nginx_us;
    double tn = taap[0].nginx_us < taap[1].nginx_us ? taap[0].nginx_us : taap[1].nginx_us;
    double tr = taap[0].redis_us < taap[1].redis_us ? taap[0].redis_us : taap[1].redis_us;
    printf("  nginx CPU per request: %.1f us plain, %.1f us with taap (+%.1f us); redis %.1f us "
           "per request\n",
           pn, tn, tn - pn, tr);
    printf("RESULT gateway ratio=%.3f added_p99_ms=%.3f plain_rps=%.0f taap_rps=%.0f valid=%d "
           "nginx_cpu_us_plain=%.1f nginx_cpu_us_taap=%.1f redis_cpu_us=%.1f\n",
           ratio, added, bp->rps, bt->rps, valid, pn, tn, tr);
    status = 0;
    free(token);
out:
    if (status != 0)
        fprintf(stderr, "bench_gateway: set-up failed\n");
    nh_stop(&gw);
    sh_stop(&srv);
    sh_cleanup(&srv);
    rh_stop(&rds);
    tu_rmtree(dir);
    free(dir);
    free(id);
    free(secret);
    taap_key_free(key);
    return status;
}
