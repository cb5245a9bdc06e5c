/* test_pop_build.c — the PoP builder (SPEC §1, §1.1): exact bytes, reference
 * edts values, refusals, default coverage, streamed bodies, and RS256
 * signing checked byte for byte against RFC 7515, RFC 7520 and Wycheproof. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "b64url.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/taap.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------- */

/* A taap_key straight from OpenSSL, so these tests exercise the builder and
 * rs256 alone (the key module has its own tests). */
static taap_key *key_from_pem(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    assert_non_null(bio);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(pk);
    taap_key *k = calloc(1, sizeof *k);
    assert_non_null(k);
    k->pkey = pk;
    k->is_private = 1;
    k->bits = (unsigned)EVP_PKEY_get_bits(pk);
    k->sig_len = (size_t)EVP_PKEY_get_size(pk);
    return k;
}

static taap_key *key_from_file(const char *path)
{
    size_t len;
    char *pem = tu_read(path, &len);
    taap_key *k = key_from_pem(pem, len);
    free(pem);
    return k;
}

static void key_drop(taap_key *k)
{
    if (k) {
        EVP_PKEY_free(k->pkey);
        free(k);
    }
}

static taap_key *tmobile_key(void)
{
    return key_from_file(tu_data("tmobile-lib-test-key.pem"));
}

static int64_t fixed_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* Decode one base64url segment [s, s+n) into a NUL-terminated buffer. */
static char *seg_decode(const char *s, size_t n, size_t *out_len)
{
    unsigned char *buf = malloc(n * 3 / 4 + 2);
    assert_non_null(buf);
    size_t len = 0;
    assert_int_equal(taap_b64url_decode(s, n, buf, &len), 0);
    buf[len] = '\0';
    if (out_len)
        *out_len = len;
    return (char *)buf;
}

typedef struct parts {
    char *header, *payload;
    unsigned char *sig;
    size_t sig_len;
    size_t input_len; /* length of "h.p" */
} parts;

static parts split_token(const char *tok)
{
    parts p;
    const char *d1 = strchr(tok, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    assert_null(strchr(d2 + 1, '.'));
    p.header = seg_decode(tok, (size_t)(d1 - tok), NULL);
    p.payload = seg_decode(d1 + 1, (size_t)(d2 - d1 - 1), NULL);
    p.sig = (unsigned char *)seg_decode(d2 + 1, strlen(d2 + 1), &p.sig_len);
    p.input_len = (size_t)(d2 - tok);
    return p;
}

static void parts_free(parts *p)
{
    free(p->header);
    free(p->payload);
    free(p->sig);
}

/* The signature checked with OpenSSL EVP directly, not through libtaap. */
static int evp_verifies(EVP_PKEY *pk, const char *tok)
{
    parts p = split_token(tok);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
    int ok = EVP_DigestVerify(md, p.sig, p.sig_len, (const unsigned char *)tok, p.input_len);
    EVP_MD_CTX_free(md);
    parts_free(&p);
    return ok == 1;
}

static const char *BODY = "{\"orderId\": 100, \"product\": \"Mobile Phone\"}";
static const char *AUTH = "Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS";

static taap_pop_entry E(const char *name, const char *value)
{
    taap_pop_entry e = {name, value, value ? strlen(value) : 0};
    return e;
}

/* ---- reference edts values (SPEC §1.1, taap-protocol.md §9.1) -------------- */

static void edts_is(const taap_pop_entry *e, size_t n, const char *want)
{
    char out[44];
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_edts(e, n, out, &err), TAAP_OK);
    assert_string_equal(out, want);
}

static void test_edts_reference(void **state)
{
    (void)state;
    taap_pop_entry a[] = {E("Content-Type", "application/json"), E("Authorization", AUTH),
                          E("uri", "/commerce/v1/orders"), E("http-method", "POST"),
                          E("body", BODY)};
    edts_is(a, 5, "afqGWAbSevTP2m38quBjC8pA2HcxZXG4zpFCPShTtSo");
    a[3] = E("http-method", "post");
    edts_is(a, 5, "FkGjQVYcngEdgyOkpbB1TUb6__czqbonpQVCsf5crwE");
    edts_is(a, 2, "HU4UY6q518IP6kvbJHMDsRmuJYbjWidKLXzQKW9GxWE");
    taap_pop_entry b[] = {E("Content-Type", "application/json"), E("uri", "/oauth2/v2/tokens"),
                          E("http-method", "POST")};
    edts_is(b, 3, "tpAdmPMl2Q_2fRUR4OEflknZQtyTYh_rKqV3yqbDZA0");
    taap_pop_entry c[] = {E("uri", "/commerce/v1/orders?account-number=0000000000"),
                          E("http-method", "GET")};
    edts_is(c, 2, "gCX7W7fBJlUjLdeFLAm7QQ_B9UpEnUGiob6CC-2-yA0");
    taap_pop_entry d[] = {E("body", "")};
    edts_is(d, 1, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    taap_pop_entry f[] = {E("body", "{\"name\":\"Jos\xc3\xa9\"}")};
    edts_is(f, 1, "AmTJtn5Gh_tut3XJUX-gKadforPgQdqBvYcDiF0TZHs");
    taap_pop_entry g[] = {E("body", "line1\nline2")};
    edts_is(g, 1, "aDN24pCCm0gsJlV0XK_6eh3M-hCvqmLawrQt1saND4M");
    /* Values are raw bytes, not strings: an embedded NUL is hashed. */
    taap_pop_entry h[] = {{"body", "a\0b", 3}};
    taap_pop_entry h2[] = {{"body", "a", 1}};
    char o1[44], o2[44];
    assert_int_equal(taap_pop_edts(h, 1, o1, NULL), TAAP_OK);
    assert_int_equal(taap_pop_edts(h2, 1, o2, NULL), TAAP_OK);
    assert_string_not_equal(o1, o2);
}

static taap_code build_req(const taap_key *k, const taap_request *req,
                           const taap_pop_options *opts, taap_pop_info *info, char **tok,
                           taap_error *err)
{
    return taap_pop_build_request(k, req, opts, tok, info, err);
}

static void test_request_reference(void **state)
{
    (void)state;
    taap_key *k = tmobile_key();
    taap_header hs[] = {{"Content-Type", "application/json"}, {"Authorization", AUTH}};
    taap_request r1 = {"POST", "https://api.t-mobile.com/commerce/v1/orders", hs, 2,
                       {TAAP_BODY_MEMORY, BODY, (int64_t)strlen(BODY), NULL, NULL, NULL}};
    taap_pop_info info;
    taap_error err = TAAP_ERROR_INIT;
    char *tok = NULL;
    assert_int_equal(build_req(k, &r1, NULL, &info, &tok, &err), TAAP_OK);
    assert_string_equal(info.ehts, "Content-Type;Authorization;uri;http-method;body");
    assert_string_equal(info.edts, "afqGWAbSevTP2m38quBjC8pA2HcxZXG4zpFCPShTtSo");
    assert_int_equal(info.exp - info.iat, 60);
    assert_true(evp_verifies(k->pkey, tok));
    free(tok);
    taap_pop_info_free(&info);
    assert_null(info.ehts);

    taap_request r2 = {"POST", "/oauth2/v2/tokens", hs, 1, {TAAP_BODY_NONE, 0, 0, 0, 0, 0}};
    assert_int_equal(build_req(k, &r2, NULL, &info, &tok, &err), TAAP_OK);
    assert_string_equal(info.ehts, "Content-Type;uri;http-method");
    assert_string_equal(info.edts, "tpAdmPMl2Q_2fRUR4OEflknZQtyTYh_rKqV3yqbDZA0");
    free(tok);
    taap_pop_info_free(&info);

    taap_request r3 = {"GET", "https://x/commerce/v1/orders?account-number=0000000000", NULL, 0,
                       {TAAP_BODY_NONE, 0, 0, 0, 0, 0}};
    assert_int_equal(build_req(k, &r3, NULL, &info, &tok, &err), TAAP_OK);
    assert_string_equal(info.ehts, "uri;http-method");
    assert_string_equal(info.edts, "gCX7W7fBJlUjLdeFLAm7QQ_B9UpEnUGiob6CC-2-yA0");
    free(tok);
    taap_pop_info_free(&info);
    key_drop(k);
}

/* ---- UUID v4 ----------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_uuid_v4_shape(void **state)
{
    (void)state;
    enum { N = 2000 };
    char(*ids)[37] = calloc(N, 37);
    assert_non_null(ids);
    int variant_seen[4] = {0};
    for (int i = 0; i < N; i++) {
        assert_int_equal(taap_uuid_v4(ids[i], NULL), TAAP_OK);
        const char *u = ids[i];
        assert_int_equal(strlen(u), 36);
        for (int j = 0; j < 36; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                assert_int_equal(u[j], '-');
            else
                assert_non_null(strchr("0123456789abcdef", u[j]));
        }
        assert_int_equal(u[14], '4');
        const char *v = strchr("89ab", u[19]);
        assert_non_null(v);
        variant_seen[v - "89ab"]++;
    }
    /* All four variant nibbles occur (the other bits are random), and no two
     * draws are equal. */
    for (int j = 0; j < 4; j++)
        assert_true(variant_seen[j] > 0);
    qsort(ids, N, 37, cmp_str);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

/* ---- exact bytes ----------------------------------------------------------- */

/* taap-protocol.md §9.3: T-Mobile's published test key, fixed iat and jti. */
static const char V1[] =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDEyMCwiZWh0cyI6IkNvbnRlbnQtVHlwZTtBdXRob3JpemF0aW9u"
    "O3VyaTtodHRwLW1ldGhvZDtib2R5IiwiZWR0cyI6ImFmcUdXQWJTZXZUUDJtMzhxdUJqQzhwQTJIY3haWEc0enBGQ1BT"
    "aFR0U28iLCJqdGkiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJ2IjoiMSJ9."
    "OSx0UfGj__I26SGGU1_dyRxMl9cwG1oyv7TXM8YNRTRq2sA57oYhs_kriqdK0rCcswzVipsZQXigNfnSqXZTzA0lmHlTb"
    "okX8gJ7w5U8PB6m99Xu0QetJzSy3_z7V3_i3aVTOOJ5qU18dt9xKqRmSO9lLe3Rqjd67m_ISnOE3zLzhoVE3Caqbk25e"
    "glG40-J-WAdZymCu39tjSlpvopMOtCbgBL_Cp0Jybahi9Cy1Wv6w2atX7ggeVWPDqgHqC3dC5Dg34quDsErkPlCSwC7zo"
    "ucHgOKoSbupd_hPze59guKS6DYirTE_xmqDpTu-FA84EQGpvgXwU_VTMgfTkDQYg";

static void test_v1_byte_for_byte(void **state)
{
    (void)state;
    taap_key *k = tmobile_key();
    int64_t now = 1700000000;
    taap_pop_options o;
    taap_pop_options_init(&o);
    assert_int_equal(o.lifetime, 60);
    o.lifetime = 120;
    o.clock = fixed_clock;
    o.clock_ctx = &now;
    o.jti = "00000000-0000-4000-8000-000000000000";
    taap_pop_entry e[] = {E("Content-Type", "application/json"), E("Authorization", AUTH),
                          E("uri", "/commerce/v1/orders"), E("http-method", "POST"),
                          E("body", BODY)};
    char *tok = NULL;
    taap_pop_info info;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_build(k, e, 5, &o, &tok, &info, &err), TAAP_OK);
    assert_string_equal(tok, V1);
    assert_int_equal(info.iat, 1700000000);
    assert_int_equal(info.exp, 1700000120);
    assert_string_equal(info.jti, "00000000-0000-4000-8000-000000000000");
    free(tok);
    taap_pop_info_free(&info);

    /* The same token from the request form of the builder. */
    taap_header hs[] = {{"Content-Type", "application/json"}, {"Authorization", AUTH},
                        {"X-Authorization", "never signed"}};
    taap_request req = {"POST", "https://api.t-mobile.com/commerce/v1/orders", hs, 3,
                        {TAAP_BODY_MEMORY, BODY, (int64_t)strlen(BODY), NULL, NULL, NULL}};
    assert_int_equal(taap_pop_build_request(k, &req, &o, &tok, NULL, &err), TAAP_OK);
    assert_string_equal(tok, V1);
    free(tok);
    key_drop(k);
}

static void test_exact_header_and_payload(void **state)
{
    (void)state;
    taap_key *k = key_from_file(tu_shared("conformance/rfc7515-a2/rfc7515-a2.pkcs8.pem"));
    int64_t now = 1234567890;
    taap_pop_options o = {0}; /* zero = defaults: lifetime 60 */
    o.clock = fixed_clock;
    o.clock_ctx = &now;
    o.jti = "a\"b\\c\x01\n\xc3\xa9";
    /* "URI" is a header name here, not the pseudo-name. */
    taap_pop_entry e[] = {E("URI", "x"), E("X-Q", "/p?q=1"), E("http-method", "GET")};
    char *tok = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_build(k, e, 3, &o, &tok, NULL, &err), TAAP_OK);
    parts p = split_token(tok);
    assert_string_equal(p.header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    char edts[44];
    assert_int_equal(taap_pop_edts(e, 3, edts, NULL), TAAP_OK);
    char want[512];
    snprintf(want, sizeof want,
             "{\"iat\":1234567890,\"exp\":1234567950,\"ehts\":\"URI;X-Q;http-method\","
             "\"edts\":\"%s\",\"jti\":\"a\\\"b\\\\c\\u0001\\n\xc3\xa9\",\"v\":\"1\"}",
             edts);
    assert_string_equal(p.payload, want);
    /* A strict JSON parser reads the jti back unchanged. */
    json_error_t jerr;
    json_t *j = json_loads(p.payload, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "jti")), o.jti);
    json_decref(j);
    assert_int_equal(p.sig_len, 256);
    parts_free(&p);
    assert_true(evp_verifies(k->pkey, tok));
    /* One flipped bit in the payload and the signature no longer verifies. */
    char *bad = strdup(tok);
    assert_non_null(bad);
    char *dot = strchr(bad, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    assert_false(evp_verifies(k->pkey, bad));
    free(bad);
    free(tok);
    key_drop(k);
}

/* Long ehts names take the heap path for the payload. */
static void test_large_payload(void **state)
{
    (void)state;
    taap_key *k = tmobile_key();
    enum { N = 100 };
    char names[N][80];
    taap_pop_entry e[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "X-Long-Header-Name-Number-%03d-padding-padding-padding",
                 i);
        e[i] = E(names[i], "v");
    }
    char *tok = NULL;
    taap_pop_info info;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_build(k, e, N, NULL, &tok, &info, &err), TAAP_OK);
    assert_int_equal(strlen(info.ehts), N * strlen(names[0]) + N - 1);
    assert_int_equal(strncmp(info.ehts, names[0], strlen(names[0])), 0);
    parts p = split_token(tok);
    json_t *j = json_loads(p.payload, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "ehts")), info.ehts);
    assert_string_equal(json_string_value(json_object_get(j, "jti")), info.jti);
    assert_string_equal(json_string_value(json_object_get(j, "v")), "1");
    json_decref(j);
    parts_free(&p);
    assert_true(evp_verifies(k->pkey, tok));
    free(tok);
    taap_pop_info_free(&info);
    key_drop(k);
}

/* ---- RS256 byte for byte --------------------------------------------------- */

static void rfc_vector(const char *dir, const char *pem)
{
    char path[512];
    snprintf(path, sizeof path, "conformance/%s/%s", dir, pem);
    taap_key *k = key_from_file(tu_shared(path));
    snprintf(path, sizeof path, "conformance/%s/signing_input.txt", dir);
    size_t in_len, sig_len;
    char *input = tu_read(tu_shared(path), &in_len);
    snprintf(path, sizeof path, "conformance/%s/signature.bin", dir);
    char *want = tu_read(tu_shared(path), &sig_len);
    assert_int_equal(sig_len, k->sig_len);
    unsigned char sig[1024];
    assert_int_equal(rs256_sign(k, input, in_len, sig, NULL), TAAP_OK);
    assert_memory_equal(sig, want, sig_len);
    assert_int_equal(rs256_verify(k, input, in_len, sig, sig_len, NULL), TAAP_OK);
    free(input);
    free(want);
    key_drop(k);
}

static void test_rfc7515_a2(void **state)
{
    (void)state;
    rfc_vector("rfc7515-a2", "rfc7515-a2.pkcs8.pem");
}

static void test_rfc7520_4_1(void **state)
{
    (void)state;
    rfc_vector("rfc7520-4.1", "rfc7520-4.1.pkcs8.pem");
}

static unsigned char *hex_decode(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    unsigned char *b = malloc(n / 2 + 1);
    assert_non_null(b);
    for (size_t i = 0; i < n / 2; i++) {
        char t[3] = {hex[2 * i], hex[2 * i + 1], 0};
        char *end;
        b[i] = (unsigned char)strtoul(t, &end, 16);
        assert_true(*end == '\0');
    }
    *len = n / 2;
    return b;
}

static void test_wycheproof_sig_gen(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *root = json_load_file(
        tu_shared("conformance/wycheproof/testvectors_v1/rsa_pkcs1_2048_sig_gen_test.json"), 0,
        &jerr);
    assert_non_null(root);
    size_t gi, done = 0;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "sha")), "SHA-256") != 0)
            continue;
        const char *pem = json_string_value(json_object_get(g, "privateKeyPem"));
        assert_non_null(pem);
        taap_key *k = key_from_pem(pem, strlen(pem));
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            const char *res = json_string_value(json_object_get(t, "result"));
            size_t mlen, slen;
            unsigned char *msg = hex_decode(json_string_value(json_object_get(t, "msg")), &mlen);
            unsigned char *want = hex_decode(json_string_value(json_object_get(t, "sig")), &slen);
            unsigned char sig[1024];
            taap_code rc = rs256_sign(k, mlen ? (const void *)msg : "", mlen, sig, NULL);
            if (strcmp(res, "invalid") != 0) {
                assert_int_equal(rc, TAAP_OK);
                assert_int_equal(slen, k->sig_len);
                assert_memory_equal(sig, want, slen);
                done++;
            }
            free(msg);
            free(want);
        }
        key_drop(k);
    }
    json_decref(root);
    assert_true(done >= 8); /* the file has 10 SHA-256 signing cases */
}

/* ---- refusals -------------------------------------------------------------- */

static void refused(const taap_key *k, const taap_pop_entry *e, size_t n,
                    const taap_pop_options *o, taap_code want, const char *needle)
{
    char *tok = (char *)"untouched";
    taap_error err = TAAP_ERROR_INIT;
    taap_pop_info info;
    assert_int_equal(taap_pop_build(k, e, n, o, &tok, &info, &err), want);
    assert_int_equal(err.code, want);
    assert_null(tok);
    assert_null(info.ehts);
    if (needle && !strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_refusals(void **state)
{
    (void)state;
    taap_key *k = tmobile_key();
    taap_pop_entry ok1[] = {E("uri", "/")};
    refused(k, ok1, 0, NULL, TAAP_E_BUILD_EMPTY, "at least one");

    taap_pop_entry many[101];
    char names[101][24];
    for (int i = 0; i < 101; i++) {
        snprintf(names[i], sizeof names[i], "ehts-key-%d", i);
        many[i] = E(names[i], "v");
    }
    refused(k, many, 101, NULL, TAAP_E_BUILD_TOO_MANY, "101");
    char *tok = NULL;
    assert_int_equal(taap_pop_build(k, many, 100, NULL, &tok, NULL, NULL), TAAP_OK);
    free(tok);

    taap_pop_entry empty_name[] = {E("uri", "/"), E("", "x")};
    refused(k, empty_name, 2, NULL, TAAP_E_BUILD_EMPTY_NAME, "entry 2");
    taap_pop_entry null_name[] = {E(NULL, "x")};
    refused(k, null_name, 1, NULL, TAAP_E_BUILD_EMPTY_NAME, "entry 1");
    taap_pop_entry space[] = {E("Foo Bar", "x")};
    refused(k, space, 1, NULL, TAAP_E_BUILD_BAD_NAME, "'Foo Bar'");
    taap_pop_entry colon[] = {E("Host:", "x")};
    refused(k, colon, 1, NULL, TAAP_E_BUILD_BAD_NAME, "Host:");
    taap_pop_entry ctl[] = {E("A\nB", "x")};
    refused(k, ctl, 1, NULL, TAAP_E_BUILD_BAD_NAME, "'A?B'"); /* never echoed raw */
    taap_pop_entry semi[] = {E("a;b", "x")};
    refused(k, semi, 1, NULL, TAAP_E_BUILD_SEMICOLON, "'a;b'");
    taap_pop_entry dup[] = {E("Content-Type", "a"), E("uri", "/"), E("content-type", "b")};
    refused(k, dup, 3, NULL, TAAP_E_BUILD_DUPLICATE, "'content-type'");
    taap_pop_entry dup2[] = {E("body", "a"), E("Body", "b")};
    refused(k, dup2, 2, NULL, TAAP_E_BUILD_DUPLICATE, "entry 1");
    /* "URI" is a header name (a token), not the pseudo-name: allowed. */
    taap_pop_entry upper[] = {E("URI", "a"), E("Http-Method", "b")};
    assert_int_equal(taap_pop_build(k, upper, 2, NULL, &tok, NULL, NULL), TAAP_OK);
    free(tok);
    taap_pop_entry nullval[] = {{"uri", NULL, 3}};
    refused(k, nullval, 1, NULL, TAAP_E_USAGE, "NULL value");

    taap_pop_options o;
    taap_pop_options_init(&o);
    o.lifetime = 121;
    refused(k, ok1, 1, &o, TAAP_E_BUILD_LIFETIME, "121");
    o.lifetime = 120;
    assert_int_equal(taap_pop_build(k, ok1, 1, &o, &tok, NULL, NULL), TAAP_OK);
    free(tok);
    o.lifetime = 1;
    taap_pop_info info;
    assert_int_equal(taap_pop_build(k, ok1, 1, &o, &tok, &info, NULL), TAAP_OK);
    assert_int_equal(info.exp - info.iat, 1);
    free(tok);
    taap_pop_info_free(&info);

    taap_pop_options_init(&o);
    o.jti = "";
    refused(k, ok1, 1, &o, TAAP_E_USAGE, "jti");
    char long_jti[258];
    memset(long_jti, 'j', 257);
    long_jti[257] = '\0';
    o.jti = long_jti;
    refused(k, ok1, 1, &o, TAAP_E_USAGE, "257");
    long_jti[256] = '\0';
    assert_int_equal(taap_pop_build(k, ok1, 1, &o, &tok, &info, NULL), TAAP_OK);
    assert_string_equal(info.jti, long_jti);
    free(tok);
    taap_pop_info_free(&info);
    o.jti = "bad\xc3(utf8";
    refused(k, ok1, 1, &o, TAAP_E_USAGE, "UTF-8");
    o.jti = "trunc\xe2\x82";
    refused(k, ok1, 1, &o, TAAP_E_USAGE, "UTF-8");
    o.jti = "surrogate\xed\xa0\x80";
    refused(k, ok1, 1, &o, TAAP_E_USAGE, "UTF-8");

    int64_t neg = -5;
    taap_pop_options_init(&o);
    o.clock = fixed_clock;
    o.clock_ctx = &neg;
    refused(k, ok1, 1, &o, TAAP_E_USAGE, "clock");

    /* A public key cannot sign. */
    k->is_private = 0;
    refused(k, ok1, 1, NULL, TAAP_E_KEY, "private key");
    k->is_private = 1;
    refused(NULL, ok1, 1, NULL, TAAP_E_USAGE, "key");
    key_drop(k);
}

/* ---- default coverage ------------------------------------------------------ */

static void coverage_is(const taap_key *k, const taap_request *req, const taap_pop_options *o,
                        const char *want_ehts, const taap_pop_entry *same, size_t n_same)
{
    char *tok = NULL;
    taap_pop_info info;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_pop_build_request(k, req, o, &tok, &info, &err);
    if (rc != TAAP_OK)
        fail_msg("build failed: %s", err.message);
    assert_string_equal(info.ehts, want_ehts);
    char edts[44];
    assert_int_equal(taap_pop_edts(same, n_same, edts, NULL), TAAP_OK);
    assert_string_equal(info.edts, edts);
    parts p = split_token(tok);
    assert_non_null(strstr(p.payload, want_ehts));
    parts_free(&p);
    free(tok);
    taap_pop_info_free(&info);
}

static void req_refused(const taap_key *k, const taap_request *req, const taap_pop_options *o,
                        taap_code want, const char *needle)
{
    char *tok = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_build_request(k, req, o, &tok, NULL, &err), want);
    assert_null(tok);
    if (needle && !strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_default_coverage(void **state)
{
    (void)state;
    taap_key *k = tmobile_key();
    taap_body none = {TAAP_BODY_NONE, 0, 0, 0, 0, 0};
    taap_body empty = {TAAP_BODY_MEMORY, "", 0, 0, 0, 0};
    taap_body body = {TAAP_BODY_MEMORY, "{}", 2, 0, 0, 0};

    /* Nothing but the request line. */
    taap_header accept[] = {{"Accept", "application/json"}};
    taap_request r = {"GET", "https://h/a?b=%41", accept, 1, none};
    taap_pop_entry e1[] = {E("uri", "/a?b=A"), E("http-method", "GET")};
    coverage_is(k, &r, NULL, "uri;http-method", e1, 2);
    r.body = empty; /* an empty body is left out (SPEC §1.1) */
    coverage_is(k, &r, NULL, "uri;http-method", e1, 2);

    /* Authorization only; the name as sent, value trimmed. */
    taap_header auth[] = {{"authorization", "  Bearer abc "}, {"X-Authorization", "old"}};
    taap_request r2 = {"PATCH", "/x", auth, 2, body};
    taap_pop_entry e2[] = {E("authorization", "Bearer abc"), E("uri", "/x"),
                           E("http-method", "PATCH"), E("body", "{}")};
    coverage_is(k, &r2, NULL, "authorization;uri;http-method;body", e2, 4);

    /* Content-Type + Authorization + body, with extras and removals. */
    taap_header all[] = {{"Accept", "*/*"},
                         {"Authorization", "Basic dXNlcjpwYXNz"},
                         {"Content-Type", "application/json"},
                         {"X-Request-Id", "42"}};
    taap_request r3 = {"POST", "/oauth2/v6/tokens", all, 4, body};
    taap_pop_entry e3[] = {E("Content-Type", "application/json"),
                           E("Authorization", "Basic dXNlcjpwYXNz"), E("uri", "/oauth2/v6/tokens"),
                           E("http-method", "POST"), E("body", "{}")};
    coverage_is(k, &r3, NULL, "Content-Type;Authorization;uri;http-method;body", e3, 5);

    taap_pop_options o;
    taap_pop_options_init(&o);
    const char *extra[] = {"x-request-id", "Accept", "content-type"};
    o.sign_headers = extra;
    o.n_sign_headers = 3;
    taap_pop_entry e4[] = {E("Content-Type", "application/json"),
                           E("Authorization", "Basic dXNlcjpwYXNz"),
                           E("uri", "/oauth2/v6/tokens"),
                           E("http-method", "POST"),
                           E("body", "{}"),
                           E("X-Request-Id", "42"),
                           E("Accept", "*/*")};
    /* Extras in the given order, spelled as sent; one already covered is
     * not added twice. */
    coverage_is(k, &r3, &o, "Content-Type;Authorization;uri;http-method;body;X-Request-Id;Accept",
                e4, 7);

    const char *drop[] = {"AUTHORIZATION", "body", "X-Not-There"};
    taap_pop_options_init(&o);
    o.no_sign_headers = drop;
    o.n_no_sign_headers = 3;
    taap_pop_entry e5[] = {E("Content-Type", "application/json"), E("uri", "/oauth2/v6/tokens"),
                           E("http-method", "POST")};
    coverage_is(k, &r3, &o, "Content-Type;uri;http-method", e5, 3);

    /* Removing then adding back puts the header at the end. */
    const char *back[] = {"Authorization"};
    o.no_sign_headers = back;
    o.n_no_sign_headers = 1;
    o.sign_headers = back;
    o.n_sign_headers = 1;
    taap_pop_entry e6[] = {E("Content-Type", "application/json"), E("uri", "/oauth2/v6/tokens"),
                           E("http-method", "POST"), E("body", "{}"),
                           E("Authorization", "Basic dXNlcjpwYXNz")};
    coverage_is(k, &r3, &o, "Content-Type;uri;http-method;body;Authorization", e6, 5);

    /* Signing an empty body on request (some gateways want body always). */
    const char *want_body[] = {"body"};
    taap_pop_options_init(&o);
    o.sign_headers = want_body;
    o.n_sign_headers = 1;
    r.body = none;
    taap_pop_entry e7[] = {E("uri", "/a?b=A"), E("http-method", "GET"), E("body", "")};
    coverage_is(k, &r, &o, "uri;http-method;body", e7, 3);

    /* Refusals. */
    const char *xa[] = {"x-authorization"};
    o.sign_headers = xa;
    req_refused(k, &r2, &o, TAAP_E_BUILD_BAD_NAME, "never signed");
    const char *missing[] = {"X-Missing"};
    o.sign_headers = missing;
    req_refused(k, &r2, &o, TAAP_E_BUILD_BAD_NAME, "'X-Missing'");
    const char *badname[] = {"Bad Name"};
    o.sign_headers = badname;
    req_refused(k, &r2, &o, TAAP_E_BUILD_BAD_NAME, "'Bad Name'");
    const char *semi[] = {"a;b"};
    o.sign_headers = semi;
    req_refused(k, &r2, &o, TAAP_E_BUILD_SEMICOLON, "'a;b'");
    const char *emptyname[] = {""};
    o.sign_headers = emptyname;
    req_refused(k, &r2, &o, TAAP_E_BUILD_EMPTY_NAME, "empty");

    /* A signed header sent twice is ambiguous. */
    taap_header twice[] = {{"Content-Type", "a"}, {"content-type", "b"}};
    taap_request r4 = {"POST", "/x", twice, 2, body};
    req_refused(k, &r4, NULL, TAAP_E_BUILD_BAD_NAME, "more than once");

    /* More than 100 parts in total. */
    taap_header hs[120];
    char hn[120][16];
    const char *names[120];
    for (int i = 0; i < 120; i++) {
        snprintf(hn[i], sizeof hn[i], "X-H-%d", i);
        hs[i].name = hn[i];
        hs[i].value = "v";
        names[i] = hn[i];
    }
    taap_request r5 = {"GET", "/", hs, 120, none};
    taap_pop_options_init(&o);
    o.sign_headers = names;
    o.n_sign_headers = 98; /* + uri + http-method = 100: fine */
    char *tok = NULL;
    assert_int_equal(taap_pop_build_request(k, &r5, &o, &tok, NULL, NULL), TAAP_OK);
    free(tok);
    o.n_sign_headers = 99;
    req_refused(k, &r5, &o, TAAP_E_BUILD_TOO_MANY, "101");

    taap_request r6 = {"", "/", NULL, 0, none};
    req_refused(k, &r6, NULL, TAAP_E_USAGE, "method");
    taap_request r7 = {"GET", "", NULL, 0, none};
    req_refused(k, &r7, NULL, TAAP_E_USAGE, "URL");
    taap_body nofile = {TAAP_BODY_FILE, 0, 0, "/nonexistent/body.json", 0, 0};
    taap_request r8 = {"POST", "/", NULL, 0, nofile};
    req_refused(k, &r8, NULL, TAAP_E_IO, "/nonexistent/body.json");
    key_drop(k);
}

/* ---- streamed bodies ------------------------------------------------------- */

static void test_file_body_streamed(void **state)
{
    (void)state;
    taap_key *k = tmobile_key();
    enum { SIZE = 5 * 1024 * 1024 };
    unsigned char *data = malloc(SIZE);
    assert_non_null(data);
    uint32_t x = 12345;
    for (size_t i = 0; i < SIZE; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 24);
    }
    char *dir = tu_tempdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/body.bin", dir);
    tu_write(path, data, SIZE);

    taap_header hs[] = {{"Content-Type", "application/octet-stream"}};
    taap_request mem = {"PUT", "/upload", hs, 1, {TAAP_BODY_MEMORY, data, SIZE, 0, 0, 0}};
    taap_request file = {"PUT", "/upload", hs, 1, {TAAP_BODY_FILE, 0, 0, path, 0, 0}};
    taap_pop_info a, b;
    char *t1 = NULL, *t2 = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_build_request(k, &mem, NULL, &t1, &a, &err), TAAP_OK);
    assert_int_equal(taap_pop_build_request(k, &file, NULL, &t2, &b, &err), TAAP_OK);
    assert_string_equal(a.ehts, "Content-Type;uri;http-method;body");
    assert_string_equal(a.ehts, b.ehts);
    assert_string_equal(a.edts, b.edts);
    /* And it is the hash of the bytes, not of something else. */
    taap_pop_entry e[] = {E("Content-Type", "application/octet-stream"), E("uri", "/upload"),
                          E("http-method", "PUT"), {"body", data, SIZE}};
    char edts[44];
    assert_int_equal(taap_pop_edts(e, 4, edts, NULL), TAAP_OK);
    assert_string_equal(b.edts, edts);
    free(t1);
    free(t2);
    taap_pop_info_free(&a);
    taap_pop_info_free(&b);
    /* An empty file is an empty body: left out. */
    snprintf(path, sizeof path, "%s/empty.bin", dir);
    tu_write(path, "", 0);
    assert_int_equal(taap_pop_build_request(k, &file, NULL, &t1, &a, &err), TAAP_OK);
    assert_string_equal(a.ehts, "Content-Type;uri;http-method");
    free(t1);
    taap_pop_info_free(&a);
    tu_rmtree(dir);
    free(dir);
    free(data);
    key_drop(k);
}

typedef struct reader {
    const char *data;
    size_t len, pos, chunk;
    int fail_at_end;
} reader;

static ssize_t read_cb(void *ctx, void *buf, size_t cap)
{
    reader *r = ctx;
    if (r->pos == r->len)
        return r->fail_at_end ? -1 : 0;
    size_t n = r->len - r->pos;
    if (n > r->chunk)
        n = r->chunk;
    if (n > cap)
        n = cap;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    return (ssize_t)n;
}

static void test_callback_body(void **state)
{
    (void)state;
    taap_key *k = tmobile_key();
    const char *text = "{\"status\":\"SUSPENDED\",\"note\":\"streamed in 3-byte pieces\"}";
    reader rd = {text, strlen(text), 0, 3, 0};
    /* Unknown length (-1): counted as non-empty and hashed as a stream. */
    taap_request req = {"PATCH", "/iot-connectivity/v1/devices/8901260000000000000", NULL, 0,
                        {TAAP_BODY_CALLBACK, NULL, -1, NULL, read_cb, &rd}};
    taap_pop_entry e[] = {E("uri", "/iot-connectivity/v1/devices/8901260000000000000"),
                          E("http-method", "PATCH"), E("body", text)};
    coverage_is(k, &req, NULL, "uri;http-method;body", e, 3);
    assert_int_equal(rd.pos, rd.len);

    /* A known length of 0 means no body. */
    rd.pos = 0;
    req.body.len = 0;
    coverage_is(k, &req, NULL, "uri;http-method", e, 2);
    assert_int_equal(rd.pos, 0); /* and nothing was read */

    /* A failing reader fails the build. */
    rd.pos = 0;
    rd.fail_at_end = 1;
    req.body.len = -1;
    req_refused(k, &req, NULL, TAAP_E_IO, "callback");
    key_drop(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edts_reference),
        cmocka_unit_test(test_request_reference),
        cmocka_unit_test(test_uuid_v4_shape),
        cmocka_unit_test(test_v1_byte_for_byte),
        cmocka_unit_test(test_exact_header_and_payload),
        cmocka_unit_test(test_large_payload),
        cmocka_unit_test(test_rfc7515_a2),
        cmocka_unit_test(test_rfc7520_4_1),
        cmocka_unit_test(test_wycheproof_sig_gen),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_default_coverage),
        cmocka_unit_test(test_file_body_streamed),
        cmocka_unit_test(test_callback_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
