/*
 * cmd_call_output.h — what `taap call` prints besides the body: curl's
 * -w/--write-out variables, -D/--dump-header, --json-output, and the
 * upload progress line.
 */
#ifndef TAAP_CMD_CALL_OUTPUT_H
#define TAAP_CMD_CALL_OUTPUT_H

#include <stdint.h>
#include <stdio.h>
#include "taap/http.h"

/* What the -w variables and --json-output describe. */
typedef struct call_result {
    const taap_http_response *resp; /* the last response */
    const char *url_effective;      /* the last URL requested */
    const char *method;
    double time_total;              /* seconds, first request to last byte */
    long redirects;                 /* hops followed by -L */
    int exit_status;
} call_result;

/*
 * Expand a -w format: %{http_code} %{response_code} %{time_total}
 * %{size_download} %{url_effective} %{header_json} %{num_redirects}
 * %{content_type} %{method} %{exitcode} %{json}, %% and the escapes \n \r
 * \t \\. An unknown variable is skipped with one warning (as curl does).
 */
int call_write_out(FILE *out, const char *format, const call_result *r);

/* The status line and headers as received (-D, -i, -I). */
void call_print_headers(FILE *out, const taap_http_response *r);

/* --json-output: {"status","headers","body","time_total","url",…} on one
 * line. The body is parsed JSON when it is, else a string (or null with
 * "body_bytes" when it is not UTF-8). 0, or -1 when writing failed. */
int call_print_json(FILE *out, const call_result *r);

/* The upload progress line on stderr: shown once the upload has taken
 * delay_ns (one second; $TAAP_PROGRESS_DELAY_MS changes it, so a test sees
 * the line without a slow upload), at most every quarter second, cleared
 * at the end. */
typedef struct call_progress {
    int64_t start_ns, last_ns, delay_ns;
    int shown;
} call_progress;
/* The delay before the line: $TAAP_PROGRESS_DELAY_MS (0..60000) or 1 s. */
int64_t call_progress_delay_ns(void);
int call_progress_hook(void *ctx, uint64_t sent, int64_t total);
void call_progress_end(call_progress *p);
int64_t call_now_ns(void);

#endif
