/*
 * oauth_endpoint.c — POST /oauth2/{v1,v2,v6}/tokens (SPEC §6) and the
 * emulator's JWKS. Client authentication is HTTP Basic (RFC 6749 §2.3.1,
 * checked against a salted PBKDF2 hash in constant time), then the PoP in
 * X-Authorization is verified with the library's verifier against each of
 * the application's registered keys; the access token is bound to the key
 * that verified (cnf).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "request_log.h"
#include "serve_internal.h"
#include "util.h"

void h_jwks(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs)
{
    (void)rq;
    (void)who;
    rs->status = 200;
    rs->content_type = "application/json";
    rs->body = strdup(srv_jwks(s));
    rs->body_len = rs->body ? strlen(rs->body) : 0;
}

/* Strict standard base64 with padding (RFC 4648 §4), for Basic credentials. */
static int b64std_decode(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
    if (n == 0 || n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            int d;
            if (c >= 'A' && c <= 'Z')
                d = c - 'A';
            else if (c >= 'a' && c <= 'z')
                d = c - 'a' + 26;
            else if (c >= '0' && c <= '9')
                d = c - '0' + 52;
            else if (c == '+')
                d = 62;
            else if (c == '/')
                d = 63;
            else if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || in[i + 3] == '='))
                d = -1;
            else
                return -1;
            if (d < 0) {
                pad++;
                d = 0;
            } else if (pad) {
                return -1;
            }
            v = (v << 6) | (unsigned)d;
        }
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)v;
    }
    *out_len = o;
    return 0;
}

/* application/x-www-form-urlencoded decoding in place ('+' → space, %XX);
 * returns -1 on a bad escape or an embedded NUL. */
static int form_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%') {
            unsigned char a = (unsigned char)r[1], b = a ? (unsigned char)r[2] : 0;
            int hi = taap_hex_value(a), lo = taap_hex_value(b);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

/* Checks on the optional body: JSON {"cnf":…,"grant_type":…} or a form.
 * Returns 1 when acceptable (and *cnf_out is the body's cnf or NULL). */
static int check_body(const srv_request *rq, srv_response *rs, char **cnf_out)
{
    *cnf_out = NULL;
    const char *gt = NULL;
    char gt_buf[64] = "";
    /* grant_type in the query (as in T-Mobile's OpenAPI documents). */
    if (rq->query) {
        char *q = strdup(rq->query);
        int seen = 0;
        for (char *save = NULL, *kv = q ? strtok_r(q, "&", &save) : NULL; kv;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq || strncmp(kv, "grant_type", (size_t)(eq - kv)) != 0 || eq - kv != 10)
                continue;
            if (seen++ || form_decode(eq + 1) != 0) {
                free(q);
                srv_oauth_error(rs, 400, NULL, "invalid_request",
                                "grant_type given more than once or badly encoded");
                return 0;
            }
            snprintf(gt_buf, sizeof gt_buf, "%s", eq + 1);
            gt = gt_buf;
        }
        free(q);
    }
    if (rq->body_len) {
        const char *ct = NULL;
        srv_header(rq, "Content-Type", &ct);
        if (ct && taap_ascii_ncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
            char *b = strndup((const char *)rq->body, rq->body_len);
            int seen = 0, bad = !b || strlen(b) != rq->body_len;
            for (char *save = NULL, *kv = b && !bad ? strtok_r(b, "&", &save) : NULL; kv && !bad;
                 kv = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(kv, '=');
                size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);
                if ((kl == 9 && strncmp(kv, "client_id", 9) == 0) ||
                    (kl == 13 && strncmp(kv, "client_secret", 13) == 0)) {
                    free(b);
                    srv_oauth_error(rs, 400, NULL, "invalid_request",
                                    "client credentials in both the Basic header and the body; "
                                    "use one method");
                    return 0;
                }
                if (kl == 10 && strncmp(kv, "grant_type", 10) == 0) {
                    if (!eq || seen++ || gt || form_decode(eq + 1) != 0 || !eq[1])
                        bad = 1;
                    else {
                        snprintf(gt_buf, sizeof gt_buf, "%s", eq + 1);
                        gt = gt_buf;
                    }
                }
            }
            free(b);
            if (bad) {
                srv_oauth_error(rs, 400, NULL, "invalid_request",
                                "form body: grant_type empty, repeated or badly encoded");
                return 0;
            }
        } else if (!ct || taap_ascii_ncasecmp(ct, "application/json", 16) == 0) {
            json_error_t je;
            json_t *j = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
            if (!j || !json_is_object(j)) {
                json_decref(j);
                srv_oauth_error(rs, 400, NULL, "invalid_request",
                                "request body is not a JSON object (send {} , "
                                "{\"cnf\":\"<public key PEM>\"} or no body)");
                return 0;
            }
            json_t *c = json_object_get(j, "cnf");
            json_t *g = json_object_get(j, "grant_type");
            if ((c && !json_is_string(c)) || (g && !json_is_string(g))) {
                json_decref(j);
                srv_oauth_error(rs, 400, NULL, "invalid_request",
                                "cnf and grant_type in the body must be strings");
                return 0;
            }
            if (c)
                *cnf_out = strdup(json_string_value(c));
            if (g) {
                snprintf(gt_buf, sizeof gt_buf, "%s", json_string_value(g));
                gt = gt_buf;
            }
            json_decref(j);
        } else {
            srv_oauth_error(rs, 400, NULL, "invalid_request",
                            "unsupported Content-Type for the token request; send "
                            "application/json");
            return 0;
        }
    }
    if (gt && strcmp(gt, "client_credentials") != 0) {
        free(*cnf_out);
        *cnf_out = NULL;
        srv_oauth_error(rs, 400, NULL, "unsupported_grant_type",
                        "only grant_type=client_credentials is supported");
        return 0;
    }
    return 1;
}

void h_token(taap_server *s, const srv_request *rq, const srv_principal *who, srv_response *rs)
{
    (void)who;
    /* 1. Client credentials (Basic). */
    const char *auth = NULL;
    size_t n = srv_header(rq, "Authorization", &auth);
    if (n == 0) {
        srv_oauth_error(rs, 401, "Basic", "invalid_client",
                        "no client credentials: send Authorization: Basic "
                        "base64(client_id:client_secret)");
        return;
    }
    if (n > 1) {
        srv_oauth_error(rs, 400, NULL, "invalid_request", "more than one Authorization header");
        return;
    }
    size_t blen = 0;
    const char *b64 = srv_auth_credentials(auth, "Basic", &blen);
    if (!b64) {
        srv_oauth_error(rs, 401, "Basic", "invalid_client",
                        "the token endpoint needs the Basic scheme (Authorization: Basic "
                        "base64(client_id:client_secret))");
        return;
    }
    if (blen > 1024) {
        srv_oauth_error(rs, 401, "Basic", "invalid_client", "Basic credentials are too long");
        return;
    }
    unsigned char cred[800];
    size_t clen = 0;
    if (b64std_decode(b64, blen, cred, &clen) != 0) {
        srv_oauth_error(rs, 401, "Basic", "invalid_client",
                        "Basic credentials are not valid base64 (standard alphabet, padded)");
        return;
    }
    cred[clen] = '\0';
    char *colon = memchr(cred, ':', clen);
    if (!colon || memchr(cred, '\0', clen)) {
        OPENSSL_cleanse(cred, sizeof cred);
        srv_oauth_error(rs, 401, "Basic", "invalid_client",
                        "Basic credentials have no ':' between client id and secret");
        return;
    }
    *colon = '\0';
    char *client_id = (char *)cred, *secret = colon + 1;
    if (form_decode(client_id) != 0 || form_decode(secret) != 0 || !*client_id) {
        OPENSSL_cleanse(cred, sizeof cred);
        srv_oauth_error(rs, 401, "Basic", "invalid_client",
                        "Basic credentials: empty client id or bad %%-escape");
        return;
    }
    store_app app = {0};
    memset(&app, 0, sizeof app);
    int found = strlen(client_id) < sizeof app.client_id ? store_app_find(s, client_id, 1, &app)
                                                         : 0;
    if (found < 0) {
        OPENSSL_cleanse(cred, sizeof cred);
        srv_error(rs, 500, NULL, "database error while looking up the client");
        return;
    }
    int ok = srv_check_secret(s, found == 1 ? &app : NULL, secret);
    OPENSSL_cleanse(cred, sizeof cred);
    if (!ok) {
        /* One answer for both (and the same work, see srv_check_secret): the
         * client must not learn which client ids exist. The reason goes to
         * the operator's access log only. */
        srv_oauth_error(rs, 401, "Basic", "invalid_client",
                        "client authentication failed: unknown client id or wrong secret");
        rs->log_note = found ? "(wrong client secret)" : "(unknown client id)";
        return;
    }

    /* 2. The request's shape. */
    char *body_cnf = NULL;
    if (!check_body(rq, rs, &body_cnf))
        return;
    const char *pop = NULL;
    size_t np = srv_header(rq, "X-Authorization", &pop);
    if (np != 1) {
        free(body_cnf);
        srv_oauth_error(rs, 400, NULL, "invalid_request",
                        np ? "more than one X-Authorization header"
                           : "X-Authorization header (the PoP token) is missing");
        return;
    }

    /* 3. PoP against each registered key. */
    char **pems = NULL;
    size_t nk = 0;
    if (store_app_keys(s, app.id, &pems, &nk) != 0) {
        free(body_cnf);
        srv_error(rs, 500, NULL, "database error while reading the application's keys");
        return;
    }
    if (nk == 0) {
        free(body_cnf);
        srv_oauth_error(rs, 401, "Basic", "invalid_client",
                        "no public key is registered for application '%s': add one first "
                        "(taap admin key add %s public-key.pem)",
                        app.name, app.name);
        return;
    }
    taap_verify_config cfg;
    srv_verify_config(s, SRV_AUTH_NONE, &cfg);
    taap_request req = {rq->method, rq->target, rq->headers, rq->n_headers,
                        {rq->body_len ? TAAP_BODY_MEMORY : TAAP_BODY_NONE, rq->body,
                         (int64_t)rq->body_len, NULL, NULL, NULL}};
    taap_key *matched = NULL;
    taap_error verr = TAAP_ERROR_INIT;
    taap_code vrc = TAAP_E_SIGNATURE;
    size_t sig_fail = 0;
    for (size_t i = 0; i < nk && !matched; i++) {
        taap_key *k = NULL;
        taap_error kerr = TAAP_ERROR_INIT;
        if (taap_key_load_public(pems[i], strlen(pems[i]), &k, &kerr) != TAAP_OK)
            continue;
        taap_error e = TAAP_ERROR_INIT;
        vrc = taap_verify(pop, strlen(pop), k, &req, &cfg, NULL, &e);
        if (vrc == TAAP_OK) {
            matched = k;
        } else {
            taap_key_free(k);
            if (vrc == TAAP_E_SIGNATURE) {
                sig_fail++;
                verr = e;
                continue;
            }
            verr = e;
            break; /* a check that does not depend on which key: stop here */
        }
    }
    store_free_strings(pems, nk);
    rs->verdict = taap_code_name(vrc); /* for the request log */
    if (!matched) {
        free(body_cnf);
        if (vrc == TAAP_E_SIGNATURE)
            srv_oauth_error(rs, 401, "Basic", "invalid_client",
                            "TAAP_E_SIGNATURE: the PoP token is not signed by any of the %zu "
                            "key%s registered for application '%s'",
                            nk, nk == 1 ? "" : "s", app.name);
        else {
            char cause[256];
            srv_explain_pop(pop, &req, &cfg, vrc, verr.message, rs, cause, sizeof cause);
            srv_oauth_error(rs, 401, "Basic", "invalid_client", "%s: PoP token rejected: %s%s%s",
                            taap_code_name(vrc),
                            verr.message[0] ? verr.message : taap_strerror(vrc),
                            cause[0] ? "; likely cause: " : "", cause);
        }
        return;
    }
    if (body_cnf) {
        taap_key *bk = NULL;
        int same = taap_key_load_public(body_cnf, strlen(body_cnf), &bk, NULL) == TAAP_OK &&
                   taap_key_same_public(bk, matched);
        taap_key_free(bk);
        free(body_cnf);
        if (!same) {
            taap_key_free(matched);
            srv_oauth_error(rs, 400, NULL, "invalid_request",
                            "the cnf public key in the body is not the key that signed the PoP "
                            "token");
            return;
        }
    }

    /* 4. Tokens bound to the matched key. */
    char *cnf = NULL;
    taap_code krc = taap_key_public_pem_oneline(matched, &cnf, NULL);
    taap_key_free(matched);
    if (krc != TAAP_OK) {
        srv_error(rs, 500, NULL, "cannot encode the client's public key");
        return;
    }
    json_t *subs = store_app_subscriptions(s, app.id);
    char scope[512] = "";
    for (size_t i = 0; i < json_array_size(subs); i++) {
        size_t l = strlen(scope);
        snprintf(scope + l, sizeof scope - l, "%s%s", l ? " " : "",
                 json_string_value(json_array_get(subs, i)));
    }
    json_decref(subs);
    int64_t now = srv_now(s);
    json_int_t exp = (json_int_t)(now + (int64_t)srv_options(s)->token_lifetime);
    char jti[37], jti2[37];
    if (taap_uuid_v4(jti, NULL) != TAAP_OK || taap_uuid_v4(jti2, NULL) != TAAP_OK) {
        taap_key_free_pem(cnf);
        srv_error(rs, 500, NULL, "no randomness for the token id");
        return;
    }
    char *access = srv_sign_jwt(
        s, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "iss", srv_issuer(s),
                     "sub", app.client_id, "aud", app.client_id, "iat", (json_int_t)now, "nbf",
                     (json_int_t)now, "exp", exp, "jti", jti, "scope", scope, "cnf", cnf,
                     "applicationId", app.name));
    char *id_token = srv_sign_jwt(s, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss",
                                            srv_issuer(s), "sub", app.client_id, "aud", app.client_id,
                                            "iat", (json_int_t)now, "auth_time", (json_int_t)now,
                                            "exp", exp, "jti", jti2));
    taap_key_free_pem(cnf);
    if (!access || !id_token) {
        free(access);
        free(id_token);
        srv_error(rs, 500, NULL, "cannot sign the access token");
        return;
    }
    srv_json(rs, 200,
             json_pack("{s:s, s:s, s:I, s:s}", "access_token", access, "token_type", "Bearer",
                       "expires_in", (json_int_t)srv_options(s)->token_lifetime, "id_token", id_token));
    rs->no_store = 1;
    free(access);
    free(id_token);
}
