/*
 * test_faults.c — faults from outside (issue 6 item 5):
 *   - the emulator SIGKILLed in the middle of a stream of writes loses no
 *     acknowledged change, its database passes integrity_check, and it
 *     starts again cleanly on the same files;
 *   - a read-only or full disk gives a clear error (full disk: a 256 KiB
 *     tmpfs when mounting is allowed, else that row is skipped, saying so);
 *   - the client (`taap token`) against a server that is down, refuses,
 *     never answers, sends a truncated or non-JSON answer, or presents a TLS
 *     certificate nobody trusts: a clear one-line message and the documented
 *     exit status (50 transport, 52 token endpoint refused / nonsense);
 *   - a corrupted token cache is detected and replaced, a corrupted profile
 *     file is reported (54), neither crashes.
 * Fake servers are threads on loopback port 0 (OpenSSL for the TLS one).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "serve_harness.h"
#include "taap/taap.h"
#include "testutil.h"

/* ---- fake servers ------------------------------------------------------------------- */

typedef enum { FK_SILENT, FK_TRUNCATED, FK_NONJSON, FK_TLS, FK_HTTP500_HTML } fake_kind;

typedef struct {
    int lfd;
    unsigned port;
    fake_kind kind;
    pthread_t th;
    int stop_pipe[2];
    SSL_CTX *tls;
} fake_srv;

static int listen_any(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Read one request head (until CRLF CRLF or 1 s of silence). */
static void read_head(int fd, SSL *ssl)
{
    char buf[8192];
    size_t n = 0;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (!ssl && poll(&p, 1, 1000) <= 0)
            return;
        int r = ssl ? SSL_read(ssl, buf + n, (int)(sizeof buf - 1 - n))
                    : (int)recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") || n >= sizeof buf - 1)
            return;
    }
}

static void *fake_main(void *arg)
{
    fake_srv *f = arg;
    for (;;) {
        struct pollfd p[2] = { { f->lfd, POLLIN, 0 }, { f->stop_pipe[0], POLLIN, 0 } };
        if (poll(p, 2, -1) <= 0 || p[1].revents)
            break;
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0)
            continue;
        switch (f->kind) {
        case FK_SILENT: {
            /* read, then say nothing until the client gives up */
            read_head(c, NULL);
            struct pollfd q[2] = { { c, POLLIN, 0 }, { f->stop_pipe[0], POLLIN, 0 } };
            poll(q, 2, 20000);
            break;
        }
        case FK_TRUNCATED: {
            read_head(c, NULL);
            static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 200\r\n\r\n{\"access_token\":\"abc";
            send(c, r, sizeof r - 1, MSG_NOSIGNAL);
            break;
        }
        case FK_NONJSON: {
            read_head(c, NULL);
            static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                    "Content-Length: 26\r\nConnection: close\r\n\r\n"
                                    "<html>maintenance</html>\r\n";
            send(c, r, sizeof r - 1, MSG_NOSIGNAL);
            break;
        }
        case FK_HTTP500_HTML: {
            read_head(c, NULL);
            static const char r[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n"
                                    "Content-Length: 15\r\nConnection: close\r\n\r\n<h1>down</h1>\r\n";
            send(c, r, sizeof r - 1, MSG_NOSIGNAL);
            break;
        }
        case FK_TLS: {
            SSL *s = SSL_new(f->tls);
            SSL_set_fd(s, c);
            if (SSL_accept(s) == 1) { /* the client should abort during the handshake */
                read_head(c, s);
                static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                        "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
                SSL_write(s, r, sizeof r - 1);
            }
            SSL_free(s);
            break;
        }
        }
        close(c);
    }
    return NULL;
}

static SSL_CTX *self_signed_ctx(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_sign(x, k, EVP_sha256());
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, x);
    SSL_CTX_use_PrivateKey(ctx, k);
    X509_free(x);
    EVP_PKEY_free(k);
    return ctx;
}

static void fake_start(fake_srv *f, fake_kind kind)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->lfd = listen_any(&f->port);
    assert_true(f->lfd >= 0);
    assert_int_equal(pipe(f->stop_pipe), 0);
    if (kind == FK_TLS)
        f->tls = self_signed_ctx();
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake_srv *f)
{
    assert_int_equal(write(f->stop_pipe[1], "x", 1), 1);
    pthread_join(f->th, NULL);
    close(f->lfd);
    close(f->stop_pipe[0]);
    close(f->stop_pipe[1]);
    SSL_CTX_free(f->tls);
}

/* ---- running `taap token` ---------------------------------------------------------- */

static char *g_dir, g_key[600];

static int run_token(const char *base, char **out, char **err, const char *extra)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)tu_taap_bin();
    argv[n++] = "token";
    argv[n++] = "--base-url";
    argv[n++] = (char *)base;
    argv[n++] = "--client-id";
    argv[n++] = "fault-client";
    argv[n++] = "--key";
    argv[n++] = g_key;
    argv[n++] = "--no-cache";
    argv[n++] = "--max-time";
    argv[n++] = "3";
    argv[n++] = "--connect-timeout";
    argv[n++] = "2";
    if (extra)
        argv[n++] = (char *)extra;
    argv[n] = NULL;
    setenv("TAAP_CLIENT_SECRET", "fault-secret-value", 1);
    return tu_run(argv, NULL, out, err);
}

/* One row of the client table. */
typedef struct {
    const char *id, *what;
    int fake;          /* fake_kind, or -1 refused, -2 unroutable */
    int exit_a, exit_b;
    const char *words; /* stderr must contain one of these ('|'-separated), case-insensitive */
} crow;

static int has_any(const char *hay, const char *words)
{
    char w[256];
    snprintf(w, sizeof w, "%s", words);
    char *save = NULL;
    for (char *t = strtok_r(w, "|", &save); t; t = strtok_r(NULL, "|", &save))
        if (strcasestr(hay, t))
            return 1;
    return 0;
}

static void test_client_faults(void **state)
{
    (void)state;
    static const crow rows[] = {
        { "C1", "server down (connection refused)", -1, 50, 50, "connect|refused" },
        { "C2", "server accepts but never answers", FK_SILENT, 50, 50, "timeout|timed out" },
        { "C3", "truncated response", FK_TRUNCATED, 50, 53, "truncat|partial|transfer|incomplete" },
        { "C4", "non-JSON 200 response", FK_NONJSON, 52, 53, "JSON|response|token" },
        { "C5", "503 with an HTML body", FK_HTTP500_HTML, 52, 50, "503|unavailable" },
        { "C6", "TLS certificate not trusted", FK_TLS, 50, 50, "certificate|SSL|TLS" },
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const crow *r = &rows[i];
        fake_srv f;
        char base[128];
        int have_fake = r->fake >= 0;
        if (have_fake) {
            fake_start(&f, (fake_kind)r->fake);
            snprintf(base, sizeof base, "%s://127.0.0.1:%u", r->fake == FK_TLS ? "https" : "http",
                     f.port);
        } else {
            unsigned port;
            int fd = listen_any(&port);
            close(fd); /* nothing listens there now */
            snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
        }
        char *out = NULL, *err = NULL;
        int rc = run_token(base, &out, &err, NULL);
        if (have_fake)
            fake_stop(&f);
        size_t lines = 0;
        for (const char *p = err; p && *p; p++)
            lines += *p == '\n';
        const char *why = NULL;
        if (rc != r->exit_a && rc != r->exit_b)
            why = "exit status";
        else if (!err || !*err)
            why = "no message";
        else if (!has_any(err, r->words))
            why = "message does not say what happened";
        else if (lines > 3)
            why = "more than a short message";
        else if (strstr(err, "fault-secret-value") || strstr(out ? out : "", "fault-secret-value"))
            why = "the client secret is printed";
        if (why) {
            print_error("%s %s: %s: exit %d (want %d/%d): %s\n", r->id, r->what, why, rc,
                        r->exit_a, r->exit_b, err ? err : "");
            failures++;
        } else {
            print_message("%s %-36s exit %d: %s", r->id, r->what, rc, err);
        }
        free(out);
        free(err);
    }
    assert_int_equal(failures, 0);
}

/* ---- corrupted token cache and profile ---------------------------------------------------- */

static void write_garbage_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            static const unsigned char junk[] = "\x00\xff{\"access_token\":\x01 garbage \xc0\xaf";
            tu_write(p, junk, sizeof junk - 1);
        } else if (S_ISDIR(st.st_mode)) {
            write_garbage_tree(p);
        }
    }
    closedir(d);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0)
            n += S_ISDIR(st.st_mode) ? count_files(p) : 1;
    }
    closedir(d);
    return n;
}

static void test_corrupted_cache_and_profile(void **state)
{
    (void)state;
    sh_server srv = { 0 };
    assert_int_equal(sh_start(&srv, NULL, NULL), 0);
    char *id = NULL, *secret = NULL, kid[17];
    assert_int_equal(sh_make_app(&srv, "cache-app", NULL, &id, &secret), 0);
    assert_int_equal(sh_add_key(&srv, "cache-app", sh_test_key(0), kid), 0);
    char *pem = NULL;
    taap_error e = TAAP_ERROR_INIT;
    assert_int_equal(taap_key_private_pem(sh_test_key(0), NULL, &pem, &e), TAAP_OK);
    char keyfile[700], cache[700], config[700];
    snprintf(keyfile, sizeof keyfile, "%s/cache-key.pem", g_dir);
    tu_write(keyfile, pem, strlen(pem));
    chmod(keyfile, 0600);
    taap_key_free_pem(pem);
    snprintf(cache, sizeof cache, "%s/xdg-cache", g_dir);
    snprintf(config, sizeof config, "%s/xdg-config", g_dir);
    /* `taap token` runs on the wall clock: move the emulator's clock there. */
    sh_set_now(&srv, (int64_t)time(NULL));
    setenv("XDG_CACHE_HOME", cache, 1);
    setenv("XDG_CONFIG_HOME", config, 1);
    setenv("TAAP_CLIENT_SECRET", secret, 1);
    char *argv[] = { (char *)tu_taap_bin(), "token", "--base-url", srv.base, "--client-id", id,
                     "--key", keyfile, NULL };
    char *out = NULL, *err = NULL;
    int rc = tu_run(argv, NULL, &out, &err);
    if (rc != 0)
        fail_msg("first taap token failed (%d): %s", rc, err);
    free(out);
    free(err);
    int files = count_files(cache);
    if (files == 0)
        fail_msg("taap token wrote no token cache under %s", cache);
    write_garbage_tree(cache);
    rc = tu_run(argv, NULL, &out, &err);
    if (rc != 0)
        fail_msg("taap token with a corrupted cache: exit %d: %s", rc, err);
    free(out);
    free(err);
    /* The garbage is gone: a third run is served from the (rewritten) cache
     * without another token request. */
    char *argv_json[] = { (char *)tu_taap_bin(), "token", "--base-url", srv.base, "--client-id", id,
                          "--key", keyfile, "--json", NULL };
    rc = tu_run(argv_json, NULL, &out, &err);
    assert_int_equal(rc, 0);
    if (!strstr(out, "cache"))
        fail_msg("after replacing the corrupted cache the next run did not use it: %s", out);
    free(out);
    free(err);

    /* A corrupted profile file: a clear error (54), no crash. */
    char pdir[800], pfile[900];
    snprintf(pdir, sizeof pdir, "%s/taap", config);
    mkdir(config, 0700);
    mkdir(pdir, 0700);
    snprintf(pfile, sizeof pfile, "%s/profiles.ini", pdir);
    static const char junk[] = "[default\x00\xff]\nbase_url = \xc0\xaf\n[[[\n=\n";
    tu_write(pfile, junk, sizeof junk - 1);
    char *argv_p[] = { (char *)tu_taap_bin(), "token", "--profile", "default", NULL };
    rc = tu_run(argv_p, NULL, &out, &err);
    if (rc != 54 && rc != 2)
        fail_msg("corrupted profiles.ini: exit %d (want 54): %s", rc, err);
    assert_true(err && *err);
    print_message("corrupted profiles.ini → exit %d: %s", rc, err);
    free(out);
    free(err);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("XDG_CONFIG_HOME");
    free(id);
    free(secret);
    assert_int_equal(sh_stop(&srv), 0);
    sh_cleanup(&srv);
}

/* ---- SIGKILL in the middle of writes ----------------------------------------------------------- */

typedef struct {
    sh_server *srv;
    char *at;
    char iccid[24];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int acked;            /* acknowledged PATCHes */
    int last_acked;       /* 0 ACTIVE, 1 SUSPENDED */
    int in_flight;        /* value being written, -1 none */
    int done;
} writer_state;

static void *writer(void *arg)
{
    writer_state *w = arg;
    char path[128];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", w->iccid);
    for (int i = 0;; i++) {
        int v = i % 2;
        pthread_mutex_lock(&w->mu);
        w->in_flight = v;
        pthread_mutex_unlock(&w->mu);
        sh_resp r = { 0 };
        long st = sh_call(w->srv, "PATCH", path, w->at, sh_test_key(0),
                          v ? "{\"status\":\"SUSPENDED\"}" : "{\"status\":\"ACTIVE\"}", NULL, &r);
        sh_resp_free(&r);
        pthread_mutex_lock(&w->mu);
        if (st == 200) {
            w->acked++;
            w->last_acked = v;
            w->in_flight = -1;
        }
        pthread_cond_broadcast(&w->cv);
        int stop = st != 200;
        if (stop)
            w->done = 1;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
    }
    return NULL;
}

static void test_sigkill_mid_writes(void **state)
{
    (void)state;
    sh_server srv = { 0 };
    char dir[600];
    snprintf(dir, sizeof dir, "%s/killed", g_dir);
    mkdir(dir, 0700);
    assert_int_equal(sh_start(&srv, dir, NULL), 0);
    char *id = NULL, *secret = NULL, kid[17];
    writer_state w;
    memset(&w, 0, sizeof w);
    assert_int_equal(sh_make_app(&srv, "kill-app", NULL, &id, &secret), 0);
    assert_int_equal(sh_add_key(&srv, "kill-app", sh_test_key(0), kid), 0);
    assert_int_equal(sh_subscribe(&srv, "kill-app"), 0);
    assert_int_equal(sh_activate_kit(&srv, "kill-app", w.iccid), 0);
    /* acknowledged admin writes before the kill: 5 more applications */
    for (int i = 0; i < 5; i++) {
        char name[32], *cid = NULL, *sec = NULL;
        snprintf(name, sizeof name, "acked-%d", i);
        assert_int_equal(sh_make_app(&srv, name, NULL, &cid, &sec), 0);
        free(cid);
        free(sec);
    }
    w.srv = &srv;
    w.at = sh_get_token(&srv, id, secret, sh_test_key(0));
    assert_non_null(w.at);
    w.in_flight = -1;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer, &w), 0);
    pthread_mutex_lock(&w.mu);
    while (w.acked < 25 && !w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    sh_kill(&srv); /* while the writer keeps writing */
    pthread_join(th, NULL);
    assert_true(w.acked >= 25);

    /* The database as the kill left it: integrity intact. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(srv.db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Restart on the same files. */
    assert_int_equal(sh_start(&srv, dir, NULL), 0);
    sh_resp r = { 0 };
    char path[128];
    snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", w.iccid);
    assert_int_equal(sh_call(&srv, "GET", path, w.at, sh_test_key(0), NULL, NULL, &r), 200);
    const char *want = w.last_acked ? "\"SUSPENDED\"" : "\"ACTIVE\"";
    const char *maybe = w.in_flight == 1 ? "\"SUSPENDED\"" : w.in_flight == 0 ? "\"ACTIVE\"" : want;
    if (!strstr(r.body, want) && !strstr(r.body, maybe))
        fail_msg("after SIGKILL the device lost its last acknowledged status %s: %s", want, r.body);
    sh_resp_free(&r);
    assert_int_equal(sh_admin(&srv, "GET", "/devedge/v1/apps", NULL, &r), 200);
    for (int i = 0; i < 5; i++) {
        char name[40];
        snprintf(name, sizeof name, "\"acked-%d\"", i);
        if (!strstr(r.body, name))
            fail_msg("after SIGKILL the acknowledged application %s is missing", name);
    }
    sh_resp_free(&r);
    print_message("killed after %d acknowledged writes; restarted with the last one intact\n",
                  w.acked);
    assert_int_equal(sh_stop(&srv), 0);
    free(w.at);
    free(id);
    free(secret);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}

/* ---- read-only and full disk -------------------------------------------------------------------- */

static void test_read_only_disk(void **state)
{
    (void)state;
    /* A read-only file system: a tmpfs mounted read-only (EROFS) when this
     * process may mount; else a path under /proc/self, never writable even
     * for root (then the error is ENOENT rather than EROFS). */
    char ro[700], db[800];
    snprintf(ro, sizeof ro, "%s/ro-fs", g_dir);
    mkdir(ro, 0700);
    int mounted = mount("tmpfs", ro, "tmpfs", MS_RDONLY, "size=64k") == 0;
    if (!mounted) {
        print_message("cannot mount a read-only tmpfs (%s): using /proc/self instead\n",
                      strerror(errno));
        snprintf(ro, sizeof ro, "/proc/self/taap-readonly");
    }
    snprintf(db, sizeof db, "%s/serve.db", ro);
    char *argv[] = { (char *)tu_taap_bin(), "serve", "--port", "0", "--db", db, NULL };
    char *out = NULL, *err = NULL;
    int rc = tu_run(argv, NULL, &out, &err);
    if (rc != 1)
        fail_msg("serve on a read-only file system: exit %d (want 1): %s", rc, err);
    if (!err || !strstr(err, ro))
        fail_msg("serve on a read-only file system: the message does not name the path: %s", err);
    if (mounted && !strcasestr(err, "read-only"))
        fail_msg("serve on a read-only file system: the message does not say read-only: %s", err);
    print_message("read-only file system → exit %d: %s", rc, err);
    free(out);
    free(err);

    char *kg[] = { (char *)tu_taap_bin(), "keygen", "--out", ro, NULL };
    rc = tu_run(kg, NULL, &out, &err);
    if (rc != 31 || !err || !*err)
        fail_msg("keygen into a read-only directory: exit %d (want 31): %s", rc, err ? err : "");
    if (mounted && !strcasestr(err, "read-only"))
        fail_msg("keygen on a read-only file system: the message does not say read-only: %s", err);
    print_message("keygen into a read-only directory → exit %d: %s", rc, err);
    free(out);
    free(err);
    if (mounted)
        umount2(ro, MNT_DETACH);
}

static void test_full_disk(void **state)
{
    (void)state;
    char mnt[700];
    snprintf(mnt, sizeof mnt, "%s/small-fs", g_dir);
    mkdir(mnt, 0700);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=512k") != 0) {
        print_message("full-disk row skipped: cannot mount a small tmpfs here (%s); "
                      "needs root with CAP_SYS_ADMIN\n", strerror(errno));
        skip();
    }
    sh_server srv = { 0 };
    int started = sh_start(&srv, mnt, NULL) == 0;
    if (started) {
        /* fill the rest of the file system */
        char filler[800];
        snprintf(filler, sizeof filler, "%s/filler", mnt);
        int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char block[4096];
        memset(block, 'x', sizeof block);
        while (fd >= 0 && write(fd, block, sizeof block) > 0) {
        }
        if (fd >= 0)
            close(fd);
        int failed_clearly = 0;
        for (int i = 0; i < 40 && !failed_clearly; i++) {
            char name[64];
            snprintf(name, sizeof name, "full-%d-%s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            char body[128];
            snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
            sh_resp r = { 0 };
            long st = sh_admin(&srv, "POST", "/devedge/v1/apps", body, &r);
            if (st >= 500) {
                if (!r.body || (!strstr(r.body, "\"systemMessage\"") && !strstr(r.body, "\"error\"")))
                    fail_msg("full disk: %ld without a JSON explanation: %s", st, r.body);
                print_message("full disk → %ld: %s\n", st, r.body);
                failed_clearly = 1;
            } else if (st == 0) {
                fail_msg("full disk: the server stopped answering (it should answer 5xx)");
            }
            sh_resp_free(&r);
        }
        assert_true(failed_clearly);
        static const char h[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_int_equal(sh_raw(&srv, h, sizeof h - 1, 5000, NULL), 200);
        unlink(filler);
        sh_stop(&srv);
    } else {
        print_message("full disk: the server refused to start on a 512 KiB file system "
                      "(a clear start-up error is also acceptable)\n");
    }
    umount2(mnt, MNT_DETACH);
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tempdir();
    taap_error e = TAAP_ERROR_INIT;
    char *pem = NULL;
    if (taap_key_private_pem(sh_test_key(0), NULL, &pem, &e) != TAAP_OK)
        return -1;
    snprintf(g_key, sizeof g_key, "%s/key.pem", g_dir);
    tu_write(g_key, pem, strlen(pem));
    chmod(g_key, 0600);
    taap_key_free_pem(pem);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_faults),
        cmocka_unit_test(test_corrupted_cache_and_profile),
        cmocka_unit_test(test_sigkill_mid_writes),
        cmocka_unit_test(test_read_only_disk),
        cmocka_unit_test(test_full_disk),
    };
    return cmocka_run_group_tests_name("faults", tests, setup, teardown);
}
