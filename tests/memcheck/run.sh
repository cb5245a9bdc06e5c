#!/bin/sh
# run.sh BUILD — `make memcheck`: the e2e suite (tests/e2e: C programs and
# shell tests, as registered in ctest) with every process of the taap
# command AND every C test program under valgrind memcheck.
#
# How: for each e2e_* / cli_* test, read its command and environment from
# `ctest --show-only=json-v1`, point TAAP_BIN at tests/memcheck/valgrind-taap
# (which runs the real binary under valgrind), run C test programs under
# valgrind themselves, and set TAAP_VALGRIND=1 so tests can allow for the
# slowdown (and the allocation-failure test knows malloc is not its own).
# Verdict: any valgrind error or definite leak in any log fails the run
# (exit 1); tests that fail only because valgrind is slow are listed but do
# not decide the verdict. Logs stay in BUILD/memcheck/.
set -u
build=${1:?usage: run.sh BUILD}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 1; }
command -v jq >/dev/null || { echo "jq is needed to read ctest's test list"; exit 1; }
out="$build/memcheck"
rm -rf "$out"; mkdir -p "$out"
filter=${MEMCHECK_TESTS:-'^(e2e|cli)_'}
skip='^cli_(house_style|static_analysis)$'

ctest --test-dir "$build" --show-only=json-v1 > "$out/tests.json" 2>/dev/null || exit 1
names=$(jq -r --arg f "$filter" '.tests[] | select(.name|test($f)) | .name' "$out/tests.json")
failed_tests=""
for name in $names; do
  echo "$name" | grep -qE "$skip" && continue
  dir="$out/$name"; mkdir -p "$dir"
  # Environment of the test, one NAME=value per line.
  jq -r --arg n "$name" '.tests[] | select(.name==$n) | .properties[]? |
      select(.name=="ENVIRONMENT") | .value[]' "$out/tests.json" > "$dir/env"
  real=$(sed -n 's/^TAAP_BIN=//p' "$dir/env")
  jq -r --arg n "$name" '.tests[] | select(.name==$n) | .command[]' "$out/tests.json" > "$dir/cmd"
  first=$(head -1 "$dir/cmd")
  start=$(date +%s)
  (
    while IFS= read -r kv; do export "$kv"; done < "$dir/env"
    export TAAP_BIN="$here/valgrind-taap" TAAP_MEMCHECK_REAL="$real" TAAP_MEMCHECK_DIR="$dir" \
           TAAP_VALGRIND=1
    cd "$build/tests" 2>/dev/null || cd "$build"
    case "$(basename "$first")" in
      bash|sh) xargs -d '\n' -a "$dir/cmd" sh -c '"$@"' run ;;
      *) xargs -d '\n' -a "$dir/cmd" sh -c 'exec valgrind --quiet --leak-check=full \
           --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=99 \
           --log-file="$TAAP_MEMCHECK_DIR/test.%p.log" "$@"' run ;;
    esac
  ) > "$dir/output.txt" 2>&1
  rc=$?
  errs=$(cat "$dir"/*.log 2>/dev/null | grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|[0-9,]+ bytes in [0-9,]+ blocks are definitely lost)')
  printf '%-28s exit %3d  %4ds  valgrind findings: %s\n' "$name" "$rc" "$(( $(date +%s) - start ))" "$errs"
  [ "$rc" -ne 0 ] && failed_tests="$failed_tests $name"
done

findings=$(cat "$out"/*/*.log 2>/dev/null | grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|[0-9,]+ bytes in [0-9,]+ blocks are definitely lost)')
echo
[ -n "$failed_tests" ] && echo "tests that failed under valgrind (often only timing):$failed_tests"
if [ "$findings" -gt 0 ]; then
  echo "memcheck: $findings finding(s); the logs with findings:"
  grep -lE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|[0-9,]+ bytes in [0-9,]+ blocks are definitely lost)' \
    "$out"/*/*.log | sed 's/^/  /'
  exit 1
fi
echo "memcheck: clean (no memory errors, no definite leaks) — logs in $out"
exit 0
