/*
 * test_http.c — taap_http_perform sends the headers it is given and no
 * others that change the request: a body without Content-Type goes without
 * one (libcurl's default form type is suppressed), a given Content-Type goes
 * as given. A one-shot loopback server on port 0 records the header block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "taap/taap.h"

typedef struct one_shot {
    int lfd;
    unsigned port;
    char head[8192]; /* the request's header block, as received */
} one_shot;

static void *one_shot_main(void *arg)
{
    one_shot *o = arg;
    int fd = accept(o->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t n = 0;
    while (n + 1 < sizeof o->head && !strstr(o->head, "\r\n\r\n")) {
        ssize_t r = recv(fd, o->head + n, sizeof o->head - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        o->head[n] = '\0';
    }
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    if (send(fd, reply, sizeof reply - 1, MSG_NOSIGNAL) < 0)
        perror("send");
    close(fd);
    return NULL;
}

/* POST `body` with `headers` to a fresh one-shot server; returns its record. */
static void post(one_shot *o, const taap_header *headers, size_t n_headers)
{
    memset(o, 0, sizeof *o);
    o->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(o->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(o->lfd, 1), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(o->lfd, (struct sockaddr *)&a, &al), 0);
    o->port = ntohs(a.sin_port);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, one_shot_main, o), 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", o->port);
    taap_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = "POST";
    rq.target = url;
    rq.headers = headers;
    rq.n_headers = n_headers;
    rq.body.kind = TAAP_BODY_MEMORY;
    rq.body.data = "a=b";
    rq.body.len = 3;
    taap_http_options opts;
    taap_http_options_init(&opts);
    opts.no_proxy = 1;
    taap_http_response *resp = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_http_perform(&rq, &opts, NULL, &resp, NULL, &err);
    pthread_join(th, NULL);
    close(o->lfd);
    if (rc != TAAP_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, TAAP_OK);
    assert_int_equal(resp->status, 200);
    taap_http_response_free(resp);
}

static void test_body_without_content_type(void **state)
{
    (void)state;
    one_shot o;
    post(&o, NULL, 0);
    assert_non_null(strstr(o.head, "POST /x HTTP/1.1\r\n"));
    assert_non_null(strcasestr(o.head, "\r\nContent-Length: 3\r\n"));
    assert_null(strcasestr(o.head, "\r\nContent-Type:"));
    assert_null(strcasestr(o.head, "\r\nExpect:"));
}

static void test_content_type_as_given(void **state)
{
    (void)state;
    one_shot o;
    const taap_header h[] = {{"Content-Type", "text/plain"}};
    post(&o, h, 1);
    assert_non_null(strstr(o.head, "\r\nContent-Type: text/plain\r\n"));
    assert_null(strcasestr(o.head, "x-www-form-urlencoded"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_without_content_type),
        cmocka_unit_test(test_content_type_as_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
