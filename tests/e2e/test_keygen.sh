#!/usr/bin/env bash
# `taap keygen`: files and modes, no silent overwrite, --force, key sizes,
# encryption that the openssl command agrees with, --json, usage errors.
# Every key is checked with the openssl command, not with taap itself.
set -u
TAAP=${TAAP_BIN:?TAAP_BIN must be set}
command -v openssl >/dev/null || { echo "SKIP: no openssl command"; exit 77; }

. "$(dirname "$0")/check_lib.sh"
mode_of() { stat -c %a "$1"; }
# No controlling terminal, so a prompt can never block the test.
detached() { if command -v setsid >/dev/null; then setsid -w "$@"; else "$@"; fi; }

# ---- default: 2048 bits into --out DIR ----------------------------------
d="$tmp/k1"
detached "$TAAP" keygen --out "$d" >"$tmp/out" 2>"$tmp/err"
check_rc "keygen" $? 0
[ -f "$d/private-key.pem" ] && ok || bad "private-key.pem missing"
[ -f "$d/public-key.pem" ] && ok || bad "public-key.pem missing"
check_eq "private mode" "$(mode_of "$d/private-key.pem")" 600
check_eq "public mode" "$(mode_of "$d/public-key.pem")" 644
check_eq "out dir mode" "$(mode_of "$d")" 700
check_eq "private is PKCS#8" "$(head -1 "$d/private-key.pem")" "-----BEGIN PRIVATE KEY-----"
check_eq "public is SPKI" "$(head -1 "$d/public-key.pem")" "-----BEGIN PUBLIC KEY-----"
bits=$(openssl pkey -in "$d/private-key.pem" -noout -text 2>/dev/null | head -1)
check_eq "2048 bits" "$bits" "Private-Key: (2048 bit, 2 primes)"
check_grep "e = 65537" "publicExponent: 65537" <(openssl pkey -in "$d/private-key.pem" -noout -text 2>/dev/null)
# The public file is the public half of the private file, and stdout is it.
openssl pkey -in "$d/private-key.pem" -pubout -out "$tmp/derived.pub" 2>/dev/null
cmp -s "$tmp/derived.pub" "$d/public-key.pem" && ok || bad "public-key.pem is not the private key's public half"
cmp -s "$tmp/out" "$d/public-key.pem" && ok || bad "stdout is not the public key PEM"
check_grep "paste hint" 'DevEdge "Add key"' "$tmp/err"
check_grep "paste hint BEGIN/END" "BEGIN and END lines" "$tmp/err"
if grep -q "PRIVATE" "$tmp/out" "$tmp/err"; then bad "private key material on stdout/stderr"; else ok; fi

# ---- never overwrite without --force ------------------------------------
cp "$d/private-key.pem" "$tmp/before.pem"
detached "$TAAP" keygen --out "$d" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -ne 0 ] && ok || bad "overwrite without --force succeeded"
check_grep "overwrite message" "already exists (use --force to overwrite)" "$tmp/err"
cmp -s "$tmp/before.pem" "$d/private-key.pem" && ok || bad "private key changed without --force"
[ -s "$tmp/out" ] && bad "stdout not empty on refusal" || ok
# Only the public file present is also refused (nothing half-replaced).
d2="$tmp/k2"; mkdir "$d2"; echo keep >"$d2/public-key.pem"
detached "$TAAP" keygen --out "$d2" >"$tmp/out" 2>"$tmp/err"
[ $? -ne 0 ] && ok || bad "existing public-key.pem overwritten"
check_eq "public kept" "$(cat "$d2/public-key.pem")" keep
[ -e "$d2/private-key.pem" ] && bad "private key written although public exists" || ok

# ---- --force replaces ----------------------------------------------------
detached "$TAAP" keygen --out "$d" --force >"$tmp/out" 2>"$tmp/err"
check_rc "--force" $? 0
cmp -s "$tmp/before.pem" "$d/private-key.pem" && bad "--force did not replace the key" || ok
check_eq "private mode after --force" "$(mode_of "$d/private-key.pem")" 600
openssl pkey -in "$d/private-key.pem" -pubout 2>/dev/null | cmp -s - "$d/public-key.pem" && ok ||
  bad "after --force the pair does not match"

# ---- --bits 3072 ---------------------------------------------------------
d3="$tmp/k3"
detached "$TAAP" keygen --bits 3072 --out "$d3" >"$tmp/out" 2>"$tmp/err"
check_rc "--bits 3072" $? 0
bits=$(openssl pkey -in "$d3/private-key.pem" -noout -text 2>/dev/null | head -1)
check_eq "3072 bits" "$bits" "Private-Key: (3072 bit, 2 primes)"
pbits=$(openssl pkey -pubin -in "$d3/public-key.pem" -noout -text 2>/dev/null | head -1)
check_eq "3072 public" "$pbits" "Public-Key: (3072 bit)"

# ---- encryption with --passphrase-file -----------------------------------
d4="$tmp/k4"
printf 'correct horse battery\n' >"$tmp/pass"
detached "$TAAP" keygen --out "$d4" --passphrase-file "$tmp/pass" >"$tmp/out" 2>"$tmp/err"
check_rc "--passphrase-file" $? 0
check_eq "encrypted PKCS#8" "$(head -1 "$d4/private-key.pem")" "-----BEGIN ENCRYPTED PRIVATE KEY-----"
check_eq "encrypted mode" "$(mode_of "$d4/private-key.pem")" 600
check_grep "PBES2" "PBES2" <(openssl asn1parse -in "$d4/private-key.pem" 2>/dev/null)
check_grep "AES-256-CBC" "aes-256-cbc" <(openssl asn1parse -in "$d4/private-key.pem" 2>/dev/null)
check_grep "PBKDF2" "PBKDF2" <(openssl asn1parse -in "$d4/private-key.pem" 2>/dev/null)
# The trailing newline of the file is not part of the passphrase.
openssl pkey -in "$d4/private-key.pem" -passin pass:'correct horse battery' -pubout 2>/dev/null |
  cmp -s - "$d4/public-key.pem" && ok || bad "openssl cannot decrypt with the passphrase"
openssl pkey -in "$d4/private-key.pem" -passin pass:'wrong' -noout 2>/dev/null &&
  bad "openssl decrypted with a wrong passphrase" || ok
openssl pkey -in "$d4/private-key.pem" -passin pass: -noout </dev/null 2>/dev/null &&
  bad "openssl decrypted without the passphrase" || ok

# ---- --passphrase-env ----------------------------------------------------
d5="$tmp/k5"
MY_PASS='env secret' detached "$TAAP" keygen --out "$d5" --passphrase-env MY_PASS >"$tmp/out" 2>"$tmp/err"
check_rc "--passphrase-env" $? 0
openssl pkey -in "$d5/private-key.pem" -passin pass:'env secret' -noout 2>/dev/null && ok ||
  bad "openssl cannot decrypt the --passphrase-env key"
env -u MY_PASS "$TAAP" keygen --out "$tmp/k5b" --passphrase-env MY_PASS >"$tmp/out" 2>"$tmp/err"
[ $? -ne 0 ] && ok || bad "unset --passphrase-env variable accepted"
check_grep "unset env message" "MY_PASS is not set or empty" "$tmp/err"
[ -e "$tmp/k5b/private-key.pem" ] && bad "key written without the passphrase" || ok

# ---- --encrypt with no terminal: a usage error, nothing written ----------
if command -v setsid >/dev/null; then
  setsid -w "$TAAP" keygen --out "$tmp/k6" --encrypt >"$tmp/out" 2>"$tmp/err" </dev/null
  check_rc "--encrypt without tty" $? 2
  check_grep "--encrypt message" "needs a terminal" "$tmp/err"
  [ -e "$tmp/k6/private-key.pem" ] && bad "key written without a passphrase" || ok
fi

# ---- --json --------------------------------------------------------------
d7="$tmp/k7"
detached "$TAAP" keygen --out "$d7" --json >"$tmp/out" 2>"$tmp/err"
check_rc "--json" $? 0
if command -v jq >/dev/null; then
  check_eq "json bits" "$(jq -r .bits "$tmp/out")" 2048
  check_eq "json encrypted" "$(jq -r .encrypted "$tmp/out")" false
  check_eq "json private file" "$(jq -r .private_key_file "$tmp/out")" "$d7/private-key.pem"
  jq -j .public_key_pem "$tmp/out" | cmp -s - "$d7/public-key.pem" && ok || bad "json public_key_pem differs"
  check_eq "json jwk kty" "$(jq -r .public_key_jwk.kty "$tmp/out")" RSA
  check_eq "json kid" "$(jq -r .public_key_jwk.kid "$tmp/out")" "$(jq -r .key_id "$tmp/out")"
  # kid = base64url(SHA-256(DER SPKI)), computed here by openssl.
  kid=$(openssl pkey -pubin -in "$d7/public-key.pem" -outform DER 2>/dev/null |
    openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
  check_eq "kid is the SPKI SHA-256" "$(jq -r .key_id "$tmp/out")" "$kid"
  if grep -q "PRIVATE" "$tmp/out"; then bad "private key in --json output"; else ok; fi
fi

# ---- usage errors (exit 2), nothing written -------------------------------
for args in "--bits 1024" "--bits 2049" "--bits abc" "--bits" "--bogus" "extra-arg" \
            "--passphrase secret" "--passphrase-file a --passphrase-env B"; do
  # shellcheck disable=SC2086
  detached "$TAAP" keygen --out "$tmp/u" $args >"$tmp/out" 2>"$tmp/err"
  check_rc "usage: $args" $? 2
  [ -e "$tmp/u/private-key.pem" ] && bad "usage error wrote a key ($args)" || ok
done
check_grep "bits message" "2048, 3072 or 4096" <(detached "$TAAP" keygen --bits 1024 2>&1)
"$TAAP" keygen --help >"$tmp/out" 2>&1
check_rc "--help" $? 0
check_grep "help usage line" "^usage: taap keygen" "$tmp/out"

# --out naming a file is an error, not a crash.
touch "$tmp/file"
detached "$TAAP" keygen --out "$tmp/file" >"$tmp/out" 2>"$tmp/err"
[ $? -ne 0 ] && ok || bad "--out FILE accepted"
check_grep "--out file message" "not a directory" "$tmp/err"

# A missing passphrase file fails before any key is written.
detached "$TAAP" keygen --out "$tmp/k8" --passphrase-file "$tmp/nope" >"$tmp/out" 2>"$tmp/err"
[ $? -ne 0 ] && ok || bad "missing passphrase file accepted"
check_grep "missing passphrase file message" "nope" "$tmp/err"
[ -e "$tmp/k8/private-key.pem" ] && bad "key written without the passphrase file" || ok

echo "$n checks passed"
exit $fail
