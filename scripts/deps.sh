#!/bin/sh
# Install the Debian packages taap needs to build, test and benchmark,
# only those that are missing. Idempotent; silent when everything is present.
set -eu

# The build, then what the test suite drives: curl, openssl, jq and node
# (interop), cppcheck and clang-tidy (static analysis), clang and its
# runtime (fuzzing), valgrind (make memcheck). A test whose tool is missing
# would be skipped, so they are all installed.
PKGS="build-essential cmake ninja-build pkg-config git ca-certificates \
libssl-dev openssl libjansson-dev libcurl4-openssl-dev curl libmicrohttpd-dev \
libsqlite3-dev sqlite3 libcmocka-dev jq cppcheck clang-tidy clang libclang-rt-14-dev \
nodejs valgrind"

# Extra packages per purpose: `deps.sh bench` adds the load generator.
for extra in "$@"; do
  case "$extra" in
    bench) PKGS="$PKGS wrk hyperfine" ;;
    *) echo "deps.sh: unknown extra '$extra' (known: bench)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $PKGS; do
  # nodejs may come from outside Debian on some machines; accept any `node`.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

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
