#!/bin/sh
# Generate docs/taap.1 from docs/taap.1.in and the commands' own help texts,
# so the man page cannot drift from the code.
#   scripts/gen-man.sh TAAP_BIN [OUT]     (OUT defaults to stdout)
set -eu
bin=${1:?usage: gen-man.sh TAAP_BIN [OUT]}
src=$(cd "$(dirname "$0")/.." && pwd)
version=$("$bin" version | sed -n 's/^taap \([^ ]*\).*/\1/p')
# The date of the last change to the template or the commands, not today,
# so regenerating without changes gives the same file.
date=$(git -C "$src" log -1 --format=%cs -- docs/taap.1.in src/cli 2>/dev/null || true)
[ -n "$date" ] || date=unknown

commands=$("$bin" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | grep -v -e '^help$' -e '^version$')
body=$(mktemp) exits=$(mktemp)
trap 'rm -f "$body" "$exits"' EXIT
"$bin" help exit-status | sed -n 's/^  \([0-9]\)/\1/p' | sed -e 's/\\/\\e/g' > "$exits"
for c in $commands; do
  printf '.SS "taap %s"\n.nf\n' "$c"
  # roff: escape backslashes, protect lines starting with . or '
  "$bin" help "$c" | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  printf '.fi\n'
done > "$body"

render() {
  awk -v body="$body" -v exits="$exits" -v version="$version" -v date="$date" '
    /@COMMANDS@/ { while ((getline line < body) > 0) print line; next }
    /@EXIT@/ { while ((getline line < exits) > 0) print line; next }
    { gsub(/@VERSION@/, version); gsub(/@DATE@/, date); print }' "$src/docs/taap.1.in"
}
if [ $# -ge 2 ]; then render > "$2"; else render; fi
