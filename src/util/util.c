/* util.c — small helpers every layer shares (util.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"

void taap_free_secret(void *p, size_t len)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

void taap_free_secret_str(char *s)
{
    if (s)
        taap_free_secret(s, strlen(s));
}

char *taap_strdup(const char *s)
{
    return s ? taap_strndup(s, strlen(s)) : NULL;
}

char *taap_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *taap_memdup(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int taap_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = lower((unsigned char)a[i]), y = lower((unsigned char)b[i]);
        if (x != y)
            return x < y ? -1 : 1;
        if (!x)
            return 0;
    }
    return 0;
}

int taap_ascii_casecmp(const char *a, const char *b)
{
    return taap_ascii_ncasecmp(a, b, SIZE_MAX);
}

const char *taap_ascii_casestr(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (taap_ascii_ncasecmp(p, needle, n) == 0)
            return p;
    return n ? NULL : hay;
}

int taap_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int taap_is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!taap_is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

void taap_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int taap_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *taap_sha256(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md ? sha256_md : EVP_sha256();
}

int taap_sha256_digest(const void *data, size_t n, unsigned char out[32])
{
    if (EVP_Digest(data, n, out, NULL, taap_sha256(), NULL) == 1)
        return 1;
    memset(out, 0, 32);
    return 0;
}

int64_t taap_wall_clock(void *unused)
{
    (void)unused;
    return (int64_t)time(NULL);
}

taap_code taap_read_file(const char *path, size_t max_len, int nofollow,
                         char **out, size_t *len, taap_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0) {
        if (errno == ELOOP && nofollow)
            return taap_fail(err, TAAP_E_IO, "%s: is a symbolic link (refused for key files)", path);
        return taap_fail(err, TAAP_E_IO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return taap_fail(err, TAAP_E_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_len) {
        close(fd);
        return taap_fail(err, TAAP_E_IO, "%s: larger than the %zu-byte limit", path, max_len);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (n + 1 == cap) { /* the file grew since fstat */
            if (cap > max_len) {
                taap_free_secret(buf, cap);
                close(fd);
                return taap_fail(err, TAAP_E_IO, "%s: larger than the %zu-byte limit", path, max_len);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                taap_free_secret(buf, cap);
                close(fd);
                return taap_fail(err, TAAP_E_NOMEM, "out of memory reading %s", path);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            taap_free_secret(buf, cap);
            close(fd);
            return taap_fail(err, TAAP_E_IO, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return TAAP_OK;
}

taap_code taap_write_file_atomic(const char *path, const void *data, size_t len,
                                 unsigned mode, int overwrite, taap_error *err)
{
    if (!overwrite && access(path, F_OK) == 0)
        return taap_fail(err, TAAP_E_IO, "%s: already exists (use --force to overwrite)", path);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return taap_fail(err, TAAP_E_IO, "%s: cannot create a file beside it: %s", path, strerror(e));
    }
    taap_code rc = TAAP_OK;
    const unsigned char *p = data;
    size_t left = len;
    if (fchmod(fd, (mode_t)mode) != 0)
        rc = taap_fail(err, TAAP_E_IO, "%s: chmod: %s", path, strerror(errno));
    while (rc == TAAP_OK && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = taap_fail(err, TAAP_E_IO, "%s: write: %s", path, strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (rc == TAAP_OK && fsync(fd) != 0)
        rc = taap_fail(err, TAAP_E_IO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == TAAP_OK)
        rc = taap_fail(err, TAAP_E_IO, "%s: close: %s", path, strerror(errno));
    if (rc == TAAP_OK) {
        if (!overwrite) {
            /* link() fails if the target appeared meanwhile: never clobber. */
            if (link(tmp, path) != 0)
                rc = taap_fail(err, TAAP_E_IO, "%s: %s", path,
                               errno == EEXIST ? "already exists (use --force to overwrite)"
                                               : strerror(errno));
            unlink(tmp);
        } else if (rename(tmp, path) != 0) {
            rc = taap_fail(err, TAAP_E_IO, "%s: rename: %s", path, strerror(errno));
        }
    }
    if (rc != TAAP_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

taap_code taap_mkdir_private(const char *dir, taap_error *err)
{
    char *d = taap_strdup(dir);
    if (!d)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    for (char *p = d + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(d, 0700) != 0 && errno != EEXIST) {
                taap_code rc = taap_fail(err, TAAP_E_IO, "cannot create directory %s: %s", d,
                                         strerror(errno));
                free(d);
                return rc;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    free(d);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return taap_fail(err, TAAP_E_IO, "%s is not a directory", dir);
    if (st.st_uid != geteuid())
        return taap_fail(err, TAAP_E_IO, "directory %s belongs to another user", dir);
    return TAAP_OK;
}
