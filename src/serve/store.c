/*
 * store.c — the emulator's state in SQLite (WAL): schema and migrations via
 * PRAGMA user_version, one connection per thread (SQLite connections are
 * not meant to be shared by concurrent threads; WAL lets readers run beside
 * the one writer), and a per-connection cache of prepared statements keyed
 * by the SQL literal's address.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve_state.h"
#include "store_sql.h"
#include "util.h"

#define STMT_CACHE 64

typedef struct store_conn store_conn;

struct store_conn {
    sqlite3 *db;
    size_t n;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_CACHE];
};

static const char *const migrations[] = {
    /* 0 → 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;"
    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL) STRICT;"
    "CREATE TABLE apps(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account_id INTEGER NOT NULL REFERENCES accounts(id),"
    "  name TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL UNIQUE,"
    "  secret_salt BLOB NOT NULL, secret_hash BLOB NOT NULL, secret_iter INTEGER NOT NULL,"
    "  created INTEGER NOT NULL) STRICT;"
    "CREATE TABLE keys(id INTEGER PRIMARY KEY,"
    "  app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    "  key_id TEXT NOT NULL, fingerprint TEXT NOT NULL, bits INTEGER NOT NULL,"
    "  pem TEXT NOT NULL, created INTEGER NOT NULL, UNIQUE(app_id, key_id)) STRICT;"
    "CREATE TABLE subscriptions(app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    "  api TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(app_id, api)) STRICT;"
    "CREATE TABLE devices(iccid TEXT PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES accounts(id),"
    "  imei TEXT NOT NULL UNIQUE, imsi TEXT NOT NULL UNIQUE, msisdn TEXT NOT NULL UNIQUE,"
    "  status TEXT NOT NULL, rate_plan TEXT NOT NULL, data_usage INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL, created INTEGER NOT NULL) STRICT;"
    "CREATE INDEX devices_account ON devices(account_id, iccid);",
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

static sqlite3 *open_conn(const char *path, taap_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_NOFOLLOW,
                             NULL);
    if (rc != SQLITE_OK) {
        taap_fail(err, TAAP_E_STORE, "cannot open database %s: %s", path,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        taap_fail(err, TAAP_E_STORE, "database %s: %s", path, msg ? msg : "setup failed");
        sqlite3_free(msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static store_conn *register_conn(taap_server *s, sqlite3 *db)
{
    store_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->db = db;
    pthread_mutex_lock(&s->db_mu);
    if (s->n_conns == s->cap_conns) {
        size_t cap = s->cap_conns ? s->cap_conns * 2 : 16;
        store_conn **v = realloc(s->conns, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&s->db_mu);
            free(c);
            return NULL;
        }
        s->conns = v;
        s->cap_conns = cap;
    }
    s->conns[s->n_conns++] = c;
    pthread_mutex_unlock(&s->db_mu);
    return c;
}

static store_conn *this_conn(taap_server *s)
{
    store_conn *c = pthread_getspecific(s->db_key);
    if (c)
        return c;
    sqlite3 *db = open_conn(s->db_path, NULL);
    if (!db)
        return NULL;
    c = register_conn(s, db);
    if (!c) {
        sqlite3_close(db);
        return NULL;
    }
    pthread_setspecific(s->db_key, c);
    return c;
}

sqlite3 *store_db(taap_server *s)
{
    store_conn *c = this_conn(s);
    return c ? c->db : NULL;
}

sqlite3_stmt *store_stmt(taap_server *s, const char *sql)
{
    store_conn *c = this_conn(s);
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].st);
            sqlite3_clear_bindings(c->cache[i].st);
            return c->cache[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        return NULL;
    if (c->n < STMT_CACHE) {
        c->cache[c->n].sql = sql;
        c->cache[c->n].st = st;
        c->n++;
    }
    /* A full cache would leak the statement; 64 slots hold every literal the
     * emulator has, so reaching this is a programming error. */
    return st;
}

const char *store_errmsg(taap_server *s)
{
    sqlite3 *db = store_db(s);
    return db ? sqlite3_errmsg(db) : "no database connection";
}

int store_ping(taap_server *s)
{
    sqlite3_stmt *st = store_stmt(s, "SELECT 1");
    int ok = st && sqlite3_step(st) == SQLITE_ROW;
    if (st)
        sqlite3_reset(st);
    return ok;
}

int store_meta_get(taap_server *s, const char *key, char **val)
{
    static const char sql[] = "SELECT value FROM meta WHERE key = ?1";
    sqlite3_stmt *st = store_stmt(s, sql);
    *val = NULL;
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        *val = malloc((size_t)n + 1);
        if (*val) {
            if (n)
                memcpy(*val, b, (size_t)n);
            (*val)[n] = '\0';
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_meta_set(taap_server *s, const char *key, const char *val)
{
    static const char sql[] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, val, (int)strlen(val), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Create the database file 0600 before SQLite does (SQLite uses the main
 * file's mode for -wal and -shm), refusing a symlink. */
static taap_code precreate(const char *path, taap_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return taap_fail(err, TAAP_E_STORE, "cannot open database %s: %s", path, strerror(errno));
    }
    close(fd);
    return TAAP_OK;
}

taap_code store_open(taap_server *s, taap_error *err)
{
    if (pthread_key_create(&s->db_key, NULL) != 0) {
        return taap_fail(err, TAAP_E_STORE, "pthread_key_create failed");
    }
    s->db_key_ok = 1;
    taap_code rc = precreate(s->db_path, err);
    if (rc != TAAP_OK)
        return rc;
    sqlite3 *db = open_conn(s->db_path, err);
    if (!db)
        return TAAP_E_STORE;
    store_conn *c = register_conn(s, db);
    if (!c) {
        sqlite3_close(db);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    pthread_setspecific(s->db_key, c);

    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > (int)N_MIGRATIONS) {
        return taap_fail(err, TAAP_E_STORE,
                         "database %s has schema version %d, newer than this taap (%d)",
                         s->db_path, version, (int)N_MIGRATIONS);
    }
    for (int v = version; v < (int)N_MIGRATIONS; v++) {
        char *msg = NULL;
        char setv[64];
        snprintf(setv, sizeof setv, "PRAGMA user_version=%d;", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, setv, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            taap_fail(err, TAAP_E_STORE, "database %s: migration to v%d failed: %s", s->db_path,
                      v + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return TAAP_E_STORE;
        }
    }
    return TAAP_OK;
}

void store_close_all(taap_server *s)
{
    for (size_t i = 0; i < s->n_conns; i++) {
        store_conn *c = s->conns[i];
        for (size_t j = 0; j < c->n; j++)
            sqlite3_finalize(c->cache[j].st);
        sqlite3_close(c->db);
        free(c);
    }
    free(s->conns);
    s->conns = NULL;
    s->n_conns = s->cap_conns = 0;
    if (s->db_key_ok) {
        pthread_key_delete(s->db_key);
        s->db_key_ok = 0;
    }
}

int store_step_write(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_CONFLICT : -1;
}
