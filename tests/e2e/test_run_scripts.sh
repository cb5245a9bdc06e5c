#!/usr/bin/env bash
# `taap run` runs a collection's scripts in Postman's own sandbox (real node,
# the real postman-sandbox installed by scripts/deps.sh) against the
# emulator: the Quick Start collection with its jsrsasign PoP script
# (replaced by native signing, never downloaded, the rest of the script
# still runs), the issue's example failing on a SUSPENDED device as under
# Newman, variables both ways, pm.request changes, pm.sendRequest sent by
# taap, setNextRequest/skipRequest, console lines redacted, --ignore-scripts
# (never a silent pass), --timeout-script, and the exit-2 messages when node
# or the sandbox is missing.
set -u
. "$(dirname "$0")/client_lib.sh"
command -v node >/dev/null || { echo "SKIP: no node (scripts/deps.sh installs it)"; exit 77; }
[ -f "$TAAP_SRC/src/postman/sandbox/node_modules/postman-sandbox/package.json" ] ||
  { echo "SKIP: postman-sandbox not installed (scripts/deps.sh)"; exit 77; }

start_emu
make_app qs
# the Quick Start environment filled with this app's credentials
jq --arg b "$BASE" --arg c "$CLIENT_ID" --arg s "$SECRET" --arg k "$(cat "$KEY")" --arg i "$ICCID" \
  '(.values[] | select(.key=="baseUrl")).value=$b | (.values[] | select(.key=="client_id")).value=$c
   | (.values[] | select(.key=="client_secret")).value=$s | (.values[] | select(.key=="privateKey")).value=$k
   | (.values[] | select(.key=="ICCID")).value=$i' \
  "$TAAP_SRC/examples/quickstart.postman_environment.json" >"$tmp/env.json"
QS="$TAAP_SRC/examples/quickstart.postman_collection.json"

# ---- 1. the Quick Start: its PoP script is native, the rest of it runs -------
$TAAP run "$QS" -e "$tmp/env.json" --export-environment "$tmp/env-out.json" >"$tmp/out" 2>"$tmp/err"
check_rc "quick start passes" $? 0
check_eq "native PoP said once per item" "$(grep -c 'signed natively' "$tmp/err")" 2
check_eq "every assertion passed" "$(grep -c "✓  " "$tmp/out")" 3
check_nogrep "no failure" "(not run)" "$tmp/out"
# base64Credentials is computed by the non-PoP part of the same script (btoa)
check_eq "the script's other part ran" "$(jq -r '.values[] | select(.key=="base64Credentials") | .value' "$tmp/env-out.json")" \
  "$(printf '%s:%s' "$CLIENT_ID" "$SECRET" | base64 -w0)"
check_eq "jsrsasign never downloaded" "$(jq -r '.values[] | select(.key=="popToken") | .value' "$tmp/env-out.json")" taap-native-pop
check_nogrep "private key never printed" "PRIVATE KEY" "$tmp/out"

# ---- 2. the issue's example: a SUSPENDED device fails, as under Newman -------
$TAAP call $(conn) PATCH "/iot-connectivity/v1/devices/$ICCID" -d '{"status":"SUSPENDED"}' >/dev/null 2>"$tmp/err"
check_rc "device suspended" $? 0
jq '(.item[1].item[0].event[0].script.exec) = [
      "pm.test(\"Status code is 200\", function () { pm.response.to.have.status(200); });",
      "pm.test(\"Device is active\", function () { pm.expect(pm.response.json().status).to.eql(\"ACTIVE\"); });"]' \
  "$QS" >"$tmp/suspended.json"
$TAAP run "$tmp/suspended.json" -e "$tmp/env.json" -r cli,json --reporter-json-export "$tmp/r.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
check_eq "a SUSPENDED device fails the run" "$rc" 1
check_grep "the failed assertion is shown" "Device is active" "$tmp/out"
check_grep "with chai's message" "expected 'SUSPENDED' to deeply equal 'ACTIVE'" "$tmp/out"
check_nogrep "never a pass for it" "✓  Device is active" "$tmp/out"
check_grep "the status assertion passes" "✓  Status code is 200" "$tmp/out"

# ---- 3. what scripts can do ----------------------------------------------------
cat >"$tmp/features.json" <<EOF
{"info": {"name": "features", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
 "event": [{"listen": "prerequest", "script": {"exec": ["pm.variables.set('order', (pm.variables.get('order') || '') + 'C');"]}}],
 "item": [
  {"name": "F", "event": [{"listen": "prerequest", "script": {"exec": ["pm.variables.set('order', pm.variables.get('order') + 'F');"]}}],
   "item": [
    {"name": "health", "event": [
      {"listen": "prerequest", "script": {"exec": [
        "pm.variables.set('order', pm.variables.get('order') + 'I');",
        "pm.request.headers.upsert({key: 'X-From-Script', value: '{{iccid}}'});",
        "pm.request.url = pm.request.url.toString() + '?from=script';",
        "console.log('secret is', pm.environment.get('client_secret'));",
        "console.log('key is', pm.environment.get('privateKey'));",
        "pm.environment.set('privateKey', pm.environment.get('privateKey'));"]}},
      {"listen": "test", "script": {"exec": [
        "pm.test('order collection → folder → item', () => pm.expect(pm.variables.get('order')).to.equal('CFI'));",
        "pm.test('header and query applied', () => { pm.expect(pm.request.headers.get('X-From-Script')).to.equal(pm.iterationData.get('iccid')); pm.expect(pm.request.url.toString()).to.include('from=script'); });",
        "pm.test('data kept as a string', () => pm.expect(pm.iterationData.get('iccid')).to.equal('89012600000000000001'));",
        "tests['legacy tests[] and responseCode'] = responseCode.code === 200;",
        "const moment = require('moment'); pm.test('require() of the sandbox libraries', () => pm.expect(moment.utc(0).year()).to.equal(1970));",
        "pm.sendRequest('$BASE/healthz', (err, res) => {",
        "  pm.test('pm.sendRequest sent by taap', () => pm.expect(res.code).to.equal(200));",
        "  pm.environment.set('fromSend', String(res.code));",
        "});",
        "postman.setEnvironmentVariable('legacySet', 'yes');",
        "pm.collectionVariables.set('cv', 'C1'); pm.globals.set('gv', 'G1');",
        "pm.execution.setNextRequest('skipped');"]}}],
     "request": {"method": "GET", "url": "$BASE/healthz"}},
    {"name": "jumped over", "request": {"method": "GET", "url": "$BASE/healthz?never"}},
    {"name": "skipped", "event": [{"listen": "prerequest", "script": {"exec": ["pm.execution.skipRequest();"]}},
      {"listen": "test", "script": {"exec": ["pm.test('never runs', () => {});"]}}],
     "request": {"method": "GET", "url": "$BASE/healthz?skipped"}},
    {"name": "last", "event": [{"listen": "test", "script": {"exec": [
        "pm.test('variables flowed', () => { pm.expect(pm.environment.get('fromSend')).to.equal('200'); pm.expect(pm.collectionVariables.get('cv')).to.equal('C1'); pm.expect(pm.globals.get('gv')).to.equal('G1'); });"]}}],
     "request": {"method": "GET", "url": "$BASE/healthz?last"}}
   ]}
 ]}
EOF
printf 'iccid\n89012600000000000001\n' >"$tmp/data.csv"
jq -n --arg k "$(cat "$KEY")" '{values: [{key: "client_secret", value: "s3cr3t-value-never-shown", type: "secret", enabled: true},
  {key: "privateKey", value: $k, type: "secret", enabled: true}]}' >"$tmp/fenv.json"
$TAAP run "$tmp/features.json" -e "$tmp/fenv.json" -d "$tmp/data.csv" --export-environment "$tmp/fenv-out.json" \
  -r cli,json --reporter-json-export "$tmp/f.json" >"$tmp/out" 2>"$tmp/err"
check_rc "features collection passes" $? 0
for t in 'order collection → folder → item' 'header and query applied' 'data kept as a string' \
         'legacy tests[] and responseCode' 'require() of the sandbox libraries' 'pm.sendRequest sent by taap' \
         'variables flowed'; do
  check_eq "assertion passed: $t" "$(grep -cF "✓  $t" "$tmp/out")" 1
done
check_grep "setNextRequest: the next request ran" "↳ last" "$tmp/out"
check_eq "jumped-over request not sent" "$(grep -c 'healthz?never' "$tmp/serve.log")" 0
check_eq "skipRequest: not sent" "$(grep -c 'healthz?skipped' "$tmp/serve.log")" 0
check_grep "skipRequest: reported" "skipRequest" "$tmp/out"
check_eq "legacy setter exported" "$(jq -r '.values[] | select(.key=="legacySet") | .value' "$tmp/fenv-out.json")" yes
check_grep "console line shown" "secret is" "$tmp/out"
check_nogrep "console line redacted" "s3cr3t-value-never-shown" "$tmp/out"
check_grep "a script never sees the private key" "key is <private key: kept by taap" "$tmp/out"
check_nogrep "the key is not printed" "BEGIN PRIVATE KEY" "$tmp/out"
check_eq "copying the stand-in back keeps the key" \
  "$(jq -r '.values[] | select(.key=="privateKey") | .value' "$tmp/fenv-out.json" | head -1)" "-----BEGIN PRIVATE KEY-----"
check_nogrep "report redacted" "s3cr3t-value-never-shown" "$tmp/f.json"

# ---- 4. --ignore-scripts: listed, counted as not run, never passed -------------
$TAAP run "$tmp/suspended.json" -e "$tmp/env.json" --ignore-scripts -r cli,json --reporter-json-export "$tmp/i.json" \
  >"$tmp/out" 2>"$tmp/err"
check_eq "--ignore-scripts never exits 0 with assertions not run" $? 1
check_grep "every ignored script listed" 'test script of "Connectivity / GET Connectivity" ignored' "$tmp/err"
check_grep "pre-request script listed" 'pre-request script of "collection" ignored' "$tmp/err"
check_grep "not run in the output" "Device is active (not run)" "$tmp/out"
check_nogrep "no assertion shown as passed" "✓  Status code is 200" "$tmp/out"

# ---- 5. --timeout-script: an endless script fails, the run goes on -------------
jq '(.item[0].event) = [{"listen":"prerequest","script":{"exec":["while (true) {}"]}}] | .item |= .[0:1]' \
  "$tmp/features.json" >"$tmp/loop.json"
$TAAP run "$tmp/loop.json" --timeout-script 300 -d "$tmp/data.csv" >"$tmp/out" 2>"$tmp/err"
check_eq "a script past --timeout-script fails the request" $? 1

# ---- 6. scripts that cannot run: exit 2 naming the piece and the command ------
mkdir -p "$tmp/nosandbox" && cp "$TAAP_SRC/src/postman/sandbox/host.js" "$tmp/nosandbox/"
TAAP_SANDBOX_DIR="$tmp/nosandbox" $TAAP run "$QS" -e "$tmp/env.json" >"$tmp/out" 2>"$tmp/err"
check_rc "no sandbox: exit 2" $? 2
check_grep "names the sandbox" "postman-sandbox" "$tmp/err"
check_grep "and the command" "npm ci --prefix $tmp/nosandbox" "$tmp/err"
TAAP_NODE="$tmp/no-such-node" $TAAP run "$QS" -e "$tmp/env.json" >"$tmp/out" 2>"$tmp/err"
check_rc "no node: exit 2" $? 2
check_grep "names node" "no-such-node" "$tmp/err"
mkdir -p "$tmp/emptybin"
PATH="$tmp/emptybin" "$TAAP" run "$QS" -e "$tmp/env.json" >"$tmp/out" 2>"$tmp/err"
check_rc "node not on PATH: exit 2" $? 2
check_grep "node missing: the install command" "apt-get install nodejs" "$tmp/err"
TAAP_SANDBOX_DIR="$tmp/nosandbox" $TAAP run "$QS" -e "$tmp/env.json" --ignore-scripts >"$tmp/out" 2>"$tmp/err"
check_rc "--ignore-scripts runs without the sandbox" $? 1

finish
