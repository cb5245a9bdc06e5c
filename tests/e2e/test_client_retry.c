/* test_client_retry.c — taap_client retries against a scripted server on
 * loopback (the emulator never answers 503): idempotent methods retried on
 * 503 with a fresh PoP (new jti) each time, POST not retried on a status,
 * a file body re-sent whole after a 401 with a new token, X-Auth-Originator
 * sent when asked, and a streamed error body kept out of the output FILE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "serve_harness.h"
#include "taap/taap.h"
#include "testutil.h"

#define MAX_REQ 16

typedef struct seen {
    char line[128];
    char jti[64];
    char auth[128];
    char originator[64];
    size_t body_len;
} seen;

typedef struct script {
    int lfd;
    unsigned port;
    const int *statuses;   /* API responses in order (token requests answered apart) */
    int n_statuses, next;
    int tokens;            /* token requests served */
    seen req[MAX_REQ];
    int n_req;
} script;

static int get_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            size_t l = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)l, v);
            return 1;
        }
    }
    out[0] = '\0';
    return 0;
}

static void *script_main(void *arg)
{
    script *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        char buf[65536];
        size_t n = 0;
        char *end = NULL;
        while (!end && n + 1 < sizeof buf) {
            ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
            if (r <= 0)
                break;
            n += (size_t)r;
            buf[n] = '\0';
            end = strstr(buf, "\r\n\r\n");
        }
        if (!end) {
            close(fd);
            continue;
        }
        char v[8192];
        size_t clen = get_header(buf, "Content-Length", v, sizeof v) ? strtoul(v, NULL, 10) : 0;
        size_t have = n - (size_t)(end + 4 - buf);
        while (have < clen) {
            char junk[4096];
            ssize_t r = recv(fd, junk, sizeof junk, 0);
            if (r <= 0)
                break;
            have += (size_t)r;
        }
        const char *body;
        int status;
        char tokbody[256];
        if (strncmp(buf, "POST /oauth2/", 13) == 0) {
            s->tokens++;
            snprintf(tokbody, sizeof tokbody,
                     "{\"access_token\":\"tok-%d\",\"expires_in\":3600,\"id_token\":\"idt-%d\"}",
                     s->tokens, s->tokens);
            body = tokbody;
            status = 200;
        } else {
            seen *q = &s->req[s->n_req < MAX_REQ ? s->n_req++ : MAX_REQ - 1];
            snprintf(q->line, sizeof q->line, "%.*s", (int)strcspn(buf, "\r\n"), buf);
            get_header(buf, "Authorization", q->auth, sizeof q->auth);
            get_header(buf, "X-Auth-Originator", q->originator, sizeof q->originator);
            q->body_len = have;
            if (get_header(buf, "X-Authorization", v, sizeof v)) {
                char *h = NULL, *p = NULL;
                if (taap_jwt_decode(v, strlen(v), &h, &p, NULL) == TAAP_OK) {
                    json_t *o = json_loads(p, 0, NULL);
                    const char *j = json_string_value(json_object_get(o, "jti"));
                    snprintf(q->jti, sizeof q->jti, "%s", j ? j : "");
                    json_decref(o);
                }
                free(h);
                free(p);
            }
            status = s->next < s->n_statuses ? s->statuses[s->next++] : 200;
            body = status == 200 ? "{\"ok\":true}" : "{\"code\":\"x\",\"userMessage\":\"try again\"}";
        }
        char out[512];
        int m = snprintf(out, sizeof out,
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n%s",
                         status, strlen(body), body);
        (void)!send(fd, out, (size_t)m, MSG_NOSIGNAL);
        close(fd);
    }
}

static script S;
static pthread_t T;

static void start(const int *statuses, int n)
{
    memset(&S, 0, sizeof S);
    S.statuses = statuses;
    S.n_statuses = n;
    S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(S.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(S.lfd, 8), 0);
    socklen_t al = sizeof a;
    getsockname(S.lfd, (struct sockaddr *)&a, &al);
    S.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&T, NULL, script_main, &S), 0);
}

static void stop(void)
{
    shutdown(S.lfd, SHUT_RDWR);
    close(S.lfd);
    pthread_join(T, NULL);
}

static taap_client *client(unsigned retries, int id_token)
{
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", S.port);
    taap_client_config cfg;
    taap_client_config_init(&cfg);
    cfg.base_url = base;
    cfg.client_id = "cid";
    cfg.client_secret = "secret";
    cfg.key = sh_test_key(0);
    cfg.retries = retries;
    cfg.retry_delay_ms = 0;
    cfg.send_id_token = id_token;
    cfg.http.no_proxy = 1;
    cfg.http.timeout_ms = 10000;
    taap_client *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_client_new(&cfg, &c, &err) != TAAP_OK)
        fail_msg("%s", err.message);
    return c;
}

static void test_retry_503(void **state)
{
    (void)state;
    static const int st[] = {503, 503, 200};
    start(st, 3);
    taap_client *c = client(3, 1);
    taap_request rq = {.method = "GET", .target = "/thing"};
    taap_http_response *r = NULL;
    taap_client_result res;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_client_request(c, &rq, NULL, &r, &res, &err), TAAP_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(res.attempts, 3);
    stop();
    assert_int_equal(S.n_req, 3);
    assert_int_equal(S.tokens, 1);
    /* a fresh PoP every try */
    assert_string_not_equal(S.req[0].jti, S.req[1].jti);
    assert_string_not_equal(S.req[1].jti, S.req[2].jti);
    assert_true(strlen(S.req[0].jti) == 36);
    assert_string_equal(S.req[2].auth, "Bearer tok-1");
    assert_string_equal(S.req[2].originator, "idt-1");
    taap_http_response_free(r);
    taap_client_free(c);
}

static void test_no_retry_post(void **state)
{
    (void)state;
    static const int st[] = {503, 200};
    start(st, 2);
    taap_client *c = client(3, 0);
    taap_request rq = {.method = "POST", .target = "/thing"};
    rq.body.kind = TAAP_BODY_MEMORY;
    rq.body.data = "{}";
    rq.body.len = 2;
    taap_http_response *r = NULL;
    taap_client_result res;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_client_request(c, &rq, NULL, &r, &res, &err), TAAP_OK);
    assert_int_equal(r->status, 503);
    assert_int_equal(res.attempts, 1);
    char msg[128];
    taap_error_body_message(r->body, r->body_len, msg, sizeof msg);
    assert_string_equal(msg, "try again");
    stop();
    assert_int_equal(S.n_req, 1);
    assert_string_equal(S.req[0].originator, ""); /* not asked for */
    taap_http_response_free(r);
    taap_client_free(c);
}

static void test_401_file_body(void **state)
{
    (void)state;
    static const int st[] = {401, 200};
    start(st, 2);
    char *dir = tu_tempdir();
    char path[600];
    snprintf(path, sizeof path, "%s/body.json", dir);
    char big[200000];
    memset(big, 'a', sizeof big);
    tu_write(path, big, sizeof big);
    taap_client *c = client(0, 0);
    taap_request rq = {.method = "PUT", .target = "/thing"};
    rq.body.kind = TAAP_BODY_FILE;
    rq.body.path = path;
    FILE *out = tmpfile();
    taap_http_response *r = NULL;
    taap_client_result res;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_client_request(c, &rq, out, &r, &res, &err), TAAP_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(res.token_refreshed_401, 1);
    assert_int_equal(res.attempts, 2);
    /* only the final body reached the FILE, not the 401's */
    fflush(out);
    assert_int_equal(ftell(out), (long)strlen("{\"ok\":true}"));
    stop();
    assert_int_equal(S.tokens, 2);
    assert_int_equal(S.n_req, 2);
    assert_int_equal(S.req[0].body_len, sizeof big);
    assert_int_equal(S.req[1].body_len, sizeof big);
    assert_string_equal(S.req[0].auth, "Bearer tok-1");
    assert_string_equal(S.req[1].auth, "Bearer tok-2");
    fclose(out);
    taap_http_response_free(r);
    taap_client_free(c);
    tu_rmtree(dir);
    free(dir);
}

static void test_redaction(void **state)
{
    (void)state;
    char out[256];
    taap_http_redact_header("Authorization: Bearer abc.def.ghi", out, sizeof out);
    assert_string_equal(out, "Authorization: Bearer [redacted]");
    taap_http_redact_header("authorization: Basic Y2lkOnNlY3JldA==", out, sizeof out);
    assert_string_equal(out, "authorization: Basic [redacted]");
    taap_http_redact_header("X-Authorization: eyJhbGciOiJSUzI1NiJ9.e30.sig", out, sizeof out);
    assert_string_equal(out, "X-Authorization: [redacted]");
    taap_http_redact_header("X-Auth-Originator: idt", out, sizeof out);
    assert_string_equal(out, "X-Auth-Originator: [redacted]");
    taap_http_redact_header("Content-Type: application/json", out, sizeof out);
    assert_string_equal(out, "Content-Type: application/json");
    assert_non_null(strstr(taap_status_meaning(503), "server error"));
    assert_non_null(strstr(taap_status_meaning(404), "not_found"));
}

int main(void)
{
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_503),
        cmocka_unit_test(test_no_retry_post),
        cmocka_unit_test(test_401_file_body),
        cmocka_unit_test(test_redaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
