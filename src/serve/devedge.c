/*
 * devedge.c — DevEdge-like management: applications (client id + a secret
 * shown once and stored as a salted PBKDF2-HMAC-SHA256 hash), public-key
 * registration with the Quick Start's advice for the usual paste mistakes,
 * API subscriptions, developer-kit activation (IMEI, ICCID, IMSI, MSISDN).
 * Each operation is a C function (taap_serve.h) that the JSON API under
 * /devedge/v1 and `taap serve --init` share.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "serve_internal.h"

static taap_code fail(taap_error *err, taap_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static taap_code fail(taap_error *err, taap_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static taap_code db_fail(taap_server *s, taap_error *err, const char *what)
{
    sqlite3 *db = store_db(s);
    return fail(err, TAAP_E_STORE, "database error while %s: %s", what,
                db ? sqlite3_errmsg(db) : "no connection");
}

static taap_code emit(json_t *j, char **json, taap_error *err)
{
    if (!j)
        return fail(err, TAAP_E_NOMEM, "out of memory");
    if (json) {
        *json = json_dumps(j, JSON_COMPACT);
        if (!*json) {
            json_decref(j);
            return fail(err, TAAP_E_NOMEM, "out of memory");
        }
    }
    json_decref(j);
    return TAAP_OK;
}

/* Names: 1..64 of [A-Za-z0-9._-], so they are safe in paths and logs. */
static int name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len < 1 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static taap_code find_app(taap_server *s, const char *ref, store_app *app, taap_error *err)
{
    if (!ref || !*ref || strlen(ref) > 128)
        return fail(err, TAAP_E_NOT_FOUND, "no such application");
    int f = store_app_find(s, ref, 0, app);
    if (f < 0)
        return db_fail(s, err, "looking up the application");
    if (f == 0)
        return fail(err, TAAP_E_NOT_FOUND, "no application named '%s' (or with that client id)",
                    ref);
    return TAAP_OK;
}

/* Account id by name, created when `create`. 0 when absent, -1 on error. */
static int64_t account_id(taap_server *s, const char *name, int create)
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
    sqlite3_bind_int64(st, 2, srv_now(s));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT || rc == SQLITE_CONSTRAINT_UNIQUE)
        return account_id(s, name, 0); /* created by a concurrent request */
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite3_last_insert_rowid(store_db(s));
}

static json_t *app_json(taap_server *s, const store_app *a, const char *secret)
{
    static const char kc[] = "SELECT count(*) FROM keys WHERE app_id = ?1";
    json_int_t nkeys = 0;
    sqlite3_stmt *st = store_stmt(s, kc);
    if (st) {
        sqlite3_bind_int64(st, 1, a->id);
        if (sqlite3_step(st) == SQLITE_ROW)
            nkeys = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    char created[32];
    srv_time_str(a->created, created);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "name", a->name, "account", a->account,
                          "clientId", a->client_id, "subscriptions",
                          store_app_subscriptions(s, a->id), "keys", nkeys, "createdAt", created);
    if (j && secret)
        json_object_set_new(j, "clientSecret", json_string(secret));
    return j;
}

taap_code taap_serve_app_create(taap_server *s, const char *name, const char *account,
                                char **json, taap_error *err)
{
    static const char ins[] =
        "INSERT INTO apps(account_id, name, client_id, secret_salt, secret_hash, secret_iter,"
        " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    if (json)
        *json = NULL;
    if (!account)
        account = "default";
    if (!name_ok(name))
        return fail(err, TAAP_E_USAGE,
                    "application name must be 1..64 characters of A-Z a-z 0-9 . _ -");
    if (!name_ok(account))
        return fail(err, TAAP_E_USAGE, "account name must be 1..64 characters of A-Z a-z 0-9 . _ -");
    store_app probe = {0};
    int f = store_app_find(s, name, 0, &probe);
    if (f < 0)
        return db_fail(s, err, "looking up the application");
    if (f == 1)
        return fail(err, TAAP_E_USAGE, "an application named '%s' already exists", name);
    int64_t acct = account_id(s, account, 1);
    if (acct <= 0)
        return db_fail(s, err, "creating the account");
    store_app a = {0};
    memset(&a, 0, sizeof a);
    char secret[41];
    if (srv_random_alnum(a.client_id, 32) != 0 || srv_random_alnum(secret, 40) != 0 ||
        RAND_bytes(a.salt, sizeof a.salt) != 1)
        return fail(err, TAAP_E_CRYPTO, "no randomness for the client credentials");
    a.iterations = (int)s->o.secret_iterations;
    if (srv_hash_secret(secret, strlen(secret), a.salt, a.iterations, a.hash) != 0)
        return fail(err, TAAP_E_CRYPTO, "cannot hash the client secret");
    a.created = srv_now(s);
    a.account_id = acct;
    snprintf(a.name, sizeof a.name, "%s", name);
    snprintf(a.account, sizeof a.account, "%s", account);
    sqlite3_stmt *st = store_stmt(s, ins);
    if (!st) {
        OPENSSL_cleanse(secret, sizeof secret);
        return db_fail(s, err, "creating the application");
    }
    sqlite3_bind_int64(st, 1, acct);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a.client_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, a.salt, sizeof a.salt, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, a.hash, sizeof a.hash, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, a.iterations);
    sqlite3_bind_int64(st, 7, a.created);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        OPENSSL_cleanse(secret, sizeof secret);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            return fail(err, TAAP_E_USAGE, "an application named '%s' already exists", name);
        return db_fail(s, err, "creating the application");
    }
    a.id = sqlite3_last_insert_rowid(store_db(s));
    taap_code r = emit(app_json(s, &a, secret), json, err);
    OPENSSL_cleanse(secret, sizeof secret);
    return r;
}

taap_code taap_serve_app_list(taap_server *s, char **json, taap_error *err)
{
    static const char sql[] = "SELECT client_id FROM apps ORDER BY id";
    if (json)
        *json = NULL;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return db_fail(s, err, "listing applications");
    /* Collect ids first: app_json runs other cached statements. */
    char **ids = NULL;
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char **v = realloc(ids, (n + 1) * sizeof *v);
        if (!v)
            break;
        ids = v;
        ids[n] = strdup((const char *)sqlite3_column_text(st, 0));
        if (ids[n])
            n++;
    }
    sqlite3_reset(st);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        store_app a = {0};
        if (store_app_find(s, ids[i], 1, &a) == 1)
            json_array_append_new(arr, app_json(s, &a, NULL));
    }
    store_free_strings(ids, n);
    return emit(json_pack("{s:o}", "apps", arr ? arr : json_array()), json, err);
}

taap_code taap_serve_app_show(taap_server *s, const char *ref, char **json, taap_error *err)
{
    if (json)
        *json = NULL;
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    return emit(app_json(s, &a, NULL), json, err);
}

taap_code taap_serve_app_delete(taap_server *s, const char *ref, taap_error *err)
{
    static const char sql[] = "DELETE FROM apps WHERE id = ?1";
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return db_fail(s, err, "deleting the application");
    sqlite3_bind_int64(st, 1, a.id);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    srv_at_clear(s); /* its access tokens are dead: forget they were verified */
    return r == SQLITE_DONE ? TAAP_OK : db_fail(s, err, "deleting the application");
}

static taap_code check_api(const char *api, taap_error *err)
{
    if (!api || strcmp(api, TAAP_SERVE_API_CONNECTIVITY) != 0)
        return fail(err, TAAP_E_USAGE, "unknown API '%s' (this emulator offers: %s)",
                    api ? api : "", TAAP_SERVE_API_CONNECTIVITY);
    return TAAP_OK;
}

taap_code taap_serve_app_subscribe(taap_server *s, const char *ref, const char *api, char **json,
                                   taap_error *err)
{
    static const char sql[] =
        "INSERT OR IGNORE INTO subscriptions(app_id, api, created) VALUES (?1, ?2, ?3)";
    if (json)
        *json = NULL;
    if (!api)
        api = TAAP_SERVE_API_CONNECTIVITY;
    taap_code rc = check_api(api, err);
    store_app a = {0};
    if (rc == TAAP_OK)
        rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return db_fail(s, err, "subscribing");
    sqlite3_bind_int64(st, 1, a.id);
    sqlite3_bind_text(st, 2, api, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, srv_now(s));
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r != SQLITE_DONE)
        return db_fail(s, err, "subscribing");
    return emit(app_json(s, &a, NULL), json, err);
}

taap_code taap_serve_app_unsubscribe(taap_server *s, const char *ref, const char *api,
                                     taap_error *err)
{
    static const char sql[] = "DELETE FROM subscriptions WHERE app_id = ?1 AND api = ?2";
    if (!api)
        api = TAAP_SERVE_API_CONNECTIVITY;
    taap_code rc = check_api(api, err);
    store_app a = {0};
    if (rc == TAAP_OK)
        rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return db_fail(s, err, "unsubscribing");
    sqlite3_bind_int64(st, 1, a.id);
    sqlite3_bind_text(st, 2, api, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int changed = sqlite3_changes(store_db(s));
    sqlite3_reset(st);
    srv_at_clear(s);
    if (r != SQLITE_DONE)
        return db_fail(s, err, "unsubscribing");
    if (!changed)
        return fail(err, TAAP_E_NOT_FOUND, "application '%s' is not subscribed to %s", a.name, api);
    return TAAP_OK;
}

/* ---- keys ---------------------------------------------------------------------- */

#define QS_ADVICE                                                                           \
    " (DevEdge Quick Start: run `openssl rsa -in private-key.pem -pubout -out "             \
    "public-key.pem` or `taap keygen`, then paste the whole of public-key.pem, BEGIN and END " \
    "lines included)"

/* The Quick Start's common paste mistakes, diagnosed before parsing so the
 * message says what to fix. Returns NULL when the text looks like a PEM
 * that may be parsed. */
static const char *pem_problem(const char *t, size_t len, char *buf, size_t cap)
{
    if (memmem(t, len, "PRIVATE KEY", 11))
        return "this is a PRIVATE key: never share it. Register the PUBLIC key "
               "(public-key.pem, '-----BEGIN PUBLIC KEY-----')" QS_ADVICE;
    const char *b = memmem(t, len, "-----BEGIN ", 11);
    const char *e = memmem(t, len, "-----END ", 9);
    if (!b || !e || e < b)
        return "the key must be pasted whole, including the '-----BEGIN PUBLIC KEY-----' and "
               "'-----END PUBLIC KEY-----' lines" QS_ADVICE;
    /* Stray spaces: anything but the base64 alphabet and line breaks between
     * the BEGIN line and the END line. */
    const char *body = memchr(b + 11, '\n', (size_t)(e - b - 11));
    const char *lab = memmem(b + 11, (size_t)(e - b - 11), "-----", 5);
    const char *start = body ? body + 1 : lab ? lab + 5 : NULL;
    if (!start)
        return "the BEGIN line is not closed with '-----'" QS_ADVICE;
    int line = 2;
    for (const char *p = start; p < e; p++) {
        if (*p == '\n') {
            line++;
            continue;
        }
        if (*p == '\r')
            continue;
        if (*p == ' ' || *p == '\t') {
            snprintf(buf, cap,
                     "stray whitespace inside the key on line %d: paste the PEM exactly as in "
                     "public-key.pem, with no spaces or indentation" QS_ADVICE,
                     line);
            return buf;
        }
    }
    for (const char *p = t; p < b; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return "unexpected text before the '-----BEGIN' line" QS_ADVICE;
    return NULL;
}

static json_t *key_row_json(sqlite3_stmt *st, const char *app)
{
    char created[32];
    srv_time_str(sqlite3_column_int64(st, 3), created);
    json_t *j = json_pack("{s:s, s:I, s:s, s:s}", "keyId", (const char *)sqlite3_column_text(st, 0),
                          "bits", (json_int_t)sqlite3_column_int(st, 1), "fingerprint",
                          (const char *)sqlite3_column_text(st, 2), "createdAt", created);
    if (j && app)
        json_object_set_new(j, "app", json_string(app));
    return j;
}

taap_code taap_serve_key_add(taap_server *s, const char *ref, const void *key, size_t len,
                             char **json, taap_error *err)
{
    static const char ins[] =
        "INSERT INTO keys(app_id, key_id, fingerprint, bits, pem, created)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    if (json)
        *json = NULL;
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    const char *t = key;
    /* Trim surrounding whitespace: a trailing newline or a blank line around
     * the paste is harmless. */
    while (len && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')) {
        t++;
        len--;
    }
    while (len && (t[len - 1] == ' ' || t[len - 1] == '\t' || t[len - 1] == '\r' ||
                   t[len - 1] == '\n'))
        len--;
    if (!len)
        return fail(err, TAAP_E_USAGE, "the public key is empty" QS_ADVICE);
    int is_der = (unsigned char)t[0] == 0x30;
    int is_jwk = t[0] == '{';
    char pbuf[600];
    const char *why = is_der || is_jwk ? NULL : pem_problem(t, len, pbuf, sizeof pbuf);
    if (why)
        return fail(err, TAAP_E_USAGE, "%s", why);
    if (is_jwk && memmem(t, len, "\"d\"", 3))
        return fail(err, TAAP_E_USAGE,
                    "this JWK holds a PRIVATE key (it has \"d\"): register only the public part");
    taap_key *k = NULL;
    taap_error kerr = TAAP_ERROR_INIT;
    if (taap_key_load_public(t, len, &k, &kerr) != TAAP_OK) {
        int small = strstr(kerr.message, "bits") != NULL || strstr(kerr.message, "small") != NULL;
        return fail(err, TAAP_E_KEY, "public key refused: %s%s", kerr.message,
                    small ? " (make a 2048-bit or larger key: openssl genrsa -out "
                            "private-key.pem 2048, or taap keygen)"
                          : QS_ADVICE);
    }
    unsigned char fp[32];
    char fp_hex[65], kid[17];
    taap_key_fingerprint(k, fp);
    srv_hex(fp, 32, fp_hex);
    srv_key_id(fp, kid);
    unsigned bits = taap_key_bits(k);
    char *pem = NULL;
    rc = taap_key_public_pem(k, &pem, err);
    taap_key_free(k);
    if (rc != TAAP_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(s, ins);
    if (!st) {
        taap_key_free_pem(pem);
        return db_fail(s, err, "storing the key");
    }
    int64_t now = srv_now(s);
    sqlite3_bind_int64(st, 1, a.id);
    sqlite3_bind_text(st, 2, kid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, fp_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, (int)bits);
    sqlite3_bind_text(st, 5, pem, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r != SQLITE_DONE) {
        taap_key_free_pem(pem);
        if ((r & 0xff) == SQLITE_CONSTRAINT)
            return fail(err, TAAP_E_USAGE, "this key (id %s) is already registered for '%s'", kid,
                        a.name);
        return db_fail(s, err, "storing the key");
    }
    char created[32];
    srv_time_str(now, created);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "keyId", kid, "app", a.name, "bits",
                          (json_int_t)bits, "fingerprint", fp_hex, "publicKey", pem, "createdAt",
                          created);
    taap_key_free_pem(pem);
    return emit(j, json, err);
}

taap_code taap_serve_key_list(taap_server *s, const char *ref, char **json, taap_error *err)
{
    static const char sql[] =
        "SELECT key_id, bits, fingerprint, created FROM keys WHERE app_id = ?1 ORDER BY id";
    if (json)
        *json = NULL;
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(s, sql);
    json_t *arr = json_array();
    if (!st || !arr) {
        json_decref(arr);
        return db_fail(s, err, "listing keys");
    }
    sqlite3_bind_int64(st, 1, a.id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, key_row_json(st, NULL));
    sqlite3_reset(st);
    return emit(json_pack("{s:s, s:o}", "app", a.name, "keys", arr), json, err);
}

taap_code taap_serve_key_delete(taap_server *s, const char *ref, const char *key_id,
                                taap_error *err)
{
    static const char sql[] = "DELETE FROM keys WHERE app_id = ?1 AND key_id = ?2";
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return db_fail(s, err, "deleting the key");
    sqlite3_bind_int64(st, 1, a.id);
    sqlite3_bind_text(st, 2, key_id ? key_id : "", -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int changed = sqlite3_changes(store_db(s));
    sqlite3_reset(st);
    srv_at_clear(s); /* tokens bound to this key (cnf) must not pass any more */
    if (r != SQLITE_DONE)
        return db_fail(s, err, "deleting the key");
    if (!changed)
        return fail(err, TAAP_E_NOT_FOUND, "application '%s' has no key with id '%s'", a.name,
                    key_id ? key_id : "");
    return TAAP_OK;
}

/* ---- kits and devices -------------------------------------------------------- */

static int random_digits(char *out, size_t n)
{
    unsigned char buf[64];
    size_t i = 0;
    while (i < n) {
        if (RAND_bytes(buf, sizeof buf) != 1)
            return -1;
        for (size_t j = 0; j < sizeof buf && i < n; j++)
            if (buf[j] < 250)
                out[i++] = (char)('0' + buf[j] % 10);
    }
    out[n] = '\0';
    return 0;
}

/* Append the Luhn check digit to a digit string (room for one more char). */
static void luhn_complete(char *d)
{
    size_t n = strlen(d);
    d[n] = '0';
    d[n + 1] = '\0';
    for (int c = 0; c < 10; c++) {
        d[n] = (char)('0' + c);
        if (srv_luhn_ok(d))
            return;
    }
}

taap_code taap_serve_kit_activate(taap_server *s, const char *app_ref, const char *account,
                                  char **json, taap_error *err)
{
    static const char ins[] =
        "INSERT INTO devices(iccid, account_id, imei, imsi, msisdn, status, rate_plan,"
        " data_usage, last_seen, created) VALUES (?1, ?2, ?3, ?4, ?5, 'ACTIVE',"
        " 'IoT Developer Kit 1GB', ?6, ?7, ?7)";
    static const char sel[] = "SELECT " STORE_DEVICE_COLUMNS " FROM devices d WHERE d.iccid = ?1";
    if (json)
        *json = NULL;
    int64_t acct;
    if (app_ref) {
        store_app a = {0};
        taap_code rc = find_app(s, app_ref, &a, err);
        if (rc != TAAP_OK)
            return rc;
        acct = a.account_id;
    } else {
        if (!name_ok(account))
            return fail(err, TAAP_E_USAGE, "give an application (--app) or an account name");
        acct = account_id(s, account, 1);
        if (acct <= 0)
            return db_fail(s, err, "creating the account");
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        /* ICCID: 89 (telecom) 01 (US) 260 (T-Mobile) + 12 random + Luhn = 19 digits.
         * IMEI: TAC 35 + 12 random + Luhn = 15. IMSI: MCC 310 MNC 260 + 9 = 15.
         * MSISDN: +1 555 01xx xxxx (a fictional-use range). */
        char iccid[24] = "8901260", imei[20] = "35", imsi[20] = "310260", msisdn[16] = "155501";
        if (random_digits(iccid + 7, 12) || random_digits(imei + 2, 12) ||
            random_digits(imsi + 6, 9) || random_digits(msisdn + 6, 5))
            return fail(err, TAAP_E_CRYPTO, "no randomness for the kit identifiers");
        luhn_complete(iccid);
        luhn_complete(imei);
        unsigned char usage[2] = {0};
        RAND_bytes(usage, sizeof usage);
        sqlite3_stmt *st = store_stmt(s, ins);
        if (!st)
            return db_fail(s, err, "activating the kit");
        sqlite3_bind_text(st, 1, iccid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, acct);
        sqlite3_bind_text(st, 3, imei, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, imsi, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, msisdn, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, (int64_t)(usage[0] << 8 | usage[1]) * 1024);
        sqlite3_bind_int64(st, 7, srv_now(s));
        int r = sqlite3_step(st);
        sqlite3_reset(st);
        if ((r & 0xff) == SQLITE_CONSTRAINT)
            continue; /* an identifier collided: draw again */
        if (r != SQLITE_DONE)
            return db_fail(s, err, "activating the kit");
        st = store_stmt(s, sel);
        if (!st)
            return db_fail(s, err, "reading the device");
        sqlite3_bind_text(st, 1, iccid, -1, SQLITE_TRANSIENT);
        json_t *j = sqlite3_step(st) == SQLITE_ROW ? store_device_json(st, 1) : NULL;
        sqlite3_reset(st);
        return emit(j, json, err);
    }
    return fail(err, TAAP_E_STORE, "could not draw unique kit identifiers");
}

taap_code taap_serve_device_list(taap_server *s, const char *account, char **json,
                                 taap_error *err)
{
    static const char all[] = "SELECT " STORE_DEVICE_COLUMNS " FROM devices d ORDER BY d.iccid";
    static const char one[] = "SELECT " STORE_DEVICE_COLUMNS
                              " FROM devices d JOIN accounts a ON a.id = d.account_id"
                              " WHERE a.name = ?1 ORDER BY d.iccid";
    if (json)
        *json = NULL;
    sqlite3_stmt *st = store_stmt(s, account ? one : all);
    json_t *arr = json_array();
    if (!st || !arr) {
        json_decref(arr);
        return db_fail(s, err, "listing devices");
    }
    if (account)
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, store_device_json(st, 1));
    sqlite3_reset(st);
    return emit(json_pack("{s:o}", "devices", arr), json, err);
}

taap_code taap_serve_seed_demo(taap_server *s, const void *public_key, size_t key_len,
                               char **json, taap_error *err)
{
    if (json)
        *json = NULL;
    char *app = NULL, *dev = NULL, *key = NULL;
    taap_error e = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_app_create(s, "demo-app", "demo", &app, &e);
    if (rc == TAAP_E_USAGE && strstr(e.message, "already exists"))
        return fail(err, TAAP_E_USAGE,
                    "the demo account already exists in this database (its client secret was "
                    "shown when it was made); use another --db or `taap admin app create`");
    if (rc == TAAP_OK && public_key)
        rc = taap_serve_key_add(s, "demo-app", public_key, key_len, &key, &e);
    if (rc == TAAP_OK)
        rc = taap_serve_app_subscribe(s, "demo-app", NULL, NULL, &e);
    if (rc == TAAP_OK)
        rc = taap_serve_kit_activate(s, "demo-app", NULL, &dev, &e);
    if (rc == TAAP_OK) {
        json_t *ja = json_loads(app, 0, NULL);
        /* Show the subscription the app now has. */
        json_object_set_new(ja, "subscriptions", json_pack("[s]", TAAP_SERVE_API_CONNECTIVITY));
        if (key)
            json_object_set_new(ja, "keys", json_integer(1));
        rc = emit(json_pack("{s:o, s:o, s:o}", "app", ja, "device", json_loads(dev, 0, NULL), "key",
                            key ? json_loads(key, 0, NULL) : json_null()),
                  json, &e);
    } else if (app) {
        /* Leave nothing half-made behind. */
        taap_serve_app_delete(s, "demo-app", NULL);
    }
    if (rc != TAAP_OK && e.code != TAAP_OK && err)
        *err = e;
    if (app)
        OPENSSL_cleanse(app, strlen(app));
    free(app);
    free(dev);
    free(key);
    return rc;
}

/* ---- the JSON API ---------------------------------------------------------------- */

static unsigned status_for(taap_code c)
{
    switch (c) {
    case TAAP_E_NOT_FOUND: return 404;
    case TAAP_E_USAGE:
    case TAAP_E_KEY: return 400;
    default: return 500;
    }
}

static void answer(srv_response *rs, taap_code rc, unsigned ok_status, char *json,
                   const taap_error *err)
{
    if (rc != TAAP_OK) {
        unsigned st = status_for(rc);
        if (st == 400 && strstr(err->message, "already"))
            st = 409;
        srv_error(rs, st, NULL, "%s", err->message);
        return;
    }
    rs->status = ok_status;
    if (ok_status == 204) {
        free(json);
        return;
    }
    rs->content_type = "application/json";
    rs->body = json;
    rs->body_len = json ? strlen(json) : 0;
}

/* Parse a JSON object body; NULL (with rs filled) when it is not one. */
static json_t *body_object(const srv_request *rq, srv_response *rs)
{
    json_error_t je;
    json_t *j = rq->body_len ? json_loadb((const char *)rq->body, rq->body_len,
                                          JSON_REJECT_DUPLICATES, &je)
                             : json_object();
    if (!j || !json_is_object(j)) {
        json_decref(j);
        srv_error(rs, 400, NULL, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

static const char *str_member(json_t *j, const char *name)
{
    return json_string_value(json_object_get(j, name));
}

void h_admin_apps_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs)
{
    (void)who;
    json_t *j = body_object(rq, rs);
    if (!j)
        return;
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_app_create(s, str_member(j, "name"), str_member(j, "account"), &out,
                                         &err);
    json_decref(j);
    answer(rs, rc, 201, out, &err);
    rs->no_store = 1; /* carries the client secret */
}

void h_admin_apps_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs)
{
    (void)rq;
    (void)who;
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_app_list(s, &out, &err);
    answer(rs, rc, 200, out, &err);
}

void h_admin_app_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                     srv_response *rs)
{
    (void)who;
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_app_show(s, rq->param[0], &out, &err);
    answer(rs, rc, 200, out, &err);
}

void h_admin_app_delete(taap_server *s, const srv_request *rq, const srv_principal *who,
                        srv_response *rs)
{
    (void)who;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_app_delete(s, rq->param[0], &err);
    answer(rs, rc, 204, NULL, &err);
}

void h_admin_keys_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs)
{
    (void)who;
    const char *ct = NULL;
    srv_header(rq, "Content-Type", &ct);
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc;
    if (ct && strncasecmp(ct, "application/json", 16) == 0) {
        /* {"publicKey": "<PEM>"} or {"publicKey": {JWK}} */
        json_t *j = body_object(rq, rs);
        if (!j)
            return;
        json_t *k = json_object_get(j, "publicKey");
        char *text = json_is_string(k) ? strdup(json_string_value(k))
                     : json_is_object(k) ? json_dumps(k, JSON_COMPACT)
                                         : NULL;
        json_decref(j);
        if (!text) {
            srv_error(rs, 400, NULL,
                      "JSON body needs \"publicKey\": the PEM text (or a JWK object)");
            return;
        }
        rc = taap_serve_key_add(s, rq->param[0], text, strlen(text), &out, &err);
        free(text);
    } else {
        /* The PEM pasted as the raw body (text/plain, application/x-pem-file). */
        rc = taap_serve_key_add(s, rq->param[0], rq->body ? (const void *)rq->body : "",
                                rq->body_len, &out, &err);
    }
    answer(rs, rc, 201, out, &err);
}

void h_admin_keys_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs)
{
    (void)who;
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_key_list(s, rq->param[0], &out, &err);
    answer(rs, rc, 200, out, &err);
}

void h_admin_key_delete(taap_server *s, const srv_request *rq, const srv_principal *who,
                        srv_response *rs)
{
    (void)who;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_key_delete(s, rq->param[0], rq->param[1], &err);
    answer(rs, rc, 204, NULL, &err);
}

void h_admin_subs_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs)
{
    (void)who;
    json_t *j = body_object(rq, rs);
    if (!j)
        return;
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_app_subscribe(s, rq->param[0], str_member(j, "api"), &out, &err);
    json_decref(j);
    answer(rs, rc, 200, out, &err);
}

void h_admin_sub_delete(taap_server *s, const srv_request *rq, const srv_principal *who,
                        srv_response *rs)
{
    (void)who;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_app_unsubscribe(s, rq->param[0], rq->param[1], &err);
    answer(rs, rc, 204, NULL, &err);
}

void h_admin_kits_post(taap_server *s, const srv_request *rq, const srv_principal *who,
                       srv_response *rs)
{
    (void)who;
    json_t *j = body_object(rq, rs);
    if (!j)
        return;
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    const char *app = str_member(j, "app"), *acct = str_member(j, "account");
    taap_code rc = (!app && !acct) ? (err.code = TAAP_E_USAGE,
                                      snprintf(err.message, sizeof err.message,
                                               "body needs {\"app\":NAME} or {\"account\":NAME}"),
                                      TAAP_E_USAGE)
                                   : taap_serve_kit_activate(s, app, acct, &out, &err);
    json_decref(j);
    answer(rs, rc, 201, out, &err);
}

void h_admin_devices_get(taap_server *s, const srv_request *rq, const srv_principal *who,
                         srv_response *rs)
{
    (void)who;
    char account[80] = "";
    if (rq->query && strncmp(rq->query, "account=", 8) == 0)
        snprintf(account, sizeof account, "%s", rq->query + 8);
    char *out = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_serve_device_list(s, account[0] ? account : NULL, &out, &err);
    answer(rs, rc, 200, out, &err);
}
