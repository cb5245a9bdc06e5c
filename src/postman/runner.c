/*
 * runner.c — taap_run_collection: validate the options, plan the run, find
 * the PoP key, collect the values to redact, start the workers (each with
 * its own transport) and hand back the result.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "run.h"

static const char *const key_names[] = {"privateKey", "private_key", "PRIVATE_KEY", "privKey",
                                        "privatekey", "pop_private_key", "popPrivateKey",
                                        "private-key", "rsaPrivateKey", NULL};


static void collect_secrets(pm_run *cx, const pm_scope *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->v[i].secret || pm_name_sensitive(s->v[i].key) ||
            strstr(s->v[i].value, "PRIVATE KEY"))
            pm_secrets_add(&cx->secrets, s->v[i].value);
}

static taap_code load_key(pm_run *cx, taap_error *err)
{
    if (cx->o->key) {
        cx->key = cx->o->key;
        return TAAP_OK;
    }
    const char *pem = NULL;
    const char *from = NULL;
    const pm_scope *scopes[] = {pm_varset_scope(cx->env), &cx->coll, pm_varset_scope(cx->globals)};
    for (size_t n = 0; key_names[n] && !pem; n++)
        for (size_t s = 0; s < 3 && !pem; s++) {
            const char *v = pm_scope_get(scopes[s], key_names[n]);
            if (v && strstr(v, "PRIVATE KEY")) {
                pem = v;
                from = key_names[n];
            }
        }
    for (size_t s = 0; s < 3 && !pem; s++)
        for (size_t i = 0; scopes[s] && i < scopes[s]->n && !pem; i++)
            if (strstr(scopes[s]->v[i].value, "-----BEGIN") &&
                strstr(scopes[s]->v[i].value, "PRIVATE KEY")) {
                pem = scopes[s]->v[i].value;
                from = scopes[s]->v[i].key;
            }
    if (!pem)
        return taap_fail(err, TAAP_E_CONFIG,
                         "a request needs a PoP token (X-Authorization) but there is no private "
                         "key: give --key FILE or put the PEM in the environment as privateKey");
    taap_error e = TAAP_ERROR_INIT;
    /* Postman environments often hold the PEM with literal "\n" sequences */
    pm_buf b = {0};
    for (const char *p = pem; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            pm_buf_put(&b, "\n", 1);
            p++;
        } else {
            pm_buf_put(&b, p, 1);
        }
    }
    if (b.failed) {
        pm_buf_free(&b);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    taap_code rc = taap_key_load_private(b.p, b.len, NULL, 0, &cx->own_key, &e);
    taap_free_secret(b.p, b.cap);
    if (rc != TAAP_OK)
        return taap_fail(err, rc, "private key in variable \"%s\": %s", from, e.message);
    cx->key = cx->own_key;
    return TAAP_OK;
}

void taap_run_options_init(taap_run_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

static int truthy(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"));
}

int64_t pm_now(pm_run *cx)
{
    return cx->o->clock ? cx->o->clock(cx->o->clock_ctx) : (int64_t)time(NULL);
}

void pm_random_chars(pm_run *cx, const char *alphabet, char *out, size_t n)
{
    size_t k = strlen(alphabet);
    unsigned char r[64];
    if (n >= sizeof r)
        n = sizeof r - 1;
    if (cx->random)
        cx->random(cx->random_ctx, r, n);
    else if (RAND_bytes(r, (int)n) != 1)
        memset(r, 0, n); /* never reached with a working OpenSSL */
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[r[i] % k];
    out[n] = '\0';
}

taap_code taap_run_collection(const taap_collection *c, taap_varset *env, taap_varset *globals,
                              const taap_iterdata *data, const taap_run_options *opts,
                              taap_run_report_fn report, void *report_ctx,
                              taap_run_result **out, taap_error *err)
{
    return pm_run_collection(c, env, globals, data, opts, report, report_ctx, NULL, out, err);
}

/* The requests to run, in order (--folder checked), and the expectation. */
static taap_code run_plan(pm_run *cx, taap_error *err)
{
    const taap_run_options *opts = cx->o;
    if (opts->expect_status && pm_parse_ranges(opts->expect_status, cx->ranges, &cx->n_ranges))
        return taap_fail(err, TAAP_E_CONFIG,
                         "--expect-status \"%s\": expected codes or ranges like 2xx, 200, "
                         "200-204 (comma-separated)",
                         opts->expect_status);
    int *hits = calloc(opts->n_folders + 1, sizeof *hits);
    size_t cap = 0;
    if (!hits || pm_plan_walk(cx, &cx->c->root, hits, &cap)) {
        free(hits);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    taap_code rc = TAAP_OK;
    if (opts->n_folders) {
        memset(hits, 0, opts->n_folders * sizeof *hits);
        pm_plan_mark_hits(opts, &cx->c->root, hits);
        for (size_t i = 0; i < opts->n_folders && rc == TAAP_OK; i++)
            if (!hits[i])
                rc = taap_fail(err, TAAP_E_CONFIG, "no folder or request named \"%s\"",
                               opts->folders[i]);
    }
    free(hits);
    return rc;
}

/* The PoP key when a planned request needs one, and the values to redact. */
static taap_code run_secrets(pm_run *cx, taap_error *err)
{
    cx->pop_all = cx->o->taap || truthy(pm_scope_get(&cx->coll, "taap_pop")) ||
                  truthy(pm_scope_get(&cx->coll, "taapPop"));
    int need_key = cx->pop_all;
    for (size_t i = 0; i < cx->n_plan && !need_key; i++) {
        /* a PoP pre-request script: its X-Authorization is signed natively */
        for (const pm_item *p = cx->plan[i].it; p && !need_key; p = p->parent)
            need_key = p->prerequest && !cx->o->ignore_scripts && pm_script_is_pop(p->prerequest);
        for (size_t h = 0; h < cx->plan[i].it->headers.n; h++) {
            const pm_kv *kv = &cx->plan[i].it->headers.v[h];
            if (!kv->disabled && kv->key && !taap_ascii_casecmp(kv->key, "X-Authorization"))
                need_key = 1;
        }
    }
    taap_code rc = need_key ? load_key(cx, err) : TAAP_OK;
    collect_secrets(cx, pm_varset_scope(cx->env));
    collect_secrets(cx, pm_varset_scope(cx->globals));
    collect_secrets(cx, &cx->coll);
    return rc;
}

/* Run every iteration: in this thread, or on -j N workers (each with its
 * own transport). */
static taap_code run_workers(pm_run *cx, const pm_run_seams *seams, taap_error *err)
{
    unsigned iters = cx->iterations;
    unsigned jobs = cx->o->jobs > 1 ? cx->o->jobs : 1;
    if (jobs > iters)
        jobs = iters;
    if (jobs > 64)
        jobs = 64;
    pm_worker *ws = calloc(jobs, sizeof *ws);
    pthread_t *th = calloc(jobs, sizeof *th);
    taap_code rc = TAAP_OK;
    if (!ws || !th)
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
    for (unsigned j = 0; rc == TAAP_OK && j < jobs; j++) {
        ws[j].cx = cx;
        ws[j].http = seams && seams->transport_open
                         ? seams->transport_open(seams->transport_ctx)
                         : pm_transport_curl_open(NULL);
        if (!ws[j].http)
            rc = taap_fail(err, TAAP_E_NOMEM, "could not create an HTTP session");
    }
    if (rc == TAAP_OK && jobs == 1) {
        for (unsigned it = 0; it < iters && !pm_stopped(cx); it++) {
            pthread_mutex_lock(&cx->lock);
            pm_emit(cx, TAAP_RUN_EV_ITERATION, it, NULL, NULL, NULL);
            pthread_mutex_unlock(&cx->lock);
            pm_run_iteration(&ws[0], it);
        }
    } else if (rc == TAAP_OK) {
        unsigned started = 0;
        while (started < jobs && pthread_create(&th[started], NULL, pm_worker_main, &ws[started]) == 0)
            started++;
        if (!started)
            pm_worker_main(&ws[0]);
        for (unsigned j = 0; j < started; j++)
            pthread_join(th[j], NULL);
    }
    for (unsigned j = 0; ws && j < jobs; j++) {
        if (ws[j].http)
            ws[j].http->ops->close(ws[j].http);
        pm_scope_clear(&ws[j].data);
        pm_scripts_worker_free(&ws[j]);
    }
    free(ws);
    free(th);
    return rc;
}

static void run_free(pm_run *cx)
{
    taap_run_result_free(cx->res);
    free(cx->plan);
    for (size_t i = 0; i < cx->n_warned; i++)
        free(cx->warned[i]);
    free(cx->warned);
    pm_secrets_free(&cx->secrets);
    pm_auth_states_free(cx);
    pm_scope_clear(&cx->coll);
    pm_scope_clear(&cx->local);
    taap_key_free(cx->own_key);
    pthread_mutex_destroy(&cx->lock);
    pthread_mutex_destroy(&cx->token_lock);
    free(cx);
}

taap_code pm_run_collection(const taap_collection *c, taap_varset *env, taap_varset *globals,
                            const taap_iterdata *data, const taap_run_options *opts,
                            taap_run_report_fn report, void *report_ctx,
                            const pm_run_seams *seams, taap_run_result **out, taap_error *err)
{
    *out = NULL;
    if (!c || !opts || opts->struct_size != sizeof(taap_run_options))
        return taap_fail(err, TAAP_E_USAGE, "taap_run_collection: bad arguments");
    pm_run *cx = calloc(1, sizeof *cx);
    if (!cx)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    taap_varset *own_env = NULL, *own_glob = NULL;
    if (!env)
        env = own_env = taap_varset_new();
    if (!globals)
        globals = own_glob = taap_varset_new();
    cx->c = c;
    cx->o = opts;
    if (seams) {
        cx->random = seams->random;
        cx->random_ctx = seams->random_ctx;
    }
    cx->env = env;
    cx->globals = globals;
    cx->data = data;
    cx->report = report;
    cx->rctx = report_ctx;
    pthread_mutex_init(&cx->lock, NULL);
    pthread_mutex_init(&cx->token_lock, NULL);
    taap_code rc = TAAP_OK;
    cx->res = calloc(1, sizeof *cx->res);
    if (!env || !globals || !cx->res ||
        !(cx->res->collection_name = taap_strdup(taap_collection_name(c)))) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->vars.n; i++)
        pm_scope_set(&cx->coll, c->vars.v[i].key, c->vars.v[i].value, 0);
    if ((rc = run_plan(cx, err)) != TAAP_OK)
        goto done;
    pm_token_setup(cx);
    if ((rc = run_secrets(cx, err)) != TAAP_OK || (rc = pm_scripts_setup(cx, err)) != TAAP_OK)
        goto done;

    unsigned iters = opts->iterations;
    if (!iters)
        iters = data && taap_iterdata_rows(data) ? (unsigned)taap_iterdata_rows(data) : 1;
    cx->iterations = cx->res->iterations = iters;
    cx->total = (size_t)iters * cx->n_plan;
    clock_gettime(CLOCK_MONOTONIC, &cx->t0);
    cx->res->started = (int64_t)time(NULL);
    pthread_mutex_lock(&cx->lock);
    pm_emit(cx, TAAP_RUN_EV_START, 0, NULL, taap_collection_name(c), NULL);
    for (size_t i = 0; i < cx->n_plan; i++)
        pm_scripts_notes(cx, cx->plan[i].it);
    pthread_mutex_unlock(&cx->lock);

    if ((rc = run_workers(cx, seams, err)) != TAAP_OK)
        goto done;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cx->res->duration_ms =
        (double)(t1.tv_sec - cx->t0.tv_sec) * 1000.0 + (double)(t1.tv_nsec - cx->t0.tv_nsec) / 1e6;
    cx->res->interrupted = cx->interrupted;
    cx->res->bailed = cx->stop && !cx->interrupted;
    cx->res->collection_json = pm_report_collection(cx);
    cx->res->environment_json = pm_report_scope(cx, cx->env);
    cx->res->globals_json = pm_report_scope(cx, cx->globals);
    pthread_mutex_lock(&cx->lock);
    pm_emit(cx, TAAP_RUN_EV_END, 0, NULL, NULL, NULL);
    pthread_mutex_unlock(&cx->lock);
    *out = cx->res;
    cx->res = NULL;
done:
    run_free(cx);
    taap_varset_free(own_env);
    taap_varset_free(own_glob);
    if (rc != TAAP_OK)
        pm_err_oneline(err);
    return rc;
}
