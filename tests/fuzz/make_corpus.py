#!/usr/bin/env python3
"""make_corpus.py — (re)generate the seed corpora under tests/fuzz/corpus/.

Run from anywhere:  python3 tests/fuzz/make_corpus.py [SHARED_DIR]
SHARED_DIR defaults to ../shared beside the checkout (conformance vectors).
Needs the `openssl` command (signing seeds, DER and encrypted key forms).

Seeds come from ../shared/conformance (RFC 7515/7520 vectors, T-Mobile demo
tokens, library regression tokens, Wycheproof JWS/JWK, Postman collections)
and from hand-made inputs for the project's own formats. Every file name
says where the seed came from. The corpora are checked in; rerunning this
script only rewrites the generated ones (regression inputs named regress-*
that a finding added by hand are kept).
"""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(SRC), "shared")
CONF = os.path.join(SHARED, "conformance")
CORPUS = os.path.join(HERE, "corpus")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def clean(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if not n.startswith("regress-"):
                os.unlink(os.path.join(d, n))


def read(rel, mode="rb"):
    with open(os.path.join(CONF, rel), mode) as f:
        return f.read()


def test_keys():
    """The PEMs embedded in test_keys.h, by C name."""
    text = open(os.path.join(HERE, "test_keys.h")).read()
    keys = {}
    for m in re.finditer(r"static const char (\w+)\[\] =\n((?:\s+\".*\"\n)+)\s+;", text):
        body = "".join(re.findall(r"\"(.*)\"", m.group(2))).replace("\\n", "\n")
        keys[m.group(1)] = body
    return keys


KEYS = test_keys()
TMP = tempfile.mkdtemp()
PRIV = os.path.join(TMP, "k.pem")
with open(PRIV, "w") as f:
    f.write(KEYS["TK_PRIVATE_PEM"])


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def sign(header, payload):
    si = (b64u(header) + "." + b64u(payload)).encode()
    sig = openssl("dgst", "-sha256", "-sign", PRIV, data=si)
    return si.decode() + "." + b64u(sig)


# ---- fuzz_verify ---------------------------------------------------------
# The fixed request of fuzz_verify.c.
REQ = {
    "Content-Type": b"application/json",
    "Authorization": b"Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS",
    "X-Extra": b"padded value",
    "uri": b"/commerce/v1/orders?account-number=0000000000",
    "http-method": b"POST",
    "body": b'{"orderId": 100, "product": "Mobile Phone"}',
}
HDR = b'{"alg":"RS256","typ":"JWT"}'


def edts(names):
    return b64u(hashlib.sha256(b"".join(REQ[n] for n in names)).digest())


def payload(ehts=None, iat=1700000000, exp=1700000060, jti="3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            v='"1"', extra=""):
    names = ehts or ["Content-Type", "Authorization", "uri", "http-method", "body"]
    e = edts(names)
    return ('{"iat":%s,"exp":%s,"ehts":"%s","edts":"%s","jti":"%s","v":%s%s}'
            % (iat, exp, ";".join(names), e, jti, v, extra)).encode()


def verify_corpus():
    clean("verify")
    # Third-party tokens, verified raw (they fail at the signature or before).
    out("verify", "rfc7515-a2", read("rfc7515-a2/compact.jws").strip())
    out("verify", "rfc7520-4.1", read("rfc7520-4.1/compact.jws").strip())
    for c in json.load(open(os.path.join(CONF, "tmobile-reference/tmobile_reference_cases.json")))["cases"]:
        if "token" in c:
            out("verify", "tmobile-" + c["id"], c["token"])
    for i, t in enumerate(json.load(open(os.path.join(CONF, "jwt-malformed/library_tokens.json")))["tokens"]):
        out("verify", "library-%02d-%s" % (i, t["library"]), t["token"])
    cases = json.load(open(os.path.join(CONF, "wycheproof/rs256_jws_expectations.json")))["cases"]
    for c in cases[::6]:
        out("verify", "wycheproof-%d" % c["tcId"], c["jws"])
    # Tokens signed by the fixed key: one valid raw token, then JSON-mode
    # seeds (HEADER\0PAYLOAD, signed inside the target) for each claim rule.
    out("verify", "own-valid-token", sign(HDR, payload()))
    out("verify", "own-valid-xextra", sign(HDR, payload(ehts=["X-Extra", "uri", "http-method", "body"])))
    seeds = {
        "valid": (HDR, payload()),
        "hdr-alg-only": (b'{"alg":"RS256"}', payload()),
        "hdr-kid-jwk": (b'{"alg":"RS256","kid":"../../dev/null","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}', payload()),
        "hdr-crit": (b'{"alg":"RS256","crit":["exp"]}', payload()),
        "hdr-none": (b'{"alg":"none"}', payload()),
        "hdr-dup": (b'{"alg":"RS256","alg":"none"}', payload()),
        "hdr-typ": (b'{"alg":"RS256","typ":"application/jwt","cty":"JWT"}', payload()),
        "nbf": (HDR, payload(extra=',"nbf":1700000000')),
        "v-int": (HDR, payload(v="1")),
        "v-v1": (HDR, payload(v='"v1"')),
        "exp-big": (HDR, payload(exp="99999999999999999999999999")),
        "exp-float": (HDR, payload(exp="1.70000006e9")),
        "exp-str": (HDR, payload(exp='"1700000060"')),
        "iat-neg": (HDR, payload(iat="-1")),
        "lifetime": (HDR, payload(exp=1700003600)),
        "ehts-dup": (HDR, payload(ehts=["uri", "http-method", "body", "uri"])),
        "ehts-xextra": (HDR, payload(ehts=["X-Extra", "uri", "http-method", "body"])),
        "ehts-min": (HDR, payload(ehts=["uri", "http-method", "body"])),
        "jti-nul": (HDR, payload(jti="a\\u0000b")),
        "nested": (HDR, b'{"a":' + b"[" * 40 + b"]" * 40 + b"}"),
        "unicode": (HDR, payload(extra=',"x":"\\ud800\\u00e9\xc3\xa9"')),
        "no-payload-nul": (payload(), b""),
    }
    for name, (h, p) in seeds.items():
        out("verify", "json-" + name, h + b"\0" + p)
    out("verify", "json-payload-only", payload())


# ---- keys ------------------------------------------------------------------
def key_corpora():
    clean("key_public")
    clean("key_private")
    pub_files = ["rfc7515-a2/rfc7515-a2.spki.pem", "rfc7515-a2/rfc7515-a2.rsapub.pem",
                 "rfc7515-a2/jwk.json", "rfc7520-4.1/rfc7520-4.1.spki.pem",
                 "rfc7520-4.1/rfc7520-4.1.rsapub.pem", "rfc7520-4.1/jwk.json",
                 "tmobile-reference/tmobile-demo-2019-08.spki.pem",
                 "tmobile-reference/tmobile-demo-2019-08.jwk.as-published.json",
                 "jwt-malformed/libjwt_keys_rsa_key_2048_pub.json",
                 "jwt-malformed/libjwt_keys_rsa_key_2048_pub_alg_hs256.json",
                 "jwt-malformed/libjwt_keys_oct_key_256.json",
                 "jwt-malformed/jsonwebtoken_test_pub.pem"]
    for rel in pub_files:
        out("key_public", rel.replace("/", "--"), read(rel))
    # A private key is accepted by the public loader too.
    out("key_public", "rfc7515-a2--pkcs8.pem", read("rfc7515-a2/rfc7515-a2.pkcs8.pem"))
    pub = KEYS["TK_PUBLIC_PEM"].encode()
    out("key_public", "own-spki.pem", pub)
    out("key_public", "own-spki.der", openssl("pkey", "-pubin", "-outform", "DER", data=pub))
    out("key_public", "own-pkcs1.pem", openssl("rsa", "-pubin", "-RSAPublicKey_out", data=pub))
    out("key_public", "own-pkcs1.der", openssl("rsa", "-pubin", "-RSAPublicKey_out", "-outform", "DER", data=pub))
    out("key_public", "own-spki-crlf.pem", pub.replace(b"\n", b"\r\n"))
    out("key_public", "own-spki-oneline.pem", pub.replace(b"\n", b""))
    out("key_public", "own-spki-padded.pem", b"  \n\t" + pub + b"\n\n  ")
    jwk = json.loads(read("rfc7515-a2/jwk.json"))
    out("key_public", "jwk-padded.json", json.dumps({"kty": "RSA", "n": jwk["n"] + "==", "e": "AQAB"}))
    wk = json.load(open(os.path.join(CONF, "wycheproof/testvectors_v1/json_web_key_test.json")))
    n = 0
    for g in wk["testGroups"]:
        for t in g["tests"]:
            for k in t.get("private", {}).get("keys", []) + t.get("public", {}).get("keys", []):
                if k.get("kty") == "RSA" and n < 12:
                    pubk = {m: k[m] for m in k if m in ("kty", "n", "e", "alg", "kid", "use")}
                    out("key_public", "wycheproof-jwk-%d.json" % n, json.dumps(pubk))
                    n += 1
    # Private keys.
    for rel in ["rfc7515-a2/rfc7515-a2.pkcs8.pem", "rfc7515-a2/rfc7515-a2.pkcs1.pem",
                "rfc7520-4.1/rfc7520-4.1.pkcs8.pem", "rfc7520-4.1/rfc7520-4.1.pkcs1.pem"]:
        out("key_private", rel.replace("/", "--"), read(rel))
    priv = KEYS["TK_PRIVATE_PEM"].encode()
    out("key_private", "own-pkcs8.pem", priv)
    out("key_private", "own-pkcs8.der", openssl("pkey", "-outform", "DER", data=priv))
    out("key_private", "own-pkcs1.pem", openssl("rsa", "-traditional", data=priv))
    out("key_private", "own-pkcs1.der", openssl("rsa", "-traditional", "-outform", "DER", data=priv))
    out("key_private", "own-pkcs8-crlf.pem", priv.replace(b"\n", b"\r\n"))
    out("key_private", "own-pkcs8-oneline.pem", priv.replace(b"\n", b""))
    out("key_private", "own-pkcs8-enc.pem",
        openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", "1", "-passout", "pass:fuzz", data=priv))
    out("key_private", "own-pkcs1-enc.pem",
        openssl("rsa", "-traditional", "-aes256", "-passout", "pass:fuzz", data=priv))
    out("key_private", "own-public-given.pem", KEYS["TK_PUBLIC_PEM"])


# ---- Postman -----------------------------------------------------------------
def postman_corpora():
    clean("postman")
    clean("vars")
    clean("csv")
    pdir = os.path.join(CONF, "postman")
    for n in sorted(os.listdir(pdir)):
        if n.endswith(".json") and "schema" not in n:
            out("postman", n, read("postman/" + n))
    out("postman", "own-minimal.json",
        '{"info":{"name":"m","schema":"https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},'
        '"item":[{"name":"r","request":{"method":"GET","url":"{{base}}/x?a={{a}}"}}]}')
    out("postman", "own-env.json",
        '{"name":"e","values":[{"key":"base","value":"http://127.0.0.1:1","enabled":true},'
        '{"key":"a","value":"{{b}}","enabled":true},{"key":"b","value":"{{a}}","enabled":true}]}')
    defs = "\0base=http://127.0.0.1:8080\niccid=89014103211118510720\na={{b}}\nb={{a}}\n" \
           "loop={{loop}}\ndeep1={{deep2}}\ndeep2={{deep3}}{{iccid}}\n" \
           "deep3={{deep1}}x\n!c=lower {{base}}\n!base=shadowed\n"
    # Doubling definitions reach the 8 MiB bound in 19 rounds (~0.4 s each):
    # one seed only, so the smoke's mutations stay fast.
    grow = "\0g={{g}}{{g}}\n"
    for i, text in enumerate([
            "{{base}}/iot-connectivity/v1/devices/{{iccid}}" + defs,
            "{{deep1}}" + defs,
            "{{loop}} {{a}}" + defs,
            "{{g}}" + grow,
            "{{a}}{{b}}{{ c }}{{}}{{",
            "}}{{{{x}}}}",
            "{{$guid}} {{$timestamp}} {{$randomInt}}",
            "plain text without variables",
            "{{loop}}",
            "{{deep1}}",
            "%7B%7Bbase%7D%7D {{base}",
            "{{a.b}} {{a/b}} {{a-b}} {{\u00e9}}",
    ]):
        out("vars", "own-%02d" % i, text)
    for i, text in enumerate([
            "iccid,status\n89014103211118510720,ACTIVE\n",
            "a,b,c\r\n1,2,3\r\n\"x,y\",\"q\"\"q\",\r\n",
            "a\n\"unterminated\n",
            "a,b\n1\n1,2,3\n",
            "\xef\xbb\xbfname,value\n\"multi\nline\",v\n",
            "",
            ",,,\n,,,\n",
    ]):
        out("csv", "own-%02d.csv" % i, text.encode("latin-1") if "\xef" in text else text)


# ---- the emulator's raw requests --------------------------------------------
def serve_corpus():
    clean("serve")
    R = [
        "GET /iot-connectivity/v1/devices/89014103211118510720 HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer abc.def.ghi\r\nX-Authorization: a.b.c\r\n\r\n",
        "GET /iot-connectivity/v1/devices?status=ACTIVE&limit=10&offset=0 HTTP/1.1\r\nHost: x\r\n\r\n",
        "PATCH /iot-connectivity/v1/devices/89014103211118510720 HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"status\":\"ACTIVE\"}\n",
        "POST /oauth2/v2/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YTpi\r\n"
        "Content-Type: application/json\r\nX-Authorization: a.b.c\r\nContent-Length: 2\r\n\r\n{}",
        "POST /oauth2/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 29\r\n\r\ngrant_type=client_credentials",
        "GET /iot-connectivity/v1/devices/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /oauth2/v2/tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n0\r\n\r\n",
        "GET http://x/iot-connectivity/v1/devices HTTP/1.0\r\n\r\n",
        "POST /devedge/v1/applications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin\r\n"
        "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"name\":\"a\"}\n",
    ]
    R += [
        "POST /oauth2/v2/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: {{BASIC}}\r\n"
        "Content-Type: application/json\r\nX-Authorization: a.b.c\r\nContent-Length: 0\r\n\r\n",
        "GET /iot-connectivity/v1/devices/{{ICCID}} HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer a.b.c\r\nX-Authorization: a.b.c\r\n\r\n",
        "GET /devedge/v1/applications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {{ADMIN}}\r\n\r\n",
        "POST /devedge/v1/applications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {{ADMIN}}\r\n"
        "Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\":\"zz\"}",
        "GET /devedge/v1/applications/{{CLIENT}}/keys HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer {{ADMIN}}\r\n\r\n",
        "GET /iot-connectivity/v1/devices/{{ICCID}}%2F..%2F HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for i, r in enumerate(R):
        out("serve", "own-%02d" % i, r)


if __name__ == "__main__":
    verify_corpus()
    key_corpora()
    postman_corpora()
    serve_corpus()
    print("corpora written under", CORPUS)
