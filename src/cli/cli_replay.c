/* cli_replay.c — open a replay cache from a command-line spec (cli_replay.h). */
#include <string.h>

#include "cli.h"
#include "cli_replay.h"
#include "taap/replay_sqlite.h"
#ifdef TAAP_HAVE_REDIS
#include "taap/replay_redis.h"
#endif

static int is_redis(const char *spec)
{
    return strncmp(spec, "redis://", 8) == 0 || strncmp(spec, "unix:", 5) == 0;
}

int cli_replay_open(const char *spec, taap_replay **out)
{
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc;
    *out = NULL;
    if (strcmp(spec, "memory") == 0) {
        rc = taap_replay_memory_new(0, out, &err);
    } else if (is_redis(spec)) {
        if (strchr(spec, '@')) {
            cli_errorf("a Redis password on the command line would show in ps and the shell "
                       "history; use a Redis reachable without AUTH (or the nginx module, "
                       "whose configuration file may hold one)");
            return (int)TAAP_E_USAGE;
        }
#ifdef TAAP_HAVE_REDIS
        rc = taap_replay_redis_new(spec, 0, out, &err);
#else
        cli_errorf("this taap was built without Redis support (hiredis was not found); "
                   "install libhiredis-dev and rebuild");
        return (int)TAAP_E_USAGE;
#endif
    } else {
        rc = taap_replay_sqlite_new(spec, 0, out, &err);
    }
    if (rc != TAAP_OK) {
        cli_errorf("%s: %s", taap_code_name(err.code), err.message);
        return (int)err.code;
    }
    return 0;
}
