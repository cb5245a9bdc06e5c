/*
 * fuzz_serve — the emulator's request handling through its in-process entry
 * point taap_serve_handle_raw() (raw HTTP/1.1 bytes in, raw response out;
 * the same routing, limits and handlers as the network path).
 *
 * One server per process (temporary database, demo account seeded with the
 * fixed test key). So that inputs reach past authentication, these
 * placeholders in the input are replaced before it is handled:
 *   {{ADMIN}}   the admin token        {{BASIC}}   Basic credentials of demo-app
 *   {{ICCID}}   the demo device ICCID  {{CLIENT}}  demo-app's client id
 *
 * Invariants: a response is always produced, starts with "HTTP/1.", has a
 * 3-digit status, and never echoes the client secret or the admin token.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "taap/taap.h"
#include "taap_serve.h"
#include "test_keys.h"

static taap_server *fz_srv;
static char fz_admin[256], fz_basic[512], fz_iccid[32], fz_client[128], fz_secret[256];

static void fz_cleanup(void)
{
    taap_serve_close(fz_srv);
    fz_srv = NULL;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    taap_serve_options o;
    taap_serve_options_init(&o);
    o.db_path = NULL;
    o.secret_iterations = 1; /* PBKDF2 cost is not what is fuzzed here */
    taap_error err = TAAP_ERROR_INIT;
    if (taap_serve_open(&o, &fz_srv, NULL, &err) != TAAP_OK)
        fuzz_fail("taap_serve_open", err.message);
    atexit(fz_cleanup);
    copy_str(fz_admin, sizeof fz_admin, taap_serve_admin_token(fz_srv));

    char *json = NULL;
    if (taap_serve_seed_demo(fz_srv, TK_PUBLIC_PEM, sizeof TK_PUBLIC_PEM - 1, &json, &err) !=
        TAAP_OK)
        fuzz_fail("taap_serve_seed_demo", err.message);
    json_t *root = json_loads(json, 0, NULL);
    free(json);
    copy_str(fz_client, sizeof fz_client,
             json_string_value(json_object_get(json_object_get(root, "app"), "clientId")));
    copy_str(fz_secret, sizeof fz_secret,
             json_string_value(json_object_get(json_object_get(root, "app"), "clientSecret")));
    copy_str(fz_iccid, sizeof fz_iccid,
             json_string_value(json_object_get(json_object_get(root, "device"), "iccid")));
    json_decref(root);
    if (!fz_client[0] || !fz_secret[0] || !fz_iccid[0])
        fuzz_fail("seed_demo JSON lacks app.clientId/clientSecret or device.iccid", NULL);

    /* Basic base64(client:secret) */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char creds[400];
    int n = snprintf(creds, sizeof creds, "%s:%s", fz_client, fz_secret);
    size_t o2 = 0;
    o2 += (size_t)snprintf(fz_basic, sizeof fz_basic, "Basic ");
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)creds[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)creds[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)creds[i + 2];
        fz_basic[o2++] = b64[v >> 18];
        fz_basic[o2++] = b64[(v >> 12) & 63];
        fz_basic[o2++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        fz_basic[o2++] = i + 2 < n ? b64[v & 63] : '=';
    }
    fz_basic[o2] = '\0';
    return 0;
}

/* Replace the placeholders; returns a malloc'd copy and its length. */
static char *expand(const uint8_t *data, size_t size, size_t *out_len)
{
    static const struct { const char *ph; const char *val; } map[] = {
        { "{{ADMIN}}", fz_admin }, { "{{BASIC}}", fz_basic },
        { "{{ICCID}}", fz_iccid }, { "{{CLIENT}}", fz_client },
    };
    size_t cap = size * 4 + 64, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < size;) {
        int done = 0;
        for (size_t k = 0; k < sizeof map / sizeof map[0] && !done; k++) {
            size_t pl = strlen(map[k].ph), vl = strlen(map[k].val);
            if (i + pl <= size && memcmp(data + i, map[k].ph, pl) == 0) {
                if (o + vl >= cap) {
                    cap = (o + vl) * 2;
                    char *t = realloc(out, cap);
                    if (!t) {
                        free(out);
                        return NULL;
                    }
                    out = t;
                }
                memcpy(out + o, map[k].val, vl);
                o += vl;
                i += pl;
                done = 1;
            }
        }
        if (!done) {
            if (o + 1 >= cap) {
                cap *= 2;
                char *t = realloc(out, cap);
                if (!t) {
                    free(out);
                    return NULL;
                }
                out = t;
            }
            out[o++] = (char)data[i++];
        }
    }
    *out_len = o;
    return out;
}

/* 1 when every {{ADMIN}} of the input sits in an Authorization header
 * (then the token must never come back; elsewhere the input may be echoed). */
static int admin_only_in_header(const uint8_t *data, size_t size)
{
    static const char ph[] = "{{ADMIN}}", hdr[] = "\nAuthorization: Bearer ";
    const uint8_t *p = data, *end = data + size;
    int any = 0;
    while ((p = memmem(p, (size_t)(end - p), ph, sizeof ph - 1)) != NULL) {
        size_t hl = sizeof hdr - 1;
        if ((size_t)(p - data) < hl || memcmp(p - hl, hdr, hl) != 0)
            return 0;
        any = 1;
        p += sizeof ph - 1;
    }
    return any;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_srv)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size > 2 * 1024 * 1024)
        return 0;
    size_t len = 0;
    char *req = expand(data, size, &len);
    if (!req)
        return 0;
    char *resp = NULL;
    size_t resp_len = 0;
    taap_code rc = taap_serve_handle_raw(fz_srv, req, len, &resp, &resp_len);
    free(req);
    if (rc != TAAP_OK && rc != TAAP_E_NOMEM)
        fuzz_fail("taap_serve_handle_raw returned neither OK nor NOMEM", taap_code_name(rc));
    if (rc == TAAP_OK) {
        if (!resp || resp_len < 12 || memcmp(resp, "HTTP/1.", 7) != 0 || resp[8] != ' ' ||
            resp[9] < '1' || resp[9] > '5' || resp[10] < '0' || resp[10] > '9' ||
            resp[11] < '0' || resp[11] > '9')
            fuzz_fail("taap_serve_handle_raw produced no valid status line", NULL);
        /* The input itself may carry the secret (libFuzzer learns compared
         * bytes): echoing what the request said is not a leak. */
        if (memmem(resp, resp_len, fz_secret, strlen(fz_secret)) &&
            !memmem(data, size, fz_secret, strlen(fz_secret)))
            fuzz_fail("a response echoes the client secret", NULL);
        if (memmem(resp, resp_len, fz_admin, strlen(fz_admin)) && admin_only_in_header(data, size) &&
            !memmem(data, size, fz_admin, strlen(fz_admin)))
            fuzz_fail("a response echoes the admin token", NULL);
    }
    free(resp);
    return 0;
}
