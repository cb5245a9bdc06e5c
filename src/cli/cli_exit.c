/* cli_exit.c — the exit-status table (cli_exit.h). */
#include "cli_exit.h"

const cli_exit_row cli_exit_table[] = {
    {0, 0, "success"},
    {1, 1, "failure (taap run: a request or an assertion failed, or did not run)"},
    {2, 2, "usage: a bad flag, argument or value"},
    {10, 10, "token malformed (not a compact JWS, bad base64url or JSON, too big)"},
    {11, 11, "alg or header refused (alg not RS256, crit, b64, typ)"},
    {12, 12, "signature does not verify with the key"},
    {13, 13, "token expired"},
    {14, 14, "token not yet valid (iat or nbf in the future)"},
    {15, 15, "lifetime too long, or exp <= iat"},
    {16, 16, "a required claim missing or of the wrong type"},
    {17, 17, "ehts malformed, duplicate, too many or naming a missing part"},
    {18, 18, "a required request part is not covered"},
    {19, 19, "edts does not match the request"},
    {20, 20, "replay: the jti was already used"},
    {21, 21, "key unreadable or refused by the key policy"},
    {22, 22, "HTTP status >= 400 (call, quickstart; curl --fail's status)"},
    {30, 30, "out of memory"},
    {31, 31, "a file could not be read or written"},
    {32, 32, "OpenSSL failed"},
    {33, 33, "the key is encrypted and no passphrase was available"},
    {34, 34, "wrong passphrase"},
    {35, 35, "replay cache unavailable or full"},
    {40, 46, "PoP builder refused (43 a header to sign is missing, 46 --lifetime)"},
    {50, 50, "transport error: connect, TLS, timeout, truncated response"},
    {52, 52, "no access token: the token endpoint refused (its error is printed)"},
    {53, 53, "a response body is not what the protocol says"},
    {54, 54, "settings missing or wrong (base URL, client id, secret, key, profile)"},
    {60, 60, "the emulator cannot start (address in use, bad listen address)"},
    {61, 61, "emulator database error"},
    {62, 62, "a named emulator object (application, key, device) does not exist"},
    {130, 130, "interrupted by SIGINT (taap run: reports written with what ran)"},
    {143, 143, "interrupted by SIGTERM (taap run: reports written with what ran)"},
    {-1, -1, 0},
};

void cli_exit_print(FILE *out)
{
    fputs("usage: taap help exit-status\n\n"
          "Every taap command exits with one of these statuses:\n\n", out);
    for (const cli_exit_row *r = cli_exit_table; r->meaning; r++) {
        if (r->first == r->last)
            fprintf(out, "  %-6d %s\n", r->first, r->meaning);
        else
            fprintf(out, "  %d-%-3d %s\n", r->first, r->last, r->meaning);
    }
}
