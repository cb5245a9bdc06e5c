/*
 * test_replay_redis.c — the Redis replay cache against a real redis-server
 * started by the test on a private port: first use recorded, second refused,
 * keys and jti are separate namespaces, the key name and its TTL (exp +
 * leeway − now) as Redis holds them, two caches ("two gateway nodes") and
 * racing threads let exactly one use through, a fork()ed child reconnects,
 * the database number and AUTH are honoured, Redis down → TAAP_E_REPLAY_STORE
 * naming the server (fail closed), Redis restarted → the same cache works
 * again, Redis out of memory → fail closed, URL errors are clear; and the
 * two commands that take a Redis URL (`taap verify --replay-cache`,
 * `taap serve --replay`) use it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "daemon.h"
#include "redis_harness.h"
#include "serve_harness.h"
#include "taap/replay_redis.h"
#include "testutil.h"

static const unsigned char KEY_A[32] = {1, 2, 3};
static const unsigned char KEY_B[32] = {9, 9, 9};
static rh_redis rds;
static char *dir;

static taap_replay *open_cache(const char *url)
{
    taap_replay *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_replay_redis_new(url, 0, &r, &err) != TAAP_OK)
        fail_msg("open %s: %s", url, err.message);
    return r;
}

static taap_code use(taap_replay *r, const unsigned char *key, const char *jti, int64_t exp,
                     int64_t now, taap_error *err)
{
    taap_error local = TAAP_ERROR_INIT;
    taap_error *e = err ? err : &local;
    taap_code rc = taap_replay_check_and_insert(r, key, jti, exp, now, e);
    if (rc != TAAP_OK)
        assert_true(strlen(e->message) > 5);
    return rc;
}

/* A direct connection for looking at what the cache stored. */
static redisContext *inspect(void)
{
    redisContext *c = redisConnect("127.0.0.1", (int)rds.port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

static long long command_int(redisContext *c, const char *cmd, const char *arg)
{
    redisReply *rep = redisCommand(c, cmd, arg);
    assert_non_null(rep);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -999;
    freeReplyObject(rep);
    return v;
}

static void command_ok(redisContext *c, const char *cmd)
{
    redisReply *rep = redisCommand(c, cmd);
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

static int setup(void **state)
{
    (void)state;
    if (!dm_have("redis-server")) {
        fprintf(stderr, "redis-server is not installed (scripts/deps.sh installs it)\n");
        exit(77);
    }
    dir = tu_tempdir();
    return rh_start(&rds, dir);
}

static int teardown(void **state)
{
    (void)state;
    rh_stop(&rds);
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void test_semantics(void **state)
{
    (void)state;
    taap_replay *r = open_cache(rds.url);
    assert_int_equal(use(r, KEY_A, "s1", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "s1", 1100, 1001, NULL), TAAP_E_REPLAY);
    /* Same jti under another key is another token; jti compare is exact. */
    assert_int_equal(use(r, KEY_B, "s1", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "S1", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "s", 1100, 1000, NULL), TAAP_OK);
    /* Bytes Redis would treat specially travel as data. */
    assert_int_equal(use(r, KEY_A, "a b\r\n*3 \"x\"", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "a b\r\n*3 \"x\"", 1100, 1000, NULL), TAAP_E_REPLAY);
    taap_replay_free(r);
}

static void test_key_and_ttl(void **state)
{
    (void)state;
    taap_replay *r = open_cache(rds.url);
    /* exp + leeway − now = 70 s. */
    assert_int_equal(use(r, KEY_A, "ttl-1", 5070, 5000, NULL), TAAP_OK);
    redisContext *c = inspect();
    char name[200];
    snprintf(name, sizeof name, "taap:replay:%s:ttl-1",
             "0102030000000000000000000000000000000000000000000000000000000000");
    long long pttl = command_int(c, "PTTL %s", name);
    assert_true(pttl > 60000 && pttl <= 70000);
    /* A token at or past its end still gets a key that dies at once. */
    assert_int_equal(use(r, KEY_A, "ttl-2", 5000, 5000, NULL), TAAP_OK);
    snprintf(name, sizeof name, "taap:replay:%s:ttl-2",
             "0102030000000000000000000000000000000000000000000000000000000000");
    assert_true(command_int(c, "PTTL %s", name) <= 1);
    redisFree(c);
    taap_replay_free(r);
}

/* The socket-less interface (the nginx gateway's): its command bytes are
 * the blocking cache's SET, so the two agree on every token. */
static void test_event_driven_interface(void **state)
{
    (void)state;
    taap_replay *r = open_cache(rds.url);
    taap_error err = TAAP_ERROR_INIT;
    char *cmd = NULL;
    size_t len = 0;
    assert_int_equal(taap_replay_redis_command(KEY_A, "ev-1", 2070, 2000, &cmd, &len, &err),
                     TAAP_OK);
    /* Sent as is on a plain connection: recorded with the blocking cache's key. */
    redisContext *c = inspect();
    assert_int_equal(redisAppendFormattedCommand(c, cmd, len), REDIS_OK);
    void *rep = NULL;
    assert_int_equal(redisGetReply(c, &rep), REDIS_OK);
    assert_int_equal(((redisReply *)rep)->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    free(cmd);
    assert_int_equal(use(r, KEY_A, "ev-1", 2070, 2000, NULL), TAAP_E_REPLAY);
    redisFree(c);

    /* Replies decided as they arrive, one byte at a time. */
    taap_replay_redis_reader *rd = NULL;
    assert_int_equal(taap_replay_redis_reader_new(r, &rd, &err), TAAP_OK);
    const char wire[] = "+OK\r\n$-1\r\n-OOM command not allowed\r\n";
    taap_code want[] = {TAAP_OK, TAAP_E_REPLAY, TAAP_E_REPLAY_STORE}, rc;
    size_t got = 0;
    for (size_t i = 0; i < sizeof wire - 1; i++) {
        assert_int_equal(taap_replay_redis_reader_feed(rd, wire + i, 1, &err), TAAP_OK);
        int k;
        while ((k = taap_replay_redis_reader_next(rd, "SET", &rc, &err)) == 1) {
            assert_true(got < 3);
            assert_int_equal(rc, want[got]);
            got++;
        }
        assert_int_equal(k, 0);
    }
    assert_int_equal(got, 3);
    assert_non_null(strstr(err.message, "OOM command not allowed"));
    assert_non_null(strstr(err.message, "fail closed"));
    /* Not Redis protocol: the stream is lost. */
    assert_int_equal(taap_replay_redis_reader_feed(rd, "?what\r\n", 7, &err), TAAP_OK);
    assert_int_equal(taap_replay_redis_reader_next(rd, "SET", &rc, &err), -1);
    assert_int_equal(rc, TAAP_E_REPLAY_STORE);
    taap_replay_redis_reader_free(rd);

    /* The handshake: nothing for a plain URL; AUTH then SELECT otherwise. */
    unsigned replies = 9;
    assert_int_equal(taap_replay_redis_handshake(r, &cmd, &len, &replies, &err), TAAP_OK);
    assert_int_equal(replies, 0);
    assert_int_equal(len, 0);
    free(cmd);
    taap_replay *locked = open_cache("redis://:pw@127.0.0.1:1/2");
    assert_int_equal(taap_replay_redis_handshake(locked, &cmd, &len, &replies, &err), TAAP_OK);
    assert_int_equal(replies, 2);
    assert_string_equal(cmd, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n");
    free(cmd);
    taap_replay_redis_endpoint_info ep;
    assert_int_equal(taap_replay_redis_endpoint(locked, &ep, &err), TAAP_OK);
    assert_string_equal(ep.host, "127.0.0.1");
    assert_int_equal(ep.port, 1);
    assert_null(ep.unix_path);
    taap_replay_free(locked);
    /* Not a Redis cache: refused by name. */
    taap_replay *mem = NULL;
    assert_int_equal(taap_replay_memory_new(0, &mem, &err), TAAP_OK);
    assert_int_equal(taap_replay_redis_endpoint(mem, &ep, &err), TAAP_E_USAGE);
    taap_replay_free(mem);
    taap_replay_free(r);
}

/* Two caches are two gateway nodes: the jti used on one is refused on the other. */
static void test_two_nodes(void **state)
{
    (void)state;
    taap_replay *a = open_cache(rds.url), *b = open_cache(rds.url);
    assert_int_equal(use(a, KEY_A, "node-1", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(b, KEY_A, "node-1", 1100, 1000, NULL), TAAP_E_REPLAY);
    assert_int_equal(use(b, KEY_A, "node-2", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(a, KEY_A, "node-2", 1100, 1000, NULL), TAAP_E_REPLAY);
    taap_replay_free(a);
    taap_replay_free(b);
}

typedef struct racer {
    taap_replay *r;
    int ok;
} racer;

static void *race(void *arg)
{
    racer *x = arg;
    for (int i = 0; i < 50; i++) {
        char jti[32];
        snprintf(jti, sizeof jti, "race-%d", i);
        if (taap_replay_check_and_insert(x->r, KEY_B, jti, 1100, 1000, NULL) == TAAP_OK)
            x->ok++;
    }
    return NULL;
}

/* 8 threads on 4 caches (two threads share each) try the same 50 jti:
 * exactly 50 uses are accepted in all. */
static void test_race(void **state)
{
    (void)state;
    taap_replay *caches[4];
    for (int i = 0; i < 4; i++)
        caches[i] = open_cache(rds.url);
    pthread_t t[8];
    racer x[8];
    for (int i = 0; i < 8; i++) {
        x[i].r = caches[i % 4];
        x[i].ok = 0;
        assert_int_equal(pthread_create(&t[i], NULL, race, &x[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += x[i].ok;
    }
    assert_int_equal(total, 50);
    for (int i = 0; i < 4; i++)
        taap_replay_free(caches[i]);
}

/* A cache used before fork() works in the child (its own connection) and
 * still in the parent afterwards; the child's record is visible to both. */
static void test_fork(void **state)
{
    (void)state;
    taap_replay *r = open_cache(rds.url);
    assert_int_equal(use(r, KEY_A, "fork-0", 1100, 1000, NULL), TAAP_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = taap_replay_check_and_insert(r, KEY_A, "fork-1", 1100, 1000, NULL) == TAAP_OK &&
                 taap_replay_check_and_insert(r, KEY_A, "fork-0", 1100, 1000, NULL) ==
                     TAAP_E_REPLAY;
        taap_replay_free(r);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(use(r, KEY_A, "fork-1", 1100, 1000, NULL), TAAP_E_REPLAY);
    assert_int_equal(use(r, KEY_A, "fork-2", 1100, 1000, NULL), TAAP_OK);
    taap_replay_free(r);
}

static void test_database_number(void **state)
{
    (void)state;
    char url[96];
    snprintf(url, sizeof url, "%s/5", rds.url);
    taap_replay *r = open_cache(url);
    assert_int_equal(use(r, KEY_A, "db-5", 1100, 1000, NULL), TAAP_OK);
    redisContext *c = inspect();
    const char *name = "taap:replay:0102030000000000000000000000000000000000000000000000000000000000:db-5";
    assert_int_equal(command_int(c, "EXISTS %s", name), 0);
    command_ok(c, "SELECT 5");
    assert_int_equal(command_int(c, "EXISTS %s", name), 1);
    redisFree(c);
    taap_replay_free(r);
}

static void test_auth(void **state)
{
    (void)state;
    redisContext *c = inspect();
    command_ok(c, "CONFIG SET requirepass s3cret-pw");
    char url[128];
    snprintf(url, sizeof url, "redis://:s3cret-pw@127.0.0.1:%u", rds.port);
    taap_replay *good = open_cache(url), *none = open_cache(rds.url);
    assert_int_equal(use(good, KEY_A, "auth-1", 1100, 1000, NULL), TAAP_OK);
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(use(none, KEY_A, "auth-2", 1100, 1000, &err), TAAP_E_REPLAY_STORE);
    assert_non_null(strstr(err.message, "NOAUTH"));
    assert_null(strstr(err.message, "s3cret"));
    /* The connection made before the password was set is still authenticated. */
    redisReply *rep = redisCommand(c, "CONFIG SET requirepass %s", "");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(c);
    assert_int_equal(use(none, KEY_A, "auth-2", 1100, 1000, NULL), TAAP_OK);
    taap_replay_free(good);
    taap_replay_free(none);
}

/* Redis out of memory (maxmemory, noeviction): refused, never let through. */
static void test_oom_fails_closed(void **state)
{
    (void)state;
    taap_replay *r = open_cache(rds.url);
    redisContext *c = inspect();
    command_ok(c, "CONFIG SET maxmemory 1");
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(use(r, KEY_A, "oom-1", 1100, 1000, &err), TAAP_E_REPLAY_STORE);
    assert_non_null(strstr(err.message, "OOM"));
    assert_non_null(strstr(err.message, "fail closed"));
    command_ok(c, "CONFIG SET maxmemory 0");
    assert_int_equal(use(r, KEY_A, "oom-1", 1100, 1000, NULL), TAAP_OK);
    redisFree(c);
    taap_replay_free(r);
}

/* Down → a clear refusal naming the server; back up on the same port → the
 * same cache (its connection died with the old server) works again. */
static void test_outage_and_recovery(void **state)
{
    (void)state;
    taap_replay *r = open_cache(rds.url);
    assert_int_equal(use(r, KEY_A, "out-0", 1100, 1000, NULL), TAAP_OK);
    rh_stop(&rds);
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(use(r, KEY_A, "out-1", 1100, 1000, &err), TAAP_E_REPLAY_STORE);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%u", rds.port);
    assert_non_null(strstr(err.message, where));
    assert_non_null(strstr(err.message, "fail closed"));
    /* Still down: a new connection is refused at once, again a clear error. */
    assert_int_equal(use(r, KEY_A, "out-1", 1100, 1000, &err), TAAP_E_REPLAY_STORE);
    assert_non_null(strstr(err.message, "connect"));
    assert_int_equal(rh_start(&rds, dir), 0);
    assert_int_equal(use(r, KEY_A, "out-1", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "out-1", 1100, 1000, NULL), TAAP_E_REPLAY);

    /* Restart while the connection is open and idle: the next use finds a
     * dead connection and succeeds on a fresh one. */
    rh_stop(&rds);
    assert_int_equal(rh_start(&rds, dir), 0);
    assert_int_equal(use(r, KEY_A, "out-2", 1100, 1000, NULL), TAAP_OK);
    taap_replay_free(r);
}

static void test_bad_urls(void **state)
{
    (void)state;
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"redis://", "no host"},
        {"redis://:6379", "no host"},
        {"redis://h:0", "port"},
        {"redis://h:70000", "port"},
        {"redis://h:12ab", "port"},
        {"redis://h:6379/x", "database"},
        {"redis://h/-1", "database"},
        {"redis://user:pw@h", "PASSWORD"},
        {"redis://[::1", "IPv6"},
        {"unix:relative/path", "absolute"},
        {"http://h:6379", "not a Redis address"},
        {"/tmp/replay.db", "not a Redis address"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        taap_replay *r = NULL;
        taap_error err = TAAP_ERROR_INIT;
        assert_int_equal(taap_replay_redis_new(bad[i].url, 0, &r, &err), TAAP_E_USAGE);
        assert_null(r);
        if (!strstr(err.message, bad[i].says))
            fail_msg("%s: message '%s' does not say '%s'", bad[i].url, err.message,
                     bad[i].says);
    }
    /* Good forms parse without connecting (nothing listens on these). */
    static const char *good[] = {"redis://localhost", "redis://[::1]:6380/2",
                                 "unix:/run/redis/redis.sock", "redis://:pw@10.0.0.1:1/0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        taap_replay *r = NULL;
        assert_int_equal(taap_replay_redis_new(good[i], 0, &r, NULL), TAAP_OK);
        taap_replay_free(r);
    }
    assert_true(taap_replay_redis_url("redis://x"));
    assert_true(taap_replay_redis_url("unix:/x"));
    assert_false(taap_replay_redis_url("replay.db"));
}

/* A Unix socket works like TCP. */
static void test_unix_socket(void **state)
{
    (void)state;
    /* The socket path is a start-up setting: a second server, no TCP. */
    char sdir[600], sock[700], log[700];
    snprintf(sdir, sizeof sdir, "%s/unix", dir);
    assert_int_equal(mkdir(sdir, 0700), 0);
    snprintf(sock, sizeof sock, "%s/redis.sock", sdir);
    snprintf(log, sizeof log, "%s/redis.log", sdir);
    char *argv[] = {"redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
                    "--dir", sdir, NULL};
    pid_t pid = dm_spawn(argv, log);
    assert_true(pid > 0);
    int ready = 0;
    for (int i = 0; i < 1000 && !ready; i++) {
        ready = access(sock, F_OK) == 0;
        if (!ready)
            usleep(10000);
    }
    assert_true(ready);
    char url[800];
    snprintf(url, sizeof url, "unix:%s", sock);
    taap_replay *r = open_cache(url);
    assert_int_equal(use(r, KEY_A, "unix-1", 1100, 1000, NULL), TAAP_OK);
    assert_int_equal(use(r, KEY_A, "unix-1", 1100, 1000, NULL), TAAP_E_REPLAY);
    taap_replay_free(r);
    dm_stop(pid, SIGTERM, 10000);
}

/* taap verify --replay-cache redis://…: 0, then 20 for the same token. */
static void test_cli_verify(void **state)
{
    (void)state;
    char key_path[600], pub_path[600];
    snprintf(key_path, sizeof key_path, "%s/k.pem", dir);
    snprintf(pub_path, sizeof pub_path, "%s/k.pub.pem", dir);
    char *pem = NULL;
    assert_int_equal(taap_key_private_pem(sh_test_key(0), NULL, &pem, NULL), TAAP_OK);
    tu_write(key_path, pem, strlen(pem));
    taap_key_free_pem(pem);
    assert_int_equal(taap_key_public_pem(sh_test_key(0), &pem, NULL), TAAP_OK);
    tu_write(pub_path, pem, strlen(pem));
    taap_key_free_pem(pem);
    const char *url = "https://api.example/v1/things?a=1";
    char *tok = NULL;
    char *pop_argv[] = {(char *)tu_taap_bin(), "pop", "--key", key_path, (char *)url, NULL};
    assert_int_equal(tu_run(pop_argv, NULL, &tok, NULL), 0);
    tok[strcspn(tok, "\r\n")] = '\0';
    char *verify_argv[] = {(char *)tu_taap_bin(), "verify", tok, "--key", pub_path,
                           "--replay-cache", rds.url, (char *)url, NULL};
    char *errout = NULL;
    assert_int_equal(tu_run(verify_argv, NULL, NULL, &errout), 0);
    free(errout);
    assert_int_equal(tu_run(verify_argv, NULL, NULL, &errout), 20);
    assert_non_null(strstr(errout, "TAAP_E_REPLAY"));
    free(errout);
    /* Redis down: exit 35 and the server named. */
    char down[64];
    snprintf(down, sizeof down, "redis://127.0.0.1:%u", dm_free_port());
    verify_argv[6] = down;
    assert_int_equal(tu_run(verify_argv, NULL, NULL, &errout), 35);
    assert_non_null(strstr(errout, down + 8));
    free(errout);
    /* A password on the command line is refused before anything is sent. */
    verify_argv[6] = "redis://:pw@127.0.0.1:1";
    assert_int_equal(tu_run(verify_argv, NULL, NULL, &errout), 2);
    assert_non_null(strstr(errout, "password"));
    free(errout);
    free(tok);
}

/* taap serve --replay redis://…: the token endpoint's replay check lands in
 * Redis (the key is there) and a second use of the PoP is refused. */
static void test_cli_serve(void **state)
{
    (void)state;
    sh_server srv;
    memset(&srv, 0, sizeof srv);
    const char *args[] = {"--replay", rds.url, NULL};
    assert_int_equal(sh_start(&srv, NULL, args), 0);
    char *id = NULL, *secret = NULL, kid[17];
    assert_int_equal(sh_make_app(&srv, "r1", NULL, &id, &secret), 0);
    assert_int_equal(sh_add_key(&srv, "r1", sh_test_key(1), kid), 0);
    sh_pop_opts o = {0};
    o.jti = "5e0e2f8c-1111-4c3a-9d7e-000000000001";
    sh_resp r1 = {0}, r2 = {0};
    assert_int_equal(sh_token_request(&srv, NULL, id, secret, sh_test_key(1), NULL, &o, &r1),
                     200);
    assert_int_equal(sh_token_request(&srv, NULL, id, secret, sh_test_key(1), NULL, &o, &r2),
                     401);
    assert_non_null(strstr(r2.body, "TAAP_E_REPLAY"));
    redisContext *c = inspect();
    redisReply *rep = redisCommand(c, "KEYS taap:replay:*:%s", o.jti);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 1);
    freeReplyObject(rep);
    redisFree(c);
    sh_resp_free(&r1);
    sh_resp_free(&r2);
    assert_int_equal(sh_stop(&srv), 0);
    sh_cleanup(&srv);
    free(id);
    free(secret);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semantics),
        cmocka_unit_test(test_key_and_ttl),
        cmocka_unit_test(test_event_driven_interface),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_race),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_database_number),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_oom_fails_closed),
        cmocka_unit_test(test_outage_and_recovery),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_cli_verify),
        cmocka_unit_test(test_cli_serve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
