/*
 * taap/replay_sqlite.h — the replay cache in a SQLite file, shared safely by
 * several processes on one machine. Library: libtaap-replay-sqlite
 * (pkg-config taap-replay-sqlite).
 */
#ifndef TAAP_REPLAY_SQLITE_H
#define TAAP_REPLAY_SQLITE_H

#include "taap/replay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* taap_replay_sqlite_new — persistent cache in the SQLite file `path`
 * (created if missing; WAL mode; several processes may share it).
 * capacity 0 → default. */
TAAP_API taap_code taap_replay_sqlite_new(const char *path, size_t capacity, taap_replay **out,
                                          taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
