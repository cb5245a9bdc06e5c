/* test_conformance.c — third-party vectors against the verifier
 * (../shared/conformance, see its README for provenance and known traps):
 *  - Wycheproof RSASSA-PKCS1-v1_5 SHA-256 verification, 2048/3072/4096;
 *  - Wycheproof JWS cases with the outcome of an RS256-only verifier pinned
 *    to the group's key (rs256_jws_expectations.json, 318 cases);
 *  - 35 regression tokens from libjwt, node-jsonwebtoken and PyJWT;
 *  - T-Mobile's own demo tokens as clock-pinned cases, with a replay
 *    sequence.
 * Counts are printed and asserted, so a vector silently skipped fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "b64url.h"
#include "jws.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/key.h"
#include "taap/replay.h"
#include "taap/verify.h"
#include "testutil.h"

static json_t *load_json(const char *rel)
{
    json_error_t jerr;
    json_t *j = json_load_file(tu_shared(rel), 0, &jerr);
    if (!j)
        fail_msg("%s: %s", rel, jerr.text);
    return j;
}

static unsigned char *hex_decode(const char *hex, size_t *out_len)
{
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    unsigned char *out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            int d = (c >= '0' && c <= '9') ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            assert_true(d >= 0);
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    *out_len = n / 2;
    return out;
}

/* ---- Wycheproof RSASSA-PKCS1-v1_5 / SHA-256 ---- */

struct sig_counts {
    int valid_ok, valid_failed, invalid_rejected, invalid_accepted, acceptable, refused_key_valid,
        refused_key_other;
};

static void run_sig_file(const char *rel, struct sig_counts *c)
{
    json_t *root = load_json(rel);
    json_t *groups = json_object_get(root, "testGroups");
    size_t gi;
    json_t *g;
    json_array_foreach(groups, gi, g)
    {
        const char *pem = json_string_value(json_object_get(g, "publicKeyPem"));
        assert_non_null(pem);
        taap_key *key = NULL;
        taap_error err = TAAP_ERROR_INIT;
        taap_code krc = taap_key_load_public(pem, strlen(pem), &key, &err);
        json_t *tests = json_object_get(g, "tests");
        size_t ti;
        json_t *t;
        json_array_foreach(tests, ti, t)
        {
            const char *result = json_string_value(json_object_get(t, "result"));
            if (krc != TAAP_OK) {
                /* Key policy (SPEC §2.4) refuses e = 3: every vector of the
                 * group is rejected, the valid ones included. */
                assert_int_equal(krc, TAAP_E_KEY);
                if (strcmp(result, "valid") == 0)
                    c->refused_key_valid++;
                else
                    c->refused_key_other++;
                continue;
            }
            size_t ml, sl;
            unsigned char *msg = hex_decode(json_string_value(json_object_get(t, "msg")), &ml);
            unsigned char *sig = hex_decode(json_string_value(json_object_get(t, "sig")), &sl);
            taap_code rc = rs256_verify(key, msg, ml, sig, sl, &err);
            if (strcmp(result, "valid") == 0) {
                if (rc == TAAP_OK)
                    c->valid_ok++;
                else {
                    c->valid_failed++;
                    fprintf(stderr, "%s tcId %lld valid but: %s\n", rel,
                            (long long)json_integer_value(json_object_get(t, "tcId")), err.message);
                }
            } else if (strcmp(result, "invalid") == 0) {
                if (rc != TAAP_OK)
                    c->invalid_rejected++;
                else {
                    c->invalid_accepted++;
                    fprintf(stderr, "%s tcId %lld invalid but accepted\n", rel,
                            (long long)json_integer_value(json_object_get(t, "tcId")));
                }
            } else {
                c->acceptable++;
            }
            free(msg);
            free(sig);
        }
        taap_key_free(key);
    }
    json_decref(root);
}

static void check_sig_file(int bits, int valid, int refused_valid, int invalid, int acceptable)
{
    char rel[128];
    snprintf(rel, sizeof rel, "conformance/wycheproof/testvectors_v1/rsa_signature_%d_sha256_test.json",
             bits);
    struct sig_counts c = {0};
    run_sig_file(rel, &c);
    printf("wycheproof %d: %d valid ok, %d valid refused with their e=3 key, %d invalid rejected, "
           "%d acceptable (either)\n",
           bits, c.valid_ok, c.refused_key_valid, c.invalid_rejected, c.acceptable);
    assert_int_equal(c.valid_failed, 0);
    assert_int_equal(c.invalid_accepted, 0);
    assert_int_equal(c.valid_ok, valid);
    assert_int_equal(c.refused_key_valid, refused_valid);
    assert_int_equal(c.refused_key_other, 0);
    assert_int_equal(c.invalid_rejected, invalid);
    assert_int_equal(c.acceptable, acceptable);
}

static void test_wycheproof_2048(void **state)
{
    (void)state;
    check_sig_file(2048, 7, 2, 249, 1);
}

static void test_wycheproof_3072(void **state)
{
    (void)state;
    check_sig_file(3072, 7, 1, 250, 1);
}

static void test_wycheproof_4096(void **state)
{
    (void)state;
    check_sig_file(4096, 7, 0, 250, 1);
}

/* ---- Wycheproof JWS, RS256 pinned to the group's key ---- */

/* The verifier is configured with the group's JWK, honouring its alg, use
 * and key_ops (RFC 7517 §4), as the expectations file's rule says: a key
 * meant for another algorithm or for encryption never verifies RS256. */
static int jwk_allows_rs256(const json_t *jwk)
{
    const json_t *alg = json_object_get(jwk, "alg");
    if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256") != 0))
        return 0;
    const json_t *use = json_object_get(jwk, "use");
    if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return 0;
    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops) {
        size_t i;
        const json_t *op;
        int verify = 0;
        json_array_foreach(ops, i, op)
        {
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = 1;
        }
        if (!verify)
            return 0;
    }
    return 1;
}

static void test_wycheproof_jws(void **state)
{
    (void)state;
    json_t *root = load_json("conformance/wycheproof/rs256_jws_expectations.json");
    json_t *cases = json_object_get(root, "cases");
    int n = 0, accepted = 0, rejected = 0, by_key_use = 0, by_key_load = 0, wrong = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        n++;
        const char *expect = json_string_value(json_object_get(c, "expected_rs256_pinned"));
        const char *jws = json_string_value(json_object_get(c, "jws"));
        const json_t *jwk = json_object_get(c, "public_jwk");
        char *jwk_text = json_dumps(jwk, JSON_COMPACT);
        taap_key *key = NULL;
        taap_error err = TAAP_ERROR_INIT;
        taap_code rc;
        if (!jwk_allows_rs256(jwk)) {
            rc = TAAP_E_KEY;
            by_key_use++;
        } else if ((rc = taap_key_load_public(jwk_text, strlen(jwk_text), &key, &err)) !=
                   TAAP_OK) {
            by_key_load++;
        } else {
            rc = jws_verify_rs256(jws, strlen(jws), TAAP_VERIFY_MAX_TOKEN, key, NULL, &err);
        }
        const char *got = rc == TAAP_OK ? "accept" : "reject";
        if (strcmp(got, expect) != 0) {
            wrong++;
            fprintf(stderr, "jws tcId %lld (%s): expected %s, got %s (%s)\n",
                    (long long)json_integer_value(json_object_get(c, "tcId")),
                    json_string_value(json_object_get(c, "comment")), expect, got, err.message);
        }
        if (rc == TAAP_OK)
            accepted++;
        else
            rejected++;
        taap_key_free(key);
        free(jwk_text);
    }
    printf("wycheproof jws: %d cases, %d accepted, %d rejected (%d by the key's alg/use/key_ops, "
           "%d by key policy), %d differ from the expectation\n",
           n, accepted, rejected, by_key_use, by_key_load, wrong);
    assert_int_equal(n, 318);
    assert_int_equal(wrong, 0);
    assert_int_equal(accepted, 8);
    assert_int_equal(rejected, 310);
    json_decref(root);
}

/* ---- libjwt / jsonwebtoken / PyJWT regression tokens ---- */

static void test_library_tokens(void **state)
{
    (void)state;
    taap_key *keys[2] = {NULL, NULL};
    taap_error err = TAAP_ERROR_INIT;
    /* jsonwebtoken's "pub.pem" is an X.509 certificate: its SPKI is the key. */
    size_t clen;
    char *cert = tu_read(tu_shared("conformance/jwt-malformed/jsonwebtoken_test_pub.pem"), &clen);
    BIO *bio = BIO_new_mem_buf(cert, (int)clen);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(x);
    unsigned char *der = NULL;
    int dlen = i2d_PUBKEY(X509_get0_pubkey(x), &der);
    assert_true(dlen > 0);
    assert_int_equal(taap_key_load_public(der, (size_t)dlen, &keys[0], &err), TAAP_OK);
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    free(cert);
    /* libjwt's key file is a JWK Set: take its one key. */
    json_t *set = load_json("conformance/jwt-malformed/libjwt_keys_rsa_key_2048_pub.json");
    char *jwk = json_dumps(json_array_get(json_object_get(set, "keys"), 0), JSON_COMPACT);
    assert_non_null(jwk);
    assert_int_equal(taap_key_load_public(jwk, strlen(jwk), &keys[1], &err), TAAP_OK);
    free(jwk);
    json_decref(set);
    json_t *root = load_json("conformance/jwt-malformed/library_tokens.json");
    json_t *tokens = json_object_get(root, "tokens");
    taap_header hs[] = {{"Content-Type", "application/json"}};
    taap_request req = {"GET", "/x", hs, 1, {TAAP_BODY_NONE, NULL, 0, NULL, NULL, NULL}};
    int n = 0, rejected = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tokens, i, t)
    {
        n++;
        const char *tok = json_string_value(json_object_get(t, "token"));
        int all_rejected = 1;
        for (int k = 0; k < 2; k++) {
            taap_code a = taap_verify(tok, strlen(tok), keys[k], &req, NULL, NULL, &err);
            taap_code b = jws_verify_rs256(tok, strlen(tok), TAAP_VERIFY_MAX_TOKEN, keys[k], NULL,
                                           &err);
            if (a == TAAP_OK || b == TAAP_OK) {
                all_rejected = 0;
                fprintf(stderr, "accepted: %s %s\n",
                        json_string_value(json_object_get(t, "library")),
                        json_string_value(json_object_get(t, "test")));
            }
        }
        rejected += all_rejected;
    }
    printf("library tokens: %d of %d rejected (with both RSA keys, as PoP and as plain JWS)\n",
           rejected, n);
    assert_int_equal(n, 35);
    assert_int_equal(rejected, n);
    json_decref(root);
    taap_key_free(keys[0]);
    taap_key_free(keys[1]);
}

/* ---- T-Mobile reference tokens ---- */

static int64_t pinned_clock(void *ctx)
{
    return *(int64_t *)ctx;
}

/* Verify one {token, now, request} against `key`, sharing `cache`. */
static taap_code run_tm(const taap_key *key, const char *token, int64_t now, const json_t *rq,
                        taap_replay *cache, taap_error *err)
{
    taap_header hs[16];
    size_t nh = 0;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(rq, "headers"), i, h)
    {
        assert_true(nh < 16);
        hs[nh].name = json_string_value(json_array_get(h, 0));
        hs[nh].value = json_string_value(json_array_get(h, 1));
        nh++;
    }
    unsigned char body[4096];
    size_t blen = 0;
    const json_t *b64 = json_object_get(rq, "body_b64");
    taap_body bd = {TAAP_BODY_NONE, NULL, 0, NULL, NULL, NULL};
    if (json_is_string(b64)) {
        /* Standard base64 with padding in the vector file. */
        const char *s = json_string_value(b64);
        assert_true(strlen(s) / 4 * 3 <= sizeof body);
        assert_int_equal(taap_b64_decode_lenient(s, strlen(s), body, &blen), 0);
        bd.kind = TAAP_BODY_MEMORY;
        bd.data = body;
        bd.len = (int64_t)blen;
    }
    taap_request req = {json_string_value(json_object_get(rq, "method")),
                        json_string_value(json_object_get(rq, "target")), hs, nh, bd};
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = pinned_clock;
    cfg.clock_ctx = &now;
    cfg.replay = cache;
    return taap_verify(token, strlen(token), key, &req, &cfg, NULL, err);
}

static int outcome_ok(const char *expect, const char *prefer, taap_code rc)
{
    const char *got = rc == TAAP_OK ? "accept" : "reject";
    if (strcmp(expect, "either") == 0)
        return prefer ? strcmp(got, prefer) == 0 : 1;
    return strcmp(got, expect) == 0;
}

static void test_tmobile_reference(void **state)
{
    (void)state;
    json_t *root = load_json("conformance/tmobile-reference/tmobile_reference_cases.json");
    int cases = 0, steps = 0, good = 0, accepted = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        cases++;
        char rel[256];
        snprintf(rel, sizeof rel, "conformance/tmobile-reference/%s",
                 json_string_value(json_object_get(c, "key")));
        taap_key *key = NULL;
        taap_error err = TAAP_ERROR_INIT;
        assert_int_equal(taap_key_load_public_file(tu_shared(rel), &key, &err), TAAP_OK);
        taap_replay *cache = NULL;
        assert_int_equal(taap_replay_memory_new(16, &cache, &err), TAAP_OK);
        const json_t *seq = json_object_get(c, "sequence");
        json_t *one = NULL;
        if (!seq) { /* a single case is a sequence of one */
            one = json_array();
            json_array_append(one, c);
            seq = one;
        }
        size_t k;
        json_t *s;
        json_array_foreach(seq, k, s)
        {
            steps++;
            const char *expect = json_string_value(json_object_get(s, "expect"));
            const json_t *pref = json_object_get(c, "prefer");
            assert_non_null(expect);
            taap_code rc = run_tm(key, json_string_value(json_object_get(s, "token")),
                                  json_integer_value(json_object_get(s, "now")),
                                  json_object_get(s, "request"), cache, &err);
            int ok = outcome_ok(expect, pref ? json_string_value(pref) : NULL, rc);
            printf("  %s step %zu: %-6s expected %s%s%s -> %s %s\n",
                   json_string_value(json_object_get(c, "id")), k + 1,
                   rc == TAAP_OK ? "accept" : "reject", expect, pref ? ", prefer " : "",
                   pref ? json_string_value(pref) : "", taap_code_name(rc), err.message);
            good += ok;
            accepted += rc == TAAP_OK;
        }
        json_decref(one);
        taap_replay_free(cache);
        taap_key_free(key);
    }
    printf("tmobile reference: %d cases, %d verdicts, %d as expected, %d accepted\n", cases, steps,
           good, accepted);
    assert_int_equal(cases, 9);
    assert_int_equal(steps, 10);
    assert_int_equal(good, steps);
    /* TM01, TM04 and the first use in TM06. */
    assert_int_equal(accepted, 3);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_2048),  cmocka_unit_test(test_wycheproof_3072),
        cmocka_unit_test(test_wycheproof_4096),  cmocka_unit_test(test_wycheproof_jws),
        cmocka_unit_test(test_library_tokens),   cmocka_unit_test(test_tmobile_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
