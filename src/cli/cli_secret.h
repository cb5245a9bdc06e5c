/*
 * cli_secret.h — passphrases and other secrets for taap commands, and the
 * one way every command loads a private key.
 *
 * A secret never comes from a command-line argument (it would show in `ps`
 * and in shell history): only from a file, an environment variable, or a
 * prompt on the controlling terminal (/dev/tty) with echo off. Every secret
 * returned here is a malloc'd NUL-terminated string that the caller frees
 * with cli_secret_free(), which wipes it first.
 *
 * None of these functions is thread-safe (the prompt changes terminal modes
 * and signal handlers); commands call them from the main thread before any
 * work starts.
 */
#ifndef TAAP_CLI_SECRET_H
#define TAAP_CLI_SECRET_H

#include <stddef.h>
#include "taap/key.h"

/* The environment variable a private key's passphrase is read from by
 * default, and the one that allows legacy (PBES1, DES…) encrypted keys. */
#define CLI_PASSPHRASE_ENV "TAAP_KEY_PASSPHRASE"
#define CLI_KEY_LEGACY_ENV "TAAP_KEY_LEGACY"

/* Longest secret accepted from any source, in bytes (excluding the NUL). */
#define CLI_SECRET_MAX 1024

typedef enum cli_secret_status {
    CLI_SECRET_OK = 0,   /* *out holds the secret */
    CLI_SECRET_NONE = 1, /* this source has none: no file given, variable unset or empty,
                            no terminal to prompt on. Nothing printed. */
    CLI_SECRET_ERROR = 2 /* the source failed (unreadable or empty file, too long, prompts
                            differ, interrupted); one error line already printed */
} cli_secret_status;

/*
 * cli_secret_from_file — the whole content of `path` with ONE trailing
 * newline ("\n" or "\r\n") removed, the form `echo secret > file` and most
 * secret stores produce. Symbolic links, FIFOs and /dev/fd/N are followed
 * (`--passphrase-file <(pass show taap)` works). An empty result, a NUL byte
 * or more than CLI_SECRET_MAX bytes is an error. NONE only when path is NULL.
 */
cli_secret_status cli_secret_from_file(const char *path, char **out);

/*
 * cli_secret_from_env — a copy of environment variable `name`. NONE when
 * `name` is NULL or the variable is unset or empty.
 */
cli_secret_status cli_secret_from_env(const char *name, char **out);

/*
 * cli_secret_prompt — ask on /dev/tty with echo off (stdin and stdout stay
 * free for data). With `confirm`, asks twice ("Repeat …") and fails if the
 * answers differ. NONE when there is no controlling terminal (CI, tests,
 * cron). An empty answer is an error. A signal during the prompt (Ctrl-C)
 * restores the terminal and then takes its normal effect.
 */
cli_secret_status cli_secret_prompt(const char *prompt, int confirm, char **out);

/* Where to look for a secret, in this order: file, environment, prompt. */
typedef struct cli_secret_source {
    const char *file;   /* a --passphrase-file argument, or NULL */
    const char *env;    /* an environment variable name, or NULL */
    const char *prompt; /* prompt text for the terminal, or NULL to never prompt */
    int confirm;        /* prompt twice (choosing a new secret) */
} cli_secret_source;

/*
 * cli_secret_get — the first source that has a secret. A file that is
 * given but fails is an ERROR (never silently skipped in favour of the
 * next source). NONE when no source had one.
 */
cli_secret_status cli_secret_get(const cli_secret_source *src, char **out);

/* Wipe and free a secret from this module. NULL-safe. */
void cli_secret_free(char *secret);

/* How a command loads its private key (its --key / TAAP_PRIVATE_KEY). */
typedef struct cli_key_options {
    const char *passphrase_file; /* --passphrase-file FILE, or NULL */
    const char *passphrase_env;  /* variable to read; NULL means CLI_PASSPHRASE_ENV */
    int no_prompt;               /* 1: never prompt on the terminal */
    int allow_legacy;            /* 1: TAAP_KEY_ALLOW_LEGACY (also set by TAAP_KEY_LEGACY=1) */
    const char *passphrase;      /* the passphrase itself (a profile's or environment file's
                                    plain: value), tried before the file; or NULL */
    const char *origin;          /* where the key setting came from ("from --key"…), added to
                                    errors; NULL: nothing added */
} cli_key_options;

/*
 * cli_load_private_key — load the private key in file `path` for a command.
 * `opt` may be NULL (defaults: env TAAP_KEY_PASSPHRASE, prompt allowed).
 *
 * First tries without a passphrase (no question asked for a plain key).
 * When the key is encrypted, gets the passphrase from opt->passphrase_file,
 * then the environment variable, then a prompt "Passphrase for PATH: ";
 * a wrong passphrase typed at the prompt may be retried (3 attempts).
 * Warns on stderr when the file is readable or writable by group or others.
 *
 * Returns 0 with *out set (free with taap_key_free), or, after printing
 * one error line, the exit status for the command: the taap_code of the
 * failure (21 key refused, 31 I/O, 33 passphrase needed but none available,
 * 34 wrong passphrase) or 1 when a passphrase source itself failed.
 */
int cli_load_private_key(const char *path, const cli_key_options *opt, taap_key **out);

/*
 * cli_load_private_key_mem — the same for a key held in memory (a PEM in
 * an environment variable or a Postman environment). `what` names it in
 * messages and the prompt ("TAAP_PRIVATE_KEY", "environment privateKey").
 * Literal "\n" escapes (.env files, CI secrets) count as line breaks.
 * No file-mode warning.
 */
int cli_load_private_key_mem(const void *data, size_t len, const char *what,
                             const cli_key_options *opt, taap_key **out);

/*
 * cli_load_private_key_spec — a key setting that holds either a file name
 * or the PEM text itself (TAAP_PRIVATE_KEY, a profile's private_key, a
 * Postman environment's privateKey): text containing "-----BEGIN" is the
 * PEM (cli_load_private_key_mem, named `what`), anything else a path
 * (cli_load_private_key). Returns as cli_load_private_key.
 */
int cli_load_private_key_spec(const char *spec, const char *what, const cli_key_options *opt,
                              taap_key **out);

#endif
