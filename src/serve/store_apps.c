/*
 * store_apps.c — accounts, applications, their keys and subscriptions in
 * SQLite. Every statement about them is here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sql.h"

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

int store_app_find(taap_server *s, const char *ref, int by_client_id, store_app *out)
{
    static const char sql_any[] =
        "SELECT a.id, a.account_id, a.name, c.name, a.client_id, a.secret_salt, a.secret_hash,"
        " a.secret_iter, a.created FROM apps a JOIN accounts c ON c.id = a.account_id"
        " WHERE a.name = ?1 OR a.client_id = ?1";
    static const char sql_cid[] =
        "SELECT a.id, a.account_id, a.name, c.name, a.client_id, a.secret_salt, a.secret_hash,"
        " a.secret_iter, a.created FROM apps a JOIN accounts c ON c.id = a.account_id"
        " WHERE a.client_id = ?1";
    sqlite3_stmt *st = store_stmt(s, by_client_id ? sql_cid : sql_any);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->account_id = sqlite3_column_int64(st, 1);
    copy_text(out->name, sizeof out->name, sqlite3_column_text(st, 2));
    copy_text(out->account, sizeof out->account, sqlite3_column_text(st, 3));
    copy_text(out->client_id, sizeof out->client_id, sqlite3_column_text(st, 4));
    if (sqlite3_column_bytes(st, 5) == 16)
        memcpy(out->salt, sqlite3_column_blob(st, 5), 16);
    if (sqlite3_column_bytes(st, 6) == 32)
        memcpy(out->hash, sqlite3_column_blob(st, 6), 32);
    out->iterations = sqlite3_column_int(st, 7);
    out->created = sqlite3_column_int64(st, 8);
    sqlite3_reset(st);
    return 1;
}

int store_app_auth(taap_server *s, const char *client_id, const char *fp_hex, const char *api,
                   store_app *out, int *key_registered, int *subscribed)
{
    static const char sql[] =
        "SELECT a.id, a.account_id, a.name, a.client_id,"
        " EXISTS(SELECT 1 FROM keys k WHERE k.app_id = a.id AND k.fingerprint = ?2),"
        " EXISTS(SELECT 1 FROM subscriptions u WHERE u.app_id = a.id AND u.api = ?3)"
        " FROM apps a WHERE a.client_id = ?1";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, client_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, fp_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, api, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        out->account_id = sqlite3_column_int64(st, 1);
        copy_text(out->name, sizeof out->name, sqlite3_column_text(st, 2));
        copy_text(out->client_id, sizeof out->client_id, sqlite3_column_text(st, 3));
        *key_registered = sqlite3_column_int(st, 4) != 0;
        *subscribed = sqlite3_column_int(st, 5) != 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void store_free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int store_app_keys(taap_server *s, int64_t app_id, char ***pems, size_t *n)
{
    static const char sql[] = "SELECT pem FROM keys WHERE app_id = ?1 ORDER BY id";
    *pems = NULL;
    *n = 0;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app_id);
    char **v = NULL;
    size_t cnt = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nv = realloc(v, (cnt + 1) * sizeof *nv);
        const unsigned char *t = sqlite3_column_text(st, 0);
        char *dup = t ? strdup((const char *)t) : NULL;
        if (!nv || !dup) {
            free(dup);
            store_free_strings(nv ? nv : v, cnt);
            sqlite3_reset(st);
            return -1;
        }
        v = nv;
        v[cnt++] = dup;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_free_strings(v, cnt);
        return -1;
    }
    *pems = v;
    *n = cnt;
    return 0;
}

json_t *store_app_subscriptions(taap_server *s, int64_t app_id)
{
    static const char sql[] = "SELECT api FROM subscriptions WHERE app_id = ?1 ORDER BY api";
    json_t *arr = json_array();
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st || !arr)
        return arr;
    sqlite3_bind_int64(st, 1, app_id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    return arr;
}

int64_t store_account_id(taap_server *s, const char *name, int create, int64_t now)
{
    static const char sel[] = "SELECT id FROM accounts WHERE name = ?1";
    static const char ins[] = "INSERT INTO accounts(name, created) VALUES (?1, ?2)";
    sqlite3_stmt *st = store_stmt(s, sel);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (id || !create)
        return id;
    st = store_stmt(s, ins);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int w = store_step_write(st);
    if (w == STORE_CONFLICT)
        return store_account_id(s, name, 0, now); /* created by a concurrent request */
    if (w != 0)
        return -1;
    return sqlite3_last_insert_rowid(store_db(s));
}

int store_app_insert(taap_server *s, store_app *a)
{
    static const char ins[] =
        "INSERT INTO apps(account_id, name, client_id, secret_salt, secret_hash, secret_iter,"
        " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *st = store_stmt(s, ins);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a->account_id);
    sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->client_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, a->salt, sizeof a->salt, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, a->hash, sizeof a->hash, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, a->iterations);
    sqlite3_bind_int64(st, 7, a->created);
    int w = store_step_write(st);
    if (w == 0)
        a->id = sqlite3_last_insert_rowid(store_db(s));
    return w;
}

int store_app_client_ids(taap_server *s, char ***ids, size_t *n)
{
    static const char sql[] = "SELECT client_id FROM apps ORDER BY id";
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    char **v = NULL;
    size_t cnt = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char **nv = realloc(v, (cnt + 1) * sizeof *nv);
        if (!nv)
            break;
        v = nv;
        v[cnt] = strdup((const char *)sqlite3_column_text(st, 0));
        if (v[cnt])
            cnt++;
    }
    sqlite3_reset(st);
    *ids = v;
    *n = cnt;
    return 0;
}

int store_app_delete(taap_server *s, int64_t app_id)
{
    static const char sql[] = "DELETE FROM apps WHERE id = ?1";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app_id);
    return store_step_write(st) == 0 ? 0 : -1;
}

int64_t store_app_key_count(taap_server *s, int64_t app_id)
{
    static const char kc[] = "SELECT count(*) FROM keys WHERE app_id = ?1";
    int64_t n = -1;
    sqlite3_stmt *st = store_stmt(s, kc);
    if (st) {
        sqlite3_bind_int64(st, 1, app_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return n;
}

int store_subscribe(taap_server *s, int64_t app_id, const char *api, int64_t now)
{
    static const char sql[] =
        "INSERT OR IGNORE INTO subscriptions(app_id, api, created) VALUES (?1, ?2, ?3)";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app_id);
    sqlite3_bind_text(st, 2, api, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    return store_step_write(st) == 0 ? 0 : -1;
}

/* Run a prepared DELETE; rows removed or -1. */
static int delete_rows(taap_server *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int changed = sqlite3_changes(store_db(s));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? changed : -1;
}

int store_unsubscribe(taap_server *s, int64_t app_id, const char *api)
{
    static const char sql[] = "DELETE FROM subscriptions WHERE app_id = ?1 AND api = ?2";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app_id);
    sqlite3_bind_text(st, 2, api, -1, SQLITE_STATIC);
    return delete_rows(s, st);
}

int store_key_insert(taap_server *s, int64_t app_id, const char *key_id, const char *fp_hex,
                     unsigned bits, const char *pem, int64_t now)
{
    static const char ins[] =
        "INSERT INTO keys(app_id, key_id, fingerprint, bits, pem, created)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *st = store_stmt(s, ins);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app_id);
    sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, fp_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, (int)bits);
    sqlite3_bind_text(st, 5, pem, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    return store_step_write(st);
}

json_t *store_keys_json(taap_server *s, int64_t app_id)
{
    static const char sql[] =
        "SELECT key_id, bits, fingerprint, created FROM keys WHERE app_id = ?1 ORDER BY id";
    sqlite3_stmt *st = store_stmt(s, sql);
    json_t *arr = json_array();
    if (!st || !arr) {
        json_decref(arr);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, app_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char created[32];
        srv_time_str(sqlite3_column_int64(st, 3), created);
        json_array_append_new(
            arr, json_pack("{s:s, s:I, s:s, s:s}", "keyId", (const char *)sqlite3_column_text(st, 0),
                           "bits", (json_int_t)sqlite3_column_int(st, 1), "fingerprint",
                           (const char *)sqlite3_column_text(st, 2), "createdAt", created));
    }
    sqlite3_reset(st);
    return arr;
}

int store_key_delete(taap_server *s, int64_t app_id, const char *key_id)
{
    static const char sql[] = "DELETE FROM keys WHERE app_id = ?1 AND key_id = ?2";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app_id);
    sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
    return delete_rows(s, st);
}
