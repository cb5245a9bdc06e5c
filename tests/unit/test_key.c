/* test_key.c — the key module: every accepted format (SPEC §3), the key
 * policy (SPEC §2.4) with one test per refusal, passphrase outcomes, paste
 * mistakes, output forms and round trips. Keys: tests/data/keys (made with
 * the openssl CLI, see README there) and the RFC 7515 / RFC 7520 / T-Mobile
 * vectors in ../shared/conformance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "b64url.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/taap.h"
#include "testutil.h"

#define PASS "foobar"

/* ---- helpers ------------------------------------------------------------ */

static taap_code load_priv(const char *path, const char *pass, unsigned flags, taap_key **k,
                           taap_error *err)
{
    size_t len = 0;
    char *buf = tu_read(path, &len);
    taap_code rc = taap_key_load_private(buf, len, pass, flags, k, err);
    free(buf);
    return rc;
}

static taap_code load_pub(const char *path, taap_key **k, taap_error *err)
{
    size_t len = 0;
    char *buf = tu_read(path, &len);
    taap_code rc = taap_key_load_public(buf, len, k, err);
    free(buf);
    return rc;
}

static void fingerprint_of_public(const char *path, unsigned char fp[32])
{
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (load_pub(path, &k, &err) != TAAP_OK)
        fail_msg("%s: %s", path, err.message);
    taap_key_fingerprint(k, fp);
    taap_key_free(k);
}

/* Load `rel` (under tests/data/keys) as a private key and check it is the
 * rsa2048 test key. */
static void private_ok(const char *rel, const char *pass, unsigned flags)
{
    unsigned char want[32], got[32];
    fingerprint_of_public(tu_data("keys/rsa2048.spki.pem"), want);
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_data(rel));
    if (load_priv(path, pass, flags, &k, &err) != TAAP_OK)
        fail_msg("%s: %s", rel, err.message);
    assert_true(taap_key_is_private(k));
    assert_int_equal(taap_key_bits(k), 2048);
    taap_key_fingerprint(k, got);
    assert_memory_equal(got, want, 32);
    taap_key_free(k);
}

static void public_ok(const char *path, const char *spki_path)
{
    unsigned char want[32], got[32];
    fingerprint_of_public(spki_path, want);
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (load_pub(path, &k, &err) != TAAP_OK)
        fail_msg("%s: %s", path, err.message);
    assert_false(taap_key_is_private(k));
    taap_key_fingerprint(k, got);
    assert_memory_equal(got, want, 32);
    taap_key_free(k);
}

/* Expect a failure with `code` whose message contains `needle`. */
static void expect_fail(taap_code rc, const taap_error *err, taap_code code, const char *needle)
{
    if (rc != code)
        fail_msg("expected %s, got %s: %s", taap_code_name(code), taap_code_name(rc), err->message);
    assert_int_equal(err->code, code);
    if (needle && !strstr(err->message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err->message, needle);
}

static void priv_fails(const char *rel, const char *pass, unsigned flags, taap_code code,
                       const char *needle)
{
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_data(rel));
    expect_fail(load_priv(path, pass, flags, &k, &err), &err, code, needle);
    assert_null(k);
}

static void pub_mem_fails(const char *text, size_t len, const char *needle)
{
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    expect_fail(taap_key_load_public(text, len, &k, &err), &err, TAAP_E_KEY, needle);
    assert_null(k);
}

static void pub_fails(const char *rel, const char *needle)
{
    size_t len = 0;
    char *buf = tu_read(tu_data(rel), &len);
    pub_mem_fails(buf, len, needle);
    free(buf);
}

/* ---- private key formats ------------------------------------------------- */

static void test_private_plain_formats(void **state)
{
    (void)state;
    private_ok("keys/rsa2048.pkcs8.pem", NULL, 0);
    private_ok("keys/rsa2048.pkcs1.pem", NULL, 0);
    private_ok("keys/rsa2048.pkcs8.der", NULL, 0);
    private_ok("keys/rsa2048.pkcs1.der", NULL, 0);
    /* A passphrase given for a plain key is simply not needed. */
    private_ok("keys/rsa2048.pkcs8.pem", "unused", 0);
}

static void test_private_pem_layouts(void **state)
{
    (void)state;
    private_ok("keys/rsa2048.pkcs8.crlf.pem", NULL, 0);
    private_ok("keys/rsa2048.pkcs8.oneline.pem", NULL, 0);
    private_ok("keys/rsa2048.pkcs8.ws.pem", NULL, 0);
    private_ok("keys/rsa2048.pbes2.oneline.pem", PASS, 0);
    private_ok("keys/rsa2048.pkcs1-aes256.oneline.pem", PASS, 0);
}

static void test_private_encrypted(void **state)
{
    (void)state;
    static const char *const files[] = {"keys/rsa2048.pbes2.pem", "keys/rsa2048.pbes2.der",
                                        "keys/rsa2048.pkcs1-aes256.pem", "keys/rsa2048.pkcs1-des3.pem"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        private_ok(files[i], PASS, 0);
        priv_fails(files[i], NULL, 0, TAAP_E_NEED_PASSPHRASE, "a passphrase is needed");
        priv_fails(files[i], "wrong", 0, TAAP_E_BAD_PASSPHRASE, "wrong passphrase");
        priv_fails(files[i], "", 0, TAAP_E_BAD_PASSPHRASE, "wrong passphrase");
    }
}

static void test_private_legacy_pbes1(void **state)
{
    (void)state;
    const char *f = "keys/rsa2048.pbes1-md5-des.pem";
    /* Without permission: refused with a way out, even with the right passphrase. */
    priv_fails(f, PASS, 0, TAAP_E_KEY, "legacy");
    priv_fails(f, PASS, 0, TAAP_E_KEY, "TAAP_KEY_ALLOW_LEGACY");
    priv_fails(f, NULL, 0, TAAP_E_NEED_PASSPHRASE, "pbeWithMD5AndDES-CBC");
    private_ok(f, PASS, TAAP_KEY_ALLOW_LEGACY);
    priv_fails(f, "wrong", TAAP_KEY_ALLOW_LEGACY, TAAP_E_BAD_PASSPHRASE, "wrong passphrase");
    priv_fails(f, NULL, TAAP_KEY_ALLOW_LEGACY, TAAP_E_NEED_PASSPHRASE, NULL);
    /* Asking for legacy once does not make modern keys fail afterwards. */
    private_ok("keys/rsa2048.pbes2.pem", PASS, 0);
    private_ok("keys/rsa2048.pbes2.pem", PASS, TAAP_KEY_ALLOW_LEGACY);
}

static void test_private_needs_private(void **state)
{
    (void)state;
    priv_fails("keys/rsa2048.spki.pem", NULL, 0, TAAP_E_KEY, "this is a public key, a private key is needed");
    priv_fails("keys/rsa2048.rsapub.pem", NULL, 0, TAAP_E_KEY, "BEGIN RSA PUBLIC KEY");
    priv_fails("keys/rsa2048.spki.der", NULL, 0, TAAP_E_KEY, "this is a public key");
    priv_fails("keys/rsa2048.cert.pem", NULL, 0, TAAP_E_KEY, "certificate");
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    size_t len;
    char *jwk = tu_read(tu_shared("conformance/rfc7520-4.1/jwk.json"), &len);
    /* rfc7520's jwk.json is public only (the private one is the cookbook file). */
    if (!strstr(jwk, "\"d\"")) {
        expect_fail(taap_key_load_private(jwk, len, NULL, 0, &k, &err), &err, TAAP_E_KEY,
                    "private key is needed");
    }
    free(jwk);
}

/* ---- conformance keys: every form of one key is the same key ------------- */

static void conformance_set(const char *dir)
{
    char spki[512], path[512];
    snprintf(spki, sizeof spki, "%s", tu_shared(dir));
    strncat(spki, ".spki.pem", sizeof spki - strlen(spki) - 1);
    static const char *const priv_forms[] = {".pkcs8.pem", ".pkcs1.pem"};
    static const char *const pub_forms[] = {".spki.pem", ".rsapub.pem", ".pkcs8.pem", ".pkcs1.pem"};
    unsigned char want[32], got[32];
    fingerprint_of_public(spki, want);
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s%s", tu_shared(dir), priv_forms[i]);
        taap_key *k = NULL;
        taap_error err = TAAP_ERROR_INIT;
        if (load_priv(path, NULL, 0, &k, &err) != TAAP_OK)
            fail_msg("%s: %s", path, err.message);
        taap_key_fingerprint(k, got);
        assert_memory_equal(got, want, 32);
        /* The public half written out is byte for byte the SPKI file. */
        char *pem = NULL;
        assert_int_equal(taap_key_public_pem(k, &pem, &err), TAAP_OK);
        char *file = tu_read(spki, NULL);
        assert_string_equal(pem, file);
        free(file);
        taap_key_free_pem(pem);
        taap_key_free(k);
    }
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s%s", tu_shared(dir), pub_forms[i]);
        public_ok(path, spki);
    }
}

static void test_conformance_rfc7515(void **state)
{
    (void)state;
    conformance_set("conformance/rfc7515-a2/rfc7515-a2");
    /* The RFC's JWK (it carries d, p, q, …) as a public and as a private key. */
    unsigned char want[32], got[32];
    fingerprint_of_public(tu_shared("conformance/rfc7515-a2/rfc7515-a2.spki.pem"), want);
    public_ok(tu_shared("conformance/rfc7515-a2/jwk.json"),
              tu_shared("conformance/rfc7515-a2/rfc7515-a2.spki.pem"));
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (load_priv(tu_shared("conformance/rfc7515-a2/jwk.json"), NULL, 0, &k, &err) != TAAP_OK)
        fail_msg("private JWK: %s", err.message);
    taap_key_fingerprint(k, got);
    assert_memory_equal(got, want, 32);
    /* And it signs: RS256 of the RFC's signing input is the RFC's signature. */
    size_t in_len, sig_len;
    char *input = tu_read(tu_shared("conformance/rfc7515-a2/signing_input.txt"), &in_len);
    char *sig = tu_read(tu_shared("conformance/rfc7515-a2/signature.bin"), &sig_len);
    while (in_len > 0 && (input[in_len - 1] == '\n' || input[in_len - 1] == '\r'))
        in_len--;
    unsigned char out[256];
    assert_int_equal(sig_len, 256);
    assert_int_equal(rs256_sign(k, input, in_len, out, &err), TAAP_OK);
    assert_memory_equal(out, sig, 256);
    free(input);
    free(sig);
    taap_key_free(k);
}

static void test_conformance_rfc7520(void **state)
{
    (void)state;
    conformance_set("conformance/rfc7520-4.1/rfc7520-4.1");
    public_ok(tu_shared("conformance/rfc7520-4.1/jwk.json"),
              tu_shared("conformance/rfc7520-4.1/rfc7520-4.1.spki.pem"));
}

/* ---- public key formats ------------------------------------------------- */

static void test_public_formats(void **state)
{
    (void)state;
    const char *spki = "keys/rsa2048.spki.pem";
    static const char *const files[] = {
        "keys/rsa2048.spki.pem",      "keys/rsa2048.rsapub.pem",   "keys/rsa2048.spki.der",
        "keys/rsa2048.rsapub.der",    "keys/rsa2048.spki.crlf.pem", "keys/rsa2048.spki.oneline.pem",
        "keys/rsa2048.spki.ws.pem",
        /* private keys reduced to their public half */
        "keys/rsa2048.pkcs8.pem",     "keys/rsa2048.pkcs1.pem",    "keys/rsa2048.pkcs8.der",
        "keys/rsa2048.pkcs1.der",     "keys/rsa2048.pkcs8.oneline.pem"};
    char want_path[4096];
    snprintf(want_path, sizeof want_path, "%s", tu_data(spki));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s", tu_data(files[i]));
        public_ok(path, want_path);
    }
    /* An SPKI under the PKCS#1 label (a common hand edit) is still that key. */
    size_t len;
    char *pem = tu_read(want_path, &len);
    char edited[4096];
    const char *body = strstr(pem, "-----\n") + 6;
    const char *end = strstr(pem, "-----END");
    snprintf(edited, sizeof edited, "-----BEGIN RSA PUBLIC KEY-----\n%.*s-----END RSA PUBLIC KEY-----\n",
             (int)(end - body), body);
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_load_public(edited, strlen(edited), &k, &err), TAAP_OK);
    taap_key_free(k);
    free(pem);
    /* A UTF-8 byte order mark (Windows editors) before a JWK or a PEM. */
    size_t jl;
    char *jwk = tu_read(tu_shared("conformance/rfc7515-a2/jwk.json"), &jl);
    char *bom = malloc(jl + 3);
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, jwk, jl);
    assert_int_equal(taap_key_load_public(bom, jl + 3, &k, &err), TAAP_OK);
    taap_key_free(k);
    free(bom);
    free(jwk);
}

static void test_public_file_and_symlink(void **state)
{
    (void)state;
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_load_public_file(tu_data("keys/rsa2048.spki.pem"), &k, &err), TAAP_OK);
    taap_key_free(k);
    k = NULL;
    expect_fail(taap_key_load_public_file(tu_data("keys/no-such-file.pem"), &k, &err), &err, TAAP_E_IO,
                "no-such-file.pem");
}

/* JWK with '=' padding (T-Mobile's demo key as published). */
static void test_jwk_padding_tmobile(void **state)
{
    (void)state;
    const char *jwk = tu_shared("conformance/tmobile-reference/tmobile-demo-2019-08.jwk.as-published.json");
    char *text = tu_read(jwk, NULL);
    assert_non_null(strstr(text, "==\"")); /* the file really is padded */
    free(text);
    public_ok(jwk, tu_shared("conformance/tmobile-reference/tmobile-demo-2019-08.spki.pem"));
}

/* The RFC 7515 JWK's n and e decoded, for building JWK variants. */
static void rfc7515_ne(unsigned char *n, size_t *nl, unsigned char *e, size_t *el)
{
    char *text = tu_read(tu_shared("conformance/rfc7515-a2/jwk.json"), NULL);
    char *p = strstr(text, "\"n\":\"") + 5;
    char *q = strchr(p, '"');
    assert_int_equal(taap_b64url_decode(p, (size_t)(q - p), n, nl), 0);
    p = strstr(text, "\"e\":\"") + 5;
    q = strchr(p, '"');
    assert_int_equal(taap_b64url_decode(p, (size_t)(q - p), e, el), 0);
    free(text);
}

static taap_code load_jwk_ne(const unsigned char *n, size_t nl, const unsigned char *e, size_t el,
                             const char *n_suffix, taap_key **k, taap_error *err)
{
    char *ns = malloc(TAAP_B64URL_LEN(nl) + 1), *es = malloc(TAAP_B64URL_LEN(el) + 1);
    taap_b64url_encode(n, nl, ns);
    taap_b64url_encode(e, el, es);
    size_t cap = strlen(ns) + strlen(es) + 128;
    char *json = malloc(cap);
    snprintf(json, cap, "{\"kty\":\"RSA\",\"n\":\"%s%s\",\"e\":\"%s\",\"alg\":\"RS256\"}", ns, n_suffix,
             es);
    taap_code rc = taap_key_load_public(json, strlen(json), k, err);
    free(ns);
    free(es);
    free(json);
    return rc;
}

static void test_jwk_leading_zero_and_padding(void **state)
{
    (void)state;
    unsigned char n[600], e[16];
    size_t nl, el;
    rfc7515_ne(n + 1, &nl, e, &el);
    unsigned char want[32], got[32];
    fingerprint_of_public(tu_shared("conformance/rfc7515-a2/rfc7515-a2.spki.pem"), want);
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    /* plain */
    assert_int_equal(load_jwk_ne(n + 1, nl, e, el, "", &k, &err), TAAP_OK);
    taap_key_fingerprint(k, got);
    assert_memory_equal(got, want, 32);
    taap_key_free(k);
    /* leading zero byte (Java BigInteger.toByteArray): 257 bytes → 2 pad chars */
    n[0] = 0;
    assert_int_equal(load_jwk_ne(n, nl + 1, e, el, "", &k, &err), TAAP_OK);
    taap_key_fingerprint(k, got);
    assert_memory_equal(got, want, 32);
    assert_int_equal(taap_key_bits(k), 2048);
    taap_key_free(k);
    /* leading zero and '=' padding together */
    assert_int_equal(load_jwk_ne(n, nl + 1, e, el, "==", &k, &err), TAAP_OK);
    taap_key_fingerprint(k, got);
    assert_memory_equal(got, want, 32);
    taap_key_free(k);
}

/* ---- key policy: one refusal each ---------------------------------------- */

static void test_policy_small_modulus(void **state)
{
    (void)state;
    pub_fails("keys/rsa1024.spki.pem", "RSA modulus is 1024 bits; 2048..8192 required");
    priv_fails("keys/rsa1024.pkcs8.pem", NULL, 0, TAAP_E_KEY, "RSA modulus is 1024 bits");
}

static void test_policy_e3(void **state)
{
    (void)state;
    pub_fails("keys/rsa2048-e3.spki.pem", "RSA public exponent e is 3;");
    priv_fails("keys/rsa2048-e3.pkcs8.pem", NULL, 0, TAAP_E_KEY, "e is 3");
}

static void test_policy_not_rsa(void **state)
{
    (void)state;
    pub_fails("keys/ec-p256.spki.pem", "key type is EC; an RSA key is needed");
    pub_fails("keys/ed25519.spki.pem", "key type is ED25519");
    pub_fails("keys/rsapss2048.spki.pem", "key type is RSA-PSS");
    priv_fails("keys/ec-p256.pkcs8.pem", NULL, 0, TAAP_E_KEY, "key type is EC");
    priv_fails("keys/ec-p256.sec1.pem", NULL, 0, TAAP_E_KEY, "EC private key");
    priv_fails("keys/ed25519.pkcs8.pem", NULL, 0, TAAP_E_KEY, "ED25519");
    priv_fails("keys/rsapss2048.pkcs8.pem", NULL, 0, TAAP_E_KEY, "RSA-PSS");
    const char *ec_jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}";
    pub_mem_fails(ec_jwk, strlen(ec_jwk), "JWK kty is \"EC\"");
}

/* JWK-built keys reach the corners openssl will not generate. */
static void jwk_policy(const unsigned char *n, size_t nl, const unsigned char *e, size_t el,
                       taap_code want, const char *needle)
{
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = load_jwk_ne(n, nl, e, el, "", &k, &err);
    if (want == TAAP_OK) {
        if (rc != TAAP_OK)
            fail_msg("expected acceptance: %s", err.message);
    } else {
        expect_fail(rc, &err, want, needle);
    }
    taap_key_free(k);
}

static void test_policy_exponent_bounds(void **state)
{
    (void)state;
    unsigned char n[600], e[16];
    size_t nl, el;
    rfc7515_ne(n, &nl, e, &el);
    const unsigned char e65535[] = {0xff, 0xff}, e65536[] = {0x01, 0x00, 0x00},
                        e65537[] = {0x01, 0x00, 0x01}, emax[] = {0xff, 0xff, 0xff, 0xff},
                        e2_32[] = {0x01, 0x00, 0x00, 0x00, 0x00}, e2_32p1[] = {0x01, 0x00, 0x00, 0x00, 0x01},
                        e1[] = {0x01};
    jwk_policy(n, nl, e65537, 3, TAAP_OK, NULL);
    jwk_policy(n, nl, emax, 4, TAAP_OK, NULL); /* 2^32 - 1: odd and <= 2^32 */
    jwk_policy(n, nl, e65535, 2, TAAP_E_KEY, "e is 65535;");
    jwk_policy(n, nl, e65536, 3, TAAP_E_KEY, "e is 65536;"); /* even */
    jwk_policy(n, nl, e2_32, 5, TAAP_E_KEY, "e is 4294967296;");
    jwk_policy(n, nl, e2_32p1, 5, TAAP_E_KEY, "e is 4294967297;");
    jwk_policy(n, nl, e1, 1, TAAP_E_KEY, "e is 1;");
}

static void test_policy_modulus_bounds(void **state)
{
    (void)state;
    static unsigned char n[1100];
    const unsigned char e[] = {0x01, 0x00, 0x01};
    memset(n, 0xa5, sizeof n);
    n[0] = 0xc3;
    /* 8192 bits accepted, 8200 refused, 2047 refused; odd moduli. */
    n[1023] |= 1;
    jwk_policy(n, 1024, e, 3, TAAP_OK, NULL);
    n[1024] |= 1;
    jwk_policy(n, 1025, e, 3, TAAP_E_KEY, "RSA modulus is 8200 bits; 2048..8192 required");
    unsigned char small[256];
    memset(small, 0x5b, sizeof small);
    small[0] = 0x7f; /* top bit clear: 2047 bits */
    small[255] |= 1;
    jwk_policy(small, 256, e, 3, TAAP_E_KEY, "RSA modulus is 2047 bits");
    small[0] = 0xff;
    small[255] &= 0xfe;
    jwk_policy(small, 256, e, 3, TAAP_E_KEY, "modulus is even");
}

/* ---- paste mistakes and garbage ------------------------------------------ */

static void test_paste_mistakes(void **state)
{
    (void)state;
    pub_fails("keys/rsa2048.spki.body-only.txt",
              "without its \"-----BEGIN PUBLIC KEY-----\" and \"-----END PUBLIC KEY-----\" lines");
    pub_fails("keys/rsa2048.cert.pem", "certificate");
    pub_fails("keys/rsa2048.pbes2.pem", "encrypted private key");
    pub_fails("keys/rsa2048.pkcs1-aes256.pem", "encrypted private key");
    const char *garbage = "hello, this is not a key at all!";
    pub_mem_fails(garbage, strlen(garbage), "not a PEM, DER or JWK public key");
    pub_mem_fails("", 0, "empty");
    pub_mem_fails(" \n\t\r\n", 5, "empty");
    const char *ssh = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host\n";
    pub_mem_fails(ssh, strlen(ssh), "OpenSSH public key");
    const char *badjson = "{\"kty\":\"RSA\",";
    pub_mem_fails(badjson, strlen(badjson), "JSON");
    const char *dup = "{\"kty\":\"RSA\",\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}";
    pub_mem_fails(dup, strlen(dup), "JSON");
    const char *no_n = "{\"kty\":\"RSA\",\"e\":\"AQAB\"}";
    pub_mem_fails(no_n, strlen(no_n), "no \"n\"");
    const char *jwks2 = "{\"keys\":[{\"kty\":\"RSA\"},{\"kty\":\"RSA\"}]}";
    pub_mem_fails(jwks2, strlen(jwks2), "JWK Set with 2 keys");
    const char *binary = "\x30\x03\x02\x01\x00";
    pub_mem_fails(binary, 5, "not a PEM, DER or JWK public key");

    /* Truncated: BEGIN without END; END without BEGIN; labels that differ. */
    size_t len;
    char *pem = tu_read(tu_data("keys/rsa2048.spki.pem"), &len);
    char *end = strstr(pem, "-----END");
    pub_mem_fails(pem, (size_t)(end - pem), "no -----END PUBLIC KEY----- line");
    char *body = strstr(pem, "-----\n") + 6;
    pub_mem_fails(body, strlen(body), "-----END line but no -----BEGIN line");
    char swapped[4096];
    snprintf(swapped, sizeof swapped, "%.*s-----END RSA PUBLIC KEY-----\n", (int)(end - pem), pem);
    pub_mem_fails(swapped, strlen(swapped), "ends with \"END RSA PUBLIC KEY\"");
    /* A damaged body: still base64, no longer a key. */
    char damaged[4096];
    snprintf(damaged, sizeof damaged, "%s", pem);
    memcpy(strstr(damaged, "MII"), "AAA", 3);
    pub_mem_fails(damaged, strlen(damaged), "not a valid key structure");
    /* A character that is not base64 inside the body. */
    snprintf(damaged, sizeof damaged, "%s", pem);
    strstr(damaged, "MII")[10] = '*';
    pub_mem_fails(damaged, strlen(damaged), "not valid base64");
    /* Other PEM blocks are named. */
    const char *csr = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    pub_mem_fails(csr, strlen(csr), "certificate signing request");
    const char *ossh = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    pub_mem_fails(ossh, strlen(ossh), "ssh-keygen -p -m PKCS8");
    free(pem);

    /* Private side: garbage and the body-only paste. */
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    expect_fail(taap_key_load_private(garbage, strlen(garbage), NULL, 0, &k, &err), &err, TAAP_E_KEY,
                "not a PEM, DER or JWK private key");
    char *pk = tu_read(tu_data("keys/rsa2048.pkcs8.pem"), &len);
    char *pbody = strstr(pk, "-----\n") + 6;
    *strstr(pbody, "-----END") = '\0';
    expect_fail(taap_key_load_private(pbody, strlen(pbody), NULL, 0, &k, &err), &err, TAAP_E_KEY,
                "\"-----BEGIN PRIVATE KEY-----\"");
    free(pk);
    /* Oversized input is refused before parsing. */
    char *big = calloc(1, 70000);
    memset(big, 'A', 69999);
    expect_fail(taap_key_load_public(big, 69999, &k, &err), &err, TAAP_E_KEY, "at most");
    free(big);
}

/* ---- files: O_NOFOLLOW and permissions ------------------------------------ */

static void test_private_file_modes(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[4096], link[4096];
    snprintf(path, sizeof path, "%s/key.pem", dir);
    snprintf(link, sizeof link, "%s/link.pem", dir);
    size_t len;
    char *pem = tu_read(tu_data("keys/rsa2048.pkcs8.pem"), &len);
    tu_write(path, pem, len);
    free(pem);
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    int insecure = -1;
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(taap_key_load_private_file(path, NULL, 0, &k, &insecure, &err), TAAP_OK);
    assert_int_equal(insecure, 0);
    taap_key_free(k);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(taap_key_load_private_file(path, NULL, 0, &k, &insecure, &err), TAAP_OK);
    assert_int_equal(insecure, 1);
    taap_key_free(k);
    /* NULL insecure_mode is allowed. */
    assert_int_equal(taap_key_load_private_file(path, NULL, 0, &k, NULL, &err), TAAP_OK);
    taap_key_free(k);
    k = NULL;
    /* Key files are opened without following symbolic links. */
    assert_int_equal(symlink(path, link), 0);
    expect_fail(taap_key_load_private_file(link, NULL, 0, &k, &insecure, &err), &err, TAAP_E_IO,
                "symbolic link");
    assert_null(k);
    /* Errors name the file. */
    expect_fail(taap_key_load_private_file(tu_data("keys/rsa2048.pbes2.pem"), NULL, 0, &k, NULL, &err),
                &err, TAAP_E_NEED_PASSPHRASE, "rsa2048.pbes2.pem: ");
    tu_rmtree(dir);
    free(dir);
}

/* ---- generation and output forms ----------------------------------------- */

static void test_generate_roundtrip(void **state)
{
    (void)state;
    taap_key *k = NULL, *back = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_generate(2048, &k, &err), TAAP_OK);
    assert_true(taap_key_is_private(k));
    assert_int_equal(taap_key_bits(k), 2048);

    char *pem = NULL;
    assert_int_equal(taap_key_private_pem(k, NULL, &pem, &err), TAAP_OK);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----\n"));
    assert_int_equal(taap_key_load_private(pem, strlen(pem), NULL, 0, &back, &err), TAAP_OK);
    assert_true(taap_key_same_public(k, back));
    taap_key_free(back);
    taap_key_free_pem(pem);
    /* "" means unencrypted too. */
    assert_int_equal(taap_key_private_pem(k, "", &pem, &err), TAAP_OK);
    assert_non_null(strstr(pem, "BEGIN PRIVATE KEY"));
    taap_key_free_pem(pem);

    /* Encrypted: PBES2, and only the right passphrase opens it. */
    assert_int_equal(taap_key_private_pem(k, "correct horse", &pem, &err), TAAP_OK);
    assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
    expect_fail(taap_key_load_private(pem, strlen(pem), NULL, 0, &back, &err), &err,
                TAAP_E_NEED_PASSPHRASE, "PBES2 with AES-256-CBC");
    expect_fail(taap_key_load_private(pem, strlen(pem), "correct horsE", 0, &back, &err), &err,
                TAAP_E_BAD_PASSPHRASE, NULL);
    assert_int_equal(taap_key_load_private(pem, strlen(pem), "correct horse", 0, &back, &err), TAAP_OK);
    assert_true(taap_key_same_public(k, back));
    taap_key_free(back);
    taap_key_free_pem(pem);

    /* Public forms: PEM, one line, JWK all load back as the same key. */
    unsigned char fp[32], fp2[32];
    taap_key_fingerprint(k, fp);
    assert_int_equal(taap_key_public_pem(k, &pem, &err), TAAP_OK);
    assert_int_equal(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
    assert_int_equal(taap_key_load_public(pem, strlen(pem), &back, &err), TAAP_OK);
    assert_false(taap_key_is_private(back));
    assert_true(taap_key_same_public(k, back));
    taap_key_fingerprint(back, fp2);
    assert_memory_equal(fp, fp2, 32);
    taap_key_free(back);
    taap_key_free_pem(pem);

    assert_int_equal(taap_key_public_pem_oneline(k, &pem, &err), TAAP_OK);
    assert_null(strchr(pem, '\n'));
    assert_int_equal(strncmp(pem, "-----BEGIN PUBLIC KEY-----MII", 29), 0);
    assert_non_null(strstr(pem, "-----END PUBLIC KEY-----"));
    assert_string_equal(pem + strlen(pem) - 24, "-----END PUBLIC KEY-----");
    assert_int_equal(taap_key_load_public(pem, strlen(pem), &back, &err), TAAP_OK);
    assert_true(taap_key_same_public(k, back));
    taap_key_free(back);
    taap_key_free_pem(pem);

    char *jwk = NULL;
    assert_int_equal(taap_key_public_jwk(k, &jwk, &err), TAAP_OK);
    assert_int_equal(strncmp(jwk, "{\"kty\":\"RSA\",\"n\":\"", 18), 0);
    assert_non_null(strstr(jwk, "\"e\":\"AQAB\""));
    char kid[64];
    taap_b64url_encode(fp, 32, kid);
    char want_kid[96];
    snprintf(want_kid, sizeof want_kid, "\"kid\":\"%s\"", kid);
    assert_non_null(strstr(jwk, want_kid));
    assert_null(strstr(jwk, "\"d\""));
    assert_int_equal(taap_key_load_public(jwk, strlen(jwk), &back, &err), TAAP_OK);
    assert_true(taap_key_same_public(k, back));
    taap_key_free(back);
    taap_key_free_pem(jwk);

    /* A different key is not the same. */
    taap_key *other = NULL;
    assert_int_equal(load_priv(tu_data("keys/rsa2048.pkcs8.pem"), NULL, 0, &other, &err), TAAP_OK);
    assert_false(taap_key_same_public(k, other));
    assert_false(taap_key_same_public(k, NULL));
    taap_key_free(other);

    /* A public key has no private PEM. */
    assert_int_equal(load_pub(tu_data("keys/rsa2048.spki.pem"), &back, &err), TAAP_OK);
    expect_fail(taap_key_private_pem(back, NULL, &pem, &err), &err, TAAP_E_KEY, "public key");
    assert_null(pem);
    taap_key_free(back);
    taap_key_free(k);
}

static void test_generate_sizes(void **state)
{
    (void)state;
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    expect_fail(taap_key_generate(1024, &k, &err), &err, TAAP_E_USAGE, "2048, 3072 or 4096");
    expect_fail(taap_key_generate(2049, &k, &err), &err, TAAP_E_USAGE, NULL);
    expect_fail(taap_key_generate(8192, &k, &err), &err, TAAP_E_USAGE, NULL);
    assert_null(k);
    /* A 3072-bit key from the data folder reports its size and signature length. */
    assert_int_equal(load_priv(tu_data("keys/rsa3072.pkcs8.pem"), NULL, 0, &k, &err), TAAP_OK);
    assert_int_equal(taap_key_bits(k), 3072);
    assert_int_equal(k->sig_len, 384);
    taap_key_free(k);
}

static void test_write_files(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char priv[4096], pub[4096];
    snprintf(priv, sizeof priv, "%s/private-key.pem", dir);
    snprintf(pub, sizeof pub, "%s/public-key.pem", dir);
    taap_key *k = NULL, *back = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(load_priv(tu_data("keys/rsa2048.pkcs8.pem"), NULL, 0, &k, &err), TAAP_OK);
    assert_int_equal(taap_key_write_private_file(k, priv, "pw", 0, &err), TAAP_OK);
    assert_int_equal(taap_key_write_public_file(k, pub, 0, &err), TAAP_OK);
    struct stat st;
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    expect_fail(taap_key_write_private_file(k, priv, NULL, 0, &err), &err, TAAP_E_IO, "already exists");
    expect_fail(taap_key_write_public_file(k, pub, 0, &err), &err, TAAP_E_IO, "already exists");
    assert_int_equal(taap_key_load_private_file(priv, "pw", 0, &back, NULL, &err), TAAP_OK);
    assert_true(taap_key_same_public(k, back));
    taap_key_free(back);
    assert_int_equal(taap_key_write_private_file(k, priv, NULL, 1, &err), TAAP_OK);
    assert_int_equal(taap_key_load_private_file(priv, NULL, 0, &back, NULL, &err), TAAP_OK);
    taap_key_free(back);
    char *file = tu_read(pub, NULL);
    char *want = tu_read(tu_data("keys/rsa2048.spki.pem"), NULL);
    assert_string_equal(file, want);
    free(file);
    free(want);
    taap_key_free(k);
    tu_rmtree(dir);
    free(dir);
}

static void test_null_safety(void **state)
{
    (void)state;
    taap_key_free(NULL);
    taap_key_free_pem(NULL);
    assert_int_equal(taap_key_bits(NULL), 0);
    assert_int_equal(taap_key_is_private(NULL), 0);
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_load_public("x", 1, NULL, &err), TAAP_E_USAGE);
    assert_int_equal(taap_key_load_private(NULL, 0, NULL, 0, NULL, NULL), TAAP_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_plain_formats),
        cmocka_unit_test(test_private_pem_layouts),
        cmocka_unit_test(test_private_encrypted),
        cmocka_unit_test(test_private_legacy_pbes1),
        cmocka_unit_test(test_private_needs_private),
        cmocka_unit_test(test_conformance_rfc7515),
        cmocka_unit_test(test_conformance_rfc7520),
        cmocka_unit_test(test_public_formats),
        cmocka_unit_test(test_public_file_and_symlink),
        cmocka_unit_test(test_jwk_padding_tmobile),
        cmocka_unit_test(test_jwk_leading_zero_and_padding),
        cmocka_unit_test(test_policy_small_modulus),
        cmocka_unit_test(test_policy_e3),
        cmocka_unit_test(test_policy_not_rsa),
        cmocka_unit_test(test_policy_exponent_bounds),
        cmocka_unit_test(test_policy_modulus_bounds),
        cmocka_unit_test(test_paste_mistakes),
        cmocka_unit_test(test_private_file_modes),
        cmocka_unit_test(test_generate_roundtrip),
        cmocka_unit_test(test_generate_sizes),
        cmocka_unit_test(test_write_files),
        cmocka_unit_test(test_null_safety),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
