/*
 * run.h — the collection runner's internals, shared by the files that do
 * one job each (src/postman):
 *
 *   plan.c    which requests run, in which order (--folder), what each is
 *             expected to return, notes about the scripts on the way
 *   build.c   one request resolved into exact bytes: URL, headers, body,
 *             then the PoP signed last over them (reference §4)
 *   auth.c    the collection's auth helpers, one table row per type
 *   token.c   the OAuth token: Basic credentials, capture, reuse, refresh
 *   exec.c    one item through build → send → check (retries, 401
 *             refresh, the auth's replay after a challenge), iterations,
 *             the -j N workers
 *   record.c  results, events and warnings as the reporters see them
 *   runner.c  taap_run_collection: set-up, the workers, tear-down
 *   transport_curl.c  the one real transport (taap/http.h session)
 *
 * Locking: run->lock guards the variable scopes, the result list, the
 * warnings and the reporter callback; run->token_lock serialises token
 * fetches so that parallel workers share one access token (the first
 * fetches, the others wait and reuse it). Order is always token_lock then
 * lock. Never installed.
 */
#ifndef TAAP_RUN_H
#define TAAP_RUN_H

#include <pthread.h>
#include <time.h>

#include "pm.h"
#include "sandbox.h"

int pm_iterdata_scope(const taap_iterdata *d, size_t row, pm_scope *out);
pm_scope *pm_varset_scope(taap_varset *v);

#define MAX_RANGES 16
#define PM_MAX_REPLAYS 3 /* the runtime's replays of one request (replay-controller.js) */
#define TOKEN_SKEW 60 /* refresh this many seconds before expiry (SPEC §4) */

/* ---- the transport seam -------------------------------------------------------
 * The runner sends through a pm_transport: transport_curl.c in real runs,
 * a fake in unit tests. One transport per worker (connections are reused
 * within it); it is used by one thread at a time. */
typedef struct pm_transport pm_transport;
typedef struct pm_transport_ops {
    /* 0 when a response arrived (any status), -1 on a transport error
     * (resp->error says why). resp starts zeroed; the runner clears it. */
    int (*send)(pm_transport *t, const pm_http_req *req, pm_http_resp *resp);
    void (*close)(pm_transport *t);
} pm_transport_ops;
struct pm_transport {
    const pm_transport_ops *ops;
};
typedef pm_transport *(*pm_transport_open_fn)(void *ctx);
/* The libcurl transport over a taap_http_session (ctx unused). */
pm_transport *pm_transport_curl_open(void *ctx);

/* What taap_run_collection plugs in; tests give their own. */
/* Random bytes (nonces of the auth helpers); fill buf[0..n). */
typedef void (*pm_random_fn)(void *ctx, unsigned char *buf, size_t n);
typedef struct pm_run_seams {
    pm_transport_open_fn transport_open; /* NULL → pm_transport_curl_open */
    void *transport_ctx;
    pm_random_fn random;                 /* NULL → RAND_bytes (tests: a fixed nonce) */
    void *random_ctx;
} pm_run_seams;

taap_code pm_run_collection(const taap_collection *c, taap_varset *env, taap_varset *globals,
                            const taap_iterdata *data, const taap_run_options *opts,
                            taap_run_report_fn report, void *report_ctx,
                            const pm_run_seams *seams, taap_run_result **out, taap_error *err);

/* ---- run state ------------------------------------------------------------------ */

typedef struct pm_range {
    int lo, hi;
} pm_range;

typedef struct pm_plan_item {
    const pm_item *it;
    pm_script_info si;      /* test scripts of the item and its ancestors */
    int is_token;
    int jsrsasign;
} pm_plan_item;

/* Auth parameters a post hook set during the run (Newman's "system"
 * parameters), kept on the auth where the collection defines it: a
 * folder's or the collection's is seen by every item inheriting it and
 * every later iteration; an item's own lasts until the item is done
 * (auth.c). */
typedef struct pm_auth_state {
    const pm_auth *auth;
    pm_scope params;
} pm_auth_state;

typedef struct pm_run {
    const taap_collection *c;
    const taap_run_options *o;
    taap_varset *env, *globals;
    const taap_iterdata *data;
    taap_run_report_fn report;
    void *rctx;
    pthread_mutex_t lock, token_lock;
    taap_run_result *res;
    pm_plan_item *plan;
    size_t n_plan;
    unsigned iterations;
    size_t total, done;
    char **warned;
    size_t n_warned, cap_warned;
    pm_secrets secrets;
    taap_key *own_key;
    const taap_key *key;
    pm_range ranges[MAX_RANGES];
    size_t n_ranges;
    pm_scope coll, local;    /* run copies: collection variables, local */
    const pm_item *token_item;
    pm_script_info token_si;
    char access_var[128], id_var[128];
    int have_token;
    int64_t token_exp;       /* 0 = unknown */
    unsigned token_gen;
    int stop;
    int interrupted;         /* opts->cancel was seen */
    unsigned next_iter;
    int pop_all;
    int token_in_plan;
    struct timespec t0;
    int scripts;             /* PM_SCRIPTS_*: does the plan have scripts, do they run */
    pm_sb_where sb_where;    /* node and the sandbox (PM_SCRIPTS_RUN) */
    pm_random_fn random;     /* the seam's, or NULL (RAND_bytes) */
    void *random_ctx;
    pm_auth_state *auth_states; /* under lock */
    size_t n_auth_states;
} pm_run;

enum { PM_SCRIPTS_NONE = 0, PM_SCRIPTS_RUN, PM_SCRIPTS_IGNORED };

typedef struct pm_worker {
    pm_run *cx;
    pm_transport *http;
    pm_scope data;
    unsigned iteration;
    pm_sandbox *sb;          /* the worker's script host, started on first use */
    int next_set;            /* a script called setNextRequest … */
    char *next_request;      /* … with this name or id (NULL: stop the iteration) */
} pm_worker;

/* Now in seconds (the run's clock, else the wall clock). */
int64_t pm_now(pm_run *cx);
/* n characters drawn from `alphabet` into out (NUL-terminated; out holds
 * n + 1), from the run's random source. */
void pm_random_chars(pm_run *cx, const char *alphabet, char *out, size_t n);

/* ---- plan.c ---------------------------------------------------------------------- */
int pm_parse_ranges(const char *s, pm_range *out, size_t *n);
/* 1 if `status` meets the item's expectation; the expectation into expect. */
int pm_status_ok(pm_run *cx, const pm_plan_item *pi, long status, char *expect, size_t cap);
/* Append the selected requests under `it` to cx->plan (and find the token
 * request); hits[i] counts matches of --folder i. 0, or -1 on OOM. */
int pm_plan_walk(pm_run *cx, const pm_item *it, int *hits, size_t *cap);
void pm_plan_mark_hits(const taap_run_options *o, const pm_item *it, int *hits);

/* ---- build.c --------------------------------------------------------------------- */
typedef struct pm_built {
    char *method;
    char *url;
    char *url_raw;          /* before percent-encoding, for the unresolved check */
    char **hn, **hv;
    size_t nh, caph;
    char *body;             /* memory body (may contain NULs: body_len) */
    size_t body_len;
    char *body_file;
    int pop;
    int basic_from_env;
    char err[300];          /* config error */
    int uses_token;
    pm_buf warnings;        /* Newman's console warnings (a file not read), one a line */
    int form;               /* the body is urlencoded (OAuth 1.0 signs its pairs) */
    size_t client_from;     /* headers from here on are the ones Newman's HTTP client adds
                               on the wire (not in the request its runtime replays) */
} pm_built;

void pm_built_free(pm_built *b);
int pm_hdr_add(pm_built *b, const char *name, const char *value);
int pm_hdr_find(const pm_built *b, const char *name);
void pm_hdr_remove(pm_built *b, const char *name);
int pm_hdr_set(pm_built *b, const char *name, const char *value);
/* The worker's scopes in Newman's precedence. */
void pm_resolver_for(pm_worker *w, pm_resolver *r);
const char *pm_lookup_var(pm_worker *w, const char *name);
const char *pm_lookup_any(pm_worker *w, const char *const *names);
/* {{…}} resolved (malloc'd), NULL with b->err set. */
char *pm_run_resolve(pm_worker *w, const char *s, pm_built *b);
void pm_put_urlenc(pm_buf *o, const char *s);
/* %XX decoded copy of s[0..n) (malloc'd; '+' → space with plus_space, as
 * form decoding); *len (may be NULL) gets its length. */
char *pm_pct_decode(const char *s, size_t n, int plus_space, size_t *len);
int pm_mentions_token(const pm_run *cx, const pm_item *it);
/* Resolve everything of the item into b (under cx->lock). 0 or -1 (b->err). */
int pm_build_request(pm_worker *w, const pm_plan_item *pi, pm_built *b);
/* Sign the PoP over b's exact bytes and put it in X-Authorization. */
int pm_pop_sign(pm_run *cx, pm_built *b, char *errbuf, size_t cap);

/* ---- files.c ---------------------------------------------------------------------- */
/* The file a body names, as Newman's resolver finds it (relative to
 * --working-dir, else the current directory; --no-insecure-file-read: only
 * inside it). The path (malloc'd), or NULL with Newman's reason in why. */
char *pm_file_resolve(const pm_run *cx, const char *src, char *why, size_t cap);
/* The type Newman gives a file it sends, by extension. */
const char *pm_file_mime(const char *path);
/* Add one warning line to b->warnings (shown as Newman's console warns). */
void pm_built_warn(pm_built *b, const char *msg);

/* ---- report_scopes.c: the JSON report's collection/environment/globals ----------- */
char *pm_report_collection(pm_run *cx);
char *pm_report_scope(pm_run *cx, const taap_varset *v);

/* ---- auth.c ---------------------------------------------------------------------- */
/* Apply the auth in effect for the item. 0, or -1 (b->err set). */
int pm_auth_apply(pm_worker *w, const pm_item *it, pm_built *b);
/* "Basic base64(user:pass)" (malloc'd; free with taap_free_secret_str). */
char *pm_basic_value(const char *user, const char *pass);
/* The auth's attribute `key`, variables resolved ("" when absent; NULL with
 * b->err on failure), or the value a post hook set for it during the run.
 * Free with taap_free_secret_str. */
char *pm_auth_attr(pm_worker *w, const pm_auth *a, const char *key, pm_built *b);
/* The same where no request is being built (a post hook): NULL on failure. */
char *pm_auth_value(pm_worker *w, const pm_auth *a, const char *key);
/* JavaScript truthiness of an attribute's text ("" and "false" are false). */
int pm_auth_flag(const char *v);
/* Newman's post hook for the auth in effect, on a response: 1 when the
 * auth took new parameters from it and the request is to be replayed
 * (caller holds cx->lock). */
int pm_auth_post(pm_worker *w, const pm_item *it, const pm_http_resp *resp);
/* b made into the runtime's replay of it: its headers as Newman holds them
 * after sending, auth applied again, the HTTP client's own after them
 * (caller holds cx->lock). 0, or -1 (b->err). */
int pm_auth_replay(pm_worker *w, const pm_item *it, pm_built *b);
/* Set a parameter as the runtime's AuthInterface.set does: only one a
 * post hook set before, one the auth lacks, or one that resolves empty;
 * kept for the rest of the run. 0, or -1 on OOM. */
int pm_auth_state_set(pm_worker *w, const pm_auth *a, const char *key, const char *value);
/* Forget what post hooks set on `a` (an item's own auth, when the item is
 * done: the runtime restores the item's request; caller holds cx->lock). */
void pm_auth_state_drop(pm_run *cx, const pm_auth *a);
void pm_auth_states_free(pm_run *cx);
/* The rows for auth_digest.c and auth_oauth1.c. */
int pm_auth_digest(pm_worker *w, const pm_auth *a, pm_built *b);
int pm_auth_digest_post(pm_worker *w, const pm_auth *a, const pm_http_resp *resp);
int pm_auth_oauth1(pm_worker *w, const pm_auth *a, pm_built *b);
/* The request target's path and query as sent, from "/" (malloc'd). */
char *pm_url_path(const char *url);
/* A warning from an auth helper in Newman's words ("runtime~TYPE.auth: …"). */
void pm_auth_warn(pm_built *b, const char *type, const char *what);

/* ---- record.c -------------------------------------------------------------------- */
/* A response replayed over (an auth challenge answered): Newman reports it. */
typedef struct pm_exchange {
    long status;
    char status_text[64];
    double time_ms;
    uint64_t bytes;
} pm_exchange;

typedef struct pm_outcome {
    long status;
    double time_ms;
    uint64_t bytes;
    int passed, transport, config, skipped;
    unsigned attempts;
    char expect[64];
    char error[400];
    char *detail;
    char notes[256];
    char status_text[64];   /* "OK" */
    double dns_ms, connect_ms, tls_ms, ttfb_ms; /* the last try's phases */
    pm_assertions asserts;  /* script results (sandbox), in run order */
    pm_assertions script_errs; /* scripts that threw or did not run (name: the owner) */
    unsigned prerequest_scripts, test_scripts, script_errors; /* scripts run */
    char script_error[400]; /* the first script that threw, timed out or could not run */
    pm_exchange *replayed;  /* responses before the final one, in order (malloc'd) */
    size_t n_replayed;
    unsigned replays;       /* of the current try (bounded by PM_MAX_REPLAYS) */
} pm_outcome;

void pm_emit(pm_run *cx, taap_run_event_type type, unsigned iteration, const char *path,
             const char *msg, const taap_run_request *rq);
/* Once per key per run; caller holds cx->lock. Returns 1 the first time. */
int pm_first_time(pm_run *cx, const char *key);
void pm_note(pm_outcome *oc, const char *s);
/* Store the record and report it (takes cx->lock). */
void pm_record_result(pm_worker *w, const pm_plan_item *pi, const pm_built *b, pm_outcome *oc);

/* ---- token.c --------------------------------------------------------------------- */
/* Token variable names and a still-valid token from an earlier run. */
void pm_token_setup(pm_run *cx);
int pm_token_basic(pm_worker *w, pm_built *b);
/* Parse a token response and store it (caller holds cx->lock). */
int pm_token_capture(pm_run *cx, const char *body, pm_outcome *oc);
int pm_token_valid(pm_run *cx);
void pm_token_ensure(pm_worker *w, int force, unsigned seen_gen, const char *why);

/* ---- script.c (scripts in Postman's sandbox) --------------------------------------- */
/* Are there scripts in the plan, and can they run? TAAP_E_CONFIG names the
 * missing piece (node, the sandbox) and the command that installs it. */
taap_code pm_scripts_setup(pm_run *cx, taap_error *err);
/* Warnings (ignored scripts) and notes (native PoP) for an item, once each. */
void pm_scripts_notes(pm_run *cx, const pm_item *it);
/* 1 if the item or an ancestor has a pre-request (test = 0) or test script. */
int pm_item_has_scripts(const pm_item *it, int test);
/* 1 if a pre-request script builds a PoP with jsrsasign (signed natively). */
int pm_script_is_pop(const char *text);
/* The pre-request chain: *request gets pm.request when a script changed it
 * (else NULL); returns 1 when a script called pm.execution.skipRequest(). */
int pm_scripts_prerequest(pm_worker *w, const pm_item *it, json_t **request, pm_outcome *oc);
/* The test chain over the response. */
void pm_scripts_test(pm_worker *w, const pm_item *it, const pm_built *b,
                     const pm_http_resp *resp, pm_outcome *oc);
/* The item's scripts of one kind as not run (their pm.test names). */
void pm_scripts_not_run(pm_run *cx, const pm_item *it, int test, pm_outcome *oc);
void pm_scripts_worker_free(pm_worker *w);

/* ---- exec.c ---------------------------------------------------------------------- */
void pm_exec_item(pm_worker *w, const pm_plan_item *pi, int from_token_lock, const char *why);
/* 1 once the run must start no further request (--bail, or opts->cancel). */
int pm_stopped(pm_run *cx);
void pm_run_iteration(pm_worker *w, unsigned it);
void *pm_worker_main(void *arg);

#endif
