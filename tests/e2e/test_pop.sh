#!/usr/bin/env bash
# `taap pop`: reproducible tokens checked against an independent build with
# the openssl command (header.payload by printf, `openssl dgst -sha256
# -sign`, base64url by tr), --json, the curl-like request flags, key sources
# and the documented exit statuses.
set -u
TAAP=${TAAP_BIN:?TAAP_BIN must be set}
DATA=${TAAP_TEST_DATA:?TAAP_TEST_DATA must be set}
command -v openssl >/dev/null || { echo "SKIP: no openssl command"; exit 77; }

. "$(dirname "$0")/check_lib.sh"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
b64url_dec() {
  local s
  s=$(tr '_-' '/+')
  while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | openssl base64 -A -d
}
# edts of the concatenated stdin bytes.
edts_of() { openssl dgst -sha256 -binary | b64url; }

key="$tmp/key.pem"
cp "$DATA/tmobile-lib-test-key.pem" "$key"
chmod 600 "$key"
openssl pkey -in "$key" -pubout -out "$tmp/pub.pem" 2>/dev/null

# An independent token: compact JSON written by hand, signed by openssl.
expected_token() { # iat exp ehts edts jti
  local h p s
  h=$(printf '%s' '{"alg":"RS256","typ":"JWT"}' | b64url)
  p=$(printf '{"iat":%s,"exp":%s,"ehts":"%s","edts":"%s","jti":"%s","v":"1"}' "$1" "$2" "$3" "$4" "$5" | b64url)
  s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$key" | b64url)
  printf '%s.%s.%s' "$h" "$p" "$s"
}
payload_of() { printf '%s' "$1" | cut -d. -f2 | b64url_dec; }
ehts_of() { payload_of "$1" | sed -n 's/.*"ehts":"\([^"]*\)".*/\1/p'; }
edts_in() { payload_of "$1" | sed -n 's/.*"edts":"\([^"]*\)".*/\1/p'; }

unset TAAP_PRIVATE_KEY
JTI=00000000-0000-4000-8000-000000000000
BODY='{"orderId": 100, "product": "Mobile Phone"}'
AUTH='Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS'

# 1. Reproducible byte for byte, and equal to the openssl-built token and to
#    taap-protocol.md §9.3 V1.
args=(--key "$key" --now 1700000000 --lifetime 120 --jti "$JTI"
      -H 'Content-Type: application/json' -H "Authorization: $AUTH"
      -d "$BODY" https://api.t-mobile.com/commerce/v1/orders)
t1=$("$TAAP" pop "${args[@]}" 2>"$tmp/err"); check_rc "pop V1" $? 0
t2=$("$TAAP" pop "${args[@]}")
check_eq "same output twice" "$t1" "$t2"
edts=$(printf '%s%s%s%s%s' application/json "$AUTH" /commerce/v1/orders POST "$BODY" | edts_of)
check_eq "edts (openssl)" "$edts" afqGWAbSevTP2m38quBjC8pA2HcxZXG4zpFCPShTtSo
want=$(expected_token 1700000000 1700000120 "Content-Type;Authorization;uri;http-method;body" "$edts" "$JTI")
check_eq "token = openssl-built token" "$t1" "$want"
V1=eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDEyMCwiZWh0cyI6IkNvbnRlbnQtVHlwZTtBdXRob3JpemF0aW9uO3VyaTtodHRwLW1ldGhvZDtib2R5IiwiZWR0cyI6ImFmcUdXQWJTZXZUUDJtMzhxdUJqQzhwQTJIY3haWEc0enBGQ1BTaFR0U28iLCJqdGkiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJ2IjoiMSJ9.OSx0UfGj__I26SGGU1_dyRxMl9cwG1oyv7TXM8YNRTRq2sA57oYhs_kriqdK0rCcswzVipsZQXigNfnSqXZTzA0lmHlTbokX8gJ7w5U8PB6m99Xu0QetJzSy3_z7V3_i3aVTOOJ5qU18dt9xKqRmSO9lLe3Rqjd67m_ISnOE3zLzhoVE3Caqbk25eglG40-J-WAdZymCu39tjSlpvopMOtCbgBL_Cp0Jybahi9Cy1Wv6w2atX7ggeVWPDqgHqC3dC5Dg34quDsErkPlCSwC7zoucHgOKoSbupd_hPze59guKS6DYirTE_xmqDpTu-FA84EQGpvgXwU_VTMgfTkDQYg
check_eq "token = V1 (taap-protocol.md 9.3)" "$t1" "$V1"
check_eq "one line" "$("$TAAP" pop "${args[@]}" | wc -l)" 1

# The signature verifies with the openssl command.
printf '%s' "$t1" | cut -d. -f1,2 | tr -d '\n' > "$tmp/input"
printf '%s' "$t1" | cut -d. -f3 | b64url_dec > "$tmp/sig"
openssl dgst -sha256 -verify "$tmp/pub.pem" -signature "$tmp/sig" "$tmp/input" >/dev/null 2>&1
check_rc "openssl verifies" $? 0

# Default lifetime 60, random jti is a UUID v4 and differs each time.
t3=$("$TAAP" pop --key "$key" --now 1700000000 https://h/x)
check_grep "lifetime 60" '"exp":1700000060' <(payload_of "$t3")
j1=$(payload_of "$t3" | sed -n 's/.*"jti":"\([^"]*\)".*/\1/p')
j2=$(payload_of "$("$TAAP" pop --key "$key" https://h/x)" | sed -n 's/.*"jti":"\([^"]*\)".*/\1/p')
[[ $j1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] && ok || bad "jti '$j1' is not a UUID v4"
[ "$j1" != "$j2" ] && ok || bad "two random jti are equal"

# 2. --json fields agree with the token.
"$TAAP" pop --json "${args[@]}" > "$tmp/json"; check_rc "--json" $? 0 
check_grep "json token" "\"token\":\"$t1\"" "$tmp/json"
check_grep "json ehts" '"ehts":"Content-Type;Authorization;uri;http-method;body"' "$tmp/json"
check_grep "json edts" "\"edts\":\"$edts\"" "$tmp/json"
check_grep "json iat" '"iat":1700000000' "$tmp/json"
check_grep "json exp" '"exp":1700000120' "$tmp/json"
check_grep "json jti" "\"jti\":\"$JTI\"" "$tmp/json"

# 3. Request flags. -d implies POST and Content-Type: application/json.
t=$("$TAAP" pop --key "$key" -d '{"a":1}' 'https://h/p/q?x=%41%2Fb&y=1#frag')
check_eq "-d ehts" "$(ehts_of "$t")" "Content-Type;uri;http-method;body"
check_eq "-d edts" "$(edts_in "$t")" "$(printf '%s' 'application/json/p/q?x=A/b&y=1POST{"a":1}' | edts_of)"
# Explicit method and content type; 'Content-Type:' sends none.
t=$("$TAAP" pop --key "$key" -X PUT -H 'content-type: text/plain' --data-raw '@not-a-file' /up)
check_eq "-X/-H ehts" "$(ehts_of "$t")" "content-type;uri;http-method;body"
check_eq "-X/-H edts" "$(edts_in "$t")" "$(printf '%s' 'text/plain/upPUT@not-a-file' | edts_of)"
t=$("$TAAP" pop --key "$key" -H 'Content-Type:' -d 'k=v' /form)
check_eq "suppressed Content-Type" "$(ehts_of "$t")" "uri;http-method;body"
# GET without body: only uri and http-method; Accept is not signed by default.
t=$("$TAAP" pop --key "$key" -H 'Accept: application/json' https://h/iot-connectivity/v1/devices/89)
check_eq "GET ehts" "$(ehts_of "$t")" "uri;http-method"
check_eq "GET edts" "$(edts_in "$t")" "$(printf '%s' '/iot-connectivity/v1/devices/89GET' | edts_of)"
# -d @file strips CR/LF (as curl does); --data-binary @file keeps every byte.
printf '{"a":\r\n 1}\n' > "$tmp/body.json"
t=$("$TAAP" pop --key "$key" -d @"$tmp/body.json" /b)
check_eq "-d @file" "$(edts_in "$t")" "$(printf '%s' 'application/json/bPOST{"a": 1}' | edts_of)"
t=$("$TAAP" pop --key "$key" --data-binary @"$tmp/body.json" /b)
check_eq "--data-binary @file" "$(edts_in "$t")" \
  "$( (printf '%s' 'application/json/bPOST'; cat "$tmp/body.json") | edts_of)"
t=$("$TAAP" pop --key "$key" --data-binary @- /b < "$tmp/body.json")
check_eq "--data-binary @-" "$(edts_in "$t")" \
  "$( (printf '%s' 'application/json/bPOST'; cat "$tmp/body.json") | edts_of)"
t=$("$TAAP" pop --key "$key" -d a=1 -d b=2 /b)
check_eq "repeated -d" "$(edts_in "$t")" "$(printf '%s' 'application/json/bPOSTa=1&b=2' | edts_of)"
# An empty body is left out of ehts.
t=$("$TAAP" pop --key "$key" -d '' /b)
check_eq "empty body" "$(ehts_of "$t")" "Content-Type;uri;http-method"
# A 3 MiB streamed file.
head -c 3145728 /dev/urandom > "$tmp/big.bin"
t=$("$TAAP" pop --key "$key" -H 'Content-Type: application/octet-stream' --data-binary @"$tmp/big.bin" /big)
check_eq "big file" "$(edts_in "$t")" \
  "$( (printf '%s' 'application/octet-stream/bigPOST'; cat "$tmp/big.bin") | edts_of)"
# --url, options after the URL.
t=$("$TAAP" pop --url /u --key "$key" -X DELETE)
check_eq "--url" "$(edts_in "$t")" "$(printf '%s' '/uDELETE' | edts_of)"
# --sign-header / --no-sign-header.
t=$("$TAAP" pop --key "$key" -H "Authorization: $AUTH" -H 'X-Request-Id: 7' -d '{}' \
     --sign-header x-request-id --no-sign-header Content-Type /s)
check_eq "sign/no-sign ehts" "$(ehts_of "$t")" "Authorization;uri;http-method;body;X-Request-Id"
check_eq "sign/no-sign edts" "$(edts_in "$t")" "$(printf '%s' "$AUTH/sPOST{}7" | edts_of)"

# 4. Key sources: $TAAP_PRIVATE_KEY as a path, as PEM text, as PEM with \n escapes.
check_eq "env path" "$(TAAP_PRIVATE_KEY="$key" "$TAAP" pop "${args[@]:2}")" "$t1"
check_eq "env PEM" "$(TAAP_PRIVATE_KEY="$(cat "$key")" "$TAAP" pop "${args[@]:2}")" "$t1"
esc=$(awk '{printf "%s\\n", $0}' "$key")
check_eq "env PEM \\n" "$(TAAP_PRIVATE_KEY="$esc" "$TAAP" pop "${args[@]:2}")" "$t1"
# An encrypted key with a passphrase file.
if [ -f "$DATA/keys/rsa2048.pbes2.pem" ]; then
  cp "$DATA/keys/rsa2048.pbes2.pem" "$tmp/enc.pem"; chmod 600 "$tmp/enc.pem"
  printf 'foobar\n' > "$tmp/pass"
  t=$("$TAAP" pop --key "$tmp/enc.pem" --passphrase-file "$tmp/pass" /e 2>"$tmp/err")
  check_rc "encrypted key" $? 0
  "$TAAP" pop --key "$tmp/enc.pem" /e >/dev/null 2>"$tmp/err"; check_rc "no passphrase" $? 33
  check_grep "no passphrase message" "passphrase" "$tmp/err"
  printf 'wrong\n' > "$tmp/pass"
  "$TAAP" pop --key "$tmp/enc.pem" --passphrase-file "$tmp/pass" /e >/dev/null 2>"$tmp/err"
  check_rc "wrong passphrase" $? 34
fi
# A group-readable key works with a warning.
cp "$key" "$tmp/open.pem"; chmod 644 "$tmp/open.pem"
openssl pkey -in "$key" -pubout -out "$tmp/open.pem.pub" 2>/dev/null; chmod 644 "$tmp/open.pem.pub"
"$TAAP" pop --key "$tmp/open.pem" /w >/dev/null 2>"$tmp/err"; check_rc "0644 key" $? 0
check_grep "0644 warning" "chmod 600" "$tmp/err"

# 5. Errors and exit statuses.
# The key is found as a user expects (cli_config): --key, TAAP_PRIVATE_KEY,
# the profile, ./private-key.pem; errors say where a value came from.
export XDG_CONFIG_HOME="$tmp/cfg"
mkdir -p "$tmp/empty" "$tmp/kdir" "$tmp/cfg/taap"
(cd "$tmp/empty" && "$TAAP" pop /x) >/dev/null 2>"$tmp/err"; check_rc "no key" $? 54
check_grep "no key message" "TAAP_PRIVATE_KEY" "$tmp/err"
check_grep "no key message names keygen" "taap keygen" "$tmp/err"
cp "$key" "$tmp/kdir/private-key.pem"
check_eq "./private-key.pem found" "$(cd "$tmp/kdir" && "$TAAP" pop "${args[@]:2}")" "$t1"
TAAP_PRIVATE_KEY="$tmp/missing.pem" "$TAAP" pop /x >/dev/null 2>"$tmp/err"; check_rc "env key missing" $? 31
check_grep "env key origin named" "environment variable TAAP_PRIVATE_KEY" "$tmp/err"
printf '[signer]\nprivate_key = %s\n' "$key" > "$tmp/cfg/taap/profiles.ini"
check_eq "--profile key" "$("$TAAP" pop --profile signer "${args[@]:2}")" "$t1"
check_eq "TAAP_PROFILE key" "$(TAAP_PROFILE=signer "$TAAP" pop "${args[@]:2}")" "$t1"
printf '[signer]\nprivate_key = %s\n' "$tmp/gone.pem" > "$tmp/cfg/taap/profiles.ini"
"$TAAP" pop --profile signer /x >/dev/null 2>"$tmp/err"; check_rc "profile key missing" $? 31
check_grep "profile origin named" "in profile 'signer'" "$tmp/err"
"$TAAP" pop --profile nope /x >/dev/null 2>"$tmp/err"; check_rc "no such profile" $? 54
# A public key given as the private key: the real error, and no chmod advice first.
"$TAAP" pop --key "$tmp/open.pem.pub" /x >/dev/null 2>"$tmp/err"; check_rc "public key as --key" $? 21
check_grep "public key refused" "public key" "$tmp/err"
if grep -q "chmod" "$tmp/err"; then bad "chmod warning before the public-key error"; else ok; fi
unset XDG_CONFIG_HOME
"$TAAP" pop --key "$tmp/missing.pem" /x >/dev/null 2>"$tmp/err"
rc=$?; [ "$rc" -ne 0 ] && ok || bad "missing key file accepted"
check_grep "missing key file named" "missing.pem" "$tmp/err"
"$TAAP" pop --key "$key" --lifetime 500 /x >/dev/null 2>"$tmp/err"; check_rc "lifetime 500" $? 46
check_grep "lifetime message" "1..120" "$tmp/err"
"$TAAP" pop --key "$key" --lifetime 0 /x >/dev/null 2>"$tmp/err"; check_rc "lifetime 0" $? 46
"$TAAP" pop --key "$key" --lifetime abc /x >/dev/null 2>"$tmp/err"; check_rc "lifetime abc" $? 2
"$TAAP" pop --key "$key" --now yesterday /x >/dev/null 2>"$tmp/err"; check_rc "bad --now" $? 2
"$TAAP" pop --key "$key" --jti '' /x >/dev/null 2>"$tmp/err"; check_rc "empty jti" $? 2
"$TAAP" pop --key "$key" >/dev/null 2>"$tmp/err"; check_rc "no URL" $? 2
check_grep "no URL message" "no URL" "$tmp/err"
"$TAAP" pop --key "$key" /a /b >/dev/null 2>"$tmp/err"; check_rc "two URLs" $? 2
"$TAAP" pop --key "$key" relative/path >/dev/null 2>"$tmp/err"; check_rc "relative path" $? 2
"$TAAP" pop --key "$key" --bogus /x >/dev/null 2>"$tmp/err"; check_rc "unknown option" $? 2
check_grep "unknown option named" "bogus" "$tmp/err"
"$TAAP" pop --key "$key" --jsno /x >/dev/null 2>"$tmp/err"; check_rc "misspelt option" $? 2
check_grep "did you mean" "did you mean '--json'" "$tmp/err"
"$TAAP" pop --key "$key" -H 'NoColon' /x >/dev/null 2>"$tmp/err"; check_rc "bad -H" $? 2
"$TAAP" pop --key "$key" -X 'GE T' /x >/dev/null 2>"$tmp/err"; check_rc "bad -X" $? 2
"$TAAP" pop --key "$key" -d @"$tmp/nope.json" /x >/dev/null 2>"$tmp/err"; check_rc "missing body file" $? 31
check_grep "body file named" "nope.json" "$tmp/err"
"$TAAP" pop --key "$key" --sign-header X-Missing /x >/dev/null 2>"$tmp/err"; check_rc "sign missing" $? 43
check_grep "sign missing message" "X-Missing" "$tmp/err"
"$TAAP" pop --key "$key" -H 'X-Authorization: t' --sign-header X-Authorization /x >/dev/null 2>"$tmp/err"
check_rc "sign X-Authorization" $? 43
check_grep "X-Authorization message" "never signed" "$tmp/err"
"$TAAP" pop --key "$key" -H 'A: 1' -H 'a: 2' --sign-header A /x >/dev/null 2>"$tmp/err"
check_rc "header twice" $? 43
"$TAAP" pop --key "$tmp/pub.pem" /x >/dev/null 2>"$tmp/err"
rc=$?; [ "$rc" -eq 21 ] && ok || bad "public key: exit $rc, want 21"
# Nothing on stdout on failure.
out=$("$TAAP" pop --key "$key" --lifetime 500 /x 2>/dev/null); check_eq "no stdout on error" "$out" ""
# --help
"$TAAP" pop --help > "$tmp/help"; check_rc "--help" $? 0
check_grep "help usage" "usage: taap pop" "$tmp/help"

# 6. Round trip through `taap verify` (same request flags on both sides).
t=$("$TAAP" pop --key "$key" -H "Authorization: $AUTH" -d @"$tmp/body.json" 'https://h/v?q=%41')
"$TAAP" verify "$t" --key "$tmp/pub.pem" -H "Authorization: $AUTH" -d @"$tmp/body.json" \
  'https://h/v?q=%41' >/dev/null 2>"$tmp/err"
check_rc "verify accepts" $? 0
"$TAAP" verify "$t" --key "$tmp/pub.pem" -H "Authorization: $AUTH" -d '{"a":2}' \
  'https://h/v?q=%41' >/dev/null 2>"$tmp/err"
check_rc "verify: other body" $? 19

[ "$fail" -eq 0 ] && echo "taap pop: $n checks ok"
exit $fail
