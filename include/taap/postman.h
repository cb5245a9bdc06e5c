/*
 * taap/postman.h — run Postman collections (format v2.0 / v2.1) natively,
 * the way Newman does, with TAAP PoP signing built in (SPEC §4–5).
 *
 * Four opaque handles:
 *   taap_collection  a parsed collection (folders, requests, auth, variables)
 *   taap_varset      an environment or globals file (or an empty set), kept
 *                    losslessly so it can be exported again
 *   taap_iterdata    iteration data (CSV per RFC 4180 or a JSON array);
 *                    every value is a string, exactly as written
 *   taap_run_result  what a run did: one record per request sent
 *
 * Variables follow Newman: local > data > environment > collection > global
 * > dynamic ($guid, $timestamp, …); {{…}} nests up to 19 rounds; an
 * unresolved reference stays verbatim (one warning per name).
 *
 * The library never prints: progress reaches the caller through a
 * taap_run_report_fn callback, and the reporters return text.
 */
#ifndef TAAP_POSTMAN_H
#define TAAP_POSTMAN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"
#include "taap/key.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Input bounds: larger files are refused, never truncated. */
#define TAAP_COLLECTION_MAX_BYTES (64u * 1024u * 1024u)
#define TAAP_VARSET_MAX_BYTES (16u * 1024u * 1024u)
#define TAAP_ITERDATA_MAX_BYTES (256u * 1024u * 1024u)
#define TAAP_COLLECTION_MAX_DEPTH 64 /* folder nesting */

typedef struct taap_collection taap_collection;
typedef struct taap_varset taap_varset;
typedef struct taap_iterdata taap_iterdata;
typedef struct taap_run_result taap_run_result;

/* ---- collections --------------------------------------------------------- */

/*
 * taap_collection_load / taap_collection_parse — read a Postman collection.
 * Accepted leniently (any info.schema string, a string `request`, a string
 * `header`, raw-only URLs, unknown auth types and body modes: these are
 * reported only when a request that uses them is run). A UTF-8 BOM is
 * skipped. Errors: TAAP_E_IO (unreadable, too big), TAAP_E_CONFIG (not JSON,
 * not a collection; the message names the item). Free with
 * taap_collection_free(). The handle is immutable after loading.
 */
TAAP_API taap_code taap_collection_load(const char *path, taap_collection **out,
                                        taap_error *err);
TAAP_API taap_code taap_collection_parse(const char *json, size_t len, taap_collection **out,
                                         taap_error *err);
/* Free a collection. NULL-safe. */
TAAP_API void taap_collection_free(taap_collection *c);

/* The collection's info.name (never NULL). */
TAAP_API const char *taap_collection_name(const taap_collection *c);
/* Number of requests (items with a request), all folders included. */
TAAP_API size_t taap_collection_request_count(const taap_collection *c);
/* Collection variable value (NULL when absent or disabled). */
TAAP_API const char *taap_collection_variable(const taap_collection *c, const char *key);

/* ---- environments and globals ---------------------------------------------- */

/*
 * taap_varset_load — an environment or globals file: an object with
 * `values[]`, or a bare array of {key, value, enabled}. UTF-8 BOM and
 * UTF-16LE files are accepted. Entries with `disabled:true` or
 * `enabled:false` are hidden (Postman app semantics; Newman ignores
 * enabled:false); with duplicate keys the last enabled one wins.
 * The original document is kept for taap_varset_export().
 * taap_varset_new — an empty set (when no file was given).
 * Not thread-safe for concurrent set/get: the runner locks around it.
 */
TAAP_API taap_code taap_varset_load(const char *path, taap_varset **out, taap_error *err);
TAAP_API taap_code taap_varset_parse(const char *json, size_t len, taap_varset **out,
                                     taap_error *err);
/* An empty variable set (NULL when out of memory); free with
 * taap_varset_free(), which is NULL-safe. */
TAAP_API taap_varset *taap_varset_new(void);
TAAP_API void taap_varset_free(taap_varset *v);

/* Current value of an enabled variable, or NULL. Valid until the next set. */
TAAP_API const char *taap_varset_get(const taap_varset *v, const char *key);
/* Set (or add) a variable; the library copies both strings. */
TAAP_API taap_code taap_varset_set(taap_varset *v, const char *key, const char *value,
                                   taap_error *err);
/* 1 if the variable is marked secret (type "secret") in the file. */
TAAP_API int taap_varset_is_secret(const taap_varset *v, const char *key);

/*
 * taap_varset_export — write the set back as JSON: the original document
 * with only changed values updated and new variables appended, so types,
 * enabled flags, secret markers and every other field survive. Written
 * atomically (temporary file + rename) with mode 0600, overwriting `path`.
 * taap_varset_dump returns the same text (malloc'd, free()).
 */
TAAP_API taap_code taap_varset_export(const taap_varset *v, const char *path, taap_error *err);
TAAP_API taap_code taap_varset_dump(const taap_varset *v, char **json, taap_error *err);

/* ---- iteration data ---------------------------------------------------------- */

/*
 * taap_iterdata_load — a JSON array of flat objects, else CSV (RFC 4180:
 * first row names the columns; quoted fields with "" escapes, embedded
 * commas and newlines; CRLF or LF; BOM skipped; surrounding blanks of
 * unquoted fields trimmed like Newman). Every value stays a string exactly
 * as written: 8901260000000000001 is never turned into a number, in CSV or
 * in JSON. Errors: TAAP_E_IO, TAAP_E_CONFIG (with line number).
 */
TAAP_API taap_code taap_iterdata_load(const char *path, taap_iterdata **out, taap_error *err);
TAAP_API taap_code taap_iterdata_parse(const char *text, size_t len, taap_iterdata **out,
                                       taap_error *err);
/* Free iteration data (NULL-safe); the number of data rows it holds. */
TAAP_API void taap_iterdata_free(taap_iterdata *d);
TAAP_API size_t taap_iterdata_rows(const taap_iterdata *d);
/* Value of column `key` in row `row`, or NULL when the row lacks it. */
TAAP_API const char *taap_iterdata_get(const taap_iterdata *d, size_t row, const char *key);

/* ---- running ------------------------------------------------------------------- */

/*
 * Run options. Initialise with taap_run_options_init(); zero means default.
 */
typedef struct taap_run_options {
    size_t struct_size;            /* sizeof(taap_run_options), set by _init */
    unsigned iterations;           /* 0 → data rows, else 1 */
    const char *const *folders;    /* --folder selections: name, id or path "A/B" */
    size_t n_folders;
    unsigned delay_ms;             /* pause between requests */
    unsigned timeout_ms;           /* per request; 0 → none */
    int bail;                      /* stop at the first failed request */
    int insecure;                  /* skip TLS verification (-k) */
    const char *expect_status;     /* "2xx", "200", "200-204,404": overrides scripts */
    unsigned retries;              /* extra tries on transport errors and 5xx */
    unsigned jobs;                 /* iterations in parallel; 0/1 → sequential */
    int strict_vars;               /* an unresolved {{var}} fails the request */
    int taap;                      /* sign every request with a PoP */
    const char *token_var;         /* variable for the access token (default
                                      from the test script, else access_token) */
    const taap_key *key;           /* PoP key; NULL → PEM from a variable */
    int no_redact;                 /* show secrets and tokens in results */
    const char *const *connect_to; /* curl --connect-to entries HOST:PORT:HOST2:PORT2 */
    size_t n_connect_to;
    const char *cacert;            /* CA bundle for TLS, NULL → system */
    int64_t (*clock)(void *ctx);   /* seconds; NULL → wall clock (PoP iat, token
                                      expiry, $timestamp) */
    void *clock_ctx;
    const char *working_dir;       /* base for file bodies; NULL → current dir */
    const volatile sig_atomic_t *cancel; /* when *cancel turns non-zero (e.g. set by a
                                      SIGINT handler) no further request starts;
                                      those in flight finish and are recorded;
                                      the result says interrupted */
    unsigned timeout_script_ms;    /* per script (--timeout-script); 0 → none */
    int no_insecure_file_read;     /* files (uploads, bodies) only under working_dir */
    int ignore_redirects;          /* a 3xx is the response (Newman --ignore-redirects) */
    /* Scripts run in Postman's own sandbox (node + npm postman-sandbox, one
     * host process per worker); a collection with scripts fails to start
     * (TAAP_E_CONFIG naming what is missing) when they cannot run. */
    int ignore_scripts;            /* do not run them: their assertions are
                                      reported as not run (never passed) */
    const char *node;              /* node binary; NULL → $TAAP_NODE, else PATH */
    const char *sandbox_dir;       /* host.js + node_modules; NULL → $TAAP_SANDBOX_DIR,
                                      else the source tree's, else the installed one */
} taap_run_options;

TAAP_API void taap_run_options_init(taap_run_options *opts);

/* What became of one assertion (pm.test) of a request's scripts. */
typedef enum taap_assertion_status {
    TAAP_ASSERTION_PASSED = 0,
    TAAP_ASSERTION_FAILED,
    TAAP_ASSERTION_SKIPPED,    /* pm.test.skip: counted apart, not a failure */
    TAAP_ASSERTION_NOT_RUN     /* its script was not executed: never a pass */
} taap_assertion_status;

typedef struct taap_run_assertion {
    const char *name;          /* the pm.test name */
    taap_assertion_status status;
    const char *error_name;    /* "AssertionError" … when failed, else NULL */
    const char *error_message; /* redacted; NULL unless failed */
    const char *event;         /* "test" or "prerequest" */
} taap_run_assertion;

/* A response a request was sent again over: the runtime replays a request
 * whose auth answered the server's challenge (digest after a 401/403).
 * Newman reports each such exchange as a request of its own. */
typedef struct taap_run_exchange {
    long status;
    const char *status_text;   /* "Unauthorized", or NULL */
    double time_ms;
    uint64_t response_bytes;
} taap_run_exchange;

/* One request as executed (all strings redacted unless no_redact). */
typedef struct taap_run_request {
    unsigned iteration;        /* 0-based */
    const char *path;          /* "Folder / Sub / Request" */
    const char *name;
    const char *method;
    const char *url;
    const char *const *header_names;  /* headers as sent (values redacted) */
    const char *const *header_values;
    size_t n_headers;
    long status;               /* 0 when no response */
    double time_ms;
    uint64_t response_bytes;
    int passed;                /* met its expectation */
    int transport_error;       /* no usable response (connect, TLS, timeout) */
    int config_error;          /* not sent: unresolved variable under strict, bad body… */
    int skipped;               /* not sent: token reused, jsrsasign download replaced */
    unsigned attempts;
    const char *expectation;   /* "2xx", "200" … */
    const char *error;         /* why it failed, or NULL */
    const char *detail;        /* start of the response body on failure, redacted */
    const char *notes;         /* "PoP signed; token captured" … or NULL */
    const taap_run_assertion *assertions; /* its scripts' assertions, in order */
    size_t n_assertions;
    const char *item_id;       /* the item's id in the collection, or NULL */
    size_t position;           /* its place in the run's plan (Newman's cursor) */
    size_t plan_length;        /* requests per iteration */
    const char *status_text;   /* "OK", from the status line, or NULL */
    unsigned prerequest_scripts; /* scripts executed for it (collection, folders, */
    unsigned test_scripts;       /* item) */
    unsigned script_errors;    /* of those, how many threw */
    double dns_ms, connect_ms, tls_ms, first_byte_ms; /* phases of the last try,
                                  from its start (0 on a reused connection) */
    /* Scripts that threw (or could not run), in run order, as Newman lists
     * them in run.failures[]: error_name ("TypeError" …), error_message,
     * event ("prerequest"/"test"), name = the script's owner ("collection"
     * or the folder/request path), status TAAP_ASSERTION_FAILED. */
    const taap_run_assertion *script_failures;
    size_t n_script_failures;
    /* The responses it was replayed over, in order, before the final one
     * (status, time_ms … above): sent over the wire, counted in
     * taap_run_stats.sent and the response times, as Newman counts them. */
    const taap_run_exchange *replayed;
    size_t n_replayed;
} taap_run_request;

typedef enum taap_run_event_type {
    TAAP_RUN_EV_START = 1,     /* message = collection name */
    TAAP_RUN_EV_ITERATION,     /* iteration starts (sequential runs only) */
    TAAP_RUN_EV_REQUEST,       /* a request finished: `request` set */
    TAAP_RUN_EV_WARNING,       /* message (one line), item_path may be set */
    TAAP_RUN_EV_NOTE,          /* informational (script handled natively …) */
    TAAP_RUN_EV_END,
    TAAP_RUN_EV_CONSOLE        /* a script's console line (redacted): message,
                                  item_path, iteration */
} taap_run_event_type;

typedef struct taap_run_event {
    taap_run_event_type type;
    unsigned iteration;
    unsigned iterations;
    size_t done;               /* requests finished so far */
    size_t total;              /* requests planned */
    const char *item_path;
    const char *message;
    const taap_run_request *request;
} taap_run_event;

/* Called for each event, one at a time (serialised even with jobs > 1). */
typedef void (*taap_run_report_fn)(void *ctx, const taap_run_event *ev);

/*
 * taap_run_collection — run the collection. `env` and `globals` may be NULL
 * (empty sets are used); they are updated in place (captured tokens), so
 * the caller can export them afterwards. `data` may be NULL.
 * Returns TAAP_OK when the run happened, whatever the requests' outcome
 * (see taap_run_result_stats), or an error when it could not start:
 * TAAP_E_CONFIG (unknown --folder, bad expect_status, no key for a PoP
 * request, …), TAAP_E_KEY. *out is set on TAAP_OK; free it with
 * taap_run_result_free(). Not reentrant on the same varsets.
 */
TAAP_API taap_code taap_run_collection(const taap_collection *c, taap_varset *env,
                                       taap_varset *globals, const taap_iterdata *data,
                                       const taap_run_options *opts, taap_run_report_fn report,
                                       void *report_ctx, taap_run_result **out,
                                       taap_error *err);

typedef struct taap_run_stats {
    unsigned iterations;
    size_t requests;          /* executed records (sent or skipped) */
    size_t sent;              /* actually sent over the wire (replays included) */
    size_t failed;            /* expectation not met */
    size_t transport_errors;
    size_t config_errors;
    size_t token_requests;    /* token endpoint calls actually sent */
    double min_ms, avg_ms, max_ms;
    double duration_ms;
    int bailed;
    int interrupted;          /* stopped by taap_run_options.cancel */
    size_t assertions;        /* every assertion of every execution */
    size_t assertions_failed;
    size_t assertions_skipped; /* pm.test.skip */
    size_t assertions_not_run; /* their script did not run (never passed) */
    size_t prerequest_scripts, test_scripts, script_errors;
    double response_sd_ms;    /* standard deviation of response times */
    uint64_t response_bytes;  /* all response bodies */
} taap_run_stats;

/* Read a finished run: totals into *st; the number of request executions;
 * execution i (0-based; NULL when out of range), owned by the result and
 * valid until it is freed. Read-only, so safe from several threads. */
TAAP_API void taap_run_result_stats(const taap_run_result *r, taap_run_stats *st);
TAAP_API size_t taap_run_result_count(const taap_run_result *r);
TAAP_API const taap_run_request *taap_run_result_get(const taap_run_result *r, size_t i);
/* The exit status `taap run` uses: 0 all passed, 1 a request failed its
 * expectation or an assertion failed or did not run, 2 config/strict-vars
 * error, 3 transport error. */
TAAP_API int taap_run_result_exit_code(const taap_run_result *r);
TAAP_API void taap_run_result_free(taap_run_result *r);

/* Reporters: text for the caller to print or save (malloc'd, free()). */
/*
 * JSON in the shape of Newman's JSON reporter, so tooling that reads
 * Newman's reports works unchanged: {"collection":{"info":…},
 * "environment":…, "globals":…, "run":{"stats":{iterations, items, scripts,
 * prerequests, requests, tests, assertions, testScripts, prerequestScripts:
 * {total, pending, failed}}, "timings":{…,"started","completed"},
 * "executions":[{cursor, item, request, response, assertions:[{assertion,
 * skipped, error}]}], "transfers", "failures":[{error:{name, message, test,
 * index}, at, source, parent, cursor}], "error"}}. taap adds fields Newman
 * lacks (an execution's path, passed, notes…; notRun counts); it never
 * removes Newman's.
 */
TAAP_API taap_code taap_run_report_json(const taap_run_result *r, char **out, taap_error *err);
/* JUnit XML as Newman's junit reporter: one <testsuite> per request path,
 * one <testcase> per assertion (failures across iterations merged), plus a
 * "status" testcase for taap's own status expectation; a request not sent
 * is <skipped/>, an assertion not run is <skipped message="not run"/> and
 * counted as a failure; transport and config errors are <error>. */
TAAP_API taap_code taap_run_report_junit(const taap_run_result *r, char **out, taap_error *err);

/* How the CLI reporter draws (Newman's --disable-unicode, --color and
 * --reporter-cli-* options). */
typedef struct taap_run_cli_style {
    int ascii;                 /* no Unicode symbols or box drawing */
    int color;                 /* ANSI colours */
    int no_assertions;         /* leave out the per-assertion lines */
    int verbose;               /* timing phases and response sizes */
} taap_run_cli_style;

/* One execution as Newman's CLI reporter shows it: "↳ name", the request
 * line with status, size and time, then ✓/numbered lines per assertion
 * (numbers are the failure's place in taap_run_report_failures; *failure_no
 * is the running count, updated). */
TAAP_API taap_code taap_run_report_request(const taap_run_request *q,
                                           const taap_run_cli_style *style, size_t *failure_no,
                                           char **out, taap_error *err);
/* The summary table (executed/failed per iterations, requests, scripts,
 * assertions; duration, data received, response times). */
TAAP_API taap_code taap_run_report_summary(const taap_run_result *r, char **out,
                                           taap_error *err);
TAAP_API taap_code taap_run_report_cli_summary(const taap_run_result *r,
                                               const taap_run_cli_style *style, char **out,
                                               taap_error *err);
/* The numbered failure list ("  #  failure  detail"), empty when none. */
TAAP_API taap_code taap_run_report_failures(const taap_run_result *r,
                                            const taap_run_cli_style *style, char **out,
                                            taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
