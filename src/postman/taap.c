/*
 * taap.c — what the runner recognises in a TAAP collection so that it can
 * do natively what the collection's JavaScript did (reference §5): PoP
 * signing with an eval'd jsrsasign, token capture in test scripts, status
 * assertions. Scripts are never executed; this is pattern recognition over
 * their text, deliberately conservative.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pm.h"

static int has(const char *t, const char *needle)
{
    return strstr(t, needle) != NULL;
}

static int has_ci(const char *t, const char *needle)
{
    return taap_ascii_casestr(t, needle) != NULL;
}

/* Parse a JS string literal at p ('…', "…" or `…`) into out. Returns the
 * position after it, or NULL. */
static const char *js_string(const char *p, char *out, size_t cap)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    char q = *p;
    if (q != '\'' && q != '"' && q != '`')
        return NULL;
    p++;
    size_t n = 0;
    while (*p && *p != q) {
        if (*p == '\\' && p[1])
            p++;
        if (n + 1 < cap)
            out[n++] = *p;
        p++;
    }
    if (*p != q)
        return NULL;
    out[n] = '\0';
    return p + 1;
}

/* The rest of a call's argument list from p up to its closing parenthesis
 * (strings skipped), bounded. */
static size_t call_args_len(const char *p)
{
    int depth = 1;
    size_t i = 0;
    while (i < 2000 && p[i]) {
        char c = p[i];
        if (c == '\'' || c == '"' || c == '`') {
            char q = c;
            i++;
            while (p[i] && p[i] != q) {
                if (p[i] == '\\' && p[i + 1])
                    i++;
                i++;
            }
            if (p[i])
                i++;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return i;
        i++;
    }
    return i;
}

static void add_capture(pm_script_info *si, char scope, const char *name, const char *args,
                        size_t alen)
{
    char a[2048];
    size_t n = alen < sizeof a - 1 ? alen : sizeof a - 1;
    memcpy(a, args, n);
    a[n] = '\0';
    pm_field f = 0;
    if (has(a, "access_token") || has(a, "accessToken"))
        f = PM_F_ACCESS;
    else if (has(a, "id_token") || has(a, "idToken"))
        f = PM_F_ID;
    else if (has(a, "expires_in") || has(a, "expiresIn"))
        f = (has(a, "Date.now") || has(a, "new Date") || has(a, "getTime")) ? PM_F_EXPIRY_MS
                                                                            : PM_F_EXPIRES_IN;
    else if (has_ci(name, "id_token") || has_ci(name, "idtoken"))
        f = PM_F_ID;
    else if ((has_ci(name, "access") && has_ci(name, "token")) || has_ci(name, "bearer") ||
             taap_ascii_casecmp(name, "token") == 0)
        f = has(a, "response") || has(a, "json") || has(a, "responseBody") ? PM_F_ACCESS : 0;
    if (!f || si->n_caps >= sizeof si->caps / sizeof si->caps[0])
        return;
    pm_capture *c = &si->caps[si->n_caps++];
    c->scope = scope;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->field = f;
}

static void add_status(pm_script_info *si, long code)
{
    if (code < 100 || code > 599)
        return;
    for (size_t i = 0; i < si->n_status; i++)
        if (si->status[i] == code)
            return;
    if (si->n_status < sizeof si->status / sizeof si->status[0])
        si->status[si->n_status++] = (int)code;
}

/* After `p`, skip blanks and an optional '(' or '[' list and read integers. */
static void read_codes(pm_script_info *si, const char *p)
{
    while (*p == ' ' || *p == '(' || *p == '[' || *p == '=' || *p == '\t')
        p++;
    for (int k = 0; k < 16; k++) {
        if (!isdigit((unsigned char)*p))
            return;
        char *end;
        long v = strtol(p, &end, 10);
        add_status(si, v);
        p = end;
        while (*p == ' ' || *p == ',')
            p++;
    }
}

void pm_script_analyze(const char *text, pm_script_info *si)
{
    memset(si, 0, sizeof *si);
    if (!text)
        return;
    /* PoP building: jsrsasign (KJUR) or a script that touches X-Authorization */
    if (has(text, "KJUR") || has(text, "jsrsasign") || has_ci(text, "x-authorization") ||
        has(text, "ehts") || has(text, "edts") || has_ci(text, "poptoken"))
        si->pop = 1;
    if (has(text, "jsrsasign") || has(text, "eval("))
        si->loads_lib = 1;

    static const struct {
        const char *call;
        char scope;
    } setters[] = {
        {"pm.environment.set(", 'e'},          {"pm.globals.set(", 'g'},
        {"pm.collectionVariables.set(", 'c'},  {"pm.variables.set(", 'l'},
        {"postman.setEnvironmentVariable(", 'e'}, {"postman.setGlobalVariable(", 'g'},
    };
    for (size_t s = 0; s < sizeof setters / sizeof setters[0]; s++) {
        size_t cl = strlen(setters[s].call);
        for (const char *p = strstr(text, setters[s].call); p; p = strstr(p + 1, setters[s].call)) {
            char name[128];
            const char *after = js_string(p + cl, name, sizeof name);
            if (!after)
                continue;
            size_t alen = call_args_len(after);
            add_capture(si, setters[s].scope, name, after, alen);
        }
    }

    /* status assertions */
    static const char *const status_pats[] = {
        "to.have.status(",  "response.code).to.eql(",   "response.code).to.equal(",
        "response.code).to.be.eql(", "response.code).to.be.equal(", "responseCode.code ===",
        "responseCode.code ==", "response.code ===", "response.code ==",
        "response.code).to.be.oneOf(", "to.have.status.oneOf(",
    };
    for (size_t s = 0; s < sizeof status_pats / sizeof status_pats[0]; s++) {
        size_t pl = strlen(status_pats[s]);
        for (const char *p = strstr(text, status_pats[s]); p; p = strstr(p + 1, status_pats[s]))
            read_codes(si, p + pl);
    }
    if (has(text, "pm.response.to.be.ok") || has(text, "pm.response.to.be.success") ||
        has(text, "pm.response.to.not.be.error"))
        si->status_2xx = 1;

    /* console.log-only scripts (schemas' nestedEntities) */
    int only_log = 1, any = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *a = p;
        while (a < p + n && isspace((unsigned char)*a))
            a++;
        if (a < p + n && strncmp(a, "//", 2) != 0) {
            any = 1;
            if (strncmp(a, "console.", 8) != 0)
                only_log = 0;
        }
        p += n;
        if (*p)
            p++;
    }
    si->console_only = any && only_log;
    si->other = any && !si->pop && !si->loads_lib && si->n_caps == 0 && si->n_status == 0 &&
                !si->status_2xx;
}

/* The path part of a URL (after scheme://authority), or the URL itself. */
static const char *url_path(const char *url)
{
    const char *s = strstr(url, "://");
    const char *p = s ? strchr(s + 3, '/') : url;
    return p ? p : "";
}

int pm_is_token_url(const char *url)
{
    const char *p = url_path(url);
    char path[1024];
    size_t n = strcspn(p, "?#");
    if (n >= sizeof path)
        n = sizeof path - 1;
    memcpy(path, p, n);
    path[n] = '\0';
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    /* T-Mobile's token endpoints: /oauth2/v1|v2|v6/tokens. A generic
     * …/oauth2/token is only a token request when its test script captures
     * an access_token (the runner checks that separately): echo servers
     * have such paths too. */
    const char *o = strstr(path, "/oauth2/v");
    while (o) {
        const char *d = o + 9;
        while (*d >= '0' && *d <= '9')
            d++;
        if (d > o + 9 && strcmp(d, "/tokens") == 0)
            return 1;
        o = strstr(o + 1, "/oauth2/v");
    }
    return 0;
}

int pm_is_jsrsasign_url(const char *url)
{
    return strstr(url, "jsrsasign") != NULL || strstr(url, "kjur.github.io") != NULL;
}
