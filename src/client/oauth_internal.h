/* oauth_internal.h — helpers shared by oauth.c, token_cache.c and client.c. */
#ifndef TAAP_OAUTH_INTERNAL_H
#define TAAP_OAUTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Seconds before expiry at which a token of this lifetime is refreshed. */
int64_t oauth_margin(int64_t expires_in);

/* Printable copy of untrusted server text with `secret` (if >= 4 chars)
 * replaced by "[redacted]". Always NUL-terminates. */
void oauth_scrub_copy(char *dst, size_t cap, const char *untrusted, size_t n, const char *secret);

/* One line from an error body: OAuth error/error_description, T-Mobile
 * userMessage/systemMessage, or the start of a non-JSON body; scrubbed. */
void oauth_error_summary(const char *body, size_t len, const char *secret, char *out, size_t cap);

/* base + path ("/" handled); a path that is a full URL is returned as is.
 * malloc'd; NULL when base is NULL and path is not a URL. */
char *oauth_join_url(const char *base, const char *path);


#endif
