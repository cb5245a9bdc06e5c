/*
 * bench_pop.c — SPEC §8 speed measurements for the PoP builder and verifier.
 *
 * Every figure is a ratio taken in one process against a bare OpenSSL
 * operation doing the same cryptographic work, because absolute rates drift
 * by ±20–30 % on the shared project machine (reference/perf-baseline.md,
 * "Noise"). Rounds of fixed work alternate between the two sides (A B, B A,
 * A B, …) and the ratio is taken pair by pair, so drift between rounds
 * cancels out; the median ratio and its min–max are reported.
 *
 *   bench_pop [pop]       in-process build and verify rates, 0 B .. 1 MiB bodies
 *   bench_pop oneshot     wall time of whole processes (fork/exec), two commands
 *                         alternated
 *   bench_pop loop        one side only, N times (for perf / callgrind)
 *   bench_pop write-key   a fresh RSA-2048 test key (taap_key_generate), PKCS#8 PEM
 *   bench_pop write-body  the deterministic benchmark body of N bytes
 *
 * The program reports; it never decides a build's fate (exit status is 0
 * unless it could not measure at all).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "taap/key.h"
#include "taap/pop.h"
#include "taap/verify.h"

#include "b64url.h" /* library-internal: only to cross-check taap's tokens */

extern char **environ;

/* The request of reference/perf-baseline.md, byte for byte. */
#define REQ_CONTENT_TYPE "application/json"
#define REQ_AUTHORIZATION "Bearer UtKV75JJbVAewOrkHMXhLbiQ11SSbenchAccessToken0123456789"
#define REQ_TARGET "/commerce/v1/orders"
#define REQ_METHOD "POST"
#define REQ_EHTS_BODY "Content-Type;Authorization;uri;http-method;body"
#define REQ_EHTS_NOBODY "Content-Type;Authorization;uri;http-method"

#define MAX_ROUNDS 1000
#define KEY_FILE_MAX (64 * 1024)
#define BODY_MAX ((size_t)1 << 30)

static const size_t default_sizes[] = {0, 1024, 10 * 1024, 100 * 1024, 1024 * 1024};

/* ---- small utilities -------------------------------------------------- */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mono_now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/*
 * The clock for in-process rounds. Default: this thread's CPU time, which
 * leaves out the time other processes on the shared host take the core
 * away (and, on a KVM guest with steal-time accounting, stolen time); for
 * a single-threaded CPU-bound loop it equals wall time on a quiet machine.
 * BENCH_CLOCK=wall uses CLOCK_MONOTONIC instead.
 */
static clockid_t round_clock = CLOCK_THREAD_CPUTIME_ID;
static const char *round_clock_name = "thread CPU time (CLOCK_THREAD_CPUTIME_ID)";

static void choose_round_clock(void)
{
    const char *c = getenv("BENCH_CLOCK");
    if (!c || !*c || !strcmp(c, "cpu"))
        return;
    if (strcmp(c, "wall") != 0) {
        fprintf(stderr, "bench_pop: BENCH_CLOCK must be cpu or wall, got '%s'\n", c);
        exit(2);
    }
    round_clock = CLOCK_MONOTONIC;
    round_clock_name = "wall time (CLOCK_MONOTONIC)";
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_pop: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Parse a non-negative integer in [lo, hi]; `what` names it in the error. */
static long parse_long(const char *s, long lo, long hi, const char *what)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || end == s || *end || v < lo || v > hi)
        die("%s must be an integer in %ld..%ld, got '%s'", what, lo, hi, s);
    return v;
}

/* An integer from the environment, or `def` when unset or empty. */
static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    return parse_long(v, lo, hi, name);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts a copy); min and max through the pointers. */
static double median_of(const double *v, size_t n, double *min, double *max)
{
    double *s = malloc(n * sizeof *s);
    if (!s)
        die("out of memory");
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double m = (n % 2) ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    if (min)
        *min = s[0];
    if (max)
        *max = s[n - 1];
    free(s);
    return m;
}

/* "12,345" for rates; one decimal below 100. */
static const char *fmt_rate(double r, char *buf, size_t cap)
{
    if (r < 100.0) {
        snprintf(buf, cap, "%.1f", r);
        return buf;
    }
    unsigned long long v = (unsigned long long)(r + 0.5);
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *fmt_size(size_t n, char *buf, size_t cap)
{
    if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
        snprintf(buf, cap, "%zu MiB", n / (1024 * 1024));
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, cap, "%zu KiB", n / 1024);
    else
        snprintf(buf, cap, "%zu B", n);
    return buf;
}

/* Deterministic printable ASCII (xorshift32 from a fixed seed): the same
 * bytes on every run and machine, not compressible into a trivial pattern. */
static unsigned char *make_body(size_t n)
{
    unsigned char *b = malloc(n ? n : 1);
    if (!b)
        die("out of memory for a %zu-byte body", n);
    uint32_t x = 0x74616170u; /* "taap" */
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)(' ' + 1 + x % 94); /* '!'..'~' */
    }
    return b;
}

static char *read_small_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        die("cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(KEY_FILE_MAX + 1);
    if (!buf)
        die("out of memory");
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, KEY_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("cannot read %s: %s", path, strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > KEY_FILE_MAX)
            die("%s is larger than %d bytes: not a key file", path, KEY_FILE_MAX);
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        die("cannot create %s: %s", path, strerror(errno));
    const unsigned char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            die("cannot write %s: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

/* ---- the keys: one parse for taap, one for bare OpenSSL ---------------- */

typedef struct keys {
    taap_key *priv, *pub;        /* taap side */
    EVP_PKEY *bare_priv;         /* bare side: straight from PEM via OpenSSL */
    EVP_PKEY *bare_pub;          /* public half only (SPKI round trip) */
    unsigned bits;
    char origin[512];
} keys;

static void keys_load(keys *k, const char *path)
{
    taap_error err = TAAP_ERROR_INIT;
    char *pem = NULL;
    size_t pem_len = 0;
    memset(k, 0, sizeof *k);
    if (path) {
        pem = read_small_file(path, &pem_len);
        if (taap_key_load_private(pem, pem_len, NULL, 0, &k->priv, &err) != TAAP_OK)
            die("taap_key_load_private(%s): %s", path, err.message);
        snprintf(k->origin, sizeof k->origin, "%s", path);
    } else {
        if (taap_key_generate(2048, &k->priv, &err) != TAAP_OK)
            die("taap_key_generate: %s", err.message);
        if (taap_key_private_pem(k->priv, NULL, &pem, &err) != TAAP_OK)
            die("taap_key_private_pem: %s", err.message);
        pem_len = strlen(pem);
        snprintf(k->origin, sizeof k->origin, "generated at start (taap_key_generate)");
    }
    if (taap_key_load_public(pem, pem_len, &k->pub, &err) != TAAP_OK)
        die("taap_key_load_public: %s", err.message);
    k->bits = taap_key_bits(k->priv);

    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    if (!bio || !(k->bare_priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)))
        die("OpenSSL cannot read the key as an unencrypted PEM private key");
    BIO_free(bio);
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(k->bare_priv, &der);
    const unsigned char *p = der;
    if (der_len <= 0 || !(k->bare_pub = d2i_PUBKEY(NULL, &p, der_len)))
        die("OpenSSL cannot extract the public key");
    OPENSSL_free(der);
    OPENSSL_cleanse(pem, pem_len);
    if (path)
        free(pem);
    else
        taap_key_free_pem(pem);
}

static void keys_free(keys *k)
{
    taap_key_free(k->priv);
    taap_key_free(k->pub);
    EVP_PKEY_free(k->bare_priv);
    EVP_PKEY_free(k->bare_pub);
}

/* ---- one body size: the request, a reference token, both sides -------- */

typedef struct work {
    const keys *k;
    size_t body_len;
    unsigned char *body;
    taap_header headers[2];
    taap_request req;
    taap_pop_options popts;
    taap_verify_config vcfg;
    int64_t token_iat;
    /* A token built by taap, checked by bare OpenSSL; the verify rows use it. */
    char *token;
    size_t token_len;
    size_t signing_input_len; /* header.payload prefix of token */
    unsigned char sig[1024];
    size_t sig_len;
    unsigned char digest[32]; /* SHA-256 of the signed values */
    char error[600];          /* first failure of a taap call, for the report */
} work;

static int64_t fixed_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* SHA-256 over the request's values in ehts order: the edts input. */
static int bare_values_hash(const work *w, unsigned char out[32])
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned int dl = 0;
    int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(h, REQ_CONTENT_TYPE, sizeof REQ_CONTENT_TYPE - 1) == 1 &&
             EVP_DigestUpdate(h, REQ_AUTHORIZATION, sizeof REQ_AUTHORIZATION - 1) == 1 &&
             EVP_DigestUpdate(h, REQ_TARGET, sizeof REQ_TARGET - 1) == 1 &&
             EVP_DigestUpdate(h, REQ_METHOD, sizeof REQ_METHOD - 1) == 1 &&
             (w->body_len == 0 || EVP_DigestUpdate(h, w->body, w->body_len) == 1) &&
             EVP_DigestFinal_ex(h, out, &dl) == 1 && dl == 32;
    EVP_MD_CTX_free(h);
    return ok ? 0 : -1;
}

/* The four measured operations. Each returns 0 on success. */

static int op_taap_build(work *w)
{
    char *tok = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_pop_build_request(w->k->priv, &w->req, &w->popts, &tok, NULL, &err) != TAAP_OK) {
        snprintf(w->error, sizeof w->error, "taap_pop_build_request: %s", err.message);
        return -1;
    }
    free(tok);
    return 0;
}

static int op_bare_build(work *w)
{
    unsigned char d[32], sig[1024];
    size_t sl = sizeof sig;
    if (bare_values_hash(w, d) != 0)
        return -1;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, w->k->bare_priv) == 1 &&
             EVP_DigestSign(m, sig, &sl, (const unsigned char *)w->token,
                            w->signing_input_len) == 1;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

static int op_taap_verify(work *w)
{
    taap_error err = TAAP_ERROR_INIT;
    if (taap_verify(w->token, w->token_len, w->k->pub, &w->req, &w->vcfg, NULL, &err) !=
        TAAP_OK) {
        snprintf(w->error, sizeof w->error, "taap_verify: %s", err.message);
        return -1;
    }
    return 0;
}

static int op_bare_verify(work *w)
{
    unsigned char d[32];
    if (bare_values_hash(w, d) != 0 || CRYPTO_memcmp(d, w->digest, 32) != 0)
        return -1;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, w->k->bare_pub) == 1 &&
             EVP_DigestVerify(m, w->sig, w->sig_len, (const unsigned char *)w->token,
                              w->signing_input_len) == 1;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

/*
 * Set up one body size and prove that both sides do the same work: taap's
 * token must carry the edts bare OpenSSL computes, its signature must verify
 * with bare OpenSSL over its header.payload, and taap_verify must accept it.
 * Returns 0, or -1 with w->error set.
 */
static int work_init(work *w, const keys *k, size_t body_len)
{
    memset(w, 0, sizeof *w);
    w->k = k;
    w->body_len = body_len;
    w->body = make_body(body_len);
    w->headers[0] = (taap_header){"Content-Type", REQ_CONTENT_TYPE};
    w->headers[1] = (taap_header){"Authorization", REQ_AUTHORIZATION};
    w->req.method = REQ_METHOD;
    w->req.target = REQ_TARGET;
    w->req.headers = w->headers;
    w->req.n_headers = 2;
    if (body_len) {
        w->req.body.kind = TAAP_BODY_MEMORY;
        w->req.body.data = w->body;
        w->req.body.len = (int64_t)body_len;
    }
    /* The builder as users run it: wall clock, fresh random jti per token. */
    taap_pop_options_init(&w->popts);

    if (bare_values_hash(w, w->digest) != 0) {
        snprintf(w->error, sizeof w->error, "OpenSSL SHA-256 failed");
        return -1;
    }
    char expect_edts[TAAP_B64URL_LEN(32) + 1];
    taap_b64url_encode(w->digest, 32, expect_edts);

    taap_error err = TAAP_ERROR_INIT;
    taap_pop_info info;
    memset(&info, 0, sizeof info);
    if (taap_pop_build_request(k->priv, &w->req, &w->popts, &w->token, &info, &err) != TAAP_OK) {
        snprintf(w->error, sizeof w->error, "taap_pop_build_request: %s", err.message);
        return -1;
    }
    w->token_len = strlen(w->token);
    w->token_iat = info.iat;
    const char *want_ehts = body_len ? REQ_EHTS_BODY : REQ_EHTS_NOBODY;
    int same = strcmp(info.edts, expect_edts) == 0 && info.ehts && strcmp(info.ehts, want_ehts) == 0;
    if (!same)
        snprintf(w->error, sizeof w->error,
                 "taap signed different values: ehts '%s' edts %s, expected '%s' %s",
                 info.ehts ? info.ehts : "(none)", info.edts, want_ehts, expect_edts);
    taap_pop_info_free(&info);
    if (!same)
        return -1;

    const char *dot2 = strrchr(w->token, '.');
    if (!dot2 || dot2 == w->token || strchr(w->token, '.') == dot2) {
        snprintf(w->error, sizeof w->error, "taap's token is not a three-part compact JWS");
        return -1;
    }
    w->signing_input_len = (size_t)(dot2 - w->token);
    size_t sig_b64 = w->token_len - w->signing_input_len - 1;
    if (sig_b64 > sizeof w->sig * 4 / 3 ||
        taap_b64url_decode(dot2 + 1, sig_b64, w->sig, &w->sig_len) != 0) {
        snprintf(w->error, sizeof w->error, "taap's token has an undecodable signature");
        return -1;
    }
    if (op_bare_verify(w) != 0) {
        snprintf(w->error, sizeof w->error,
                 "bare OpenSSL RS256 does not verify taap's token over its header.payload");
        return -1;
    }

    taap_verify_config_init(&w->vcfg);
    w->vcfg.clock = fixed_clock; /* the token stays valid however long we run */
    w->vcfg.clock_ctx = &w->token_iat;
    w->vcfg.replay = NULL;
    if (op_taap_verify(w) != 0)
        return -1;
    if (op_taap_build(w) != 0 || op_bare_build(w) != 0) {
        if (!w->error[0])
            snprintf(w->error, sizeof w->error, "bare OpenSSL RS256 sign failed");
        return -1;
    }
    return 0;
}

static void work_free(work *w)
{
    free(w->body);
    free(w->token);
}

/* ---- paired rounds ---------------------------------------------------- */

typedef int (*op_fn)(work *);

/* Time `n` calls; negative on failure. */
static double time_n(op_fn op, work *w, long n)
{
    double t0 = clock_s(round_clock);
    for (long i = 0; i < n; i++)
        if (op(w) != 0)
            return -1.0;
    return clock_s(round_clock) - t0;
}

typedef struct row {
    const char *what;   /* "build" / "verify" */
    size_t body_len;
    double target;      /* max ratio */
    int ok;
    double rate_taap, rate_bare; /* median ops/s of the rounds */
    double ratio, ratio_min, ratio_max;
    long n_per_round;
    char error[600];
} row;

/*
 * Calibrate on the bare side (the floor), then `rounds` pairs of `n` calls
 * each, alternating which side goes first, ratio per pair.
 */
static void measure_pair(row *r, work *w, op_fn taap_op, op_fn bare_op, int rounds,
                         double round_s)
{
    double ratios[MAX_ROUNDS], rt[MAX_ROUNDS], rb[MAX_ROUNDS];
    /* Warm caches and the OpenSSL provider fetch cache, then estimate. */
    if (taap_op(w) != 0 || bare_op(w) != 0)
        goto failed;
    long n = 1;
    double t = 0;
    for (;;) {
        t = time_n(bare_op, w, n);
        if (t < 0)
            goto failed;
        if (t >= 0.05 || n >= (1L << 24))
            break;
        n *= 2;
    }
    long per = (long)((double)n * round_s / t);
    r->n_per_round = per < 3 ? 3 : per;
    for (int i = 0; i < rounds; i++) {
        double ta, tb;
        if (i % 2 == 0) {
            ta = time_n(taap_op, w, r->n_per_round);
            tb = time_n(bare_op, w, r->n_per_round);
        } else {
            tb = time_n(bare_op, w, r->n_per_round);
            ta = time_n(taap_op, w, r->n_per_round);
        }
        if (ta <= 0 || tb <= 0)
            goto failed;
        ratios[i] = ta / tb;
        rt[i] = (double)r->n_per_round / ta;
        rb[i] = (double)r->n_per_round / tb;
    }
    r->ratio = median_of(ratios, (size_t)rounds, &r->ratio_min, &r->ratio_max);
    r->rate_taap = median_of(rt, (size_t)rounds, NULL, NULL);
    r->rate_bare = median_of(rb, (size_t)rounds, NULL, NULL);
    r->ok = 1;
    return;
failed:
    snprintf(r->error, sizeof r->error, "%s", w->error[0] ? w->error : "an operation failed");
}

static const char *verdict(const row *r)
{
    if (!r->ok)
        return "ERROR";
    return r->ratio <= r->target ? "PASS" : "OVER";
}

static void print_rule(void)
{
    puts("---------------------------------------------------------------------------------------"
         "-----");
}

static void print_row(const row *r)
{
    char sz[32], a[32], b[32], ratio[64], tgt[32];
    fmt_size(r->body_len, sz, sizeof sz);
    snprintf(tgt, sizeof tgt, "<= %.2fx", r->target);
    if (!r->ok) {
        printf("%-7s %-8s %-38s %-12s %s\n", r->what, sz, "(not measured)", tgt, verdict(r));
        printf("        reason: %s\n", r->error);
        return;
    }
    snprintf(ratio, sizeof ratio, "%.3f (%.3f-%.3f)", r->ratio, r->ratio_min, r->ratio_max);
    printf("%-7s %-8s %12s %12s  %-22s %-10s %s\n", r->what, sz,
           fmt_rate(r->rate_taap, a, sizeof a), fmt_rate(r->rate_bare, b, sizeof b), ratio, tgt,
           verdict(r));
}

static void print_result_line(const row *r)
{
    if (r->ok)
        printf("RESULT bench=pop op=%s body=%zu taap_ops=%.1f bare_ops=%.1f ratio=%.4f "
               "min=%.4f max=%.4f n=%ld target=%.2f verdict=%s\n",
               r->what, r->body_len, r->rate_taap, r->rate_bare, r->ratio, r->ratio_min,
               r->ratio_max, r->n_per_round, r->target, verdict(r));
    else
        printf("RESULT bench=pop op=%s body=%zu verdict=ERROR\n", r->what, r->body_len);
}

static void print_loadavg(const char *when)
{
    FILE *f = fopen("/proc/loadavg", "r");
    char line[128] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    printf("load average %s: %s\n", when, line[0] ? line : "(unknown)");
}

static void usage(FILE *to)
{
    fputs("usage: bench_pop [pop] [--rounds N] [--round-ms MS] [--key FILE] [--sizes B,B,...]\n"
          "                 [--only build|verify]\n"
          "       bench_pop oneshot [--runs N] [--target-ms MS] -- CMD_A ARGS... -- CMD_B ARGS...\n"
          "       bench_pop loop taap-build|bare-build|taap-verify|bare-verify BYTES COUNT"
          " [--key FILE]\n"
          "       bench_pop write-key FILE\n"
          "       bench_pop write-body BYTES FILE\n"
          "\n"
          "Defaults from the environment: BENCH_ROUNDS (9), BENCH_ROUND_MS (300),\n"
          "BENCH_KEY (a PKCS#8/PKCS#1 PEM private key; else one is generated),\n"
          "BENCH_ONESHOT_RUNS (30), BENCH_CLOCK (cpu: thread CPU time per round; wall).\n",
          to);
}

/* Parse --sizes "0,1024,..." into sizes (at most cap). */
static size_t parse_sizes(const char *s, size_t *sizes, size_t cap)
{
    size_t n = 0;
    char buf[256];
    if (strlen(s) >= sizeof buf)
        die("--sizes list too long");
    memcpy(buf, s, strlen(s) + 1);
    char *p = buf;
    while (*p) {
        size_t len = strcspn(p, ",");
        char save = p[len];
        p[len] = '\0';
        if (n == cap)
            die("--sizes: at most %zu sizes", cap);
        sizes[n++] = (size_t)parse_long(p, 0, (long)BODY_MAX, "--sizes entry");
        p += len + (save ? 1 : 0);
    }
    if (n == 0)
        die("--sizes: give at least one size");
    return n;
}

static int cmd_pop_rates(int argc, char **argv)
{
    int rounds = (int)env_long("BENCH_ROUNDS", 9, 1, MAX_ROUNDS);
    long round_ms = env_long("BENCH_ROUND_MS", 300, 1, 60000);
    const char *key_path = getenv("BENCH_KEY");
    if (key_path && !*key_path)
        key_path = NULL;
    size_t sizes[16];
    size_t n_sizes = sizeof default_sizes / sizeof default_sizes[0];
    memcpy(sizes, default_sizes, sizeof default_sizes);
    int do_build = 1, do_verify = 1;

    for (int i = 0; i < argc; i += 2) { /* flag, value */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v)
            die("%s needs a value (see --help)", a);
        if (!strcmp(a, "--rounds"))
            rounds = (int)parse_long(v, 1, MAX_ROUNDS, "--rounds");
        else if (!strcmp(a, "--round-ms"))
            round_ms = parse_long(v, 1, 60000, "--round-ms");
        else if (!strcmp(a, "--key"))
            key_path = v;
        else if (!strcmp(a, "--sizes"))
            n_sizes = parse_sizes(v, sizes, sizeof sizes / sizeof sizes[0]);
        else if (!strcmp(a, "--only")) {
            do_build = !strcmp(v, "build");
            do_verify = !strcmp(v, "verify");
            if (!do_build && !do_verify)
                die("--only takes build or verify, got '%s'", v);
        } else
            die("unknown option '%s' (see --help)", a);
    }

    keys k;
    keys_load(&k, key_path);
    printf("PoP build/verify rates, in one process, taap vs bare OpenSSL (SPEC section 8)\n");
    printf("OpenSSL %s; key RSA-%u, %s\n", OpenSSL_version(OPENSSL_VERSION_STRING), k.bits,
           k.origin);
    if (k.bits != 2048)
        printf("NOTE: SPEC section 8 and the perf baseline are for RSA-2048; this key is %u bits\n",
               k.bits);
    printf("%d rounds per row of fixed work (~%ld ms per side per round), order alternating "
           "A B / B A,\nratio = taap time / bare time per pair; ops/s are medians of the rounds.\n"
           "Clock: %s.\n",
           rounds, round_ms, round_clock_name);
    printf("Request: POST /commerce/v1/orders, Content-Type + Authorization (Bearer) + body.\n"
           "build  taap: taap_pop_build_request (wall clock, random jti, key parsed once)\n"
           "       bare: SHA-256 of the 5 signed values incl. body, then EVP_DigestSignInit +\n"
           "             EVP_DigestSign (RS256) of the same header.payload; no JSON, no base64\n"
           "verify taap: taap_verify (clock injected = iat, no replay cache, key parsed once)\n"
           "       bare: SHA-256 of the same values + compare, then EVP_DigestVerifyInit +\n"
           "             EVP_DigestVerify of the same header.payload and signature; no parsing\n");
    print_loadavg("before");
    print_rule();
    printf("%-7s %-8s %12s %12s  %-22s %-10s %s\n", "op", "body", "taap ops/s", "bare ops/s",
           "ratio median (min-max)", "target", "result");
    print_rule();
    fflush(stdout);

    row rows[2 * 16];
    size_t n_rows = 0;
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0 && !do_build) || (pass == 1 && !do_verify))
            continue;
        for (size_t s = 0; s < n_sizes; s++) {
            row *r = &rows[n_rows++];
            memset(r, 0, sizeof *r);
            r->what = pass == 0 ? "build" : "verify";
            r->body_len = sizes[s];
            r->target = (pass == 0 || sizes[s] >= 100 * 1024) ? 1.10 : 1.25;
            work w;
            if (work_init(&w, &k, sizes[s]) != 0)
                snprintf(r->error, sizeof r->error, "%s", w.error);
            else if (pass == 0)
                measure_pair(r, &w, op_taap_build, op_bare_build, rounds, round_ms / 1000.0);
            else
                measure_pair(r, &w, op_taap_verify, op_bare_verify, rounds, round_ms / 1000.0);
            work_free(&w);
            print_row(r);
            fflush(stdout);
        }
    }
    print_rule();
    print_loadavg("after");
    for (size_t i = 0; i < n_rows; i++)
        print_result_line(&rows[i]);
    keys_free(&k);
    return 0;
}

/* ---- one-shot processes ----------------------------------------------- */

/*
 * Run argv once with stdout and stderr on /dev/null; wall time from just
 * before the spawn to the reaped exit. Returns seconds, or -1 with *status;
 * *cpu gets the child's user + system CPU time (wait4 rusage), which busy
 * neighbours on the host do not inflate the way they inflate wall time.
 */
static double run_once(char **cmd, int *status, double *cpu)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = mono_now();
    int rc = posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        *status = -rc;
        return -1.0;
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            die("wait4: %s", strerror(errno));
    double t = mono_now() - t0;
    *status = st;
    if (cpu)
        *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1.0;
    return t;
}

static void describe_status(int st, char *buf, size_t cap)
{
    if (st < 0)
        snprintf(buf, cap, "could not start: %s", strerror(-st));
    else if (WIFSIGNALED(st))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(st));
}

static void join_cmd(char **cmd, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (; *cmd && o + 1 < cap; cmd++) {
        int n = snprintf(buf + o, cap - o, "%s%s", o ? " " : "", *cmd);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static int cmd_oneshot(int argc, char **argv)
{
    long runs = env_long("BENCH_ONESHOT_RUNS", 30, 1, 100000);
    double target_ms = 15.0;
    const char *label = "oneshot";
    int i = 0;
    for (; i < argc && strcmp(argv[i], "--"); i += 2) { /* flag, value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("%s needs a value", argv[i]);
        if (!strcmp(argv[i], "--runs"))
            runs = parse_long(v, 1, 100000, "--runs");
        else if (!strcmp(argv[i], "--target-ms"))
            target_ms = (double)parse_long(v, 1, 100000, "--target-ms");
        else if (!strcmp(argv[i], "--label"))
            label = v;
        else
            die("unknown option '%s' (see --help)", argv[i]);
    }
    /* -- A... -- B... */
    if (i >= argc)
        die("oneshot: give -- CMD_A ARGS... -- CMD_B ARGS...");
    char **a = &argv[i + 1];
    int j = i + 1;
    while (j < argc && strcmp(argv[j], "--"))
        j++;
    if (j >= argc || j == i + 1 || j + 1 >= argc)
        die("oneshot: give -- CMD_A ARGS... -- CMD_B ARGS...");
    argv[j] = NULL; /* terminates A; B runs to argv[argc] == NULL */
    char **b = &argv[j + 1];

    char ca[1024], cb[1024];
    join_cmd(a, ca, sizeof ca);
    join_cmd(b, cb, sizeof cb);
    /* wall and CPU time of each run, per command; ratio per pair (wall) */
    double *ta = calloc((size_t)runs, sizeof *ta), *tb = calloc((size_t)runs, sizeof *tb),
           *ca_cpu = calloc((size_t)runs, sizeof *ca_cpu),
           *cb_cpu = calloc((size_t)runs, sizeof *cb_cpu),
           *ratio = calloc((size_t)runs, sizeof *ratio);
    if (!ta || !tb || !ca_cpu || !cb_cpu || !ratio)
        die("out of memory");

    int st = 0;
    char why[128];
    /* One untimed run of each: page cache, dynamic loader, and a clear
     * message if a command does not work at all. */
    if (run_once(a, &st, NULL) < 0) {
        describe_status(st, why, sizeof why);
        printf("%-7s A: %s\n        ERROR: %s (run it by hand to see its message)\n", label,
               ca, why);
        printf("RESULT bench=%s verdict=ERROR\n", label);
        return 0;
    }
    int b_ok = run_once(b, &st, NULL) >= 0;
    if (!b_ok) {
        describe_status(st, why, sizeof why);
        printf("%-7s B (context only) %s: %s; timing A alone\n", label, cb, why);
    }
    for (long r = 0; r < runs; r++) {
        int a_first = (r % 2) == 0;
        if (!a_first && b_ok)
            tb[r] = run_once(b, &st, &cb_cpu[r]);
        ta[r] = run_once(a, &st, &ca_cpu[r]);
        if (ta[r] < 0) {
            describe_status(st, why, sizeof why);
            printf("%-7s A failed on run %ld: %s\nRESULT bench=%s verdict=ERROR\n", label, r + 1,
                   why, label);
            return 0;
        }
        if (a_first && b_ok)
            tb[r] = run_once(b, &st, &cb_cpu[r]);
        if (b_ok && tb[r] < 0)
            b_ok = 0;
        ratio[r] = b_ok ? ta[r] / tb[r] : 0;
    }
    double amin, amax, bmin = 0, bmax = 0, rmin = 0, rmax = 0;
    double am = median_of(ta, (size_t)runs, &amin, &amax) * 1e3;
    double acpu = median_of(ca_cpu, (size_t)runs, NULL, NULL) * 1e3;
    double bm = b_ok ? median_of(tb, (size_t)runs, &bmin, &bmax) * 1e3 : 0;
    double bcpu = b_ok ? median_of(cb_cpu, (size_t)runs, NULL, NULL) * 1e3 : 0;
    double rm = b_ok ? median_of(ratio, (size_t)runs, &rmin, &rmax) : 0;
    const char *v = am <= target_ms ? "PASS" : "OVER";
    printf("%-7s A = %s\n        B = %s (context, no target)\n", label, ca, cb);
    printf("        %ld runs each, alternating; wall time = posix_spawn to reaped exit\n"
           "        (clock_gettime); CPU = the child's user+sys time (wait4 rusage)\n",
           runs);
    printf("        A wall median %.2f ms (%.2f-%.2f), CPU median %.2f ms\n", am, amin * 1e3,
           amax * 1e3, acpu);
    if (b_ok)
        printf("        B wall median %.2f ms (%.2f-%.2f), CPU median %.2f ms;"
               " A/B wall per pair %.2f (%.2f-%.2f)\n",
               bm, bmin * 1e3, bmax * 1e3, bcpu, rm, rmin, rmax);
    printf("        target: A wall median <= %.0f ms: %s\n", target_ms, v);
    printf("RESULT bench=%s a_ms=%.3f a_min=%.3f a_max=%.3f a_cpu_ms=%.3f b_ms=%.3f "
           "b_cpu_ms=%.3f ratio=%.3f runs=%ld target_ms=%.0f verdict=%s\n",
           label, am, amin * 1e3, amax * 1e3, acpu, bm, bcpu, rm, runs, target_ms, v);
    free(ta);
    free(tb);
    free(ca_cpu);
    free(cb_cpu);
    free(ratio);
    return 0;
}

/* ---- helpers for profiling and for run.sh ------------------------------ */

static int cmd_loop(int argc, char **argv)
{
    if (argc < 3)
        die("loop: give SIDE BYTES COUNT (see --help)");
    const char *key_path = getenv("BENCH_KEY");
    if (argc == 5 && !strcmp(argv[3], "--key"))
        key_path = argv[4];
    else if (argc != 3)
        die("loop: unexpected arguments (see --help)");
    if (key_path && !*key_path)
        key_path = NULL;
    op_fn op = NULL;
    if (!strcmp(argv[0], "taap-build"))
        op = op_taap_build;
    else if (!strcmp(argv[0], "bare-build"))
        op = op_bare_build;
    else if (!strcmp(argv[0], "taap-verify"))
        op = op_taap_verify;
    else if (!strcmp(argv[0], "bare-verify"))
        op = op_bare_verify;
    else
        die("loop: unknown side '%s'", argv[0]);
    size_t bytes = (size_t)parse_long(argv[1], 0, (long)BODY_MAX, "BYTES");
    long count = parse_long(argv[2], 1, 100000000L, "COUNT");
    keys k;
    keys_load(&k, key_path);
    work w;
    if (work_init(&w, &k, bytes) != 0)
        die("%s", w.error);
    double t = time_n(op, &w, count);
    if (t < 0)
        die("%s", w.error[0] ? w.error : "operation failed");
    char r[32];
    printf("%s body=%zu: %ld ops in %.3f s = %s ops/s\n", argv[0], bytes, count, t,
           fmt_rate((double)count / t, r, sizeof r));
    work_free(&w);
    keys_free(&k);
    return 0;
}

static int cmd_write_key(int argc, char **argv)
{
    if (argc != 1)
        die("write-key: give FILE");
    taap_key *key = NULL;
    char *pem = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_key_generate(2048, &key, &err) != TAAP_OK ||
        taap_key_private_pem(key, NULL, &pem, &err) != TAAP_OK)
        die("cannot make a test key: %s", err.message);
    write_file(argv[0], pem, strlen(pem), 0600);
    taap_key_free_pem(pem);
    taap_key_free(key);
    return 0;
}

static int cmd_write_body(int argc, char **argv)
{
    if (argc != 2)
        die("write-body: give BYTES FILE");
    size_t n = (size_t)parse_long(argv[0], 0, (long)BODY_MAX, "BYTES");
    unsigned char *b = make_body(n);
    write_file(argv[1], b, n, 0644);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    choose_round_clock();
    if (argc >= 2) {
        const char *c = argv[1];
        if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(c, "pop"))
            return cmd_pop_rates(argc - 2, argv + 2);
        if (!strcmp(c, "oneshot"))
            return cmd_oneshot(argc - 2, argv + 2);
        if (!strcmp(c, "loop"))
            return cmd_loop(argc - 2, argv + 2);
        if (!strcmp(c, "write-key"))
            return cmd_write_key(argc - 2, argv + 2);
        if (!strcmp(c, "write-body"))
            return cmd_write_body(argc - 2, argv + 2);
        if (c[0] != '-') {
            usage(stderr);
            return 2;
        }
    }
    return cmd_pop_rates(argc - 1, argv + 1);
}
