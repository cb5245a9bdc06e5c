/* test_access_token.c — the issuer key set (JWKS, one JWK, PEM; skipped and
 * refused entries) and the access-token check: a valid token gives the cnf
 * key, client id, jti and exp; each failure (another issuer's key, expired,
 * not yet valid, wrong iss or aud, no cnf, bad header, garbage) has its code
 * and a message naming the check; kid only orders the search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "serve_harness.h"
#include "taap/access_token.h"
#include "taap/jws.h"

#define ISSUER_KEY sh_test_key(0)
#define OTHER_ISSUER sh_test_key(1)
#define CLIENT_KEY sh_test_key(2)
#define NOW INT64_C(1800000000)

static int64_t fixed_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

static char *jwk_of(const taap_key *k, const char *kid, const char *use)
{
    char *text = NULL;
    assert_int_equal(taap_key_public_jwk(k, &text, NULL), TAAP_OK);
    json_t *j = json_loads(text, 0, NULL);
    taap_key_free_pem(text);
    if (kid)
        json_object_set_new(j, "kid", json_string(kid));
    if (use)
        json_object_set_new(j, "use", json_string(use));
    char *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}

static taap_keyset *load(const char *text)
{
    taap_keyset *ks = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_keyset_load(text, strlen(text), &ks, &err) != TAAP_OK)
        fail_msg("keyset: %s", err.message);
    return ks;
}

/* A token signed by `signer` with these claims (a JSON object text). */
static char *mint(const taap_key *signer, const char *kid, const char *claims)
{
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"%s%s%s}",
             kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "");
    char *tok = NULL;
    assert_int_equal(taap_jws_sign(signer, header, claims, &tok, NULL), TAAP_OK);
    return tok;
}

/* The claims `taap serve` issues, with `extra` members replacing them. */
static char *claims_with(const char *extra_json)
{
    char *pem = NULL;
    assert_int_equal(taap_key_public_pem_oneline(CLIENT_KEY, &pem, NULL), TAAP_OK);
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", "https://issuer",
                          "sub", "client-1", "aud", "client-1", "iat", (json_int_t)NOW, "nbf",
                          (json_int_t)NOW, "exp", (json_int_t)(NOW + 3600), "jti", "at-1", "cnf",
                          pem);
    taap_key_free_pem(pem);
    if (extra_json) {
        json_t *x = json_loads(extra_json, 0, NULL);
        assert_non_null(x);
        const char *k;
        json_t *v;
        json_object_foreach(x, k, v)
        {
            if (json_is_null(v))
                json_object_del(c, k);
            else
                json_object_set(c, k, v);
        }
        json_decref(x);
    }
    char *out = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return out;
}

static taap_code check(const taap_keyset *ks, const char *tok, int64_t now,
                       taap_access_token_info *info, taap_error *err)
{
    taap_access_token_config cfg;
    taap_access_token_config_init(&cfg);
    cfg.issuer = "https://issuer";
    cfg.audience = "client-1";
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &now;
    return taap_access_token_verify(ks, tok, strlen(tok), &cfg, info, err);
}

/* Expect `code` and a message containing `says` for these claims. */
static void expect(const char *extra, const taap_key *signer, int64_t now, taap_code code,
                   const char *says)
{
    char *jwks_entry = jwk_of(ISSUER_KEY, "k1", "sig");
    char set[4096];
    snprintf(set, sizeof set, "{\"keys\":[%s]}", jwks_entry);
    free(jwks_entry);
    taap_keyset *ks = load(set);
    char *claims = claims_with(extra);
    char *tok = mint(signer, "k1", claims);
    taap_access_token_info info;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = check(ks, tok, now, &info, &err);
    if (rc != code || !strstr(err.message, says))
        fail_msg("claims %s: got %s '%s', expected %s containing '%s'", extra ? extra : "{}",
                 taap_code_name(rc), err.message, taap_code_name(code), says);
    assert_null(info.cnf_key);
    free(claims);
    free(tok);
    taap_keyset_free(ks);
}

static void test_valid(void **state)
{
    (void)state;
    char *a = jwk_of(OTHER_ISSUER, "old", NULL), *b = jwk_of(ISSUER_KEY, "k1", "sig");
    char set[8192];
    snprintf(set, sizeof set, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"},%s,%s]}", a, b);
    free(a);
    free(b);
    taap_keyset *ks = load(set);
    assert_int_equal(taap_keyset_count(ks), 2);
    char *claims = claims_with(NULL);
    /* With the right kid, a wrong kid, and none: the set decides. */
    const char *kids[] = {"k1", "old", NULL};
    for (int i = 0; i < 3; i++) {
        char *tok = mint(ISSUER_KEY, kids[i], claims);
        taap_access_token_info info;
        taap_error err = TAAP_ERROR_INIT;
        assert_int_equal(check(ks, tok, NOW + 10, &info, &err), TAAP_OK);
        assert_string_equal(info.client_id, "client-1");
        assert_string_equal(info.jti, "at-1");
        assert_int_equal(info.exp, NOW + 3600);
        assert_non_null(info.cnf_key);
        assert_true(taap_key_same_public(info.cnf_key, CLIENT_KEY));
        taap_access_token_info_free(&info);
        assert_null(info.cnf_key);
        free(tok);
    }
    free(claims);
    taap_keyset_free(ks);
}

static void test_cnf_forms_and_client_id(void **state)
{
    (void)state;
    char *jwk = jwk_of(CLIENT_KEY, NULL, NULL);
    char extra[4096];
    snprintf(extra, sizeof extra, "{\"cnf\":{\"jwk\":%s},\"client_id\":\"cid-9\",\"aud\":[\"x\","
             "\"client-1\"]}", jwk);
    free(jwk);
    char *pem = NULL;
    assert_int_equal(taap_key_public_pem(ISSUER_KEY, &pem, NULL), TAAP_OK);
    taap_keyset *ks = load(pem); /* one PEM key */
    taap_key_free_pem(pem);
    char *claims = claims_with(extra);
    char *tok = mint(ISSUER_KEY, NULL, claims);
    taap_access_token_info info;
    assert_int_equal(check(ks, tok, NOW, &info, NULL), TAAP_OK);
    assert_string_equal(info.client_id, "cid-9");
    assert_true(taap_key_same_public(info.cnf_key, CLIENT_KEY));
    taap_access_token_info_free(&info);
    free(tok);
    free(claims);
    taap_keyset_free(ks);
}

static void test_failures(void **state)
{
    (void)state;
    expect(NULL, OTHER_ISSUER, NOW, TAAP_E_SIGNATURE, "not signed by the issuer");
    expect(NULL, ISSUER_KEY, NOW + 3600 + 10, TAAP_E_EXPIRED, "expired");
    expect(NULL, ISSUER_KEY, NOW - 11, TAAP_E_NOT_YET_VALID, "nbf");
    expect("{\"iss\":\"https://evil\"}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "issuer");
    expect("{\"iss\":null}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "issuer is missing");
    expect("{\"aud\":\"client-2\"}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "audience");
    expect("{\"aud\":[\"a\",\"b\"]}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "audience");
    expect("{\"cnf\":null}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "cnf");
    expect("{\"cnf\":\"not a key\"}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "cnf");
    expect("{\"exp\":null}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "exp");
    expect("{\"exp\":\"1900000000\"}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "exp");
    expect("{\"nbf\":1.5}", ISSUER_KEY, NOW, TAAP_E_CLAIMS, "nbf");
}

static void test_malformed_and_header(void **state)
{
    (void)state;
    char *pem = NULL;
    assert_int_equal(taap_key_public_pem(ISSUER_KEY, &pem, NULL), TAAP_OK);
    taap_keyset *ks = load(pem);
    taap_key_free_pem(pem);
    taap_access_token_info info;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(check(ks, "abc", NOW, &info, &err), TAAP_E_MALFORMED);
    assert_non_null(strstr(err.message, "access token"));
    char *claims = claims_with(NULL);
    char *tok = NULL;
    assert_int_equal(taap_jws_sign(ISSUER_KEY, "{\"alg\":\"RS512\"}", claims, &tok, NULL),
                     TAAP_OK);
    assert_int_equal(check(ks, tok, NOW, &info, &err), TAAP_E_ALG);
    free(tok);
    assert_int_equal(taap_jws_sign(ISSUER_KEY, "{\"alg\":\"RS256\"}", "[1]", &tok, NULL), TAAP_OK);
    assert_int_equal(check(ks, tok, NOW, &info, &err), TAAP_E_MALFORMED);
    free(tok);
    /* A signature that was valid for other claims. */
    tok = mint(ISSUER_KEY, NULL, claims);
    /* an index, not a pointer: gcc -O3 takes a pointer into the new tok for
     * one into the old one freed above (-Wdangling-pointer) */
    size_t dot = strcspn(tok, ".");
    tok[dot + 1] = tok[dot + 1] == 'A' ? 'B' : 'A';
    taap_code rc = check(ks, tok, NOW, &info, &err);
    assert_true(rc == TAAP_E_SIGNATURE || rc == TAAP_E_MALFORMED);
    free(tok);
    free(claims);
    /* Config not initialised. */
    taap_access_token_config raw;
    memset(&raw, 0, sizeof raw);
    assert_int_equal(taap_access_token_verify(ks, "a.b.c", 5, &raw, &info, NULL), TAAP_E_USAGE);
    taap_keyset_free(ks);
}

static void test_keyset_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"{\"keys\":[]}", "no RSA signature key"},
        {"{\"keys\":[{\"kty\":\"EC\"},{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
         "2 entries skipped"},
        {"{\"keys\":{}}", "not an array"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", "JWKS key 1"},
        {"{\"keys\":[] ", "not a JSON object"},
        {"hello", "not a PEM"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        taap_keyset *ks = NULL;
        taap_error err = TAAP_ERROR_INIT;
        assert_int_equal(taap_keyset_load(bad[i].text, strlen(bad[i].text), &ks, &err),
                         TAAP_E_KEY);
        assert_null(ks);
        if (!strstr(err.message, bad[i].says))
            fail_msg("%s: '%s' does not say '%s'", bad[i].text, err.message, bad[i].says);
    }
    taap_keyset *ks = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_keyset_load_file("/nonexistent/jwks.json", &ks, &err), TAAP_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent/jwks.json"));
    assert_int_equal(taap_keyset_count(NULL), 0);
    taap_keyset_free(NULL);
}

/* The cache answers like the full check: hits give the same info (a new
 * key handle), an expired cached token fails as expired, a refused token is
 * never cached, a colliding token replaces the older one. */
static void test_cache(void **state)
{
    (void)state;
    char *pem = NULL;
    assert_int_equal(taap_key_public_pem(ISSUER_KEY, &pem, NULL), TAAP_OK);
    taap_keyset *ks = load(pem);
    taap_key_free_pem(pem);
    taap_access_token_cache *c = NULL;
    assert_int_equal(taap_access_token_cache_new(1, &c, NULL), TAAP_OK); /* one slot */
    char *claims = claims_with(NULL), *claims2 = claims_with("{\"jti\":\"at-2\"}");
    char *tok = mint(ISSUER_KEY, NULL, claims), *tok2 = mint(ISSUER_KEY, NULL, claims2);
    char *bad = mint(OTHER_ISSUER, NULL, claims);
    int64_t now = NOW;
    taap_access_token_config cfg;
    taap_access_token_config_init(&cfg);
    cfg.issuer = "https://issuer";
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &now;
    for (int round = 0; round < 3; round++) {
        taap_access_token_info info;
        assert_int_equal(
            taap_access_token_verify_cached(c, ks, tok, strlen(tok), &cfg, &info, NULL), TAAP_OK);
        assert_string_equal(info.jti, "at-1");
        assert_true(taap_key_same_public(info.cnf_key, CLIENT_KEY));
        taap_access_token_info_free(&info);
        taap_error err = TAAP_ERROR_INIT;
        assert_int_equal(
            taap_access_token_verify_cached(c, ks, bad, strlen(bad), &cfg, &info, &err),
            TAAP_E_SIGNATURE);
        assert_null(info.cnf_key);
    }
    /* The other token takes the only slot; both still verify. */
    taap_access_token_info info;
    assert_int_equal(taap_access_token_verify_cached(c, ks, tok2, strlen(tok2), &cfg, &info, NULL),
                     TAAP_OK);
    assert_string_equal(info.jti, "at-2");
    taap_access_token_info_free(&info);
    assert_int_equal(taap_access_token_verify_cached(c, ks, tok, strlen(tok), &cfg, &info, NULL),
                     TAAP_OK);
    taap_access_token_info_free(&info);
    /* Cached, then expired: refused as expired with the full message. */
    now = NOW + 3600 + 10;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_access_token_verify_cached(c, ks, tok, strlen(tok), &cfg, &info, &err),
                     TAAP_E_EXPIRED);
    assert_non_null(strstr(err.message, "expired"));
    /* NULL cache: the plain check. */
    now = NOW;
    assert_int_equal(
        taap_access_token_verify_cached(NULL, ks, tok, strlen(tok), &cfg, &info, NULL), TAAP_OK);
    taap_access_token_info_free(&info);
    free(claims), free(claims2), free(tok), free(tok2), free(bad);
    taap_access_token_cache_free(c);
    taap_access_token_cache_free(NULL);
    taap_keyset_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_cnf_forms_and_client_id),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_malformed_and_header),
        cmocka_unit_test(test_keyset_errors),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
