/* replay_memory.c — in-process replay cache (SPEC §2.11): a chained hash
 * table under one mutex, keyed by (key fingerprint, jti), bounded, failing
 * closed when full of live entries.
 *
 * Memory follows the live load, not the capacity: every entry is also on a
 * time wheel, one slot per second of its expiry (mod WHEEL_SLOTS). Each
 * insert first advances the wheel to the current second, freeing what has
 * expired in the slots it passes, but visits at most PURGE_BUDGET entries or
 * slots per call (a cursor remembers where it stopped), so an insert costs
 * O(1) however many entries expire at once, and a backlog drains at
 * PURGE_BUDGET - 1 entries per insert. An entry that outlives a full turn of
 * the wheel is passed over once per turn (WHEEL_SLOTS seconds).
 *
 * The hash is SipHash-2-4 with a random per-table key: jti values come from
 * token holders, so an unkeyed hash would let one of them pile every entry
 * into one chain. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "util.h"
#include "taap/replay.h"
#include "replay_memory.h"

#define WHEEL_SLOTS 1024 /* seconds per turn: above any usual replay window */
#define PURGE_BUDGET 64  /* entries or slots visited per insert, at most */

typedef struct mem_entry {
    struct mem_entry *next;  /* hash chain */
    struct mem_entry *wnext; /* time-wheel slot list */
    int64_t expires_at;
    uint64_t hash;
    unsigned char key_id[32];
    size_t jti_len;
    char jti[]; /* NUL-terminated */
} mem_entry;

typedef struct mem_replay {
    taap_replay base;
    pthread_mutex_t mu;
    mem_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t max_buckets;
    size_t count;
    size_t capacity;
    /* No entry expires before this (a lower bound, exact after a full
     * purge): when the table is full and now < min_expiry, a purge cannot
     * free anything, so a flood of tokens fails fast instead of sweeping. */
    int64_t min_expiry;
    unsigned char sipkey[16];
    /* Time wheel: slot (expires_at mod WHEEL_SLOTS) lists its entries.
     * wheel_at is the next second to sweep; wheel_pos, when not NULL, is
     * where the sweep of slot wheel_at stopped (a link inside that list). */
    mem_entry *wheel[WHEEL_SLOTS];
    int64_t wheel_at;
    mem_entry **wheel_pos;
} mem_replay;

/* ---- SipHash-2-4 (Aumasson & Bernstein), 64-bit output ---- */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                               \
    do {                                                                                       \
        v0 += v1;                                                                              \
        v1 = ROTL(v1, 13);                                                                     \
        v1 ^= v0;                                                                              \
        v0 = ROTL(v0, 32);                                                                     \
        v2 += v3;                                                                              \
        v3 = ROTL(v3, 16);                                                                     \
        v3 ^= v2;                                                                              \
        v0 += v3;                                                                              \
        v3 = ROTL(v3, 21);                                                                     \
        v3 ^= v0;                                                                              \
        v2 += v1;                                                                              \
        v1 = ROTL(v1, 17);                                                                     \
        v1 ^= v2;                                                                              \
        v2 = ROTL(v2, 32);                                                                     \
    } while (0)

static uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

typedef struct sip_state {
    uint64_t v0, v1, v2, v3;
    unsigned char tail[8];
    size_t tail_len, total;
} sip_state;

static void sip_init(sip_state *s, const unsigned char key[16])
{
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    s->v0 = UINT64_C(0x736f6d6570736575) ^ k0;
    s->v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
    s->v2 = UINT64_C(0x6c7967656e657261) ^ k0;
    s->v3 = UINT64_C(0x7465646279746573) ^ k1;
    s->tail_len = 0;
    s->total = 0;
}

static void sip_block(sip_state *s, uint64_t m)
{
    uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
    s->v0 = v0, s->v1 = v1, s->v2 = v2, s->v3 = v3;
}

static void sip_update(sip_state *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->total += n;
    while (n > 0) {
        size_t take = 8 - s->tail_len < n ? 8 - s->tail_len : n;
        memcpy(s->tail + s->tail_len, p, take);
        s->tail_len += take;
        p += take;
        n -= take;
        if (s->tail_len == 8) {
            sip_block(s, load64(s->tail));
            s->tail_len = 0;
        }
    }
}

static uint64_t sip_final(sip_state *s)
{
    uint64_t b = (uint64_t)(s->total & 0xff) << 56;
    for (size_t i = 0; i < s->tail_len; i++)
        b |= (uint64_t)s->tail[i] << (8 * i);
    sip_block(s, b);
    uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2 ^ 0xff, v3 = s->v3;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t entry_hash(const mem_replay *m, const unsigned char key_id[32], const char *jti,
                           size_t jti_len)
{
    sip_state s;
    sip_init(&s, m->sipkey);
    sip_update(&s, key_id, 32);
    sip_update(&s, jti, jti_len);
    return sip_final(&s);
}

/* ---- table ---- */

static size_t wheel_slot(int64_t expires_at)
{
    return (size_t)((uint64_t)expires_at % WHEEL_SLOTS);
}

/* Unlink e from its hash chain and free it (the caller unlinks it from the
 * wheel). Chains are short: the table grows to one bucket per entry. */
static void drop_entry(mem_replay *m, mem_entry *e)
{
    mem_entry **pp = &m->buckets[e->hash & (m->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    free(e);
    m->count--;
}

/* Advance the wheel towards `now`, freeing expired entries, visiting at most
 * PURGE_BUDGET entries or empty slots. */
static void wheel_advance(mem_replay *m, int64_t now)
{
    if (m->count == 0) { /* nothing to free: jump, whatever the gap */
        m->wheel_at = now;
        m->wheel_pos = NULL;
        return;
    }
    if (now - m->wheel_at >= WHEEL_SLOTS) { /* a whole turn passed: one is enough */
        m->wheel_at = now - WHEEL_SLOTS + 1;
        m->wheel_pos = NULL;
    }
    int budget = PURGE_BUDGET;
    while (m->wheel_at <= now && budget > 0) {
        mem_entry **pp = m->wheel_pos ? m->wheel_pos : &m->wheel[wheel_slot(m->wheel_at)];
        budget--;
        while (*pp && budget > 0) {
            mem_entry *e = *pp;
            budget--;
            if (e->expires_at <= now) {
                *pp = e->wnext;
                drop_entry(m, e);
            } else {
                pp = &e->wnext; /* a later turn's entry: stays */
            }
        }
        if (*pp) { /* out of budget inside this slot: resume here next time */
            m->wheel_pos = pp;
            return;
        }
        m->wheel_pos = NULL;
        m->wheel_at++;
    }
}

/* Free every expired entry (the table is full): a whole turn of the wheel. */
static void purge_all(mem_replay *m, int64_t now)
{
    int64_t min = INT64_MAX;
    for (size_t w = 0; w < WHEEL_SLOTS; w++) {
        mem_entry **pp = &m->wheel[w];
        while (*pp) {
            mem_entry *e = *pp;
            if (e->expires_at <= now) {
                *pp = e->wnext;
                drop_entry(m, e);
            } else {
                if (e->expires_at < min)
                    min = e->expires_at;
                pp = &e->wnext;
            }
        }
    }
    m->wheel_pos = NULL; /* the link it named may be gone */
    m->min_expiry = min;
}

static void grow(mem_replay *m)
{
    size_t nb = m->nbuckets * 2;
    mem_entry **nbk = calloc(nb, sizeof *nbk);
    if (!nbk)
        return; /* keep the smaller table: correct, only slower */
    for (size_t b = 0; b < m->nbuckets; b++) {
        mem_entry *e = m->buckets[b];
        while (e) {
            mem_entry *next = e->next;
            size_t i = (size_t)(e->hash & (nb - 1));
            e->next = nbk[i];
            nbk[i] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = nbk;
    m->nbuckets = nb;
}

static taap_code mem_check_and_insert(taap_replay *self, const unsigned char key_id[32],
                                      const char *jti, int64_t expires_at, int64_t now,
                                      taap_error *err)
{
    mem_replay *m = (mem_replay *)self;
    size_t jl = strlen(jti);
    uint64_t h = entry_hash(m, key_id, jti, jl);
    taap_code rc = TAAP_OK;

    pthread_mutex_lock(&m->mu);
    wheel_advance(m, now);
    /* An expired entry still in its chain (the wheel has not reached it)
     * is no longer a use of this jti: skipped, freed by the wheel. */
    for (mem_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next) {
        if (e->expires_at > now && e->hash == h && e->jti_len == jl &&
            memcmp(e->key_id, key_id, 32) == 0 && memcmp(e->jti, jti, jl) == 0) {
            rc = taap_fail(err, TAAP_E_REPLAY,
                           "jti already used with this key; a PoP token is valid for one request");
            goto unlock;
        }
    }
    if (m->count >= m->capacity) {
        if (now >= m->min_expiry)
            purge_all(m, now);
        if (m->count >= m->capacity) {
            rc = taap_fail(err, TAAP_E_REPLAY_STORE,
                           "replay cache is full (%zu unexpired entries); refusing the token "
                           "rather than risk a replay",
                           m->count);
            goto unlock;
        }
    }
    if (m->count + 1 > m->nbuckets && m->nbuckets < m->max_buckets)
        grow(m);
    mem_entry *e = malloc(sizeof *e + jl + 1);
    if (!e) {
        rc = taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache: out of memory");
        goto unlock;
    }
    e->expires_at = expires_at;
    e->hash = h;
    memcpy(e->key_id, key_id, 32);
    e->jti_len = jl;
    memcpy(e->jti, jti, jl + 1);
    size_t b = (size_t)(h & (m->nbuckets - 1));
    e->next = m->buckets[b];
    m->buckets[b] = e;
    size_t w = wheel_slot(expires_at);
    e->wnext = m->wheel[w];
    m->wheel[w] = e;
    m->count++;
    if (expires_at < m->min_expiry)
        m->min_expiry = expires_at;
unlock:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void mem_destroy(taap_replay *self)
{
    mem_replay *m = (mem_replay *)self;
    for (size_t b = 0; b < m->nbuckets; b++) {
        mem_entry *e = m->buckets[b];
        while (e) {
            mem_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    pthread_mutex_destroy(&m->mu);
    OPENSSL_cleanse(m->sipkey, sizeof m->sipkey);
    free(m);
}

size_t replay_memory_count(taap_replay *r)
{
    mem_replay *m = (mem_replay *)r;
    pthread_mutex_lock(&m->mu);
    size_t n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static const taap_replay_ops mem_ops = {mem_check_and_insert, mem_destroy};

taap_code taap_replay_memory_new(size_t capacity, taap_replay **out, taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_replay_memory_new: out must not be NULL");
    *out = NULL;
    if (capacity == 0)
        capacity = TAAP_REPLAY_DEFAULT_CAPACITY;
    mem_replay *m = calloc(1, sizeof *m);
    if (!m)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    /* Buckets grow with the load up to one per allowed entry (capped). */
    size_t maxb = 16;
    while (maxb < capacity && maxb < ((size_t)1 << 24))
        maxb <<= 1;
    m->max_buckets = maxb;
    m->nbuckets = maxb < 1024 ? maxb : 1024;
    m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
    if (!m->buckets) {
        free(m);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    if (RAND_bytes(m->sipkey, sizeof m->sipkey) != 1) {
        free(m->buckets);
        free(m);
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "replay cache: no random hash key");
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m->buckets);
        free(m);
        return taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache: cannot create a mutex");
    }
    m->capacity = capacity;
    m->min_expiry = INT64_MAX;
    m->base.ops = &mem_ops;
    *out = &m->base;
    return TAAP_OK;
}
