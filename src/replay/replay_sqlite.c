/* replay_sqlite.c — persistent replay cache (SPEC §2.11) in a SQLite file
 * that several processes and threads may share: WAL, a busy timeout, and
 * each check-and-insert in one BEGIN IMMEDIATE transaction, so of two
 * racing uses of a jti exactly one wins. Bounded by a live-entry count kept
 * in the same transaction (a count(*) per request would be O(n)). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"
#include "taap/replay_sqlite.h"

#define BUSY_TIMEOUT_MS 5000

typedef struct sql_replay {
    taap_replay base;
    pthread_mutex_t mu; /* one connection, used by one thread at a time */
    sqlite3 *db;
    pid_t pid; /* a connection must not cross fork() */
    size_t capacity;
    sqlite3_stmt *begin, *commit, *rollback, *purge, *dec, *get_n, *exists, *insert, *inc;
} sql_replay;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS taap_replay("
    " key_id BLOB NOT NULL, jti TEXT NOT NULL, expires_at INTEGER NOT NULL,"
    " PRIMARY KEY(key_id, jti)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS taap_replay_expiry ON taap_replay(expires_at);"
    "CREATE TABLE IF NOT EXISTS taap_replay_meta("
    " id INTEGER PRIMARY KEY CHECK (id = 1), live INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO taap_replay_meta(id, live)"
    " VALUES (1, (SELECT count(*) FROM taap_replay));";

static taap_code db_fail(sql_replay *s, taap_error *err, const char *what)
{
    int ec = sqlite3_errcode(s->db);
    if (ec == SQLITE_BUSY || ec == SQLITE_LOCKED)
        return taap_fail(err, TAAP_E_REPLAY_STORE,
                         "replay cache busy for more than %d ms (%s); refusing the token",
                         BUSY_TIMEOUT_MS, what);
    return taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache: %s: %s", what,
                     sqlite3_errmsg(s->db));
}

/* Run a prepared statement to completion; SQLITE_DONE/ROW → 0. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static taap_code sql_check_and_insert(taap_replay *self, const unsigned char key_id[32],
                                      const char *jti, int64_t expires_at, int64_t now,
                                      taap_error *err)
{
    sql_replay *s = (sql_replay *)self;
    if (getpid() != s->pid)
        return taap_fail(err, TAAP_E_REPLAY_STORE,
                         "replay cache opened in another process (before fork()); open a new one");
    taap_code rc = TAAP_OK;
    pthread_mutex_lock(&s->mu);
    if (step_done(s->begin) != 0) {
        rc = db_fail(s, err, "begin");
        goto unlock;
    }
    /* Expired entries go first: an expired jti is free again (its token
     * is refused as expired anyway). */
    sqlite3_bind_int64(s->purge, 1, now);
    if (step_done(s->purge) != 0) {
        rc = db_fail(s, err, "purge");
        goto rollback;
    }
    int purged = sqlite3_changes(s->db);
    if (purged > 0) {
        sqlite3_bind_int64(s->dec, 1, purged);
        if (step_done(s->dec) != 0) {
            rc = db_fail(s, err, "count");
            goto rollback;
        }
    }
    int64_t live = 0;
    if (sqlite3_step(s->get_n) == SQLITE_ROW)
        live = sqlite3_column_int64(s->get_n, 0);
    sqlite3_reset(s->get_n);
    if (live >= (int64_t)s->capacity) {
        /* Full: a replay is still reported as one; anything else fails closed. */
        sqlite3_bind_blob(s->exists, 1, key_id, 32, SQLITE_STATIC);
        sqlite3_bind_text(s->exists, 2, jti, -1, SQLITE_STATIC);
        int ex = sqlite3_step(s->exists);
        sqlite3_reset(s->exists);
        sqlite3_clear_bindings(s->exists);
        if (ex == SQLITE_ROW)
            rc = taap_fail(err, TAAP_E_REPLAY,
                           "jti already used with this key; a PoP token is valid for one request");
        else
            rc = taap_fail(err, TAAP_E_REPLAY_STORE,
                           "replay cache is full (%lld unexpired entries); refusing the token "
                           "rather than risk a replay",
                           (long long)live);
        goto rollback;
    }
    sqlite3_bind_blob(s->insert, 1, key_id, 32, SQLITE_STATIC);
    sqlite3_bind_text(s->insert, 2, jti, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->insert, 3, expires_at);
    int ins = step_done(s->insert);
    sqlite3_clear_bindings(s->insert);
    if (ins != 0) {
        rc = db_fail(s, err, "insert");
        goto rollback;
    }
    if (sqlite3_changes(s->db) == 0) {
        rc = taap_fail(err, TAAP_E_REPLAY,
                       "jti already used with this key; a PoP token is valid for one request");
        goto rollback;
    }
    if (step_done(s->inc) != 0) {
        rc = db_fail(s, err, "count");
        goto rollback;
    }
    if (step_done(s->commit) != 0) {
        rc = db_fail(s, err, "commit");
        goto rollback;
    }
    goto unlock;
rollback:
    /* Keeps a failed purge/insert from half-applying; ignore its own error. */
    step_done(s->rollback);
unlock:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void sql_destroy(taap_replay *self)
{
    sql_replay *s = (sql_replay *)self;
    sqlite3_stmt *all[] = {s->begin, s->commit, s->rollback, s->purge, s->dec,
                           s->get_n, s->exists, s->insert, s->inc};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const taap_replay_ops sql_ops = {sql_check_and_insert, sql_destroy};

taap_code taap_replay_sqlite_new(const char *path, size_t capacity, taap_replay **out,
                                 taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_replay_sqlite_new: out must not be NULL");
    *out = NULL;
    if (!path || !*path)
        return taap_fail(err, TAAP_E_USAGE, "replay cache: no database file given");
    sql_replay *s = calloc(1, sizeof *s);
    if (!s)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    s->capacity = capacity ? capacity : TAAP_REPLAY_DEFAULT_CAPACITY;
    s->pid = getpid();
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache: cannot create a mutex");
    }
    taap_code rc = TAAP_OK;
    int src = sqlite3_open_v2(path, &s->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (src != SQLITE_OK) {
        rc = taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    char *emsg = NULL;
    /* WAL lets readers and the one writer proceed together across
     * processes; NORMAL sync is durable across a process crash. */
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     &emsg) != SQLITE_OK ||
        sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &emsg) != SQLITE_OK) {
        rc = taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache %s: %s", path,
                       emsg ? emsg : sqlite3_errmsg(s->db));
        sqlite3_free(emsg);
        goto fail;
    }
    if (sqlite3_exec(s->db, schema, NULL, NULL, &emsg) != SQLITE_OK ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK) {
        rc = taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache %s: not a usable cache (%s)", path,
                       emsg ? emsg : sqlite3_errmsg(s->db));
        sqlite3_free(emsg);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&s->begin, "BEGIN IMMEDIATE"},
        {&s->commit, "COMMIT"},
        {&s->rollback, "ROLLBACK"},
        {&s->purge, "DELETE FROM taap_replay WHERE expires_at <= ?1"},
        {&s->dec, "UPDATE taap_replay_meta SET live = max(live - ?1, 0) WHERE id = 1"},
        {&s->get_n, "SELECT live FROM taap_replay_meta WHERE id = 1"},
        {&s->exists, "SELECT 1 FROM taap_replay WHERE key_id = ?1 AND jti = ?2"},
        {&s->insert, "INSERT INTO taap_replay(key_id, jti, expires_at) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT(key_id, jti) DO NOTHING"},
        {&s->inc, "UPDATE taap_replay_meta SET live = live + 1 WHERE id = 1"},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        if (sqlite3_prepare_v2(s->db, stmts[i].sql, -1, stmts[i].st, NULL) != SQLITE_OK) {
            rc = taap_fail(err, TAAP_E_REPLAY_STORE, "replay cache %s: %s", path,
                           sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    s->base.ops = &sql_ops;
    *out = &s->base;
    return TAAP_OK;
fail:
    sql_destroy(&s->base);
    return rc;
}
