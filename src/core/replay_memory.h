/*
 * replay_memory.h — internal view of the in-memory replay cache
 * (replay_memory.c) for tests and benchmarks: how many entries it holds,
 * so the time-wheel reclaim can be observed with an injected clock.
 */
#ifndef TAAP_REPLAY_MEMORY_H
#define TAAP_REPLAY_MEMORY_H

#include <stddef.h>
#include "taap/replay.h"

/* Entries currently held (live, plus expired ones the wheel has not yet
 * reached). r must come from taap_replay_memory_new(). */
size_t replay_memory_count(taap_replay *r);

#endif
