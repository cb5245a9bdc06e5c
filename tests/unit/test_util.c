/* test_util.c — src/util, the internal tier every layer compiles in: hex,
 * tokens, the one sensitive-header list, SHA-256, the growable buffer with
 * a maximum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "expand.h"
#include "util.h"

static void test_hex(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    memset(out, 'x', sizeof out);
    taap_hex_encode(in, sizeof in, out);
    assert_string_equal(out, "000fa5ff");
    taap_hex_encode(in, 0, out);
    assert_string_equal(out, "");
    assert_int_equal(taap_hex_value('0'), 0);
    assert_int_equal(taap_hex_value('9'), 9);
    assert_int_equal(taap_hex_value('a'), 10);
    assert_int_equal(taap_hex_value('F'), 15);
    assert_int_equal(taap_hex_value('g'), -1);
    assert_int_equal(taap_hex_value('G'), -1);
    assert_int_equal(taap_hex_value('\0'), -1);
    assert_int_equal(taap_hex_value('/'), -1);
}

static void test_token(void **state)
{
    (void)state;
    assert_true(taap_is_token("X-Api-Key", 9));
    assert_true(taap_is_token("!#$%&'*+-.^_`|~09azAZ", 21));
    assert_false(taap_is_token("", 0));
    assert_false(taap_is_token("a b", 3));
    assert_false(taap_is_token("a:b", 3));
    assert_false(taap_is_token("a\0b", 3));
    assert_false(taap_is_token("caf\xc3\xa9", 5));
    assert_false(taap_is_tchar('"'));
    assert_false(taap_is_tchar('\0'));
}

static void test_secret_headers(void **state)
{
    (void)state;
    /* The list once disagreed between verbose output and explanations on
     * X-Api-Key: every name is secret everywhere, in any case. */
    static const char *const secret[] = {"Authorization", "proxy-authorization",
                                         "X-Authorization", "X-Auth-Originator", "COOKIE",
                                         "Set-Cookie", "X-Api-Key", "x-api-key", "Api-Key"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        assert_true(taap_header_is_secret(secret[i], strlen(secret[i])));
    static const char *const plain[] = {"Accept", "Content-Type", "X-Api", "Authorizatio",
                                        "Authorization2", "api-keys", ""};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        assert_false(taap_header_is_secret(plain[i], strlen(plain[i])));
    /* a name given by length, not NUL-terminated */
    assert_true(taap_header_is_secret("Cookie: a=b", 6));
    assert_false(taap_header_is_secret(NULL, 0));
}

static void test_sha256(void **state)
{
    (void)state;
    unsigned char d[32];
    char hex[65];
    assert_int_equal(taap_sha256_digest("abc", 3, d), 1);
    taap_hex_encode(d, sizeof d, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(taap_sha256_digest("", 0, d), 1);
    taap_hex_encode(d, sizeof d, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_ptr_equal(taap_sha256(), taap_sha256()); /* fetched once */
}

static void test_buf_grows(void **state)
{
    (void)state;
    taap_buf b = {0};
    for (int i = 0; i < 1000; i++)
        taap_buf_puts(&b, "0123456789");
    assert_int_equal(b.failed, TAAP_BUF_OK);
    assert_int_equal(b.len, 10000);
    assert_int_equal(strlen(b.p), 10000); /* NUL-terminated */
    taap_buf_printf(&b, "%s-%d", "x", 42);
    taap_buf_put_i64(&b, -9223372036854775807LL - 1);
    taap_buf_put_i64(&b, 0);
    char *s = taap_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s + 10000, "x-42-92233720368547758080");
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    free(s);
    /* an empty buffer takes as "" */
    s = taap_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    /* a long printf goes past the stack scratch */
    char big[2000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    taap_buf_printf(&b, "<%s>", big);
    assert_int_equal(b.len, sizeof big + 1);
    taap_buf_free(&b);
    assert_null(b.p);
}

static void test_buf_maximum(void **state)
{
    (void)state;
    taap_buf b = taap_buf_limited(10);
    taap_buf_puts(&b, "0123456789"); /* exactly the maximum */
    assert_int_equal(b.failed, TAAP_BUF_OK);
    assert_true(b.cap <= 11);
    taap_buf_put(&b, "", 0);
    assert_int_equal(b.failed, TAAP_BUF_OK);
    taap_buf_puts(&b, "x"); /* one past: fails, sticky */
    assert_int_equal(b.failed, TAAP_BUF_FULL);
    assert_int_equal(b.len, 10);
    taap_buf_put(&b, "", 0);
    assert_int_equal(b.failed, TAAP_BUF_FULL);
    assert_null(taap_buf_take(&b)); /* freed */
    assert_null(b.p);
    assert_int_equal(b.max, 10); /* the limit stays for reuse */
    taap_buf_puts(&b, "again");
    assert_string_equal(b.p, "again");
    taap_buf_free(&b);

    taap_buf h = taap_buf_limited(SIZE_MAX);
    taap_buf_put(&h, "a", 1);
    taap_buf_put(&h, "b", SIZE_MAX); /* would overflow len + n */
    assert_int_equal(h.failed, TAAP_BUF_FULL);
    taap_buf_free(&h);
}

static void test_buf_fixed(void **state)
{
    (void)state;
    char storage[8];
    taap_buf b = taap_buf_fixed(storage, sizeof storage);
    taap_buf_puts(&b, "1234567");
    assert_int_equal(b.failed, TAAP_BUF_OK);
    assert_ptr_equal(b.p, storage); /* never reallocated */
    assert_string_equal(storage, "1234567");
    taap_buf_puts(&b, "8");
    assert_int_equal(b.failed, TAAP_BUF_FULL);
    assert_ptr_equal(b.p, storage);
    taap_buf_free(&b); /* the storage stays the caller's */
    assert_ptr_equal(b.p, storage);
    assert_int_equal(b.failed, TAAP_BUF_OK);
    taap_buf_puts(&b, "ok");
    assert_string_equal(storage, "ok");
}

static void test_buf_json_escape(void **state)
{
    (void)state;
    taap_buf b = {0};
    const char in[] = "a\"b\\c\nd\re\tf\x01g\x1f\x7f\xc3\xa9";
    taap_buf_json_escape(&b, in, sizeof in - 1);
    assert_string_equal(b.p, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001f\x7f\xc3\xa9");
    taap_buf_free(&b);
    taap_buf_json_escape(&b, "\0x", 2); /* by length: an embedded NUL is escaped */
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.p, "\\u0000x", 7);
    taap_buf_free(&b);
}

/* A lookup over "name=value" pairs; "$n" makes up a value in the scratch. */
static const char *pairs_lookup(void *ctx, const char *name, size_t len, char *scratch,
                                size_t cap)
{
    for (const char *const *p = ctx; *p; p += 2)
        if (strlen(p[0]) == len && memcmp(p[0], name, len) == 0)
            return p[1];
    if (len == 2 && memcmp(name, "$n", 2) == 0 && cap > 2) {
        memcpy(scratch, "42", 3);
        return scratch;
    }
    return NULL;
}

static void expands(const char *in, const char *want)
{
    static const char *const vars[] = {"a", "A", "b", "B", "a_b", "AB", "A_b", "nested",
                                       "x", "{{a}}", "ref", "{{ref}}", "", "empty", NULL};
    char *out = NULL;
    assert_int_equal(taap_expand(in, TAAP_EXPAND_ROUNDS, 0, pairs_lookup, (void *)vars, &out), 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_expand(void **state)
{
    (void)state;
    expands("", "");
    expands("plain", "plain");
    expands("{{a}}-{{b}}", "A-B");
    expands("{{unknown}} stays", "{{unknown}} stays");
    expands("{{a", "{{a");
    expands("{{ a }}", "{{ a }}"); /* the name is not trimmed */
    expands("{{}}", "empty");
    expands("{{{a}}}", "{A}");
    expands("{{{{a}}_b}}", "nested"); /* innermost first: {{a}}, then {{A_b}} */
    expands("{{a{{b}}", "{{aB");
    expands("{{a}b}} {{b}}", "{{a}b}} B");
    expands("{{a}{{b}}", "{{a}B");
    expands("{{x}}", "A"); /* a value holding a token resolves in the next round */
    expands("{{$n}}", "42");
    /* a value that refers to itself stops after the rounds */
    char *out = NULL;
    static const char *const loop[] = {"r", "{{r}}", NULL};
    assert_int_equal(taap_expand("{{r}}", TAAP_EXPAND_ROUNDS, 0, pairs_lookup, (void *)loop, &out), 0);
    assert_string_equal(out, "{{r}}");
    free(out);
    /* a value that doubles each round passes the maximum */
    static const char *const grow[] = {"g", "{{g}}{{g}}", NULL};
    assert_int_equal(taap_expand("{{g}}", TAAP_EXPAND_ROUNDS, 4096, pairs_lookup, (void *)grow, &out),
                     TAAP_BUF_FULL);
    assert_null(out);
    /* the next token and its name */
    const char *nb, *ne;
    const char *t = taap_expand_next("x {{a}b}} {{{c}}", &nb, &ne);
    assert_non_null(t);
    assert_int_equal(ne - nb, 1);
    assert_memory_equal(nb, "c", 1);
    assert_null(taap_expand_next("{{a}", &nb, &ne));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),          cmocka_unit_test(test_token),
        cmocka_unit_test(test_secret_headers), cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_buf_grows),    cmocka_unit_test(test_buf_maximum),
        cmocka_unit_test(test_buf_fixed),    cmocka_unit_test(test_buf_json_escape),
        cmocka_unit_test(test_expand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
