/* secret_headers.c — the one list of credential-carrying headers (util.h).
 * Verbose output (src/client/http.c), the runner's reports, explanations
 * (src/core/explain_json.c) and so the emulator's request log all redact
 * what this list names; a header added here is redacted everywhere. */
#include <string.h>

#include "util.h"

static const char *const secret_headers[] = {
    "authorization", "proxy-authorization", "x-authorization", "x-auth-originator",
    "cookie",        "set-cookie",          "x-api-key",       "api-key",
};

int taap_header_is_secret(const char *name, size_t len)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof secret_headers / sizeof secret_headers[0]; i++)
        if (strlen(secret_headers[i]) == len && taap_ascii_ncasecmp(name, secret_headers[i], len) == 0)
            return 1;
    return 0;
}
