/* explain.c — the explaining verifier: what taap_verify() looked at, laid
 * out for a person (taap/explain.h). The claims are read from the payload
 * without trusting them; the values are the SPEC §1.1 canonical values of
 * this request, computed with the verifier's own canonicaliser (canon.c). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "canon.h"
#include "explain_internal.h"
#include "jws.h"
#include "util.h"

/* Codes taap_verify returns only after the signature verified (SPEC §2
 * order: items 6–11 come after item 5). */
static int after_signature(taap_code c)
{
    return c == TAAP_OK || (c >= TAAP_E_EXPIRED && c <= TAAP_E_REPLAY) ||
           c == TAAP_E_REPLAY_STORE;
}

void taap_explain_free(taap_explain *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_parts; i++) {
        free(e->parts[i].name);
        free(e->parts[i].value);
    }
    free(e->parts);
    free(e->ehts);
    free(e->token_edts);
    free(e->cause_detail);
    free(e);
}

static void copy_int(json_t *o, const char *k, int64_t *out, int *have)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        if (have)
            *have = 1;
    }
}

/* Claims read without trusting them: the payload of a token whose
 * signature may not verify. Missing or ill-typed claims stay unset. */
static taap_code read_claims(taap_explain *e, const char *token, size_t len, size_t max_len)
{
    jws_parts p;
    taap_error ignore = TAAP_ERROR_INIT;
    if (jws_split(token, len, max_len, &p, &ignore) != TAAP_OK)
        return TAAP_OK;
    json_t *pl = NULL;
    taap_code rc = TAAP_OK;
    if (jws_parse_json(p.payload, p.payload_len, "payload", TAAP_E_CLAIMS, &pl, &ignore) ==
        TAAP_OK) {
        copy_int(pl, "iat", &e->iat, NULL);
        copy_int(pl, "exp", &e->exp, NULL);
        copy_int(pl, "nbf", &e->nbf, &e->has_nbf);
        json_t *ehts = json_object_get(pl, "ehts"), *edts = json_object_get(pl, "edts");
        if (json_is_string(ehts) && json_is_string(edts)) {
            e->ehts = taap_strndup(json_string_value(ehts), json_string_length(ehts));
            e->token_edts = taap_strndup(json_string_value(edts), json_string_length(edts));
            if (!e->ehts || !e->token_edts)
                rc = TAAP_E_NOMEM;
            e->claims_read = 1;
        }
    }
    json_decref(pl);
    jws_parts_free(&p);
    return rc;
}

/* The request body in memory when it can be (MEMORY, or a file up to
 * TAAP_EXPLAIN_MAX_BODY); *owned is set when it was read here. */
static taap_code body_bytes(const taap_body *b, const unsigned char **data, size_t *len,
                            char **owned, taap_error *err)
{
    *data = NULL;
    *len = 0;
    *owned = NULL;
    if (b->kind == TAAP_BODY_MEMORY) {
        *data = b->data;
        *len = b->len > 0 ? (size_t)b->len : 0;
        return TAAP_OK;
    }
    if (b->kind == TAAP_BODY_FILE) {
        taap_error tmp = TAAP_ERROR_INIT;
        taap_code rc = taap_read_file(b->path, TAAP_EXPLAIN_MAX_BODY, 0, owned, len, &tmp);
        if (rc == TAAP_OK)
            *data = (const unsigned char *)*owned;
        else if (rc == TAAP_E_NOMEM)
            return taap_fail(err, rc, "out of memory");
        return TAAP_OK; /* too large or unreadable: hashed by streaming below */
    }
    return TAAP_OK; /* NONE, or a callback already consumed by the verifier */
}

/* One ehts entry as this request has it; the value bytes go to vals. */
static taap_code fill_part(taap_explain_part *part, const char *name, size_t nl,
                           const taap_request *req, const char *uri, const unsigned char *body,
                           size_t body_len, int64_t body_total, const unsigned char **val,
                           size_t *vlen)
{
    part->name = taap_strndup(name, nl);
    if (!part->name)
        return TAAP_E_NOMEM;
    const char *v = NULL;
    size_t l = 0;
    if (nl == 4 && memcmp(name, "body", 4) == 0) {
        part->is_body = 1;
        part->body_len = body_total;
        part->present = body_total != 0;
        if (body) {
            unsigned char d[32];
            taap_sha256_digest(body, body_len, d);
            taap_hex_encode(d, sizeof d, part->body_sha256);
            part->body_head_len = body_len < TAAP_EXPLAIN_BODY_HEAD ? body_len : TAAP_EXPLAIN_BODY_HEAD;
            memcpy(part->body_head, body, part->body_head_len);
            *val = body;
            *vlen = body_len;
        }
        return TAAP_OK;
    }
    if (nl == 3 && memcmp(name, "uri", 3) == 0) {
        v = uri;
        l = strlen(uri);
    } else if (nl == 11 && memcmp(name, "http-method", 11) == 0) {
        v = req->method ? req->method : "";
        l = strlen(v);
    } else if (!taap_is_token(name, nl) || canon_find_header(req, name, nl, &v, &l) != 1) {
        return TAAP_OK; /* absent, repeated or not a header name: present = 0 */
    }
    part->present = 1;
    part->value = taap_strndup(v, l);
    if (!part->value)
        return TAAP_E_NOMEM;
    part->value_len = l;
    *val = (const unsigned char *)part->value;
    *vlen = l;
    return TAAP_OK;
}

/* Split ehts (at most TAAP_POP_MAX_ENTRIES names) into e->parts. */
static taap_code fill_parts(taap_explain *e, const taap_request *req, const unsigned char *body,
                            size_t body_len, int64_t body_total, explain_values *vals,
                            taap_error *err)
{
    char *uri = NULL;
    taap_code rc = taap_request_uri(req->target, &uri, err);
    if (rc != TAAP_OK)
        return rc == TAAP_E_NOMEM ? rc : TAAP_OK; /* no target: no parts to show */
    e->parts = calloc(TAAP_POP_MAX_ENTRIES, sizeof *e->parts);
    vals->v = calloc(TAAP_POP_MAX_ENTRIES, sizeof *vals->v);
    vals->len = calloc(TAAP_POP_MAX_ENTRIES, sizeof *vals->len);
    if (!e->parts || !vals->v || !vals->len) {
        free(uri);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    const char *p = e->ehts, *end = e->ehts + strlen(e->ehts);
    while (p <= end && e->n_parts < TAAP_POP_MAX_ENTRIES) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        size_t i = e->n_parts++;
        rc = fill_part(&e->parts[i], p, (size_t)(stop - p), req, uri, body, body_len, body_total,
                       &vals->v[i], &vals->len[i]);
        if (rc != TAAP_OK)
            break;
        if (!semi)
            break;
        p = semi + 1;
    }
    vals->n = e->n_parts;
    free(uri);
    return rc == TAAP_OK ? TAAP_OK : taap_fail(err, rc, "out of memory");
}

int explain_edts(const explain_values *vals, const size_t *idx, size_t sub, const void *sub_v,
                 size_t sub_len, char out[44])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, taap_sha256(), NULL);
    for (size_t k = 0; ok && k < vals->n; k++) {
        size_t i = idx ? idx[k] : k;
        const void *v = i == sub ? sub_v : vals->v[i];
        size_t l = i == sub ? sub_len : vals->len[i];
        if (l)
            ok = EVP_DigestUpdate(md, v, l);
    }
    unsigned char d[32];
    unsigned int dl = 0;
    ok = ok && EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    if (ok)
        canon_digest_to_edts(d, out);
    return ok;
}

/* Every part present and its bytes in memory (a streamed body is not). */
static int all_in_memory(const taap_explain *e, const explain_values *vals)
{
    for (size_t i = 0; i < e->n_parts; i++)
        if (!e->parts[i].present || (vals->len[i] && !vals->v[i]) ||
            (e->parts[i].is_body && !vals->v[i]))
            return 0;
    return 1;
}

static int all_present(const taap_explain *e)
{
    for (size_t i = 0; i < e->n_parts; i++)
        if (!e->parts[i].present)
            return 0;
    return 1;
}

/* edts computed by streaming (a body too large to hold): no cause search. */
static taap_code streamed_edts(taap_explain *e, const taap_request *req, taap_error *err)
{
    const char *names[TAAP_POP_MAX_ENTRIES];
    size_t lens[TAAP_POP_MAX_ENTRIES];
    for (size_t i = 0; i < e->n_parts; i++) {
        names[i] = e->parts[i].name;
        lens[i] = strlen(e->parts[i].name);
    }
    taap_error tmp = TAAP_ERROR_INIT;
    if (canon_request_edts(req, names, lens, e->n_parts, TAAP_E_EHTS, e->computed_edts, &tmp) ==
        TAAP_OK)
        e->edts_computed = 1;
    else if (tmp.code == TAAP_E_NOMEM)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

taap_code taap_explain_verdict(const char *token, size_t len, const taap_request *req,
                               const taap_verify_config *cfg_in, taap_code verdict,
                               const char *message, taap_explain **out, taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_explain_verdict: no output pointer");
    *out = NULL;
    if (!token || !req)
        return taap_fail(err, TAAP_E_USAGE, "taap_explain_verdict: token and request are required");
    taap_verify_config defcfg;
    const taap_verify_config *cfg = cfg_in;
    if (!cfg) {
        taap_verify_config_init(&defcfg);
        cfg = &defcfg;
    }
    taap_explain *e = calloc(1, sizeof *e);
    if (!e)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    e->verdict = verdict;
    snprintf(e->message, sizeof e->message, "%s",
             verdict == TAAP_OK ? "valid" : (message ? message : taap_strerror(verdict)));
    e->signature_verified = after_signature(verdict);
    e->now = cfg->clock ? cfg->clock(cfg->clock_ctx) : taap_wall_clock(NULL);
    e->leeway = cfg->leeway;
    e->max_lifetime = cfg->max_lifetime;

    taap_code rc = read_claims(e, token, len,
                               cfg->max_token_len ? cfg->max_token_len : TAAP_VERIFY_MAX_TOKEN);
    const unsigned char *body = NULL;
    size_t body_len = 0;
    char *owned = NULL;
    explain_values vals = {NULL, NULL, 0};
    if (rc != TAAP_OK) {
        taap_fail(err, rc, "out of memory");
        goto out;
    }
    if (!e->claims_read)
        goto out;
    taap_error tmp = TAAP_ERROR_INIT;
    int64_t body_total = canon_body_length(&req->body, &tmp);
    if ((rc = body_bytes(&req->body, &body, &body_len, &owned, err)) != TAAP_OK ||
        (rc = fill_parts(e, req, body, body_len, body_total, &vals, err)) != TAAP_OK)
        goto out;
    if (all_in_memory(e, &vals)) {
        if (!explain_edts(&vals, NULL, (size_t)-1, NULL, 0, e->computed_edts)) {
            rc = taap_fail(err, TAAP_E_CRYPTO, "SHA-256 failed");
            goto out;
        }
        e->edts_computed = 1;
    } else if (all_present(e) && (rc = streamed_edts(e, req, err)) != TAAP_OK) {
        goto out;
    }
    if (e->edts_computed) {
        e->edts_match = strlen(e->token_edts) == 43 &&
                        CRYPTO_memcmp(e->computed_edts, e->token_edts, 43) == 0;
        if (!e->edts_match && all_in_memory(e, &vals))
            rc = explain_find_cause(e, &vals, req, err);
    }
out:
    free(vals.v);
    free(vals.len);
    free(owned);
    if (rc != TAAP_OK) {
        taap_explain_free(e);
        return rc;
    }
    *out = e;
    return TAAP_OK;
}

taap_code taap_verify_explain(const char *token, size_t len, const taap_key *key,
                              const taap_request *req, const taap_verify_config *cfg,
                              taap_explain **out, taap_error *err)
{
    if (out)
        *out = NULL;
    taap_error verr = TAAP_ERROR_INIT;
    taap_code verdict = taap_verify(token, len, key, req, cfg, NULL, &verr);
    if (verdict == TAAP_E_USAGE || verdict == TAAP_E_NOMEM) {
        if (err)
            *err = verr;
        return verdict;
    }
    taap_code rc = taap_explain_verdict(token, len, req, cfg, verdict, verr.message, out, err);
    if (rc != TAAP_OK)
        return rc;
    if (err) {
        *err = verr;
        if (verdict == TAAP_OK)
            taap_error_clear(err);
    }
    return verdict;
}
