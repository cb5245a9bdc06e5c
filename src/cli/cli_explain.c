/* cli_explain.c — `taap verify --explain` text: what the verifier hashed and
 * why edts differs. Values are printed as read; control bytes escaped so a
 * header value cannot move the cursor or forge a line. */
#include <inttypes.h>
#include <string.h>

#include "cli_explain.h"

#define SHOW_MAX 200

static void show_bytes(FILE *out, const unsigned char *b, size_t l)
{
    size_t n = l < SHOW_MAX ? l : SHOW_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    if (n < l)
        fprintf(out, "... (%zu bytes)", l);
}

static void print_time(FILE *out, const taap_explain *e)
{
    if (!e->claims_read) {
        fprintf(out, "time:      now %" PRId64 " (the token's claims are unreadable)\n", e->now);
        return;
    }
    int64_t age = e->now - e->iat, left = e->exp - e->now;
    fprintf(out, "time:      iat %" PRId64 " (%" PRId64 " s %s), exp %" PRId64 " (%s %" PRId64
                 " s%s), lifetime %" PRId64 " s\n",
            e->iat, age < 0 ? -age : age, age < 0 ? "in the future" : "ago", e->exp,
            left > 0 ? "expires in" : "expired", left < 0 ? -left : left,
            left > 0 ? "" : " ago", e->exp - e->iat);
    fprintf(out, "           now %" PRId64 ", leeway %u s, max lifetime %u s\n", e->now,
            e->leeway, e->max_lifetime);
    if (e->has_nbf)
        fprintf(out, "           nbf %" PRId64 "\n", e->nbf);
}

static void print_parts(FILE *out, const taap_explain *e)
{
    fprintf(out, "hashed, in ehts order (%s):\n", e->ehts);
    for (size_t i = 0; i < e->n_parts; i++) {
        const taap_explain_part *p = &e->parts[i];
        fprintf(out, "  %2zu. %-16s ", i + 1, p->name);
        if (!p->present)
            fputs("(not in this request)", out);
        else if (p->is_body && p->body_sha256[0]) {
            fprintf(out, "%" PRId64 " bytes, sha256 %s, starts '", p->body_len, p->body_sha256);
            show_bytes(out, p->body_head, p->body_head_len);
            fputc('\'', out);
        } else if (p->is_body)
            fprintf(out, "%" PRId64 " bytes (streamed)", p->body_len);
        else {
            fputc('\'', out);
            show_bytes(out, (const unsigned char *)p->value, p->value_len);
            fputc('\'', out);
        }
        fputc('\n', out);
    }
}

void cli_explain_print(FILE *out, const taap_explain *e)
{
    fprintf(out, "verdict:   %s: %s\n", taap_code_name(e->verdict), e->message);
    fprintf(out, "signature: %s\n",
            e->signature_verified ? "verified with the given key"
                                  : "not verified (claims below are as sent, untrusted)");
    print_time(out, e);
    if (!e->claims_read) {
        fputs("ehts/edts: unreadable (the token is not a PoP token this verifier can read)\n", out);
        return;
    }
    print_parts(out, e);
    fprintf(out, "edts:      token    ");
    show_bytes(out, (const unsigned char *)e->token_edts, strlen(e->token_edts));
    fputc('\n', out);
    if (e->edts_computed)
        fprintf(out, "           computed %s (%s)\n", e->computed_edts,
                e->edts_match ? "match" : "differ");
    else
        fputs("           computed - (a part named by ehts is not in this request)\n", out);
    if (e->cause != TAAP_CAUSE_NONE) {
        fprintf(out, "likely cause: %s\n", taap_explain_cause_text(e->cause));
        if (e->cause_detail)
            fprintf(out, "           %s; %zu variants tried\n", e->cause_detail, e->variants_tried);
        else
            fprintf(out, "           %zu variants tried\n", e->variants_tried);
    }
}
