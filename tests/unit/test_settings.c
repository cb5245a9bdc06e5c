/* test_settings.c — SPEC §7 settings: precedence flags > environment >
 * profile > Postman environment file, the profiles.ini format (parse errors
 * with line numbers, round trip, 0600), Postman environments (enabled,
 * disabled, duplicates, BOM, bare arrays, Quick Start key names), {{NAME}}
 * expansion as Postman does it, and secret sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "cli_config.h"
#include "testutil.h"

static char *g_dir;

static char *path_in(const char *name)
{
    size_t n = strlen(g_dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", g_dir, name);
    return p;
}

static void write_text(const char *name, const char *text)
{
    char *p = path_in(name);
    tu_write(p, text, strlen(text));
    free(p);
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tempdir();
    setenv("XDG_CONFIG_HOME", g_dir, 1);
    static const char *const vars[] = {"TAAP_BASE_URL", "TAAP_TOKEN_PATH", "TAAP_CLIENT_ID",
                                       "TAAP_CLIENT_SECRET", "TAAP_PRIVATE_KEY", "TAAP_KEY_PASSPHRASE",
                                       "TAAP_ID_TOKEN", "TAAP_CNF", "TAAP_CACERT", NULL};
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static void test_precedence(void **state)
{
    (void)state;
    write_text("prof.ini", "# profiles\n[p]\nbase_url = https://profile\nclient_id = prof-id\n"
                           "token_path = /oauth2/v6/tokens\nsecret = env:PROF_SECRET\n"
                           "var.ICCID = 111\nvar.ONLYPROF = p\n");
    write_text("env.json", "{\"values\":[{\"key\":\"baseUrl\",\"value\":\"https://envfile\",\"enabled\":true},"
                           "{\"key\":\"client id\",\"value\":\"file-id\"},"
                           "{\"key\":\"client secret\",\"value\":\"file-secret\"},"
                           "{\"key\":\"privateKey\",\"value\":\"/k.pem\"},"
                           "{\"key\":\"ICCID\",\"value\":\"333\"},{\"key\":\"ONLYFILE\",\"value\":\"f\"}]}");
    taap_settings *s;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_settings_new(&s, &err), TAAP_OK);
    char *prof = path_in("prof.ini"), *env = path_in("env.json");
    int found = 0;
    assert_int_equal(taap_settings_load_postman_env(s, env, &err), TAAP_OK);
    assert_int_equal(taap_settings_load_profile(s, prof, "p", &found, &err), TAAP_OK);
    assert_int_equal(found, 1);
    setenv("TAAP_CLIENT_ID", "env-id", 1);
    assert_int_equal(taap_settings_load_environment(s, &err), TAAP_OK);
    unsetenv("TAAP_CLIENT_ID");
    assert_int_equal(taap_settings_set(s, TAAP_ORIGIN_FLAG, "base_url", "https://flag", &err), TAAP_OK);
    assert_int_equal(taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "ICCID", "999", &err), TAAP_OK);

    taap_origin o;
    assert_string_equal(taap_settings_get(s, "base_url", &o), "https://flag");
    assert_int_equal(o, TAAP_ORIGIN_FLAG);
    assert_string_equal(taap_settings_get(s, "client_id", &o), "env-id");
    assert_int_equal(o, TAAP_ORIGIN_ENV);
    assert_string_equal(taap_settings_get(s, "token_path", &o), "/oauth2/v6/tokens");
    assert_int_equal(o, TAAP_ORIGIN_PROFILE);
    assert_string_equal(taap_settings_get(s, "secret", &o), "env:PROF_SECRET");
    assert_int_equal(o, TAAP_ORIGIN_PROFILE);
    assert_string_equal(taap_settings_get(s, "private_key", &o), "/k.pem");
    assert_int_equal(o, TAAP_ORIGIN_ENVFILE);
    assert_null(taap_settings_get(s, "cacert", &o));
    assert_int_equal(o, TAAP_ORIGIN_NONE);
    /* vars: --var > profile > env file */
    assert_string_equal(taap_settings_var(s, "ICCID"), "999");
    assert_string_equal(taap_settings_var(s, "ONLYPROF"), "p");
    assert_string_equal(taap_settings_var(s, "ONLYFILE"), "f");
    /* without the flag, the profile's ICCID beats the file's */
    assert_int_equal(taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "ICCID", NULL, &err), TAAP_OK);
    assert_string_equal(taap_settings_var(s, "ICCID"), "111");
    /* the environment's secret is the value itself */
    setenv("TAAP_CLIENT_SECRET", "s3", 1);
    assert_int_equal(taap_settings_load_environment(s, &err), TAAP_OK);
    unsetenv("TAAP_CLIENT_SECRET");
    assert_string_equal(taap_settings_get(s, "secret", &o), "plain:s3");
    assert_int_equal(o, TAAP_ORIGIN_ENV);
    /* unknown setting names are caught */
    assert_int_equal(taap_settings_set(s, TAAP_ORIGIN_FLAG, "base-url", "x", &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "unknown setting"));
    taap_settings_free(s);
    free(prof);
    free(env);
}

static void test_profile_missing(void **state)
{
    (void)state;
    taap_settings *s;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_settings_new(&s, &err), TAAP_OK);
    char *nofile = path_in("none.ini");
    int found = 1;
    /* no file, default profile: fine */
    assert_int_equal(taap_settings_load_profile(s, nofile, NULL, &found, &err), TAAP_OK);
    assert_int_equal(found, 0);
    /* a named profile that does not exist is an error */
    assert_int_equal(taap_settings_load_profile(s, nofile, "work", &found, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "work"));
    taap_settings_free(s);
    free(nofile);
}

static void expect_parse_error(const char *text, const char *needle)
{
    write_text("bad.ini", text);
    char *p = path_in("bad.ini");
    taap_profiles *pr = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_profiles_load(p, &pr, &err), TAAP_E_CONFIG);
    assert_null(pr);
    if (!strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
    free(p);
}

static void test_ini_errors(void **state)
{
    (void)state;
    expect_parse_error("base_url = x\n", ":1: KEY = VALUE before any [profile]");
    expect_parse_error("[a]\nbase_url x\n", ":2: expected KEY = VALUE");
    expect_parse_error("[a]\nbogus = 1\n", ":2: unknown key 'bogus'");
    expect_parse_error("[a]\n[a]\n", ":2: profile [a] appears twice");
    expect_parse_error("[a b]\n", "profile name 'a b'");
    expect_parse_error("[a]\nclient_id = 1\nclient_id = 2\n", ":3: 'client_id' set twice");
    expect_parse_error("[a\n", ":1: a section line must be [NAME]");
}

static void test_ini_roundtrip(void **state)
{
    (void)state;
    char *p = path_in("sub/dir/profiles.ini");
    taap_profiles *pr = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_profiles_load(p, &pr, &err), TAAP_OK); /* missing → empty */
    size_t n = 9;
    taap_profiles_names(pr, &n);
    assert_int_equal(n, 0);
    assert_int_equal(taap_profiles_set(pr, "one", "base_url", "https://a", &err), TAAP_OK);
    assert_int_equal(taap_profiles_set(pr, "one", "var.ICCID", "8901", &err), TAAP_OK);
    assert_int_equal(taap_profiles_set(pr, "two", "client_id", "c2", &err), TAAP_OK);
    assert_int_equal(taap_profiles_set(pr, "two", "private_key", "a\nb", &err), TAAP_E_CONFIG);
    assert_int_equal(taap_profiles_set(pr, "bad name", "client_id", "x", &err), TAAP_E_CONFIG);
    assert_int_equal(taap_profiles_set(pr, "one", "nokey", "x", &err), TAAP_E_CONFIG);
    assert_int_equal(taap_profiles_save(pr, p, &err), TAAP_OK);
    taap_profiles_free(pr);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(taap_profiles_load(p, &pr, &err), TAAP_OK);
    const char *const *names = taap_profiles_names(pr, &n);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "one");
    assert_string_equal(names[1], "two");
    const char *k, *v;
    assert_true(taap_profiles_entry(pr, "one", 1, &k, &v));
    assert_string_equal(k, "var.ICCID");
    assert_string_equal(v, "8901");
    assert_int_equal(taap_profiles_remove(pr, "one", &err), TAAP_OK);
    assert_int_equal(taap_profiles_remove(pr, "one", &err), TAAP_E_NOT_FOUND);
    assert_int_equal(taap_profiles_save(pr, p, &err), TAAP_OK);
    taap_profiles_free(pr);
    assert_int_equal(taap_profiles_load(p, &pr, &err), TAAP_OK);
    taap_profiles_names(pr, &n);
    assert_int_equal(n, 1);
    taap_profiles_free(pr);
    free(p);
}

static void test_postman_env(void **state)
{
    (void)state;
    /* BOM, disabled/enabled:false skipped, last enabled duplicate wins,
     * numbers stringified, Quick Start names map to settings. */
    write_text("qs.json", "\xEF\xBB\xBF{\"id\":\"x\",\"name\":\"QS\",\"values\":["
                          "{\"key\":\"Client ID\",\"value\":\"qs-id\",\"enabled\":true},"
                          "{\"key\":\"Client Secret\",\"value\":\"qs-secret\",\"type\":\"secret\"},"
                          "{\"key\":\"Private Key\",\"value\":\"-----BEGIN PRIVATE KEY-----\\nAA\\n-----END PRIVATE KEY-----\"},"
                          "{\"key\":\"ICCID\",\"value\":\"1\"},"
                          "{\"key\":\"ICCID\",\"value\":\"2\"},"
                          "{\"key\":\"ICCID\",\"value\":\"3\",\"enabled\":false},"
                          "{\"key\":\"off\",\"value\":\"x\",\"disabled\":true},"
                          "{\"key\":\"n\",\"value\":5}]}");
    taap_settings *s;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_settings_new(&s, &err), TAAP_OK);
    char *p = path_in("qs.json");
    assert_int_equal(taap_settings_load_postman_env(s, p, &err), TAAP_OK);
    assert_string_equal(taap_settings_get(s, "client_id", NULL), "qs-id");
    assert_string_equal(taap_settings_get(s, "secret", NULL), "plain:qs-secret");
    assert_non_null(strstr(taap_settings_get(s, "private_key", NULL), "BEGIN PRIVATE KEY"));
    assert_string_equal(taap_settings_var(s, "ICCID"), "2");
    assert_null(taap_settings_var(s, "off"));
    assert_string_equal(taap_settings_var(s, "n"), "5");
    assert_string_equal(taap_settings_var(s, "Client ID"), "qs-id");
    free(p);

    /* a bare array (globals export) */
    write_text("g.json", "[{\"key\":\"clientId\",\"value\":\"g\",\"enabled\":true}]");
    p = path_in("g.json");
    assert_int_equal(taap_settings_load_postman_env(s, p, &err), TAAP_OK);
    assert_string_equal(taap_settings_get(s, "client_id", NULL), "g");
    assert_null(taap_settings_var(s, "ICCID")); /* the layer was replaced */
    free(p);

    write_text("bad.json", "{\"name\":\"no values\"}");
    p = path_in("bad.json");
    assert_int_equal(taap_settings_load_postman_env(s, p, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "values"));
    free(p);
    write_text("bad2.json", "{\"values\":[");
    p = path_in("bad2.json");
    assert_int_equal(taap_settings_load_postman_env(s, p, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "not JSON"));
    free(p);
    taap_settings_free(s);
}

static void expect_expand(taap_settings *s, const char *in, const char *want, const char *unresolved)
{
    char *out = NULL, *un = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_settings_expand(s, in, &out, &un, &err), TAAP_OK);
    assert_string_equal(out, want);
    if (unresolved) {
        assert_non_null(un);
        assert_string_equal(un, unresolved);
    } else {
        assert_null(un);
    }
    free(out);
    free(un);
}

static void test_expand(void **state)
{
    (void)state;
    taap_settings *s;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_settings_new(&s, &err), TAAP_OK);
    taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "baseUrl", "https://h", &err);
    taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "ICCID", "8901", &err);
    taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "a", "{{b}}", &err);
    taap_settings_set_var(s, TAAP_ORIGIN_ENVFILE, "b", "{{c}}", &err);
    taap_settings_set_var(s, TAAP_ORIGIN_PROFILE, "c", "deep", &err);
    taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "env", "prod", &err);
    taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "prod_url", "https://prod", &err);
    taap_settings_set_var(s, TAAP_ORIGIN_FLAG, "loop", "{{loop}}x", &err);
    expect_expand(s, "{{baseUrl}}/iot-connectivity/v1/devices/{{ICCID}}",
                  "https://h/iot-connectivity/v1/devices/8901", NULL);
    expect_expand(s, "{{a}}", "deep", NULL);                 /* nested */
    expect_expand(s, "{{{{env}}_url}}/x", "https://prod/x", NULL); /* composite */
    expect_expand(s, "{{ ICCID }}", "{{ ICCID }}", " ICCID ");    /* not trimmed */
    expect_expand(s, "{{nope}}-{{ICCID}}", "{{nope}}-8901", "nope");
    expect_expand(s, "no braces {x} }}{{", "no braces {x} }}{{", NULL);
    /* a self-reference stops after Postman's 19 rounds */
    char *out = NULL;
    assert_int_equal(taap_settings_expand(s, "{{loop}}", &out, NULL, &err), TAAP_OK);
    assert_string_equal(out, "{{loop}}xxxxxxxxxxxxxxxxxxx");
    free(out);
    taap_settings_free(s);
}

static void test_secret_sources(void **state)
{
    (void)state;
    char *sec = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_settings_read_secret("plain:abc", &sec, &err), TAAP_OK);
    assert_string_equal(sec, "abc");
    taap_settings_free_secret(sec);
    setenv("TEST_SEC_VAR", "from-env", 1);
    assert_int_equal(taap_settings_read_secret("env:TEST_SEC_VAR", &sec, &err), TAAP_OK);
    assert_string_equal(sec, "from-env");
    taap_settings_free_secret(sec);
    unsetenv("TEST_SEC_VAR");
    assert_int_equal(taap_settings_read_secret("env:TEST_SEC_VAR", &sec, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "TEST_SEC_VAR"));

    write_text("secret", "file-secret\n");
    char *p = path_in("secret");
    char spec[600];
    snprintf(spec, sizeof spec, "file:%s", p);
    chmod(p, 0644);
    assert_int_equal(taap_settings_read_secret(spec, &sec, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "chmod 600"));
    assert_null(strstr(err.message, "file-secret"));
    chmod(p, 0600);
    assert_int_equal(taap_settings_read_secret(spec, &sec, &err), TAAP_OK);
    assert_string_equal(sec, "file-secret");
    taap_settings_free_secret(sec);
    char *link = path_in("secret-link");
    assert_int_equal(symlink(p, link), 0);
    snprintf(spec, sizeof spec, "file:%s", link);
    assert_int_equal(taap_settings_read_secret(spec, &sec, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "symbolic link"));
    assert_int_equal(taap_settings_read_secret("prompt", &sec, &err), TAAP_E_NEED_PASSPHRASE);
    assert_int_equal(taap_settings_read_secret("literal-secret", &sec, &err), TAAP_E_CONFIG);
    assert_null(strstr(err.message, "literal-secret"));
    free(p);
    free(link);
    assert_int_equal(taap_settings_bool("Yes"), 1);
    assert_int_equal(taap_settings_bool("off"), 0);
    assert_int_equal(taap_settings_bool("maybe"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ini_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ini_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postman_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_sources, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
