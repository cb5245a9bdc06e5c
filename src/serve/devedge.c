/*
 * devedge.c — DevEdge-like management: applications (client id + a secret
 * shown once and stored as a salted PBKDF2-HMAC-SHA256 hash), public-key
 * registration with the Quick Start's advice for the usual paste mistakes,
 * API subscriptions, developer-kit activation (IMEI, ICCID, IMSI, MSISDN).
 * Each operation is a C function (taap_serve.h) that the JSON API under
 * /devedge/v1 and `taap serve --init` share.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "serve_internal.h"
#include "util.h"

static taap_code db_fail(taap_server *s, taap_error *err, const char *what)
{
    return taap_fail(err, TAAP_E_STORE, "database error while %s: %s", what, store_errmsg(s));
}

static taap_code emit(json_t *j, char **json, taap_error *err)
{
    if (!j)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    if (json) {
        *json = json_dumps(j, JSON_COMPACT);
        if (!*json) {
            json_decref(j);
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
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
        return taap_fail(err, TAAP_E_NOT_FOUND, "no such application");
    int f = store_app_find(s, ref, 0, app);
    if (f < 0)
        return db_fail(s, err, "looking up the application");
    if (f == 0)
        return taap_fail(err, TAAP_E_NOT_FOUND, "no application named '%s' (or with that client id)",
                    ref);
    return TAAP_OK;
}

static json_t *app_json(taap_server *s, const store_app *a, const char *secret)
{
    int64_t nkeys = store_app_key_count(s, a->id);
    char created[32];
    srv_time_str(a->created, created);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "name", a->name, "account", a->account,
                          "clientId", a->client_id, "subscriptions",
                          store_app_subscriptions(s, a->id), "keys",
                          (json_int_t)(nkeys < 0 ? 0 : nkeys), "createdAt", created);
    if (j && secret)
        json_object_set_new(j, "clientSecret", json_string(secret));
    return j;
}

taap_code taap_serve_app_create(taap_server *s, const char *name, const char *account,
                                char **json, taap_error *err)
{
        if (json)
        *json = NULL;
    if (!account)
        account = "default";
    if (!name_ok(name))
        return taap_fail(err, TAAP_E_USAGE,
                    "application name must be 1..64 characters of A-Z a-z 0-9 . _ -");
    if (!name_ok(account))
        return taap_fail(err, TAAP_E_USAGE, "account name must be 1..64 characters of A-Z a-z 0-9 . _ -");
    store_app probe = {0};
    int f = store_app_find(s, name, 0, &probe);
    if (f < 0)
        return db_fail(s, err, "looking up the application");
    if (f == 1)
        return taap_fail(err, TAAP_E_USAGE, "an application named '%s' already exists", name);
    int64_t acct = store_account_id(s, account, 1, srv_now(s));
    if (acct <= 0)
        return db_fail(s, err, "creating the account");
    store_app a = {0};
    memset(&a, 0, sizeof a);
    char secret[41];
    if (srv_random_alnum(a.client_id, 32) != 0 || srv_random_alnum(secret, 40) != 0 ||
        RAND_bytes(a.salt, sizeof a.salt) != 1)
        return taap_fail(err, TAAP_E_CRYPTO, "no randomness for the client credentials");
    a.iterations = (int)srv_options(s)->secret_iterations;
    if (srv_hash_secret(secret, strlen(secret), a.salt, a.iterations, a.hash) != 0)
        return taap_fail(err, TAAP_E_CRYPTO, "cannot hash the client secret");
    a.created = srv_now(s);
    a.account_id = acct;
    snprintf(a.name, sizeof a.name, "%s", name);
    snprintf(a.account, sizeof a.account, "%s", account);
    int w = store_app_insert(s, &a);
    if (w != 0) {
        OPENSSL_cleanse(secret, sizeof secret);
        if (w == STORE_CONFLICT)
            return taap_fail(err, TAAP_E_USAGE, "an application named '%s' already exists", name);
        return db_fail(s, err, "creating the application");
    }
    taap_code r = emit(app_json(s, &a, secret), json, err);
    OPENSSL_cleanse(secret, sizeof secret);
    return r;
}

taap_code taap_serve_app_list(taap_server *s, char **json, taap_error *err)
{
    if (json)
        *json = NULL;
    /* Ids first, then each app: app_json runs other statements. */
    char **ids = NULL;
    size_t n = 0;
    if (store_app_client_ids(s, &ids, &n) != 0)
        return db_fail(s, err, "listing applications");
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
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    int r = store_app_delete(s, a.id);
    srv_at_clear(s); /* its access tokens are dead: forget they were verified */
    return r == 0 ? TAAP_OK : db_fail(s, err, "deleting the application");
}

static taap_code check_api(const char *api, taap_error *err)
{
    if (!api || strcmp(api, TAAP_SERVE_API_CONNECTIVITY) != 0)
        return taap_fail(err, TAAP_E_USAGE, "unknown API '%s' (this emulator offers: %s)",
                    api ? api : "", TAAP_SERVE_API_CONNECTIVITY);
    return TAAP_OK;
}

taap_code taap_serve_app_subscribe(taap_server *s, const char *ref, const char *api, char **json,
                                   taap_error *err)
{
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
    if (store_subscribe(s, a.id, api, srv_now(s)) != 0)
        return db_fail(s, err, "subscribing");
    return emit(app_json(s, &a, NULL), json, err);
}

taap_code taap_serve_app_unsubscribe(taap_server *s, const char *ref, const char *api,
                                     taap_error *err)
{
    if (!api)
        api = TAAP_SERVE_API_CONNECTIVITY;
    taap_code rc = check_api(api, err);
    store_app a = {0};
    if (rc == TAAP_OK)
        rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    int changed = store_unsubscribe(s, a.id, api);
    srv_at_clear(s);
    if (changed < 0)
        return db_fail(s, err, "unsubscribing");
    if (!changed)
        return taap_fail(err, TAAP_E_NOT_FOUND, "application '%s' is not subscribed to %s", a.name, api);
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

taap_code taap_serve_key_add(taap_server *s, const char *ref, const void *key, size_t len,
                             char **json, taap_error *err)
{
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
        return taap_fail(err, TAAP_E_USAGE, "the public key is empty" QS_ADVICE);
    int is_der = (unsigned char)t[0] == 0x30;
    int is_jwk = t[0] == '{';
    char pbuf[600];
    const char *why = is_der || is_jwk ? NULL : pem_problem(t, len, pbuf, sizeof pbuf);
    if (why)
        return taap_fail(err, TAAP_E_USAGE, "%s", why);
    if (is_jwk && memmem(t, len, "\"d\"", 3))
        return taap_fail(err, TAAP_E_USAGE,
                    "this JWK holds a PRIVATE key (it has \"d\"): register only the public part");
    taap_key *k = NULL;
    taap_error kerr = TAAP_ERROR_INIT;
    if (taap_key_load_public(t, len, &k, &kerr) != TAAP_OK) {
        int small = strstr(kerr.message, "bits") != NULL || strstr(kerr.message, "small") != NULL;
        return taap_fail(err, TAAP_E_KEY, "public key refused: %s%s", kerr.message,
                    small ? " (make a 2048-bit or larger key: openssl genrsa -out "
                            "private-key.pem 2048, or taap keygen)"
                          : QS_ADVICE);
    }
    unsigned char fp[32];
    char fp_hex[65], kid[17];
    taap_key_fingerprint(k, fp);
    taap_hex_encode(fp, 32, fp_hex);
    srv_key_id(fp, kid);
    unsigned bits = taap_key_bits(k);
    char *pem = NULL;
    rc = taap_key_public_pem(k, &pem, err);
    taap_key_free(k);
    if (rc != TAAP_OK)
        return rc;
    int64_t now = srv_now(s);
    int w = store_key_insert(s, a.id, kid, fp_hex, bits, pem, now);
    if (w != 0) {
        taap_key_free_pem(pem);
        if (w == STORE_CONFLICT)
            return taap_fail(err, TAAP_E_USAGE, "this key (id %s) is already registered for '%s'",
                             kid, a.name);
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
    if (json)
        *json = NULL;
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    json_t *arr = store_keys_json(s, a.id);
    if (!arr)
        return db_fail(s, err, "listing keys");
    return emit(json_pack("{s:s, s:o}", "app", a.name, "keys", arr), json, err);
}

taap_code taap_serve_key_delete(taap_server *s, const char *ref, const char *key_id,
                                taap_error *err)
{
    store_app a = {0};
    taap_code rc = find_app(s, ref, &a, err);
    if (rc != TAAP_OK)
        return rc;
    int changed = store_key_delete(s, a.id, key_id ? key_id : "");
    srv_at_clear(s); /* tokens bound to this key (cnf) must not pass any more */
    if (changed < 0)
        return db_fail(s, err, "deleting the key");
    if (!changed)
        return taap_fail(err, TAAP_E_NOT_FOUND, "application '%s' has no key with id '%s'", a.name,
                    key_id ? key_id : "");
    return TAAP_OK;
}

/* ---- kits and devices -------------------------------------------------------- */

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

/* An IMEI as printed on a kit: 15 digits with a valid Luhn check digit. */
static const char *imei_problem(const char *imei)
{
    size_t n = strlen(imei);
    if (n != 15 || strspn(imei, "0123456789") != n)
        return "an IMEI is 15 digits";
    return srv_luhn_ok(imei) ? NULL : "the IMEI's last digit is not its Luhn check digit";
}

taap_code taap_serve_kit_activate(taap_server *s, const char *app_ref, const char *account,
                                  char **json, taap_error *err)
{
    return taap_serve_kit_activate_ids(s, app_ref, account, NULL, NULL, json, err);
}

taap_code taap_serve_kit_activate_ids(taap_server *s, const char *app_ref, const char *account,
                                      const char *given_imei, const char *given_iccid,
                                      char **json, taap_error *err)
{
    if (json)
        *json = NULL;
    const char *why = NULL;
    if (!!given_imei != !!given_iccid)
        return taap_fail(err, TAAP_E_USAGE, "give both the kit's IMEI and its ICCID, or neither");
    if (given_imei && ((why = imei_problem(given_imei)) || (why = srv_iccid_problem(given_iccid))))
        return taap_fail(err, TAAP_E_USAGE, "%s (check the numbers printed on the kit)", why);
    int64_t acct;
    if (app_ref) {
        store_app a = {0};
        taap_code rc = find_app(s, app_ref, &a, err);
        if (rc != TAAP_OK)
            return rc;
        acct = a.account_id;
    } else {
        if (!name_ok(account))
            return taap_fail(err, TAAP_E_USAGE, "give an application (--app) or an account name");
        acct = store_account_id(s, account, 1, srv_now(s));
        if (acct <= 0)
            return db_fail(s, err, "creating the account");
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        /* ICCID: 89 (telecom) 01 (US) 260 (T-Mobile) + 12 random + Luhn = 19 digits.
         * IMEI: TAC 35 + 12 random + Luhn = 15. IMSI: MCC 310 MNC 260 + 9 = 15.
         * MSISDN: +1 555 01xx xxxx (a fictional-use range). */
        char iccid[24] = "8901260", imei[20] = "35", imsi[20] = "310260", msisdn[16] = "155501";
        if (srv_random_digits(iccid + 7, 12) || srv_random_digits(imei + 2, 12) ||
            srv_random_digits(imsi + 6, 9) || srv_random_digits(msisdn + 6, 5))
            return taap_fail(err, TAAP_E_CRYPTO, "no randomness for the kit identifiers");
        luhn_complete(iccid);
        luhn_complete(imei);
        if (given_imei) { /* the kit's own numbers (already checked) */
            snprintf(iccid, sizeof iccid, "%s", given_iccid);
            snprintf(imei, sizeof imei, "%s", given_imei);
        }
        unsigned char usage[2] = {0};
        RAND_bytes(usage, sizeof usage);
        store_device_ids ids = {iccid, imei, imsi, msisdn,
                                (int64_t)(usage[0] << 8 | usage[1]) * 1024};
        int w = store_device_insert(s, acct, &ids, srv_now(s));
        if (w == STORE_CONFLICT && given_imei)
            return taap_fail(err, TAAP_E_USAGE,
                             "a kit with this ICCID or IMEI is already activated");
        if (w == STORE_CONFLICT)
            continue; /* an identifier collided: draw again */
        if (w != 0)
            return db_fail(s, err, "activating the kit");
        json_t *j = NULL;
        if (store_device_get(s, iccid, 1, &j, NULL) != 1)
            return db_fail(s, err, "reading the device");
        return emit(j, json, err);
    }
    return taap_fail(err, TAAP_E_STORE, "could not draw unique kit identifiers");
}

taap_code taap_serve_device_set_status(taap_server *s, const char *iccid, const char *status,
                                       char **json, taap_error *err)
{
    if (json)
        *json = NULL;
    if (!status || (strcmp(status, "ACTIVE") != 0 && strcmp(status, "SUSPENDED") != 0))
        return taap_fail(err, TAAP_E_USAGE, "status must be ACTIVE or SUSPENDED");
    json_t *j = NULL;
    int found = store_device_get(s, iccid, 1, &j, NULL);
    json_decref(j);
    if (found == 0)
        return taap_fail(err, TAAP_E_NOT_FOUND, "no device with ICCID %.24s", iccid);
    if (found < 0 || store_device_update(s, iccid, status, NULL) != 0)
        return db_fail(s, err, "updating the device");
    j = NULL;
    if (store_device_get(s, iccid, 1, &j, NULL) != 1)
        return db_fail(s, err, "reading the device");
    return emit(j, json, err);
}

taap_code taap_serve_device_list(taap_server *s, const char *account, char **json,
                                 taap_error *err)
{
    if (json)
        *json = NULL;
    json_t *arr = store_device_list(s, account);
    if (!arr)
        return db_fail(s, err, "listing devices");
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
        return taap_fail(err, TAAP_E_USAGE,
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
