/*
 * test_serve_binding.c — the emulator's access-token binding checks hold even
 * for tokens signed with its own key (read from its database, as an insider
 * or a leaked key would): the issuer must be this server, the audience the
 * subject; a token verified and cached is refused from the second of its
 * exp on; an application that is not subscribed is refused on every call,
 * not only the first (nothing about it is cached). These rows kill mutants
 * E01, E02, E04 and E06 of tests/mutate/mutants.txt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "serve_harness.h"

static sh_server srv;
static char *g_id, *g_secret;
static char g_iccid[24];

#define K0 sh_test_key(0)

static const char *device_path(void)
{
    static char p[128];
    snprintf(p, sizeof p, "/iot-connectivity/v1/devices/%s", g_iccid);
    return p;
}

static void expect(const char *at, long status, const char *needle)
{
    sh_resp r = {0};
    long got = sh_call(&srv, "GET", device_path(), at, K0, NULL, NULL, &r);
    if (got != status || (needle && (!r.body || !strstr(r.body, needle))))
        fail_msg("want %ld with '%s', got %ld: %s", status, needle ? needle : "", got,
                 r.body ? r.body : "");
    sh_resp_free(&r);
}

/* The emulator's RS256 signing key, from its database. */
static taap_key *emulator_key(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(srv.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'signing_key'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const void *pem = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    taap_key *k = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_load_private(pem, (size_t)n, NULL, 0, &k, &err), TAAP_OK);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return k;
}

/* The access token's claims as JSON (new reference), and its header text. */
static json_t *claims_of(const char *at, char **hdr)
{
    char *pay = NULL;
    assert_int_equal(taap_jwt_decode(at, strlen(at), hdr, &pay, NULL), TAAP_OK);
    json_t *c = json_loads(pay, 0, NULL);
    assert_non_null(c);
    free(pay);
    return c;
}

static char *resign(const taap_key *k, const char *hdr, json_t *c)
{
    char *pay = json_dumps(c, JSON_COMPACT);
    char *tok = NULL;
    assert_int_equal(taap_jws_sign(k, hdr, pay, &tok, NULL), TAAP_OK);
    free(pay);
    return tok;
}

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof srv);
    char kid[17];
    if (sh_start(&srv, NULL, NULL) || sh_make_app(&srv, "bind", NULL, &g_id, &g_secret) ||
        sh_add_key(&srv, "bind", K0, kid) || sh_subscribe(&srv, "bind") ||
        sh_activate_kit(&srv, "bind", g_iccid))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = sh_stop(&srv);
    sh_cleanup(&srv);
    free(g_id);
    free(g_secret);
    return rc == 0 ? 0 : -1;
}

/* Signed with the emulator's key, claims changed: issuer and aud = sub
 * still checked. The unchanged claims re-signed are the control. */
static void test_own_key_wrong_claims(void **state)
{
    (void)state;
    char *at = sh_get_token(&srv, g_id, g_secret, K0);
    assert_non_null(at);
    taap_key *ek = emulator_key();
    char *hdr = NULL;
    json_t *c = claims_of(at, &hdr);

    char *tok = resign(ek, hdr, c);
    expect(tok, 200, NULL);
    free(tok);

    json_t *iss = json_object_get(c, "iss");
    char *iss_saved = strdup(json_string_value(iss));
    json_object_set_new(c, "iss", json_string("https://issuer.example.invalid"));
    tok = resign(ek, hdr, c);
    expect(tok, 401, "issuer");
    free(tok);
    json_object_set_new(c, "iss", json_string(iss_saved));
    free(iss_saved);

    json_object_set_new(c, "aud", json_string("some-other-client"));
    tok = resign(ek, hdr, c);
    expect(tok, 401, "aud = sub");
    free(tok);

    json_decref(c);
    free(hdr);
    taap_key_free(ek);
    free(at);
}

/* A cached access token is refused from the very second of its exp. */
static void test_cached_token_at_exp(void **state)
{
    (void)state;
    char *at = sh_get_token(&srv, g_id, g_secret, K0);
    assert_non_null(at);
    expect(at, 200, NULL); /* verified and cached */
    expect(at, 200, NULL); /* served from the cache */
    char *hdr = NULL;
    json_t *c = claims_of(at, &hdr);
    int64_t exp = (int64_t)json_integer_value(json_object_get(c, "exp"));
    assert_true(exp > srv.now);
    int64_t t0 = srv.now;
    sh_set_now(&srv, exp - 1);
    expect(at, 200, NULL);
    sh_set_now(&srv, exp);
    expect(at, 401, "expired");
    sh_set_now(&srv, t0);
    json_decref(c);
    free(hdr);
    free(at);
}

/* Unsubscribed: 403 on every call with the same token, never a cached pass. */
static void test_unsubscribed_every_call(void **state)
{
    (void)state;
    char *at = sh_get_token(&srv, g_id, g_secret, K0);
    assert_non_null(at);
    sh_resp r = {0};
    assert_int_equal(sh_admin(&srv, "DELETE", "/devedge/v1/apps/bind/subscriptions/iot-connectivity",
                              NULL, &r) / 100,
                     2);
    sh_resp_free(&r);
    for (int i = 0; i < 3; i++)
        expect(at, 403, "not subscribed");
    assert_int_equal(sh_subscribe(&srv, "bind"), 0);
    expect(at, 200, NULL);
    free(at);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_key_wrong_claims),
        cmocka_unit_test(test_cached_token_at_exp),
        cmocka_unit_test(test_unsubscribed_every_call),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
