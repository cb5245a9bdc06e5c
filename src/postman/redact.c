/*
 * redact.c — secrets never leave the runner. Newman writes bearer tokens
 * and secrets into its reports (newman#2326, #3070); here every string that
 * leaves the runner goes through pm_redact(): known secret values, anything
 * shaped like a JWT, PEM blocks. (Credential headers are redacted whole,
 * by name: taap_http_header_sensitive.) --no-redact turns it off.
 */
#include <stdlib.h>
#include <string.h>

#include "pm.h"

#define REDACTED "<redacted>"

void pm_secrets_add(pm_secrets *s, const char *value)
{
    if (!value || strlen(value) < 6) /* short values ("true", "1") would shred the text */
        return;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], value) == 0)
            return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return;
        s->v = v;
        s->cap = cap;
    }
    char *c = taap_strdup(value);
    if (c)
        s->v[s->n++] = c;
}

void pm_secrets_free(pm_secrets *s)
{
    for (size_t i = 0; i < s->n; i++)
        taap_free_secret_str(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Length of a JWT-shaped run at p ("eyJ…" "." "…" "." "…"), or 0. */
static size_t jwt_len(const char *p)
{
    if (strncmp(p, "eyJ", 3) != 0)
        return 0;
    size_t i = 0;
    int dots = 0;
    for (;;) {
        while (b64url_char(p[i]))
            i++;
        if (p[i] == '.' && dots < 2 && b64url_char(p[i + 1])) {
            dots++;
            i++;
            continue;
        }
        break;
    }
    return dots >= 1 ? i : 0;
}

char *pm_redact(const pm_secrets *s, const char *text)
{
    if (!text)
        return NULL;
    pm_buf b = {0};
    const char *p = text;
    while (*p) {
        size_t n;
        if (*p == 'e' && (n = jwt_len(p)) > 0) {
            pm_buf_puts(&b, "<redacted:jwt>");
            p += n;
            continue;
        }
        if (*p == '-' && strncmp(p, "-----BEGIN", 10) == 0) {
            const char *end = strstr(p + 10, "-----END");
            if (end) {
                const char *close = strstr(end + 8, "-----");
                if (close) {
                    pm_buf_puts(&b, "<redacted:pem>");
                    p = close + 5;
                    continue;
                }
            }
        }
        size_t best = 0;
        for (size_t i = 0; s && i < s->n; i++) {
            size_t l = strlen(s->v[i]);
            if (l > best && strncmp(p, s->v[i], l) == 0)
                best = l;
        }
        if (best) {
            pm_buf_puts(&b, REDACTED);
            p += best;
            continue;
        }
        pm_buf_put(&b, p, 1);
        p++;
    }
    return pm_buf_take(&b);
}

int pm_name_sensitive(const char *name)
{
    static const char *const words[] = {"secret", "password", "passwd", "private", "token",
                                        "apikey", "api_key", "credential", "bearer", "pem"};
    size_t n = strlen(name);
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t l = strlen(words[w]);
        for (size_t i = 0; i + l <= n; i++)
            if (taap_ascii_ncasecmp(name + i, words[w], l) == 0)
                return 1;
    }
    return 0;
}
