#!/usr/bin/env bash
# test_interop.sh — taap's PoP tokens against independent implementations:
#  (a) a `taap pop` token's signature checks with `openssl dgst -verify` over
#      the signing input and with Node's crypto.verify;
#  (b) tokens built the way T-Mobile's JavaScript builder builds them (Node's
#      built-in crypto, tests/interop/tmobile_js_pop.js): v "1" and v 1, both
#      header member orders, with and without typ — all accepted by
#      `taap verify`; and a tampered one refused (so acceptance means something).
set -u
taap=${TAAP_BIN:?}
shared=${TAAP_SHARED:?}
src=${TAAP_SRC:?}
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
js=$src/tests/interop/tmobile_js_pop.js
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# Key pair: the RFC 7515 A.2 test key (fixed, so runs are reproducible).
install -m 600 "$shared/conformance/rfc7515-a2/rfc7515-a2.pkcs8.pem" "$tmp/priv.pem"
cp "$shared/conformance/rfc7515-a2/rfc7515-a2.spki.pem" "$tmp/pub.pem"

url='https://api.t-mobile.com/commerce/v1/orders?account-number=0000000000'
body='{"orderId": 100, "product": "Mobile Phone"}'
auth='Bearer UtKV75JJbVAewOrkHMXhLbiQ11SS'
now=1700000000

# ---- (a) taap pop → openssl and node --------------------------------------
tok=$("$taap" pop --key "$tmp/priv.pem" --now $now -X POST -H "Authorization: $auth" \
      -d "$body" "$url") || { bad "taap pop failed"; exit 1; }
IFS=. read -r h p s <<<"$tok"
printf '%s.%s' "$h" "$p" >"$tmp/input.txt"
# base64url → base64 with padding, then decode.
b64=$(printf '%s' "$s" | tr '_-' '/+')
case $(( ${#b64} % 4 )) in 2) b64="$b64==";; 3) b64="$b64=";; esac
printf '%s' "$b64" | openssl base64 -d -A >"$tmp/sig.bin"
[ "$(wc -c <"$tmp/sig.bin")" -eq 256 ] && ok "signature is 256 bytes" || bad "signature length"
out=$(openssl dgst -sha256 -verify "$tmp/pub.pem" -signature "$tmp/sig.bin" "$tmp/input.txt" 2>&1)
[ "$out" = "Verified OK" ] && ok "openssl dgst verifies a taap pop token" || bad "openssl: $out"
out=$(node "$js" verify "$tmp/pub.pem" "$tok")
[ "$out" = "Verified OK" ] && ok "node crypto.verify verifies a taap pop token" || bad "node: $out"
# Control: a flipped signing input must not verify with either.
printf 'x' >>"$tmp/input.txt"
if openssl dgst -sha256 -verify "$tmp/pub.pem" -signature "$tmp/sig.bin" "$tmp/input.txt" >/dev/null 2>&1; then
  bad "openssl verified a modified input"
else ok "openssl refuses a modified input"; fi
if node "$js" verify "$tmp/pub.pem" "${h}.${p}x.${s}" >/dev/null; then
  bad "node verified a modified token"
else ok "node refuses a modified token"; fi

# ---- (b) T-Mobile JS-builder tokens → taap verify --------------------------
pairs=("Content-Type=application/json" "Authorization=$auth"
       "uri=/commerce/v1/orders?account-number=0000000000" "http-method=POST" "body=$body")
for variant in vstring,algfirst vint,algfirst vstring,typfirst vint,typfirst vstring,notyp vint,notyp; do
  jtok=$(node "$js" build "$tmp/priv.pem" $now "$variant" "${pairs[@]}") || { bad "node build $variant"; continue; }
  err=$("$taap" verify "$jtok" --key "$tmp/pub.pem" --now $((now + 5)) -X POST \
        -H "Authorization: $auth" -d "$body" "$url" 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 0 ] && ok "JS-builder token ($variant) accepted" || bad "JS-builder token ($variant): exit $rc: $err"
done
# Control: the same kind of token over another body is refused with 19 (edts).
jtok=$(node "$js" build "$tmp/priv.pem" $now vint,algfirst "${pairs[@]}")
"$taap" verify "$jtok" --key "$tmp/pub.pem" --now $((now + 5)) -X POST \
  -H "Authorization: $auth" -d '{"orderId": 101}' "$url" 2>/dev/null
rc=$?
[ $rc -eq 19 ] && ok "JS-builder token on another body refused (19)" || bad "tampered JS token: exit $rc"
# And after its 120 s lifetime + 10 s leeway it is expired (13).
"$taap" verify "$jtok" --key "$tmp/pub.pem" --now $((now + 130)) -X POST \
  -H "Authorization: $auth" -d "$body" "$url" 2>/dev/null
rc=$?
[ $rc -eq 13 ] && ok "JS-builder token expired at iat+130 (13)" || bad "expiry: exit $rc"

[ $fail -eq 0 ] && echo "interop: all ok"
exit $fail
