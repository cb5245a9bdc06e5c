#!/bin/sh
# run.sh BUILD [SECONDS] — run every libFuzzer target built in BUILD/tests/fuzz
# (by `make fuzz`: cmake -DCMAKE_C_COMPILER=clang -DTAAP_FUZZ=ON) for SECONDS
# each (default 60), starting from the checked-in seed corpus. New inputs go
# to BUILD/fuzz-corpus/NAME (the seed corpus stays untouched); a crash, leak,
# sanitizer report or time-out is saved as BUILD/fuzz-artifacts/NAME-*.
# Reproduce one with: BUILD/tests/fuzz/NAME ARTIFACT. Keep a fixed finding's
# input as tests/fuzz/corpus/NAME/regress-<what> (replayed by `make test`).
# After a clean run the inputs that reach new coverage are merged into the
# checked-in corpus (libFuzzer -merge=1: only what adds coverage, so the
# corpus grows minimised); FUZZ_MERGE=0 leaves the source tree alone.
# Runs under `nice -n 19` (a shared machine). Exit status: 0 when every
# target ran clean, 1 otherwise.
set -u
build=${1:?usage: run.sh BUILD [SECONDS]}
secs=${2:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
bin="$build/tests/fuzz"
[ -d "$bin" ] || { echo "no fuzz targets in $bin (configure with -DTAAP_FUZZ=ON and clang)"; exit 1; }
mkdir -p "$build/fuzz-artifacts"
status=0
summary=""
for t in "$bin"/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  short=${name#fuzz_}
  work="$build/fuzz-corpus/$short"
  mkdir -p "$work"
  dict=""
  [ -f "$src/tests/fuzz/$short.dict" ] && dict="-dict=$src/tests/fuzz/$short.dict"
  echo "== $name: $secs s"
  log="$build/fuzz-artifacts/$name.log"
  # -timeout: an input slower than 60 s is a hang (generous: on a shared, loaded
  # machine a niced fuzzer can stall for seconds); -rss_limit_mb bounds memory.
  nice -n 19 "$t" "$work" "$src/tests/fuzz/corpus/$short" -max_total_time="$secs" -timeout=60 \
       -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$build/fuzz-artifacts/$name-" $dict >"$log" 2>&1
  rc=$?
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    status=1
    echo "   FINDING (exit $rc): see $log"
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/   /'
    summary="$summary\n$name: FINDING ($log)"
  else
    added=""
    if [ "${FUZZ_MERGE:-1}" = 1 ]; then
      before=$(ls "$src/tests/fuzz/corpus/$short" | wc -l)
      nice -n 19 "$t" -merge=1 "$src/tests/fuzz/corpus/$short" "$work" >"$log.merge" 2>&1
      added=", corpus +$(( $(ls "$src/tests/fuzz/corpus/$short" | wc -l) - before ))"
    fi
    summary="$summary\n$name: ok, ${execs:-?} runs, ${cov:-cov ?}$added"
  fi
done
printf "%b\n" "$summary"
exit $status
