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

#include <openssl/evp.h>

#include "b64url.h"
#include "run.h"
#include "testutil.h"

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
    const char *www_authenticate[2]; /* WWW-Authenticate headers, in order */
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
    fake_answer a = k < FAKE_MAX ? fake.answers[k] : (fake_answer){0, NULL, 0, {NULL, NULL}};
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
    for (size_t i = 0; i < 2 && a.www_authenticate[i]; i++) {
        taap_header *h = realloc(resp->headers, (resp->n_headers + 1) * sizeof *h);
        assert_non_null(h);
        resp->headers = h;
        h[resp->n_headers].name = strdup("WWW-Authenticate");
        h[resp->n_headers++].value = strdup(a.www_authenticate[i]);
    }
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
    fake.answers[0] = (fake_answer){200, "{\"access_token\":\"AT-secret-123\",\"expires_in\":3600}", 0, {NULL, NULL}};
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
    fake.answers[0] = (fake_answer){200, "{\"access_token\":\"AT-one-111\"}", 0, {NULL, NULL}};
    fake.answers[1] = (fake_answer){401, "{}", 0, {NULL, NULL}};
    fake.answers[2] = (fake_answer){200, "{\"access_token\":\"AT-two-222\"}", 0, {NULL, NULL}};
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
    fake.answers[1] = (fake_answer){0, NULL, 1, {NULL, NULL}}; /* transport error, then */
    fake.answers[2] = (fake_answer){503, "busy", 0, {NULL, NULL}}; /* a 5xx, then */
    fake.answers[3] = (fake_answer){404, "nope", 0, {NULL, NULL}}; /* a failure */
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


/* ---- digest: answering the server's challenge (Newman's replay) ----------------- */

#define CHALLENGE "Digest realm=\"r\", nonce=\"n\", qop=\"auth\", opaque=\"o\""
#define DIGEST_UP "{\"type\":\"digest\",\"digest\":[{\"key\":\"username\",\"value\":\"u\"}," \
                  "{\"key\":\"password\",\"value\":\"p\"}"

/* MD5 hex of s, computed here (RFC 7616's H), not by the code under test. */
static void md5_hex(const char *s, char out[33])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(s, strlen(s), h, &n, EVP_md5(), NULL), 1);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The Authorization a client answering CHALLENGE for u/p sends (qop auth). */
static void expected_answer(const char *method, const char *uri, const char *nc,
                            const char *cnonce, char *out, size_t cap)
{
    char a1[33], a2[33], resp[33], buf[256];
    md5_hex("u:r:p", a1);
    snprintf(buf, sizeof buf, "%s:%s", method, uri);
    md5_hex(buf, a2);
    snprintf(buf, sizeof buf, "%s:n:%s:%s:auth:%s", a1, nc, cnonce, a2);
    md5_hex(buf, resp);
    snprintf(out, cap,
             "Authorization: Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"%s\", "
             "algorithm=\"MD5\", qop=auth, nc=%s, cnonce=\"%s\", response=\"%s\", opaque=\"o\"\n",
             uri, nc, cnonce, resp);
}

typedef struct seen_events {
    int requests;
    long status;
    int limit_warned;
} seen_events;

static void on_event(void *ctx, const taap_run_event *ev)
{
    seen_events *s = ctx;
    if (ev->type == TAAP_RUN_EV_REQUEST) {
        s->requests++;
        s->status = ev->request->status;
    }
    if (ev->type == TAAP_RUN_EV_CONSOLE && ev->message &&
        strstr(ev->message, "runtime: maximum intermediate request limit exceeded"))
        s->limit_warned++;
}

static taap_run_result *run_digest(const taap_collection *c, unsigned iterations,
                                   seen_events *ev)
{
    taap_run_options o;
    taap_run_options_init(&o);
    o.iterations = iterations;
    unsigned char rnd = 0; /* the client nonce: "aaaaaaaa" */
    pm_run_seams seams = {fake_open, NULL, fixed_random, &rnd};
    taap_run_result *res = NULL;
    taap_error err = TAAP_ERROR_INIT;
    memset(ev, 0, sizeof *ev);
    assert_int_equal(pm_run_collection(c, NULL, NULL, NULL, &o, on_event, ev, &seams, &res, &err),
                     TAAP_OK);
    return res;
}

/* A 401 with a Digest challenge: the request went unsigned, is replayed
 * signed with the challenge's nonce, realm, qop and opaque (a client nonce
 * from the run's random source, nc 00000001); the reporters see one
 * request with the final response, the 401 kept as replayed over. What the
 * challenge set stays on the collection's auth: the next item and the next
 * iteration are signed at once, the nonce counted up after each answer. */
static void test_digest_challenge_answered(void **state)
{
    (void)state;
    fake_reset();
    taap_collection *c = parse(
        "{\"info\":{\"name\":\"D\",\"schema\":\"v2.1\"},\"auth\":" DIGEST_UP "]},"
        "\"item\":[{\"name\":\"one\",\"request\":{\"method\":\"GET\",\"url\":\"http://h.test/dir/index.html?x=1\"}},"
        "{\"name\":\"two\",\"request\":{\"method\":\"POST\",\"url\":\"http://h.test/two\"}}]}");
    fake.answers[0] = (fake_answer){401, "", 0, {CHALLENGE, NULL}};
    seen_events ev;
    taap_run_result *res = run_digest(c, 2, &ev);
    char want[512];
    assert_int_equal(fake.n, 5);
    assert_null(strstr(fake.seen[0].headers, "Authorization"));
    expected_answer("GET", "/dir/index.html?x=1", "00000001", "aaaaaaaa", want, sizeof want);
    assert_string_equal(strstr(fake.seen[1].headers, "Authorization"), want);
    /* the replay: the headers the runtime kept, then Authorization */
    assert_int_equal(strncmp(fake.seen[1].headers, "Accept: */*\nAuthorization: ", 27), 0);
    expected_answer("POST", "/two", "00000002", "aaaaaaaa", want, sizeof want);
    assert_non_null(strstr(fake.seen[2].headers, want));
    expected_answer("GET", "/dir/index.html?x=1", "00000003", "aaaaaaaa", want, sizeof want);
    assert_non_null(strstr(fake.seen[3].headers, want));
    expected_answer("POST", "/two", "00000004", "aaaaaaaa", want, sizeof want);
    assert_non_null(strstr(fake.seen[4].headers, want));
    /* reporters: one execution per item, the final response; the 401 listed as replayed over */
    assert_int_equal(taap_run_result_count(res), 4);
    const taap_run_request *q = taap_run_result_get(res, 0);
    assert_int_equal(q->status, 200);
    assert_int_equal(q->attempts, 1);
    assert_int_equal(q->n_replayed, 1);
    assert_int_equal(q->replayed[0].status, 401);
    assert_int_equal(taap_run_result_get(res, 1)->n_replayed, 0);
    assert_int_equal(ev.requests, 4);
    taap_run_stats st;
    taap_run_result_stats(res, &st);
    assert_int_equal(st.sent, 5); /* Newman counts the 401 as a request */
    assert_int_equal(st.failed, 0);
    /* the CLI prints the 401 on a line of its own before the final one */
    char *text = NULL;
    size_t no = 0;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_run_report_request(q, NULL, &no, &text, &err), TAAP_OK);
    const char *l401 = strstr(text, "  GET http://h.test/dir/index.html?x=1 [401, 0B, 1ms]\n");
    assert_non_null(l401);
    assert_non_null(strstr(l401, "  GET http://h.test/dir/index.html?x=1 [200, 2B, 1ms]"));
    free(text);
    /* the JSON report lists the execution once per request, as Newman's */
    assert_int_equal(taap_run_report_json(res, &text, &err), TAAP_OK);
    size_t listed = 0;
    for (const char *p = text; (p = strstr(p, "\"cursor\":")); p++)
        listed++;
    assert_int_equal(listed, 5);
    assert_non_null(strstr(text, "\"requests\":{\"total\":5,"));
    free(text);
    taap_run_result_free(res);
    taap_collection_free(c);
}

/* The X-Authorization value request `i` carried ("" when none). */
static void pop_of(int i, char *out, size_t cap)
{
    const char *h = strstr(fake.seen[i].headers, "X-Authorization: ");
    size_t n = h ? strcspn(h + 17, "\n") : 0;
    snprintf(out, cap, "%.*s", (int)n, h ? h + 17 : "");
}

/* A PoP request whose digest challenge is answered: Newman resends the
 * script's PoP header unchanged, taap signs the replay afresh — another
 * jti, and the Authorization it now carries among the signed parts. */
static void test_digest_replay_signs_a_fresh_pop(void **state)
{
    (void)state;
    fake_reset();
    taap_collection *c = parse(
        "{\"info\":{\"name\":\"D\",\"schema\":\"v2.1\"},\"item\":[{\"name\":\"one\","
        "\"request\":{\"method\":\"GET\",\"url\":\"http://h.test/p\","
        "\"header\":[{\"key\":\"X-Authorization\",\"value\":\"placeholder\"}],"
        "\"auth\":" DIGEST_UP "]}}}]}");
    fake.answers[0] = (fake_answer){401, "", 0, {CHALLENGE, NULL}};
    taap_key *key = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_load_private_file(tu_data("keys/rsa2048.pkcs8.pem"), NULL, 0, &key,
                                                NULL, &err), TAAP_OK);
    taap_run_options o;
    taap_run_options_init(&o);
    o.key = key;
    unsigned char rnd = 0;
    pm_run_seams seams = {fake_open, NULL, fixed_random, &rnd};
    taap_run_result *res = NULL;
    assert_int_equal(pm_run_collection(c, NULL, NULL, NULL, &o, NULL, NULL, &seams, &res, &err),
                     TAAP_OK);
    assert_int_equal(fake.n, 2);
    char first[1024], second[1024];
    pop_of(0, first, sizeof first);
    pop_of(1, second, sizeof second);
    assert_true(strlen(first) > 100);
    assert_true(strlen(second) > 100);
    assert_true(strcmp(first, second) != 0); /* not assert_string_*: a failure would print tokens */
    /* the replay's payload signs Authorization */
    const char *d1 = strchr(second, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    assert_non_null(d2);
    unsigned char payload[1024];
    size_t plen = 0;
    assert_int_equal(taap_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), payload, &plen), 0);
    payload[plen] = '\0';
    assert_non_null(strstr((char *)payload, "Authorization"));
    assert_int_equal(taap_run_result_get(res, 0)->status, 200);
    taap_run_result_free(res);
    taap_key_free(key);
    taap_collection_free(c);
}

/* One item with digest auth `auth` (closing "]}" included) answered by
 * `first` and then 200s: the number of requests sent. */
static int digest_requests(const char *auth, fake_answer first, seen_events *ev, long *status)
{
    fake_reset();
    taap_collection *c = one_auth("http://h.test/x", auth);
    for (int i = 0; i < FAKE_MAX; i++)
        fake.answers[i] = first.status ? first : (fake_answer){200, NULL, 0, {NULL, NULL}};
    fake.answers[1] = (fake_answer){200, NULL, 0, {NULL, NULL}};
    taap_run_result *res = run_digest(c, 1, ev);
    int n = fake.n;
    *status = taap_run_result_get(res, 0)->status;
    taap_run_result_free(res);
    taap_collection_free(c);
    return n;
}

/* When the runtime replays and when it does not: a 403 is answered like a
 * 401; a Digest challenge after a Basic one is found; not with
 * disableRetryRequest, nor for a Basic challenge, nor when the auth had
 * every parameter the challenge brings already (even another nonce: the
 * runtime checks presence). */
static void test_digest_challenge_rules(void **state)
{
    (void)state;
    seen_events ev;
    long status;
    assert_int_equal(digest_requests(DIGEST_UP "]}", (fake_answer){403, "", 0, {CHALLENGE, NULL}},
                                     &ev, &status), 2);
    assert_int_equal(status, 200);
    assert_non_null(strstr(fake.seen[1].headers, "Authorization: Digest username=\"u\""));
    assert_int_equal(digest_requests(DIGEST_UP "]}",
                                     (fake_answer){401, "", 0, {"Basic realm=\"b\"", CHALLENGE}},
                                     &ev, &status), 2);
    assert_int_equal(digest_requests(DIGEST_UP "]}", (fake_answer){401, "", 0, {"Basic realm=\"b\"", NULL}},
                                     &ev, &status), 1);
    assert_int_equal(status, 401);
    assert_int_equal(digest_requests(DIGEST_UP ",{\"key\":\"disableRetryRequest\",\"value\":true}]}",
                                     (fake_answer){401, "", 0, {CHALLENGE, NULL}}, &ev, &status), 1);
    assert_int_equal(status, 401);
    assert_int_equal(digest_requests(DIGEST_UP "]}", (fake_answer){500, "", 0, {CHALLENGE, NULL}},
                                     &ev, &status), 1);
    assert_int_equal(
        digest_requests(DIGEST_UP ",{\"key\":\"realm\",\"value\":\"r\"},{\"key\":\"nonce\",\"value\":\"old\"},"
                                  "{\"key\":\"qop\",\"value\":\"auth\"},{\"key\":\"opaque\",\"value\":\"o\"},"
                                  "{\"key\":\"clientNonce\",\"value\":\"c\"},{\"key\":\"nonceCount\",\"value\":\"00000001\"}]}",
                        (fake_answer){401, "", 0, {CHALLENGE, NULL}}, &ev, &status),
        1);
    assert_non_null(strstr(fake.seen[0].headers, "nonce=\"old\""));
    /* a parameter the auth lacked (opaque): replayed, the user's nonce kept */
    assert_int_equal(
        digest_requests(DIGEST_UP ",{\"key\":\"realm\",\"value\":\"r\"},{\"key\":\"nonce\",\"value\":\"old\"}]}",
                        (fake_answer){401, "", 0, {CHALLENGE, NULL}}, &ev, &status),
        2);
    assert_non_null(strstr(fake.seen[1].headers, "nonce=\"old\""));
    assert_non_null(strstr(fake.seen[1].headers, "opaque=\"o\""));
}

/* A challenge that never completes (an empty nonce) is replayed three
 * times, as the runtime's replay controller allows, then its warning and
 * the last 401 stands. */
static void test_digest_replay_bound(void **state)
{
    (void)state;
    seen_events ev;
    fake_reset();
    taap_collection *c = one_auth("http://h.test/x", DIGEST_UP "]}");
    for (int i = 0; i < FAKE_MAX; i++)
        fake.answers[i] = (fake_answer){401, "", 0, {"Digest realm=\"r\", nonce=\"\"", NULL}};
    taap_run_result *res = run_digest(c, 1, &ev);
    assert_int_equal(fake.n, 1 + PM_MAX_REPLAYS);
    assert_int_equal(PM_MAX_REPLAYS, 3);
    assert_int_equal(ev.limit_warned, 1);
    const taap_run_request *q = taap_run_result_get(res, 0);
    assert_int_equal(q->status, 401);
    assert_int_equal(q->n_replayed, 3);
    taap_run_result_free(res);
    taap_collection_free(c);
}

/* What the challenge set on an item's own auth lasts until the item is
 * done (the runtime restores the item's request): the next iteration is
 * challenged and replayed again, nc starting over. */
static void test_digest_item_auth_per_execution(void **state)
{
    (void)state;
    seen_events ev;
    fake_reset();
    taap_collection *c = one_auth("http://h.test/x", DIGEST_UP "]}");
    fake.answers[0] = fake.answers[2] = (fake_answer){401, "", 0, {CHALLENGE, NULL}};
    taap_run_result *res = run_digest(c, 2, &ev);
    assert_int_equal(fake.n, 4);
    assert_null(strstr(fake.seen[2].headers, "Authorization"));
    char want[512];
    expected_answer("GET", "/x", "00000001", "aaaaaaaa", want, sizeof want);
    assert_string_equal(strstr(fake.seen[3].headers, "Authorization"), want);
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
        cmocka_unit_test(test_digest_challenge_answered),
        cmocka_unit_test(test_digest_replay_signs_a_fresh_pop),
        cmocka_unit_test(test_digest_challenge_rules),
        cmocka_unit_test(test_digest_replay_bound),
        cmocka_unit_test(test_digest_item_auth_per_execution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
