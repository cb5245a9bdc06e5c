#!/bin/sh
# mutate.sh [ID...] — `make mutate`: plant each mutant of tests/mutate/mutants.txt
# (or only the IDs given) in the source tree one at a time, rebuild the tests
# of its group, run them, put the source back, and report whether the tests
# noticed ("killed") or not ("survived").
#
# Build directory: $MUTATE_BUILD (default build-mutate, RelWithDebInfo). The
# source file is restored after every mutant and on any exit, including
# Ctrl-C and kill (trap). Exit status 0 only when every mutant was killed;
# the report goes to stdout and to $MUTATE_BUILD/mutate-report.txt.
#
# Groups (the behavioural tests a mutant's layer answers to):
#   core   the verifier, JWS, base64url, canonicalisation, keys, replay
#          caches and builder unit suites (tests/unit)
#   serve  the emulator's authentication suites (tests/e2e), against a
#          rebuilt `taap serve`
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
list="$src/tests/mutate/mutants.txt"
build=${MUTATE_BUILD:-build-mutate}
case $build in /*) ;; *) build="$src/$build" ;; esac
jobs=${MUTATE_JOBS:-2}

core_tests='adversarial_verify verify_rules verify_second canon conformance pop_build replay key'
serve_tests='serve_auth serve_cache serve_binding adversarial_serve'

tests_of() { # group -> ctest names
  case $1 in
    core) for t in $core_tests; do echo "unit_$t"; done ;;
    serve) for t in $serve_tests; do echo "e2e_$t"; done ;;
    *) return 1 ;;
  esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/taap-mutate.XXXXXX") || exit 1
applied=""   # the file currently mutated (restored by restore)

restore() {
  if [ -n "$applied" ]; then
    cp "$work/backup" "$src/$applied" && applied=""
  fi
}
on_exit() { restore; rm -rf "$work"; }
trap on_exit EXIT
trap 'echo "mutate: interrupted; source restored" >&2; exit 130' INT TERM HUP

# Split the list into $work/m/ID.{file,group,desc,orig,repl}.
mkdir -p "$work/m"
awk -v dir="$work/m" '
  function flush() { if (id != "") { printf "%s", orig > (dir "/" id ".orig"); close(dir "/" id ".orig");
                                     printf "%s", repl > (dir "/" id ".repl"); close(dir "/" id ".repl") } }
  /^@ / { flush(); id = $2; print $3 > (dir "/" id ".file"); close(dir "/" id ".file");
          print $4 > (dir "/" id ".group"); close(dir "/" id ".group");
          print id >> (dir "/order"); orig = ""; repl = ""; no = 0; nr = 0; desc = 1; next }
  id == "" { next }
  desc { print > (dir "/" id ".desc"); close(dir "/" id ".desc"); desc = 0; next }
  /^- / { orig = orig (no++ ? "\n" : "") substr($0, 3); next }
  /^\+ / { repl = repl (nr++ ? "\n" : "") substr($0, 3); next }
  END { flush() }' "$list"

if [ $# -gt 0 ]; then ids="$*"; else ids=$(cat "$work/m/order"); fi

# Replace the one occurrence of $work/m/ID.orig in FILE by ID.repl.
apply() {
  ORIG="$work/m/$1.orig" REPL="$work/m/$1.repl" perl -0777 -i -pe '
    BEGIN { local $/; open my $f, "<", $ENV{ORIG} or die; $o = <$f>;
            open my $g, "<", $ENV{REPL} or die; $r = <$g>; }
    my $n = () = /\Q$o\E/g;
    die "original text found $n times\n" if $n != 1;
    s/\Q$o\E/$r/;' "$2"
}

echo "mutate: configuring $build"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAAP_BENCH=OFF -DTAAP_TESTS=ON \
  >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
all_targets="taap $(for g in core serve; do tests_of $g; done | tr '\n' ' ')"
echo "mutate: building the unmutated tree"
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target $all_targets >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; exit 1; }
for g in core serve; do
  re="^($(tests_of $g | tr '\n' '|' | sed 's/|$//'))\$"
  echo "mutate: baseline $g tests"
  (cd "$build" && ctest -R "$re" -j "$jobs" --output-on-failure >"$work/base-$g.log" 2>&1) ||
    { tail -40 "$work/base-$g.log"; echo "mutate: the unmutated tree fails its tests"; exit 1; }
done

report="$build/mutate-report.txt"
: >"$report"
killed=0 survived=0 broken=0 total=0
start=$(date +%s)
for id in $ids; do
  [ -f "$work/m/$id.file" ] || { echo "mutate: no mutant $id" >&2; exit 2; }
  file=$(cat "$work/m/$id.file")
  group=$(cat "$work/m/$id.group")
  desc=$(cat "$work/m/$id.desc")
  total=$((total + 1))
  t0=$(date +%s)
  cp "$src/$file" "$work/backup"
  applied=$file
  if ! apply "$id" "$src/$file" 2>"$work/apply.log"; then
    restore
    line="$id BROKEN (cannot apply: $(cat "$work/apply.log")) — $desc"
    broken=$((broken + 1))
  else
    tests=$(tests_of "$group")
    re="^($(echo "$tests" | tr '\n' '|' | sed 's/|$//'))\$"
    # shellcheck disable=SC2086
    if ! cmake --build "$build" -j "$jobs" --target taap $tests >"$work/build.log" 2>&1; then
      line="$id BROKEN (does not compile) — $desc"
      broken=$((broken + 1))
    elif (cd "$build" && ctest -R "$re" -j "$jobs" --stop-on-failure --timeout 300 \
            >"$work/test.log" 2>&1); then
      line="$id SURVIVED — $desc"
      survived=$((survived + 1))
    else
      by=$(grep -E '\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout|Failed  ' "$work/test.log" |
           sed -E 's/.*Test +#[0-9]+: ([a-z0-9_]+).*/\1/' | sort -u | tr '\n' ' ')
      line="$id killed by ${by:-a test} — $desc"
      killed=$((killed + 1))
    fi
    restore
  fi
  line="$line ($(( $(date +%s) - t0 )) s)"
  echo "$line"
  echo "$line" >>"$report"
done
# Leave the build matching the restored tree.
cmake --build "$build" -j "$jobs" --target $all_targets >/dev/null 2>&1
summary="mutate: $total mutants, $killed killed, $survived survived, $broken broken, $(( $(date +%s) - start )) s"
echo "$summary"
echo "$summary" >>"$report"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
