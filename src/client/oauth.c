/* oauth.c — SPEC §4: the TAAP token request and its response. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "b64url.h"
#include "util.h"
#include "oauth_internal.h"
#include "taap/oauth.h"
#include "taap/pop.h"

#define OAUTH_MAX_RESPONSE (64u << 10)
#define OAUTH_MAX_TOKEN_LEN (32u << 10)

void taap_oauth_token_free(taap_oauth_token *tok)
{
    if (!tok)
        return;
    taap_free_secret_str(tok->access_token);
    taap_free_secret_str(tok->id_token);
    free(tok->token_type);
    free(tok->scope);
    free(tok);
}

int64_t oauth_margin(int64_t expires_in)
{
    /* SPEC §4 says expires_in − 60 s; a token that lives under two minutes
     * (an emulator started with a short lifetime) would then never be
     * reused, so such tokens are reused for half their life. */
    if (expires_in >= 2 * TAAP_OAUTH_REFRESH_MARGIN)
        return TAAP_OAUTH_REFRESH_MARGIN;
    return expires_in / 2;
}

int taap_oauth_token_usable(const taap_oauth_token *tok, int64_t now)
{
    if (!tok || !tok->access_token)
        return 0;
    return now < tok->expires_at - oauth_margin(tok->expires_in) && now >= tok->obtained_at - 300;
}

void taap_oauth_params_init(taap_oauth_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
}

/* The `scope` claim of a JWT access token, unverified, for display only. */
static char *oauth_scope_from_jwt(const char *tok)
{
    const char *d1 = strchr(tok, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || (size_t)(d2 - d1 - 1) > OAUTH_MAX_TOKEN_LEN)
        return NULL;
    size_t n = (size_t)(d2 - d1 - 1), olen = 0;
    unsigned char *buf = malloc(n * 3 / 4 + 4);
    if (!buf)
        return NULL;
    char *scope = NULL;
    if (taap_b64url_decode(d1 + 1, n, buf, &olen) == 0) {
        json_error_t je;
        json_t *o = json_loadb((const char *)buf, olen, JSON_REJECT_DUPLICATES, &je);
        json_t *s = o ? json_object_get(o, "scope") : NULL;
        if (json_is_string(s))
            scope = taap_strdup(json_string_value(s));
        else if (json_is_array(s)) { /* some servers send a list */
            size_t total = 1, i;
            json_t *v;
            json_array_foreach(s, i, v) if (json_is_string(v)) total += strlen(json_string_value(v)) + 1;
            scope = calloc(1, total);
            if (scope)
                json_array_foreach(s, i, v) if (json_is_string(v)) {
                    size_t l = strlen(scope);
                    snprintf(scope + l, total - l, "%s%s", l ? " " : "", json_string_value(v));
                }
        }
        json_decref(o);
    }
    free(buf);
    return scope;
}

static int oauth_parse_expires(json_t *v, int64_t *out)
{
    if (!v) {
        *out = 3600; /* T-Mobile documents 3600 s; T911 defaults to it too */
        return 0;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 1 || i > 1000000000)
            return -1;
        *out = (int64_t)i;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (n == 0 || n > 10)
            return -1;
        int64_t acc = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            acc = acc * 10 + (s[i] - '0');
        }
        if (acc < 1 || acc > 1000000000)
            return -1;
        *out = acc;
        return 0;
    }
    return -1;
}

static int oauth_token_chars_ok(const char *s)
{
    /* The token goes into an HTTP header: printable ASCII, no spaces. */
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

taap_code taap_oauth_parse_response(const char *body, size_t len, int64_t now,
                                    taap_oauth_token **out, taap_error *err)
{
    *out = NULL;
    if (len > OAUTH_MAX_RESPONSE)
        return taap_fail(err, TAAP_E_OAUTH, "token response larger than %u bytes", OAUTH_MAX_RESPONSE);
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return taap_fail(err, TAAP_E_OAUTH, "token response is not JSON (%s at byte %d)", je.text,
                         je.position);
    taap_code rc = TAAP_OK;
    taap_oauth_token *t = NULL;
    if (!json_is_object(o)) {
        rc = taap_fail(err, TAAP_E_OAUTH, "token response is not a JSON object");
        goto done;
    }
    json_t *at = json_object_get(o, "access_token");
    if (!json_is_string(at) || json_string_length(at) == 0) {
        rc = taap_fail(err, TAAP_E_OAUTH, "token response has no access_token string");
        goto done;
    }
    if (json_string_length(at) > OAUTH_MAX_TOKEN_LEN || !oauth_token_chars_ok(json_string_value(at))) {
        rc = taap_fail(err, TAAP_E_OAUTH, "token response: access_token is too long or not "
                       "printable ASCII without spaces");
        goto done;
    }
    int64_t exp_in;
    if (oauth_parse_expires(json_object_get(o, "expires_in"), &exp_in) != 0) {
        rc = taap_fail(err, TAAP_E_OAUTH, "token response: expires_in must be a positive integer "
                       "or a string of digits");
        goto done;
    }
    json_t *idt = json_object_get(o, "id_token"), *tt = json_object_get(o, "token_type"),
           *sc = json_object_get(o, "scope");
    if ((idt && !json_is_string(idt) && !json_is_null(idt)) || (tt && !json_is_string(tt) && !json_is_null(tt))) {
        rc = taap_fail(err, TAAP_E_OAUTH, "token response: id_token and token_type must be strings");
        goto done;
    }
    if (json_is_string(idt) && (json_string_length(idt) > OAUTH_MAX_TOKEN_LEN ||
                                !oauth_token_chars_ok(json_string_value(idt)))) {
        rc = taap_fail(err, TAAP_E_OAUTH, "token response: id_token is too long or not printable");
        goto done;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    t->access_token = taap_strdup(json_string_value(at));
    if (json_is_string(idt) && json_string_length(idt) > 0)
        t->id_token = taap_strdup(json_string_value(idt));
    t->token_type = taap_strdup(json_is_string(tt) && json_string_length(tt) > 0 ? json_string_value(tt)
                                                                                  : "Bearer");
    if (json_is_string(sc))
        t->scope = taap_strdup(json_string_value(sc));
    else
        t->scope = oauth_scope_from_jwt(t->access_token);
    t->expires_in = exp_in;
    t->obtained_at = now;
    t->expires_at = now + exp_in;
    if (!t->access_token || !t->token_type || (json_is_string(idt) && json_string_length(idt) > 0 && !t->id_token)) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    *out = t;
    t = NULL;
done:
    taap_oauth_token_free(t);
    json_decref(o);
    return rc;
}

/* Copy printable text from untrusted server output into dst, replacing the
 * secret wherever it appears (a server should never echo it; if it does we
 * still do not print it). */
void oauth_scrub_copy(char *dst, size_t cap, const char *untrusted, size_t n, const char *secret)
{
    size_t o = 0, slen = secret ? strlen(secret) : 0;
    for (size_t i = 0; i < n && o + 1 < cap;) {
        if (slen >= 4 && n - i >= slen && memcmp(untrusted + i, secret, slen) == 0) {
            const char *r = "[redacted]";
            for (; *r && o + 1 < cap; r++)
                dst[o++] = *r;
            i += slen;
            continue;
        }
        unsigned char c = (unsigned char)untrusted[i++];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    dst[o] = '\0';
}

void oauth_error_summary(const char *body, size_t len, const char *secret, char *out, size_t cap)
{
    out[0] = '\0';
    json_error_t je;
    json_t *o = len ? json_loadb(body, len < OAUTH_MAX_RESPONSE ? len : OAUTH_MAX_RESPONSE,
                                 JSON_REJECT_DUPLICATES, &je) : NULL;
    char tmp[600];
    tmp[0] = '\0';
    if (json_is_object(o)) {
        const char *keys[][2] = {{"error", "error_description"},
                                 {"userMessage", "systemMessage"},
                                 {"message", "detail"}};
        for (size_t k = 0; k < 3 && !tmp[0]; k++) {
            json_t *a = json_object_get(o, keys[k][0]), *b = json_object_get(o, keys[k][1]);
            const char *as = json_is_string(a) ? json_string_value(a) : NULL;
            const char *bs = json_is_string(b) ? json_string_value(b) : NULL;
            if (as && bs && strcmp(as, bs) != 0)
                snprintf(tmp, sizeof tmp, "%.250s: %.300s", as, bs);
            else if (as || bs)
                snprintf(tmp, sizeof tmp, "%.500s", as ? as : bs);
        }
    } else if (len) {
        snprintf(tmp, sizeof tmp, "%.*s", (int)(len < 200 ? len : 200), body);
    }
    json_decref(o);
    oauth_scrub_copy(out, cap, tmp, strlen(tmp), secret);
}

char *oauth_join_url(const char *base, const char *path)
{
    if (path && (taap_ascii_ncasecmp(path, "http://", 7) == 0 ||
                 taap_ascii_ncasecmp(path, "https://", 8) == 0))
        return taap_strdup(path);
    if (!base)
        return NULL;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    if (!path)
        path = "";
    int slash = path[0] != '/' && path[0] != '\0';
    size_t n = bl + (size_t)slash + strlen(path) + 1;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%.*s%s%s", (int)bl, base, slash ? "/" : "", path);
    return u;
}

taap_code taap_oauth_fetch(const taap_oauth_params *p, taap_oauth_token **out,
                           long *http_status, taap_error *err)
{
    if (out)
        *out = NULL;
    if (http_status)
        *http_status = 0;
    if (!p || !out)
        return taap_fail(err, TAAP_E_USAGE, "taap_oauth_fetch: params and out are required");
    if (!p->client_id || !*p->client_id)
        return taap_fail(err, TAAP_E_CONFIG, "no client id (set --client-id, TAAP_CLIENT_ID or a profile)");
    if (!p->client_secret || !*p->client_secret)
        return taap_fail(err, TAAP_E_CONFIG, "no client secret (set --secret-env, --secret-file, "
                         "TAAP_CLIENT_SECRET or a profile)");
    if (strchr(p->client_id, ':'))
        return taap_fail(err, TAAP_E_CONFIG, "client id contains ':' which HTTP Basic cannot carry");
    if (!p->key || !taap_key_is_private(p->key))
        return taap_fail(err, TAAP_E_CONFIG, "no private key for the PoP token (set --key, "
                         "TAAP_PRIVATE_KEY or a profile)");
    const char *path = p->token_path && *p->token_path ? p->token_path : TAAP_OAUTH_DEFAULT_PATH;
    char *url = oauth_join_url(p->base_url, path);
    if (!url)
        return taap_fail(err, TAAP_E_CONFIG, "no base URL for the token endpoint (set --base-url, "
                         "TAAP_BASE_URL or a profile)");

    taap_code rc = TAAP_OK;
    char *cred = NULL, *basic = NULL, *body = NULL, *pem = NULL, *pop = NULL;
    size_t cred_len = 0, basic_len = 0;
    taap_http_response *resp = NULL;

    cred_len = strlen(p->client_id) + 1 + strlen(p->client_secret);
    cred = malloc(cred_len + 1);
    basic_len = 6 + TAAP_B64STD_LEN(cred_len) + 1;
    basic = malloc(basic_len);
    if (!cred || !basic) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    snprintf(cred, cred_len + 1, "%s:%s", p->client_id, p->client_secret);
    memcpy(basic, "Basic ", 6);
    taap_b64std_encode(cred, cred_len, basic + 6);

    if (p->send_cnf) {
        if ((rc = taap_key_public_pem_oneline(p->key, &pem, err)) != TAAP_OK)
            goto done;
        json_t *o = json_pack("{s:s}", "cnf", pem);
        body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!body) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            goto done;
        }
    }

    taap_header hdrs[3] = {
        {"Content-Type", "application/json"},
        {"Authorization", basic},
        {"X-Authorization", NULL},
    };
    taap_request req;
    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.target = url;
    req.headers = hdrs;
    req.n_headers = 2;
    if (body) {
        req.body.kind = TAAP_BODY_MEMORY;
        req.body.data = body;
        req.body.len = (int64_t)strlen(body);
    }
    /* The PoP is built last, over exactly what is sent (SPEC §4/§5). */
    if ((rc = taap_pop_build_request(p->key, &req, p->pop, &pop, NULL, err)) != TAAP_OK)
        goto done;
    hdrs[2].value = pop;
    req.n_headers = 3;

    taap_http_options hopts;
    if (p->http)
        hopts = *p->http;
    else
        taap_http_options_init(&hopts);
    hopts.max_response = OAUTH_MAX_RESPONSE;
    rc = taap_http_perform(&req, &hopts, NULL, &resp, NULL, err);
    if (rc == TAAP_E_RESPONSE) {
        rc = taap_fail(err, TAAP_E_OAUTH, "token endpoint %s: response larger than %u bytes", url,
                       OAUTH_MAX_RESPONSE);
        goto done;
    }
    if (rc != TAAP_OK)
        goto done;
    if (http_status)
        *http_status = resp->status;
    if (resp->status != 200) {
        char why[400];
        oauth_error_summary(resp->body, resp->body_len, p->client_secret, why, sizeof why);
        rc = taap_fail(err, TAAP_E_OAUTH, "token endpoint %s answered %ld%s%s", url, resp->status,
                       why[0] ? ": " : "", why);
        goto done;
    }
    int64_t now = p->clock ? p->clock(p->clock_ctx) : taap_wall_clock(NULL);
    rc = taap_oauth_parse_response(resp->body, resp->body_len, now, out, err);

done:
    if (cred)
        taap_free_secret(cred, cred_len + 1);
    if (basic)
        taap_free_secret(basic, basic_len);
    free(body);
    taap_key_free_pem(pem);
    free(pop);
    if (resp) {
        if (resp->body)
            OPENSSL_cleanse(resp->body, resp->body_len);
        taap_http_response_free(resp);
    }
    free(url);
    return rc;
}
