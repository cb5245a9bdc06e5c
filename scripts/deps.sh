#!/bin/sh
# Install the Debian packages taap needs to build, test or benchmark,
# only those that are missing. Idempotent; silent when everything is present.
set -eu

# Packages by purpose (`deps.sh PURPOSE...`, default `test`):
#   build  what `make` and `make demo` need: the compiler, CMake and the
#          libraries taap links (the command and its emulator; hiredis for
#          the Redis replay cache);
#   test   build + what the test suite drives: cmocka, curl, openssl, jq and
#          node (interop), npm and the script sandbox (taap run's scripts),
#          cppcheck and clang-tidy (static analysis), clang and its runtime
#          (fuzzing, the clang build), valgrind (make memcheck), a
#          headless browser and its driver (the web console's e2e test),
#          Debian's nginx with its module kit nginx-dev (same version and
#          configure signature as the binary: the gateway module is built
#          and tested against it) and redis-server (the shared replay cache), zsh and fish (the
#          completion test).
#          A test whose tool is missing would be skipped, so all are installed;
#   bench  test + the load generator and the command timer;
#   gateway  build + nginx and nginx-dev (`make nginx-module`).
BUILD_PKGS="build-essential cmake ninja-build pkg-config ca-certificates \
libssl-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libsqlite3-dev libhiredis-dev"
TEST_PKGS="git openssl curl sqlite3 libcmocka-dev jq cppcheck clang-tidy clang \
libclang-rt-14-dev nodejs npm valgrind chromium chromium-driver python3-selenium \
nginx nginx-dev redis-server zsh fish"
BENCH_PKGS="wrk hyperfine"

[ $# -eq 0 ] && set -- test
PKGS="$BUILD_PKGS"
SANDBOX=""
for purpose in "$@"; do
  case "$purpose" in
    build) ;;
    test) PKGS="$PKGS $TEST_PKGS"; SANDBOX=1 ;;
    bench) PKGS="$PKGS $TEST_PKGS $BENCH_PKGS"; SANDBOX=1 ;;
    gateway) PKGS="$PKGS nginx nginx-dev" ;;
    *) echo "deps.sh: unknown purpose '$purpose' (known: build, test, bench, gateway)" >&2; exit 2 ;;
  esac
done

# The script sandbox of `taap run` (Postman's postman-sandbox, pinned by
# src/postman/sandbox/package-lock.json) goes into src/postman/sandbox/
# node_modules, where a build-tree taap finds it (`make install` copies it).
# Reinstalled only when the lock file changed.
# Newman, pinned by tests/newman/package-lock.json, goes into tests/newman/
# node_modules for the test that compares `taap run` with it.
npm_ci() { # DIR WHAT
  dir="$(cd "$(dirname "$0")/.." && pwd)/$1"
  stamp="$dir/node_modules/.taap-lock"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$dir/package-lock.json"; then return 0; fi
  echo "deps.sh: installing $2 (npm ci in $dir)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$dir/package-lock.json" "$stamp"
}
sandbox_npm() {
  [ -n "$SANDBOX" ] || return 0
  npm_ci src/postman/sandbox "the script sandbox"
  npm_ci tests/newman "Newman for the comparison test"
}

missing=""
for p in $PKGS; do
  # nodejs may come from outside Debian on some machines; accept any `node`.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && { sandbox_npm; exit 0; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "deps.sh: missing packages:$missing (run as root or install them)" >&2; exit 1
  fi
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
sandbox_npm
