// `require('attnode')` and `import 'attnode'` both work, each through its own build (dist/cjs/ and
// dist/), give the same results, share one native addon in one process, and come with types for
// each (an ESM and a CommonJS consumer type-check). The consumer is a scratch project whose
// node_modules/attnode links to this package, so Node resolves the package.json "exports" map.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const app = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-dual-'));
fs.mkdirSync(path.join(app, 'node_modules'));
fs.symlinkSync(root, path.join(app, 'node_modules', 'attnode'));
fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "dual-consumer", "private": true }\n');
afterAll(() => fs.rmSync(app, { recursive: true, force: true }));

function node(args: string[]): string {
  const r = spawnSync(process.execPath, args, { cwd: app, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout.trim();
}
// The same small call from either format; prints where 'attnode' resolved and the first outputs.
const call = (a: string) => `const s = { batch: 1, heads: 2, qLen: 3, kvLen: 5, headDim: 8 };
  const q = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), kv = Float32Array.from({ length: 80 }, (_, i) => Math.cos(i));
  const r = ${a}.kernels.attentionForward(q, kv, kv, s, { causal: true });
  return { out: Array.from(r.out), lse: Array.from(r.lse), loadError: typeof ${a}.AttnodeLoadError };`;

describe('dual ESM + CommonJS package', () => {
  it('require() resolves dist/cjs and import resolves dist/, with the same results', () => {
    const cjs = JSON.parse(node(['-e', `const a = require('attnode');
      console.log(JSON.stringify({ resolved: require.resolve('attnode'), ...(() => { ${call('a')} })() }))`]));
    const esm = JSON.parse(node(['--input-type=module', '-e', `import * as a from 'attnode';
      console.log(JSON.stringify({ resolved: import.meta.resolve('attnode'), ...(() => { ${call('a')} })() }))`]));
    expect(cjs.resolved).toBe(path.join(root, 'dist', 'cjs', 'index.js'));
    expect(esm.resolved).toBe(pathToFileURL(path.join(root, 'dist', 'index.js')).href);
    expect(cjs.loadError).toBe('function');
    expect(esm.out).toEqual(cjs.out);
    expect(esm.lse).toEqual(cjs.lse);
  });

  it('both formats in one process share the native addon and its settings', () => {
    const out = node(['--input-type=module', '-e', `import { createRequire } from 'node:module';
      const c = createRequire(process.cwd() + '/x.js')('attnode');
      const e = await import('attnode');
      c.setNumThreads(1);
      console.log(JSON.stringify([c.nativeBinary === e.nativeBinary, e.getNumThreads(), c.kernels === e.kernels]))`]);
    // Same .node file and native state; the JS wrappers are two module instances (dual package).
    expect(JSON.parse(out)).toEqual([true, 1, false]);
  });

  it('ships types for import and for require (nodenext consumers type-check)', () => {
    for (const f of ['types-esm.mts', 'types-cjs.cts', 'tsconfig.json']) fs.copyFileSync(path.join(root, 'test', 'package', f), path.join(app, f));
    const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json',
      '--typeRoots', path.join(root, 'node_modules', '@types')], { cwd: app, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
