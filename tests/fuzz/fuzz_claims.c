/*
 * fuzz_claims — differential: the verifier's two JSON paths must agree.
 *
 * The verifier reads a flat PoP payload with its own allocation-free parser
 * (claims_fast, src/core/claims.c) and everything else with the strict
 * jansson path (jws_parse_json + claims_from_json); the usual header is
 * recognised byte for byte (jws_header_fast_ok) instead of being parsed and
 * checked (jws_parse_json + jws_check_header). The promise is that a fast
 * path accepts only what the strict path accepts, with the same values.
 *
 * Every input is fed to both paths, as a payload and as a header. Findings:
 *  - the fast payload parser accepts a text the strict parser refuses;
 *  - it accepts one and any of iat, exp, nbf, ehts, edts, jti, v differs
 *    from jansson's reading (kind, integer value, or string bytes);
 *  - the fast header check accepts a header the strict check refuses.
 * A refusal by the fast path is never a finding: it only hands the text on.
 */
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "fuzz_common.h"
#include "jws.h"

static const char *const claim_names[] = {"iat", "exp", "nbf", "ehts", "edts", "jti", "v"};

static const claim *nth(const claims *c, int i)
{
    const claim *all[] = {&c->iat, &c->exp, &c->nbf, &c->ehts, &c->edts, &c->jti, &c->v};
    return all[i];
}

static void compare(const claims *fast, const claims *strict)
{
    for (int i = 0; i < 7; i++) {
        const claim *a = nth(fast, i), *b = nth(strict, i);
        if (a->kind != b->kind)
            fuzz_fail("fast and strict payload parsers give a claim different kinds",
                      claim_names[i]);
        if (a->kind == C_INTEGER && a->i != b->i)
            fuzz_fail("fast and strict payload parsers give an integer claim different values",
                      claim_names[i]);
        if (a->kind == C_STRING && (a->len != b->len || memcmp(a->s, b->s, a->len) != 0))
            fuzz_fail("fast and strict payload parsers give a string claim different values",
                      claim_names[i]);
    }
}

static void payload_paths(const unsigned char *p, size_t n)
{
    claims fast;
    if (!claims_fast(p, n, &fast))
        return; /* handed to jansson: nothing to compare */
    json_t *pl = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = jws_parse_json(p, n, "payload", TAAP_E_CLAIMS, &pl, &err);
    fuzz_check_error(rc, &err, "jws_parse_json(payload)");
    if (rc != TAAP_OK)
        fuzz_fail("fast payload parser accepts a text the strict parser refuses", err.message);
    claims strict;
    claims_from_json(pl, &strict);
    compare(&fast, &strict);
    json_decref(pl);
}

static void header_paths(const unsigned char *p, size_t n)
{
    if (!jws_header_fast_ok(p, n))
        return;
    json_t *h = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = jws_parse_json(p, n, "header", TAAP_E_MALFORMED, &h, &err);
    if (rc == TAAP_OK)
        rc = jws_check_header(h, &err);
    json_decref(h);
    fuzz_check_error(rc, &err, "jws header");
    if (rc != TAAP_OK)
        fuzz_fail("fast header check accepts a header the strict check refuses", err.message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    /* An exact-size copy: a read past the end is an ASan report. */
    unsigned char *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    payload_paths(p, size);
    header_paths(p, size);
    free(p);
    return 0;
}
