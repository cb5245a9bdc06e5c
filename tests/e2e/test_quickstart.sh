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

finish
