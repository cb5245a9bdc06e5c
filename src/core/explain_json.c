/* explain_json.c — an explanation as one JSON object (taap verify --explain
 * --json, the emulator's request log). Values are shown as text: bytes that
 * are not printable ASCII are escaped \xHH so any value survives JSON. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "explain_internal.h"
#include "util.h"

#define JSON_VALUE_MAX 512

/* Text for arbitrary bytes, cut at `max` input bytes: as is when they are
 * valid UTF-8 without control bytes; otherwise \xHH for control and
 * non-ASCII bytes with backslashes doubled (so the form is unambiguous). */
static json_t *bytes_text(const unsigned char *b, size_t l, size_t max)
{
    size_t n = l < max ? l : max;
    int plain = 1;
    for (size_t i = 0; i < n && plain; i++)
        plain = b[i] >= 0x20 && b[i] != 0x7f;
    json_t *s = plain ? json_stringn((const char *)b, n) : NULL;
    if (s)
        return s;
    char *o = malloc(4 * n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            o[k++] = (char)c;
        } else if (c == '\\') {
            o[k++] = '\\';
            o[k++] = '\\';
        } else {
            static const char hx[] = "0123456789abcdef";
            o[k++] = '\\';
            o[k++] = 'x';
            o[k++] = hx[c >> 4];
            o[k++] = hx[c & 15];
        }
    }
    o[k] = '\0';
    s = json_string(o);
    free(o);
    return s;
}

/* "Bearer <redacted, 32 bytes>": the scheme stays (it is what a person
 * checks), the credential never does. */
static json_t *redacted(const taap_explain_part *p)
{
    const char *sp = memchr(p->value, ' ', p->value_len);
    size_t scheme = sp && sp - p->value < 32 ? (size_t)(sp - p->value) : 0;
    char buf[96];
    snprintf(buf, sizeof buf, "%.*s%s<redacted, %zu bytes>", (int)scheme, p->value,
             scheme ? " " : "", p->value_len - (scheme ? scheme + 1 : 0));
    return json_string(buf);
}

static json_t *part_json(const taap_explain_part *p, unsigned flags)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "present", json_boolean(p->present));
    if (p->is_body && p->present) {
        json_t *b = json_object();
        json_object_set_new(b, "length", json_integer(p->body_len));
        json_object_set_new(b, "sha256", p->body_sha256[0] ? json_string(p->body_sha256) : json_null());
        if (!(flags & TAAP_EXPLAIN_REDACT)) /* a body may hold a secret (a form) */
            json_object_set_new(b, "head", bytes_text(p->body_head, p->body_head_len,
                                                      TAAP_EXPLAIN_BODY_HEAD));
        json_object_set_new(o, "body", b);
    } else if (p->present && p->value) {
        if ((flags & TAAP_EXPLAIN_REDACT) && taap_header_is_secret(p->name, strlen(p->name)))
            json_object_set_new(o, "value", redacted(p));
        else
            json_object_set_new(o, "value", bytes_text((const unsigned char *)p->value,
                                                       p->value_len, JSON_VALUE_MAX));
        if (p->value_len > JSON_VALUE_MAX)
            json_object_set_new(o, "value_cut_at", json_integer(JSON_VALUE_MAX));
    }
    return o;
}

static json_t *time_json(const taap_explain *e)
{
    json_t *t = json_object();
    if (!t)
        return NULL;
    json_object_set_new(t, "now", json_integer(e->now));
    json_object_set_new(t, "leeway", json_integer(e->leeway));
    json_object_set_new(t, "max_lifetime", json_integer(e->max_lifetime));
    if (e->claims_read) {
        json_object_set_new(t, "iat", json_integer(e->iat));
        json_object_set_new(t, "exp", json_integer(e->exp));
        json_object_set_new(t, "issued_ago", json_integer(e->now - e->iat));
        json_object_set_new(t, "expires_in", json_integer(e->exp - e->now));
        json_object_set_new(t, "lifetime", json_integer(e->exp - e->iat));
        if (e->has_nbf)
            json_object_set_new(t, "nbf", json_integer(e->nbf));
    }
    return t;
}

taap_code taap_explain_to_json(const taap_explain *e, unsigned flags, char **json,
                               taap_error *err)
{
    *json = NULL;
    json_t *o = json_object(), *parts = json_array(), *edts = json_object();
    if (!o || !parts || !edts) {
        json_decref(o);
        json_decref(parts);
        json_decref(edts);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    json_object_set_new(o, "valid", json_boolean(e->verdict == TAAP_OK));
    json_object_set_new(o, "code", json_string(taap_code_name(e->verdict)));
    json_object_set_new(o, "message", json_string(e->message));
    json_object_set_new(o, "signature_verified", json_boolean(e->signature_verified));
    json_object_set_new(o, "time", time_json(e));
    json_object_set_new(o, "ehts", e->ehts ? bytes_text((const unsigned char *)e->ehts,
                                                       strlen(e->ehts), 4096)
                                           : json_null());
    for (size_t i = 0; i < e->n_parts; i++)
        json_array_append_new(parts, part_json(&e->parts[i], flags));
    json_object_set_new(o, "parts", parts);
    json_object_set_new(edts, "token", e->token_edts ? bytes_text((const unsigned char *)e->token_edts,
                                                                  strlen(e->token_edts), 128)
                                                     : json_null());
    json_object_set_new(edts, "computed", e->edts_computed ? json_string(e->computed_edts) : json_null());
    json_object_set_new(edts, "match", json_boolean(e->edts_match));
    json_object_set_new(o, "edts", edts);
    if (e->cause != TAAP_CAUSE_NONE) {
        json_t *c = json_object();
        json_object_set_new(c, "name", json_string(taap_explain_cause_name(e->cause)));
        json_object_set_new(c, "text", json_string(taap_explain_cause_text(e->cause)));
        json_object_set_new(c, "detail", e->cause_detail ? bytes_text((const unsigned char *)e->cause_detail,
                                                                      strlen(e->cause_detail), 512)
                                                         : json_null());
        json_object_set_new(o, "cause", c);
    } else {
        json_object_set_new(o, "cause", json_null());
    }
    json_object_set_new(o, "variants_tried", json_integer((json_int_t)e->variants_tried));
    *json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return *json ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
}
