/* settings.c — settings layers, profiles.ini, Postman environment files and
 * {{NAME}} expansion (taap/settings.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "expand.h"
#include "util.h"
#include "cli_config.h"

#define SET_MAX_PROFILE_FILE (1u << 20)
#define SET_MAX_ENV_FILE (4u << 20)
#define SET_MAX_LINE 16384
#define SET_MAX_EXPANDED (16u << 20)
#define SET_MAX_SECRET (64u << 10)

static const char *const set_names[] = {
    "base_url", "token_path", "client_id", "secret", "private_key", "passphrase",
    "id_token", "cnf", "cacert", "cert", "cert_key", NULL,
};

typedef struct set_kv {
    char *name;
    char *value;
} set_kv;

typedef struct set_list {
    set_kv *v;
    size_t n, cap;
} set_list;

struct taap_settings {
    set_list values[5]; /* by taap_origin */
    set_list vars[5];
};

const char *taap_origin_name(taap_origin o)
{
    switch (o) {
    case TAAP_ORIGIN_FLAG: return "flag";
    case TAAP_ORIGIN_ENV: return "environment";
    case TAAP_ORIGIN_PROFILE: return "profile";
    case TAAP_ORIGIN_ENVFILE: return "environment file";
    default: return "unset";
    }
}

static void list_clear(set_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        taap_free_secret_str(l->v[i].value);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static set_kv *list_find(const set_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    return NULL;
}

static taap_code list_put(set_list *l, const char *name, const char *value, taap_error *err)
{
    set_kv *kv = list_find(l, name);
    if (!value) {
        if (kv) {
            free(kv->name);
            taap_free_secret_str(kv->value);
            size_t i = (size_t)(kv - l->v);
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
            l->n--;
        }
        return TAAP_OK;
    }
    char *v = taap_strdup(value);
    if (!v)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    if (kv) {
        taap_free_secret_str(kv->value);
        kv->value = v;
        return TAAP_OK;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        set_kv *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            taap_free_secret_str(v);
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].name = taap_strdup(name);
    if (!l->v[l->n].name) {
        taap_free_secret_str(v);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    l->v[l->n].value = v;
    l->n++;
    return TAAP_OK;
}

static int set_known(const char *name)
{
    for (const char *const *p = set_names; *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

taap_code taap_settings_new(taap_settings **out, taap_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
}

void taap_settings_free(taap_settings *s)
{
    if (!s)
        return;
    for (int i = 0; i < 5; i++) {
        list_clear(&s->values[i]);
        list_clear(&s->vars[i]);
    }
    free(s);
}

static int set_origin_ok(taap_origin o)
{
    return o >= TAAP_ORIGIN_FLAG && o <= TAAP_ORIGIN_ENVFILE;
}

taap_code taap_settings_set(taap_settings *s, taap_origin origin, const char *name,
                            const char *value, taap_error *err)
{
    if (!s || !name || !set_origin_ok(origin))
        return taap_fail(err, TAAP_E_USAGE, "taap_settings_set: bad arguments");
    if (!set_known(name))
        return taap_fail(err, TAAP_E_CONFIG, "unknown setting '%s' (known: base_url, token_path, "
                         "client_id, secret, private_key, passphrase, id_token, cnf, cacert, cert, "
                         "cert_key)", name);
    return list_put(&s->values[origin], name, value, err);
}

taap_code taap_settings_set_var(taap_settings *s, taap_origin origin, const char *name,
                                const char *value, taap_error *err)
{
    if (!s || !name || !set_origin_ok(origin))
        return taap_fail(err, TAAP_E_USAGE, "taap_settings_set_var: bad arguments");
    if (!*name || strpbrk(name, "{}"))
        return taap_fail(err, TAAP_E_CONFIG, "variable name '%s' is empty or contains braces", name);
    return list_put(&s->vars[origin], name, value, err);
}

const char *taap_settings_get(const taap_settings *s, const char *name, taap_origin *origin)
{
    if (origin)
        *origin = TAAP_ORIGIN_NONE;
    if (!s || !name)
        return NULL;
    for (int o = TAAP_ORIGIN_FLAG; o <= TAAP_ORIGIN_ENVFILE; o++) {
        set_kv *kv = list_find(&s->values[o], name);
        if (kv) {
            if (origin)
                *origin = (taap_origin)o;
            return kv->value;
        }
    }
    return NULL;
}

const char *taap_settings_var(const taap_settings *s, const char *name)
{
    if (!s || !name)
        return NULL;
    for (int o = TAAP_ORIGIN_FLAG; o <= TAAP_ORIGIN_ENVFILE; o++) {
        set_kv *kv = list_find(&s->vars[o], name);
        if (kv)
            return kv->value;
    }
    return NULL;
}

int taap_settings_bool(const char *v)
{
    if (!v)
        return -1;
    static const char *const yes[] = {"yes", "true", "1", "on", NULL};
    static const char *const no[] = {"no", "false", "0", "off", NULL};
    for (int i = 0; yes[i]; i++)
        if (taap_ascii_casecmp(v, yes[i]) == 0)
            return 1;
    for (int i = 0; no[i]; i++)
        if (taap_ascii_casecmp(v, no[i]) == 0)
            return 0;
    return -1;
}

taap_code taap_settings_load_environment(taap_settings *s, taap_error *err)
{
    static const struct {
        const char *env, *name, *prefix;
    } map[] = {
        {"TAAP_BASE_URL", "base_url", ""},
        {"TAAP_TOKEN_PATH", "token_path", ""},
        {"TAAP_CLIENT_ID", "client_id", ""},
        {"TAAP_CLIENT_SECRET", "secret", "plain:"},
        {"TAAP_PRIVATE_KEY", "private_key", ""},
        {"TAAP_KEY_PASSPHRASE", "passphrase", "plain:"},
        {"TAAP_ID_TOKEN", "id_token", ""},
        {"TAAP_CNF", "cnf", ""},
        {"TAAP_CACERT", "cacert", ""},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *v = getenv(map[i].env);
        if (!v || !*v)
            continue;
        size_t n = strlen(map[i].prefix) + strlen(v) + 1;
        char *val = malloc(n);
        if (!val)
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        snprintf(val, n, "%s%s", map[i].prefix, v);
        taap_code rc = list_put(&s->values[TAAP_ORIGIN_ENV], map[i].name, val, err);
        taap_free_secret(val, n);
        if (rc != TAAP_OK)
            return rc;
    }
    return TAAP_OK;
}

/* ---- profiles.ini ---------------------------------------------------------- */

typedef struct prof_section {
    char *name;
    set_list kv;
} prof_section;

struct taap_profiles {
    prof_section *sec;
    size_t n, cap;
    const char **names; /* view for taap_profiles_names */
};

static int prof_name_ok(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > 64)
        return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
              *n == '-' || *n == '_' || *n == '.'))
            return 0;
    return 1;
}

static int prof_key_ok(const char *k)
{
    if (strncmp(k, "var.", 4) == 0)
        return k[4] != '\0' && !strpbrk(k + 4, "{}=");
    return set_known(k);
}

void taap_profiles_free(taap_profiles *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->sec[i].name);
        list_clear(&p->sec[i].kv);
    }
    free(p->sec);
    free(p->names);
    free(p);
}

static prof_section *prof_find(const taap_profiles *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->sec[i].name, name) == 0)
            return &p->sec[i];
    return NULL;
}

static prof_section *prof_add(taap_profiles *p, const char *name)
{
    prof_section *s = prof_find(p, name);
    if (s)
        return s;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4;
        prof_section *ns = realloc(p->sec, nc * sizeof *ns);
        if (!ns)
            return NULL;
        p->sec = ns;
        p->cap = nc;
    }
    s = &p->sec[p->n];
    memset(s, 0, sizeof *s);
    s->name = taap_strdup(name);
    if (!s->name)
        return NULL;
    p->n++;
    return s;
}

taap_code taap_profiles_default_path(char **out, taap_error *err)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    size_t n;
    *out = NULL;
    if (x && x[0] == '/') {
        n = strlen(x) + 20;
        if (!(*out = malloc(n)))
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        snprintf(*out, n, "%s/taap/profiles.ini", x);
        return TAAP_OK;
    }
    if (!home || home[0] != '/')
        return taap_fail(err, TAAP_E_CONFIG, "no profile directory: set XDG_CONFIG_HOME or HOME");
    n = strlen(home) + 28;
    if (!(*out = malloc(n)))
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    snprintf(*out, n, "%s/.config/taap/profiles.ini", home);
    return TAAP_OK;
}

/* *path, or the default file when it is NULL (*def then owns the string). */
static taap_code prof_path(const char **path, char **def, taap_error *err)
{
    *def = NULL;
    if (*path)
        return TAAP_OK;
    taap_code rc = taap_profiles_default_path(def, err);
    if (rc == TAAP_OK)
        *path = *def;
    return rc;
}

static char *set_trim(char *a, char *e)
{
    while (a < e && (*a == ' ' || *a == '\t'))
        a++;
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *e = '\0';
    return a;
}

static taap_code prof_parse(taap_profiles *p, char *data, size_t len, const char *path,
                            taap_error *err)
{
    prof_section *cur = NULL;
    size_t lineno = 0;
    char *line = data, *end = data + len;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        line += 3;
    while (line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *le = nl ? nl : end;
        lineno++;
        if ((size_t)(le - line) > SET_MAX_LINE)
            return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: line longer than %u bytes", path, lineno,
                             SET_MAX_LINE);
        if (memchr(line, '\0', (size_t)(le - line)))
            return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: NUL byte", path, lineno);
        char *t = set_trim(line, le);
        if (*t == '\0' || *t == '#' || *t == ';') {
            /* comment or blank */
        } else if (*t == '[') {
            char *close = strchr(t, ']');
            if (!close || close[1] != '\0')
                return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: a section line must be [NAME]", path, lineno);
            char *name = set_trim(t + 1, close);
            if (!prof_name_ok(name))
                return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: profile name '%s' must be 1-64 of "
                                 "A-Z a-z 0-9 . _ -", path, lineno, name);
            if (prof_find(p, name))
                return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: profile [%s] appears twice", path, lineno, name);
            if (!(cur = prof_add(p, name)))
                return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        } else {
            char *eq = strchr(t, '=');
            if (!eq)
                return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: expected KEY = VALUE", path, lineno);
            if (!cur)
                return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: KEY = VALUE before any [profile] line",
                                 path, lineno);
            char *val = set_trim(eq + 1, t + strlen(t));
            char *key = set_trim(t, eq);
            if (!prof_key_ok(key))
                return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: unknown key '%s' (a setting name or var.NAME)",
                                 path, lineno, key);
            if (list_find(&cur->kv, key))
                return taap_fail(err, TAAP_E_CONFIG, "%s:%zu: '%s' set twice in [%s]", path, lineno, key,
                                 cur->name);
            taap_code rc = list_put(&cur->kv, key, val, err);
            if (rc != TAAP_OK)
                return rc;
        }
        line = nl ? nl + 1 : end;
    }
    return TAAP_OK;
}

taap_code taap_profiles_load(const char *path, taap_profiles **out, taap_error *err)
{
    *out = NULL;
    char *def = NULL;
    taap_code rc = prof_path(&path, &def, err);
    if (rc != TAAP_OK)
        return rc;
    taap_profiles *p = calloc(1, sizeof *p);
    if (!p) {
        free(def);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        free(def);
        *out = p;
        return TAAP_OK;
    }
    rc = taap_read_file(path, SET_MAX_PROFILE_FILE, 0, &data, &len, err);
    if (rc == TAAP_OK)
        rc = prof_parse(p, data, len, path, err);
    if (data)
        taap_free_secret(data, len + 1);
    free(def);
    if (rc != TAAP_OK) {
        taap_profiles_free(p);
        return rc == TAAP_E_IO ? rc : TAAP_E_CONFIG;
    }
    *out = p;
    return TAAP_OK;
}

const char *const *taap_profiles_names(const taap_profiles *p, size_t *n)
{
    taap_profiles *mp = (taap_profiles *)p;
    *n = 0;
    if (!p)
        return NULL;
    free(mp->names);
    mp->names = calloc(p->n + 1, sizeof *mp->names);
    if (!mp->names)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        mp->names[i] = p->sec[i].name;
    *n = p->n;
    return mp->names;
}

int taap_profiles_entry(const taap_profiles *p, const char *name, size_t i, const char **key,
                        const char **value)
{
    prof_section *s = p ? prof_find(p, name) : NULL;
    if (!s || i >= s->kv.n)
        return 0;
    *key = s->kv.v[i].name;
    *value = s->kv.v[i].value;
    return 1;
}

taap_code taap_profiles_set(taap_profiles *p, const char *name, const char *key, const char *value,
                            taap_error *err)
{
    if (!p || !name || !key)
        return taap_fail(err, TAAP_E_USAGE, "taap_profiles_set: bad arguments");
    if (!prof_name_ok(name))
        return taap_fail(err, TAAP_E_CONFIG, "profile name '%s' must be 1-64 of A-Z a-z 0-9 . _ -", name);
    if (!prof_key_ok(key))
        return taap_fail(err, TAAP_E_CONFIG, "unknown profile key '%s' (a setting name or var.NAME)", key);
    if (value && strpbrk(value, "\r\n"))
        return taap_fail(err, TAAP_E_CONFIG, "value for '%s' contains a line break (give a key file "
                         "path rather than PEM text)", key);
    prof_section *s = prof_add(p, name);
    if (!s)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return list_put(&s->kv, key, value, err);
}

taap_code taap_profiles_remove(taap_profiles *p, const char *name, taap_error *err)
{
    prof_section *s = p && name ? prof_find(p, name) : NULL;
    if (!s)
        return taap_fail(err, TAAP_E_NOT_FOUND, "no profile named '%s'", name ? name : "");
    free(s->name);
    list_clear(&s->kv);
    size_t i = (size_t)(s - p->sec);
    memmove(&p->sec[i], &p->sec[i + 1], (p->n - i - 1) * sizeof *p->sec);
    p->n--;
    return TAAP_OK;
}

static taap_code set_mkdir_parent(const char *path, taap_error *err)
{
    char *d = taap_strdup(path);
    if (!d)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    char *slash = strrchr(d, '/');
    taap_code rc = TAAP_OK;
    if (slash && slash != d) {
        *slash = '\0';
        rc = taap_mkdir_private(d, err);
    }
    free(d);
    return rc;
}

taap_code taap_profiles_save(const taap_profiles *p, const char *path, taap_error *err)
{
    char *def = NULL;
    taap_code rc = prof_path(&path, &def, err);
    if (rc != TAAP_OK)
        return rc;
    size_t cap = 256, len = 0;
    for (size_t i = 0; i < p->n; i++) {
        cap += strlen(p->sec[i].name) + 4;
        for (size_t j = 0; j < p->sec[i].kv.n; j++)
            cap += strlen(p->sec[i].kv.v[j].name) + strlen(p->sec[i].kv.v[j].value) + 5;
    }
    char *buf = malloc(cap);
    if (!buf) {
        free(def);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    len += (size_t)snprintf(buf + len, cap - len,
                            "# taap profiles (see `taap help profile`). Secrets belong in env:VAR\n"
                            "# or file:PATH sources, not here.\n");
    for (size_t i = 0; i < p->n; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "\n[%s]\n", p->sec[i].name);
        for (size_t j = 0; j < p->sec[i].kv.n; j++)
            len += (size_t)snprintf(buf + len, cap - len, "%s = %s\n", p->sec[i].kv.v[j].name,
                                    p->sec[i].kv.v[j].value);
    }
    rc = set_mkdir_parent(path, err);
    if (rc == TAAP_OK)
        rc = taap_write_file_atomic(path, buf, len, 0600, 1, err);
    taap_free_secret(buf, cap);
    free(def);
    return rc;
}

taap_code taap_settings_load_profile(taap_settings *s, const char *path, const char *name,
                                     int *found, taap_error *err)
{
    if (found)
        *found = 0;
    int is_default = !name;
    if (!name)
        name = "default";
    taap_profiles *p = NULL;
    taap_code rc = taap_profiles_load(path, &p, err);
    if (rc != TAAP_OK)
        return rc;
    prof_section *sec = prof_find(p, name);
    if (!sec) {
        taap_profiles_free(p);
        if (is_default)
            return TAAP_OK;
        return taap_fail(err, TAAP_E_CONFIG, "no profile named '%s' (see `taap profile list`)", name);
    }
    list_clear(&s->values[TAAP_ORIGIN_PROFILE]);
    list_clear(&s->vars[TAAP_ORIGIN_PROFILE]);
    for (size_t i = 0; i < sec->kv.n && rc == TAAP_OK; i++) {
        const char *k = sec->kv.v[i].name, *v = sec->kv.v[i].value;
        if (strncmp(k, "var.", 4) == 0)
            rc = list_put(&s->vars[TAAP_ORIGIN_PROFILE], k + 4, v, err);
        else
            rc = list_put(&s->values[TAAP_ORIGIN_PROFILE], k, v, err);
    }
    taap_profiles_free(p);
    if (rc == TAAP_OK && found)
        *found = 1;
    return rc;
}

/* ---- Postman environment files --------------------------------------------- */

/* Lower case without spaces, '_' and '-': "Client ID" → "clientid". */
static void set_normalise(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++) {
        char c = *in;
        if (c == ' ' || c == '_' || c == '-' || c == '.')
            continue;
        out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out[o] = '\0';
}

static const char *set_envfile_setting(const char *key, const char **prefix)
{
    static const struct {
        const char *norm, *name, *prefix;
    } map[] = {
        {"clientid", "client_id", ""},       {"consumerkey", "client_id", ""},
        {"apikey", "client_id", ""},         {"clientsecret", "secret", "plain:"},
        {"consumersecret", "secret", "plain:"}, {"apisecret", "secret", "plain:"},
        {"privatekey", "private_key", ""},   {"privatekeypem", "private_key", ""},
        {"baseurl", "base_url", ""},         {"tokenurl", "token_path", ""},
        {"oauthurl", "token_path", ""},      {"tokenpath", "token_path", ""},
        {"passphrase", "passphrase", "plain:"}, {"privatekeypassphrase", "passphrase", "plain:"},
    };
    char norm[64];
    set_normalise(key, norm, sizeof norm);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(norm, map[i].norm) == 0) {
            *prefix = map[i].prefix;
            return map[i].name;
        }
    return NULL;
}

static char *set_json_scalar(json_t *v)
{
    char buf[64];
    if (json_is_string(v))
        return taap_strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return taap_strdup(buf);
    }
    if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        return taap_strdup(buf);
    }
    if (json_is_true(v))
        return taap_strdup("true");
    if (json_is_false(v))
        return taap_strdup("false");
    if (json_is_null(v) || !v)
        return taap_strdup("");
    return taap_strdup("[object Object]"); /* what Postman substitutes */
}

taap_code taap_settings_load_postman_env(taap_settings *s, const char *path, taap_error *err)
{
    char *data = NULL;
    size_t len = 0;
    taap_code rc = taap_read_file(path, SET_MAX_ENV_FILE, 0, &data, &len, err);
    if (rc != TAAP_OK)
        return rc;
    const char *p = data;
    size_t n = len;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        n -= 3;
    }
    if (n >= 2 && (((unsigned char)p[0] == 0xFF && (unsigned char)p[1] == 0xFE) ||
                   ((unsigned char)p[0] == 0xFE && (unsigned char)p[1] == 0xFF))) {
        taap_free_secret(data, len + 1);
        return taap_fail(err, TAAP_E_CONFIG, "%s: UTF-16 environment files are not supported; "
                         "re-export as UTF-8", path);
    }
    json_error_t je;
    json_t *root = json_loadb(p, n, 0, &je);
    taap_free_secret(data, len + 1);
    if (!root)
        return taap_fail(err, TAAP_E_CONFIG, "%s: not JSON (line %d: %s)", path, je.line, je.text);
    json_t *values = json_is_array(root) ? root : json_object_get(root, "values");
    if (!json_is_array(values)) {
        json_decref(root);
        return taap_fail(err, TAAP_E_CONFIG, "%s: not a Postman environment (no \"values\" array)", path);
    }
    list_clear(&s->values[TAAP_ORIGIN_ENVFILE]);
    list_clear(&s->vars[TAAP_ORIGIN_ENVFILE]);
    size_t i;
    json_t *e;
    json_array_foreach(values, i, e)
    {
        if (!json_is_object(e))
            continue;
        json_t *k = json_object_get(e, "key");
        json_t *en = json_object_get(e, "enabled"), *dis = json_object_get(e, "disabled");
        if (!json_is_string(k) || json_string_length(k) == 0)
            continue;
        /* Postman (the app) honours enabled:false; newman does not (#2986). */
        if (json_is_false(en) || json_is_true(dis))
            continue;
        const char *key = json_string_value(k);
        if (strpbrk(key, "{}"))
            continue;
        char *val = set_json_scalar(json_object_get(e, "value"));
        if (!val) {
            rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            break;
        }
        rc = list_put(&s->vars[TAAP_ORIGIN_ENVFILE], key, val, err);
        const char *prefix = "";
        const char *setting = set_envfile_setting(key, &prefix);
        if (rc == TAAP_OK && setting && *val) {
            size_t vl = strlen(prefix) + strlen(val) + 1;
            char *pv = malloc(vl);
            if (!pv)
                rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
            else {
                snprintf(pv, vl, "%s%s", prefix, val);
                rc = list_put(&s->values[TAAP_ORIGIN_ENVFILE], setting, pv, err);
                taap_free_secret(pv, vl);
            }
        }
        taap_free_secret_str(val);
        if (rc != TAAP_OK)
            break;
    }
    /* jansson's copies may hold the secret: wipe string values. */
    json_array_foreach(values, i, e)
    {
        json_t *v = json_is_object(e) ? json_object_get(e, "value") : NULL;
        if (json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(root);
    return rc;
}

/* ---- {{NAME}} expansion (util's one resolver, src/util/expand.h) ------------ */

static const char *set_lookup(void *ctx, const char *name, size_t len, char *scratch, size_t cap)
{
    char nm[512];
    if (len >= sizeof nm)
        return NULL;
    memcpy(nm, name, len);
    nm[len] = '\0';
    return taap_settings_var(ctx, nm);
}

taap_code taap_settings_expand(const taap_settings *s, const char *in, char **out,
                               char **first_unresolved, taap_error *err)
{
    *out = NULL;
    if (first_unresolved)
        *first_unresolved = NULL;
    if (!s || !in)
        return taap_fail(err, TAAP_E_USAGE, "taap_settings_expand: bad arguments");
    char *cur = NULL;
    int r = taap_expand(in, TAAP_EXPAND_ROUNDS, SET_MAX_EXPANDED - 1, set_lookup, (void *)s, &cur);
    if (r == TAAP_BUF_FULL)
        return taap_fail(err, TAAP_E_CONFIG, "placeholder expansion exceeds %u bytes",
                         SET_MAX_EXPANDED);
    if (r != 0)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    /* The first name still unresolved, for the caller's message. */
    const char *p = cur, *nb, *ne;
    while (first_unresolved && !*first_unresolved && taap_expand_next(p, &nb, &ne)) {
        if (!set_lookup((void *)s, nb, (size_t)(ne - nb), NULL, 0) && (size_t)(ne - nb) < 512)
            *first_unresolved = taap_strndup(nb, (size_t)(ne - nb));
        p = ne + 2;
    }
    *out = cur;
    return TAAP_OK;
}

/* ---- secret sources ---------------------------------------------------------- */

void taap_settings_free_secret(char *secret)
{
    taap_free_secret_str(secret);
}

taap_code taap_settings_read_secret(const char *spec, char **out, taap_error *err)
{
    *out = NULL;
    if (!spec)
        return taap_fail(err, TAAP_E_CONFIG, "no secret source given");
    if (strncmp(spec, "plain:", 6) == 0) {
        *out = taap_strdup(spec + 6);
        return *out ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    if (strncmp(spec, "env:", 4) == 0) {
        const char *v = getenv(spec + 4);
        if (!spec[4])
            return taap_fail(err, TAAP_E_CONFIG, "secret source 'env:' names no variable");
        if (!v || !*v)
            return taap_fail(err, TAAP_E_CONFIG, "environment variable %s (named as a secret source) "
                             "is not set", spec + 4);
        *out = taap_strdup(v);
        return *out ? TAAP_OK : taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    if (strncmp(spec, "file:", 5) == 0) {
        const char *path = spec + 5;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            return taap_fail(err, TAAP_E_CONFIG, "secret file %s: %s", path,
                             errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
        struct stat st;
        int bad = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
        int open_mode = !bad && (st.st_mode & 077);
        close(fd);
        if (bad)
            return taap_fail(err, TAAP_E_CONFIG, "secret file %s: not a regular file", path);
        if (open_mode)
            return taap_fail(err, TAAP_E_CONFIG, "secret file %s has mode %03o: others can read it; "
                             "run chmod 600 %s", path, (unsigned)(st.st_mode & 0777), path);
        char *data = NULL;
        size_t len = 0;
        taap_code rc = taap_read_file(path, SET_MAX_SECRET, 1, &data, &len, err);
        if (rc != TAAP_OK)
            return TAAP_E_CONFIG;
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            data[--len] = '\0';
        if (len == 0) {
            taap_free_secret(data, 1);
            return taap_fail(err, TAAP_E_CONFIG, "secret file %s is empty", path);
        }
        *out = data;
        return TAAP_OK;
    }
    if (strcmp(spec, "prompt") == 0)
        return taap_fail(err, TAAP_E_NEED_PASSPHRASE, "the secret is to be typed at a prompt");
    return taap_fail(err, TAAP_E_CONFIG, "secret source must be env:VAR, file:PATH, prompt or "
                     "plain:VALUE (got something else)");
}
