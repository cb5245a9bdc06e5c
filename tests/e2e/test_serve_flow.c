/*
 * test_serve_flow.c — `taap serve` end to end over HTTP: the Quick Start
 * flow (create app → add key → token → GET device → PATCH → GET shows the
 * change), the token's claims, JWKS, health, the device list, persistence
 * across a restart on the same --db, and a clean SIGTERM exit.
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

#include "serve_harness.h"
#include "taap/jws.h"

static sh_server srv;
static char *cid, *secret;
static char kid[17], iccid[24];

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof srv);
    if (sh_start(&srv, NULL, NULL) != 0)
        return -1;
    if (sh_make_app(&srv, "flow-app", NULL, &cid, &secret) != 0 ||
        sh_add_key(&srv, "flow-app", sh_test_key(0), kid) != 0 || sh_subscribe(&srv, "flow-app") ||
        sh_activate_kit(&srv, "flow-app", iccid) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh_stop(&srv);
    sh_cleanup(&srv);
    free(cid);
    free(secret);
    return 0;
}

static json_t *parse(const sh_resp *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    if (!j)
        fprintf(stderr, "not JSON: %s\n", r->body);
    assert_non_null(j);
    return j;
}

static void test_health_and_jwks(void **state)
{
    (void)state;
    sh_resp r;
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", srv.base);
    assert_int_equal(sh_http("GET", url, NULL, NULL, 0, &r), 200);
    assert_non_null(strstr(r.body, "\"ok\""));
    sh_resp_free(&r);
    snprintf(url, sizeof url, "%s/.well-known/jwks.json", srv.base);
    assert_int_equal(sh_http("GET", url, NULL, NULL, 0, &r), 200);
    json_t *j = parse(&r);
    json_t *k = json_array_get(json_object_get(j, "keys"), 0);
    assert_string_equal(json_string_value(json_object_get(k, "kty")), "RSA");
    assert_string_equal(json_string_value(json_object_get(k, "alg")), "RS256");
    assert_non_null(json_string_value(json_object_get(k, "n")));
    json_decref(j);
    sh_resp_free(&r);
}

static void test_quickstart_flow(void **state)
{
    (void)state;
    sh_resp r;
    /* Token. */
    assert_int_equal(sh_token_request(&srv, NULL, cid, secret, sh_test_key(0), NULL, NULL, &r),
                     200);
    char hv[128];
    assert_true(sh_resp_header(&r, "Cache-Control", hv, sizeof hv));
    assert_string_equal(hv, "no-store");
    json_t *j = parse(&r);
    assert_string_equal(json_string_value(json_object_get(j, "token_type")), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(j, "expires_in")), 3600);
    assert_non_null(json_string_value(json_object_get(j, "id_token")));
    char *at = strdup(json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    sh_resp_free(&r);

    /* The access token's claims (SPEC §6): sub = aud = client id, exp = iat + 3600,
     * cnf = our public key on one line. */
    char *hdr = NULL, *pay = NULL;
    assert_int_equal(taap_jwt_decode(at, strlen(at), &hdr, &pay, NULL), TAAP_OK);
    json_t *c = json_loads(pay, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(c, "sub")), cid);
    assert_string_equal(json_string_value(json_object_get(c, "aud")), cid);
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), srv.now);
    assert_int_equal(json_integer_value(json_object_get(c, "nbf")), srv.now);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), srv.now + 3600);
    assert_non_null(json_string_value(json_object_get(c, "jti")));
    assert_non_null(json_string_value(json_object_get(c, "iss")));
    assert_string_equal(json_string_value(json_object_get(c, "scope")), "iot-connectivity");
    char *oneline = NULL;
    assert_int_equal(taap_key_public_pem_oneline(sh_test_key(0), &oneline, NULL), TAAP_OK);
    assert_string_equal(json_string_value(json_object_get(c, "cnf")), oneline);
    taap_key_free_pem(oneline);
    json_decref(c);
    free(hdr);
    free(pay);

    /* GET the device. */
    char path[128];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", iccid);
    assert_int_equal(sh_call(&srv, "GET", path, at, sh_test_key(0), NULL, NULL, &r), 200);
    j = parse(&r);
    assert_string_equal(json_string_value(json_object_get(j, "iccid")), iccid);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ACTIVE");
    assert_int_equal(strlen(json_string_value(json_object_get(j, "imei"))), 15);
    assert_non_null(json_string_value(json_object_get(j, "imsi")));
    assert_non_null(json_string_value(json_object_get(j, "msisdn")));
    assert_non_null(json_string_value(json_object_get(j, "ratePlan")));
    assert_non_null(json_object_get(j, "dataUsage"));
    assert_non_null(json_string_value(json_object_get(j, "lastSeen")));
    json_decref(j);
    sh_resp_free(&r);

    /* PATCH it, then GET shows the change. */
    assert_int_equal(sh_call(&srv, "PATCH", path, at, sh_test_key(0), "{\"status\":\"SUSPENDED\"}",
                             NULL, &r),
                     200);
    assert_non_null(strstr(r.body, "\"status\":\"SUSPENDED\""));
    sh_resp_free(&r);
    assert_int_equal(sh_call(&srv, "GET", path, at, sh_test_key(0), NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"status\":\"SUSPENDED\""));
    sh_resp_free(&r);

    /* The list, filtered by status, with paging. */
    assert_int_equal(sh_call(&srv, "GET", "/iot-connectivity/v1/devices?status=SUSPENDED&limit=5",
                             at, sh_test_key(0), NULL, NULL, &r),
                     200);
    j = parse(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "devices"), 0), "iccid")),
        iccid);
    json_decref(j);
    sh_resp_free(&r);
    assert_int_equal(sh_call(&srv, "GET", "/iot-connectivity/v1/devices?status=ACTIVE", at,
                             sh_test_key(0), NULL, NULL, &r),
                     200);
    assert_non_null(strstr(r.body, "\"total\":0"));
    sh_resp_free(&r);

    /* The other token paths answer too. */
    assert_int_equal(sh_token_request(&srv, "/oauth2/v1/tokens", cid, secret, sh_test_key(0),
                                      NULL, NULL, &r),
                     200);
    sh_resp_free(&r);
    assert_int_equal(sh_token_request(&srv, "/oauth2/v6/tokens", cid, secret, sh_test_key(0),
                                      "{\"grant_type\":\"client_credentials\"}", NULL, &r),
                     200);
    sh_resp_free(&r);
    free(at);
}

static void test_cnf_body_and_grant_type(void **state)
{
    (void)state;
    sh_resp r;
    char *oneline = NULL, body[2048];
    assert_int_equal(taap_key_public_pem_oneline(sh_test_key(0), &oneline, NULL), TAAP_OK);
    snprintf(body, sizeof body, "{\"cnf\":\"%s\"}", oneline);
    taap_key_free_pem(oneline);
    assert_int_equal(sh_token_request(&srv, NULL, cid, secret, sh_test_key(0), body, NULL, &r), 200);
    sh_resp_free(&r);
    /* cnf naming a different key than the one that signed: refused. */
    assert_int_equal(taap_key_public_pem_oneline(sh_test_key(1), &oneline, NULL), TAAP_OK);
    snprintf(body, sizeof body, "{\"cnf\":\"%s\"}", oneline);
    taap_key_free_pem(oneline);
    assert_int_equal(sh_token_request(&srv, NULL, cid, secret, sh_test_key(0), body, NULL, &r), 400);
    assert_non_null(strstr(r.body, "invalid_request"));
    sh_resp_free(&r);
    assert_int_equal(sh_token_request(&srv, NULL, cid, secret, sh_test_key(0),
                                      "{\"grant_type\":\"password\"}", NULL, &r),
                     400);
    assert_non_null(strstr(r.body, "unsupported_grant_type"));
    sh_resp_free(&r);
    assert_int_equal(sh_token_request(&srv, NULL, cid, secret, sh_test_key(0), "[1,2]", NULL, &r),
                     400);
    assert_non_null(strstr(r.body, "invalid_request"));
    sh_resp_free(&r);
}

static void test_admin_listing(void **state)
{
    (void)state;
    sh_resp r;
    char path[128];
    snprintf(path, sizeof path, "/devedge/v1/apps/flow-app/keys");
    assert_int_equal(sh_admin(&srv, "GET", path, NULL, &r), 200);
    assert_non_null(strstr(r.body, kid));
    sh_resp_free(&r);
    assert_int_equal(sh_admin(&srv, "GET", "/devedge/v1/apps", NULL, &r), 200);
    assert_non_null(strstr(r.body, cid));
    assert_null(strstr(r.body, secret)); /* the secret is shown once, at creation */
    sh_resp_free(&r);
    assert_int_equal(sh_admin(&srv, "GET", "/devedge/v1/devices", NULL, &r), 200);
    assert_non_null(strstr(r.body, iccid));
    sh_resp_free(&r);
    /* Without the admin token: 401 with a challenge. */
    char url[128];
    snprintf(url, sizeof url, "%s/devedge/v1/apps", srv.base);
    assert_int_equal(sh_http("GET", url, NULL, NULL, 0, &r), 401);
    char hv[128];
    assert_true(sh_resp_header(&r, "WWW-Authenticate", hv, sizeof hv));
    sh_resp_free(&r);
    const char *bad[] = {"Authorization: Bearer not-the-admin-token-at-all", NULL};
    assert_int_equal(sh_http("GET", url, bad, NULL, 0, &r), 401);
    sh_resp_free(&r);
    /* Duplicate app name → 409. */
    assert_int_equal(sh_admin(&srv, "POST", "/devedge/v1/apps", "{\"name\":\"flow-app\"}", &r), 409);
    sh_resp_free(&r);
}

static void test_restart_keeps_state(void **state)
{
    (void)state;
    /* Change something first so the restart has to persist a write. */
    char *at = sh_get_token(&srv, cid, secret, sh_test_key(0));
    assert_non_null(at);
    char path[128];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", iccid);
    sh_resp r;
    assert_int_equal(
        sh_call(&srv, "PATCH", path, at, sh_test_key(0), "{\"status\":\"DEACTIVATED\"}", NULL, &r),
        200);
    sh_resp_free(&r);

    assert_int_equal(sh_stop(&srv), 0); /* SIGTERM: drains, closes the DB, exits 0 */
    char *log = sh_log(&srv);
    /* The access log has method, path, status, time — and never a secret. */
    assert_non_null(strstr(log, "POST /oauth2/v2/tokens 200"));
    assert_null(strstr(log, secret));
    assert_null(strstr(log, at));
    assert_null(strstr(log, "Basic "));
    free(log);

    char dir[512];
    snprintf(dir, sizeof dir, "%s", srv.dir);
    assert_int_equal(sh_start(&srv, dir, NULL), 0);
    /* The app, its key and its device survived; the emulator key did too, so the
     * old access token still verifies. */
    assert_int_equal(sh_call(&srv, "GET", path, at, sh_test_key(0), NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"status\":\"DEACTIVATED\""));
    sh_resp_free(&r);
    char *at2 = sh_get_token(&srv, cid, secret, sh_test_key(0));
    assert_non_null(at2);
    free(at);
    free(at2);
    assert_int_equal(sh_admin(&srv, "GET", "/devedge/v1/apps/flow-app/keys", NULL, &r), 200);
    assert_non_null(strstr(r.body, kid));
    sh_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_jwks),
        cmocka_unit_test(test_quickstart_flow),
        cmocka_unit_test(test_cnf_body_and_grant_type),
        cmocka_unit_test(test_admin_listing),
        cmocka_unit_test(test_restart_keeps_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
