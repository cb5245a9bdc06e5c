/*
 * taap/settings.h — where a client's settings come from (SPEC §7):
 * flags > environment variables > a profile > a Postman environment file,
 * plus the {{NAME}} placeholders of Postman collections.
 *
 * Setting names (also the keys of the profile file):
 *   base_url      "https://host[:port]"
 *   token_path    token endpoint path or full URL (default /oauth2/v2/tokens)
 *   client_id
 *   secret        where the client secret comes from: "env:VAR",
 *                 "file:PATH" (the file must be mode 0600 or stricter),
 *                 "prompt", or "plain:VALUE" (the value itself; written to a
 *                 profile only with `taap profile add --insecure-store-secret`)
 *   private_key   a PEM file path, or the PEM text itself (Postman envs,
 *                 TAAP_PRIVATE_KEY may hold either)
 *   passphrase    where the key's passphrase comes from: env:/file:/prompt/plain:
 *   id_token      yes/no: send X-Auth-Originator: <id_token> on API calls
 *   cnf           yes/no: send {"cnf": public key} in the token request body
 *   cacert, cert, cert_key   TLS: CA bundle, mutual-TLS certificate and key
 *
 * Environment variables: TAAP_BASE_URL, TAAP_TOKEN_PATH, TAAP_CLIENT_ID,
 * TAAP_CLIENT_SECRET (the secret itself), TAAP_PRIVATE_KEY (path or PEM),
 * TAAP_KEY_PASSPHRASE (the passphrase itself), TAAP_ID_TOKEN, TAAP_CNF,
 * TAAP_CACERT; TAAP_PROFILE picks the profile.
 *
 * Profile file: $XDG_CONFIG_HOME/taap/profiles.ini (else
 * ~/.config/taap/profiles.ini), mode 0600, INI:
 *   # comment
 *   [emulator]
 *   base_url = http://127.0.0.1:8080
 *   client_id = 3f9c…
 *   secret = env:TAAP_EMULATOR_SECRET
 *   private_key = /home/me/.config/taap/private-key.pem
 *   var.ICCID = 8901260123456789012
 * Keys "var.NAME" give {{NAME}} placeholder values.
 */
#ifndef TAAP_SETTINGS_H
#define TAAP_SETTINGS_H

#include <stddef.h>
#include "taap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a value came from, highest precedence first. */
typedef enum taap_origin {
    TAAP_ORIGIN_NONE = 0,
    TAAP_ORIGIN_FLAG = 1,    /* command-line flag (or the program) */
    TAAP_ORIGIN_ENV = 2,     /* environment variable */
    TAAP_ORIGIN_PROFILE = 3, /* profile file */
    TAAP_ORIGIN_ENVFILE = 4  /* Postman environment file (-e) */
} taap_origin;

/* "flag", "environment", "profile", "environment file", "unset". */
TAAP_API const char *taap_origin_name(taap_origin o);

typedef struct taap_settings taap_settings;

/* An empty settings stack (no layer set yet); TAAP_E_NOMEM on failure.
 * Free with taap_settings_free(). One handle per thread. */
TAAP_API taap_code taap_settings_new(taap_settings **out, taap_error *err);
/* Free, wiping every value (secrets may be among them). NULL-safe. */
TAAP_API void taap_settings_free(taap_settings *s);

/*
 * taap_settings_set — put `value` for setting `name` in layer `origin`
 * (replacing what that layer had). NULL value removes it. Unknown setting
 * names are refused (TAAP_E_CONFIG) so a typo is caught.
 */
TAAP_API taap_code taap_settings_set(taap_settings *s, taap_origin origin, const char *name,
                                     const char *value, taap_error *err);

/* taap_settings_set_var — a {{NAME}} value in a layer (FLAG = --var). */
TAAP_API taap_code taap_settings_set_var(taap_settings *s, taap_origin origin, const char *name,
                                         const char *value, taap_error *err);

/* taap_settings_load_environment — the TAAP_* variables into the ENV layer. */
TAAP_API taap_code taap_settings_load_environment(taap_settings *s, taap_error *err);

/*
 * taap_settings_load_profile — one section of a profile file into the
 * PROFILE layer. `path` NULL → the default file; `name` NULL → "default".
 * A missing default file with the profile "default" is not an error
 * (*found = 0); a named profile that does not exist is (TAAP_E_CONFIG).
 * Malformed lines fail with the file and line number.
 */
TAAP_API taap_code taap_settings_load_profile(taap_settings *s, const char *path, const char *name,
                                              int *found, taap_error *err);

/*
 * taap_settings_load_postman_env — a Postman environment (or globals) file
 * into the ENVFILE layer: {"values":[{"key","value","enabled"}…]} or a bare
 * array; UTF-8 BOM tolerated; entries with "enabled": false or
 * "disabled": true skipped; the last enabled duplicate wins. Every entry
 * becomes a {{key}} value; keys that name a setting (compared ignoring case,
 * spaces, '_' and '-'; e.g. "client id", "clientId", "client_secret",
 * "privateKey", "baseUrl", "tokenUrl") also set it. Bounded to 4 MiB.
 */
TAAP_API taap_code taap_settings_load_postman_env(taap_settings *s, const char *path,
                                                  taap_error *err);

/* taap_settings_get — the value of the highest-precedence layer that has
 * `name`, or NULL. *origin (may be NULL) says which. Owned by `s`. */
TAAP_API const char *taap_settings_get(const taap_settings *s, const char *name,
                                       taap_origin *origin);

/* taap_settings_var — a {{NAME}} value (FLAG > PROFILE > ENVFILE) or NULL. */
TAAP_API const char *taap_settings_var(const taap_settings *s, const char *name);

/*
 * taap_settings_expand — replace {{NAME}} in `in` with variable values,
 * Postman's way: the name is everything between the braces (not trimmed),
 * nested values are expanded again (at most 19 rounds), and an unknown
 * name stays as it is. *out is malloc'd. *first_unresolved (may be NULL)
 * gets a malloc'd copy of the first name left unresolved, or NULL.
 * The result is bounded to 16 MiB.
 */
TAAP_API taap_code taap_settings_expand(const taap_settings *s, const char *in, char **out,
                                        char **first_unresolved, taap_error *err);

/*
 * taap_settings_read_secret — resolve a source spec ("env:VAR",
 * "file:PATH", "plain:VALUE"). "file:" refuses a file readable or writable
 * by group or others and a symbolic link; one trailing newline is removed.
 * "prompt" returns TAAP_E_NEED_PASSPHRASE (the caller prompts: the library
 * never touches the terminal). Anything else is TAAP_E_CONFIG. *out is
 * freed with taap_settings_free_secret().
 */
TAAP_API taap_code taap_settings_read_secret(const char *spec, char **out, taap_error *err);
TAAP_API void taap_settings_free_secret(char *secret);

/* taap_settings_bool — "yes/true/1/on" → 1, "no/false/0/off" → 0, else -1. */
TAAP_API int taap_settings_bool(const char *v);

/* ---- the profile file --------------------------------------------------- */

typedef struct taap_profiles taap_profiles;

/* taap_profiles_default_path — the default profile file path (malloc'd). */
TAAP_API taap_code taap_profiles_default_path(char **out, taap_error *err);

/* taap_profiles_load — parse the file (`path` NULL → default); a missing
 * file gives an empty set. Free with taap_profiles_free(). */
TAAP_API taap_code taap_profiles_load(const char *path, taap_profiles **out, taap_error *err);
TAAP_API void taap_profiles_free(taap_profiles *p);

/* Profile names in file order; *n set. The array is owned by `p`. */
TAAP_API const char *const *taap_profiles_names(const taap_profiles *p, size_t *n);

/* The i-th key/value of profile `name` (0-based); 0 when out of range. */
TAAP_API int taap_profiles_entry(const taap_profiles *p, const char *name, size_t i,
                                 const char **key, const char **value);

/* Set (or, with value NULL, delete) a key; creates the profile. Checks the
 * profile name ([A-Za-z0-9._-], 1..64) and the key (a setting name or
 * var.NAME); values may not contain line breaks. */
TAAP_API taap_code taap_profiles_set(taap_profiles *p, const char *name, const char *key,
                                     const char *value, taap_error *err);

/* Remove a whole profile. TAAP_E_NOT_FOUND if absent. */
TAAP_API taap_code taap_profiles_remove(taap_profiles *p, const char *name, taap_error *err);

/* Write the file atomically with mode 0600 (directory created 0700). */
TAAP_API taap_code taap_profiles_save(const taap_profiles *p, const char *path, taap_error *err);

/* ---- the command's view: one cli_config per command (cli_resolve.c) ------
 *
 * Every command resolves its key, credentials, base URL and {{NAME}}
 * values through a cli_config: flags > environment variables (TAAP_*) >
 * the profile (--profile, else $TAAP_PROFILE, else [default]) > a Postman
 * environment file (-e). The private key, last of all, is ./private-key.pem
 * when it exists (what `taap keygen` writes). Messages name where a value
 * came from. Functions print their own one-line errors. */

#define CLI_DEFAULT_KEY_FILE "private-key.pem"

typedef struct cli_config {
    taap_settings *settings;  /* the FLAG layer is filled while parsing */
    const char *profile;      /* --profile NAME, or NULL */
    const char *envfile;      /* -e FILE (Postman environment), or NULL */
    const char *profile_used; /* set by cli_config_load */
} cli_config;

struct cli_key_options;
struct taap_key;

/* 0, or an exit status (printed). */
int cli_config_init(cli_config *c);
void cli_config_free(cli_config *c);
/* A flag's value for setting `name`; 0, or -1 after printing why. */
int cli_config_set(cli_config *c, const char *name, const char *value);
/* --var NAME=VALUE; 0, or -1 after printing why. */
int cli_config_set_var(cli_config *c, const char *assignment);
/* Environment, profile and environment file, after the flags: 0, or the
 * exit status (54 no such profile or a malformed file; 31 unreadable). */
int cli_config_load(cli_config *c);
/* The value of `name` (or NULL); `from` (may be NULL) gets where it came
 * from: "from --key", "from environment variable TAAP_PRIVATE_KEY",
 * "from private_key in profile 'x'", "from environment file F". */
const char *cli_config_get(const cli_config *c, const char *name, char *from, size_t cap);
/* The private key: --key, TAAP_PRIVATE_KEY, the profile, -e, then
 * ./private-key.pem. 0, or the exit status (54 none anywhere; else as
 * cli_load_private_key). */
int cli_config_key(cli_config *c, const struct cli_key_options *opt, struct taap_key **out);

#ifdef __cplusplus
}
#endif
#endif
