/*
 * test_run_conformance.c — `taap run` over Postman's own fixture
 * collections (../shared/conformance/postman), sent to a tiny loopback echo
 * server this test starts on port 0 (hosts redirected with --connect-to;
 * https:// fixtures are copied with http:// so no TLS is needed). Each test
 * checks the method, target, headers and body the server received. Nothing
 * leaves the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taap/taap.h"
#include "testutil.h"

/* ---- the echo server ----------------------------------------------------------- */

#define MAX_REQS 128

typedef struct echo_req {
    char method[32];
    char target[2048];
    char *head;     /* header lines after the request line, "\r\n"-separated */
    char *body;
    size_t body_len;
} echo_req;

static struct {
    int fd;
    unsigned port;
    pthread_t th;
    pthread_mutex_t mu;
    echo_req reqs[MAX_REQS];
    int n;
} echo;

static ssize_t find_crlf2(const char *b, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (!memcmp(b + i, "\r\n\r\n", 4))
            return (ssize_t)i;
    return -1;
}

static void serve_conn(int c)
{
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1); /* +1: kept NUL-terminated for the str* searches */
    ssize_t hend = -1;
    while (buf && len < cap && (hend = find_crlf2(buf, len)) < 0) {
        ssize_t got = read(c, buf + len, cap - len);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    if (!buf || hend < 0) {
        free(buf);
        return;
    }
    buf[len] = '\0';
    size_t clen = 0;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (cl && cl < buf + hend)
        clen = strtoul(cl + 17, NULL, 10);
    size_t want = (size_t)hend + 4 + clen;
    while (len < want && len < cap) {
        ssize_t got = read(c, buf + len, cap - len);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    pthread_mutex_lock(&echo.mu);
    if (echo.n < MAX_REQS) {
        echo_req *r = &echo.reqs[echo.n++];
        const char *sp1 = memchr(buf, ' ', (size_t)hend);
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(buf + hend - sp1 - 1)) : NULL;
        const char *eol = strstr(buf, "\r\n");
        if (sp1 && sp2) {
            snprintf(r->method, sizeof r->method, "%.*s", (int)(sp1 - buf), buf);
            snprintf(r->target, sizeof r->target, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
        }
        size_t hl = eol && eol < buf + hend ? (size_t)(buf + hend - eol) : 0;
        r->head = calloc(1, hl + 3);
        if (hl)
            memcpy(r->head, eol, hl); /* starts with "\r\n" so "\r\nName: v" matches */
        memcpy(r->head + hl, "\r\n", 2);
        r->body_len = len > (size_t)hend + 4 ? len - (size_t)hend - 4 : 0;
        r->body = calloc(1, r->body_len + 1);
        memcpy(r->body, buf + hend + 4, r->body_len);
    }
    pthread_mutex_unlock(&echo.mu);
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    ssize_t w = write(c, resp, sizeof resp - 1);
    (void)w;
    free(buf);
}

static void *echo_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(echo.fd, NULL, NULL);
        if (c < 0)
            break;
        serve_conn(c);
        close(c);
    }
    return NULL;
}

static void echo_reset(void)
{
    pthread_mutex_lock(&echo.mu);
    for (int i = 0; i < echo.n; i++) {
        free(echo.reqs[i].head);
        free(echo.reqs[i].body);
    }
    memset(echo.reqs, 0, sizeof echo.reqs);
    echo.n = 0;
    pthread_mutex_unlock(&echo.mu);
}

static char *dir;

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&echo.mu, NULL);
    echo.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (echo.fd < 0 || bind(echo.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(echo.fd, 64) != 0 || getsockname(echo.fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    echo.port = ntohs(a.sin_port);
    if (pthread_create(&echo.th, NULL, echo_main, NULL) != 0)
        return -1;
    dir = tu_tempdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    shutdown(echo.fd, SHUT_RDWR);
    close(echo.fd);
    pthread_join(echo.th, NULL);
    echo_reset();
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* A copy of a fixture with https:// turned into http:// (the echo server
 * speaks plain HTTP); returns its path (static buffer). */
static const char *fixture(const char *name)
{
    static char out[4096];
    char rel[512];
    snprintf(rel, sizeof rel, "conformance/postman/%s", name);
    size_t len;
    char *t = tu_read(tu_shared(rel), &len);
    char *o = malloc(len + 1);
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        if (!strncmp(t + i, "https://", 8)) {
            memcpy(o + w, "http://", 7);
            w += 7;
            i += 8;
        } else if (!strncmp(t + i, "\"https\"", 7)) {
            memcpy(o + w, "\"http\"", 6);
            w += 6;
            i += 7;
        } else {
            o[w++] = t[i++];
        }
    }
    snprintf(out, sizeof out, "%s/%s", dir, name);
    tu_write(out, o, w);
    free(t);
    free(o);
    return out;
}

/* `taap run COLLECTION ARGS…` with every host sent to the echo server. */
static int run(char **out, char **err, const char *coll, ...)
{
    char ct[64];
    snprintf(ct, sizeof ct, "::127.0.0.1:%u", echo.port);
    const char *argv[64] = {tu_taap_bin(), "run", coll, "--connect-to", ct};
    int n = 5;
    va_list ap;
    va_start(ap, coll);
    for (const char *a = va_arg(ap, const char *); a && n < 63; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return tu_run((char *const *)argv, NULL, out, err);
}

static const echo_req *req(int i)
{
    assert_true(i < echo.n);
    return &echo.reqs[i];
}

static void test_urlencoded(void **state)
{
    (void)state;
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("transformer--urlencoded-post-data.postman_collection.json"), NULL), 0);
    assert_int_equal(echo.n, 1);
    assert_string_equal(req(0)->method, "POST");
    assert_string_equal(req(0)->target, "/post");
    assert_non_null(strstr(req(0)->head, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    assert_non_null(strstr(req(0)->head, "\r\nHost: httpbin.org\r\n"));
    assert_string_equal(req(0)->body, "akshay=bald&yakshay=ybald");
}

static void test_raw_json_and_path_variable(void **state)
{
    (void)state;
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("transformer--rawjsonbody.postman_collection.json"), NULL), 0);
    assert_string_equal(req(0)->method, "POST");
    assert_string_equal(req(0)->target, "/post"); /* :method from url.variable (by id) */
    /* its Content-Type: application/json is under a v1 "headers" key, which
     * the SDK does not read: the raw body's default type goes, as Newman's */
    assert_null(strstr(req(0)->head, "application/json"));
    assert_non_null(strstr(req(0)->head, "\r\nContent-Type: text/plain\r\n"));
    assert_string_equal(req(0)->body, "{\n    \"asd\": \"tyyy\"\n}");
    assert_non_null(strstr(req(0)->head, "\r\nContent-Length: 21\r\n"));
}

static void test_graphql(void **state)
{
    (void)state;
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("schemas--reqBodyGraphQL.postman_collection.json"), NULL), 0);
    assert_string_equal(req(0)->target, "/post");
    assert_non_null(strstr(req(0)->head, "\r\nContent-Type: application/json\r\n"));
    assert_string_equal(req(0)->body, "{\"query\":\"query Test { hello }\",\"operationName\":"
                                      "\"Test\",\"variables\":{\"foo\":\"bar\"}}");
    /* the body builder's Content-Type comes before the system header Accept */
    assert_true(strstr(req(0)->head, "Content-Type:") < strstr(req(0)->head, "Accept:"));
}

static void test_apikey(void **state)
{
    (void)state;
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("schemas--apikeyAuthTest.postman_collection.json"), NULL), 0);
    assert_string_equal(req(0)->method, "GET");
    assert_string_equal(req(0)->target, "/get");
    assert_int_equal(tu_count(req(0)->head, "\r\ntoken: "), 1); /* replaced, not added twice */
    assert_non_null(strstr(req(0)->head, "\r\ntoken: wkjehbxoqnunc2k3\r\n"));
    assert_int_equal(req(0)->body_len, 0);
}

static void test_request_structure(void **state)
{
    (void)state;
    echo_reset();
    char *err;
    assert_int_equal(run(NULL, &err, fixture("schemas--request.postman_collection.json"), NULL), 0);
    assert_string_equal(req(0)->method, "GET");
    /* {{beta}} unresolved: sent verbatim (encoded), one warning; :gamma
     * substituted; the fragment is not sent; a GET body is pruned */
    assert_string_equal(req(0)->target, "/alpha/%7B%7Bbeta%7D%7D/radiation?foo=bar");
    assert_int_equal(tu_count(err, "unresolved variable {{beta}}"), 1);
    assert_non_null(strstr(req(0)->head, "\r\nContent-Type: application/json; charset=utf8\r\n"));
    assert_non_null(strstr(req(0)->head, "\r\nHost: postman-echo.com:443\r\n"));
    assert_int_equal(req(0)->body_len, 0);
    free(err);
    /* with beta given, nothing is left */
    echo_reset();
    assert_int_equal(run(NULL, &err, fixture("schemas--request.postman_collection.json"), "--env-var",
                         "beta=b e", NULL), 0);
    assert_string_equal(req(0)->target, "/alpha/b%20e/radiation?foo=bar");
    assert_null(strstr(err, "unresolved"));
    free(err);
}

static void test_basic_auth_inherited_entities(void **state)
{
    (void)state;
    echo_reset();
    char *err, *log;
    /* the reference README: username=u, token=p → Authorization: Basic dTpw;
     * the console.log scripts run in the sandbox, in Newman's order:
     * collection → folder → request, pre-request before test */
    assert_int_equal(run(&log, &err, fixture("schemas--nestedEntities.postman_collection.json"),
                         "--folder", "F1", "--env-var", "username=u", "--env-var", "token=p",
                         "--no-redact", NULL),
                     0);
    assert_int_equal(echo.n, 1);
    assert_non_null(strstr(req(0)->head, "\r\nAuthorization: Basic dTpw\r\n"));
    static const char *const order[] = {
        "Collection level pre request script", "Folder level pre request script",
        "Request level pre request script",    "Collection level test script",
        "Folder level test script",            "Request level test script"};
    const char *at = log;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *next = strstr(at, order[i]);
        if (!next)
            fail_msg("console line \"%s\" missing or out of order in:\n%s", order[i], log);
        at = next;
    }
    free(log);
    free(err);
    /* the oauth1 request is signed (HMAC-SHA1 with the collection's fixed
     * nonce and timestamp: the value Newman sends for it) */
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("schemas--nestedEntities.postman_collection.json"),
                         "--env-var", "username=u", "--env-var", "token=p", NULL),
                     0);
    assert_int_equal(echo.n, 2);
    assert_non_null(strstr(req(1)->head,
                           "\r\nAuthorization: OAuth oauth_consumer_key=\"RKCGzna7bv9YD57c\","
                           "oauth_signature_method=\"HMAC-SHA1\",oauth_timestamp=\"1500452534\","
                           "oauth_nonce=\"S0kXloMHurS\",oauth_version=\"1.0\","
                           "oauth_signature=\"6Q1MuPJwhPVNi165%2FsV7nwY%2Bf5o%3D\"\r\n"));
}

static void test_file_and_formdata_bodies(void **state)
{
    (void)state;
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("schemas--req-body-file-src-null.postman_collection.json"), NULL), 0);
    assert_string_equal(req(0)->method, "POST");
    assert_non_null(strstr(req(0)->head, "\r\nContent-Length: 0\r\n"));
    assert_int_equal(req(0)->body_len, 0);

    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("schemas--reqBodyContentType.postman_collection.json"),
                         "--folder", "text", NULL),
                     0);
    const echo_req *r = req(0);
    const char *ct = strstr(r->head, "\r\nContent-Type: multipart/form-data; boundary=");
    assert_non_null(ct);
    char boundary[80];
    snprintf(boundary, sizeof boundary, "%.*s", (int)strcspn(ct + 46, "\r"), ct + 46);
    char expect[2048];
    snprintf(expect, sizeof expect,
             "--%s\r\nContent-Disposition: form-data; name=\"plainText\"\r\n\r\nplainValue\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"json\"\r\nContent-Type: "
             "application/json\r\n\r\n{\"key\": \"value\"}\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"csv\"\r\nContent-Type: text/csv\r\n\r\n"
             "key,value\n1,a\n2,b\r\n--%s--\r\n",
             boundary, boundary, boundary, boundary);
    assert_string_equal(r->body, expect);

    /* a file part that does not exist is warned about (Newman's words) and
     * left out; with no part left the request goes without a body */
    echo_reset();
    char *out;
    assert_int_equal(run(&out, NULL, fixture("schemas--reqBodyContentType.postman_collection.json"),
                         "--folder", "file", NULL),
                     0);
    assert_non_null(strstr(out, "Form param `json`, file load error: \"path/to/file.json\", no such file"));
    assert_non_null(strstr(out, "Form param `csv`, file load error: \"path/to/randomFile\", no such file"));
    assert_int_equal(echo.n, 1);
    assert_null(strstr(req(0)->head, "Content-Type"));
    assert_non_null(strstr(req(0)->head, "\r\nContent-Length: 0\r\n"));
    free(out);
    /* … and with the files present (--working-dir) the parts carry them */
    char p[4096];
    snprintf(p, sizeof p, "%s/path", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/path/to", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/path/to/file.json", dir);
    tu_write(p, "{\"f\":1}", 7);
    snprintf(p, sizeof p, "%s/path/to/randomFile", dir);
    tu_write(p, "a,b\n", 4);
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("schemas--reqBodyContentType.postman_collection.json"),
                         "--folder", "file", "--working-dir", dir, NULL),
                     0);
    assert_non_null(strstr(req(0)->body, "name=\"json\"; filename=\"file.json\"\r\nContent-Type: "
                                         "application/json\r\n\r\n{\"f\":1}\r\n"));
    assert_non_null(strstr(req(0)->body, "filename=\"randomFile\"\r\nContent-Type: text/csv\r\n\r\na,b\n\r\n"));
}

static void test_httpbin_mixed(void **state)
{
    (void)state;
    echo_reset();
    assert_int_equal(run(NULL, NULL, fixture("transformer--httpbin.postman_collection.json"), NULL), 0);
    assert_int_equal(echo.n, 4);
    assert_string_equal(req(0)->target, "/post?random=yeah"); /* protocol-relative URL */
    assert_string_equal(req(1)->target, "/post?random=yo");
    assert_non_null(strstr(req(1)->head, "multipart/form-data; boundary="));
    assert_non_null(strstr(req(2)->head, "application/x-www-form-urlencoded"));
    assert_string_equal(req(3)->method, "GET");
    assert_string_equal(req(3)->target, "/status/201");
}

static void test_folders_and_order(void **state)
{
    (void)state;
    char rep[4096];
    snprintf(rep, sizeof rep, "%s/ml.json", dir);
    const char *c = fixture("transformer--multi-level.v21.postman_collection.json");
    /* the fixture's URLs are empty: each request is a config error (exit 2),
     * but the selection and the depth-first order show in the report */
    assert_int_equal(run(NULL, NULL, c, "--folder", "F2", "--reporter-json-export", rep, NULL), 2);
    json_t *r = json_load_file(rep, 0, NULL);
    json_t *ex = json_object_get(json_object_get(r, "run"), "executions");
    assert_int_equal(json_array_size(ex), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(ex, 0), "item"), "path")),
                        "F1 / F2 / F3 / R3");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(ex, 1), "item"), "path")),
                        "F1 / F2 / R2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ex, 0), "error")),
                        "F1 / F2 / F3 / R3: the request has no URL");
    json_decref(r);
    assert_int_equal(run(NULL, NULL, c, "--folder", "F4/F6", "--folder", "R1",
                         "--reporter-json-export", rep, NULL),
                     2);
    r = json_load_file(rep, 0, NULL);
    ex = json_object_get(json_object_get(r, "run"), "executions");
    assert_int_equal(json_array_size(ex), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(ex, 0), "item"), "path")),
                        "F1 / R1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(ex, 1), "item"), "path")),
                        "F4 / F6 / R6");
    json_decref(r);
}

static void test_data_json_and_dynamic(void **state)
{
    (void)state;
    char c[4096];
    snprintf(c, sizeof c, "%s/data-coll.json", dir);
    const char *text = "{\"info\":{\"name\":\"d\"},\"variable\":[{\"key\":\"dataVar\",\"value\":\"coll\"}],"
                       "\"item\":[{\"name\":\"r\",\"request\":{\"method\":\"POST\",\"url\":"
                       "\"http://h/{{dataVar}}\",\"body\":{\"mode\":\"raw\",\"raw\":"
                       "\"{{$guid}} {{$guid}} {{$timestamp}}\"}}}]}";
    tu_write(c, text, strlen(text));
    echo_reset();
    assert_int_equal(run(NULL, NULL, c, "-d",
                         tu_shared("conformance/postman/newman--data-file-var-replacement.postman_data.json"),
                         "--now-file", "/nonexistent-clock-file", NULL),
                     0);
    assert_int_equal(echo.n, 2);
    assert_string_equal(req(0)->target, "/value1"); /* data beats the collection variable */
    assert_string_equal(req(1)->target, "/value2");
    assert_non_null(strstr(req(0)->head, "\r\nContent-Type: text/plain\r\n"));
    /* two fresh GUIDs per body */
    assert_int_equal(req(0)->body_len, 36 + 1 + 36 + 1 + 10);
    assert_memory_not_equal(req(0)->body, req(0)->body + 37, 36);
    assert_memory_not_equal(req(0)->body, req(1)->body, 36);
    /* -n beyond the data reuses the last row */
    echo_reset();
    assert_int_equal(run(NULL, NULL, c, "-n", "3", "-d",
                         tu_shared("conformance/postman/newman--data-file-var-replacement.postman_data.json"),
                         NULL),
                     0);
    assert_string_equal(req(2)->target, "/value2");
}

/* The PoP is built last over exactly the bytes sent: verify the received
 * token against the received request with the public key. */
static void test_pop_over_sent_bytes(void **state)
{
    (void)state;
    taap_key *key = NULL;
    assert_int_equal(taap_key_generate(2048, &key, NULL), TAAP_OK);
    char *pem = NULL;
    assert_int_equal(taap_key_private_pem(key, NULL, &pem, NULL), TAAP_OK);
    char keyf[4096], c[4096];
    snprintf(keyf, sizeof keyf, "%s/k.pem", dir);
    tu_write(keyf, pem, strlen(pem));
    chmod(keyf, 0600);
    taap_key_free_pem(pem);
    snprintf(c, sizeof c, "%s/pop-coll.json", dir);
    const char *text =
        "{\"info\":{\"name\":\"p\"},\"auth\":{\"type\":\"bearer\",\"bearer\":[{\"key\":\"token\","
        "\"value\":\"{{tok}}\"}]},\"item\":[{\"name\":\"r\",\"request\":{\"method\":\"PATCH\","
        "\"url\":\"http://api.example/iot-connectivity/v1/devices/{{id}}?q=a%20b\",\"header\":"
        "[{\"key\":\"X-Authorization\",\"value\":\"{{popToken}}\"}],\"body\":{\"mode\":\"raw\","
        "\"raw\":\"{\\\"status\\\":\\\"{{st}}\\\"}\",\"options\":{\"raw\":{\"language\":\"json\"}}}}}]}";
    tu_write(c, text, strlen(text));
    echo_reset();
    char *err;
    assert_int_equal(run(NULL, &err, c, "--key", keyf, "--env-var", "tok=AT-1", "--env-var",
                         "id=8901", "--env-var", "st=SUSPENDED", NULL),
                     0);
    assert_null(strstr(err, "popToken")); /* the placeholder is replaced, not warned about */
    free(err);
    const echo_req *r = req(0);
    assert_string_equal(r->method, "PATCH");
    assert_string_equal(r->body, "{\"status\":\"SUSPENDED\"}");
    /* headers as received */
    taap_header hs[32];
    size_t nh = 0;
    char *copy = strdup(r->head + 2), *pop = NULL;
    for (char *line = copy, *next; line && *line && nh < 32; line = next) {
        char *crlf = strstr(line, "\r\n");
        next = crlf ? crlf + 2 : NULL;
        if (crlf)
            *crlf = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        if (!strcasecmp(line, "X-Authorization"))
            pop = v;
        else
            hs[nh++] = (taap_header){line, v};
    }
    assert_non_null(pop);
    taap_request rq = {r->method, r->target, hs, nh, {TAAP_BODY_MEMORY, r->body, (int64_t)r->body_len, NULL, NULL, NULL}};
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    const char *need[] = {"Authorization", "Content-Type", "uri", "http-method", "body"};
    cfg.required = need;
    cfg.n_required = 5;
    taap_error e = TAAP_ERROR_INIT;
    taap_verify_info info = {0};
    taap_code vc = taap_verify(pop, strlen(pop), key, &rq, &cfg, &info, &e);
    if (vc != TAAP_OK)
        fprintf(stderr, "verify: %s\n", e.message);
    assert_int_equal(vc, TAAP_OK);
    assert_string_equal(info.ehts, "Content-Type;Authorization;uri;http-method;body");
    taap_verify_info_free(&info);
    free(copy);
    taap_key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urlencoded),
        cmocka_unit_test(test_raw_json_and_path_variable),
        cmocka_unit_test(test_graphql),
        cmocka_unit_test(test_apikey),
        cmocka_unit_test(test_request_structure),
        cmocka_unit_test(test_basic_auth_inherited_entities),
        cmocka_unit_test(test_file_and_formdata_bodies),
        cmocka_unit_test(test_httpbin_mixed),
        cmocka_unit_test(test_folders_and_order),
        cmocka_unit_test(test_data_json_and_dynamic),
        cmocka_unit_test(test_pop_over_sent_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
