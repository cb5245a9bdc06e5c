#!/usr/bin/env bash
# The emulator explains its 401s: a resource call whose client signed the
# percent-encoded query gets a systemMessage with the likely cause, and the
# request log (GET /devedge/v1/requests, `taap admin requests [--follow]`)
# keeps method, path, status, verdict and the explanation — never the
# access token, the client secret, the Basic header or the admin token.
# The log is a ring of --request-log N entries.
set -u
. "$(dirname "$0")/client_lib.sh"
fpid=
trap 'if [ -n "$fpid" ]; then kill "$fpid" 2>/dev/null; fi; cleanup' EXIT
fail() { echo "FAIL: $*"; tail -20 "$tmp/serve.log"; exit 1; }
cd "$tmp" || exit 1
start_emu --request-log 4
make_app sensors
id=$CLIENT_ID; secret=$SECRET
ta() { "$TAAP" admin --url "$BASE" --admin-token-file "$tmp/admin" "$@"; }
taap=$TAAP
basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
pop=$("$taap" pop --key "$KEY" -X POST -H 'Content-Type: application/json' \
      -H "Authorization: Basic $basic" "$BASE/oauth2/v2/tokens") || fail "taap pop (token)"
at=$(curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Basic $basic" \
     -H "X-Authorization: $pop" "$BASE/oauth2/v2/tokens" | jq -r .access_token)
[ -n "$at" ] && [ "$at" != null ] || fail "no access token"

# A client that hashes the query still percent-encoded: taap pop decodes
# once, so signing "%2520" hashes "%20" while the server decodes "%20".
sent="$BASE/iot-connectivity/v1/devices?status=ACTIVE%20X"
pop=$("$taap" pop --key "$KEY" -H "Authorization: Bearer $at" \
      "$BASE/iot-connectivity/v1/devices?status=ACTIVE%2520X")
code=$(curl -s -o resp.json -w '%{http_code}' -H "Authorization: Bearer $at" -H "X-Authorization: $pop" "$sent")
[ "$code" = 401 ] || fail "mistaken PoP got $code"
jq -r .systemMessage resp.json | grep -q "^TAAP_E_EDTS: PoP token rejected: .*; likely cause: edts matches this request only if the query is percent-encoded: sign the decoded query$" ||
  fail "systemMessage without the cause: $(cat resp.json)"

# The log through the API and through taap admin.
curl -s -H "Authorization: Bearer $ADMIN" "$BASE/devedge/v1/requests" > log.json
entry=$(jq -c '.requests[] | select(.status == 401)' log.json)
[ "$(jq -r .path <<<"$entry")" = /iot-connectivity/v1/devices ] || fail "no 401 entry: $(cat log.json)"
[ "$(jq -r .verdict <<<"$entry")" = TAAP_E_EDTS ] || fail "verdict: $entry"
[ "$(jq -r .cause <<<"$entry")" = query_percent_encoded ] || fail "cause: $entry"
[ "$(jq -r .explanation.cause.detail <<<"$entry")" = "uri hashed as '/iot-connectivity/v1/devices?status=ACTIVE%20X' (query not decoded)" ] ||
  fail "explanation detail: $entry"
[ "$(jq -r '.explanation.parts[] | select(.name == "Authorization") | .value' <<<"$entry")" = "Bearer <redacted, ${#at} bytes>" ] ||
  fail "Authorization not redacted: $entry"
[ "$(jq -r '.requests[] | select(.path == "/oauth2/v2/tokens") | .verdict' log.json)" = TAAP_OK ] ||
  fail "token request verdict: $(cat log.json)"
out=$(ta requests) || fail "taap ta requests"
grep -q "GET .*/iot-connectivity/v1/devices .*401 TAAP_E_EDTS" <<<"$out" || fail "ta requests: $out"
grep -q "^ *likely cause: edts matches this request only if the query is percent-encoded" <<<"$out" ||
  fail "ta requests without the cause: $out"
ta requests --json | jq -e 'select(.status == 401) | .explanation.edts.match == false' >/dev/null ||
  fail "ta requests --json"
# Nothing secret in what the log gives out.
for s in "$secret" "$at" "$basic" "$ADMIN" "$pop"; do
  grep -qF -- "$s" log.json && fail "a secret or token reached the request log"
  ta requests --json | grep -qF -- "$s" && fail "a secret or token reached taap ta requests"
done

# Bounded: a ring of 4 (reads of the log itself are not recorded).
for i in 1 2 3 4 5; do curl -s -o /dev/null "$BASE/healthz"; done
n=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/devedge/v1/requests" | jq '.requests | length')
[ "$n" = 4 ] || fail "ring of 4 holds $n"
ta requests | grep -q "401" && fail "old entries should have been dropped"
curl -s -o /dev/null -w '%{http_code}' "$BASE/devedge/v1/requests" | grep -q 401 || fail "log without admin auth"

# --follow prints new requests as they come (bounded wait, then stopped).
ta requests --follow > follow.txt 2>&1 &
fpid=$!
for _ in $(seq 1 100); do grep -q '^ID' follow.txt && break; sleep 0.1; done
curl -s -o /dev/null "$BASE/nowhere-$$"
for _ in $(seq 1 100); do grep -q "/nowhere-$$ .*404" follow.txt && break; sleep 0.1; done
kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=
grep -q "/nowhere-$$ .*404" follow.txt || fail "--follow did not show the new request: $(cat follow.txt)"
echo "request log: ok"
