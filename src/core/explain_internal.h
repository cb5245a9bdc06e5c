/*
 * explain_internal.h — pieces of the explaining verifier shared by
 * explain.c (what the verifier saw) and explain_causes.c (the search for
 * the client mistake that reproduces the token's edts).
 */
#ifndef TAAP_EXPLAIN_INTERNAL_H
#define TAAP_EXPLAIN_INTERNAL_H

#include <stddef.h>
#include "taap/explain.h"

/* The byte values hashed for each part, in ehts order (body in memory). */
typedef struct explain_values {
    const unsigned char **v;
    size_t *len;
    size_t n;
} explain_values;

/*
 * Search the known client mistakes for one whose edts equals e->token_edts;
 * sets e->cause, e->cause_detail and e->variants_tried (OTHER_REQUEST when
 * none matches). `vals` are the canonical values of e->parts; `req` gives
 * what the canonical form dropped (raw query, host). Returns TAAP_OK or
 * TAAP_E_NOMEM.
 */
taap_code explain_find_cause(taap_explain *e, const explain_values *vals,
                             const taap_request *req, taap_error *err);

/* base64url(SHA-256(values in the order idx[0..n-1])) into out[44];
 * idx NULL → natural order. One value may be replaced: part `sub` (or
 * (size_t)-1 for none) by sub_v/sub_len. */
int explain_edts(const explain_values *vals, const size_t *idx, size_t sub,
                 const void *sub_v, size_t sub_len, char out[44]);

#endif
