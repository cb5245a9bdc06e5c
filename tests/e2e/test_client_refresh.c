/* test_client_refresh.c — the taap_client library against the emulator:
 * one token for many requests (counted by the client and by the server's
 * access log), refresh on expiry with an injected clock (server
 * --token-lifetime 5, no sleeping), a fresh token after a 401, two handles
 * sharing the disk cache, memory and streamed (callback) bodies, the id
 * token header, and examples/connectivity.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <time.h>
#include <unistd.h>

#include "serve_harness.h"
#include "taap/taap.h"
#include "testutil.h"

typedef struct world {
    sh_server srv;
    char *client_id, *secret;
    char iccid[24];
    taap_key *key;
    char *dir;
} world;

static world W;

static int setup(const char *const *extra)
{
    memset(&W, 0, sizeof W);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    if (sh_start(&W.srv, NULL, extra) != 0)
        return -1;
    char kid[17];
    W.key = sh_test_key(0);
    if (sh_make_app(&W.srv, "app", NULL, &W.client_id, &W.secret) != 0 ||
        sh_add_key(&W.srv, "app", W.key, kid) != 0 || sh_subscribe(&W.srv, "app") != 0 ||
        sh_activate_kit(&W.srv, "app", W.iccid) != 0)
        return -1;
    W.dir = tu_tempdir();
    return 0;
}

static int setup_default(void **state)
{
    (void)state;
    return setup(NULL);
}

static int setup_short(void **state)
{
    (void)state;
    static const char *const extra[] = {"--token-lifetime", "5", NULL};
    return setup(extra);
}

static int teardown(void **state)
{
    (void)state;
    sh_stop(&W.srv);
    sh_cleanup(&W.srv);
    free(W.client_id);
    free(W.secret);
    if (W.dir) {
        tu_rmtree(W.dir);
        free(W.dir);
    }
    return 0;
}

/* Token requests the server has logged so far. */
static int server_token_requests(void)
{
    char *log = sh_log(&W.srv);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, "POST /oauth2/v2/tokens")); p++)
        n++;
    free(log);
    return n;
}

/* A clock the test moves by hand (token expiry decisions). */
static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static taap_client *new_client(int disk, taap_clock_fn clock, taap_clock_fn pop_clock, int id_token)
{
    taap_client_config cfg;
    taap_client_config_init(&cfg);
    cfg.base_url = W.srv.base;
    cfg.client_id = W.client_id;
    cfg.client_secret = W.secret;
    cfg.key = W.key;
    cfg.clock = clock;
    cfg.clock_ctx = &W.srv;
    cfg.pop_clock = pop_clock;
    cfg.pop_clock_ctx = &W.srv;
    cfg.send_id_token = id_token;
    cfg.http.no_proxy = 1;
    cfg.http.timeout_ms = 10000;
    if (disk) {
        cfg.cache = TAAP_CLIENT_CACHE_DISK;
        cfg.cache_dir = W.dir;
        cfg.cache_profile = "test";
    }
    taap_client *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_client_new(&cfg, &c, &err) != TAAP_OK)
        fail_msg("taap_client_new: %s", err.message);
    return c;
}

static long get_device(taap_client *c, taap_client_result *res, char **body)
{
    char path[96];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", W.iccid);
    taap_request rq = {.method = "GET", .target = path};
    taap_http_response *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_client_request(c, &rq, NULL, &r, res, &err) != TAAP_OK)
        fail_msg("request: %s", err.message);
    long st = r->status;
    if (body)
        *body = strdup(r->body);
    taap_http_response_free(r);
    return st;
}

static void test_reuse(void **state)
{
    (void)state;
    taap_client *c = new_client(0, sh_clock, NULL, 0);
    taap_client_result res;
    char *body = NULL;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(get_device(c, &res, i == 0 ? &body : NULL), 200);
        assert_int_equal(res.token_fetched, i == 0);
        assert_int_equal(res.attempts, 1);
    }
    assert_non_null(strstr(body, W.iccid));
    free(body);
    assert_int_equal(taap_client_token_requests(c), 1);
    assert_int_equal(server_token_requests(), 1);
    taap_client_free(c);
}

static void test_expiry(void **state)
{
    (void)state;
    /* Server tokens live 5 s: the client reuses one for half its life,
     * then fetches a new one. Both sides' clocks move without sleeping. */
    taap_client *c = new_client(0, sh_clock, NULL, 0);
    taap_client_result res;
    assert_int_equal(get_device(c, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 1);
    sh_set_now(&W.srv, W.srv.now + 2);
    assert_int_equal(get_device(c, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 0);
    sh_set_now(&W.srv, W.srv.now + 2); /* 4 s old: past 5 − 2.5 */
    assert_int_equal(get_device(c, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 1);
    assert_int_equal(res.token_refreshed_401, 0);
    sh_set_now(&W.srv, W.srv.now + 100);
    assert_int_equal(get_device(c, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 1);
    assert_int_equal(taap_client_token_requests(c), 3);
    assert_int_equal(server_token_requests(), 3);
    taap_client_free(c);
}

static void test_401(void **state)
{
    (void)state;
    /* The client's expiry clock lags (it still believes the token fresh),
     * the server's has moved past the token's exp: the API answers 401,
     * the client fetches a new token and sends the request once more. */
    fake_now = W.srv.now;
    taap_client *c = new_client(0, fake_clock, sh_clock, 0);
    taap_client_result res;
    assert_int_equal(get_device(c, &res, NULL), 200);
    sh_set_now(&W.srv, W.srv.now + 4000);
    assert_int_equal(get_device(c, &res, NULL), 200);
    assert_int_equal(res.token_refreshed_401, 1);
    assert_int_equal(res.token_fetched, 1);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(taap_client_token_requests(c), 2);
    taap_client_free(c);
}

static void test_disk_shared(void **state)
{
    (void)state;
    /* Two handles (as two processes would) share the cache file. */
    taap_client *a = new_client(1, sh_clock, NULL, 0), *b = new_client(1, sh_clock, NULL, 0);
    taap_client_result res;
    assert_int_equal(get_device(a, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 1);
    assert_int_equal(get_device(b, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 0);
    assert_int_equal(server_token_requests(), 1);
    /* b forgets (removes the file); a still has it in memory */
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_client_forget_token(b, &err), TAAP_OK);
    assert_int_equal(get_device(a, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 0);
    assert_int_equal(get_device(b, &res, NULL), 200);
    assert_int_equal(res.token_fetched, 1);
    taap_client_free(a);
    taap_client_free(b);
}

typedef struct chunks {
    const char *data;
    size_t off, len;
} chunks;

static ssize_t read_chunks(void *ctx, void *buf, size_t cap)
{
    chunks *c = ctx;
    size_t n = c->len - c->off;
    if (n > 3)
        n = 3; /* tiny reads: the spooling must put them back together */
    if (n > cap)
        n = cap;
    memcpy(buf, c->data + c->off, n);
    c->off += n;
    return (ssize_t)n;
}

static void test_bodies(void **state)
{
    (void)state;
    taap_client *c = new_client(0, sh_clock, NULL, 1);
    char path[96];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", W.iccid);
    const char *suspend = "{\"status\":\"SUSPENDED\"}";
    taap_request rq = {.method = "PATCH", .target = path};
    rq.body.kind = TAAP_BODY_MEMORY;
    rq.body.data = suspend;
    rq.body.len = (int64_t)strlen(suspend);
    taap_http_response *r = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_client_request(c, &rq, NULL, &r, NULL, &err), TAAP_OK);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "SUSPENDED"));
    taap_http_response_free(r);

    chunks ch = {"{\"status\":\"ACTIVE\"}", 0, 19};
    memset(&rq.body, 0, sizeof rq.body);
    rq.body.kind = TAAP_BODY_CALLBACK;
    rq.body.read = read_chunks;
    rq.body.read_ctx = &ch;
    rq.body.len = -1;
    assert_int_equal(taap_client_request(c, &rq, NULL, &r, NULL, &err), TAAP_OK);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"ACTIVE\""));
    taap_http_response_free(r);

    /* the body streamed to a FILE; an error status stays in memory */
    FILE *f = tmpfile();
    rq.method = "GET";
    memset(&rq.body, 0, sizeof rq.body);
    assert_int_equal(taap_client_request(c, &rq, f, &r, NULL, &err), TAAP_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_streamed, 1);
    assert_true(ftell(f) > 20);
    taap_http_response_free(r);
    long before = ftell(f);
    rq.target = "/iot-connectivity/v1/devices/12345";
    assert_int_equal(taap_client_request(c, &rq, f, &r, NULL, &err), TAAP_OK);
    assert_int_equal(r->status, 400);
    assert_int_equal(r->body_streamed, 0);
    assert_int_equal(ftell(f), before);
    char msg[256];
    taap_error_body_message(r->body, r->body_len, msg, sizeof msg);
    assert_non_null(strstr(msg, "ICCID"));
    assert_non_null(strstr(taap_status_meaning(r->status), "bad_request"));
    taap_http_response_free(r);
    fclose(f);
    taap_client_free(c);
}

static void test_config_errors(void **state)
{
    (void)state;
    taap_client_config cfg;
    taap_client_config_init(&cfg);
    taap_client *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_client_new(&cfg, &c, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "base URL"));
    cfg.base_url = "ftp://x";
    assert_int_equal(taap_client_new(&cfg, &c, &err), TAAP_E_CONFIG);
    cfg.base_url = W.srv.base;
    cfg.client_id = W.client_id;
    assert_int_equal(taap_client_new(&cfg, &c, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "secret"));
    cfg.client_secret = "wrong-secret-xyz";
    cfg.key = W.key;
    cfg.http.no_proxy = 1;
    assert_int_equal(taap_client_new(&cfg, &c, &err), TAAP_OK);
    taap_oauth_token *t = NULL;
    assert_int_equal(taap_client_token(c, 0, &t, NULL, &err), TAAP_E_OAUTH);
    assert_non_null(strstr(err.message, "401"));
    assert_null(strstr(err.message, "wrong-secret-xyz"));
    taap_client_free(c);
}

static void test_example(void **state)
{
    (void)state;
    const char *build = getenv("TAAP_BUILD");
    assert_non_null(build);
    char exe[600], keyp[600];
    snprintf(exe, sizeof exe, "%s/example_connectivity", build);
    if (access(exe, X_OK) != 0)
        fail_msg("%s was not built", exe);
    char *pem = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_private_pem(W.key, NULL, &pem, &err), TAAP_OK);
    snprintf(keyp, sizeof keyp, "%s/key.pem", W.dir);
    tu_write(keyp, pem, strlen(pem));
    taap_key_free_pem(pem);
    /* The harness server believes it is SH_EPOCH; the example uses the wall
     * clock, so put the server back on real time for this one. */
    sh_set_now(&W.srv, (int64_t)time(NULL));
    setenv("TAAP_BASE_URL", W.srv.base, 1);
    setenv("TAAP_CLIENT_ID", W.client_id, 1);
    setenv("TAAP_CLIENT_SECRET", W.secret, 1);
    setenv("TAAP_PRIVATE_KEY", keyp, 1);
    char *out = NULL, *errout = NULL;
    char *argv[] = {exe, W.iccid, NULL};
    int rc = tu_run(argv, NULL, &out, &errout);
    unsetenv("TAAP_CLIENT_SECRET");
    if (rc != 0)
        fail_msg("example exited %d: %s", rc, errout);
    assert_non_null(strstr(out, "HTTP 200"));
    assert_non_null(strstr(out, W.iccid));
    free(out);
    free(errout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reuse, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup_short, teardown),
        cmocka_unit_test_setup_teardown(test_401, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_disk_shared, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_bodies, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_example, setup_default, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
