/* testutil.c — see testutil.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

const char *tu_shared(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", env_or("TAAP_SHARED", "../shared"), rel);
    return buf;
}

const char *tu_data(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", env_or("TAAP_TEST_DATA", "tests/data"), rel);
    return buf;
}

const char *tu_taap_bin(void)
{
    return env_or("TAAP_BIN", "taap");
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test: cannot read %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "test: out of memory reading %s\n", path);
        exit(1);
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

char *tu_tempdir(void)
{
    char tmpl[] = "/tmp/taap-test-XXXXXX";
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "test: mkdtemp: %s\n", strerror(errno));
        exit(1);
    }
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Append what fd has to *buf. Returns 0 at EOF. */
static int drain(int fd, char **buf, size_t *len)
{
    char tmp[8192];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0)
        return 0;
    char *nb = realloc(*buf, *len + (size_t)r + 1);
    if (!nb)
        exit(1);
    memcpy(nb + *len, tmp, (size_t)r);
    *len += (size_t)r;
    nb[*len] = '\0';
    *buf = nb;
    return 1;
}

int tu_run(char *const argv[], const char *input, char **out, char **errout)
{
    int pin[2], pout[2], perr[2];
    if (pipe(pin) || pipe(pout) || pipe(perr))
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close(pin[1]);
        close(pout[0]);
        close(perr[0]);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (input) {
        size_t n = strlen(input), off = 0;
        while (off < n) {
            ssize_t w = write(pin[1], input + off, n - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    close(pin[1]);
    char *ob = calloc(1, 1), *eb = calloc(1, 1);
    size_t ol = 0, el = 0;
    int open_out = 1, open_err = 1;
    while (open_out || open_err) {
        struct pollfd p[2] = {{open_out ? pout[0] : -1, POLLIN, 0},
                              {open_err ? perr[0] : -1, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (open_out && (p[0].revents & (POLLIN | POLLHUP)))
            open_out = drain(pout[0], &ob, &ol);
        if (open_err && (p[1].revents & (POLLIN | POLLHUP)))
            open_err = drain(perr[0], &eb, &el);
    }
    close(pout[0]);
    close(perr[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (out)
        *out = ob;
    else
        free(ob);
    if (errout)
        *errout = eb;
    else
        free(eb);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

size_t tu_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}
