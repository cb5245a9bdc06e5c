#!/bin/sh
# bench/run.sh BUILD_DIR — run taap's benchmarks and print their tables
# (`make bench` calls it after building the bench_all target).
#
# Each benchmark is one shell function bench_NAME, listed in BENCHMARKS
# below; a benchmark whose program is missing prints one SKIP line and the
# run goes on. To add one: write bench_NAME (use need_bin to skip cleanly),
# append NAME to BENCHMARKS, and describe it in bench/README.md.
#
# Benchmarks report; they never fail the build. Exit status is non-zero only
# when this script is used wrongly.
#
# Environment:
#   BENCH_ROUNDS        paired rounds per in-process row (default 9)
#   BENCH_ROUND_MS      fixed work per side per round, in ms (default 300)
#   BENCH_ONESHOT_RUNS  one-shot process runs per command (default 30)
#   BENCH_KEY           RSA-2048 private key PEM (default tests/data/keys/rsa2048.pkcs8.pem,
#                       else a fresh key made with taap_key_generate)
#   BENCH_SERVE_REQUESTS  measured requests for serve_throughput (default 40000;
#                       each is a PoP pre-signed before the clock starts)
#   BENCH_SERVE_THREADS taap serve --threads for serve_throughput (default 4, the
#                       server's own default: with one thread per core, libmicrohttpd
#                       sometimes lands every connection on one thread)
#   BENCH_STREAM_BYTES  upload size for call_stream (default 1073741824, a sparse file)
#   BENCH_ONLY          space-separated subset of BENCHMARKS to run
#   BENCH_OUT           also write the whole output to this file
#                       (default BUILD_DIR/bench-results.txt)
set -u

BENCHMARKS="pop_rates pop_oneshot serve_throughput call_stream run_collection gateway"

usage() {
  echo "usage: sh bench/run.sh BUILD_DIR   (see the comments at the top for the environment)" >&2
  exit 2
}
[ $# -eq 1 ] || usage
case "$1" in -h|--help) usage ;; esac

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "run.sh: no build directory '$1'" >&2; exit 2; }
BENCH_BIN="$BUILD/bench"
OUT=${BENCH_OUT:-$BUILD/bench-results.txt}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/taap-bench.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM

say() { printf '%s\n' "$*"; }
skip() { say "SKIP $1: $2"; }

# need_bin NAME PATH: 0 if PATH is executable, else a SKIP line for NAME.
need_bin() {
  if [ -x "$2" ]; then return 0; fi
  skip "$1" "$2 not built (cmake --build $BUILD --target bench_all)"
  return 1
}

machine_facts() {
  say "taap benchmarks — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  say "source: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)"
  say "machine: nproc=$(nproc), CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
      "(family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
      "model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
      "SHA-NI $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no))," \
      "RAM $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  say "OpenSSL: $(openssl version 2>/dev/null || echo 'openssl command not found')"
  say "load average: $(cut -d' ' -f1-3 /proc/loadavg) (the host is shared: judge by same-run ratios)"
}

# The key every benchmark uses: BENCH_KEY, the test key of tests/data, or a
# fresh one. Copied to mode 0600 so `taap pop` has no reason to warn.
pick_key() {
  src=${BENCH_KEY:-}
  if [ -z "$src" ] && [ -f "$SRC/tests/data/keys/rsa2048.pkcs8.pem" ]; then
    src="$SRC/tests/data/keys/rsa2048.pkcs8.pem"
  fi
  KEY="$TMP/key.pem"
  if [ -n "$src" ]; then
    cp "$src" "$KEY" || return 1
    KEY_ORIGIN="$src"
  elif [ -x "$BENCH_BIN/bench_pop" ]; then
    "$BENCH_BIN/bench_pop" write-key "$KEY" || return 1
    KEY_ORIGIN="generated for this run (taap_key_generate)"
  else
    return 1
  fi
  chmod 600 "$KEY"
}

# ---- benchmarks -------------------------------------------------------------

# In-process tokens/s and verifies/s against bare OpenSSL (SPEC §8 ratios).
bench_pop_rates() {
  say "== PoP builder and verifier, in-process (bench_pop) =="
  need_bin pop_rates "$BENCH_BIN/bench_pop" || return 0
  BENCH_KEY="$KEY" "$BENCH_BIN/bench_pop" pop
}

# `taap pop` as a whole process (SPEC §8: <= 15 ms median), next to a bare
# `openssl dgst -sha256 -sign` process as context.
bench_pop_oneshot() {
  say "== taap pop, one token per process =="
  need_bin pop_oneshot "$BENCH_BIN/bench_pop" || return 0
  need_bin pop_oneshot "$BUILD/taap" || return 0
  body="$TMP/body_1024.bin"
  "$BENCH_BIN/bench_pop" write-body 1024 "$body" || { skip pop_oneshot "cannot write the body"; return 0; }
  # The perf-baseline request; --data-binary @FILE streams the body as sent.
  set -- "$BUILD/taap" pop --key "$KEY" -X POST \
    -H "Content-Type: application/json" \
    -H "Authorization: Bearer UtKV75JJbVAewOrkHMXhLbiQ11SSbenchAccessToken0123456789" \
    --data-binary "@$body" /commerce/v1/orders
  # One check run in the open, so a broken command shows its own message.
  if ! "$@" >/dev/null 2>"$TMP/pop.err"; then
    skip pop_oneshot "'taap pop' failed: $(head -3 "$TMP/pop.err")"
    return 0
  fi
  "$BENCH_BIN/bench_pop" oneshot --label oneshot -- "$@" \
    -- openssl dgst -sha256 -sign "$KEY" -out /dev/null "$body"
}

# The emulator under load: authenticated GET /iot-connectivity/v1/devices/{iccid}
# with unique pre-signed PoPs over 32 keep-alive connections, against the
# single-thread in-process verify rate taken next to each round (issue 3 §7).
bench_serve_throughput() {
  say "== taap serve: authenticated device GETs under load (bench_serve) =="
  need_bin serve_throughput "$BENCH_BIN/bench_serve" || return 0
  need_bin serve_throughput "$BUILD/taap" || return 0
  "$BENCH_BIN/bench_serve" throughput --taap "$BUILD/taap" --key "$KEY" \
    --requests "${BENCH_SERVE_REQUESTS:-40000}" --server-threads "${BENCH_SERVE_THREADS:-4}" \
    --connections 32
}

# `taap call --data-binary @FILE` with a 1 GiB sparse file: the client's peak
# RSS must stay under 32 MiB (SPEC §8); the emulator's testing sink counts
# and hashes what arrives.
bench_call_stream() {
  say "== taap call, streamed upload (bench_serve stream) =="
  need_bin call_stream "$BENCH_BIN/bench_serve" || return 0
  need_bin call_stream "$BUILD/taap" || return 0
  "$BENCH_BIN/bench_serve" stream --taap "$BUILD/taap" --key "$KEY" \
    --size "${BENCH_STREAM_BYTES:-1073741824}"
}

# nginx with and without the TAAP module (ngx_http_taap_module, replay in
# Redis) in front of the same upstream: wrk, 32 connections, pre-signed PoPs
# (issue 10; docs/GATEWAY.md). BENCH_GATEWAY_POPS (default 100000) PoPs,
# BENCH_GATEWAY_SECONDS (default 3) per run.
bench_gateway() {
  say "== nginx gateway: with and without taap on (bench_gateway) =="
  need_bin gateway "$BENCH_BIN/bench_gateway" || return 0
  TAAP_BIN="$BUILD/taap" TAAP_BUILD="$BUILD" "$BENCH_BIN/bench_gateway" --key "$KEY" \
    --wrk "$(command -v wrk || echo /usr/bin/wrk)" --pops "${BENCH_GATEWAY_POPS:-100000}" --seconds "${BENCH_GATEWAY_SECONDS:-3}" --connections 32
}

# `taap run` over the example Postman collection against the emulator, as a
# ratio to the same-run RS256 sign rate (issue 5); the scripted row (three
# pm.test per item) against Newman + jsrsasign when npm can install them
# (BENCH_NEWMAN=0 skips Newman), and the same collection without scripts
# (issue 12 item 10). See bench/collection/README.md.
bench_run_collection() {
  say "== taap run over the example collection (bench/run_collection.sh) =="
  need_bin run_collection "$BUILD/taap" || return 0
  BENCH_KEY="$KEY" sh "$SRC/bench/run_collection.sh" "$BUILD"
}

# ---- driver -----------------------------------------------------------------

main() {
  machine_facts
  if ! pick_key; then
    say "run.sh: no key: set BENCH_KEY or build bench_pop (it can generate one)"
    return 0
  fi
  say "key: $KEY_ORIGIN"
  say "settings: BENCH_ROUNDS=${BENCH_ROUNDS:-9} BENCH_ROUND_MS=${BENCH_ROUND_MS:-300}" \
      "BENCH_ONESHOT_RUNS=${BENCH_ONESHOT_RUNS:-30}"
  started=$(date +%s)
  for b in ${BENCH_ONLY:-$BENCHMARKS}; do
    case " $BENCHMARKS " in
      *" $b "*) say ""; "bench_$b" ;;
      *) skip "$b" "unknown benchmark (known: $BENCHMARKS)" ;;
    esac
  done
  say ""
  say "total $(( $(date +%s) - started )) s; benchmarks report, they do not fail the build."
}

main 2>&1 | tee "$OUT"
echo "(saved to $OUT)"
