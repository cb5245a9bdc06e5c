/* cmd_profile.c — `taap profile add|list|show|remove`: named connection
 * settings in $XDG_CONFIG_HOME/taap/profiles.ini (taap/settings.h). */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_secret.h"

static const char profile_intro[] =
    "usage: taap profile add NAME [--base-url URL] [--token-path P] [--client-id ID]\n"
    "                        [--secret-env VAR | --secret-file F | --secret-prompt |\n"
    "                         --insecure-store-secret] [--key FILE]\n"
    "                        [--passphrase-env VAR | --passphrase-file F | --passphrase-prompt]\n"
    "                        [--id-token] [--cnf] [--cacert F] [--var NAME=VALUE]… [--unset KEY]…\n"
    "       taap profile list [--json]\n"
    "       taap profile show NAME [--json]\n"
    "       taap profile remove NAME\n"
    "\n"
    "Profiles hold connection settings so that `taap token`, `taap call` and\n"
    "`taap quickstart` need only --profile NAME (or TAAP_PROFILE=NAME; a profile\n"
    "called \"default\" is used when none is named). Flags and TAAP_* environment\n"
    "variables still win over a profile; a profile wins over a -e environment file.\n"
    "\n"
    "`add` creates the profile or updates the keys given. The client secret is\n"
    "stored as a source, never as text: --secret-env VAR (read $VAR at use),\n"
    "--secret-file F (a 0600 file), --secret-prompt (ask on the terminal). Only\n"
    "--insecure-store-secret writes the secret itself into the file (taken from\n"
    "$TAAP_CLIENT_SECRET or a prompt, never from an argument). --key stores the\n"
    "key file's absolute path. --var NAME=VALUE gives {{NAME}} a value (e.g.\n"
    "--var ICCID=8901…). --unset KEY removes a key (base_url, var.ICCID, …).\n"
    "\n"
    "The file ($XDG_CONFIG_HOME/taap/profiles.ini, else ~/.config/taap/profiles.ini)\n"
    "is INI, written atomically with mode 0600; you may edit it by hand:\n"
    "  [emulator]\n"
    "  base_url = http://127.0.0.1:8080\n"
    "  token_path = /oauth2/v2/tokens\n"
    "  client_id = 3f9c…\n"
    "  secret = env:TAAP_EMULATOR_SECRET     (or file:/path, prompt, plain:VALUE)\n"
    "  private_key = /home/me/taap/private-key.pem\n"
    "  passphrase = prompt                    (or env:VAR, file:/path)\n"
    "  id_token = no\n"
    "  cnf = no\n"
    "  var.ICCID = 8901260123456789012\n"
    "\n";

enum {
    P_BASE = 0x2601, P_TOKEN_PATH, P_CLIENT_ID, P_SECRET_ENV, P_SECRET_FILE, P_SECRET_PROMPT,
    P_INSECURE, P_KEY, P_PASS_ENV, P_PASS_FILE, P_PASS_PROMPT, P_ID_TOKEN, P_CNF, P_CACERT,
    P_VAR, P_UNSET, P_JSON,
};

static const cli_opt profile_add_opts[] = {
    {"base-url", P_BASE, "URL", "API and token server (http:// or https://, checked)"},
    {"token-path", P_TOKEN_PATH, "P", "token endpoint path or URL (default /oauth2/v2/tokens)"},
    {"client-id", P_CLIENT_ID, "ID", "DevEdge client id"},
    {"secret-env", P_SECRET_ENV, "VAR", "the client secret is read from $VAR when a token is fetched"},
    {"secret-file", P_SECRET_FILE, "F", "... from the 0600 file F (its absolute path is stored)"},
    {"secret-prompt", P_SECRET_PROMPT, NULL, "... asked on the terminal"},
    {"insecure-store-secret", P_INSECURE, NULL, "store the secret itself (from $TAAP_CLIENT_SECRET or a\n"
                                                "prompt, never from an argument)"},
    {"key", P_KEY, "FILE", "the private key for PoP tokens (its absolute path is stored;\n"
                           "a public key is refused)"},
    {"passphrase-env", P_PASS_ENV, "VAR", "the key's passphrase is read from $VAR"},
    {"passphrase-file", P_PASS_FILE, "F", "... from the file F"},
    {"passphrase-prompt", P_PASS_PROMPT, NULL, "... asked on the terminal"},
    {"id-token", P_ID_TOKEN, NULL, "send X-Auth-Originator: <id_token> on API calls"},
    {"cnf", P_CNF, NULL, "send {\"cnf\": public key} in the token request"},
    {"cacert", P_CACERT, "F", "trust this CA bundle (PEM)"},
    {"var", P_VAR, "NAME=VALUE", "give {{NAME}} a value (repeatable)"},
    {"unset", P_UNSET, "KEY", "remove a key (base_url, var.ICCID, …; repeatable)"},
    {0}};

const cli_help cmd_profile_help = {
    profile_intro,
    {{"Options of add:", profile_add_opts, 26, 0, "`list` and `show` take --json: one JSON object (secrets never shown).\n"}},
    "\n"
    "Exit status: 0 done; 2 usage; 31 the file cannot be written; 54 malformed file\n"
    "or value, or no such profile (see taap help exit-status).\n"};

static int load(taap_profiles **p)
{
    taap_error err = TAAP_ERROR_INIT;
    if (taap_profiles_load(NULL, p, &err) != TAAP_OK)
        return cli_report(&err);
    return 0;
}

static int set(taap_profiles *p, const char *name, const char *key, const char *value)
{
    taap_error err = TAAP_ERROR_INIT;
    if (taap_profiles_set(p, name, key, value, &err) != TAAP_OK)
        return cli_report(&err);
    return 0;
}

/* --base-url: http:// or https:// and a host, no spaces. 0, or 1 after
 * saying what is wrong. */
static int check_base_url(const char *u)
{
    size_t scheme = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;
    if (!scheme) {
        cli_errorf("--base-url '%s': give an http:// or https:// URL, e.g. "
                   "https://api.t-mobile.com", u);
        return 1;
    }
    if (!u[scheme] || strchr("/:?#", u[scheme]) || strpbrk(u, " \t\r\n")) {
        cli_errorf("--base-url '%s': no host after %.*s (or a space in it)", u, (int)scheme, u);
        return 1;
    }
    return 0;
}

/* --key: a readable file that holds a private key (a public key given by
 * mistake is the common slip). Encrypted keys pass: the passphrase is asked
 * for at use. 0, or the exit status after saying why. */
static int check_key_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_errorf("--key %s: cannot be read", path);
        return TAAP_E_IO;
    }
    char head[4096];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    if (strstr(head, "PUBLIC KEY-----")) {
        cli_errorf("--key %s is a public key: a profile needs the private key (taap keygen "
                   "wrote it as private-key.pem)", path);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int cmd_add(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        cli_errorf("give the profile name: taap profile add NAME [OPTIONS]");
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    taap_profiles *p = NULL;
    int rc = load(&p);
    if (rc)
        return rc;
    char buf[PATH_MAX + 16];
    int c, secret_sources = 0;
    cli_parser parser;
    cli_parser_init(&parser, &cmd_profile_help);
    optind = 2; /* after NAME */
    while (rc == 0 && (c = cli_next_option(&parser, argc, argv)) != -1) {
        switch (c) {
        case P_BASE:
            rc = check_base_url(optarg) ? CLI_EXIT_USAGE : set(p, name, "base_url", optarg);
            break;
        case P_TOKEN_PATH: rc = set(p, name, "token_path", optarg); break;
        case P_CLIENT_ID: rc = set(p, name, "client_id", optarg); break;
        case P_SECRET_ENV:
            secret_sources++;
            snprintf(buf, sizeof buf, "env:%s", optarg);
            rc = set(p, name, "secret", buf);
            break;
        case P_SECRET_FILE: {
            secret_sources++;
            char abs[PATH_MAX];
            snprintf(buf, sizeof buf, "file:%s", realpath(optarg, abs) ? abs : optarg);
            rc = set(p, name, "secret", buf);
            break;
        }
        case P_SECRET_PROMPT:
            secret_sources++;
            rc = set(p, name, "secret", "prompt");
            break;
        case P_INSECURE: {
            secret_sources++;
            char *s = NULL;
            cli_secret_source src = {NULL, "TAAP_CLIENT_SECRET", "Client secret to store: ", 1};
            cli_secret_status st = cli_secret_get(&src, &s);
            if (st != CLI_SECRET_OK) {
                if (st == CLI_SECRET_NONE)
                    cli_errorf("--insecure-store-secret: set TAAP_CLIENT_SECRET or run on a terminal");
                rc = CLI_EXIT_USAGE;
                break;
            }
            size_t n = strlen(s) + 7;
            char *v = malloc(n);
            if (!v) {
                cli_secret_free(s);
                rc = CLI_EXIT_FAIL;
                break;
            }
            snprintf(v, n, "plain:%s", s);
            cli_secret_free(s);
            rc = set(p, name, "secret", v);
            cli_secret_free(v);
            cli_warnf("the client secret is stored as text in the profile file (mode 0600)");
            break;
        }
        case P_KEY: {
            char abs[PATH_MAX];
            if (!realpath(optarg, abs)) {
                cli_errorf("--key %s: no such file", optarg);
                rc = CLI_EXIT_USAGE;
                break;
            }
            if ((rc = check_key_file(abs)) == 0)
                rc = set(p, name, "private_key", abs);
            break;
        }
        case P_PASS_ENV:
            snprintf(buf, sizeof buf, "env:%s", optarg);
            rc = set(p, name, "passphrase", buf);
            break;
        case P_PASS_FILE: {
            char abs[PATH_MAX];
            snprintf(buf, sizeof buf, "file:%s", realpath(optarg, abs) ? abs : optarg);
            rc = set(p, name, "passphrase", buf);
            break;
        }
        case P_PASS_PROMPT: rc = set(p, name, "passphrase", "prompt"); break;
        case P_ID_TOKEN: rc = set(p, name, "id_token", "yes"); break;
        case P_CNF: rc = set(p, name, "cnf", "yes"); break;
        case P_CACERT: rc = set(p, name, "cacert", optarg); break;
        case P_VAR: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || (size_t)(eq - optarg) > 200) {
                cli_errorf("--var '%.64s': write --var NAME=VALUE", optarg);
                rc = CLI_EXIT_USAGE;
                break;
            }
            snprintf(buf, sizeof buf, "var.%.*s", (int)(eq - optarg), optarg);
            rc = set(p, name, buf, eq + 1);
            break;
        }
        case P_UNSET: rc = set(p, name, optarg, NULL); break;
        default: rc = cli_parser_bad(&parser, c, argv); break;
        }
    }
    if (rc == 0 && optind < argc) {
        cli_errorf("unexpected argument '%s'", argv[optind]);
        rc = CLI_EXIT_USAGE;
    }
    if (rc == 0 && secret_sources > 1) {
        cli_errorf("give one secret source (--secret-env, --secret-file, --secret-prompt or "
                   "--insecure-store-secret)");
        rc = CLI_EXIT_USAGE;
    }
    if (rc == 0) {
        taap_error err = TAAP_ERROR_INIT;
        if (taap_profiles_save(p, NULL, &err) != TAAP_OK)
            rc = cli_report(&err);
        else
            printf("profile %s saved\n", name);
    }
    taap_profiles_free(p);
    return rc;
}

/* What `show` prints for a value: never a stored secret. */
static const char *shown(const char *key, const char *value)
{
    if ((strcmp(key, "secret") == 0 || strcmp(key, "passphrase") == 0) &&
        strncmp(value, "plain:", 6) == 0)
        return "plain:(stored in the file, not shown)";
    return value;
}

static int cmd_show(int argc, char **argv)
{
    int json = 0;
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (!name && argv[i][0] != '-')
            name = argv[i];
        else {
            cli_errorf("usage: taap profile show NAME [--json]");
            return CLI_EXIT_USAGE;
        }
    }
    if (!name) {
        cli_errorf("usage: taap profile show NAME [--json]");
        return CLI_EXIT_USAGE;
    }
    taap_profiles *p = NULL;
    int rc = load(&p);
    if (rc)
        return rc;
    const char *k, *v;
    if (!taap_profiles_entry(p, name, 0, &k, &v)) {
        size_t n;
        const char *const *names = taap_profiles_names(p, &n);
        int exists = 0;
        for (size_t i = 0; i < n; i++)
            exists |= strcmp(names[i], name) == 0;
        if (!exists) {
            cli_errorf("no profile named '%s' (see taap profile list)", name);
            taap_profiles_free(p);
            return CLI_EXIT_CONFIG;
        }
    }
    json_t *o = json ? json_object() : NULL;
    if (!json)
        printf("[%s]\n", name);
    for (size_t i = 0; taap_profiles_entry(p, name, i, &k, &v); i++) {
        if (o)
            json_object_set_new(o, k, json_string(shown(k, v)));
        else
            printf("%s = %s\n", k, shown(k, v));
    }
    if (o) {
        char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (t)
            puts(t);
        free(t);
        json_decref(o);
    }
    taap_profiles_free(p);
    return 0;
}

int cmd_profile(int argc, char **argv)
{
    if (argc < 2) {
        cli_errorf("usage: taap profile add|list|show|remove … (see taap profile --help)");
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "add") == 0 || strcmp(sub, "set") == 0)
        return cmd_add(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    taap_profiles *p = NULL;
    int rc;
    if (strcmp(sub, "list") == 0) {
        int json = argc == 3 && strcmp(argv[2], "--json") == 0;
        if (argc != 2 && !json) {
            cli_errorf("usage: taap profile list [--json]");
            return CLI_EXIT_USAGE;
        }
        if ((rc = load(&p)) != 0)
            return rc;
        size_t n;
        const char *const *names = taap_profiles_names(p, &n);
        if (json) {
            /* [{"name", "base_url", "client_id"}…]: never a secret */
            json_t *a = json_array();
            for (size_t i = 0; a && i < n; i++) {
                json_t *o = json_pack("{ss}", "name", names[i]);
                const char *k, *v;
                for (size_t j = 0; o && taap_profiles_entry(p, names[i], j, &k, &v); j++)
                    if (!strcmp(k, "base_url") || !strcmp(k, "client_id"))
                        json_object_set_new(o, k, json_string(v));
                json_array_append_new(a, o);
            }
            char *txt = a ? json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(a);
            if (txt)
                puts(txt);
            free(txt);
            rc = txt ? 0 : CLI_EXIT_FAIL;
        } else {
            for (size_t i = 0; i < n; i++)
                puts(names[i]);
        }
        taap_profiles_free(p);
        return rc;
    }
    if (strcmp(sub, "remove") == 0 || strcmp(sub, "rm") == 0) {
        if (argc != 3) {
            cli_errorf("usage: taap profile remove NAME");
            return CLI_EXIT_USAGE;
        }
        if ((rc = load(&p)) != 0)
            return rc;
        taap_error err = TAAP_ERROR_INIT;
        if (taap_profiles_remove(p, argv[2], &err) != TAAP_OK) {
            cli_errorf("%s (see taap profile list)", err.message);
            rc = CLI_EXIT_CONFIG;
        } else if (taap_profiles_save(p, NULL, &err) != TAAP_OK) {
            rc = cli_report(&err);
        }
        if (rc == 0)
            printf("profile %s removed\n", argv[2]);
        taap_profiles_free(p);
        return rc;
    }
    cli_errorf("unknown subcommand '%s': add, list, show or remove", sub);
    return CLI_EXIT_USAGE;
}
