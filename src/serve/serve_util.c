/*
 * serve_util.c — small pure helpers of the emulator: random identifiers,
 * hex, key ids, timestamps, Luhn and ICCID syntax.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "serve_internal.h"
#include "util.h"

int srv_random_alnum(char *out, size_t n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t i = 0;
    while (i < n) {
        unsigned char buf[64];
        if (RAND_bytes(buf, sizeof buf) != 1)
            return -1;
        for (size_t j = 0; j < sizeof buf && i < n; j++)
            if (buf[j] < 248) /* 248 = 4 * 62: no modulo bias */
                out[i++] = alpha[buf[j] % 62];
        OPENSSL_cleanse(buf, sizeof buf);
    }
    out[n] = '\0';
    return 0;
}

int srv_random_digits(char *out, size_t n)
{
    unsigned char buf[64];
    size_t i = 0;
    while (i < n) {
        if (RAND_bytes(buf, sizeof buf) != 1)
            return -1;
        for (size_t j = 0; j < sizeof buf && i < n; j++)
            if (buf[j] < 250) /* 250 = 25 * 10: no modulo bias */
                out[i++] = (char)('0' + buf[j] % 10);
    }
    out[n] = '\0';
    return 0;
}

void srv_key_id(const unsigned char fp[32], char out[17])
{
    taap_hex_encode(fp, 8, out);
}

void srv_time_str(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

int srv_luhn_ok(const char *d)
{
    size_t n = strlen(d);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int x = d[n - 1 - i] - '0';
        if (i % 2 == 1) {
            x *= 2;
            if (x > 9)
                x -= 9;
        }
        sum += x;
    }
    return n > 0 && sum % 10 == 0;
}

const char *srv_iccid_problem(const char *iccid)
{
    size_t n = strlen(iccid);
    for (size_t i = 0; i < n; i++)
        if (iccid[i] < '0' || iccid[i] > '9')
            return "an ICCID is 19 or 20 digits (no letters, '/', '%' or '.')";
    if (n < 19 || n > 20)
        return "an ICCID is 19 or 20 digits";
    if (iccid[0] != '8' || iccid[1] != '9')
        return "an ICCID starts with 89 (telecom industry identifier)";
    if (!srv_luhn_ok(iccid))
        return "the ICCID's last digit is not a valid Luhn check digit";
    return NULL;
}
