#!/usr/bin/env bash
# Every command's options come from one table that feeds both its parser and
# its --help (src/cli/cli_help.c), so: every option --help shows is accepted,
# and a bad option gets the one message format, with a "did you mean".
#
# An option is tried as `taap CMD --NAME [VALUE] --zz-not-an-option`: the
# parser takes --NAME (its value may be refused, with its own message), then
# stops at the unknown option before the command does anything.
set -u
bin=${TAAP_BIN:?}
. "$(dirname "$0")/check_lib.sh"
export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=$tmp/cache
cd "$tmp" || exit 1

commands=$("$bin" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | grep -v -e '^help$' -e '^version$')
tried=0
for c in $commands; do
  pre=($c)
  [ "$c" = profile ] && pre=(profile add p1)
  "$bin" help "$c" >"$tmp/help"
  # "  -X, --name ARG  text" or "  --name ARG  text": name and whether it takes a value
  awk '/^  (-[A-Za-z], |    )?--[a-z]/ {
         label = $0; sub(/^ +(-[A-Za-z], )?--/, "", label); sub(/  .*/, "", label)
         name = label; sub(/ .*/, "", name); arg = label; sub(/^[^ ]*/, "", arg)
         print name "|" arg }' "$tmp/help" | sort -u >"$tmp/opts"
  [ -s "$tmp/opts" ] || { bad "taap $c --help lists no options"; continue; }
  longest=
  while IFS='|' read -r name arg; do
    [ "$name" = help ] && continue
    if [ -n "$arg" ]; then
      "$bin" "${pre[@]}" "--$name" 1 --zz-not-an-option >/dev/null 2>"$tmp/err" </dev/null
    else
      "$bin" "${pre[@]}" "--$name" --zz-not-an-option >/dev/null 2>"$tmp/err" </dev/null
    fi
    tried=$((tried + 1))
    if grep -q -- "unknown option '--$name'" "$tmp/err"; then
      bad "taap $c: --$name is in --help but the parser refuses it"
    else
      ok
    fi
    [ ${#name} -gt ${#longest} ] && longest=$name
  done <"$tmp/opts"
  # a typo: one message format, naming the option meant
  "$bin" "${pre[@]}" "--${longest}x" >/dev/null 2>"$tmp/err" </dev/null
  check_rc "taap $c --${longest}x" $? 2
  check_eq "taap $c: unknown option message" "$(cat "$tmp/err")" \
    "taap $c: unknown option '--${longest}x' (did you mean '--$longest'?); see taap $c --help"
  # no suggestion for a word that is nothing like an option
  "$bin" "${pre[@]}" --qqqqqqqqqqqq >/dev/null 2>"$tmp/err" </dev/null
  check_eq "taap $c: unknown option without a guess" "$(cat "$tmp/err")" \
    "taap $c: unknown option '--qqqqqqqqqqqq'; see taap $c --help"
  # a missing value: the same format
  withval=$(awk -F'|' '$2 != "" && $2 !~ /^ \[/ {print $1; exit}' "$tmp/opts")
  if [ -n "$withval" ]; then
    "$bin" "${pre[@]}" "--$withval" >/dev/null 2>"$tmp/err" </dev/null
    check_rc "taap $c --$withval (no value)" $? 2
    check_eq "taap $c: missing value message" "$(cat "$tmp/err")" \
      "taap $c: option '--$withval' needs a value; see taap $c --help"
  fi
done
[ $tried -ge 100 ] || bad "only $tried options found in the help texts: the extraction is broken"
[ $fail -eq 0 ] && echo "ok: $n checks ($tried options tried)"
exit $fail
