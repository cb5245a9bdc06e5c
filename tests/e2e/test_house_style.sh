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

# Layers (docs/ARCHITECTURE.md): each directory of src/ may include its own
# headers and those of src/util (the internal tier); never another layer's
# internal header. Public headers (include/taap/) are the only way across
# (and src/serve/taap_serve.h, the emulator's interface to the command).
names() { for h in "$@"; do [ -e "$h" ] && basename "$h" .h; done | paste -sd'|'; }
layers="core client postman replay serve cli nginx"
for layer in $layers; do
  [ -d "src/$layer" ] || continue
  others=""
  # src/serve/taap_serve.h is the emulator's interface to the command, not internal.
  for o in $layers; do
    [ "$o" = "$layer" ] || others="$others $(ls src/$o/*.h 2>/dev/null | grep -v '/taap_serve\.h$')"
  done
  # shellcheck disable=SC2086
  pat=$(names $others)
  [ -n "$pat" ] || continue
  hit=$(grep -rnE "#include \"($pat)\\.h\"" "src/$layer" 2>/dev/null || true)
  if [ -n "$hit" ]; then
    echo "src/$layer includes another layer's internal header:"; echo "$hit"; fail=1
  fi
done
# The internal tier sits below every layer: it includes none of theirs.
all_layer_headers=$(for o in $layers; do ls src/$o/*.h 2>/dev/null; done)
# shellcheck disable=SC2086
util_up=$(grep -rnE "#include \"($(names $all_layer_headers))\\.h\"" src/util 2>/dev/null || true)
if [ -n "$util_up" ]; then
  echo "src/util includes a layer's header:"; echo "$util_up"; fail=1
fi
internal="#include \"($(names src/core/*.h src/client/*.h src/postman/*.h))\\.h\""
upper="#include \"($(names src/cli/*.h src/serve/*.h))\\.h\""

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
