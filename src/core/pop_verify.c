/* pop_verify.c — the PoP verifier (SPEC §2): the security boundary of the
 * emulator and of any gateway embedding libtaap. Checks run in the order of
 * SPEC §2 items 1–11 and stop at the first failure; only a token that
 * passed every check reaches the replay cache. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "canon.h"
#include "claims.h"
#include "util.h"
#include "jws.h"
#include "rs256.h"
#include "taap/verify.h"

/* RFC 7519 NumericDate upper bound used by SPEC §2.6: 9999-12-31T23:59:59Z. */
#define MAX_NUMERIC_DATE INT64_C(253402300799)
#define MAX_JTI 256
#define EDTS_LEN 43

void taap_verify_config_init(taap_verify_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->leeway = TAAP_VERIFY_DEFAULT_LEEWAY;
    cfg->max_lifetime = TAAP_POP_MAX_LIFETIME;
    cfg->max_token_len = TAAP_VERIFY_MAX_TOKEN;
}

void taap_verify_info_free(taap_verify_info *info)
{
    if (!info)
        return;
    free(info->ehts);
    info->ehts = NULL;
}

/* iat / exp / nbf: a JSON integer in 0..253402300799 (SPEC §2.6). */
static taap_code time_claim(const claim *v, const char *name, int required, int64_t *out,
                            taap_error *err)
{
    if (v->kind == C_MISSING) {
        if (!required)
            return TAAP_OK;
        return taap_fail(err, TAAP_E_CLAIMS,
                         "payload has no %s claim; expected an integer (seconds since the epoch)",
                         name);
    }
    if (v->kind != C_INTEGER)
        return taap_fail(err, TAAP_E_CLAIMS,
                         "%s is %s; expected a JSON integer (seconds since the epoch)", name,
                         claims_kind_name(v->kind));
    if (v->i < 0 || v->i > MAX_NUMERIC_DATE)
        return taap_fail(err, TAAP_E_CLAIMS, "%s is %lld; expected an integer in 0..%lld", name,
                         v->i, (long long)MAX_NUMERIC_DATE);
    *out = (int64_t)v->i;
    return TAAP_OK;
}

/* ehts / edts / jti: a non-empty JSON string. */
static taap_code string_claim(const claim *v, const char *name, taap_error *err)
{
    if (v->kind == C_MISSING)
        return taap_fail(err, TAAP_E_CLAIMS, "payload has no %s claim; expected a non-empty string",
                         name);
    if (v->kind != C_STRING)
        return taap_fail(err, TAAP_E_CLAIMS, "%s is %s; expected a non-empty string", name,
                         claims_kind_name(v->kind));
    if (v->len == 0)
        return taap_fail(err, TAAP_E_CLAIMS, "%s is empty; expected a non-empty string", name);
    return TAAP_OK;
}

/* Part names equal for ehts purposes: pseudo-names exact, headers
 * case-insensitively. Used for coverage. */
static int part_matches(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    if (canon_is_pseudo(a, alen) || canon_is_pseudo(b, blen))
        return memcmp(a, b, alen) == 0;
    return taap_ascii_ncasecmp(a, b, alen) == 0;
}

/* Print at most 64 bytes of an (already validated tchar) ehts entry. */
#define NAME_FMT "%.*s"
#define NAME_ARG(p, l) (int)((l) > 64 ? 64 : (l)), (p)

static taap_code check_ehts(const char *ehts, size_t ehts_len, const taap_request *req,
                            int64_t body_len, const char **names, size_t *lens, size_t *n_out,
                            taap_error *err)
{
    size_t n = 0;
    const char *p = ehts, *end = ehts + ehts_len;
    for (;;) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        size_t l = (size_t)(stop - p);
        if (n == TAAP_POP_MAX_ENTRIES)
            return taap_fail(err, TAAP_E_EHTS, "ehts has more than %d entries; the limit is %d",
                             TAAP_POP_MAX_ENTRIES, TAAP_POP_MAX_ENTRIES);
        if (l == 0)
            return taap_fail(err, TAAP_E_EHTS,
                             "ehts entry %zu is empty; expected names separated by single ';' "
                             "with none leading or trailing",
                             n + 1);
        if (!canon_is_pseudo(p, l) && !taap_is_token(p, l))
            return taap_fail(err, TAAP_E_EHTS,
                             "ehts entry %zu is not an HTTP header name nor uri, http-method or "
                             "body (it has a space, quote or other separator)",
                             n + 1);
        if (l == 15 && taap_ascii_ncasecmp(p, "X-Authorization", 15) == 0)
            return taap_fail(err, TAAP_E_EHTS,
                             "ehts entry %zu names X-Authorization, the header that carries the "
                             "PoP token itself; it is never signed (SPEC §1.1)",
                             n + 1);
        for (size_t j = 0; j < n; j++)
            if (lens[j] == l && taap_ascii_ncasecmp(names[j], p, l) == 0)
                return taap_fail(err, TAAP_E_EHTS,
                                 "ehts names '" NAME_FMT "' twice (names compare "
                                 "case-insensitively); each part may be signed once",
                                 NAME_ARG(p, l));
        names[n] = p;
        lens[n] = l;
        n++;
        if (!semi)
            break;
        p = semi + 1;
    }
    /* Every named part must exist in this request (SPEC §2.8). */
    for (size_t i = 0; i < n; i++) {
        if (canon_is_pseudo(names[i], lens[i])) {
            if (lens[i] == 4 && body_len == 0)
                return taap_fail(err, TAAP_E_EHTS,
                                 "ehts covers body but the request has no body");
            continue;
        }
        const char *v;
        size_t vl;
        int found = canon_find_header(req, names[i], lens[i], &v, &vl);
        if (found == 0)
            return taap_fail(err, TAAP_E_EHTS,
                             "ehts names header '" NAME_FMT "' which the request does not have",
                             NAME_ARG(names[i], lens[i]));
        if (found == 2)
            return taap_fail(err, TAAP_E_EHTS,
                             "ehts names header '" NAME_FMT "' which the request has more than "
                             "once; a signed header must occur exactly once",
                             NAME_ARG(names[i], lens[i]));
    }
    *n_out = n;
    return TAAP_OK;
}

static taap_code check_coverage(const taap_verify_config *cfg, int64_t body_len,
                                const char *const *names, const size_t *lens, size_t n,
                                taap_error *err)
{
    static const char *const defaults[] = {"uri", "http-method", "body"};
    const char *const *req = cfg->required ? cfg->required : defaults;
    size_t nreq = cfg->required ? cfg->n_required : 3;
    for (size_t r = 0; r < nreq; r++) {
        const char *want = req[r];
        if (!want)
            continue;
        size_t wl = strlen(want);
        /* "body" is required only when there is a body to sign (SPEC §1.1:
         * an empty body is never in ehts). Unknown length counts as a body. */
        if (wl == 4 && memcmp(want, "body", 4) == 0 && body_len == 0)
            continue;
        int covered = 0;
        for (size_t i = 0; i < n && !covered; i++)
            covered = part_matches(names[i], lens[i], want, wl);
        if (!covered) {
            char list[256];
            size_t o = 0;
            list[0] = '\0';
            for (size_t k = 0; k < nreq && o < sizeof list - 1; k++) {
                if (!req[k])
                    continue;
                int w = snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", req[k]);
                if (w < 0)
                    break;
                o += (size_t)w;
            }
            if (o >= sizeof list)
                o = sizeof list - 1;
            return taap_fail(err, TAAP_E_COVERAGE,
                             "token does not cover %.64s; this verifier requires %s%s", want, list,
                             cfg->required ? "" : " (body when the request has one)");
        }
    }
    return TAAP_OK;
}

taap_code taap_verify(const char *token, size_t len, const taap_key *key,
                      const taap_request *req, const taap_verify_config *cfg_in,
                      taap_verify_info *info, taap_error *err)
{
    if (info)
        memset(info, 0, sizeof *info);
    taap_verify_config defcfg;
    const taap_verify_config *cfg = cfg_in;
    if (!cfg) {
        taap_verify_config_init(&defcfg);
        cfg = &defcfg;
    } else if (cfg->struct_size != sizeof *cfg) {
        return taap_fail(err, TAAP_E_USAGE,
                         "taap_verify: config not set up with taap_verify_config_init()");
    }
    if (!key || !key->pkey)
        return taap_fail(err, TAAP_E_KEY, "no verification key configured");
    if (!req)
        return taap_fail(err, TAAP_E_USAGE, "taap_verify: no request given");

    /* 1. Size, three segments, strict base64url. */
    jws_parts p;
    taap_code rc = jws_split(token, len, cfg->max_token_len ? cfg->max_token_len
                                                            : TAAP_VERIFY_MAX_TOKEN,
                             &p, err);
    if (rc != TAAP_OK)
        return rc;

    /* 2. Strict JSON for both parts (the usual header needs no parse). */
    json_t *hdr = NULL, *pl = NULL;
    claims cl;
    int fast_header = jws_header_fast_ok(p.header, p.header_len);
    if (!fast_header)
        rc = jws_parse_json(p.header, p.header_len, "header", TAAP_E_MALFORMED, &hdr, err);
    if (rc == TAAP_OK && !claims_fast(p.payload, p.payload_len, &cl)) {
        rc = jws_parse_json(p.payload, p.payload_len, "payload", TAAP_E_CLAIMS, &pl, err);
        if (rc == TAAP_OK)
            claims_from_json(pl, &cl);
    }

    /* 3. Header policy: RS256 only, no crit/b64, no nested JWT, typ. */
    if (rc == TAAP_OK && !fast_header)
        rc = jws_check_header(hdr, err);

    /* 4. Key policy is enforced when the key is loaded (taap_key_load_*).
     * 5. Signature, exactly k bytes, with the configured key only. */
    if (rc == TAAP_OK)
        rc = rs256_verify(key, p.untrusted_signing_input, p.signing_input_len, p.sig, p.sig_len,
                          err);
    json_decref(hdr);
    if (rc != TAAP_OK)
        goto out;

    /* 6. Claims, present and typed. */
    int64_t iat = 0, exp = 0, nbf = 0;
    if ((rc = time_claim(&cl.iat, "iat", 1, &iat, err)) != TAAP_OK ||
        (rc = time_claim(&cl.exp, "exp", 1, &exp, err)) != TAAP_OK ||
        (rc = time_claim(&cl.nbf, "nbf", 0, &nbf, err)) != TAAP_OK ||
        (rc = string_claim(&cl.ehts, "ehts", err)) != TAAP_OK ||
        (rc = string_claim(&cl.edts, "edts", err)) != TAAP_OK ||
        (rc = string_claim(&cl.jti, "jti", err)) != TAAP_OK)
        goto out;
    const char *ehts = cl.ehts.s, *edts = cl.edts.s;
    size_t ehts_len = cl.ehts.len, edts_len = cl.edts.len, jti_len = cl.jti.len;
    int has_nbf = cl.nbf.kind != C_MISSING;
    if (jti_len > MAX_JTI) {
        rc = taap_fail(err, TAAP_E_CLAIMS, "jti is %zu bytes; the limit is %d", jti_len, MAX_JTI);
        goto out;
    }
    /* NUL-terminated for the replay cache (jansson refuses \u0000, and the
     * fast path takes no escapes, so the claim holds no NUL). */
    char jti[MAX_JTI + 1];
    memcpy(jti, cl.jti.s, jti_len);
    jti[jti_len] = '\0';
    const claim *v = &cl.v;
    if (v->kind == C_MISSING) {
        rc = taap_fail(err, TAAP_E_CLAIMS, "payload has no v claim; expected \"1\"");
        goto out;
    }
    if (!((v->kind == C_STRING && v->len == 1 && v->s[0] == '1') ||
          (v->kind == C_INTEGER && v->i == 1))) {
        if (v->kind == C_STRING) {
            char tmp[24];
            size_t k, o = 0;
            for (k = 0; k < v->len && o < 16; k++) {
                unsigned char c = (unsigned char)v->s[k];
                tmp[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
            }
            tmp[o] = '\0';
            rc = taap_fail(err, TAAP_E_CLAIMS, "v is \"%s%s\"; expected \"1\"", tmp,
                           k < v->len ? "..." : "");
        } else if (v->kind == C_INTEGER) {
            rc = taap_fail(err, TAAP_E_CLAIMS, "v is %lld; expected \"1\"", v->i);
        } else {
            rc = taap_fail(err, TAAP_E_CLAIMS, "v is %s; expected \"1\"", claims_kind_name(v->kind));
        }
        goto out;
    }
    if (info) {
        info->iat = iat;
        info->exp = exp;
        memcpy(info->jti, jti, jti_len);
        info->jti[jti_len] = '\0';
        info->ehts = taap_strndup(ehts, ehts_len);
        if (!info->ehts) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            goto out;
        }
    }

    /* 7. Time. `now` is clamped so the arithmetic below cannot overflow
     * whatever an injected clock returns; exp/iat/nbf are already bounded. */
    int64_t now = cfg->clock ? cfg->clock(cfg->clock_ctx) : taap_wall_clock(NULL);
    const int64_t lim = INT64_C(1) << 62;
    if (now > lim)
        now = lim;
    if (now < -lim)
        now = -lim;
    const int64_t L = (int64_t)cfg->leeway;
    if (exp <= iat) {
        rc = taap_fail(err, TAAP_E_LIFETIME, "exp (%lld) is not after iat (%lld); expected exp > iat",
                       (long long)exp, (long long)iat);
        goto out;
    }
    if (exp - iat > (int64_t)cfg->max_lifetime) {
        rc = taap_fail(err, TAAP_E_LIFETIME, "token lifetime exp - iat is %lld s; the limit is %u s",
                       (long long)(exp - iat), cfg->max_lifetime);
        goto out;
    }
    if (now >= exp + L) {
        rc = taap_fail(err, TAAP_E_EXPIRED, "PoP token expired %lld s ago (leeway %u s)",
                       (long long)(now - exp), cfg->leeway);
        goto out;
    }
    if (iat - L > now) {
        rc = taap_fail(err, TAAP_E_NOT_YET_VALID,
                       "PoP token issued %lld s in the future (iat %lld, now %lld, leeway %u s); "
                       "check the clocks",
                       (long long)(iat - now), (long long)iat, (long long)now, cfg->leeway);
        goto out;
    }
    if (has_nbf && nbf - L > now) {
        rc = taap_fail(err, TAAP_E_NOT_YET_VALID,
                       "PoP token not valid before %lld, %lld s from now (leeway %u s)",
                       (long long)nbf, (long long)(nbf - now), cfg->leeway);
        goto out;
    }

    /* 8. ehts: syntax, duplicates, and every named part present once. */
    taap_error tmp = TAAP_ERROR_INIT;
    int64_t body_len = canon_body_length(&req->body, &tmp);
    if (body_len < 0 && tmp.code != TAAP_OK) {
        rc = taap_fail(err, tmp.code, "%s", tmp.message);
        goto out;
    }
    const char *names[TAAP_POP_MAX_ENTRIES];
    size_t lens[TAAP_POP_MAX_ENTRIES];
    size_t n = 0;
    if ((rc = check_ehts(ehts, ehts_len, req, body_len, names, lens, &n, err)) != TAAP_OK)
        goto out;

    /* 9. Coverage policy. */
    if ((rc = check_coverage(cfg, body_len, names, lens, n, err)) != TAAP_OK)
        goto out;

    /* 10. edts over the received bytes, exact and in constant time. */
    if (edts_len != EDTS_LEN) {
        rc = taap_fail(err, TAAP_E_EDTS,
                       "edts is %zu characters; a base64url SHA-256 without padding is %d", edts_len,
                       EDTS_LEN);
        goto out;
    }
    char want[44];
    if ((rc = canon_request_edts(req, names, lens, n, TAAP_E_EHTS, want, err)) != TAAP_OK)
        goto out;
    if (CRYPTO_memcmp(want, edts, EDTS_LEN) != 0) {
        rc = taap_fail(err, TAAP_E_EDTS,
                       "edts does not match the request: the signed method, uri, headers or "
                       "body differ from what was received");
        goto out;
    }

    /* 11. Replay, last: only a fully valid token is remembered. */
    if (cfg->replay)
        rc = taap_replay_check_and_insert(cfg->replay, key->fingerprint, jti, exp + L, now, err);

out:
    json_decref(pl);
    jws_parts_free(&p);
    if (rc == TAAP_OK && err)
        taap_error_clear(err);
    return rc;
}
