/* test_postman_vars.c — Newman variable semantics (precedence, nesting,
 * 19 rounds, cycles, unresolved), dynamic variables, script recognition,
 * token URL detection and redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pm.h"
#include "taap/http.h"
#include "testutil.h"

static int64_t fixed_clock(void *ctx)
{
    return *(int64_t *)ctx;
}

static char *res(const pm_resolver *r, const char *in)
{
    char *out = NULL;
    assert_int_equal(pm_resolve(r, in, &out), 0);
    return out;
}

#define ASSERT_RESOLVES(r, in, expect)         \
    do {                                       \
        char *o_ = res((r), (in));             \
        assert_string_equal(o_, (expect));     \
        free(o_);                              \
    } while (0)

static void test_precedence(void **state)
{
    (void)state;
    pm_scope local = {0}, data = {0}, env = {0}, coll = {0}, glob = {0};
    pm_scope_set(&glob, "k", "global", 0);
    pm_scope_set(&coll, "k", "collection", 0);
    pm_scope_set(&env, "k", "env", 0);
    pm_scope_set(&data, "k", "data", 0);
    pm_scope_set(&local, "k", "local", 0);
    pm_scope_set(&glob, "only_g", "G", 0);
    pm_scope_set(&coll, "only_c", "C", 0);
    pm_resolver r = {{&local, &data, &env, &coll, &glob}, 5, NULL, NULL};
    ASSERT_RESOLVES(&r, "{{k}}", "local");
    r.scopes[0] = &(pm_scope){0};
    ASSERT_RESOLVES(&r, "{{k}}", "data");
    r.scopes[1] = &(pm_scope){0};
    ASSERT_RESOLVES(&r, "{{k}}", "env");
    r.scopes[2] = &(pm_scope){0};
    ASSERT_RESOLVES(&r, "{{k}}", "collection");
    r.scopes[3] = &(pm_scope){0};
    ASSERT_RESOLVES(&r, "{{k}}", "global");
    r.scopes[3] = &coll;
    ASSERT_RESOLVES(&r, "{{only_g}}-{{only_c}}", "G-C");
    /* a later set replaces (last enabled wins) */
    pm_scope_set(&glob, "k", "global2", 0);
    r.scopes[3] = &(pm_scope){0};
    ASSERT_RESOLVES(&r, "{{k}}", "global2");
    pm_scope_clear(&local);
    pm_scope_clear(&data);
    pm_scope_clear(&env);
    pm_scope_clear(&coll);
    pm_scope_clear(&glob);
}

static void test_syntax_edges(void **state)
{
    (void)state;
    pm_scope s = {0};
    pm_scope_set(&s, "a", "{{b}}", 0);
    pm_scope_set(&s, "b", "{{c}}", 0);
    pm_scope_set(&s, "c", "deep", 0);
    pm_scope_set(&s, "env", "prod", 0);
    pm_scope_set(&s, "prod_url", "https://prod", 0);
    pm_scope_set(&s, "loop", "{{loop}}x", 0);
    pm_scope_set(&s, "fo/o", "alpha", 0);
    pm_scope_set(&s, "b\\ar", "beta", 0);
    pm_scope_set(&s, "$guid", "user-guid", 0);
    pm_scope_set(&s, "x", "1", 0);
    pm_resolver r = {{&s}, 1, NULL, NULL};
    ASSERT_RESOLVES(&r, "{{a}}", "deep");
    ASSERT_RESOLVES(&r, "{{{{env}}_url}}/v1", "https://prod/v1");
    ASSERT_RESOLVES(&r, "{{loop}}", "{{loop}}xxxxxxxxxxxxxxxxxxx"); /* 19 rounds */
    ASSERT_RESOLVES(&r, "{{ x }}", "{{ x }}");                       /* not trimmed */
    ASSERT_RESOLVES(&r, "{{fo/o}}{{b\\ar}}", "alphabeta");
    ASSERT_RESOLVES(&r, "{{missing}} and {{x}}", "{{missing}} and 1");
    ASSERT_RESOLVES(&r, "{{}}{x}}{{x}", "{{}}{x}}{{x}");
    ASSERT_RESOLVES(&r, "{{$guid}}", "user-guid"); /* a user variable beats the generator */
    ASSERT_RESOLVES(&r, "", "");
    pm_scope_clear(&s);
}

static void test_nineteen_rounds_and_cycles(void **state)
{
    (void)state;
    pm_scope s = {0};
    char k[16], v[16];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "v%d", i);
        snprintf(v, sizeof v, "{{v%d}}", i + 1);
        pm_scope_set(&s, k, v, 0);
    }
    pm_scope_set(&s, "v20", "end", 0);
    pm_resolver r = {{&s}, 1, NULL, NULL};
    ASSERT_RESOLVES(&r, "{{v2}}", "end");      /* 19 hops: v2 → … → v20 → end */
    ASSERT_RESOLVES(&r, "{{v1}}", "{{v20}}");  /* 20 hops needed: stops after 19 */
    ASSERT_RESOLVES(&r, "{{v0}}", "{{v19}}");
    pm_scope_set(&s, "p", "{{q}}", 0);
    pm_scope_set(&s, "q", "{{p}}", 0);
    ASSERT_RESOLVES(&r, "{{p}}", "{{q}}"); /* a cycle stops after 19 rounds */
    /* exponential growth is bounded, not a hang or an OOM */
    pm_scope_set(&s, "bomb", "{{bomb}}{{bomb}}{{bomb}}{{bomb}}", 0);
    char *out = NULL;
    assert_int_equal(pm_resolve(&r, "{{bomb}}", &out), -1);
    assert_null(out);
    pm_scope_clear(&s);
}

static int is_uuid4(const char *s)
{
    if (strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return 0;
    if (s[14] != '4' || !strchr("89ab", s[19]))
        return 0;
    for (int i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23 && !strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

static void test_dynamic(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    pm_resolver r = {{0}, 0, fixed_clock, &now};
    char *o = res(&r, "{{$guid}} {{$guid}} {{$randomUUID}}");
    assert_int_equal(strlen(o), 36 * 3 + 2);
    o[36] = o[73] = '\0';
    assert_true(is_uuid4(o));
    assert_true(is_uuid4(o + 37));
    assert_true(is_uuid4(o + 74));
    assert_string_not_equal(o, o + 37); /* fresh per occurrence */
    free(o);
    ASSERT_RESOLVES(&r, "{{$timestamp}}", "1700000000");
    ASSERT_RESOLVES(&r, "{{$isoTimestamp}}", "2023-11-14T22:13:20.000Z");
    /* $randomInt: 0..1000, and not all equal across 20 draws */
    o = res(&r, "{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}},"
                "{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}},"
                "{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}},"
                "{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}},{{$randomInt}}");
    long first = -1;
    int differ = 0;
    char *p = o;
    for (int i = 0; i < 20; i++) {
        char *e;
        long v = strtol(p, &e, 10);
        assert_true(e > p);
        assert_true(v >= 0 && v <= 1000);
        if (first < 0)
            first = v;
        else if (v != first)
            differ = 1;
        p = *e ? e + 1 : e;
    }
    assert_true(differ);
    free(o);
    o = res(&r, "{{$randomEmail}}|{{$randomBoolean}}|{{$randomAlphaNumeric}}");
    assert_non_null(strchr(o, '@'));
    assert_true(strstr(o, "|true|") || strstr(o, "|false|"));
    free(o);
    ASSERT_RESOLVES(&r, "{{$notAGenerator}}", "{{$notAGenerator}}");
}

typedef struct names {
    char v[8][64];
    int n;
} names;

static void collect(void *ctx, const char *name, size_t len)
{
    names *n = ctx;
    if (n->n < 8)
        snprintf(n->v[n->n++], 64, "%.*s", (int)len, name);
}

static void test_unresolved_listing(void **state)
{
    (void)state;
    names n = {0};
    pm_unresolved("http://{{host}}/{{a}}/{{host}}?x={{b}}", collect, &n);
    assert_int_equal(n.n, 3); /* each name once */
    assert_string_equal(n.v[0], "host");
    assert_string_equal(n.v[1], "a");
    assert_string_equal(n.v[2], "b");
    n.n = 0;
    pm_unresolved("no variables {here}", collect, &n);
    assert_int_equal(n.n, 0);
}

static void test_scripts(void **state)
{
    (void)state;
    pm_script_info si;
    pm_script_analyze("var jsonData = pm.response.json();\n"
                      "pm.environment.set(\"accessToken\", jsonData.access_token);\n"
                      "pm.environment.set('idToken', jsonData.id_token);\n"
                      "pm.globals.set(`tokenExpiry`, Date.now() + jsonData.expires_in * 1000);\n"
                      "pm.test(\"Status code is 200\", function () {\n"
                      "    pm.response.to.have.status(200);\n});\n",
                      &si);
    assert_int_equal(si.n_caps, 3);
    assert_string_equal(si.caps[0].name, "accessToken");
    assert_int_equal(si.caps[0].field, PM_F_ACCESS);
    assert_int_equal(si.caps[0].scope, 'e');
    assert_string_equal(si.caps[1].name, "idToken");
    assert_int_equal(si.caps[1].field, PM_F_ID);
    assert_string_equal(si.caps[2].name, "tokenExpiry");
    assert_int_equal(si.caps[2].field, PM_F_EXPIRY_MS);
    assert_int_equal(si.caps[2].scope, 'g');
    assert_int_equal(si.n_status, 1);
    assert_int_equal(si.status[0], 200);
    assert_false(si.other);
    assert_false(si.pop);

    pm_script_analyze("var navigator = {}; var window = {};\n"
                      "eval(pm.globals.get(\"jsrsasign-js\"));\n"
                      "var sJWS = KJUR.jws.JWS.sign(null, hdr, claims, pm.environment.get('privateKey'));\n"
                      "pm.request.headers.upsert({key: 'X-Authorization', value: sJWS});\n",
                      &si);
    assert_true(si.pop);
    assert_true(si.loads_lib);
    assert_false(si.other);

    pm_script_analyze("pm.expect(pm.response.code).to.be.oneOf([200, 201]);\n"
                      "tests['ok'] = responseCode.code === 204;\n",
                      &si);
    assert_int_equal(si.n_status, 3);

    pm_script_analyze("console.log('hello');\n// comment\n", &si);
    assert_true(si.console_only);

    pm_script_analyze("pm.environment.set('x', _.random(1, 5));\n", &si);
    assert_true(si.other);
    assert_int_equal(si.n_caps, 0);

    /* token capture through a variable: named after the token */
    pm_script_analyze("const t = pm.response.json().access_token;\n"
                      "postman.setEnvironmentVariable(\"bearer_token\", pm.response.json().access_token);\n",
                      &si);
    assert_int_equal(si.n_caps, 1);
    assert_string_equal(si.caps[0].name, "bearer_token");
}

static void test_token_urls(void **state)
{
    (void)state;
    assert_true(pm_is_token_url("https://oauth.t-mobile.com/oauth2/v6/tokens"));
    assert_true(pm_is_token_url("{{baseUrl}}/oauth2/v2/tokens?grant_type=client_credentials"));
    assert_true(pm_is_token_url("http://127.0.0.1:1/oauth2/v1/tokens/"));
    assert_false(pm_is_token_url("https://echo.postman.com/oauth2/token"));
    assert_false(pm_is_token_url("https://h/iot-connectivity/v1/devices/1"));
    assert_false(pm_is_token_url("https://h/oauth2/v6/tokens/extra"));
    assert_true(pm_is_jsrsasign_url("https://kjur.github.io/jsrsasign/jsrsasign-latest-all-min.js"));
    assert_false(pm_is_jsrsasign_url("https://h/x"));
}

static void test_redaction(void **state)
{
    (void)state;
    pm_secrets s = {0};
    pm_secrets_add(&s, "s3cr3t-client-secret");
    pm_secrets_add(&s, "abc"); /* too short: ignored */
    char *o = pm_redact(&s, "id=me&secret=s3cr3t-client-secret&abc=1 "
                            "tok eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln end "
                            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- tail");
    assert_string_equal(o, "id=me&secret=<redacted>&abc=1 tok <redacted:jwt> end "
                           "<redacted:pem> tail");
    free(o);
    assert_true(taap_http_header_sensitive("x-authorization"));
    assert_true(taap_http_header_sensitive("Authorization"));
    assert_false(taap_http_header_sensitive("Content-Type"));
    assert_true(pm_name_sensitive("client_secret"));
    assert_true(pm_name_sensitive("privateKey"));
    assert_true(pm_name_sensitive("access_token"));
    assert_false(pm_name_sensitive("ICCID"));
    pm_secrets_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_syntax_edges),
        cmocka_unit_test(test_nineteen_rounds_and_cycles),
        cmocka_unit_test(test_dynamic),
        cmocka_unit_test(test_unresolved_listing),
        cmocka_unit_test(test_scripts),
        cmocka_unit_test(test_token_urls),
        cmocka_unit_test(test_redaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
