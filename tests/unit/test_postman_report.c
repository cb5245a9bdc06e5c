/* test_postman_report.c — the reporters over a hand-built run result with
 * script assertions in every state: Newman's JSON (an assertion that did
 * not run carries an error, so it never reads as a pass), JUnit (one
 * testcase per assertion, failures merged across iterations, not-run
 * counted as failures), the CLI lines (✓ / numbered) and the exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pm.h"
#include "testutil.h"

static taap_run_assertion as_pass = {"has id", TAAP_ASSERTION_PASSED, NULL, NULL, "test"};
static taap_run_assertion as_fail = {"is ACTIVE", TAAP_ASSERTION_FAILED, "AssertionError",
                                     "expected 'SUSPENDED' to deeply equal 'ACTIVE'", "test"};
static taap_run_assertion as_skip = {"later", TAAP_ASSERTION_SKIPPED, NULL, NULL, "test"};
static taap_run_assertion as_notrun = {"is ACTIVE", TAAP_ASSERTION_NOT_RUN, NULL, NULL, "test"};

/* Two iterations of one request: the first with a failed assertion, the
 * second with its script not run. */
static taap_run_result *result(void)
{
    taap_run_result *r = calloc(1, sizeof *r);
    r->collection_name = strdup("C");
    r->iterations = 2;
    r->n = r->cap = 2;
    r->recs = calloc(2, sizeof *r->recs);
    static taap_run_assertion it1[3], it2[2];
    it1[0] = as_pass;
    it1[1] = as_fail;
    it1[2] = as_skip;
    it2[0] = as_pass;
    it2[1] = as_notrun;
    for (int i = 0; i < 2; i++) {
        taap_run_request *q = &r->recs[i].r;
        q->iteration = (unsigned)i;
        q->path = "Devices / Get";
        q->name = "Get";
        q->item_id = "id-1";
        q->method = "GET";
        q->url = "http://h/d";
        q->status = 200;
        q->status_text = "OK";
        q->expectation = "2xx";
        q->attempts = 1;
        q->plan_length = 1;
        q->passed = 0; /* what record.c decides for both */
        q->assertions = i ? it2 : it1;
        q->n_assertions = i ? 2 : 3;
        q->test_scripts = 1;
    }
    return r;
}

static void release(taap_run_result *r)
{
    /* the records borrow static strings: free only what calloc made */
    free(r->recs);
    free(r->collection_name);
    free(r);
}

static void test_json(void **state)
{
    (void)state;
    taap_run_result *r = result();
    char *text = NULL;
    assert_int_equal(taap_run_report_json(r, &text, NULL), TAAP_OK);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    json_t *run = json_object_get(j, "run");
    json_t *st = json_object_get(json_object_get(run, "stats"), "assertions");
    assert_int_equal(json_integer_value(json_object_get(st, "total")), 5);
    assert_int_equal(json_integer_value(json_object_get(st, "failed")), 2);
    assert_int_equal(json_integer_value(json_object_get(st, "pending")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "notRun")), 1);
    json_t *ex = json_object_get(run, "executions");
    json_t *a1 = json_object_get(json_array_get(ex, 0), "assertions");
    assert_int_equal(json_array_size(a1), 3);
    assert_null(json_object_get(json_array_get(a1, 0), "error"));
    json_t *e = json_object_get(json_array_get(a1, 1), "error");
    assert_string_equal(json_string_value(json_object_get(e, "name")), "AssertionError");
    assert_string_equal(json_string_value(json_object_get(e, "test")), "is ACTIVE");
    assert_true(json_is_true(json_object_get(json_array_get(a1, 2), "skipped")));
    /* not run: an error, so no reader counts it as passed */
    json_t *a2 = json_object_get(json_array_get(ex, 1), "assertions");
    e = json_object_get(json_array_get(a2, 1), "error");
    assert_string_equal(json_string_value(json_object_get(e, "name")), "NotRun");
    json_t *fails = json_object_get(run, "failures");
    assert_int_equal(json_array_size(fails), 2);
    json_t *f0 = json_array_get(fails, 0);
    assert_string_equal(json_string_value(json_object_get(f0, "at")), "assertion:1 in test-script");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f0, "source"), "name")),
                        "Get");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f0, "parent"), "name")),
                        "Devices");
    json_decref(j);
    free(text);
    assert_int_equal(taap_run_result_exit_code(r), 1);
    release(r);
}

static void test_junit(void **state)
{
    (void)state;
    taap_run_result *r = result();
    char *x = NULL;
    assert_int_equal(taap_run_report_junit(r, &x, NULL), TAAP_OK);
    assert_int_equal(tu_count(x, "<testsuite "), 1);
    /* status, has id, is ACTIVE, later: one testcase each */
    assert_int_equal(tu_count(x, "<testcase "), 4);
    assert_non_null(strstr(x, "<testcase name=\"is ACTIVE\" classname=\"Devices\""));
    assert_int_equal(tu_count(x, "<failure "), 1);
    assert_non_null(strstr(x, "Failed 1 time."));
    assert_int_equal(tu_count(x, "<skipped/>"), 1); /* pm.test.skip across both */
    assert_non_null(strstr(x, "failures=\"1\""));
    free(x);
    release(r);
}

static void test_cli_lines(void **state)
{
    (void)state;
    taap_run_result *r = result();
    taap_run_cli_style style = {0};
    size_t no = 0;
    char *t = NULL;
    assert_int_equal(taap_run_report_request(&r->recs[0].r, &style, &no, &t, NULL), TAAP_OK);
    assert_non_null(strstr(t, "↳ Get\n  GET http://h/d [200 OK, 0B, 0ms]\n"));
    assert_non_null(strstr(t, "  ✓  has id\n  1. is ACTIVE\n"));
    assert_non_null(strstr(t, "later (skipped)"));
    assert_non_null(strstr(t, "  ✓  status 2xx\n")); /* the status itself was fine */
    free(t);
    assert_int_equal(taap_run_report_request(&r->recs[1].r, &style, &no, &t, NULL), TAAP_OK);
    assert_non_null(strstr(t, "  2. is ACTIVE (not run)\n"));
    free(t);
    assert_int_equal(no, 2);
    style.ascii = 1;
    no = 0;
    assert_int_equal(taap_run_report_request(&r->recs[0].r, &style, &no, &t, NULL), TAAP_OK);
    assert_null(strstr(t, "✓"));
    assert_non_null(strstr(t, "Pass  has id"));
    free(t);
    assert_int_equal(taap_run_report_failures(r, &style, &t, NULL), TAAP_OK);
    assert_non_null(strstr(t, "  1.  AssertionError  is ACTIVE\n"));
    assert_non_null(strstr(t, "  2.  NotRun          is ACTIVE\n"));
    assert_non_null(strstr(t, "iteration: 2"));
    free(t);
    release(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_junit),
        cmocka_unit_test(test_cli_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
