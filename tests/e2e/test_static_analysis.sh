#!/usr/bin/env bash
# Static analysis of src/ with the project's checked-in configuration
# (DESIGN.md: "cppcheck clean"; issue 6: cppcheck and clang-tidy clean).
#   cppcheck   --project=.cppcheck, classes warning/performance/portability
#              (and errors, always on); any finding fails the test.
#   clang-tidy .clang-tidy (bug-finding checks, warnings are errors), every
#              src/**/*.c in parallel; skipped in a sanitizer build directory
#              (the analysis does not depend on the build type, so it runs
#              once per `make test`) and when TAAP_SKIP_CLANG_TIDY=1.
#              The clang static analyzer checks (clang-analyzer-*) take ~90 s
#              on two cores, too slow for `make test`: they run only with
#              TAAP_TIDY_ANALYZER=1 (the fast checks take ~10 s).
# Either tool missing → that part is skipped with a message; both missing → 77.
set -u
src=${TAAP_SRC:?TAAP_SRC must point at the source tree}
build=${TAAP_BUILD:-$src/build}
cd "$src" || exit 1
fail=0
ran=0
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

# --- cppcheck -----------------------------------------------------------------
if command -v cppcheck >/dev/null 2>&1; then
  ran=1
  cache="$build/cppcheck-cache"
  mkdir -p "$cache"
  start=$(date +%s)
  out=$(cppcheck -q --project=.cppcheck --cppcheck-build-dir="$cache" \
        --enable=warning,performance,portability --inline-suppr -j "$jobs" \
        --template='{file}:{line}: {severity}: {message} [{id}]' --error-exitcode=3 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "cppcheck findings (rc=$rc):"; echo "$out"; fail=1
  else
    echo "cppcheck: clean ($(( $(date +%s) - start )) s)"
  fi
else
  echo "cppcheck not installed: skipped"
fi

# --- clang-tidy -----------------------------------------------------------------
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
sanitize=$(grep -s '^TAAP_SANITIZE:BOOL=' "$build/CMakeCache.txt" | cut -d= -f2)
if [ -z "$tidy" ]; then
  echo "clang-tidy not installed: skipped"
elif [ "${TAAP_SKIP_CLANG_TIDY:-0}" = 1 ]; then
  echo "clang-tidy: skipped (TAAP_SKIP_CLANG_TIDY=1)"
elif [ "$sanitize" = ON ]; then
  echo "clang-tidy: skipped in the sanitizer build (the release build's run covers it)"
else
  ran=1
  start=$(date +%s)
  flags="-std=c11 -D_GNU_SOURCE -DTAAP_VERSION=\"0\" -Iinclude -Isrc/util -Isrc/core -Isrc/client -Isrc/postman -Isrc/replay -Isrc/serve -Isrc/cli"
  # src/nginx: nginx's headers (nginx-dev) and the configured build's
  # ngx_auto_config.h (the nginx_module target writes it).
  ngx=/usr/share/nginx/src/src
  flags="$flags -isystem $build/nginx-module/objs -isystem $ngx/core -isystem $ngx/event -isystem $ngx/event/modules -isystem $ngx/os/unix -isystem $ngx/http -isystem $ngx/http/modules -isystem $ngx/http/v2"
  extra=--checks=-clang-analyzer-*
  [ "${TAAP_TIDY_ANALYZER:-0}" = 1 ] && extra=--checks=clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
  out=$(find src -name '*.c' -print0 | sort -z |
        TIDY="$tidy" FLAGS="$flags" EXTRA="$extra" xargs -0 -n 4 -P "$jobs" \
          sh -c '"$TIDY" --quiet --config-file=.clang-tidy "$EXTRA" "$@" -- $FLAGS' tidy 2>&1 |
        grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.?$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' || true)
  if printf '%s\n' "$out" | grep -qE ': (error|warning):'; then
    echo "clang-tidy findings:"; echo "$out"; fail=1
  else
    echo "clang-tidy: clean ($(( $(date +%s) - start )) s)"
  fi
fi

# A positive control, so a broken tool invocation cannot pass vacuously:
# cppcheck must flag a known out-of-bounds write.
if command -v cppcheck >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  printf 'void f(void){ char b[4]; b[4] = 0; (void)b; }\n' > "$tmp/bad.c"
  if cppcheck -q --error-exitcode=3 "$tmp/bad.c" >/dev/null 2>&1; then
    echo "self-check failed: cppcheck did not flag a known out-of-bounds write"; fail=1
  fi
  rm -rf "$tmp"
fi

[ "$ran" -eq 0 ] && exit 77
exit $fail
