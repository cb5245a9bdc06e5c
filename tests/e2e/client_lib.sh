# client_lib.sh — shared by the client shell tests (test_call*.sh,
# test_token*.sh, test_quickstart.sh): a private emulator on port 0, an
# application with a registered key and a kit, and small check helpers.
# Source it after `set -u`; it sets tmp, TAAP and an EXIT trap.
TAAP=${TAAP_BIN:?TAAP_BIN must be set}
command -v curl >/dev/null || { echo "SKIP: no curl command"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl command"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: no jq command"; exit 77; }

. "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
EMU_PID=
cleanup() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# Never let a CI proxy divert loopback traffic, and keep caches/profiles private.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
unset TAAP_BASE_URL TAAP_CLIENT_ID TAAP_CLIENT_SECRET TAAP_PRIVATE_KEY TAAP_PROFILE TAAP_TOKEN_PATH
export XDG_CACHE_HOME="$tmp/cache" XDG_CONFIG_HOME="$tmp/config"

finish() {
  if [ "$fail" -ne 0 ]; then echo "serve log tail:"; tail -5 "$tmp/serve.log" 2>/dev/null; exit 1; fi
  echo "ok: $n checks"; exit 0
}

# start_emu [serve flags…]: start `taap serve --port 0`; sets PORT, BASE, ADMIN.
# Waits by reading the server's "listening on" line (no polling).
start_emu() {
  exec 3< <(exec "$TAAP" serve --port 0 --port-file "$tmp/port" --db "$tmp/serve.db" \
    --admin-token-file "$tmp/admin" --secret-iterations 1000 "$@" 2>"$tmp/serve.log")
  EMU_PID=$!
  local line
  while IFS= read -r -t 30 line <&3; do
    case $line in *"listening on"*) break ;; esac
  done
  PORT=$(cat "$tmp/port")
  BASE="http://127.0.0.1:$PORT"
  ADMIN=$(tr -d '\n' <"$tmp/admin")
}

stop_emu() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID"; wait "$EMU_PID" 2>/dev/null; EMU_PID=; fi
}

admin() { # METHOD PATH [JSON]
  curl -sS --noproxy '*' -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -X "$1" "$BASE$2" ${3:+--data-binary "$3"}
}

# make_app NAME: application + subscription + key pair + registered key + kit.
# Sets CLIENT_ID, SECRET (exported as TEST_SECRET), KEY (private key path), ICCID.
make_app() {
  local name=$1
  admin POST /devedge/v1/apps "{\"name\":\"$name\"}" >"$tmp/app-$name.json"
  CLIENT_ID=$(jq -r .clientId "$tmp/app-$name.json")
  SECRET=$(jq -r .clientSecret "$tmp/app-$name.json")
  export TEST_SECRET="$SECRET"
  admin POST "/devedge/v1/apps/$name/subscriptions" '{"api":"iot-connectivity"}' >/dev/null
  KEY="$tmp/key-$name.pem"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEY" 2>/dev/null
  chmod 600 "$KEY"
  openssl pkey -in "$KEY" -pubout -out "$tmp/pub-$name.pem"
  admin POST "/devedge/v1/apps/$name/keys" "$(jq -Rs '{publicKey: .}' "$tmp/pub-$name.pem")" >/dev/null
  admin POST /devedge/v1/kits "{\"app\":\"$name\"}" >"$tmp/kit-$name.json"
  ICCID=$(jq -r .iccid "$tmp/kit-$name.json")
}

# The connection flags for the current app.
conn() { echo --base-url "$BASE" --client-id "$CLIENT_ID" --secret-env TEST_SECRET --key "$KEY"; }

# How many token requests the emulator has served (its access log).
token_requests() { grep -c 'POST /oauth2/v2/tokens' "$tmp/serve.log"; }
