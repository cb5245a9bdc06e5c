/* serve_harness.c — see serve_harness.h. libtaap + libcurl + libc only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "serve_harness.h"
#include "testutil.h"

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "serve_harness: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void write_now(sh_server *s, int64_t now)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", (long long)now);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->now_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fwrite(buf, 1, (size_t)n, f);
    fclose(f);
    rename(tmp, s->now_file); /* atomic: the server never reads half a number */
}

/* The server's clock moves first, then the one clients sign with: a client
 * thread that reads s->now never signs ahead of the server (soak_smoke moves
 * the clock 30 s at a time, past the verifier's 10 s leeway). */
void sh_set_now(sh_server *s, int64_t now)
{
    write_now(s, now);
    s->now = now;
}

static void init_curl(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void curl_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_curl);
}

int sh_start(sh_server *s, const char *dir, const char *const *extra_args)
{
    int64_t now = s->now ? s->now : SH_EPOCH;
    int keep_dir = dir != NULL;
    char dirbuf[512];
    if (dir) {
        snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    } else {
        char *d = tu_tempdir();
        snprintf(dirbuf, sizeof dirbuf, "%s", d);
        free(d);
    }
    int own = keep_dir ? s->own_dir : 1;
    memset(s, 0, sizeof *s);
    s->own_dir = own;
    s->now = now;
    snprintf(s->dir, sizeof s->dir, "%s", dirbuf);
    snprintf(s->db, sizeof s->db, "%s/serve.db", s->dir);
    snprintf(s->port_file, sizeof s->port_file, "%s/port", s->dir);
    snprintf(s->now_file, sizeof s->now_file, "%s/now", s->dir);
    snprintf(s->token_file, sizeof s->token_file, "%s/serve.db.admin-token", s->dir);
    snprintf(s->log_file, sizeof s->log_file, "%s/serve.log", s->dir);
    unlink(s->port_file);
    write_now(s, s->now);

    const char *argv[64];
    int n = 0;
    argv[n++] = tu_taap_bin();
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = s->port_file;
    argv[n++] = "--db";
    argv[n++] = s->db;
    argv[n++] = "--now-file";
    argv[n++] = s->now_file;
    argv[n++] = "--secret-iterations";
    argv[n++] = "1000";
    for (int i = 0; extra_args && extra_args[i] && n < 62; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    int logfd = open(s->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        if (logfd >= 0)
            dup2(logfd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    if (logfd >= 0)
        close(logfd);
    s->pid = pid;
    s->out_fd = pfd[0];

    /* Read stdout until "listening on http://…:PORT\n" (ASan start-up can be slow). */
    size_t got = 0;
    for (;;) {
        struct pollfd p = {s->out_fd, POLLIN, 0};
        int pr = poll(&p, 1, 30000);
        if (pr <= 0)
            break;
        ssize_t r = read(s->out_fd, s->stdout_text + got, sizeof s->stdout_text - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        s->stdout_text[got] = '\0';
        const char *l = strstr(s->stdout_text, "listening on http://");
        if (l && strchr(l, '\n')) {
            const char *colon = strrchr(l, ':');
            s->port = (unsigned)strtoul(colon + 1, NULL, 10);
            break;
        }
        if (got + 1 >= sizeof s->stdout_text)
            break;
    }
    if (!s->port) {
        char *log = sh_log(s);
        note("server did not start; its stderr:\n%s", log);
        free(log);
        sh_kill(s);
        return -1;
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
    size_t tl = 0;
    char *tok = tu_read(s->token_file, &tl);
    while (tl && (tok[tl - 1] == '\n' || tok[tl - 1] == '\r'))
        tok[--tl] = '\0';
    snprintf(s->admin_token, sizeof s->admin_token, "%s", tok);
    free(tok);
    return 0;
}

int sh_alive(sh_server *s)
{
    if (s->pid <= 0)
        return 0;
    int st;
    return waitpid(s->pid, &st, WNOHANG) == 0;
}

static int reap(sh_server *s)
{
    int st = 0;
    if (waitpid(s->pid, &st, 0) < 0)
        return -1;
    s->pid = 0;
    if (s->out_fd > 0)
        close(s->out_fd);
    s->out_fd = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int sh_stop(sh_server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    return reap(s);
}

void sh_kill(sh_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    reap(s);
}

void sh_cleanup(sh_server *s)
{
    if (s->pid > 0)
        sh_kill(s);
    if (s->own_dir && s->dir[0])
        tu_rmtree(s->dir);
    s->dir[0] = '\0';
}

char *sh_log(sh_server *s)
{
    FILE *f = fopen(s->log_file, "rb");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4097 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (!buf)
        return strdup("");
    buf[len] = '\0';
    return buf;
}

/* ---- HTTP ------------------------------------------------------------------ */

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    growbuf *g = ud;
    size_t n = size * nmemb;
    if (g->len + n + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 1024;
        while (cap < g->len + n + 1)
            cap *= 2;
        char *np = realloc(g->p, cap);
        if (!np)
            return 0;
        g->p = np;
        g->cap = cap;
    }
    memcpy(g->p + g->len, ptr, n);
    g->len += n;
    g->p[g->len] = '\0';
    return n;
}

void sh_resp_free(sh_resp *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

long sh_http(const char *method, const char *url, const char *const *headers, const void *body,
             size_t len, sh_resp *out)
{
    curl_once();
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c)
        return 0;
    growbuf b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    for (int i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    /* No header of curl's own that a PoP could be asked to cover. */
    hl = curl_slist_append(hl, "Expect:");
    hl = curl_slist_append(hl, "Accept:");
    int has_ct = 0;
    for (int i = 0; headers && headers[i]; i++)
        has_ct |= strncasecmp(headers[i], "Content-Type:", 13) == 0;
    if (!has_ct)
        hl = curl_slist_append(hl, "Content-Type:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/../" as written */
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->status = status;
    out->body = b.p ? b.p : strdup("");
    out->len = b.len;
    out->headers = h.p ? h.p : strdup("");
    return status;
}

int sh_resp_header(const sh_resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = r->headers; l && *l;) {
        const char *e = strstr(l, "\r\n");
        size_t ll = e ? (size_t)(e - l) : strlen(l);
        if (ll > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - l);
            snprintf(out, cap, "%.*s", (int)vl, v);
            return 1;
        }
        l = e ? e + 2 : l + ll;
    }
    return 0;
}

/* ---- management --------------------------------------------------------------- */

/* Copy the string value of "name" from compact JSON made by the server. */
static int json_str(const char *json, const char *name, char *out, size_t cap)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p)
        return 0;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= cap)
        return 0;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 1;
}

long sh_admin(sh_server *s, const char *method, const char *path, const char *json_body,
              sh_resp *out)
{
    char url[1024], auth[128];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->admin_token);
    const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
    return sh_http(method, url, hdrs, json_body, json_body ? strlen(json_body) : 0, out);
}

int sh_make_app(sh_server *s, const char *name, const char *account, char **client_id,
                char **secret)
{
    char body[256];
    if (account)
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"account\":\"%s\"}", name, account);
    else
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    sh_resp r = {0};
    long st = sh_admin(s, "POST", "/devedge/v1/apps", body, &r);
    char id[80], sec[80];
    int ok = st == 201 && json_str(r.body, "clientId", id, sizeof id) &&
             json_str(r.body, "clientSecret", sec, sizeof sec);
    if (!ok)
        note("app create failed: %s", r.body);
    sh_resp_free(&r);
    if (!ok)
        return -1;
    *client_id = strdup(id);
    *secret = strdup(sec);
    return 0;
}

int sh_add_key(sh_server *s, const char *app, const taap_key *key, char key_id[17])
{
    char *pem = NULL;
    if (taap_key_public_pem(key, &pem, NULL) != TAAP_OK)
        return -1;
    char url[512], auth[128];
    snprintf(url, sizeof url, "%s/devedge/v1/apps/%s/keys", s->base, app);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->admin_token);
    const char *hdrs[] = {auth, "Content-Type: application/x-pem-file", NULL};
    sh_resp r = {0};
    long st = sh_http("POST", url, hdrs, pem, strlen(pem), &r);
    taap_key_free_pem(pem);
    int ok = st == 201 && json_str(r.body, "keyId", key_id, 17);
    if (!ok)
        note("key add failed: %s", r.body);
    sh_resp_free(&r);
    return ok ? 0 : -1;
}

int sh_subscribe(sh_server *s, const char *app)
{
    char path[256];
    snprintf(path, sizeof path, "/devedge/v1/apps/%s/subscriptions", app);
    sh_resp r = {0};
    long st = sh_admin(s, "POST", path, "{\"api\":\"iot-connectivity\"}", &r);
    if (st != 200)
        note("subscribe failed: %s", r.body);
    sh_resp_free(&r);
    return st == 200 ? 0 : -1;
}

int sh_activate_kit(sh_server *s, const char *app, char iccid[24])
{
    char body[200];
    snprintf(body, sizeof body, "{\"app\":\"%s\"}", app);
    sh_resp r = {0};
    long st = sh_admin(s, "POST", "/devedge/v1/kits", body, &r);
    int ok = st == 201 && json_str(r.body, "iccid", iccid, 24);
    if (!ok)
        note("kit activation failed: %s", r.body);
    sh_resp_free(&r);
    return ok ? 0 : -1;
}

taap_key *sh_test_key(int index)
{
    static taap_key *keys[8];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    if (index < 0 || index >= 8)
        return NULL;
    pthread_mutex_lock(&mu);
    if (!keys[index])
        taap_key_generate(2048, &keys[index], NULL);
    taap_key *k = keys[index];
    pthread_mutex_unlock(&mu);
    return k;
}

/* ---- TAAP -------------------------------------------------------------------- */

static int64_t harness_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

int64_t sh_clock(void *ctx)
{
    return ((const sh_server *)ctx)->now;
}

char *sh_pop(sh_server *s, const taap_key *key, const char *method, const char *target,
             const char *const *headers, const void *body, size_t len, const sh_pop_opts *o)
{
    taap_header hv[32];
    char store[32][512];
    size_t n = 0;
    for (int i = 0; headers && headers[i] && n < 32; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon)
            continue;
        snprintf(store[n], sizeof store[n], "%.*s", (int)(colon - headers[i]), headers[i]);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        hv[n].name = store[n];
        hv[n].value = v;
        n++;
    }
    taap_request req = {method, target, hv, n,
                        {body && len ? TAAP_BODY_MEMORY : TAAP_BODY_NONE, body, (int64_t)len, NULL,
                         NULL, NULL}};
    int64_t iat = s->now + (o ? o->iat_offset : 0);
    taap_pop_options po;
    taap_pop_options_init(&po);
    po.clock = harness_clock;
    po.clock_ctx = &iat;
    if (o && o->lifetime)
        po.lifetime = o->lifetime;
    if (o && o->jti)
        po.jti = o->jti;
    if (o && o->no_sign) {
        po.no_sign_headers = o->no_sign;
        po.n_no_sign_headers = o->n_no_sign;
    }
    char *tok = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_pop_build_request(key, &req, &po, &tok, NULL, &err) != TAAP_OK) {
        note("PoP build failed: %s", err.message);
        return NULL;
    }
    return tok;
}

static long send_signed(sh_server *s, const char *method, const char *target,
                        const char *const *hdrs, size_t nh, const taap_key *key, const char *body,
                        const sh_pop_opts *o, sh_resp *out)
{
    const char *all[16];
    size_t n = 0;
    for (size_t i = 0; i < nh && n < 15; i++)
        all[n++] = hdrs[i];
    all[n] = NULL;
    char *pop = NULL;
    if (key && !(o && o->omit)) {
        pop = sh_pop(s, key, method, target, all, body, body ? strlen(body) : 0, o);
        if (!pop)
            return 0;
    }
    long st = sh_send(s, method, target, all, body, pop, out);
    free(pop);
    return st;
}

void sh_basic_header(const char *client_id, const char *secret, char *out, size_t cap)
{
    char cred[512], b64[700];
    int n = snprintf(cred, sizeof cred, "%s:%s", client_id, secret);
    /* Standard padded base64 (RFC 4648 §4). */
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o64 = 0;
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)cred[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)(unsigned char)cred[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)cred[i + 2];
        b64[o64++] = al[(v >> 18) & 63];
        b64[o64++] = al[(v >> 12) & 63];
        b64[o64++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
        b64[o64++] = i + 2 < n ? al[v & 63] : '=';
    }
    b64[o64] = '\0';
    snprintf(out, cap, "Authorization: Basic %s", b64);
}

long sh_send(sh_server *s, const char *method, const char *target, const char *const *headers,
             const char *body, const char *pop, sh_resp *out)
{
    const char *all[32];
    size_t n = 0;
    for (int i = 0; headers && headers[i] && n < 30; i++)
        all[n++] = headers[i];
    char *xauth = NULL;
    if (pop) {
        size_t cap = strlen(pop) + 32;
        xauth = malloc(cap);
        snprintf(xauth, cap, "X-Authorization: %s", pop);
        all[n++] = xauth;
    }
    all[n] = NULL;
    char url[4096];
    snprintf(url, sizeof url, "%s%s", s->base, target);
    long st = sh_http(method, url, all, body, body ? strlen(body) : 0, out);
    free(xauth);
    return st;
}

long sh_token_request(sh_server *s, const char *path, const char *client_id, const char *secret,
                      const taap_key *key, const char *body, const sh_pop_opts *o, sh_resp *out)
{
    char auth[760];
    sh_basic_header(client_id, secret, auth, sizeof auth);
    const char *hdrs[] = {"Content-Type: application/json", auth};
    return send_signed(s, "POST", path ? path : "/oauth2/v2/tokens", hdrs, 2, key, body, o, out);
}

char *sh_get_token(sh_server *s, const char *client_id, const char *secret, const taap_key *key)
{
    sh_resp r = {0};
    long st = sh_token_request(s, NULL, client_id, secret, key, NULL, NULL, &r);
    char tok[8192];
    int ok = st == 200 && json_str(r.body, "access_token", tok, sizeof tok);
    if (!ok)
        note("token request failed: %s", r.body);
    sh_resp_free(&r);
    return ok ? strdup(tok) : NULL;
}

long sh_call(sh_server *s, const char *method, const char *target, const char *access_token,
             const taap_key *key, const char *body, const sh_pop_opts *o, sh_resp *out)
{
    size_t cap = (access_token ? strlen(access_token) : 0) + 64;
    char *auth = malloc(cap);
    snprintf(auth, cap, "Authorization: Bearer %s", access_token ? access_token : "");
    const char *hdrs[] = {"Content-Type: application/json", auth};
    long st = send_signed(s, method, target, hdrs, 2, key, body, o, out);
    free(auth);
    return st;
}

/* ---- raw sockets --------------------------------------------------------------- */

int sh_connect(sh_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)s->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int sh_raw(sh_server *s, const void *data, size_t len, int timeout_ms, char **resp)
{
    if (resp)
        *resp = NULL;
    int fd = sh_connect(s);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early (413/431): read what it said */
        off += (size_t)w;
    }
    growbuf g = {0};
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        on_data(buf, 1, (size_t)r, &g);
        /* One complete response is enough: do not wait for a keep-alive close. */
        const char *eoh = strstr(g.p, "\r\n\r\n");
        if (eoh) {
            const char *cl = strcasestr(g.p, "\r\nContent-Length:");
            size_t want = cl && cl < eoh ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
            if (g.len >= (size_t)(eoh + 4 - g.p) + want)
                break;
        }
    }
    close(fd);
    int status = 0;
    if (g.p && strncmp(g.p, "HTTP/1.", 7) == 0 && g.len > 12)
        status = (int)strtol(g.p + 9, NULL, 10);
    if (resp)
        *resp = g.p ? g.p : strdup("");
    else
        free(g.p);
    return status;
}
