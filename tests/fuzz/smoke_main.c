/*
 * smoke_main.c — a libFuzzer-free driver for the fuzz targets, so `make
 * test` (gcc, release and ASan builds) runs every target briefly.
 *
 *   fuzz_smoke_NAME CORPUS_DIR [MUTATIONS [SEED]]
 *
 * Feeds every file of CORPUS_DIR (sorted by name, so runs are identical) to
 * LLVMFuzzerTestOneInput, then MUTATIONS inputs made from them by a seeded
 * PRNG: bit flips, byte sets, inserts, deletes, duplicated ranges, splices
 * between two corpus files, and a dictionary of tokens that matter to the
 * parsers (quotes, braces, dots, '=', percent escapes, {{ }}, CR LF, huge
 * numbers); files named regress-* (a finding's input) are replayed but not
 * mutated. Same seed, same inputs: a failure is reproduced by rerunning
 * the same command; the failing input is also written to
 * $TAAP_FUZZ_CRASH_DIR (default: the current directory) as
 * smoke-crash-NAME-N before it is run, and removed once it passed.
 *
 * A crash, an abort (a target's invariant) or a sanitizer report fails the
 * test; the last line says how many inputs ran and the slowest input's time.
 * With TAAP_FUZZ_SLOW_MS=N every input taking longer than N ms is kept as
 * smoke-slow-NAME-I and reported (for hunting quadratic paths). An input
 * taking longer than TAAP_FUZZ_HANG_MS (default 5000 ms; generous, since a
 * legitimate input takes milliseconds even under ASan) fails the test: that
 * is a hang or a quadratic path, as libFuzzer's -timeout would report.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define SMOKE_MAX_INPUT (64 * 1024)

typedef struct {
    unsigned char *data;
    size_t len;
    char *name;
} seed;

static uint64_t rng_state;

/* splitmix64: tiny, seedable, good enough to spread mutations. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static const char *const dict[] = {
    "\"", "{", "}", "[", "]", ".", "..", "=", "==", ",", ":", ";", "\\", "\\u0000", "\\ud800",
    "\xc0\xaf", "\xef\xbb\xbf", "\r\n", "\n", " ", "\t", "\0", "%", "%2F", "%2e%2e", "%00", "/../",
    "{{", "}}", "{{a}}", "{{$guid}}", "99999999999999999999", "-0", "1e400", "9223372036854775808",
    "18446744073709551616", "-1", "0", "null", "true", "[]", "{}", "\"alg\"", "\"RS256\"",
    "\"none\"", "\"crit\"", "\"exp\"", "\"iat\"", "\"ehts\"", "\"edts\"", "\"jti\"", "\"v\"",
    "uri", "http-method", "body", "Authorization", "Content-Type", "-----BEGIN PUBLIC KEY-----",
    "-----END PUBLIC KEY-----", "-----BEGIN PRIVATE KEY-----", "\"kty\"", "\"n\"", "\"e\"",
    "AQAB", "\"item\"", "\"request\"", "\"url\"", "\"variable\"", "\"values\"", "GET ", "POST ",
    " HTTP/1.1\r\n", "Content-Length: ", "Transfer-Encoding: chunked\r\n", "\r\n\r\n",
    "Authorization: Bearer ", "Authorization: Basic ", "X-Authorization: ",
    "/iot-connectivity/v1/devices/", "/oauth2/v2/tokens", "89014103211118510720",
};

static void mutate_once(unsigned char *buf, size_t *len, const seed *seeds, size_t nseeds)
{
    size_t n = *len;
    switch (below(8)) {
    case 0: /* flip a bit */
        if (n)
            buf[below(n)] ^= (unsigned char)(1u << below(8));
        break;
    case 1: /* set a byte to an interesting or random value */
        if (n) {
            static const unsigned char v[] = { 0, 1, 0x7f, 0x80, 0xff, '"', '.', '\\', '{', '}' };
            buf[below(n)] = below(2) ? v[below(sizeof v)] : (unsigned char)rnd();
        }
        break;
    case 2: /* delete a range */
        if (n) {
            size_t at = below(n), k = 1 + below(n - at < 16 ? n - at : 16);
            memmove(buf + at, buf + at + k, n - at - k);
            *len = n - k;
        }
        break;
    case 3: /* insert random bytes */
    {
        size_t k = 1 + below(8), at = below(n + 1);
        if (n + k > SMOKE_MAX_INPUT)
            break;
        memmove(buf + at + k, buf + at, n - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = (unsigned char)rnd();
        *len = n + k;
        break;
    }
    case 4: /* insert a dictionary token */
    case 5: {
        const char *t = dict[below(sizeof dict / sizeof dict[0])];
        size_t k = t[0] ? strlen(t) : 1, at = below(n + 1);
        if (n + k > SMOKE_MAX_INPUT)
            break;
        memmove(buf + at + k, buf + at, n - at);
        memcpy(buf + at, t, k);
        *len = n + k;
        break;
    }
    case 6: /* duplicate a range (grows lists, nesting, repeated headers) */
        if (n) {
            size_t at = below(n), k = 1 + below(n - at);
            if (n + k > SMOKE_MAX_INPUT)
                break;
            memmove(buf + at + 2 * k, buf + at + k, n - at - k);
            memcpy(buf + at + k, buf + at, k);
            *len = n + k;
        }
        break;
    default: /* splice: a piece of another seed over the tail */
        if (nseeds) {
            const seed *o = &seeds[below(nseeds)];
            if (!o->len)
                break;
            size_t from = below(o->len), k = 1 + below(o->len - from), at = below(n + 1);
            if (at + k > SMOKE_MAX_INPUT)
                k = SMOKE_MAX_INPUT - at;
            memcpy(buf + at, o->data + from, k);
            if (at + k > n)
                *len = at + k;
        }
        break;
    }
}

static int cmp_seed(const void *a, const void *b)
{
    return strcmp(((const seed *)a)->name, ((const seed *)b)->name);
}

static int load_corpus(const char *dir, seed **out, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open corpus %s: %s\n", dir, strerror(errno));
        return -1;
    }
    seed *s = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        unsigned char *buf = malloc(SMOKE_MAX_INPUT);
        size_t len = buf ? fread(buf, 1, SMOKE_MAX_INPUT, f) : 0;
        fclose(f);
        if (!buf)
            return -1;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            seed *t = realloc(s, cap * sizeof *s);
            if (!t)
                return -1;
            s = t;
        }
        s[n].data = buf;
        s[n].len = len;
        s[n].name = strdup(e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(s, n, sizeof *s, cmp_seed);
    *out = s;
    *count = n;
    return 0;
}

static const char *crash_path(const char *target, unsigned long i)
{
    static char path[4096];
    const char *dir = getenv("TAAP_FUZZ_CRASH_DIR");
    snprintf(path, sizeof path, "%s/smoke-crash-%s-%lu", dir && *dir ? dir : ".", target, i);
    return path;
}

static double slowest_ms;
static unsigned long slowest_i;
static long slow_ms_limit;
static long hang_ms_limit = 5000;
static int hung;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Keep the input on disk while it runs: if it kills the process, it stays. */
static void run_input(const char *target, unsigned long i, const unsigned char *data, size_t len)
{
    const char *path = crash_path(target, i);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (len)
            fwrite(data, 1, len, f);
        fclose(f);
    }
    /* A private copy of exactly len bytes, so ASan sees any over-read. */
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    if (len)
        memcpy(copy, data, len);
    double t0 = now_ms();
    LLVMFuzzerTestOneInput(copy, len);
    double dt = now_ms() - t0;
    free(copy);
    if (dt > slowest_ms) {
        slowest_ms = dt;
        slowest_i = i;
    }
    if (hang_ms_limit > 0 && dt > (double)hang_ms_limit) {
        fprintf(stderr, "FAIL: input %lu took %.0f ms (limit %ld ms): a hang or quadratic path; "
                        "kept as %s\n", i, dt, hang_ms_limit, path);
        hung++;
        return;
    }
    if (slow_ms_limit > 0 && dt > (double)slow_ms_limit) {
        char slow[4200];
        snprintf(slow, sizeof slow, "%s", path);
        char *base = strrchr(slow, '/');
        snprintf(base ? base + 1 : slow, sizeof slow - (size_t)(base ? base + 1 - slow : 0),
                 "smoke-slow-%s-%lu", target, i);
        if (f && rename(path, slow) == 0)
            f = NULL;
        fprintf(stderr, "slow input %lu: %.0f ms (kept as %s)\n", i, dt, slow);
    }
    if (f)
        unlink(path);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS [SEED]]\n", argv[0]);
        return 2;
    }
    unsigned long mutations = 2000;
    if (argc > 2) {
        char *end;
        errno = 0;
        mutations = strtoul(argv[2], &end, 10);
        if (errno || *end) {
            fprintf(stderr, "bad MUTATIONS %s\n", argv[2]);
            return 2;
        }
    }
    rng_state = 0x7461617066757a7aull; /* "taapfuzz" */
    if (argc > 3) {
        char *end;
        errno = 0;
        rng_state = strtoull(argv[3], &end, 0);
        if (errno || *end) {
            fprintf(stderr, "bad SEED %s\n", argv[3]);
            return 2;
        }
    }
    const char *target = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *slow = getenv("TAAP_FUZZ_SLOW_MS");
    slow_ms_limit = slow ? strtol(slow, NULL, 10) : 0;
    const char *hang = getenv("TAAP_FUZZ_HANG_MS");
    if (hang)
        hang_ms_limit = strtol(hang, NULL, 10);

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);

    seed *seeds = NULL;
    size_t nseeds = 0;
    if (load_corpus(argv[1], &seeds, &nseeds) != 0)
        return 1;
    if (nseeds == 0) {
        fprintf(stderr, "corpus %s is empty\n", argv[1]);
        return 1;
    }

    unsigned long ran = 0;
    for (size_t i = 0; i < nseeds; i++)
        run_input(target, ran++, seeds[i].data, seeds[i].len);

    /* Mutations start from the ordinary seeds only: a regress-* file is a
     * finding's exact input, replayed as is (mutating a known-slow input
     * would only multiply its cost). */
    size_t nbase = 0;
    size_t *base = malloc(nseeds * sizeof *base);
    unsigned char *buf = malloc(SMOKE_MAX_INPUT);
    if (!buf || !base)
        return 1;
    for (size_t i = 0; i < nseeds; i++)
        if (strncmp(seeds[i].name, "regress-", 8) != 0)
            base[nbase++] = i;
    if (nbase == 0)
        mutations = 0;
    for (unsigned long m = 0; m < mutations; m++) {
        const seed *s = &seeds[base[below(nbase)]];
        size_t len = s->len;
        memcpy(buf, s->data, len);
        size_t rounds = 1 + below(4);
        for (size_t r = 0; r < rounds; r++)
            mutate_once(buf, &len, seeds, nseeds);
        run_input(target, ran++, buf, len);
    }
    free(buf);
    free(base);
    for (size_t i = 0; i < nseeds; i++) {
        free(seeds[i].data);
        free(seeds[i].name);
    }
    free(seeds);
    printf("%s: %zu corpus files + %lu mutations, %d failures (slowest: input %lu, %.0f ms)\n",
           target, nseeds, mutations, hung, slowest_i, slowest_ms);
    return hung ? 1 : 0;
}
