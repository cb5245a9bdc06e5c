#!/usr/bin/env bash
# Every shell example in README.md runs as written, so an example that stops
# working fails `make test`.
#
# The examples are taken from README.md itself, mechanically: every fenced
# block marked ```sh, ```bash or ```console. A console block is a transcript:
# its commands are the lines starting with "$ " (and their "\" continuation
# lines); the other lines are output and are not compared (ids, secrets and
# times differ on every run). A sh/bash block runs whole. A plain ``` block
# that holds a "$ " line is an error: a shell example must say it is one.
#
# They run in order, in one bash session (variables carry over, as for a
# reader going top to bottom), in a temporary directory, with the built taap
# first on PATH and errexit's rule applied to every command (an ERR trap:
# pipefail, errtrace — a failing command inside $(…) counts too). A command
# that is meant to fail says so the shell's way (`cmd || echo "exit $?"`).
#
# What a reader provides by hand is provided here, before the first example:
# the emulator the README starts in the foreground runs in the background on
# a free loopback port, in the same directory (taap.db, taap.db.admin-token,
# port), seeded with --init and a key pair ./private-key.pem, public-key.pem;
# the values it prints are in BASE, CLIENT_ID, CLIENT_SECRET, TAAP_EMU_SECRET
# and ICCID; URL is the device's URL, AT an access token and POP a PoP token
# for it; body.json, env.json, quickstart.postman_environment.json,
# iccids.csv and examples/ (the repository's) are there.
#
# Markers, an HTML comment on the line before the fence:
#   <!-- readme-test: skip REASON -->   not run (needs the internet, a T-Mobile
#                                        account, a foreground server, ...);
#                                        counted and listed, never silent
#   <!-- readme-test: fresh-dir -->     run in a new empty directory (e.g.
#                                        `taap keygen`, which never overwrites)
set -u
bin=${TAAP_BIN:?}; src=${TAAP_SRC:?}
. "$(dirname "$0")/check_lib.sh"
for c in curl jq timeout; do
  command -v $c >/dev/null || { echo "SKIP: no $c command"; exit 77; }
done
bindir=$(cd "$(dirname "$bin")" && pwd)
readme=$src/README.md

# ---- extract -----------------------------------------------------------------
# One record per block: "BLOCK|kind|line|marker" then its lines as
# "LINE|lineno|text" ("kind" is sh or console; "|" stands for \x1f).
awk -v OFS='\037' '
  function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
  !inb && /^```/ {
    info = trim(substr($0, 4)); inb = 1; start = NR
    kind = (info == "sh" || info == "bash") ? "sh" : info == "console" ? "console" : info == "" ? "plain" : "other"
    marker = ""
    if (prev ~ /^<!-- readme-test: .* -->$/) { marker = prev; sub(/^<!-- readme-test: /, "", marker); sub(/ -->$/, "", marker) }
    if (kind == "sh" || kind == "console") print "BLOCK", kind, start, marker
    prev = $0; next
  }
  inb && /^```/ { inb = 0; prev = $0; next }
  inb && kind == "plain" && /^\$ / { print "UNMARKED", NR }
  inb && (kind == "sh" || kind == "console") { print "LINE", NR, $0 }
  { prev = $0 }
' "$readme" >"$tmp/blocks"

unmarked=$(awk -F'\037' '$1 == "UNMARKED" {print $2}' "$tmp/blocks" | tr '\n' ' ')
[ -z "$unmarked" ] || bad "README lines $unmarked: a '\$ ' command in a plain \`\`\` block; mark it \`\`\`console"

# ---- the script the examples run in --------------------------------------------
script=$tmp/examples.sh
skipped=0 ran=0 commands=0
: >"$tmp/skips"
{
  echo 'set -E -o pipefail'
  echo 'trap '\''echo "README line $__line: exit $?: $BASH_COMMAND" >>"$__fails"'\'' ERR'
} >"$script"
block_kind= block_dir= cont=0
while IFS=$'\037' read -r tag a b c; do
  if [ "$tag" = BLOCK ]; then
    block_kind=$a; block_line=$b; marker=$c; cont=0; skip_block=0
    case $marker in
      skip*) skipped=$((skipped + 1)); skip_block=1
             printf '  line %s: %s\n' "$block_line" "${marker#skip }" >>"$tmp/skips"; continue ;;
      fresh-dir) echo "__d=\$(mktemp -d \"\$__work/fresh.XXXXXX\") && cd \"\$__d\"" >>"$script" ;;
      '') echo 'cd "$__work"' >>"$script" ;;
      *) bad "README line $block_line: unknown marker '$marker'" ;;
    esac
    ran=$((ran + 1))
    echo "echo \"# README line $block_line\" >&2" >>"$script"
    continue
  fi
  [ "$skip_block" = 1 ] && continue
  lineno=$a; text=$b
  if [ "$block_kind" = console ]; then
    if [ $cont = 0 ]; then
      case $text in
        '$ '*) text=${text#\$ } ;;
        *) continue ;;
      esac
    fi
  fi
  if [ $cont = 0 ] && [ -n "${text// /}" ] && [ "${text#\#}" = "$text" ]; then
    echo "__line=$lineno" >>"$script"
    commands=$((commands + 1))
  fi
  printf '%s\n' "$text" >>"$script"
  case $text in *\\) cont=1 ;; *) cont=0 ;; esac
done <"$tmp/blocks"
echo 'jobs -p | xargs -r kill 2>/dev/null; wait' >>"$script"

[ $ran -ge 10 ] && [ $commands -ge 20 ] ||
  bad "only $ran README blocks ($commands commands) found to run: the extraction is broken"

# ---- what a reader provides by hand ------------------------------------------------
work=$tmp/work
mkdir -p "$work" "$tmp/home/cache" "$tmp/home/config"
export HOME=$tmp/home XDG_CACHE_HOME=$tmp/home/cache XDG_CONFIG_HOME=$tmp/home/config
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
unset TAAP_BASE_URL TAAP_CLIENT_ID TAAP_CLIENT_SECRET TAAP_PRIVATE_KEY TAAP_PROFILE TAAP_TOKEN_PATH
export PATH="$bindir:$PATH" TMPDIR=$tmp
cd "$work" || exit 1
taap keygen >/dev/null 2>&1 || { echo "FAIL: taap keygen for the fixture"; exit 1; }
EMU_PID=
cleanup() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
exec 3< <(exec taap serve --db taap.db --port 0 --port-file port --init --init-key public-key.pem \
  --secret-iterations 1000 --json 2>"$tmp/serve.log")
EMU_PID=$!
IFS= read -r -t 30 demo <&3 || { echo "FAIL: the emulator did not start"; cat "$tmp/serve.log"; exit 1; }
export BASE=$(jq -r .url <<<"$demo")
export CLIENT_ID=$(jq -r .account.app.clientId <<<"$demo") CLIENT_SECRET=$(jq -r .account.app.clientSecret <<<"$demo")
export TAAP_EMU_SECRET=$CLIENT_SECRET ICCID=$(jq -r .account.device.iccid <<<"$demo")
export URL=$BASE/iot-connectivity/v1/devices/$ICCID
export AT=$(taap token --base-url "$BASE" --client-id "$CLIENT_ID" --secret-env CLIENT_SECRET \
  --key private-key.pem --no-cache --print)
export POP=$(taap pop -H 'Content-Type: application/json' -H "Authorization: Bearer $AT" "$URL")
[ -n "$AT" ] && [ -n "$POP" ] || { echo "FAIL: no token for the fixture"; exit 1; }
echo '{"status":"ACTIVE"}' >body.json
# the Quick Start's environment (examples/), filled in as its reader does
jq --arg b "$BASE" --arg c "$CLIENT_ID" --arg s "$CLIENT_SECRET" --arg k "$(cat private-key.pem)" --arg i "$ICCID" \
  '(.values[] | select(.key=="baseUrl")).value=$b | (.values[] | select(.key=="client_id")).value=$c
   | (.values[] | select(.key=="client_secret")).value=$s | (.values[] | select(.key=="privateKey")).value=$k
   | (.values[] | select(.key=="ICCID")).value=$i' \
  "$src/examples/quickstart.postman_environment.json" >quickstart.postman_environment.json
cp quickstart.postman_environment.json env.json
printf 'ICCID\n%s\n%s\n' "$ICCID" "$ICCID" >iccids.csv
ln -s "$src/examples" examples

# ---- run them ---------------------------------------------------------------------------
export __work=$work __fails=$tmp/fails
: >"$__fails"
timeout 600 bash "$script" >"$tmp/run.out" 2>"$tmp/run.err" </dev/null
rc=$?
[ $rc -ne 124 ] || bad "the README examples did not finish within 600 s"
if [ -s "$__fails" ]; then
  bad "README examples failed:"
  sed 's/^/    /' "$__fails"
  echo "  stderr of the run (tail):"; tail -20 "$tmp/run.err" | sed 's/^/    /'
fi
n=$((n + commands))
echo "README examples: $ran blocks run ($commands commands), $skipped skipped by marker:"
cat "$tmp/skips"
[ $fail -eq 0 ] && echo "ok"
exit $fail
