#!/usr/bin/env bash
# taap call speaks curl: -s -S -L -w -D -I -G --json --compressed
# --fail-with-body --curl-exit -o - --json-output, and on a terminal (a
# pseudo-terminal from script(1)) a body always ends its line.
set -u
tmp=$(mktemp -d)
. "$(dirname "$0")/client_lib.sh"
command -v node >/dev/null || { echo "SKIP: no node command"; exit 77; }
command -v script >/dev/null || { echo "SKIP: no script command"; exit 77; }
start_emu
make_app curl
C="--base-url $BASE --client-id $CLIENT_ID --secret-env TEST_SECRET --key $KEY"
P="/iot-connectivity/v1/devices/$ICCID"

# -s -o /dev/null -w: the status alone, as scripts do with curl
check_eq "-w http_code" "$($TAAP call $C -s -o /dev/null -w '%{http_code}' "$P")" 200
out=$($TAAP call $C -s -o /dev/null -w '%{size_download} %{url_effective} %{num_redirects}\n' "$P")
check_eq "-w size/url/redirects" "$out" "$(curl -s -o /dev/null -w '%{size_download}' \
  -H "Authorization: Bearer $($TAAP token $C --print)" \
  -H "X-Authorization: $($TAAP pop --key "$KEY" -H "Authorization: Bearer $($TAAP token $C --print)" "$BASE$P")" \
  -H 'Content-Type: application/json' "$BASE$P") $BASE$P 0"
$TAAP call $C -sS -o /dev/null -w '%{header_json}' "$P" >"$tmp/hj"
check_eq "-w header_json" "$(jq -r '."content-type"[0]' "$tmp/hj")" application/json
check_eq "-w time_total is seconds" "$($TAAP call $C -s -o /dev/null -w '%{time_total}' "$P" | grep -cE '^[0-9]+\.[0-9]{6}$')" 1
$TAAP call $C -s -o /dev/null -w '%{nonsense}' "$P" >/dev/null 2>"$tmp/err"
check_grep "unknown -w variable warned" "unknown --write-out variable 'nonsense'" "$tmp/err"
# -D - and -o -
$TAAP call $C -D - -o /dev/null "$P" >"$tmp/out"; check_rc "-D -" $? 0
check_grep "-D - status line" '^HTTP/1.1 200' "$tmp/out"
check_nogrep "-D - no body" '"iccid"' "$tmp/out"
$TAAP call $C -o - "$P" >"$tmp/out"; check_rc "-o -" $? 0
check_eq "-o - is stdout, no file '-'" "$(jq -r .iccid "$tmp/out")/$([ -e ./- ] && echo file || echo none)" "$ICCID/none"
# -G -d: the data goes into the query string
$TAAP call $C -G -d status=ACTIVE -d limit=1 -w '\n%{url_effective}' /iot-connectivity/v1/devices >"$tmp/out"
check_rc "-G" $? 0
check_eq "-G url" "$(tail -1 "$tmp/out")" "$BASE/iot-connectivity/v1/devices?status=ACTIVE&limit=1"
check_eq "-G sends GET" "$(head -1 "$tmp/out" | jq -r .limit)" 1
# --json DATA (curl 7.82): body + JSON Accept; --compressed asks for encodings
$TAAP call $C -X PATCH --json '{"status":"SUSPENDED"}' -v "$P" >"$tmp/out" 2>"$tmp/err"
check_rc "--json" $? 0
check_grep "--json Accept" '^> Accept: application/json' "$tmp/err"
check_eq "--json body sent" "$(jq -r .status "$tmp/out")" SUSPENDED
$TAAP call $C --compressed -v "$P" >"$tmp/out" 2>"$tmp/err"
check_grep "--compressed" '^> Accept-Encoding: .*gzip' "$tmp/err"
# -I: HEAD, headers only
$TAAP call $C -I "$P" >"$tmp/out" 2>/dev/null
check_grep "-I prints the status line" '^HTTP/1.1 ' "$tmp/out"
check_nogrep "-I prints no body" '"code"' "$tmp/out"
# --json-output: one object scripts can rely on
$TAAP call $C --json-output "$P" >"$tmp/out"; check_rc "--json-output" $? 0
check_eq "--json-output lines" "$(wc -l <"$tmp/out")" 1
check_eq "--json-output fields" "$(jq -c '[.status, .body.iccid, (.headers."content-type"[0]), (.time_total >= 0), .url_effective]' "$tmp/out")" \
  "[200,\"$ICCID\",\"application/json\",true,\"$BASE$P\"]"

# Exit statuses: 22 on >= 400 (the documented difference), curl's 0 behind --curl-exit
BAD=/iot-connectivity/v1/devices/12345
$TAAP call $C "$BAD" >"$tmp/out" 2>"$tmp/err"; check_rc "HTTP 400 exits 22" $? 22
check_grep "explained on stderr" 'HTTP 400' "$tmp/err"
$TAAP call $C -s "$BAD" >"$tmp/out" 2>"$tmp/err"; check_rc "-s keeps exit 22" $? 22
check_eq "-s: nothing on stderr" "$(wc -c <"$tmp/err")" 0
$TAAP call $C --curl-exit "$BAD" >"$tmp/out" 2>/dev/null; check_rc "--curl-exit" $? 0
$TAAP call $C --curl-exit -f "$BAD" >"$tmp/out" 2>/dev/null; check_rc "--curl-exit -f" $? 22
check_eq "-f: no body" "$(wc -c <"$tmp/out")" 0
$TAAP call $C --curl-exit --fail-with-body "$BAD" >"$tmp/out" 2>/dev/null; check_rc "--fail-with-body" $? 22
check_grep "--fail-with-body prints it" '"code"' "$tmp/out"
$TAAP call $C -s http://127.0.0.1:1/x >"$tmp/out" 2>"$tmp/err"; check_rc "-s transport" $? 50
check_eq "-s hides the transport error" "$(wc -c <"$tmp/err")" 0
$TAAP call $C -sS http://127.0.0.1:1/x >"$tmp/out" 2>"$tmp/err"; check_rc "-sS transport" $? 50
check_grep "-S shows it" 'Failed to connect' "$tmp/err"

# On a terminal a body lacking a newline still ends its line.
script -q -c "$TAAP call $C -s $BAD; echo \"[exit \$?]\"" /dev/null >"$tmp/tty" 2>&1
check_grep "terminal: exit on its own line" '^\[exit 22\]' "$tmp/tty"

# -L: a redirect on the same origin is followed with a fresh PoP over each
# hop's own URL; a redirect to another origin is refused.
cat >"$tmp/redir.js" <<'JS'
const http = require('http'), fs = require('fs');
const log = process.argv[2];
const srv = http.createServer((q, r) => {
  fs.appendFileSync(log, JSON.stringify({url: q.url, method: q.method, pop: q.headers['x-authorization'] || ''}) + '\n');
  q.resume();
  q.on('end', () => {
    if (q.url === '/old') { r.writeHead(302, {Location: '/new?x=1'}); r.end('moved'); }
    else if (q.url === '/post') { r.writeHead(303, {Location: 'new?x=2'}); r.end(); }
    else if (q.url === '/away') { r.writeHead(301, {Location: 'http://other.invalid/x'}); r.end(); }
    else if (q.url === '/loop') { r.writeHead(307, {Location: '/loop'}); r.end(); }
    else { r.writeHead(200, {'Content-Type': 'application/json'}); r.end('{"at":"' + q.url + '"}'); }
  });
});
srv.listen(0, '127.0.0.1', () => { fs.writeFileSync(log + '.port', String(srv.address().port)); });
JS
node "$tmp/redir.js" "$tmp/redir.log" &
RPID=$!
for _ in $(seq 1 100); do [ -s "$tmp/redir.log.port" ] && break; sleep 0.1; done
R="http://127.0.0.1:$(cat "$tmp/redir.log.port")"
RC="--base-url $R --token-path $BASE/oauth2/v2/tokens --client-id $CLIENT_ID --secret-env TEST_SECRET --key $KEY"
out=$($TAAP call $RC -L -w ' %{num_redirects} %{url_effective}' /old); check_rc "-L" $? 0
check_eq "-L followed" "$out" "{\"at\":\"/new?x=1\"} 1 $R/new?x=1"
$TAAP call $RC /old >"$tmp/out"; check_rc "without -L the 302 is the answer" $? 0
check_eq "without -L: the 302 body" "$(cat "$tmp/out")" moved
out=$($TAAP call $RC -L -X POST -d '{}' -w ' %{method}' /post); check_rc "-L 303" $? 0
check_eq "303 continues as GET" "$out" "{\"at\":\"/new?x=2\"} GET"
$TAAP call $RC -L /away >"$tmp/out" 2>"$tmp/err"; check_rc "cross-origin redirect" $? 1
check_grep "cross-origin refused" 'refused' "$tmp/err"
$TAAP call $RC -L --max-redirs 3 /loop >"$tmp/out" 2>"$tmp/err"; check_rc "--max-redirs" $? 1
# --data-binary @bigfile on a terminal: a progress line (bytes sent, rate).
# TAAP_PROGRESS_DELAY_MS=0 shows it from the first bytes, so the test does
# not depend on the upload taking a second; without a terminal, none.
head -c $((8 << 20)) /dev/zero >"$tmp/big.bin"
script -q -c "TAAP_PROGRESS_DELAY_MS=0 $TAAP call $RC -X PUT --data-binary @$tmp/big.bin /sink >/dev/null" \
  /dev/null >"$tmp/tty" 2>&1 </dev/null
check_grep "progress line: bytes sent of the total, rate" 'sent [0-9.]* [KMG]*i*B of 8.0 MiB ([0-9]*%), [0-9.]* [KMG]*i*B/s' "$tmp/tty"
check_grep "progress line cleared at the end" $'\r\033\[K' "$tmp/tty"
TAAP_PROGRESS_DELAY_MS=0 $TAAP call $RC -X PUT --data-binary @"$tmp/big.bin" /sink >"$tmp/out" 2>"$tmp/err"
check_rc "upload without a terminal" $? 0
check_eq "no progress line without a terminal" "$(grep -c 'sent ' "$tmp/err")" 0
script -q -c "TAAP_PROGRESS_DELAY_MS=0 $TAAP call $RC -s -X PUT --data-binary @$tmp/big.bin /sink >/dev/null" \
  /dev/null >"$tmp/tty" 2>&1 </dev/null
check_eq "-s: no progress line" "$(grep -c 'sent ' "$tmp/tty")" 0
kill $RPID; wait $RPID 2>/dev/null
# every hop had its own PoP, valid for its own URL
openssl pkey -in "$KEY" -pubout -out "$tmp/pub.pem" 2>/dev/null
hop_old=$(jq -r 'select(.url=="/old") | .pop' "$tmp/redir.log" | head -1)
hop_new=$(jq -r 'select(.url=="/new?x=1") | .pop' "$tmp/redir.log" | head -1)
check_eq "fresh PoP per hop" "$([ -n "$hop_old" ] && [ -n "$hop_new" ] && [ "$hop_old" != "$hop_new" ] && echo yes)" yes
AT=$($TAAP token $RC --print)
$TAAP verify "$hop_new" --key "$tmp/pub.pem" -H 'Content-Type: application/json' -H "Authorization: Bearer $AT" "$R/new?x=1" >/dev/null 2>"$tmp/err"
check_rc "hop PoP signs the new URL" $? 0
finish
