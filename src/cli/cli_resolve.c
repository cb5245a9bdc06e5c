/* cli_resolve.c — the one cli_config every command resolves its settings
 * with (cli_config.h): layers loaded in order, values named by where they
 * came from, the private key found the way a user expects. Links only the
 * core library, so the light `taap` uses it too. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_config.h"
#include "cli_secret.h"

int cli_config_init(cli_config *c)
{
    memset(c, 0, sizeof *c);
    taap_error err = TAAP_ERROR_INIT;
    if (taap_settings_new(&c->settings, &err) != TAAP_OK)
        return cli_report(&err);
    return 0;
}

void cli_config_free(cli_config *c)
{
    taap_settings_free(c->settings);
    c->settings = NULL;
}

int cli_config_set(cli_config *c, const char *name, const char *value)
{
    taap_error err = TAAP_ERROR_INIT;
    if (taap_settings_set(c->settings, TAAP_ORIGIN_FLAG, name, value, &err) != TAAP_OK) {
        cli_report(&err);
        return -1;
    }
    return 0;
}

int cli_config_set_var(cli_config *c, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        cli_errorf("--var '%.64s': write --var NAME=VALUE", assignment);
        return -1;
    }
    char name[256];
    if ((size_t)(eq - assignment) >= sizeof name) {
        cli_errorf("--var: name longer than %zu bytes", sizeof name - 1);
        return -1;
    }
    memcpy(name, assignment, (size_t)(eq - assignment));
    name[eq - assignment] = '\0';
    taap_error err = TAAP_ERROR_INIT;
    if (taap_settings_set_var(c->settings, TAAP_ORIGIN_FLAG, name, eq + 1, &err) != TAAP_OK) {
        cli_report(&err);
        return -1;
    }
    return 0;
}

int cli_config_load(cli_config *c)
{
    taap_error err = TAAP_ERROR_INIT;
    if (taap_settings_load_environment(c->settings, &err) != TAAP_OK)
        return cli_report(&err);
    const char *prof = c->profile;
    if (!prof) {
        const char *e = getenv("TAAP_PROFILE");
        if (e && *e)
            prof = e;
    }
    int found = 0;
    if (taap_settings_load_profile(c->settings, NULL, prof, &found, &err) != TAAP_OK) {
        if (prof && !c->profile)
            cli_errorf("%s (the profile named by TAAP_PROFILE)", err.message);
        else
            cli_errorf("%s", err.message);
        return CLI_EXIT_CONFIG;
    }
    c->profile_used = prof ? prof : "default";
    if (c->envfile && taap_settings_load_postman_env(c->settings, c->envfile, &err) != TAAP_OK) {
        cli_errorf("%s", err.message);
        return err.code == TAAP_E_IO ? TAAP_E_IO : CLI_EXIT_CONFIG;
    }
    return 0;
}

/* The flag and the environment variable that set a setting. */
static const struct {
    const char *name, *flag, *env;
} names[] = {
    {"base_url", "--base-url", "TAAP_BASE_URL"},
    {"token_path", "--token-path", "TAAP_TOKEN_PATH"},
    {"client_id", "--client-id", "TAAP_CLIENT_ID"},
    {"secret", "--secret-env/--secret-file", "TAAP_CLIENT_SECRET"},
    {"private_key", "--key", "TAAP_PRIVATE_KEY"},
    {"passphrase", "--passphrase-file", "TAAP_KEY_PASSPHRASE"},
    {"id_token", "--id-token", "TAAP_ID_TOKEN"},
    {"cnf", "--cnf", "TAAP_CNF"},
    {"cacert", "--cacert", "TAAP_CACERT"},
    {"cert", "--cert", "-"},
    {"cert_key", "--cert-key", "-"},
};

const char *cli_config_get(const cli_config *c, const char *name, char *from, size_t cap)
{
    taap_origin o;
    const char *v = taap_settings_get(c->settings, name, &o);
    if (from && cap) {
        from[0] = '\0';
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] && strcmp(names[i].name, name) != 0)
            i++;
        const char *flag = i < sizeof names / sizeof names[0] ? names[i].flag : name;
        const char *env = i < sizeof names / sizeof names[0] ? names[i].env : name;
        switch (o) {
        case TAAP_ORIGIN_FLAG: snprintf(from, cap, "from %s", flag); break;
        case TAAP_ORIGIN_ENV: snprintf(from, cap, "from environment variable %s", env); break;
        case TAAP_ORIGIN_PROFILE:
            snprintf(from, cap, "from %s in profile '%s'", name, c->profile_used ? c->profile_used : "default");
            break;
        case TAAP_ORIGIN_ENVFILE:
            snprintf(from, cap, "from environment file %s", c->envfile ? c->envfile : "(-e)");
            break;
        default: break;
        }
    }
    return v;
}

int cli_config_key(cli_config *c, const cli_key_options *opt, taap_key **out)
{
    *out = NULL;
    char from[512];
    const char *spec = cli_config_get(c, "private_key", from, sizeof from);
    cli_key_options ko = {0};
    if (opt)
        ko = *opt;
    /* The passphrase setting (a source spec) feeds cli_secret's order:
     * file, environment variable, prompt. */
    const char *p = taap_settings_get(c->settings, "passphrase", NULL);
    if (p && !ko.passphrase_file && strncmp(p, "file:", 5) == 0)
        ko.passphrase_file = p + 5;
    else if (p && !ko.passphrase_env && strncmp(p, "env:", 4) == 0)
        ko.passphrase_env = p + 4;
    else if (p && strncmp(p, "plain:", 6) == 0)
        ko.passphrase = p + 6;
    if (spec && *spec) {
        ko.origin = from;
        return cli_load_private_key_spec(spec, from + 5, &ko, out);
    }
    /* Last: the key `taap keygen` just wrote in this directory. */
    if (access(CLI_DEFAULT_KEY_FILE, F_OK) == 0) {
        ko.origin = "found in the current directory";
        return cli_load_private_key(CLI_DEFAULT_KEY_FILE, &ko, out);
    }
    cli_errorf("no private key: give --key FILE, set TAAP_PRIVATE_KEY, put private_key in a "
               "profile, or run `taap keygen` here (it writes %s)", CLI_DEFAULT_KEY_FILE);
    return CLI_EXIT_CONFIG;
}
