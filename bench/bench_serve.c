/*
 * bench_serve.c — the emulator under load, and `taap call` streaming a big
 * upload (issue 3 deliverable 7, issue 4 deliverable 5, SPEC §8).
 *
 *   bench_serve throughput --taap BIN [--requests N] [--connections C] [--server-threads T]
 *     Starts `BIN serve` as its own process on port 0 (temp database,
 *     --no-access-log, --secret-iterations 1000), creates an application, a
 *     key, a subscription and a kit over the management API, gets an access
 *     token, pre-signs N unique PoP tokens for
 *     `GET /iot-connectivity/v1/devices/{iccid}` (before the clock starts, so
 *     the load generator never signs), then sends them over C keep-alive
 *     connections with one request in flight per connection. The generator is
 *     a single-threaded epoll loop that writes pre-formatted bytes and parses
 *     only the status line and Content-Length: it needs a few µs of CPU per
 *     request, so on a 2-core machine the server keeps most of the CPU. The
 *     server's own CPU time (/proc/PID/stat) is read before and after so the
 *     report can also say how many requests it served per CPU-second.
 *     Next to it, in the same run, the single-thread in-process taap_verify()
 *     rate of the same kind of PoP (before and after the load; the median of
 *     the rounds) is the yardstick: the reported ratio is requests/s ÷ that.
 *
 *   bench_serve stream --taap BIN [--size BYTES]
 *     Starts the emulator IN THIS PROCESS with its testing sink route
 *     (taap_serve_options.testing_sink: POST /testing/v1/sink counts and
 *     hashes a body of any size without keeping it), writes a sparse file of
 *     BYTES (default 1 GiB), and runs `BIN call --data-binary @FILE` against
 *     it as a child: the token comes from the emulator's token endpoint, the
 *     upload goes to the sink. Reports the child's peak RSS (wait4
 *     ru_maxrss; SPEC §8: under 32 MiB), the bytes the sink received and
 *     whether their SHA-256 matches the file's.
 *
 * Output ends with one machine-readable RESULT line per benchmark.
 * The key is BENCH_KEY (RSA private PEM) or tests/data's 2048-bit test key
 * via --key.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "serve_harness.h"
#include "taap/taap.h"
#include "taap_serve.h"
#include "testutil.h"

/* ---- small helpers -------------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_serve: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long parse_long(const char *flag, const char *v, long min, long max)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        die("%s wants an integer in %ld..%ld, not '%s'", flag, min, max, v);
    return (long)x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static taap_key *load_key(const char *path)
{
    taap_error err = TAAP_ERROR_INIT;
    taap_key *k = NULL;
    if (path) {
        if (taap_key_load_private_file(path, NULL, 0, &k, NULL, &err) != TAAP_OK)
            die("key %s: %s", path, err.message);
    } else if (taap_key_generate(2048, &k, &err) != TAAP_OK) {
        die("cannot generate a key: %s", err.message);
    }
    return k;
}

/* Server CPU seconds (user + system, all threads) from /proc/PID/stat. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NAN;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return NAN;
    buf[n] = '\0';
    /* Fields after the ")" that closes comm: state is field 3, utime 14, stime 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        return NAN;
    p += 2;
    unsigned long long ut = 0, st = 0;
    for (int field = 3; field <= 15 && *p; field++) {
        char *end = NULL;
        unsigned long long v = strtoull(p, &end, 10);
        if (field == 14)
            ut = v;
        if (field == 15)
            st = v;
        p = end ? end : p;
        while (*p == ' ')
            p++;
        if (field == 3) { /* state is a letter: skip it */
            while (*p && *p != ' ')
                p++;
            while (*p == ' ')
                p++;
        }
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void load_average(char *out, size_t cap)
{
    snprintf(out, cap, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    char line[128];
    if (fgets(line, sizeof line, f)) {
        /* first three fields */
        int sp = 0;
        size_t i = 0;
        for (; line[i] && sp < 3; i++)
            if (line[i] == ' ')
                sp++;
        snprintf(out, cap, "%.*s", (int)(i ? i - 1 : 0), line);
    }
    fclose(f);
}

/* ---- the server as a subprocess ---------------------------------------------------- */

typedef struct server_proc {
    sh_server sh; /* base, port, admin_token: what the harness helpers need */
    char dir[512];
} server_proc;

static void start_server(server_proc *sp, const char *taap, const char *const *extra)
{
    memset(sp, 0, sizeof *sp);
    char *d = tu_tempdir();
    snprintf(sp->dir, sizeof sp->dir, "%s", d);
    free(d);
    char db[600], log[600], tokf[620];
    snprintf(db, sizeof db, "%s/serve.db", sp->dir);
    snprintf(log, sizeof log, "%s/serve.log", sp->dir);
    snprintf(tokf, sizeof tokf, "%s.admin-token", db);
    const char *argv[48];
    int n = 0;
    argv[n++] = taap;
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--db";
    argv[n++] = db;
    argv[n++] = "--no-access-log";
    argv[n++] = "--secret-iterations";
    argv[n++] = "1000";
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pfd[1], 1);
        if (logfd >= 0)
            dup2(logfd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    if (logfd >= 0)
        close(logfd);
    sp->sh.pid = pid;
    sp->sh.out_fd = pfd[0];
    /* The server prints "listening on http://ADDR:PORT" once bound. */
    char text[4096];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        if (poll(&p, 1, 30000) <= 0)
            break;
        ssize_t r = read(pfd[0], text + got, sizeof text - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        text[got] = '\0';
        const char *l = strstr(text, "listening on http://");
        const char *nl = l ? strchr(l, '\n') : NULL;
        if (nl) {
            const char *colon = memrchr(l, ':', (size_t)(nl - l));
            sp->sh.port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
            break;
        }
        if (got + 1 >= sizeof text)
            break;
    }
    if (!sp->sh.port) {
        char *l = tu_read(log, NULL);
        die("the server did not start; its log:\n%s", l);
    }
    snprintf(sp->sh.base, sizeof sp->sh.base, "http://127.0.0.1:%u", sp->sh.port);
    char *tok = tu_read(tokf, NULL);
    tok[strcspn(tok, "\r\n")] = '\0';
    snprintf(sp->sh.admin_token, sizeof sp->sh.admin_token, "%s", tok);
    free(tok);
    sp->sh.now = (int64_t)time(NULL);
}

static int stop_server(server_proc *sp)
{
    int st = -1;
    if (sp->sh.pid > 0) {
        kill(sp->sh.pid, SIGTERM);
        if (waitpid(sp->sh.pid, &st, 0) < 0)
            st = -1;
        sp->sh.pid = 0;
    }
    if (sp->sh.out_fd > 0)
        close(sp->sh.out_fd);
    tu_rmtree(sp->dir);
    return st;
}

/* ---- pre-signing ------------------------------------------------------------------- */

typedef struct presign {
    const taap_key *key;
    const char *target;
    const char *authz; /* "Bearer <access token>" */
    unsigned lifetime;
    char **pops;
    size_t n;
    atomic_size_t next;
    atomic_int failed;
} presign;

static void *presign_main(void *arg)
{
    presign *p = arg;
    taap_header h = {"Authorization", p->authz};
    taap_request req = {"GET", p->target, &h, 1, {TAAP_BODY_NONE, NULL, 0, NULL, NULL, NULL}};
    taap_pop_options po;
    taap_pop_options_init(&po);
    po.lifetime = p->lifetime;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        taap_error err = TAAP_ERROR_INIT;
        if (taap_pop_build_request(p->key, &req, &po, &p->pops[i], NULL, &err) != TAAP_OK) {
            fprintf(stderr, "bench_serve: PoP build failed: %s\n", err.message);
            atomic_store(&p->failed, 1);
            break;
        }
    }
    return NULL;
}

/* ---- the yardstick: single-thread in-process taap_verify ------------------------------ */

typedef struct verify_job {
    const taap_key *pub;
    const char *target;
    const char *authz;
    char **pops;
    size_t n;
} verify_job;

/* Verifies/s over `seconds` of work, cycling over the tokens. */
static double verify_rate(const verify_job *j, double seconds, size_t *cursor)
{
    taap_header h = {"Authorization", j->authz};
    taap_request req = {"GET", j->target, &h, 1, {TAAP_BODY_NONE, NULL, 0, NULL, NULL, NULL}};
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    static const char *const required[] = {"Authorization", "uri", "http-method", "body"};
    cfg.required = required;
    cfg.n_required = 4;
    size_t ops = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        for (int k = 0; k < 64; k++) {
            const char *pop = j->pops[*cursor % j->n];
            (*cursor)++;
            taap_error err = TAAP_ERROR_INIT;
            if (taap_verify(pop, strlen(pop), j->pub, &req, &cfg, NULL, &err) != TAAP_OK)
                die("in-process verify failed: %s", err.message);
            ops++;
        }
        t = now_s();
    }
    return (double)ops / (t - t0);
}

/* ---- the load generator ------------------------------------------------------------------ */

typedef struct conn {
    int fd;
    size_t idx;        /* request in flight */
    double t0;
    char *out;         /* formatted request */
    size_t out_len, out_off;
    char in[8192];
    size_t in_len;
    int busy;
} conn;

typedef struct load {
    const char *prefix; /* request line + Host + Authorization + "X-Authorization: " */
    size_t prefix_len;
    char **pops;
    size_t first, end;  /* token range [first, end) */
    size_t next;
    unsigned port;
    double *lat;        /* per request, seconds (index - first) */
    int *status;
    size_t done, non2xx, transport_errors, reconnects;
} load;

static int connect_to(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Put the next token on `c`; 0 when none is left. */
static int issue(load *L, conn *c, int ep)
{
    if (L->next >= L->end) {
        c->busy = 0;
        return 0;
    }
    c->idx = L->next++;
    const char *pop = L->pops[c->idx];
    size_t pl = strlen(pop);
    size_t need = L->prefix_len + pl + 4;
    if (need > c->out_len) {
        free(c->out);
        c->out = malloc(need);
        if (!c->out)
            die("out of memory");
    }
    memcpy(c->out, L->prefix, L->prefix_len);
    memcpy(c->out + L->prefix_len, pop, pl);
    memcpy(c->out + L->prefix_len + pl, "\r\n\r\n", 4);
    c->out_len = need;
    c->out_off = 0;
    c->in_len = 0;
    c->busy = 1;
    c->t0 = now_s();
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w > 0)
        c->out_off = (size_t)w;
    struct epoll_event ev = {.events = EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 1;
}

static void reconnect(load *L, conn *c, int ep)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = connect_to(L->port);
    if (c->fd < 0)
        die("cannot reconnect to the server: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    L->reconnects++;
}

/* 1 when c->in holds a whole response; sets *status and *close_after. -1 on garbage. */
static int response_complete(conn *c, int *status, int *close_after)
{
    c->in[c->in_len < sizeof c->in ? c->in_len : sizeof c->in - 1] = '\0';
    char *eoh = strstr(c->in, "\r\n\r\n");
    if (!eoh)
        return c->in_len >= sizeof c->in - 1 ? -1 : 0;
    if (strncmp(c->in, "HTTP/1.1 ", 9) != 0 && strncmp(c->in, "HTTP/1.0 ", 9) != 0)
        return -1;
    *status = (int)strtol(c->in + 9, NULL, 10);
    size_t clen = 0;
    int have_len = 0;
    *close_after = 0;
    for (char *p = strstr(c->in, "\r\n"); p && p < eoh; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "Content-Length:", 15) == 0) {
            clen = strtoul(p + 17, NULL, 10);
            have_len = 1;
        } else if (strncasecmp(p + 2, "Connection: close", 17) == 0) {
            *close_after = 1;
        } else if (strncasecmp(p + 2, "Transfer-Encoding:", 18) == 0) {
            return -1; /* never sent by the emulator for these responses */
        }
    }
    if (!have_len)
        return -1;
    size_t total = (size_t)(eoh + 4 - c->in) + clen;
    if (total >= sizeof c->in)
        return -1;
    return c->in_len >= total ? 1 : 0;
}

/* Open `nconn` keep-alive connections, registered with a new epoll set. */
static conn *open_conns(load *L, int nconn, int *ep_out)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn *cs = calloc((size_t)nconn, sizeof *cs);
    if (ep < 0 || !cs)
        die("epoll/calloc failed");
    for (int i = 0; i < nconn; i++) {
        cs[i].fd = connect_to(L->port);
        if (cs[i].fd < 0)
            die("cannot connect to the server: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    *ep_out = ep;
    return cs;
}

static void close_conns(conn *cs, int nconn, int ep)
{
    for (int i = 0; i < nconn; i++) {
        close(cs[i].fd);
        free(cs[i].out);
    }
    free(cs);
    close(ep);
}

/* Send tokens [L->first, L->end) over the open connections; returns wall seconds. */
static double run_load(load *L, conn *cs, int nconn, int ep)
{
    L->next = L->first;
    double t0 = now_s();
    size_t busy = 0;
    for (int i = 0; i < nconn; i++)
        busy += (size_t)issue(L, &cs[i], ep);
    struct epoll_event evs[64];
    while (busy > 0) {
        int n = epoll_wait(ep, evs, 64, 30000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("no response from the server for 30 s (%zu requests outstanding)", busy);
        for (int k = 0; k < n; k++) {
            conn *c = evs[k].data.ptr;
            if (!c->busy)
                continue;
            if ((evs[k].events & EPOLLOUT) && c->out_off < c->out_len) {
                ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
                if (w > 0)
                    c->out_off += (size_t)w;
                if (c->out_off == c->out_len) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            int status = 0, close_after = 0, done;
            if (r > 0) {
                c->in_len += (size_t)r;
                done = response_complete(c, &status, &close_after);
            } else {
                done = -1; /* closed before a whole response */
            }
            if (done == 0)
                continue;
            size_t at = c->idx - L->first;
            L->lat[at] = now_s() - c->t0;
            L->status[at] = done == 1 ? status : 0;
            L->done++;
            if (done < 0)
                L->transport_errors++;
            else if (status < 200 || status > 299)
                L->non2xx++;
            if (done < 0 || close_after)
                reconnect(L, c, ep);
            if (!issue(L, c, ep))
                busy--;
        }
    }
    return now_s() - t0;
}

/* ---- throughput ---------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_serve throughput --taap BIN [--key PEM] [--requests N] [--warmup N]\n"
            "                              [--connections C] [--server-threads T] [--rounds R]\n"
            "                              [--verify-ms MS]\n"
            "       bench_serve stream --taap BIN [--key PEM] [--size BYTES]\n");
    exit(2);
}

typedef struct args {
    const char *taap, *key;
    long requests, warmup, connections, server_threads, rounds, verify_ms;
    long long size;
} args;

static void bench_throughput(const args *a)
{
    char la[64];
    load_average(la, sizeof la);
    taap_key *key = load_key(a->key);
    char threads[16];
    snprintf(threads, sizeof threads, "%ld", a->server_threads);
    /* Default policy, replay check on. The PoPs carry the longest lifetime
     * the policy allows (120 s): the first ones are signed up to the
     * pre-signing time before they are sent. */
    /* The load generator is one client address: lift the per-client share. */
    const char *extra[] = {"--threads", threads, "--max-connections", "2048",
                           "--max-connections-per-client", "1024", NULL};
    server_proc sp;
    start_server(&sp, a->taap, extra);
    char *id = NULL, *secret = NULL, kid[17], iccid[24];
    if (sh_make_app(&sp.sh, "bench-app", NULL, &id, &secret) != 0 ||
        sh_add_key(&sp.sh, "bench-app", key, kid) != 0 || sh_subscribe(&sp.sh, "bench-app") != 0 ||
        sh_activate_kit(&sp.sh, "bench-app", iccid) != 0)
        die("setting up the application over the management API failed");
    sp.sh.now = (int64_t)time(NULL);
    char *at = sh_get_token(&sp.sh, id, secret, key);
    if (!at)
        die("no access token from the token endpoint");
    char target[128], authz[8192];
    snprintf(target, sizeof target, "/iot-connectivity/v1/devices/%s", iccid);
    snprintf(authz, sizeof authz, "Bearer %s", at);

    /* Pre-sign every token, on every core, before anything is timed. */
    size_t total = (size_t)(a->warmup + a->requests);
    presign ps = {key, target, authz, 120, calloc(total, sizeof(char *)), total, 0, 0};
    if (!ps.pops)
        die("out of memory");
    double ts = now_s();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t th[8];
    int nth = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (int)ncpu;
    for (int i = 0; i < nth; i++)
        pthread_create(&th[i], NULL, presign_main, &ps);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&ps.failed))
        die("pre-signing failed");
    double sign_s = now_s() - ts;

    /* The yardstick: the same PoPs, verified in this process on one thread. */
    verify_job vj = {key, target, authz, ps.pops, total};
    size_t cursor = 0;

    char prefix[9000];
    int pl = snprintf(prefix, sizeof prefix,
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAuthorization: %s\r\n"
                      "X-Authorization: ",
                      target, sp.sh.port, authz);
    load L = {0};
    L.prefix = prefix;
    L.prefix_len = (size_t)pl;
    L.pops = ps.pops;
    L.port = sp.sh.port;
    L.lat = calloc(total, sizeof(double));
    L.status = calloc(total, sizeof(int));
    if (!L.lat || !L.status)
        die("out of memory");
    int ep = -1;
    conn *cs = open_conns(&L, (int)a->connections, &ep);
    /* Warm-up (not counted): every server thread opens its SQLite connection. */
    L.first = 0;
    L.end = (size_t)a->warmup;
    run_load(&L, cs, (int)a->connections, ep);
    size_t warm_bad = L.non2xx + L.transport_errors;

    /* Measured rounds. The host's speed drifts by tens of percent within
     * seconds, so the yardstick is taken right next to each load round
     * (alternating which goes first) and the ratio is taken per round. */
    int rounds = (int)a->rounds;
    double *rr = calloc((size_t)rounds, sizeof *rr), *vr = calloc((size_t)rounds, sizeof *vr);
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    if (!rr || !vr || !ratio)
        die("out of memory");
    load M = L;
    M.done = M.non2xx = M.transport_errors = M.reconnects = 0;
    M.lat = L.lat + a->warmup; /* measured request i lands in L.lat[i] */
    M.status = L.status + a->warmup;
    double wall = 0, cpu_srv = 0, cpu_me = 0;
    size_t per = (size_t)a->requests / (size_t)rounds;
    for (int r = 0; r < rounds; r++) {
        size_t from = (size_t)a->warmup + (size_t)r * per;
        size_t to = r == rounds - 1 ? total : from + per;
        if (r % 2 == 0)
            vr[r] = verify_rate(&vj, a->verify_ms / 1000.0, &cursor);
        load R = M;
        R.first = from;
        R.end = to;
        R.lat = L.lat + from;
        R.status = L.status + from;
        R.done = R.non2xx = R.transport_errors = R.reconnects = 0;
        double c0 = proc_cpu_s(sp.sh.pid), m0 = self_cpu_s();
        double w = run_load(&R, cs, (int)a->connections, ep);
        cpu_srv += proc_cpu_s(sp.sh.pid) - c0;
        cpu_me += self_cpu_s() - m0;
        if (r % 2 == 1)
            vr[r] = verify_rate(&vj, a->verify_ms / 1000.0, &cursor);
        wall += w;
        M.done += R.done;
        M.non2xx += R.non2xx;
        M.transport_errors += R.transport_errors;
        M.reconnects += R.reconnects;
        rr[r] = (double)R.done / w;
        ratio[r] = rr[r] / vr[r];
    }
    close_conns(cs, (int)a->connections, ep);
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_double);
    double *vs = calloc((size_t)rounds, sizeof *vs);
    if (!vs)
        die("out of memory");
    memcpy(vs, vr, (size_t)rounds * sizeof *vs);
    qsort(vs, (size_t)rounds, sizeof *vs, cmp_double);
    double verify = percentile(vs, (size_t)rounds, 0.5);
    double med_ratio = percentile(ratio, (size_t)rounds, 0.5);
    char la2[64];
    load_average(la2, sizeof la2);

    size_t n = M.done;
    double *ms = M.lat; /* measured slots only */
    qsort(ms, n, sizeof *ms, cmp_double);
    double rps = (double)n / wall;
    double p50 = percentile(ms, n, 0.50) * 1e3, p99 = percentile(ms, n, 0.99) * 1e3;
    double per_cpu = cpu_srv > 0 ? (double)n / cpu_srv : NAN;
    int first_bad = 0;
    for (size_t i = (size_t)a->warmup; i < total && !first_bad; i++)
        if (L.status[i] < 200 || L.status[i] > 299)
            first_bad = L.status[i] ? L.status[i] : -1;
    int st = stop_server(&sp);

    printf("request: GET %s, Authorization: Bearer <%zu-byte access token>, "
           "X-Authorization: <unique pre-signed PoP>\n",
           target, strlen(at));
    printf("server: %s serve --threads %ld (own process, replay check on), %ld connections, "
           "keep-alive, one request in flight per connection\n",
           a->taap, a->server_threads, a->connections);
    printf("pre-signed %zu PoPs in %.1f s on %d threads (not timed); warm-up %ld requests "
           "(%zu not 2xx)\n",
           total, sign_s, nth, a->warmup, warm_bad);
    printf("load average before / after: %s / %s\n", la, la2);
    printf("%-34s %10zu\n", "requests measured", n);
    printf("%-34s %10.2f\n", "wall seconds", wall);
    printf("%-34s %10.0f\n", "requests/s", rps);
    printf("%-34s %10.2f\n", "latency p50 (ms)", p50);
    printf("%-34s %10.2f\n", "latency p99 (ms)", p99);
    printf("%-34s %10zu\n", "non-2xx responses", M.non2xx);
    printf("%-34s %10zu\n", "transport errors", M.transport_errors);
    printf("%-34s %10.2f  (%.2f cores busy)\n", "server CPU seconds", cpu_srv, cpu_srv / wall);
    printf("%-34s %10.2f  (%.2f cores busy, %.1f us/request)\n", "load generator CPU seconds",
           cpu_me, cpu_me / wall, cpu_me / (double)n * 1e6);
    printf("%-34s %10.0f\n", "requests per server CPU-second", per_cpu);
    printf("%-34s %10.0f  (median of %d rounds, min %.0f, max %.0f)\n",
           "in-process taap_verify/s, 1 thread", verify, rounds, vs[0], vs[rounds - 1]);
    printf("%-34s %10.2f  (median of the per-round ratios, min %.2f, max %.2f; target >= 0.5 "
           "with zero errors)\n",
           "ratio requests/s / verify/s", med_ratio, ratio[0], ratio[rounds - 1]);
    printf("%-34s %10.2f  (CPU-normalised: requests per server CPU-second / verify/s)\n",
           "ratio per server CPU-second", per_cpu / verify);
    if (first_bad)
        printf("first non-2xx status: %d\n", first_bad);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        printf("WARNING: the server did not stop cleanly (status %d)\n", st);
    const char *verdict =
        (M.non2xx + M.transport_errors == 0 && med_ratio >= 0.5) ? "PASS" : "UNDER";
    printf("RESULT bench=serve op=device_get requests=%zu rps=%.0f p50_ms=%.2f p99_ms=%.2f "
           "non2xx=%zu errors=%zu verify_rate=%.0f ratio=%.3f min=%.3f max=%.3f n=%d "
           "cpu_ratio=%.3f server_cores=%.2f target=0.5 verdict=%s\n",
           n, rps, p50, p99, M.non2xx, M.transport_errors, verify, med_ratio, ratio[0],
           ratio[rounds - 1], rounds, per_cpu / verify, cpu_srv / wall, verdict);
    free(rr);
    free(vr);
    free(vs);
    free(ratio);
    for (size_t i = 0; i < total; i++)
        free(ps.pops[i]);
    free(ps.pops);
    free(L.lat);
    free(L.status);
    free(at);
    free(id);
    free(secret);
    taap_key_free(key);
}

/* ---- stream ------------------------------------------------------------------------------ */

static void bench_stream(const args *a)
{
    taap_key *key = load_key(a->key);
    char *dir = tu_tempdir();
    char file[600], keyp[600], out[600], url[64], data_arg[620];
    snprintf(file, sizeof file, "%s/upload.bin", dir);
    snprintf(keyp, sizeof keyp, "%s/key.pem", dir);
    snprintf(out, sizeof out, "%s/response.json", dir);
    /* A sparse file: no disk blocks, reads as zeros, and one marker at the end. */
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)a->size) != 0 ||
        pwrite(fd, "end", 3, (off_t)a->size - 3) != 3)
        die("cannot make the sparse file %s", file);
    close(fd);
    char *pem = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_key_private_pem(key, NULL, &pem, &err) != TAAP_OK)
        die("key: %s", err.message);
    tu_write(keyp, pem, strlen(pem));
    chmod(keyp, 0600);
    taap_key_free_pem(pem);

    /* What the sink must report: SHA-256 of the file (zeros + "end"). */
    unsigned char want[32];
    {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        static unsigned char zero[1 << 16];
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        long long left = a->size - 3;
        while (left > 0) {
            size_t n = left > (long long)sizeof zero ? sizeof zero : (size_t)left;
            EVP_DigestUpdate(md, zero, n);
            left -= (long long)n;
        }
        EVP_DigestUpdate(md, "end", 3);
        EVP_DigestFinal_ex(md, want, NULL);
        EVP_MD_CTX_free(md);
    }
    char want_hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(want_hex + 2 * i, 3, "%02x", want[i]);

    taap_serve_options o;
    taap_serve_options_init(&o);
    o.port = 0;
    o.secret_iterations = 1000;
    o.testing_sink = 1;
    taap_server *s = NULL;
    if (taap_serve_open(&o, &s, NULL, &err) != TAAP_OK || taap_serve_start(s, &err) != TAAP_OK)
        die("in-process emulator: %s", err.message);
    char *app = NULL;
    if (taap_serve_app_create(s, "stream-app", NULL, &app, &err) != TAAP_OK)
        die("app: %s", err.message);
    char *pub = NULL;
    if (taap_key_public_pem(key, &pub, &err) != TAAP_OK ||
        taap_serve_key_add(s, "stream-app", pub, strlen(pub), NULL, &err) != TAAP_OK)
        die("key: %s", err.message);
    taap_key_free_pem(pub);
    /* client id and secret out of the app JSON */
    char id[128] = "", secret[256] = "";
    {
        const char *p = strstr(app, "\"clientId\":\"");
        const char *q = strstr(app, "\"clientSecret\":\"");
        if (!p || !q)
            die("unexpected app JSON");
        snprintf(id, sizeof id, "%.*s", (int)strcspn(p + 12, "\""), p + 12);
        snprintf(secret, sizeof secret, "%.*s", (int)strcspn(q + 16, "\""), q + 16);
    }
    free(app);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", taap_serve_port(s));
    snprintf(data_arg, sizeof data_arg, "@%s", file);
    setenv("BENCH_STREAM_SECRET", secret, 1);
    setenv("XDG_CACHE_HOME", dir, 1);
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, STDOUT_FILENO);
        execl(a->taap, a->taap, "call", "--base-url", url, "--client-id", id, "--secret-env",
              "BENCH_STREAM_SECRET", "--key", keyp, "--no-cache", "-o", out, "-X", "POST",
              "-H", "Content-Type: application/octet-stream", "--data-binary", data_arg,
              "/testing/v1/sink", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        die("wait4: %s", strerror(errno));
    double wall = now_s() - t0;
    taap_serve_close(s);
    size_t rl = 0;
    char *resp = NULL;
    struct stat sb;
    if (stat(out, &sb) == 0)
        resp = tu_read(out, &rl);
    long long got = -1;
    int sha_ok = 0;
    if (resp) {
        const char *b = strstr(resp, "\"bytes\":");
        const char *h = strstr(resp, "\"sha256\":\"");
        if (b)
            got = strtoll(b + 8, NULL, 10);
        sha_ok = h && strncmp(h + 10, want_hex, 64) == 0;
    }
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    printf("upload: %lld bytes (sparse file) with `%s call -X POST --data-binary @FILE` to the "
           "emulator's testing sink\n",
           a->size, a->taap);
    printf("%-34s %10s\n", "taap call exit status",
           ok ? "0" : WIFEXITED(st) ? "non-zero" : "killed");
    printf("%-34s %10lld\n", "bytes received by the emulator", got);
    printf("%-34s %10s\n", "SHA-256 of what arrived", sha_ok ? "matches" : "DIFFERS");
    printf("%-34s %10.2f\n", "wall seconds", wall);
    printf("%-34s %10.1f\n", "MiB/s", (double)a->size / wall / 1048576.0);
    printf("%-34s %10ld  (limit 32768)\n", "taap call peak RSS (KiB)", ru.ru_maxrss);
    struct rusage me;
    getrusage(RUSAGE_SELF, &me);
    printf("%-34s %10ld  (the sink hashes and drops the body)\n",
           "emulator (this process) peak RSS", me.ru_maxrss);
    printf("RESULT bench=stream bytes=%lld received=%lld sha256=%s exit=%d peak_rss_kib=%ld "
           "limit_kib=32768 server_rss_kib=%ld seconds=%.2f verdict=%s\n",
           a->size, got, sha_ok ? "match" : "differs", ok ? 0 : 1, ru.ru_maxrss, me.ru_maxrss, wall,
           ok && sha_ok && got == a->size && ru.ru_maxrss < 32768 ? "PASS" : "FAIL");
    if (!ok && resp)
        printf("response: %.300s\n", resp);
    free(resp);
    unlink(file);
    tu_rmtree(dir);
    free(dir);
    taap_key_free(key);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        usage();
    args a = {NULL, getenv("BENCH_KEY"), 40000, 2000, 32, 2, 8, 300, (long long)1 << 30};
    if (a.key && !*a.key)
        a.key = NULL;
    for (int i = 2; i < argc; i += 2) { /* flag, value */
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(f, "--taap") == 0)
            a.taap = v;
        else if (strcmp(f, "--key") == 0)
            a.key = v;
        else if (strcmp(f, "--requests") == 0)
            a.requests = parse_long(f, v, 1, 10000000);
        else if (strcmp(f, "--warmup") == 0)
            a.warmup = parse_long(f, v, 0, 1000000);
        else if (strcmp(f, "--connections") == 0)
            a.connections = parse_long(f, v, 1, 400);
        else if (strcmp(f, "--rounds") == 0)
            a.rounds = parse_long(f, v, 1, 1000);
        else if (strcmp(f, "--verify-ms") == 0)
            a.verify_ms = parse_long(f, v, 10, 60000);
        else if (strcmp(f, "--server-threads") == 0)
            a.server_threads = parse_long(f, v, 1, 256);
        else if (strcmp(f, "--size") == 0)
            a.size = parse_long(f, v, 16, (long)1 << 40);
        else
            usage();
    }
    if (!a.taap)
        usage();
    signal(SIGPIPE, SIG_IGN);
    setenv("TAAP_BIN", a.taap, 0);
    if (strcmp(argv[1], "throughput") == 0)
        bench_throughput(&a);
    else if (strcmp(argv[1], "stream") == 0)
        bench_stream(&a);
    else
        usage();
    return 0;
}
