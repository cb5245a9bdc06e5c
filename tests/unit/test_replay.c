/* test_replay.c — the replay caches of SPEC §2.11, both backends: first use
 * recorded, second refused, expiry frees the slot, a full cache fails
 * closed, keys are separate namespaces; SQLite: racing connections (threads
 * and a fork()ed process) let exactly one use through, and the record
 * survives a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "replay_memory.h"
#include "taap/replay_sqlite.h"
#include "testutil.h"

static const unsigned char KEY_A[32] = {1, 2, 3};
static const unsigned char KEY_B[32] = {9, 9, 9};

typedef struct fixture {
    char *dir;
    char db[512];
} fixture;

static taap_replay *open_backend(int sqlite, const fixture *f, size_t capacity)
{
    taap_replay *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = sqlite ? taap_replay_sqlite_new(f->db, capacity, &r, &err)
                          : taap_replay_memory_new(capacity, &r, &err);
    if (rc != TAAP_OK)
        fail_msg("open: %s", err.message);
    return r;
}

static taap_code use(taap_replay *r, const unsigned char *key, const char *jti, int64_t exp,
                     int64_t now)
{
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_replay_check_and_insert(r, key, jti, exp, now, &err);
    if (rc != TAAP_OK)
        assert_true(strlen(err.message) > 5);
    return rc;
}

static void semantics(int sqlite, const fixture *f)
{
    taap_replay *r = open_backend(sqlite, f, 4);
    /* First use recorded, second refused, while unexpired. */
    assert_int_equal(use(r, KEY_A, "j1", 100, 50), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "j1", 100, 51), TAAP_E_REPLAY);
    assert_int_equal(use(r, KEY_A, "j1", 100, 99), TAAP_E_REPLAY);
    /* Same jti under another key is another token. */
    assert_int_equal(use(r, KEY_B, "j1", 100, 50), TAAP_OK);
    /* Keys differing only in the last byte of the fingerprint are two
     * namespaces too (the whole 32 bytes are compared). */
    static const unsigned char KEY_A_LAST[32] = {1, 2, 3, [31] = 0x80};
    assert_int_equal(use(r, KEY_A_LAST, "j1", 100, 50), TAAP_OK);
    assert_int_equal(use(r, KEY_A_LAST, "j1", 100, 50), TAAP_E_REPLAY);
    /* jti compare is exact: a prefix or a case variant is another jti. */
    assert_int_equal(use(r, KEY_A, "J1", 100, 50), TAAP_OK);
    /* Full of live entries (capacity 4): fail closed. */
    assert_int_equal(use(r, KEY_A, "j2", 100, 60), TAAP_E_REPLAY_STORE);
    /* A replay is still reported as such when full. */
    assert_int_equal(use(r, KEY_A, "j1", 100, 60), TAAP_E_REPLAY);
    /* At expires_at the entries expire: slots free, j1 usable again. */
    assert_int_equal(use(r, KEY_A, "j2", 200, 100), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "j1", 200, 100), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "j1", 200, 150), TAAP_E_REPLAY);
    /* Argument checks. */
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_replay_check_and_insert(r, KEY_A, "", 1, 0, &err), TAAP_E_USAGE);
    assert_int_equal(taap_replay_check_and_insert(NULL, KEY_A, "x", 1, 0, &err),
                     TAAP_E_REPLAY_STORE);
    taap_replay_free(r);
}

static void test_memory_semantics(void **state)
{
    semantics(0, *state);
}

static void test_sqlite_semantics(void **state)
{
    semantics(1, *state);
}

/* Many entries: the memory table grows its buckets and purges as it goes. */
static void test_memory_many(void **state)
{
    (void)state;
    taap_replay *r = open_backend(0, NULL, 5000);
    char jti[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(jti, sizeof jti, "m-%d", i);
        assert_int_equal(use(r, KEY_A, jti, 1000 + i % 7, 10), TAAP_OK);
    }
    assert_int_equal(use(r, KEY_A, "m-extra", 2000, 10), TAAP_E_REPLAY_STORE);
    for (int i = 0; i < 5000; i += 499) {
        snprintf(jti, sizeof jti, "m-%d", i);
        assert_int_equal(use(r, KEY_A, jti, 2000, 11), TAAP_E_REPLAY);
    }
    /* Everything expired by 1007: the cache has room again. */
    assert_int_equal(use(r, KEY_A, "m-extra", 2000, 1007), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "m-0", 2000, 1007), TAAP_OK);
    taap_replay_free(r);
}

/* Reclaim follows the clock (injected): a steady load of 50 uses a second,
 * each valid for 60 s, after a burst of 10,000 short-lived ones. The table
 * holds the live entries (plus at most one insert's purge step), not the
 * burst; every entry still inside its window is still a replay. */
static void test_memory_reclaim_follows_clock(void **state)
{
    (void)state;
    taap_replay *r = open_backend(0, NULL, 100000);
    char jti[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(jti, sizeof jti, "burst-%d", i);
        assert_int_equal(use(r, KEY_A, jti, 1001 + i % 60, 1000), TAAP_OK);
    }
    assert_int_equal(replay_memory_count(r), 10000);
    for (int64_t t = 1001; t <= 1300; t++) {
        for (int k = 0; k < 50; k++) {
            snprintf(jti, sizeof jti, "s-%lld-%d", (long long)t, k);
            assert_int_equal(use(r, KEY_A, jti, t + 60, t), TAAP_OK);
        }
        /* Live now: the burst entries expiring after t, the steady ones
         * used in the last 60 s (those from t-60 expire at t). */
        size_t live = 0;
        if (t < 1060)
            live += (size_t)(1060 - t) * 10000 / 60 + 1;
        live += (size_t)(t - 1000 < 60 ? t - 1000 : 60) * 50;
        size_t n = replay_memory_count(r);
        if (n > live + 64)
            fail_msg("t=%lld: %zu entries held, %zu live", (long long)t, n, live);
        /* Inside its window an entry is a replay, however old. */
        snprintf(jti, sizeof jti, "s-%lld-7", (long long)(t - 59 > 1001 ? t - 59 : 1001));
        assert_int_equal(use(r, KEY_A, jti, t + 60, t), TAAP_E_REPLAY);
        if (t < 1059) {
            snprintf(jti, sizeof jti, "burst-%d", 59); /* expires at 1060 */
            assert_int_equal(use(r, KEY_A, jti, 2000, t), TAAP_E_REPLAY);
        }
    }
    assert_true(replay_memory_count(r) <= 60 * 50 + 64);
    taap_replay_free(r);
}

/* Each insert does a bounded amount of reclaim (no insert pays for a whole
 * expired burst), and the backlog still drains as inserts go on. */
static void test_memory_reclaim_bounded_step(void **state)
{
    (void)state;
    taap_replay *r = open_backend(0, NULL, 100000);
    char jti[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(jti, sizeof jti, "b-%d", i);
        assert_int_equal(use(r, KEY_A, jti, 1010, 1000), TAAP_OK);
    }
    assert_int_equal(use(r, KEY_A, "late-0", 5000, 2000), TAAP_OK);
    size_t after_one = replay_memory_count(r);
    assert_true(after_one >= 5001 - 200); /* a step, not a sweep */
    assert_true(after_one < 5001);        /* but a step that frees */
    for (int i = 1; i < 200; i++) {
        snprintf(jti, sizeof jti, "late-%d", i);
        assert_int_equal(use(r, KEY_A, jti, 5000, 2000), TAAP_OK);
    }
    assert_int_equal(replay_memory_count(r), 200);
    /* A freed jti is usable again; a live one is not. */
    assert_int_equal(use(r, KEY_A, "b-17", 5000, 2000), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "late-17", 5000, 2001), TAAP_E_REPLAY);
    taap_replay_free(r);
}

/* An expired entry the wheel has not reached yet (its slot holds more than
 * one step can free) is no longer a use of its jti. */
static void test_memory_expired_not_yet_reclaimed(void **state)
{
    (void)state;
    taap_replay *r = open_backend(0, NULL, 1000);
    char jti[32];
    assert_int_equal(use(r, KEY_A, "first", 100, 50), TAAP_OK);
    for (int i = 0; i < 300; i++) {
        snprintf(jti, sizeof jti, "fill-%d", i);
        assert_int_equal(use(r, KEY_A, jti, 100, 50), TAAP_OK);
    }
    assert_int_equal(use(r, KEY_A, "first", 200, 100), TAAP_OK);
    assert_true(replay_memory_count(r) > 200); /* the slot was not swept whole */
    assert_int_equal(use(r, KEY_A, "first", 200, 101), TAAP_E_REPLAY);
    taap_replay_free(r);
}

/* An entry valid for longer than a turn of the wheel is passed over, not
 * dropped: still a replay hours later, freed once it expires. */
static void test_memory_reclaim_long_lived(void **state)
{
    (void)state;
    taap_replay *r = open_backend(0, NULL, 1000);
    assert_int_equal(use(r, KEY_A, "long", 1000 + 5000, 1000), TAAP_OK);
    char jti[32];
    for (int64_t t = 1001; t < 6000; t += 7) {
        snprintf(jti, sizeof jti, "tick-%lld", (long long)t);
        assert_int_equal(use(r, KEY_A, jti, t + 1, t), TAAP_OK);
        if (t % 700 == 0)
            assert_int_equal(use(r, KEY_A, "long", 9999, t), TAAP_E_REPLAY);
    }
    assert_int_equal(use(r, KEY_A, "long", 9999, 5999), TAAP_E_REPLAY);
    assert_true(replay_memory_count(r) <= 3);
    assert_int_equal(use(r, KEY_A, "long", 9999, 6000), TAAP_OK);
    /* Time going backwards (a stepped clock) frees nothing early. */
    assert_int_equal(use(r, KEY_A, "back", 7000, 100), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "long", 9999, 100), TAAP_E_REPLAY);
    taap_replay_free(r);
}

typedef struct racer {
    taap_replay *r;
    int own; /* free r at the end */
    pthread_barrier_t *barrier;
    int wins, replays, others;
} racer;

#define RACE_JTIS 50

static void *race(void *arg)
{
    racer *x = arg;
    pthread_barrier_wait(x->barrier);
    char jti[32];
    for (int i = 0; i < RACE_JTIS; i++) {
        snprintf(jti, sizeof jti, "race-%d", i);
        taap_code rc = use(x->r, KEY_A, jti, 1000, 1);
        if (rc == TAAP_OK)
            x->wins++;
        else if (rc == TAAP_E_REPLAY)
            x->replays++;
        else
            x->others++;
    }
    return NULL;
}

/* Four threads on the same jti set: every jti won exactly once. sqlite:
 * one connection per thread (the cross-connection case); memory: one
 * shared table. */
static void threads_race(int sqlite, const fixture *f)
{
    enum { N = 4 };
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, N);
    racer rs[N];
    pthread_t th[N];
    taap_replay *shared = sqlite ? NULL : open_backend(0, f, 0);
    for (int i = 0; i < N; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].r = sqlite ? open_backend(1, f, 0) : shared;
        rs[i].barrier = &b;
        pthread_create(&th[i], NULL, race, &rs[i]);
    }
    int wins = 0, replays = 0, others = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        wins += rs[i].wins;
        replays += rs[i].replays;
        others += rs[i].others;
        if (sqlite)
            taap_replay_free(rs[i].r);
    }
    taap_replay_free(shared);
    pthread_barrier_destroy(&b);
    assert_int_equal(others, 0);
    assert_int_equal(wins, RACE_JTIS);
    assert_int_equal(replays, RACE_JTIS * (N - 1));
}

static void test_memory_threads(void **state)
{
    threads_race(0, *state);
}

static void test_sqlite_threads(void **state)
{
    threads_race(1, *state);
}

/* Two processes on one file: each jti is won by exactly one of them. */
static void test_sqlite_fork(void **state)
{
    const fixture *f = *state;
    taap_replay *warm = open_backend(1, f, 0); /* schema + WAL in place */
    int fds[2], go[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        /* The parent's handle must refuse to work in the child. */
        taap_error err = TAAP_ERROR_INIT;
        int refused = taap_replay_check_and_insert(warm, KEY_B, "x", 10, 1, &err) ==
                      TAAP_E_REPLAY_STORE;
        taap_replay *r = NULL;
        if (taap_replay_sqlite_new(f->db, 0, &r, &err) != TAAP_OK)
            _exit(3);
        /* Start together with the parent: ready → go. */
        char c = 'r';
        close(go[1]);
        if (write(fds[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(5);
        char jti[32];
        int wins = 0, others = 0;
        for (int i = 0; i < 200; i++) {
            snprintf(jti, sizeof jti, "fork-%d", i);
            taap_code rc = taap_replay_check_and_insert(r, KEY_A, jti, 1000, 1, &err);
            wins += rc == TAAP_OK;
            others += rc != TAAP_OK && rc != TAAP_E_REPLAY;
        }
        taap_replay_free(r);
        int msg[3] = {wins, others, refused};
        ssize_t w = write(fds[1], msg, sizeof msg);
        _exit(w == (ssize_t)sizeof msg ? 0 : 4);
    }
    close(fds[1]);
    close(go[0]);
    taap_replay *r = open_backend(1, f, 0);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    char jti[32];
    int wins = 0, others = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(jti, sizeof jti, "fork-%d", i);
        taap_code rc = use(r, KEY_A, jti, 1000, 1);
        wins += rc == TAAP_OK;
        others += rc != TAAP_OK && rc != TAAP_E_REPLAY;
    }
    int msg[3] = {0, 0, 0};
    assert_int_equal(read(fds[0], msg, sizeof msg), (ssize_t)sizeof msg);
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("fork race: parent won %d, child won %d of 200\n", wins, msg[0]);
    assert_int_equal(others, 0);
    assert_int_equal(msg[1], 0);
    assert_int_equal(msg[2], 1);
    assert_int_equal(wins + msg[0], 200);
    taap_replay_free(r);
    taap_replay_free(warm);
}

/* Records survive closing and reopening the file. */
static void test_sqlite_persistence(void **state)
{
    const fixture *f = *state;
    taap_replay *r = open_backend(1, f, 0);
    assert_int_equal(use(r, KEY_A, "persist", 500, 1), TAAP_OK);
    taap_replay_free(r);
    r = open_backend(1, f, 0);
    assert_int_equal(use(r, KEY_A, "persist", 500, 2), TAAP_E_REPLAY);
    assert_int_equal(use(r, KEY_A, "persist", 600, 500), TAAP_OK);
    taap_replay_free(r);
    /* Not a database: a clear error, not a crash. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/not-a-db", f->dir);
    tu_write(bad, "this is not sqlite, just text that is long enough to be a header....", 68);
    taap_replay *x = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_replay_sqlite_new(bad, 0, &x, &err), TAAP_E_REPLAY_STORE);
    assert_null(x);
    assert_true(strlen(err.message) > 10);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tu_tempdir();
    snprintf(f->db, sizeof f->db, "%s/replay.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_semantics, setup, teardown),
        cmocka_unit_test(test_memory_many),
        cmocka_unit_test(test_memory_reclaim_follows_clock),
        cmocka_unit_test(test_memory_reclaim_bounded_step),
        cmocka_unit_test(test_memory_reclaim_long_lived),
        cmocka_unit_test(test_memory_expired_not_yet_reclaimed),
        cmocka_unit_test_setup_teardown(test_memory_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_fork, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_persistence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
