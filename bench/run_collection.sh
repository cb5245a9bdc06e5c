#!/bin/sh
# bench/run_collection.sh BUILD_DIR — `taap run` over the example Postman
# collection against the emulator, as a ratio to the RS256 sign rate measured
# in the same run (issue 5, deliverable 7); and the scripted row: the
# collection with three pm.test per item, `taap run` vs Newman with a
# jsrsasign pre-request script when Newman can be installed from npm, and
# the same collection without scripts (issue 12 item 10). Reports only: the exit status is non-zero only when the
# script is used wrongly.
#
# What runs:
#   - `taap serve` on a free loopback port with a fresh database; an
#     application with the key's public half and the Connectivity
#     subscription; BENCH_DEVICES developer kits activated over the
#     management API (one curl process; `taap admin kit activate` per kit
#     when curl is missing, much slower);
#   - a CSV of BENCH_ROWS rows (column ICCID, values quoted so that Newman
#     keeps the 20-digit ICCIDs as strings); with fewer devices than rows
#     the devices repeat in order;
#   - one untimed `taap run` of "1-PoP_Token_Creation" exports the
#     environment with the access token, so the timed runs only make the
#     GETs: `taap run COLLECTION -e ENV --key KEY --folder Connectivity
#     -d DATA -q -j N` (a fresh PoP signed per request, checked 200 by the
#     emulator's PoP and token validation), COLLECTION the example without
#     its scripts (the native path; bench/collection/scripted.js);
#   - the single-core sign rate: `bench_pop loop bare-build 0 BENCH_SIGN_OPS`
#     (bare OpenSSL RS256 sign of a 0 B PoP signing input, BENCH_CLOCK=wall),
#     else `openssl speed -elapsed -seconds 1 rsa2048` sign/s;
#   - BENCH_RUN_ROUNDS rounds of sign rate, -j 1 and -j 2, the order reversed
#     every other round; the ratio calls/s ÷ sign/s is taken within each
#     round, the table shows its median and min–max. Target (issue 5):
#     -j 1 ≥ 0.7. Wall time of the whole `taap run` process (start-up, key
#     and collection parsing included); CPU per call of the client (`times`)
#     and of the server (/proc/PID/stat) show where the time goes.
#   - the scripted row (issue 12 item 10): `node bench/collection/scripted.js`
#     writes the example collection with a test script of exactly three
#     pm.test per request item (its PoP pre-request script kept) and a copy
#     with no scripts at all. Newman (BENCH_NEWMAN=auto): `npm ci` of
#     bench/collection (newman and jsrsasign pinned by package-lock.json),
#     `node bench/collection/prepare.js` makes a copy of the scripted
#     collection whose collection-level pre-request script signs like
#     T-Mobile's JavaScript builder (bench/collection/pop_prerequest.js) and
#     a globals file holding jsrsasign; Newman runs the first
#     BENCH_NEWMAN_ROWS rows, and `taap run -j 1` of the scripted collection
#     runs the same rows right before and after it: speed = taap calls/s ÷
#     Newman calls/s, target ≥ 20. Each run must report 3 assertions per row
#     executed and none failed, or the row is skipped. Then the scriptless
#     copy, -j 1 over all rows, BENCH_RUN_ROUNDS runs (alternated with the
#     BENCH_TAAP_BASE binary when given: "no slower than before").
#     Any failure there prints a SKIP line.
#
# Environment:
#   BENCH_ROWS          data rows (default 2000)
#   BENCH_DEVICES       distinct devices (default BENCH_ROWS)
#   BENCH_RUN_ROUNDS    rounds of (sign rate, -j 1, -j 2) (default 3)
#   BENCH_SIGN_OPS      signs per sign-rate measurement (default 2000)
#   BENCH_NEWMAN        auto (default) or 0 (skip Newman)
#   BENCH_NEWMAN_ROWS   rows Newman (and taap beside it) runs in the scripted row
#                       (default BENCH_ROWS; Newman makes a few calls per second,
#                       so 2000 rows take ~10 minutes)
#   BENCH_TAAP_BASE     another taap binary (e.g. main's) for the scriptless runs
#   BENCH_KEY           RSA-2048 private key PEM (default tests/data/keys/rsa2048.pkcs8.pem)
#   BENCH_COLLECTION_OUT  also write the output to this file
#                       (default BUILD_DIR/bench-collection-results.txt)
# shellcheck disable=SC2046  # `set -- $(...)` splits lists of numbers on purpose
set -u
umask 077

usage() {
  echo "usage: sh bench/run_collection.sh BUILD_DIR   (see the comments at the top for the environment)" >&2
  exit 2
}
[ $# -eq 1 ] || usage
case "$1" in -h|--help) usage ;; esac

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "run_collection.sh: no build directory '$1'" >&2; exit 2; }
TAAP="$BUILD/taap"
BENCH_POP="$BUILD/bench/bench_pop"
NPM_DIR="$SRC/bench/collection"
COLL="$SRC/examples/quickstart.postman_collection.json"
ENV_TEMPLATE="$SRC/examples/quickstart.postman_environment.json"
OUT=${BENCH_COLLECTION_OUT:-$BUILD/bench-collection-results.txt}

num() { # num NAME VALUE MIN: VALUE if it is an integer >= MIN, else exit 2
  case "$2" in ''|*[!0-9]*) echo "run_collection.sh: $1 must be a number, got '$2'" >&2; exit 2 ;; esac
  [ "$2" -ge "$3" ] || { echo "run_collection.sh: $1 must be >= $3, got '$2'" >&2; exit 2; }
  printf '%s' "$2"
}
ROWS=$(num BENCH_ROWS "${BENCH_ROWS:-2000}" 1) || exit 2
DEVICES=$(num BENCH_DEVICES "${BENCH_DEVICES:-$ROWS}" 1) || exit 2
ROUNDS=$(num BENCH_RUN_ROUNDS "${BENCH_RUN_ROUNDS:-3}" 1) || exit 2
SIGN_OPS=$(num BENCH_SIGN_OPS "${BENCH_SIGN_OPS:-2000}" 1) || exit 2
NEWMAN_ROWS=$(num BENCH_NEWMAN_ROWS "${BENCH_NEWMAN_ROWS:-$ROWS}" 1) || exit 2
[ "$DEVICES" -le "$ROWS" ] || DEVICES=$ROWS
[ "$NEWMAN_ROWS" -le "$ROWS" ] || NEWMAN_ROWS=$ROWS
TARGET=0.70
SCRIPTED_TARGET=20     # issue 12 item 10: >= 20x Newman at -j 1
TESTS_PER_ITEM=3       # bench/collection/scripted.js

TMP=$(mktemp -d "${TMPDIR:-/tmp}/taap-bench-coll.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
# The server belongs to main(), which runs in a subshell (main | tee): its
# own traps stop it, whatever way main ends.
SPID=
stop_server() {
  if [ -n "$SPID" ]; then
    kill "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=
  fi
}

say() { printf '%s\n' "$*"; }
skip() { say "SKIP $1: $2"; }
first_line() { sed -n '/./{p;q;}' "$1" 2>/dev/null | cut -c1-200; }

now_ns() { date +%s%N; }
# CHILD_CPU = CPU seconds (user+sys) of this shell's reaped children so far.
# `times` must run in this shell, not in a $(...) subshell.
child_cpu() {
  times >"$TMP/times"
  CHILD_CPU=$(awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
    printf "%.6f", t }' "$TMP/times")
}
# CPU seconds of process PID so far (Linux /proc), or empty.
proc_cpu() {
  [ -r "/proc/$1/stat" ] || return 0
  awk -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
      '{ sub(/^.*\) /, ""); printf "%.6f", ($12 + $13) / hz }' "/proc/$1/stat"
}
calc() { awk "BEGIN { printf \"%s\", $1 }"; }
# rate with thousands separators (one decimal below 100), as bench_pop prints
fmt() {
  awk -v r="$1" 'BEGIN {
    if (r == "" || r == "-") { printf "-"; exit }
    if (r < 100) { printf "%.1f", r; exit }
    s = sprintf("%.0f", r); o = ""
    while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
    printf "%s%s", s, o }'
}
# median and min-max of the numbers on stdin: "MEDIAN MIN MAX N"
stats() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - - 0"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.9g %.9g %.9g %d\n", m, v[1], v[NR], NR }'
}
# summary_row NAME FILE: "executed failed" of row NAME (requests, assertions)
# of the summary table of `taap run` or `newman run`
summary_row() {
  awk -F'│' -v name="$1" '$2 ~ "^ *" name " *$" { gsub(/ /, "", $3); gsub(/ /, "", $4); print $3, $4; exit }' "$2"
}

# ---- setup ------------------------------------------------------------------

pick_key() {
  src=${BENCH_KEY:-$SRC/tests/data/keys/rsa2048.pkcs8.pem}
  KEY="$TMP/key.pem"
  if [ -f "$src" ]; then
    cp "$src" "$KEY" || return 1
    KEY_ORIGIN=$src
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEY" 2>/dev/null || return 1
    KEY_ORIGIN="generated for this run (openssl genpkey)"
  fi
  chmod 600 "$KEY"
  openssl pkey -in "$KEY" -pubout -out "$TMP/pub.pem" 2>/dev/null
}

start_server() {
  "$TAAP" serve --port 0 --port-file "$TMP/port" --db "$TMP/serve.db" --no-access-log \
    >"$TMP/serve.out" 2>"$TMP/serve.err" &
  SPID=$!
  # The server prints "listening on URL" once it accepts connections.
  i=0
  while ! grep -q '^listening on ' "$TMP/serve.out" 2>/dev/null; do
    if ! kill -0 "$SPID" 2>/dev/null || [ $i -ge 200 ]; then
      SERVE_ERR=$(first_line "$TMP/serve.err")
      return 1
    fi
    i=$((i + 1))
    sleep 0.05
  done
  BASE=$(sed -n 's/^listening on //p' "$TMP/serve.out" | head -1)
  export TAAP_ADMIN_URL="$BASE"
  export TAAP_ADMIN_TOKEN_FILE="$TMP/serve.db.admin-token"
}

# An application with the key, subscribed to Connectivity; sets CID, SECRET.
make_app() {
  "$TAAP" admin --json app create bench >"$TMP/app.json" 2>"$TMP/admin.err" || return 1
  CID=$(sed -n 's/.*"clientId":"\([^"]*\)".*/\1/p' "$TMP/app.json")
  SECRET=$(sed -n 's/.*"clientSecret":"\([^"]*\)".*/\1/p' "$TMP/app.json")
  [ -n "$CID" ] && [ -n "$SECRET" ] || return 1
  "$TAAP" admin key add bench "$TMP/pub.pem" >/dev/null 2>>"$TMP/admin.err" &&
    "$TAAP" admin app subscribe bench >/dev/null 2>>"$TMP/admin.err"
}

# DEVICES kits; writes their ICCIDs to $TMP/iccids, one a line.
activate_kits() {
  t0=$(now_ns)
  if command -v curl >/dev/null 2>&1; then
    KITS_HOW="one curl process, POST /devedge/v1/kits x $DEVICES"
    printf 'Authorization: Bearer %s\nContent-Type: application/json\n' \
      "$(cat "$TAAP_ADMIN_TOKEN_FILE")" >"$TMP/admin.hdr"
    i=0
    while [ $i -lt "$DEVICES" ]; do
      printf 'url = "%s/devedge/v1/kits"\n' "$BASE"
      i=$((i + 1))
    done >"$TMP/kits.cfg"
    curl -sS -H "@$TMP/admin.hdr" -d '{"app":"bench"}' -K "$TMP/kits.cfg" -w '\n' \
      >"$TMP/kits.json" 2>"$TMP/admin.err" || return 1
  else
    KITS_HOW="taap admin kit activate x $DEVICES (no curl)"
    i=0
    while [ $i -lt "$DEVICES" ]; do
      "$TAAP" admin --json kit activate --app bench || return 1
      i=$((i + 1))
    done >"$TMP/kits.json" 2>"$TMP/admin.err"
  fi
  KITS_S=$(calc "($(now_ns) - $t0) / 1e9")
  grep -o '"iccid":"[0-9]*"' "$TMP/kits.json" | cut -d'"' -f4 >"$TMP/iccids"
  [ "$(sort -u "$TMP/iccids" | wc -l)" -eq "$DEVICES" ]
}

# data.csv: ROWS rows over the DEVICES ICCIDs, quoted (Newman would turn an
# unquoted 20-digit ICCID into a rounded JS number).
write_data() {
  awk -v rows="$ROWS" '{ id[NR - 1] = $0 } END {
    print "ICCID"
    for (i = 0; i < rows; i++) printf "\"%s\"\n", id[i % NR] }' "$TMP/iccids" >"$TMP/data.csv"
  head -n $((NEWMAN_ROWS + 1)) "$TMP/data.csv" >"$TMP/data_newman.csv"
}

# The access token, fetched once and untimed: the environment the timed runs use.
fetch_token() {
  (cd "$TMP" && "$TAAP" run "$COLL" -e "$ENV_TEMPLATE" --env-var "baseUrl=$BASE" \
    --env-var "client_id=$CID" --env-var "client_secret=$SECRET" --key "$KEY" \
    --folder 1-PoP_Token_Creation --export-environment "$TMP/env.json" -q) \
    >"$TMP/token.out" 2>"$TMP/token.err"
}

# The native row (issue 5) times the example collection without its scripts
# (its GET has a test script since issue 12, which the scripted row times):
# bench/collection/scripted.js writes both variants. Without node, the
# example collection itself (its scripts then stop the run: a SKIP line).
make_variants() {
  VARIANTS='' VARIANTS_WHY='node not found (sh scripts/deps.sh bench)'
  NATIVE_COLL=$COLL NATIVE_WHAT="examples/quickstart.postman_collection.json (node missing: with its scripts)"
  command -v node >/dev/null 2>&1 || return 0
  if node "$NPM_DIR/scripted.js" "$COLL" "$TMP" 2>"$TMP/scripted.err"; then
    VARIANTS=1
    NATIVE_COLL="$TMP/scriptless.postman_collection.json"
    NATIVE_WHAT="examples/quickstart.postman_collection.json without its scripts (bench/collection/scripted.js)"
  else
    VARIANTS_WHY=$(first_line "$TMP/scripted.err")
  fi
}

# ---- measurements -------------------------------------------------------------

# measure_sign: SIGN_RATE (signs/s, wall) and SIGN_CPU (CPU s per sign).
measure_sign() {
  child_cpu; c0=$CHILD_CPU
  if [ -x "$BENCH_POP" ]; then
    line=$(BENCH_CLOCK=wall "$BENCH_POP" loop bare-build 0 "$SIGN_OPS" --key "$KEY" 2>&1)
    SIGN_RATE=$(printf '%s\n' "$line" | sed -n 's/.* ops in \([0-9.]*\) s = .*/\1/p')
    [ -n "$SIGN_RATE" ] && SIGN_RATE=$(calc "$SIGN_OPS / $SIGN_RATE")
    n=$SIGN_OPS
  else
    line=$(openssl speed -elapsed -seconds 1 rsa2048 2>/dev/null | awk '$1 == "rsa" && $2 == "2048" { print $6 }')
    SIGN_RATE=$line
    n=$(calc "${line:-0} * 1")
  fi
  child_cpu; c1=$CHILD_CPU
  if [ -z "$SIGN_RATE" ]; then SIGN_CPU=; return 1; fi
  SIGN_CPU=$(calc "($c1 - $c0) / $n")
}

# time_run JOBS DATA ROWS [COLLECTION [TAAP_BINARY [ASSERTIONS]]]: one timed
# `taap run` (COLLECTION default NATIVE_COLL, TAAP_BINARY default
# BUILD_DIR/taap); sets RUN_RATE (calls/s), RUN_CPU, RUN_SCPU (client and
# server CPU s per call), RUN_ERR. With ASSERTIONS, the run must also report
# that many assertions executed and none failed (the scripts really ran).
time_run() {
  RUN_RATE='' RUN_CPU='' RUN_SCPU='' RUN_ERR=''
  coll=${4:-$NATIVE_COLL} bin=${5:-$TAAP} want_a=${6:-}
  s0=$(proc_cpu "$SPID"); child_cpu; c0=$CHILD_CPU; t0=$(now_ns)
  (cd "$TMP" && "$bin" run "$coll" -e "$TMP/env.json" --key "$KEY" --folder Connectivity \
    -d "$2" -q -j "$1") >"$TMP/run.out" 2>"$TMP/run.err"
  rc=$?
  t1=$(now_ns); child_cpu; c1=$CHILD_CPU; s1=$(proc_cpu "$SPID")
  set -- "$1" "$2" "$3" $(summary_row requests "$TMP/run.out") $(summary_row assertions "$TMP/run.out")
  if [ $rc -ne 0 ] || [ "${4:-}" != "$3" ] || [ "${5:-}" != 0 ]; then
    RUN_ERR="taap run exit $rc, requests ${4:-?} failed ${5:-?}: $(grep -v '^taap run: note:' "$TMP/run.err" | first_line /dev/stdin)"
    return 1
  fi
  if [ -n "$want_a" ] && { [ "${6:-}" != "$want_a" ] || [ "${7:-}" != 0 ]; }; then
    RUN_ERR="taap run: assertions ${6:-?} failed ${7:-?}, expected $want_a passed"
    return 1
  fi
  RUN_RATE=$(calc "$3 / (($t1 - $t0) / 1e9)")
  RUN_CPU=$(calc "($c1 - $c0) / $3")
  [ -n "$s0" ] && [ -n "$s1" ] && RUN_SCPU=$(calc "($s1 - $s0) / $3")
  return 0
}

hr() { say "------------------------------------------------------------------------------------------------------"; }
us() { [ -n "$1" ] && calc "$1 * 1e6" | awk '{ printf "%.0f", $1 }' || printf -- '-'; }
row() { # runner jobs rows rate cpu scpu ratio target result
  printf '%-34s %4s %6s %10s %9s %9s  %-22s %-8s %s\n' "$@"
}

bench_taap() {
  say "== taap run: the example collection's GET over $ROWS data rows, against the emulator =="
  say "collection: $NATIVE_WHAT, folder Connectivity"
  say "            (GET {{baseUrl}}/iot-connectivity/v1/devices/{{ICCID}}, a fresh PoP per request)"
  say "emulator: taap serve --port 0 --no-access-log (default settings, fresh database)"
  say "data: $ROWS rows over $DEVICES distinct devices, activated in $(printf '%.1f' "$KITS_S") s ($KITS_HOW)"
  if [ -x "$BENCH_POP" ]; then
    say "sign rate: bench_pop loop bare-build 0 $SIGN_OPS (bare OpenSSL RS256 sign of a 0 B PoP input, wall clock)"
  else
    say "sign rate: openssl speed -elapsed -seconds 1 rsa2048, sign/s (bench_pop not built)"
  fi
  say "rounds: $ROUNDS (sign, -j 1, -j 2; reversed every other round); ratio = calls/s / sign/s per round"
  say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

  # Warm-up and check: the first rows once, untimed.
  head -n 201 "$TMP/data.csv" >"$TMP/data_warm.csv"
  if ! time_run 1 "$TMP/data_warm.csv" "$(( $(wc -l <"$TMP/data_warm.csv") - 1 ))"; then
    skip run_collection "warm-up run failed: $RUN_ERR"
    return 0
  fi

  : >"$TMP/sign" ; : >"$TMP/j1" ; : >"$TMP/j2"
  rs='' rate_j1='' rate_j2='' res_j1='' res_j2=''
  r=1
  while [ $r -le "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 1 ]; then order="sign 1 2"; else order="2 1 sign"; fi
    for step in $order; do
      if [ "$step" = sign ]; then
        measure_sign || { skip run_collection "cannot measure the sign rate"; return 0; }
        rs=$SIGN_RATE
        printf '%s %s\n' "$SIGN_RATE" "$SIGN_CPU" >>"$TMP/sign"
      else
        if ! time_run "$step" "$TMP/data.csv" "$ROWS"; then
          skip run_collection "-j $step: $RUN_ERR"
          return 0
        fi
        if [ "$step" = 1 ]; then rate_j1=$RUN_RATE; else rate_j2=$RUN_RATE; fi
        printf '%s %s %s\n' "$RUN_RATE" "$RUN_CPU" "$RUN_SCPU" >>"$TMP/j$step"
      fi
    done
    printf '%s\n' "$(calc "$rate_j1 / $rs")" >>"$TMP/j1.ratio"
    printf '%s\n' "$(calc "$rate_j2 / $rs")" >>"$TMP/j2.ratio"
    r=$((r + 1))
  done

  set -- $(cut -d' ' -f1 "$TMP/sign" | stats); sign_med=$1
  sign_cpu=$(cut -d' ' -f2 "$TMP/sign" | stats | cut -d' ' -f1)
  hr
  row runner jobs rows calls/s "CPU us" "server" "ratio to sign (min-max)" target result
  row "" "" "" "" "/call" "us/call" "" "" ""
  hr
  row "RS256 sign, bare OpenSSL (floor)" 1 - "$(fmt "$sign_med")" "$(us "$sign_cpu")" - "1" - -
  for j in 1 2; do
    set -- $(cut -d' ' -f1 "$TMP/j$j" | stats); med=$1
    cpu=$(cut -d' ' -f2 "$TMP/j$j" | stats | cut -d' ' -f1)
    scpu=$(awk 'NF >= 3' "$TMP/j$j" | cut -d' ' -f3 | stats | cut -d' ' -f1)
    [ "$scpu" = - ] && scpu=
    set -- $(stats <"$TMP/j$j.ratio")
    ratio=$(printf '%.2f (%.2f-%.2f)' "$1" "$2" "$3")
    res="calls_per_s=$med sign_per_s=$sign_med ratio=$1 min=$2 max=$3 n=$4"
    if [ "$j" = 1 ]; then
      tgt=">= $TARGET"; verdict=$(awk -v r="$1" -v t="$TARGET" 'BEGIN { print (r >= t) ? "PASS" : "BELOW" }')
      res_j1="$res target=$TARGET verdict=$verdict"
    else
      tgt="(info)"; verdict=-
      res_j2="$res target=info"
    fi
    row "taap run -j $j" "$j" "$ROWS" "$(fmt "$med")" "$(us "$cpu")" "$(us "$scpu")" "$ratio" "$tgt" "$verdict"
  done
  hr
  say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  say "RESULT bench=run_collection runner=taap jobs=1 rows=$ROWS $res_j1"
  say "RESULT bench=run_collection runner=taap jobs=2 rows=$ROWS $res_j2"
  TAAP_OK=1
}

# Newman: install the pinned packages, or say why not.
newman_install() {
  command -v node >/dev/null 2>&1 || { NEWMAN_WHY="node not found"; return 1; }
  command -v npm >/dev/null 2>&1 || { NEWMAN_WHY="npm not found"; return 1; }
  want_n=$(node -p "require('$NPM_DIR/package.json').dependencies.newman" 2>/dev/null)
  want_j=$(node -p "require('$NPM_DIR/package.json').dependencies.jsrsasign" 2>/dev/null)
  have_n=$(node -p "require('$NPM_DIR/node_modules/newman/package.json').version" 2>/dev/null)
  have_j=$(node -p "require('$NPM_DIR/node_modules/jsrsasign/package.json').version" 2>/dev/null)
  if [ -z "$have_n" ] || [ "$have_n" != "$want_n" ] || [ "$have_j" != "$want_j" ]; then
    say "installing newman $want_n and jsrsasign $want_j (npm ci --prefix bench/collection)"
    if ! npm ci --no-audit --no-fund --prefix "$NPM_DIR" >"$TMP/npm.log" 2>&1; then
      NEWMAN_WHY="npm ci failed: $(grep -i 'err' "$TMP/npm.log" | head -2 | tr '\n' ' ' | cut -c1-200)"
      return 1
    fi
    have_n=$want_n have_j=$want_j
  fi
  NEWMAN_VERSION=$("$NPM_DIR/node_modules/.bin/newman" --version 2>/dev/null) ||
    { NEWMAN_WHY="newman --version failed"; return 1; }
  JSRSASIGN_VERSION=$have_j
}

# The scripted row (issue 12 item 10): the example collection with three
# pm.test per item (bench/collection/scripted.js) run by `taap run -j 1`
# (the PoP pre-request script signed natively, the tests in Postman's
# sandbox) right before and after Newman runs the same rows with the
# jsrsasign PoP pre-request script; then the same collection without any
# script, by this build and (BENCH_TAAP_BASE) a baseline build, alternated.
bench_scripted() {
  say ""
  say "== Scripted: the example collection + a test script with $TESTS_PER_ITEM pm.test per item; taap run vs Newman =="
  [ "${TAAP_OK:-0}" = 1 ] || { skip scripted "no taap figures to compare with"; return 0; }
  command -v node >/dev/null 2>&1 || { skip scripted "node not found (sh scripts/deps.sh bench)"; return 0; }
  [ -n "$VARIANTS" ] || { skip scripted "scripted.js: $VARIANTS_WHY"; return 0; }
  scoll="$TMP/scripted.postman_collection.json"
  ncoll="$TMP/scriptless.postman_collection.json"
  say "collections: bench/collection/scripted.js makes both from examples/quickstart.postman_collection.json:"
  say "  scripted   = each request item's test script holds $TESTS_PER_ITEM pm.test; the collection's PoP pre-request script kept"
  say "  scriptless = every script removed (taap signs the PoP natively; node is never started)"
  say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

  if newman_install && node "$NPM_DIR/prepare.js" "$scoll" "$TMP/env.json" "$KEY" "$TMP" 2>"$TMP/prepare.err"; then
    scripted_vs_newman "$scoll"
  else
    [ -s "$TMP/prepare.err" ] && NEWMAN_WHY="prepare.js: $(first_line "$TMP/prepare.err")"
    skip newman "${NEWMAN_WHY:-Newman not installed}"
  fi
  scriptless "$ncoll"
  say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

scripted_vs_newman() {
  scoll=$1
  case "${BENCH_NEWMAN:-auto}" in
    0|no|off) skip newman "BENCH_NEWMAN=${BENCH_NEWMAN}"; return 0 ;;
  esac
  want=$((NEWMAN_ROWS * TESTS_PER_ITEM))
  say "newman $NEWMAN_VERSION (node $(node --version)), jsrsasign $JSRSASIGN_VERSION eval'd from a global on every"
  say "request (bench/collection/pop_prerequest.js, T-Mobile JS builder); rows: the first $NEWMAN_ROWS of the data;"
  say "taap run -j 1 runs the same rows right before and after Newman; both must report $want assertions, 0 failed"

  time_run 1 "$TMP/data_newman.csv" "$NEWMAN_ROWS" "$scoll" "$TAAP" "$want" ||
    { skip newman "taap run before Newman: $RUN_ERR"; return 0; }
  tb=$RUN_RATE tb_cpu=$RUN_CPU tb_scpu=$RUN_SCPU

  s0=$(proc_cpu "$SPID"); child_cpu; c0=$CHILD_CPU; t0=$(now_ns)
  (cd "$TMP" && "$NPM_DIR/node_modules/.bin/newman" run "$TMP/newman.postman_collection.json" \
    -e "$TMP/newman.postman_environment.json" -g "$TMP/newman.postman_globals.json" \
    --folder Connectivity -d "$TMP/data_newman.csv" --color off) >"$TMP/newman.out" 2>&1
  rc=$?
  t1=$(now_ns); child_cpu; c1=$CHILD_CPU; s1=$(proc_cpu "$SPID")
  set -- $(summary_row requests "$TMP/newman.out") $(summary_row assertions "$TMP/newman.out")
  if [ $rc -ne 0 ] || [ "${1:-}" != "$NEWMAN_ROWS" ] || [ "${2:-}" != 0 ] ||
     [ "${3:-}" != "$want" ] || [ "${4:-}" != 0 ]; then
    skip newman "newman exit $rc, requests ${1:-?} failed ${2:-?}, assertions ${3:-?} failed ${4:-?}: $(grep -m1 -E 'Error|error|[0-9]+\. ' "$TMP/newman.out" | cut -c1-200)"
    return 0
  fi
  n_rate=$(calc "$NEWMAN_ROWS / (($t1 - $t0) / 1e9)")
  n_cpu=$(calc "($c1 - $c0) / $NEWMAN_ROWS")
  n_scpu=
  [ -n "$s0" ] && [ -n "$s1" ] && n_scpu=$(calc "($s1 - $s0) / $NEWMAN_ROWS")

  time_run 1 "$TMP/data_newman.csv" "$NEWMAN_ROWS" "$scoll" "$TAAP" "$want" ||
    { skip newman "taap run after Newman: $RUN_ERR"; return 0; }
  ta=$RUN_RATE
  t_rate=$(calc "($tb + $ta) / 2")
  t_cpu=$(calc "($tb_cpu + $RUN_CPU) / 2")
  t_scpu=
  [ -n "$tb_scpu" ] && [ -n "$RUN_SCPU" ] && t_scpu=$(calc "($tb_scpu + $RUN_SCPU) / 2")
  speed=$(calc "$t_rate / $n_rate")
  verdict=$(awk -v r="$speed" -v t="$SCRIPTED_TARGET" 'BEGIN { print (r >= t) ? "PASS" : "BELOW" }')

  hr
  row runner jobs rows calls/s "CPU us" "server" "speed vs Newman" target result
  row "" "" "" "" "/call" "us/call" "" "" ""
  hr
  row "newman $NEWMAN_VERSION + jsrsasign $JSRSASIGN_VERSION" 1 "$NEWMAN_ROWS" "$(fmt "$n_rate")" \
      "$(us "$n_cpu")" "$(us "$n_scpu")" 1 - -
  row "taap run -j 1 (before/after)" 1 "$NEWMAN_ROWS" "$(fmt "$t_rate")" "$(us "$t_cpu")" "$(us "$t_scpu")" \
      "$(printf '%.1f' "$speed")" ">= $SCRIPTED_TARGET" "$verdict"
  hr
  say "taap / Newman speed: $(printf '%.1f' "$speed")x (taap run -j 1 $(fmt "$tb") and $(fmt "$ta") calls/s before and after; Newman $(fmt "$n_rate") calls/s)"
  say "(CPU us/call of taap includes its node script host; \"server\" is the emulator's CPU)"
  say "RESULT bench=run_collection_scripted runner=newman rows=$NEWMAN_ROWS calls_per_s=$n_rate newman=$NEWMAN_VERSION jsrsasign=$JSRSASIGN_VERSION"
  say "RESULT bench=run_collection_scripted runner=taap jobs=1 rows=$NEWMAN_ROWS calls_per_s=$t_rate before=$tb after=$ta speed_ratio=$speed target=$SCRIPTED_TARGET verdict=$verdict"
}

# scriptless COLLECTION: ROUNDS runs of this build (and of BENCH_TAAP_BASE,
# alternated, the order reversed every other round) over all the rows.
scriptless() {
  ncoll=$1
  base=${BENCH_TAAP_BASE:-}
  if [ -n "$base" ] && [ ! -x "$base" ]; then
    skip scriptless-base "BENCH_TAAP_BASE=$base is not an executable"
    base=
  fi
  say ""
  say "-- scriptless: the same collection without scripts, -j 1, $ROWS rows, $ROUNDS rounds${base:+, alternated with BENCH_TAAP_BASE=$base}"
  : >"$TMP/nl.this"; : >"$TMP/nl.base"
  nl_this=- nl_base=-
  r=1
  while [ $r -le "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 1 ]; then order="this base"; else order="base this"; fi
    for who in $order; do
      [ "$who" = base ] && [ -z "$base" ] && continue
      bin=$TAAP; [ "$who" = base ] && bin=$base
      time_run 1 "$TMP/data.csv" "$ROWS" "$ncoll" "$bin" ||
        { skip scriptless "$who: $RUN_ERR"; return 0; }
      printf '%s %s\n' "$RUN_RATE" "$RUN_CPU" >>"$TMP/nl.$who"
    done
    r=$((r + 1))
  done
  hr
  row runner jobs rows calls/s "CPU us" "" "median (min-max)" "" ""
  hr
  for who in this base; do
    [ -s "$TMP/nl.$who" ] || continue
    set -- $(cut -d' ' -f1 "$TMP/nl.$who" | stats)
    cpu=$(cut -d' ' -f2 "$TMP/nl.$who" | stats | cut -d' ' -f1)
    name="taap run -j 1, no scripts"; [ "$who" = base ] && name="  baseline (BENCH_TAAP_BASE)"
    row "$name" 1 "$ROWS" "$(fmt "$1")" "$(us "$cpu")" "" "$(fmt "$2")-$(fmt "$3")" "" ""
    if [ "$who" = this ]; then nl_this=$1; else nl_base=$1; fi
  done
  hr
  res="calls_per_s=$nl_this"
  if [ -s "$TMP/nl.base" ]; then
    res="$res base_calls_per_s=$nl_base ratio_to_base=$(calc "$nl_this / $nl_base")"
    say "this build / baseline: $(printf '%.2f' "$(calc "$nl_this / $nl_base")") (medians of $ROUNDS runs each, same run)"
  fi
  say "RESULT bench=run_collection_scriptless runner=taap jobs=1 rows=$ROWS $res"
}

main() {
  trap stop_server EXIT
  trap 'exit 130' INT TERM
  say "taap run_collection benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  say "source: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown);" \
      "machine: nproc=$(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1);" \
      "$(openssl version 2>/dev/null)"
  if [ ! -x "$TAAP" ]; then
    skip run_collection "$TAAP not built (cmake --build $BUILD --target taap)"
    return 0
  fi
  pick_key || { skip run_collection "no key (BENCH_KEY) and openssl genpkey failed"; return 0; }
  say "key: $KEY_ORIGIN"
  started=$(date +%s)
  start_server || { skip run_collection "taap serve did not start: $SERVE_ERR"; return 0; }
  make_app || { skip run_collection "taap admin failed: $(first_line "$TMP/admin.err")"; return 0; }
  activate_kits || { skip run_collection "kit activation failed: $(first_line "$TMP/admin.err")"; return 0; }
  write_data
  make_variants
  fetch_token || { skip run_collection "token request failed: $(grep -v 'note:' "$TMP/token.err" | first_line /dev/stdin)"; return 0; }
  say ""
  bench_taap
  bench_scripted
  stop_server
  say ""
  say "total $(( $(date +%s) - started )) s; benchmarks report, they do not fail the build."
}

main 2>&1 | tee "$OUT"
echo "(saved to $OUT)"
