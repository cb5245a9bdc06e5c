/* test_verify_rules.c — SPEC §2 items 1–11, one table row per rule: a
 * must-fail case and a positive control beside it. Tokens are built here
 * from arbitrary header/payload bytes and signed with rs256_sign, so every
 * malformation is exactly the one named; the clock is injected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "b64url.h"
#include "canon.h"
#include "key_internal.h"
#include "rs256.h"
#include "taap/key.h"
#include "taap/replay.h"
#include "taap/verify.h"
#include "testutil.h"

#define NOW INT64_C(1700000000)
#define DEF_HDR "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define DEF_EHTS "Content-Type;Authorization;uri;http-method;body"
#define DEF_PAYLOAD \
    "{\"iat\":$IAT,\"exp\":$EXP,\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":\"1\"}"
#define BODY "{\"orderId\": 100, \"product\": \"Mobile Phone\"}"

static taap_key *g_priv, *g_pub, *g_other_priv;
static char *g_other_jwk_n;
static int64_t g_now = NOW;
static unsigned g_jti_counter;

static int64_t fixed_clock(void *ctx)
{
    return *(int64_t *)ctx;
}

/* ---- requests ---- */

enum req_kind {
    R_BASE,          /* POST /commerce/v1/orders?x=1 with CT, Authorization, body */
    R_BODY_TAMPERED, /* body differs by one byte */
    R_HDR_TAMPERED,  /* Authorization value differs */
    R_PATH_TAMPERED,
    R_QUERY_TAMPERED,
    R_METHOD_LOWER, /* "post" received */
    R_METHOD_PUT,
    R_LOWER_NAMES,  /* header names lower case on the wire */
    R_HDR_SPACES,   /* header value with surrounding whitespace */
    R_CT_TWICE,     /* Content-Type sent twice */
    R_NO_BODY,      /* GET, no body, CT + Authorization */
    R_MANY,         /* POST, no body, headers X-H1..X-H98 */
};

static taap_header g_hs[128];
static char g_hnames[128][16];

static taap_request make_req(enum req_kind k)
{
    taap_request r;
    memset(&r, 0, sizeof r);
    size_t n = 0;
    r.method = "POST";
    r.target = "https://api.example.com/commerce/v1/orders?x=1";
    r.body.kind = TAAP_BODY_MEMORY;
    r.body.data = BODY;
    r.body.len = (int64_t)strlen(BODY);
    g_hs[n++] = (taap_header){"Content-Type", "application/json"};
    g_hs[n++] = (taap_header){"Authorization", "Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS"};
    switch (k) {
    case R_BASE:
        break;
    case R_BODY_TAMPERED:
        r.body.data = "{\"orderId\": 101, \"product\": \"Mobile Phone\"}";
        break;
    case R_HDR_TAMPERED:
        g_hs[1].value = "Bearer UtKV75JJbVAewOrkHMXhLbiQ11ST";
        break;
    case R_PATH_TAMPERED:
        r.target = "https://api.example.com/commerce/v1/order?x=1";
        break;
    case R_QUERY_TAMPERED:
        r.target = "https://api.example.com/commerce/v1/orders?x=2";
        break;
    case R_METHOD_LOWER:
        r.method = "post";
        break;
    case R_METHOD_PUT:
        r.method = "PUT";
        break;
    case R_LOWER_NAMES:
        g_hs[0].name = "content-type";
        g_hs[1].name = "AUTHORIZATION";
        break;
    case R_HDR_SPACES:
        g_hs[0].value = " \tapplication/json  ";
        break;
    case R_CT_TWICE:
        g_hs[n++] = (taap_header){"content-type", "application/json"};
        break;
    case R_NO_BODY:
        r.method = "GET";
        r.body.kind = TAAP_BODY_NONE;
        r.body.data = NULL;
        r.body.len = 0;
        break;
    case R_MANY:
        r.body.kind = TAAP_BODY_NONE;
        r.body.len = 0;
        for (int i = 1; i <= 98; i++) {
            snprintf(g_hnames[i], sizeof g_hnames[i], "X-H%d", i);
            g_hs[n++] = (taap_header){g_hnames[i], "v"};
        }
        break;
    }
    r.headers = g_hs;
    r.n_headers = n;
    return r;
}

/* ---- token construction ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const void *s, size_t n)
{
    /* Bounded (and the failed realloc returns) so gcc -O3 sees no overflow. */
    if (n > SIZE_MAX / 4 || b->n > SIZE_MAX / 4)
        fail_msg("sb_add: %zu bytes is not a test token", n);
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        assert_non_null(p);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_b64(sbuf *b, const void *data, size_t n)
{
    char *tmp = malloc(TAAP_B64URL_LEN(n) + 1);
    assert_non_null(tmp);
    size_t l = taap_b64url_encode(data, n, tmp);
    sb_add(b, tmp, l);
    free(tmp);
}

enum mutation {
    M_NONE,
    M_TWO_SEG,      /* drop ".signature" */
    M_FOUR_SEG,     /* append ".AAAA" */
    M_PAD,          /* '=' padding on the signature segment */
    M_SPACE,        /* a space inside the payload segment */
    M_NEWLINE,      /* trailing newline */
    M_TRAIL_BITS,   /* same bytes, non-zero unused bits in the signature */
    M_STD_ALPHABET, /* '-'/'_' replaced by '+'/'/' */
    M_SIG_SHORT,    /* signature one byte short */
    M_SIG_LONG,     /* signature one byte long (0x00 appended) */
    M_SIG_FLIP,     /* one bit flipped */
    M_PAYLOAD_EDIT, /* payload segment replaced after signing */
    M_SIGN_OTHER,   /* signed by another key */
};

enum edts_mod { E_NONE, E_PAD, E_SWAPCASE, E_TRUNC, E_DUMMY };

typedef struct row {
    const char *name;
    taap_code expect;
    const char *hdr;     /* NULL → DEF_HDR */
    const char *payload; /* NULL → DEF_PAYLOAD; $IAT $EXP $EHTS $EDTS $JTI substituted */
    const char *ehts;    /* NULL → DEF_EHTS */
    int64_t iat_off;     /* iat = NOW + iat_off */
    int64_t life;        /* exp = iat + life (0 → 60) */
    enum req_kind sign_req, recv_req;
    enum mutation mut;
    enum edts_mod edts_mod;
    int require_auth; /* cfg->required = uri, http-method, body, Authorization */
    size_t pad_bytes; /* an extra unknown claim of this many bytes */
    size_t jti_len;   /* nonzero: a jti of exactly this many bytes */
} row;

static void compute_edts(const char *ehts, enum req_kind k, char out[44])
{
    const char *names[128];
    size_t lens[128], n = 0;
    const char *p = ehts;
    for (;;) {
        const char *s = strchr(p, ';');
        size_t l = s ? (size_t)(s - p) : strlen(p);
        if (n == 128 || l == 0)
            goto dummy;
        names[n] = p;
        lens[n++] = l;
        if (!s)
            break;
        p = s + 1;
    }
    taap_request r = make_req(k);
    taap_error err = TAAP_ERROR_INIT;
    if (canon_request_edts(&r, names, lens, n, TAAP_E_EHTS, out, &err) == TAAP_OK)
        return;
dummy:
    memset(out, 'A', 43);
    out[43] = '\0';
}

static char *build_payload(const row *rw, char *jti_out)
{
    const char *ehts = rw->ehts ? rw->ehts : DEF_EHTS;
    char edts[48];
    if (rw->edts_mod == E_DUMMY) {
        memset(edts, 'A', 43);
        edts[43] = '\0';
    } else {
        compute_edts(ehts, rw->sign_req, edts);
    }
    switch (rw->edts_mod) {
    case E_PAD:
        edts[43] = '=';
        edts[44] = '\0';
        break;
    case E_SWAPCASE:
        for (char *c = edts; *c; c++)
            if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))
                *c ^= 0x20;
        break;
    case E_TRUNC:
        edts[42] = '\0';
        break;
    default:
        break;
    }
    int64_t iat = NOW + rw->iat_off;
    int64_t exp = iat + (rw->life ? rw->life : 60);
    snprintf(jti_out, 64, "jti-%u", ++g_jti_counter);
    char long_jti[400];
    if (rw->jti_len) {
        assert_true(rw->jti_len < sizeof long_jti);
        int w = snprintf(long_jti, sizeof long_jti, "jti-%u-", g_jti_counter);
        memset(long_jti + w, 'x', rw->jti_len - (size_t)w);
        long_jti[rw->jti_len] = '\0';
    }
    char num[32];
    sbuf b = {0};
    const char *t = rw->payload ? rw->payload : DEF_PAYLOAD;
    while (*t) {
        if (strncmp(t, "$IAT", 4) == 0) {
            snprintf(num, sizeof num, "%lld", (long long)iat);
            sb_str(&b, num);
            t += 4;
        } else if (strncmp(t, "$EXP", 4) == 0) {
            snprintf(num, sizeof num, "%lld", (long long)exp);
            sb_str(&b, num);
            t += 4;
        } else if (strncmp(t, "$EHTS", 5) == 0) {
            sb_str(&b, ehts);
            t += 5;
        } else if (strncmp(t, "$EDTS", 5) == 0) {
            sb_str(&b, edts);
            t += 5;
        } else if (strncmp(t, "$JTI", 4) == 0) {
            sb_str(&b, rw->jti_len ? long_jti : jti_out);
            t += 4;
        } else {
            sb_add(&b, t, 1);
            t++;
        }
    }
    if (rw->pad_bytes) { /* insert ,"pad":"xxx…" before the final '}' */
        assert_true(b.n > 0 && b.p[b.n - 1] == '}');
        b.n--;
        sb_str(&b, ",\"pad\":\"");
        for (size_t i = 0; i < rw->pad_bytes; i++)
            sb_add(&b, "x", 1);
        sb_str(&b, "\"}");
    }
    return b.p;
}

/* Sign header/payload bytes as given and apply a mutation to the text. */
static char *make_token(const char *hdr, size_t hlen, const char *pl, size_t plen,
                        const taap_key *signer, enum mutation mut)
{
    sbuf b = {0};
    sb_b64(&b, hdr, hlen);
    sb_add(&b, ".", 1);
    sb_b64(&b, pl, plen);
    size_t si_len = b.n;
    unsigned char sig[1024];
    taap_error err = TAAP_ERROR_INIT;
    const taap_key *k = mut == M_SIGN_OTHER ? g_other_priv : signer;
    assert_int_equal(rs256_sign(k, b.p, si_len, sig, &err), TAAP_OK);
    size_t slen = k->sig_len;
    if (mut == M_SIG_SHORT)
        slen--;
    if (mut == M_SIG_LONG)
        sig[slen++] = 0;
    if (mut == M_SIG_FLIP)
        sig[17] ^= 0x04;
    if (mut == M_PAYLOAD_EDIT) { /* re-encode a different payload, keep the signature */
        sbuf c = {0};
        sb_b64(&c, hdr, hlen);
        sb_add(&c, ".", 1);
        char *edited = strdup(pl);
        char *d = strstr(edited, "jti-");
        assert_non_null(d);
        d[0] = 'J';
        sb_b64(&c, edited, plen);
        free(edited);
        free(b.p);
        b = c;
    }
    if (mut != M_TWO_SEG) {
        sb_add(&b, ".", 1);
        sb_b64(&b, sig, slen);
    }
    switch (mut) {
    case M_FOUR_SEG:
        sb_str(&b, ".AAAA");
        break;
    case M_PAD: /* 256-byte signature → 342 chars, canonical padding "==" */
        sb_str(&b, "==");
        break;
    case M_SPACE: {
        char *dot = strchr(b.p, '.');
        dot[3] = ' ';
        break;
    }
    case M_NEWLINE:
        sb_str(&b, "\n");
        break;
    case M_TRAIL_BITS: { /* last char of the signature carries 4 unused bits */
        char *last = &b.p[b.n - 1];
        static const char al[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int v = (int)(strchr(al, *last) - al);
        assert_int_equal(v & 0x0f, 0);
        *last = al[v | 1];
        break;
    }
    case M_STD_ALPHABET: {
        char *c = strpbrk(b.p, "-_");
        assert_non_null(c);
        *c = *c == '-' ? '+' : '/';
        break;
    }
    default:
        break;
    }
    return b.p;
}

static taap_code run_row(const row *rw, taap_error *err, taap_verify_info *info)
{
    char jti[64];
    char *pl = build_payload(rw, jti);
    const char *hdr = rw->hdr ? rw->hdr : DEF_HDR;
    char *tok = make_token(hdr, strlen(hdr), pl, strlen(pl), g_priv, rw->mut);
    taap_request req = make_req(rw->recv_req);
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &g_now;
    static const char *const with_auth[] = {"uri", "http-method", "body", "Authorization"};
    if (rw->require_auth) {
        cfg.required = with_auth;
        cfg.n_required = 4;
    }
    taap_code rc = taap_verify(tok, strlen(tok), g_pub, &req, &cfg, info, err);
    free(tok);
    free(pl);
    return rc;
}

#define P(...) .payload = "{" __VA_ARGS__ "}"
#define STD_CLAIMS "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":\"1\""
#define IAT_EXP "\"iat\":$IAT,\"exp\":$EXP,"

static const row rows[] = {
    {.name = "positive control", .expect = TAAP_OK},
    /* 1. size, segments, base64url */
    {.name = "token over 8 KiB", .expect = TAAP_E_MALFORMED, .pad_bytes = 8200},
    {.name = "token just under 8 KiB (control)", .expect = TAAP_OK, .pad_bytes = 5500},
    {.name = "two segments", .expect = TAAP_E_MALFORMED, .mut = M_TWO_SEG},
    {.name = "four segments", .expect = TAAP_E_MALFORMED, .mut = M_FOUR_SEG},
    {.name = "'=' padding", .expect = TAAP_E_MALFORMED, .mut = M_PAD},
    {.name = "space inside a segment", .expect = TAAP_E_MALFORMED, .mut = M_SPACE},
    {.name = "trailing newline", .expect = TAAP_E_MALFORMED, .mut = M_NEWLINE},
    {.name = "non-zero unused trailing bits", .expect = TAAP_E_MALFORMED, .mut = M_TRAIL_BITS},
    {.name = "standard base64 alphabet", .expect = TAAP_E_MALFORMED, .mut = M_STD_ALPHABET},
    /* 2. strict JSON */
    {.name = "BOM before header", .expect = TAAP_E_MALFORMED, .hdr = "\xEF\xBB\xBF" DEF_HDR},
    {.name = "BOM before payload", .expect = TAAP_E_MALFORMED, .payload = "\xEF\xBB\xBF" DEF_PAYLOAD},
    {.name = "duplicate header member", .expect = TAAP_E_MALFORMED, .hdr = "{\"alg\":\"RS256\",\"alg\":\"none\"}"},
    {.name = "duplicate identical header member", .expect = TAAP_E_MALFORMED,
     .hdr = "{\"alg\":\"RS256\",\"alg\":\"RS256\"}"},
    {.name = "duplicate exp", .expect = TAAP_E_MALFORMED, P(IAT_EXP "\"exp\":99999999999," STD_CLAIMS)},
    {.name = "trailing garbage after header", .expect = TAAP_E_MALFORMED, .hdr = "{\"alg\":\"RS256\"}x"},
    {.name = "second object after payload", .expect = TAAP_E_MALFORMED, .payload = DEF_PAYLOAD "{}"},
    {.name = "trailing whitespace after header (control)", .expect = TAAP_OK, .hdr = "{\"alg\":\"RS256\"} \n"},
    {.name = "invalid UTF-8 in header", .expect = TAAP_E_MALFORMED, .hdr = "{\"alg\":\"RS256\",\"x\":\"\xff\"}"},
    {.name = "overlong UTF-8 in payload", .expect = TAAP_E_MALFORMED, P(IAT_EXP STD_CLAIMS ",\"x\":\"\xc0\xaf\"")},
    {.name = "UTF-8 in an unknown claim (control)", .expect = TAAP_OK, P(IAT_EXP STD_CLAIMS ",\"x\":\"\xe2\x80\x99\"")},
    {.name = "nesting 40 deep", .expect = TAAP_E_MALFORMED,
     P(IAT_EXP STD_CLAIMS ",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]")},
    {.name = "nesting 10 deep (control)", .expect = TAAP_OK, P(IAT_EXP STD_CLAIMS ",\"x\":[[[[[[[[[[1]]]]]]]]]]")},
    {.name = "header is an array", .expect = TAAP_E_MALFORMED, .hdr = "[\"RS256\"]"},
    {.name = "payload is a string", .expect = TAAP_E_MALFORMED, .payload = "\"iat\""},
    {.name = "header not JSON", .expect = TAAP_E_MALFORMED, .hdr = "alg=RS256"},
    {.name = "NUL escape in jti", .expect = TAAP_E_MALFORMED,
     P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"a\\u0000b\",\"v\":\"1\"")},
    /* 3. header policy */
    {.name = "alg none", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"none\"}"},
    {.name = "alg HS256", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"},
    {.name = "alg rs256", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"rs256\"}"},
    {.name = "alg PS256", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"PS256\"}"},
    {.name = "alg 'RS256 '", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256 \"}"},
    {.name = "alg missing", .expect = TAAP_E_ALG, .hdr = "{\"typ\":\"JWT\"}"},
    {.name = "alg a number", .expect = TAAP_E_ALG, .hdr = "{\"alg\":256}"},
    {.name = "crit", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}"},
    {.name = "empty crit", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"crit\":[]}"},
    {.name = "b64 false", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"]}"},
    {.name = "b64 alone", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"b64\":false}"},
    {.name = "cty JWT", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"cty\":\"JWT\"}"},
    {.name = "cty application/jwt", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"cty\":\"application/JWT\"}"},
    {.name = "cty json (control)", .expect = TAAP_OK, .hdr = "{\"alg\":\"RS256\",\"cty\":\"json\"}"},
    {.name = "typ jose", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"typ\":\"jose\"}"},
    {.name = "typ at+jwt", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}"},
    {.name = "typ a number", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"RS256\",\"typ\":1}"},
    {.name = "typ JWT (control)", .expect = TAAP_OK, .hdr = "{\"typ\":\"JWT\",\"alg\":\"RS256\"}"},
    {.name = "typ jwt (control)", .expect = TAAP_OK, .hdr = "{\"alg\":\"RS256\",\"typ\":\"jwt\"}"},
    {.name = "typ application/jwt (control)", .expect = TAAP_OK, .hdr = "{\"alg\":\"RS256\",\"typ\":\"application/jwt\"}"},
    {.name = "no typ (control)", .expect = TAAP_OK, .hdr = "{\"alg\":\"RS256\"}"},
    {.name = "kid as a path is ignored (control)", .expect = TAAP_OK,
     .hdr = "{\"alg\":\"RS256\",\"kid\":\"../../../../dev/null\"}"},
    {.name = "jku is never fetched (control)", .expect = TAAP_OK,
     .hdr = "{\"alg\":\"RS256\",\"jku\":\"http://127.0.0.1:1/jwks\"}"},
    /* 5. signature */
    {.name = "signature one byte short", .expect = TAAP_E_SIGNATURE, .mut = M_SIG_SHORT},
    {.name = "signature one byte long", .expect = TAAP_E_SIGNATURE, .mut = M_SIG_LONG},
    {.name = "signature bit flip", .expect = TAAP_E_SIGNATURE, .mut = M_SIG_FLIP},
    {.name = "payload edited after signing", .expect = TAAP_E_SIGNATURE, .mut = M_PAYLOAD_EDIT},
    {.name = "signed by another key", .expect = TAAP_E_SIGNATURE, .mut = M_SIGN_OTHER},
    /* 6. claims */
    {.name = "iat a numeric string", .expect = TAAP_E_CLAIMS, P("\"iat\":\"1700000000\",\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat a float", .expect = TAAP_E_CLAIMS, P("\"iat\":1700000000.0,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat in exponent form", .expect = TAAP_E_CLAIMS, P("\"iat\":1.7e9,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat true", .expect = TAAP_E_CLAIMS, P("\"iat\":true,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat null", .expect = TAAP_E_CLAIMS, P("\"iat\":null,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat an object", .expect = TAAP_E_CLAIMS, P("\"iat\":{},\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat negative", .expect = TAAP_E_CLAIMS, P("\"iat\":-1,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat too large", .expect = TAAP_E_CLAIMS, P("\"iat\":253402300800,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat 2^63 (overflow)", .expect = TAAP_E_CLAIMS, P("\"iat\":9223372036854775808,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "exp 1e400", .expect = TAAP_E_CLAIMS, P("\"iat\":$IAT,\"exp\":1e400," STD_CLAIMS)},
    {.name = "exp a string", .expect = TAAP_E_CLAIMS, P("\"iat\":$IAT,\"exp\":\"1700000060\"," STD_CLAIMS)},
    {.name = "exp 26 digits", .expect = TAAP_E_CLAIMS, P("\"iat\":$IAT,\"exp\":99999999999999999999999999," STD_CLAIMS)},
    {.name = "nbf a string", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"nbf\":\"0\"," STD_CLAIMS)},
    {.name = "missing iat", .expect = TAAP_E_CLAIMS, P("\"exp\":$EXP," STD_CLAIMS)},
    {.name = "missing exp", .expect = TAAP_E_CLAIMS, P("\"iat\":$IAT," STD_CLAIMS)},
    {.name = "missing ehts", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":\"1\"")},
    {.name = "missing edts", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"jti\":\"$JTI\",\"v\":\"1\"")},
    {.name = "missing jti", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"v\":\"1\"")},
    {.name = "missing v", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\"")},
    {.name = "ehts empty", .expect = TAAP_E_CLAIMS, .ehts = ""},
    {.name = "ehts an array", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":[\"uri\"],\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":\"1\"")},
    {.name = "edts a number", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":5,\"jti\":\"$JTI\",\"v\":\"1\"")},
    {.name = "jti empty", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"\",\"v\":\"1\"")},
    {.name = "jti a number", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":7,\"v\":\"1\"")},
    {.name = "jti 257 bytes", .expect = TAAP_E_CLAIMS, .jti_len = 257},
    {.name = "jti 256 bytes (control)", .expect = TAAP_OK, .jti_len = 256},
    {.name = "v \"v1\"", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":\"v1\"")},
    {.name = "v 2", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":2")},
    {.name = "v \"2\"", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":\"2\"")},
    {.name = "v true", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":true")},
    {.name = "v 1.0", .expect = TAAP_E_CLAIMS, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":1.0")},
    {.name = "v \"1\" (control)", .expect = TAAP_OK},
    {.name = "v 1 integer (control)", .expect = TAAP_OK, P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":1")},
    /* The payload fast path and the full parser must agree: these go
     * through one or the other and must give the same verdicts. */
    {.name = "whitespace between members (control)", .expect = TAAP_OK,
     .payload = " {\n \"iat\" : $IAT ,\t\"exp\":$EXP,\r\n\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\","
                "\"jti\":\"$JTI\",\"v\":\"1\"}\n"},
    {.name = "v as an escape \\u0031 (control)", .expect = TAAP_OK,
     P(IAT_EXP "\"ehts\":\"$EHTS\",\"edts\":\"$EDTS\",\"jti\":\"$JTI\",\"v\":\"\\u0031\"")},
    {.name = "escaped claim name \\u0069at (control)", .expect = TAAP_OK,
     P("\"\\u0069at\":$IAT,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat with a leading zero", .expect = TAAP_E_MALFORMED,
     P("\"iat\":01700000000,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "iat with a leading +", .expect = TAAP_E_MALFORMED,
     P("\"iat\":+1700000000,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "duplicate unknown member", .expect = TAAP_E_MALFORMED,
     P(IAT_EXP STD_CLAIMS ",\"x\":1,\"x\":1")},
    {.name = "duplicate via escape (jti / j\\u0074i)", .expect = TAAP_E_MALFORMED,
     P(IAT_EXP STD_CLAIMS ",\"j\\u0074i\":\"other\"")},
    {.name = "comma after the last member", .expect = TAAP_E_MALFORMED,
     P(IAT_EXP STD_CLAIMS ",")},
    {.name = "iat -0 is the integer 0 (lifetime too long)", .expect = TAAP_E_LIFETIME,
     P("\"iat\":-0,\"exp\":$EXP," STD_CLAIMS)},
    {.name = "unknown claims ignored (control)", .expect = TAAP_OK, P(IAT_EXP STD_CLAIMS ",\"aud\":\"x\",\"iss\":7")},
    /* 7. time */
    {.name = "expired 11 s ago", .expect = TAAP_E_EXPIRED, .iat_off = -71},
    {.name = "expired exactly leeway ago", .expect = TAAP_E_EXPIRED, .iat_off = -70},
    {.name = "expired 1 h ago", .expect = TAAP_E_EXPIRED, .iat_off = -3660},
    {.name = "expired 9 s ago, within leeway (control)", .expect = TAAP_OK, .iat_off = -69},
    {.name = "iat 11 s in the future", .expect = TAAP_E_NOT_YET_VALID, .iat_off = 11},
    {.name = "iat 1 h in the future", .expect = TAAP_E_NOT_YET_VALID, .iat_off = 3600},
    {.name = "iat 10 s in the future, within leeway (control)", .expect = TAAP_OK, .iat_off = 10},
    {.name = "nbf 11 s in the future", .expect = TAAP_E_NOT_YET_VALID, P(IAT_EXP "\"nbf\":1700000011," STD_CLAIMS)},
    {.name = "nbf 10 s in the future (control)", .expect = TAAP_OK, P(IAT_EXP "\"nbf\":1700000010," STD_CLAIMS)},
    {.name = "exp == iat", .expect = TAAP_E_LIFETIME, P("\"iat\":$IAT,\"exp\":$IAT," STD_CLAIMS)},
    {.name = "exp < iat", .expect = TAAP_E_LIFETIME, .life = -1},
    {.name = "exp - iat = 121", .expect = TAAP_E_LIFETIME, .life = 121},
    {.name = "exp - iat = 3600", .expect = TAAP_E_LIFETIME, .life = 3600},
    {.name = "exp - iat = 120 (control)", .expect = TAAP_OK, .life = 120},
    /* 8. ehts */
    {.name = "ehts ';'", .expect = TAAP_E_EHTS, .ehts = ";"},
    {.name = "ehts 'a;;b'", .expect = TAAP_E_EHTS, .ehts = "uri;;http-method"},
    {.name = "ehts leading ';'", .expect = TAAP_E_EHTS, .ehts = ";uri;http-method;body"},
    {.name = "ehts trailing ';'", .expect = TAAP_E_EHTS, .ehts = "uri;http-method;body;"},
    {.name = "ehts with a space", .expect = TAAP_E_EHTS, .ehts = "uri; http-method;body"},
    {.name = "ehts duplicate uri", .expect = TAAP_E_EHTS, .ehts = "uri;uri;http-method;body"},
    {.name = "ehts Content-Type;content-type", .expect = TAAP_E_EHTS,
     .ehts = "Content-Type;content-type;uri;http-method;body"},
    {.name = "ehts 'bad name'", .expect = TAAP_E_EHTS, .ehts = "bad name;uri;http-method;body"},
    {.name = "ehts names a missing header", .expect = TAAP_E_EHTS, .ehts = "X-Missing;uri;http-method;body"},
    {.name = "ehts names a repeated header", .expect = TAAP_E_EHTS, .sign_req = R_BASE, .recv_req = R_CT_TWICE},
    {.name = "ehts covers body, request has none", .expect = TAAP_E_EHTS, .ehts = "uri;http-method;body",
     .sign_req = R_NO_BODY, .recv_req = R_NO_BODY},
    {.name = "ehts URI;HTTP-METHOD are header names, absent", .expect = TAAP_E_EHTS, .ehts = "URI;HTTP-METHOD;body"},
    {.name = "ehts 101 entries", .expect = TAAP_E_EHTS,
     .ehts = "uri;http-method;X-H1;X-H2;X-H3;X-H4;X-H5;X-H6;X-H7;X-H8;X-H9;X-H10;X-H11;X-H12;"
             "X-H13;X-H14;X-H15;X-H16;X-H17;X-H18;X-H19;X-H20;X-H21;X-H22;X-H23;X-H24;X-H25;"
             "X-H26;X-H27;X-H28;X-H29;X-H30;X-H31;X-H32;X-H33;X-H34;X-H35;X-H36;X-H37;X-H38;"
             "X-H39;X-H40;X-H41;X-H42;X-H43;X-H44;X-H45;X-H46;X-H47;X-H48;X-H49;X-H50;X-H51;"
             "X-H52;X-H53;X-H54;X-H55;X-H56;X-H57;X-H58;X-H59;X-H60;X-H61;X-H62;X-H63;X-H64;"
             "X-H65;X-H66;X-H67;X-H68;X-H69;X-H70;X-H71;X-H72;X-H73;X-H74;X-H75;X-H76;X-H77;"
             "X-H78;X-H79;X-H80;X-H81;X-H82;X-H83;X-H84;X-H85;X-H86;X-H87;X-H88;X-H89;X-H90;"
             "X-H91;X-H92;X-H93;X-H94;X-H95;X-H96;X-H97;X-H98;Content-Type",
     .sign_req = R_MANY, .recv_req = R_MANY},
    {.name = "ehts 100 entries (control)", .expect = TAAP_OK,
     .ehts = "uri;http-method;X-H1;X-H2;X-H3;X-H4;X-H5;X-H6;X-H7;X-H8;X-H9;X-H10;X-H11;X-H12;"
             "X-H13;X-H14;X-H15;X-H16;X-H17;X-H18;X-H19;X-H20;X-H21;X-H22;X-H23;X-H24;X-H25;"
             "X-H26;X-H27;X-H28;X-H29;X-H30;X-H31;X-H32;X-H33;X-H34;X-H35;X-H36;X-H37;X-H38;"
             "X-H39;X-H40;X-H41;X-H42;X-H43;X-H44;X-H45;X-H46;X-H47;X-H48;X-H49;X-H50;X-H51;"
             "X-H52;X-H53;X-H54;X-H55;X-H56;X-H57;X-H58;X-H59;X-H60;X-H61;X-H62;X-H63;X-H64;"
             "X-H65;X-H66;X-H67;X-H68;X-H69;X-H70;X-H71;X-H72;X-H73;X-H74;X-H75;X-H76;X-H77;"
             "X-H78;X-H79;X-H80;X-H81;X-H82;X-H83;X-H84;X-H85;X-H86;X-H87;X-H88;X-H89;X-H90;"
             "X-H91;X-H92;X-H93;X-H94;X-H95;X-H96;X-H97;X-H98",
     .sign_req = R_MANY, .recv_req = R_MANY},
    {.name = "header names lower case on the wire (control)", .expect = TAAP_OK, .recv_req = R_LOWER_NAMES},
    {.name = "ehts names in lower case (control)", .expect = TAAP_OK,
     .ehts = "content-type;authorization;uri;http-method;body"},
    {.name = "header value whitespace trimmed (control)", .expect = TAAP_OK, .recv_req = R_HDR_SPACES},
    /* 9. coverage */
    {.name = "uri not covered", .expect = TAAP_E_COVERAGE, .ehts = "Content-Type;Authorization;http-method;body"},
    {.name = "http-method not covered", .expect = TAAP_E_COVERAGE, .ehts = "Content-Type;Authorization;uri;body"},
    {.name = "body not covered though sent", .expect = TAAP_E_COVERAGE, .ehts = "Content-Type;Authorization;uri;http-method"},
    {.name = "only Content-Type covered", .expect = TAAP_E_COVERAGE, .ehts = "Content-Type"},
    {.name = "no body, uri;http-method (control)", .expect = TAAP_OK, .ehts = "uri;http-method", .sign_req = R_NO_BODY,
     .recv_req = R_NO_BODY},
    {.name = "required Authorization not covered", .expect = TAAP_E_COVERAGE, .ehts = "uri;http-method;body",
     .require_auth = 1},
    {.name = "required Authorization covered (control)", .expect = TAAP_OK, .require_auth = 1},
    {.name = "required Authorization covered as 'authorization' (control)", .expect = TAAP_OK,
     .ehts = "authorization;uri;http-method;body", .require_auth = 1},
    /* 10. edts */
    {.name = "edts: body tampered", .expect = TAAP_E_EDTS, .recv_req = R_BODY_TAMPERED},
    {.name = "edts: header value tampered", .expect = TAAP_E_EDTS, .recv_req = R_HDR_TAMPERED},
    {.name = "edts: path tampered", .expect = TAAP_E_EDTS, .recv_req = R_PATH_TAMPERED},
    {.name = "edts: query tampered", .expect = TAAP_E_EDTS, .recv_req = R_QUERY_TAMPERED},
    {.name = "edts: signed POST, received post", .expect = TAAP_E_EDTS, .recv_req = R_METHOD_LOWER},
    {.name = "edts: signed post, received POST", .expect = TAAP_E_EDTS, .sign_req = R_METHOD_LOWER},
    {.name = "edts: method PUT", .expect = TAAP_E_EDTS, .recv_req = R_METHOD_PUT},
    {.name = "edts padded with '='", .expect = TAAP_E_EDTS, .edts_mod = E_PAD},
    {.name = "edts case-swapped", .expect = TAAP_E_EDTS, .edts_mod = E_SWAPCASE},
    {.name = "edts truncated", .expect = TAAP_E_EDTS, .edts_mod = E_TRUNC},
    {.name = "edts wrong value of right length", .expect = TAAP_E_EDTS, .edts_mod = E_DUMMY},
};

static void test_rows(void **state)
{
    (void)state;
    size_t fails = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        taap_error err = TAAP_ERROR_INIT;
        taap_verify_info info;
        taap_code rc = run_row(&rows[i], &err, &info);
        int ok = rc == rows[i].expect;
        /* A failure must explain itself; a success leaves no message. */
        if (rc != TAAP_OK && (err.code != rc || strlen(err.message) < 10))
            ok = 0;
        if (rc == TAAP_OK && (info.ehts == NULL || info.exp <= info.iat || !info.jti[0]))
            ok = 0;
        if (!ok) {
            fails++;
            fprintf(stderr, "FAIL row %zu '%s': expected %s, got %s: %s\n", i, rows[i].name,
                    taap_code_name(rows[i].expect), taap_code_name(rc), err.message);
        } else if (getenv("VERBOSE")) {
            fprintf(stderr, "ok   %-55s %s %s\n", rows[i].name, taap_code_name(rc), err.message);
        }
        taap_verify_info_free(&info);
    }
    fprintf(stderr, "%zu rows, %zu failed\n", sizeof rows / sizeof rows[0], fails);
    assert_int_equal(fails, 0);
}

/* Messages say what was wrong and what was expected. */
static void test_messages(void **state)
{
    (void)state;
    taap_error err = TAAP_ERROR_INIT;
    taap_verify_info info;
    row r = {.name = "expired 73 s ago", .expect = TAAP_E_EXPIRED, .iat_off = -133};
    assert_int_equal(run_row(&r, &err, &info), TAAP_E_EXPIRED);
    assert_string_equal(err.message, "PoP token expired 73 s ago (leeway 10 s)");
    /* taap_verify zeroes info on entry: free what the last call filled. */
    taap_verify_info_free(&info);
    row a = {.name = "HS256", .expect = TAAP_E_ALG, .hdr = "{\"alg\":\"HS256\"}"};
    assert_int_equal(run_row(&a, &err, &info), TAAP_E_ALG);
    assert_string_equal(err.message, "alg is \"HS256\"; only RS256 is accepted");
    taap_verify_info_free(&info);
    row big = {.name = "big", .expect = TAAP_E_MALFORMED, .pad_bytes = 9000};
    assert_int_equal(run_row(&big, &err, &info), TAAP_E_MALFORMED);
    assert_non_null(strstr(err.message, "limit is 8192"));
    taap_verify_info_free(&info);
    row c = {.name = "cov", .expect = TAAP_E_COVERAGE, .ehts = "Content-Type;Authorization;http-method;body"};
    assert_int_equal(run_row(&c, &err, &info), TAAP_E_COVERAGE);
    assert_non_null(strstr(err.message, "does not cover uri"));
    taap_verify_info_free(&info);
}

/* An embedded jwk (or kid) never selects the key: a token signed by an
 * attacker's key and carrying that key's jwk still fails. */
static void test_embedded_jwk_ignored(void **state)
{
    (void)state;
    char hdr[2048];
    snprintf(hdr, sizeof hdr,
             "{\"alg\":\"RS256\",\"kid\":\"attacker\",\"jwk\":{\"kty\":\"RSA\",\"n\":\"%s\","
             "\"e\":\"AQAB\"}}",
             g_other_jwk_n);
    row rw = {.name = "x", .expect = 0};
    char jti[64];
    char *pl = build_payload(&rw, jti);
    char *tok = make_token(hdr, strlen(hdr), pl, strlen(pl), g_other_priv, M_NONE);
    taap_request req = make_req(R_BASE);
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &g_now;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &req, &cfg, NULL, &err),
                     TAAP_E_SIGNATURE);
    free(tok);
    /* The same header signed by the configured key passes: jwk is ignored. */
    tok = make_token(hdr, strlen(hdr), pl, strlen(pl), g_priv, M_NONE);
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &req, &cfg, NULL, &err), TAAP_OK);
    free(tok);
    free(pl);
}

/* 11. Replay: second use rejected; a failing token is never recorded. */
static void test_replay_rule(void **state)
{
    (void)state;
    taap_replay *cache = NULL;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_replay_memory_new(0, &cache, &err), TAAP_OK);
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &g_now;
    cfg.replay = cache;
    row rw = {.name = "x", .expect = 0};
    char jti[64];
    char *pl = build_payload(&rw, jti);
    char *tok = make_token(DEF_HDR, strlen(DEF_HDR), pl, strlen(pl), g_priv, M_NONE);
    taap_request good = make_req(R_BASE);
    taap_request bad = make_req(R_BODY_TAMPERED);

    /* The genuine token on a tampered request fails and is not recorded… */
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &bad, &cfg, NULL, &err), TAAP_E_EDTS);
    /* …a forged token carrying the same jti fails and is not recorded… */
    char *forged = make_token(DEF_HDR, strlen(DEF_HDR), pl, strlen(pl), g_priv, M_SIG_FLIP);
    assert_int_equal(taap_verify(forged, strlen(forged), g_pub, &good, &cfg, NULL, &err),
                     TAAP_E_SIGNATURE);
    /* …so the genuine use still succeeds once, and only once. */
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &good, &cfg, NULL, &err), TAAP_OK);
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &good, &cfg, NULL, &err), TAAP_E_REPLAY);
    assert_non_null(strstr(err.message, "jti"));
    /* 60 s later it is still refused (by then as expired, before the cache
     * is even consulted). */
    int64_t later = NOW + 60;
    cfg.clock_ctx = &later;
    assert_int_not_equal(taap_verify(tok, strlen(tok), g_pub, &good, &cfg, NULL, &err), TAAP_OK);
    free(forged);
    free(tok);
    free(pl);
    taap_replay_free(cache);
}

/* Streamed bodies (file) verify like memory ones. */
static void test_file_body(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/body.json", dir);
    tu_write(path, BODY, strlen(BODY));
    row rw = {.name = "x", .expect = 0};
    char jti[64];
    char *pl = build_payload(&rw, jti);
    char *tok = make_token(DEF_HDR, strlen(DEF_HDR), pl, strlen(pl), g_priv, M_NONE);
    taap_request req = make_req(R_BASE);
    req.body.kind = TAAP_BODY_FILE;
    req.body.data = NULL;
    req.body.path = path;
    taap_verify_config cfg;
    taap_verify_config_init(&cfg);
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &g_now;
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &req, &cfg, NULL, &err), TAAP_OK);
    tu_write(path, "tampered", 8);
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &req, &cfg, NULL, &err), TAAP_E_EDTS);
    free(tok);
    free(pl);
    tu_rmtree(dir);
    free(dir);
}

/* 2000-deep nesting is refused quickly and without a crash. */
static void test_deep_nesting(void **state)
{
    (void)state;
    sbuf b = {0};
    sb_str(&b, "{\"x\":");
    for (int i = 0; i < 2000; i++)
        sb_str(&b, "[");
    for (int i = 0; i < 2000; i++)
        sb_str(&b, "]");
    sb_str(&b, "}");
    char *tok = make_token(DEF_HDR, strlen(DEF_HDR), b.p, b.n, g_priv, M_NONE);
    taap_request req = make_req(R_BASE);
    taap_error err = TAAP_ERROR_INIT;
    assert_int_equal(taap_verify(tok, strlen(tok), g_pub, &req, NULL, NULL, &err),
                     TAAP_E_MALFORMED);
    assert_non_null(strstr(err.message, "deeper"));
    free(tok);
    free(b.p);
}

/* taap_jwt_decode returns the parts without checking anything else. */
static void test_jwt_decode(void **state)
{
    (void)state;
    char *h = NULL, *p = NULL;
    taap_error err = TAAP_ERROR_INIT;
    char *tok = make_token(DEF_HDR, strlen(DEF_HDR), "{\"a\":1}", 7, g_priv, M_NONE);
    assert_int_equal(taap_jwt_decode(tok, strlen(tok), &h, &p, &err), TAAP_OK);
    assert_string_equal(h, DEF_HDR);
    assert_string_equal(p, "{\"a\":1}");
    free(h);
    free(p);
    assert_int_equal(taap_jwt_decode("a.b", 3, &h, &p, &err), TAAP_E_MALFORMED);
    assert_null(h);
    free(tok);
}

static int setup(void **state)
{
    (void)state;
    taap_error err = TAAP_ERROR_INIT;
    if (taap_key_load_private_file(tu_shared("conformance/rfc7515-a2/rfc7515-a2.pkcs8.pem"), NULL,
                                   0, &g_priv, NULL, &err) != TAAP_OK ||
        taap_key_load_public_file(tu_shared("conformance/rfc7515-a2/rfc7515-a2.spki.pem"), &g_pub,
                                  &err) != TAAP_OK ||
        taap_key_load_private_file(tu_shared("conformance/rfc7520-4.1/rfc7520-4.1.pkcs8.pem"),
                                   NULL, 0, &g_other_priv, NULL, &err) != TAAP_OK) {
        fprintf(stderr, "key load failed: %s\n", err.message);
        return -1;
    }
    char *jwk = tu_read(tu_shared("conformance/rfc7520-4.1/jwk.json"), NULL);
    json_t *j = json_loads(jwk, 0, NULL);
    free(jwk);
    if (!j || !json_is_string(json_object_get(j, "n")))
        return -1;
    g_other_jwk_n = strdup(json_string_value(json_object_get(j, "n")));
    json_decref(j);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    taap_key_free(g_priv);
    taap_key_free(g_pub);
    taap_key_free(g_other_priv);
    free(g_other_jwk_n);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_embedded_jwk_ignored),
        cmocka_unit_test(test_replay_rule),
        cmocka_unit_test(test_file_body),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_jwt_decode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
