/*
 * ngx_http_taap_module.c — TAAP enforcement in nginx's access phase
 * (docs/GATEWAY.md). For every request in a location with `taap on`:
 *
 *  1. the headers: exactly one Authorization (Bearer) and one X-Authorization;
 *  2. the access token (taap_access_token_verify): RS256 with one of the
 *     issuer's keys, exp/nbf, iss, aud, and its cnf key;
 *  3. the body, read by nginx as usual (in memory up to
 *     client_body_buffer_size, then spooled to a temporary file) and hashed
 *     as a stream straight from those buffers: what the upstream receives is
 *     untouched;
 *  4. the PoP (taap_verify) against the cnf key over the request as
 *     received, with replay in memory (per worker) or Redis (shared by every
 *     node). The Redis check does not block the worker: the request waits
 *     for its reply (ngx_http_taap_redis.c) while the worker serves others.
 *
 * Only then does the request go on (NGX_DECLINED: the next access handler,
 * then the content phase). A refusal answers at once, before any upstream
 * sees a byte: 400/401 (413, 503, 500) with T-Mobile's error body
 * {"code","userMessage","systemMessage"} whose systemMessage starts with the
 * verifier's code (TAAP_E_EDTS: …). $taap_client_id, $taap_jti and
 * $taap_result tell log_format and proxy_set_header what happened.
 *
 * Everything that can be decided at start-up is: the issuer's keys are
 * parsed, the replay cache made and the Redis URL checked when the
 * configuration is read (`nginx -t` reports a bad value with the directive
 * and the reason), so `nginx -s reload` is how keys rotate.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "taap/access_token.h"
#include "taap/replay_redis.h"
#include "taap/verify.h"

#include "ngx_http_taap_redis.h"

/* nginx's "configuration error" is the pointer (void *)-1: the one
 * integer-to-pointer cast, made once here. */
static char *const ngx_http_taap_conf_error = NGX_CONF_ERROR; /* NOLINT(performance-no-int-to-ptr) */
#define TAAP_CONF_ERROR ngx_http_taap_conf_error

#define TAAP_MAX_REQUIRE 32
#define TAAP_MAX_HEADERS 128

typedef enum { TAAP_REPLAY_FAIL_CLOSED = 0, TAAP_REPLAY_FAIL_OPEN = 1 } taap_replay_fail_t;

typedef struct {
    ngx_flag_t enable;
    taap_keyset *keys;             /* shared by inheriting locations */
    taap_access_token_cache *at_cache; /* verified access tokens (this worker's copy) */
    ngx_str_t keys_file;
    ngx_str_t issuer;              /* NUL-terminated copies */
    ngx_str_t audience;
    const char **require;          /* NULL: SPEC §2 default */
    ngx_uint_t n_require;
    ngx_int_t require_set;
    time_t leeway;
    time_t max_lifetime;
    off_t body_max;                /* 0: only client_max_body_size limits */
    taap_replay *replay;           /* NULL with taap_replay off */
    ngx_http_taap_redis_t *redis;  /* the event-driven client when replay is Redis */
    ngx_str_t replay_spec;         /* for messages; "" when unset */
    ngx_int_t replay_set;
    ngx_uint_t replay_fail;
    ngx_msec_t replay_timeout;
} ngx_http_taap_loc_conf_t;

typedef struct {
    unsigned decided:1;
    unsigned body_wanted:1;
    unsigned body_read:1;
    unsigned waiting:1;            /* for the Redis reply */
    ngx_http_taap_redis_wait_t *wait;
    ngx_http_request_t *r;
    ngx_uint_t status;             /* 0: allowed */
    const char *user_message;
    char system_message[TAAP_ERROR_MESSAGE_MAX + 64];
    const char *result;            /* $taap_result */
    char client_id[257];
    char jti[257];
    taap_key *cnf_key;             /* from the access token; freed with the request */
    const char *pop;
    size_t pop_len;
} ngx_http_taap_ctx_t;

static ngx_int_t ngx_http_taap_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_taap_add_variables(ngx_conf_t *cf);
static void *ngx_http_taap_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_taap_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *ngx_http_taap_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_taap_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_taap_replay(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_taap_cstr(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_taap_check_seconds(ngx_conf_t *cf, void *post, void *data);

static ngx_conf_enum_t ngx_http_taap_replay_fail_values[] = {
    {ngx_string("closed"), TAAP_REPLAY_FAIL_CLOSED},
    {ngx_string("open"), TAAP_REPLAY_FAIL_OPEN},
    {ngx_null_string, 0},
};

/* Bounds for the time directives: {min, max} seconds. */
typedef struct {
    ngx_conf_post_handler_pt post_handler;
    time_t min, max;
} ngx_http_taap_bounds_t;

static ngx_http_taap_bounds_t ngx_http_taap_leeway_bounds = {ngx_http_taap_check_seconds, 0,
                                                             3600};
static ngx_http_taap_bounds_t ngx_http_taap_lifetime_bounds = {ngx_http_taap_check_seconds, 1,
                                                               86400};

#define LOC_CONF (NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF)

static ngx_command_t ngx_http_taap_commands[] = {
    {ngx_string("taap"), LOC_CONF | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, enable), NULL},
    {ngx_string("taap_access_token_keys"), LOC_CONF | NGX_CONF_TAKE1, ngx_http_taap_keys,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    {ngx_string("taap_issuer"), LOC_CONF | NGX_CONF_TAKE1, ngx_http_taap_cstr,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, issuer), NULL},
    {ngx_string("taap_audience"), LOC_CONF | NGX_CONF_TAKE1, ngx_http_taap_cstr,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, audience), NULL},
    {ngx_string("taap_require"), LOC_CONF | NGX_CONF_1MORE, ngx_http_taap_require,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    {ngx_string("taap_leeway"), LOC_CONF | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, leeway),
     &ngx_http_taap_leeway_bounds},
    {ngx_string("taap_max_lifetime"), LOC_CONF | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, max_lifetime),
     &ngx_http_taap_lifetime_bounds},
    {ngx_string("taap_body_max"), LOC_CONF | NGX_CONF_TAKE1, ngx_conf_set_off_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, body_max), NULL},
    {ngx_string("taap_replay"), LOC_CONF | NGX_CONF_TAKE1, ngx_http_taap_replay,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    {ngx_string("taap_replay_fail"), LOC_CONF | NGX_CONF_TAKE1, ngx_conf_set_enum_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, replay_fail),
     &ngx_http_taap_replay_fail_values},
    {ngx_string("taap_replay_timeout"), LOC_CONF | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_taap_loc_conf_t, replay_timeout), NULL},
    ngx_null_command,
};

static ngx_http_module_t ngx_http_taap_module_ctx = {
    ngx_http_taap_add_variables, /* preconfiguration */
    ngx_http_taap_init,          /* postconfiguration */
    NULL, NULL, NULL, NULL,
    ngx_http_taap_create_loc_conf,
    ngx_http_taap_merge_loc_conf,
};

ngx_module_t ngx_http_taap_module = {
    NGX_MODULE_V1,
    &ngx_http_taap_module_ctx,
    ngx_http_taap_commands,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING,
};

/* ---- configuration ---------------------------------------------------------- */

static char *ngx_http_taap_check_seconds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_taap_bounds_t *b = post;
    time_t *v = data;
    ngx_str_t *args = cf->args->elts;
    if (*v < b->min || *v > b->max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" must be %T..%T seconds, got %T",
                           &args[0], b->min, b->max, *v);
        return TAAP_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

static void ngx_http_taap_free_keyset(void *data)
{
    taap_keyset_free(data);
}

static void ngx_http_taap_free_at_cache(void *data)
{
    taap_access_token_cache_free(data);
}

static void ngx_http_taap_free_replay(void *data)
{
    taap_replay_free(data);
}

/* Free `p` with `fn` when the configuration's cycle goes (reload, exit). */
static ngx_int_t ngx_http_taap_on_cleanup(ngx_conf_t *cf, ngx_pool_cleanup_pt fn, void *p)
{
    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        fn(p);
        return NGX_ERROR;
    }
    cln->handler = fn;
    cln->data = p;
    return NGX_OK;
}

/* A directive's string argument, kept NUL-terminated for the library. */
static char *ngx_http_taap_cstr(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t *field = (ngx_str_t *)((char *)conf + cmd->offset);
    ngx_str_t *value = cf->args->elts;
    if (field->data != NULL)
        return "is duplicate";
    if (value[1].len == 0 || ngx_strlen(value[1].data) != value[1].len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" needs a non-empty value", &cmd->name);
        return TAAP_CONF_ERROR;
    }
    *field = value[1]; /* nginx's configuration strings are NUL-terminated */
    return NGX_CONF_OK;
}

static char *ngx_http_taap_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_taap_loc_conf_t *lcf = conf;
    ngx_str_t *value = cf->args->elts;
    if (lcf->keys != NULL)
        return "is duplicate";
    ngx_str_t path = value[1];
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK)
        return TAAP_CONF_ERROR;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_keyset_load_file((const char *)path.data, &lcf->keys, &err) != TAAP_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "taap_access_token_keys \"%V\": %s: %s (give the issuer's JWKS, as "
                           "published at /.well-known/jwks.json, or its public key PEM)",
                           &path, taap_code_name(err.code), err.message);
        return TAAP_CONF_ERROR;
    }
    lcf->keys_file = path;
    if (ngx_http_taap_on_cleanup(cf, ngx_http_taap_free_keyset, lcf->keys) != NGX_OK)
        return TAAP_CONF_ERROR;
    return NGX_CONF_OK;
}

/* An ehts part name: uri, http-method, body, or an HTTP header name (token). */
static ngx_int_t ngx_http_taap_part_ok(ngx_str_t *s)
{
    static const char tchar_extra[] = "!#$%&'*+-.^_`|~";
    if (s->len == 0 || s->len > 256)
        return 0;
    for (size_t i = 0; i < s->len; i++) {
        u_char c = s->data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && ngx_strchr(tchar_extra, c) != NULL)))
            return 0;
    }
    return 1;
}

static char *ngx_http_taap_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_taap_loc_conf_t *lcf = conf;
    ngx_str_t *value = cf->args->elts;
    if (lcf->require_set)
        return "is duplicate";
    ngx_uint_t n = cf->args->nelts - 1;
    if (n > TAAP_MAX_REQUIRE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "taap_require takes at most %d parts",
                           TAAP_MAX_REQUIRE);
        return TAAP_CONF_ERROR;
    }
    lcf->require = ngx_palloc(cf->pool, n * sizeof(char *));
    if (lcf->require == NULL)
        return TAAP_CONF_ERROR;
    for (ngx_uint_t i = 0; i < n; i++) {
        if (!ngx_http_taap_part_ok(&value[i + 1])) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "taap_require: \"%V\" is not uri, http-method, body nor an HTTP "
                               "header name",
                               &value[i + 1]);
            return TAAP_CONF_ERROR;
        }
        lcf->require[i] = (const char *)value[i + 1].data;
    }
    lcf->n_require = n;
    lcf->require_set = 1;
    return NGX_CONF_OK;
}

static char *ngx_http_taap_replay(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_taap_loc_conf_t *lcf = conf;
    ngx_str_t *value = cf->args->elts;
    if (lcf->replay_set)
        return "is duplicate";
    lcf->replay_set = 1;
    lcf->replay_spec = value[1];
    const char *spec = (const char *)value[1].data;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc;
    if (ngx_strcmp(spec, "off") == 0) {
        lcf->replay = NULL;
        return NGX_CONF_OK;
    }
    if (ngx_strcmp(spec, "memory") == 0) {
        rc = taap_replay_memory_new(0, &lcf->replay, &err);
    } else if (taap_replay_redis_url(spec)) {
        /* The timeout is read here: taap_replay_timeout must come first. */
        rc = taap_replay_redis_new(spec,
                                   lcf->replay_timeout == NGX_CONF_UNSET_MSEC
                                       ? 0
                                       : (unsigned)lcf->replay_timeout,
                                   &lcf->replay, &err);
    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "taap_replay \"%V\": expected off, memory, redis://HOST:PORT[/DB] "
                           "or unix:PATH",
                           &value[1]);
        return TAAP_CONF_ERROR;
    }
    if (rc != TAAP_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "taap_replay \"%V\": %s", &value[1],
                           err.message);
        return TAAP_CONF_ERROR;
    }
    if (ngx_http_taap_on_cleanup(cf, ngx_http_taap_free_replay, lcf->replay) != NGX_OK)
        return TAAP_CONF_ERROR;
    if (taap_replay_redis_url(spec) && !(lcf->redis = ngx_http_taap_redis_create(cf, lcf->replay)))
        return TAAP_CONF_ERROR;
    return NGX_CONF_OK;
}

static void *ngx_http_taap_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_taap_loc_conf_t *c = ngx_pcalloc(cf->pool, sizeof *c);
    if (c == NULL)
        return NULL;
    c->enable = NGX_CONF_UNSET;
    c->leeway = NGX_CONF_UNSET;
    c->max_lifetime = NGX_CONF_UNSET;
    c->body_max = NGX_CONF_UNSET;
    c->replay_fail = NGX_CONF_UNSET_UINT;
    c->replay_timeout = NGX_CONF_UNSET_MSEC;
    return c;
}

static char *ngx_http_taap_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_taap_loc_conf_t *prev = parent, *conf = child;
    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    if (conf->keys == NULL) {
        conf->keys = prev->keys;
        conf->keys_file = prev->keys_file;
    }
    if (conf->issuer.data == NULL)
        conf->issuer = prev->issuer;
    if (conf->audience.data == NULL)
        conf->audience = prev->audience;
    if (!conf->require_set) {
        conf->require = prev->require;
        conf->n_require = prev->n_require;
        conf->require_set = prev->require_set;
    }
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, TAAP_VERIFY_DEFAULT_LEEWAY);
    ngx_conf_merge_sec_value(conf->max_lifetime, prev->max_lifetime, TAAP_POP_MAX_LIFETIME);
    ngx_conf_merge_off_value(conf->body_max, prev->body_max, 0);
    ngx_conf_merge_uint_value(conf->replay_fail, prev->replay_fail, TAAP_REPLAY_FAIL_CLOSED);
    ngx_conf_merge_msec_value(conf->replay_timeout, prev->replay_timeout,
                              TAAP_REPLAY_REDIS_DEFAULT_TIMEOUT_MS);
    if (!conf->replay_set) {
        conf->replay_set = prev->replay_set;
        conf->replay = prev->replay;
        conf->redis = prev->redis;
        conf->replay_spec = prev->replay_spec;
    }
    if (conf->enable && conf->keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"taap on\" needs taap_access_token_keys (the issuer's JWKS or "
                           "public key) in this or an enclosing block");
        return TAAP_CONF_ERROR;
    }
    /* One access-token cache per distinct token policy: a block with the
     * same keys, issuer, audience and leeway as its parent shares it. */
    if (conf->enable && prev->at_cache && conf->keys == prev->keys &&
        conf->issuer.data == prev->issuer.data && conf->audience.data == prev->audience.data &&
        conf->leeway == prev->leeway) {
        conf->at_cache = prev->at_cache;
    } else if (conf->enable) {
        taap_error err = TAAP_ERROR_INIT;
        if (taap_access_token_cache_new(0, &conf->at_cache, &err) != TAAP_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "taap: %s", err.message);
            return TAAP_CONF_ERROR;
        }
        if (ngx_http_taap_on_cleanup(cf, ngx_http_taap_free_at_cache, conf->at_cache) != NGX_OK)
            return TAAP_CONF_ERROR;
    }
    if (conf->enable && !conf->replay_set) {
        /* The safe default: remember jti values in this worker's memory.
         * Several workers or nodes need taap_replay redis://… to share it. */
        taap_error err = TAAP_ERROR_INIT;
        if (taap_replay_memory_new(0, &conf->replay, &err) != TAAP_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "taap: %s", err.message);
            return TAAP_CONF_ERROR;
        }
        if (ngx_http_taap_on_cleanup(cf, ngx_http_taap_free_replay, conf->replay) != NGX_OK)
            return TAAP_CONF_ERROR;
        conf->replay_set = 1;
        ngx_str_set(&conf->replay_spec, "memory");
    }
    return NGX_CONF_OK;
}

/* ---- the request ------------------------------------------------------------------ */

static void ngx_http_taap_ctx_cleanup(void *data)
{
    ngx_http_taap_ctx_t *ctx = data;
    ngx_http_taap_redis_cancel(ctx->wait); /* the request is gone before its reply */
    ctx->wait = NULL;
    taap_key_free(ctx->cnf_key);
    ctx->cnf_key = NULL;
}

/* Decide a refusal (sent by ngx_http_taap_respond). */
static void ngx_http_taap_replay_outcome(ngx_http_request_t *r, ngx_http_taap_loc_conf_t *lcf,
                                         ngx_http_taap_ctx_t *ctx, taap_code rc,
                                         const taap_error *err);
static void ngx_http_taap_replay_done(void *data, taap_code rc, const taap_error *err);
static void ngx_http_taap_deny(ngx_http_taap_ctx_t *ctx, ngx_uint_t status, const char *user,
                               const char *result, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void ngx_http_taap_deny(ngx_http_taap_ctx_t *ctx, ngx_uint_t status, const char *user,
                               const char *result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->system_message, sizeof ctx->system_message, fmt, ap);
    va_end(ap);
    ctx->decided = 1;
    ctx->status = status;
    ctx->user_message = user;
    ctx->result = result;
}

/* The verifier's refusal, named by its code. */
static void ngx_http_taap_deny_code(ngx_http_taap_ctx_t *ctx, ngx_uint_t status,
                                    const char *user, const char *what, taap_code rc,
                                    const taap_error *err)
{
    ngx_http_taap_deny(ctx, status, user, taap_code_name(rc), "%s: %s%s", taap_code_name(rc),
                       what, err->message[0] ? err->message : taap_strerror(rc));
}

/* How many times header `name` occurs; *first gets the first value. */
static ngx_uint_t ngx_http_taap_header(ngx_http_request_t *r, const char *name, size_t len,
                                       ngx_table_elt_t **first)
{
    ngx_uint_t n = 0;
    *first = NULL;
    for (ngx_list_part_t *part = &r->headers_in.headers.part; part; part = part->next) {
        ngx_table_elt_t *h = part->elts;
        for (ngx_uint_t i = 0; i < part->nelts; i++) {
            if (h[i].key.len == len && ngx_strncasecmp(h[i].key.data, (u_char *)name, len) == 0) {
                if (n++ == 0)
                    *first = &h[i];
            }
        }
    }
    return n;
}

/* Steps 1 and 2: the two headers and the access token. */
static void ngx_http_taap_check_token(ngx_http_request_t *r, ngx_http_taap_loc_conf_t *lcf,
                                      ngx_http_taap_ctx_t *ctx)
{
    ngx_table_elt_t *auth, *pop;
    ngx_uint_t na = ngx_http_taap_header(r, "Authorization", 13, &auth);
    ngx_uint_t np = ngx_http_taap_header(r, "X-Authorization", 15, &pop);
    if (na == 0) {
        ngx_http_taap_deny(ctx, NGX_HTTP_UNAUTHORIZED, "Invalid Access Token", "NO_TOKEN",
                           "no Authorization header: send Authorization: Bearer <access token>");
        return;
    }
    if (na > 1 || np > 1) {
        ngx_http_taap_deny(ctx, NGX_HTTP_BAD_REQUEST, "Bad Request", "BAD_REQUEST",
                           "more than one %s header",
                           na > 1 ? "Authorization" : "X-Authorization");
        return;
    }
    if (auth->value.len < 7 || ngx_strncasecmp(auth->value.data, (u_char *)"Bearer ", 7) != 0) {
        ngx_http_taap_deny(ctx, NGX_HTTP_UNAUTHORIZED, "Invalid Access Token", "NO_TOKEN",
                           "Authorization must be 'Bearer <access token>'");
        return;
    }
    if (np == 0) {
        ngx_http_taap_deny(ctx, NGX_HTTP_BAD_REQUEST, "Bad Request", "NO_POP",
                           "X-Authorization header (the PoP token) is missing");
        return;
    }
    const char *tok = (const char *)auth->value.data + 7;
    size_t tok_len = auth->value.len - 7;
    while (tok_len && *tok == ' ') {
        tok++;
        tok_len--;
    }
    taap_access_token_config cfg;
    taap_access_token_config_init(&cfg);
    cfg.issuer = lcf->issuer.data ? (const char *)lcf->issuer.data : NULL;
    cfg.audience = lcf->audience.data ? (const char *)lcf->audience.data : NULL;
    cfg.leeway = (unsigned)lcf->leeway;
    taap_access_token_info info;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_access_token_verify_cached(lcf->at_cache, lcf->keys, tok, tok_len, &cfg,
                                                   &info, &err);
    if (rc != TAAP_OK) {
        ngx_http_taap_deny_code(ctx, rc == TAAP_E_NOMEM ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                                         : NGX_HTTP_UNAUTHORIZED,
                                "Invalid Access Token", "", rc, &err);
        return;
    }
    ctx->cnf_key = info.cnf_key; /* freed by the request's pool cleanup */
    info.cnf_key = NULL;
    ngx_memcpy(ctx->client_id, info.client_id, sizeof ctx->client_id);
    ctx->pop = (const char *)pop->value.data;
    ctx->pop_len = pop->value.len;
}

/* The body as a stream over nginx's buffers: memory, then the spooled file. */
typedef struct {
    ngx_chain_t *cl;
    off_t done; /* bytes of cl->buf already handed out */
} ngx_http_taap_body_reader_t;

static ssize_t ngx_http_taap_read_body(void *arg, void *buf, size_t cap)
{
    ngx_http_taap_body_reader_t *rd = arg;
    while (rd->cl) {
        ngx_buf_t *b = rd->cl->buf;
        off_t size = ngx_buf_size(b);
        if (rd->done >= size) {
            rd->cl = rd->cl->next;
            rd->done = 0;
            continue;
        }
        size_t n = (size_t)ngx_min((off_t)cap, size - rd->done);
        if (ngx_buf_in_memory(b)) {
            ngx_memcpy(buf, b->pos + rd->done, n);
        } else {
            ssize_t got = pread(b->file->fd, buf, n, b->file_pos + rd->done);
            if (got <= 0)
                return -1;
            n = (size_t)got;
        }
        rd->done += (off_t)n;
        return (ssize_t)n;
    }
    return 0;
}

static off_t ngx_http_taap_body_size(ngx_http_request_t *r)
{
    off_t n = 0;
    if (r->request_body == NULL)
        return 0;
    for (ngx_chain_t *cl = r->request_body->bufs; cl; cl = cl->next)
        n += ngx_buf_size(cl->buf);
    return n;
}

/* A NUL-terminated copy of an nginx string. */
static char *ngx_http_taap_cstring(ngx_pool_t *pool, ngx_str_t *s)
{
    char *p = ngx_pnalloc(pool, s->len + 1);
    if (p) {
        ngx_memcpy(p, s->data, s->len);
        p[s->len] = '\0';
    }
    return p;
}

/* Step 4: the PoP over the request as received. */
static void ngx_http_taap_check_pop(ngx_http_request_t *r, ngx_http_taap_loc_conf_t *lcf,
                                    ngx_http_taap_ctx_t *ctx)
{
    off_t body_len = ngx_http_taap_body_size(r);
    if (lcf->body_max > 0 && body_len > lcf->body_max) {
        ngx_http_taap_deny(ctx, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "Payload Too Large",
                           "BODY_TOO_LARGE", "request body is %lld bytes; taap_body_max is %lld",
                           (long long)body_len, (long long)lcf->body_max);
        return;
    }
    /* Headers as received (nginx keeps names and values NUL-terminated). */
    taap_header hdrs[TAAP_MAX_HEADERS];
    size_t nh = 0;
    for (ngx_list_part_t *part = &r->headers_in.headers.part; part; part = part->next) {
        ngx_table_elt_t *h = part->elts;
        for (ngx_uint_t i = 0; i < part->nelts; i++) {
            if (nh == TAAP_MAX_HEADERS) {
                ngx_http_taap_deny(ctx, NGX_HTTP_BAD_REQUEST, "Bad Request", "BAD_REQUEST",
                                   "more than %d header fields", TAAP_MAX_HEADERS);
                return;
            }
            hdrs[nh].name = (const char *)h[i].key.data;
            hdrs[nh].value = (const char *)h[i].value.data;
            nh++;
        }
    }
    char *method = ngx_http_taap_cstring(r->pool, &r->method_name);
    char *target = ngx_http_taap_cstring(r->pool, &r->unparsed_uri);
    if (!method || !target) {
        ngx_http_taap_deny(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error",
                           "ERROR", "out of memory");
        return;
    }
    ngx_http_taap_body_reader_t rd = {r->request_body ? r->request_body->bufs : NULL, 0};
    taap_request req = {method, target, hdrs, nh,
                        {body_len ? TAAP_BODY_CALLBACK : TAAP_BODY_NONE, NULL, (int64_t)body_len,
                         NULL, ngx_http_taap_read_body, &rd}};
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.leeway = (unsigned)lcf->leeway;
    cfg.max_lifetime = (unsigned)lcf->max_lifetime;
    if (lcf->require_set) {
        cfg.required = lcf->require;
        cfg.n_required = lcf->n_require;
    }
    cfg.replay = lcf->replay;
    taap_verify_info info;
    taap_error err = TAAP_ERROR_INIT;
    /* Redis is asked after every other check, without blocking the worker. */
    cfg.replay = lcf->redis ? NULL : lcf->replay;
    taap_code rc = taap_verify(ctx->pop, ctx->pop_len, ctx->cnf_key, &req, &cfg, &info, &err);
    ngx_memcpy(ctx->jti, info.jti, sizeof ctx->jti);
    int64_t expires_at = info.exp + (int64_t)lcf->leeway;
    taap_verify_info_free(&info);
    if (rc == TAAP_OK && lcf->redis) {
        unsigned char key_id[32];
        taap_key_fingerprint(ctx->cnf_key, key_id);
        ctx->r = r;
        ctx->wait = ngx_http_taap_redis_check(lcf->redis, key_id, ctx->jti, expires_at,
                                              (int64_t)ngx_time(), ngx_http_taap_replay_done,
                                              ctx, &err);
        if (ctx->wait) {
            ctx->waiting = 1;
            return;
        }
        rc = err.code;
    }
    ngx_http_taap_replay_outcome(r, lcf, ctx, rc, &err);
}

/* The verdict once the replay cache has answered (or could not). */
static void ngx_http_taap_replay_outcome(ngx_http_request_t *r, ngx_http_taap_loc_conf_t *lcf,
                                         ngx_http_taap_ctx_t *ctx, taap_code rc,
                                         const taap_error *err)
{
    if (rc == TAAP_OK) {
        ctx->decided = 1;
        ctx->result = "OK";
        return;
    }
    if (rc == TAAP_E_REPLAY_STORE) {
        /* Everything else held: only the replay check could not be made. */
        if (lcf->replay_fail == TAAP_REPLAY_FAIL_OPEN) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "taap: %s; request let through UNCHECKED for replay "
                          "(taap_replay_fail open)",
                          err->message);
            ctx->decided = 1;
            ctx->result = "OK_REPLAY_UNCHECKED";
            return;
        }
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "taap: %s; request refused with 503 (taap_replay_fail closed)",
                      err->message);
        ngx_http_taap_deny_code(ctx, NGX_HTTP_SERVICE_UNAVAILABLE, "Service Unavailable", "", rc,
                                err);
        return;
    }
    ngx_http_taap_deny_code(ctx,
                            rc == TAAP_E_NOMEM || rc == TAAP_E_IO || rc == TAAP_E_USAGE
                                ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                : NGX_HTTP_UNAUTHORIZED,
                            "Invalid PoP Token", "PoP token rejected: ", rc, err);
}

/* The Redis reply for a waiting request: decide, then resume its phases
 * (the access handler sees the decision and concludes). */
static void ngx_http_taap_replay_done(void *data, taap_code rc, const taap_error *err)
{
    ngx_http_taap_ctx_t *ctx = data;
    ngx_http_request_t *r = ctx->r;
    ngx_connection_t *c = r->connection;
    ngx_http_taap_loc_conf_t *lcf = ngx_http_get_module_loc_conf(r, ngx_http_taap_module);
    ctx->wait = NULL;
    ctx->waiting = 0;
    ngx_http_taap_replay_outcome(r, lcf, ctx, rc, err);
    ngx_http_finalize_request(r, NGX_DONE); /* drops the hold taken while waiting */
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}

/* JSON string contents for `s` (quotes, backslashes, controls escaped;
 * non-ASCII bytes replaced: the message is diagnostic text). */
static u_char *ngx_http_taap_json_escape(u_char *out, u_char *end, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && out + 6 < end; s++) {
        u_char c = (u_char)*s;
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = c;
        } else if (c < 0x20 || c >= 0x7f) {
            *out++ = '\\';
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = (u_char)hex[c >> 4];
            *out++ = (u_char)hex[c & 15];
        } else {
            *out++ = c;
        }
    }
    return out;
}

/* Send the refusal: T-Mobile's error body, WWW-Authenticate on a 401. */
static ngx_int_t ngx_http_taap_respond(ngx_http_request_t *r, ngx_http_taap_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "taap: %ui %s", ctx->status,
                  ctx->system_message);
    if (!ctx->body_read && ngx_http_discard_request_body(r) != NGX_OK)
        r->keepalive = 0;
    size_t cap = sizeof ctx->system_message * 6 + 128;
    u_char *body = ngx_pnalloc(r->pool, cap);
    if (body == NULL)
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    u_char *p = body, *end = body + cap;
    p = ngx_slprintf(p, end, "{\"code\":\"%ui\",\"userMessage\":\"", ctx->status);
    p = ngx_http_taap_json_escape(p, end - 32, ctx->user_message);
    p = ngx_slprintf(p, end, "\",\"systemMessage\":\"");
    p = ngx_http_taap_json_escape(p, end - 8, ctx->system_message);
    p = ngx_slprintf(p, end, "\"}");

    r->headers_out.status = ctx->status;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = p - body;
    if (ctx->status == NGX_HTTP_UNAUTHORIZED) {
        ngx_table_elt_t *h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL)
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        ngx_str_set(&h->value, "Bearer realm=\"taap\", error=\"invalid_token\"");
        r->headers_out.www_authenticate = h;
    }
    ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only)
        return rc;
    ngx_buf_t *b = ngx_calloc_buf(r->pool);
    if (b == NULL)
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    b->pos = body;
    b->last = p;
    b->memory = 1;
    b->last_buf = 1;
    ngx_chain_t out = {b, NULL};
    return ngx_http_output_filter(r, &out);
}

/* The decided request: go on, or answer now. */
static ngx_int_t ngx_http_taap_conclude(ngx_http_request_t *r, ngx_http_taap_ctx_t *ctx)
{
    if (ctx->status == 0)
        return NGX_DECLINED;
    ngx_http_finalize_request(r, ngx_http_taap_respond(r, ctx));
    return NGX_DONE;
}

static void ngx_http_taap_body_handler(ngx_http_request_t *r)
{
    ngx_http_taap_ctx_t *ctx = ngx_http_get_module_ctx(r, ngx_http_taap_module);
    ctx->body_read = 1;
    r->preserve_body = 1; /* the upstream gets the same buffers */
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}

static ngx_int_t ngx_http_taap_handler(ngx_http_request_t *r)
{
    ngx_http_taap_loc_conf_t *lcf = ngx_http_get_module_loc_conf(r, ngx_http_taap_module);
    if (!lcf->enable || r != r->main)
        return NGX_DECLINED;
    ngx_http_taap_ctx_t *ctx = ngx_http_get_module_ctx(r, ngx_http_taap_module);
    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof *ctx);
        ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(r->pool, 0);
        if (ctx == NULL || cln == NULL)
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        cln->handler = ngx_http_taap_ctx_cleanup;
        cln->data = ctx;
        ngx_http_set_ctx(r, ctx, ngx_http_taap_module);
        ngx_http_taap_check_token(r, lcf, ctx);
        if (ctx->decided)
            return ngx_http_taap_conclude(r, ctx);
        if (lcf->body_max > 0 && r->headers_in.content_length_n > lcf->body_max) {
            ngx_http_taap_deny(ctx, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "Payload Too Large",
                               "BODY_TOO_LARGE",
                               "request body is %lld bytes; taap_body_max is %lld",
                               (long long)r->headers_in.content_length_n,
                               (long long)lcf->body_max);
            return ngx_http_taap_conclude(r, ctx);
        }
        if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
            ctx->body_wanted = 1;
            ngx_int_t rc = ngx_http_read_client_request_body(r, ngx_http_taap_body_handler);
            if (rc >= NGX_HTTP_SPECIAL_RESPONSE)
                return rc;
            ngx_http_finalize_request(r, NGX_DONE);
            return NGX_DONE;
        }
    }
    if (!ctx->decided) {
        if ((ctx->body_wanted && !ctx->body_read) || ctx->waiting)
            return NGX_DONE; /* still reading or waiting (a spurious re-entry) */
        ngx_http_taap_check_pop(r, lcf, ctx);
        if (ctx->waiting) {
            r->main->count++; /* held until the reply: ngx_http_taap_replay_done */
            return NGX_DONE;
        }
    }
    return ngx_http_taap_conclude(r, ctx);
}

/* ---- variables -------------------------------------------------------------------- */

static ngx_int_t ngx_http_taap_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
                                        uintptr_t data)
{
    ngx_http_taap_ctx_t *ctx = ngx_http_get_module_ctx(r->main, ngx_http_taap_module);
    const char *s = NULL;
    if (ctx) {
        switch (data) {
        case 0: s = ctx->client_id; break;
        case 1: s = ctx->jti; break;
        default: s = ctx->result; break;
        }
    }
    if (s == NULL || *s == '\0') {
        v->not_found = 1;
        return NGX_OK;
    }
    v->data = (u_char *)s;
    v->len = ngx_strlen(s);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

static ngx_int_t ngx_http_taap_add_variables(ngx_conf_t *cf)
{
    static ngx_str_t names[] = {ngx_string("taap_client_id"), ngx_string("taap_jti"),
                                ngx_string("taap_result")};
    for (uintptr_t i = 0; i < 3; i++) {
        ngx_http_variable_t *var = ngx_http_add_variable(cf, &names[i], NGX_HTTP_VAR_NOCACHEABLE);
        if (var == NULL)
            return NGX_ERROR;
        var->get_handler = ngx_http_taap_variable;
        var->data = i;
    }
    return NGX_OK;
}

static ngx_int_t ngx_http_taap_init(ngx_conf_t *cf)
{
    ngx_http_core_main_conf_t *cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    ngx_http_handler_pt *h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL)
        return NGX_ERROR;
    *h = ngx_http_taap_handler;
    return NGX_OK;
}
