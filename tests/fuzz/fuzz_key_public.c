/*
 * fuzz_key_public — taap_key_load_public over SPKI PEM, PKCS#1 PEM, JWK and
 * DER (SPEC §3), plus the exporters on every key it accepts.
 *
 * Invariants: the error contract; an accepted key satisfies the key policy
 * of SPEC §2.4 (2048..8192 bits) and round-trips: its SPKI PEM and its JWK
 * load again as the same public key.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "taap/taap.h"

static void reload_same(const taap_key *key, const char *text, const char *what)
{
    taap_key *again = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_key_load_public(text, strlen(text), &again, &err) != TAAP_OK)
        fuzz_fail("an exported public key does not load again", what);
    if (!taap_key_same_public(key, again))
        fuzz_fail("an exported public key loads as a different key", what);
    taap_key_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    taap_key *key = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_key_load_public(data, size, &key, &err);
    fuzz_check_error(rc, &err, "taap_key_load_public");
    if (rc != TAAP_OK) {
        if (key)
            fuzz_fail("taap_key_load_public failed but returned a key", NULL);
        return 0;
    }
    if (!key)
        fuzz_fail("taap_key_load_public succeeded without a key", NULL);
    unsigned bits = taap_key_bits(key);
    if (bits < 2048 || bits > 8192)
        fuzz_fail("an accepted key breaks the modulus size policy", NULL);

    char *pem = NULL, *jwk = NULL, *line = NULL;
    if (taap_key_public_pem(key, &pem, &err) == TAAP_OK)
        reload_same(key, pem, "SPKI PEM");
    else
        fuzz_fail("taap_key_public_pem failed on a loaded key", err.message);
    if (taap_key_public_jwk(key, &jwk, &err) == TAAP_OK)
        reload_same(key, jwk, "JWK");
    else
        fuzz_fail("taap_key_public_jwk failed on a loaded key", err.message);
    if (taap_key_public_pem_oneline(key, &line, &err) != TAAP_OK)
        fuzz_fail("taap_key_public_pem_oneline failed on a loaded key", err.message);
    taap_key_free_pem(pem);
    taap_key_free_pem(jwk);
    taap_key_free_pem(line);
    taap_key_free(key);
    return 0;
}
