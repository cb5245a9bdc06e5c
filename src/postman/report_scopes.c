/*
 * report_scopes.c — the JSON report's `collection`, `environment` and
 * `globals` sections, built once when the run ends (the variables as the
 * run left them) and kept in the result for report_json.c.
 *
 * environment/globals are Newman's VariableScope JSON: the file's
 * underscore keys under "_" (`_postman_variable_scope` →
 * `"_":{"postman_variable_scope":…}`), id, name, then values as
 * {type, value, key} — type kept when it is one the SDK knows (string,
 * boolean, number, any), else "any"; disabled entries listed without
 * their flag, as Newman lists them. collection is the collection document
 * as it was read (Newman writes the SDK's normalised form, with generated
 * ids and parsed URLs: the same items, names, ids, variables and scripts,
 * not the same bytes). Unlike Newman, secrets are redacted here as in
 * every report: secret-typed or secret-named variables, and any known
 * secret inside a string (--no-redact keeps them).
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"

static const char *const sdk_types[] = {"string", "boolean", "number", "any"};

/* A string redacted (a new reference); other values as they are. */
static json_t *red_value(pm_run *cx, json_t *v, int secret)
{
    if (cx->o->no_redact)
        return json_incref(v);
    if (secret && !json_is_null(v))
        return json_string("<redacted>");
    if (!json_is_string(v))
        return json_incref(v);
    char *r = pm_redact(&cx->secrets, json_string_value(v));
    json_t *o = r ? json_string(r) : NULL;
    free(r);
    return o;
}

/* 1 if the {key, value, type} object `o` holds a secret value: a
 * secret-typed entry, or a key that names one (password, token …). */
static int secret_entry(json_t *o)
{
    const char *k = json_string_value(json_object_get(o, "key"));
    const char *t = json_string_value(json_object_get(o, "type"));
    return k && ((t && !strcmp(t, "secret")) || pm_name_sensitive(k));
}

/* A copy of `v` with every string redacted and the value of a secret
 * {key, value} entry (auth attributes, variables) replaced. */
static json_t *red_tree(pm_run *cx, json_t *v, int secret)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        int sec = secret_entry(v);
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
            json_object_set_new(o, k, red_tree(cx, e, sec && !strcmp(k, "value")));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            json_array_append_new(a, red_tree(cx, e, 0));
        }
        return a;
    }
    return red_value(cx, v, secret);
}

char *pm_report_collection(pm_run *cx)
{
    if (!cx->c->doc)
        return NULL;
    json_t *copy = red_tree(cx, cx->c->doc, 0);
    char *s = copy ? json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(copy);
    return s;
}

/* {type, value, key} of one file entry. */
static json_t *scope_value(pm_run *cx, json_t *e)
{
    json_t *k = json_object_get(e, "key");
    if (!json_is_string(k))
        return NULL;
    const char *t = json_string_value(json_object_get(e, "type"));
    const char *type = "any";
    for (size_t i = 0; t && i < sizeof sdk_types / sizeof sdk_types[0]; i++)
        if (!strcmp(t, sdk_types[i]))
            type = sdk_types[i];
    int secret = secret_entry(e);
    json_t *v = json_object_get(e, "value");
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "value", v ? red_value(cx, v, secret) : json_null());
    json_object_set(o, "key", k);
    return o;
}

char *pm_report_scope(pm_run *cx, const taap_varset *v)
{
    char *text = NULL;
    taap_error e = TAAP_ERROR_INIT;
    if (taap_varset_dump(v, &text, &e) != TAAP_OK)
        return NULL;
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    /* no file given: taap's stand-in name is not shown */
    int stand_in = !json_object_get(doc, "id") &&
                   !strcmp(json_string_value(json_object_get(doc, "name")) ?
                               json_string_value(json_object_get(doc, "name")) : "", "taap");
    json_t *out = json_object(), *under = json_object(), *values = json_array();
    const char *k;
    json_t *val;
    json_object_foreach(doc, k, val) {
        if (k[0] == '_' && k[1] && !stand_in)
            json_object_set(under, k + 1, val);
    }
    if (json_object_size(under))
        json_object_set(out, "_", under);
    if (json_object_get(doc, "id"))
        json_object_set(out, "id", json_object_get(doc, "id"));
    if (!stand_in && json_object_get(doc, "name"))
        json_object_set(out, "name", json_object_get(doc, "name"));
    size_t i;
    json_t *ent;
    json_array_foreach(json_object_get(doc, "values"), i, ent) {
        json_t *sv = json_is_object(ent) ? scope_value(cx, ent) : NULL;
        if (sv)
            json_array_append_new(values, sv);
    }
    json_object_set_new(out, "values", values);
    char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(under);
    json_decref(out);
    json_decref(doc);
    return s;
}
