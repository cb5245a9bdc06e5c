/*
 * claims.h — the PoP payload claims the verifier reads (iat, exp, nbf, ehts,
 * edts, jti, v), from either of two parsers: a fast one for the usual flat
 * payload and jansson for everything else. Internal to libtaap; tests (the
 * differential fuzz target tests/fuzz/fuzz_claims.c) include it to hold the
 * two to the same answers.
 */
#ifndef TAAP_CLAIMS_H
#define TAAP_CLAIMS_H

#include <stddef.h>
#include <jansson.h>

/* The claims the verifier reads, from either parser. Strings point into the
 * decoded payload (fast path) or into jansson's copy; they are counted, not
 * NUL-terminated. */
typedef enum claim_kind {
    C_MISSING = 0,
    C_STRING,
    C_INTEGER,
    C_REAL,
    C_BOOL,
    C_NULL,
    C_OBJECT,
    C_ARRAY,
} claim_kind;

typedef struct claim {
    claim_kind kind;
    const char *s; /* C_STRING */
    size_t len;
    long long i;   /* C_INTEGER */
} claim;

typedef struct claims {
    claim iat, exp, nbf, ehts, edts, jti, v;
} claims;

/*
 * Fast path for the usual payload: one flat object whose members are
 * escape-free ASCII strings or plain integers. It never rejects: anything
 * else — an escape, a non-ASCII byte, a nested value, a real, true/false/
 * null, a duplicate name, more than 32 members, data after the object —
 * returns 0 and the payload goes to the full strict parser (jansson), which
 * decides. So what the fast path accepts is exactly what jansson would
 * accept, with the same values; it only saves the allocations.
 */
int claims_fast(const unsigned char *p, size_t n, claims *c);

/* Claims from a parsed (jansson) payload; `pl` must outlive `c`. */
void claims_from_json(const json_t *pl, claims *c);

/* "a string", "an integer", … for messages. */
const char *claims_kind_name(claim_kind k);

#endif
