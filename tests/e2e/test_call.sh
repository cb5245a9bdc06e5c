#!/usr/bin/env bash
# `taap call` against the emulator: each flag family, {{NAME}} sources and
# settings precedence, error statuses and exit codes, retries, proxies from
# the environment, token reuse across processes (8 at once), and no secret
# or token in -v output, errors or the server log.
set -u
. "$(dirname "$0")/client_lib.sh"

start_emu
make_app app1
C=$(conn)

# Luhn check digit so we can name a well-formed ICCID the emulator does not know.
luhn_complete() { # digits without check digit
  local s=$1 sum=0 i d len=${#1} dbl=1
  for ((i = len - 1; i >= 0; i--)); do
    d=${s:i:1}
    if [ $dbl -eq 1 ]; then d=$((d * 2)); [ $d -gt 9 ] && d=$((d - 9)); fi
    sum=$((sum + d)); dbl=$((1 - dbl))
  done
  echo "$s$(( (10 - sum % 10) % 10 ))"
}
UNKNOWN=$(luhn_complete 8901260999999999999)

# --- basic GET with {{ICCID}} from --var, relative path -------------------------
$TAAP call $C --var ICCID="$ICCID" '/iot-connectivity/v1/devices/{{ICCID}}' >"$tmp/out" 2>"$tmp/err"
check_rc "GET by path" $? 0
check_eq "GET iccid" "$(jq -r .iccid "$tmp/out")" "$ICCID"
check_eq "one token request so far" "$(token_requests)" 1

# full URL, same token reused from the cache by a new process
$TAAP call $C "$BASE/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "GET full URL" $? 0
check_eq "token reused across processes" "$(token_requests)" 1

# --- methods and bodies ---------------------------------------------------------
$TAAP call $C PATCH "/iot-connectivity/v1/devices/$ICCID" -d '{"status":"SUSPENDED"}' >"$tmp/out" 2>"$tmp/err"
check_rc "positional PATCH" $? 0
check_eq "PATCH applied" "$(jq -r .status "$tmp/out")" SUSPENDED
printf '{"status":"ACTIVE"}' >"$tmp/body.json"
$TAAP call $C -X PATCH "/iot-connectivity/v1/devices/$ICCID" --data-binary @"$tmp/body.json" >"$tmp/out" 2>"$tmp/err"
check_rc "--data-binary @file" $? 0
check_eq "file body applied" "$(jq -r .status "$tmp/out")" ACTIVE
printf '{"status":"SUSPENDED"}' | $TAAP call $C -X PATCH "/iot-connectivity/v1/devices/$ICCID" --data-binary @- >"$tmp/out" 2>"$tmp/err"
check_rc "--data-binary @-" $? 0
check_eq "stdin body applied" "$(jq -r .status "$tmp/out")" SUSPENDED
$TAAP call $C -X PATCH "/iot-connectivity/v1/devices/{{ICCID}}" --var ICCID="$ICCID" \
  -d '{"status":"{{STATE}}"}' --var STATE=ACTIVE >"$tmp/out" 2>"$tmp/err"
check_rc "{{NAME}} in the body" $? 0
check_eq "body placeholder expanded" "$(jq -r .status "$tmp/out")" ACTIVE

# --- -o, -i, -H, -v -----------------------------------------------------------
$TAAP call $C -o "$tmp/dev.json" "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "-o" $? 0
check_eq "-o leaves stdout empty" "$(wc -c <"$tmp/out")" 0
check_eq "-o file holds the device" "$(jq -r .iccid "$tmp/dev.json")" "$ICCID"
$TAAP call $C -i "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "-i" $? 0
check_grep "-i status line" '^HTTP/1.1 200' "$tmp/out"
check_grep "-i content type" '^Content-Type: application/json' "$tmp/out"
$TAAP call $C -v -H 'X-Correlation-Id: corr-123' "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/verbose1"
check_rc "-v" $? 0
check_grep "-v shows the extra header" '^> X-Correlation-Id: corr-123' "$tmp/verbose1"
check_grep "-v redacts Bearer" '^> Authorization: Bearer \[redacted\]' "$tmp/verbose1"
check_grep "-v redacts the PoP" '^> X-Authorization: \[redacted\]' "$tmp/verbose1"
check_grep "-v response headers" '^< HTTP/1.1 200' "$tmp/verbose1"
# a fresh cache: -v also shows the token request, with Basic redacted
XDG_CACHE_HOME="$tmp/cache-v" $TAAP call $C -v "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/verbose2"
check_rc "-v with token request" $? 0
check_grep "-v token request" '^> POST /oauth2/v2/tokens' "$tmp/verbose2"
check_grep "-v redacts Basic" '^> Authorization: Basic \[redacted\]' "$tmp/verbose2"

# --- error statuses -------------------------------------------------------------
$TAAP call $C "/iot-connectivity/v1/devices/$UNKNOWN" >"$tmp/out" 2>"$tmp/err"
check_rc "404 exit" $? 22
check_grep "404 meaning" 'HTTP 404 not_found' "$tmp/err"
check_grep "404 server message" 'server says' "$tmp/err"
check_grep "404 body on stdout" '"code"' "$tmp/out"
$TAAP call $C --fail "/iot-connectivity/v1/devices/12345" >"$tmp/out" 2>"$tmp/err"
check_rc "400 exit" $? 22
check_grep "400 meaning" 'HTTP 400 bad_request' "$tmp/err"
check_eq "--fail prints no body" "$(wc -c <"$tmp/out")" 0

# --- placeholders, -e environment file, profiles, precedence ----------------------
$TAAP call $C '/iot-connectivity/v1/devices/{{NOPE}}' >"$tmp/out" 2>"$tmp/err"
check_grep "unresolved placeholder warned" '{{NOPE}} has no value' "$tmp/err"
jq -n --arg id "$CLIENT_ID" --arg s "$SECRET" --rawfile k "$KEY" --arg b "$BASE" --arg i "$ICCID" '{
  name: "TAAP Quick Start", values: [
    {key: "client id", value: $id, enabled: true},
    {key: "client secret", value: $s, type: "secret", enabled: true},
    {key: "private key", value: $k, enabled: true},
    {key: "baseUrl", value: $b, enabled: true},
    {key: "ICCID", value: "00000000000000000000", enabled: true},
    {key: "ICCID", value: $i, enabled: true},
    {key: "ICCID", value: "11111111111111111111", enabled: false}],
  _postman_variable_scope: "environment"}' >"$tmp/env.json"
$TAAP call -e "$tmp/env.json" '{{baseUrl}}/iot-connectivity/v1/devices/{{ICCID}}' >"$tmp/out" 2>"$tmp/err"
check_rc "-e Postman environment" $? 0
check_eq "-e last enabled duplicate wins" "$(jq -r .iccid "$tmp/out")" "$ICCID"
$TAAP profile add p1 --base-url "$BASE" --client-id "$CLIENT_ID" --secret-env TEST_SECRET \
  --key "$KEY" --var ICCID="$ICCID" >/dev/null 2>"$tmp/err"
check_rc "profile add" $? 0
$TAAP call --profile p1 '/iot-connectivity/v1/devices/{{ICCID}}' >"$tmp/out" 2>"$tmp/err"
check_rc "--profile" $? 0
check_eq "--profile var" "$(jq -r .iccid "$tmp/out")" "$ICCID"
TAAP_PROFILE=p1 $TAAP call '/iot-connectivity/v1/devices/{{ICCID}}' >"$tmp/out" 2>"$tmp/err"
check_rc "TAAP_PROFILE" $? 0
# flag beats profile: a wrong base URL on the command line wins (and fails)
$TAAP call --profile p1 --base-url http://127.0.0.1:1 '/iot-connectivity/v1/devices/{{ICCID}}' >"$tmp/out" 2>"$tmp/err"
check_rc "flag beats profile" $? 50
# environment beats profile
TAAP_BASE_URL=http://127.0.0.1:1 $TAAP call --profile p1 '/x' >"$tmp/out" 2>"$tmp/err"
check_rc "environment beats profile" $? 50
# profile beats the environment file: -e has a different ICCID value
jq '.values |= map(if .key == "ICCID" then .value = "00000000000000000000" else . end)' "$tmp/env.json" >"$tmp/env2.json"
$TAAP call --profile p1 -e "$tmp/env2.json" '/iot-connectivity/v1/devices/{{ICCID}}' >"$tmp/out" 2>"$tmp/err"
check_eq "profile var beats -e var" "$(jq -r .iccid "$tmp/out")" "$ICCID"
# --var beats the profile
$TAAP call --profile p1 --var ICCID="$UNKNOWN" '/iot-connectivity/v1/devices/{{ICCID}}' >"$tmp/out" 2>"$tmp/err"
check_rc "--var beats profile" $? 22

# --- transport: --connect-to, proxies, retries, timeouts, TLS ----------------------
$TAAP call --base-url http://emu.invalid:8080 --client-id "$CLIENT_ID" --secret-env TEST_SECRET --key "$KEY" \
  --connect-to "emu.invalid:8080:127.0.0.1:$PORT" "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "--connect-to" $? 0
http_proxy=http://127.0.0.1:1 $TAAP call $C --no-cache "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "http_proxy honoured" $? 50
http_proxy=http://127.0.0.1:1 no_proxy=127.0.0.1 $TAAP call $C "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "no_proxy honoured" $? 0
$TAAP call $C -v --retry 2 --retry-delay 0 http://127.0.0.1:1/x >"$tmp/out" 2>"$tmp/err"
check_rc "connect failure exit" $? 50
check_eq "two retries" "$(grep -c 'retrying' "$tmp/err")" 2
$TAAP call $C --retry 2 --retry-delay 0 -X POST -d '{}' http://127.0.0.1:1/x >"$tmp/out" 2>"$tmp/err"
check_rc "POST retried on connect failure" $? 50
$TAAP call $C --max-time abc /x >"$tmp/out" 2>"$tmp/err"
check_rc "--max-time checked" $? 2
$TAAP call $C --retry -1 /x >"$tmp/out" 2>"$tmp/err"
check_rc "--retry checked" $? 2
$TAAP call $C --max-time 5 --connect-timeout 2 "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "--max-time/--connect-timeout accepted" $? 0
$TAAP call $C --cacert "$tmp/nonexistent.pem" https://127.0.0.1:$PORT/x >"$tmp/out" 2>"$tmp/err"
check_rc "--cacert with https to a plain-HTTP port" $? 50
$TAAP call $C -k --cert "$tmp/no.pem" --cert-key "$tmp/no.key" https://127.0.0.1:$PORT/x >"$tmp/out" 2>"$tmp/err"
check_rc "-k/--cert/--cert-key reach TLS" $? 50

# --- settings errors --------------------------------------------------------------
$TAAP call --base-url "$BASE" --secret-env TEST_SECRET --key "$KEY" /x >"$tmp/out" 2>"$tmp/err"
check_rc "missing client id" $? 54
check_grep "missing client id message" 'no client id' "$tmp/err"
XDG_CACHE_HOME="$tmp/cache-bad" WRONG=not-the-secret $TAAP call --base-url "$BASE" --client-id "$CLIENT_ID" \
  --secret-env WRONG --key "$KEY" "/iot-connectivity/v1/devices/$ICCID" >"$tmp/out" 2>"$tmp/err-oauth"
check_rc "wrong secret" $? 52
check_grep "wrong secret names the endpoint answer" '401' "$tmp/err-oauth"

# --- 8 concurrent processes share one token and never corrupt the cache -----------
export XDG_CACHE_HOME="$tmp/cache-par"
before=$(token_requests)
pids=()
for i in 1 2 3 4 5 6 7 8; do
  $TAAP call $C "/iot-connectivity/v1/devices/$ICCID" >"$tmp/par$i.out" 2>"$tmp/par$i.err" &
  pids+=($!)
done
pfail=0
for p in "${pids[@]}"; do wait "$p" || pfail=1; done
check_eq "8 concurrent calls succeed" "$pfail" 0
check_eq "8 concurrent calls, one token request" "$(( $(token_requests) - before ))" 1
for i in 1 2 3 4 5 6 7 8; do check_eq "concurrent $i body" "$(jq -r .iccid "$tmp/par$i.out")" "$ICCID"; done
cf=$(ls "$tmp/cache-par/taap/"token-*.json)
check_eq "cache file is valid JSON" "$(jq -r .format "$cf")" 1
check_eq "cache file mode" "$(stat -c %a "$cf")" 600
check_eq "no temp files left" "$(ls "$tmp/cache-par/taap" | grep -c tmp)" 0

# --- no secret, token or Basic credential anywhere we print -------------------------
TOKEN=$($TAAP token $C --json --show-token | jq -r .access_token)
check_eq "token obtained" "$([ ${#TOKEN} -gt 20 ] && echo yes)" yes
BASIC=$(printf '%s:%s' "$CLIENT_ID" "$SECRET" | openssl base64 -A)
POP_LINE=$(grep -c 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9' "$tmp/verbose1" "$tmp/verbose2" | awk -F: '{s+=$2} END {print s}')
check_eq "no PoP token in -v output" "$POP_LINE" 0
for f in "$tmp/verbose1" "$tmp/verbose2" "$tmp/err-oauth" "$tmp/serve.log" "$tmp"/par*.err; do
  check_nogrep "secret absent from $(basename "$f")" "$SECRET" "$f"
  check_nogrep "token absent from $(basename "$f")" "$TOKEN" "$f"
  check_nogrep "Basic absent from $(basename "$f")" "$BASIC" "$f"
done

finish
