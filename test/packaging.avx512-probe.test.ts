// A compiler without AVX-512 still builds attnode from source: scripts/probe-avx512.cjs answers 0
// for a compiler that rejects -mavx512f, and binding.gyp then gives the attnode_avx512 target no
// sources and the addon no ATTNODE_HAVE_AVX512 (so dispatch never references the AVX-512 table).
// The fake compiler forwards everything else to the real one; gyp runs in a scratch copy.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-probe-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const realCxx = process.env.CXX || 'c++';
const fakeCxx = path.join(tmp, 'no-avx512-c++');
fs.writeFileSync(fakeCxx, `#!/bin/sh
for a in "$@"; do case "$a" in -mavx512*) echo "no-avx512-c++: unrecognized option $a" >&2; exit 1;; esac; done
exec ${realCxx} "$@"
`, { mode: 0o755 });

const probe = (cxx: string) => execFileSync(process.execPath, [path.join(root, 'scripts', 'probe-avx512.cjs')],
  { env: { ...process.env, CXX: cxx }, encoding: 'utf8' }).trim();

/** `node-gyp configure` of binding.gyp in a scratch copy with the given CXX; returns the generated makefiles. */
function configure(cxx: string): { avx512: string; addon: string } {
  const dir = fs.mkdtempSync(path.join(tmp, 'gyp-'));
  for (const rel of ['package.json', 'binding.gyp', 'native/sources.json', 'scripts/sources.cjs', 'scripts/probe-avx512.cjs', 'scripts/openmp-link.cjs']) {
    fs.cpSync(path.join(root, rel), path.join(dir, rel));
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const env: NodeJS.ProcessEnv = { ...process.env, CXX: cxx };
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'configure'], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node-gyp configure failed:\n${r.stdout}\n${r.stderr}`);
  const read = (name: string) => fs.readFileSync(path.join(dir, 'build', name), 'utf8');
  return { avx512: read('attnode_avx512.target.mk'), addon: read('attnode.target.mk') };
}

describe('building without AVX-512 compiler support', () => {
  it('the probe answers 0 for a compiler that rejects -mavx512f, 1 for the real one', () => {
    expect(probe(fakeCxx)).toBe('0');
    expect(probe(realCxx)).toBe('1'); // CI's g++ 12 has AVX-512: the positive control
  });

  it('binding.gyp drops the AVX-512 sources and define with that compiler', () => {
    const without = configure(fakeCxx);
    expect(without.avx512).not.toContain('avx512/kernels');
    expect(without.addon).not.toContain('ATTNODE_HAVE_AVX512');
    const withIt = configure(realCxx);
    expect(withIt.avx512).toContain('avx512/kernels');
    expect(withIt.addon).toContain('ATTNODE_HAVE_AVX512');
  });
});
