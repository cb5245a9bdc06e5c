/* token_cache.c — the per-profile access-token cache file (taap/oauth.h):
 * 0600, atomic replace, flock()ed, validated on every read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"
#include "oauth_internal.h"
#include "taap/oauth.h"

#define CACHE_MAX_FILE (128u << 10)
#define CACHE_FORMAT 1

struct taap_token_cache {
    char *dir;
    char *path;
    char *lock_path;         /* token-PROFILE.lock: one per profile, reused */
    char *legacy_lock_path;  /* <path>.lock, which older versions left behind */
    char identity_hash[65];
    int lock_fd;
};

static char *cache_default_dir(void)
{
    const char *x = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    size_t n;
    char *d;
    if (x && x[0] == '/') {
        n = strlen(x) + 6;
        d = malloc(n);
        if (d)
            snprintf(d, n, "%s/taap", x);
        return d;
    }
    if (!home || home[0] != '/')
        return NULL;
    n = strlen(home) + 13;
    d = malloc(n);
    if (d)
        snprintf(d, n, "%s/.cache/taap", home);
    return d;
}

taap_code taap_token_cache_open(const char *dir, const char *profile, const char *identity,
                                taap_token_cache **out, taap_error *err)
{
    *out = NULL;
    if (!identity)
        return taap_fail(err, TAAP_E_USAGE, "token cache: identity is required");
    taap_token_cache *c = calloc(1, sizeof *c);
    if (!c)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    c->lock_fd = -1;
    c->dir = dir ? taap_strdup(dir) : cache_default_dir();
    if (!c->dir) {
        free(c);
        return taap_fail(err, TAAP_E_CONFIG, "no cache directory: set XDG_CACHE_HOME or HOME");
    }
    taap_code rc = taap_mkdir_private(c->dir, err);
    if (rc != TAAP_OK) {
        taap_token_cache_close(c);
        return rc;
    }
    unsigned char md[32];
    taap_sha256_digest(identity, strlen(identity), md);
    taap_hex_encode(md, sizeof md, c->identity_hash);
    char prof[65];
    size_t pl = 0;
    for (const char *p = profile && *profile ? profile : "default"; *p && pl < 64; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            prof[pl++] = *p;
    prof[pl] = '\0';
    size_t n = strlen(c->dir) + pl + 48;
    c->path = malloc(n);
    c->lock_path = malloc(n);
    c->legacy_lock_path = malloc(n + 5);
    if (!c->path || !c->lock_path || !c->legacy_lock_path) {
        taap_token_cache_close(c);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    snprintf(c->path, n, "%s/token-%s-%.16s.json", c->dir, pl ? prof : "x", c->identity_hash);
    /* The lock belongs to the profile, not to the identity: a new client id,
     * key or URL reuses it, so lock files do not pile up (one per profile). */
    snprintf(c->lock_path, n, "%s/token-%s.lock", c->dir, pl ? prof : "x");
    snprintf(c->legacy_lock_path, n + 5, "%s.lock", c->path);
    *out = c;
    return TAAP_OK;
}

void taap_token_cache_close(taap_token_cache *c)
{
    if (!c)
        return;
    taap_token_cache_unlock(c);
    free(c->dir);
    free(c->path);
    free(c->lock_path);
    free(c->legacy_lock_path);
    free(c);
}

const char *taap_token_cache_path(const taap_token_cache *c)
{
    return c ? c->path : NULL;
}

/* Earlier versions locked <path>.lock and left it behind, empty. Remove it
 * when it is just that: an empty regular file of ours. */
static void remove_legacy_lock(const taap_token_cache *c)
{
    struct stat st;
    if (lstat(c->legacy_lock_path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
        st.st_uid == geteuid())
        unlink(c->legacy_lock_path);
}

taap_code taap_token_cache_lock(taap_token_cache *c, taap_error *err)
{
    if (c->lock_fd >= 0)
        return TAAP_OK;
    int fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return taap_fail(err, TAAP_E_IO, "%s: %s", c->lock_path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return taap_fail(err, TAAP_E_IO, "%s: lock: %s", c->lock_path, strerror(e));
        }
    }
    c->lock_fd = fd;
    remove_legacy_lock(c);
    return TAAP_OK;
}

void taap_token_cache_unlock(taap_token_cache *c)
{
    if (c && c->lock_fd >= 0) {
        flock(c->lock_fd, LOCK_UN);
        close(c->lock_fd);
        c->lock_fd = -1;
    }
}

static int cache_printable(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static const char *cache_opt_str(json_t *o, const char *k, int *bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

taap_code taap_token_cache_read(taap_token_cache *c, taap_oauth_token **out, int *corrupt,
                                taap_error *err)
{
    *out = NULL;
    if (corrupt)
        *corrupt = 0;
    struct stat st;
    if (lstat(c->path, &st) != 0) {
        if (errno == ENOENT)
            return TAAP_OK;
        return taap_fail(err, TAAP_E_IO, "%s: %s", c->path, strerror(errno));
    }
    /* Never trust a token file someone else could have written. */
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        if (corrupt)
            *corrupt = 1;
        return TAAP_OK;
    }
    char *data = NULL;
    size_t len = 0;
    taap_error e2 = TAAP_ERROR_INIT;
    if (taap_read_file(c->path, CACHE_MAX_FILE, 1, &data, &len, &e2) != TAAP_OK) {
        if (corrupt)
            *corrupt = 1;
        return TAAP_OK;
    }
    json_error_t je;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    taap_free_secret(data, len + 1);
    int bad = !json_is_object(o);
    taap_oauth_token *t = NULL;
    if (!bad) {
        json_t *fmt = json_object_get(o, "format"), *id = json_object_get(o, "identity");
        json_t *ei = json_object_get(o, "expires_in"), *oa = json_object_get(o, "obtained_at"),
               *ea = json_object_get(o, "expires_at");
        const char *at = cache_opt_str(o, "access_token", &bad);
        const char *it = cache_opt_str(o, "id_token", &bad);
        const char *tt = cache_opt_str(o, "token_type", &bad);
        const char *sc = cache_opt_str(o, "scope", &bad);
        if (!json_is_integer(fmt) || json_integer_value(fmt) != CACHE_FORMAT || !json_is_string(id) ||
            !json_is_integer(ei) || !json_is_integer(oa) || !json_is_integer(ea) || !cache_printable(at) ||
            (it && !cache_printable(it)) || !tt)
            bad = 1;
        else if (json_integer_value(ei) <= 0 ||
                 json_integer_value(ea) != json_integer_value(oa) + json_integer_value(ei))
            bad = 1;
        else if (strcmp(json_string_value(id), c->identity_hash) != 0) {
            /* Another identity with the same 64-bit name prefix: treat as absent. */
            json_decref(o);
            return TAAP_OK;
        }
        if (!bad) {
            t = calloc(1, sizeof *t);
            if (!t) {
                json_decref(o);
                return taap_fail(err, TAAP_E_NOMEM, "out of memory");
            }
            t->access_token = taap_strdup(at);
            t->id_token = it ? taap_strdup(it) : NULL;
            t->token_type = taap_strdup(tt);
            t->scope = sc ? taap_strdup(sc) : NULL;
            t->expires_in = json_integer_value(ei);
            t->obtained_at = json_integer_value(oa);
            t->expires_at = json_integer_value(ea);
            if (!t->access_token || !t->token_type || (it && !t->id_token)) {
                taap_oauth_token_free(t);
                json_decref(o);
                return taap_fail(err, TAAP_E_NOMEM, "out of memory");
            }
        }
    }
    /* jansson keeps its own copies of the strings: wipe them before freeing. */
    if (json_is_object(o)) {
        json_t *v = json_object_get(o, "access_token");
        if (json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
        v = json_object_get(o, "id_token");
        if (json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(o);
    if (bad) {
        if (corrupt)
            *corrupt = 1;
        return TAAP_OK;
    }
    *out = t;
    return TAAP_OK;
}

taap_code taap_token_cache_write(taap_token_cache *c, const taap_oauth_token *tok, taap_error *err)
{
    if (!tok || !tok->access_token)
        return taap_fail(err, TAAP_E_USAGE, "token cache: nothing to write");
    json_t *o = json_pack("{s:i,s:s,s:s,s:s?,s:s,s:s?,s:I,s:I,s:I}", "format", CACHE_FORMAT,
                          "identity", c->identity_hash, "access_token", tok->access_token,
                          "id_token", tok->id_token, "token_type",
                          tok->token_type ? tok->token_type : "Bearer", "scope", tok->scope,
                          "expires_in", (json_int_t)tok->expires_in, "obtained_at",
                          (json_int_t)tok->obtained_at, "expires_at", (json_int_t)tok->expires_at);
    char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (o) {
        json_t *v = json_object_get(o, "access_token");
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
        v = json_object_get(o, "id_token");
        if (json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(o);
    if (!data)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory writing the token cache");
    size_t len = strlen(data);
    taap_code rc = taap_write_file_atomic(c->path, data, len, 0600, 1, err);
    taap_free_secret(data, len);
    return rc;
}

taap_code taap_token_cache_remove(taap_token_cache *c, taap_error *err)
{
    if (unlink(c->path) != 0 && errno != ENOENT)
        return taap_fail(err, TAAP_E_IO, "%s: %s", c->path, strerror(errno));
    return TAAP_OK;
}
