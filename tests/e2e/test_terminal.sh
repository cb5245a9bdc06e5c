#!/usr/bin/env bash
# What taap sends a terminal, tested under a pseudo-terminal (script(1)):
# colour off for TERM=dumb, NO_COLOR or a pipe; ASCII with LC_ALL=C or
# --disable-unicode; the taap run status line; -q (summary and failure
# list only); profile checks and
# `profile list --json`.
set -u
tmp=$(mktemp -d)
. "$(dirname "$0")/client_lib.sh"
command -v script >/dev/null || { echo "SKIP: no script command"; exit 77; }
start_emu
# A collection with one request the emulator refuses (no token): one failure.
jq -n --arg u "$BASE/iot-connectivity/v1/devices/89012600000000000008" \
  '{info: {name: "t", schema: "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
    item: [{name: "dev", request: {method: "GET", url: $u}}]}' >"$tmp/c.json"
tty_run() { # ENV… -- ARGS…: taap run under a pseudo-terminal, output in $tmp/tty
  script -q -c "env -u NO_COLOR -u LC_ALL -u LC_CTYPE -u LANG $* " /dev/null >"$tmp/tty" 2>&1 </dev/null
}
tty_run TERM=xterm LANG=C.UTF-8 "$TAAP" run "$tmp/c.json"
check_grep "terminal: colour" $'\033\\[31m' "$tmp/tty"
check_grep "terminal: UTF-8 mark" '↳ dev' "$tmp/tty"
check_grep "terminal: box drawing" '┌' "$tmp/tty"
check_grep "terminal: status line" 'iteration 1/1  requests 1/1  failures 1 .* req/s  ETA -' "$tmp/tty"
# with requests still to come the first status line has an ETA (the first
# event always shows; later ones at most every 100 ms)
tty_run TERM=xterm LANG=C.UTF-8 "$TAAP" run -n 3 "$tmp/c.json"
check_grep "terminal: ETA while running" 'iteration 1/3  requests 1/3  failures 1 .* req/s  ETA [0-9]*m[0-5][0-9]s' "$tmp/tty"
tty_run TERM=dumb LANG=C.UTF-8 "$TAAP" run "$tmp/c.json"
check_nogrep "TERM=dumb: no colour" $'\033\\[3[12]m' "$tmp/tty"
tty_run TERM=xterm NO_COLOR=1 LANG=C.UTF-8 "$TAAP" run "$tmp/c.json"
check_nogrep "NO_COLOR: no colour" $'\033\\[3[12]m' "$tmp/tty"
env -u NO_COLOR LANG=C.UTF-8 TERM=xterm "$TAAP" run "$tmp/c.json" >"$tmp/pipe" 2>&1
check_nogrep "a pipe: no colour" $'\033\\[' "$tmp/pipe"
tty_run TERM=xterm LC_ALL=C "$TAAP" run "$tmp/c.json"
check_grep "LC_ALL=C: ASCII table" '^+-----' "$tmp/tty"
check_nogrep "LC_ALL=C: no UTF-8 at all" '┌\|│\|✗\|↳' "$tmp/tty"
tty_run TERM=xterm LANG=C.UTF-8 "$TAAP" run --disable-unicode "$tmp/c.json"
check_nogrep "--disable-unicode" '┌\|│\|✗\|↳' "$tmp/tty"
env -u LC_ALL -u LC_CTYPE LANG=C.UTF-8 "$TAAP" run -q "$tmp/c.json" >"$tmp/q" 2>&1
check_grep "-q still lists the failure" 'failure' "$tmp/q"
check_nogrep "-q: no per-request lines" '↳ dev' "$tmp/q"
check_grep "-q shows the summary" 'requests' "$tmp/q"

# profile add checks what it stores; list --json for scripts
"$TAAP" keygen --out "$tmp" >/dev/null 2>&1
"$TAAP" profile add bad --base-url htp://x >/dev/null 2>"$tmp/err"; check_rc "bad URL scheme" $? 2
check_grep "bad URL named" "http:// or https://" "$tmp/err"
"$TAAP" profile add bad --base-url https:// >/dev/null 2>"$tmp/err"; check_rc "URL without host" $? 2
"$TAAP" profile add bad --key "$tmp/public-key.pem" >/dev/null 2>"$tmp/err"; check_rc "public key as --key" $? 2
check_grep "public key named" "is a public key" "$tmp/err"
"$TAAP" profile add bad --key "$tmp/nope.pem" >/dev/null 2>"$tmp/err"; check_rc "missing key" $? 2
check_eq "nothing saved" "$("$TAAP" profile list)" ""
"$TAAP" profile add good --base-url "$BASE" --client-id abc --key "$tmp/private-key.pem" >/dev/null
check_eq "profile list --json" "$("$TAAP" profile list --json | jq -c '.[0]')" "{\"name\":\"good\",\"base_url\":\"$BASE\",\"client_id\":\"abc\"}"
"$TAAP" profile show nope >/dev/null 2>&1; check_rc "no such profile is 54" $? 54
finish
