/*
 * fuzz_csv — iteration data (taap_iterdata_parse): RFC 4180 CSV, or a JSON
 * array of flat objects, as `taap run -d` reads it.
 *
 * Invariants: the error contract; every cell of every row can be read, and
 * a cell is a NUL-terminated string no longer than the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "taap/postman.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    taap_iterdata *d = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_iterdata_parse((const char *)data, size, &d, &err);
    fuzz_check_error(rc, &err, "taap_iterdata_parse");
    if (rc != TAAP_OK)
        return 0;
    if (!d)
        fuzz_fail("taap_iterdata_parse succeeded without data", NULL);
    size_t rows = taap_iterdata_rows(d);
    static const char *const cols[] = { "iccid", "status", "a", "b", "name", "value", "" };
    for (size_t r = 0; r < rows && r < 1000; r++)
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            const char *v = taap_iterdata_get(d, r, cols[k]);
            if (v && strlen(v) > size)
                fuzz_fail("a cell longer than the whole input", NULL);
        }
    (void)taap_iterdata_get(d, rows, "a"); /* one past the end must be NULL, not a read */
    taap_iterdata_free(d);
    return 0;
}
