#!/usr/bin/env bash
# A representative subset of security-anchors §13 through the command line:
# `taap verify` must give each case's documented exit status (SPEC §2 codes).
# Tokens are made with `taap pop` (clock pinned with --now) or, for the
# malformed ones, signed here with openssl over exact header/payload bytes.
# The full table is tests/unit/test_adversarial_verify.c.
set -u
taap=${TAAP_BIN:?TAAP_BIN must name the taap binary}
command -v openssl >/dev/null || { echo "openssl not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null
openssl pkey -in key.pem -pubout -out pub.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out small.pem 2>/dev/null
openssl pkey -in small.pem -pubout -out small.pub
chmod 600 ./*.pem

NOW=1700000000
URL='https://api.t-mobile.com/commerce/v1/orders?account-number=0000000000'
BODY='{"orderId": 100, "product": "Mobile Phone"}'
AUTH='Authorization: Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS'
REQ=(-X POST -H "$AUTH" -H 'Content-Type: application/json' --data-raw "$BODY" "$URL")

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# sign HEADER PAYLOAD [KEY] → compact JWS over the exact bytes
sign() {
  local h p s
  h=$(printf '%s' "$1" | b64url); p=$(printf '%s' "$2" | b64url)
  s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "${3:-key.pem}" | b64url)
  printf '%s.%s.%s' "$h" "$p" "$s"
}
EHTS='Content-Type;Authorization;uri;http-method;body'
EDTS=$(printf '%s%s%s%s%s' 'application/json' 'Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS' \
       '/commerce/v1/orders?account-number=0000000000' POST "$BODY" | openssl dgst -sha256 -binary | b64url)
claims() { # claims IAT EXP [EXTRA] [V]
  printf '{"iat":%s,"exp":%s,"ehts":"%s","edts":"%s","jti":"j-%s","v":%s%s}' \
    "$1" "$2" "$EHTS" "$EDTS" "$RANDOM$RANDOM" "${4:-\"1\"}" "${3:-}"
}
HDR='{"alg":"RS256","typ":"JWT"}'

valid=$("$taap" pop --key key.pem --now $NOW "${REQ[@]}") || { echo "taap pop failed"; exit 1; }
other=$("$taap" pop --key other.pem --now $NOW "${REQ[@]}")
hs=$(printf '%s' "$HDR" | sed 's/RS256/HS256/' | b64url).$(claims $NOW $((NOW+60)) | b64url)
hs=$hs.$(printf '%s' "$hs" | openssl dgst -sha256 -hmac "$(cat pub.pem)" -binary | b64url)
big=$(head -c 9000 /dev/zero | tr '\0' A)

fail=0; n=0
# row ID EXPECTED-EXIT TOKEN [extra verify args...] -- request flags default to REQ
row() {
  local id=$1 want=$2 tok=$3; shift 3
  local args=("$@")
  [ ${#args[@]} -eq 0 ] && args=("${REQ[@]}")
  local got
  "$taap" verify "$tok" --key pub.pem --now $((NOW + 5)) "${args[@]}" >out.txt 2>err.txt
  got=$?
  n=$((n + 1))
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $id: exit $got, expected $want: $(head -c 300 err.txt)"; fail=1
  elif [ "$want" -ne 0 ] && [ ! -s err.txt ]; then
    echo "FAIL $id: rejected without a message on stderr"; fail=1
  elif grep -qF "$tok" err.txt out.txt 2>/dev/null && [ ${#tok} -gt 40 ]; then
    echo "FAIL $id: the whole token is echoed"; fail=1
  fi
}

row A00 0  "$valid"
row A07 0  "$valid" -X POST -H 'authorization: Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS' \
           -H 'content-type: application/json' --data-raw "$BODY" "$URL"
row B01 10 "${valid%.*}"
row B02 10 "$valid.$(printf x | b64url)"
row B04 10 ""
row B07 10 "$valid=="
row B08 10 "$(printf '%s' "$valid" | tr -- '-_' '+/')"
row B19 10 "$(sign "$HDR" "$(claims $NOW $((NOW+60)))ABCD")"
row B22 10 "$(sign "$HDR" "$(printf '\xef\xbb\xbf')$(claims $NOW $((NOW+60)))")"
row B27 10 "$big.$big.$big"
row B28 10 "$(sign '{"alg":"RS256","alg":"none"}' "$(claims $NOW $((NOW+60)))")"
row C01 11 "$(printf '{"alg":"none"}' | b64url).$(claims $NOW $((NOW+60)) | b64url)."
row C06 11 "$hs"
row C15 11 "$(sign '{"alg":"rs256"}' "$(claims $NOW $((NOW+60)))")"
row C26 11 "$(sign '{"alg":"RS256","crit":["exp"]}' "$(claims $NOW $((NOW+60)))")"
row C32 11 "$(sign '{"alg":"RS256","cty":"JWT"}' "$(claims $NOW $((NOW+60)))")"
row C33 12 "$other"
row C25 0  "$(sign '{"alg":"RS256","kid":"../../../../dev/null"}' "$(claims $NOW $((NOW+60)))")"
row D11 12 "${valid%?}$( [ "${valid: -1}" = A ] && echo Q || echo A)"
row F01 13 "$("$taap" pop --key key.pem --now $((NOW - 3600)) "${REQ[@]}")"
row F03 14 "$("$taap" pop --key key.pem --now $((NOW + 3600)) "${REQ[@]}")"
row F05 15 "$(sign "$HDR" "$(claims $NOW $((NOW+3600)))")"
row F09 16 "$(sign "$HDR" "$(claims $NOW "\"$((NOW+60))\"")")"
row F19 16 "$(sign "$HDR" "$(claims $NOW 99999999999999999999999999)")"
row F26 10 "$(sign "$HDR" "$(claims $NOW 0$((NOW+60)))")"
row G07 16 "$(sign "$HDR" "$(claims $NOW $((NOW+60)) '' '"2"')")"
row G06 0  "$(sign "$HDR" "$(claims $NOW $((NOW+60)) '' 1)")"
row G16 17 "$(EHTS='uri;uri;http-method;body' sign "$HDR" "$(EHTS='uri;uri;http-method;body' claims $NOW $((NOW+60)))")"
row G24 17 "$valid" -X POST -H "$AUTH" -H 'Content-Type: application/json' \
           -H 'Content-Type: application/json' --data-raw "$BODY" "$URL"
row G36 19 "$valid" -X POST -H "$AUTH" -H 'Content-Type: application/json' \
           --data-raw '{"orderId": 101, "product": "Mobile Phone"}' "$URL"
row G38 19 "$valid" -X PUT -H "$AUTH" -H 'Content-Type: application/json' --data-raw "$BODY" "$URL"
row G40 19 "$valid" -X POST -H "$AUTH" -H 'Content-Type: application/json' --data-raw "$BODY" "$URL&x=1"
row G49 18 "$("$taap" pop --key key.pem --now $NOW --no-sign-header body "${REQ[@]}")"

# key policy: a 1024-bit key is refused (exit 21)
"$taap" verify "$valid" --key small.pub --now $((NOW + 5)) "${REQ[@]}" >/dev/null 2>err.txt
got=$?; n=$((n + 1))
[ "$got" -eq 21 ] || { echo "FAIL E01: 1024-bit key: exit $got, expected 21"; fail=1; }

# replay (H01): a shared cache file; first use 0, second 20
"$taap" verify "$valid" --key pub.pem --now $((NOW + 5)) --replay-cache rc.db "${REQ[@]}" >/dev/null 2>&1
a=$?
"$taap" verify "$valid" --key pub.pem --now $((NOW + 5)) --replay-cache rc.db "${REQ[@]}" >/dev/null 2>&1
b=$?; n=$((n + 1))
[ "$a" -eq 0 ] && [ "$b" -eq 20 ] || { echo "FAIL H01: replay exits $a then $b, expected 0 then 20"; fail=1; }

# --json on a rejection names the code
"$taap" verify "$other" --key pub.pem --now $((NOW + 5)) --json "${REQ[@]}" >out.json 2>/dev/null
n=$((n + 1))
grep -q '"TAAP_E_SIGNATURE"' out.json || { echo "FAIL json: no TAAP_E_SIGNATURE in: $(cat out.json)"; fail=1; }

echo "taap verify adversarial subset: $n cases, $([ $fail -eq 0 ] && echo 'all as expected' || echo 'FAILURES above')"
exit $fail
