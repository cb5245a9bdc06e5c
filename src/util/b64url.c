/* b64url.c — base64url (no padding) encode, strict decode; standard base64. */
#include <pthread.h>
#include <string.h>

#include "b64url.h"

static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t encode(const unsigned char *p, size_t n, char *out, const char *alpha, int pad)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t taap_b64url_encode(const void *in, size_t n, char *out)
{
    return encode(in, n, out, url_alphabet, 0);
}

size_t taap_b64std_encode(const void *in, size_t n, char *out)
{
    return encode(in, n, out, std_alphabet, 1);
}

/* Decoding tables: value of each byte, or -1. The lenient table also takes
 * the standard alphabet's + and /. A table beats per-character branching on
 * the verifier's hot path (every token is decoded). */
static signed char url_table[256], lenient_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    memset(url_table, -1, sizeof url_table);
    for (int i = 0; i < 64; i++)
        url_table[(unsigned char)url_alphabet[i]] = (signed char)i;
    memcpy(lenient_table, url_table, sizeof url_table);
    lenient_table['+'] = 62;
    lenient_table['/'] = 63;
}

static inline int sextet(const signed char *table, unsigned char c)
{
    return table[c];
}

static int decode(const char *in, size_t n, unsigned char *out, size_t *out_len, int lenient)
{
    pthread_once(&tables_once, build_tables);
    const signed char *t = lenient ? lenient_table : url_table;
    if (n % 4 == 1)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        int a = sextet(t, (unsigned char)in[i]), b = sextet(t, (unsigned char)in[i + 1]),
            c = sextet(t, (unsigned char)in[i + 2]), d = sextet(t, (unsigned char)in[i + 3]);
        if ((a | b | c | d) < 0)
            return -1;
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    size_t rest = n - i;
    if (rest >= 2) {
        int a = sextet(t, (unsigned char)in[i]), b = sextet(t, (unsigned char)in[i + 1]);
        if ((a | b) < 0)
            return -1;
        if (rest == 2) {
            if (b & 0x0f) /* unused trailing bits must be zero */
                return -1;
            out[o++] = (unsigned char)(a << 2 | b >> 4);
        } else {
            int c = sextet(t, (unsigned char)in[i + 2]);
            if (c < 0 || (c & 0x03))
                return -1;
            out[o++] = (unsigned char)(a << 2 | b >> 4);
            out[o++] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
        }
    }
    *out_len = o;
    return 0;
}

int taap_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
    return decode(in, n, out, out_len, 0);
}

int taap_b64_decode_lenient(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    /* Lenient about padding and alphabet, not about stray trailing bits: JWK
     * producers that pad still encode whole bytes. */
    return decode(in, n, out, out_len, 1);
}
