/*
 * taap/key.h — RSA keys for PoP tokens (SPEC §3, key policy SPEC §2.4).
 *
 * A taap_key holds one parsed RSA key, private (for signing) or public (for
 * verifying). Parse it once per process and reuse it for every token: the
 * handle is immutable after loading and safe to share between threads.
 */
#ifndef TAAP_KEY_H
#define TAAP_KEY_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct taap_key taap_key;

/* Flags for the private-key loaders. */
#define TAAP_KEY_ALLOW_LEGACY 0x1u /* load OpenSSL's legacy provider for PBES1
                                     (e.g. pbeWithMD5AndDES) encrypted PKCS#8 */

/*
 * taap_key_load_private — parse a private key from memory.
 * Accepts PKCS#8, PKCS#1 ("BEGIN RSA PRIVATE KEY"), encrypted PKCS#8 (PBES2;
 * PBES1 with TAAP_KEY_ALLOW_LEGACY), traditional encrypted PKCS#1, PEM with
 * CRLF, without line breaks or with surrounding whitespace, and DER.
 * `passphrase` may be NULL; an encrypted key then fails with
 * TAAP_E_NEED_PASSPHRASE, a wrong one with TAAP_E_BAD_PASSPHRASE. A public
 * key given here fails with TAAP_E_KEY and says a private key is needed.
 * The key must pass the SPEC §2.4 policy (RSA, 2048..8192 bits, odd e in
 * 65537..2^32): a key no verifier would accept is useless for signing.
 * Ownership: the input is copied as needed; free *out with taap_key_free().
 */
TAAP_API taap_code taap_key_load_private(const void *data, size_t len, const char *passphrase,
                                         unsigned flags, taap_key **out, taap_error *err);

/*
 * taap_key_load_private_file — as above, reading `path` without following
 * symbolic links. Sets *insecure_mode (when non-NULL) to 1 if the file is
 * accessible by group or others (any bit of mode 077), so the caller can warn.
 */
TAAP_API taap_code taap_key_load_private_file(const char *path, const char *passphrase,
                                              unsigned flags, taap_key **out,
                                              int *insecure_mode, taap_error *err);

/*
 * taap_key_load_public — parse a verification key: SPKI PEM, PKCS#1 PEM
 * ("BEGIN RSA PUBLIC KEY"), JWK (kty RSA; `=` padding and a leading zero
 * byte in n tolerated), or DER (SPKI or PKCS#1). A private key is accepted
 * too and reduced to its public half. The key policy of SPEC §2.4 is
 * enforced: RSA only, modulus 2048..8192 bits, e odd and 65537..2^32;
 * anything else fails with TAAP_E_KEY and a message saying why.
 * Free *out with taap_key_free().
 */
TAAP_API taap_code taap_key_load_public(const void *data, size_t len, taap_key **out,
                                        taap_error *err);
TAAP_API taap_code taap_key_load_public_file(const char *path, taap_key **out, taap_error *err);

/*
 * taap_key_generate — a new RSA private key of `bits` (2048, 3072 or 4096)
 * with e = 65537, from OpenSSL's CSPRNG.
 */
TAAP_API taap_code taap_key_generate(unsigned bits, taap_key **out, taap_error *err);

/*
 * taap_key_private_pem — the private key as PKCS#8 PEM, encrypted with
 * AES-256-CBC and PBKDF2 when `passphrase` is non-NULL and non-empty.
 * *pem is NUL-terminated; free it with taap_key_free_pem() (which wipes it).
 */
TAAP_API taap_code taap_key_private_pem(const taap_key *key, const char *passphrase,
                                        char **pem, taap_error *err);

/* taap_key_public_pem — the public key as SPKI PEM ("BEGIN PUBLIC KEY"),
 * with line breaks. Free with taap_key_free_pem(). */
TAAP_API taap_code taap_key_public_pem(const taap_key *key, char **pem, taap_error *err);

/* taap_key_public_pem_oneline — the SPKI PEM on a single line, BEGIN/END
 * lines included and line breaks removed (the `cnf` form of SPEC §4/§6). */
TAAP_API taap_code taap_key_public_pem_oneline(const taap_key *key, char **pem, taap_error *err);

/* taap_key_public_jwk — the public key as a JWK JSON object
 * {"kty":"RSA","n":…,"e":…,"kid":…} (kid = the fingerprint, base64url). */
TAAP_API taap_code taap_key_public_jwk(const taap_key *key, char **json, taap_error *err);

/*
 * taap_key_write_private_file — write the private key as PKCS#8 PEM
 * (encrypted as taap_key_private_pem() does when `passphrase` is non-empty)
 * to `path` with mode 0600, atomically (temporary file, fsync, rename): the
 * PEM never leaves the library unwiped. Refuses to replace an existing file
 * unless `overwrite` (TAAP_E_IO, "already exists"). TAAP_E_KEY for a public key.
 */
TAAP_API taap_code taap_key_write_private_file(const taap_key *key, const char *path,
                                               const char *passphrase, int overwrite,
                                               taap_error *err);

/* taap_key_write_public_file — the SPKI PEM to `path`, mode 0644, atomically,
 * same overwrite rule. */
TAAP_API taap_code taap_key_write_public_file(const taap_key *key, const char *path, int overwrite,
                                              taap_error *err);

/* Free a string returned by the functions above, wiping it first. NULL-safe. */
TAAP_API void taap_key_free_pem(char *pem);

/* taap_key_fingerprint — SHA-256 of the DER SubjectPublicKeyInfo. */
TAAP_API void taap_key_fingerprint(const taap_key *key, unsigned char out[32]);

/* 1 if the key has its private half. */
TAAP_API int taap_key_is_private(const taap_key *key);

/* Modulus size in bits. */
TAAP_API unsigned taap_key_bits(const taap_key *key);

/* 1 if both keys have the same public half. */
TAAP_API int taap_key_same_public(const taap_key *a, const taap_key *b);

/* Free a key, wiping its private material. NULL-safe. */
TAAP_API void taap_key_free(taap_key *key);

/* taap_key_dup — a second handle on the same key (the key material is shared
 * and reference-counted, never copied). Free each handle with taap_key_free().
 * Thread-safe. Errors: TAAP_E_USAGE (NULL key), TAAP_E_NOMEM. */
TAAP_API taap_code taap_key_dup(const taap_key *key, taap_key **out, taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
