/* test_cli_secret.c — the CLI's secret sources and shared private-key loader
 * (src/cli/cli_secret.c, compiled into this test with stand-ins for the
 * three diagnostics functions of main.c, which record what was said).
 *
 * The tests run in a child that has left its controlling terminal
 * (setsid), so /dev/tty cannot be opened and no prompt can ever block: the
 * prompt path is exercised as "no terminal". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/cli/cli_secret.c"
#include "testutil.h"

/* ---- stand-ins for main.c ------------------------------------------------ */

const char *cli_progname = "test";
static char said_error[1024], said_warning[1024];

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(said_error, sizeof said_error, fmt, ap);
    va_end(ap);
}

void cli_warnf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(said_warning, sizeof said_warning, fmt, ap);
    va_end(ap);
}

int cli_report(const taap_error *err)
{
    snprintf(said_error, sizeof said_error, "%s", err->message);
    return err->code == TAAP_OK ? CLI_EXIT_FAIL : (int)err->code;
}

static void reset_said(void)
{
    said_error[0] = said_warning[0] = '\0';
}

static char *tmpdir;

static const char *tmp_path(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static cli_secret_status file_secret(const void *content, size_t len, char **out)
{
    tu_write(tmp_path("pass"), content, len);
    reset_said();
    return cli_secret_from_file(tmp_path("pass"), out);
}

/* ---- sources -------------------------------------------------------------- */

static void test_file_trailing_newline(void **state)
{
    (void)state;
    char *s = NULL;
    assert_int_equal(file_secret("pw", 2, &s), CLI_SECRET_OK);
    assert_string_equal(s, "pw");
    cli_secret_free(s);
    assert_int_equal(file_secret("pw\n", 3, &s), CLI_SECRET_OK);
    assert_string_equal(s, "pw");
    cli_secret_free(s);
    assert_int_equal(file_secret("pw\r\n", 4, &s), CLI_SECRET_OK);
    assert_string_equal(s, "pw");
    cli_secret_free(s);
    /* Only one line end is removed; inner spaces are kept. */
    assert_int_equal(file_secret("a b \n\n", 6, &s), CLI_SECRET_OK);
    assert_string_equal(s, "a b \n");
    cli_secret_free(s);
}

static void test_file_refusals(void **state)
{
    (void)state;
    char *s = NULL;
    assert_int_equal(file_secret("", 0, &s), CLI_SECRET_ERROR);
    assert_non_null(strstr(said_error, "is empty"));
    assert_int_equal(file_secret("\n", 1, &s), CLI_SECRET_ERROR);
    assert_non_null(strstr(said_error, "is empty"));
    assert_int_equal(file_secret("a\0b", 3, &s), CLI_SECRET_ERROR);
    assert_non_null(strstr(said_error, "NUL"));
    char big[CLI_SECRET_MAX + 2];
    memset(big, 'x', sizeof big);
    assert_int_equal(file_secret(big, CLI_SECRET_MAX + 1, &s), CLI_SECRET_ERROR);
    assert_non_null(strstr(said_error, "longer than"));
    big[CLI_SECRET_MAX] = '\n'; /* exactly the maximum plus its newline */
    assert_int_equal(file_secret(big, CLI_SECRET_MAX + 1, &s), CLI_SECRET_OK);
    assert_int_equal(strlen(s), CLI_SECRET_MAX);
    cli_secret_free(s);
    assert_null(s = NULL);
    reset_said();
    assert_int_equal(cli_secret_from_file(tmp_path("missing"), &s), CLI_SECRET_ERROR);
    assert_non_null(strstr(said_error, "missing"));
    assert_null(s);
    assert_int_equal(cli_secret_from_file(NULL, &s), CLI_SECRET_NONE);
}

static void test_env_and_order(void **state)
{
    (void)state;
    char *s = NULL;
    unsetenv("T_SECRET");
    assert_int_equal(cli_secret_from_env("T_SECRET", &s), CLI_SECRET_NONE);
    setenv("T_SECRET", "", 1);
    assert_int_equal(cli_secret_from_env("T_SECRET", &s), CLI_SECRET_NONE);
    setenv("T_SECRET", "from env", 1);
    assert_int_equal(cli_secret_from_env("T_SECRET", &s), CLI_SECRET_OK);
    assert_string_equal(s, "from env");
    cli_secret_free(s);
    assert_int_equal(cli_secret_from_env(NULL, &s), CLI_SECRET_NONE);

    /* File first; a file that fails is an error, never skipped for env. */
    tu_write(tmp_path("pass"), "from file\n", 10);
    cli_secret_source src = {tmp_path("pass"), "T_SECRET", "Passphrase: ", 0};
    assert_int_equal(cli_secret_get(&src, &s), CLI_SECRET_OK);
    assert_string_equal(s, "from file");
    cli_secret_free(s);
    src.file = tmp_path("missing");
    assert_int_equal(cli_secret_get(&src, &s), CLI_SECRET_ERROR);
    src.file = NULL;
    assert_int_equal(cli_secret_get(&src, &s), CLI_SECRET_OK);
    assert_string_equal(s, "from env");
    cli_secret_free(s);
    /* Nothing anywhere and no terminal: NONE, and nothing printed. */
    unsetenv("T_SECRET");
    reset_said();
    assert_int_equal(cli_secret_get(&src, &s), CLI_SECRET_NONE);
    assert_null(s);
    assert_string_equal(said_error, "");
    assert_int_equal(cli_secret_prompt("Passphrase: ", 1, &s), CLI_SECRET_NONE);
    cli_secret_free(NULL);
}

/* ---- the private-key loader ----------------------------------------------- */

static const char *key_copy(const char *rel, unsigned mode)
{
    size_t len;
    char *pem = tu_read(tu_data(rel), &len);
    static char p[4096]; /* its own buffer: tmp_path's is reused */
    snprintf(p, sizeof p, "%s", tmp_path("key.pem"));
    unlink(p);
    tu_write(p, pem, len);
    free(pem);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

static void test_load_plain_and_mode_warning(void **state)
{
    (void)state;
    taap_key *k = NULL;
    const char *p = key_copy("keys/rsa2048.pkcs8.pem", 0600);
    reset_said();
    assert_int_equal(cli_load_private_key(p, NULL, &k), 0);
    assert_non_null(k);
    assert_string_equal(said_warning, "");
    taap_key_free(k);
    p = key_copy("keys/rsa2048.pkcs8.pem", 0644);
    assert_int_equal(cli_load_private_key(p, NULL, &k), 0);
    assert_non_null(strstr(said_warning, "mode 0644"));
    assert_non_null(strstr(said_warning, "chmod 600"));
    taap_key_free(k);
}

static void test_load_encrypted_sources(void **state)
{
    (void)state;
    taap_key *k = NULL;
    const char *p = key_copy("keys/rsa2048.pbes2.pem", 0600);
    unsetenv(CLI_PASSPHRASE_ENV);
    /* No source, no terminal: 33 with a message naming the ways to give it. */
    reset_said();
    assert_int_equal(cli_load_private_key(p, NULL, &k), TAAP_E_NEED_PASSPHRASE);
    assert_null(k);
    assert_non_null(strstr(said_error, "--passphrase-file"));
    assert_non_null(strstr(said_error, CLI_PASSPHRASE_ENV));
    cli_key_options opt = {0};
    opt.no_prompt = 1;
    assert_int_equal(cli_load_private_key(p, &opt, &k), TAAP_E_NEED_PASSPHRASE);
    assert_null(strstr(said_error, "terminal"));
    /* The default variable. */
    setenv(CLI_PASSPHRASE_ENV, "foobar", 1);
    assert_int_equal(cli_load_private_key(p, NULL, &k), 0);
    taap_key_free(k);
    setenv(CLI_PASSPHRASE_ENV, "wrong", 1);
    reset_said();
    assert_int_equal(cli_load_private_key(p, NULL, &k), TAAP_E_BAD_PASSPHRASE);
    assert_non_null(strstr(said_error, "wrong passphrase"));
    unsetenv(CLI_PASSPHRASE_ENV);
    /* A named variable. */
    setenv("MY_KEY_PASS", "foobar", 1);
    opt.passphrase_env = "MY_KEY_PASS";
    assert_int_equal(cli_load_private_key(p, &opt, &k), 0);
    taap_key_free(k);
    unsetenv("MY_KEY_PASS");
    /* A file wins over the environment. */
    tu_write(tmp_path("pass"), "foobar\n", 7);
    setenv("MY_KEY_PASS", "wrong", 1);
    opt.passphrase_file = tmp_path("pass");
    assert_int_equal(cli_load_private_key(p, &opt, &k), 0);
    taap_key_free(k);
    unsetenv("MY_KEY_PASS");
    /* An unreadable passphrase file: 1, said why. */
    opt.passphrase_file = tmp_path("missing");
    reset_said();
    assert_int_equal(cli_load_private_key(p, &opt, &k), CLI_EXIT_FAIL);
    assert_non_null(strstr(said_error, "missing"));
    /* A plain key with a passphrase source: loads, the source unused. */
    opt.passphrase_file = tmp_path("missing");
    p = key_copy("keys/rsa2048.pkcs1.pem", 0600);
    assert_int_equal(cli_load_private_key(p, &opt, &k), 0);
    taap_key_free(k);
}

static void test_load_legacy_and_memory(void **state)
{
    (void)state;
    taap_key *k = NULL;
    const char *p = key_copy("keys/rsa2048.pbes1-md5-des.pem", 0600);
    setenv(CLI_PASSPHRASE_ENV, "foobar", 1);
    unsetenv(CLI_KEY_LEGACY_ENV);
    reset_said();
    assert_int_equal(cli_load_private_key(p, NULL, &k), TAAP_E_KEY);
    assert_non_null(strstr(said_error, "legacy"));
    cli_key_options opt = {0};
    opt.allow_legacy = 1;
    assert_int_equal(cli_load_private_key(p, &opt, &k), 0);
    taap_key_free(k);
    setenv(CLI_KEY_LEGACY_ENV, "1", 1);
    assert_int_equal(cli_load_private_key(p, NULL, &k), 0);
    taap_key_free(k);
    setenv(CLI_KEY_LEGACY_ENV, "0", 1);
    assert_int_equal(cli_load_private_key(p, NULL, &k), TAAP_E_KEY);
    unsetenv(CLI_KEY_LEGACY_ENV);

    /* From memory (a PEM held in a variable). */
    size_t len;
    char *pem = tu_read(tu_data("keys/rsa2048.pkcs1-aes256.pem"), &len);
    assert_int_equal(cli_load_private_key_mem(pem, len, "TAAP_PRIVATE_KEY", NULL, &k), 0);
    taap_key_free(k);
    unsetenv(CLI_PASSPHRASE_ENV);
    reset_said();
    assert_int_equal(cli_load_private_key_mem(pem, len, "TAAP_PRIVATE_KEY", NULL, &k),
                     TAAP_E_NEED_PASSPHRASE);
    assert_non_null(strstr(said_error, "TAAP_PRIVATE_KEY is encrypted"));
    free(pem);
    /* A public key is refused with the library's message. */
    p = key_copy("keys/rsa2048.spki.pem", 0644);
    reset_said();
    assert_int_equal(cli_load_private_key(p, NULL, &k), TAAP_E_KEY);
    assert_non_null(strstr(said_error, "a private key is needed"));
    /* A symbolic link is refused (O_NOFOLLOW). */
    unlink(tmp_path("link.pem"));
    assert_int_equal(symlink(p, tmp_path("link.pem")), 0);
    assert_int_equal(cli_load_private_key(tmp_path("link.pem"), NULL, &k), TAAP_E_IO);
}

static int run_all(void)
{
    tmpdir = tu_tempdir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_trailing_newline),
        cmocka_unit_test(test_file_refusals),
        cmocka_unit_test(test_env_and_order),
        cmocka_unit_test(test_load_plain_and_mode_warning),
        cmocka_unit_test(test_load_encrypted_sources),
        cmocka_unit_test(test_load_legacy_and_memory),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rmtree(tmpdir);
    free(tmpdir);
    return rc;
}

int main(void)
{
    /* Leave the controlling terminal in a child: setsid() needs a process
     * that is not a group leader, which a fresh child never is. */
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        if (setsid() < 0)
            _exit(1);
        _exit(run_all() ? 1 : 0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
