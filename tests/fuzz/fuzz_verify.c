/*
 * fuzz_verify — the PoP token parser and verifier (SPEC §2) with a fixed
 * key, a fixed request and a fixed clock.
 *
 * Two input shapes, so the fuzzer reaches past the signature check:
 *  - a compact token (anything not starting with '{'): verified as is, and
 *    decoded with taap_jwt_decode;
 *  - "HEADER-JSON\0PAYLOAD-JSON" (starts with '{'): the two parts are
 *    base64url-encoded and signed with the fixed private key, so the header
 *    policy, the claim checks, ehts/edts and the replay cache see
 *    fuzzer-chosen JSON behind a valid signature. Without a NUL the whole
 *    input is the payload under {"alg":"RS256","typ":"JWT"}.
 *
 * Invariants beyond "no crash, no leak, no UB": the error contract; a token
 * accepted once is refused as a replay the second time; a raw token (not
 * signed here) is never accepted unless it is one of the seeds signed by
 * the fixed key; error messages never quote a whole token.
 */
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "fuzz_common.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/taap.h"
#include "test_keys.h"

/* The fixed request every token is checked against (SPEC §1.1 examples). */
static const taap_header fz_headers[] = {
    { "Content-Type", "application/json" },
    { "Authorization", "Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS" },
    { "X-Extra", "  padded value  " },
};
static const char fz_body[] = "{\"orderId\": 100, \"product\": \"Mobile Phone\"}";

/* The clock the seeds were made for: iat 1700000000. */
#define FZ_NOW 1700000010

static taap_key *fz_priv;
static taap_key *fz_pub;

static int64_t fz_clock(void *ctx)
{
    (void)ctx;
    return FZ_NOW;
}

static void fz_cleanup(void)
{
    taap_key_free(fz_priv);
    taap_key_free(fz_pub);
    fz_priv = fz_pub = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_key_load_private(TK_PRIVATE_PEM, sizeof TK_PRIVATE_PEM - 1, NULL, 0, &fz_priv, &err) ||
        taap_key_load_public(TK_PUBLIC_PEM, sizeof TK_PUBLIC_PEM - 1, &fz_pub, &err))
        fuzz_fail("cannot load the fixed fuzz key", err.message);
    atexit(fz_cleanup);
    return 0;
}

/* header.payload.signature over the two JSON texts, signed with fz_priv. */
static char *fz_sign(const uint8_t *hdr, size_t hlen, const uint8_t *pl, size_t plen)
{
    size_t cap = TAAP_B64URL_LEN(hlen) + TAAP_B64URL_LEN(plen) +
                 TAAP_B64URL_LEN(fz_priv->sig_len) + 3;
    char *tok = malloc(cap);
    unsigned char *sig = malloc(fz_priv->sig_len);
    if (!tok || !sig) {
        free(tok);
        free(sig);
        return NULL;
    }
    size_t n = taap_b64url_encode(hdr, hlen, tok);
    tok[n++] = '.';
    n += taap_b64url_encode(pl, plen, tok + n);
    taap_error err = TAAP_ERROR_INIT;
    if (rs256_sign(fz_priv, tok, n, sig, &err) != TAAP_OK)
        fuzz_fail("rs256_sign failed on the fixed key", err.message);
    tok[n++] = '.';
    taap_b64url_encode(sig, fz_priv->sig_len, tok + n);
    free(sig);
    return tok;
}

static int is_seed_signed(const char *tok, size_t len)
{
    /* A raw token can only verify if it was signed by fz_priv: the seeds
     * were. Re-signing its first two segments must reproduce it (RS256 is
     * deterministic), otherwise an accepted raw token is a forgery. */
    const char *d1 = memchr(tok, '.', len);
    if (!d1)
        return 0;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    if (!d2)
        return 0;
    size_t cap1 = (size_t)(d1 - tok), cap2 = (size_t)(d2 - d1 - 1);
    unsigned char *h = malloc(cap1 + 1), *p = malloc(cap2 + 1);
    size_t hl = 0, pl = 0;
    int ok = 0;
    if (h && p && taap_b64url_decode(tok, cap1, h, &hl) == 0 &&
        taap_b64url_decode(d1 + 1, cap2, p, &pl) == 0) {
        char *again = fz_sign(h, hl, p, pl);
        ok = again && strlen(again) == len && memcmp(again, tok, len) == 0;
        free(again);
    }
    free(h);
    free(p);
    return ok;
}

static void fz_verify_one(const char *tok, size_t len, int signed_here)
{
    taap_request req = { 0 };
    req.method = "POST";
    req.target = "https://api.t-mobile.com/commerce/v1/orders?account-number=0000000000";
    req.headers = fz_headers;
    req.n_headers = sizeof fz_headers / sizeof fz_headers[0];
    req.body.kind = TAAP_BODY_MEMORY;
    req.body.data = fz_body;
    req.body.len = (int64_t)(sizeof fz_body - 1);

    taap_replay *replay = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_replay_memory_new(8, &replay, &err) != TAAP_OK)
        fuzz_fail("taap_replay_memory_new", err.message);

    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = fz_clock;
    cfg.replay = replay;

    taap_verify_info info;
    memset(&info, 0, sizeof info);
    taap_code rc = taap_verify(tok, len, fz_pub, &req, &cfg, &info, &err);
    fuzz_check_error(rc, &err, "taap_verify");
    if (len > 48 && rc != TAAP_OK && memmem(err.message, strlen(err.message), tok, len))
        fuzz_fail("taap_verify error message quotes the whole token", NULL);
    taap_verify_info_free(&info);

    if (rc == TAAP_OK) {
        if (!signed_here && !is_seed_signed(tok, len))
            fuzz_fail("a token not signed by the fixed key was accepted", NULL);
        memset(&info, 0, sizeof info);
        taap_error err2 = TAAP_ERROR_INIT;
        taap_code again = taap_verify(tok, len, fz_pub, &req, &cfg, &info, &err2);
        taap_verify_info_free(&info);
        if (again != TAAP_E_REPLAY)
            fuzz_fail("an accepted token was accepted again (replay)", taap_code_name(again));
    }
    taap_replay_free(replay);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_pub)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size > 65536)
        return 0;

    if (size > 0 && data[0] == '{') {
        static const char def_hdr[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
        const uint8_t *nul = memchr(data, 0, size);
        char *tok;
        if (nul)
            tok = fz_sign(data, (size_t)(nul - data), nul + 1, size - (size_t)(nul - data) - 1);
        else
            tok = fz_sign((const uint8_t *)def_hdr, sizeof def_hdr - 1, data, size);
        if (tok) {
            fz_verify_one(tok, strlen(tok), 1);
            free(tok);
        }
        return 0;
    }

    /* Raw token: not NUL-terminated on purpose (the API takes a length). */
    char *tok = malloc(size ? size : 1);
    if (!tok)
        return 0;
    memcpy(tok, data, size);
    fz_verify_one(tok, size, 0);

    char *h = NULL, *p = NULL;
    taap_error err = TAAP_ERROR_INIT;
    taap_code rc = taap_jwt_decode(tok, size, &h, &p, &err);
    fuzz_check_error(rc, &err, "taap_jwt_decode");
    if (rc == TAAP_OK && (!h || !p))
        fuzz_fail("taap_jwt_decode succeeded without output", NULL);
    free(h);
    free(p);
    free(tok);
    return 0;
}
