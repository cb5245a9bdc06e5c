/* test_canon.c — SPEC §1.1 canonicalisation: uri, edts reference values,
 * base64url strictness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "b64url.h"
#include "canon.h"
#include "taap/taap.h"

static void uri_is(const char *target, const char *want)
{
    char *u = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_request_uri(target, &u, &err), TAAP_OK);
    assert_string_equal(u, want);
    free(u);
}

static void test_uri(void **state)
{
    (void)state;
    uri_is("https://h/commerce/v1/orders?account-number=0000000000",
           "/commerce/v1/orders?account-number=0000000000");
    uri_is("/commerce/v1/orders", "/commerce/v1/orders");
    uri_is("https://h:8443/a/b#frag", "/a/b");
    uri_is("https://h", "/");
    uri_is("https://h?x=1", "/?x=1");
    uri_is("/p?a=%41%2Fb+c&d=%zz", "/p?a=A/b+c&d=%zz");
    uri_is("/p?a=%00x", "/p?a=%00x");
    uri_is("/p%20q", "/p%20q"); /* the path is used as sent */
    uri_is("/p?", "/p?");
}

/* edts over the request derived parts = SPEC §1.1 reference values. */
static void test_request_edts_reference(void **state)
{
    (void)state;
    taap_header hs[] = {{"Content-Type", "application/json"},
                        {"Authorization", "Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS"}};
    const char *body = "{\"orderId\": 100, \"product\": \"Mobile Phone\"}";
    taap_request req = {"POST", "https://api.t-mobile.com/commerce/v1/orders", hs, 2,
                        {TAAP_BODY_MEMORY, body, (int64_t)strlen(body), NULL, NULL, NULL}};
    const char *names[] = {"Content-Type", "Authorization", "uri", "http-method", "body"};
    size_t lens[] = {12, 13, 3, 11, 4};
    char edts[44];
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(canon_request_edts(&req, names, lens, 5, TAAP_E_EHTS, edts, &err), TAAP_OK);
    assert_string_equal(edts, "afqGWAbSevTP2m38quBjC8pA2HcxZXG4zpFCPShTtSo");

    taap_request req2 = {"POST", "/oauth2/v2/tokens", hs, 1, {TAAP_BODY_NONE, 0, 0, 0, 0, 0}};
    const char *n2[] = {"content-type", "uri", "http-method"};
    size_t l2[] = {12, 3, 11};
    assert_int_equal(canon_request_edts(&req2, n2, l2, 3, TAAP_E_EHTS, edts, &err), TAAP_OK);
    assert_string_equal(edts, "tpAdmPMl2Q_2fRUR4OEflknZQtyTYh_rKqV3yqbDZA0");

    taap_request req3 = {"GET", "https://x/commerce/v1/orders?account-number=0000000000", NULL, 0,
                         {TAAP_BODY_NONE, 0, 0, 0, 0, 0}};
    assert_int_equal(canon_request_edts(&req3, n2 + 1, l2 + 1, 2, TAAP_E_EHTS, edts, &err),
                     TAAP_OK);
    assert_string_equal(edts, "gCX7W7fBJlUjLdeFLAm7QQ_B9UpEnUGiob6CC-2-yA0");

    /* A named header the request lacks is refused with the given code. */
    const char *n4[] = {"X-Missing"};
    size_t l4[] = {9};
    assert_int_equal(canon_request_edts(&req3, n4, l4, 1, TAAP_E_EHTS, edts, &err), TAAP_E_EHTS);
    assert_non_null(strstr(err.message, "X-Missing"));
}

static void test_find_header(void **state)
{
    (void)state;
    taap_header hs[] = {{"A", "  x y \t"}, {"b", "1"}, {"B", "2"}};
    taap_request req = {"GET", "/", hs, 3, {TAAP_BODY_NONE, 0, 0, 0, 0, 0}};
    const char *v;
    size_t vl;
    assert_int_equal(canon_find_header(&req, "a", 1, &v, &vl), 1);
    assert_int_equal(vl, 3);
    assert_memory_equal(v, "x y", 3);
    assert_int_equal(canon_find_header(&req, "b", 1, &v, &vl), 2);
    assert_int_equal(canon_find_header(&req, "c", 1, &v, &vl), 0);
}

static void test_b64url(void **state)
{
    (void)state;
    char out[64];
    unsigned char dec[64];
    size_t n;
    assert_int_equal(taap_b64url_encode("\xfb\xff", 2, out), 3);
    assert_string_equal(out, "-_8");
    assert_int_equal(taap_b64url_decode("-_8", 3, dec, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(dec, "\xfb\xff", 2);
    assert_int_equal(taap_b64url_decode("-_9", 3, dec, &n), -1);  /* trailing bits */
    assert_int_equal(taap_b64url_decode("-_8=", 4, dec, &n), -1); /* padding */
    assert_int_equal(taap_b64url_decode("+/8", 3, dec, &n), -1);  /* std alphabet */
    assert_int_equal(taap_b64url_decode("A", 1, dec, &n), -1);    /* length */
    assert_int_equal(taap_b64url_decode("AA A", 4, dec, &n), -1); /* whitespace */
    assert_int_equal(taap_b64url_decode("", 0, dec, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(taap_b64_decode_lenient("+/8=", 4, dec, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(taap_b64std_encode("ab", 2, out), 4);
    assert_string_equal(out, "YWI=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_request_edts_reference),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_b64url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
