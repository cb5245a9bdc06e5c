/*
 * test_serve_http.c — the emulator as an HTTP server under stress and abuse:
 * 32 parallel clients with every answer checked, 431 for an oversized header
 * section and 413 for an oversized body while other connections keep
 * working, garbage bytes and half-open connections that neither crash nor
 * stall it, 404/405, and the in-process raw entry point the fuzzer uses.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve_harness.h"
#include "taap_serve.h"

static sh_server srv;
static char *cid, *secret;
static char kid[17];
static char iccid[8][24];

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof srv);
    /* The 32 parallel clients share one address and may briefly hold more
     * than 32 connections while closed ones are reaped: lift the per-client
     * share (default 32). */
    const char *args[] = {"--max-header-bytes", "8192", "--max-body-bytes", "65536", "--threads",
                          "4", "--no-access-log", "--max-connections-per-client", "256", NULL};
    if (sh_start(&srv, NULL, args) != 0)
        return -1;
    if (sh_make_app(&srv, "load", NULL, &cid, &secret) || sh_add_key(&srv, "load", sh_test_key(0), kid) ||
        sh_subscribe(&srv, "load"))
        return -1;
    for (int i = 0; i < 8; i++)
        if (sh_activate_kit(&srv, "load", iccid[i]))
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int st = sh_stop(&srv);
    sh_cleanup(&srv);
    free(cid);
    free(secret);
    return st == 0 ? 0 : -1;
}

static long healthz(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", srv.base);
    sh_resp r;
    long st = sh_http("GET", url, NULL, NULL, 0, &r);
    sh_resp_free(&r);
    return st;
}

/* ---- 32 parallel clients ------------------------------------------------------ */

#define CLIENTS 32
#define ROUNDS 20

typedef struct worker {
    int index;
    int ok;
    int bad;
    char first_error[256];
} worker;

static void *client(void *arg)
{
    worker *w = arg;
    char *at = sh_get_token(&srv, cid, secret, sh_test_key(0));
    if (!at) {
        w->bad++;
        snprintf(w->first_error, sizeof w->first_error, "no token");
        return NULL;
    }
    for (int i = 0; i < ROUNDS; i++) {
        const char *dev = iccid[(w->index + i) % 8];
        char path[128];
        snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", dev);
        sh_resp r;
        long st;
        int good;
        if (i % 5 == 4) {
            const char *body = (i / 5) % 2 ? "{\"status\":\"ACTIVE\"}" : "{\"status\":\"SUSPENDED\"}";
            st = sh_call(&srv, "PATCH", path, at, sh_test_key(0), body, NULL, &r);
            good = st == 200 && strstr(r.body, dev) != NULL;
        } else if (i % 7 == 6) {
            st = sh_call(&srv, "GET", "/iot-connectivity/v1/devices?limit=8", at, sh_test_key(0),
                         NULL, NULL, &r);
            good = st == 200 && strstr(r.body, "\"total\":8") != NULL;
        } else {
            st = sh_call(&srv, "GET", path, at, sh_test_key(0), NULL, NULL, &r);
            good = st == 200 && strstr(r.body, dev) != NULL;
        }
        if (good) {
            w->ok++;
        } else {
            if (!w->bad)
                snprintf(w->first_error, sizeof w->first_error, "%ld %.200s", st, r.body);
            w->bad++;
        }
        sh_resp_free(&r);
    }
    free(at);
    return NULL;
}

static void test_parallel_clients(void **state)
{
    (void)state;
    pthread_t th[CLIENTS];
    worker w[CLIENTS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < CLIENTS; i++) {
        w[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, client, &w[i]), 0);
    }
    int ok = 0, bad = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        bad += w[i].bad;
        if (w[i].bad)
            fprintf(stderr, "client %d: %d bad, first: %s\n", i, w[i].bad, w[i].first_error);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(ok, CLIENTS * ROUNDS);
    assert_true(sh_alive(&srv));
}

/* ---- limits ----------------------------------------------------------------- */

static void test_oversized_header_431(void **state)
{
    (void)state;
    /* A slow client holding a half-sent request must not block the others. */
    int slow = sh_connect(&srv);
    assert_true(slow >= 0);
    const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    assert_int_equal(send(slow, partial, sizeof partial - 1, MSG_NOSIGNAL), (ssize_t)(sizeof partial - 1));

    size_t big = 12000;
    char *req = malloc(big + 256);
    int n = snprintf(req, 256, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 5);
    char *resp = NULL;
    int st = sh_raw(&srv, req, (size_t)n + big + 4, 5000, &resp);
    if (st != 431)
        fprintf(stderr, "got: %.300s\n", resp);
    assert_int_equal(st, 431);
    free(resp);
    /* Far beyond MHD's own buffer: still 431 (from MHD), never a crash. */
    size_t huge = 200000;
    char *req2 = malloc(huge + 256);
    n = snprintf(req2, 256, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req2 + n, 'b', huge);
    memcpy(req2 + n + huge, "\r\n\r\n", 5);
    st = sh_raw(&srv, req2, (size_t)n + huge + 4, 5000, NULL);
    assert_true(st == 431 || st == 0); /* MHD may reset before we read */
    free(req);
    free(req2);
    /* Many header fields. */
    char many[8000];
    size_t o = (size_t)snprintf(many, sizeof many, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "X-%d: 1\r\n", i);
    o += (size_t)snprintf(many + o, sizeof many - o, "\r\n");
    assert_int_equal(sh_raw(&srv, many, o, 5000, NULL), 431);
    assert_int_equal(healthz(), 200);
    close(slow);
}

static void test_oversized_body_413(void **state)
{
    (void)state;
    /* Declared too big: refused before the body is read. */
    const char req[] = "POST /oauth2/v2/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 10000000\r\n\r\n{";
    assert_int_equal(sh_raw(&srv, req, sizeof req - 1, 5000, NULL), 413);
    /* Chunked, growing past the limit while being read. */
    size_t chunk = 16384;
    char *body = malloc(8 * (chunk + 32) + 64);
    size_t o = (size_t)snprintf(body, 200,
                                "PATCH /iot-connectivity/v1/devices/%s HTTP/1.1\r\nHost: x\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n",
                                iccid[0]);
    for (int i = 0; i < 6; i++) {
        o += (size_t)snprintf(body + o, 32, "%zx\r\n", chunk);
        memset(body + o, 'z', chunk);
        o += chunk;
        memcpy(body + o, "\r\n", 2);
        o += 2;
    }
    memcpy(body + o, "0\r\n\r\n", 5);
    o += 5;
    assert_int_equal(sh_raw(&srv, body, o, 5000, NULL), 413);
    free(body);
    /* A body where none is accepted. */
    const char get_body[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    assert_int_equal(sh_raw(&srv, get_body, sizeof get_body - 1, 5000, NULL), 413);
    assert_int_equal(healthz(), 200);
}

static void test_garbage_and_half_open(void **state)
{
    (void)state;
    /* Half-open: connections that send part of a request and stay. */
    int fds[16];
    for (int i = 0; i < 16; i++) {
        fds[i] = sh_connect(&srv);
        assert_true(fds[i] >= 0);
        const char *p = i % 2 ? "GET /heal" : "POST /oauth2/v2/tokens HTTP/1.1\r\nContent-Length: 100\r\n\r\n{";
        send(fds[i], p, strlen(p), MSG_NOSIGNAL);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(healthz(), 200);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 3); /* not stalled behind them */

    /* Garbage: every one gets a 4xx or a close, never a crash or a hang. */
    static const char *const junk[] = {
        "\x00\x01\x02\xff\xfe garbage\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        "POST /oauth2/v2/tokens HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST /oauth2/v2/tokens HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST /oauth2/v2/tokens HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "POST /oauth2/v2/tokens HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\r\n\r\n\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        size_t len = i == 0 ? 18 : strlen(junk[i]);
        int st = sh_raw(&srv, junk[i], len, 1000, NULL);
        /* 505 is the RFC answer to an unknown HTTP version. */
        int fine = st == 0 || (st >= 400 && st < 500) || st == 505;
        if (!fine)
            fprintf(stderr, "junk %zu got %d\n", i, st);
        assert_true(fine);
        assert_true(sh_alive(&srv));
    }
    for (int i = 0; i < 16; i++)
        close(fds[i]);
    assert_int_equal(healthz(), 200);
}

static void test_routing(void **state)
{
    (void)state;
    char url[256];
    sh_resp r;
    snprintf(url, sizeof url, "%s/no/such/thing", srv.base);
    assert_int_equal(sh_http("GET", url, NULL, NULL, 0, &r), 404);
    sh_resp_free(&r);
    snprintf(url, sizeof url, "%s/iot-connectivity/v1/devices/%s", srv.base, iccid[0]);
    assert_int_equal(sh_http("DELETE", url, NULL, NULL, 0, &r), 405);
    char allow[64];
    assert_true(sh_resp_header(&r, "Allow", allow, sizeof allow));
    assert_string_equal(allow, "GET, PATCH");
    sh_resp_free(&r);
}

/* The fuzzer's entry point, in-process: same routes, strict parser. */
static void test_handle_raw(void **state)
{
    (void)state;
    taap_serve_options o;
    taap_serve_options_init(&o);
    o.secret_iterations = 1000;
    taap_server *s = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_serve_open(&o, &s, NULL, &err), TAAP_OK);
    char *resp = NULL;
    size_t len = 0;
    const char ok[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(taap_serve_handle_raw(s, ok, sizeof ok - 1, &resp, &len), TAAP_OK);
    assert_memory_equal(resp, "HTTP/1.1 200 ", 13);
    free(resp);
    static const char *const bad[] = {
        "", "GET", "GET / HTTP/1.1\r\n", "GET /x HTTP/1.1\r\nA b: c\r\n\r\n",
        "GET /healthz HTTP/1.1\r\n folded: x\r\n\r\n",
        "POST /oauth2/v2/tokens HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
        "GET http://h/healthz HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(taap_serve_handle_raw(s, bad[i], strlen(bad[i]), &resp, &len), TAAP_OK);
        assert_memory_equal(resp, "HTTP/1.1 4", 10);
        free(resp);
    }
    /* Management through the raw path with the admin token. */
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /devedge/v1/apps HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\":\"raw\"}",
                     taap_serve_admin_token(s));
    assert_int_equal(taap_serve_handle_raw(s, req, (size_t)n, &resp, &len), TAAP_OK);
    assert_memory_equal(resp, "HTTP/1.1 201 ", 13);
    assert_non_null(strstr(resp, "clientSecret"));
    free(resp);
    taap_serve_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_clients),
        cmocka_unit_test(test_oversized_header_431),
        cmocka_unit_test(test_oversized_body_413),
        cmocka_unit_test(test_garbage_and_half_open),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_handle_raw),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
