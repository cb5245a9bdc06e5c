/*
 * fuzz_postman — the Postman collection and environment/globals loaders
 * (taap_collection_parse, taap_varset_parse) on the same input, plus the
 * varset round trip (dump → parse) that `taap run --export-environment`
 * relies on.
 *
 * Invariants: the error contract; a loaded collection answers its
 * accessors; a dumped varset parses again and keeps a variable set on it.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "taap/postman.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    const char *json = (const char *)data;
    taap_error err = TAAP_ERROR_INIT;

    taap_collection *c = NULL;
    taap_code rc = taap_collection_parse(json, size, &c, &err);
    fuzz_check_error(rc, &err, "taap_collection_parse");
    if (rc == TAAP_OK) {
        if (!c)
            fuzz_fail("taap_collection_parse succeeded without a collection", NULL);
        if (!taap_collection_name(c))
            fuzz_fail("a collection without a name string", NULL);
        (void)taap_collection_request_count(c);
        (void)taap_collection_variable(c, "base");
        taap_collection_free(c);
    }

    taap_varset *v = NULL;
    err = (taap_error)TAAP_ERROR_INIT;
    rc = taap_varset_parse(json, size, &v, &err);
    fuzz_check_error(rc, &err, "taap_varset_parse");
    if (rc == TAAP_OK) {
        if (!v)
            fuzz_fail("taap_varset_parse succeeded without a set", NULL);
        (void)taap_varset_get(v, "base");
        (void)taap_varset_is_secret(v, "base");
        if (taap_varset_set(v, "fuzz_token", "value \"quoted\" \\ {{x}}", &err) != TAAP_OK)
            fuzz_fail("taap_varset_set failed", err.message);
        char *dump = NULL;
        if (taap_varset_dump(v, &dump, &err) != TAAP_OK)
            fuzz_fail("taap_varset_dump failed on a loaded set", err.message);
        taap_varset *again = NULL;
        if (taap_varset_parse(dump, strlen(dump), &again, &err) != TAAP_OK)
            fuzz_fail("a dumped varset does not parse again", err.message);
        const char *val = taap_varset_get(again, "fuzz_token");
        if (!val || strcmp(val, "value \"quoted\" \\ {{x}}") != 0)
            fuzz_fail("a variable set before dump is lost or altered", NULL);
        taap_varset_free(again);
        free(dump);
        taap_varset_free(v);
    }
    return 0;
}
