/* key_internal.h — the layout of taap_key, shared by key.c and the modules
 * that sign or verify with it. */
#ifndef TAAP_KEY_INTERNAL_H
#define TAAP_KEY_INTERNAL_H

#include <openssl/evp.h>
#include "taap/key.h"

struct taap_key {
    EVP_PKEY *pkey;          /* RSA; private or public only */
    int is_private;
    unsigned bits;
    size_t sig_len;          /* modulus size in bytes (k) */
    unsigned char fingerprint[32]; /* SHA-256 of DER SPKI */
};

/* Fill bits, sig_len and fingerprint from pkey (used by every loader). */
taap_code key_finish(taap_key *key, taap_error *err);

#endif
