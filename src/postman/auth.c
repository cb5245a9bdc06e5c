/*
 * auth.c — the collection's auth helpers (reference §1.7), one table row
 * per type. Each replaces any Authorization header the request had (the
 * runtime applies auth after the pre-request scripts); an empty bearer
 * token sends nothing. An unknown type is refused when a request uses it.
 * The signing types live beside it: auth_digest.c, auth_oauth1.c. Auth is
 * applied once the body is built (digest auth-int and OAuth 1.0 body
 * hashes sign it), its headers placed where Newman places them.
 *
 * A row may also have the runtime's post hook: it reads the response and
 * may set auth parameters (Newman's "system" parameters, kept on the auth
 * where the collection defines it: a folder's or the collection's for the
 * rest of the run, an item's own only until the item is done, as the
 * runtime restores the item's request after each execution) and ask for
 * the request to be replayed (exec.c replays; pm_auth_replay re-signs it).
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

/* ---- parameters a post hook set (Newman's system parameters) ------------------ */

static pm_scope *auth_state(pm_run *cx, const pm_auth *a, int create)
{
    for (size_t i = 0; i < cx->n_auth_states; i++)
        if (cx->auth_states[i].auth == a)
            return &cx->auth_states[i].params;
    if (!create)
        return NULL;
    pm_auth_state *v = realloc(cx->auth_states, (cx->n_auth_states + 1) * sizeof *v);
    if (!v)
        return NULL;
    cx->auth_states = v;
    pm_auth_state *st = &v[cx->n_auth_states++];
    memset(st, 0, sizeof *st);
    st->auth = a;
    return &st->params;
}

void pm_auth_state_drop(pm_run *cx, const pm_auth *a)
{
    for (size_t i = 0; a && i < cx->n_auth_states; i++)
        if (cx->auth_states[i].auth == a) {
            pm_scope_clear(&cx->auth_states[i].params);
            cx->auth_states[i] = cx->auth_states[--cx->n_auth_states];
            return;
        }
}

void pm_auth_states_free(pm_run *cx)
{
    for (size_t i = 0; i < cx->n_auth_states; i++)
        pm_scope_clear(&cx->auth_states[i].params);
    free(cx->auth_states);
    cx->auth_states = NULL;
    cx->n_auth_states = 0;
}

char *pm_auth_attr(pm_worker *w, const pm_auth *a, const char *key, pm_built *b)
{
    pm_scope *st = auth_state(w->cx, a, 0);
    const char *set = st ? pm_scope_get(st, key) : NULL;
    if (!set)
        return pm_run_resolve(w, pm_kv_get(&a->attrs, key), b);
    char *v = taap_strdup(set);
    if (!v)
        snprintf(b->err, sizeof b->err, "out of memory");
    return v;
}

char *pm_auth_value(pm_worker *w, const pm_auth *a, const char *key)
{
    pm_built scratch; /* only its err: the caller has no request to report on */
    memset(&scratch, 0, sizeof scratch);
    return pm_auth_attr(w, a, key, &scratch);
}

int pm_auth_state_set(pm_worker *w, const pm_auth *a, const char *key, const char *value)
{
    char *cur = pm_auth_value(w, a, key);
    pm_scope *st = auth_state(w->cx, a, 0);
    /* the runtime updates a user's parameter only when it is empty */
    int settable = (st && pm_scope_get(st, key)) || !pm_kv_get(&a->attrs, key) || (cur && !*cur);
    taap_free_secret_str(cur);
    if (!settable)
        return 0;
    st = auth_state(w->cx, a, 1);
    return st ? pm_scope_set(st, key, value, 0) : -1;
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
    /* the runtime's post hook; NULL: it never asks for a replay */
    int (*post)(pm_worker *w, const pm_auth *a, const pm_http_resp *resp);
} auth_row;

static const auth_row auth_table[] = {
    {"noauth", auth_none, NULL},
    {"basic", auth_basic, NULL},
    {"bearer", auth_bearer, NULL},
    {"oauth2", auth_oauth2, NULL},
    {"apikey", auth_apikey, NULL},
    {"digest", pm_auth_digest, pm_auth_digest_post},
    {"oauth1", pm_auth_oauth1, NULL},
};

static const auth_row *auth_row_for(const pm_auth *a)
{
    for (size_t i = 0; a && i < sizeof auth_table / sizeof auth_table[0]; i++)
        if (!strcmp(a->type, auth_table[i].type))
            return &auth_table[i];
    return NULL;
}

int pm_auth_apply(pm_worker *w, const pm_item *it, pm_built *b)
{
    const pm_auth *a = pm_item_auth(it);
    if (!a)
        return 0;
    const auth_row *row = auth_row_for(a);
    if (row)
        return row->apply(w, a, b);
    snprintf(b->err, sizeof b->err, "auth type \"%s\" is not supported by taap run", a->type);
    return -1;
}

int pm_auth_post(pm_worker *w, const pm_item *it, const pm_http_resp *resp)
{
    const pm_auth *a = pm_item_auth(it);
    const auth_row *row = auth_row_for(a);
    return row && row->post ? row->post(w, a, resp) : 0;
}

/* ---- the replay --------------------------------------------------------------- */

/* Move header i of `from` to the end of `to`. */
static void move_header(pm_built *from, size_t i, pm_built *to)
{
    to->hn[to->nh] = from->hn[i];
    to->hv[to->nh++] = from->hv[i];
    from->hn[i] = from->hv[i] = NULL;
}

/* The body's length as it went on the wire (transport_curl.c's rule), or
 * -1 when no Content-Length was sent. */
static long long wire_length(const pm_built *b)
{
    if (!strcmp(b->method, "HEAD") || b->body_file)
        return -1; /* a file's length is an explicit header already */
    if (b->body_len || !strcmp(b->method, "POST") || !strcmp(b->method, "PUT") ||
        !strcmp(b->method, "PATCH"))
        return (long long)b->body_len;
    return -1;
}

/* The runtime replays the request object it sent: the headers it had made
 * (the collection's, auth's, its own system headers) plus the
 * Content-Length its client wrote on the wire, then signs it again
 * (Authorization last); its HTTP client then adds its own headers once
 * more — a urlencoded or multipart Content-Type, a file's type — except
 * the URL's credentials, which give way to the Authorization auth set. */
int pm_auth_replay(pm_worker *w, const pm_item *it, pm_built *b)
{
    pm_built old = *b;
    b->hn = calloc(old.nh + 2, sizeof *b->hn);
    b->hv = calloc(old.nh + 2, sizeof *b->hv);
    b->nh = 0;
    b->caph = old.nh + 2;
    int rc = b->hn && b->hv ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < old.client_from; i++)
        if (taap_ascii_casecmp(old.hn[i], "Authorization") != 0)
            move_header(&old, i, b);
    int has_length = pm_hdr_find(b, "Content-Length") >= 0;
    int cl = -1;
    for (size_t i = old.client_from; i < old.nh; i++)
        if (!taap_ascii_casecmp(old.hn[i], "Content-Length"))
            cl = (int)i;
    long long length = wire_length(b);
    char len[32];
    snprintf(len, sizeof len, "%lld", length);
    if (rc == 0 && !has_length && cl >= 0)
        move_header(&old, (size_t)cl, b);
    else if (rc == 0 && !has_length && length >= 0)
        rc = pm_hdr_add(b, "Content-Length", len);
    if (rc == 0)
        rc = pm_auth_apply(w, it, b);
    b->client_from = b->nh;
    int authorized = pm_hdr_find(b, "Authorization") >= 0;
    for (size_t i = old.client_from; rc == 0 && i < old.nh; i++)
        if (old.hn[i] && (!authorized || taap_ascii_casecmp(old.hn[i], "Authorization") != 0))
            rc = pm_hdr_add(b, old.hn[i], old.hv[i]);
    pm_built husk;
    memset(&husk, 0, sizeof husk);
    husk.hn = old.hn;
    husk.hv = old.hv;
    husk.nh = old.nh;
    pm_built_free(&husk);
    if (rc != 0 && !b->err[0])
        snprintf(b->err, sizeof b->err, "out of memory");
    return rc;
}
