/*
 * key.c — RSA keys: loading every format SPEC §3 lists, the key policy of
 * SPEC §2.4, generation, and the output forms (PKCS#8, SPKI, one-line PEM,
 * JWK, fingerprint).
 *
 * Loading works on DER: PEM input is parsed here (label, optional
 * Proc-Type/DEK-Info headers, base64 body with any whitespace or none at
 * all), so CRLF, one-line and indented PEM need no re-wrapping, and the
 * label tells us what the user *meant* to give, which makes the error
 * messages precise. OpenSSL then parses the DER with the structure-specific
 * d2i/decoder functions, which lets us tell "no passphrase", "wrong
 * passphrase" and "cipher not available" apart.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "b64url.h"
#include "util.h"
#include "key_internal.h"

/* An 8192-bit private key is ~6.4 KiB of PEM; 64 KiB leaves room for
 * comments, bags and whitespace while bounding what we parse. */
#define KEY_INPUT_MAX (64u * 1024u)
#define KEY_MIN_BITS 2048
#define KEY_MAX_BITS 8192
/* PBKDF2-HMAC-SHA256 rounds for keys we encrypt: OpenSSL's CLI default is
 * 2048, far too few for a passphrase; 100k costs ~60 ms per load. */
#define KEY_PBKDF2_ITER 100000
/* JWK members: base64url of at most 1536 bytes (12288 bits) before the
 * policy check gives its precise message. */
#define JWK_MEMBER_MAX 2048

/* ------------------------------------------------------------------------ */
/* What an input is                                                          */

enum der_kind {
    DK_UNKNOWN = 0,
    DK_PKCS8,       /* PrivateKeyInfo */
    DK_PKCS8_ENC,   /* EncryptedPrivateKeyInfo */
    DK_PKCS1_PRIV,  /* RSAPrivateKey */
    DK_SPKI,        /* SubjectPublicKeyInfo */
    DK_PKCS1_PUB,   /* RSAPublicKey */
    DK_CERT         /* X.509 certificate */
};

enum in_form { IN_PEM, IN_DER, IN_JWK };

struct key_input {
    enum in_form form;
    enum der_kind kind;
    char label[72];          /* PEM label ("PRIVATE KEY"), empty for DER */
    unsigned char *der;      /* decoded body; may be secret: wiped on release */
    size_t der_len;
    size_t der_cap;
    int trad_enc;            /* PEM Proc-Type: 4,ENCRYPTED */
    char dek[160];           /* the Proc-Type/DEK-Info headers for OpenSSL */
    const char *json;        /* IN_JWK: points into the caller's input */
    size_t json_len;
};

static void input_release(struct key_input *in)
{
    if (in->der)
        taap_free_secret(in->der, in->der_cap);
    in->der = NULL;
}

static const struct {
    const char *label;
    enum der_kind kind;
} pem_labels[] = {
    {"PRIVATE KEY", DK_PKCS8},
    {"ENCRYPTED PRIVATE KEY", DK_PKCS8_ENC},
    {"RSA PRIVATE KEY", DK_PKCS1_PRIV},
    {"PUBLIC KEY", DK_SPKI},
    {"RSA PUBLIC KEY", DK_PKCS1_PUB},
    {"CERTIFICATE", DK_CERT},
    {"TRUSTED CERTIFICATE", DK_CERT},
    {"X509 CERTIFICATE", DK_CERT},
};

static const char *kind_name(enum der_kind k)
{
    switch (k) {
    case DK_PKCS8: return "a PKCS#8 private key";
    case DK_PKCS8_ENC: return "an encrypted PKCS#8 private key";
    case DK_PKCS1_PRIV: return "a PKCS#1 RSA private key";
    case DK_SPKI: return "a SubjectPublicKeyInfo public key";
    case DK_PKCS1_PUB: return "a PKCS#1 RSA public key";
    case DK_CERT: return "an X.509 certificate";
    default: return "unrecognised data";
    }
}

static const char *kind_label(enum der_kind k)
{
    for (size_t i = 0; i < sizeof pem_labels / sizeof pem_labels[0]; i++)
        if (pem_labels[i].kind == k)
            return pem_labels[i].label;
    return "?";
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

static int starts(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws((unsigned char)*p))
        p++;
    return p;
}

/*
 * Decode base64 from [p, end): whitespace anywhere is skipped (CRLF, one
 * line, indentation), '=' only at the end. The body is copied into a
 * scratch buffer first because it may be a private key: both are wiped.
 */
static taap_code decode_b64_body(const char *p, const char *end, struct key_input *in,
                                 const char *what, taap_error *err)
{
    size_t n = (size_t)(end - p);
    char *clean = malloc(n + 1);
    if (!clean)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    size_t m = 0, pad = 0;
    for (const char *q = p; q < end; q++) {
        unsigned char c = (unsigned char)*q;
        if (is_ws(c))
            continue;
        if (c == '=' && pad < 2) {
            pad++;
            continue;
        }
        if (!is_b64(c) || pad) {
            taap_free_secret(clean, n + 1);
            return taap_fail(err, TAAP_E_KEY,
                             "%s: the body is not valid base64 (unexpected character at offset %zu)",
                             what, (size_t)(q - p));
        }
        clean[m++] = (char)c;
    }
    if (m == 0) {
        taap_free_secret(clean, n + 1);
        return taap_fail(err, TAAP_E_KEY, "%s: the body is empty", what);
    }
    in->der_cap = m * 3 / 4 + 3;
    in->der = malloc(in->der_cap);
    if (!in->der) {
        taap_free_secret(clean, n + 1);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    int bad = taap_b64_decode_lenient(clean, m, in->der, &in->der_len) != 0;
    taap_free_secret(clean, n + 1);
    if (bad)
        return taap_fail(err, TAAP_E_KEY, "%s: the body is not valid base64 (truncated?)", what);
    return TAAP_OK;
}

/*
 * RFC 1421 encryption headers of a traditional PKCS#1 key. Parsed by
 * tokens rather than lines so that a PEM whose line breaks were stripped
 * ("…4,ENCRYPTEDDEK-Info: AES-256-CBC,<hex><base64>") still works: the IV
 * is exactly the cipher's IV length in hex, which marks where the body starts.
 */
static taap_code parse_proc_type(const char **pp, const char *end, struct key_input *in,
                                 taap_error *err)
{
    const char *p = *pp + strlen("Proc-Type:");
    p = skip_ws(p, end);
    if (!starts(p, end, "4,ENCRYPTED"))
        return taap_fail(err, TAAP_E_KEY, "PEM \"BEGIN RSA PRIVATE KEY\": unsupported Proc-Type header "
                                          "(expected \"Proc-Type: 4,ENCRYPTED\")");
    p = skip_ws(p + strlen("4,ENCRYPTED"), end);
    if (!starts(p, end, "DEK-Info:"))
        return taap_fail(err, TAAP_E_KEY, "PEM \"BEGIN RSA PRIVATE KEY\": encrypted but no DEK-Info header");
    p = skip_ws(p + strlen("DEK-Info:"), end);
    char cipher[40];
    size_t cn = 0;
    while (p < end && *p != ',' && !is_ws((unsigned char)*p) && cn + 1 < sizeof cipher)
        cipher[cn++] = *p++;
    cipher[cn] = '\0';
    if (p >= end || *p != ',' || cn == 0)
        return taap_fail(err, TAAP_E_KEY, "PEM \"BEGIN RSA PRIVATE KEY\": malformed DEK-Info header");
    p++;
    const EVP_CIPHER *c = EVP_get_cipherbyname(cipher);
    if (!c)
        return taap_fail(err, TAAP_E_KEY,
                         "PEM \"BEGIN RSA PRIVATE KEY\" is encrypted with %s, which this OpenSSL does "
                         "not support; re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW",
                         cipher);
    size_t hex = (size_t)EVP_CIPHER_get_iv_length(c) * 2;
    if (hex == 0 || (size_t)(end - p) < hex)
        return taap_fail(err, TAAP_E_KEY, "PEM \"BEGIN RSA PRIVATE KEY\": malformed DEK-Info IV");
    for (size_t i = 0; i < hex; i++) {
        unsigned char h = (unsigned char)p[i];
        if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F') || (h >= 'a' && h <= 'f')))
            return taap_fail(err, TAAP_E_KEY, "PEM \"BEGIN RSA PRIVATE KEY\": malformed DEK-Info IV");
    }
    int w = snprintf(in->dek, sizeof in->dek, "Proc-Type: 4,ENCRYPTED\nDEK-Info: %s,%.*s\n", cipher,
                     (int)hex, p);
    if (w < 0 || (size_t)w >= sizeof in->dek)
        return taap_fail(err, TAAP_E_KEY, "PEM \"BEGIN RSA PRIVATE KEY\": DEK-Info header too long");
    in->trad_enc = 1;
    *pp = p + hex;
    return TAAP_OK;
}

/* What a PEM label we cannot use is, in words, with a way out when there is one. */
static void describe_label(const char *label, char *out, size_t n)
{
    if (strcmp(label, "EC PRIVATE KEY") == 0)
        snprintf(out, n, "an EC private key (\"BEGIN EC PRIVATE KEY\")");
    else if (strcmp(label, "DSA PRIVATE KEY") == 0)
        snprintf(out, n, "a DSA private key (\"BEGIN DSA PRIVATE KEY\")");
    else if (strcmp(label, "OPENSSH PRIVATE KEY") == 0)
        snprintf(out, n, "an OpenSSH private key (convert a copy to PKCS#8 with "
                         "`ssh-keygen -p -m PKCS8 -f COPY`)");
    else if (strcmp(label, "SSH2 PUBLIC KEY") == 0)
        snprintf(out, n, "an SSH2 public key (convert it with `ssh-keygen -i -m PKCS8 -f FILE`)");
    else if (strstr(label, "CERTIFICATE REQUEST"))
        snprintf(out, n, "a certificate signing request (\"BEGIN %s\")", label);
    else if (strncmp(label, "PGP ", 4) == 0)
        snprintf(out, n, "an OpenPGP block (\"BEGIN %s\")", label);
    else
        snprintf(out, n, "a PEM block labelled \"%s\"", label);
}

static taap_code parse_pem(const char *s, size_t len, const char *begin, struct key_input *in,
                           taap_error *err)
{
    const char *end = s + len;
    for (;;) {
        const char *lp = begin + strlen("-----BEGIN ");
        const char *le = lp;
        while (le < end && le - lp < 64 && ((*le >= 'A' && *le <= 'Z') || (*le >= '0' && *le <= '9') ||
                                           *le == ' '))
            le++;
        if (!starts(le, end, "-----") || le == lp)
            return taap_fail(err, TAAP_E_KEY, "malformed PEM: the -----BEGIN line has no valid label");
        size_t ll = (size_t)(le - lp);
        memcpy(in->label, lp, ll);
        in->label[ll] = '\0';
        const char *body = le + 5;
        /* END marker: the first "-----END " after the body. */
        const char *em = memmem(body, (size_t)(end - body), "-----END ", 9);
        if (!em)
            return taap_fail(err, TAAP_E_KEY,
                             "PEM \"BEGIN %s\" has no -----END %s----- line (truncated copy?)",
                             in->label, in->label);
        const char *el = em + 9;
        if (!starts(el, end, in->label) || !starts(el + ll, end, "-----")) {
            const char *x = el;
            while (x < end && x - el < 64 && *x != '-' && *x != '\n')
                x++;
            return taap_fail(err, TAAP_E_KEY, "PEM \"BEGIN %s\" ends with \"END %.*s\"; they must match",
                             in->label, (int)(x - el), el);
        }
        /* `openssl ecparam -genkey` writes EC PARAMETERS first: look past it
         * so the message names the key. */
        if (strcmp(in->label, "EC PARAMETERS") == 0) {
            const char *after = el + ll + 5;
            const char *nb = memmem(after, (size_t)(end - after), "-----BEGIN ", 11);
            if (nb) {
                begin = nb;
                continue;
            }
        }
        in->form = IN_PEM;
        in->kind = DK_UNKNOWN;
        for (size_t i = 0; i < sizeof pem_labels / sizeof pem_labels[0]; i++)
            if (strcmp(in->label, pem_labels[i].label) == 0)
                in->kind = pem_labels[i].kind;
        if (in->kind == DK_UNKNOWN) {
            char d[200];
            describe_label(in->label, d, sizeof d);
            return taap_fail(err, TAAP_E_KEY, "this is %s; an RSA key is needed", d);
        }
        const char *p = skip_ws(body, em);
        if (starts(p, em, "Proc-Type:")) {
            taap_code rc = parse_proc_type(&p, em, in, err);
            if (rc != TAAP_OK)
                return rc;
        }
        char what[96];
        snprintf(what, sizeof what, "PEM \"BEGIN %s\"", in->label);
        return decode_b64_body(p, em, in, what, err);
    }
}

/* ------------------------------------------------------------------------ */
/* DER structure probes                                                      */

static EVP_PKEY *decode_rsa_type_specific(const unsigned char *der, size_t len, int selection)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", "type-specific", "RSA",
                                                           selection, NULL, NULL);
    if (dctx) {
        const unsigned char *p = der;
        size_t l = len;
        if (OSSL_DECODER_from_data(dctx, &p, &l) != 1 || l != 0) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        OSSL_DECODER_CTX_free(dctx);
    }
    ERR_clear_error();
    return pkey;
}

/* The ASN.1 template of the structures OpenSSL parses generically. */
static const ASN1_ITEM *kind_item(enum der_kind k)
{
    switch (k) {
    case DK_PKCS8: return ASN1_ITEM_rptr(PKCS8_PRIV_KEY_INFO);
    case DK_PKCS8_ENC: return ASN1_ITEM_rptr(X509_SIG);
    case DK_SPKI: return ASN1_ITEM_rptr(X509_PUBKEY);
    case DK_CERT: return ASN1_ITEM_rptr(X509);
    default: return NULL;
    }
}

/* 1 if `der` is entirely one structure of kind `k`. */
static int der_is(enum der_kind k, const unsigned char *der, size_t len)
{
    int ok = 0;
    const ASN1_ITEM *it = kind_item(k);
    if (it) {
        const unsigned char *p = der;
        ASN1_VALUE *v = ASN1_item_d2i(NULL, &p, (long)len, it);
        ok = v && p == der + len;
        ASN1_item_free(v, it); /* PKCS8_PRIV_KEY_INFO's free callback wipes the key */
    } else if (k == DK_PKCS1_PRIV || k == DK_PKCS1_PUB) {
        EVP_PKEY *pk = decode_rsa_type_specific(der, len,
                                                k == DK_PKCS1_PRIV ? OSSL_KEYMGMT_SELECT_PRIVATE_KEY
                                                                   : OSSL_KEYMGMT_SELECT_PUBLIC_KEY);
        ok = pk != NULL;
        EVP_PKEY_free(pk);
    }
    ERR_clear_error();
    return ok;
}

static enum der_kind der_sniff(const unsigned char *der, size_t len)
{
    static const enum der_kind order[] = {DK_PKCS8, DK_PKCS8_ENC, DK_SPKI,
                                          DK_CERT,  DK_PKCS1_PRIV, DK_PKCS1_PUB};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (der_is(order[i], der, len))
            return order[i];
    return DK_UNKNOWN;
}

/*
 * Classify the caller's bytes. `what` is "private" or "public" for
 * messages. On success `in` holds DER (kind known) or JSON.
 */
static taap_code parse_input(const void *data, size_t len, const char *what, struct key_input *in,
                             taap_error *err)
{
    memset(in, 0, sizeof *in);
    if (!data || len == 0)
        return taap_fail(err, TAAP_E_KEY, "the %s key is empty", what);
    if (len > KEY_INPUT_MAX)
        return taap_fail(err, TAAP_E_KEY, "the %s key input is %zu bytes; at most %u are accepted",
                         what, len, KEY_INPUT_MAX);
    const char *s = data, *end = s + len;
    const char *begin = memmem(s, len, "-----BEGIN ", 11);
    if (begin) {
        taap_code rc = parse_pem(s, len, begin, in, err);
        if (rc != TAAP_OK)
            return rc;
        /* Trust the label, but a body that is validly something else (an
         * SPKI under "BEGIN RSA PUBLIC KEY" is a common hand edit) is
         * loaded as what it is. */
        if (!in->trad_enc && !der_is(in->kind, in->der, in->der_len)) {
            enum der_kind k = der_sniff(in->der, in->der_len);
            if (k == DK_UNKNOWN)
                return taap_fail(err, TAAP_E_KEY,
                                 "PEM \"BEGIN %s\": the body is not a valid key structure "
                                 "(damaged or truncated copy?)", in->label);
            in->kind = k;
        }
        return TAAP_OK;
    }
    if ((unsigned char)s[0] == 0x30) {
        in->form = IN_DER;
        in->der_cap = len;
        in->der = taap_memdup(s, len);
        if (!in->der)
            return taap_fail(err, TAAP_E_NOMEM, "out of memory");
        in->der_len = len;
        in->kind = der_sniff(in->der, len);
        if (in->kind == DK_UNKNOWN)
            return taap_fail(err, TAAP_E_KEY,
                             "not a PEM, DER or JWK %s key (binary data that is not a PKCS#8, "
                             "PKCS#1 or SubjectPublicKeyInfo structure)", what);
        return TAAP_OK;
    }
    const char *t = skip_ws(s, end), *te = end;
    if (starts(t, end, "\xEF\xBB\xBF")) /* a UTF-8 byte order mark from a Windows editor */
        t = skip_ws(t + 3, end);
    while (te > t && is_ws((unsigned char)te[-1]))
        te--;
    if (t == te)
        return taap_fail(err, TAAP_E_KEY, "the %s key is empty (only whitespace)", what);
    if (*t == '{') {
        in->form = IN_JWK;
        in->json = t;
        in->json_len = (size_t)(te - t);
        return TAAP_OK;
    }
    if (starts(t, te, "ssh-rsa ") || starts(t, te, "ssh-ed25519 ") || starts(t, te, "ecdsa-sha2-"))
        return taap_fail(err, TAAP_E_KEY,
                         "this is an OpenSSH public key line; a PEM key is needed (convert it with "
                         "`ssh-keygen -e -m PKCS8 -f KEY.pub`)");
    if (memmem(t, (size_t)(te - t), "-----END ", 9))
        return taap_fail(err, TAAP_E_KEY,
                         "the %s key has an -----END line but no -----BEGIN line (incomplete copy?)", what);
    /* Only base64 and whitespace: a PEM body pasted without its BEGIN/END
     * lines (DevEdge's most common mistake). Say which lines are missing. */
    int only_b64 = (te - t) >= 32;
    for (const char *q = t; q < te && only_b64; q++)
        only_b64 = is_b64((unsigned char)*q) || *q == '=' || is_ws((unsigned char)*q);
    if (only_b64) {
        struct key_input tmp;
        memset(&tmp, 0, sizeof tmp);
        enum der_kind k = DK_UNKNOWN;
        if (decode_b64_body(t, te, &tmp, "input", NULL) == TAAP_OK)
            k = der_sniff(tmp.der, tmp.der_len);
        input_release(&tmp);
        if (k != DK_UNKNOWN)
            return taap_fail(err, TAAP_E_KEY,
                             "this is the base64 body of %s without its \"-----BEGIN %s-----\" and "
                             "\"-----END %s-----\" lines; give the whole PEM, BEGIN and END lines included",
                             kind_name(k), kind_label(k), kind_label(k));
        return taap_fail(err, TAAP_E_KEY,
                         "base64 text without -----BEGIN/-----END lines that is not a key; "
                         "not a PEM, DER or JWK %s key", what);
    }
    return taap_fail(err, TAAP_E_KEY, "not a PEM, DER or JWK %s key", what);
}

/* ------------------------------------------------------------------------ */
/* Decryption                                                                */

/* OpenSSL's legacy provider (DES, RC2, MD5-based PBES1…) lives in a library
 * context of its own, so asking for it never changes what the rest of the
 * process gets from the default context. Created once, kept for the life of
 * the process. */
static CRYPTO_ONCE legacy_once = CRYPTO_ONCE_STATIC_INIT;
static OSSL_LIB_CTX *legacy_libctx;

static void legacy_init(void)
{
    OSSL_LIB_CTX *c = OSSL_LIB_CTX_new();
    if (!c)
        return;
    if (!OSSL_PROVIDER_load(c, "legacy") || !OSSL_PROVIDER_load(c, "default")) {
        OSSL_LIB_CTX_free(c);
        ERR_clear_error();
        return;
    }
    legacy_libctx = c;
}

static OSSL_LIB_CTX *legacy_ctx(void)
{
    if (!CRYPTO_THREAD_run_once(&legacy_once, legacy_init))
        return NULL;
    return legacy_libctx;
}

/* 1 when the queued errors say an algorithm is missing (as opposed to a
 * decryption that ran and produced garbage: a wrong passphrase). Clears. */
static int errors_say_unsupported(void)
{
    unsigned long e;
    int unsupported = 0;
    while ((e = ERR_get_error()) != 0) {
        int r = ERR_GET_REASON(e);
        if (r == ERR_GET_REASON(ERR_R_UNSUPPORTED) ||
            (ERR_GET_LIB(e) == ERR_LIB_EVP &&
             (r == EVP_R_UNSUPPORTED_CIPHER || r == EVP_R_UNKNOWN_CIPHER ||
              r == EVP_R_UNKNOWN_PBE_ALGORITHM || r == EVP_R_UNSUPPORTED_ALGORITHM ||
              r == EVP_R_UNSUPPORTED_PRF || r == EVP_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION)))
            unsupported = 1;
    }
    return unsupported;
}

/* "PBES2 with aes-256-cbc" or "pbeWithMD5AndDES-CBC (legacy PBES1)". */
static int pkcs8_scheme(const X509_SIG *sig, char *out, size_t n)
{
    const X509_ALGOR *alg = NULL;
    X509_SIG_get0(sig, &alg, NULL);
    int nid = OBJ_obj2nid(alg->algorithm);
    if (nid == NID_pbes2) {
        const char *cipher = "unknown cipher";
        PBE2PARAM *p2 = alg->parameter ? ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
                                                                   alg->parameter)
                                       : NULL;
        if (p2 && p2->encryption) {
            const char *sn = OBJ_nid2sn(OBJ_obj2nid(p2->encryption->algorithm));
            if (sn && strcmp(sn, "UNDEF") != 0)
                cipher = sn;
        }
        snprintf(out, n, "PKCS#8 PBES2 with %s", cipher);
        PBE2PARAM_free(p2);
        ERR_clear_error();
        return 1;
    }
    char name[80];
    if (OBJ_obj2txt(name, sizeof name, alg->algorithm, 0) <= 0)
        snprintf(name, sizeof name, "an unknown algorithm");
    snprintf(out, n, "legacy PKCS#8 PBES1 %s", name);
    return 0;
}

static taap_code decrypt_pkcs8(struct key_input *in, const char *pass, unsigned flags,
                               EVP_PKEY **out, taap_error *err)
{
    const unsigned char *p = in->der;
    X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)in->der_len);
    if (!sig)
        return taap_fail_openssl(err, TAAP_E_KEY, "encrypted PKCS#8 key is malformed");
    char scheme[128];
    int pbes2 = pkcs8_scheme(sig, scheme, sizeof scheme);
    if (!pass) {
        X509_SIG_free(sig);
        return taap_fail(err, TAAP_E_NEED_PASSPHRASE,
                         "the private key is encrypted (%s); a passphrase is needed", scheme);
    }
    int plen = (int)strnlen(pass, 1024);
    ERR_clear_error();
    PKCS8_PRIV_KEY_INFO *p8 = PKCS8_decrypt_ex(sig, pass, plen, NULL, NULL);
    int unsupported = p8 ? 0 : errors_say_unsupported();
    if (!p8 && unsupported && (flags & TAAP_KEY_ALLOW_LEGACY)) {
        OSSL_LIB_CTX *lctx = legacy_ctx();
        if (!lctx) {
            X509_SIG_free(sig);
            return taap_fail(err, TAAP_E_KEY,
                             "the private key is encrypted with %s and OpenSSL's legacy provider could "
                             "not be loaded (is legacy.so installed in OpenSSL's modules directory?)",
                             scheme);
        }
        p8 = PKCS8_decrypt_ex(sig, pass, plen, lctx, NULL);
        unsupported = p8 ? 0 : errors_say_unsupported();
    }
    X509_SIG_free(sig);
    if (!p8) {
        if (unsupported && !pbes2 && !(flags & TAAP_KEY_ALLOW_LEGACY))
            return taap_fail(err, TAAP_E_KEY,
                             "the private key is encrypted with %s, which needs OpenSSL's legacy "
                             "provider: allow it (taap: --legacy or TAAP_KEY_LEGACY=1; library: "
                             "TAAP_KEY_ALLOW_LEGACY) or re-encrypt the key: openssl pkcs8 -topk8 -v2 aes-256-cbc -provider legacy "
                             "-provider default -in OLD -out NEW",
                             scheme);
        if (unsupported)
            return taap_fail(err, TAAP_E_KEY,
                             "the private key is encrypted with %s, which this OpenSSL does not support",
                             scheme);
        return taap_fail(err, TAAP_E_BAD_PASSPHRASE,
                         "wrong passphrase: it does not decrypt the private key (%s)", scheme);
    }
    *out = EVP_PKCS82PKEY_ex(p8, NULL, NULL);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (!*out)
        return taap_fail_openssl(err, TAAP_E_KEY,
                                 "the decrypted PKCS#8 key has an unsupported key algorithm");
    return TAAP_OK;
}

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    size_t n = strlen((const char *)u);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, u, n);
    return (int)n;
}

/* Traditional "Proc-Type: 4,ENCRYPTED" PKCS#1: decrypts in->der in place. */
static taap_code decrypt_traditional(struct key_input *in, const char *pass, taap_error *err)
{
    char hdr[sizeof in->dek];
    memcpy(hdr, in->dek, sizeof hdr);
    const char *ci_name = strstr(in->dek, "DEK-Info: ");
    char alg[48] = "?";
    if (ci_name) {
        ci_name += 10;
        size_t k = 0;
        while (ci_name[k] && ci_name[k] != ',' && k + 1 < sizeof alg) {
            alg[k] = ci_name[k];
            k++;
        }
        alg[k] = '\0';
    }
    if (!pass)
        return taap_fail(err, TAAP_E_NEED_PASSPHRASE,
                         "the private key is encrypted (PKCS#1 Proc-Type with %s); a passphrase is needed",
                         alg);
    EVP_CIPHER_INFO ci;
    if (!PEM_get_EVP_CIPHER_INFO(hdr, &ci))
        return taap_fail_openssl(err, TAAP_E_KEY, "cannot use the PEM encryption headers");
    long l = (long)in->der_len;
    ERR_clear_error();
    if (!PEM_do_header(&ci, in->der, &l, pass_cb, (void *)pass)) {
        if (errors_say_unsupported())
            return taap_fail(err, TAAP_E_KEY,
                             "the private key is encrypted with %s, which this OpenSSL does not support "
                             "without its legacy provider; re-encrypt it: openssl pkcs8 -topk8 -v2 "
                             "aes-256-cbc -provider legacy -provider default -in OLD -out NEW",
                             alg);
        return taap_fail(err, TAAP_E_BAD_PASSPHRASE,
                         "wrong passphrase: it does not decrypt the private key (PKCS#1 Proc-Type with %s)",
                         alg);
    }
    in->der_len = (size_t)l;
    return TAAP_OK;
}

/* ------------------------------------------------------------------------ */
/* JWK                                                                       */

/* Private members go into secure-heap BIGNUMs, which OSSL_PARAM_BLD keeps
 * in its secure block and which are wiped when freed. */
static taap_code jwk_bn(json_t *obj, const char *name, int secret, BIGNUM **out, taap_error *err)
{
    *out = NULL;
    json_t *v = json_object_get(obj, name);
    if (!v)
        return taap_fail(err, TAAP_E_KEY, "JWK has no \"%s\" member", name);
    if (!json_is_string(v))
        return taap_fail(err, TAAP_E_KEY, "JWK \"%s\" is not a string", name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0)
        return taap_fail(err, TAAP_E_KEY, "JWK \"%s\" is empty", name);
    if (n > JWK_MEMBER_MAX)
        return taap_fail(err, TAAP_E_KEY,
                         "JWK \"%s\" is %zu characters; RSA keys up to %d bits are accepted", name, n,
                         KEY_MAX_BITS);
    size_t cap = n * 3 / 4 + 3, bl = 0;
    unsigned char *b = malloc(cap);
    if (!b)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    /* Lenient: '=' padding (the T-Mobile demo JWK has it) and a leading
     * zero byte (Java BigInteger.toByteArray) both decode to the same number. */
    if (taap_b64_decode_lenient(s, n, b, &bl) != 0) {
        taap_free_secret(b, cap);
        return taap_fail(err, TAAP_E_KEY, "JWK \"%s\" is not base64url", name);
    }
    BIGNUM *bn = secret ? BN_secure_new() : NULL;
    *out = (secret && !bn) ? NULL : BN_bin2bn(b, (int)bl, bn);
    taap_free_secret(b, cap);
    if (!*out)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

static taap_code load_jwk(struct key_input *in, int want_private, EVP_PKEY **out, int *is_private,
                          taap_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(in->json, in->json_len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return taap_fail(err, TAAP_E_KEY, "not a PEM, DER or JWK key: JSON error at line %d: %s",
                         je.line, je.text);
    json_t *jwk = root;
    taap_code rc = TAAP_OK;
    json_t *keys = json_is_object(root) ? json_object_get(root, "keys") : NULL;
    if (keys) {
        size_t nkeys = json_is_array(keys) ? json_array_size(keys) : 0;
        if (nkeys != 1) {
            json_decref(root);
            return taap_fail(err, TAAP_E_KEY, "this is a JWK Set with %zu keys; give exactly one key",
                             nkeys);
        }
        jwk = json_array_get(keys, 0);
    }
    if (!json_is_object(jwk)) {
        json_decref(root);
        return taap_fail(err, TAAP_E_KEY, "JWK is not a JSON object");
    }
    json_t *kty = json_object_get(jwk, "kty");
    if (!json_is_string(kty)) {
        json_decref(root);
        return taap_fail(err, TAAP_E_KEY, "JWK has no \"kty\" string; \"kty\":\"RSA\" is needed");
    }
    if (strcmp(json_string_value(kty), "RSA") != 0) {
        rc = taap_fail(err, TAAP_E_KEY, "JWK kty is \"%.32s\"; an RSA key (\"kty\":\"RSA\") is needed",
                       json_string_value(kty));
        json_decref(root);
        return rc;
    }
    /* n, e, then the private members when we want (and have) them. */
    static const char *const priv_names[] = {"d", "p", "q", "dp", "dq", "qi"};
    static const char *const priv_params[] = {
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,  OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    BIGNUM *n = NULL, *e = NULL, *priv[6] = {0};
    int has_private = json_object_get(jwk, "d") != NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (want_private && !has_private) {
        rc = taap_fail(err, TAAP_E_KEY, "this is a public key (JWK without \"d\"), a private key is needed");
        goto done;
    }
    int use_private = want_private && has_private;
    if ((rc = jwk_bn(jwk, "n", 0, &n, err)) != TAAP_OK || (rc = jwk_bn(jwk, "e", 0, &e, err)) != TAAP_OK)
        goto done;
    for (size_t i = 0; use_private && i < 6; i++)
        if ((rc = jwk_bn(jwk, priv_names[i], 1, &priv[i], err)) != TAAP_OK)
            goto done;
    bld = OSSL_PARAM_BLD_new();
    int ok = bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    for (size_t i = 0; ok && use_private && i < 6; i++)
        ok = OSSL_PARAM_BLD_push_BN(bld, priv_params[i], priv[i]);
    if (ok)
        params = OSSL_PARAM_BLD_to_param(bld);
    ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, use_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = taap_fail_openssl(err, TAAP_E_KEY, "JWK does not make a usable RSA key");
        goto done;
    }
    *out = pkey;
    *is_private = use_private;
    pkey = NULL;
done:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    for (size_t i = 0; i < 6; i++)
        BN_clear_free(priv[i]);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Key policy and the finished handle                                        */

static taap_code check_policy(EVP_PKEY *pk, taap_error *err)
{
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        const char *t = EVP_PKEY_get0_type_name(pk);
        return taap_fail(err, TAAP_E_KEY,
                         "the key type is %s; an RSA key is needed (PoP tokens are signed with RS256)",
                         t ? t : "unknown");
    }
    int bits = EVP_PKEY_get_bits(pk);
    if (bits < KEY_MIN_BITS || bits > KEY_MAX_BITS)
        return taap_fail(err, TAAP_E_KEY, "RSA modulus is %d bits; %d..%d required", bits, KEY_MIN_BITS,
                         KEY_MAX_BITS);
    BIGNUM *n = NULL, *e = NULL;
    taap_code rc = TAAP_OK;
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        rc = taap_fail_openssl(err, TAAP_E_KEY, "cannot read the RSA key's modulus and exponent");
    } else if (!BN_is_odd(n)) {
        rc = taap_fail(err, TAAP_E_KEY, "RSA modulus is even; this is not a valid RSA key");
    } else if (!BN_is_odd(e) || BN_num_bits(e) > 32 || BN_get_word(e) < 65537) {
        char ev[32];
        if (BN_num_bits(e) <= 64) {
            char *dec = BN_bn2dec(e);
            snprintf(ev, sizeof ev, "%s", dec ? dec : "?");
            OPENSSL_free(dec);
        } else {
            snprintf(ev, sizeof ev, "a %d-bit number", BN_num_bits(e));
        }
        rc = taap_fail(err, TAAP_E_KEY,
                       "RSA public exponent e is %s; an odd e with 65537 <= e <= 2^32 is required", ev);
    }
    BN_free(n);
    BN_free(e);
    return rc;
}

taap_code key_finish(taap_key *key, taap_error *err)
{
    if (!key || !key->pkey)
        return taap_fail(err, TAAP_E_USAGE, "no key");
    taap_code rc = check_policy(key->pkey, err);
    if (rc != TAAP_OK)
        return rc;
    key->bits = (unsigned)EVP_PKEY_get_bits(key->pkey);
    key->sig_len = (size_t)EVP_PKEY_get_size(key->pkey);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key->pkey, &der);
    if (n <= 0)
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "cannot encode the public key");
    int ok = taap_sha256_digest(der, (size_t)n, key->fingerprint);
    OPENSSL_free(der);
    if (!ok)
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "SHA-256 failed");
    return TAAP_OK;
}

/* Wrap `pkey` (ownership taken) in a finished handle. */
static taap_code make_key(EVP_PKEY *pkey, int is_private, taap_key **out, taap_error *err)
{
    taap_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    }
    k->pkey = pkey;
    k->is_private = is_private;
    taap_code rc = key_finish(k, err);
    if (rc != TAAP_OK) {
        taap_key_free(k);
        return rc;
    }
    *out = k;
    return TAAP_OK;
}

/* The public half of a key as a fresh EVP_PKEY (via SPKI). */
static EVP_PKEY *public_only(EVP_PKEY *pk)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pk, &der);
    if (n <= 0)
        return NULL;
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, n);
    OPENSSL_free(der);
    return pub;
}

/* DER of a known kind → EVP_PKEY. */
static taap_code load_der(struct key_input *in, const char *pass, unsigned flags, EVP_PKEY **out,
                          int *is_private, taap_error *err)
{
    const unsigned char *p = in->der;
    long l = (long)in->der_len;
    *out = NULL;
    *is_private = 0;
    switch (in->kind) {
    case DK_PKCS8: {
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, l);
        *out = p8 ? EVP_PKCS82PKEY_ex(p8, NULL, NULL) : NULL;
        PKCS8_PRIV_KEY_INFO_free(p8);
        if (!*out)
            return taap_fail_openssl(err, TAAP_E_KEY, "PKCS#8 private key with an unsupported key algorithm");
        *is_private = 1;
        return TAAP_OK;
    }
    case DK_PKCS8_ENC: {
        taap_code rc = decrypt_pkcs8(in, pass, flags, out, err);
        *is_private = rc == TAAP_OK;
        return rc;
    }
    case DK_PKCS1_PRIV:
        if (in->trad_enc) {
            taap_code rc = decrypt_traditional(in, pass, err);
            if (rc != TAAP_OK)
                return rc;
        }
        *out = decode_rsa_type_specific(in->der, in->der_len, OSSL_KEYMGMT_SELECT_PRIVATE_KEY);
        if (!*out)
            return in->trad_enc ? taap_fail(err, TAAP_E_BAD_PASSPHRASE,
                                            "wrong passphrase: the decrypted data is not an RSA private key")
                                : taap_fail(err, TAAP_E_KEY, "the PKCS#1 RSA private key is malformed");
        *is_private = 1;
        return TAAP_OK;
    case DK_SPKI:
        *out = d2i_PUBKEY(NULL, &p, l);
        if (!*out) {
            char alg[80] = "an unknown algorithm";
            X509_PUBKEY *xp = d2i_X509_PUBKEY(NULL, &p, l);
            ASN1_OBJECT *obj = NULL;
            if (xp && X509_PUBKEY_get0_param(&obj, NULL, NULL, NULL, xp) == 1 && obj)
                OBJ_obj2txt(alg, sizeof alg, obj, 0);
            X509_PUBKEY_free(xp);
            ERR_clear_error();
            return taap_fail(err, TAAP_E_KEY, "public key of %s; an RSA key is needed", alg);
        }
        return TAAP_OK;
    case DK_PKCS1_PUB:
        *out = decode_rsa_type_specific(in->der, in->der_len, OSSL_KEYMGMT_SELECT_PUBLIC_KEY);
        if (!*out)
            return taap_fail(err, TAAP_E_KEY, "the PKCS#1 RSA public key is malformed");
        return TAAP_OK;
    case DK_CERT:
        return taap_fail(err, TAAP_E_KEY,
                         "this is an X.509 certificate, not a key; extract its public key with "
                         "`openssl x509 -pubkey -noout -in CERT`");
    default:
        return taap_fail(err, TAAP_E_KEY, "not a recognised key");
    }
}

static const char *input_found(const struct key_input *in, char *buf, size_t n)
{
    if (in->form == IN_PEM)
        snprintf(buf, n, "%s (PEM \"BEGIN %s\")", kind_name(in->kind), in->label);
    else
        snprintf(buf, n, "%s (DER)", kind_name(in->kind));
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */

taap_code taap_key_load_private(const void *data, size_t len, const char *passphrase,
                                unsigned flags, taap_key **out, taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_load_private: out is NULL");
    *out = NULL;
    struct key_input in;
    taap_code rc = parse_input(data, len, "private", &in, err);
    EVP_PKEY *pkey = NULL;
    int is_private = 0;
    if (rc == TAAP_OK && in.form == IN_JWK) {
        rc = load_jwk(&in, 1, &pkey, &is_private, err);
    } else if (rc == TAAP_OK) {
        if (in.kind == DK_SPKI || in.kind == DK_PKCS1_PUB) {
            char found[160];
            rc = taap_fail(err, TAAP_E_KEY, "this is a public key, a private key is needed (found %s)",
                           input_found(&in, found, sizeof found));
        } else if (in.kind == DK_CERT) {
            rc = taap_fail(err, TAAP_E_KEY,
                           "this is an X.509 certificate, a private key is needed (PEM \"BEGIN PRIVATE "
                           "KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN ENCRYPTED PRIVATE KEY\")");
        } else {
            rc = load_der(&in, passphrase, flags, &pkey, &is_private, err);
        }
    }
    input_release(&in);
    ERR_clear_error();
    if (rc != TAAP_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    return make_key(pkey, 1, out, err);
}

/*
 * Read a key file (bounded; the buffer is wiped afterwards since it may hold
 * a private key even for the public loader), parse it, and prefix any error
 * with the path: the user may have several keys around. Private key files
 * are opened with O_NOFOLLOW and their mode is reported.
 */
static taap_code load_file(const char *path, int want_private, const char *pass, unsigned flags,
                           taap_key **out, int *insecure_mode, taap_error *err)
{
    if (insecure_mode)
        *insecure_mode = 0;
    if (!out || !path)
        return taap_fail(err, TAAP_E_USAGE, "key file loader: path or out is NULL");
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    taap_code rc = taap_read_file(path, KEY_INPUT_MAX, want_private, &buf, &len, err);
    if (rc != TAAP_OK)
        return rc;
    /* Opened with O_NOFOLLOW, so lstat sees the same kind of object; a swap
     * in between could only change the warning. */
    struct stat st;
    if (insecure_mode && lstat(path, &st) == 0 && (st.st_mode & 077))
        *insecure_mode = 1;
    rc = want_private ? taap_key_load_private(buf, len, pass, flags, out, err)
                      : taap_key_load_public(buf, len, out, err);
    taap_free_secret(buf, len + 1);
    if (rc != TAAP_OK && err && err->message[0]) {
        char msg[TAAP_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err->message);
        taap_fail(err, rc, "%s: %s", path, msg);
    }
    return rc;
}

taap_code taap_key_load_private_file(const char *path, const char *passphrase, unsigned flags,
                                     taap_key **out, int *insecure_mode, taap_error *err)
{
    return load_file(path, 1, passphrase, flags, out, insecure_mode, err);
}

taap_code taap_key_load_public(const void *data, size_t len, taap_key **out, taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_load_public: out is NULL");
    *out = NULL;
    struct key_input in;
    taap_code rc = parse_input(data, len, "public", &in, err);
    EVP_PKEY *pkey = NULL;
    int is_private = 0;
    if (rc == TAAP_OK && in.form == IN_JWK) {
        rc = load_jwk(&in, 0, &pkey, &is_private, err);
    } else if (rc == TAAP_OK) {
        if (in.kind == DK_PKCS8_ENC || in.trad_enc)
            rc = taap_fail(err, TAAP_E_KEY,
                           "this is an encrypted private key; give its public key instead "
                           "(openssl pkey -in KEY -pubout)");
        else
            rc = load_der(&in, NULL, 0, &pkey, &is_private, err);
    }
    input_release(&in);
    if (rc == TAAP_OK && is_private) {
        /* Keep no private material in a verification key. */
        EVP_PKEY *pub = public_only(pkey);
        EVP_PKEY_free(pkey);
        pkey = pub;
        if (!pkey)
            rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "cannot reduce the private key to its public half");
    }
    ERR_clear_error();
    if (rc != TAAP_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    return make_key(pkey, 0, out, err);
}

taap_code taap_key_load_public_file(const char *path, taap_key **out, taap_error *err)
{
    return load_file(path, 0, NULL, 0, out, NULL, err);
}

taap_code taap_key_generate(unsigned bits, taap_key **out, taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_generate: out is NULL");
    *out = NULL;
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return taap_fail(err, TAAP_E_USAGE, "key size %u bits: 2048, 3072 or 4096 expected", bits);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
        EVP_PKEY_generate(ctx, &pkey) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "RSA key generation failed");
    }
    EVP_PKEY_CTX_free(ctx);
    return make_key(pkey, 1, out, err);
}

/* Copy a memory BIO's contents into a malloc'd NUL-terminated string. */
static taap_code bio_string(BIO *bio, char **out, taap_error *err)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || !data)
        return taap_fail_openssl(err, TAAP_E_CRYPTO, "PEM encoding produced nothing");
    *out = taap_strndup(data, (size_t)n);
    if (!*out)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    return TAAP_OK;
}

taap_code taap_key_private_pem(const taap_key *key, const char *passphrase, char **pem,
                               taap_error *err)
{
    if (!pem || !key)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_private_pem: key or pem is NULL");
    *pem = NULL;
    if (!key->is_private)
        return taap_fail(err, TAAP_E_KEY, "this is a public key; it has no private half to write");
    /* The secure-memory BIO wipes its buffer when it grows and when freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key->pkey);
    taap_code rc = TAAP_OK;
    if (!bio || !p8) {
        rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "cannot encode the private key as PKCS#8");
    } else if (passphrase && *passphrase) {
        EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
        unsigned char salt[16];
        /* pbe_nid -1 + a cipher = PBES2; the PRF defaults to HMAC-SHA256.
         * A 16-byte salt (OpenSSL's default is 8). */
        X509_SIG *sig = aes && RAND_bytes(salt, sizeof salt) == 1
                            ? PKCS8_encrypt_ex(-1, aes, passphrase, (int)strnlen(passphrase, 1024),
                                               salt, (int)sizeof salt, KEY_PBKDF2_ITER, p8, NULL, NULL)
                            : NULL;
        if (!sig || PEM_write_bio_PKCS8(bio, sig) != 1)
            rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "cannot encrypt the private key");
        X509_SIG_free(sig);
        EVP_CIPHER_free(aes);
    } else if (PEM_write_bio_PKCS8_PRIV_KEY_INFO(bio, p8) != 1) {
        rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "cannot write the private key as PEM");
    }
    if (rc == TAAP_OK)
        rc = bio_string(bio, pem, err);
    PKCS8_PRIV_KEY_INFO_free(p8);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

taap_code taap_key_public_pem(const taap_key *key, char **pem, taap_error *err)
{
    if (!pem || !key)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_public_pem: key or pem is NULL");
    *pem = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    taap_code rc;
    if (!bio || PEM_write_bio_PUBKEY(bio, key->pkey) != 1)
        rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "cannot write the public key as PEM");
    else
        rc = bio_string(bio, pem, err);
    BIO_free(bio);
    return rc;
}

taap_code taap_key_public_pem_oneline(const taap_key *key, char **pem, taap_error *err)
{
    taap_code rc = taap_key_public_pem(key, pem, err);
    if (rc != TAAP_OK || !*pem)
        return rc;
    char *w = *pem;
    for (const char *r = *pem; *r; r++)
        if (*r != '\n' && *r != '\r')
            *w++ = *r;
    *w = '\0';
    return TAAP_OK;
}

/* base64url of a BIGNUM's minimal big-endian bytes; malloc'd. */
static char *bn_b64url(const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    char *s = malloc(TAAP_B64URL_LEN((size_t)n) + 1);
    if (!b || !s) {
        free(b);
        free(s);
        return NULL;
    }
    BN_bn2bin(bn, b);
    taap_b64url_encode(b, (size_t)n, s);
    free(b);
    return s;
}

taap_code taap_key_public_jwk(const taap_key *key, char **json, taap_error *err)
{
    if (!json || !key)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_public_jwk: key or json is NULL");
    *json = NULL;
    BIGNUM *n = NULL, *e = NULL;
    char *ns = NULL, *es = NULL;
    char kid[TAAP_B64URL_LEN(32) + 1];
    json_t *obj = NULL;
    taap_code rc = TAAP_OK;
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        rc = taap_fail_openssl(err, TAAP_E_CRYPTO, "cannot read the RSA modulus and exponent");
        goto done;
    }
    ns = bn_b64url(n);
    es = bn_b64url(e);
    taap_b64url_encode(key->fingerprint, sizeof key->fingerprint, kid);
    obj = (ns && es) ? json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "n", ns, "e", es, "kid", kid) : NULL;
    if (!obj) {
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    size_t need = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    *json = need ? malloc(need + 1) : NULL;
    if (!*json || json_dumpb(obj, *json, need, JSON_COMPACT) != need) {
        free(*json);
        *json = NULL;
        rc = taap_fail(err, TAAP_E_NOMEM, "out of memory");
        goto done;
    }
    (*json)[need] = '\0';
done:
    json_decref(obj);
    free(ns);
    free(es);
    BN_free(n);
    BN_free(e);
    return rc;
}

void taap_key_free_pem(char *pem)
{
    taap_free_secret_str(pem);
}

void taap_key_fingerprint(const taap_key *key, unsigned char out[32])
{
    if (key)
        memcpy(out, key->fingerprint, sizeof key->fingerprint);
    else
        memset(out, 0, 32);
}

int taap_key_is_private(const taap_key *key)
{
    return key ? key->is_private : 0;
}

unsigned taap_key_bits(const taap_key *key)
{
    return key ? key->bits : 0;
}

int taap_key_same_public(const taap_key *a, const taap_key *b)
{
    if (!a || !b)
        return 0;
    return EVP_PKEY_eq(a->pkey, b->pkey) == 1;
}

void taap_key_free(taap_key *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey); /* OpenSSL clears the private BIGNUMs */
    OPENSSL_cleanse(key, sizeof *key);
    free(key);
}

taap_code taap_key_write_private_file(const taap_key *key, const char *path, const char *passphrase,
                                      int overwrite, taap_error *err)
{
    if (!path)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_write_private_file: path is NULL");
    char *pem = NULL;
    taap_code rc = taap_key_private_pem(key, passphrase, &pem, err);
    if (rc == TAAP_OK && pem)
        rc = taap_write_file_atomic(path, pem, strlen(pem), 0600, overwrite, err);
    taap_key_free_pem(pem);
    return rc;
}

taap_code taap_key_write_public_file(const taap_key *key, const char *path, int overwrite,
                                     taap_error *err)
{
    if (!path)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_write_public_file: path is NULL");
    char *pem = NULL;
    taap_code rc = taap_key_public_pem(key, &pem, err);
    if (rc == TAAP_OK && pem)
        rc = taap_write_file_atomic(path, pem, strlen(pem), 0644, overwrite, err);
    taap_key_free_pem(pem);
    return rc;
}

taap_code taap_key_dup(const taap_key *key, taap_key **out, taap_error *err)
{
    if (!out)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_dup: out is NULL");
    *out = NULL;
    if (!key)
        return taap_fail(err, TAAP_E_USAGE, "taap_key_dup: no key");
    taap_key *k = malloc(sizeof *k);
    if (!k)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    *k = *key;
    if (!EVP_PKEY_up_ref(k->pkey)) {
        free(k);
        return taap_fail_openssl(err, TAAP_E_NOMEM, "cannot share the key");
    }
    *out = k;
    return TAAP_OK;
}
