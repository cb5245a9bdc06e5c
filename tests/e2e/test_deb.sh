#!/usr/bin/env bash
# `make deb` (CPack DEB from the build tree): the package names its
# dependencies and the ldconfig trigger, holds the command, taap-full, the
# libraries, headers, .pc files (prefix=/usr), the CMake package, man page
# and completions; its taap runs from the unpacked tree; dpkg installs it and
# removes it leaving nothing behind (a private dpkg database and root
# directory: the machine's own packages are not touched).
set -u
build=${TAAP_BUILD:?TAAP_BUILD must point at the build tree}
build=$(cd "$build" && pwd)
for tool in cpack dpkg dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool not installed: skipped"; exit 77; }
done
. "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
cd "$tmp" || exit 1
finish() { if [ "$fail" -ne 0 ]; then exit 1; fi; echo "ok: $n checks"; exit 0; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" > cpack.log 2>&1 ||
  { cat cpack.log; echo "FAIL: cpack"; exit 1; }
deb=$(ls "$tmp"/pkg/taap_*_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat cpack.log; echo "FAIL: no .deb written"; exit 1; }

dpkg-deb --info "$deb" > info.txt
check_grep "Package: taap" '^ Package: taap$' info.txt
for dep in libc6 libssl3 libjansson4 libcurl4 libmicrohttpd12 libsqlite3-0; do
  check_grep "Depends on $dep" "^ Depends:.*$dep" info.txt
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./triggers > triggers 2>/dev/null
check_grep "ldconfig trigger" '^activate-noawait ldconfig$' triggers

dpkg-deb --contents "$deb" | awk '{print $6}' > contents.txt
for f in usr/bin/taap usr/libexec/taap/taap-full usr/include/taap/taap.h \
         usr/lib/pkgconfig/taap.pc usr/lib/pkgconfig/taap-client.pc usr/lib/pkgconfig/taap-postman.pc \
         usr/lib/cmake/taap/taapConfig.cmake usr/share/man/man1/taap.1 \
         usr/share/bash-completion/completions/taap usr/share/fish/vendor_completions.d/taap.fish; do
  check_grep "package holds /$f" "^\./$f\$" contents.txt
done
check_grep "package holds libtaap.so.0" '^\./usr/lib/libtaap\.so\.0' contents.txt
check_nogrep "nothing outside /usr" "./build" contents.txt

dpkg-deb -x "$deb" x
check_eq "taap.pc prefix" "$(sed -n 's/^prefix=//p' x/usr/lib/pkgconfig/taap.pc)" /usr
"$tmp/x/usr/bin/taap" version > version.txt 2>&1
check_grep "unpacked taap runs" '^taap [0-9]' version.txt
"$tmp/x/usr/bin/taap" serve --help > serve-help.txt 2>&1
check_grep "unpacked taap finds its taap-full" 'usage: taap serve' serve-help.txt

# Install and remove with dpkg, in a private database and root.
mkdir -p root db/info db/updates db/triggers && : > db/status && : > db/available
D="dpkg --admindir=$tmp/db --instdir=$tmp/root --force-depends --force-script-chrootless --force-not-root"
$D -i "$deb" > dpkg-i.log 2>&1
check_rc "dpkg -i" $? 0
check_eq "installed files" "$(find root ! -type d | wc -l)" "$(grep -vc '/$' contents.txt)"
$D -l taap > status.txt 2>&1
check_grep "dpkg says installed" '^ii  taap' status.txt
$D --purge taap > dpkg-r.log 2>&1
check_rc "dpkg --purge" $? 0
check_eq "left after removal" "$(find root ! -type d | wc -l)" 0
finish
