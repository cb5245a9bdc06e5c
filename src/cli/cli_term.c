/* cli_term.c — what a terminal may be sent: colour and UTF-8 symbols. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

int cli_use_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc)
        return 0;
    if (term && strcmp(term, "dumb") == 0)
        return 0;
    return isatty(fileno(f));
}

int cli_use_unicode(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strcasestr(v, "UTF-8") != NULL || strcasestr(v, "utf8") != NULL;
    }
    return 0; /* the POSIX locale: ASCII */
}
