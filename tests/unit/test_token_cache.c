/* test_token_cache.c — the access-token cache (taap/oauth.h) and the token
 * response parser: round trip with mode 0600, damaged / foreign / loose-mode
 * files never trusted, identities kept apart, the refresh margin, the lock
 * serialising processes, concurrent writers never leaving a torn file; and
 * expires_in as number or numeric string (SPEC §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "taap/oauth.h"
#include "testutil.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tempdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static taap_oauth_token *make_token(const char *at, int64_t now, int64_t expires_in)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":%lld,"
             "\"id_token\":\"id.tok.en\",\"scope\":\"iot-connectivity\"}",
             at, (long long)expires_in);
    taap_oauth_token *t = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_oauth_parse_response(body, strlen(body), now, &t, &err), TAAP_OK);
    return t;
}

static taap_token_cache *open_cache(const char *profile, const char *identity)
{
    taap_token_cache *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/cache/taap", g_dir);
    assert_int_equal(taap_token_cache_open(dir, profile, identity, &c, &err), TAAP_OK);
    return c;
}

static void test_roundtrip(void **state)
{
    (void)state;
    taap_token_cache *c = open_cache("work", "id-1");
    taap_error err = TAAP_ERROR_INIT;
    taap_oauth_token *t = make_token("AAA.BBB.CCC", 1000, 3600), *r = NULL;
    int corrupt = 1;
    assert_int_equal(taap_token_cache_read(c, &r, &corrupt, &err), TAAP_OK);
    assert_null(r); /* nothing yet */
    assert_int_equal(corrupt, 0);
    assert_int_equal(taap_token_cache_write(c, t, &err), TAAP_OK);
    struct stat st;
    assert_int_equal(stat(taap_token_cache_path(c), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_non_null(strstr(taap_token_cache_path(c), "token-work-"));
    assert_int_equal(taap_token_cache_read(c, &r, &corrupt, &err), TAAP_OK);
    assert_non_null(r);
    assert_string_equal(r->access_token, "AAA.BBB.CCC");
    assert_string_equal(r->id_token, "id.tok.en");
    assert_string_equal(r->scope, "iot-connectivity");
    assert_int_equal(r->expires_at, 4600);
    taap_oauth_token_free(r);
    /* another identity (other client id / key / URL) never sees it */
    taap_token_cache *c2 = open_cache("work", "id-2");
    assert_int_equal(taap_token_cache_read(c2, &r, &corrupt, &err), TAAP_OK);
    assert_null(r);
    taap_token_cache_close(c2);
    assert_int_equal(taap_token_cache_remove(c, &err), TAAP_OK);
    assert_int_equal(taap_token_cache_read(c, &r, &corrupt, &err), TAAP_OK);
    assert_null(r);
    taap_oauth_token_free(t);
    taap_token_cache_close(c);
}

static void expect_untrusted(taap_token_cache *c, const char *content, mode_t mode)
{
    const char *p = taap_token_cache_path(c);
    unlink(p);
    tu_write(p, content, strlen(content));
    chmod(p, mode);
    taap_oauth_token *r = (taap_oauth_token *)1;
    int corrupt = 0;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_token_cache_read(c, &r, &corrupt, &err), TAAP_OK);
    assert_null(r);
    if (!corrupt)
        fail_msg("not flagged as corrupt: %s", content);
}

static void test_corruption(void **state)
{
    (void)state;
    taap_token_cache *c = open_cache(NULL, "id-1");
    taap_error err = TAAP_ERROR_INIT;
    taap_oauth_token *t = make_token("AAA.BBB.CCC", 1000, 3600);
    assert_int_equal(taap_token_cache_write(c, t, &err), TAAP_OK);
    char *good = tu_read(taap_token_cache_path(c), NULL);
    char *trunc = strdup(good);
    trunc[strlen(trunc) / 2] = '\0';
    expect_untrusted(c, "", 0600);
    expect_untrusted(c, "garbage", 0600);
    expect_untrusted(c, trunc, 0600);
    expect_untrusted(c, good, 0644); /* others could have written it */
    expect_untrusted(c, "{\"format\":2}", 0600);
    /* fields that do not add up */
    char *bad = strdup(good);
    char *p = strstr(bad, "\"expires_at\":");
    assert_non_null(p);
    p[13] = '9';
    expect_untrusted(c, bad, 0600);
    /* a token with a space (header injection) */
    char *sp = strdup(good);
    p = strstr(sp, "AAA.BBB");
    p[3] = ' ';
    expect_untrusted(c, sp, 0600);
    /* a symlink is not followed */
    const char *path = taap_token_cache_path(c);
    unlink(path);
    char target[700];
    snprintf(target, sizeof target, "%s/elsewhere.json", g_dir);
    tu_write(target, good, strlen(good));
    chmod(target, 0600);
    assert_int_equal(symlink(target, path), 0);
    taap_oauth_token *r = NULL;
    int corrupt = 0;
    assert_int_equal(taap_token_cache_read(c, &r, &corrupt, &err), TAAP_OK);
    assert_null(r);
    assert_int_equal(corrupt, 1);
    /* and a write replaces whatever was there with a good file */
    assert_int_equal(taap_token_cache_write(c, t, &err), TAAP_OK);
    assert_int_equal(taap_token_cache_read(c, &r, &corrupt, &err), TAAP_OK);
    assert_non_null(r);
    assert_int_equal(corrupt, 0);
    taap_oauth_token_free(r);
    free(good);
    free(trunc);
    free(bad);
    free(sp);
    taap_oauth_token_free(t);
    taap_token_cache_close(c);
}

static void test_margin(void **state)
{
    (void)state;
    taap_oauth_token *t = make_token("A", 1000, 3600);
    assert_true(taap_oauth_token_usable(t, 1000));
    assert_true(taap_oauth_token_usable(t, 4539));
    assert_false(taap_oauth_token_usable(t, 4540)); /* expires_in − 60 s */
    assert_false(taap_oauth_token_usable(t, 5000));
    assert_false(taap_oauth_token_usable(t, 500)); /* clock went far back: distrust */
    taap_oauth_token_free(t);
    t = make_token("A", 1000, 5); /* short lifetimes: half the life */
    assert_true(taap_oauth_token_usable(t, 1002));
    assert_false(taap_oauth_token_usable(t, 1003));
    taap_oauth_token_free(t);
}

static void test_parse_response(void **state)
{
    (void)state;
    taap_oauth_token *t = NULL;
    taap_error err = TAAP_ERROR_INIT;
    const char *s1 = "{\"access_token\":\"x.y.z\",\"expires_in\":\"3599\"}";
    assert_int_equal(taap_oauth_parse_response(s1, strlen(s1), 10, &t, &err), TAAP_OK);
    assert_int_equal(t->expires_in, 3599);
    assert_string_equal(t->token_type, "Bearer");
    assert_null(t->id_token);
    taap_oauth_token_free(t);
    const char *s2 = "{\"access_token\":\"x.y.z\"}";
    assert_int_equal(taap_oauth_parse_response(s2, strlen(s2), 10, &t, &err), TAAP_OK);
    assert_int_equal(t->expires_in, 3600);
    taap_oauth_token_free(t);
    /* scope from the JWT's claims when the response has none:
     * payload {"scope":"iot-connectivity"} */
    const char *s3 = "{\"access_token\":\"eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6ImlvdC1jb25uZWN0aXZpdHkifQ.c2ln\","
                     "\"expires_in\":3600}";
    assert_int_equal(taap_oauth_parse_response(s3, strlen(s3), 10, &t, &err), TAAP_OK);
    assert_string_equal(t->scope, "iot-connectivity");
    taap_oauth_token_free(t);
    static const char *const bad[] = {
        "", "[]", "{}", "{\"access_token\":\"\"}", "{\"access_token\":5}",
        "{\"access_token\":\"a b\"}", "{\"access_token\":\"a\",\"expires_in\":\"12x\"}",
        "{\"access_token\":\"a\",\"expires_in\":-5}", "{\"access_token\":\"a\",\"expires_in\":1.5}",
        "{\"access_token\":\"a\",\"expires_in\":\"\"}", "{\"access_token\":\"a\",\"id_token\":7}",
        "{\"access_token\":\"a\",\"access_token\":\"b\"}", NULL,
    };
    for (int i = 0; bad[i]; i++) {
        t = (taap_oauth_token *)1;
        if (taap_oauth_parse_response(bad[i], strlen(bad[i]), 10, &t, &err) != TAAP_E_OAUTH)
            fail_msg("accepted: %s", bad[i]);
        assert_null(t);
    }
}

/* Eight processes write and read the same cache file under the lock as fast
 * as they can: every read sees either nothing or a complete, valid token. */
static void test_concurrent(void **state)
{
    (void)state;
    pid_t pids[8];
    for (int i = 0; i < 8; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            taap_token_cache *c = NULL;
            taap_error err = TAAP_ERROR_INIT;
            char dir[600], at[64];
            snprintf(dir, sizeof dir, "%s/cache/taap", g_dir);
            if (taap_token_cache_open(dir, "par", "shared", &c, &err) != TAAP_OK)
                _exit(10);
            for (int k = 0; k < 40; k++) {
                int corrupt = 0;
                taap_oauth_token *r = NULL;
                if (k % 2 == 0 && taap_token_cache_lock(c, &err) != TAAP_OK)
                    _exit(11);
                if (taap_token_cache_read(c, &r, &corrupt, &err) != TAAP_OK || corrupt)
                    _exit(12);
                if (r && strncmp(r->access_token, "tok-", 4) != 0)
                    _exit(13);
                taap_oauth_token_free(r);
                snprintf(at, sizeof at, "tok-%d-%d", i, k);
                taap_oauth_token t = {at, NULL, "Bearer", NULL, 3600, 1000, 4600};
                if (taap_token_cache_write(c, &t, &err) != TAAP_OK)
                    _exit(14);
                taap_token_cache_unlock(c);
            }
            taap_token_cache_close(c);
            _exit(0);
        }
    }
    for (int i = 0; i < 8; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
        cmocka_unit_test(test_margin),
        cmocka_unit_test(test_parse_response),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
