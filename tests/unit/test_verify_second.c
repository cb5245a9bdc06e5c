/* test_verify_second.c — a second, independent test of verifier rules that
 * rested on a single table row (issue 13: RS384/RS512, zero lifetime, typ,
 * edts case, %00), and the rows that kill the mutants the other suites let
 * through (tests/mutate/mutants.txt): an edts differing only in its last
 * character or only in the middle, an ehts naming real headers `URI` and
 * `HTTP-METHOD`, a replay inside the leeway after exp, an ehts with a JSON
 * escape. Its own key (tests/data), its own request and token assembly: it
 * shares no helper with test_verify_rules.c or test_adversarial_verify.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "b64url.h"
#include "canon.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/key.h"
#include "taap/replay.h"
#include "taap/verify.h"
#include "testutil.h"

#define T0 INT64_C(1800000000)
#define AUTHZ "Bearer second-suite-access-token"

static taap_key *g_key;

static int64_t clock_at(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* GET or PATCH /v2/things/42?q=<query> with Authorization (and a body for
 * PATCH); extra headers after those. */
typedef struct req_spec {
    const char *method;
    const char *query;
    const char *body;
    taap_header extra[4];
    size_t n_extra;
} req_spec;

typedef struct built_req {
    taap_header h[8];
    char target[256];
    taap_request r;
} built_req;

static void build_req(const req_spec *s, built_req *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->target, sizeof b->target, "http://127.0.0.1:9/v2/things/42%s%s",
             s->query ? "?" : "", s->query ? s->query : "");
    size_t n = 0;
    b->h[n++] = (taap_header){"Authorization", AUTHZ};
    for (size_t i = 0; i < s->n_extra; i++)
        b->h[n++] = s->extra[i];
    b->r.method = s->method;
    b->r.target = b->target;
    b->r.headers = b->h;
    b->r.n_headers = n;
    if (s->body) {
        b->r.body.kind = TAAP_BODY_MEMORY;
        b->r.body.data = s->body;
        b->r.body.len = (int64_t)strlen(s->body);
    }
}

/* The edts this verifier computes for `ehts` over the request. */
static void edts_for(const char *ehts, const taap_request *r, char out[44])
{
    const char *names[16];
    size_t lens[16], n = 0;
    const char *p = ehts;
    for (;;) {
        const char *semi = strchr(p, ';');
        names[n] = p;
        lens[n++] = semi ? (size_t)(semi - p) : strlen(p);
        if (!semi)
            break;
        p = semi + 1;
    }
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(canon_request_edts(r, names, lens, n, TAAP_E_EHTS, out, &err), TAAP_OK);
}

/* header.payload signed with g_key: the texts exactly as given. */
static char *sign(const char *hdr, const char *payload)
{
    size_t hl = strlen(hdr), pl = strlen(payload);
    size_t cap = TAAP_B64URL_LEN(hl) + TAAP_B64URL_LEN(pl) + 2 + TAAP_B64URL_LEN(g_key->sig_len) + 1;
    char *t = malloc(cap);
    assert_non_null(t);
    size_t o = taap_b64url_encode(hdr, hl, t);
    t[o++] = '.';
    o += taap_b64url_encode(payload, pl, t + o);
    unsigned char sig[1024];
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(rs256_sign(g_key, t, o, sig, &err), TAAP_OK);
    t[o++] = '.';
    taap_b64url_encode(sig, g_key->sig_len, t + o);
    return t;
}

static char *payload_text(int64_t iat, int64_t exp, const char *ehts, const char *edts,
                          const char *jti)
{
    char *p = malloc(1024);
    assert_non_null(p);
    snprintf(p, 1024, "{\"v\":\"1\",\"jti\":\"%s\",\"ehts\":\"%s\",\"edts\":\"%s\",\"iat\":%lld,"
             "\"exp\":%lld}", jti, ehts, edts, (long long)iat, (long long)exp);
    return p;
}

static taap_code verify_at(const char *tok, const taap_request *r, int64_t now,
                           taap_replay *replay)
{
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = clock_at;
    cfg.clock_ctx = &now;
    cfg.replay = replay;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_verify(tok, strlen(tok), g_key, r, &cfg, NULL, &err);
    if (rc != TAAP_OK)
        assert_true(strlen(err.message) > 10); /* a reason, always */
    return rc;
}

/* A full token for the request: header text, ehts, edts (NULL: computed),
 * lifetime. */
static char *token(const char *hdr, const char *ehts, const char *edts, const taap_request *r,
                   int64_t iat, int64_t exp, const char *jti)
{
    char e[44];
    if (!edts) {
        edts_for(ehts, r, e);
        edts = e;
    }
    char *p = payload_text(iat, exp, ehts, edts, jti);
    char *t = sign(hdr, p);
    free(p);
    return t;
}

#define HDR_OK "{\"typ\":\"JWT\",\"alg\":\"RS256\"}"
#define HDR_OK_SPACED "{ \"alg\": \"RS256\", \"typ\": \"jwt\" }" /* not the fast path */
#define EHTS_GET "Authorization;uri;http-method"

static void test_control(void **state)
{
    (void)state;
    req_spec s = {"GET", "a=1", NULL, {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    char *t = token(HDR_OK, EHTS_GET, NULL, &b.r, T0, T0 + 60, "c-1");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_OK);
    free(t);
    t = token(HDR_OK_SPACED, EHTS_GET, NULL, &b.r, T0, T0 + 60, "c-2");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_OK);
    free(t);
}

/* One character of edts changed, at the end, in the middle, at the start,
 * and a case swap: each is another digest. */
static void test_edts_one_character(void **state)
{
    (void)state;
    req_spec s = {"PATCH", NULL, "{\"state\":\"on\"}", {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    const char *ehts = "Authorization;uri;http-method;body";
    char good[44];
    edts_for(ehts, &b.r, good);
    static const size_t where[] = {42, 21, 22, 0};
    for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
        char bad[44];
        memcpy(bad, good, 44);
        bad[where[k]] = bad[where[k]] == 'A' ? 'Q' : 'A';
        char *t = token(HDR_OK, ehts, bad, &b.r, T0, T0 + 60, "e-1");
        assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_EDTS);
        free(t);
    }
    /* edts case: the first letter with a case partner swapped. */
    char swapped[44];
    memcpy(swapped, good, 44);
    size_t i = 0;
    while (i < 43 && !((swapped[i] >= 'a' && swapped[i] <= 'z') ||
                       (swapped[i] >= 'A' && swapped[i] <= 'Z')))
        i++;
    assert_true(i < 43);
    swapped[i] ^= 0x20;
    char *t = token(HDR_OK, ehts, swapped, &b.r, T0, T0 + 60, "e-2");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_EDTS);
    free(t);
    /* One character too many, one too few. */
    char longer[45];
    memcpy(longer, good, 43);
    longer[43] = 'A';
    longer[44] = '\0';
    t = token(HDR_OK, ehts, longer, &b.r, T0, T0 + 60, "e-3");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_EDTS);
    free(t);
    t = token(HDR_OK, ehts, good, &b.r, T0, T0 + 60, "e-4");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_OK);
    free(t);
}

/* Real headers named URI and HTTP-METHOD are headers, not the pseudo-names:
 * a token signing them does not cover the path and method. */
static void test_pseudo_names_exact(void **state)
{
    (void)state;
    req_spec s = {"GET", NULL, NULL, {{"URI", "/v2/things/42"}, {"HTTP-METHOD", "GET"}}, 2};
    built_req b;
    build_req(&s, &b);
    char *t = token(HDR_OK, "Authorization;URI;HTTP-METHOD", NULL, &b.r, T0, T0 + 60, "p-1");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_COVERAGE);
    free(t);
    /* Both spellings in one ehts are one name twice (names compare
     * case-insensitively for duplicates): refused. */
    t = token(HDR_OK, "Authorization;URI;HTTP-METHOD;uri;http-method", NULL, &b.r, T0, T0 + 60,
              "p-2");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_EHTS);
    free(t);
    /* The same request signed with the pseudo-names: accepted. */
    t = token(HDR_OK, EHTS_GET, NULL, &b.r, T0, T0 + 60, "p-4");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_OK);
    free(t);
    /* A body header named BODY does not stand for the body. */
    req_spec sb = {"PATCH", NULL, "{}", {{"BODY", "x"}}, 1};
    build_req(&sb, &b);
    t = token(HDR_OK, EHTS_GET ";BODY", NULL, &b.r, T0, T0 + 60, "p-3");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_COVERAGE);
    free(t);
}

/* alg: only RS256, through the parsed-header path (spaced JSON). */
static void test_alg_family(void **state)
{
    (void)state;
    req_spec s = {"GET", NULL, NULL, {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    static const char *const bad[] = {
        "{ \"alg\": \"RS384\" }",
        "{ \"alg\": \"RS512\", \"typ\": \"JWT\" }",
        "{\"alg\":\"RS384\"}",
        "{\"alg\":\"RS512\"}",
        "{\"alg\":\"PS256\"}",
        "{\"alg\":\"rs256\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = token(bad[i], EHTS_GET, NULL, &b.r, T0, T0 + 60, "a-1");
        assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_ALG);
        free(t);
    }
}

/* typ: JWT or application/jwt in any case, nothing else. */
static void test_typ_values(void **state)
{
    (void)state;
    req_spec s = {"GET", NULL, NULL, {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    static const struct { const char *hdr; taap_code want; } rows[] = {
        {"{\"alg\":\"RS256\",\"typ\":\"JOSE\"}", TAAP_E_ALG},
        {"{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", TAAP_E_ALG},
        {"{\"alg\":\"RS256\",\"typ\":\"\"}", TAAP_E_ALG},
        {"{\"alg\":\"RS256\",\"typ\":1}", TAAP_E_ALG},
        {"{\"alg\":\"RS256\",\"typ\":\"Application/JWT\"}", TAAP_OK},
        {"{\"alg\":\"RS256\",\"typ\":\"jwt\"}", TAAP_OK},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *t = token(rows[i].hdr, EHTS_GET, NULL, &b.r, T0, T0 + 60, "t-1");
        assert_int_equal(verify_at(t, &b.r, T0, NULL), rows[i].want);
        free(t);
    }
}

/* Lifetime: exp must be after iat; zero and negative refused, one second
 * accepted. */
static void test_lifetime_edges(void **state)
{
    (void)state;
    req_spec s = {"GET", NULL, NULL, {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    char *t = token(HDR_OK, EHTS_GET, NULL, &b.r, T0, T0, "l-1");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_LIFETIME);
    free(t);
    t = token(HDR_OK, EHTS_GET, NULL, &b.r, T0 + 5, T0, "l-2");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_LIFETIME);
    free(t);
    t = token(HDR_OK, EHTS_GET, NULL, &b.r, T0, T0 + 1, "l-3");
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_OK);
    free(t);
}

/* %00 in the query stays encoded: ?a=%00x and ?a= are different uris, so a
 * token for one never verifies the other. */
static void test_percent_00(void **state)
{
    (void)state;
    char *u = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_request_uri("http://h/p?a=%00x&b=%41", &u, &err), TAAP_OK);
    assert_string_equal(u, "/p?a=%00x&b=A");
    free(u);
    req_spec s1 = {"GET", "a=%00x", NULL, {{0}}, 0}, s2 = {"GET", "a=", NULL, {{0}}, 0};
    built_req b1, b2;
    build_req(&s1, &b1);
    build_req(&s2, &b2);
    char *t = token(HDR_OK, EHTS_GET, NULL, &b1.r, T0, T0 + 60, "z-1");
    assert_int_equal(verify_at(t, &b1.r, T0, NULL), TAAP_OK);
    assert_int_equal(verify_at(t, &b2.r, T0, NULL), TAAP_E_EDTS);
    free(t);
}

/* The replay entry lives until exp + leeway: a second use a few seconds
 * after exp (still inside the leeway) is a replay, not a fresh token. */
static void test_replay_inside_leeway(void **state)
{
    (void)state;
    taap_replay *rp = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_replay_memory_new(16, &rp, &err), TAAP_OK);
    req_spec s = {"GET", NULL, NULL, {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    char *t = token(HDR_OK, EHTS_GET, NULL, &b.r, T0, T0 + 30, "r-1");
    assert_int_equal(verify_at(t, &b.r, T0, rp), TAAP_OK);
    assert_int_equal(verify_at(t, &b.r, T0 + 35, rp), TAAP_E_REPLAY);
    assert_int_equal(verify_at(t, &b.r, T0 + 39, rp), TAAP_E_REPLAY);
    assert_int_equal(verify_at(t, &b.r, T0 + 40, rp), TAAP_E_EXPIRED);
    free(t);
    taap_replay_free(rp);
}

/* A JSON escape in a claim takes the strict parser's path and means what
 * jansson says it means: "bod\u0079" is body. */
static void test_escaped_claims(void **state)
{
    (void)state;
    req_spec s = {"PATCH", NULL, "{\"n\":1}", {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    char e[44];
    edts_for("Authorization;uri;http-method;body", &b.r, e);
    char *p = payload_text(T0, T0 + 60, "Authorization;uri;http-method;bod\\u0079", e, "x\\u002d1");
    char *t = sign(HDR_OK, p);
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_OK);
    free(t);
    free(p);
    /* A leading zero is not JSON: refused, whatever the number. */
    p = payload_text(T0, T0 + 60, "Authorization;uri;http-method;body", e, "x-2");
    char *z = strstr(p, "\"iat\":");
    assert_non_null(z);
    memmove(z + 7, z + 6, strlen(z + 6) + 1);
    z[6] = '0';
    t = sign(HDR_OK, p);
    assert_int_equal(verify_at(t, &b.r, T0, NULL), TAAP_E_MALFORMED);
    free(t);
    free(p);
}

/* The signature must be exactly k bytes, and the verifier says so itself
 * (not only because the RSA check fails): one byte short, one byte long. */
static void test_signature_length(void **state)
{
    (void)state;
    req_spec s = {"GET", NULL, NULL, {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    char *t = token(HDR_OK, EHTS_GET, NULL, &b.r, T0, T0 + 60, "s-1");
    char *dot = strrchr(t, '.');
    assert_non_null(dot);
    unsigned char sig[1024];
    size_t n = 0;
    assert_int_equal(taap_b64url_decode(dot + 1, strlen(dot + 1), sig, &n), 0);
    assert_int_equal(n, g_key->sig_len);
    for (int delta = -1; delta <= 1; delta += 2) {
        size_t head = (size_t)(dot + 1 - t);
        char *bad = malloc(head + TAAP_B64URL_LEN(n + 1) + 1);
        assert_non_null(bad);
        memcpy(bad, t, head);
        sig[n] = 0;
        taap_b64url_encode(sig, (size_t)((long)n + delta), bad + head);
        taap_verify_config cfg;
        taap_verify_config_init(&cfg);
        int64_t now = T0;
        cfg.clock = clock_at;
        cfg.clock_ctx = &now;
        taap_error err = TAAP_ERROR_INIT;
        assert_int_equal(taap_verify(bad, strlen(bad), g_key, &b.r, &cfg, NULL, &err),
                         TAAP_E_SIGNATURE);
        char want[64];
        snprintf(want, sizeof want, "needs exactly %zu", n);
        if (!strstr(err.message, want))
            fail_msg("signature %+d byte: %s", delta, err.message);
        free(bad);
    }
    free(t);
}

/* v: exactly "1" or 1; no other spelling of one, no other version. */
static void test_v_values(void **state)
{
    (void)state;
    req_spec s = {"GET", NULL, NULL, {{0}}, 0};
    built_req b;
    build_req(&s, &b);
    char e[44];
    edts_for(EHTS_GET, &b.r, e);
    static const struct { const char *v; taap_code want; } rows[] = {
        {"\"1\"", TAAP_OK}, {"1", TAAP_OK},
        {"\"10\"", TAAP_E_CLAIMS}, {"\"1 \"", TAAP_E_CLAIMS}, {"\"01\"", TAAP_E_CLAIMS},
        {"\"\"", TAAP_E_CLAIMS}, {"10", TAAP_E_CLAIMS}, {"2", TAAP_E_CLAIMS},
        {"0", TAAP_E_CLAIMS}, {"true", TAAP_E_CLAIMS}, {"1.0", TAAP_E_CLAIMS},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char p[512];
        snprintf(p, sizeof p,
                 "{\"iat\":%lld,\"exp\":%lld,\"ehts\":\"%s\",\"edts\":\"%s\",\"jti\":\"v-%zu\","
                 "\"v\":%s}",
                 (long long)T0, (long long)T0 + 60, EHTS_GET, e, i, rows[i].v);
        char *t = sign(HDR_OK, p);
        if (verify_at(t, &b.r, T0, NULL) != rows[i].want)
            fail_msg("v %s: want %s", rows[i].v, taap_code_name(rows[i].want));
        free(t);
    }
}

static int setup(void **state)
{
    (void)state;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_key_load_private_file(tu_data("tmobile-lib-test-key.pem"), NULL, 0, &g_key,
                                              NULL, &err);
    if (rc != TAAP_OK)
        fprintf(stderr, "test key: %s\n", err.message);
    return rc == TAAP_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    taap_key_free(g_key);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_edts_one_character),
        cmocka_unit_test(test_pseudo_names_exact),
        cmocka_unit_test(test_alg_family),
        cmocka_unit_test(test_typ_values),
        cmocka_unit_test(test_lifetime_edges),
        cmocka_unit_test(test_percent_00),
        cmocka_unit_test(test_replay_inside_leeway),
        cmocka_unit_test(test_escaped_claims),
        cmocka_unit_test(test_v_values),
        cmocka_unit_test(test_signature_length),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
