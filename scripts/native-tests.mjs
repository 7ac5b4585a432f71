// Builds the C++ tests with CMake into build-cmake/ (or build-asan/ with --sanitize) and runs ctest.
// Never touches build/, which belongs to node-gyp.
//
// --sanitize: AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer. LeakSanitizer is part
// of ASan on Linux, but it silently does nothing in some environments (under ptrace: strace, gdb,
// some CI sandboxes; detect_leaks=0 inherited from the caller), so before the tests a probe that
// leaks on purpose is compiled with the same compiler and sanitizer flags and run with the same
// environment: the run stops unless LeakSanitizer reports that leak. ATTNODE_ALLOW_NO_LSAN=1 lets
// the tests run anyway (ASan/UBSan only), saying so.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sanitize = process.argv.includes('--sanitize');
const dir = sanitize ? 'build-asan' : 'build-cmake';
const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
const run = (cmd, args, env) => {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

// The sanitizer runtime options of the tests. Leaks make the process exit with LSan's code (23).
const SANITIZER_ENV = {
  ASAN_OPTIONS: 'detect_leaks=1:halt_on_error=1:abort_on_error=0',
  LSAN_OPTIONS: 'detect_leaks=1:report_objects=1:exitcode=23:max_leaks=20',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};

/** Compiles and runs a program that leaks 4242 bytes; true when LeakSanitizer reports them. */
function leakSanitizerWorks() {
  const cache = fs.readFileSync(path.join(dir, 'CMakeCache.txt'), 'utf8');
  const cxx = /^CMAKE_CXX_COMPILER:\w+=(.+)$/m.exec(cache)?.[1]?.trim() || 'c++';
  const src = path.join(dir, 'lsan-probe.cpp'), exe = path.join(dir, 'lsan-probe');
  fs.writeFileSync(src, [
    '// Written by scripts/native-tests.mjs: leaks on purpose, to check LeakSanitizer is active.',
    '#include <cstdlib>',
    'void* volatile sink;',
    '__attribute__((noinline)) void leak() { sink = std::malloc(4242); sink = nullptr; }',
    'int main() { leak(); return 0; }',
    '',
  ].join('\n'));
  // The sanitizer flags of CMakeLists.txt (ATTNODE_SANITIZE).
  const cc = spawnSync(cxx, ['-O1', '-g', '-fsanitize=address,undefined', '-fno-omit-frame-pointer', '-fno-sanitize-recover=undefined',
    src, '-o', exe], { encoding: 'utf8' });
  if (cc.status !== 0) {
    console.log(`LeakSanitizer probe: could not compile (${cxx}):\n${cc.stderr}`);
    return false;
  }
  const r = spawnSync(exe, [], { encoding: 'utf8', env: { ...process.env, ...SANITIZER_ENV } });
  const seen = /LeakSanitizer: detected memory leaks/.test(r.stderr) && /4242 byte/.test(r.stderr);
  if (!seen) {
    console.log(`LeakSanitizer probe: exit ${r.status}, no leak report${r.stderr ? `:\n${r.stderr.slice(-2000)}` : ''}`);
    return false;
  }
  return r.status === 23;
}

run('cmake', ['-S', '.', '-B', dir, `-DCMAKE_BUILD_TYPE=${sanitize ? 'RelWithDebInfo' : 'Release'}`,
  `-DATTNODE_SANITIZE=${sanitize ? 'ON' : 'OFF'}`]);
run('cmake', ['--build', dir, '-j', jobs]);
let env = {};
if (sanitize) {
  env = SANITIZER_ENV;
  if (leakSanitizerWorks()) {
    console.log('LeakSanitizer: active (the probe\'s deliberate 4242-byte leak was reported, exit 23); a leak in a test fails it');
  } else if (process.env.ATTNODE_ALLOW_NO_LSAN === '1') {
    console.log('LeakSanitizer: NOT active here; ATTNODE_ALLOW_NO_LSAN=1, so the tests run with ASan/UBSan only');
    env = { ...SANITIZER_ENV, ASAN_OPTIONS: SANITIZER_ENV.ASAN_OPTIONS.replace('detect_leaks=1', 'detect_leaks=0'),
      LSAN_OPTIONS: 'detect_leaks=0' };
  } else {
    console.log('LeakSanitizer: NOT active here (a process under ptrace - strace, gdb, some sandboxes - or detect_leaks=0 ' +
      'in the environment): leaks would go unnoticed. Run outside it, or set ATTNODE_ALLOW_NO_LSAN=1 to test without it.');
    process.exit(1);
  }
}
run('ctest', ['--test-dir', dir, '--output-on-failure', '-j', '1'], env);
