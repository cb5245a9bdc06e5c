#!/bin/sh
# Build ngx_http_taap_module.so against Debian's nginx (docs/GATEWAY.md).
#   scripts/build-nginx-module.sh OUT_DIR LIBTAAP_A LIBREDIS_A [CC]
# nginx-dev ships nginx's build kit in /usr/share/nginx/src with the exact
# configure flags of the packaged binary (conf_flags: --with-compat and the
# rest of its signature), so a module built here loads into /usr/sbin/nginx.
# The kit is copied into OUT_DIR (configure writes next to itself) and
# configured once; later runs only recompile the module. The module carries
# the static core and Redis libraries inside it, their symbols hidden.
set -eu
out=${1:?usage: build-nginx-module.sh OUT_DIR LIBTAAP_A LIBREDIS_A [CC]}
libtaap=${2:?libtaap.a}
libredis=${3:?libtaap-replay-redis.a}
cc=${4:-cc}
kit=/usr/share/nginx/src
src=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$kit/configure" ] || [ ! -f "$kit/conf_flags" ]; then
  echo "build-nginx-module: $kit is missing: install nginx-dev (scripts/deps.sh does)" >&2
  exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The module's config (its source list) is in the signature: a tree
# configured before a source file was added reconfigures.
sig="$(nginx -V 2>&1 | sed -n 's/^nginx version: //p') $cc $libtaap $libredis $(cksum <"$src/src/nginx/config")"
if [ ! -f "$out/objs/Makefile" ] || [ "$(cat "$out/.signature" 2>/dev/null)" != "$sig" ]; then
  rm -rf "$out/kit" "$out/objs"
  cp -R "$kit" "$out/kit"
  # Debian's flags plus ours; the libraries by absolute path.
  cflags="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)"
  ldflags="$(dpkg-buildflags --get LDFLAGS) -fPIC"
  export TAAP_MODULE_INCS="$src/include"
  export TAAP_MODULE_LIBS="-Wl,--exclude-libs,ALL $libredis $libtaap -lhiredis -ljansson -lcrypto -lpthread"
  (
    cd "$out/kit"
    flags=$(sed -n 's/^NGX_CONF_FLAGS=( \(.*\) )$/\1/p' conf_flags)
    # shellcheck disable=SC2086
    ./configure --with-cc="$cc" --with-cc-opt="$cflags" --with-ld-opt="$ldflags" $flags \
      --add-dynamic-module="$src/src/nginx" --builddir="$out/objs" >"$out/configure.log" 2>&1 ||
      { echo "build-nginx-module: configure failed (see $out/configure.log)" >&2; exit 1; }
  )
  echo "$sig" >"$out/.signature"
fi
# The libraries are not in nginx's dependency list: relink when they change.
rm -f "$out/objs/ngx_http_taap_module.so"
make -s -f "$out/objs/Makefile" -C "$out/kit" modules >"$out/make.log" 2>&1 ||
  { cat "$out/make.log" >&2; echo "build-nginx-module: make failed" >&2; exit 1; }
cp "$out/objs/ngx_http_taap_module.so" "$out/ngx_http_taap_module.so"
