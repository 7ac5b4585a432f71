// `npm run build:cmake [-- --CDNAME=VALUE ...]`: builds the addon with cmake-js into build-cmake/
// (build-cmake/Release/attnode.node), never build/Release, which node-gyp and the loader own.
// `npm run build:cmake -- --CDATTNODE_CUDA=ON` is the switch for the CUDA backend (not implemented
// yet: CMakeLists.txt stops with a message saying so). cmake-js takes the Node-API headers from its
// node-api-headers dependency, so nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const extra = process.argv.slice(2);
const out = path.join(root, 'build-cmake');
const common = ['--directory', root, '--out', out];
// build-cmake/ is shared with scripts/native-tests.mjs (plain cmake, default generator) while cmake-js
// prefers Ninja: keep whichever generator the folder was configured with, or CMake refuses.
try {
  const gen = /^CMAKE_GENERATOR:INTERNAL=(.*)$/m.exec(fs.readFileSync(path.join(out, 'CMakeCache.txt'), 'utf8'))?.[1];
  if (gen && !extra.some((a) => a === '-G' || a.startsWith('--generator'))) common.push('--generator', gen);
} catch { /* not configured yet */ }
const run = (args) => {
  const r = spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
// Configure every time (cheap): `cmake-js build` alone keeps a folder's old configuration, e.g.
// one made by scripts/native-tests.mjs without the Node-API include paths.
run(['configure', ...common, ...extra]);
// Then only the addon and what it links, unless the caller names targets itself.
const target = extra.some((a) => a === '--target' || a === '-T' || a.startsWith('--target=')) ? [] : ['--target', 'attnode'];
run(['build', ...common, '--parallel', process.env.JOBS ?? '2', ...target, ...extra]);
