/*
 * test_adversarial_serve.c — security-anchors §14 against the running
 * emulator (`taap serve` on port 0, through tests/support/serve_harness):
 * resource-endpoint bearer/PoP misuse, token-endpoint misuse, HTTP framing
 * (raw sockets), ICCID path tricks, huge and deeply nested JSON, slow and
 * half-open connections. One table row per case with the accepted HTTP
 * status(es); after every row the server must still answer /healthz.
 *
 * Rows are raw HTTP/1.1 requests with placeholders, expanded per row:
 *   {{AT}}       a valid access token of app A     {{AT_C}}   of app C (not subscribed)
 *   {{ICCID}}    app A's device                    {{ICCID_B}} app B's device (other account)
 *   {{BASIC}}    Basic credentials of app A        {{BASIC_BAD}} A's id, wrong secret
 *   {{BASIC_UNK}} an unknown client id             {{ID}}     A's client id
 *   {{POP}}      a fresh PoP by A's key over the request as written (method,
 *                target, Authorization, Content-Type, body), built last
 *   {{POP_B}}    the same signed by B's key (key binding, RFC 7800)
 *   {{POP_C}}    the same signed by C's key
 *   {{BIG:N:c}}  N copies of the character c
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "serve_harness.h"
#include "taap/taap.h"

static sh_server srv;
static char *g_id, *g_secret, *g_id_b, *g_secret_b, *g_id_c, *g_secret_c;
static char *g_at, *g_at_c;
static char g_iccid[24], g_iccid_b[24];
static char g_basic[1024], g_basic_bad[1024], g_basic_unk[1024];

/* ---- placeholder expansion ------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* The value of header `name` in the raw request (first occurrence), copied. */
static int raw_header(const char *req, const char *name, char *out, size_t cap)
{
    const char *eoh = strstr(req, "\r\n\r\n");
    size_t nl = strlen(name);
    for (const char *p = strstr(req, "\r\n"); p && (!eoh || p < eoh); p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t l = e ? (size_t)(e - v) : strlen(v);
            if (l >= cap)
                l = cap - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return 1;
        }
    }
    return 0;
}

static char *pop_for(const char *req, size_t len, const taap_key *key)
{
    char method[32] = "", target[8192] = "";
    const char *sp = strchr(req, ' ');
    if (!sp || (size_t)(sp - req) >= sizeof method)
        return strdup("x.y.z");
    memcpy(method, req, (size_t)(sp - req));
    const char *sp2 = strchr(sp + 1, ' ');
    if (!sp2 || (size_t)(sp2 - sp - 1) >= sizeof target)
        return strdup("x.y.z");
    memcpy(target, sp + 1, (size_t)(sp2 - sp - 1));
    char auth[4096], ct[256], h1[4200], h2[300];
    const char *hdrs[3] = { NULL, NULL, NULL };
    size_t nh = 0;
    if (raw_header(req, "Content-Type", ct, sizeof ct)) {
        snprintf(h2, sizeof h2, "Content-Type: %s", ct);
        hdrs[nh++] = h2;
    }
    if (raw_header(req, "Authorization", auth, sizeof auth)) {
        snprintf(h1, sizeof h1, "Authorization: %s", auth);
        hdrs[nh++] = h1;
    }
    const char *eoh = strstr(req, "\r\n\r\n");
    const char *body = eoh ? eoh + 4 : NULL;
    size_t blen = body ? len - (size_t)(body - req) : 0;
    char *p = sh_pop(&srv, key, method, target, hdrs, blen ? body : NULL, blen, NULL);
    return p ? p : strdup("x.y.z");
}

static char *expand(const char *tmpl, size_t *out_len)
{
    static const struct {
        const char *ph;
        const char **val;
    } *mp, map[] = {
        { "{{AT}}", (const char **)&g_at }, { "{{AT_C}}", (const char **)&g_at_c },
        { "{{ID}}", (const char **)&g_id },
    };
    buf b = { 0 };
    for (const char *p = tmpl; *p;) {
        int done = 0;
        for (mp = map; mp < map + sizeof map / sizeof map[0]; mp++)
            if (strncmp(p, mp->ph, strlen(mp->ph)) == 0) {
                puts_(&b, *mp->val);
                p += strlen(mp->ph);
                done = 1;
                break;
            }
        if (done)
            continue;
        if (strncmp(p, "{{ICCID}}", 9) == 0) {
            puts_(&b, g_iccid);
            p += 9;
        } else if (strncmp(p, "{{ICCID_B}}", 11) == 0) {
            puts_(&b, g_iccid_b);
            p += 11;
        } else if (strncmp(p, "{{BASIC}}", 9) == 0) {
            puts_(&b, g_basic);
            p += 9;
        } else if (strncmp(p, "{{BASIC_BAD}}", 13) == 0) {
            puts_(&b, g_basic_bad);
            p += 13;
        } else if (strncmp(p, "{{BASIC_UNK}}", 13) == 0) {
            puts_(&b, g_basic_unk);
            p += 13;
        } else if (strncmp(p, "{{BIG:", 6) == 0) {
            char *end;
            long n = strtol(p + 6, &end, 10);
            char c = end[1];
            for (long i = 0; i < n; i++)
                put(&b, &c, 1);
            p = strstr(p, "}}") + 2;
        } else {
            put(&b, p, 1);
            p++;
        }
    }
    /* PoP placeholders last: they sign the request exactly as it now reads.
     * The PoP is computed with the placeholder itself removed. */
    static const char *const pops[] = { "{{POP}}", "{{POP_B}}", "{{POP_C}}" };
    for (int k = 0; k < 3; k++) {
        char *at;
        while ((at = strstr(b.p, pops[k])) != NULL) {
            size_t pl = strlen(pops[k]);
            char *copy = malloc(b.len + 1);
            size_t pre = (size_t)(at - b.p);
            memcpy(copy, b.p, pre);
            memcpy(copy + pre, at + pl, b.len - pre - pl + 1);
            char *pop = pop_for(copy, b.len - pl, sh_test_key(k));
            free(copy);
            buf nb = { 0 };
            put(&nb, b.p, pre);
            puts_(&nb, pop);
            put(&nb, at + pl, b.len - pre - pl);
            free(pop);
            free(b.p);
            b = nb;
        }
    }
    /* Content-Length: @ → the real body length */
    char *cl = strstr(b.p, "Content-Length: @");
    if (cl) {
        const char *eoh = strstr(b.p, "\r\n\r\n");
        size_t blen = eoh ? b.len - (size_t)(eoh + 4 - b.p) : 0;
        char num[32];
        int n = snprintf(num, sizeof num, "%zu", blen);
        buf nb = { 0 };
        put(&nb, b.p, (size_t)(cl - b.p) + 16);
        put(&nb, num, (size_t)n);
        puts_(&nb, cl + 17);
        free(b.p);
        b = nb;
    }
    *out_len = b.len;
    return b.p;
}

/* ---- the table ---------------------------------------------------------------------------- */

typedef struct {
    const char *id;
    const char *what;
    const char *req;      /* raw request with placeholders */
    int status[4];        /* accepted statuses; 0 ends the list; -1 = no response */
    const char *must;     /* substring the response must contain, or NULL */
    const char *must_not; /* substring it must not contain, or NULL */
} srow;

#define DEV "/iot-connectivity/v1/devices/"
#define H11 " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
#define TOK "POST /oauth2/v2/tokens" H11

static const srow rows[] = {
    /* resource endpoint (RFC 6750, RFC 7800, RFC 8725 §3.12) */
    { "R00", "valid bearer + PoP (control)",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 200 }, "\"iccid\"", NULL },
    { "R01", "no Authorization", "GET " DEV "{{ICCID}}" H11 "\r\n", { 401 },
      "WWW-Authenticate: Bearer realm=", "error=" },
    { "R02", "garbled bearer token",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer abc.def.ghi\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 401 }, "invalid_token", NULL },
    { "R02b", "unknown bearer token (valid shape, other signer)",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{POP_C}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 401 }, "WWW-Authenticate: Bearer", NULL },
    { "R03", "scheme 'bearer' (case-insensitive)",
      "GET " DEV "{{ICCID}}" H11 "Authorization: bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 200 }, NULL, NULL },
    { "R03b", "scheme 'BEARER'",
      "GET " DEV "{{ICCID}}" H11 "Authorization: BEARER {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 200 }, NULL, NULL },
    /* OWS around the credentials is not part of them (RFC 9110 §5.6.3), as
     * the verifier trims the Authorization value it hashes. */
    { "R03c", "trailing space and tab after the bearer token",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}} \t\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 200 }, "\"iccid\"", NULL },
    { "R03d", "two spaces after 'Bearer'",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer  {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 200 }, "\"iccid\"", NULL },
    { "T12", "Basic credentials with a trailing space",
      TOK "Authorization: {{BASIC}} \r\nContent-Type: application/json\r\nX-Authorization: {{POP}}\r\n"
      "Content-Length: 0\r\n\r\n", { 200 }, "\"access_token\"", NULL },
    { "R04", "characters outside b64token",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer ab\"c\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400, 401 }, NULL, NULL },
    { "R04b", "embedded space in the token",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}} x\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400, 401 }, NULL, NULL },
    { "R05", "two Authorization headers",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nAuthorization: Bearer {{AT}}\r\n"
      "X-Authorization: {{POP}}\r\n\r\n", { 400, 401 }, NULL, NULL },
    { "R05b", "token in header and in the query",
      "GET " DEV "{{ICCID}}?access_token={{AT}}" H11 "Authorization: Bearer {{AT}}\r\n"
      "X-Authorization: {{POP}}\r\n\r\n", { 400, 401 }, NULL, NULL },
    /* A missing X-Authorization is a malformed request (400), as on the token
     * endpoint and as taap-protocol.md §7 recommends; a bad PoP is 401. */
    { "R06", "valid access token, PoP missing",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\n\r\n", { 400 }, NULL, NULL },
    { "R07", "two X-Authorization headers",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n"
      "X-Authorization: {{POP}}\r\n\r\n", { 400, 401 }, NULL, NULL },
    { "R08", "PoP signed by another client's key",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP_B}}\r\n\r\n",
      { 401 }, NULL, NULL },
    { "R09", "PoP token in Authorization: Bearer",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{POP}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 401 }, NULL, NULL },
    { "R10", "access token used as the PoP",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{AT}}\r\n\r\n",
      { 401 }, NULL, NULL },
    { "R11", "app not subscribed to the API (scope)",
      "GET " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT_C}}\r\nX-Authorization: {{POP_C}}\r\n\r\n",
      { 403 }, NULL, NULL },
    { "R12", "another account's device",
      "GET " DEV "{{ICCID_B}}" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 403, 404 }, NULL, NULL },
    /* ICCID path */
    { "P01", "encoded ../ in the ICCID",
      "GET " DEV "..%2F..%2Fetc%2Fpasswd" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400, 404 }, NULL, "root:" },
    { "P02", "encoded slash after the ICCID",
      "GET " DEV "{{ICCID}}%2F" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400, 404 }, NULL, NULL },
    { "P03", "dot segments towards the admin API",
      "GET " DEV "../../../devedge/v1/apps" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400, 401, 404 }, NULL, "clientId" },
    { "P04", "bad Luhn check digit",
      "GET " DEV "89014103211118510721" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400 }, NULL, NULL },
    { "P05", "non-digit ICCID",
      "GET " DEV "8901410321111851072X" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400 }, NULL, NULL },
    { "P06", "NUL in the ICCID",
      "GET " DEV "8901410321111851072%00" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400, 404 }, NULL, NULL },
    { "P07", "ICCID of 200 digits",
      "GET " DEV "{{BIG:200:8}}" H11 "Authorization: Bearer {{AT}}\r\nX-Authorization: {{POP}}\r\n\r\n",
      { 400 }, NULL, NULL },
    /* huge and nested JSON */
    { "J01", "PATCH body over the endpoint limit",
      "PATCH " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nContent-Type: application/json\r\n"
      "Content-Length: @\r\n\r\n{\"status\":\"{{BIG:70000:A}}\"}", { 413 }, NULL, NULL },
    { "J02", "PATCH body nested 20000 deep",
      "PATCH " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nContent-Type: application/json\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: @\r\n\r\n{{BIG:20000:[}}", { 400 }, NULL, NULL },
    { "J03", "PATCH status a 60 KB string",
      "PATCH " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nContent-Type: application/json\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: @\r\n\r\n{\"status\":\"{{BIG:60000:A}}\"}",
      { 400 }, NULL, NULL },
    { "J04", "PATCH body not JSON",
      "PATCH " DEV "{{ICCID}}" H11 "Authorization: Bearer {{AT}}\r\nContent-Type: application/json\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: @\r\n\r\n{\"status\":", { 400 }, NULL, NULL },
    { "J05", "token endpoint body nested 20000 deep",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/json\r\nX-Authorization: {{POP}}\r\n"
      "Content-Length: @\r\n\r\n{{BIG:20000:[}}", { 400 }, NULL, "access_token" },
    /* token endpoint (RFC 6749) */
    { "T00", "valid token request (control)",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/json\r\nX-Authorization: {{POP}}\r\n"
      "Content-Length: 0\r\n\r\n", { 200 }, "\"access_token\"", "refresh_token" },
    { "T01", "wrong secret via Basic",
      TOK "Authorization: {{BASIC_BAD}}\r\nContent-Type: application/json\r\nX-Authorization: {{POP}}\r\n"
      "Content-Length: 0\r\n\r\n", { 401 }, "invalid_client", "access_token" },
    { "T02", "unknown client id",
      TOK "Authorization: {{BASIC_UNK}}\r\nContent-Type: application/json\r\nX-Authorization: {{POP}}\r\n"
      "Content-Length: 0\r\n\r\n", { 401 }, "invalid_client", "access_token" },
    { "T03", "Basic and body credentials together",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: @\r\n\r\n"
      "grant_type=client_credentials&client_id={{ID}}&client_secret=x", { 400 }, "invalid_request",
      "access_token" },
    { "T04", "grant_type twice",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: @\r\n\r\n"
      "grant_type=client_credentials&grant_type=client_credentials", { 400 }, "invalid_request",
      "access_token" },
    { "T05", "grant_type empty",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: @\r\n\r\ngrant_type=", { 400 }, "invalid_request",
      "access_token" },
    { "T06", "grant_type=password",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: @\r\n\r\ngrant_type=password", { 400 },
      "unsupported_grant_type", "access_token" },
    { "T07", "GET on the token endpoint", "GET /oauth2/v2/tokens" H11 "Authorization: {{BASIC}}\r\n\r\n",
      { 405, 400, 404 }, NULL, "access_token" },
    { "T08", "malformed Basic base64",
      TOK "Authorization: Basic !!!notbase64\r\nContent-Type: application/json\r\n"
      "X-Authorization: {{POP}}\r\nContent-Length: 0\r\n\r\n", { 401, 400 }, "invalid_client",
      "access_token" },
    { "T09", "Basic without a colon",
      TOK "Authorization: Basic YWJjZGVm\r\nContent-Type: application/json\r\nX-Authorization: {{POP}}\r\n"
      "Content-Length: 0\r\n\r\n", { 401, 400 }, "invalid_client", "access_token" },
    { "T10", "PoP missing on the token request",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n",
      { 400, 401 }, "\"error\"", "access_token" },
    { "T11", "PoP by another client's key on the token request",
      TOK "Authorization: {{BASIC}}\r\nContent-Type: application/json\r\nX-Authorization: {{POP_B}}\r\n"
      "Content-Length: 0\r\n\r\n", { 400, 401 }, "\"error\"", "access_token" },
    /* HTTP framing (RFC 9112) */
    { "H01", "space before the colon", "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", { 400 }, NULL, NULL },
    { "H02", "obs-fold", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", { 400, 200 },
      NULL, NULL },
    { "H03", "bare CR in a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", { 400 },
      NULL, NULL },
    /* Known limit: libmicrohttpd 0.9.75 cuts a header value at a NUL before the
     * server sees it (the reported length is the cut one), so the emulator
     * cannot refuse it; what this row holds it to is a clean answer and a
     * server that keeps serving. A PoP can never cover bytes after the NUL. */
    { "H04", "NUL in a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", { 400, 200 },
      NULL, NULL },
    { "H05", "Content-Length and Transfer-Encoding",
      TOK "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", { 400 }, NULL,
      "access_token" },
    { "H06", "two different Content-Lengths",
      TOK "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", { 400 }, NULL, NULL },
    { "H07", "negative Content-Length", TOK "Content-Length: -1\r\n\r\n", { 400 }, NULL, NULL },
    { "H08", "overflowing Content-Length", TOK "Content-Length: 99999999999999999999\r\n\r\n",
      { 400, 413 }, NULL, NULL },
    { "H09", "invalid chunk size",
      TOK "Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n", { 400 }, NULL, NULL },
    { "H10", "request-target over the limit", "GET /{{BIG:20000:a}} HTTP/1.1\r\nHost: x\r\n\r\n",
      { 414, 431, 400 }, NULL, NULL },
    { "H11", "headers over 16 KiB", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {{BIG:20000:b}}\r\n\r\n",
      { 431 }, NULL, NULL },
    { "H12", "non-token method", "G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", { 400, 405, 501 }, NULL,
      NULL },
    { "H13", "HTTP/1.0", "GET /healthz HTTP/1.0\r\n\r\n", { 200 }, NULL, NULL },
    { "H14", "absolute-form target", "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      { 200, 400 }, NULL, NULL },
    { "H15", "HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", { 400, 505, -1 }, NULL, NULL },
    { "H16", "garbage request line", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
      { 400, -1 }, NULL, NULL },
    { "H17", "POST without a length", TOK "Authorization: {{BASIC}}\r\n\r\n", { 411, 400, 401 }, NULL,
      "access_token" },
};

/* Every error body must stay free of secrets and tokens it was given. */
static void check_no_echo(const srow *r, const char *resp)
{
    if (strstr(resp, g_secret))
        fail_msg("%s: the response contains the client secret", r->id);
    const char *body = strstr(resp, "\r\n\r\n");
    if (body && strstr(body, g_at) && strcmp(r->id, "R00") != 0)
        fail_msg("%s: the response body echoes the access token", r->id);
}

static void healthz_ok(const char *after)
{
    static const char h[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    int st = sh_raw(&srv, h, sizeof h - 1, 5000, NULL);
    if (st != 200)
        fail_msg("after %s the server no longer answers /healthz (status %d)", after, st);
}

static void test_section14_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const srow *r = &rows[i];
        size_t len;
        char *req = expand(r->req, &len);
        /* rows with an embedded NUL: the table literal stops there; H04 only */
        if (strcmp(r->id, "H04") == 0) {
            static const char h4[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";
            free(req);
            req = malloc(sizeof h4);
            memcpy(req, h4, sizeof h4);
            len = sizeof h4 - 1;
        }
        char *resp = NULL;
        int st = sh_raw(&srv, req, len, 4000, &resp);
        int ok = 0;
        for (int k = 0; k < 4 && r->status[k]; k++)
            if (st == r->status[k] || (r->status[k] == -1 && st == 0))
                ok = 1;
        const char *why = NULL;
        if (!ok)
            why = "status";
        else if (r->must && !strstr(resp, r->must))
            why = "missing text";
        else if (r->must_not && strstr(resp, r->must_not))
            why = "forbidden text";
        else if (st == 401 && !strcasestr(resp, "\r\nWWW-Authenticate:"))
            why = "401 without WWW-Authenticate";
        if (why) {
            char first[300];
            const char *body = strstr(resp, "\r\n\r\n");
            snprintf(first, sizeof first, "%.*s | %.150s", (int)strcspn(resp, "\r\n"), resp,
                     body ? body + 4 : "");
            print_error("%-4s %-48s %s: got %d (want %d%s%s%s) [%s]\n", r->id, r->what, why, st,
                        r->status[0], r->status[1] ? "/…" : "", r->must ? ", with " : "",
                        r->must ? r->must : "", first);
            failures++;
        }
        check_no_echo(r, resp);
        free(resp);
        free(req);
        healthz_ok(r->id);
    }
    print_message("security-anchors §14: %zu rows, %d wrong\n", sizeof rows / sizeof rows[0],
                  failures);
    assert_int_equal(failures, 0);
}

/* ---- framing: one answer, then the connection is closed ------------------------ */

/* Each request is followed on the same connection by a second, valid one
 * ("GET /healthz"). The whole byte stream that comes back must be exactly
 * one response — the refusal, with Connection: close and a body of its
 * Content-Length — and then the end of the stream: the bytes after the
 * offending request are never read as a request (request smuggling). */
typedef struct {
    const char *id;
    const char *what;
    const char *req;
    int status;
    const char *must; /* in the body */
} frow;

#define NEXT "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

static const frow frows[] = {
    { "F01", "Content-Length then Transfer-Encoding (CL.TE)",
      TOK "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" NEXT, 400,
      "Content-Length and Transfer-Encoding" },
    { "F02", "Transfer-Encoding then Content-Length (TE.CL)",
      TOK "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" NEXT, 400,
      "Content-Length and Transfer-Encoding" },
    { "F03", "Transfer-Encoding: gzip", TOK "Transfer-Encoding: gzip\r\n\r\nabcd" NEXT, 501,
      "'gzip' is not implemented" },
    { "F04", "gzip before chunked", TOK "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" NEXT,
      501, "'gzip' is not implemented" },
    { "F05", "chunked not the final coding",
      TOK "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n" NEXT, 501, "not implemented" },
    { "F06", "chunked twice", TOK "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n" NEXT, 400, "exactly 'chunked'" },
    { "F07", "chunked on HTTP/1.0",
      "POST /oauth2/v2/tokens HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" NEXT,
      400, "needs HTTP/1.1" },
    { "F08", "whitespace between a header name and the colon",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Foo : bar\r\n\r\n" NEXT, 400, "section 5.1" },
    { "F09", "'Transfer-Encoding : chunked' with a Content-Length",
      TOK "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" NEXT, 400,
      "section 5.1" },
    { "F10", "tab before the colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Foo\t: bar\r\n\r\n" NEXT,
      400, NULL },
};

/* Everything the server sends on one connection until it closes it (or
 * `ms` pass: then *closed is 0). */
static char *read_stream(int fd, int ms, size_t *len, int *closed)
{
    buf b = { 0 };
    put(&b, "", 0);
    *closed = 0;
    for (int waited = 0; waited < ms;) {
        struct pollfd p = { fd, POLLIN, 0 };
        int pr = poll(&p, 1, 100);
        if (pr == 0) {
            waited += 100;
            continue;
        }
        char chunk[4096];
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r <= 0) {
            *closed = 1;
            break;
        }
        put(&b, chunk, (size_t)r);
    }
    *len = b.len;
    return b.p;
}

/* "" when `s` (len bytes) is exactly one response with `status`, a
 * Connection: close header and a body of its Content-Length; else why not. */
static const char *one_closing_response(const char *s, size_t len, int status, const char *must)
{
    const char *eoh = strstr(s, "\r\n\r\n");
    if (!eoh)
        return "no complete response";
    if (strncmp(s, "HTTP/1.1 ", 9) != 0 || strtol(s + 9, NULL, 10) != status)
        return "wrong status";
    const char *conn = strcasestr(s, "\r\nConnection: close\r\n");
    if (!conn || conn > eoh)
        return "no Connection: close";
    const char *cl = strcasestr(s, "\r\nContent-Length: ");
    if (!cl || cl > eoh)
        return "no Content-Length";
    size_t body = (size_t)strtoul(cl + 18, NULL, 10);
    size_t head = (size_t)(eoh + 4 - s);
    if (len != head + body)
        return len > head + body ? "bytes after the refusal (a second response?)"
                                 : "body shorter than its Content-Length";
    if (must && !strstr(eoh + 4, must))
        return "body does not say why";
    return "";
}

static void test_framing_closes(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof frows / sizeof frows[0]; i++) {
        const frow *r = &frows[i];
        int fd = sh_connect(&srv);
        assert_true(fd >= 0);
        size_t n = strlen(r->req);
        assert_int_equal(send(fd, r->req, n, MSG_NOSIGNAL), (ssize_t)n);
        size_t len = 0;
        int closed = 0;
        char *got = read_stream(fd, 5000, &len, &closed);
        close(fd);
        const char *why = one_closing_response(got, len, r->status, r->must);
        if (!*why && !closed)
            why = "connection left open";
        if (*why) {
            print_error("%-4s %-50s %s: [%.*s]\n", r->id, r->what, why, (int)(len > 400 ? 400 : len),
                        got);
            failures++;
        }
        free(got);
        healthz_ok(r->id);
    }
    print_message("framing: %zu rows, %d wrong\n", sizeof frows / sizeof frows[0], failures);
    assert_int_equal(failures, 0);
}

/* Token endpoint success headers (RFC 6749 §5.1). */
static void test_token_response_headers(void **state)
{
    (void)state;
    size_t len;
    char *req = expand(TOK "Authorization: {{BASIC}}\r\nContent-Type: application/json\r\n"
                           "X-Authorization: {{POP}}\r\nContent-Length: 0\r\n\r\n", &len);
    char *resp = NULL;
    assert_int_equal(sh_raw(&srv, req, len, 4000, &resp), 200);
    assert_non_null(strcasestr(resp, "\r\nCache-Control: no-store"));
    assert_non_null(strcasestr(resp, "\r\nPragma: no-cache"));
    assert_non_null(strcasestr(resp, "\r\nContent-Type: application/json"));
    free(resp);
    free(req);
    /* error_description only %x20-21 / %x23-5B / %x5D-7E */
    req = expand(TOK "Authorization: {{BASIC_BAD}}\r\nContent-Type: application/json\r\n"
                     "X-Authorization: {{POP}}\r\nContent-Length: 0\r\n\r\n", &len);
    assert_int_equal(sh_raw(&srv, req, len, 4000, &resp), 401);
    assert_non_null(strcasestr(resp, "\r\nWWW-Authenticate: Basic"));
    const char *d = strstr(resp, "\"error_description\":\"");
    assert_non_null(d);
    for (d += 21; *d && *d != '"'; d++) {
        unsigned char c = (unsigned char)*d;
        if (c == '\\' || c < 0x20 || c > 0x7e)
            fail_msg("error_description has a character outside RFC 6749's set: 0x%02x", c);
    }
    free(resp);
    free(req);
}

/* The response with its Date header removed (the only part allowed to vary). */
static char *without_date(char *resp)
{
    char *d = strcasestr(resp, "\r\nDate: ");
    if (d) {
        char *e = strstr(d + 2, "\r\n");
        memmove(d, e, strlen(e) + 1);
    }
    return resp;
}

/* Unknown client id and wrong secret get the same answer, byte for byte; the
 * reason is in the operator's access log only. (The work is the same too:
 * an unknown id is hashed against a dummy record — not timed here.) */
static void test_token_one_answer(void **state)
{
    (void)state;
    size_t len;
    char *bad = NULL, *unk = NULL;
    char *req = expand(TOK "Authorization: {{BASIC_BAD}}\r\nContent-Type: application/json\r\n"
                           "X-Authorization: {{POP}}\r\nContent-Length: 0\r\n\r\n", &len);
    assert_int_equal(sh_raw(&srv, req, len, 4000, &bad), 401);
    free(req);
    req = expand(TOK "Authorization: {{BASIC_UNK}}\r\nContent-Type: application/json\r\n"
                     "X-Authorization: {{POP}}\r\nContent-Length: 0\r\n\r\n", &len);
    assert_int_equal(sh_raw(&srv, req, len, 4000, &unk), 401);
    free(req);
    assert_string_equal(without_date(bad), without_date(unk));
    assert_null(strstr(bad, "unknown client id\""));
    assert_null(strstr(bad, "wrong client secret"));
    free(bad);
    free(unk);
    char *log = sh_log(&srv);
    assert_non_null(log);
    assert_non_null(strstr(log, "401 "));
    assert_non_null(strstr(log, "(wrong client secret)"));
    assert_non_null(strstr(log, "(unknown client id)"));
    free(log);
}

/* No response names a file of the server's: the admin API's 401 used to
 * print the admin token file's absolute path. */
static void test_no_paths_in_responses(void **state)
{
    (void)state;
    static const char *const reqs[] = {
        "GET /devedge/v1/apps HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /devedge/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5\r\n\r\n",
        "GET /devedge/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-wrong-wrong\r\n\r\n",
        "GET /no/such/thing HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char *resp = NULL;
        int st = sh_raw(&srv, reqs[i], strlen(reqs[i]), 4000, &resp);
        assert_true(st == 401 || st == 404);
        if (strstr(resp, srv.dir) || strstr(resp, "admin-token\""))
            fail_msg("response %zu names a server file: %s", i, resp);
        free(resp);
    }
}

/* Keep-alive pipelining: two requests in one write, two responses. */
static void test_pipelining(void **state)
{
    (void)state;
    static const char two[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = sh_connect(&srv);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, two, sizeof two - 1, MSG_NOSIGNAL), (ssize_t)(sizeof two - 1));
    char got[16384];
    size_t n = 0;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t r = recv(fd, got + n, sizeof got - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    got[n] = '\0';
    int count = 0;
    for (const char *p = got; (p = strstr(p, "HTTP/1.1 200")); p++)
        count++;
    assert_int_equal(count, 2);
}

/* Slowloris and half-open connections: a request that never completes is
 * closed after --request-timeout (2 s here) and costs no other client
 * anything; a connection that sends nothing and shuts its write side is
 * answered or closed, never left hanging. */
static void test_slow_and_half_open(void **state)
{
    (void)state;
    int slow[8];
    for (int i = 0; i < 8; i++) {
        slow[i] = sh_connect(&srv);
        assert_true(slow[i] >= 0);
        static const char part[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        assert_true(send(slow[i], part, sizeof part - 1, MSG_NOSIGNAL) > 0);
    }
    healthz_ok("8 slowloris connections opened");
    /* half-open: nothing sent, write side shut */
    int ho = sh_connect(&srv);
    assert_true(ho >= 0);
    shutdown(ho, SHUT_WR);
    /* body shorter than Content-Length, then idle */
    int short_body = sh_connect(&srv);
    static const char sb[] = TOK "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    assert_true(send(short_body, sb, sizeof sb - 1, MSG_NOSIGNAL) > 0);
    healthz_ok("half-open and short-body connections");

    /* Each of them must be closed by the server within timeout + slack. */
    int fds[10];
    memcpy(fds, slow, sizeof slow);
    fds[8] = ho;
    fds[9] = short_body;
    for (int i = 0; i < 10; i++) {
        struct pollfd p = { fds[i], POLLIN, 0 };
        int closed = 0;
        for (int waited = 0; waited < 20 && !closed; waited++) {
            if (poll(&p, 1, 500) > 0) {
                char b[4096];
                ssize_t r = recv(fds[i], b, sizeof b, 0);
                if (r <= 0)
                    closed = 1;
            }
        }
        if (!closed)
            fail_msg("connection %d still open 10 s after it went idle (request timeout 2 s)", i);
        close(fds[i]);
    }
    healthz_ok("idle connections closed");
}

/* A TCP connection to 127.0.0.1:port from source address `src` (any
 * 127.0.0.0/8 address is this machine: a second "client address"). */
static int connect_from(unsigned port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { 0 }, to = { 0 };
    a.sin_family = to.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons((uint16_t)port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Bytes the server sent before closing (-1: still open after `ms`). */
static long drained_until_close(int fd, int ms)
{
    long got = 0;
    for (int waited = 0; waited < ms; waited += 100) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        char b[4096];
        ssize_t r = recv(fd, b, sizeof b, 0);
        if (r <= 0)
            return got;
        got += r;
    }
    return -1;
}

/* GET /healthz from `src`: the status, 0 when there was no answer. */
static int healthz_from(unsigned port, const char *src)
{
    static const char h[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = connect_from(port, src);
    if (fd < 0)
        return 0;
    char got[4096] = "";
    size_t n = 0;
    if (send(fd, h, sizeof h - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof h - 1)) {
        for (int waited = 0; waited < 5000 && n < sizeof got - 1; waited += 100) {
            struct pollfd p = { fd, POLLIN, 0 };
            if (poll(&p, 1, 100) <= 0)
                continue;
            ssize_t r = recv(fd, got + n, sizeof got - 1 - n, 0);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
    }
    close(fd);
    got[n] = '\0';
    return strncmp(got, "HTTP/1.1 ", 9) == 0 ? (int)strtol(got + 9, NULL, 10) : 0;
}

/* Slow clients (a server of its own with small limits): four connections
 * from one address trickle a header byte every 200 ms, which resets any
 * idle timer (30 s here) — only the total header deadline (2 s) can cut
 * them. A fifth connection from the same address is refused (per-client
 * limit 4 = half of --max-connections 8), a well-behaved client from another
 * address is answered while they trickle, and every trickler is cut without
 * an answer well inside the bound (10 s; the deadline is 2 s). */
static void test_slow_clients_cut(void **state)
{
    (void)state;
    static const char *const args[] = { "--max-connections", "8", "--max-connections-per-client",
                                        "6", "--header-timeout", "2", "--request-timeout", "30",
                                        NULL };
    sh_server s2;
    memset(&s2, 0, sizeof s2);
    assert_int_equal(sh_start(&s2, NULL, args), 0);
    int t[4];
    static const char part[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (int i = 0; i < 4; i++) {
        t[i] = connect_from(s2.port, "127.0.0.1");
        assert_true(t[i] >= 0);
        assert_int_equal(send(t[i], part, sizeof part - 1, MSG_NOSIGNAL), (ssize_t)(sizeof part - 1));
    }
    /* The fifth from the same address: closed with nothing said. */
    int fifth = connect_from(s2.port, "127.0.0.1");
    if (fifth >= 0) {
        send(fifth, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 35, MSG_NOSIGNAL);
        assert_int_equal(drained_until_close(fifth, 5000), 0);
        close(fifth);
    }
    /* Another address is served while the four trickle. */
    assert_int_equal(healthz_from(s2.port, "127.0.0.2"), 200);
    int open_left = 4;
    long got[4] = { 0, 0, 0, 0 };
    int closed[4] = { 0, 0, 0, 0 };
    for (int step = 0; step < 50 && open_left; step++) { /* 50 × 200 ms = 10 s */
        for (int i = 0; i < 4; i++) {
            if (closed[i])
                continue;
            send(t[i], "a", 1, MSG_NOSIGNAL);
            struct pollfd p = { t[i], POLLIN, 0 };
            if (poll(&p, 1, 50) > 0) {
                char b[4096];
                ssize_t r = recv(t[i], b, sizeof b, 0);
                if (r > 0) {
                    got[i] += r;
                } else {
                    closed[i] = 1;
                    open_left--;
                }
            }
        }
        struct timespec pause = { 0, 200 * 1000 * 1000 - 4 * 50 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    for (int i = 0; i < 4; i++) {
        if (!closed[i])
            fail_msg("trickling connection %d still open after 10 s (header deadline 2 s)", i);
        assert_int_equal(got[i], 0); /* cut, not answered */
        close(t[i]);
    }
    /* The address is welcome again once its tricklers are gone. */
    assert_int_equal(healthz_from(s2.port, "127.0.0.1"), 200);
    char *log = sh_log(&s2);
    assert_non_null(strstr(log, "cut: no complete header section within 2 s"));
    free(log);
    assert_int_equal(sh_stop(&s2), 0);
    sh_cleanup(&s2);
}

/* More connections than --max-connections: the excess is refused or
 * queued, never a crash; once they close, the server serves again. */
static void test_connection_flood(void **state)
{
    (void)state;
    int fds[200];
    int n = 0;
    for (int i = 0; i < 200; i++) {
        fds[i] = sh_connect(&srv);
        if (fds[i] >= 0)
            n++;
    }
    for (int i = 0; i < 200; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    print_message("opened %d of 200 connections (limit 64)\n", n);
    healthz_ok("a flood of 200 connections");
}

static int setup(void **state)
{
    (void)state;
    static const char *const args[] = { "--request-timeout", "2", "--max-connections", "64", NULL };
    if (sh_start(&srv, NULL, args) != 0)
        return -1;
    if (sh_make_app(&srv, "adv-a", "acct-a", &g_id, &g_secret) || sh_make_app(&srv, "adv-b", "acct-b", &g_id_b, &g_secret_b) ||
        sh_make_app(&srv, "adv-c", "acct-a", &g_id_c, &g_secret_c))
        return -1;
    char kid[17];
    if (sh_add_key(&srv, "adv-a", sh_test_key(0), kid) || sh_add_key(&srv, "adv-b", sh_test_key(1), kid) ||
        sh_add_key(&srv, "adv-c", sh_test_key(2), kid) || sh_subscribe(&srv, "adv-a") ||
        sh_subscribe(&srv, "adv-b") || sh_activate_kit(&srv, "adv-a", g_iccid) ||
        sh_activate_kit(&srv, "adv-b", g_iccid_b))
        return -1;
    g_at = sh_get_token(&srv, g_id, g_secret, sh_test_key(0));
    g_at_c = sh_get_token(&srv, g_id_c, g_secret_c, sh_test_key(2));
    if (!g_at || !g_at_c)
        return -1;
    char line[1024];
    sh_basic_header(g_id, g_secret, line, sizeof line);
    snprintf(g_basic, sizeof g_basic, "%s", line + strlen("Authorization: "));
    sh_basic_header(g_id, "wrong-secret", line, sizeof line);
    snprintf(g_basic_bad, sizeof g_basic_bad, "%s", line + strlen("Authorization: "));
    sh_basic_header("no-such-client", g_secret, line, sizeof line);
    snprintf(g_basic_unk, sizeof g_basic_unk, "%s", line + strlen("Authorization: "));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int st = sh_stop(&srv);
    sh_cleanup(&srv);
    free(g_id);
    free(g_secret);
    free(g_id_b);
    free(g_secret_b);
    free(g_id_c);
    free(g_secret_c);
    free(g_at);
    free(g_at_c);
    if (st != 0) {
        fprintf(stderr, "the emulator did not exit cleanly after the adversarial suite: %d\n", st);
        return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_section14_table),
        cmocka_unit_test(test_token_response_headers),
        cmocka_unit_test(test_framing_closes),
        cmocka_unit_test(test_token_one_answer),
        cmocka_unit_test(test_no_paths_in_responses),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_slow_and_half_open),
        cmocka_unit_test(test_connection_flood),
        cmocka_unit_test(test_slow_clients_cut),
    };
    return cmocka_run_group_tests_name("adversarial_serve", tests, setup, teardown);
}
