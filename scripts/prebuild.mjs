// Builds the prebuilt binary for this platform into <out>/prebuilds/<platform>-<arch>/
// (default <out>: the package root) with prebuildify (N-API, stripped, tagged with the libc):
//   node scripts/prebuild.mjs [--out DIR]
// prebuildify runs `node-gyp rebuild`, which wipes build/: so it runs in a scratch copy of the
// native sources and never touches the build/ that the working tree's tests load.
// The binary links a PIC static libgomp (scripts/libgomp-pic.sh unless ATTNODE_LIBGOMP_A is set) and
// this script fails if the result still needs libgomp.so.1 or exports OpenMP symbols.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const out = path.resolve(outArg > 0 ? process.argv[outArg + 1] : root);
const log = (m) => console.log(`prebuild: ${m}`);
const die = (m) => { console.error(`prebuild: ${m}`); process.exit(1); };

// Only what `node-gyp rebuild` reads; node_modules is linked for node-addon-api and node-gyp.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-prebuild-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
for (const rel of ['package.json', 'binding.gyp', 'native', 'scripts/sources.cjs', 'scripts/probe-avx512.cjs', 'scripts/openmp-link.cjs']) {
  fs.cpSync(path.join(root, rel), path.join(scratch, rel), {
    recursive: true, filter: (src) => !/[\\/]native[\\/](tests|bench)([\\/]|$)/.test(src),
  });
}
fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));

const env = { ...process.env, JOBS: process.env.JOBS ?? '2', npm_config_jobs: process.env.npm_config_jobs ?? '2' };
// Node's own headers when they are installed next to it (distro and nodesource packages, official
// tarballs): node-gyp would otherwise try to download them, and we may be offline.
const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
if (!env.npm_config_nodedir && fs.existsSync(path.join(nodePrefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = nodePrefix;
}
if (!env.ATTNODE_LIBGOMP_A && process.platform === 'linux') {
  const r = spawnSync('bash', [path.join(root, 'scripts', 'libgomp-pic.sh')], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) die('could not get a PIC libgomp.a (see above); set ATTNODE_LIBGOMP_A to one');
  env.ATTNODE_LIBGOMP_A = r.stdout.trim();
}
env.PREBUILD_NODE_GYP = path.join(root, 'node_modules', '.bin', 'node-gyp');

const args = [path.join(root, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip', '--tag-libc',
  '-t', process.versions.node];
log(`prebuildify ${args.slice(1).join(' ')} (in ${scratch})`);
const r = spawnSync(process.execPath, args, { cwd: scratch, env, stdio: 'inherit' });
if (r.status !== 0) die(`prebuildify failed (exit ${r.status})`);

const tuple = `${process.platform}-${process.arch}`;
const built = path.join(scratch, 'prebuilds', tuple);
const files = fs.readdirSync(built).filter((f) => f.endsWith('.node'));
if (files.length !== 1) die(`expected one .node in ${built}, found: ${files.join(', ') || 'none'}`);
const file = path.join(built, files[0]);

if (process.platform === 'linux') {
  const dyn = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  log(`NEEDED: ${needed.join(' ')}`);
  if (needed.some((n) => /gomp|omp\.so/.test(n))) die('the prebuilt binary still needs a shared OpenMP runtime');
  const syms = execFileSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8' });
  if (/\b(GOMP_|omp_)\w+/.test(syms)) die('the prebuilt binary exports OpenMP symbols (--exclude-libs missing?)');
  // The newest symbol versions it asks for: the oldest glibc/libstdc++ it runs on (README says so).
  const versions = execFileSync('objdump', ['-T', file], { encoding: 'utf8' }).match(/\b(GLIBC|GLIBCXX|CXXABI)_[0-9.]+/g) ?? [];
  const newest = new Map();
  const cmp = (a, b) => { const x = a.split('.').map(Number), y = b.split('.').map(Number); for (let i = 0; i < Math.max(x.length, y.length); i++) { if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0); } return 0; };
  for (const v of versions) { const [lib, ver] = v.split('_'); if (!newest.has(lib) || cmp(ver, newest.get(lib)) > 0) newest.set(lib, ver); }
  log(`needs at least: ${[...newest].map(([l, v]) => `${l} ${v}`).join(', ')}`);
}
const dest = path.join(out, 'prebuilds', tuple);
fs.mkdirSync(dest, { recursive: true });
fs.copyFileSync(file, path.join(dest, files[0]));
log(`${path.join(dest, files[0])} (${(fs.statSync(file).size / 1024).toFixed(0)} KiB)`);
