#!/usr/bin/env bash
# The web console in a real browser: headless Debian Chromium driven by
# python3-selenium (tests/e2e/console_browser.py) through sign-in, an
# application, a refused private key and a public key, a kit, and the live
# request log explaining a PoP that signed the percent-encoded query.
# Screenshots stay in $TAAP_BUILD/test-artifacts/console/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/client_lib.sh"
py=/usr/bin/python3 # Debian's, where python3-selenium lives
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { echo "SKIP: chromium/chromium-driver not installed"; exit 77; }
"$py" -c 'import selenium' 2>/dev/null || { echo "SKIP: python3-selenium not installed"; exit 77; }
art=${TAAP_BUILD:-$tmp}/test-artifacts/console
rm -rf "$art" && mkdir -p "$art"
cd "$tmp" || exit 1
start_emu
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null
chmod 600 key.pem
openssl pkey -in key.pem -pubout -out pub.pem
export BASE ADMIN TAAP KEY="$tmp/key.pem" PUB="$tmp/pub.pem" PRIV_PASTE="$tmp/key.pem" \
  ARTIFACTS="$art" PROFILE_DIR="$tmp/chromium-profile"
export XDG_CACHE_HOME="$tmp/cache" XDG_CONFIG_HOME="$tmp/config" HOME="$tmp"
if ! timeout 300 "$py" "$here/console_browser.py"; then
  echo "serve log tail:"; tail -20 "$tmp/serve.log"; exit 1
fi
ls "$art"/*.png >/dev/null 2>&1 || { echo "FAIL: no screenshots in $art"; exit 1; }
