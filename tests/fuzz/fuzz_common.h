/*
 * fuzz_common.h — shared by the libFuzzer targets (tests/fuzz/fuzz_*.c):
 * the contract checks every target applies to every result, and the
 * optional init hook the smoke driver (smoke_main.c) calls.
 *
 * A target defines LLVMFuzzerTestOneInput(); targets needing set-up define
 * LLVMFuzzerInitialize() (libFuzzer calls it once; so does the smoke driver).
 * Invariant violations call fuzz_fail(), which aborts: libFuzzer and the
 * smoke driver both report an abort as a finding with the input.
 */
#ifndef TAAP_FUZZ_COMMON_H
#define TAAP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taap/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz invariant violated: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

/*
 * The error contract of error.h: a failing call returns the code it put in
 * the record, with a non-empty, NUL-terminated, one-line message; a
 * succeeding call returns TAAP_OK.
 */
static inline void fuzz_check_error(taap_code rc, const taap_error *err, const char *call)
{
    if (rc == TAAP_OK)
        return;
    if (err->code != rc)
        fuzz_fail("error record code differs from the return value", call);
    size_t n = strnlen(err->message, sizeof err->message);
    if (n == 0)
        fuzz_fail("failure without a message", call);
    if (n == sizeof err->message)
        fuzz_fail("error message not NUL-terminated", call);
    if (memchr(err->message, '\n', n))
        fuzz_fail("error message spans several lines", call);
}

#endif
