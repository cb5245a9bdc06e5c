#!/usr/bin/env bash
# The documentation stays true to the code: docs/taap.1 is what
# scripts/gen-man.sh makes from the commands' help texts, every command of
# `taap help` has a help text, and the README mentions every command.
set -u
bin=${TAAP_BIN:?}; src=${TAAP_SRC:?}
fail=0
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT

sh "$src/scripts/gen-man.sh" "$bin" "$tmp" || { echo "gen-man.sh failed"; exit 1; }
if ! diff -u "$src/docs/taap.1" "$tmp" > /dev/null; then
  echo "docs/taap.1 is stale: run scripts/gen-man.sh build/taap docs/taap.1"
  diff -u "$src/docs/taap.1" "$tmp" | head -40
  fail=1
fi

commands=$("$bin" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | grep -v -e '^help$' -e '^version$')
[ "$(echo "$commands" | wc -w)" -ge 9 ] || { echo "taap help lists too few commands: $commands"; fail=1; }
for c in $commands; do
  out=$("$bin" "$c" --help 2>&1); rc=$?
  if [ $rc -ne 0 ] || ! printf '%s' "$out" | grep -q "^usage: taap $c"; then
    echo "taap $c --help: exit $rc, no 'usage: taap $c' line"; fail=1
  fi
  if printf '%s' "$out" | grep -qi 'not implemented'; then
    echo "taap $c: still a placeholder"; fail=1
  fi
  grep -q "taap $c" "$src/README.md" || { echo "README.md never mentions 'taap $c'"; fail=1; }
done
# One exit-status table: README's copy is exactly `taap help exit-status`.
want=$("$bin" help exit-status | sed -n 's/^  \([0-9]\)/  \1/p')
have=$(awk '/^### Exit status/ {s=1} s && /^```text/ {c=1; next} c && /^```/ {exit} c' "$src/README.md")
[ -n "$want" ] && [ "$want" = "$have" ] || {
  echo "README's Exit status block differs from taap help exit-status:"
  diff <(echo "$want") <(echo "$have") | head -20; fail=1; }
grep -q '^22 ' "$src/docs/taap.1" || { echo "man page has no exit-status table"; fail=1; }
"$bin" help nosuchcommand > /dev/null 2>&1 && { echo "taap help nosuchcommand should fail"; fail=1; }
[ $fail -eq 0 ] && echo "docs: ok ($(echo $commands))"
exit $fail
