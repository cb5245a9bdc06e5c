#!/bin/sh
# The packagers' promise (issue 11 item 7): every CMAKE_BUILD_TYPE builds
# warning-free with gcc and with clang, tests and benchmarks included.
# Eight trees, one at a time: {gcc,clang} x {Release,Debug,RelWithDebInfo,
# MinSizeRel}, each configured with -DTAAP_WERROR=ON -DTAAP_TESTS=ON
# -DTAAP_BENCH=ON and built whole (`all bench_all`), then its log searched
# for any "warning:" (the linker's too, which -Werror does not stop).
#
#   sh scripts/build-matrix.sh            (what `make build-matrix` runs)
#   MATRIX_DIR=/tmp/m JOBS=2 MATRIX="gcc:Release clang:Debug" sh scripts/build-matrix.sh
#
# The trees go under MATRIX_DIR (default ${TMPDIR:-/tmp}/taap-matrix); set
# CMAKE_C_COMPILER_LAUNCHER=ccache to reuse objects between runs. It takes
# long (every tree builds ~440 targets): it is not part of `make test`.
# Exit 0 only when every build succeeded with no warning.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
out=${MATRIX_DIR:-${TMPDIR:-/tmp}/taap-matrix}
jobs=${JOBS:-2}
matrix=${MATRIX:-"gcc:Release gcc:Debug gcc:RelWithDebInfo gcc:MinSizeRel clang:Release clang:Debug clang:RelWithDebInfo clang:MinSizeRel"}
mkdir -p "$out" || exit 1
bad=0
for entry in $matrix; do
  cc=${entry%%:*}
  type=${entry#*:}
  dir=$out/$cc-$type
  log=$out/$cc-$type.log
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build-matrix: $cc is not installed (scripts/deps.sh test installs it)" >&2
    bad=$((bad + 1))
    continue
  fi
  if ! cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$type" \
      -DTAAP_WERROR=ON -DTAAP_TESTS=ON -DTAAP_BENCH=ON >"$log" 2>&1; then
    echo "$cc $type: configure FAILED (see $log)"
    bad=$((bad + 1))
    continue
  fi
  # -k 0: keep going, so one run shows every warning of the tree.
  cmake --build "$dir" -j "$jobs" --target all bench_all -- -k 0 >>"$log" 2>&1
  rc=$?
  warnings=$(grep -c 'warning:' "$log")
  if [ "$rc" -ne 0 ] || [ "$warnings" -ne 0 ]; then
    echo "$cc $type: FAILED (exit $rc, $warnings warning lines; see $log)"
    grep -E 'warning:|error:' "$log" | sort -u | head -20
    bad=$((bad + 1))
  else
    echo "$cc $type: clean"
  fi
done
if [ "$bad" -ne 0 ]; then
  echo "build-matrix: $bad of $(echo $matrix | wc -w) builds not clean" >&2
  exit 1
fi
echo "build-matrix: all $(echo $matrix | wc -w) builds clean (-Werror, no warning)"
