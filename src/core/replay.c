/* replay.c — the replay cache front (SPEC §2.11): argument checks and
 * dispatch to a backend (replay_memory.c, replay_sqlite.c). */
#include <string.h>

#include "util.h"
#include "taap/replay.h"

taap_code taap_replay_check_and_insert(taap_replay *r, const unsigned char key_id[32],
                                       const char *jti, int64_t expires_at, int64_t now,
                                       taap_error *err)
{
    if (!r || !r->ops || !r->ops->check_and_insert)
        return taap_fail(err, TAAP_E_REPLAY_STORE, "no replay cache configured");
    if (!key_id || !jti || !*jti)
        return taap_fail(err, TAAP_E_USAGE, "replay check needs a key id and a non-empty jti");
    if (strlen(jti) > 256)
        return taap_fail(err, TAAP_E_USAGE, "replay check: jti longer than 256 bytes");
    return r->ops->check_and_insert(r, key_id, jti, expires_at, now, err);
}

void taap_replay_free(taap_replay *r)
{
    if (r && r->ops && r->ops->destroy)
        r->ops->destroy(r);
}
