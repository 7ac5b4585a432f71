// Prints how binding.gyp links the OpenMP runtime (libgomp), so that the addon loads on systems
// without libgomp.so.1 whenever a PIC static libgomp can be had:
//  - ATTNODE_LIBGOMP_A=/path/libgomp.a: that archive, statically (prebuilds: scripts/libgomp-pic.sh
//    builds it from GCC's sources, because Debian's g++ 12 ships a libgomp.a that is not PIC: its
//    local-exec TLS relocations cannot go into a shared object);
//  - else the toolchain's own libgomp.a, if a test link into a shared object works;
//  - else `-fopenmp`: libgomp.so.1 becomes a runtime dependency of this (source) build.
// A one-line note on stderr says which; stdout is what gyp splices into "libraries".
const { execFileSync } = require('node:child_process');
const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');

const cxx = process.env.CXX || 'c++';
const STATIC_TAIL = ['-pthread', '-ldl'];

function linksIntoSharedObject(archive) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-omp-'));
  try {
    const src = path.join(dir, 't.cpp');
    fs.writeFileSync(src, 'extern "C" int f(int n){int s=0;\n#pragma omp parallel for reduction(+:s)\nfor(int i=0;i<n;i++)s+=i;return s;}\n');
    execFileSync(cxx, ['-fPIC', '-fopenmp', '-shared', src, '-o', path.join(dir, 't.so'),
      '-Wl,--no-undefined', archive, ...STATIC_TAIL], { stdio: 'ignore' });
    return true;
  } catch { return false; } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

function choose() {
  const forced = process.env.ATTNODE_LIBGOMP_A;
  if (forced) {
    if (!fs.existsSync(forced)) { console.error(`openmp-link: ATTNODE_LIBGOMP_A=${forced} does not exist`); process.exit(1); }
    return { args: [path.resolve(forced), ...STATIC_TAIL], note: `static libgomp from ${forced}` };
  }
  let archive = '';
  try { archive = execFileSync(cxx, ['-print-file-name=libgomp.a'], { encoding: 'utf8' }).trim(); } catch { /* no compiler */ }
  if (archive && path.isAbsolute(archive) && linksIntoSharedObject(archive)) {
    return { args: [archive, ...STATIC_TAIL], note: `static libgomp from ${archive}` };
  }
  return { args: ['-fopenmp'], note: 'dynamic libgomp (the toolchain\'s libgomp.a is not PIC); the addon needs libgomp.so.1 at run time' };
}

const { args, note } = choose();
console.error('attnode: OpenMP runtime: ' + note);
console.log(args.join(' '));
