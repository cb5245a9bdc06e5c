/*
 * collection.c — Postman Collection Format v2.0 / v2.1 into the pm_item
 * tree (reference/postman-newman.md §1). Lenient like the SDK: any
 * info.schema string, a string `request`, a string `header`, URL objects
 * with only `raw`, unknown auth types and body modes (those fail only when a
 * request using them runs). Item and folder `variable[]` are ignored, as
 * the runtime ignores them.
 */
#include <stdlib.h>
#include <string.h>

#include "pm.h"

typedef struct parse_ctx {
    taap_error *err;
    size_t n_requests;
} parse_ctx;

static char *jstr(json_t *v) /* string member or NULL */
{
    return json_is_string(v) ? taap_strndup(json_string_value(v), json_string_length(v)) : NULL;
}

static void kvlist_free(pm_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        pm_kv *kv = &l->v[i];
        free(kv->key);
        taap_free_secret_str(kv->value);
        free(kv->type);
        free(kv->content_type);
        for (size_t j = 0; j < kv->n_src; j++)
            free(kv->src[j]);
        free(kv->src);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

const char *pm_kv_get(const pm_kvlist *l, const char *key)
{
    for (size_t i = l->n; i-- > 0;)
        if (!l->v[i].disabled && l->v[i].key && strcmp(l->v[i].key, key) == 0)
            return l->v[i].value;
    return NULL;
}

void pm_item_clear(pm_item *it)
{
    json_decref(it->request_json);
    it->request_json = NULL;
    for (size_t i = 0; i < it->n_children; i++)
        pm_item_clear(&it->children[i]);
    free(it->children);
    free(it->name);
    free(it->id);
    free(it->path);
    free(it->method);
    free(it->url);
    kvlist_free(&it->path_vars);
    kvlist_free(&it->headers);
    free(it->body.mode_name);
    free(it->body.raw);
    free(it->body.language);
    kvlist_free(&it->body.params);
    free(it->body.file_src);
    free(it->body.gql_query);
    free(it->body.gql_operation);
    free(it->body.gql_variables);
    if (it->auth) {
        free(it->auth->type);
        kvlist_free(&it->auth->attrs);
        free(it->auth);
    }
    free(it->prerequest);
    free(it->test);
}

void taap_collection_free(taap_collection *c)
{
    if (!c)
        return;
    free(c->name);
    json_decref(c->doc);
    pm_item_clear(&c->root);
    pm_scope_clear(&c->vars);
    free(c);
}

const char *taap_collection_name(const taap_collection *c)
{
    return c && c->name ? c->name : "";
}

size_t taap_collection_request_count(const taap_collection *c)
{
    return c ? c->n_requests : 0;
}

const char *taap_collection_variable(const taap_collection *c, const char *key)
{
    return c && key ? pm_scope_get(&c->vars, key) : NULL;
}

/* [{key, value, disabled, type, src, contentType}] → list. Entries that are
 * not objects are refused. */
static taap_code parse_kvs(json_t *arr, pm_kvlist *out, const char *what, const char *where,
                           parse_ctx *cx)
{
    if (!arr || json_is_null(arr))
        return TAAP_OK;
    if (!json_is_array(arr))
        return taap_fail(cx->err, TAAP_E_CONFIG, "%s: %s is not an array", where, what);
    size_t n = json_array_size(arr);
    if (n == 0)
        return TAAP_OK;
    out->v = calloc(n, sizeof *out->v);
    if (!out->v)
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_object(e))
            return taap_fail(cx->err, TAAP_E_CONFIG, "%s: %s[%zu] is not an object", where, what, i);
        pm_kv *kv = &out->v[out->n++];
        json_t *k = json_object_get(e, "key");
        if (!json_is_string(k))
            k = json_object_get(e, "id");
        kv->key = json_is_null(k) || !k ? NULL : pm_json_to_string(k);
        json_t *v = json_object_get(e, "value");
        kv->value = (!v || json_is_null(v)) ? NULL : pm_json_to_string(v);
        kv->disabled = json_is_true(json_object_get(e, "disabled"));
        kv->type = jstr(json_object_get(e, "type"));
        kv->content_type = jstr(json_object_get(e, "contentType"));
        json_t *src = json_object_get(e, "src");
        if (json_is_string(src)) {
            kv->src = calloc(1, sizeof(char *));
            if (kv->src && (kv->src[0] = jstr(src)))
                kv->n_src = 1;
        } else if (json_is_array(src) && json_array_size(src) > 0) {
            kv->src = calloc(json_array_size(src), sizeof(char *));
            size_t j;
            json_t *s;
            json_array_foreach(src, j, s) {
                if (kv->src && json_is_string(s))
                    kv->src[kv->n_src++] = jstr(s);
            }
        }
    }
    return TAAP_OK;
}

/* Raw header block "A: 1\nB: 2" (accepted by the SDK). */
static taap_code parse_header_string(const char *s, pm_kvlist *out, parse_ctx *cx)
{
    size_t lines = 1;
    for (const char *p = s; *p; p++)
        lines += *p == '\n';
    out->v = calloc(lines, sizeof *out->v);
    if (!out->v)
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (colon) {
            const char *ks = p, *ke = colon, *vs = colon + 1, *ve = p + n;
            while (ks < ke && (*ks == ' ' || *ks == '\t'))
                ks++;
            while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t'))
                ke--;
            while (vs < ve && (*vs == ' ' || *vs == '\t'))
                vs++;
            while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
                ve--;
            if (ke > ks) {
                pm_kv *kv = &out->v[out->n++];
                kv->key = taap_strndup(ks, (size_t)(ke - ks));
                kv->value = taap_strndup(vs, (size_t)(ve - vs));
            }
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    return TAAP_OK;
}

/* Build the string form of a URL object, as postman-collection's
 * Url.toString() does; an object with only `raw` falls back to raw (the SDK
 * gives an empty URL there: being more lenient is harmless). */
static char *url_from_object(json_t *u)
{
    json_t *host = json_object_get(u, "host");
    json_t *raw = json_object_get(u, "raw");
    if (!host || json_is_null(host) || (json_is_array(host) && json_array_size(host) == 0))
        return json_is_string(raw) ? jstr(raw) : taap_strdup("");
    pm_buf b = {0};
    json_t *proto = json_object_get(u, "protocol");
    if (json_is_string(proto) && json_string_length(proto)) {
        pm_buf_puts(&b, json_string_value(proto));
        pm_buf_puts(&b, "://");
    }
    json_t *auth = json_object_get(u, "auth");
    if (json_is_object(auth)) {
        json_t *us = json_object_get(auth, "user"), *pw = json_object_get(auth, "password");
        if (json_is_string(us)) {
            pm_buf_puts(&b, json_string_value(us));
            if (json_is_string(pw)) {
                pm_buf_put(&b, ":", 1);
                pm_buf_puts(&b, json_string_value(pw));
            }
            pm_buf_put(&b, "@", 1);
        }
    }
    if (json_is_string(host)) {
        pm_buf_puts(&b, json_string_value(host));
    } else {
        size_t i;
        json_t *h;
        json_array_foreach(host, i, h) {
            char *s = pm_json_to_string(h);
            if (i)
                pm_buf_put(&b, ".", 1);
            if (s)
                pm_buf_puts(&b, s);
            free(s);
        }
    }
    json_t *port = json_object_get(u, "port");
    if ((json_is_string(port) && json_string_length(port)) || json_is_integer(port)) {
        char *s = pm_json_to_string(port);
        pm_buf_put(&b, ":", 1);
        if (s)
            pm_buf_puts(&b, s);
        free(s);
    }
    json_t *path = json_object_get(u, "path");
    if (json_is_string(path)) {
        const char *ps = json_string_value(path);
        if (*ps && *ps != '/')
            pm_buf_put(&b, "/", 1);
        pm_buf_puts(&b, ps);
    } else if (json_is_array(path)) {
        size_t i;
        json_t *seg;
        json_array_foreach(path, i, seg) {
            char *s = json_is_object(seg) ? pm_json_to_string(json_object_get(seg, "value"))
                                          : pm_json_to_string(seg);
            pm_buf_put(&b, "/", 1);
            if (s)
                pm_buf_puts(&b, s);
            free(s);
        }
    }
    json_t *query = json_object_get(u, "query");
    if (json_is_array(query)) {
        int first = 1;
        size_t i;
        json_t *q;
        json_array_foreach(query, i, q) {
            if (!json_is_object(q) || json_is_true(json_object_get(q, "disabled")))
                continue;
            json_t *k = json_object_get(q, "key"), *v = json_object_get(q, "value");
            pm_buf_put(&b, first ? "?" : "&", 1);
            first = 0;
            if (k && !json_is_null(k)) {
                char *s = pm_json_to_string(k);
                if (s)
                    pm_buf_puts(&b, s);
                free(s);
            }
            if (v && !json_is_null(v)) {
                char *s = pm_json_to_string(v);
                pm_buf_put(&b, "=", 1);
                if (s)
                    pm_buf_puts(&b, s);
                free(s);
            }
        }
    }
    json_t *hash = json_object_get(u, "hash");
    if (json_is_string(hash) && json_string_length(hash)) {
        pm_buf_put(&b, "#", 1);
        pm_buf_puts(&b, json_string_value(hash));
    }
    return pm_buf_take(&b);
}

static taap_code parse_auth(json_t *a, pm_auth **out, const char *where, parse_ctx *cx)
{
    *out = NULL;
    if (!a || json_is_null(a))
        return TAAP_OK; /* inherit */
    if (!json_is_object(a))
        return taap_fail(cx->err, TAAP_E_CONFIG, "%s: auth is not an object", where);
    json_t *type = json_object_get(a, "type");
    if (!json_is_string(type))
        return TAAP_OK; /* no valid type: the SDK inherits */
    pm_auth *au = calloc(1, sizeof *au);
    if (!au || !(au->type = jstr(type))) {
        free(au);
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    }
    *out = au;
    json_t *attrs = json_object_get(a, au->type);
    if (json_is_array(attrs))
        return parse_kvs(attrs, &au->attrs, "auth attributes", where, cx);
    if (json_is_object(attrs)) { /* very old exports: {"username": …} */
        size_t n = json_object_size(attrs), i = 0;
        au->attrs.v = calloc(n ? n : 1, sizeof *au->attrs.v);
        if (!au->attrs.v)
            return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
        const char *k;
        json_t *v;
        json_object_foreach(attrs, k, v) {
            au->attrs.v[i].key = taap_strdup(k);
            au->attrs.v[i].value = pm_json_to_string(v);
            i++;
        }
        au->attrs.n = i;
    }
    return TAAP_OK;
}

/* event[] → the prerequest and test script texts (exec lines joined). */
static taap_code parse_events(json_t *events, pm_item *it, const char *where, parse_ctx *cx)
{
    if (!json_is_array(events))
        return TAAP_OK;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        if (!json_is_object(ev) || json_is_true(json_object_get(ev, "disabled")))
            continue;
        json_t *listen = json_object_get(ev, "listen");
        json_t *script = json_object_get(ev, "script");
        if (!json_is_string(listen) || !json_is_object(script))
            continue;
        json_t *exec = json_object_get(script, "exec");
        pm_buf b = {0};
        if (json_is_string(exec)) {
            pm_buf_puts(&b, json_string_value(exec));
        } else if (json_is_array(exec)) {
            size_t j;
            json_t *line;
            json_array_foreach(exec, j, line) {
                if (json_is_string(line)) {
                    pm_buf_puts(&b, json_string_value(line));
                    pm_buf_put(&b, "\n", 1);
                }
            }
        }
        json_t *src = json_object_get(script, "src");
        if (json_is_string(src)) { /* a script loaded from a URL: keep the URL for analysis */
            pm_buf_puts(&b, "\n// src: ");
            pm_buf_puts(&b, json_string_value(src));
        }
        char *text = pm_buf_take(&b);
        if (!text)
            return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
        char **slot = strcmp(json_string_value(listen), "prerequest") == 0 ? &it->prerequest
                      : strcmp(json_string_value(listen), "test") == 0      ? &it->test
                                                                            : NULL;
        if (!slot || !*text) {
            free(text);
            continue;
        }
        if (*slot) { /* several events of one kind: concatenate */
            pm_buf c = {0};
            pm_buf_puts(&c, *slot);
            pm_buf_put(&c, "\n", 1);
            pm_buf_puts(&c, text);
            free(text);
            free(*slot);
            *slot = pm_buf_take(&c);
        } else {
            *slot = text;
        }
    }
    (void)where;
    return TAAP_OK;
}

static taap_code parse_body(json_t *b, pm_body *body, const char *where, parse_ctx *cx)
{
    if (!b || json_is_null(b) || !json_is_object(b))
        return TAAP_OK;
    if (json_is_true(json_object_get(b, "disabled")))
        return TAAP_OK;
    json_t *mode = json_object_get(b, "mode");
    if (!json_is_string(mode))
        return TAAP_OK;
    const char *m = json_string_value(mode);
    body->mode_name = taap_strdup(m);
    if (strcmp(m, "raw") == 0) {
        body->mode = PM_BODY_RAW;
        json_t *raw = json_object_get(b, "raw");
        body->raw = raw && !json_is_null(raw) ? pm_json_to_string(raw) : taap_strdup("");
        json_t *opt = json_object_get(json_object_get(b, "options"), "raw");
        body->language = jstr(json_object_get(opt, "language"));
    } else if (strcmp(m, "urlencoded") == 0) {
        body->mode = PM_BODY_URLENCODED;
        return parse_kvs(json_object_get(b, "urlencoded"), &body->params, "urlencoded", where, cx);
    } else if (strcmp(m, "formdata") == 0) {
        body->mode = PM_BODY_FORMDATA;
        return parse_kvs(json_object_get(b, "formdata"), &body->params, "formdata", where, cx);
    } else if (strcmp(m, "file") == 0) {
        body->mode = PM_BODY_FILE;
        json_t *f = json_object_get(b, "file");
        body->file_src = jstr(json_object_get(f, "src"));
        json_t *content = json_object_get(f, "content");
        if (!body->file_src && json_is_string(content)) { /* inline content */
            body->mode = PM_BODY_RAW;
            body->raw = jstr(content);
        }
    } else if (strcmp(m, "graphql") == 0) {
        body->mode = PM_BODY_GRAPHQL;
        json_t *g = json_object_get(b, "graphql");
        body->gql_query = jstr(json_object_get(g, "query"));
        body->gql_operation = jstr(json_object_get(g, "operationName"));
        json_t *vars = json_object_get(g, "variables");
        if (json_is_string(vars)) {
            body->gql_variables = jstr(vars);
        } else if (vars && !json_is_null(vars)) {
            body->gql_variables = json_dumps(vars, JSON_COMPACT | JSON_ENCODE_ANY);
            body->gql_vars_json = 1;
        }
        if (!json_is_object(g) || json_object_size(g) == 0)
            body->mode = PM_BODY_NONE; /* the SDK's isEmpty(): nothing is sent */
    } else {
        body->mode = PM_BODY_UNSUPPORTED;
    }
    return TAAP_OK;
}

static taap_code parse_request(json_t *rq, pm_item *it, parse_ctx *cx)
{
    const char *where = it->path ? it->path : "pm.request";
    it->request_json = json_incref(rq);
    if (json_is_string(rq)) { /* a bare URL string means GET */
        it->method = taap_strdup("GET");
        it->url = jstr(rq);
        return it->method && it->url ? TAAP_OK : taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    }
    if (!json_is_object(rq))
        return taap_fail(cx->err, TAAP_E_CONFIG, "%s: request is neither an object nor a URL",
                         where);
    json_t *m = json_object_get(rq, "method");
    it->method = taap_strdup(json_is_string(m) ? json_string_value(m) : "GET");
    if (!it->method)
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    for (char *p = it->method; *p; p++) /* the SDK upper-cases the method */
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    for (char *p = it->method; *p; p++)
        if (!taap_is_tchar((unsigned char)*p))
            return taap_fail(cx->err, TAAP_E_CONFIG, "%s: method \"%s\" is not an HTTP token",
                             where, it->method);
    json_t *u = json_object_get(rq, "url");
    if (json_is_string(u)) {
        it->url = jstr(u);
    } else if (json_is_object(u)) {
        it->url = url_from_object(u);
        taap_code rc = parse_kvs(json_object_get(u, "variable"), &it->path_vars, "url.variable",
                                 where, cx);
        if (rc != TAAP_OK)
            return rc;
    } else {
        it->url = taap_strdup("");
    }
    if (!it->url)
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    /* only v2's "header": a v1 export's "headers" is not read by the SDK,
     * so Newman never sends it (nor does taap) */
    json_t *h = json_object_get(rq, "header");
    taap_code rc = json_is_string(h) ? parse_header_string(json_string_value(h), &it->headers, cx)
                                     : parse_kvs(h, &it->headers, "header", where, cx);
    if (rc != TAAP_OK)
        return rc;
    rc = parse_body(json_object_get(rq, "body"), &it->body, where, cx);
    if (rc != TAAP_OK)
        return rc;
    return parse_auth(json_object_get(rq, "auth"), &it->auth, where, cx);
}

static taap_code parse_items(json_t *arr, pm_item *parent, int depth, parse_ctx *cx);

taap_code pm_request_parse(json_t *rq, pm_item *it, taap_error *err)
{
    parse_ctx cx = {err, 0};
    return parse_request(rq, it, &cx);
}

static taap_code parse_item(json_t *e, pm_item *it, pm_item *parent, int depth, size_t idx,
                            parse_ctx *cx)
{
    it->parent = parent;
    json_t *name = json_object_get(e, "name");
    char tmp[32];
    snprintf(tmp, sizeof tmp, "item %zu", idx + 1);
    it->name = json_is_string(name) ? jstr(name) : taap_strdup(tmp);
    json_t *id = json_object_get(e, "id");
    if (!json_is_string(id))
        id = json_object_get(e, "_postman_id");
    it->id = jstr(id);
    if (!it->name)
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    pm_buf pb = {0};
    if (parent->path && *parent->path) {
        pm_buf_puts(&pb, parent->path);
        pm_buf_puts(&pb, " / ");
    }
    pm_buf_puts(&pb, it->name);
    if (!(it->path = pm_buf_take(&pb)))
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    taap_code rc = parse_events(json_object_get(e, "event"), it, it->path, cx);
    if (rc != TAAP_OK)
        return rc;
    json_t *items = json_object_get(e, "item");
    json_t *rq = json_object_get(e, "request");
    if (json_is_array(items) || !rq) {
        it->is_folder = 1;
        if ((rc = parse_auth(json_object_get(e, "auth"), &it->auth, it->path, cx)) != TAAP_OK)
            return rc;
        return parse_items(items, it, depth + 1, cx);
    }
    cx->n_requests++;
    return parse_request(rq, it, cx);
}

static taap_code parse_items(json_t *arr, pm_item *parent, int depth, parse_ctx *cx)
{
    if (!arr || json_is_null(arr))
        return TAAP_OK;
    if (!json_is_array(arr))
        return taap_fail(cx->err, TAAP_E_CONFIG, "%s: \"item\" is not an array",
                         parent->path && *parent->path ? parent->path : "collection");
    if (depth > TAAP_COLLECTION_MAX_DEPTH)
        return taap_fail(cx->err, TAAP_E_CONFIG, "folders nested deeper than %d",
                         TAAP_COLLECTION_MAX_DEPTH);
    size_t n = json_array_size(arr);
    if (n == 0)
        return TAAP_OK;
    parent->children = calloc(n, sizeof *parent->children);
    if (!parent->children)
        return taap_fail(cx->err, TAAP_E_NOMEM, "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_object(e))
            return taap_fail(cx->err, TAAP_E_CONFIG, "%s: item[%zu] is not an object",
                             parent->path && *parent->path ? parent->path : "collection", i);
        parent->n_children++;
        taap_code rc = parse_item(e, &parent->children[i], parent, depth, i, cx);
        if (rc != TAAP_OK)
            return rc;
    }
    return TAAP_OK;
}

static taap_code collection_parse_impl(const char *json, size_t len, taap_collection **out,
                                taap_error *err)
{
    *out = NULL;
    if (!json)
        return taap_fail(err, TAAP_E_USAGE, "no collection text");
    if (len > TAAP_COLLECTION_MAX_BYTES)
        return taap_fail(err, TAAP_E_CONFIG, "collection larger than %u bytes",
                         TAAP_COLLECTION_MAX_BYTES);
    if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        json += 3;
        len -= 3;
    }
    json_error_t je;
    json_t *doc = json_loadb(json, len, 0, &je);
    if (!doc)
        return taap_fail(err, TAAP_E_CONFIG, "collection is not JSON (line %d: %s)", je.line,
                         je.text);
    /* A wrapper {"collection": {...}} is what the Postman API returns. */
    if (json_is_object(json_object_get(doc, "collection")) && !json_object_get(doc, "item")) {
        json_t *inner = json_incref(json_object_get(doc, "collection"));
        json_decref(doc);
        doc = inner;
    }
    json_t *info = json_object_get(doc, "info");
    json_t *items = json_object_get(doc, "item");
    if (!json_is_object(doc) || !json_is_array(items)) {
        json_decref(doc);
        return taap_fail(err, TAAP_E_CONFIG,
                         "not a Postman v2 collection (needs \"info\" and an \"item\" array; "
                         "v1 files must be converted)");
    }
    taap_collection *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(doc);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    parse_ctx cx = {err, 0};
    json_t *name = json_object_get(info, "name");
    c->name = taap_strdup(json_is_string(name) ? json_string_value(name) : "collection");
    c->root.is_folder = 1;
    c->root.name = taap_strdup(c->name ? c->name : "");
    c->root.path = taap_strdup("");
    taap_code rc = TAAP_OK;
    if (!c->name || !c->root.name || !c->root.path)
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
    if (rc == TAAP_OK)
        rc = parse_events(json_object_get(doc, "event"), &c->root, "collection", &cx);
    if (rc == TAAP_OK)
        rc = parse_auth(json_object_get(doc, "auth"), &c->root.auth, "collection", &cx);
    if (rc == TAAP_OK)
        rc = parse_items(items, &c->root, 0, &cx);
    json_t *vars = json_object_get(doc, "variable");
    if (rc == TAAP_OK && json_is_array(vars)) {
        size_t i;
        json_t *v;
        json_array_foreach(vars, i, v) {
            if (!json_is_object(v) || json_is_true(json_object_get(v, "disabled")))
                continue;
            json_t *k = json_object_get(v, "key");
            if (!json_is_string(k))
                k = json_object_get(v, "id");
            if (!json_is_string(k))
                continue;
            char *s = pm_json_to_string(json_object_get(v, "value"));
            if (!s || pm_scope_set(&c->vars, json_string_value(k), s, 0) != 0)
                rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            free(s);
        }
    }
    c->doc = doc; /* kept for the JSON report */
    if (rc != TAAP_OK) {
        taap_collection_free(c);
        return rc;
    }
    c->n_requests = cx.n_requests;
    *out = c;
    return TAAP_OK;
}

taap_code taap_collection_parse(const char *json, size_t len, taap_collection **out,
                                taap_error *err)
{
    taap_code rc = collection_parse_impl(json, len, out, err);
    if (rc != TAAP_OK)
        pm_err_oneline(err);
    return rc;
}

taap_code taap_collection_load(const char *path, taap_collection **out, taap_error *err)
{
    char *buf;
    size_t len;
    *out = NULL;
    taap_code rc = taap_read_file(path, TAAP_COLLECTION_MAX_BYTES, 0, &buf, &len, err);
    if (rc != TAAP_OK)
        return rc;
    rc = taap_collection_parse(buf, len, out, err);
    free(buf);
    return rc == TAAP_OK ? rc : pm_err_prefix(err, rc, path);
}

const pm_auth *pm_item_auth(const pm_item *it)
{
    for (const pm_item *p = it; p; p = p->parent)
        if (p->auth)
            return p->auth;
    return NULL;
}
