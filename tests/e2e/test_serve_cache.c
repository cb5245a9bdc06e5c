/*
 * test_serve_cache.c — the emulator's verified-access-token cache
 * (src/serve/token_cache.c) must never make a dead token pass: a token that
 * was verified (and cached) by a successful call is refused once it expired,
 * once its key was deleted, once its application was unsubscribed or
 * deleted; a tampered copy of a cached token is refused; and the testing
 * sink route does not exist unless the option enables it. The clock is the
 * harness's injected one. In process: the expiry sweep empties the slots of
 * expired tokens as lookups go by and keeps the live ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve_harness.h"
#include "serve_state.h" /* the test builds a bare server around the token cache */

static sh_server srv;

#define K0 sh_test_key(0)
#define K1 sh_test_key(1)

static const char *device_path(const char *iccid)
{
    static char p[128];
    snprintf(p, sizeof p, "/iot-connectivity/v1/devices/%s", iccid);
    return p;
}

/* A call with `at`; asserts the status and that the body names `needle`. */
static void expect(const char *at, const taap_key *key, const char *iccid, long status,
                   const char *needle)
{
    sh_resp r = {0};
    long got = sh_call(&srv, "GET", device_path(iccid), at, key, NULL, NULL, &r);
    if (got != status || (needle && (!r.body || !strstr(r.body, needle))))
        fail_msg("want %ld with '%s', got %ld: %s", status, needle ? needle : "",
                 got, r.body ? r.body : "");
    sh_resp_free(&r);
}

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof srv);
    return sh_start(&srv, NULL, NULL);
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(sh_stop(&srv), 0);
    sh_cleanup(&srv);
    return 0;
}

static void test_cached_token_still_checked(void **state)
{
    (void)state;
    char *id = NULL, *sec = NULL, kid0[17], kid1[17], iccid[24];
    assert_int_equal(sh_make_app(&srv, "c1", "acme", &id, &sec), 0);
    assert_int_equal(sh_add_key(&srv, "c1", K0, kid0), 0);
    assert_int_equal(sh_add_key(&srv, "c1", K1, kid1), 0);
    assert_int_equal(sh_subscribe(&srv, "c1"), 0);
    assert_int_equal(sh_activate_kit(&srv, "c1", iccid), 0);
    char *at0 = sh_get_token(&srv, id, sec, K0);
    char *at1 = sh_get_token(&srv, id, sec, K1);
    assert_non_null(at0);
    assert_non_null(at1);

    /* Cached by the first call, served from the cache by the next ones. */
    for (int i = 0; i < 3; i++)
        expect(at0, K0, iccid, 200, "\"iccid\"");
    expect(at1, K1, iccid, 200, "\"iccid\"");

    /* A cached token with one signature character changed is a new token:
     * full check, refused. */
    char *bad = strdup(at0);
    assert_non_null(bad);
    size_t n = strlen(bad);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    expect(bad, K0, iccid, 401, "signature");
    free(bad);

    /* The cache keeps no PoP: a PoP by the other key is still refused. */
    expect(at0, K1, iccid, 401, "PoP");

    /* Expiry is checked on every hit (token lifetime 3600 s). */
    int64_t t0 = srv.now;
    sh_set_now(&srv, t0 + 3601);
    expect(at0, K0, iccid, 401, "expired");
    sh_set_now(&srv, t0);
    expect(at0, K0, iccid, 200, "\"iccid\"");

    /* Key deleted: its cached tokens stop working; the other key's do not. */
    sh_resp r = {0};
    char path[128];
    snprintf(path, sizeof path, "/devedge/v1/apps/c1/keys/%s", kid0);
    assert_true(sh_admin(&srv, "DELETE", path, NULL, &r) / 100 == 2);
    sh_resp_free(&r);
    expect(at0, K0, iccid, 401, "no longer registered");
    expect(at1, K1, iccid, 200, "\"iccid\"");

    /* Unsubscribed: 403 for a token that was cached a moment ago. */
    assert_true(sh_admin(&srv, "DELETE", "/devedge/v1/apps/c1/subscriptions/iot-connectivity",
                         NULL, &r) / 100 == 2);
    sh_resp_free(&r);
    expect(at1, K1, iccid, 403, "not subscribed");
    assert_int_equal(sh_subscribe(&srv, "c1"), 0);
    expect(at1, K1, iccid, 200, "\"iccid\"");

    /* Application deleted: its tokens are dead. */
    assert_true(sh_admin(&srv, "DELETE", "/devedge/v1/apps/c1", NULL, &r) / 100 == 2);
    sh_resp_free(&r);
    expect(at1, K1, iccid, 401, "no longer exists");

    free(at0);
    free(at1);
    free(id);
    free(sec);
}

/* The table in process (no HTTP): 300 tokens valid for 100 s and one valid
 * for a day; after SRV_AT_SLOTS lookups at +200 s only the day-long one is
 * held; before expiry the same number of lookups frees nothing. */
static void test_expired_entries_swept(void **state)
{
    (void)state;
    taap_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->at_mu, NULL);
    int64_t now = srv_now(s);
    for (int i = 0; i <= 300; i++) {
        srv_at_entry *e = calloc(1, sizeof *e);
        assert_non_null(e);
        atomic_init(&e->refs, 1);
        e->hash[0] = (unsigned char)(i * 13 & 0xff); /* slot i * 13: spread */
        e->hash[1] = (unsigned char)(i * 13 >> 8);
        e->exp = now + (i == 300 ? 86400 : 100);
        srv_at_put(s, e, srv_at_generation(s));
        srv_at_release(e);
    }
    assert_int_equal(srv_at_count(s), 301);
    unsigned char miss[32] = {0xff, 0xff, 0xff};
    for (int i = 0; i < SRV_AT_SLOTS; i++)
        assert_null(srv_at_get(s, miss));
    assert_int_equal(srv_at_count(s), 301);
    s->o.clock_offset = 200;
    for (int i = 0; i < SRV_AT_SLOTS / 2; i++)
        assert_null(srv_at_get(s, miss));
    size_t half = srv_at_count(s);
    assert_true(half > 1 && half < 301); /* a step per lookup, not a sweep */
    for (int i = 0; i < SRV_AT_SLOTS / 2; i++)
        assert_null(srv_at_get(s, miss));
    assert_int_equal(srv_at_count(s), 1);
    unsigned char day[32] = {3900 & 0xff, 3900 >> 8};
    srv_at_entry *e = srv_at_get(s, day);
    assert_non_null(e);
    assert_int_equal(e->exp, now + 86400);
    srv_at_release(e);
    srv_at_clear(s);
    pthread_mutex_destroy(&s->at_mu);
    free(s);
}

static void test_sink_off_by_default(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "%s/testing/v1/sink", srv.base);
    sh_resp r = {0};
    assert_int_equal(sh_http("POST", url, NULL, NULL, 0, &r), 404);
    sh_resp_free(&r);
    /* With a body the unknown route refuses it before routing (limit 0). */
    assert_int_equal(sh_http("POST", url, NULL, "abc", 3, &r), 413);
    sh_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_token_still_checked),
        cmocka_unit_test(test_sink_off_by_default),
        cmocka_unit_test(test_expired_entries_swept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
