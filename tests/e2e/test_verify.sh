#!/usr/bin/env bash
# test_verify.sh — `taap verify` as a command: exit status = the SPEC §2 code,
# a one-line reason on stderr, --json fields, --replay-cache across runs,
# tokens from stdin, streamed bodies, --require. Tokens come from `taap pop`
# with a pinned clock, so every verdict is reproducible.
set -u
taap=${TAAP_BIN:?}
shared=${TAAP_SHARED:?}
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

install -m 600 "$shared/conformance/rfc7515-a2/rfc7515-a2.pkcs8.pem" "$tmp/priv.pem"
pub=$shared/conformance/rfc7515-a2/rfc7515-a2.spki.pem
other=$shared/conformance/rfc7520-4.1/rfc7520-4.1.spki.pem
url='https://api.example.com/iot-connectivity/v1/devices/8901260000000000001?fields=all'
auth='Bearer abc123'
body='{"status":"SUSPENDED"}'
now=1700000000

# The pop help must not be the placeholder; skip (77) only if pop is missing.
if ! "$taap" pop --help 2>/dev/null | grep -q 'PoP'; then echo "SKIP: taap pop not available"; exit 77; fi
tok=$("$taap" pop --key "$tmp/priv.pem" --now $now -X PATCH -H "Authorization: $auth" -d "$body" "$url") \
  || { bad "taap pop failed"; exit 1; }

# expect CODE DESCRIPTION -- taap verify args…  (stdout/stderr kept in $tmp)
expect() {
  local want=$1 what=$2; shift 3
  "$taap" verify "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -eq "$want" ]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, expected $want: $(cat "$tmp/err")"; fi
}
req=(-X PATCH -H "Authorization: $auth" -d "$body" "$url")

expect 0 "valid token" -- "$tok" --key "$pub" --now $((now + 5)) "${req[@]}"
grep -q '^valid: jti ' "$tmp/out" && ok "valid prints a summary on stdout" || bad "stdout: $(cat "$tmp/out")"
[ ! -s "$tmp/err" ] && ok "valid prints nothing on stderr" || bad "stderr: $(cat "$tmp/err")"

expect 13 "expired" -- "$tok" --key "$pub" --now $((now + 133)) "${req[@]}"
[ "$(cat "$tmp/err")" = "taap verify: TAAP_E_EXPIRED: PoP token expired 73 s ago (leeway 10 s)" ] \
  && ok "one-line reason for expiry" || bad "reason: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && ok "exactly one line on stderr" || bad "stderr lines"
expect 0 "within a wider --leeway" -- "$tok" --key "$pub" --now $((now + 133)) --leeway 80 "${req[@]}"
expect 14 "iat in the future" -- "$tok" --key "$pub" --now $((now - 11)) "${req[@]}"
expect 15 "--max-lifetime below the token's 60 s" -- "$tok" --key "$pub" --now $now --max-lifetime 30 "${req[@]}"

expect 19 "tampered body" -- "$tok" --key "$pub" --now $now -X PATCH -H "Authorization: $auth" \
  -d '{"status":"ACTIVE"}' "$url"
expect 19 "tampered query" -- "$tok" --key "$pub" --now $now -X PATCH -H "Authorization: $auth" \
  -d "$body" "${url%all}none"
expect 19 "method changed" -- "$tok" --key "$pub" --now $now -X PUT -H "Authorization: $auth" -d "$body" "$url"
expect 17 "signed header missing" -- "$tok" --key "$pub" --now $now -X PATCH -d "$body" "$url"
expect 12 "another key" -- "$tok" --key "$other" --now $now "${req[@]}"
expect 10 "not a token" -- "abc.def" --key "$pub" --now $now "${req[@]}"
expect 10 "trailing newline in the argument" -- "$tok"$'\n' --key "$pub" --now $now "${req[@]}"
expect 2 "no key" -- "$tok" --now $now "${req[@]}"
expect 2 "no token" -- --key "$pub"
expect 2 "bad --now" -- "$tok" --key "$pub" --now soon "${req[@]}"
expect 21 "unreadable key" -- "$tok" --key "$tmp/missing.pem" --now $now "${req[@]}"

# Token from stdin (as piped from taap pop, with its newline).
printf '%s\n' "$tok" | "$taap" verify - --key "$pub" --now $now "${req[@]}" >/dev/null 2>"$tmp/err"
rc=$?; [ $rc -eq 0 ] && ok "token from stdin" || bad "stdin token: exit $rc $(cat "$tmp/err")"

# Body streamed from a file with --data-binary @FILE (pop and verify alike).
printf '%s' "$body" >"$tmp/body.json"
ftok=$("$taap" pop --key "$tmp/priv.pem" --now $now -X PATCH -H "Authorization: $auth" --data-binary @"$tmp/body.json" "$url")
expect 0 "body from a file" -- "$ftok" --key "$pub" --now $now -X PATCH -H "Authorization: $auth" \
  --data-binary @"$tmp/body.json" "$url"
printf ' ' >>"$tmp/body.json"
expect 19 "body file changed by one byte" -- "$ftok" --key "$pub" --now $now -X PATCH \
  -H "Authorization: $auth" --data-binary @"$tmp/body.json" "$url"

# Coverage: a token that leaves Authorization out passes the default policy
# but not --require Authorization.
ntok=$("$taap" pop --key "$tmp/priv.pem" --now $now --no-sign-header Authorization -X PATCH \
       -H "Authorization: $auth" -d "$body" "$url")
expect 0 "Authorization unsigned, default policy" -- "$ntok" --key "$pub" --now $now "${req[@]}"
expect 18 "--require Authorization" -- "$ntok" --key "$pub" --now $now --require uri \
  --require http-method --require body --require Authorization "${req[@]}"
expect 0 "--require authorization on a token that covers it" -- "$tok" --key "$pub" --now $now \
  --require uri --require authorization "${req[@]}"

# Replay across runs through the SQLite cache.
cache=$tmp/replay.db
expect 0 "first use with --replay-cache" -- "$tok" --key "$pub" --now $now --replay-cache "$cache" "${req[@]}"
expect 20 "second use with --replay-cache" -- "$tok" --key "$pub" --now $((now + 1)) --replay-cache "$cache" "${req[@]}"
grep -q 'TAAP_E_REPLAY' "$tmp/err" && ok "replay reason" || bad "replay reason: $(cat "$tmp/err")"
# A failing token is not recorded: the tampered-body run leaves the jti free.
ttok=$("$taap" pop --key "$tmp/priv.pem" --now $now -X PATCH -H "Authorization: $auth" -d "$body" "$url")
expect 19 "tampered use with --replay-cache" -- "$ttok" --key "$pub" --now $now --replay-cache "$cache" \
  -X PATCH -H "Authorization: $auth" -d '{}' "$url"
expect 0 "genuine use after a failed one" -- "$ttok" --key "$pub" --now $now --replay-cache "$cache" "${req[@]}"

# --json
"$taap" verify "$tok" --json --key "$pub" --now $((now + 5)) "${req[@]}" >"$tmp/j" 2>/dev/null
rc=$?
if [ $rc -eq 0 ] && jq -e '.valid == true and .code == "TAAP_OK" and .exit == 0 and .header.alg == "RS256"
      and .claims.iat == 1700000000 and .claims.exp == 1700000060 and (.claims.jti | length) == 36
      and .claims.ehts == "Content-Type;Authorization;uri;http-method;body" and .message == "valid"' "$tmp/j" >/dev/null; then
  ok "--json on a valid token"
else bad "--json valid (exit $rc): $(cat "$tmp/j")"; fi
"$taap" verify "$tok" --json --key "$pub" --now $((now + 133)) "${req[@]}" >"$tmp/j" 2>/dev/null
rc=$?
if [ $rc -eq 13 ] && jq -e '.valid == false and .code == "TAAP_E_EXPIRED" and .exit == 13
      and (.message | test("expired 73 s ago"))' "$tmp/j" >/dev/null; then
  ok "--json on an expired token"
else bad "--json expired (exit $rc): $(cat "$tmp/j")"; fi
if grep -qF "$tok" "$tmp/j"; then bad "--json printed the whole token"; else ok "--json does not echo the token"; fi
"$taap" verify "not-a-token" --json --key "$pub" --now $now "${req[@]}" >"$tmp/j" 2>/dev/null
jq -e '.valid == false and .exit == 10 and .header == null and .claims == null' "$tmp/j" >/dev/null \
  && ok "--json on garbage" || bad "--json garbage: $(cat "$tmp/j")"

"$taap" verify --help | head -1 | grep -q '^usage: taap verify' && ok "--help" || bad "--help"

[ $fail -eq 0 ] && echo "verify: all ok"
exit $fail
