/*
 * taap/explain.h — "why was my PoP rejected?": an explaining verifier.
 *
 * taap_verify_explain() verifies like taap_verify() and also reports what
 * the verifier looked at: the parts named by ehts in order with the
 * canonical value read from the request (a body as length, SHA-256 and its
 * first bytes), the edts it computed and the token's, and the time window
 * against the clock. When the edts differ it looks for the likely cause by
 * recomputing edts over a bounded set of known client mistakes (query
 * percent-encoded, absolute URL as uri, trailing slash, lower-case method,
 * header whitespace, Content-Type parameter, Authorization without Bearer,
 * body line endings / trailing newline, JSON re-serialised, values hashed in
 * another order). A cause is named only when its recomputed edts equals the
 * token's; when none does, the cause is TAAP_CAUSE_OTHER_REQUEST.
 *
 * The claims in an explanation are read from the payload even when the
 * signature failed (a diagnosis, not a verdict): `signature_verified` says
 * whether they can be trusted.
 */
#ifndef TAAP_EXPLAIN_H
#define TAAP_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>
#include "taap/error.h"
#include "taap/key.h"
#include "taap/request.h"
#include "taap/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of a body shown as its start. */
#define TAAP_EXPLAIN_BODY_HEAD 48
/* Largest body the cause search re-hashes (larger bodies get no cause). */
#define TAAP_EXPLAIN_MAX_BODY ((size_t)1 << 20)

typedef enum taap_explain_cause {
    TAAP_CAUSE_NONE = 0,              /* edts matches, or could not be compared */
    TAAP_CAUSE_QUERY_ENCODED,         /* the query hashed still percent-encoded */
    TAAP_CAUSE_QUERY_PLUS_AS_SPACE,   /* '+' in the query hashed as a space */
    TAAP_CAUSE_QUERY_SPACE_AS_PLUS,   /* a space in the query hashed as '+' */
    TAAP_CAUSE_ABSOLUTE_URI,          /* scheme and/or host hashed as part of uri */
    TAAP_CAUSE_TRAILING_SLASH_ADDED,  /* uri hashed with a '/' the request lacks */
    TAAP_CAUSE_TRAILING_SLASH_DROPPED,/* uri hashed without the request's trailing '/' */
    TAAP_CAUSE_METHOD_LOWER,          /* http-method hashed in lower case */
    TAAP_CAUSE_HEADER_WHITESPACE,     /* a header value hashed with surrounding spaces */
    TAAP_CAUSE_CONTENT_TYPE_PARAM,    /* Content-Type hashed with another parameter */
    TAAP_CAUSE_AUTH_NO_BEARER,        /* Authorization hashed without "Bearer " */
    TAAP_CAUSE_BODY_LINE_ENDINGS,     /* body hashed with CRLF for LF or LF for CRLF */
    TAAP_CAUSE_BODY_TRAILING_NEWLINE, /* body hashed with a trailing newline added or dropped */
    TAAP_CAUSE_JSON_RESERIALISED,     /* JSON body hashed compact vs pretty */
    TAAP_CAUSE_EHTS_ORDER,            /* the values hashed in another order than ehts */
    TAAP_CAUSE_OTHER_REQUEST,         /* no known mistake reproduces the token's edts */
} taap_explain_cause;

/* One part named by ehts, as this request has it. */
typedef struct taap_explain_part {
    char *name;              /* as written in ehts */
    int present;             /* the request has it (a header: exactly once) */
    int is_body;
    char *value;             /* canonical value (not for body); NUL-terminated */
    size_t value_len;
    int64_t body_len;        /* body: bytes (-1 when unknown) */
    char body_sha256[65];    /* body: lower-case hex, "" when not computed */
    unsigned char body_head[TAAP_EXPLAIN_BODY_HEAD];
    size_t body_head_len;
} taap_explain_part;

typedef struct taap_explain {
    taap_code verdict;                       /* what taap_verify() returned */
    char message[TAAP_ERROR_MESSAGE_MAX];    /* its message ("valid" when OK) */
    int claims_read;          /* the payload's claims were readable */
    int signature_verified;   /* the signature was checked and is good */
    int64_t iat, exp, nbf;
    int has_nbf;
    int64_t now;              /* the verifier's clock */
    unsigned leeway, max_lifetime;
    char *ehts;               /* as in the token (NULL when unreadable) */
    char *token_edts;         /* as in the token (NULL when unreadable) */
    int edts_computed;        /* every part was present: computed_edts is set */
    char computed_edts[44];
    int edts_match;
    taap_explain_part *parts;
    size_t n_parts;
    taap_explain_cause cause;
    char *cause_detail;       /* what exactly matched (NULL when no cause) */
    size_t variants_tried;    /* how many edts were recomputed for the search */
} taap_explain;

/*
 * taap_verify_explain — taap_verify() plus an explanation. Returns the
 * verdict (the same code taap_verify returns, with the same replay side
 * effect when cfg->replay is set). *out is set whenever the explanation
 * could be built (free with taap_explain_free()); it is NULL only after an
 * allocation failure or a usage error, which are also returned.
 */
TAAP_API taap_code taap_verify_explain(const char *token, size_t len, const taap_key *key,
                                       const taap_request *req, const taap_verify_config *cfg,
                                       taap_explain **out, taap_error *err);

/*
 * taap_explain_verdict — the explanation for a verdict already obtained
 * from taap_verify() (`verdict`, `message`) with the same token, key,
 * request and config; verifies nothing again and touches no replay cache.
 * For servers that verify first and explain only failures. Returns TAAP_OK
 * or TAAP_E_NOMEM / TAAP_E_USAGE / TAAP_E_IO (body file unreadable).
 */
TAAP_API taap_code taap_explain_verdict(const char *token, size_t len, const taap_request *req,
                                        const taap_verify_config *cfg, taap_code verdict,
                                        const char *message, taap_explain **out,
                                        taap_error *err);

TAAP_API void taap_explain_free(taap_explain *e);

/* A stable lower-case name for a cause ("query_percent_encoded"), for JSON. */
TAAP_API const char *taap_explain_cause_name(taap_explain_cause cause);

/* One line of advice for a cause, e.g. "edts matches this request only if
 * the query is percent-encoded: sign the decoded query". "" for NONE. */
TAAP_API const char *taap_explain_cause_text(taap_explain_cause cause);

/* Flags for taap_explain_to_json(). */
#define TAAP_EXPLAIN_REDACT 0x1u /* credential header values (Authorization,
                                   Proxy-Authorization, Cookie) shown as their
                                   scheme and length only, and no body bytes
                                   (length and SHA-256 only); for logs */

/*
 * taap_explain_to_json — the explanation as one compact JSON object:
 * {"valid","code","message","signature_verified","time":{…},"ehts",
 *  "parts":[{"name","present","value"|"body":{"length","sha256","head"}}],
 *  "edts":{"token","computed","match"},"cause":{"name","text","detail"}|null,
 *  "variants_tried"}. Values longer than 512 bytes are cut (and flagged).
 * *json is malloc'd (free()).
 */
TAAP_API taap_code taap_explain_to_json(const taap_explain *e, unsigned flags, char **json,
                                        taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
