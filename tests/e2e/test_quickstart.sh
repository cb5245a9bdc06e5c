#!/usr/bin/env bash
# `taap quickstart`: the Quick Start end to end against its own emulator
# (each step printed as the guide names it, ending with the device JSON,
# child and temp files cleaned up), and the real-endpoint mode (token and
# call steps only) pointed at an emulator with the user's own credentials.
set -u
. "$(dirname "$0")/client_lib.sh"
export TMPDIR="$tmp/qs-tmp"
mkdir -p "$TMPDIR"

$TAAP quickstart >"$tmp/out" 2>"$tmp/err"
check_rc "quickstart" $? 0
for s in 'Step A ' 'Step B .*ICCID' 'Step C .*client id' 'Step C .*key pair' 'Step C 10-13' \
         'Step F 1-5 .*access token' 'Step F 6-8 .*-> 200'; do
  check_grep "quickstart prints $s" "^$s" "$tmp/out"
done
sed -n '/^{/,$p' "$tmp/out" >"$tmp/device.json"
ICCID_SHOWN=$(grep -o 'ICCID [0-9]*' "$tmp/out" | head -1 | cut -d' ' -f2)
check_eq "device JSON is the kit's" "$(jq -r .iccid "$tmp/device.json")" "$ICCID_SHOWN"
check_eq "device JSON status" "$(jq -r .status "$tmp/device.json")" ACTIVE
check_eq "temp files removed" "$(ls -A "$TMPDIR" | wc -l)" 0
# Only this test's emulators: other runs on the machine may have their own.
check_eq "no emulator left running" "$(pgrep -f "$TMPDIR/taap-quickstart-" | wc -l)" 0
check_eq "no secret printed" "$(grep -ci 'clientSecret\|secret:' "$tmp/out")" 0

$TAAP quickstart --quiet >"$tmp/out" 2>"$tmp/err"
check_rc "quickstart --quiet" $? 0
check_eq "--quiet prints only JSON" "$(head -c1 "$tmp/out")" "{"

# --json: exactly one JSON object on stdout, the steps as text on stderr
$TAAP quickstart --json >"$tmp/out" 2>"$tmp/err"
check_rc "quickstart --json" $? 0
check_eq "--json: stdout is one JSON object" "$(jq -s 'length' "$tmp/out" 2>/dev/null)" 1
check_eq "--json ok" "$(jq -r .ok "$tmp/out")" true
check_eq "--json exit" "$(jq -r .exit "$tmp/out")" 0
check_eq "--json status" "$(jq -r .status "$tmp/out")" 200
check_eq "--json device is the kit" "$(jq -r .device.iccid "$tmp/out")" "$(jq -r .iccid "$tmp/out")"
check_eq "--json steps" "$(jq -r '[.steps[].step] | join(",")' "$tmp/out")" \
  "Step A,Step B,Step C,Step C,Step C 10-13,Step F 1-5,Step F 6-8"
check_eq "--json token type" "$(jq -r .token.token_type "$tmp/out")" Bearer
check_eq "--json has no secret or token" "$(grep -ci 'secret"\|access_token' "$tmp/out")" 0
check_grep "--json steps on stderr" '^Step F 6-8 ' "$tmp/err"

# real-endpoint mode: only Steps F 1-5 and F 6-8, with our own credentials
start_emu
make_app mine
$TAAP quickstart $(conn) --iccid "$ICCID" >"$tmp/out" 2>"$tmp/err"
check_rc "quickstart --base-url" $? 0
check_grep "real mode token step" '^Step F 1-5' "$tmp/out"
check_nogrep "real mode skips Step C" 'Step C' "$tmp/out"
check_eq "real mode device" "$(sed -n '/^{/,$p' "$tmp/out" | jq -r .iccid)" "$ICCID"
$TAAP quickstart $(conn) >"$tmp/out" 2>"$tmp/err"
check_rc "real mode needs an ICCID" $? 54
$TAAP quickstart $(conn) --iccid "$ICCID" --json >"$tmp/out" 2>"$tmp/err"
check_rc "real mode --json" $? 0
check_eq "real mode --json: one object" "$(jq -s 'length' "$tmp/out" 2>/dev/null)" 1
check_eq "real mode --json device" "$(jq -r .device.iccid "$tmp/out")" "$ICCID"
check_eq "real mode --json base_url" "$(jq -r .base_url "$tmp/out")" "$BASE"
$TAAP quickstart $(conn) --iccid 89012600000000000000 --json >"$tmp/out" 2>"$tmp/err"
check_rc "real mode --json, HTTP 400" $? 22
check_eq "--json on failure: ok false" "$(jq -r .ok "$tmp/out")" false
check_eq "--json on failure: exit" "$(jq -r .exit "$tmp/out")" 22

finish
