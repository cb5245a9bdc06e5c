/*
 * taap/request.h — the description of one HTTP request, as the PoP builder
 * signs it and the verifier checks it (SPEC §1.1).
 *
 * These are plain caller-owned structs: the library only reads them during a
 * call and never keeps a pointer.
 */
#ifndef TAAP_REQUEST_H
#define TAAP_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "taap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One header as sent or received. `value` is NUL-terminated text. */
typedef struct taap_header {
    const char *name;
    const char *value;
} taap_header;

/*
 * A read callback for streamed bodies: fill up to `cap` bytes of `buf`,
 * return the count, 0 at the end, or -1 on error.
 */
typedef ssize_t (*taap_read_fn)(void *ctx, void *buf, size_t cap);

typedef enum taap_body_kind {
    TAAP_BODY_NONE = 0,   /* no body */
    TAAP_BODY_MEMORY,     /* data/len */
    TAAP_BODY_FILE,       /* path: read (streamed) from a file */
    TAAP_BODY_CALLBACK    /* read/read_ctx: streamed; `len` is the size if known, else -1 */
} taap_body_kind;

typedef struct taap_body {
    taap_body_kind kind;
    const void *data;   /* TAAP_BODY_MEMORY */
    int64_t len;        /* MEMORY: byte count; CALLBACK: size or -1 if unknown */
    const char *path;   /* TAAP_BODY_FILE */
    taap_read_fn read;  /* TAAP_BODY_CALLBACK */
    void *read_ctx;
} taap_body;

/*
 * An HTTP request. `target` is either a full URL
 * ("https://host/path?query") or the request target as on the request
 * line ("/path?query"). `method` as sent (the builder upper-cases nothing:
 * SPEC says the method in upper case as sent).
 */
typedef struct taap_request {
    const char *method;
    const char *target;
    const taap_header *headers;
    size_t n_headers;
    taap_body body;
} taap_request;

/*
 * taap_request_uri — the `uri` value of SPEC §1.1 for a target: the path as
 * sent, plus '?' and the percent-decoded query when there is one; no scheme,
 * host or fragment. *out is malloc'd (free()).
 */
TAAP_API taap_code taap_request_uri(const char *target, char **out, taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
