#!/usr/bin/env node
// Builds the optional MPI addon (native/dist -> native/dist/build/Release/attnode_mpi.node) when
// Open MPI's headers and wrapper compiler are found; otherwise prints one line and exits 0, so
// `npm install` never fails for want of MPI. Never touches the main addon's build (binding.gyp).
//   node scripts/build-dist.mjs [--required]   (--required: exit 1 when MPI is missing)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const required = process.argv.includes('--required');

function mpiHeader() {
  try {
    const flags = execFileSync('mpicc', ['--showme:compile'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const f of flags.split(/\s+/)) if (f.startsWith('-I') && existsSync(path.join(f.slice(2), 'mpi.h'))) return path.join(f.slice(2), 'mpi.h');
  } catch { /* no wrapper compiler */ }
  return null;
}

const header = mpiHeader();
if (!header) {
  console.log('attnode: MPI not found (no mpicc with mpi.h); skipping the optional MPI addon (apt-get install libopenmpi-dev, then npm run build:dist)');
  process.exit(required ? 1 : 0);
}
// Node's own headers, so node-gyp never downloads them (CI has no route to nodejs.org).
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const prefix = path.dirname(path.dirname(realpathSync(process.execPath)));
  if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
}
// node-gyp: the one npm runs install scripts with (npm_config_node_gyp), else this package's devDependency.
let gyp = env.npm_config_node_gyp && existsSync(env.npm_config_node_gyp) ? env.npm_config_node_gyp : null;
if (!gyp) {
  try {
    const pkg = fileURLToPath(import.meta.resolve('node-gyp/package.json'));
    const bin = JSON.parse(readFileSync(pkg, 'utf8')).bin;
    gyp = path.join(path.dirname(pkg), typeof bin === 'string' ? bin : bin['node-gyp']);
  } catch { /* not installed */ }
}
if (!gyp) {
  console.log('attnode: node-gyp not found; skipping the optional MPI addon (npm install -g node-gyp, then npm run build:dist)');
  process.exit(required ? 1 : 0);
}
const args = ['rebuild', '--directory', path.join(root, 'native', 'dist')];
const r = spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit', env });
if (r.status !== 0) {
  console.log(`attnode: building the MPI addon failed (mpi.h at ${header}); training runs on one process only until \`npm run build:dist\` succeeds`);
  process.exit(required ? 1 : 0);
}
console.log(`attnode: built ${path.join('native', 'dist', 'build', 'Release', 'attnode_mpi.node')} against ${header}`);
