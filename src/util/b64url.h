/* b64url.h — base64url without padding (RFC 7515 §2), strict decoding. */
#ifndef TAAP_B64URL_H
#define TAAP_B64URL_H

#include <stddef.h>

/* Characters needed to encode n bytes (no padding, no NUL). */
#define TAAP_B64URL_LEN(n) (((n) / 3) * 4 + (((n) % 3) ? ((n) % 3) + 1 : 0))

/* Encode n bytes into out (room for TAAP_B64URL_LEN(n) + 1); NUL-terminates.
 * Returns the encoded length. */
size_t taap_b64url_encode(const void *in, size_t n, char *out);

/*
 * Strict decode (SPEC §2.1): alphabet A-Za-z0-9-_ only, no '=', no
 * whitespace, length mod 4 != 1, unused trailing bits zero. `out` needs
 * room for n*3/4 bytes. Returns 0 and sets *out_len, or -1 when invalid.
 */
int taap_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *out_len);

/* Lenient decode for keys (JWK): accepts '=' padding and the standard
 * alphabet's + and /. Returns 0 or -1. */
int taap_b64_decode_lenient(const char *in, size_t n, unsigned char *out, size_t *out_len);

/* Standard base64 (with padding) for HTTP Basic credentials. */
size_t taap_b64std_encode(const void *in, size_t n, char *out);
#define TAAP_B64STD_LEN(n) ((((n) + 2) / 3) * 4)

#endif
