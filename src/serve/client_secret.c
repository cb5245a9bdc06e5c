/*
 * client_secret.c — client secrets: the salted PBKDF2-HMAC-SHA256 hash the
 * store keeps, and the check at the token endpoint with its verified-secret
 * cache (owned here: the pepper and the cache slots of struct taap_server).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "serve_state.h"
#include "util.h"

int srv_hash_secret(const char *secret, size_t len, const unsigned char salt[16], int iterations,
                    unsigned char out[32])
{
    return PKCS5_PBKDF2_HMAC(secret, (int)len, salt, 16, iterations, taap_sha256(), 32, out) == 1
               ? 0
               : -1;
}

/* Same work whether or not the client exists: an unknown id is hashed
 * against a dummy record (timing does not tell them apart). */
int srv_check_secret(taap_server *s, const store_app *app, const char *secret)
{
    static const store_app nobody;
    int found = app != NULL;
    if (!app)
        app = &nobody;
    size_t len = strlen(secret);
    unsigned char fast[32];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int fast_ok = md && EVP_DigestInit_ex(md, taap_sha256(), NULL) == 1 &&
                  EVP_DigestUpdate(md, s->pepper, sizeof s->pepper) == 1 &&
                  EVP_DigestUpdate(md, app->salt, sizeof app->salt) == 1 &&
                  EVP_DigestUpdate(md, secret, len) == 1 &&
                  EVP_DigestFinal_ex(md, fast, NULL) == 1;
    EVP_MD_CTX_free(md);
    if (found && fast_ok) {
        size_t slot = (size_t)app->id % SRV_SECRET_CACHE;
        pthread_mutex_lock(&s->secret_mu);
        int hit = s->secret_cache[slot].app_id == app->id &&
                  CRYPTO_memcmp(s->secret_cache[slot].h, fast, 32) == 0;
        pthread_mutex_unlock(&s->secret_mu);
        if (hit)
            return 1;
    }
    unsigned char h[32];
    static const unsigned char dummy_salt[16] = {0};
    int iters = found && app->iterations > 0 ? app->iterations : (int)s->o.secret_iterations;
    if (srv_hash_secret(secret, len, found ? app->salt : dummy_salt, iters, h) != 0)
        return 0;
    int ok = found && CRYPTO_memcmp(h, app->hash, 32) == 0;
    if (ok && fast_ok) {
        size_t slot = (size_t)app->id % SRV_SECRET_CACHE;
        pthread_mutex_lock(&s->secret_mu);
        s->secret_cache[slot].app_id = app->id;
        memcpy(s->secret_cache[slot].h, fast, 32);
        pthread_mutex_unlock(&s->secret_mu);
    }
    OPENSSL_cleanse(h, sizeof h);
    return ok;
}
