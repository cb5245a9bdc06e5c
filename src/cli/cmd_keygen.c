/* cmd_keygen.c — `taap keygen`: an RSA key pair for DevEdge (SPEC §3). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_options.h"
#include "cli_secret.h"


struct keygen_opts {
    unsigned bits;
    const char *out_dir;
    int force;
    int encrypt;
    const char *pass_file;
    const char *pass_env;
    int json;
};

enum { OPT_BITS = 0x2801, OPT_OUT, OPT_FORCE, OPT_ENCRYPT, OPT_PFILE, OPT_PENV, OPT_JSON };

static const cli_opt keygen_opts_table[] = {
    {"bits", OPT_BITS, "N",
     "modulus size: 2048 (default), 3072 or 4096"},
    {"out", OPT_OUT, "DIR",
     "where to write the files (default: the current\ndirectory; created with mode 0700 if missing)"},
    {"force", OPT_FORCE, NULL,
     "overwrite existing key files"},
    {"encrypt", OPT_ENCRYPT, NULL,
     "encrypt the private key (PKCS#8, AES-256-CBC,\nPBKDF2-HMAC-SHA256); asks for the passphrase twice\non the terminal"},
    {"passphrase-file", OPT_PFILE, "FILE",
     "encrypt with the passphrase in FILE (one trailing\nnewline ignored); implies --encrypt"},
    {"passphrase-env", OPT_PENV, "VAR",
     "encrypt with the passphrase in environment variable\nVAR; implies --encrypt"},
    {"json", OPT_JSON, NULL,
     "print a JSON object (file names, bits, key id, public\nkey PEM and JWK) instead of the PEM"},
    {"help", 'h', NULL,
     "show this help"},
    {0}};
const cli_help cmd_keygen_help = {
    "usage: taap keygen [--bits 2048|3072|4096] [--out DIR] [--force] [--encrypt]\n"
    "                   [--passphrase-file FILE] [--passphrase-env VAR] [--json]\n"
    "\n"
    "Create an RSA key pair for T-Mobile DevEdge: DIR/private-key.pem (PKCS#8,\n"
    "mode 0600) and DIR/public-key.pem (SubjectPublicKeyInfo, mode 0644). The\n"
    "public key is printed on stdout: paste it whole, BEGIN and END lines\n"
    "included, into DevEdge \"Add key\".\n"
    "\n",
    {
        {"Options:", keygen_opts_table, 25, 0, NULL},
    },
    "\n"
    "A passphrase is never taken from the command line. Commands that use the\n"
    "key read an encrypted key's passphrase from --passphrase-file, the\n"
    "TAAP_KEY_PASSPHRASE environment variable, or a terminal prompt.\n"
    "\n"
    "Exit status: 0 success, 2 usage error, 31 a key file exists (without\n"
    "--force) or cannot be written, 1 other failures.\n"};

/* After the one-line error has been printed: the usage line, exit 2. */
static int usage_exit(void)
{
    fprintf(stderr, "usage: taap keygen [--bits 2048|3072|4096] [--out DIR] [--force] [--encrypt]\n"
                    "                   [--passphrase-file FILE] [--passphrase-env VAR] [--json]\n");
    return CLI_EXIT_USAGE;
}

static int parse_keygen(int argc, char **argv, struct keygen_opts *o)
{
    cli_parser p;
    cli_parser_init(&p, &cmd_keygen_help);
    memset(o, 0, sizeof *o);
    o->bits = 2048;
    o->out_dir = ".";
    int c;
    while ((c = cli_next_option(&p, argc, argv)) != -1) {
        switch (c) {
        case OPT_BITS: {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || !end || *end || end == optarg || (v != 2048 && v != 3072 && v != 4096)) {
                cli_errorf("--bits must be 2048, 3072 or 4096 (got '%s')", optarg);
                return usage_exit();
            }
            o->bits = (unsigned)v;
            break;
        }
        case OPT_OUT:
            if (!*optarg) {
                cli_errorf("--out needs a directory");
                return usage_exit();
            }
            o->out_dir = optarg;
            break;
        case OPT_FORCE: o->force = 1; break;
        case OPT_ENCRYPT: o->encrypt = 1; break;
        case OPT_PFILE: o->pass_file = optarg; break;
        case OPT_PENV: o->pass_env = optarg; break;
        case OPT_JSON: o->json = 1; break;
        default:
            return cli_parser_bad(&p, c, argv);
        }
    }
    if (optind < argc) {
        cli_errorf("unexpected argument '%s' (taap keygen takes only options)", argv[optind]);
        return usage_exit();
    }
    if (o->pass_file && o->pass_env) {
        cli_errorf("give only one of --passphrase-file and --passphrase-env");
        return usage_exit();
    }
    if (o->pass_file || o->pass_env)
        o->encrypt = 1;
    return CLI_EXIT_OK;
}

/* DIR/NAME in a malloc'd string. */
static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + nl + 1);
    if (p) {
        memcpy(p, dir, dl);
        if (slash)
            p[dl] = '/';
        memcpy(p + dl + (size_t)slash, name, nl + 1);
    }
    return p;
}

static int ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        cli_errorf("%s: not a directory", dir);
        return -1;
    }
    if (errno != ENOENT || mkdir(dir, 0700) != 0) {
        cli_errorf("%s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int get_passphrase(const struct keygen_opts *o, char **pass)
{
    *pass = NULL;
    if (!o->encrypt)
        return CLI_EXIT_OK;
    if (o->pass_file)
        return cli_secret_from_file(o->pass_file, pass) == CLI_SECRET_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    if (o->pass_env) {
        cli_secret_status st = cli_secret_from_env(o->pass_env, pass);
        if (st == CLI_SECRET_NONE)
            cli_errorf("environment variable %s is not set or empty", o->pass_env);
        return st == CLI_SECRET_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    cli_secret_status st = cli_secret_prompt("New passphrase for private-key.pem: ", 1, pass);
    if (st == CLI_SECRET_NONE) {
        cli_errorf("--encrypt needs a terminal to ask for the passphrase; "
                   "or use --passphrase-file FILE or --passphrase-env VAR");
        return CLI_EXIT_USAGE;
    }
    return st == CLI_SECRET_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int print_json(const struct keygen_opts *o, const char *priv_path, const char *pub_path,
                      const char *pub_pem, const char *jwk_text)
{
    json_error_t je;
    json_t *jwk = json_loads(jwk_text, 0, &je);
    json_t *obj = json_pack("{s:s,s:s,s:I,s:b,s:s,s:s,s:o}", "private_key_file", priv_path,
                            "public_key_file", pub_path, "bits", (json_int_t)o->bits, "encrypted",
                            o->encrypt, "key_id",
                            json_string_value(json_object_get(jwk, "kid")) ?
                                json_string_value(json_object_get(jwk, "kid")) : "",
                            "public_key_pem", pub_pem, "public_key_jwk", json_incref(jwk));
    json_decref(jwk);
    if (!obj) {
        cli_errorf("cannot build the JSON output");
        return CLI_EXIT_FAIL;
    }
    char *s = json_dumps(obj, JSON_INDENT(2));
    json_decref(obj);
    if (!s) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    puts(s);
    free(s);
    return CLI_EXIT_OK;
}

/* Write the key pair the options describe. */
static int run_keygen(const struct keygen_opts *op)
{
    struct keygen_opts o = *op;
    int rc = CLI_EXIT_OK;
    if (ensure_dir(o.out_dir) != 0)
        return TAAP_E_IO;
    char *priv_path = join(o.out_dir, "private-key.pem");
    char *pub_path = join(o.out_dir, "public-key.pem");
    char *pass = NULL, *pub_pem = NULL, *jwk = NULL;
    taap_key *key = NULL;
    taap_error err = TAAP_ERROR_INIT;
    if (!priv_path || !pub_path) {
        cli_errorf("out of memory");
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    /* Refuse before asking for a passphrase or spending time on keygen. */
    if (!o.force) {
        const char *paths[2] = {priv_path, pub_path};
        for (int i = 0; i < 2; i++) {
            struct stat st;
            if (lstat(paths[i], &st) == 0) {
                cli_errorf("%s already exists (use --force to overwrite)", paths[i]);
                rc = TAAP_E_IO;
                goto done;
            }
        }
    }
    if ((rc = get_passphrase(&o, &pass)) != CLI_EXIT_OK)
        goto done;
    if (taap_key_generate(o.bits, &key, &err) != TAAP_OK ||
        taap_key_public_pem(key, &pub_pem, &err) != TAAP_OK ||
        taap_key_public_jwk(key, &jwk, &err) != TAAP_OK ||
        taap_key_write_private_file(key, priv_path, pass, o.force, &err) != TAAP_OK ||
        taap_key_write_public_file(key, pub_path, o.force, &err) != TAAP_OK) {
        rc = cli_report(&err);
        goto done;
    }
    if (o.json) {
        rc = print_json(&o, priv_path, pub_path, pub_pem, jwk);
        goto done;
    }
    fprintf(stderr, "Wrote %s (RSA %u, PKCS#8%s, mode 0600): keep it secret.\n", priv_path, o.bits,
            pass ? ", encrypted" : "");
    fprintf(stderr, "Wrote %s (mode 0644).\n", pub_path);
    fprintf(stderr, "Paste the public key below into DevEdge \"Add key\" whole, "
                    "the BEGIN and END lines included:\n");
    fflush(stderr);
    fputs(pub_pem, stdout);
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
done:
    cli_secret_free(pass);
    taap_key_free_pem(pub_pem);
    taap_key_free_pem(jwk);
    taap_key_free(key);
    free(priv_path);
    free(pub_path);
    return rc;
}

int cmd_keygen(int argc, char **argv)
{
    struct keygen_opts o;
    int rc = parse_keygen(argc, argv, &o);
    return rc != CLI_EXIT_OK ? rc : run_keygen(&o);
}
