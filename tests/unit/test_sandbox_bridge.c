/* test_sandbox_bridge.c — the C side of the script-host protocol
 * (src/postman/sandbox*.c) against a fake host played by a thread over a
 * socketpair: the exec line taap writes, folding assertions, console lines,
 * variables, nextRequest/skipRequest and the changed request, a
 * pm.sendRequest performed by taap and answered, and every way a host can
 * fail (fatal, wrong version, not JSON, exit mid-script, foreign ids). The
 * real node + postman-sandbox are exercised by tests/e2e/test_run_scripts.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pm.h"
#include "sandbox.h"

/* ---- the fake host ---------------------------------------------------------- */

typedef struct fake {
    int fd;
    const char *const *script; /* lines to send; "<" = read one line into got[] */
    char got[4][4096];
    size_t n_got;
} fake;

static void read_line(int fd, char *out, size_t cap)
{
    size_t n = 0;
    char c;
    while (n + 1 < cap && read(fd, &c, 1) == 1 && c != '\n')
        out[n++] = c;
    out[n] = '\0';
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    for (size_t i = 0; f->script[i]; i++) {
        const char *s = f->script[i];
        if (!strcmp(s, "<")) {
            read_line(f->fd, f->got[f->n_got < 4 ? f->n_got : 3], sizeof f->got[0]);
            f->n_got++;
        } else if (!strcmp(s, "close")) {
            break;
        } else {
            size_t n = strlen(s);
            if (write(f->fd, s, n) != (ssize_t)n || write(f->fd, "\n", 1) != 1)
                break;
        }
    }
    close(f->fd);
    return NULL;
}

typedef struct harness {
    fake f;
    pthread_t th;
    pm_sandbox *sb;
    taap_code rc;
    taap_error err;
} harness;

static void start(harness *h, const char *const *script)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(h, 0, sizeof *h);
    h->f.fd = sv[1];
    h->f.script = script;
    assert_int_equal(pthread_create(&h->th, NULL, fake_main, &h->f), 0);
    h->rc = pm_sandbox_attach(sv[0], &h->sb, &h->err);
}

static void finish(harness *h)
{
    pm_sandbox_free(h->sb);
    pthread_join(h->th, NULL);
}

#define HELLO "{\"t\":\"hello\",\"v\":1,\"sandbox\":\"6.7.4\",\"node\":\"v20\"}"

static pm_sb_exec an_exec(json_t *ctx, json_t *info)
{
    pm_sb_exec x = {"test", "pm.test('a', () => {})", 2500, ctx, info, NULL, NULL};
    return x;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_hello_and_exec_line(void **state)
{
    (void)state;
    const char *const script[] = {
        HELLO, "<",
        "{\"t\":\"done\",\"id\":\"1\",\"error\":null,\"skipRequest\":false,\"vars\":{}}", NULL};
    harness h;
    start(&h, script);
    assert_int_equal(h.rc, TAAP_OK);
    assert_string_equal(pm_sandbox_version(h.sb), "6.7.4");
    json_t *ctx = json_pack("{s:{s:s}, s:[[s,s]], s:{s:s}}", "request", "url", "http://h/p",
                            "environment", "e", "E", "data", "iccid", "89012600000000000001");
    json_t *info = json_pack("{s:i, s:s}", "iteration", 2, "itemName", "Get device");
    pm_sb_exec x = an_exec(ctx, info);
    pm_sb_result r = {0};
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(pm_sandbox_exec(h.sb, &x, &r, &err), TAAP_OK);
    assert_null(r.error_name);
    assert_int_equal(r.n_asserts, 0);
    finish(&h);
    /* what taap wrote: one JSON line with every field */
    json_t *m = json_loads(h.f.got[0], 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "t")), "exec");
    assert_string_equal(json_string_value(json_object_get(m, "id")), "1");
    assert_string_equal(json_string_value(json_object_get(m, "listen")), "test");
    assert_string_equal(json_string_value(json_object_get(m, "script")), "pm.test('a', () => {})");
    assert_int_equal(json_integer_value(json_object_get(m, "timeout")), 2500);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(m, "context"), "data"),
                                          "iccid")),
        "89012600000000000001"); /* 20 digits, a string */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "info"), "iteration")),
                     2);
    json_decref(m);
    json_decref(ctx);
    json_decref(info);
    pm_sb_result_clear(&r);
}

static void test_folds_what_a_script_did(void **state)
{
    (void)state;
    const char *const script[] = {
        HELLO, "<",
        "{\"t\":\"assertion\",\"id\":\"1\",\"name\":\"status 200\",\"passed\":true,"
        "\"skipped\":false,\"index\":0,\"error\":null}",
        "{\"t\":\"console\",\"id\":\"0\",\"level\":\"log\",\"text\":\"from an earlier script\"}",
        "{\"t\":\"assertion\",\"id\":\"1\",\"name\":\"active\",\"passed\":true,\"skipped\":false,"
        "\"index\":1,\"error\":{\"name\":\"AssertionError\",\"message\":\"expected 'SUSPENDED' "
        "to deeply equal 'ACTIVE'\"}}",
        "{\"t\":\"assertion\",\"id\":\"1\",\"name\":\"later\",\"passed\":false,\"skipped\":true,"
        "\"index\":2,\"error\":null}",
        "{\"t\":\"console\",\"id\":\"1\",\"level\":\"warn\",\"text\":\"x { a: 1 }\"}",
        "{\"t\":\"unknown-future-type\",\"id\":\"1\"}",
        "{\"t\":\"done\",\"id\":\"1\",\"error\":{\"name\":\"TypeError\",\"message\":\"boom\"},"
        "\"skipRequest\":true,\"nextRequest\":null,\"vars\":{\"environment\":{\"set\":[[\"n\","
        "\"5\"]],\"unset\":[\"gone\"]}},\"request\":{\"url\":\"http://new/\",\"method\":\"POST\"}}",
        NULL};
    harness h;
    start(&h, script);
    assert_int_equal(h.rc, TAAP_OK);
    pm_sb_exec x = an_exec(NULL, NULL);
    pm_sb_result r = {0};
    assert_int_equal(pm_sandbox_exec(h.sb, &x, &r, NULL), TAAP_OK);
    assert_int_equal(r.n_asserts, 3);
    assert_string_equal(r.asserts[0].name, "status 200");
    assert_true(r.asserts[0].passed);
    /* an assertion carrying an error never counts as passed, whatever the
     * host said */
    assert_false(r.asserts[1].passed);
    assert_string_equal(r.asserts[1].error_name, "AssertionError");
    assert_string_equal(r.asserts[1].error_message, "expected 'SUSPENDED' to deeply equal 'ACTIVE'");
    assert_true(r.asserts[2].skipped);
    assert_false(r.asserts[2].passed);
    /* only this execution's console line */
    assert_int_equal(r.n_logs, 1);
    assert_string_equal(r.logs[0].level, "warn");
    assert_string_equal(r.logs[0].text, "x { a: 1 }");
    assert_string_equal(r.error_name, "TypeError");
    assert_string_equal(r.error_message, "boom");
    assert_true(r.skip_request);
    assert_true(r.next_set);
    assert_null(r.next_request); /* setNextRequest(null): stop */
    json_t *set = json_object_get(json_object_get(r.vars, "environment"), "set");
    assert_string_equal(json_string_value(json_array_get(json_array_get(set, 0), 1)), "5");
    assert_string_equal(json_string_value(json_object_get(r.request, "method")), "POST");
    pm_sb_result_clear(&r);
    assert_null(r.asserts);
    finish(&h);
}

/* pm.sendRequest: taap performs it with the caller's transport and answers */
static int fake_send(void *ctx, const json_t *req, json_t **resp, char *err, size_t cap)
{
    int *calls = ctx;
    (*calls)++;
    if (strcmp(json_string_value(json_object_get(req, "url")), "http://fail/") == 0) {
        snprintf(err, cap, "connect ECONNREFUSED");
        return -1;
    }
    assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
    *resp = json_pack("{s:i, s:s, s:[[s,s]], s:s, s:i}", "code", 201, "status", "Created",
                      "header", "X-A", "1", "body64", "aGk=", "time", 3);
    return 0;
}

static void test_send_request_round_trip(void **state)
{
    (void)state;
    const char *const script[] = {
        HELLO, "<",
        "{\"t\":\"request\",\"id\":\"1\",\"rid\":7,\"method\":\"POST\",\"url\":\"http://x/y\","
        "\"header\":[],\"body64\":\"\"}",
        "<",
        "{\"t\":\"request\",\"id\":\"1\",\"rid\":8,\"method\":\"GET\",\"url\":\"http://fail/\","
        "\"header\":[],\"body64\":\"\"}",
        "<", "{\"t\":\"done\",\"id\":\"1\",\"error\":null}", NULL};
    harness h;
    start(&h, script);
    int calls = 0;
    pm_sb_exec x = an_exec(NULL, NULL);
    x.send = fake_send;
    x.send_ctx = &calls;
    pm_sb_result r = {0};
    assert_int_equal(pm_sandbox_exec(h.sb, &x, &r, NULL), TAAP_OK);
    assert_int_equal(calls, 2);
    finish(&h);
    json_t *a = json_loads(h.f.got[1], 0, NULL), *b = json_loads(h.f.got[2], 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(a, "t")), "response");
    assert_int_equal(json_integer_value(json_object_get(a, "rid")), 7);
    assert_true(json_is_null(json_object_get(a, "error")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "response"), "code")),
                     201);
    assert_int_equal(json_integer_value(json_object_get(b, "rid")), 8);
    assert_string_equal(json_string_value(json_object_get(b, "error")), "connect ECONNREFUSED");
    json_decref(a);
    json_decref(b);
    pm_sb_result_clear(&r);
}

static void test_no_transport_fails_the_request_not_the_run(void **state)
{
    (void)state;
    const char *const script[] = {
        HELLO, "<",
        "{\"t\":\"request\",\"id\":\"1\",\"rid\":1,\"method\":\"GET\",\"url\":\"http://x/\"}", "<",
        "{\"t\":\"done\",\"id\":\"1\",\"error\":null}", NULL};
    harness h;
    start(&h, script);
    pm_sb_exec x = an_exec(NULL, NULL);
    pm_sb_result r = {0};
    assert_int_equal(pm_sandbox_exec(h.sb, &x, &r, NULL), TAAP_OK);
    finish(&h);
    assert_non_null(strstr(h.f.got[1], "not available"));
    pm_sb_result_clear(&r);
}

static void test_host_failures(void **state)
{
    (void)state;
    harness h;
    /* a fatal hello (sandbox failed to boot) */
    const char *const fatal[] = {"{\"t\":\"fatal\",\"message\":\"postman-sandbox: boom\"}", NULL};
    start(&h, fatal);
    assert_int_equal(h.rc, TAAP_E_CONFIG);
    assert_non_null(strstr(h.err.message, "postman-sandbox: boom"));
    finish(&h);
    /* another protocol version */
    const char *const v2[] = {"{\"t\":\"hello\",\"v\":2,\"sandbox\":\"9\"}", NULL};
    start(&h, v2);
    assert_int_equal(h.rc, TAAP_E_CONFIG);
    assert_non_null(strstr(h.err.message, "protocol 2"));
    finish(&h);
    /* not JSON */
    const char *const junk[] = {"Error: Cannot find module 'postman-sandbox'", NULL};
    start(&h, junk);
    assert_int_equal(h.rc, TAAP_E_IO);
    assert_non_null(strstr(h.err.message, "not JSON"));
    finish(&h);
    /* exits in the middle of a script: an error, and the handle is dead */
    const char *const dies[] = {HELLO, "<",
                                "{\"t\":\"assertion\",\"id\":\"1\",\"name\":\"a\",\"passed\":true}",
                                "close", NULL};
    start(&h, dies);
    assert_int_equal(h.rc, TAAP_OK);
    pm_sb_exec x = an_exec(NULL, NULL);
    pm_sb_result r = {0};
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(pm_sandbox_exec(h.sb, &x, &r, &err), TAAP_E_IO);
    assert_non_null(strstr(err.message, "exited"));
    assert_int_equal(pm_sandbox_exec(h.sb, &x, &r, &err), TAAP_E_IO);
    assert_non_null(strstr(err.message, "no longer running"));
    pm_sb_result_clear(&r);
    finish(&h);
    /* malformed shapes break the protocol */
    const char *const bad[] = {HELLO, "<",
                               "{\"t\":\"done\",\"id\":\"1\",\"vars\":{\"environment\":{\"set\":"
                               "[[\"k\",5]]}}}",
                               NULL};
    start(&h, bad);
    assert_int_equal(pm_sandbox_exec(h.sb, &x, &r, &err), TAAP_E_MALFORMED);
    pm_sb_result_clear(&r);
    finish(&h);
}

static void test_base64(void **state)
{
    (void)state;
    const unsigned char bytes[] = {0, 0xff, 'a', '\n', 0x80};
    char *e = pm_sb_b64(bytes, sizeof bytes);
    assert_string_equal(e, "AP9hCoA=");
    size_t n = 0;
    unsigned char *d = pm_sb_unb64(e, &n);
    assert_int_equal(n, sizeof bytes);
    assert_memory_equal(d, bytes, n);
    free(d);
    free(e);
    d = pm_sb_unb64("", &n);
    assert_int_equal(n, 0);
    free(d);
    assert_null(pm_sb_unb64("!!!", &n));
}

static void test_locate_names_the_missing_piece(void **state)
{
    (void)state;
    pm_sb_where w;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(pm_sandbox_locate("/nonexistent/node", NULL, &w, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "/nonexistent/node"));
    /* a folder with host.js but no node_modules: the install command */
    char dir[] = "/tmp/taap-sbx-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/host.js", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(pm_sandbox_locate("/bin/sh", dir, &w, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "postman-sandbox"));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "npm ci --prefix %s", dir);
    assert_non_null(strstr(err.message, cmd));
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_and_exec_line),
        cmocka_unit_test(test_folds_what_a_script_did),
        cmocka_unit_test(test_send_request_round_trip),
        cmocka_unit_test(test_no_transport_fails_the_request_not_the_run),
        cmocka_unit_test(test_host_failures),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_locate_names_the_missing_piece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
