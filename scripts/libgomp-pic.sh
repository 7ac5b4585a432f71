#!/usr/bin/env bash
# Prints the path of a libgomp.a compiled with -fPIC from the same GCC release as $CXX, building it
# once into a cache. Why: the prebuilt addon must load where libgomp.so.1 is absent, so it links the
# OpenMP runtime statically; Debian's g++ 12 ships a libgomp.a built as PIE code (local-exec TLS,
# R_X86_64_TPOFF32) that the linker refuses to put into a shared object.
# Source: Debian's gcc-<major>-source package (installed with apt-get when we are root).
# Cost: about 40 s once (extract ~10 s, configure ~10 s, make -j2 ~20 s); then the cache answers.
# Messages go to stderr; stdout is the archive's path only.
set -euo pipefail
CXX=${CXX:-g++}
full=$("$CXX" -dumpfullversion)
major=${full%%.*}
cache=${ATTNODE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attnode}/libgomp-pic/$full
if [ -s "$cache/libgomp.a" ]; then echo "$cache/libgomp.a"; exit 0; fi

find_src() { ls /usr/src/gcc-"$major"/gcc-*.tar.* 2>/dev/null | grep -v '/gm2-' | head -n 1 || true; }
src=$(find_src)
if [ -z "$src" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "libgomp-pic: installing gcc-$major-source (Debian) for libgomp's sources" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "gcc-$major-source" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "gcc-$major-source" >&2; }
  src=$(find_src)
fi
if [ -z "$src" ]; then
  echo "libgomp-pic: no GCC $major source tarball in /usr/src/gcc-$major (install Debian's gcc-$major-source," \
       "or set ATTNODE_LIBGOMP_A to a PIC libgomp.a)" >&2
  exit 1
fi
srcver=$(basename "$src" | sed -E 's/^gcc-([0-9][0-9.]*).*/\1/')
# The compiler emits GOMP_* calls of its own major release; a libgomp of the same major provides them.
if [ "${srcver%%.*}" != "$major" ]; then echo "libgomp-pic: source $srcver does not match $CXX $full" >&2; exit 1; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/attnode-libgomp.XXXXXX")
trap 'rm -rf "$work"' EXIT
top="gcc-$srcver"
echo "libgomp-pic: building libgomp $srcver with -fPIC from $src" >&2
# Only libgomp and the top-level autoconf helpers its configure script looks for.
tar -xf "$src" -C "$work" --wildcards "$top/libgomp/*" "$top/include/*" "$top/config/*" \
  "$top/config.guess" "$top/config.sub" "$top/install-sh" "$top/ltmain.sh" "$top/config-ml.in" \
  "$top/missing" "$top/depcomp" "$top/compile" "$top/mkinstalldirs" "$top/gcc/BASE-VER" >&2
mkdir "$work/build"
case "$CXX" in *g++*) cc=${CXX/g++/gcc} ;; *) cc=gcc ;; esac  # libgomp is C: the matching gcc
cc=${CC:-$cc}
(cd "$work/build" && CC="$cc" CFLAGS="-O2 -fPIC -g0" "../$top/libgomp/configure" --disable-multilib \
  --enable-static --disable-shared --with-pic --disable-werror >configure.log 2>&1) \
  || { tail -n 30 "$work/build/configure.log" >&2; exit 1; }
make -C "$work/build" -j "${JOBS:-2}" libgomp.la >"$work/build/make.log" 2>&1 \
  || { tail -n 30 "$work/build/make.log" >&2; exit 1; }
mkdir -p "$cache"
cp "$work/build/.libs/libgomp.a" "$cache/libgomp.a.tmp" && mv "$cache/libgomp.a.tmp" "$cache/libgomp.a"
echo "libgomp-pic: cached $cache/libgomp.a" >&2
echo "$cache/libgomp.a"
