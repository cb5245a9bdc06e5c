/*
 * store.h — the emulator's state behind store_* functions. Every SQL
 * statement lives in store.c (connections, schema, meta), store_apps.c
 * (accounts, applications, keys, subscriptions) or store_devices.c; no
 * other file sees SQLite.
 *
 * Conventions: functions that look something up return 1 found, 0 not
 * found, -1 database error; functions that change something return 0 (or a
 * count of changed rows) and -1 on error, and STORE_CONFLICT when a
 * uniqueness rule refused the row. store_errmsg() says what the last error
 * on this thread's connection was.
 */
#ifndef TAAP_SERVE_STORE_H
#define TAAP_SERVE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "taap/error.h"
#include "taap_serve.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_CONFLICT (-2)

/* ---- store.c: connections, schema, meta ---------------------------------- */

taap_code store_open(taap_server *s, taap_error *err);
void store_close_all(taap_server *s);
/* The last SQLite error message on this thread's connection. */
const char *store_errmsg(taap_server *s);
/* 1 when the database answers a trivial query. */
int store_ping(taap_server *s);
/* meta(key → value): 1 found (*val malloc'd, NUL-terminated), 0, -1. */
int store_meta_get(taap_server *s, const char *key, char **val);
int store_meta_set(taap_server *s, const char *key, const char *val);

/* ---- store_apps.c ----------------------------------------------------------- */

typedef struct store_app {
    int64_t id;
    int64_t account_id;
    char name[130];
    char account[130];
    char client_id[72];
    unsigned char salt[16];
    unsigned char hash[32];
    int iterations;
    int64_t created;
} store_app;

/* Account id by name, created (at `now`) when `create`. 0 absent, -1 error. */
int64_t store_account_id(taap_server *s, const char *name, int create, int64_t now);

/* Find an app by name or client id (`by_client_id` restricts to client id). */
int store_app_find(taap_server *s, const char *ref, int by_client_id, store_app *out);
/* Insert every field but id; sets a->id. 0, STORE_CONFLICT (name or client
 * id taken) or -1. */
int store_app_insert(taap_server *s, store_app *a);
/* Client ids of every app in creation order (malloc'd strings; free with
 * store_free_strings). 0 or -1. */
int store_app_client_ids(taap_server *s, char ***ids, size_t *n);
int store_app_delete(taap_server *s, int64_t app_id);
/* Number of registered keys, or -1. */
int64_t store_app_key_count(taap_server *s, int64_t app_id);
/* Everything a resource call needs to know about its application in one
 * read (one SQLite read transaction instead of three): the app with this
 * client id (id, account_id, name, client_id filled), whether a key with
 * fingerprint fp_hex is registered for it, whether it is subscribed to `api`. */
int store_app_auth(taap_server *s, const char *client_id, const char *fp_hex, const char *api,
                   store_app *out, int *key_registered, int *subscribed);

/* Subscriptions as a JSON array of strings (new reference). */
json_t *store_app_subscriptions(taap_server *s, int64_t app_id);
int store_subscribe(taap_server *s, int64_t app_id, const char *api, int64_t now);
/* Rows removed (0 = was not subscribed), or -1. */
int store_unsubscribe(taap_server *s, int64_t app_id, const char *api);

/* Registered keys of an app, as SPKI PEM strings (malloc'd array of malloc'd
 * strings, *n entries). Free with store_free_strings(). 0 or -1. */
int store_app_keys(taap_server *s, int64_t app_id, char ***pems, size_t *n);
void store_free_strings(char **v, size_t n);
/* 0, STORE_CONFLICT (already registered) or -1. */
int store_key_insert(taap_server *s, int64_t app_id, const char *key_id, const char *fp_hex,
                     unsigned bits, const char *pem, int64_t now);
/* [{"keyId","bits","fingerprint","createdAt"}] (new reference) or NULL. */
json_t *store_keys_json(taap_server *s, int64_t app_id);
/* Rows removed, or -1. */
int store_key_delete(taap_server *s, int64_t app_id, const char *key_id);

/* ---- store_devices.c ---------------------------------------------------------- */

typedef struct store_device_ids {
    const char *iccid, *imei, *imsi, *msisdn;
    int64_t data_usage;
} store_device_ids;

/* 0, STORE_CONFLICT (an identifier collided) or -1. Status ACTIVE. */
int store_device_insert(taap_server *s, int64_t account_id, const store_device_ids *d,
                        int64_t now);
/* One device as JSON (with "account" when with_account); *account_id gets
 * its owner. 1, 0, -1. */
int store_device_get(taap_server *s, const char *iccid, int with_account, json_t **out,
                     int64_t *account_id);
/* A page of an account's devices (status NULL = any) and how many there are
 * in all. 0 or -1. */
int store_device_page(taap_server *s, int64_t account_id, const char *status, long limit,
                      long offset, json_t **devices, int64_t *total);
/* Every device, or one account's (by name), with "account". New array or NULL. */
json_t *store_device_list(taap_server *s, const char *account);
/* Change status and/or rate plan (NULL = keep). 0 or -1. */
int store_device_update(taap_server *s, const char *iccid, const char *status,
                        const char *rate_plan);

#endif
