/* error.c — code names and descriptions; the taap_error record. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "util.h"

struct code_info {
    taap_code code;
    const char *name;
    const char *text;
};

static const struct code_info codes[] = {
    {TAAP_OK, "TAAP_OK", "valid"},
    {TAAP_E_USAGE, "TAAP_E_USAGE", "usage error"},
    {TAAP_E_MALFORMED, "TAAP_E_MALFORMED", "malformed token"},
    {TAAP_E_ALG, "TAAP_E_ALG", "algorithm or header not allowed"},
    {TAAP_E_SIGNATURE, "TAAP_E_SIGNATURE", "signature does not verify"},
    {TAAP_E_EXPIRED, "TAAP_E_EXPIRED", "PoP token expired"},
    {TAAP_E_NOT_YET_VALID, "TAAP_E_NOT_YET_VALID", "PoP token not yet valid"},
    {TAAP_E_LIFETIME, "TAAP_E_LIFETIME", "PoP token lifetime invalid"},
    {TAAP_E_CLAIMS, "TAAP_E_CLAIMS", "required claim missing or invalid"},
    {TAAP_E_EHTS, "TAAP_E_EHTS", "ehts invalid for this request"},
    {TAAP_E_COVERAGE, "TAAP_E_COVERAGE", "required request part not covered"},
    {TAAP_E_EDTS, "TAAP_E_EDTS", "edts does not match the request"},
    {TAAP_E_REPLAY, "TAAP_E_REPLAY", "PoP token replayed"},
    {TAAP_E_KEY, "TAAP_E_KEY", "key unreadable or refused"},
    {TAAP_E_NOMEM, "TAAP_E_NOMEM", "out of memory"},
    {TAAP_E_IO, "TAAP_E_IO", "input/output error"},
    {TAAP_E_CRYPTO, "TAAP_E_CRYPTO", "cryptographic library error"},
    {TAAP_E_NEED_PASSPHRASE, "TAAP_E_NEED_PASSPHRASE", "passphrase required"},
    {TAAP_E_BAD_PASSPHRASE, "TAAP_E_BAD_PASSPHRASE", "wrong passphrase"},
    {TAAP_E_REPLAY_STORE, "TAAP_E_REPLAY_STORE", "replay cache unavailable"},
    {TAAP_E_BUILD_EMPTY, "TAAP_E_BUILD_EMPTY", "nothing to sign"},
    {TAAP_E_BUILD_TOO_MANY, "TAAP_E_BUILD_TOO_MANY", "too many signed parts"},
    {TAAP_E_BUILD_EMPTY_NAME, "TAAP_E_BUILD_EMPTY_NAME", "empty part name"},
    {TAAP_E_BUILD_BAD_NAME, "TAAP_E_BUILD_BAD_NAME", "invalid part name"},
    {TAAP_E_BUILD_DUPLICATE, "TAAP_E_BUILD_DUPLICATE", "duplicate part name"},
    {TAAP_E_BUILD_SEMICOLON, "TAAP_E_BUILD_SEMICOLON", "part name contains ';'"},
    {TAAP_E_BUILD_LIFETIME, "TAAP_E_BUILD_LIFETIME", "lifetime out of range"},
    {TAAP_E_HTTP, "TAAP_E_HTTP", "HTTP transport error"},
    {TAAP_E_HTTP_STATUS, "TAAP_E_HTTP_STATUS", "HTTP error status"},
    {TAAP_E_OAUTH, "TAAP_E_OAUTH", "OAuth token request failed"},
    {TAAP_E_RESPONSE, "TAAP_E_RESPONSE", "unexpected response"},
    {TAAP_E_CONFIG, "TAAP_E_CONFIG", "configuration error"},
    {TAAP_E_SERVER, "TAAP_E_SERVER", "server error"},
    {TAAP_E_STORE, "TAAP_E_STORE", "database error"},
    {TAAP_E_NOT_FOUND, "TAAP_E_NOT_FOUND", "not found"},
};

static const struct code_info *lookup(taap_code code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return &codes[i];
    return NULL;
}

const char *taap_strerror(taap_code code)
{
    const struct code_info *c = lookup(code);
    return c ? c->text : "unknown error";
}

const char *taap_code_name(taap_code code)
{
    const struct code_info *c = lookup(code);
    return c ? c->name : "TAAP_E_UNKNOWN";
}

void taap_error_clear(taap_error *err)
{
    if (!err)
        return;
    err->code = TAAP_OK;
    err->message[0] = '\0';
}
