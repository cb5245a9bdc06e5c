/*
 * fuzz_key_private — taap_key_load_private over PKCS#8, PKCS#1, encrypted
 * PKCS#8 / PKCS#1 (no passphrase given: must fail with
 * TAAP_E_NEED_PASSPHRASE, never hang in a key derivation) and DER.
 *
 * A passphrase is deliberately not supplied: a fuzzed PBKDF2/scrypt
 * iteration count would make every input a time-out, which is a property
 * of the format and not a bug in taap.
 *
 * Invariants: the error contract; an accepted key is private, within the
 * size policy, and its public half exports and reloads as the same key.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "taap/taap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    taap_key *key = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_key_load_private(data, size, NULL, 0, &key, &err);
    fuzz_check_error(rc, &err, "taap_key_load_private");
    if (rc != TAAP_OK) {
        if (key)
            fuzz_fail("taap_key_load_private failed but returned a key", NULL);
        if (rc == TAAP_E_BAD_PASSPHRASE)
            fuzz_fail("no passphrase was given, yet the error is BAD_PASSPHRASE", NULL);
        return 0;
    }
    if (!key || !taap_key_is_private(key))
        fuzz_fail("taap_key_load_private succeeded without a private key", NULL);
    unsigned bits = taap_key_bits(key);
    if (bits < 2048 || bits > 16384)
        fuzz_fail("an accepted private key has an impossible size", NULL);

    char *pem = NULL;
    if (taap_key_public_pem(key, &pem, &err) != TAAP_OK)
        fuzz_fail("taap_key_public_pem failed on a loaded private key", err.message);
    taap_key *pub = NULL;
    if (taap_key_load_public(pem, strlen(pem), &pub, &err) == TAAP_OK &&
        !taap_key_same_public(key, pub))
        fuzz_fail("the public half of a private key reloads as another key", NULL);
    taap_key_free(pub);
    taap_key_free_pem(pem);
    taap_key_free(key);
    return 0;
}
