/* access_token_cache.c — verified access tokens remembered by SHA-256
 * (taap/access_token.h): a resource server pays the RS256 check, the JSON
 * parse and the cnf key decode once per token, not once per request. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"
#include "taap/access_token.h"

#define DEFAULT_SLOTS 1024
#define MAX_SLOTS (1u << 20)

typedef struct at_slot {
    unsigned char hash[32];
    int used;
    int64_t exp; /* nbf needs no re-check: time only moves past it */
    char client_id[257];
    char jti[257];
    taap_key *key;
} at_slot;

struct taap_access_token_cache {
    pthread_mutex_t mu;
    size_t n;
    at_slot *slots;
};

taap_code taap_access_token_cache_new(size_t slots, taap_access_token_cache **out,
                                      taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_access_token_cache_new: out is NULL");
    *out = NULL;
    if (slots == 0)
        slots = DEFAULT_SLOTS;
    if (slots > MAX_SLOTS)
        return taap_fail(err, TAAP_E_USAGE, "access token cache: at most %u slots", MAX_SLOTS);
    taap_access_token_cache *c = calloc(1, sizeof *c);
    if (c)
        c->slots = calloc(slots, sizeof *c->slots);
    if (!c || !c->slots) {
        free(c);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    c->n = slots;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return TAAP_OK;
}

void taap_access_token_cache_free(taap_access_token_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        taap_key_free(c->slots[i].key);
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    free(c);
}

static size_t slot_of(const taap_access_token_cache *c, const unsigned char h[32])
{
    uint64_t x = 0;
    memcpy(&x, h, sizeof x);
    return (size_t)(x % c->n);
}

/* A hit still valid now fills *info (a new key handle) and returns 1. */
static int lookup(taap_access_token_cache *c, const unsigned char h[32], int64_t now,
                  int64_t leeway, taap_access_token_info *info)
{
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    at_slot *s = &c->slots[slot_of(c, h)];
    if (s->used && CRYPTO_memcmp(s->hash, h, 32) == 0 && now < s->exp + leeway &&
        taap_key_dup(s->key, &info->cnf_key, NULL) == TAAP_OK) {
        memcpy(info->client_id, s->client_id, sizeof info->client_id);
        memcpy(info->jti, s->jti, sizeof info->jti);
        info->exp = s->exp;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void store(taap_access_token_cache *c, const unsigned char h[32],
                  const taap_access_token_info *info)
{
    taap_key *k = NULL;
    if (taap_key_dup(info->cnf_key, &k, NULL) != TAAP_OK)
        return;
    pthread_mutex_lock(&c->mu);
    at_slot *s = &c->slots[slot_of(c, h)];
    taap_key *old = s->key;
    memcpy(s->hash, h, 32);
    s->used = 1;
    s->exp = info->exp;
    memcpy(s->client_id, info->client_id, sizeof s->client_id);
    memcpy(s->jti, info->jti, sizeof s->jti);
    s->key = k;
    pthread_mutex_unlock(&c->mu);
    taap_key_free(old);
}

taap_code taap_access_token_verify_cached(taap_access_token_cache *c, const taap_keyset *keys,
                                          const char *token, size_t len,
                                          const taap_access_token_config *cfg,
                                          taap_access_token_info *info, taap_error *err)
{
    if (!c || !token || !info)
        return taap_access_token_verify(keys, token, len, cfg, info, err);
    memset(info, 0, sizeof *info);
    taap_access_token_config defcfg;
    if (!cfg) {
        taap_access_token_config_init(&defcfg);
        cfg = &defcfg;
    }
    unsigned char h[32];
    if (EVP_Digest(token, len, h, NULL, taap_sha256(), NULL) != 1)
        return taap_access_token_verify(keys, token, len, cfg, info, err);
    int64_t now = cfg->clock ? cfg->clock(cfg->clock_ctx) : taap_wall_clock(NULL);
    if (lookup(c, h, now, (int64_t)cfg->leeway, info)) {
        if (err)
            taap_error_clear(err);
        return TAAP_OK;
    }
    taap_code rc = taap_access_token_verify(keys, token, len, cfg, info, err);
    if (rc == TAAP_OK)
        store(c, h, info);
    return rc;
}
