/* test_sandbox_host.c — the bridge against REAL node and the real
 * postman-sandbox (installed by scripts/deps.sh): pm.test/pm.expect with
 * chai, pm.response assertions, the issue's SUSPENDED-device example
 * failing, variables both ways (types kept across scripts), pm.request
 * mutation, pm.sendRequest through taap's callback, legacy globals,
 * require() of the sandbox's libraries, skipRequest/setNextRequest, console
 * lines, a script error, and --timeout-script stopping an endless loop
 * without killing the host. Exit 77 (skipped) only when node or the sandbox
 * is missing, which `make test` turns into a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm.h"
#include "sandbox.h"

static pm_sandbox *sb;

static json_t *response_json(int code, const char *status, const char *body)
{
    char *b64 = pm_sb_b64(body, strlen(body));
    json_t *r = json_pack("{s:i, s:s, s:[[s,s]], s:s, s:i}", "code", code, "status", status,
                          "header", "Content-Type", "application/json", "body64", b64, "time", 4);
    free(b64);
    return r;
}

static void run(const char *listen, const char *script, json_t *ctx, pm_sb_result *r)
{
    json_t *info = json_pack("{s:i, s:i, s:s, s:s}", "iteration", 0, "iterations", 1, "itemName",
                             "Get device", "itemId", "id-1");
    pm_sb_exec x = {listen, script, 10000, ctx, info, NULL, NULL};
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = pm_sandbox_exec(sb, &x, r, &err);
    if (rc != TAAP_OK)
        fail_msg("exec: %s", err.message);
    json_decref(info);
}

static const pm_sb_assertion *find(const pm_sb_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_asserts; i++)
        if (!strcmp(r->asserts[i].name, name))
            return &r->asserts[i];
    fail_msg("no assertion \"%s\"", name);
    return NULL;
}

static void test_issue_example_fails(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:{s:s,s:s}, s:o}", "request", "url", "http://h/d", "method", "GET",
                            "response", response_json(200, "OK", "{\"status\":\"SUSPENDED\"}"));
    pm_sb_result r = {0};
    run("test",
        "pm.test('status 200', () => pm.response.to.have.status(200));\n"
        "pm.test('device active', () => pm.expect(pm.response.json().status).to.eql('ACTIVE'));\n"
        "pm.test('json header', () => pm.response.to.have.header('Content-Type'));\n"
        "pm.test('json body', () => pm.response.to.have.jsonBody('status', 'SUSPENDED'));\n",
        ctx, &r);
    assert_int_equal(r.n_asserts, 4);
    assert_true(find(&r, "status 200")->passed);
    const pm_sb_assertion *a = find(&r, "device active");
    assert_false(a->passed);
    assert_string_equal(a->error_name, "AssertionError");
    assert_non_null(strstr(a->error_message, "ACTIVE"));
    assert_true(find(&r, "json header")->passed);
    assert_true(find(&r, "json body")->passed);
    assert_null(r.error_name);
    pm_sb_result_clear(&r);
    json_decref(ctx);
}

static void test_variables_flow_and_keep_types(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:{s:s}, s:o, s:[[s,s]], s:{s:s}}", "request", "url", "http://h/",
                            "response", response_json(200, "OK", "{}"), "environment", "e",
                            "E", "data", "iccid", "89012600000000000001");
    pm_sb_result r = {0};
    run("test",
        "pm.test('env in', () => pm.expect(pm.environment.get('e')).to.equal('E'));\n"
        "pm.test('data', () => pm.expect(pm.iterationData.get('iccid')).to.equal("
        "'89012600000000000001'));\n"
        "pm.environment.set('n', 5); pm.globals.set('g', 'G'); pm.collectionVariables.set('c', "
        "'C'); pm.variables.set('l', 'L'); pm.environment.unset('e');\n"
        "postman.setEnvironmentVariable('legacy', 'yes');\n",
        ctx, &r);
    assert_true(find(&r, "env in")->passed);
    assert_true(find(&r, "data")->passed);
    char *dump = json_dumps(r.vars, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(dump, "[\"n\",\"5\"]"));
    assert_non_null(strstr(dump, "\"globals\":{\"set\":[[\"g\",\"G\"]]"));
    assert_non_null(strstr(dump, "[\"c\",\"C\"]"));
    assert_non_null(strstr(dump, "[\"l\",\"L\"]"));
    assert_non_null(strstr(dump, "\"unset\":[\"e\"]"));
    assert_non_null(strstr(dump, "[\"legacy\",\"yes\"]"));
    free(dump);
    pm_sb_result_clear(&r);
    json_decref(ctx);
    /* the next script gets "5" from taap and sees the number it set */
    ctx = json_pack("{s:{s:s}, s:o, s:[[s,s]]}", "request", "url", "http://h/", "response",
                    response_json(200, "OK", "{}"), "environment", "n", "5");
    run("test", "pm.test('typed', () => pm.expect(pm.environment.get('n')).to.equal(5));", ctx,
        &r);
    assert_true(find(&r, "typed")->passed);
    pm_sb_result_clear(&r);
    json_decref(ctx);
}

static void test_prerequest_mutation_skip_and_next(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:{s:s,s:s,s:[{s:s,s:s}]}}", "request", "url",
                            "{{baseUrl}}/devices/:iccid", "method", "GET", "header", "key", "A",
                            "value", "1");
    pm_sb_result r = {0};
    run("prerequest",
        "pm.request.headers.upsert({key: 'X-Trace', value: '{{trace}}'});\n"
        "pm.request.method = 'POST';\n"
        "pm.request.body = {mode: 'raw', raw: '{\"a\":1}'};\n"
        "pm.execution.setNextRequest('Other');\n",
        ctx, &r);
    assert_non_null(r.request);
    char *dump = json_dumps(r.request, JSON_COMPACT);
    assert_non_null(strstr(dump, "\"X-Trace\""));
    assert_non_null(strstr(dump, "{{trace}}"));
    assert_non_null(strstr(dump, "\"POST\""));
    assert_non_null(strstr(dump, "{\\\"a\\\":1}"));
    free(dump);
    assert_true(r.next_set);
    assert_string_equal(r.next_request, "Other");
    assert_false(r.skip_request);
    pm_sb_result_clear(&r);
    /* an unchanged request is not sent back; skipRequest is reported */
    run("prerequest", "if (pm.info.requestName === 'Get device') pm.execution.skipRequest();",
        ctx, &r);
    assert_null(r.request);
    assert_true(r.skip_request);
    pm_sb_result_clear(&r);
    json_decref(ctx);
}

static int send_cb(void *ctx, const json_t *req, json_t **resp, char *err, size_t cap)
{
    (void)err;
    (void)cap;
    int *calls = ctx;
    (*calls)++;
    assert_string_equal(json_string_value(json_object_get(req, "url")), "http://127.0.0.1:9/x");
    assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
    *resp = response_json(200, "OK", "{\"access_token\":\"AT\"}");
    return 0;
}

static void test_send_request_and_libraries(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:{s:s}, s:o}", "request", "url", "http://h/", "response",
                            response_json(200, "OK", "{}"));
    json_t *info = json_pack("{s:i}", "iteration", 0);
    int calls = 0;
    pm_sb_exec x = {"test",
                    "pm.sendRequest({url: 'http://127.0.0.1:9/x', method: 'POST'}, (e, res) => {\n"
                    "  pm.test('sent', () => pm.expect(res.json().access_token).to.equal('AT'));\n"
                    "  pm.environment.set('token', res.json().access_token);\n"
                    "});\n"
                    "const _ = require('lodash'), moment = require('moment'), CryptoJS = "
                    "require('crypto-js');\n"
                    "pm.test('libs', () => { pm.expect(_.sum([1, 2])).to.equal(3);\n"
                    "  pm.expect(moment.utc(0).year()).to.equal(1970);\n"
                    "  pm.expect(CryptoJS.SHA256('a').toString()).to.have.lengthOf(64); });\n"
                    "tests['legacy'] = responseCode.code === 200 && JSON.parse(responseBody) !== "
                    "null;\n"
                    "console.log('hello', {a: 1});\n",
                    10000, ctx, info, send_cb, &calls};
    pm_sb_result r = {0};
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(pm_sandbox_exec(sb, &x, &r, &err), TAAP_OK);
    assert_int_equal(calls, 1);
    assert_true(find(&r, "sent")->passed);
    assert_true(find(&r, "libs")->passed);
    assert_true(find(&r, "legacy")->passed);
    int logged = 0;
    for (size_t i = 0; i < r.n_logs; i++)
        if (!strcmp(r.logs[i].text, "hello { a: 1 }") && !strcmp(r.logs[i].level, "log"))
            logged = 1;
    assert_true(logged);
    char *dump = json_dumps(r.vars, JSON_COMPACT);
    assert_non_null(strstr(dump, "[\"token\",\"AT\"]"));
    free(dump);
    pm_sb_result_clear(&r);
    json_decref(ctx);
    json_decref(info);
}

static void test_errors_and_timeout(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:{s:s}}", "request", "url", "http://h/");
    json_t *info = json_pack("{s:i}", "iteration", 0);
    pm_sb_result r = {0};
    pm_sb_exec x = {"prerequest", "undefinedFunction();", 10000, ctx, info, NULL, NULL};
    assert_int_equal(pm_sandbox_exec(sb, &x, &r, NULL), TAAP_OK);
    assert_string_equal(r.error_name, "ReferenceError");
    pm_sb_result_clear(&r);
    x.script = "while (true) {}";
    x.timeout_ms = 200;
    assert_int_equal(pm_sandbox_exec(sb, &x, &r, NULL), TAAP_OK);
    assert_non_null(r.error_message);
    pm_sb_result_clear(&r);
    /* the host is still usable afterwards (with a timeout no loaded
     * machine reaches: this checks recovery, not speed) */
    x.script = "pm.variables.set('after', 'ok');";
    x.timeout_ms = 60000;
    assert_int_equal(pm_sandbox_exec(sb, &x, &r, NULL), TAAP_OK);
    if (r.error_name)
        fail_msg("after a timeout: %s: %s", r.error_name, r.error_message);
    pm_sb_result_clear(&r);
    json_decref(ctx);
    json_decref(info);
}

static int setup(void **state)
{
    (void)state;
    pm_sb_where w;
    taap_error err = TAAP_ERROR_INIT;
    if (pm_sandbox_locate(NULL, NULL, &w, &err) != TAAP_OK) {
        fprintf(stderr, "SKIP: %s\n", err.message);
        exit(77);
    }
    if (pm_sandbox_start(&w, &sb, &err) != TAAP_OK) {
        fprintf(stderr, "cannot start the script host: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pm_sandbox_free(sb);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example_fails),
        cmocka_unit_test(test_variables_flow_and_keep_types),
        cmocka_unit_test(test_prerequest_mutation_skip_and_next),
        cmocka_unit_test(test_send_request_and_libraries),
        cmocka_unit_test(test_errors_and_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
