/*
 * expand.h — the one {{…}} resolver (src/util, internal), Postman's
 * semantics (postman-collection lib/superstring): a token is
 * /{{([^{}]*?)}}/ with the name untrimmed (so "{{{{a}}_b}}" first resolves
 * "{{a}}", the innermost); rounds repeat until nothing changes, at most
 * `rounds`; an unknown name stays verbatim. The runner (src/postman/vars.c:
 * variable scopes and $dynamic values) and the command (src/cli/cli_config.c:
 * settings, --var and environment files) differ only in how they look a name
 * up, which they pass in.
 */
#ifndef TAAP_EXPAND_H
#define TAAP_EXPAND_H

#include <stddef.h>

/* Postman's VARS_SUBREPLACE_LIMIT. */
#define TAAP_EXPAND_ROUNDS 19

/*
 * The value of the name[0..len) (not NUL-terminated), or NULL when unknown.
 * A value made up on the spot may be written into scratch[cap] and returned.
 */
typedef const char *(*taap_expand_lookup)(void *ctx, const char *name, size_t len,
                                          char *scratch, size_t cap);

/*
 * The next token at or after p: returns where its "{{" starts and sets
 * [*nb, *ne) to the name; NULL when there is none.
 */
const char *taap_expand_next(const char *p, const char **nb, const char **ne);

/*
 * Resolve `in` into *out (malloc'd). The result, and every round's, holds at
 * most `max` bytes. Returns 0, or TAAP_BUF_FULL past max, TAAP_BUF_NOMEM
 * when memory ran out (buf.h); *out is then NULL.
 */
int taap_expand(const char *in, int rounds, size_t max, taap_expand_lookup lookup, void *ctx,
                char **out);

#endif
