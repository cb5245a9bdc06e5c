/* testutil.h — helpers shared by the tests (paths, files, temp dirs, commands). */
#ifndef TAAP_TESTUTIL_H
#define TAAP_TESTUTIL_H

#include <stddef.h>

/* Path under $TAAP_SHARED (../shared), e.g. "conformance/rfc7515-a2/jwk.json".
 * Returns a static buffer (overwritten by the next call). */
const char *tu_shared(const char *rel);
/* Path under the source tree's tests/data. Static buffer. */
const char *tu_data(const char *rel);
/* The taap command under test ($TAAP_BIN). */
const char *tu_taap_bin(void);

/* Read a whole file (NUL-terminated; *len may be NULL). Aborts the test
 * program with a message when the file cannot be read. free() the result. */
char *tu_read(const char *path, size_t *len);
/* Write a file (aborts on failure). */
void tu_write(const char *path, const void *data, size_t len);

/* A fresh temporary directory (removed by tu_rmtree). free() the result. */
char *tu_tempdir(void);
void tu_rmtree(const char *dir);

/*
 * Run `argv` (argv[0] a path) with `input` on stdin (may be NULL), capture
 * stdout and stderr (malloc'd, NUL-terminated; pass NULL to discard).
 * Returns the exit status, or 128+signal.
 */
int tu_run(char *const argv[], const char *input, char **out, char **errout);

/* How many times `needle` (non-empty) occurs in `hay`, overlaps counted. */
size_t tu_count(const char *hay, const char *needle);

#endif
