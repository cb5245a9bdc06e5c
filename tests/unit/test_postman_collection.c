/* test_postman_collection.c — collection, environment and iteration-data
 * parsing against Postman's own fixtures (../shared/conformance/postman). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pm.h"
#include "testutil.h"

static taap_collection *load(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "conformance/postman/%s", name);
    taap_collection *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_collection_load(tu_shared(rel), &c, &err);
    if (rc != TAAP_OK)
        fprintf(stderr, "%s: %s\n", name, err.message);
    assert_int_equal(rc, TAAP_OK);
    assert_non_null(c);
    return c;
}

static taap_collection *parse(const char *json)
{
    taap_collection *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_collection_parse(json, strlen(json), &c, &err);
    if (rc != TAAP_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, TAAP_OK);
    return c;
}

static const pm_item *child(const pm_item *p, const char *name)
{
    for (size_t i = 0; i < p->n_children; i++)
        if (!strcmp(p->children[i].name, name))
            return &p->children[i];
    fail_msg("no item %s under %s", name, p->name);
    return NULL;
}

static void test_all_conformance_files_parse(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        size_t requests;
    } files[] = {
        {"schemas--apikeyAuthTest.postman_collection.json", 1},
        {"schemas--nestedEntities.postman_collection.json", 2},
        {"schemas--proper-url-parsing.postman_collection.json", 1},
        {"schemas--req-body-file-src-null.postman_collection.json", 1},
        {"schemas--reqBodyContentType.postman_collection.json", 3},
        {"schemas--reqBodyGraphQL.postman_collection.json", 1},
        {"schemas--request.postman_collection.json", 1},
        {"transformer--echo.postman_collection.json", 23},
        {"transformer--httpbin.postman_collection.json", 4},
        {"transformer--multi-level.v21.postman_collection.json", 6},
        {"transformer--rawjsonbody.postman_collection.json", 1},
        {"transformer--urlencoded-post-data.postman_collection.json", 1},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        taap_collection *c = load(files[i].file);
        assert_int_equal(taap_collection_request_count(c), files[i].requests);
        assert_true(strlen(taap_collection_name(c)) > 0);
        taap_collection_free(c);
    }
    static const char *const envs[] = {"newman--disabled-and-duplicates.postman_environment.json",
                                       "newman--slashed-variable-names.postman_environment.json"};
    for (size_t i = 0; i < 2; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "conformance/postman/%s", envs[i]);
        taap_varset *v = NULL;
        assert_int_equal(taap_varset_load(tu_shared(rel), &v, NULL), TAAP_OK);
        taap_varset_free(v);
    }
}

static void test_nested_folders(void **state)
{
    (void)state;
    taap_collection *c = load("transformer--multi-level.v21.postman_collection.json");
    const pm_item *f1 = child(&c->root, "F1");
    assert_true(f1->is_folder);
    const pm_item *f3 = child(child(f1, "F2"), "F3");
    const pm_item *r3 = child(f3, "R3");
    assert_false(r3->is_folder);
    assert_string_equal(r3->path, "F1 / F2 / F3 / R3");
    assert_string_equal(r3->method, "GET");
    assert_string_equal(r3->url, ""); /* URL object with an empty raw */
    /* depth-first order: F1 holds F2 then R1 */
    assert_string_equal(f1->children[0].name, "F2");
    assert_string_equal(f1->children[1].name, "R1");
    const pm_item *f4 = child(&c->root, "F4");
    assert_string_equal(child(child(f4, "F6"), "R6")->path, "F4 / F6 / R6");
    taap_collection_free(c);
}

static void test_request_structure(void **state)
{
    (void)state;
    taap_collection *c = load("schemas--request.postman_collection.json");
    const pm_item *it = &c->root.children[0];
    assert_string_equal(it->name, "Sample request");
    /* the object form is rebuilt from components (raw ignored, like the SDK) */
    assert_string_equal(it->url, "https://postman-echo.com:443/alpha/{{beta}}/:gamma?foo=bar#random");
    assert_string_equal(pm_kv_get(&it->path_vars, "gamma"), "radiation");
    assert_int_equal(it->headers.n, 1);
    assert_string_equal(it->headers.v[0].key, "Content-Type");
    assert_string_equal(it->headers.v[0].value, "application/json; charset=utf8");
    assert_int_equal(it->body.mode, PM_BODY_FORMDATA);
    assert_int_equal(it->body.params.n, 7);
    assert_string_equal(it->body.params.v[6].key, "count");
    assert_string_equal(it->body.params.v[6].value, "10");
    assert_non_null(it->auth);
    assert_string_equal(it->auth->type, "noauth");
    taap_collection_free(c);
}

static void test_url_forms(void **state)
{
    (void)state;
    taap_collection *c = load("schemas--proper-url-parsing.postman_collection.json");
    assert_string_equal(c->root.children[0].url,
                        "https://ani{{yo}}ket:{{asd}}@{{hellohost}}:2002/crazyvar/{{yo}}/"
                        ":awesome?a=b&c=d#/awesomeshit");
    taap_collection_free(c);

    c = load("transformer--httpbin.postman_collection.json");
    const pm_item *f = child(&c->root, "All POST JSON ");
    assert_string_equal(f->children[0].url, "//httpbin.org/post?random=yeah");
    const pm_item *pv = child(&c->root, "PathVariables");
    assert_string_equal(pv->url, "httpbin.org/status/:code");
    assert_string_equal(pm_kv_get(&pv->path_vars, "code"), "201"); /* matched by id */
    taap_collection_free(c);

    /* an object with only raw works (Newman would send an empty URL) */
    c = parse("{\"info\":{\"name\":\"x\",\"schema\":\"whatever\"},\"item\":[{\"name\":\"r\","
              "\"request\":{\"method\":\"get\",\"url\":{\"raw\":\"http://h/a?b=1\"}}},"
              "{\"name\":\"s\",\"request\":\"http://h/plain\"},"
              "{\"name\":\"q\",\"request\":{\"url\":{\"host\":[\"{{base}}\"],\"path\":[\"v1\","
              "\"x\"],\"query\":[{\"key\":\"a\",\"value\":null},{\"key\":\"b\",\"value\":\"\"},"
              "{\"key\":\"c\",\"value\":\"3\",\"disabled\":true}]}}}]}");
    assert_string_equal(c->root.children[0].url, "http://h/a?b=1");
    assert_string_equal(c->root.children[0].method, "GET"); /* upper-cased */
    assert_string_equal(c->root.children[1].url, "http://h/plain");
    assert_string_equal(c->root.children[1].method, "GET");
    assert_string_equal(c->root.children[2].url, "{{base}}/v1/x?a&b=");
    taap_collection_free(c);
}

static void test_headers_disabled_and_string(void **state)
{
    (void)state;
    taap_collection *c =
        parse("{\"info\":{\"name\":\"x\"},\"item\":[{\"name\":\"r\",\"request\":{\"url\":\"h\","
              "\"header\":[{\"key\":\"A\",\"value\":\"1\"},{\"key\":\"B\",\"value\":\"2\","
              "\"disabled\":true}]}},{\"name\":\"s\",\"request\":{\"url\":\"h\",\"header\":"
              "\"X-One: 1\\nX-Two:  two words \"}}]}");
    const pm_item *r = &c->root.children[0];
    assert_int_equal(r->headers.n, 2);
    assert_false(r->headers.v[0].disabled);
    assert_true(r->headers.v[1].disabled);
    const pm_item *s = &c->root.children[1];
    assert_int_equal(s->headers.n, 2);
    assert_string_equal(s->headers.v[1].key, "X-Two");
    assert_string_equal(s->headers.v[1].value, "two words");
    taap_collection_free(c);
}

static void test_bodies(void **state)
{
    (void)state;
    taap_collection *c = load("schemas--reqBodyContentType.postman_collection.json");
    assert_int_equal(c->root.children[0].body.mode, PM_BODY_NONE); /* body disabled */
    const pm_body *t = &c->root.children[1].body;
    assert_int_equal(t->mode, PM_BODY_FORMDATA);
    assert_string_equal(t->params.v[1].content_type, "application/json");
    assert_string_equal(t->params.v[2].value, "key,value\n1,a\n2,b");
    const pm_body *f = &c->root.children[2].body;
    assert_string_equal(f->params.v[0].type, "file");
    assert_int_equal(f->params.v[0].n_src, 1);
    assert_string_equal(f->params.v[0].src[0], "path/to/file.json");
    taap_collection_free(c);

    c = load("schemas--reqBodyGraphQL.postman_collection.json");
    const pm_body *g = &c->root.children[0].body;
    assert_int_equal(g->mode, PM_BODY_GRAPHQL);
    assert_string_equal(g->gql_query, "query Test { hello }");
    assert_string_equal(g->gql_variables, "{\"foo\":\"bar\"}");
    taap_collection_free(c);

    c = load("transformer--urlencoded-post-data.postman_collection.json");
    const pm_body *u = &c->root.children[0].body;
    assert_int_equal(u->mode, PM_BODY_URLENCODED);
    assert_int_equal(u->params.n, 2);
    assert_string_equal(u->params.v[0].key, "akshay");
    assert_string_equal(u->params.v[0].value, "bald");
    taap_collection_free(c);

    c = load("transformer--rawjsonbody.postman_collection.json");
    const pm_item *rj = &c->root.children[0];
    assert_int_equal(rj->body.mode, PM_BODY_RAW);
    assert_string_equal(rj->body.raw, "{\n    \"asd\": \"tyyy\"\n}");
    assert_string_equal(rj->url, "httpbin.org/:method");
    assert_string_equal(pm_kv_get(&rj->path_vars, "method"), "post");
    taap_collection_free(c);

    c = load("schemas--req-body-file-src-null.postman_collection.json");
    assert_int_equal(c->root.children[0].body.mode, PM_BODY_FILE);
    assert_null(c->root.children[0].body.file_src);
    taap_collection_free(c);

    c = parse("{\"info\":{\"name\":\"x\"},\"item\":[{\"name\":\"r\",\"request\":{\"method\":"
              "\"POST\",\"url\":\"h\",\"body\":{\"mode\":\"raw\",\"raw\":\"{}\",\"options\":"
              "{\"raw\":{\"language\":\"json\"}}}}},{\"name\":\"s\",\"request\":{\"url\":\"h\","
              "\"body\":{\"mode\":\"weird\"}}}]}");
    assert_string_equal(c->root.children[0].body.language, "json");
    assert_int_equal(c->root.children[1].body.mode, PM_BODY_UNSUPPORTED);
    taap_collection_free(c);
}

static void test_auth_and_inheritance(void **state)
{
    (void)state;
    taap_collection *c = load("schemas--nestedEntities.postman_collection.json");
    assert_string_equal(c->root.auth->type, "basic");
    assert_string_equal(pm_kv_get(&c->root.auth->attrs, "username"), "{{username}}");
    const pm_item *basic = child(child(&c->root, "F1"), "Basic");
    assert_string_equal(pm_item_auth(basic)->type, "basic");
    assert_string_equal(pm_item_auth(child(&c->root, "OAuth1"))->type, "oauth1");
    assert_string_equal(taap_collection_variable(c, "key"), "value");
    assert_non_null(basic->test); /* scripts recorded for recognition */
    taap_collection_free(c);

    c = load("schemas--apikeyAuthTest.postman_collection.json");
    const pm_auth *a = pm_item_auth(&c->root.children[0]);
    assert_string_equal(a->type, "apikey");
    assert_string_equal(pm_kv_get(&a->attrs, "key"), "token");
    assert_string_equal(pm_kv_get(&a->attrs, "in"), "header");
    taap_collection_free(c);

    /* no auth → folder (none) → collection bearer; noauth stops the walk;
     * auth:null inherits */
    c = parse("{\"info\":{\"name\":\"x\"},\"auth\":{\"type\":\"bearer\",\"bearer\":[{\"key\":"
              "\"token\",\"value\":\"{{access_token}}\"}]},\"item\":[{\"name\":\"F\",\"item\":["
              "{\"name\":\"a\",\"request\":{\"url\":\"h\"}},{\"name\":\"b\",\"request\":{\"url\":"
              "\"h\",\"auth\":{\"type\":\"noauth\"}}},{\"name\":\"c\",\"request\":{\"url\":\"h\","
              "\"auth\":null}}]},{\"name\":\"G\",\"auth\":{\"type\":\"apikey\",\"apikey\":[]},"
              "\"item\":[{\"name\":\"d\",\"request\":{\"url\":\"h\"}}]}]}");
    const pm_item *f = child(&c->root, "F");
    assert_string_equal(pm_item_auth(child(f, "a"))->type, "bearer");
    assert_string_equal(pm_item_auth(child(f, "b"))->type, "noauth");
    assert_string_equal(pm_item_auth(child(f, "c"))->type, "bearer");
    assert_string_equal(pm_item_auth(child(child(&c->root, "G"), "d"))->type, "apikey");
    taap_collection_free(c);
}

static void test_bad_collections(void **state)
{
    (void)state;
    taap_collection *c = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_collection_parse("{", 1, &c, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "not JSON"));
    const char *v1 = "{\"name\":\"x\",\"requests\":[]}";
    assert_int_equal(taap_collection_parse(v1, strlen(v1), &c, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "v2"));
    const char *bad = "{\"info\":{},\"item\":[{\"name\":\"r\",\"request\":{\"method\":\"G T\","
                      "\"url\":\"h\"}}]}";
    assert_int_equal(taap_collection_parse(bad, strlen(bad), &c, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "r: method"));
    /* nesting bound */
    char deep[8192];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"info\":{},\"item\":[");
    for (int i = 0; i < 80; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"name\":\"f\",\"item\":[");
    for (int i = 0; i < 80; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "]}");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "]}");
    assert_int_equal(taap_collection_parse(deep, n, &c, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "nested"));
    assert_null(c);
}

/* ---- environments ------------------------------------------------------------ */

static void test_env_disabled_duplicates_slashes(void **state)
{
    (void)state;
    taap_varset *v = NULL;
    assert_int_equal(taap_varset_load(tu_shared("conformance/postman/"
                                                "newman--disabled-and-duplicates.postman_environment.json"),
                                      &v, NULL),
                     TAAP_OK);
    assert_null(taap_varset_get(v, "justDisabled"));
    assert_string_equal(taap_varset_get(v, "oneDisabled"), "1");
    assert_string_equal(taap_varset_get(v, "duplicate"), "2");
    taap_varset_free(v);
    assert_int_equal(taap_varset_load(tu_shared("conformance/postman/"
                                                "newman--slashed-variable-names.postman_environment.json"),
                                      &v, NULL),
                     TAAP_OK);
    assert_string_equal(taap_varset_get(v, "fo/o"), "alpha");
    assert_string_equal(taap_varset_get(v, "b\\ar"), "beta");
    taap_varset_free(v);

    /* enabled:false is honoured (Newman ignores it, #2986); globals as bare array; BOM */
    const char *g = "\xEF\xBB\xBF[{\"key\":\"a\",\"value\":\"1\",\"enabled\":false},"
                    "{\"key\":\"b\",\"value\":2,\"enabled\":true},{\"key\":\"c\",\"value\":true}]";
    assert_int_equal(taap_varset_parse(g, strlen(g), &v, NULL), TAAP_OK);
    assert_null(taap_varset_get(v, "a"));
    assert_string_equal(taap_varset_get(v, "b"), "2");
    assert_string_equal(taap_varset_get(v, "c"), "true");
    taap_varset_free(v);

    /* UTF-16LE with BOM */
    const char *src = "{\"values\":[{\"key\":\"k\",\"value\":\"v\\u00e9\"}]}";
    unsigned char u16[256];
    size_t n = 0;
    u16[n++] = 0xFF;
    u16[n++] = 0xFE;
    for (const char *p = src; *p; p++) {
        u16[n++] = (unsigned char)*p;
        u16[n++] = 0;
    }
    assert_int_equal(taap_varset_parse((const char *)u16, n, &v, NULL), TAAP_OK);
    assert_string_equal(taap_varset_get(v, "k"), "v\xC3\xA9");
    taap_varset_free(v);

    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_varset_parse("{\"x\":1}", 7, &v, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "values"));
}

static void test_env_export_lossless(void **state)
{
    (void)state;
    const char *src =
        "{\"id\":\"e1\",\"name\":\"TAAP dev\",\"values\":["
        "{\"key\":\"client_secret\",\"value\":\"s3cr3t-value\",\"type\":\"secret\",\"enabled\":true},"
        "{\"key\":\"off\",\"value\":\"old\",\"type\":\"default\",\"enabled\":false},"
        "{\"key\":\"port\",\"value\":8080,\"type\":\"default\",\"enabled\":true},"
        "{\"key\":\"access_token\",\"value\":\"\",\"type\":\"secret\",\"enabled\":true}],"
        "\"_postman_variable_scope\":\"environment\",\"_postman_exported_using\":\"Postman/10\"}";
    taap_varset *v = NULL;
    assert_int_equal(taap_varset_parse(src, strlen(src), &v, NULL), TAAP_OK);
    assert_true(taap_varset_is_secret(v, "client_secret"));
    assert_int_equal(taap_varset_set(v, "access_token", "AT-123", NULL), TAAP_OK);
    assert_int_equal(taap_varset_set(v, "new_var", "n", NULL), TAAP_OK);
    char *dir = tu_tempdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/env.json", dir);
    assert_int_equal(taap_varset_export(v, path, NULL), TAAP_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "_postman_exported_using")),
                        "Postman/10");
    json_t *vals = json_object_get(j, "values");
    assert_int_equal(json_array_size(vals), 5);
    json_t *e0 = json_array_get(vals, 0), *e1 = json_array_get(vals, 1),
           *e2 = json_array_get(vals, 2), *e3 = json_array_get(vals, 3),
           *e4 = json_array_get(vals, 4);
    assert_string_equal(json_string_value(json_object_get(e0, "type")), "secret");
    assert_true(json_is_false(json_object_get(e1, "enabled")));
    assert_string_equal(json_string_value(json_object_get(e1, "value")), "old");
    assert_true(json_is_integer(json_object_get(e2, "value"))); /* unchanged: type kept */
    assert_string_equal(json_string_value(json_object_get(e3, "value")), "AT-123");
    assert_string_equal(json_string_value(json_object_get(e3, "type")), "secret");
    assert_string_equal(json_string_value(json_object_get(e4, "key")), "new_var");
    assert_true(json_is_true(json_object_get(e4, "enabled")));
    json_decref(j);
    /* round trip: reload the export, same values */
    taap_varset *w = NULL;
    assert_int_equal(taap_varset_load(path, &w, NULL), TAAP_OK);
    assert_string_equal(taap_varset_get(w, "access_token"), "AT-123");
    assert_null(taap_varset_get(w, "off"));
    assert_string_equal(taap_varset_get(w, "port"), "8080");
    assert_true(taap_varset_is_secret(w, "client_secret"));
    /* exporting an unchanged set reproduces the document */
    char *a = NULL, *b = NULL;
    assert_int_equal(taap_varset_dump(w, &a, NULL), TAAP_OK);
    assert_int_equal(taap_varset_export(w, path, NULL), TAAP_OK);
    b = tu_read(path, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    taap_varset_free(w);
    taap_varset_free(v);
    tu_rmtree(dir);
    free(dir);
}

/* ---- iteration data ---------------------------------------------------------- */

static taap_iterdata *data(const char *text)
{
    taap_iterdata *d = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_iterdata_parse(text, strlen(text), &d, &err);
    if (rc != TAAP_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, TAAP_OK);
    return d;
}

static void test_csv(void **state)
{
    (void)state;
    taap_iterdata *d = data("\xEF\xBB\xBFiccid,name,note\r\n"
                            "8901260000000000001,\"Smith, Jo\",\"she said \"\"hi\"\"\"\r\n"
                            "89111702272002019559, spaced ,\"line1\nline2\"\r\n"
                            "\r\n"
                            "0012,short\n"
                            "1,2,3,4\n");
    assert_int_equal(taap_iterdata_rows(d), 4);
    assert_string_equal(taap_iterdata_get(d, 0, "iccid"), "8901260000000000001");
    assert_string_equal(taap_iterdata_get(d, 0, "name"), "Smith, Jo");
    assert_string_equal(taap_iterdata_get(d, 0, "note"), "she said \"hi\"");
    assert_string_equal(taap_iterdata_get(d, 1, "iccid"), "89111702272002019559");
    assert_string_equal(taap_iterdata_get(d, 1, "name"), "spaced"); /* trimmed like Newman */
    assert_string_equal(taap_iterdata_get(d, 1, "note"), "line1\nline2");
    assert_string_equal(taap_iterdata_get(d, 2, "iccid"), "0012"); /* leading zeros kept */
    assert_null(taap_iterdata_get(d, 2, "note"));                  /* missing column */
    assert_string_equal(taap_iterdata_get(d, 3, "note"), "3");     /* extra field dropped */
    assert_null(taap_iterdata_get(d, 9, "iccid"));
    taap_iterdata_free(d);

    /* quoted field keeps its blanks; no trailing newline at EOF */
    d = data("a\n\"  x  \"");
    assert_string_equal(taap_iterdata_get(d, 0, "a"), "  x  ");
    taap_iterdata_free(d);

    taap_error err = TAAP_ERROR_INIT;
    taap_iterdata *bad = NULL;
    const char *t = "a,b\n1,\"open\n2,3\n";
    assert_int_equal(taap_iterdata_parse(t, strlen(t), &bad, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "line 2"));
    assert_non_null(strstr(err.message, "unterminated"));
    t = "a,a\n1,2\n";
    assert_int_equal(taap_iterdata_parse(t, strlen(t), &bad, &err), TAAP_E_CONFIG);
    t = "a\n\"x\"y\n";
    assert_int_equal(taap_iterdata_parse(t, strlen(t), &bad, &err), TAAP_E_CONFIG);
    assert_int_equal(taap_iterdata_parse("", 0, &bad, &err), TAAP_E_CONFIG);
}

static void test_json_data(void **state)
{
    (void)state;
    taap_iterdata *d = NULL;
    assert_int_equal(taap_iterdata_load(tu_shared("conformance/postman/"
                                                  "newman--data-file-var-replacement.postman_data.json"),
                                        &d, NULL),
                     TAAP_OK);
    assert_int_equal(taap_iterdata_rows(d), 2);
    assert_string_equal(taap_iterdata_get(d, 0, "dataVar"), "value1");
    assert_string_equal(taap_iterdata_get(d, 1, "dataVar"), "value2");
    taap_iterdata_free(d);
    /* numbers keep their text: 20 digits overflow int64, 19 lose precision in a double */
    d = data(" [{\"iccid\": 89111702272002019559, \"n\": -1.50e3, \"s\": \"1\\\"2\"},"
             " {\"iccid\": 8901260000000000001, \"b\": true}]");
    assert_string_equal(taap_iterdata_get(d, 0, "iccid"), "89111702272002019559");
    assert_string_equal(taap_iterdata_get(d, 0, "n"), "-1.50e3");
    assert_string_equal(taap_iterdata_get(d, 0, "s"), "1\"2");
    assert_string_equal(taap_iterdata_get(d, 1, "iccid"), "8901260000000000001");
    assert_string_equal(taap_iterdata_get(d, 1, "b"), "true");
    assert_null(taap_iterdata_get(d, 1, "n"));
    taap_iterdata_free(d);
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_iterdata_parse("[1]", 3, &d, &err), TAAP_E_CONFIG);
    assert_non_null(strstr(err.message, "not an object"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_conformance_files_parse),
        cmocka_unit_test(test_nested_folders),
        cmocka_unit_test(test_request_structure),
        cmocka_unit_test(test_url_forms),
        cmocka_unit_test(test_headers_disabled_and_string),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_auth_and_inheritance),
        cmocka_unit_test(test_bad_collections),
        cmocka_unit_test(test_env_disabled_duplicates_slashes),
        cmocka_unit_test(test_env_export_lossless),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_json_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
