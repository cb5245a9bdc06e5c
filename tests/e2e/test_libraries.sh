#!/usr/bin/env bash
# Each library is drawn around its layer (issue 11, docs/ARCHITECTURE.md):
#  - what it links: its direct NEEDED entries are within its allowed set, and
#    libtaap's whole ldd closure is libcrypto + jansson + libc (a server that
#    only verifies never loads libcurl or SQLite);
#  - what it exports: exactly its checked-in list cmake/symbols/lib<NAME>.txt,
#    every name taap_-prefixed, no name exported by two libraries.
# A new public function (TAAP_API) goes into its library's list in the same
# commit: `nm -D --defined-only BUILD/libNAME.so | awk '{print $3}' |
# LC_ALL=C sort > cmake/symbols/libNAME.txt`, then check the diff.
set -u
build=${TAAP_BUILD:?TAAP_BUILD must point at the build tree}
src=${TAAP_SRC:?TAAP_SRC must point at the source tree}
for tool in readelf nm ldd; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool not installed (binutils): skipped"; exit 77; }
done
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# name | the shared libraries it may need (sonames without version suffix)
allowed() {
  case $1 in
    taap)               echo "libcrypto libjansson libc" ;;
    taap-client)        echo "libtaap libcrypto libjansson libcurl libc" ;;
    taap-postman)       echo "libtaap-client libtaap libcrypto libjansson libcurl libc" ;;
    taap-replay-sqlite) echo "libtaap libcrypto libsqlite3 libc" ;;
    taap-replay-redis)  echo "libtaap libcrypto libhiredis libc" ;;
  esac
}
libs="taap taap-client taap-postman taap-replay-sqlite"
# The Redis replay cache is built when hiredis is (deps.sh installs it).
[ -f "$build/libtaap-replay-redis.so" ] && libs="$libs taap-replay-redis"

all_exports=$(mktemp)
trap 'rm -f "$all_exports"' EXIT
for name in $libs; do
  so="$build/lib$name.so"
  [ -f "$so" ] || { fail "$so was not built"; continue; }

  # What it links directly.
  needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [ -n "$needed" ] || fail "lib$name: readelf shows no NEEDED entry at all"
  for n in $needed; do
    base=${n%%.so*}
    case " $(allowed "$name") " in
      *" $base "*) ;;
      *) fail "lib$name links $n; its layer may link only: $(allowed "$name")" ;;
    esac
  done
  ldd "$so" | grep -q 'not found' && fail "lib$name: ldd finds an unresolved library"

  # What it exports.
  list="$src/cmake/symbols/lib$name.txt"
  [ -f "$list" ] || { fail "no exported-symbol list $list"; continue; }
  got=$(nm -D --defined-only "$so" | awk '{print $3}' | LC_ALL=C sort)
  want=$(grep -v '^#' "$list" | LC_ALL=C sort)
  if [ "$got" != "$want" ]; then
    fail "lib$name exports differ from cmake/symbols/lib$name.txt (< exported, > listed):"
    diff <(printf '%s\n' "$got") <(printf '%s\n' "$want") | grep '^[<>]'
  fi
  bad=$(printf '%s\n' "$got" | grep -v '^taap_')
  [ -z "$bad" ] || fail "lib$name exports names without the taap_ prefix: $bad"
  printf '%s\n' "$got" >> "$all_exports"
  echo "lib$name: $(printf '%s\n' "$got" | wc -l) symbols; links: $(echo $needed)"
done

dups=$(LC_ALL=C sort "$all_exports" | uniq -d)
[ -z "$dups" ] || fail "exported by more than one library: $dups"

# libtaap's whole closure: a verifier-only program loads nothing else.
if [ -f "$build/libtaap.so" ]; then
  extra=$(ldd "$build/libtaap.so" | awk '{print $1}' |
          grep -v -e '^linux-vdso' -e '^/lib.*/ld-linux' -e '^libcrypto\.so' -e '^libjansson\.so' \
                  -e '^libc\.so' || true)
  [ -z "$extra" ] || fail "libtaap.so pulls in more than libcrypto, jansson and libc: $extra"
fi

# The checks above must have looked at every library.
[ "$(wc -l < "$all_exports")" -gt 0 ] || fail "no exported symbol read at all"
if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "PASS: $(echo $libs | wc -w) libraries link and export what their layers allow"
