/*
 * test_run_newman.c — `taap run` as CI scripts use Newman: the JSON report
 * in Newman's shape, JUnit one testcase per check with <skipped/>, the CLI
 * flags (--silent, -x, --disable-unicode, --color, --reporter-cli-no-*,
 * --bail failure, collection from stdin, environment from a URL,
 * --export-collection), and interrupted runs: SIGINT/SIGTERM sent by the
 * loopback server when the Nth request reaches it (never by timing) must
 * leave every report and export written with what ran, and exit 130/143.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* ---- a loopback server that can signal the run ------------------------------- */

static struct {
    int fd;
    unsigned port;
    pthread_t th;
    pthread_mutex_t mu;
    int count;          /* requests received */
    int signal_at;      /* send `sig` to `pid` when this request arrives (0: never) */
    int sig;
    pid_t pid;
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const char env_json[] =
    "{\"name\":\"remote\",\"values\":[{\"key\":\"who\",\"value\":\"from-url\",\"enabled\":true}]}";

static void answer(int c)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof buf - 1 && !end) {
        ssize_t got = read(c, buf + len, sizeof buf - 1 - len);
        if (got <= 0)
            return;
        len += (size_t)got;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    size_t want = (size_t)(end - buf) + 4 + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
    while (len < want && len < sizeof buf - 1) {
        ssize_t got = read(c, buf + len, sizeof buf - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    pthread_mutex_lock(&srv.mu);
    int n = ++srv.count;
    if (srv.signal_at && n == srv.signal_at)
        kill(srv.pid, srv.sig); /* the run is told while this request is in flight */
    pthread_mutex_unlock(&srv.mu);
    const char *body = "{}";
    const char *status = "200 OK";
    if (!strncmp(buf, "GET /env.json ", 14))
        body = env_json;
    else if (strstr(buf, " /missing"))
        status = "404 Not Found";
    char resp[1024];
    int rl = snprintf(resp, sizeof resp,
                      "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n%s",
                      status, strlen(body), body);
    ssize_t w = write(c, resp, (size_t)rl);
    (void)w;
}

static void *srv_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            break;
        answer(c);
        close(c);
    }
    return NULL;
}

static void srv_reset(int signal_at, int sig)
{
    pthread_mutex_lock(&srv.mu);
    srv.count = 0;
    srv.signal_at = signal_at;
    srv.sig = sig;
    srv.pid = 0;
    pthread_mutex_unlock(&srv.mu);
}

/* ---- running taap ------------------------------------------------------------------ */

static char *dir;

static const char *in_dir(const char *name)
{
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Run taap with argv (NULL-terminated after "run"); stdout to out_path,
 * stdin from in_path (or /dev/null). The pid is published to the server
 * before the run can send anything. Returns the exit status, or 128+sig. */
static int spawn(const char *out_path, const char *in_path, const char *const *args)
{
    const char *argv[64] = {tu_taap_bin(), "run"};
    int n = 2;
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pthread_mutex_lock(&srv.mu); /* hold the server until the pid is known */
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int i = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int e = open("/dev/null", O_WRONLY);
        if (o < 0 || i < 0 || e < 0)
            _exit(126);
        dup2(o, 1);
        dup2(i, 0);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    srv.pid = pid;
    pthread_mutex_unlock(&srv.mu);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *coll_path;

static int setup(void **state)
{
    (void)state;
    dir = tu_tempdir();
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(srv.fd, (struct sockaddr *)&a, sizeof a) || listen(srv.fd, 64) ||
        getsockname(srv.fd, (struct sockaddr *)&a, &al))
        return -1;
    srv.port = ntohs(a.sin_port);
    if (pthread_create(&srv.th, NULL, srv_main, NULL))
        return -1;
    /* one folder with a passing and a failing request, a skipped one (the
     * jsrsasign download taap never needs) at the root */
    char coll[4096];
    snprintf(coll, sizeof coll,
             "{\"info\":{\"name\":\"CI\",\"schema\":\"https://schema.getpostman.com/json/"
             "collection/v2.1.0/collection.json\"},\"item\":["
             "{\"name\":\"lib\",\"request\":{\"method\":\"GET\",\"url\":"
             "\"http://127.0.0.1:%u/jsrsasign-latest-all-min.js\"}},"
             "{\"name\":\"Devices\",\"item\":["
             "{\"name\":\"ok\",\"id\":\"id-ok\",\"request\":{\"method\":\"GET\",\"url\":"
             "\"http://127.0.0.1:%u/ok?who={{who}}\"}},"
             "{\"name\":\"gone\",\"id\":\"id-gone\",\"request\":{\"method\":\"GET\",\"url\":"
             "\"http://127.0.0.1:%u/missing\"}}]}]}",
             srv.port, srv.port, srv.port);
    coll_path = strdup(in_dir("ci.postman_collection.json"));
    tu_write(coll_path, coll, strlen(coll));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    shutdown(srv.fd, SHUT_RDWR);
    close(srv.fd);
    pthread_join(srv.th, NULL);
    tu_rmtree(dir);
    return 0;
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fprintf(stderr, "%s: %s\n", path, je.text);
    assert_non_null(j);
    return j;
}

static json_t *at(json_t *j, const char *a, const char *b, const char *c)
{
    j = json_object_get(j, a);
    if (b)
        j = json_object_get(j, b);
    if (c)
        j = json_object_get(j, c);
    return j;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_json_report_is_newmans_shape(void **state)
{
    (void)state;
    srv_reset(0, 0);
    const char *js = in_dir("r.json"), *xml = in_dir("r.xml"), *out = in_dir("out.txt");
    const char *args[] = {coll_path, "--env-var", "who=me", "-r", "cli,json,junit",
                          "--reporter-json-export", js, "--reporter-junit-export", xml,
                          "--color", "off", NULL};
    assert_int_equal(spawn(out, NULL, args), 1);
    json_t *r = load_json(js);
    json_t *run = json_object_get(r, "run");
    static const char *const stats[] = {"iterations", "items", "scripts", "prerequests",
                                        "requests", "tests", "assertions", "testScripts",
                                        "prerequestScripts"};
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) {
        json_t *s = at(run, "stats", stats[i], NULL);
        assert_true(json_is_integer(json_object_get(s, "total")));
        assert_true(json_is_integer(json_object_get(s, "pending")));
        assert_true(json_is_integer(json_object_get(s, "failed")));
    }
    assert_int_equal(json_integer_value(at(run, "stats", "items", "total")), 3);
    assert_int_equal(json_integer_value(at(run, "stats", "items", "failed")), 1);
    assert_true(json_is_integer(at(run, "timings", "started", NULL)));
    assert_true(json_is_integer(at(run, "timings", "completed", NULL)));
    json_t *ex = json_object_get(run, "executions");
    assert_int_equal(json_array_size(ex), 3);
    json_t *ok = json_array_get(ex, 1);
    assert_string_equal(json_string_value(at(ok, "item", "name", NULL)), "ok");
    assert_string_equal(json_string_value(at(ok, "item", "id", NULL)), "id-ok");
    assert_int_equal(json_integer_value(at(ok, "cursor", "iteration", NULL)), 0);
    assert_int_equal(json_integer_value(at(ok, "cursor", "position", NULL)), 1);
    assert_int_equal(json_integer_value(at(ok, "response", "code", NULL)), 200);
    assert_string_equal(json_string_value(at(ok, "response", "status", NULL)), "OK");
    assert_string_equal(json_string_value(at(ok, "request", "method", NULL)), "GET");
    assert_non_null(strstr(json_string_value(at(ok, "request", "url", NULL)), "who=me"));
    assert_true(json_is_array(json_object_get(ok, "assertions")));
    json_t *fails = json_object_get(run, "failures");
    assert_int_equal(json_array_size(fails), 1);
    json_t *f = json_array_get(fails, 0);
    assert_string_equal(json_string_value(at(f, "error", "name", NULL)), "StatusError");
    assert_non_null(strstr(json_string_value(at(f, "error", "message", NULL)), "404"));
    assert_string_equal(json_string_value(at(f, "source", "name", NULL)), "gone");
    assert_string_equal(json_string_value(at(f, "parent", "name", NULL)), "Devices");
    assert_true(json_is_null(json_object_get(run, "error")));
    json_decref(r);

    /* JUnit: a suite per request, the never-sent one <skipped/> */
    char *x = tu_read(xml, NULL);
    assert_int_equal(tu_count(x, "<testsuite "), 3);
    assert_int_equal(tu_count(x, "<testcase "), 3);
    assert_int_equal(tu_count(x, "<skipped/>"), 1);
    assert_int_equal(tu_count(x, "<failure "), 1);
    assert_non_null(strstr(x, "classname=\"Devices\""));
    free(x);

    /* the CLI reporter: Newman's layout and a numbered failure list */
    char *o = tu_read(out, NULL);
    assert_non_null(strstr(o, "❏ Devices\n↳ ok\n"));
    assert_non_null(strstr(o, "[200 OK, "));
    assert_non_null(strstr(o, "✓  status 2xx"));
    assert_non_null(strstr(o, "  1. status 2xx"));
    assert_non_null(strstr(o, "  #  failure"));
    assert_non_null(strstr(o, "inside \"Devices / gone\""));
    assert_non_null(strstr(o, "total run duration"));
    assert_null(strstr(o, "\033["));
    free(o);
}

static void test_cli_flags(void **state)
{
    (void)state;
    srv_reset(0, 0);
    const char *out = in_dir("flags.txt");
    /* --silent prints nothing; -x exits 0 despite the failure */
    const char *a1[] = {coll_path, "--silent", "-x", NULL};
    assert_int_equal(spawn(out, NULL, a1), 0);
    char *o = tu_read(out, NULL);
    assert_string_equal(o, "");
    free(o);
    /* ASCII only, colour on, no summary, no failure list, no assertion lines */
    const char *a2[] = {coll_path, "--disable-unicode", "--color", "on",
                        "--reporter-cli-no-summary", "--reporter-cli-no-failures",
                        "--reporter-cli-no-assertions", NULL};
    assert_int_equal(spawn(out, NULL, a2), 1);
    o = tu_read(out, NULL);
    assert_null(strstr(o, "✓"));
    assert_null(strstr(o, "↳"));
    assert_non_null(strstr(o, "Folder Devices"));
    assert_non_null(strstr(o, "\033["));
    assert_null(strstr(o, "total run duration"));
    assert_null(strstr(o, "#  failure"));
    assert_null(strstr(o, "status 2xx"));
    free(o);
    /* --bail failure (Newman's spelling, space-separated) stops at "gone" */
    const char *js = in_dir("bail.json");
    const char *a3[] = {coll_path, "-n", "3", "--bail", "failure", "--reporter-json-export", js,
                        NULL};
    assert_int_equal(spawn(out, NULL, a3), 1);
    json_t *r = load_json(js);
    assert_int_equal(json_array_size(at(r, "run", "executions", NULL)), 3);
    json_decref(r);
    /* the collection from stdin, the environment from a URL, the collection
     * exported as run */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/env.json", srv.port);
    const char *exported = in_dir("exported.json");
    js = in_dir("stdin.json");
    const char *a4[] = {"-", "-e", url, "--folder", "ok", "--export-collection", exported,
                        "--reporter-json-export", js, "--timeout-script", "5000", NULL};
    assert_int_equal(spawn(out, coll_path, a4), 0);
    r = load_json(js);
    json_t *ex = at(r, "run", "executions", NULL);
    assert_int_equal(json_array_size(ex), 1);
    assert_non_null(strstr(json_string_value(at(json_array_get(ex, 0), "request", "url", NULL)),
                           "who=from-url"));
    json_decref(r);
    char *a = tu_read(coll_path, NULL), *b = tu_read(exported, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    /* bad values are usage errors */
    const char *a5[] = {coll_path, "--color", "purple", NULL};
    assert_int_equal(spawn(out, NULL, a5), 2);
    const char *a6[] = {coll_path, "--bail", "sometimes", NULL};
    assert_int_equal(spawn(out, NULL, a6), 2);
}

/* 10 iterations of one request; the server signals when request 3 arrives. */
static void interrupted_run(int sig, int want_exit)
{
    srv_reset(3, sig);
    const char *js = in_dir("int.json"), *xml = in_dir("int.xml"), *env = in_dir("int-env.json");
    const char *out = in_dir("int.txt");
    unlink(js);
    unlink(xml);
    unlink(env);
    const char *args[] = {coll_path, "--folder", "ok", "-n", "10", "--env-var", "who=x",
                          "-r", "cli,json,junit", "--reporter-json-export", js,
                          "--reporter-junit-export", xml, "--export-environment", env, NULL};
    assert_int_equal(spawn(out, NULL, args), want_exit);
    pthread_mutex_lock(&srv.mu);
    int reached = srv.count;
    pthread_mutex_unlock(&srv.mu);
    assert_int_equal(reached, 3); /* nothing started after the signal */
    json_t *r = load_json(js);
    assert_int_equal(json_array_size(at(r, "run", "executions", NULL)), 3);
    assert_true(json_is_true(at(r, "run", "interrupted", NULL)));
    /* the in-flight request finished and was recorded */
    json_t *last = json_array_get(at(r, "run", "executions", NULL), 2);
    assert_int_equal(json_integer_value(at(last, "response", "code", NULL)), 200);
    json_decref(r);
    char *x = tu_read(xml, NULL);
    assert_non_null(strstr(x, "</testsuites>"));
    free(x);
    json_t *e = load_json(env);
    assert_true(json_is_true(at(e, "_taap_run", "interrupted", NULL)));
    assert_int_equal(json_integer_value(at(e, "_taap_run", "requests", NULL)), 3);
    json_decref(e);
    char *o = tu_read(out, NULL);
    assert_non_null(strstr(o, "interrupted: 3 requests ran"));
    free(o);
}

static void test_sigint_keeps_what_ran(void **state)
{
    (void)state;
    interrupted_run(SIGINT, 130);
}

static void test_sigterm_keeps_what_ran(void **state)
{
    (void)state;
    interrupted_run(SIGTERM, 143);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_report_is_newmans_shape),
        cmocka_unit_test(test_cli_flags),
        cmocka_unit_test(test_sigint_keeps_what_ran),
        cmocka_unit_test(test_sigterm_keeps_what_ran),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
