/* access_token.c — the issuer's key set and the access-token check a
 * resource server runs before the PoP (taap/access_token.h): strict JWS with
 * the PoP verifier's header policy, RS256 with a key of the set, then
 * exp/nbf/iss/aud and the cnf key binding. */
#include <stdlib.h>
#include <string.h>

#include "jws.h"
#include "rs256.h"
#include "util.h"
#include "taap/access_token.h"

#define KEYSET_FILE_MAX (1024 * 1024)
#define KID_MAX 128
/* RFC 7519 NumericDate upper bound (as the PoP verifier). */
#define MAX_NUMERIC_DATE INT64_C(253402300799)

struct taap_keyset {
    size_t n;
    taap_key *keys[TAAP_KEYSET_MAX];
    char kids[TAAP_KEYSET_MAX][KID_MAX + 1]; /* "" when the JWK had none */
};

void taap_keyset_free(taap_keyset *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        taap_key_free(set->keys[i]);
    free(set);
}

size_t taap_keyset_count(const taap_keyset *set)
{
    return set ? set->n : 0;
}

/* One JWKS entry: skipped (1) when it is not an RSA signature key. */
static taap_code add_jwk(taap_keyset *set, json_t *jwk, size_t index, int *skipped,
                         taap_error *err)
{
    *skipped = 0;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    if (!json_is_object(jwk) || !kty || strcmp(kty, "RSA") != 0 || (use && strcmp(use, "sig") != 0)) {
        *skipped = 1;
        return TAAP_OK;
    }
    if (set->n == TAAP_KEYSET_MAX)
        return taap_fail(err, TAAP_E_KEY, "key set has more than %d RSA keys", TAAP_KEYSET_MAX);
    char *text = json_dumps(jwk, JSON_COMPACT);
    if (!text)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    taap_error kerr = TAAP_ERROR_INIT;
    taap_code rc = taap_key_load_public(text, strlen(text), &set->keys[set->n], &kerr);
    free(text);
    if (rc != TAAP_OK)
        return taap_fail(err, rc, "JWKS key %zu: %s", index + 1, kerr.message);
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    if (kid && strlen(kid) <= KID_MAX)
        memcpy(set->kids[set->n], kid, strlen(kid) + 1);
    set->n++;
    return TAAP_OK;
}

static taap_code load_json(taap_keyset *set, const char *data, size_t len, taap_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return taap_fail(err, TAAP_E_KEY, "key set is not a JSON object (line %d: %s)", je.line,
                         je.text);
    }
    json_t *keys = json_object_get(doc, "keys");
    taap_code rc = TAAP_OK;
    size_t skipped = 0;
    if (!keys) {
        /* A single JWK. */
        int skip = 0;
        rc = add_jwk(set, doc, 0, &skip, err);
        skipped = (size_t)skip;
    } else if (!json_is_array(keys)) {
        rc = taap_fail(err, TAAP_E_KEY, "JWKS \"keys\" is not an array");
    } else {
        for (size_t i = 0; i < json_array_size(keys) && rc == TAAP_OK; i++) {
            int skip = 0;
            rc = add_jwk(set, json_array_get(keys, i), i, &skip, err);
            skipped += (size_t)skip;
        }
    }
    json_decref(doc);
    if (rc == TAAP_OK && set->n == 0)
        rc = taap_fail(err, TAAP_E_KEY,
                       "key set holds no RSA signature key (%zu entr%s skipped: kty not RSA or "
                       "use not sig)",
                       skipped, skipped == 1 ? "y" : "ies");
    return rc;
}

taap_code taap_keyset_load(const void *data, size_t len, taap_keyset **out, taap_error *err)
{
    if (!out || (!data && len))
        return taap_fail(err, TAAP_E_USAGE, "taap_keyset_load: NULL argument");
    *out = NULL;
    taap_keyset *set = calloc(1, sizeof *set);
    if (!set)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    const char *p = data;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    taap_code rc;
    if (i < len && p[i] == '{') {
        rc = load_json(set, p, len, err);
    } else {
        rc = taap_key_load_public(data, len, &set->keys[0], err);
        if (rc == TAAP_OK)
            set->n = 1;
    }
    if (rc != TAAP_OK) {
        taap_keyset_free(set);
        return rc;
    }
    *out = set;
    return TAAP_OK;
}

taap_code taap_keyset_load_file(const char *path, taap_keyset **out, taap_error *err)
{
    char *data = NULL;
    size_t len = 0;
    taap_code rc = taap_read_file(path, KEYSET_FILE_MAX, 0, &data, &len, err);
    if (rc != TAAP_OK)
        return rc;
    rc = taap_keyset_load(data, len, out, err);
    free(data);
    if (rc != TAAP_OK && err && rc != TAAP_E_NOMEM) {
        char msg[TAAP_ERROR_MESSAGE_MAX];
        memcpy(msg, err->message, sizeof msg);
        taap_fail(err, rc, "%.200s: %s", path, msg);
    }
    return rc;
}

void taap_access_token_config_init(taap_access_token_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->leeway = 10;
    cfg->max_token_len = TAAP_ACCESS_TOKEN_MAX;
}

void taap_access_token_info_free(taap_access_token_info *info)
{
    if (!info)
        return;
    taap_key_free(info->cnf_key);
    memset(info, 0, sizeof *info);
}

/* RS256 with the key whose kid the header names first, then every other. */
static taap_code check_signature(const taap_keyset *keys, const jws_parts *p, const char *kid,
                                 taap_error *err)
{
    size_t first = keys->n;
    for (size_t i = 0; kid && i < keys->n; i++)
        if (keys->kids[i][0] && strcmp(keys->kids[i], kid) == 0)
            first = i;
    if (first < keys->n && rs256_verify(keys->keys[first], p->untrusted_signing_input,
                                        p->signing_input_len, p->sig, p->sig_len,
                                        NULL) == TAAP_OK)
        return TAAP_OK;
    for (size_t i = 0; i < keys->n; i++)
        if (i != first && rs256_verify(keys->keys[i], p->untrusted_signing_input,
                                       p->signing_input_len, p->sig, p->sig_len, NULL) == TAAP_OK)
            return TAAP_OK;
    return taap_fail(err, TAAP_E_SIGNATURE,
                     "access token is not signed by the issuer's key%s (%zu configured): "
                     "another issuer, or a key rotated out",
                     keys->n == 1 ? "" : "s", keys->n);
}

static taap_code time_claim(json_t *c, const char *name, int required, int64_t *out, int *has,
                            taap_error *err)
{
    json_t *v = json_object_get(c, name);
    *has = v != NULL;
    if (!v) {
        if (required)
            return taap_fail(err, TAAP_E_CLAIMS, "access token has no %s claim", name);
        return TAAP_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > MAX_NUMERIC_DATE)
        return taap_fail(err, TAAP_E_CLAIMS,
                         "access token %s is not an integer in 0..%lld (seconds since the epoch)",
                         name, (long long)MAX_NUMERIC_DATE);
    *out = (int64_t)json_integer_value(v);
    return TAAP_OK;
}

static int aud_holds(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    for (size_t i = 0; json_is_array(aud) && i < json_array_size(aud); i++) {
        const char *s = json_string_value(json_array_get(aud, i));
        if (s && strcmp(s, want) == 0)
            return 1;
    }
    return 0;
}

/* The cnf binding: a PEM/JWK string, or {"jwk":{…}} (RFC 7800 §3.2). */
static taap_code cnf_key(json_t *c, taap_key **out, taap_error *err)
{
    json_t *cnf = json_object_get(c, "cnf");
    taap_error kerr = TAAP_ERROR_INIT;
    taap_code rc;
    if (json_is_string(cnf)) {
        rc = taap_key_load_public(json_string_value(cnf), json_string_length(cnf), out, &kerr);
    } else if (json_is_object(cnf) && json_is_object(json_object_get(cnf, "jwk"))) {
        char *text = json_dumps(json_object_get(cnf, "jwk"), JSON_COMPACT);
        if (!text)
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        rc = taap_key_load_public(text, strlen(text), out, &kerr);
        free(text);
    } else {
        return taap_fail(err, TAAP_E_CLAIMS,
                         "access token has no cnf key binding (a public key PEM or "
                         "{\"jwk\":…}); is it an ID token?");
    }
    if (rc != TAAP_OK)
        return taap_fail(err, TAAP_E_CLAIMS, "access token cnf is not a usable public key: %s",
                         kerr.message);
    return TAAP_OK;
}

static void copy_claim(json_t *c, const char *name, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(c, name));
    out[0] = '\0';
    if (s && strlen(s) < cap)
        memcpy(out, s, strlen(s) + 1);
}

/* Every claim check on a payload whose signature held. */
static taap_code check_claims(json_t *c, const taap_access_token_config *cfg,
                              taap_access_token_info *info, taap_error *err)
{
    int64_t exp = 0, nbf = 0;
    int has_exp = 0, has_nbf = 0;
    taap_code rc;
    if ((rc = time_claim(c, "exp", 1, &exp, &has_exp, err)) != TAAP_OK ||
        (rc = time_claim(c, "nbf", 0, &nbf, &has_nbf, err)) != TAAP_OK)
        return rc;
    int64_t now = cfg->clock ? cfg->clock(cfg->clock_ctx) : taap_wall_clock(NULL);
    const int64_t L = (int64_t)cfg->leeway;
    if (now >= exp + L)
        return taap_fail(err, TAAP_E_EXPIRED,
                         "access token expired %lld s ago (leeway %u s); get a new one from the "
                         "token endpoint",
                         (long long)(now - exp), cfg->leeway);
    if (has_nbf && nbf - L > now)
        return taap_fail(err, TAAP_E_NOT_YET_VALID,
                         "access token is not valid for another %lld s (nbf; leeway %u s); check "
                         "the clocks",
                         (long long)(nbf - now), cfg->leeway);
    const char *iss = json_string_value(json_object_get(c, "iss"));
    if (cfg->issuer && (!iss || strcmp(iss, cfg->issuer) != 0))
        return taap_fail(err, TAAP_E_CLAIMS, "access token issuer is %s%.100s%s; expected %.200s",
                         iss ? "'" : "", iss ? iss : "missing", iss ? "'" : "", cfg->issuer);
    if (cfg->audience && !aud_holds(json_object_get(c, "aud"), cfg->audience))
        return taap_fail(err, TAAP_E_CLAIMS, "access token audience does not include %.200s",
                         cfg->audience);
    if ((rc = cnf_key(c, &info->cnf_key, err)) != TAAP_OK)
        return rc;
    copy_claim(c, "client_id", info->client_id, sizeof info->client_id);
    if (!info->client_id[0])
        copy_claim(c, "sub", info->client_id, sizeof info->client_id);
    copy_claim(c, "jti", info->jti, sizeof info->jti);
    info->exp = exp;
    return TAAP_OK;
}

/* The JWS checks are shared with the PoP verifier: say which token failed. */
static taap_code name_the_token(taap_error *err, taap_code rc)
{
    if (err) {
        char msg[TAAP_ERROR_MESSAGE_MAX];
        memcpy(msg, err->message, sizeof msg);
        taap_fail(err, rc, "access token: %s", msg);
    }
    return rc;
}

taap_code taap_access_token_verify(const taap_keyset *keys, const char *token, size_t len,
                                   const taap_access_token_config *cfg_in,
                                   taap_access_token_info *info, taap_error *err)
{
    if (!keys || !token || !info)
        return taap_fail(err, TAAP_E_USAGE, "taap_access_token_verify: NULL argument");
    memset(info, 0, sizeof *info);
    taap_access_token_config defcfg;
    const taap_access_token_config *cfg = cfg_in;
    if (!cfg) {
        taap_access_token_config_init(&defcfg);
        cfg = &defcfg;
    } else if (cfg->struct_size != sizeof *cfg) {
        return taap_fail(err, TAAP_E_USAGE,
                         "access token config not set up with taap_access_token_config_init()");
    }
    jws_parts p;
    taap_code rc = jws_split(token, len, cfg->max_token_len ? cfg->max_token_len
                                                            : TAAP_ACCESS_TOKEN_MAX,
                             &p, err);
    if (rc != TAAP_OK)
        return name_the_token(err, rc);
    json_t *hdr = NULL, *pl = NULL;
    if ((rc = jws_parse_json(p.header, p.header_len, "header", TAAP_E_MALFORMED, &hdr, err)) ==
            TAAP_OK &&
        (rc = jws_check_header(hdr, err)) == TAAP_OK)
        rc = check_signature(keys, &p, json_string_value(json_object_get(hdr, "kid")), err);
    if (rc == TAAP_OK)
        rc = jws_parse_json(p.payload, p.payload_len, "payload", TAAP_E_CLAIMS, &pl, err);
    if (rc == TAAP_OK)
        rc = check_claims(pl, cfg, info, err);
    json_decref(hdr);
    json_decref(pl);
    jws_parts_free(&p);
    if (rc != TAAP_OK)
        taap_access_token_info_free(info);
    return rc == TAAP_E_MALFORMED || rc == TAAP_E_ALG ? name_the_token(err, rc) : rc;
}
