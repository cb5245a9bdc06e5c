/*
 * cli_replay.h — the one way the commands open a replay cache from a user's
 * spec (`taap verify --replay-cache`, `taap serve --replay`).
 */
#ifndef TAAP_CLI_REPLAY_H
#define TAAP_CLI_REPLAY_H

#include "taap/replay.h"

/* The spec's forms, for help texts. */
#define CLI_REPLAY_FORMS "memory, redis://HOST[:PORT][/DB], unix:PATH or a SQLite FILE"

/*
 * cli_replay_open — "memory" → an in-process cache; "redis://…" or
 * "unix:…" → Redis (shared by every process and machine using that server);
 * anything else → a SQLite file (shared on one machine). A Redis URL with a
 * password is refused: it would show in `ps` and the shell history.
 * Prints the error (cli_errorf) and returns the taap_code to exit with, or 0.
 */
int cli_replay_open(const char *spec, taap_replay **out);

#endif
