/*
 * taap/error.h — the one error enum of libtaap and the caller-owned error
 * record that carries a human-readable detail message.
 *
 * Every fallible libtaap function returns a taap_code and, when given a
 * non-NULL taap_error *, fills it with the same code and a one-line message
 * that says what was wrong and what was expected. Messages never contain a
 * key, a secret, a passphrase or a whole token.
 *
 * The numbers are frozen: they are also the exit status of `taap verify`
 * (SPEC §2) and of the other commands (docs/taap.1). New codes are only ever
 * appended.
 */
#ifndef TAAP_ERROR_H
#define TAAP_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TAAP_BUILDING_LIBRARY)
#define TAAP_API __attribute__((visibility("default")))
#else
#define TAAP_API
#endif

typedef enum taap_code {
    TAAP_OK = 0,

    /* 2: usage error (bad argument to a function or a command). */
    TAAP_E_USAGE = 2,

    /* SPEC §2 verification codes (also `taap verify` exit status). */
    TAAP_E_MALFORMED = 10,      /* not a compact JWS / bad base64url / bad JSON / too big */
    TAAP_E_ALG = 11,            /* alg not RS256, crit/b64, nested cty, bad typ */
    TAAP_E_SIGNATURE = 12,      /* signature does not verify with the key */
    TAAP_E_EXPIRED = 13,        /* now >= exp + leeway */
    TAAP_E_NOT_YET_VALID = 14,  /* iat or nbf in the future beyond leeway */
    TAAP_E_LIFETIME = 15,       /* exp <= iat or exp - iat too long */
    TAAP_E_CLAIMS = 16,         /* required claim missing / wrong type / bad v */
    TAAP_E_EHTS = 17,           /* ehts malformed, duplicate, too many, names a missing part */
    TAAP_E_COVERAGE = 18,       /* a required part is not covered */
    TAAP_E_EDTS = 19,           /* edts does not match the request */
    TAAP_E_REPLAY = 20,         /* jti already used */
    TAAP_E_KEY = 21,            /* key unreadable or refused by key policy */

    /* Library errors beyond verification. */
    TAAP_E_NOMEM = 30,          /* allocation failed */
    TAAP_E_IO = 31,             /* file could not be read or written */
    TAAP_E_CRYPTO = 32,         /* OpenSSL failed where it should not have */
    TAAP_E_NEED_PASSPHRASE = 33,/* the private key is encrypted and no passphrase was given */
    TAAP_E_BAD_PASSPHRASE = 34, /* the passphrase does not decrypt the key */
    TAAP_E_REPLAY_STORE = 35,   /* replay cache full or unavailable: fails closed */

    /* PoP builder refusals (SPEC §1.1), one code each. */
    TAAP_E_BUILD_EMPTY = 40,     /* no entries to sign */
    TAAP_E_BUILD_TOO_MANY = 41,  /* more than 100 entries */
    TAAP_E_BUILD_EMPTY_NAME = 42,/* an entry with an empty name */
    TAAP_E_BUILD_BAD_NAME = 43,  /* a name that is not an HTTP token or pseudo-name */
    TAAP_E_BUILD_DUPLICATE = 44, /* two names equal ignoring case */
    TAAP_E_BUILD_SEMICOLON = 45, /* a name containing ';' */
    TAAP_E_BUILD_LIFETIME = 46,  /* lifetime outside 1..120 s */

    /* Client side: HTTP, OAuth, API. */
    TAAP_E_HTTP = 50,           /* transport failure: connect, TLS, timeout, truncated */
    TAAP_E_HTTP_STATUS = 51,    /* the server answered with an error status */
    TAAP_E_OAUTH = 52,          /* token endpoint refused or answered nonsense */
    TAAP_E_RESPONSE = 53,       /* response body not what the protocol says */
    TAAP_E_CONFIG = 54,         /* settings / profile / environment file problem */

    /* Server side. */
    TAAP_E_SERVER = 60,         /* emulator could not start or serve */
    TAAP_E_STORE = 61,          /* emulator database error */
    TAAP_E_NOT_FOUND = 62       /* a named object does not exist */
} taap_code;

/* Size of the message buffer in taap_error; messages are truncated to fit. */
#define TAAP_ERROR_MESSAGE_MAX 512

/*
 * Caller-owned error record. Initialise with TAAP_ERROR_INIT or
 * taap_error_clear(). The library writes `code` and a NUL-terminated
 * `message`; it never allocates inside it.
 */
typedef struct taap_error {
    taap_code code;
    char message[TAAP_ERROR_MESSAGE_MAX];
} taap_error;

#define TAAP_ERROR_INIT { TAAP_OK, { 0 } }

/*
 * taap_strerror — the fixed, short English name of a code ("PoP token
 * expired"). Never NULL; unknown codes give "unknown error".
 * Thread-safe (static strings).
 */
TAAP_API const char *taap_strerror(taap_code code);

/*
 * taap_code_name — the symbolic name of a code ("TAAP_E_EXPIRED"), for JSON
 * output and logs. Never NULL. Thread-safe.
 */
TAAP_API const char *taap_code_name(taap_code code);

/* taap_error_clear — reset to TAAP_OK with an empty message. NULL-safe. */
TAAP_API void taap_error_clear(taap_error *err);

#ifdef __cplusplus
}
#endif
#endif
