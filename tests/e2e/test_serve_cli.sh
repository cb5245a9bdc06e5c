#!/usr/bin/env bash
# `taap serve` + `taap admin` + curl + `taap pop`, as a user runs them
# (README "Run your own TAAP server"): seed with --init, manage with
# taap admin, get a token and call the Connectivity API with curl, stop
# with SIGTERM (exit 0), restart on the same database.
set -u
taap=${TAAP_BIN:?TAAP_BIN must point at the taap binary}
command -v curl >/dev/null 2>&1 || { echo "curl not installed: skipped"; exit 77; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/serve.log" ] && tail -20 "$dir/serve.log"; exit 1; }
cd "$dir" || exit 1

# Start the server and wait for its "listening on" line (read from a FIFO:
# no polling, no sleeping).
start() {
  rm -f out.fifo; mkfifo out.fifo
  "$taap" serve --port 0 --port-file port --db serve.db --secret-iterations 2000 "$@" \
    > out.fifo 2>> serve.log &
  pid=$!
  exec 3< out.fifo
  : > out.txt
  while IFS= read -r -t 30 line <&3; do
    printf '%s\n' "$line" >> out.txt
    case $line in "listening on "*|"{"*) break ;; esac
  done
  port=$(cat port)
  base=http://127.0.0.1:$port
  # --json: the one object on stdout carries the URL; else the banner does.
  banner=$(sed -n 's/^listening on //p' out.txt)
  [ -n "$banner" ] || banner=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' out.txt)
  [ "$base" = "$banner" ] || fail "server did not start, or port file and banner disagree"
}
stop() {
  kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
  exec 3<&-
  [ "$rc" -eq 0 ] || fail "SIGTERM exit status $rc"
}

"$taap" keygen --out . >/dev/null 2>&1 || fail "keygen"
# Usage errors are 2.
"$taap" serve --no-such-flag >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad flag should exit 2"
"$taap" serve --port 70000 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad port should exit 2"
# An admin token file others can read is refused, with the fix in the message.
printf 'aaaaaaaaaaaaaaaaaaaaaaaa\n' > open.token && chmod 644 open.token
err=$(timeout 10 "$taap" serve --port 0 --admin-token-file open.token 2>&1); rc=$?
[ $rc -ne 0 ] && printf '%s' "$err" | grep -q 'chmod 600' || fail "0644 admin token file used: $rc $err"
chmod 640 open.token
timeout 10 "$taap" serve --port 0 --admin-token-file open.token >/dev/null 2>&1 && fail "0640 admin token file used"

start --init --json --init-key public-key.pem
# --json: exactly one JSON object on stdout, everything else on stderr
kill -0 "$pid" || fail "server gone"
[ "$(wc -l < out.txt)" -eq 1 ] || fail "--json: more than one line on stdout: $(cat out.txt)"
grep -q '^listening on ' serve.log || fail "--json: listening line not on stderr"
grep -q '"admin_token":"' out.txt || fail "admin token not in the --json object on first start"
[ "$(stat -c %a serve.db.admin-token)" = 600 ] || fail "admin token file not 0600"
[ "$(stat -c %a serve.db)" = 600 ] || fail "database not 0600"
seed=$(grep '^{' out.txt)
field() { printf '%s' "$seed" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
id=$(field clientId); secret=$(field clientSecret); iccid=$(field iccid)
[ ${#id} -eq 32 ] && [ ${#secret} -eq 40 ] && [ ${#iccid} -ge 19 ] || fail "seed output: $seed"

admin() { "$taap" admin --url "$base" --admin-token-file serve.db.admin-token "$@"; }
admin app list | grep -q "demo-app .*iot-connectivity" || fail "app list"
admin app create sensors --account acme | grep -q '^client secret' || fail "app create"
admin key add sensors public-key.pem | grep -q '^key [0-9a-f]\{16\} added to sensors' || fail "key add"
kid=$(admin key list sensors | awk 'NR==2 {print $1}')
[ ${#kid} -eq 16 ] || fail "key list"
admin kit activate --app sensors | grep -q 'ICCID   89' || fail "kit activate"
admin device list --account acme | grep -q ' acme$' || fail "device list"
posts=$(grep -c 'POST /devedge/v1/apps/sensors/keys' serve.log)
err=$(admin key add sensors private-key.pem 2>&1); rc=$?
[ $rc -eq 1 ] && printf '%s' "$err" | grep -q 'PRIVATE key: it was not sent' || fail "private key not refused: $rc $err"
[ "$(grep -c 'POST /devedge/v1/apps/sensors/keys' serve.log)" = "$posts" ] || fail "the private key was uploaded"
# A busy port is found before any database or admin token is made.
"$taap" serve --port "$port" --db busy.db >/dev/null 2>busy.err; rc=$?
[ $rc -eq 60 ] && grep -q 'in use' busy.err || fail "busy port: exit $rc $(cat busy.err)"
[ ! -e busy.db ] && [ ! -e busy.db.admin-token ] || fail "busy port: the database was created anyway"
admin key delete sensors "$kid" | grep -q deleted || fail "key delete"
admin app show nope >/dev/null 2>&1; [ $? -eq 1 ] || fail "unknown app should exit 1"
"$taap" admin --url "$base" --admin-token-file /dev/null app list >/dev/null 2>&1 && fail "empty token accepted"

# The Quick Start with curl + taap pop.
basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
pop=$("$taap" pop --key private-key.pem -X POST -H 'Content-Type: application/json' \
      -H "Authorization: Basic $basic" "$base/oauth2/v2/tokens") || fail "taap pop (token)"
curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Basic $basic" \
     -H "X-Authorization: $pop" "$base/oauth2/v2/tokens" > token.json
at=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' token.json)
[ -n "$at" ] || fail "no access token: $(cat token.json)"
url=$base/iot-connectivity/v1/devices/$iccid
pop=$("$taap" pop --key private-key.pem -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $at" "$url")
curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $at" \
     -H "X-Authorization: $pop" "$url" | grep -q "\"iccid\":\"$iccid\"" || fail "GET device"
# The same PoP again is a replay.
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
       -H "Authorization: Bearer $at" -H "X-Authorization: $pop" "$url")
[ "$code" = 401 ] || fail "replay got $code"
body='{"status":"SUSPENDED"}'
pop=$("$taap" pop --key private-key.pem -X PATCH -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $at" --data-raw "$body" "$url")
curl -s -X PATCH -H 'Content-Type: application/json' -H "Authorization: Bearer $at" \
     -H "X-Authorization: $pop" --data-raw "$body" "$url" | grep -q '"status":"SUSPENDED"' ||
  fail "PATCH device"

stop
# The access log: one line per request, never a secret, a token or a Basic header.
grep -q '^POST /oauth2/v2/tokens 200 ' serve.log || fail "no access log line"
grep -q '^PATCH /iot-connectivity/v1/devices/[0-9]* 200 ' serve.log || fail "no PATCH log line"
for s in "$secret" "$at" "$basic" "$(cat serve.db.admin-token)"; do
  grep -qF -- "$s" serve.log && fail "a secret reached the log"
done

# Restart on the same database: state kept, the token still good, no new admin token.
start
grep -q '^admin token' out.txt && fail "admin token printed again"
admin app list | grep -q '^sensors ' || fail "app lost on restart"
url=$base/iot-connectivity/v1/devices/$iccid
pop=$("$taap" pop --key private-key.pem -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $at" "$url")
curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $at" \
     -H "X-Authorization: $pop" "$url" > dev.json
grep -q '"status":"SUSPENDED"' dev.json || fail "device lost: $(cat dev.json)"
stop
# --init again on the same database refuses (the secret cannot be shown twice).
"$taap" serve --port 0 --db serve.db --init-only >/dev/null 2>&1; [ $? -eq 1 ] || fail "second --init"
echo "serve cli: ok"
