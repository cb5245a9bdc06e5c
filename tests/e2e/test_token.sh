#!/usr/bin/env bash
# `taap token`: output forms (--json, --show-token), reuse and
# --force-refresh / --forget (counted in the emulator's access log), a
# damaged or non-private cache file is replaced and never trusted, the
# documented exit statuses, and no secret in error messages.
set -u
. "$(dirname "$0")/client_lib.sh"

start_emu
make_app tok
C=$(conn)

$TAAP token $C >"$tmp/out" 2>"$tmp/err"
check_rc "token" $? 0
check_grep "token type" '^token_type: *Bearer' "$tmp/out"
check_grep "expiry" '^expires_in: *3[56][0-9][0-9] s' "$tmp/out"
check_grep "scope" '^scope: *iot-connectivity' "$tmp/out"
check_grep "first from the endpoint" '^source: *token endpoint' "$tmp/out"
check_nogrep "no token without --show-token" 'access_token' "$tmp/out"
check_eq "one request" "$(token_requests)" 1

$TAAP token $C --json >"$tmp/out" 2>"$tmp/err"
check_rc "token --json" $? 0
check_eq "--json source" "$(jq -r .source "$tmp/out")" cache
check_eq "--json scope" "$(jq -r .scope "$tmp/out")" iot-connectivity
check_eq "--json client id" "$(jq -r .client_id "$tmp/out")" "$CLIENT_ID"
check_eq "--json has no token" "$(jq -r 'has("access_token")' "$tmp/out")" false
check_eq "reused" "$(token_requests)" 1

$TAAP token $C --json --show-token >"$tmp/out" 2>"$tmp/err"
TOKEN=$(jq -r .access_token "$tmp/out")
check_eq "--show-token gives a JWT" "$(echo "$TOKEN" | tr -cd . | wc -c)" 2
check_eq "--show-token id_token" "$(jq -r 'has("id_token")' "$tmp/out")" true
$TAAP token $C --show-token >"$tmp/out" 2>"$tmp/err"
check_eq "--show-token alone prints only the token" "$(cat "$tmp/out")" "$TOKEN"
$TAAP token $C --print >"$tmp/out" 2>"$tmp/err"
check_eq "--print prints only the token" "$(cat "$tmp/out")" "$TOKEN"

$TAAP token $C --force-refresh --json >"$tmp/out" 2>"$tmp/err"
check_rc "--force-refresh" $? 0
check_eq "--force-refresh source" "$(jq -r .source "$tmp/out")" "token endpoint"
check_eq "--force-refresh requested" "$(token_requests)" 2

cf=$(ls "$tmp/cache/taap/"token-*.json)
check_eq "cache mode 0600" "$(stat -c %a "$cf")" 600
check_eq "cache dir mode 0700" "$(stat -c %a "$tmp/cache/taap")" 700

# damaged cache: garbage, then a truncated copy; each is replaced, never used
printf 'not json at all' >"$cf"
$TAAP token $C --json >"$tmp/out" 2>"$tmp/err"
check_rc "garbage cache" $? 0
check_eq "garbage cache not trusted" "$(jq -r .source "$tmp/out")" "token endpoint"
check_eq "garbage cache replaced" "$(jq -r .format "$cf")" 1
head -c 100 "$cf" >"$tmp/trunc" && cat "$tmp/trunc" >"$cf"
$TAAP token $C --json >"$tmp/out" 2>"$tmp/err"
check_eq "truncated cache not trusted" "$(jq -r .source "$tmp/out")" "token endpoint"
# a cache file others may write is not trusted either
chmod 644 "$cf"
$TAAP token $C --json >"$tmp/out" 2>"$tmp/err"
check_eq "world-readable cache not trusted" "$(jq -r .source "$tmp/out")" "token endpoint"
check_eq "rewritten 0600" "$(stat -c %a "$cf")" 600
# an expired token in the cache is refreshed
jq '.obtained_at -= 4000 | .expires_at -= 4000' "$cf" >"$tmp/exp" && cat "$tmp/exp" >"$cf"
$TAAP token $C --json >"$tmp/out" 2>"$tmp/err"
check_eq "expired cache refreshed" "$(jq -r .source "$tmp/out")" "token endpoint"
# a token the API refuses (stale cache from elsewhere) → 401 → refetch → success
before=$(token_requests)
jq '.access_token = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"' "$cf" >"$tmp/bad" && cat "$tmp/bad" >"$cf"
$TAAP call $C "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "401 then refreshed" $? 0
check_eq "401 fetched one new token" "$(( $(token_requests) - before ))" 1
check_eq "401 refresh stored" "$(jq -r .access_token "$cf" | grep -c c2ln)" 0

$TAAP token $C --forget >"$tmp/out" 2>"$tmp/err"
check_rc "--forget" $? 0
check_eq "--forget removed the file" "$(ls "$tmp/cache/taap/" | grep -c 'json$')" 0

# profiles isolate caches: another profile name → another file
$TAAP profile add other --base-url "$BASE" --client-id "$CLIENT_ID" --secret-env TEST_SECRET --key "$KEY" >/dev/null
$TAAP token --profile other >"$tmp/out" 2>"$tmp/err"
check_rc "--profile token" $? 0
check_eq "profile cache file" "$(ls "$tmp/cache/taap/" | grep -c '^token-other-.*json$')" 1

# exit statuses and messages
$TAAP token --base-url "$BASE" --client-id "$CLIENT_ID" --key "$KEY" >"$tmp/out" 2>"$tmp/err"
check_rc "no secret" $? 54
check_grep "no secret message" 'no client secret' "$tmp/err"
WRONG="wrong-secret-value-123" $TAAP token --base-url "$BASE" --client-id "$CLIENT_ID" --secret-env WRONG \
  --key "$KEY" --no-cache >"$tmp/out" 2>"$tmp/err"
check_rc "wrong secret" $? 52
check_grep "wrong secret: status" 'answered 401' "$tmp/err"
check_nogrep "wrong secret not echoed" "wrong-secret-value-123" "$tmp/err"
printf '%s\n' "$SECRET" >"$tmp/secret"
chmod 644 "$tmp/secret"
$TAAP token --base-url "$BASE" --client-id "$CLIENT_ID" --secret-file "$tmp/secret" --key "$KEY" >"$tmp/out" 2>"$tmp/err"
check_rc "secret file 0644 refused" $? 54
check_grep "secret file mode message" 'chmod 600' "$tmp/err"
chmod 600 "$tmp/secret"
$TAAP token --base-url "$BASE" --client-id "$CLIENT_ID" --secret-file "$tmp/secret" --key "$KEY" >"$tmp/out" 2>"$tmp/err"
check_rc "--secret-file" $? 0
TAAP_BASE_URL="$BASE" TAAP_CLIENT_ID="$CLIENT_ID" TAAP_CLIENT_SECRET="$SECRET" TAAP_PRIVATE_KEY="$(cat "$KEY")" \
  $TAAP token --json >"$tmp/out" 2>"$tmp/err"
check_rc "all from the environment (PEM in TAAP_PRIVATE_KEY)" $? 0
# .env files and CI secrets hold the PEM with literal \n escapes (as `taap pop` takes it).
TAAP_BASE_URL="$BASE" TAAP_CLIENT_ID="$CLIENT_ID" TAAP_CLIENT_SECRET="$SECRET" \
  TAAP_PRIVATE_KEY="$(awk '{printf "%s\\n", $0}' "$KEY")" $TAAP token --no-cache --force-refresh >"$tmp/out" 2>"$tmp/err"
check_rc "PEM with \\n escapes in TAAP_PRIVATE_KEY" $? 0
$TAAP token --base-url http://127.0.0.1:1 --client-id x --secret-env TEST_SECRET --key "$KEY" >"$tmp/out" 2>"$tmp/err"
check_rc "unreachable token endpoint" $? 50
$TAAP token $C --bogus >"$tmp/out" 2>"$tmp/err"
check_rc "unknown flag" $? 2
check_nogrep "secret absent from the server log" "$SECRET" "$tmp/serve.log"
check_nogrep "token absent from the server log" "$TOKEN" "$tmp/serve.log"

# A valid cached token is used without the secret: the secret is read only
# when a new token must be fetched (here its variable is unset).
$TAAP profile add lazy --base-url "$BASE" --client-id "$CLIENT_ID" --secret-env LAZY_SECRET --key "$KEY" >/dev/null
env -u LAZY_SECRET $TAAP token --profile lazy >"$tmp/out" 2>"$tmp/err"
check_rc "no cached token, secret variable unset" $? 54
check_grep "the error names the missing variable" 'LAZY_SECRET' "$tmp/err"
before=$(token_requests)
LAZY_SECRET="$SECRET" $TAAP token --profile lazy >"$tmp/out" 2>"$tmp/err"
check_rc "token with the secret" $? 0
env -u LAZY_SECRET $TAAP token --profile lazy --json >"$tmp/out" 2>"$tmp/err"
check_rc "cached token, secret variable unset: taap token" $? 0
check_eq "cached token used" "$(jq -r .source "$tmp/out")" cache
env -u LAZY_SECRET $TAAP call --profile lazy "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "cached token, secret variable unset: taap call" $? 0
check_eq "the device came back" "$(jq -r .iccid "$tmp/out")" "$ICCID"
check_eq "one token request for all three" "$(( $(token_requests) - before ))" 1
env -u LAZY_SECRET $TAAP token --profile lazy --force-refresh >"$tmp/out" 2>"$tmp/err"
check_rc "--force-refresh needs the secret" $? 54
check_grep "--force-refresh names the variable" 'LAZY_SECRET' "$tmp/err"

# Lock files: one per profile, reused; none left empty per identity. An empty
# lock that an older version left beside a token file is removed.
locks=$(ls "$tmp/cache/taap/" | grep -c '\.lock$')
profiles=$(ls "$tmp/cache/taap/" | grep '\.lock$' | sed 's/^token-\(.*\)\.lock$/\1/' | sort -u | wc -l)
check_eq "one lock file per profile" "$locks" "$profiles"
check_eq "no lock file per token file" "$(ls "$tmp/cache/taap/" | grep -c '\.json\.lock$')" 0
lf=$(ls "$tmp/cache/taap/"token-lazy-*.json)
: >"$lf.lock"
LAZY_SECRET="$SECRET" $TAAP token --profile lazy --force-refresh >"$tmp/out" 2>"$tmp/err"
check_rc "refresh with a legacy lock file" $? 0
check_eq "legacy empty lock removed" "$(ls "$tmp/cache/taap/" | grep -c '\.json\.lock$')" 0
for i in 1 2 3; do
  $TAAP token --base-url "$BASE" --client-id "other-$i" --secret-env TEST_SECRET --key "$KEY" >/dev/null 2>&1
done
check_eq "other identities reuse the default lock" "$(ls "$tmp/cache/taap/" | grep -c '^token-default\.lock$')" 1
check_eq "still no per-identity lock" "$(ls "$tmp/cache/taap/" | grep -c '\.json\.lock$')" 0

finish
