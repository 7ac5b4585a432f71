// Builds the C++ tests with CMake into build-cmake/ (or build-asan/ with --sanitize) and runs ctest.
// Never touches build/, which belongs to node-gyp.
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const sanitize = process.argv.includes('--sanitize');
const dir = sanitize ? 'build-asan' : 'build-cmake';
const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
const run = (cmd, args, env) => {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run('cmake', ['-S', '.', '-B', dir, `-DCMAKE_BUILD_TYPE=${sanitize ? 'RelWithDebInfo' : 'Release'}`,
  `-DATTNODE_SANITIZE=${sanitize ? 'ON' : 'OFF'}`]);
run('cmake', ['--build', dir, '-j', jobs]);
run('ctest', ['--test-dir', dir, '--output-on-failure', '-j', '1'],
  sanitize ? { ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' } : {});
