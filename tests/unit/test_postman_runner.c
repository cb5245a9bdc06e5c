/* test_postman_runner.c — the runner driven through its transport seam
 * (src/postman/run.h) with a fake transport: what each request looks like
 * when it reaches the wire (auth table, token capture and reuse, Basic
 * credentials for the token request, implicit Content-Type), and how
 * responses become results (expectations, retries, 401 refresh), without
 * a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "run.h"

/* ---- the fake transport: records requests, answers from a script ---------- */

#define FAKE_MAX 32

typedef struct fake_req {
    char method[16];
    char url[512];
    char headers[2048]; /* "Name: value\n" lines, in order */
    char body[1024];
} fake_req;

typedef struct fake_answer {
    long status;
    const char *body;
    int transport_error;
} fake_answer;

static struct {
    fake_req seen[FAKE_MAX];
    int n;
    fake_answer answers[FAKE_MAX]; /* by request number; status 0 → 200 "{}" */
    int opened, closed;
} fake;

static int fake_send(pm_transport *t, const pm_http_req *rq, pm_http_resp *resp)
{
    (void)t;
    memset(resp, 0, sizeof *resp);
    int k = fake.n;
    if (k < FAKE_MAX) {
        fake_req *r = &fake.seen[k];
        snprintf(r->method, sizeof r->method, "%s", rq->method);
        snprintf(r->url, sizeof r->url, "%s", rq->url);
        size_t off = 0;
        for (size_t i = 0; i < rq->n_headers && off < sizeof r->headers; i++) {
            int w = snprintf(r->headers + off, sizeof r->headers - off, "%s: %s\n",
                             rq->hnames[i], rq->hvalues[i]);
            if (w > 0)
                off += (size_t)w;
        }
        snprintf(r->body, sizeof r->body, "%.*s", (int)rq->body_len,
                 rq->body ? (const char *)rq->body : "");
        fake.n++;
    }
    fake_answer a = k < FAKE_MAX ? fake.answers[k] : (fake_answer){0, NULL, 0};
    if (a.transport_error) {
        snprintf(resp->error, sizeof resp->error, "connection refused (fake)");
        return -1;
    }
    resp->status = a.status ? a.status : 200;
    const char *body = a.body ? a.body : "{}";
    resp->body = strdup(body);
    resp->body_len = strlen(body);
    resp->total_bytes = resp->body_len;
    resp->time_ms = 1.0;
    return 0;
}

static void fake_close(pm_transport *t)
{
    fake.closed++;
    free(t);
}

static const pm_transport_ops fake_ops = {fake_send, fake_close};

static pm_transport *fake_open(void *ctx)
{
    (void)ctx;
    pm_transport *t = calloc(1, sizeof *t);
    if (t) {
        t->ops = &fake_ops;
        fake.opened++;
    }
    return t;
}

static void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
}

/* ---- helpers ------------------------------------------------------------------- */

static taap_collection *parse(const char *json)
{
    taap_collection *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_collection_parse(json, strlen(json), &c, &err);
    if (rc != TAAP_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, TAAP_OK);
    return c;
}

static taap_run_result *run(const taap_collection *c, taap_varset *env, unsigned iterations,
                            unsigned retries)
{
    taap_run_options o;
    taap_run_options_init(&o);
    o.iterations = iterations;
    o.retries = retries;
    pm_run_seams seams = {fake_open, NULL, NULL, NULL};
    taap_run_result *res = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = pm_run_collection(c, env, NULL, NULL, &o, NULL, NULL, &seams, &res, &err);
    if (rc != TAAP_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, TAAP_OK);
    assert_int_equal(fake.opened, fake.closed); /* every transport closed */
    return res;
}

static const char token_collection[] =
    "{\"info\":{\"name\":\"T\",\"schema\":\"v2.1\"},"
    " \"auth\":{\"type\":\"bearer\",\"bearer\":[{\"key\":\"token\",\"value\":\"{{access_token}}\"}]},"
    " \"item\":["
    "  {\"name\":\"Get token\",\"request\":{\"method\":\"POST\","
    "    \"url\":\"http://api.test/oauth2/v6/tokens\",\"auth\":{\"type\":\"noauth\"}}},"
    "  {\"name\":\"Device\",\"request\":{\"method\":\"POST\",\"url\":\"http://api.test/d/{{id}}\","
    "    \"body\":{\"mode\":\"raw\",\"raw\":\"{\\\"a\\\":1}\","
    "      \"options\":{\"raw\":{\"language\":\"json\"}}}}}"
    " ]}";

/* ---- tests ----------------------------------------------------------------------- */

static void test_token_then_bearer(void **state)
{
    (void)state;
    fake_reset();
    fake.answers[0] = (fake_answer){200, "{\"access_token\":\"AT-secret-123\",\"expires_in\":3600}", 0};
    taap_collection *c = parse(token_collection);
    taap_varset *env = taap_varset_new();
    assert_int_equal(taap_varset_set(env, "client_id", "cid", NULL), TAAP_OK);
    assert_int_equal(taap_varset_set(env, "client_secret", "csecret", NULL), TAAP_OK);
    assert_int_equal(taap_varset_set(env, "id", "8901", NULL), TAAP_OK);
    taap_run_result *res = run(c, env, 2, 0);

    /* iteration 1: token request with Basic from the environment, then the
     * device with the captured bearer token; iteration 2 reuses the token */
    assert_int_equal(fake.n, 3);
    assert_string_equal(fake.seen[0].method, "POST");
    assert_string_equal(fake.seen[0].url, "http://api.test/oauth2/v6/tokens");
    assert_non_null(strstr(fake.seen[0].headers, "Authorization: Basic Y2lkOmNzZWNyZXQ=\n"));
    assert_string_equal(fake.seen[1].url, "http://api.test/d/8901");
    assert_non_null(strstr(fake.seen[1].headers, "Authorization: Bearer AT-secret-123\n"));
    assert_non_null(strstr(fake.seen[1].headers, "Content-Type: application/json\n"));
    assert_string_equal(fake.seen[1].body, "{\"a\":1}");
    assert_string_equal(fake.seen[2].url, "http://api.test/d/8901");
    assert_string_equal(taap_varset_get(env, "access_token"), "AT-secret-123");

    assert_int_equal(taap_run_result_count(res), 4);
    const taap_run_request *tok2 = taap_run_result_get(res, 2);
    assert_true(tok2->skipped); /* not sent: token still valid */
    const taap_run_request *dev = taap_run_result_get(res, 1);
    assert_true(dev->passed);
    /* the recorded header is redacted, the scheme kept */
    int found = 0;
    for (size_t i = 0; i < dev->n_headers; i++)
        if (!strcmp(dev->header_names[i], "Authorization")) {
            assert_string_equal(dev->header_values[i], "Bearer <redacted>");
            found = 1;
        }
    assert_true(found);
    assert_int_equal(taap_run_result_exit_code(res), 0);
    taap_run_result_free(res);
    taap_varset_free(env);
    taap_collection_free(c);
}

static void test_401_refreshes_once(void **state)
{
    (void)state;
    fake_reset();
    fake.answers[0] = (fake_answer){200, "{\"access_token\":\"AT-one-111\"}", 0};
    fake.answers[1] = (fake_answer){401, "{}", 0};
    fake.answers[2] = (fake_answer){200, "{\"access_token\":\"AT-two-222\"}", 0};
    taap_collection *c = parse(token_collection);
    taap_varset *env = taap_varset_new();
    assert_int_equal(taap_varset_set(env, "id", "1", NULL), TAAP_OK);
    taap_run_result *res = run(c, env, 1, 0);
    assert_int_equal(fake.n, 4);
    assert_non_null(strstr(fake.seen[1].headers, "Bearer AT-one-111"));
    assert_string_equal(fake.seen[2].url, "http://api.test/oauth2/v6/tokens");
    assert_non_null(strstr(fake.seen[3].headers, "Bearer AT-two-222"));
    const taap_run_request *dev = taap_run_result_get(res, taap_run_result_count(res) - 1);
    assert_string_equal(dev->name, "Device");
    assert_true(dev->passed);
    assert_non_null(strstr(dev->notes, "401"));
    taap_run_result_free(res);
    taap_varset_free(env);
    taap_collection_free(c);
}

static void test_auth_table_and_failures(void **state)
{
    (void)state;
    fake_reset();
    fake.answers[1] = (fake_answer){0, NULL, 1}; /* transport error, then */
    fake.answers[2] = (fake_answer){503, "busy", 0}; /* a 5xx, then */
    fake.answers[3] = (fake_answer){404, "nope", 0}; /* a failure */
    taap_collection *c = parse(
        "{\"info\":{\"name\":\"A\",\"schema\":\"v2.1\"},\"item\":["
        " {\"name\":\"basic\",\"request\":{\"method\":\"GET\",\"url\":\"http://h/a\","
        "   \"header\":[{\"key\":\"Authorization\",\"value\":\"old\"}],"
        "   \"auth\":{\"type\":\"basic\",\"basic\":[{\"key\":\"username\",\"value\":\"u\"},"
        "     {\"key\":\"password\",\"value\":\"p\"}]}}},"
        " {\"name\":\"apikey\",\"request\":{\"method\":\"GET\",\"url\":\"http://h/b\","
        "   \"auth\":{\"type\":\"apikey\",\"apikey\":[{\"key\":\"key\",\"value\":\"k y\"},"
        "     {\"key\":\"value\",\"value\":\"v&1\"},{\"key\":\"in\",\"value\":\"query\"}]}}},"
        " {\"name\":\"hawk\",\"request\":{\"method\":\"GET\",\"url\":\"http://h/c\","
        "   \"auth\":{\"type\":\"hawk\",\"hawk\":[]}}}"
        "]}");
    taap_run_result *res = run(c, NULL, 1, 2);
    /* basic replaces the collection's Authorization header */
    assert_non_null(strstr(fake.seen[0].headers, "Authorization: Basic dTpw\n"));
    assert_null(strstr(fake.seen[0].headers, "Authorization: old"));
    /* apikey in the query, percent-encoded; tried three times (--retry 2) */
    assert_string_equal(fake.seen[1].url, "http://h/b?k%20y=v%261");
    assert_string_equal(fake.seen[3].url, "http://h/b?k%20y=v%261");
    assert_int_equal(fake.n, 4); /* the unknown auth type is never sent */
    const taap_run_request *q = taap_run_result_get(res, 1);
    assert_int_equal(q->attempts, 3);
    assert_int_equal(q->status, 404);
    assert_false(q->passed);
    q = taap_run_result_get(res, 2);
    assert_true(q->config_error);
    assert_non_null(strstr(q->error, "hawk"));
    assert_int_equal(taap_run_result_exit_code(res), 2);
    taap_run_result_free(res);
    taap_collection_free(c);
}

/* ---- the signing auth types (auth_digest.c, auth_oauth1.c) ----------------------- */

static int64_t fixed_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* the seam's random bytes: all `*ctx` */
static void fixed_random(void *ctx, unsigned char *buf, size_t n)
{
    memset(buf, *(const unsigned char *)ctx, n);
}

static taap_run_result *run_fixed(const taap_collection *c, int64_t now, unsigned char rnd)
{
    taap_run_options o;
    taap_run_options_init(&o);
    o.clock = fixed_clock;
    o.clock_ctx = &now;
    pm_run_seams seams = {fake_open, NULL, fixed_random, &rnd};
    taap_run_result *res = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(pm_run_collection(c, NULL, NULL, NULL, &o, NULL, NULL, &seams, &res, &err),
                     TAAP_OK);
    return res;
}

/* One request with the given auth JSON. */
static taap_collection *one_auth(const char *url, const char *auth)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"info\":{\"name\":\"S\",\"schema\":\"v2.1\"},\"item\":[{\"name\":\"r\","
             "\"request\":{\"method\":\"GET\",\"url\":\"%s\",\"auth\":%s}}]}",
             url, auth);
    return parse(json);
}

#define OAUTH1_RFC                                                                              \
    "{\"type\":\"oauth1\",\"oauth1\":[{\"key\":\"consumerKey\",\"value\":\"dpf43f3p2l4k3l03\"},"  \
    "{\"key\":\"consumerSecret\",\"value\":\"kd94hf93k423kf44\"},"                               \
    "{\"key\":\"token\",\"value\":\"nnch734d00sl2jdk\"},"                                        \
    "{\"key\":\"tokenSecret\",\"value\":\"pfkkdhi9sl3r4s00\"},"                                  \
    "{\"key\":\"signatureMethod\",\"value\":\"HMAC-SHA1\"},{\"key\":\"version\",\"value\":\"1.0\"}," \
    "{\"key\":\"addParamsToHeader\",\"value\":true}"

/* OAuth 1.0's published example (photos.example.net, HMAC-SHA1): with the
 * nonce and timestamp given, the signature is the spec's. */
static void test_oauth1_published_example(void **state)
{
    (void)state;
    fake_reset();
    taap_collection *c = one_auth(
        "http://photos.example.net/photos?file=vacation.jpg&size=original",
        OAUTH1_RFC ",{\"key\":\"nonce\",\"value\":\"kllo9940pd9333jh\"},"
                   "{\"key\":\"timestamp\",\"value\":\"1191242096\"}]}");
    taap_run_result *res = run_fixed(c, 1, 0);
    assert_int_equal(fake.n, 1);
    assert_non_null(strstr(fake.seen[0].headers,
                           "Authorization: OAuth oauth_consumer_key=\"dpf43f3p2l4k3l03\","
                           "oauth_token=\"nnch734d00sl2jdk\",oauth_signature_method=\"HMAC-SHA1\","
                           "oauth_timestamp=\"1191242096\",oauth_nonce=\"kllo9940pd9333jh\","
                           "oauth_version=\"1.0\",oauth_signature=\"tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D\"\n"));
    assert_string_equal(fake.seen[0].url,
                        "http://photos.example.net/photos?file=vacation.jpg&size=original");
    taap_run_result_free(res);
    taap_collection_free(c);
}

/* Without a nonce or timestamp they come from the run's random source and
 * clock: fixed seams give the same request twice, another random byte
 * another nonce (and signature); a request given that nonce and time
 * explicitly signs identically. */
static void test_oauth1_nonce_and_time_injected(void **state)
{
    (void)state;
    taap_collection *c = one_auth("http://h.test/p", OAUTH1_RFC "]}");
    char first[2048], again[2048], other[2048];
    fake_reset();
    taap_run_result *res = run_fixed(c, 1700000000, 7);
    snprintf(first, sizeof first, "%s", fake.seen[0].headers);
    taap_run_result_free(res);
    fake_reset();
    res = run_fixed(c, 1700000000, 7);
    snprintf(again, sizeof again, "%s", fake.seen[0].headers);
    taap_run_result_free(res);
    fake_reset();
    res = run_fixed(c, 1700000000, 8);
    snprintf(other, sizeof other, "%s", fake.seen[0].headers);
    taap_run_result_free(res);
    taap_collection_free(c);
    assert_string_equal(first, again);
    assert_string_not_equal(first, other);
    assert_non_null(strstr(first, "oauth_timestamp=\"1700000000\""));
    const char *n = strstr(first, "oauth_nonce=\"");
    assert_non_null(n);
    n += 13;
    assert_int_equal(strcspn(n, "\""), 11); /* the runtime's nonce length */
    char nonce[12];
    snprintf(nonce, sizeof nonce, "%.11s", n);
    for (const char *p = nonce; *p; p++)
        assert_non_null(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXTZabcdefghiklmnopqrstuvwxyz", *p));
    char auth[1024];
    snprintf(auth, sizeof auth,
             OAUTH1_RFC ",{\"key\":\"nonce\",\"value\":\"%s\"},"
                        "{\"key\":\"timestamp\",\"value\":\"1700000000\"}]}",
             nonce);
    c = one_auth("http://h.test/p", auth);
    fake_reset();
    res = run_fixed(c, 5, 9); /* other clock and randomness: unused */
    assert_string_equal(fake.seen[0].headers, first);
    taap_run_result_free(res);
    taap_collection_free(c);
}

/* RFC 2617's example (Mufasa, qop=auth): the response digest is the RFC's;
 * without a nonce the request goes unsigned with a warning. */
static void test_digest_rfc2617(void **state)
{
    (void)state;
    fake_reset();
    taap_collection *c = one_auth(
        "http://h.test/dir/index.html",
        "{\"type\":\"digest\",\"digest\":[{\"key\":\"username\",\"value\":\"Mufasa\"},"
        "{\"key\":\"realm\",\"value\":\"testrealm@host.com\"},"
        "{\"key\":\"password\",\"value\":\"Circle Of Life\"},"
        "{\"key\":\"nonce\",\"value\":\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"},"
        "{\"key\":\"qop\",\"value\":\"auth\"},{\"key\":\"nonceCount\",\"value\":\"00000001\"},"
        "{\"key\":\"clientNonce\",\"value\":\"0a4f113b\"},"
        "{\"key\":\"opaque\",\"value\":\"5ccc069c403ebaf9f0171e9517f40e41\"}]}");
    taap_run_result *res = run_fixed(c, 1, 0);
    assert_non_null(strstr(fake.seen[0].headers,
                           "Authorization: Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                           "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
                           "algorithm=\"MD5\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
                           "response=\"6629fae49393a05397450978507c4ef1\", "
                           "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\n"));
    taap_run_result_free(res);
    taap_collection_free(c);

    fake_reset();
    c = one_auth("http://h.test/x",
                 "{\"type\":\"digest\",\"digest\":[{\"key\":\"username\",\"value\":\"u\"},"
                 "{\"key\":\"realm\",\"value\":\"r\"},{\"key\":\"password\",\"value\":\"p\"}]}");
    res = run_fixed(c, 1, 0);
    assert_int_equal(fake.n, 1);
    assert_null(strstr(fake.seen[0].headers, "Authorization"));
    taap_run_result_free(res);
    taap_collection_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_then_bearer),
        cmocka_unit_test(test_401_refreshes_once),
        cmocka_unit_test(test_auth_table_and_failures),
        cmocka_unit_test(test_oauth1_published_example),
        cmocka_unit_test(test_oauth1_nonce_and_time_injected),
        cmocka_unit_test(test_digest_rfc2617),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
