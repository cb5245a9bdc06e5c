#!/usr/bin/env bash
# taap installed the way a C user meets it (issue 11 item 6, README
# "Building and installing"):
#  1. `cmake --install BUILD --prefix P` (what `make install PREFIX=P` runs):
#     every .pc file says prefix=P; examples/connectivity.c builds with
#     pkg-config, and a small CMake project builds with find_package(taap
#     CONFIG) against taap::client and taap::postman;
#  2. both programs run against the installed `taap serve` (found by the
#     installed `taap` in ../libexec) and read a device: HTTP 200;
#  3. the uninstall removes every file it installed;
#  4. the same with DESTDIR: the files land under DESTDIR, the .pc files
#     still say the final prefix (pkg-config --define-prefix or
#     PKG_CONFIG_SYSROOT_DIR find them), find_package works from the staging
#     tree, and the uninstall with the same DESTDIR empties it.
set -u
build=${TAAP_BUILD:?TAAP_BUILD must point at the build tree}
src=${TAAP_SRC:?TAAP_SRC must point at the source tree}
for tool in cc cmake pkg-config curl openssl jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool not installed: skipped"; exit 77; }
done
build=$(cd "$build" && pwd)
# client_lib.sh: a private $tmp, the emulator helpers, the EXIT trap. Its
# emulator is the installed command's (TAAP, set here, is what it starts).
. "$(dirname "${BASH_SOURCE[0]}")/client_lib.sh"
TAAP=$tmp/prefix/bin/taap
fail() { echo "FAIL: $*"; [ -f "$tmp/serve.log" ] && tail -20 "$tmp/serve.log"; exit 1; }
cd "$tmp" || exit 1
pcs="taap taap-client taap-postman taap-replay-sqlite"

# A program that needs the runner's library (and, through it, the others).
cat > uses_postman.c <<'C'
#include <stdio.h>
#include <taap/taap.h>
int main(void)
{
    taap_varset *v = taap_varset_new();
    if (!v)
        return 1;
    printf("libtaap %s, varset %s\n", taap_version(), taap_varset_get(v, "none") ? "?" : "empty");
    taap_varset_free(v);
    return 0;
}
C
# A CMake project as a user writes it.
mkdir cmake-user
cat > cmake-user/CMakeLists.txt <<CM
cmake_minimum_required(VERSION 3.22)
project(uses_taap C)
find_package(taap 0.1 CONFIG REQUIRED)
add_executable(connectivity $src/examples/connectivity.c)
target_link_libraries(connectivity PRIVATE taap::client)
add_executable(uses_postman $tmp/uses_postman.c)
target_link_libraries(uses_postman PRIVATE taap::postman)
CM

# build_pkgconfig OUTDIR: compile both programs with pkg-config's flags (the
# caller sets PKG_CONFIG_* for the install under test). The programs run with
# LD_LIBRARY_PATH at the install's lib, as from any prefix ld.so does not
# search (an rpath in the program would not reach libtaap-postman's own
# dependency on libtaap-client).
build_pkgconfig() {
  mkdir -p "$1"
  # shellcheck disable=SC2046
  cc -Wall -o "$1/connectivity" "$src/examples/connectivity.c" \
    $(pkg-config --cflags --libs taap-client) \
    || fail "examples/connectivity.c does not build with pkg-config taap-client"
  # shellcheck disable=SC2046
  cc -Wall -o "$1/uses_postman" uses_postman.c $(pkg-config --cflags --libs taap-postman) \
    || fail "a program using taap-postman does not build with pkg-config"
}
build_cmake() { # OUTDIR PREFIX_PATH
  cmake -S cmake-user -B "$1" -DCMAKE_PREFIX_PATH="$2" > "$1.log" 2>&1 ||
    { cat "$1.log"; fail "find_package(taap CONFIG) against $2"; }
  cmake --build "$1" >> "$1.log" 2>&1 || { cat "$1.log"; fail "the CMake project does not build"; }
}
only_taap_files_left() { # ROOT: no regular file or link left below it
  local left
  left=$(find "$1" ! -type d)
  [ -z "$left" ] || fail "left after uninstall: $left"
}

# ---- 1. install into a prefix ----------------------------------------------
p=$tmp/prefix
cmake --install "$build" --prefix "$p" > install.log 2>&1 || { cat install.log; fail "install"; }
for f in bin/taap libexec/taap/taap-full include/taap/taap.h lib/cmake/taap/taapConfig.cmake \
         share/bash-completion/completions/taap share/zsh/vendor-completions/_taap \
         share/fish/vendor_completions.d/taap.fish share/man/man1/taap.1; do
  [ -e "$p/$f" ] || fail "install did not write $f"
done
export PKG_CONFIG_PATH="$p/lib/pkgconfig"
for pc in $pcs; do
  [ "$(pkg-config --variable=prefix "$pc")" = "$p" ] || fail "$pc.pc: prefix is not $p"
done
[ "$(echo $(pkg-config --libs taap-client))" = "-L$p/lib -ltaap-client -ltaap" ] ||
  fail "pkg-config --libs taap-client: $(pkg-config --libs taap-client)"
build_pkgconfig pc
build_cmake cm "$p"
export LD_LIBRARY_PATH="$p/lib"
pc/uses_postman | grep -q '^libtaap 0\.1\.[0-9]*, varset empty$' || fail "pkg-config uses_postman"
cm/uses_postman | grep -q '^libtaap 0\.1\.[0-9]*, varset empty$' || fail "CMake uses_postman"

# ---- 2. run both against the installed emulator ------------------------------
start_emu
make_app install-test
export TAAP_BASE_URL=$BASE TAAP_CLIENT_ID=$CLIENT_ID TAAP_CLIENT_SECRET=$SECRET TAAP_PRIVATE_KEY=$KEY
for prog in pc/connectivity cm/connectivity; do
  "$prog" "$ICCID" > "$prog.out" 2>&1 || { cat "$prog.out"; fail "$prog against the emulator"; }
  head -1 "$prog.out" | grep -q '^HTTP 200$' || { cat "$prog.out"; fail "$prog: not HTTP 200"; }
  grep -q "$ICCID" "$prog.out" || fail "$prog: the device's ICCID is not in the answer"
done
stop_emu

# ---- 3. uninstall ------------------------------------------------------------
cmake -DMANIFEST="$build/install_manifest.txt" -P "$src/cmake/uninstall.cmake" > un.log 2>&1 ||
  { cat un.log; fail "uninstall"; }
only_taap_files_left "$p"
[ ! -d "$p/include/taap" ] && [ ! -d "$p/lib/cmake/taap" ] || fail "taap's own directories left"

# ---- 4. DESTDIR ----------------------------------------------------------------
stage=$tmp/stage
final=/opt/taap-install-test
DESTDIR=$stage cmake --install "$build" --prefix "$final" > install2.log 2>&1 ||
  { cat install2.log; fail "DESTDIR install"; }
[ ! -e "$final" ] || fail "DESTDIR install wrote outside DESTDIR ($final exists)"
[ -x "$stage$final/bin/taap" ] || fail "DESTDIR install: no $stage$final/bin/taap"
export PKG_CONFIG_PATH="$stage$final/lib/pkgconfig"
for pc in $pcs; do
  [ "$(pkg-config --variable=prefix "$pc")" = "$final" ] || fail "$pc.pc (DESTDIR): prefix is not $final"
done
PKG_CONFIG_SYSROOT_DIR=$stage build_pkgconfig pc2
build_cmake cm2 "$stage$final"
export LD_LIBRARY_PATH="$stage$final/lib"
pc2/uses_postman | grep -q 'varset empty' || fail "staged pkg-config uses_postman"
cm2/uses_postman | grep -q 'varset empty' || fail "staged CMake uses_postman"
DESTDIR=$stage cmake -DMANIFEST="$build/install_manifest.txt" -P "$src/cmake/uninstall.cmake" \
  > un2.log 2>&1 || { cat un2.log; fail "DESTDIR uninstall"; }
only_taap_files_left "$stage"
echo "PASS: prefix and DESTDIR installs build with pkg-config and find_package, run, uninstall"
