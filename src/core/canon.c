/* canon.c — request canonicalisation for ehts/edts (SPEC §1.1). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64url.h"
#include "canon.h"
#include "util.h"

#define CANON_CHUNK 65536

int canon_is_pseudo(const char *name, size_t len)
{
    return (len == 3 && memcmp(name, "uri", 3) == 0) ||
           (len == 11 && memcmp(name, "http-method", 11) == 0) ||
           (len == 4 && memcmp(name, "body", 4) == 0);
}

taap_code taap_request_uri(const char *target, char **out, taap_error *err)
{
    *out = NULL;
    if (!target || !*target)
        return taap_fail(err, TAAP_E_USAGE, "request target is empty: give a URL or a path");
    const char *p = target;
    /* Full URL: skip "scheme://authority". */
    const char *scheme_end = strstr(p, "://");
    if (scheme_end && scheme_end < p + strcspn(p, "/?#")) {
        p = scheme_end + 3;
        p += strcspn(p, "/?#");
    }
    size_t path_len = strcspn(p, "?#");
    const char *query = p[path_len] == '?' ? p + path_len + 1 : NULL;
    size_t query_len = query ? strcspn(query, "#") : 0;
    /* An absolute URL with no path has the path "/" on the wire. */
    int add_slash = path_len == 0;
    char *u = malloc(path_len + (size_t)add_slash + (query ? 1 + query_len : 0) + 1);
    if (!u)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    size_t o = 0;
    if (add_slash)
        u[o++] = '/';
    memcpy(u + o, p, path_len);
    o += path_len;
    if (query) {
        u[o++] = '?';
        /* The query with its percent-encoding decoded (SPEC §1.1); '+' stays.
         * %00 stays encoded: a decoded NUL would end the string and let
         * "?a=%00x" and "?a=" share one edts. */
        for (size_t i = 0; i < query_len; i++) {
            int hi, lo;
            if (query[i] == '%' && i + 2 < query_len &&
                (hi = taap_hex_value((unsigned char)query[i + 1])) >= 0 &&
                (lo = taap_hex_value((unsigned char)query[i + 2])) >= 0 && (hi | lo) != 0) {
                u[o++] = (char)(hi << 4 | lo);
                i += 2;
            } else {
                u[o++] = query[i];
            }
        }
    }
    u[o] = '\0';
    *out = u;
    return TAAP_OK;
}

int64_t canon_body_length(const taap_body *body, taap_error *err)
{
    switch (body->kind) {
    case TAAP_BODY_NONE:
        return 0;
    case TAAP_BODY_MEMORY:
        return body->len;
    case TAAP_BODY_CALLBACK:
        return body->len;
    case TAAP_BODY_FILE: {
        struct stat st;
        if (!body->path || stat(body->path, &st) != 0) {
            taap_fail(err, TAAP_E_IO, "body file %s: %s", body->path ? body->path : "(none)",
                      strerror(errno));
            return -1;
        }
        return S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    }
    }
    return 0;
}

int canon_find_header(const taap_request *req, const char *name, size_t len,
                      const char **value, size_t *value_len)
{
    int found = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *h = req->headers[i].name;
        if (!h || strlen(h) != len || taap_ascii_ncasecmp(h, name, len) != 0)
            continue;
        if (found)
            return 2;
        found = 1;
        const char *v = req->headers[i].value ? req->headers[i].value : "";
        size_t vl = strlen(v);
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        *value = v;
        *value_len = vl;
    }
    return found;
}

taap_code canon_hash_body(EVP_MD_CTX *md, const taap_body *body, taap_error *err)
{
    switch (body->kind) {
    case TAAP_BODY_NONE:
        return TAAP_OK;
    case TAAP_BODY_MEMORY:
        if (body->len > 0 && !EVP_DigestUpdate(md, body->data, (size_t)body->len))
            return taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 update failed");
        return TAAP_OK;
    case TAAP_BODY_FILE:
    case TAAP_BODY_CALLBACK:
        break;
    }
    unsigned char *buf = malloc(CANON_CHUNK);
    if (!buf)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    int fd = -1;
    if (body->kind == TAAP_BODY_FILE) {
        fd = open(body->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            free(buf);
            return taap_fail(err, TAAP_E_IO, "body file %s: %s", body->path, strerror(errno));
        }
    }
    taap_code rc = TAAP_OK;
    for (;;) {
        ssize_t r = fd >= 0 ? read(fd, buf, CANON_CHUNK) : body->read(body->read_ctx, buf, CANON_CHUNK);
        if (r < 0 && fd >= 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fd >= 0 ? taap_fail(err, TAAP_E_IO, "body file %s: %s", body->path, strerror(errno))
                         : taap_fail(err, TAAP_E_IO, "body read callback failed");
            break;
        }
        if (r == 0)
            break;
        if (!EVP_DigestUpdate(md, buf, (size_t)r)) {
            rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 update failed");
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

void canon_digest_to_edts(const unsigned char digest[32], char out[44])
{
    taap_b64url_encode(digest, 32, out);
}

taap_code canon_request_edts(const taap_request *req, const char *const *names,
                             const size_t *lens, size_t n, taap_code missing_code,
                             char out[44], taap_error *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char *uri = NULL;
    taap_code rc = TAAP_OK;
    if (!md || !EVP_DigestInit_ex(md, taap_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 init failed");
    }
    for (size_t i = 0; i < n && rc == TAAP_OK; i++) {
        const char *name = names[i];
        size_t len = lens[i];
        const void *val = NULL;
        size_t vlen = 0;
        if (len == 3 && memcmp(name, "uri", 3) == 0) {
            if (!uri && (rc = taap_request_uri(req->target, &uri, err)) != TAAP_OK)
                break;
            val = uri;
            vlen = strlen(uri);
        } else if (len == 11 && memcmp(name, "http-method", 11) == 0) {
            val = req->method ? req->method : "";
            vlen = strlen(val);
        } else if (len == 4 && memcmp(name, "body", 4) == 0) {
            rc = canon_hash_body(md, &req->body, err);
            continue;
        } else {
            const char *hv;
            size_t hl;
            int found = canon_find_header(req, name, len, &hv, &hl);
            if (found != 1) {
                rc = taap_fail(err, missing_code, "ehts names header '%.*s' which the request %s",
                               (int)(len > 64 ? 64 : len), name,
                               found == 0 ? "does not have" : "has more than once");
                break;
            }
            val = hv;
            vlen = hl;
        }
        if (vlen && !EVP_DigestUpdate(md, val, vlen))
            rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 update failed");
    }
    unsigned char digest[32];
    unsigned int dlen = 0;
    if (rc == TAAP_OK && !EVP_DigestFinal_ex(md, digest, &dlen))
        rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 final failed");
    if (rc == TAAP_OK)
        canon_digest_to_edts(digest, out);
    EVP_MD_CTX_free(md);
    free(uri);
    return rc;
}
