/* cli_secret.c — secrets from a file, the environment or the terminal, and
 * the shared private-key loader (see cli_secret.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "cli_secret.h"

void cli_secret_free(char *secret)
{
    if (!secret)
        return;
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
}

/* A malloc'd copy of buf[0..n) as a string; NULL on allocation failure. */
static char *secret_dup(const char *buf, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, buf, n);
        s[n] = '\0';
    }
    return s;
}

cli_secret_status cli_secret_from_file(const char *path, char **out)
{
    *out = NULL;
    if (!path)
        return CLI_SECRET_NONE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_errorf("passphrase file %s: %s", path, strerror(errno));
        return CLI_SECRET_ERROR;
    }
    /* Read at most MAX + 2 bytes: enough to see "secret\r\n" at the limit
     * and to notice anything longer. */
    char buf[CLI_SECRET_MAX + 3];
    size_t n = 0;
    int rerr = 0;
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rerr = errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    cli_secret_status st = CLI_SECRET_ERROR;
    if (rerr) {
        cli_errorf("passphrase file %s: %s", path, strerror(rerr));
        goto done;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    if (n > CLI_SECRET_MAX) {
        cli_errorf("passphrase file %s: longer than %d bytes", path, CLI_SECRET_MAX);
        goto done;
    }
    if (n == 0) {
        cli_errorf("passphrase file %s is empty", path);
        goto done;
    }
    if (memchr(buf, '\0', n)) {
        cli_errorf("passphrase file %s contains a NUL byte", path);
        goto done;
    }
    *out = secret_dup(buf, n);
    if (!*out) {
        cli_errorf("out of memory");
        goto done;
    }
    st = CLI_SECRET_OK;
done:
    OPENSSL_cleanse(buf, sizeof buf);
    return st;
}

cli_secret_status cli_secret_from_env(const char *name, char **out)
{
    *out = NULL;
    const char *v = name ? getenv(name) : NULL;
    if (!v || !*v)
        return CLI_SECRET_NONE;
    size_t n = strlen(v);
    if (n > CLI_SECRET_MAX) {
        cli_errorf("environment variable %s: longer than %d bytes", name, CLI_SECRET_MAX);
        return CLI_SECRET_ERROR;
    }
    *out = secret_dup(v, n);
    if (!*out) {
        cli_errorf("out of memory");
        return CLI_SECRET_ERROR;
    }
    return CLI_SECRET_OK;
}

/* ---- the terminal prompt ------------------------------------------------ */

/* Signals that would leave the terminal with echo off if they struck while
 * we read: caught, the terminal restored, then re-raised. */
static const int prompt_signals[] = {SIGINT, SIGHUP, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};
#define NSIG_PROMPT (sizeof prompt_signals / sizeof prompt_signals[0])
static volatile sig_atomic_t prompt_caught;

static void prompt_on_signal(int sig)
{
    prompt_caught = sig;
}

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/*
 * One line from the terminal with echo off into buf (NUL-terminated).
 * Returns 0, or -1 for a hard failure, -2 for too long, -3 for interrupted.
 */
static int tty_read_line(int fd, const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0)
        return -1;
    struct sigaction sa, saved[NSIG_PROMPT];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prompt_on_signal; /* no SA_RESTART: read() must return */
    sigemptyset(&sa.sa_mask);
    prompt_caught = 0;
    for (size_t i = 0; i < NSIG_PROMPT; i++)
        sigaction(prompt_signals[i], &sa, &saved[i]);
    quiet = old;
    quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    write_all(fd, prompt);
    int rc = tcsetattr(fd, TCSAFLUSH, &quiet) == 0 ? 0 : -1;
    size_t n = 0;
    int too_long = 0;
    while (rc == 0) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            if (prompt_caught)
                rc = -3;
            continue;
        }
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0 || c == '\n' || c == '\r')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
        else
            too_long = 1; /* keep reading: the rest of the line must not leak to the shell */
    }
    buf[n] = '\0';
    tcsetattr(fd, TCSAFLUSH, &old);
    write_all(fd, "\n");
    for (size_t i = 0; i < NSIG_PROMPT; i++)
        sigaction(prompt_signals[i], &saved[i], NULL);
    if (prompt_caught) {
        /* Terminal restored: now let the signal do what it would have done. */
        raise(prompt_caught);
        rc = -3;
    }
    if (rc == 0 && too_long)
        rc = -2;
    return rc;
}

cli_secret_status cli_secret_prompt(const char *prompt, int confirm, char **out)
{
    *out = NULL;
    if (!prompt)
        return CLI_SECRET_NONE;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return CLI_SECRET_NONE;
    char a[CLI_SECRET_MAX + 1], b[CLI_SECRET_MAX + 1];
    cli_secret_status st = CLI_SECRET_ERROR;
    int rc = tty_read_line(fd, prompt, a, sizeof a);
    if (rc == 0 && confirm) {
        char again[256];
        snprintf(again, sizeof again, "Repeat %s", prompt);
        rc = tty_read_line(fd, again, b, sizeof b);
        if (rc == 0 && (strlen(a) != strlen(b) || CRYPTO_memcmp(a, b, strlen(a)) != 0)) {
            cli_errorf("the passphrases do not match");
            goto done;
        }
    }
    if (rc == -1 && !isatty(fd)) {
        st = CLI_SECRET_NONE;
        goto done;
    }
    if (rc == -1)
        cli_errorf("cannot read from the terminal: %s", strerror(errno));
    else if (rc == -2)
        cli_errorf("passphrase longer than %d bytes", CLI_SECRET_MAX);
    else if (rc == -3)
        cli_errorf("interrupted");
    else if (!a[0])
        cli_errorf("empty passphrase");
    else if (!(*out = secret_dup(a, strlen(a))))
        cli_errorf("out of memory");
    else
        st = CLI_SECRET_OK;
done:
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    close(fd);
    return st;
}

cli_secret_status cli_secret_get(const cli_secret_source *src, char **out)
{
    *out = NULL;
    cli_secret_status st = cli_secret_from_file(src->file, out);
    if (st != CLI_SECRET_NONE)
        return st;
    st = cli_secret_from_env(src->env, out);
    if (st != CLI_SECRET_NONE)
        return st;
    return cli_secret_prompt(src->prompt, src->confirm, out);
}

/* ---- loading a private key ---------------------------------------------- */

static unsigned key_flags(const cli_key_options *opt)
{
    const char *legacy = getenv(CLI_KEY_LEGACY_ENV);
    int on = (opt && opt->allow_legacy) || (legacy && *legacy && strcmp(legacy, "0") != 0);
    return on ? TAAP_KEY_ALLOW_LEGACY : 0;
}

/* One attempt: from a file when path is set, else from memory. */
static taap_code load_once(const char *path, const void *data, size_t len, const char *pass,
                           unsigned flags, taap_key **out, int *insecure, taap_error *err)
{
    taap_error_clear(err);
    if (path)
        return taap_key_load_private_file(path, pass, flags, out, insecure, err);
    return taap_key_load_private(data, len, pass, flags, out, err);
}

/* A key error, naming where the key setting came from when known. */
static int key_report(const taap_error *err, const cli_key_options *opt)
{
    if (!opt || !opt->origin)
        return cli_report(err);
    cli_errorf("%s (the key %s)", err->message[0] ? err->message : taap_strerror(err->code),
               opt->origin);
    return err->code == TAAP_OK ? CLI_EXIT_FAIL : (int)err->code;
}

static int load_common(const char *path, const void *data, size_t len, const char *what,
                       const cli_key_options *opt, taap_key **out)
{
    *out = NULL;
    unsigned flags = key_flags(opt);
    taap_error err = TAAP_ERROR_INIT;
    int insecure = 0;
    taap_code rc = load_once(path, data, len, NULL, flags, out, &insecure, &err);
    /* The mode warning only for a key that is one: a public key given by
     * mistake gets the real error alone. */
    if (insecure && (rc == TAAP_OK || rc == TAAP_E_NEED_PASSPHRASE)) {
        struct stat st;
        unsigned mode = stat(path, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0;
        cli_warnf("%s is accessible by group or others (mode %04o); restrict it: chmod 600 %s", path,
                  mode, path);
    }
    if (rc != TAAP_E_NEED_PASSPHRASE)
        return rc == TAAP_OK ? CLI_EXIT_OK : key_report(&err, opt);

    /* Encrypted: file, then environment, then the terminal. */
    const char *env = (opt && opt->passphrase_env) ? opt->passphrase_env : CLI_PASSPHRASE_ENV;
    char *pass = NULL;
    if (opt && opt->passphrase) {
        rc = load_once(path, data, len, opt->passphrase, flags, out, NULL, &err);
        return rc == TAAP_OK ? CLI_EXIT_OK : key_report(&err, opt);
    }
    cli_secret_status st = cli_secret_from_file(opt ? opt->passphrase_file : NULL, &pass);
    if (st == CLI_SECRET_NONE)
        st = cli_secret_from_env(env, &pass);
    if (st == CLI_SECRET_ERROR)
        return CLI_EXIT_FAIL;
    if (st == CLI_SECRET_OK) {
        rc = load_once(path, data, len, pass, flags, out, NULL, &err);
        cli_secret_free(pass);
        return rc == TAAP_OK ? CLI_EXIT_OK : key_report(&err, opt);
    }
    char prompt[512];
    snprintf(prompt, sizeof prompt, "Passphrase for %s: ", what);
    for (int attempt = 0; attempt < 3; attempt++) {
        st = (opt && opt->no_prompt) ? CLI_SECRET_NONE : cli_secret_prompt(prompt, 0, &pass);
        if (st == CLI_SECRET_ERROR)
            return CLI_EXIT_FAIL;
        if (st == CLI_SECRET_NONE) {
            cli_errorf("%s is encrypted: give its passphrase with --passphrase-file FILE or the %s "
                       "environment variable%s",
                       what, env, (opt && opt->no_prompt) ? "" : ", or run on a terminal to be asked");
            return TAAP_E_NEED_PASSPHRASE;
        }
        rc = load_once(path, data, len, pass, flags, out, NULL, &err);
        cli_secret_free(pass);
        pass = NULL;
        if (rc != TAAP_E_BAD_PASSPHRASE)
            break;
        if (attempt < 2)
            cli_errorf("wrong passphrase, try again");
    }
    return rc == TAAP_OK ? CLI_EXIT_OK : key_report(&err, opt);
}

int cli_load_private_key(const char *path, const cli_key_options *opt, taap_key **out)
{
    return load_common(path, NULL, 0, path, opt, out);
}

int cli_load_private_key_mem(const void *data, size_t len, const char *what,
                             const cli_key_options *opt, taap_key **out)
{
    /* .env files and CI secrets often hold the PEM with literal "\n"
     * escapes instead of line breaks (a PEM never holds a backslash): turn
     * them back into newlines. */
    const char *in = data;
    char *pem = malloc(len + 1);
    if (!pem) {
        *out = NULL;
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    size_t m = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\\' && i + 1 < len && in[i + 1] == 'n') {
            pem[m++] = '\n';
            i++;
        } else {
            pem[m++] = in[i];
        }
    }
    int rc = load_common(NULL, pem, m, what ? what : "the private key", opt, out);
    OPENSSL_cleanse(pem, len + 1);
    free(pem);
    return rc;
}

int cli_load_private_key_spec(const char *spec, const char *what, const cli_key_options *opt,
                              taap_key **out)
{
    if (strstr(spec, "-----BEGIN"))
        return cli_load_private_key_mem(spec, strlen(spec), what, opt, out);
    return cli_load_private_key(spec, opt, out);
}
