/* claims.c — the verifier's two readers of PoP payload claims (claims.h):
 * the allocation-free fast path for flat payloads, and the reader of a
 * jansson-parsed payload for everything else. */
#include <string.h>

#include "claims.h"

static claim *claim_slot(claims *c, const char *k, size_t kl)
{
    switch (kl) {
    case 1:
        return k[0] == 'v' ? &c->v : NULL;
    case 3:
        if (memcmp(k, "iat", 3) == 0)
            return &c->iat;
        if (memcmp(k, "exp", 3) == 0)
            return &c->exp;
        if (memcmp(k, "nbf", 3) == 0)
            return &c->nbf;
        if (memcmp(k, "jti", 3) == 0)
            return &c->jti;
        return NULL;
    case 4:
        if (memcmp(k, "ehts", 4) == 0)
            return &c->ehts;
        if (memcmp(k, "edts", 4) == 0)
            return &c->edts;
        return NULL;
    }
    return NULL;
}

/* The fast path: see claims.h for what it takes and what it leaves. */
#define FAST_MAX_MEMBERS 32
static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int fast_string(const unsigned char *p, size_t n, size_t *i, const char **s, size_t *len)
{
    if (*i >= n || p[*i] != '"')
        return 0;
    size_t start = ++*i;
    while (*i < n) {
        unsigned char c = p[*i];
        if (c == '"') {
            *s = (const char *)p + start;
            *len = *i - start;
            ++*i;
            return 1;
        }
        if (c < 0x20 || c >= 0x80 || c == '\\')
            return 0;
        ++*i;
    }
    return 0;
}

int claims_fast(const unsigned char *p, size_t n, claims *c)
{
    const char *keys[FAST_MAX_MEMBERS];
    size_t klens[FAST_MAX_MEMBERS], nk = 0, i = 0;
    memset(c, 0, sizeof *c);
    while (i < n && is_ws(p[i]))
        i++;
    if (i >= n || p[i++] != '{')
        return 0;
    while (i < n && is_ws(p[i]))
        i++;
    if (i < n && p[i] == '}') {
        i++;
    } else {
        for (;;) {
            const char *k;
            size_t kl;
            while (i < n && is_ws(p[i]))
                i++;
            if (!fast_string(p, n, &i, &k, &kl) || nk == FAST_MAX_MEMBERS)
                return 0;
            for (size_t j = 0; j < nk; j++)
                if (klens[j] == kl && memcmp(keys[j], k, kl) == 0)
                    return 0;
            keys[nk] = k;
            klens[nk++] = kl;
            while (i < n && is_ws(p[i]))
                i++;
            if (i >= n || p[i++] != ':')
                return 0;
            while (i < n && is_ws(p[i]))
                i++;
            claim v = {C_MISSING, NULL, 0, 0};
            if (i < n && p[i] == '"') {
                if (!fast_string(p, n, &i, &v.s, &v.len))
                    return 0;
                v.kind = C_STRING;
            } else {
                /* -?(0|[1-9][0-9]*), at most 18 digits, no fraction/exponent. */
                int neg = 0;
                if (i < n && p[i] == '-') {
                    neg = 1;
                    i++;
                }
                size_t d0 = i;
                long long x = 0;
                while (i < n && p[i] >= '0' && p[i] <= '9') {
                    if (i - d0 == 18) /* a 19th digit could overflow: let jansson judge */
                        return 0;
                    x = x * 10 + (p[i] - '0');
                    i++;
                }
                if (i == d0 || (p[d0] == '0' && i - d0 > 1))
                    return 0;
                if (i < n && (p[i] == '.' || p[i] == 'e' || p[i] == 'E'))
                    return 0;
                v.kind = C_INTEGER;
                v.i = neg ? -x : x;
            }
            claim *slot = claim_slot(c, k, kl);
            if (slot)
                *slot = v;
            while (i < n && is_ws(p[i]))
                i++;
            if (i >= n)
                return 0;
            if (p[i] == ',') {
                i++;
                continue;
            }
            if (p[i] == '}') {
                i++;
                break;
            }
            return 0;
        }
    }
    while (i < n && is_ws(p[i]))
        i++;
    return i == n;
}

void claims_from_json(const json_t *pl, claims *c)
{
    memset(c, 0, sizeof *c);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)pl, k, v)
    {
        claim *slot = claim_slot(c, k, strlen(k));
        if (!slot)
            continue;
        switch (json_typeof(v)) {
        case JSON_STRING:
            slot->kind = C_STRING;
            slot->s = json_string_value(v);
            slot->len = json_string_length(v);
            break;
        case JSON_INTEGER:
            slot->kind = C_INTEGER;
            slot->i = (long long)json_integer_value(v);
            break;
        case JSON_REAL:
            slot->kind = C_REAL;
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            slot->kind = C_BOOL;
            break;
        case JSON_NULL:
            slot->kind = C_NULL;
            break;
        case JSON_OBJECT:
            slot->kind = C_OBJECT;
            break;
        case JSON_ARRAY:
            slot->kind = C_ARRAY;
            break;
        }
    }
}

const char *claims_kind_name(claim_kind k)
{
    switch (k) {
    case C_OBJECT:
        return "an object";
    case C_ARRAY:
        return "an array";
    case C_STRING:
        return "a string";
    case C_INTEGER:
        return "an integer";
    case C_REAL:
        return "a real number";
    case C_BOOL:
        return "a boolean";
    case C_NULL:
        return "null";
    case C_MISSING:
        break;
    }
    return "missing";
}
