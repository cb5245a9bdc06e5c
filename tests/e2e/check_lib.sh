# check_lib.sh — what every shell test shares: a private temporary
# directory and the check helpers. Source it after `set -u`:
#   . "$(dirname "$0")/check_lib.sh"
# It sets tmp (removed by an EXIT trap, which a test may replace with one
# that also removes it), fail (1 once a check failed) and n (checks passed).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0
ok() { n=$((n + 1)); }
bad() { echo "FAIL: $*"; fail=1; }
check_eq() { # name got want
  if [ "$2" == "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}
check_rc() { # name got want  (the message shows the start of $tmp/err)
  if [ "$2" -eq "$3" ]; then ok; else bad "$1: exit $2, want $3 ($(head -c 400 "$tmp/err" 2>/dev/null))"; fi
}
check_grep() { # name pattern file
  if grep -q -- "$2" "$3"; then ok; else bad "$1: '$2' not in $(head -c 400 "$3")"; fi
}
check_nogrep() { # name fixed-string file
  if grep -q -F -- "$2" "$3"; then bad "$1: found '$2' in $3"; else ok; fi
}
