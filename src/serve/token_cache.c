/*
 * token_cache.c — verified access tokens, so a resource call pays for one
 * RSA verify (the PoP) instead of two, and never re-parses the cnf key.
 *
 * Without it every call verified the access token's RS256 signature, parsed
 * its claims, and decoded the cnf PEM into a key (OpenSSL 3's decoder costs
 * several hundred µs, far more than the verify itself). An entry is made only
 * after all of that succeeded (failures are never cached) and is keyed by the
 * SHA-256 of the token text, so a hit means "these exact bytes were verified
 * by this server". What stays per call: the time checks (exp, nbf against
 * the current clock), and in connectivity.c the application, key
 * registration and subscription lookups and the PoP itself.
 *
 * Shape: a direct-mapped table of SRV_AT_SLOTS entries (bounded; a collision
 * simply replaces the older entry) under one mutex held only to swap
 * pointers. Entries are reference-counted so a thread can use an entry's key
 * while another thread evicts it. Any management change that could revoke a
 * token (application deleted, key deleted, unsubscribed) clears the table and
 * bumps a generation number; an entry built from a validation that began
 * before the bump is not inserted.
 *
 * Memory follows the live tokens: each lookup also looks at one slot at a
 * sweep cursor and empties it if its token has expired (a hit on it would
 * be refused anyway), so a table filled by a burst of short-lived tokens is
 * emptied within SRV_AT_SLOTS lookups instead of holding every parsed key
 * until a collision replaces it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "serve_state.h"

void srv_at_release(srv_at_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        taap_key_free(e->key);
        OPENSSL_cleanse(e, sizeof *e);
        free(e);
    }
}

static size_t slot_of(const unsigned char hash[32])
{
    size_t v = 0;
    memcpy(&v, hash, sizeof v);
    return v % SRV_AT_SLOTS;
}

/* One step of the expiry sweep (under at_mu): detach the entry at the
 * cursor if it has expired; the caller releases it after unlocking. */
static srv_at_entry *sweep_step(taap_server *s, int64_t now)
{
    size_t i = s->at_sweep++ % SRV_AT_SLOTS;
    srv_at_entry *e = s->at_slots[i];
    if (!e || e->exp > now)
        return NULL;
    s->at_slots[i] = NULL;
    return e;
}

srv_at_entry *srv_at_get(taap_server *s, const unsigned char hash[32])
{
    int64_t now = srv_now(s);
    srv_at_entry *e;
    pthread_mutex_lock(&s->at_mu);
    srv_at_entry *expired = sweep_step(s, now);
    e = s->at_slots[slot_of(hash)];
    if (e && CRYPTO_memcmp(e->hash, hash, 32) == 0)
        atomic_fetch_add(&e->refs, 1);
    else
        e = NULL;
    pthread_mutex_unlock(&s->at_mu);
    srv_at_release(expired);
    return e;
}

size_t srv_at_count(taap_server *s)
{
    size_t n = 0;
    pthread_mutex_lock(&s->at_mu);
    for (size_t i = 0; i < SRV_AT_SLOTS; i++)
        n += s->at_slots[i] != NULL;
    pthread_mutex_unlock(&s->at_mu);
    return n;
}

uint64_t srv_at_generation(taap_server *s)
{
    return atomic_load(&s->at_generation);
}

void srv_at_put(taap_server *s, srv_at_entry *e, uint64_t generation)
{
    srv_at_entry *old = NULL;
    pthread_mutex_lock(&s->at_mu);
    /* Checked under the lock that srv_at_clear takes: a clear either came
     * first (generation moved: skip) or comes after and removes this. */
    if (atomic_load(&s->at_generation) == generation) {
        size_t i = slot_of(e->hash);
        old = s->at_slots[i];
        atomic_fetch_add(&e->refs, 1);
        s->at_slots[i] = e;
    }
    pthread_mutex_unlock(&s->at_mu);
    srv_at_release(old);
}

void srv_at_clear(taap_server *s)
{
    srv_at_entry **v = calloc(SRV_AT_SLOTS, sizeof *v);
    pthread_mutex_lock(&s->at_mu);
    atomic_fetch_add(&s->at_generation, 1);
    for (size_t i = 0; i < SRV_AT_SLOTS; i++) {
        if (v)
            v[i] = s->at_slots[i];
        else
            srv_at_release(s->at_slots[i]); /* no memory: free under the lock */
        s->at_slots[i] = NULL;
    }
    pthread_mutex_unlock(&s->at_mu);
    if (v) {
        for (size_t i = 0; i < SRV_AT_SLOTS; i++)
            srv_at_release(v[i]);
        free(v);
    }
}
