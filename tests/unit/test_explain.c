/* test_explain.c — the explaining verifier (taap/explain.h). One row per
 * known client mistake: a token signed over the mistaken values must get
 * exactly that cause (positive), and the same mistake plus one unrelated
 * change must get no named mistake, only "other request" (negative: a
 * token that matches no variant is never given a cause). Tokens are real
 * (taap_pop_build, fixed clock) and verified with the public key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "taap/explain.h"
#include "taap/key.h"
#include "taap/pop.h"
#include "testutil.h"

#define NOW INT64_C(1700000000)
#define URL "https://api.example.com/v1/orders?name=J%C3%BCrgen&x=1"
#define CANON_URI "/v1/orders?name=J\xC3\xBCrgen&x=1"
#define BODY "{\"a\": 1, \"b\": [1, 2]}"

static taap_key *g_priv, *g_pub;
static int64_t g_now = NOW;

static int64_t fixed_clock(void *ctx)
{
    return *(int64_t *)ctx;
}

/* A request as received: method, target, Content-Type, Authorization,
 * Host, body. NULL fields take the base request's value. */
typedef struct req_spec {
    const char *method, *target, *ctype, *auth, *body;
} req_spec;

/* The values the client hashed, in the ehts order
 * Content-Type;Authorization;uri;http-method;body. */
typedef struct signed_spec {
    const char *ctype, *auth, *uri, *method, *body;
} signed_spec;

typedef struct row {
    const char *what;
    req_spec req;
    signed_spec sig;
    taap_explain_cause want;
    signed_spec spoil; /* one unrelated change on top of the mistake */
} row;

static const char *or_(const char *a, const char *b)
{
    return a ? a : b;
}

static taap_header g_h[3];

static taap_request make_req(const req_spec *r)
{
    taap_request q;
    memset(&q, 0, sizeof q);
    q.method = or_(r->method, "POST");
    q.target = or_(r->target, URL);
    g_h[0] = (taap_header){"Content-Type", or_(r->ctype, "application/json")};
    g_h[1] = (taap_header){"Authorization", or_(r->auth, "Bearer abc123")};
    g_h[2] = (taap_header){"Host", "api.example.com"};
    q.headers = g_h;
    q.n_headers = 3;
    const char *b = or_(r->body, BODY);
    q.body.kind = TAAP_BODY_MEMORY;
    q.body.data = b;
    q.body.len = (int64_t)strlen(b);
    return q;
}

/* Sign the five values under the standard ehts; `order` permutes which
 * value goes under which name (NULL: natural). */
static char *sign(const signed_spec *s, const int *order)
{
    const char *names[5] = {"Content-Type", "Authorization", "uri", "http-method", "body"};
    const char *vals[5] = {or_(s->ctype, "application/json"), or_(s->auth, "Bearer abc123"),
                           or_(s->uri, CANON_URI), or_(s->method, "POST"), or_(s->body, BODY)};
    taap_pop_entry e[5];
    for (int i = 0; i < 5; i++) {
        const char *v = vals[order ? order[i] : i];
        e[i] = (taap_pop_entry){names[i], v, strlen(v)};
    }
    taap_pop_options o;
    taap_pop_options_init(&o);
    o.clock = fixed_clock;
    o.clock_ctx = &g_now;
    char *tok = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_build(g_priv, e, 5, &o, &tok, NULL, &err), TAAP_OK);
    return tok;
}

static taap_explain *explain(const char *tok, const taap_request *q, taap_code *verdict)
{
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &g_now;
    taap_explain *e = NULL;
    taap_error err = TAAP_ERROR_INIT;
    *verdict = taap_verify_explain(tok, strlen(tok), g_pub, q, &cfg, &e, &err);
    assert_non_null(e);
    return e;
}

/* Merge the spoiling change over the mistaken values. */
static signed_spec spoiled(const row *r)
{
    signed_spec s = r->sig;
    if (r->spoil.ctype)
        s.ctype = r->spoil.ctype;
    if (r->spoil.auth)
        s.auth = r->spoil.auth;
    if (r->spoil.uri)
        s.uri = r->spoil.uri;
    if (r->spoil.method)
        s.method = r->spoil.method;
    if (r->spoil.body)
        s.body = r->spoil.body;
    return s;
}

#define OTHER_BODY {NULL, NULL, NULL, NULL, "{\"a\": 2}"}
#define OTHER_METHOD {NULL, NULL, NULL, "PUT", NULL}

static const row g_rows[] = {
    {"query percent-encoded", {0}, {NULL, NULL, "/v1/orders?name=J%C3%BCrgen&x=1", NULL, NULL},
     TAAP_CAUSE_QUERY_ENCODED, OTHER_BODY},
    {"'+' read as space", {NULL, "https://api.example.com/s?q=a+b", NULL, NULL, NULL},
     {NULL, NULL, "/s?q=a b", NULL, NULL}, TAAP_CAUSE_QUERY_PLUS_AS_SPACE, OTHER_BODY},
    {"space written '+'", {NULL, "https://api.example.com/s?q=a%20b", NULL, NULL, NULL},
     {NULL, NULL, "/s?q=a+b", NULL, NULL}, TAAP_CAUSE_QUERY_SPACE_AS_PLUS, OTHER_BODY},
    {"absolute URL", {0}, {NULL, NULL, "https://api.example.com" CANON_URI, NULL, NULL},
     TAAP_CAUSE_ABSOLUTE_URI, OTHER_BODY},
    {"host from Host header", {NULL, "/v1/orders?x=1", NULL, NULL, NULL},
     {NULL, NULL, "api.example.com/v1/orders?x=1", NULL, NULL}, TAAP_CAUSE_ABSOLUTE_URI,
     OTHER_BODY},
    {"trailing slash added", {0}, {NULL, NULL, "/v1/orders/?name=J\xC3\xBCrgen&x=1", NULL, NULL},
     TAAP_CAUSE_TRAILING_SLASH_ADDED, OTHER_BODY},
    {"trailing slash dropped", {NULL, "https://api.example.com/v1/orders/", NULL, NULL, NULL},
     {NULL, NULL, "/v1/orders", NULL, NULL}, TAAP_CAUSE_TRAILING_SLASH_DROPPED, OTHER_BODY},
    {"method lower case", {0}, {NULL, NULL, NULL, "post", NULL}, TAAP_CAUSE_METHOD_LOWER,
     OTHER_BODY},
    {"header leading space", {0}, {" application/json", NULL, NULL, NULL, NULL},
     TAAP_CAUSE_HEADER_WHITESPACE, OTHER_BODY},
    {"header trailing space", {0}, {NULL, "Bearer abc123 ", NULL, NULL, NULL},
     TAAP_CAUSE_HEADER_WHITESPACE, OTHER_BODY},
    {"charset added", {0}, {"application/json; charset=utf-8", NULL, NULL, NULL, NULL},
     TAAP_CAUSE_CONTENT_TYPE_PARAM, OTHER_BODY},
    {"charset dropped", {NULL, NULL, "application/json;charset=UTF-8", NULL, NULL},
     {"application/json", NULL, NULL, NULL, NULL}, TAAP_CAUSE_CONTENT_TYPE_PARAM, OTHER_BODY},
    {"Authorization without Bearer", {0}, {NULL, "abc123", NULL, NULL, NULL},
     TAAP_CAUSE_AUTH_NO_BEARER, OTHER_BODY},
    {"body LF as CRLF", {NULL, NULL, "text/plain", NULL, "line1\nline2"},
     {"text/plain", NULL, NULL, NULL, "line1\r\nline2"}, TAAP_CAUSE_BODY_LINE_ENDINGS, OTHER_METHOD},
    {"body CRLF as LF", {NULL, NULL, "text/plain", NULL, "line1\r\nline2"},
     {"text/plain", NULL, NULL, NULL, "line1\nline2"}, TAAP_CAUSE_BODY_LINE_ENDINGS, OTHER_METHOD},
    {"trailing newline added", {0}, {NULL, NULL, NULL, NULL, BODY "\n"},
     TAAP_CAUSE_BODY_TRAILING_NEWLINE, OTHER_METHOD},
    {"trailing newline dropped", {NULL, NULL, NULL, NULL, BODY "\n"}, {NULL, NULL, NULL, NULL, BODY},
     TAAP_CAUSE_BODY_TRAILING_NEWLINE, OTHER_METHOD},
    {"JSON compact", {0}, {NULL, NULL, NULL, NULL, "{\"a\":1,\"b\":[1,2]}"},
     TAAP_CAUSE_JSON_RESERIALISED, OTHER_METHOD},
    {"JSON pretty", {NULL, NULL, NULL, NULL, "{\"a\":1,\"b\":[1,2]}"},
     {NULL, NULL, NULL, NULL, "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}"},
     TAAP_CAUSE_JSON_RESERIALISED, OTHER_METHOD},
};

static void test_each_mistake_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof g_rows / sizeof *g_rows; i++) {
        const row *r = &g_rows[i];
        taap_request q = make_req(&r->req);
        char *tok = sign(&r->sig, NULL);
        taap_code v;
        taap_explain *e = explain(tok, &q, &v);
        if (e->cause != r->want)
            fail_msg("row '%s': cause %s, want %s", r->what, taap_explain_cause_name(e->cause),
                     taap_explain_cause_name(r->want));
        assert_int_equal(v, TAAP_E_EDTS);
        assert_true(e->edts_computed);
        assert_false(e->edts_match);
        assert_non_null(e->cause_detail);
        assert_non_null(strstr(taap_explain_cause_text(e->cause), "edts matches this request"));
        taap_explain_free(e);
        free(tok);

        /* Negative: the mistake plus one unrelated change matches nothing. */
        signed_spec s = spoiled(r);
        tok = sign(&s, NULL);
        e = explain(tok, &q, &v);
        if (e->cause != TAAP_CAUSE_OTHER_REQUEST)
            fail_msg("row '%s' spoiled: cause %s, want other_request", r->what,
                     taap_explain_cause_name(e->cause));
        assert_null(e->cause_detail);
        assert_true(e->variants_tried > 0);
        taap_explain_free(e);
        free(tok);
    }
}

static void test_ehts_order(void **state)
{
    (void)state;
    req_spec base = {0};
    taap_request q = make_req(&base);
    signed_spec s = {0};
    const int swapped[5] = {0, 2, 1, 3, 4}; /* Authorization and uri values swapped */
    char *tok = sign(&s, swapped);
    taap_code v;
    taap_explain *e = explain(tok, &q, &v);
    assert_int_equal(v, TAAP_E_EDTS);
    assert_int_equal(e->cause, TAAP_CAUSE_EHTS_ORDER);
    assert_non_null(strstr(e->cause_detail, "Content-Type;uri;Authorization;http-method;body"));
    taap_explain_free(e);
    free(tok);
    /* Negative: swapped and the method changed. */
    s.method = "PUT";
    tok = sign(&s, swapped);
    e = explain(tok, &q, &v);
    assert_int_equal(e->cause, TAAP_CAUSE_OTHER_REQUEST);
    taap_explain_free(e);
    free(tok);
}

static void test_valid_has_no_cause(void **state)
{
    (void)state;
    req_spec base = {0};
    taap_request q = make_req(&base);
    signed_spec s = {0};
    char *tok = sign(&s, NULL);
    taap_code v;
    taap_explain *e = explain(tok, &q, &v);
    assert_int_equal(v, TAAP_OK);
    assert_true(e->edts_match);
    assert_int_equal(e->cause, TAAP_CAUSE_NONE);
    assert_int_equal(e->variants_tried, 0);
    assert_true(e->signature_verified);
    assert_int_equal(e->n_parts, 5);
    assert_string_equal(e->parts[2].value, CANON_URI);
    assert_true(e->parts[4].is_body);
    assert_int_equal(e->parts[4].body_len, (int64_t)strlen(BODY));
    /* SHA-256 of BODY, from sha256sum. */
    assert_string_equal(e->parts[4].body_sha256,
                        "e6f20bdc3757e5e7be4e316deff4196f19cf5954ffc76b1896228680fcdef66c");
    assert_int_equal(e->iat, NOW);
    assert_int_equal(e->exp, NOW + 60);
    taap_explain_free(e);

    /* The same token an hour later: expired, edts still matches, no cause. */
    g_now = NOW + 3600;
    e = explain(tok, &q, &v);
    g_now = NOW;
    assert_int_equal(v, TAAP_E_EXPIRED);
    assert_true(e->edts_match);
    assert_int_equal(e->cause, TAAP_CAUSE_NONE);
    assert_int_equal(e->now - e->exp, 3540);
    taap_explain_free(e);
    free(tok);
}

static void test_missing_part_no_cause(void **state)
{
    (void)state;
    req_spec base = {0};
    taap_request q = make_req(&base);
    q.n_headers = 1; /* Authorization and Host gone */
    signed_spec s = {0};
    char *tok = sign(&s, NULL);
    taap_code v;
    taap_explain *e = explain(tok, &q, &v);
    assert_int_equal(v, TAAP_E_EHTS);
    assert_false(e->parts[1].present);
    assert_false(e->edts_computed);
    assert_int_equal(e->cause, TAAP_CAUSE_NONE);
    taap_explain_free(e);
    free(tok);
}

/* Every header of util's one credential list is redacted in explanations
 * (the emulator's request log keeps them): X-Api-Key once was not. */
static void test_json_redacts_api_key(void **state)
{
    (void)state;
    taap_header h[1] = {{"X-Api-Key", "key-SECRET-0123456789"}};
    taap_request q;
    memset(&q, 0, sizeof q);
    q.method = "GET";
    q.target = URL;
    q.headers = h;
    q.n_headers = 1;
    q.body.kind = TAAP_BODY_MEMORY;
    q.body.data = "";
    q.body.len = 0;
    /* signed over another key value: the verifier says edts, and explains */
    taap_pop_entry e[3] = {{"X-Api-Key", "key-OTHER-0123456789", 20},
                           {"uri", CANON_URI, strlen(CANON_URI)},
                           {"http-method", "GET", 3}};
    taap_pop_options o;
    taap_pop_options_init(&o);
    o.clock = fixed_clock;
    o.clock_ctx = &g_now;
    char *tok = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_pop_build(g_priv, e, 3, &o, &tok, NULL, &err), TAAP_OK);
    taap_code v;
    taap_explain *x = explain(tok, &q, &v);
    assert_int_equal(v, TAAP_E_EDTS);
    char *j = NULL;
    assert_int_equal(taap_explain_to_json(x, TAAP_EXPLAIN_REDACT, &j, NULL), TAAP_OK);
    assert_null(strstr(j, "key-SECRET"));
    assert_non_null(strstr(j, "<redacted, 21 bytes>"));
    free(j);
    assert_int_equal(taap_explain_to_json(x, 0, &j, NULL), TAAP_OK);
    assert_non_null(strstr(j, "key-SECRET-0123456789")); /* only when asked to redact */
    free(j);
    taap_explain_free(x);
    free(tok);
}

static void test_json_redacts_credentials(void **state)
{
    (void)state;
    req_spec base = {0};
    taap_request q = make_req(&base);
    signed_spec s = {NULL, NULL, "/v1/orders?name=J%C3%BCrgen&x=1", NULL, NULL};
    char *tok = sign(&s, NULL);
    taap_code v;
    taap_explain *e = explain(tok, &q, &v);
    char *j = NULL;
    assert_int_equal(taap_explain_to_json(e, TAAP_EXPLAIN_REDACT, &j, NULL), TAAP_OK);
    assert_null(strstr(j, "abc123"));
    assert_non_null(strstr(j, "Bearer <redacted, 6 bytes>"));
    assert_non_null(strstr(j, "\"name\":\"query_percent_encoded\""));
    assert_non_null(strstr(j, "\"code\":\"TAAP_E_EDTS\""));
    assert_null(strstr(j, "\"head\""));
    free(j);
    assert_int_equal(taap_explain_to_json(e, 0, &j, NULL), TAAP_OK);
    assert_non_null(strstr(j, "\"head\":\"{\\\"a\\\": 1"));
    assert_non_null(strstr(j, "Bearer abc123"));
    /* Valid UTF-8 stays as is in JSON. */
    assert_non_null(strstr(j, "J\xc3\xbcrgen"));
    free(j);
    taap_explain_free(e);
    free(tok);
}

static void test_bad_signature_not_verified(void **state)
{
    (void)state;
    req_spec base = {0};
    taap_request q = make_req(&base);
    signed_spec s = {0};
    char *tok = sign(&s, NULL);
    tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
    taap_code v;
    taap_explain *e = explain(tok, &q, &v);
    assert_int_equal(v, TAAP_E_SIGNATURE);
    assert_false(e->signature_verified);
    assert_true(e->claims_read);
    taap_explain_free(e);
    free(tok);
}

static int setup(void **state)
{
    (void)state;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_key_load_private_file(tu_data("keys/rsa2048.pkcs8.pem"), NULL, 0, &g_priv, NULL, &err) ||
        taap_key_load_public_file(tu_data("keys/rsa2048.spki.pem"), &g_pub, &err)) {
        fprintf(stderr, "keys: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    taap_key_free(g_priv);
    taap_key_free(g_pub);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_mistake_named),
        cmocka_unit_test(test_ehts_order),
        cmocka_unit_test(test_valid_has_no_cause),
        cmocka_unit_test(test_missing_part_no_cause),
        cmocka_unit_test(test_json_redacts_credentials),
        cmocka_unit_test(test_json_redacts_api_key),
        cmocka_unit_test(test_bad_signature_not_verified),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
