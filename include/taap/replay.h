/*
 * taap/replay.h — the replay cache of SPEC §2.11: remembers the jti of every
 * fully valid PoP token, per public key, until exp + leeway.
 *
 * A backend is a small vtable; libtaap ships an in-memory one (one process,
 * thread-safe); the optional libtaap-replay-sqlite a file shared by several
 * processes (taap/replay_sqlite.h). Every backend is bounded and fails closed.
 */
#ifndef TAAP_REPLAY_H
#define TAAP_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct taap_replay taap_replay;

/* Backend operations, for writing a new backend (one new file). */
typedef struct taap_replay_ops {
    /* Record (key_id, jti) until `expires_at` unless already present and not
     * expired at `now`. Return TAAP_OK when recorded, TAAP_E_REPLAY when
     * already there, TAAP_E_REPLAY_STORE when full or failing. Must be atomic
     * (check and insert in one step) and thread-safe. */
    taap_code (*check_and_insert)(taap_replay *self, const unsigned char key_id[32],
                                  const char *jti, int64_t expires_at, int64_t now,
                                  taap_error *err);
    void (*destroy)(taap_replay *self);
} taap_replay_ops;

struct taap_replay {
    const taap_replay_ops *ops;
};

/* Default bound: entries held at once. */
#define TAAP_REPLAY_DEFAULT_CAPACITY 1000000

/* taap_replay_memory_new — in-process cache (mutex-protected hash table).
 * capacity 0 → default. Free with taap_replay_free(). */
TAAP_API taap_code taap_replay_memory_new(size_t capacity, taap_replay **out, taap_error *err);

/* Dispatch to the backend. */
TAAP_API taap_code taap_replay_check_and_insert(taap_replay *r, const unsigned char key_id[32],
                                                const char *jti, int64_t expires_at, int64_t now,
                                                taap_error *err);

/* Destroy a cache. NULL-safe. */
TAAP_API void taap_replay_free(taap_replay *r);

#ifdef __cplusplus
}
#endif
#endif
