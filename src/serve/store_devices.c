/*
 * store_devices.c — developer-kit devices in SQLite. Every statement about
 * devices is here; rows leave as JSON in the Connectivity API's shape.
 */
#include <stdio.h>
#include <string.h>

#include "store_sql.h"

#define DEVICE_COLUMNS \
    "d.iccid, d.imei, d.imsi, d.msisdn, d.status, d.rate_plan, d.data_usage, d.last_seen, " \
    "d.account_id, (SELECT name FROM accounts a WHERE a.id = d.account_id)"

/* Device row (selected with DEVICE_COLUMNS) → JSON (new reference). */
static json_t *device_json(sqlite3_stmt *st, int with_account)
{
    char seen[32];
    srv_time_str(sqlite3_column_int64(st, 7), seen);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "iccid",
                          (const char *)sqlite3_column_text(st, 0), "imei",
                          (const char *)sqlite3_column_text(st, 1), "imsi",
                          (const char *)sqlite3_column_text(st, 2), "msisdn",
                          (const char *)sqlite3_column_text(st, 3), "status",
                          (const char *)sqlite3_column_text(st, 4), "ratePlan",
                          (const char *)sqlite3_column_text(st, 5), "dataUsage",
                          (json_int_t)sqlite3_column_int64(st, 6), "lastSeen", seen);
    if (j && with_account && sqlite3_column_text(st, 9))
        json_object_set_new(j, "account", json_string((const char *)sqlite3_column_text(st, 9)));
    return j;
}

/* Every remaining row of a bound statement, as a JSON array; reset after. */
static json_t *device_rows(sqlite3_stmt *st, int with_account)
{
    json_t *arr = json_array();
    while (arr && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, device_json(st, with_account));
    sqlite3_reset(st);
    return arr;
}

int store_device_insert(taap_server *s, int64_t account_id, const store_device_ids *d,
                        int64_t now)
{
    static const char ins[] =
        "INSERT INTO devices(iccid, account_id, imei, imsi, msisdn, status, rate_plan,"
        " data_usage, last_seen, created) VALUES (?1, ?2, ?3, ?4, ?5, 'ACTIVE',"
        " 'IoT Developer Kit 1GB', ?6, ?7, ?7)";
    sqlite3_stmt *st = store_stmt(s, ins);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, d->iccid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, account_id);
    sqlite3_bind_text(st, 3, d->imei, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, d->imsi, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, d->msisdn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, d->data_usage);
    sqlite3_bind_int64(st, 7, now);
    return store_step_write(st);
}

int store_device_get(taap_server *s, const char *iccid, int with_account, json_t **out,
                     int64_t *account_id)
{
    static const char sql[] = "SELECT " DEVICE_COLUMNS " FROM devices d WHERE d.iccid = ?1";
    *out = NULL;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, iccid, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = device_json(st, with_account);
        if (account_id)
            *account_id = sqlite3_column_int64(st, 8);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return *out ? 1 : -1;
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_device_page(taap_server *s, int64_t account_id, const char *status, long limit,
                      long offset, json_t **devices, int64_t *total)
{
    static const char sql_all[] =
        "SELECT " DEVICE_COLUMNS " FROM devices d WHERE d.account_id = ?1"
        " ORDER BY d.iccid LIMIT ?2 OFFSET ?3";
    static const char sql_status[] =
        "SELECT " DEVICE_COLUMNS " FROM devices d WHERE d.account_id = ?1 AND d.status = ?4"
        " ORDER BY d.iccid LIMIT ?2 OFFSET ?3";
    static const char sql_count[] =
        "SELECT count(*) FROM devices WHERE account_id = ?1 AND (?2 IS NULL OR status = ?2)";
    *devices = NULL;
    *total = 0;
    sqlite3_stmt *st = store_stmt(s, status ? sql_status : sql_all);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, account_id);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    if (status)
        sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
    *devices = device_rows(st, 0);
    if (!*devices)
        return -1;
    sqlite3_stmt *ct = store_stmt(s, sql_count);
    if (ct) {
        sqlite3_bind_int64(ct, 1, account_id);
        if (status)
            sqlite3_bind_text(ct, 2, status, -1, SQLITE_STATIC);
        if (sqlite3_step(ct) == SQLITE_ROW)
            *total = sqlite3_column_int64(ct, 0);
        sqlite3_reset(ct);
    }
    return 0;
}

json_t *store_device_list(taap_server *s, const char *account)
{
    static const char all[] = "SELECT " DEVICE_COLUMNS " FROM devices d ORDER BY d.iccid";
    static const char one[] = "SELECT " DEVICE_COLUMNS
                              " FROM devices d JOIN accounts a ON a.id = d.account_id"
                              " WHERE a.name = ?1 ORDER BY d.iccid";
    sqlite3_stmt *st = store_stmt(s, account ? one : all);
    if (!st)
        return NULL;
    if (account)
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    return device_rows(st, 1);
}

int store_device_update(taap_server *s, const char *iccid, const char *status,
                        const char *rate_plan)
{
    static const char sql[] =
        "UPDATE devices SET status = coalesce(?2, status), rate_plan = coalesce(?3, rate_plan)"
        " WHERE iccid = ?1";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, iccid, -1, SQLITE_TRANSIENT);
    if (status)
        sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    if (rate_plan)
        sqlite3_bind_text(st, 3, rate_plan, -1, SQLITE_TRANSIENT);
    return store_step_write(st) == 0 ? 0 : -1;
}
