/* fail.c — fill a caller's taap_error: the one way every layer reports an
 * error (the library never prints). */
#include <stdarg.h>
#include <stdio.h>

#include <openssl/err.h>

#include "util.h"

taap_code taap_fail(taap_error *err, taap_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

taap_code taap_fail_openssl(taap_error *err, taap_code code, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "no detail";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    return taap_fail(err, code, "%s (%s)", what, reason);
}
