/*
 * token.c — the OAuth access token: Basic client credentials for the token
 * request when a script was meant to make them, the token captured from
 * the response into the variables the collection uses, reused while valid
 * (shared by parallel workers) and refreshed before expiry or after a 401.
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"

static const char *const client_id_names[] = {"client_id", "clientId", "clientID", "CLIENT_ID",
                                              "client-id", "consumerKey", "consumer_key",
                                              "apiKey", NULL};
static const char *const client_secret_names[] = {"client_secret", "clientSecret",
                                                  "CLIENT_SECRET", "client-secret",
                                                  "consumerSecret", "consumer_secret",
                                                  "apiSecret", NULL};

/* Basic credentials for an OAuth token request when the collection expects
 * a script to have made them (no Authorization, or a placeholder left). */
int pm_token_basic(pm_worker *w, pm_built *b)
{
    int i = pm_hdr_find(b, "Authorization");
    if (i >= 0) {
        const char *v = b->hv[i];
        if (!strstr(v, "{{") && strcmp(v, "Basic") != 0 && strcmp(v, "Basic ") != 0 && *v)
            return 0; /* the collection already sends credentials */
    }
    const char *id = pm_lookup_any(w, client_id_names);
    const char *sec = pm_lookup_any(w, client_secret_names);
    if (!id || !sec) {
        if (pm_first_time(w->cx, "basic:missing"))
            pm_emit(w->cx, TAAP_RUN_EV_WARNING, w->iteration, NULL,
                 "the token request needs Basic credentials but the environment has no "
                 "client id and secret (client_id / client_secret)",
                 NULL);
        return 0;
    }
    char *val = pm_basic_value(id, sec);
    int rc = val ? pm_hdr_set(b, "Authorization", val) : -1;
    taap_free_secret_str(val);
    b->basic_from_env = rc == 0;
    return rc;
}


/* ---- token handling ------------------------------------------------------------ */

static void store_var(pm_run *cx, char scope, const char *name, const char *value)
{
    pm_scope *s = scope == 'g'   ? pm_varset_scope(cx->globals)
                  : scope == 'c' ? &cx->coll
                  : scope == 'l' ? &cx->local
                                 : pm_varset_scope(cx->env);
    if (scope == 'g')
        taap_varset_set(cx->globals, name, value, NULL);
    else if (scope == 'e' || !scope)
        taap_varset_set(cx->env, name, value, NULL);
    else
        pm_scope_set(s, name, value, 0);
}

/* Parse a token response and store it (caller holds cx->lock). */
int pm_token_capture(pm_run *cx, const char *body, pm_outcome *oc)
{
    json_t *j = body ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *at = json_object_get(j, "access_token");
    if (!json_is_string(at) || !json_string_length(at)) {
        json_decref(j);
        return -1;
    }
    const char *access = json_string_value(at);
    const char *idt = json_string_value(json_object_get(j, "id_token"));
    json_t *ei = json_object_get(j, "expires_in");
    long long exp_in = -1;
    if (json_is_integer(ei))
        exp_in = (long long)json_integer_value(ei);
    else if (json_is_real(ei))
        exp_in = (long long)json_real_value(ei);
    else if (json_is_string(ei)) {
        char *e;
        long long v = strtoll(json_string_value(ei), &e, 10);
        if (e != json_string_value(ei) && *e == '\0')
            exp_in = v;
    }
    pm_secrets_add(&cx->secrets, access);
    if (idt)
        pm_secrets_add(&cx->secrets, idt);
    int64_t now = pm_now(cx);
    int stored_access = 0, stored_id = 0;
    for (size_t i = 0; i < cx->token_si.n_caps; i++) {
        const pm_capture *c = &cx->token_si.caps[i];
        char buf[64];
        switch (c->field) {
        case PM_F_ACCESS:
            if (cx->o->token_var)
                break;
            store_var(cx, c->scope, c->name, access);
            stored_access = 1;
            break;
        case PM_F_ID:
            if (idt) {
                store_var(cx, c->scope, c->name, idt);
                stored_id = 1;
            }
            break;
        case PM_F_EXPIRES_IN:
            if (exp_in >= 0) {
                snprintf(buf, sizeof buf, "%lld", exp_in);
                store_var(cx, c->scope, c->name, buf);
            }
            break;
        case PM_F_EXPIRY_MS:
            if (exp_in >= 0) {
                snprintf(buf, sizeof buf, "%lld", (long long)(now + exp_in) * 1000LL);
                store_var(cx, c->scope, c->name, buf);
            }
            break;
        }
    }
    if (!stored_access)
        store_var(cx, 'e', cx->access_var, access);
    if (idt && !stored_id)
        store_var(cx, 'e', cx->id_var, idt);
    cx->have_token = 1;
    cx->token_exp = exp_in > 0 ? now + exp_in : 0;
    cx->token_gen++;
    char n[200];
    snprintf(n, sizeof n, "token captured into {{%s}}", cx->access_var);
    pm_note(oc, n);
    json_decref(j);
    return 0;
}

int pm_token_valid(pm_run *cx)
{
    if (!cx->have_token)
        return 0;
    return cx->token_exp == 0 || pm_now(cx) < cx->token_exp - TOKEN_SKEW;
}

/* Make sure a valid token exists (fetching it with the collection's token
 * request); `force` refetches unless another worker already did since
 * generation `seen_gen`. */
void pm_token_ensure(pm_worker *w, int force, unsigned seen_gen, const char *why)
{
    pm_run *cx = w->cx;
    if (!cx->token_item)
        return;
    pthread_mutex_lock(&cx->token_lock);
    pthread_mutex_lock(&cx->lock);
    int need = force ? cx->token_gen == seen_gen : !pm_token_valid(cx);
    pthread_mutex_unlock(&cx->lock);
    if (need) {
        pm_plan_item pi = {0};
        pi.it = cx->token_item;
        pi.si = cx->token_si;
        pi.is_token = 1;
        pm_exec_item(w, &pi, 1, why);
    }
    pthread_mutex_unlock(&cx->token_lock);
}

/* The variable names the collection uses for the token, and a token kept
 * in the environment from an earlier run (with the expiry the collection's
 * script records), reused while it is valid. */
void pm_token_setup(pm_run *cx)
{
    const taap_run_options *opts = cx->o;
    snprintf(cx->access_var, sizeof cx->access_var, "%s",
             opts->token_var ? opts->token_var : "access_token");
    snprintf(cx->id_var, sizeof cx->id_var, "id_token");
    if (!opts->token_var)
        for (size_t i = 0; i < cx->token_si.n_caps; i++)
            if (cx->token_si.caps[i].field == PM_F_ACCESS) {
                snprintf(cx->access_var, sizeof cx->access_var, "%s", cx->token_si.caps[i].name);
                break;
            }
    for (size_t i = 0; i < cx->token_si.n_caps; i++) {
        const pm_capture *cp = &cx->token_si.caps[i];
        const char *at = taap_varset_get(cx->env, cx->access_var);
        const char *ev = cp->field == PM_F_EXPIRY_MS ? taap_varset_get(cx->env, cp->name) : NULL;
        if (!ev || !at || !*at)
            continue;
        char *e;
        long long ms = strtoll(ev, &e, 10);
        if (e != ev && *e == '\0' && ms > 0) {
            cx->have_token = 1;
            cx->token_exp = (int64_t)(ms / 1000);
        }
    }
}
