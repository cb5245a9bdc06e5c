#!/usr/bin/env bash
# House rules that a grep can keep (DESIGN.md): no unbounded or unchecked C
# string/number functions anywhere in the project's C code, and the
# library/CLI layering (the CLI and the emulator never include a
# library-internal header; the library never includes CLI or server headers).
set -u
src=${TAAP_SRC:?TAAP_SRC must point at the source tree}
cd "$src" || exit 1
fail=0

files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench examples -name '*.[ch]')
banned=$(grep -nE '(^|[^_[:alnum:]])(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|sscanf)[[:space:]]*\(' $files |
         grep -v 'house-style: allow' || true)
if [ -n "$banned" ]; then
  echo "banned functions (use bounded, checked forms):"; echo "$banned"; fail=1
fi

# Every header beside the library's sources is internal (the public ones
# live in include/taap/); likewise the CLI's and the emulator's own headers.
names() { for h in "$@"; do [ -e "$h" ] && basename "$h" .h; done | paste -sd'|'; }
internal="#include \"($(names src/lib/*.h src/lib/*/*.h))\\.h\""
layer=$(grep -nE "$internal" src/cli/*.c src/cli/*.h src/serve/*.c src/serve/*.h 2>/dev/null || true)
if [ -n "$layer" ]; then
  echo "CLI/emulator include library-internal headers:"; echo "$layer"; fail=1
fi
upper="#include \"($(names src/cli/*.h src/serve/*.h))\\.h\""
up=$(grep -rnE "$upper" src/lib 2>/dev/null || true)
if [ -n "$up" ]; then
  echo "library includes CLI or server headers:"; echo "$up"; fail=1
fi

# A positive control so this test cannot pass vacuously: the pattern must
# catch a known-bad line.
if ! printf 'x = atoi(s);\n' | grep -qE '(^|[^_[:alnum:]])(atoi)[[:space:]]*\('; then
  echo "self-check failed: pattern does not match"; fail=1
fi
if ! printf '#include "pm.h"\n' | grep -qE "$internal" ||
   ! printf '#include "serve_internal.h"\n' | grep -qE "$upper"; then
  echo "self-check failed: layering patterns do not match"; fail=1
fi
[ "$fail" -eq 0 ] && echo "house style: ok ($(echo "$files" | wc -w) files)"
exit $fail
