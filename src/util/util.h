/*
 * util.h — the internal tier (src/util): helpers every layer compiles in
 * (library, command, emulator) so each exists once. Never installed; the
 * shared libraries build it with hidden visibility, so none of these names
 * is exported (tests/e2e/test_libraries.sh).
 */
#ifndef TAAP_UTIL_H
#define TAAP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"

/*
 * Fill `err` (NULL-safe) with `code` and a printf-style message; returns
 * `code` so callers can write `return taap_fail(err, TAAP_E_IO, "...")`.
 */
taap_code taap_fail(taap_error *err, taap_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append OpenSSL's queued error reason to a message and clear the queue. */
taap_code taap_fail_openssl(taap_error *err, taap_code code, const char *what);

/* Zero then free a secret buffer (OPENSSL_cleanse). NULL-safe. */
void taap_free_secret(void *p, size_t len);
/* Same for a NUL-terminated secret string. */
void taap_free_secret_str(char *s);

/* strdup / memdup that return NULL on allocation failure. */
char *taap_strdup(const char *s);
char *taap_strndup(const char *s, size_t n);
void *taap_memdup(const void *p, size_t n);

/* Case-insensitive ASCII comparison (locale independent). */
int taap_ascii_casecmp(const char *a, const char *b);
int taap_ascii_ncasecmp(const char *a, const char *b, size_t n);
/* The first occurrence of needle in hay, ASCII case-insensitively, or NULL. */
const char *taap_ascii_casestr(const char *hay, const char *needle);

/* RFC 9110 token character test (tchar). */
int taap_is_tchar(unsigned char c);
/* 1 if s[0..n) is a token: n > 0 and every byte a tchar. */
int taap_is_token(const char *s, size_t n);

/* Lower-case hex of n bytes into out (2n characters and a NUL). */
void taap_hex_encode(const unsigned char *in, size_t n, char *out);
/* The value of one hex digit (either case), -1 if c is not one. */
int taap_hex_value(unsigned char c);

/*
 * The one list of headers whose values are credentials (Authorization,
 * Cookie, X-Api-Key, …): every redaction — verbose output, the runner's
 * reports, explanations, the emulator's request log — asks here. `name` is
 * `len` bytes, compared ASCII case-insensitively.
 */
int taap_header_is_secret(const char *name, size_t len);

/* SHA-256 fetched once per process (an explicit fetch avoids OpenSSL 3's
 * per-call implicit fetch on the hot paths). Never NULL after a successful
 * first call; NULL only if OpenSSL has no SHA-256 at all. Thread-safe. */
struct evp_md_st;
const struct evp_md_st *taap_sha256(void);
/* SHA-256 of n bytes with that digest into out[32]; 1 on success, 0 if
 * OpenSSL failed (out is then zeroed). */
int taap_sha256_digest(const void *data, size_t n, unsigned char out[32]);

/* The current time in seconds (wall clock). */
int64_t taap_wall_clock(void *unused);

/*
 * Read a whole file into memory (bounded by max_len; larger → TAAP_E_IO with
 * a message naming the limit). `nofollow` opens with O_NOFOLLOW (key files).
 * The result is NUL-terminated (not counted in *len). Free with free() or,
 * for secrets, taap_free_secret(buf, len).
 */
taap_code taap_read_file(const char *path, size_t max_len, int nofollow,
                         char **out, size_t *len, taap_error *err);

/*
 * Write `len` bytes to `path` atomically: a temporary file in the same
 * directory with `mode`, fsync, rename. Refuses to overwrite an existing
 * file unless `overwrite`.
 */
taap_code taap_write_file_atomic(const char *path, const void *data, size_t len,
                                 unsigned mode, int overwrite, taap_error *err);

/* mkdir -p with mode 0700; the final directory must exist, be a directory
 * and belong to the effective user (caches and profiles hold secrets). */
taap_code taap_mkdir_private(const char *dir, taap_error *err);

#endif
