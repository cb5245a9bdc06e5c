#!/usr/bin/env bash
# The shell completions the build generates (scripts/gen-completions.sh,
# BUILD/completions/) offer what the command offers: every command of
# `taap help`, each command's options from its help, sub-commands of admin
# and profile. bash and fish are asked for completions the way the shells
# ask them; zsh's file is syntax-checked and holds the same words.
set -u
build=${TAAP_BUILD:?TAAP_BUILD must point at the build tree}
taap=${TAAP_BIN:?TAAP_BIN must point at the taap binary}
for sh in zsh fish; do
  command -v "$sh" >/dev/null 2>&1 || { echo "$sh not installed: skipped"; exit 77; }
done
dir=$build/completions
failures=0
checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
for f in taap.bash _taap taap.fish; do
  [ -s "$dir/$f" ] || { echo "FAIL: $dir/$f was not generated"; exit 1; }
done
commands=$("$taap" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
[ -n "$commands" ] || { echo "FAIL: no command in taap help"; exit 1; }

# bash: COMPREPLY for a command line (words…; the last one is completed).
bash_complete() {
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _taap; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$dir/taap.bash" "$@"
}
fish_complete() { fish -c "source '$dir/taap.fish'; complete -C '$1'" | cut -f1; }
has() { # LABEL WORD OUTPUT
  checks=$((checks + 1))
  printf '%s\n' "$3" | grep -qx -- "$2" || fail "$1: '$2' not offered (got: $(echo $3))"
}

for c in $commands; do
  has "bash: taap <TAB>" "$c" "$(bash_complete taap '')"
  has "fish: taap <TAB>" "$c" "$(fish_complete 'taap ')"
  grep -q "'$c:" "$dir/_taap" || fail "zsh: command $c missing"
done
has "bash: taap ca<TAB>" call "$(bash_complete taap ca)"
[ "$(bash_complete taap ca)" = call ] || fail "bash: taap ca<TAB> offers more than call"

# Options: each command's own, read here from its help independently.
for c in pop verify call run serve; do
  for o in $("$taap" help "$c" | grep -o -- '^ *-[a-zA-Z], --[a-z0-9-]*\|^ *--[a-z0-9-]*' | grep -o -- '--[a-z0-9-]*'); do
    has "bash: taap $c ${o:0:3}<TAB>" "$o" "$(bash_complete taap "$c" "${o:0:3}")"
    has "fish: taap $c --<TAB>" "$o" "$(fish_complete "taap $c --")"
    grep -q -- "[ (]$o[ )]" "$dir/_taap" || fail "zsh: $c option $o missing"
  done
done
has "bash: taap call -<TAB>" -H "$(bash_complete taap call -)"
has "fish: taap call -<TAB>" -H "$(fish_complete 'taap call -')"
out=$(bash_complete taap pop --dat)
printf '%s\n' "$out" | grep -qx -- --output && fail "bash: taap pop offers call's --output"

# Sub-commands.
for s in app key kit device; do has "bash: taap admin <TAB>" "$s" "$(bash_complete taap admin '')"; done
for s in add list show remove; do
  has "bash: taap profile <TAB>" "$s" "$(bash_complete taap profile '')"
  has "fish: taap profile <TAB>" "$s" "$(fish_complete 'taap profile ')"
done

zsh -n "$dir/_taap" || fail "zsh: $dir/_taap does not parse"
bash -n "$dir/taap.bash" || fail "bash: taap.bash does not parse"
fish --no-execute "$dir/taap.fish" || fail "fish: taap.fish does not parse"

[ "$checks" -gt 50 ] || fail "only $checks completion checks ran"
if [ "$failures" -gt 0 ]; then echo "$failures failure(s) in $checks checks"; exit 1; fi
echo "PASS: $checks completion checks (bash, fish; zsh by content and syntax)"
