/* rs256.c — RS256 sign and verify over EVP (DESIGN.md: no JOSE library, the
 * algorithm is pinned here and never taken from a token). */
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "util.h"
#include "rs256.h"

taap_code rs256_sign(const taap_key *key, const void *input, size_t len, unsigned char *sig,
                     taap_error *err)
{
    if (!key || !key->is_private)
        return taap_fail(err, TAAP_E_KEY, "this is a public key, a private key is needed to sign");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    size_t sig_len = key->sig_len;
    taap_code rc = TAAP_OK;
    if (!md || EVP_DigestSignInit(md, &pctx, taap_sha256(), NULL, key->pkey) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, input, len) != 1 || sig_len != key->sig_len)
        rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "RS256 signing failed");
    EVP_MD_CTX_free(md);
    return rc;
}

taap_code rs256_verify(const taap_key *key, const void *input, size_t len,
                       const unsigned char *sig, size_t sig_len, taap_error *err)
{
    if (sig_len != key->sig_len)
        return taap_fail(err, TAAP_E_SIGNATURE,
                         "signature is %zu bytes, the %u-bit key needs exactly %zu", sig_len,
                         key->bits, key->sig_len);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (!md || EVP_DigestVerifyInit(md, &pctx, taap_sha256(), NULL, key->pkey) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        EVP_MD_CTX_free(md);
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "RS256 verifier setup failed");
    }
    int ok = EVP_DigestVerify(md, sig, sig_len, input, len);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (ok != 1)
        return taap_fail(err, TAAP_E_SIGNATURE, "signature does not verify with the configured key");
    return TAAP_OK;
}
