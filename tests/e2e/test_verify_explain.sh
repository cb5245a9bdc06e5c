#!/usr/bin/env bash
# `taap verify --explain` through the command line: the text and --json
# forms name the likely cause only when a recomputed edts equals the
# token's. A client that signs the percent-encoded query is simulated with
# `taap pop` over a double-encoded URL (pop decodes once, so it hashes
# "%20" where the request, as received, decodes to a space).
set -u
taap=${TAAP_BIN:?TAAP_BIN must name the taap binary}
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0
check() { # check NAME COND-EXIT
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}

"$taap" keygen --out keys >/dev/null || { echo "taap keygen failed"; exit 1; }
mv keys/private-key.pem key.pem
mv keys/public-key.pem pub.pem
NOW=1700000000
AUTH='Authorization: Bearer abc123'
SENT='https://api.example.com/v1/search?q=a%20b&page=2'

# 1. Percent-encoded query: named, with the uri the client hashed.
tok=$("$taap" pop --key key.pem --now $NOW -H "$AUTH" 'https://api.example.com/v1/search?q=a%2520b&page=2')
out=$("$taap" verify "$tok" --key pub.pem --now $((NOW + 3)) --explain -H "$AUTH" "$SENT" 2>err.txt)
rc=$?
check "encoded query exits 19" $([ $rc -eq 19 ]; echo $?)
check "text names the cause" $(grep -q "^likely cause: edts matches this request only if the query is percent-encoded: sign the decoded query" <<<"$out"; echo $?)
check "text shows the uri hashed by the client" $(grep -q "uri hashed as '/v1/search?q=a%20b&page=2'" <<<"$out"; echo $?)
check "text shows the canonical uri" $(grep -q "uri *'/v1/search?q=a b&page=2'" <<<"$out"; echo $?)
check "text shows the time window" $(grep -q "iat $NOW (3 s ago), exp $((NOW + 60)) (expires in 57 s)" <<<"$out"; echo $?)
json=$("$taap" verify "$tok" --key pub.pem --now $((NOW + 3)) --explain --json -H "$AUTH" "$SENT" 2>/dev/null)
check "--json is one object with the cause" \
  $([ "$(jq -r '.explain.cause.name' <<<"$json")" = query_percent_encoded ]; echo $?)
check "--json computed edts differs from the token's" \
  $([ "$(jq -r '.explain.edts.match' <<<"$json")" = false ] && \
    [ "$(jq -r '.explain.edts.token' <<<"$json")" = "$(jq -r '.claims.edts' <<<"$json")" ]; echo $?)

# 2. Lower-case method and a JSON body pretty-printed by the client.
tok=$("$taap" pop --key key.pem --now $NOW -X post -H "$AUTH" --data-raw '{"a":1}' "$SENT")
out=$("$taap" verify "$tok" --key pub.pem --now $NOW --explain -X POST -H "$AUTH" --data-raw '{"a":1}' "$SENT" 2>/dev/null)
check "lower-case method named" $(grep -q "only if the method is lower case" <<<"$out"; echo $?)
check "body shown as length, sha256, first bytes" \
  $(grep -q "body  *7 bytes, sha256 $(printf '{"a":1}' | sha256sum | cut -c1-64), starts '{\"a\":1}'" <<<"$out"; echo $?)
printf '{\n  "a": 1\n}' >pretty.json
tok=$("$taap" pop --key key.pem --now $NOW -H "$AUTH" --data-binary @pretty.json "$SENT")
out=$("$taap" verify "$tok" --key pub.pem --now $NOW --explain -H "$AUTH" --data-raw '{"a":1}' "$SENT" 2>/dev/null)
check "re-serialised JSON named" $(grep -q "only if the JSON body is serialised another way" <<<"$out"; echo $?)

# 3. Another request entirely: no mistake named.
tok=$("$taap" pop --key key.pem --now $NOW -H "$AUTH" 'https://api.example.com/v1/other')
out=$("$taap" verify "$tok" --key pub.pem --now $NOW --explain -H "$AUTH" "$SENT" 2>/dev/null)
check "another request: no named mistake" $(grep -q "^likely cause: no known client mistake reproduces edts" <<<"$out"; echo $?)
check "another request: no 'only if'" $(! grep -q "only if" <<<"$out"; echo $?)

# 4. A valid token: verdict valid, edts match, no cause, exit 0.
tok=$("$taap" pop --key key.pem --now $NOW -H "$AUTH" "$SENT")
out=$("$taap" verify "$tok" --key pub.pem --now $NOW --explain -H "$AUTH" "$SENT" 2>/dev/null)
rc=$?
check "valid exits 0 with match" $([ $rc -eq 0 ] && grep -q "(match)" <<<"$out" && ! grep -q "likely cause" <<<"$out"; echo $?)

# 5. Expired but matching: the time window says by how much.
out=$("$taap" verify "$tok" --key pub.pem --now $((NOW + 600)) --explain -H "$AUTH" "$SENT" 2>/dev/null)
rc=$?
check "expired exits 13 and shows expired 540 s ago" $([ $rc -eq 13 ] && grep -q "expired 540 s ago" <<<"$out"; echo $?)

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
