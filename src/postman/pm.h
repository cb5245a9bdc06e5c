/*
 * pm.h — internals of the Postman runner (src/lib/postman). Never installed.
 */
#ifndef TAAP_PM_H
#define TAAP_PM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "buf.h"
#include "util.h"
#include "taap/postman.h"
#include "taap/request.h"

/* ---- a growable byte buffer: util's one taap_buf (src/util/buf.h) --------
 * The runner's files keep the pm_buf names; they are the same type and
 * functions. `failed` is set (sticky) when memory ran out. */
typedef taap_buf pm_buf;
#define pm_buf_put taap_buf_put
#define pm_buf_puts taap_buf_puts
#define pm_buf_printf taap_buf_printf
#define pm_buf_take taap_buf_take /* NULL when it failed; the buffer is reset */
#define pm_buf_free taap_buf_free
/* JSON / XML escaping into a buffer */
void pm_buf_json_str(pm_buf *b, const char *s);
void pm_buf_xml(pm_buf *b, const char *s);

/* ---- one variable scope -------------------------------------------------- */
typedef struct pm_var {
    char *key;
    char *value;
    int secret; /* type "secret" in the file */
} pm_var;
typedef struct pm_scope {
    pm_var *v;
    size_t n, cap;
} pm_scope;
const char *pm_scope_get(const pm_scope *s, const char *key);
const pm_var *pm_scope_find(const pm_scope *s, const char *key);
int pm_scope_set(pm_scope *s, const char *key, const char *value, int secret); /* 0 ok, -1 OOM */
void pm_scope_clear(pm_scope *s);

/* Replace control characters in err->message (one-line messages). */
void pm_err_oneline(taap_error *err);
/* Prefix err->message (NULL-safe) with "`what`: " (the file a _load read);
 * returns rc. */
taap_code pm_err_prefix(taap_error *err, taap_code rc, const char *what);

/* JSON value → string the way JavaScript's String() would (malloc'd). */
char *pm_json_to_string(const json_t *v);

/* ---- collection model ---------------------------------------------------- */
typedef struct pm_kv {
    char *key;
    char *value;
    int disabled;
    char *type;         /* formdata: "text" | "file" */
    char **src;         /* formdata file parts: paths */
    size_t n_src;
    char *content_type; /* formdata per-part type */
} pm_kv;
typedef struct pm_kvlist {
    pm_kv *v;
    size_t n;
} pm_kvlist;

typedef enum pm_body_mode {
    PM_BODY_NONE = 0,
    PM_BODY_RAW,
    PM_BODY_URLENCODED,
    PM_BODY_FORMDATA,
    PM_BODY_FILE,
    PM_BODY_GRAPHQL,
    PM_BODY_UNSUPPORTED
} pm_body_mode;

typedef struct pm_body {
    pm_body_mode mode;
    char *mode_name;    /* as written, for messages */
    char *raw;
    char *language;     /* options.raw.language */
    pm_kvlist params;   /* urlencoded / formdata */
    char *file_src;     /* file mode; NULL = none chosen */
    char *gql_query;    /* graphql: each NULL when absent or not a string */
    char *gql_operation;
    char *gql_variables; /* as written (a string), or a JSON value's compact text */
    int gql_vars_json;   /* 1: variables was a JSON value (object …), not a string */
} pm_body;

typedef struct pm_auth {
    char *type;         /* "noauth", "basic", … */
    pm_kvlist attrs;
} pm_auth;

typedef struct pm_item {
    char *name;
    char *id;
    char *path;         /* "A / B / name" */
    int is_folder;
    struct pm_item *parent;
    struct pm_item *children;
    size_t n_children;
    /* request (is_folder == 0) */
    char *method;
    char *url;          /* template, string form */
    pm_kvlist path_vars;
    pm_kvlist headers;
    pm_body body;
    pm_auth *auth;      /* NULL → inherit (folders and the collection too) */
    char *prerequest;   /* script text (exec lines joined), NULL if none */
    char *test;
    json_t *request_json; /* the request as written (pm.request of pre-request scripts) */
} pm_item;

struct taap_collection {
    char *name;
    json_t *doc;        /* the document as read (the JSON report's "collection") */
    pm_item root;       /* is_folder, holds collection auth and scripts */
    pm_scope vars;      /* collection variables */
    size_t n_requests;
};

/* Parse a Postman request (JSON) into the request fields of `it` (a
 * pre-request script's changed pm.request); free with pm_item_clear. */
taap_code pm_request_parse(json_t *rq, pm_item *it, taap_error *err);
/* Free what an item owns (not the item itself); children too. */
void pm_item_clear(pm_item *it);

/* The auth in effect for an item (walks up; NULL = none). */
const pm_auth *pm_item_auth(const pm_item *it);
const char *pm_kv_get(const pm_kvlist *l, const char *key);

/* ---- variable resolution -------------------------------------------------- */
#define PM_RESOLVE_MAX (8u * 1024u * 1024u)

typedef struct pm_resolver {
    const pm_scope *scopes[8]; /* precedence order, first match wins */
    size_t n_scopes;
    int64_t (*clock)(void *);  /* $timestamp; NULL → wall clock */
    void *clock_ctx;
} pm_resolver;

/* Resolve {{…}} in `in` (Newman semantics). *out malloc'd. Returns 0, or -1
 * when the result would exceed PM_RESOLVE_MAX or on OOM. */
int pm_resolve(const pm_resolver *r, const char *in, char **out);
/* Each distinct unresolved {{name}} left in `s`, for warnings: calls fn. */
void pm_unresolved(const char *s, void (*fn)(void *ctx, const char *name, size_t len),
                   void *ctx);
/* A dynamic variable's fresh value ("$guid" …) into buf; 0 if unknown. */
int pm_dynamic(const char *name, size_t len, char *buf, size_t cap,
               int64_t (*clock)(void *), void *clock_ctx);

/* ---- scripts (taap.c) ------------------------------------------------------ */
typedef enum pm_field { PM_F_ACCESS = 1, PM_F_ID, PM_F_EXPIRES_IN, PM_F_EXPIRY_MS } pm_field;
typedef struct pm_capture {
    char scope;         /* 'e' environment, 'g' globals, 'c' collection, 'l' local */
    char name[128];
    pm_field field;
} pm_capture;
typedef struct pm_script_info {
    int pop;            /* builds a PoP (jsrsasign/KJUR/X-Authorization) */
    int loads_lib;      /* downloads or evals jsrsasign */
    int console_only;   /* only console.log */
    int other;          /* nothing recognised */
    pm_capture caps[8];
    size_t n_caps;
    int status[16];     /* recognised status expectations */
    size_t n_status;
    int status_2xx;     /* pm.response.to.be.ok / success */
} pm_script_info;
void pm_script_analyze(const char *text, pm_script_info *out);
/* 1 if the URL looks like an OAuth token endpoint */
int pm_is_token_url(const char *url);
/* 1 if the URL downloads jsrsasign (replaced by native signing) */
int pm_is_jsrsasign_url(const char *url);

/* ---- one request on the wire (the transport seam's shapes, run.h) --------- */
typedef struct pm_http_req {
    const char *method;
    const char *url;
    const char *const *hnames;
    const char *const *hvalues;
    size_t n_headers;
    const void *body;       /* memory body, or */
    size_t body_len;
    const char *body_file;  /* streamed from a file */
    unsigned timeout_ms;
    int insecure;
    const char *cacert;
    const char *const *connect_to;
    size_t n_connect_to;
    int no_redirects;       /* --ignore-redirects / followRedirects:false */
} pm_http_req;
typedef struct pm_http_resp {
    long status;
    char *reason;           /* "OK" (from the status line), or NULL */
    taap_header *headers;   /* response headers in order; owned */
    size_t n_headers;
    char *body;             /* first PM_RESP_KEEP bytes, NUL-terminated */
    size_t body_len;        /* kept */
    uint64_t total_bytes;
    double time_ms;
    double dns_ms, connect_ms, tls_ms, ttfb_ms; /* from the transfer's start */
    char error[256];        /* transport error, "" when a response came */
} pm_http_resp;
#define PM_RESP_KEEP (1024u * 1024u)
void pm_http_resp_clear(pm_http_resp *r);
/* Percent-encode characters a URL may not carry raw (space, quotes, >0x7f). */
char *pm_url_encode_loose(const char *url);

/* ---- script results (the sandbox bridge fills them, reporters read them) --- */
/* One assertion (pm.test / tests[...]) of one execution, in run order. A
 * script that was not run (--ignore-scripts, no sandbox) contributes its
 * assertions as PM_ASSERT_NOT_RUN (never as passed) — or, when they cannot
 * be known without running it, one entry named after the script. */
typedef enum pm_assert_status {
    PM_ASSERT_PASSED = 0,
    PM_ASSERT_FAILED,       /* error_name/error_message say why */
    PM_ASSERT_SKIPPED,      /* pm.test.skip */
    PM_ASSERT_NOT_RUN       /* its script did not run */
} pm_assert_status;
typedef struct pm_assertion {
    char *name;
    pm_assert_status status;
    char *error_name;       /* "AssertionError", "TypeError" … or NULL */
    char *error_message;    /* or NULL */
    char *event;            /* "test" | "prerequest" */
} pm_assertion;
typedef struct pm_assertions {
    pm_assertion *v;
    size_t n, cap;
} pm_assertions;
/* Append a copy (strings may be NULL). 0, or -1 on OOM. */
int pm_assertions_add(pm_assertions *l, const char *name, pm_assert_status status,
                      const char *error_name, const char *error_message, const char *event);
void pm_assertions_free(pm_assertions *l);

/* ---- redaction (report.c) --------------------------------------------------- */
typedef struct pm_secrets {
    char **v;
    size_t n, cap;
} pm_secrets;
void pm_secrets_add(pm_secrets *s, const char *value); /* ignores short values */
void pm_secrets_free(pm_secrets *s);
/* Copy of s with secrets, JWTs and PEM blocks replaced (malloc'd). */
char *pm_redact(const pm_secrets *s, const char *text);
/* (Headers whose values are always redacted: taap_http_header_sensitive.) */
/* 1 if a variable name suggests a secret value */
int pm_name_sensitive(const char *name);

/* ---- the run result (record.c writes, report.c reads) --------------------- */
typedef struct pm_record {
    taap_run_request r;        /* public view; strings point into owned copies */
    char *own[12];
    char **hn, **hv;
    taap_run_assertion *as;    /* r.assertions; strings owned */
    taap_run_assertion *sf;    /* r.script_failures; strings owned */
    taap_run_exchange *rp;     /* r.replayed; strings owned */
} pm_record;

struct taap_run_result {
    char *collection_name;
    pm_record *recs;
    size_t n, cap;
    unsigned iterations;
    int bailed;
    int interrupted;           /* opts->cancel stopped it */
    size_t token_requests;
    double duration_ms;
    int64_t started;           /* wall-clock seconds */
    char *collection_json;     /* the JSON report's sections (report_scopes.c), */
    char *environment_json;    /* redacted; NULL: a minimal stand-in */
    char *globals_json;
};

/* ---- failures as the reporters list them (report.c) ----------------------- */
typedef struct pm_failure {
    const char *type;     /* "Error" for a script that threw (Newman's error.type), else NULL */
    const char *name;     /* "AssertionError", "NotRun", "StatusError", "Error", "ConfigError",
                             a script's error ("TypeError" …) */
    const char *message;
    const char *test;     /* the assertion or check, or NULL for a request error */
    long index;           /* the assertion's index, -1 otherwise */
    const char *at;       /* "assertion:0 in test-script", "status", "request" */
} pm_failure;
/* Call fn for each failure of one execution, in the order every reporter
 * numbers them; returns how many. */
size_t pm_each_failure(const taap_run_request *q,
                       void (*fn)(void *ctx, const taap_run_request *q, const pm_failure *f),
                       void *ctx);
/* "A / B / name" → the parent path "A / B" into buf ("" at the root). */
void pm_parent_path(const taap_run_request *q, char *buf, size_t cap);

#endif
