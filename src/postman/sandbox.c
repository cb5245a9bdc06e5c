/*
 * sandbox.c — the script host process (src/postman/sandbox/host.js under
 * node): find it, start it with its channel on fd 3, exchange protocol
 * lines with it (sandbox_proto.c), stop it. One host per runner worker,
 * reused for every script of the run: node and the sandbox start once.
 *
 * The channel is a socketpair so that writing to a host that died fails
 * with EPIPE instead of raising SIGPIPE (send with MSG_NOSIGNAL). node's own
 * stdout and stderr go to a pipe that is drained while waiting: its last
 * bytes explain a host that dies. Every wait is bounded (the hello; a script
 * by --timeout-script plus a grace period); without a script timeout a
 * script may run as long as it likes, as under Newman.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pm.h"
#include "sandbox.h"

extern char **environ;

#ifndef TAAP_SANDBOX_SOURCE_DIR
#define TAAP_SANDBOX_SOURCE_DIR ""
#endif
#ifndef TAAP_SANDBOX_INSTALL_DIR
#define TAAP_SANDBOX_INSTALL_DIR ""
#endif

#define TAIL_MAX 2048

struct pm_sandbox {
    int fd;                 /* the channel (host's fd 3) */
    int out_fd;             /* node's stdout + stderr; -1 when attached */
    pid_t pid;              /* 0 when attached */
    char tail[TAIL_MAX];    /* the last bytes node printed */
    size_t tail_len;
    char *buf;              /* bytes read from the channel, not yet a line */
    size_t len, cap;
    unsigned long next_id;
    int dead;
    char version[32];
};

/* ---- finding node and the sandbox ------------------------------------------ */

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_exec(const char *path)
{
    return is_file(path) && access(path, X_OK) == 0;
}

/* `name` on PATH (or as given when it has a '/') into out. */
static int find_program(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        return is_exec(out);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        int w = snprintf(out, cap, "%.*s/%s", (int)n, n ? path : ".", name);
        if (w > 0 && (size_t)w < cap && is_exec(out))
            return 1;
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

static int has_host(const char *dir)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/host.js", dir);
    return *dir && is_file(p);
}

taap_code pm_sandbox_locate(const char *node, const char *dir, pm_sb_where *out,
                            taap_error *err)
{
    memset(out, 0, sizeof *out);
    if (!node || !*node)
        node = getenv("TAAP_NODE");
    if (node && *node) {
        if (!find_program(node, out->node, sizeof out->node))
            return taap_fail(err, TAAP_E_CONFIG,
                             "node \"%s\" (TAAP_NODE) is not an executable program", node);
    } else if (!find_program("node", out->node, sizeof out->node) &&
               !find_program("nodejs", out->node, sizeof out->node)) {
        return taap_fail(err, TAAP_E_CONFIG,
                         "the collection has scripts and they run in node (Node.js 18 or newer), "
                         "which is not installed: install it with `apt-get install nodejs` "
                         "(or run with --ignore-scripts)");
    }
    if (!dir || !*dir)
        dir = getenv("TAAP_SANDBOX_DIR");
    const char *const candidates[] = {dir, TAAP_SANDBOX_SOURCE_DIR, TAAP_SANDBOX_INSTALL_DIR};
    const char *found = NULL;
    for (size_t i = 0; i < 3 && !found; i++)
        if (candidates[i] && has_host(candidates[i]))
            found = candidates[i];
    if (!found) {
        if (dir && *dir)
            return taap_fail(err, TAAP_E_CONFIG,
                             "TAAP_SANDBOX_DIR \"%s\" has no host.js (taap's script host)", dir);
        return taap_fail(err, TAAP_E_CONFIG,
                         "taap's script host (host.js) is not installed in %s: reinstall taap "
                         "or set TAAP_SANDBOX_DIR",
                         TAAP_SANDBOX_INSTALL_DIR);
    }
    snprintf(out->dir, sizeof out->dir, "%s", found);
    char pkg[1200];
    snprintf(pkg, sizeof pkg, "%s/node_modules/postman-sandbox/package.json", found);
    if (!is_file(pkg))
        return taap_fail(err, TAAP_E_CONFIG,
                         "the collection has scripts and they run in Postman's sandbox (npm "
                         "postman-sandbox), which is not installed in %s: install it with "
                         "`npm ci --prefix %s` (or run with --ignore-scripts)",
                         found, found);
    return TAAP_OK;
}

/* ---- time ------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the channel ------------------------------------------------------------- */

static void keep_tail(pm_sandbox *sb, const char *p, size_t n)
{
    if (n >= TAIL_MAX) {
        p += n - (TAIL_MAX - 1);
        n = TAIL_MAX - 1;
    }
    if (sb->tail_len + n >= TAIL_MAX) {
        size_t drop = sb->tail_len + n - (TAIL_MAX - 1);
        memmove(sb->tail, sb->tail + drop, sb->tail_len - drop);
        sb->tail_len -= drop;
    }
    memcpy(sb->tail + sb->tail_len, p, n);
    sb->tail_len += n;
    sb->tail[sb->tail_len] = '\0';
}

static void drain_output(pm_sandbox *sb)
{
    char b[4096];
    for (int k = 0; k < 64 && sb->out_fd >= 0; k++) {
        ssize_t n = read(sb->out_fd, b, sizeof b);
        if (n > 0) {
            keep_tail(sb, b, (size_t)n);
            continue;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(sb->out_fd);
            sb->out_fd = -1;
        }
        return;
    }
}

/* The host is gone or useless: say why, with what node printed last. */
static taap_code host_failed(pm_sandbox *sb, taap_error *err, const char *why)
{
    sb->dead = 1;
    drain_output(sb);
    const char *t = sb->tail;
    while (*t == '\n' || *t == ' ')
        t++;
    size_t n = strlen(t);
    const char *start = n > 400 ? t + n - 400 : t;
    return taap_fail(err, TAAP_E_IO, "the script host (node) %s%s%s", why, *start ? ": " : "",
                     start);
}

static taap_code write_all(pm_sandbox *sb, const char *p, size_t n, taap_error *err)
{
    while (n) {
        ssize_t w = send(sb->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return host_failed(sb, err, "stopped reading");
        p += w;
        n -= (size_t)w;
    }
    return TAAP_OK;
}

/* The next message, parsed; `deadline` in now_ms() terms, or -1 for none. */
static taap_code read_msg(pm_sandbox *sb, int64_t deadline, json_t **msg, taap_error *err)
{
    *msg = NULL;
    for (;;) {
        char *nl = sb->len ? memchr(sb->buf, '\n', sb->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - sb->buf);
            json_error_t je;
            *msg = json_loadb(sb->buf, n, 0, &je);
            memmove(sb->buf, nl + 1, sb->len - n - 1);
            sb->len -= n + 1;
            if (!*msg)
                return host_failed(sb, err, "sent a line that is not JSON");
            return TAAP_OK;
        }
        if (sb->len >= PM_SB_MAX_LINE)
            return host_failed(sb, err, "sent a message over the size limit");
        struct pollfd p[2] = {{sb->fd, POLLIN, 0}, {sb->out_fd, POLLIN, 0}};
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                host_failed(sb, err, "did not answer in time");
                return TAAP_E_IO;
            }
            wait = left > 60000 ? 60000 : (int)left;
        }
        int pr = poll(p, sb->out_fd >= 0 ? 2 : 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return host_failed(sb, err, "cannot be waited for");
        if (sb->out_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP)))
            drain_output(sb);
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (sb->cap - sb->len < 65536) {
            size_t nc = sb->cap ? sb->cap * 2 : 131072;
            char *nb = realloc(sb->buf, nc);
            if (!nb)
                return taap_fail(err, TAAP_E_NOMEM, "out of memory");
            sb->buf = nb;
            sb->cap = nc;
        }
        ssize_t n = read(sb->fd, sb->buf + sb->len, sb->cap - sb->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return host_failed(sb, err, "exited");
        sb->len += (size_t)n;
    }
}

static taap_code await_hello(pm_sandbox *sb, taap_error *err)
{
    json_t *m = NULL;
    taap_code rc = read_msg(sb, now_ms() + PM_SB_HELLO_MS, &m, err);
    if (rc != TAAP_OK)
        return rc;
    int h = pm_sb_check_hello(m, sb->version, sizeof sb->version, err);
    json_decref(m);
    if (h != 0) {
        sb->dead = 1;
        return err->code;
    }
    return TAAP_OK;
}

/* ---- starting and stopping ------------------------------------------------------ */

static pm_sandbox *sandbox_new(int fd)
{
    pm_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->fd = fd;
    sb->out_fd = -1;
    return sb;
}

taap_code pm_sandbox_attach(int fd, pm_sandbox **out, taap_error *err)
{
    taap_error local = TAAP_ERROR_INIT;
    if (!err)
        err = &local;
    *out = NULL;
    pm_sandbox *sb = sandbox_new(fd);
    if (!sb) {
        close(fd);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    taap_code rc = await_hello(sb, err);
    if (rc != TAAP_OK) {
        pm_sandbox_free(sb);
        return rc;
    }
    *out = sb;
    return TAAP_OK;
}

taap_code pm_sandbox_start(const pm_sb_where *w, pm_sandbox **out, taap_error *err)
{
    taap_error local = TAAP_ERROR_INIT;
    if (!err)
        err = &local;
    *out = NULL;
    char host[1200];
    snprintf(host, sizeof host, "%s/host.js", w->dir);
    int sv[2], op[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return taap_fail(err, TAAP_E_IO, "socketpair: %s", strerror(errno));
    if (pipe2(op, O_CLOEXEC) != 0) {
        close(sv[0]);
        close(sv[1]);
        return taap_fail(err, TAAP_E_IO, "pipe: %s", strerror(errno));
    }
    /* keep the child's end off fd 3 itself: dup2(3, 3) would leave it
     * close-on-exec */
    int child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    close(sv[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    posix_spawn_file_actions_adddup2(&fa, op[1], 2);
    posix_spawn_file_actions_adddup2(&fa, child, 3);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
#endif
    char *argv[] = {(char *)w->node, host, NULL};
    pid_t pid = 0;
    int sr = child < 0 ? errno : posix_spawn(&pid, w->node, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (child >= 0)
        close(child);
    close(op[1]);
    if (sr != 0) {
        close(sv[0]);
        close(op[0]);
        return taap_fail(err, TAAP_E_IO, "cannot start %s: %s", w->node, strerror(sr));
    }
    pm_sandbox *sb = sandbox_new(sv[0]);
    if (!sb) {
        close(sv[0]);
        close(op[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    sb->pid = pid;
    sb->out_fd = op[0];
    fcntl(sb->out_fd, F_SETFL, O_NONBLOCK);
    taap_code rc = await_hello(sb, err);
    if (rc != TAAP_OK) {
        pm_sandbox_free(sb);
        return rc;
    }
    *out = sb;
    return TAAP_OK;
}

void pm_sandbox_free(pm_sandbox *sb)
{
    if (!sb)
        return;
    close(sb->fd); /* EOF: the host disposes its context and exits */
    if (sb->pid > 0) {
        int done = 0;
        for (int i = 0; i < 200 && !done; i++) { /* up to 2 s */
            if (waitpid(sb->pid, NULL, WNOHANG) == sb->pid) {
                done = 1;
                break;
            }
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (!done) {
            kill(sb->pid, SIGKILL);
            waitpid(sb->pid, NULL, 0);
        }
    }
    if (sb->out_fd >= 0)
        close(sb->out_fd);
    free(sb->buf);
    free(sb);
}

const char *pm_sandbox_version(const pm_sandbox *sb)
{
    return sb->version;
}

/* ---- one script ------------------------------------------------------------------ */

static taap_code answer_request(pm_sandbox *sb, const pm_sb_exec *x, const char *id,
                                json_t *msg, taap_error *err)
{
    json_int_t rid = json_integer_value(json_object_get(msg, "rid"));
    json_t *resp = NULL;
    char e[512] = "";
    int ok = -1;
    if (x->send)
        ok = x->send(x->send_ctx, msg, &resp, e, sizeof e);
    else
        snprintf(e, sizeof e, "pm.sendRequest is not available here");
    if (ok != 0 && !e[0])
        snprintf(e, sizeof e, "the request failed");
    char *line = pm_sb_encode_response(id, rid, ok == 0 ? resp : NULL, ok == 0 ? NULL : e);
    json_decref(resp);
    if (!line)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    taap_code rc = write_all(sb, line, strlen(line), err);
    free(line);
    return rc;
}

taap_code pm_sandbox_exec(pm_sandbox *sb, const pm_sb_exec *x, pm_sb_result *r, taap_error *err)
{
    taap_error local = TAAP_ERROR_INIT;
    if (!err)
        err = &local;
    pm_sb_result_clear(r);
    if (sb->dead)
        return taap_fail(err, TAAP_E_IO, "the script host (node) is no longer running");
    char id[32];
    snprintf(id, sizeof id, "%lu", ++sb->next_id);
    char *line = pm_sb_encode_exec(id, x);
    if (!line)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory (a script's context)");
    taap_code rc = write_all(sb, line, strlen(line), err);
    free(line);
    /* the sandbox enforces --timeout-script itself; this deadline only
     * catches a host that hangs, and does not count time spent in taap
     * performing the script's requests */
    int64_t deadline = x->timeout_ms ? now_ms() + x->timeout_ms + PM_SB_GRACE_MS : -1;
    while (rc == TAAP_OK) {
        json_t *m = NULL;
        if ((rc = read_msg(sb, deadline, &m, err)) != TAAP_OK)
            break;
        int k = pm_sb_fold(m, id, r, err);
        if (k < 0) {
            json_decref(m);
            sb->dead = 1;
            return err->code;
        }
        if (k == PM_SB_MSG_REQUEST) {
            int64_t t0 = now_ms();
            rc = answer_request(sb, x, id, m, err);
            if (deadline >= 0)
                deadline += now_ms() - t0;
        }
        json_decref(m);
        if (k == PM_SB_MSG_DONE)
            return TAAP_OK;
    }
    if (sb->pid > 0 && sb->dead)
        kill(sb->pid, SIGKILL); /* hung or broken: never reused */
    return rc;
}
