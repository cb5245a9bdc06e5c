#!/usr/bin/env bash
# `taap run` against Newman itself (pinned in tests/newman/package-lock.json,
# installed by scripts/deps.sh): both run every collection in
# ../shared/conformance/postman against one loopback recorder
# (tests/newman/recorder.js; Newman's connections are sent there by
# tests/newman/redirect.js as taap's by --connect-to), and
# tests/newman/compare.js pairs the requests and compares them byte for
# byte. The only normalisations, each because the two must differ there,
# are listed and justified in compare.js: Newman's client headers
# (User-Agent, Postman-Token, Cache-Control, Accept-Encoding, Connection),
# Host compared by value not position, multipart boundaries.
#
# Each fixture's count of identical requests is pinned below with the
# reason for every known difference (issue 12 item 7), so a change that
# breaks one fails, and a fix must update the count here.
# Also: CSV values stay strings — taap sends a 20-digit ICCID exactly,
# Newman turns it into a float and corrupts it (newman#1215).
set -u
. "$(dirname "$0")/check_lib.sh"
TAAP=${TAAP_BIN:?TAAP_BIN must be set}
SRC=${TAAP_SRC:?TAAP_SRC must be set}
SHARED=${TAAP_SHARED:?TAAP_SHARED must be set}
ND="$SRC/tests/newman"
NEWMAN="$ND/node_modules/newman/bin/newman.js"
command -v node >/dev/null || { echo "SKIP: no node (scripts/deps.sh installs it)"; exit 77; }
[ -f "$NEWMAN" ] || { echo "SKIP: Newman not installed: run scripts/deps.sh (npm ci in tests/newman)"; exit 77; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

REC_PID=
stop_rec() { if [ -n "$REC_PID" ]; then kill "$REC_PID" 2>/dev/null; wait "$REC_PID" 2>/dev/null; fi; REC_PID=; }
trap 'stop_rec; rm -rf "$tmp"' EXIT

# start_rec FILE: a recorder appending to FILE; sets PORT (waits for its
# port file, bounded).
start_rec() {
  rm -f "$tmp/port"
  node "$ND/recorder.js" "$1" "$tmp/port" &
  REC_PID=$!
  for _ in $(seq 1 400); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  PORT=$(cat "$tmp/port")
}

# both NAME COLLECTION [extra args…]: run taap and Newman, compare.
both() {
  local name=$1 coll=$2
  shift 2
  start_rec "$tmp/$name.taap"
  "$TAAP" run "$coll" --connect-to "::127.0.0.1:$PORT" --silent "$@" >/dev/null 2>"$tmp/$name.taap.err"
  stop_rec
  start_rec "$tmp/$name.newman"
  TAAP_RECORDER_PORT=$PORT node -r "$ND/redirect.js" "$NEWMAN" run "$coll" --reporters cli \
    --color off "$@" >"$tmp/$name.newman.out" 2>&1
  stop_rec
  node "$ND/compare.js" "$tmp/$name.taap" "$tmp/$name.newman" >"$tmp/$name.cmp"
}

# Identical requests / requests Newman sent, per fixture, and why not all.
declare -A WANT=(
  [schemas--apikeyAuthTest]="1/1"
  [schemas--nestedEntities]="1/2"       # oauth1 request: taap refuses OAuth 1.0
  [schemas--proper-url-parsing]="0/1"   # userinfo with {{vars}}: taap sends nothing
  [schemas--req-body-file-src-null]="1/1"
  [schemas--reqBodyContentType]="2/3"   # missing form-data file: taap stops, Newman warns and sends
  [schemas--reqBodyGraphQL]="0/1"       # Newman adds operationName and puts Content-Type first
  [schemas--request]="0/1"              # http on :443: Newman writes an absolute-form target
  [transformer--echo]="17/23"           # digest and oauth1 refused; form-data and v1 keys differ
  [transformer--httpbin]="1/1"          # Newman errors on the protocol-relative URLs taap sends
  [transformer--multi-level.v21]="0/0"  # empty URLs: neither sends
  [transformer--rawjsonbody]="0/1"      # taap honours the v1 `headers` key Newman ignores
  [transformer--urlencoded-post-data]="1/1"
)

total_same=0 total=0
for f in "$SHARED"/conformance/postman/*.postman_collection.json; do
  name=$(basename "$f" .postman_collection.json)
  # the recorder speaks plain HTTP
  sed -e 's#https://#http://#g' -e 's#"https"#"http"#g' "$f" >"$tmp/$name.json"
  both "$name" "$tmp/$name.json"
  got=$(node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
                 console.log(c.identical + "/" + c.newman)' "$tmp/$name.cmp")
  want=${WANT[$name]:-missing}
  if [ "$got" != "$want" ]; then
    echo "--- $name: identical/sent $got, want $want; differences:"
    node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
             for (const d of c.diffs) console.log(" taap  ", JSON.stringify(d.taap),
                                                  "\n newman", JSON.stringify(d.newman));' \
      "$tmp/$name.cmp" | head -40
  fi
  check_eq "$name identical requests" "$got" "$want"
  total_same=$((total_same + ${got%/*}))
  total=$((total + ${got#*/}))
done
echo "identical to Newman: $total_same of $total requests"

# CSV values stay strings: a 20-digit ICCID arrives exactly from taap;
# Newman casts it to a number and sends another one.
cat >"$tmp/iccid.json" <<'JSON'
{"info":{"name":"ICCID","schema":"https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
 "item":[{"name":"device","request":{"method":"GET","url":"http://api.test/devices/{{iccid}}"}}]}
JSON
printf 'iccid\n89012600000000000017\n' >"$tmp/iccid.csv"
both iccid "$tmp/iccid.json" -d "$tmp/iccid.csv"
taap_target=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).target)' "$tmp/iccid.taap")
newman_target=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).target)' "$tmp/iccid.newman")
check_eq "taap sends the ICCID exactly" "$taap_target" "/devices/89012600000000000017"
if [ "$newman_target" != "/devices/89012600000000000017" ] && [ -n "$newman_target" ]; then ok; else
  bad "Newman was expected to corrupt the 20-digit ICCID (newman#1215), sent '$newman_target'"; fi

[ "$fail" -eq 0 ] || exit 1
echo "ok: $n checks"
