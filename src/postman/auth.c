/*
 * auth.c — the collection's auth helpers (reference §1.7), one table row
 * per type. Each replaces any Authorization header the request had (the
 * runtime applies auth after the pre-request scripts); an empty bearer
 * token sends nothing. An unknown type is refused when a request uses it.
 * The signing types live beside it: auth_digest.c, auth_oauth1.c. Auth is
 * applied once the body is built (digest auth-int and OAuth 1.0 body
 * hashes sign it), its headers placed where Newman places them.
 */
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "run.h"

/* "Basic base64(user:pass)" (malloc'd, free with taap_free_secret_str). */
char *pm_basic_value(const char *user, const char *pass)
{
    pm_buf c = {0};
    pm_buf_puts(&c, user);
    pm_buf_put(&c, ":", 1);
    pm_buf_puts(&c, pass);
    char *enc = c.failed ? NULL : malloc(TAAP_B64STD_LEN(c.len) + 1);
    char *val = NULL;
    if (enc) {
        taap_b64std_encode(c.p, c.len, enc);
        pm_buf v = {0};
        pm_buf_puts(&v, "Basic ");
        pm_buf_puts(&v, enc);
        val = pm_buf_take(&v);
        taap_free_secret_str(enc);
    }
    if (c.p)
        taap_free_secret(c.p, c.cap);
    return val;
}

char *pm_auth_attr(pm_worker *w, const pm_auth *a, const char *key, pm_built *b)
{
    return pm_run_resolve(w, pm_kv_get(&a->attrs, key), b);
}

int pm_auth_flag(const char *v)
{
    return v && *v && strcmp(v, "false") != 0;
}

char *pm_url_path(const char *url)
{
    const char *s = strstr(url, "://");
    const char *p = s ? s + 3 + strcspn(s + 3, "/?") : url;
    pm_buf o = {0};
    if (*p != '/')
        pm_buf_put(&o, "/", 1);
    pm_buf_puts(&o, p);
    return pm_buf_take(&o);
}

void pm_auth_warn(pm_built *b, const char *type, const char *what)
{
    char msg[400];
    snprintf(msg, sizeof msg, "runtime~%s.auth: could not sign the request: %s", type, what);
    pm_built_warn(b, msg);
}

/* Replace every Authorization header with `value` (consumed, zeroed). */
static int set_authorization(pm_built *b, char *value)
{
    if (!value)
        return -1;
    pm_hdr_remove(b, "Authorization");
    int rc = pm_hdr_add(b, "Authorization", value);
    taap_free_secret_str(value);
    return rc;
}

static int auth_none(pm_worker *w, const pm_auth *a, pm_built *b)
{
    (void)w;
    (void)a;
    (void)b;
    return 0;
}

static int auth_basic(pm_worker *w, const pm_auth *a, pm_built *b)
{
    char *u = pm_run_resolve(w, pm_kv_get(&a->attrs, "username"), b);
    char *p = pm_run_resolve(w, pm_kv_get(&a->attrs, "password"), b);
    int rc = u && p ? set_authorization(b, pm_basic_value(u, p)) : -1;
    taap_free_secret_str(u);
    taap_free_secret_str(p);
    return rc;
}

/* bearer (attribute "token") and oauth2 (the stored "accessToken" only:
 * Newman never fetches OAuth 2 tokens). */
static int auth_token(pm_worker *w, const pm_auth *a, pm_built *b, const char *attr)
{
    char *t = pm_run_resolve(w, pm_kv_get(&a->attrs, attr), b);
    if (!t)
        return -1;
    int rc = 0;
    if (*t) { /* nothing is sent for an empty token (runtime behaviour) */
        const char *prefix = pm_kv_get(&a->attrs, "headerPrefix");
        pm_buf v = {0};
        pm_buf_puts(&v, prefix && *prefix ? prefix : "Bearer");
        pm_buf_put(&v, " ", 1);
        pm_buf_puts(&v, t);
        rc = set_authorization(b, pm_buf_take(&v));
    }
    taap_free_secret_str(t);
    return rc;
}

static int auth_bearer(pm_worker *w, const pm_auth *a, pm_built *b)
{
    return auth_token(w, a, b, "token");
}

static int auth_oauth2(pm_worker *w, const pm_auth *a, pm_built *b)
{
    return auth_token(w, a, b, "accessToken");
}

/* apikey: a header (default) or a query parameter, replacing one of the
 * same name. */
static int auth_apikey(pm_worker *w, const pm_auth *a, pm_built *b)
{
    char *k = pm_run_resolve(w, pm_kv_get(&a->attrs, "key"), b);
    char *v = pm_run_resolve(w, pm_kv_get(&a->attrs, "value"), b);
    const char *in = pm_kv_get(&a->attrs, "in");
    int rc = -1;
    if (k && v && !*k) {
        rc = 0; /* no key name: nothing to send */
    } else if (k && v && in && !strcmp(in, "query")) {
        pm_buf u = {0};
        pm_buf_puts(&u, b->url);
        pm_buf_put(&u, strchr(b->url, '?') ? "&" : "?", 1);
        pm_put_urlenc(&u, k);
        pm_buf_put(&u, "=", 1);
        pm_put_urlenc(&u, v);
        char *nu = pm_buf_take(&u);
        if (nu) {
            free(b->url);
            b->url = nu;
            rc = 0;
        }
    } else if (k && v) {
        pm_hdr_remove(b, k);
        rc = pm_hdr_add(b, k, v);
    }
    free(k);
    taap_free_secret_str(v);
    return rc;
}

typedef struct auth_row {
    const char *type;
    int (*apply)(pm_worker *w, const pm_auth *a, pm_built *b);
} auth_row;

static const auth_row auth_table[] = {
    {"noauth", auth_none},
    {"basic", auth_basic},
    {"bearer", auth_bearer},
    {"oauth2", auth_oauth2},
    {"apikey", auth_apikey},
    {"digest", pm_auth_digest},
    {"oauth1", pm_auth_oauth1},
};

int pm_auth_apply(pm_worker *w, const pm_item *it, pm_built *b)
{
    const pm_auth *a = pm_item_auth(it);
    if (!a)
        return 0;
    for (size_t i = 0; i < sizeof auth_table / sizeof auth_table[0]; i++)
        if (!strcmp(a->type, auth_table[i].type))
            return auth_table[i].apply(w, a, b);
    snprintf(b->err, sizeof b->err, "auth type \"%s\" is not supported by taap run", a->type);
    return -1;
}
