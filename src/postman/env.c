/*
 * env.c — Postman environment and globals files.
 *
 * Newman's --export-environment loses the `enabled` flags and turns
 * `type:"secret"` into "any" (newman#3067); here the original JSON document
 * is kept and only changed values are written back, so an exported file
 * differs from the input in nothing but the values the run changed.
 */
#include <stdlib.h>
#include <string.h>

#include "pm.h"

struct taap_varset {
    json_t *doc;      /* the original document (object or bare array); NULL if new */
    pm_scope scope;   /* effective enabled values, last enabled duplicate wins */
    pm_scope orig;    /* values as loaded, to detect changes on export */
};

taap_varset *taap_varset_new(void)
{
    return calloc(1, sizeof(taap_varset));
}

void taap_varset_free(taap_varset *v)
{
    if (!v)
        return;
    json_decref(v->doc);
    pm_scope_clear(&v->scope);
    pm_scope_clear(&v->orig);
    free(v);
}

const char *taap_varset_get(const taap_varset *v, const char *key)
{
    return v && key ? pm_scope_get(&v->scope, key) : NULL;
}

int taap_varset_is_secret(const taap_varset *v, const char *key)
{
    const pm_var *x = v && key ? pm_scope_find(&v->scope, key) : NULL;
    return x ? x->secret : 0;
}

taap_code taap_varset_set(taap_varset *v, const char *key, const char *value, taap_error *err)
{
    if (!v || !key || !*key)
        return taap_fail(err, TAAP_E_USAGE, "variable name is empty");
    if (pm_scope_set(&v->scope, key, value ? value : "", 0) != 0)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

/* Internal accessor for the runner. */
pm_scope *pm_varset_scope(taap_varset *v);
pm_scope *pm_varset_scope(taap_varset *v)
{
    return v ? &v->scope : NULL;
}

static json_t *values_array(json_t *doc)
{
    if (json_is_array(doc))
        return doc;
    json_t *a = json_object_get(doc, "values");
    return json_is_array(a) ? a : NULL;
}

static int entry_enabled(json_t *e)
{
    json_t *d = json_object_get(e, "disabled");
    json_t *en = json_object_get(e, "enabled");
    if (json_is_true(d))
        return 0;
    if (json_is_false(en)) /* the Postman app honours it; Newman does not (#2986) */
        return 0;
    return 1;
}

static const char *entry_key(json_t *e)
{
    json_t *k = json_object_get(e, "key");
    if (!json_is_string(k))
        k = json_object_get(e, "id");
    return json_is_string(k) ? json_string_value(k) : NULL;
}

/* Decode UTF-16LE (with BOM) into UTF-8; Newman accepts such files. */
static char *utf16le_to_utf8(const unsigned char *p, size_t n)
{
    pm_buf b = {0};
    for (size_t i = 2; i + 1 < n; i += 2) {
        uint32_t c = (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8);
        if (c >= 0xD800 && c <= 0xDBFF && i + 3 < n) {
            uint32_t lo = (uint32_t)p[i + 2] | ((uint32_t)p[i + 3] << 8);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        unsigned char o[4];
        size_t k;
        if (c < 0x80) {
            o[0] = (unsigned char)c;
            k = 1;
        } else if (c < 0x800) {
            o[0] = (unsigned char)(0xC0 | (c >> 6));
            o[1] = (unsigned char)(0x80 | (c & 0x3F));
            k = 2;
        } else if (c < 0x10000) {
            o[0] = (unsigned char)(0xE0 | (c >> 12));
            o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            o[2] = (unsigned char)(0x80 | (c & 0x3F));
            k = 3;
        } else {
            o[0] = (unsigned char)(0xF0 | (c >> 18));
            o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            o[3] = (unsigned char)(0x80 | (c & 0x3F));
            k = 4;
        }
        pm_buf_put(&b, o, k);
    }
    return pm_buf_take(&b);
}

static taap_code varset_parse_impl(const char *json, size_t len, taap_varset **out, taap_error *err)
{
    *out = NULL;
    if (!json)
        return taap_fail(err, TAAP_E_USAGE, "no text");
    if (len > TAAP_VARSET_MAX_BYTES)
        return taap_fail(err, TAAP_E_CONFIG, "larger than %u bytes", TAAP_VARSET_MAX_BYTES);
    char *conv = NULL;
    if (len >= 2 && (unsigned char)json[0] == 0xFF && (unsigned char)json[1] == 0xFE) {
        conv = utf16le_to_utf8((const unsigned char *)json, len);
        if (!conv)
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        json = conv;
        len = strlen(conv);
    }
    if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        json += 3;
        len -= 3;
    }
    json_error_t je;
    json_t *doc = json_loadb(json, len, 0, &je);
    free(conv);
    if (!doc)
        return taap_fail(err, TAAP_E_CONFIG, "not JSON (line %d: %s)", je.line, je.text);
    json_t *arr = values_array(doc);
    if (!arr) {
        json_decref(doc);
        return taap_fail(err, TAAP_E_CONFIG,
                         "not a Postman environment or globals file (no \"values\" array)");
    }
    taap_varset *v = taap_varset_new();
    if (!v) {
        json_decref(doc);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    v->doc = doc;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_object(e)) {
            taap_varset_free(v);
            return taap_fail(err, TAAP_E_CONFIG, "values[%zu] is not an object", i);
        }
        const char *k = entry_key(e);
        if (!k) {
            taap_varset_free(v);
            return taap_fail(err, TAAP_E_CONFIG, "values[%zu] has no \"key\"", i);
        }
        if (!entry_enabled(e))
            continue;
        json_t *ty = json_object_get(e, "type");
        int secret = json_is_string(ty) && strcmp(json_string_value(ty), "secret") == 0;
        char *s = pm_json_to_string(json_object_get(e, "value"));
        if (!s || pm_scope_set(&v->scope, k, s, secret) != 0 ||
            pm_scope_set(&v->orig, k, s, secret) != 0) {
            taap_free_secret_str(s);
            taap_varset_free(v);
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        }
        taap_free_secret_str(s);
    }
    *out = v;
    return TAAP_OK;
}

taap_code taap_varset_parse(const char *json, size_t len, taap_varset **out, taap_error *err)
{
    taap_code rc = varset_parse_impl(json, len, out, err);
    if (rc != TAAP_OK)
        pm_err_oneline(err);
    return rc;
}

taap_code taap_varset_load(const char *path, taap_varset **out, taap_error *err)
{
    char *buf;
    size_t len;
    *out = NULL;
    taap_code rc = taap_read_file(path, TAAP_VARSET_MAX_BYTES, 0, &buf, &len, err);
    if (rc != TAAP_OK)
        return rc;
    rc = taap_varset_parse(buf, len, out, err);
    taap_free_secret(buf, len); /* environments hold client secrets and keys */
    return rc == TAAP_OK ? rc : pm_err_prefix(err, rc, path);
}

taap_code taap_varset_dump(const taap_varset *v, char **json, taap_error *err)
{
    *json = NULL;
    if (!v)
        return taap_fail(err, TAAP_E_USAGE, "no variable set");
    json_t *doc = v->doc ? json_deep_copy(v->doc) : NULL;
    if (!doc) {
        doc = json_pack("{s:s,s:[],s:s}", "name", "taap", "values", "_postman_variable_scope",
                        "environment");
        if (!doc)
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    json_t *arr = values_array(doc);
    /* the effective entry of a key is its last enabled one */
    for (size_t s = 0; s < v->scope.n; s++) {
        const pm_var *var = &v->scope.v[s];
        const char *old = pm_scope_get(&v->orig, var->key);
        if (old && strcmp(old, var->value) == 0)
            continue; /* unchanged: keep the original JSON value and type */
        json_t *target = NULL;
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            const char *k = json_is_object(e) ? entry_key(e) : NULL;
            if (k && strcmp(k, var->key) == 0 && entry_enabled(e))
                target = e;
        }
        if (target) {
            json_object_set_new(target, "value", json_string(var->value));
        } else {
            json_t *ne = json_pack("{s:s,s:s,s:s,s:b}", "key", var->key, "value", var->value,
                                   "type", pm_name_sensitive(var->key) ? "secret" : "default",
                                   "enabled", 1);
            if (!ne || json_array_append_new(arr, ne) != 0) {
                json_decref(doc);
                return taap_fail(err, TAAP_E_NOMEM, "out of memory");
            }
        }
    }
    *json = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!*json)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

taap_code taap_varset_export(const taap_varset *v, const char *path, taap_error *err)
{
    char *text;
    taap_code rc = taap_varset_dump(v, &text, err);
    if (rc != TAAP_OK)
        return rc;
    size_t n = strlen(text);
    rc = taap_write_file_atomic(path, text, n, 0600, 1, err);
    taap_free_secret(text, n);
    return rc;
}
