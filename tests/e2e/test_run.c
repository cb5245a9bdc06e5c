/*
 * test_run.c — `taap run` end to end against the real emulator (started on
 * port 0 by the serve harness, sharing its clock through --now-file):
 * the example Quick Start collection green (token captured, device
 * fetched), data-driven runs, --folder, --bail, token refresh after a 401,
 * reporters (valid JSON and JUnit, tokens redacted), exit codes, and a
 * 1,000-row run with -j 4 that fetches exactly one token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve_harness.h"
#include "testutil.h"

static sh_server srv;
static char *cid, *secret, *dir;
static char iccid[3][24];
static char coll[4096], envf[4096], keyf[4096], pem_text[8192];

static const char *path_in(const char *name)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof srv);
    if (sh_start(&srv, NULL, NULL) != 0)
        return -1;
    char kid[17];
    if (sh_make_app(&srv, "run-app", NULL, &cid, &secret) != 0 ||
        sh_add_key(&srv, "run-app", sh_test_key(0), kid) != 0 || sh_subscribe(&srv, "run-app"))
        return -1;
    for (int i = 0; i < 3; i++)
        if (sh_activate_kit(&srv, "run-app", iccid[i]) != 0)
            return -1;
    dir = tu_tempdir();
    char *pem = NULL;
    if (taap_key_private_pem(sh_test_key(0), NULL, &pem, NULL) != TAAP_OK)
        return -1;
    snprintf(pem_text, sizeof pem_text, "%s", pem);
    snprintf(keyf, sizeof keyf, "%s", path_in("key.pem"));
    tu_write(keyf, pem, strlen(pem));
    chmod(keyf, 0600);
    taap_key_free_pem(pem);
    snprintf(coll, sizeof coll, "%s/examples/quickstart.postman_collection.json",
             getenv("TAAP_SRC") ? getenv("TAAP_SRC") : ".");
    snprintf(envf, sizeof envf, "%s/examples/quickstart.postman_environment.json",
             getenv("TAAP_SRC") ? getenv("TAAP_SRC") : ".");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh_stop(&srv);
    sh_cleanup(&srv);
    free(cid);
    free(secret);
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* Run `taap run ARGS…` (NULL-terminated) with the standard connection
 * settings first; returns the exit status. */
static int run(char **out, char **err, const char *first, ...)
{
    static char a_base[256], a_id[256], a_sec[256], a_ic[64];
    snprintf(a_base, sizeof a_base, "baseUrl=%s", srv.base);
    snprintf(a_id, sizeof a_id, "client_id=%s", cid);
    snprintf(a_sec, sizeof a_sec, "client_secret=%s", secret);
    snprintf(a_ic, sizeof a_ic, "ICCID=%s", iccid[0]);
    const char *argv[96] = {tu_taap_bin(), "run", "--now-file", srv.now_file, "--env-var", a_base,
                            "--env-var", a_id, "--env-var", a_sec, "--env-var", a_ic};
    int n = 12;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 95; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return tu_run((char *const *)argv, NULL, out, err);
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fprintf(stderr, "%s: %s\n", path, je.text);
    assert_non_null(j);
    return j;
}

static json_t *executions(json_t *report)
{
    return json_object_get(json_object_get(report, "run"), "executions");
}

static long long stat_req(json_t *report, const char *k)
{
    return json_integer_value(json_object_get(
        json_object_get(json_object_get(json_object_get(report, "run"), "stats"), "requests"), k));
}

static void test_quickstart_green(void **state)
{
    (void)state;
    char *out, *err;
    const char *exp = path_in("exported-env.json");
    const char *rep = path_in("r1.json");
    int rc = run(&out, &err, coll, "-e", envf, "--key", keyf, "--export-environment", exp,
                 "--reporter-json-export", rep, NULL);
    if (rc)
        fprintf(stderr, "%s\n%s\n", out, err);
    assert_int_equal(rc, 0);
    /* Newman's CLI layout: folder, request, request line, one ✓ per check */
    assert_non_null(strstr(out, "❏ 1-PoP_Token_Creation\n↳ OAuth 2.0\n"));
    assert_non_null(strstr(out, "❏ Connectivity\n↳ GET Connectivity\n"));
    /* the scripts' assertions (run in the sandbox) */
    assert_int_equal(tu_count(out, "✓  Status code is 200"), 2);
    assert_int_equal(tu_count(out, "✓  The device is the one asked for"), 1);
    assert_non_null(strstr(out, iccid[0]));
    /* the collection's jsrsasign PoP script: signed natively, said once per item */
    assert_int_equal(tu_count(err, "the PoP token is signed natively"), 2);
    assert_null(strstr(out, "eyJ")); /* no token on the terminal */
    assert_null(strstr(err, "eyJ"));
    assert_null(strstr(out, secret));

    json_t *r = load_json(rep);
    assert_int_equal(stat_req(r, "tokenRequests"), 1);
    assert_int_equal(stat_req(r, "failed"), 0);
    json_t *ex = executions(r);
    assert_int_equal(json_array_size(ex), 2);
    json_t *get = json_array_get(ex, 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(get, "response"), "code")),
                     200);
    json_decref(r);

    /* the exported environment: token captured, secret markers kept, 0600 */
    struct stat st;
    assert_int_equal(stat(exp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_t *e = load_json(exp);
    json_t *vals = json_object_get(e, "values");
    int found = 0;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) {
        const char *k = json_string_value(json_object_get(v, "key"));
        if (!strcmp(k, "access_token")) {
            found = 1;
            assert_string_equal(json_string_value(json_object_get(v, "type")), "secret");
            assert_true(strncmp(json_string_value(json_object_get(v, "value")), "eyJ", 3) == 0);
        }
        if (!strcmp(k, "token_expiry")) /* Date.now() + expires_in*1000, in ms */
            assert_string_equal(json_string_value(json_object_get(v, "value")),
                                "1767229200000");
    }
    assert_true(found);
    assert_string_equal(json_string_value(json_object_get(e, "_postman_exported_using")),
                        "Postman/11.0.0");
    json_decref(e);
    free(out);
    free(err);

    /* a second run with the exported environment reuses the stored token */
    rep = path_in("r1b.json");
    rc = run(&out, NULL, coll, "-e", exp, "--key", keyf, "--reporter-json-export", rep, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "not sent: the access token is valid for 3600 s more"));
    r = load_json(rep);
    assert_int_equal(stat_req(r, "tokenRequests"), 0);
    json_decref(r);
    free(out);

    /* the key as PEM text in the environment (the Quick Start way) */
    char pemvar[9000];
    snprintf(pemvar, sizeof pemvar, "privateKey=%s", pem_text);
    rc = run(&out, NULL, coll, "-e", envf, "--env-var", pemvar, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_count(out, "✓  Status code is 200"), 2);
    assert_int_equal(tu_count(out, "✓  The device is the one asked for"), 1);
    free(out);
}

static void test_data_file_iccids(void **state)
{
    (void)state;
    const char *csv = path_in("iccids.csv");
    char text[512];
    /* BOM, CRLF, one quoted value: every ICCID must reach the server exactly */
    snprintf(text, sizeof text, "\xEF\xBB\xBFICCID,label\r\n%s,one\r\n\"%s\",\"two, quoted\"\r\n%s,three\r\n",
             iccid[0], iccid[1], iccid[2]);
    tu_write(csv, text, strlen(text));
    const char *rep = path_in("r2.json");
    char *out;
    int rc = run(&out, NULL, coll, "-e", envf, "--key", keyf, "-d", csv,
                 "--reporter-json-export", rep, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "Iteration 3/3"));
    json_t *r = load_json(rep);
    assert_int_equal(stat_req(r, "tokenRequests"), 1); /* fetched once, reused */
    json_t *ex = executions(r);
    assert_int_equal(json_array_size(ex), 6);
    for (int i = 0; i < 3; i++) {
        json_t *get = json_array_get(ex, (size_t)(2 * i + 1));
        const char *url = json_string_value(json_object_get(json_object_get(get, "request"), "url"));
        assert_non_null(strstr(url, iccid[i]));
        assert_true(json_is_true(json_object_get(get, "passed")));
    }
    json_decref(r);
    free(out);
}

static void test_folder_and_refresh_after_401(void **state)
{
    (void)state;
    /* only the Connectivity folder, with a stale token in the environment:
     * the API answers 401, the token request runs, the call is retried */
    const char *rep = path_in("r3.json");
    char *out;
    int rc = run(&out, NULL, coll, "-e", envf, "--key", keyf, "--folder", "Connectivity",
                 "--env-var", "access_token=stale-token-value", "--reporter-json-export", rep,
                 NULL);
    if (rc)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    json_t *r = load_json(rep);
    json_t *ex = executions(r);
    assert_int_equal(json_array_size(ex), 2); /* token request + the call */
    const char *notes = json_string_value(json_object_get(json_array_get(ex, 1), "notes"));
    assert_non_null(strstr(notes, "401: token refreshed, retried"));
    assert_true(json_is_true(json_object_get(json_array_get(ex, 1), "passed")));
    assert_int_equal(stat_req(r, "tokenRequests"), 1);
    json_decref(r);
    free(out);

    /* nested path selection; an unknown folder is a usage error */
    char *err;
    rc = run(&out, &err, coll, "-e", envf, "--key", keyf, "--folder", "1-PoP_Token_Creation/OAuth 2.0",
             NULL);
    if (rc)
        fprintf(stderr, "%s\n%s\n", out, err);
    free(err);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_count(out, "✓  Status code is 200"), 1);
    assert_null(strstr(out, "GET Connectivity"));
    free(out);
    rc = run(NULL, &err, coll, "-e", envf, "--key", keyf, "--folder", "Nope", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "no folder or request named \"Nope\""));
    free(err);

    /* refresh before expiry: the token stored by the first test expires at
     * epoch+3600; 10 s before that it is refreshed before the call */
    sh_set_now(&srv, SH_EPOCH + 3590);
    rep = path_in("r3b.json");
    rc = run(&out, NULL, coll, "-e", path_in("exported-env.json"), "--key", keyf, "--folder",
             "Connectivity", "--reporter-json-export", rep, NULL);
    assert_int_equal(rc, 0);
    r = load_json(rep);
    ex = executions(r);
    assert_int_equal(json_array_size(ex), 2);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(ex, 0), "notes")),
                           "refreshed before expiry"));
    assert_null(strstr(json_string_value(json_object_get(json_array_get(ex, 1), "notes")), "401"));
    json_decref(r);
    free(out);
}

static void test_bail_and_exit_codes(void **state)
{
    (void)state;
    /* an ICCID the emulator refuses first (bad check digit: 400) → --bail stops */
    const char *csv = path_in("bail.csv");
    char text[256];
    snprintf(text, sizeof text, "ICCID\n89012600000000000008\n%s\n%s\n", iccid[0], iccid[1]);
    tu_write(csv, text, strlen(text));
    const char *rep = path_in("r4.json");
    char *out;
    int rc = run(&out, NULL, coll, "-e", envf, "--key", keyf, "-d", csv, "--bail",
                 "--reporter-json-export", rep, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "stopped early (--bail)"));
    json_t *r = load_json(rep);
    assert_int_equal(json_array_size(executions(r)), 2);
    json_decref(r);
    free(out);
    /* without --bail all three rows run; one fails */
    rc = run(&out, NULL, coll, "-e", envf, "--key", keyf, "-d", csv, NULL);
    assert_int_equal(rc, 1);
    assert_int_equal(tu_count(out, "✓  Status code is 200"), 3); /* token + 2 devices */
    assert_int_equal(tu_count(out, "  1. Status code is 200"), 1);
    free(out);
    /* --expect-status overrides the script's 200 */
    rc = run(NULL, NULL, coll, "-e", envf, "--key", keyf, "--expect-status", "201,4xx", NULL);
    assert_int_equal(rc, 1);
    /* transport error → 50, as in taap call (nothing listens on port 1) */
    char *err;
    rc = run(&out, &err, coll, "-e", envf, "--key", keyf, "--env-var", "baseUrl=http://127.0.0.1:1",
             "--retry", "1", NULL);
    assert_int_equal(rc, 50);
    assert_non_null(strstr(out, "2 tries")); /* retried, each with a fresh PoP */
    free(out);
    free(err);
    /* usage / parse errors → 2 */
    assert_int_equal(run(NULL, NULL, "--no-such-flag", coll, NULL), 2);
    assert_int_equal(run(NULL, NULL, path_in("missing.json"), NULL), 2);
    assert_int_equal(run(NULL, NULL, coll, "-e", csv, NULL), 2);
    /* no key anywhere for a PoP request → 2 with a clear message */
    rc = run(NULL, &err, coll, "-e", envf, NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "no private key"));
    free(err);
}

static void test_reporters_redacted(void **state)
{
    (void)state;
    const char *js = path_in("r5.json"), *xml = path_in("r5.xml");
    char *out, *err;
    int rc = run(&out, &err, coll, "-e", envf, "--key", keyf, "-r", "cli,json,junit",
                 "--reporter-json-export", js, "--reporter-junit-export", xml, NULL);
    assert_int_equal(rc, 0);
    char *jt = tu_read(js, NULL), *xt = tu_read(xml, NULL);
    json_t *r = load_json(js);
    json_decref(r);
    /* one testcase per assertion of the scripts (1 + 2) */
    assert_int_equal(tu_count(xt, "<testcase "), 3);
    assert_int_equal(tu_count(xt, "<testsuite "), 2);
    assert_int_equal(tu_count(xt, "</testsuites>"), 1);
    assert_non_null(strstr(xt, "Status code is 200"));
    /* nothing secret in any output: tokens, the client secret, the key */
    const char *texts[] = {jt, xt, out, err};
    for (int i = 0; i < 4; i++) {
        assert_null(strstr(texts[i], "eyJ"));
        assert_null(strstr(texts[i], secret));
        assert_null(strstr(texts[i], "PRIVATE KEY"));
    }
    assert_non_null(strstr(jt, "Bearer <redacted>"));
    assert_non_null(strstr(jt, "Basic <redacted>"));
    free(jt);
    free(xt);
    free(out);
    free(err);
    /* --no-redact shows them */
    rc = run(NULL, NULL, coll, "-e", envf, "--key", keyf, "--no-redact", "--reporter-json-export",
             js, NULL);
    assert_int_equal(rc, 0);
    jt = tu_read(js, NULL);
    assert_non_null(strstr(jt, "Bearer eyJ"));
    free(jt);
}

static void test_parallel_one_token(void **state)
{
    (void)state;
    /* 1,000 devices, -j 4: every row's device comes back, one token fetch */
    enum { N = 1000 };
    char (*ids)[24] = calloc(N, sizeof *ids);
    assert_non_null(ids);
    size_t cap = N * 26 + 16, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv + len, cap - len, "ICCID\n");
    for (int i = 0; i < N; i++) {
        assert_int_equal(sh_activate_kit(&srv, "run-app", ids[i]), 0);
        len += (size_t)snprintf(csv + len, cap - len, "%s\n", ids[i]);
    }
    const char *dpath = path_in("many.csv");
    tu_write(dpath, csv, len);
    free(csv);
    const char *rep = path_in("r6.json");
    char *out;
    int rc = run(&out, NULL, coll, "-e", envf, "--key", keyf, "-d", dpath, "-j", "4", "-q",
                 "--reporter-json-export", rep, NULL);
    if (rc)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    json_t *r = load_json(rep);
    assert_int_equal(stat_req(r, "tokenRequests"), 1);
    assert_int_equal(stat_req(r, "failed"), 0);
    json_t *ex = executions(r);
    assert_int_equal(json_array_size(ex), 2 * N);
    char *seen = calloc(N, 1);
    size_t gets = 0, i;
    json_t *e;
    json_array_foreach(ex, i, e) {
        const char *url = json_string_value(json_object_get(json_object_get(e, "request"), "url"));
        if (!strstr(url, "/devices/"))
            continue;
        assert_true(json_is_true(json_object_get(e, "passed")));
        unsigned it = (unsigned)json_integer_value(json_object_get(e, "iteration"));
        assert_true(it >= 1 && it <= N);
        assert_non_null(strstr(url, ids[it - 1])); /* row i's ICCID in iteration i */
        seen[it - 1]++;
        gets++;
    }
    assert_int_equal(gets, N);
    for (int k = 0; k < N; k++)
        assert_int_equal(seen[k], 1);
    free(seen);
    free(ids);
    json_decref(r);
}

static void test_strict_vars(void **state)
{
    (void)state;
    const char *c = path_in("strict.json");
    const char *text =
        "{\"info\":{\"name\":\"strict\",\"schema\":\"x\"},\"item\":[{\"name\":\"health\","
        "\"request\":{\"url\":\"{{baseUrl}}/healthz\",\"header\":[{\"key\":\"X-Trace\","
        "\"value\":\"{{traceId}}\"},{\"key\":\"X-Again\",\"value\":\"{{traceId}}\"}]}}]}";
    tu_write(c, text, strlen(text));
    char *out, *err;
    int rc = run(&out, &err, c, "-n", "2", NULL);
    assert_int_equal(rc, 0); /* sent verbatim, one warning */
    assert_int_equal(tu_count(err, "unresolved variable {{traceId}}"), 1);
    free(out);
    free(err);
    rc = run(&out, &err, c, "--strict-vars", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "unresolved variable {{traceId}} (--strict-vars)"));
    free(out);
    free(err);
    /* --env-var fills it */
    rc = run(NULL, NULL, c, "--strict-vars", "--env-var", "traceId=abc", NULL);
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quickstart_green),
        cmocka_unit_test(test_data_file_iccids),
        cmocka_unit_test(test_folder_and_refresh_after_401),
        cmocka_unit_test(test_bail_and_exit_codes),
        cmocka_unit_test(test_reporters_redacted),
        cmocka_unit_test(test_strict_vars),
        cmocka_unit_test(test_parallel_one_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
