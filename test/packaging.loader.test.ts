// The native loader (lib/loader.ts) on fake package roots: which binaries it tries, which it skips
// and why, and the fix its AttnodeLoadError gives. Runs against dist/ like the other tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AttnodeLoadError } from '../dist/index.js';
import { detectLibc, listCandidates, loadNative, missingCpuBaseline, parsePrebuildTags } from '../dist/loader.js';
import { nativeBinary } from '../dist/native.js';

const tuple = `${process.platform}-${process.arch}`;
const roots: string[] = [];
function fakeRoot(files: Record<string, string | { link: string }>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-loader-'));
  roots.push(root);
  fs.writeFileSync(path.join(root, 'package.json'), '{"name":"attnode"}');
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof content === 'string') fs.writeFileSync(file, content);
    else fs.symlinkSync(content.link, file);
  }
  return root;
}
function loadError(root: string, opts?: { cpuinfo?: string }): AttnodeLoadError {
  try {
    loadNative(root, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(AttnodeLoadError);
    return e as AttnodeLoadError;
  }
  throw new Error('loadNative did not throw');
}
const savedBinary = process.env.ATTNODE_BINARY;
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
  if (savedBinary === undefined) delete process.env.ATTNODE_BINARY; else process.env.ATTNODE_BINARY = savedBinary;
});
const other = detectLibc() === 'musl' ? 'glibc' : 'musl';
const mine = detectLibc() ?? 'glibc';

describe('prebuild file names', () => {
  it('reads prebuildify tags', () => {
    expect(parsePrebuildTags('attnode.glibc.node')).toEqual({ file: 'attnode.glibc.node', libc: 'glibc', napi: false });
    expect(parsePrebuildTags('node.napi.musl.node')).toMatchObject({ runtime: 'node', napi: true, libc: 'musl' });
    expect(parsePrebuildTags('electron.abi116.node')).toMatchObject({ runtime: 'electron', abi: '116' });
  });
});

describe('loadNative', () => {
  it('loads a working prebuilt binary and says which file it used', () => {
    const root = fakeRoot({ [`prebuilds/${tuple}/attnode.${mine}.node`]: { link: nativeBinary } });
    const r = loadNative<{ cpuInfo(): unknown }>(root);
    expect(r.file).toBe(path.join(root, 'prebuilds', tuple, `attnode.${mine}.node`));
    expect(typeof r.addon.cpuInfo).toBe('function');
  });

  it('skips a binary for the other libc, records a broken one, and falls back to build/Release', () => {
    const root = fakeRoot({
      [`prebuilds/${tuple}/attnode.${other}.node`]: 'not an ELF file',
      [`prebuilds/${tuple}/attnode.${mine}.node`]: 'not an ELF file either',
      'build/Release/attnode.node': { link: nativeBinary },
    });
    const r = loadNative(root);
    expect(r.file).toBe(path.join(root, 'build', 'Release', 'attnode.node'));
    expect(r.attempts.map((a) => path.basename(a.file))).toEqual([`attnode.${mine}.node`, `attnode.${other}.node`]);
    expect(r.attempts[1]!.reason).toBe(`skipped: built for ${other}, this system uses ${mine}`);
    expect(r.attempts[0]!.reason).not.toBe('');
  });

  it('lists every failure and the fix when nothing loads', () => {
    const root = fakeRoot({ [`prebuilds/${tuple}/attnode.${mine}.node`]: 'garbage' });
    const e = loadError(root);
    expect(e.attempts).toHaveLength(2);
    expect(e.attempts[0]!.file).toContain(`attnode.${mine}.node`);
    expect(e.attempts[1]).toEqual({ file: path.join(root, 'build', 'Release', 'attnode.node'), reason: 'not built (no local build from source)' });
    expect(e.message).toContain(`attnode.${mine}.node: `);
    expect(e.message).toContain('npm approve-scripts attnode');
    expect(e.message).toContain('npm rebuild attnode --build-from-source');
  });

  it('says when the package has no binary for this platform, and which it has', () => {
    const e = loadError(fakeRoot({ 'prebuilds/sunos-sparc/attnode.node': 'x' }));
    expect(e.attempts[0]!.reason).toBe(`no prebuilt binary for ${tuple} (this package has: sunos-sparc)`);
    expect(loadError(fakeRoot({})).attempts[0]!.reason).toBe('this package ships no prebuilt binaries');
  });

  it('names an ATTNODE_BINARY that does not load instead of falling back', () => {
    const root = fakeRoot({ 'build/Release/attnode.node': { link: nativeBinary } });
    process.env.ATTNODE_BINARY = path.join(root, 'nowhere.node');
    expect(listCandidates(root).map((c) => c.file)).toEqual([path.join(root, 'nowhere.node')]);
    const e = loadError(root);
    expect(e.attempts.map((a) => a.file)).toEqual([path.join(root, 'nowhere.node')]);
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64')('refuses to load on a CPU without x86-64-v2, naming what is missing', () => {
    const old = 'processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 cx16 lahf_lm\n';
    expect(missingCpuBaseline(old)).toEqual(['popcnt', 'sse4_1', 'sse4_2']);
    expect(missingCpuBaseline(fs.readFileSync('/proc/cpuinfo', 'utf8'))).toEqual([]);
    const root = fakeRoot({ 'build/Release/attnode.node': { link: nativeBinary } });
    const e = loadError(root, { cpuinfo: old });
    expect(e.attempts.at(-1)!.reason).toBe('not tried: CPU lacks popcnt, sse4_1, sse4_2');
    expect(e.message).toContain('x86-64-v2');
  });
});
