#!/usr/bin/env bash
# `taap decode`: T-Mobile's published demo tokens shown with pinned clocks,
# stdin, --json, malformed input (exit 10), and the NOT VERIFIED line.
set -u
TAAP=${TAAP_BIN:?TAAP_BIN must be set}
SHARED=${TAAP_SHARED:?TAAP_SHARED must be set}
ref="$SHARED/conformance/tmobile-reference"
[ -f "$ref/tmobile-demo-2019-08.token" ] || { echo "SKIP: no conformance data"; exit 77; }

. "$(dirname "$0")/check_lib.sh"
has() { # name fixed-string file
  if grep -qF -- "$2" "$3"; then ok; else bad "$1: '$2' not in: $(head -c 600 "$3")"; fi
}

tok=$(tr -d '\n' < "$ref/tmobile-demo-2019-08.token")
NV='NOT VERIFIED: the signature and the request binding were not checked (use taap verify)'

# 1. The 2019-08 demo token, 19 s after iat.
"$TAAP" decode --now 1567203100 "$tok" > "$tmp/out" 2>"$tmp/err"; check_rc "decode" $? 0
has "header alg" '"alg": "RS256"' "$tmp/out"
has "header typ" '"typ": "JWT"' "$tmp/out"
has "payload edts" '"edts": "afqGWAbSevTP2m38quBjC8pA2HcxZXG4zpFCPShTtSo"' "$tmp/out"
has "payload jti" '"jti": "83ecbcd2-5883-44c7-9470-71e02e5be0dc"' "$tmp/out"
has "iat line" 'iat  1567203081  2019-08-30T22:11:21Z  (issued 19 s ago)' "$tmp/out"
has "exp line" 'exp  1567203201  2019-08-30T22:13:21Z  (expires in 101 s)' "$tmp/out"
has "lifetime" 'lifetime 120 s' "$tmp/out"
has "ehts count" 'ehts (5 signed parts, in hash order):' "$tmp/out"
for part in "1. Content-Type" "2. Authorization" "3. uri" "4. http-method" "5. body"; do
  has "ehts $part" "  $part" "$tmp/out"
done
has "signature size" 'signature 256 bytes (not checked)' "$tmp/out"
has "not verified" "$NV" "$tmp/out"
# Header and payload keep the token's member order.
[ "$(grep -n '"typ"' "$tmp/out" | cut -d: -f1)" -lt "$(grep -n '"alg"' "$tmp/out" | cut -d: -f1)" ] && ok ||
  bad "member order not kept"

# 2. Relative times: expired, far past.
"$TAAP" decode --now 1567203381 "$tok" > "$tmp/out"
has "expired 3 min" '(expired 3 min ago)' "$tmp/out"
"$TAAP" decode --now 1567203201 "$tok" > "$tmp/out"
has "expires now" '(expires now)' "$tmp/out"
"$TAAP" decode --now 1567303201 "$tok" > "$tmp/out"
has "expired days" '(expired 27 h ago)' "$tmp/out"
"$TAAP" decode --now 1567203000 "$tok" > "$tmp/out"
has "issued in the future" '(issued 81 s in the future)' "$tmp/out"
# Without --now the real clock is used: these tokens are long expired.
"$TAAP" decode "$tok" > "$tmp/out"
has "real clock" 'days ago)' "$tmp/out"

# 3. stdin (with the trailing newline of a file) gives the same output.
"$TAAP" decode --now 1567203100 "$tok" > "$tmp/a"
"$TAAP" decode --now 1567203100 - < "$ref/tmobile-demo-2019-08.token" > "$tmp/b" 2>"$tmp/err"
check_rc "stdin" $? 0
cmp -s "$tmp/a" "$tmp/b" && ok || bad "stdin output differs"

# 4. --json: header and payload objects as in the token.
"$TAAP" decode --json "$tok" > "$tmp/json"; check_rc "--json" $? 0
has "json header" '"header":{"typ":"JWT","alg":"RS256"}' "$tmp/json"
has "json payload" '"payload":{"edts":"afqGWAbSevTP2m38quBjC8pA2HcxZXG4zpFCPShTtSo","v":"1","exp":1567203201,' "$tmp/json"
has "json verified" '"verified":false' "$tmp/json"
[ "$(wc -l < "$tmp/json")" -eq 1 ] && ok || bad "--json is not one line"

# 5. The older demo tokens: header without typ, "v":"v1", a padded edts.
"$TAAP" decode --now 1537404240 - < "$ref/tmobile-demo-2018-09.token" > "$tmp/out"; check_rc "2018 token" $? 0
has "2018 header" '"alg": "RS256"' "$tmp/out"
check_nogrep "2018 no typ" '"typ"' "$tmp/out"
has "2018 v" '"v": "v1"' "$tmp/out"
has "2018 edts" 'GxWE="' "$tmp/out"
has "2018 ehts" 'ehts (2 signed parts, in hash order):' "$tmp/out"
has "2018 nv" "$NV" "$tmp/out"

# 6. Malformed input: exit 10 with a message, nothing on stdout.
b64() { printf '%s' "$1" | openssl base64 -A | tr '+/' '-_' | tr -d '='; }
hdr=$(b64 '{"alg":"RS256"}')
for t in "abc" "a.b" "a.b.c.d" "$hdr.%%%.sig" "$hdr.$(b64 'hello').c2ln" "$hdr.$(b64 '[1,2]').c2ln" \
         "$(b64 'not json').$(b64 '{}').c2ln" "$hdr.$(b64 '{"a":1,"a":2}').c2ln" "$hdr=.e30.c2ln"; do
  "$TAAP" decode "$t" > "$tmp/out" 2>"$tmp/err"; rc=$?
  [ "$rc" -eq 10 ] && ok || bad "malformed '$t': exit $rc, want 10"
  [ -s "$tmp/err" ] && ok || bad "malformed '$t': no message"
  [ ! -s "$tmp/out" ] && ok || bad "malformed '$t': printed something on stdout"
done
printf '' | "$TAAP" decode - > /dev/null 2>"$tmp/err"; check_rc "empty stdin" $? 10
head -c 70000 /dev/zero | tr '\0' 'A' | "$TAAP" decode - > /dev/null 2>"$tmp/err"; check_rc "huge stdin" $? 10
has "huge message" "larger than" "$tmp/err"

# 7. Usage errors.
"$TAAP" decode > /dev/null 2>"$tmp/err"; check_rc "no token" $? 2
"$TAAP" decode a b > /dev/null 2>"$tmp/err"; check_rc "two tokens" $? 2
"$TAAP" decode --now soon "$tok" > /dev/null 2>"$tmp/err"; check_rc "bad --now" $? 2
"$TAAP" decode --bogus "$tok" > /dev/null 2>"$tmp/err"; check_rc "unknown option" $? 2

# 8. A token from `taap pop` round-trips, when a key is at hand.
key="$tmp/key.pem"
if cp "${TAAP_TEST_DATA:-/nonexistent}/tmobile-lib-test-key.pem" "$key" 2>/dev/null; then
  chmod 600 "$key"
  "$TAAP" pop --key "$key" --now 1700000000 --jti 'id-"quoted"' -d '{}' https://h/x?q=%41 |
    "$TAAP" decode --now 1700000042 - > "$tmp/out"
  has "pop jti escaped" '"jti": "id-\"quoted\""' "$tmp/out"
  has "pop exp" '(expires in 18 s)' "$tmp/out"
  has "pop ehts" '  4. body' "$tmp/out"
fi

[ "$fail" -eq 0 ] && echo "taap decode: $n checks ok"
exit $fail
