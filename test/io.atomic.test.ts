// Atomic writes: the target is always either the previous file or the complete new one, also when
// the rename fails, the data source throws, or the writing process is killed mid-write.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync, writeJsonAtomic, writeJsonAtomicSync } from '../dist/io/index.js';

const ATOMIC = new URL('../dist/io/atomic.js', import.meta.url).href;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-atomic-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => { vi.restoreAllMocks(); });

let n = 0;
/** A fresh directory holding `file` with `content` already in it. */
function setup(content: string | Uint8Array = 'old version\n'): { dir: string; file: string } {
  const dir = path.join(root, `case-${n++}`);
  fs.mkdirSync(dir);
  const file = path.join(dir, 'target.bin');
  fs.writeFileSync(file, content);
  return { dir, file };
}
const temps = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('atomic writes', () => {
  it('creates and replaces files, leaving no temporary files', async () => {
    const { dir, file } = setup();
    writeFileAtomicSync(file, 'sync\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('sync\n');
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(file)]).toEqual([1, 2, 3]);
    await writeFileAtomic(path.join(dir, 'new.txt'), [Buffer.from('a'), Buffer.from('b')]);
    writeFileAtomicSync(path.join(dir, 'new2.txt'), [Buffer.from('c'), new Uint8Array(0), Buffer.from('d')]);
    expect(fs.readFileSync(path.join(dir, 'new.txt'), 'utf8')).toBe('ab');
    expect(fs.readFileSync(path.join(dir, 'new2.txt'), 'utf8')).toBe('cd');
    async function* gen() { yield Buffer.from('x'); yield Buffer.from('y'); }
    await writeFileAtomic(file, gen());
    expect(fs.readFileSync(file, 'utf8')).toBe('xy');
    expect(fs.readdirSync(dir).sort()).toEqual(['new.txt', 'new2.txt', 'target.bin']);
  });

  it.skipIf(process.platform === 'win32')('keeps the mode of the file it replaces, or uses opts.mode', async () => {
    const { dir, file } = setup();
    fs.chmodSync(file, 0o600);
    await writeFileAtomic(file, 'x');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    writeFileAtomicSync(path.join(dir, 'm'), 'x', { mode: 0o640 });
    expect(fs.statSync(path.join(dir, 'm')).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('a failure between write and rename leaves the old file and no temporary (sync)', () => {
    const { dir, file } = setup();
    const spy = vi.spyOn(fs, 'renameSync').mockImplementation(() => { throw new Error('simulated crash before rename'); });
    expect(() => writeFileAtomicSync(file, 'new version')).toThrow('simulated crash before rename');
    expect(spy).toHaveBeenCalledTimes(1);
    expect(fs.readFileSync(file, 'utf8')).toBe('old version\n');
    expect(temps(dir)).toEqual([]);
  });

  it('a failure between write and rename leaves the old file and no temporary (async)', async () => {
    const { dir, file } = setup();
    vi.spyOn(fs.promises, 'rename').mockRejectedValue(new Error('simulated crash before rename'));
    await expect(writeFileAtomic(file, 'new version')).rejects.toThrow('simulated crash before rename');
    expect(fs.readFileSync(file, 'utf8')).toBe('old version\n');
    expect(temps(dir)).toEqual([]);
  });

  it('a data source that throws part way leaves the old file', async () => {
    const { dir, file } = setup();
    function* bad() { yield Buffer.from('partial'); throw new Error('serialiser failed'); }
    expect(() => writeFileAtomicSync(file, bad())).toThrow('serialiser failed');
    async function* badAsync() { yield Buffer.from('partial'); throw new Error('serialiser failed async'); }
    await expect(writeFileAtomic(file, badAsync())).rejects.toThrow('serialiser failed async');
    expect(fs.readFileSync(file, 'utf8')).toBe('old version\n');
    expect(temps(dir)).toEqual([]);
  });

  it('a process killed mid-write leaves the previous file intact', async () => {
    const { dir, file } = setup();
    // The child writes 4 MiB into the temporary file, says so, and then hangs inside the write
    // until it is killed: a crash at a known point between the first byte and the rename.
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(ATOMIC)};
      setInterval(() => {}, 1000);
      async function* chunks() {
        yield new Uint8Array(4 << 20).fill(0x42);
        process.stdout.write('mid-write\\n');
        await new Promise(() => {});
      }
      await writeFileAtomic(process.env.TARGET, chunks());
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TARGET: file }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('mid-write')) resolve(); });
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const [tmp] = temps(dir);
    expect(fs.statSync(path.join(dir, tmp)).size).toBe(4 << 20); // the new content was being written
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(fs.readFileSync(file, 'utf8')).toBe('old version\n');
  });

  it('a process killed at random moments during large writes never leaves a truncated target', async () => {
    const size = 16 << 20;
    const { dir, file } = setup(new Uint8Array(size).fill(1));
    // The child rewrites the target over and over, each version one repeated byte; a torn or
    // truncated write would show as a short file or mixed bytes.
    const script = `
      import { writeFileAtomicSync } from ${JSON.stringify(ATOMIC)};
      process.stdout.write('started\\n');
      for (let v = 2; ; v = v === 250 ? 2 : v + 1) writeFileAtomicSync(process.env.TARGET, new Uint8Array(${size}).fill(v));
    `;
    for (const delay of [30, 120, 250]) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TARGET: file }, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, delay));
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const got = fs.readFileSync(file);
      expect(got.length).toBe(size);
      expect(got.every((b) => b === got[0])).toBe(true);
      for (const t of temps(dir)) fs.unlinkSync(path.join(dir, t)); // what a crash leaves behind, hidden
    }
  });
});

describe('writeJsonAtomic', () => {
  it('writes indented JSON ending in a newline', async () => {
    const { dir } = setup();
    const f = path.join(dir, 'a.json');
    await writeJsonAtomic(f, { a: [1, { b: null }], s: 'x' });
    expect(fs.readFileSync(f, 'utf8')).toBe('{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ],\n  "s": "x"\n}\n');
    writeJsonAtomicSync(f, [1, 2], { space: 0 });
    expect(fs.readFileSync(f, 'utf8')).toBe('[1,2]\n');
  });

  it('refuses what JSON would change silently, naming the path, and writes nothing', async () => {
    const { dir } = setup();
    const f = path.join(dir, 'b.json');
    await expect(writeJsonAtomic(f, { lr: NaN })).rejects.toThrow(/^writeJsonAtomic: value\.lr is NaN, which JSON cannot hold/);
    expect(() => writeJsonAtomicSync(f, { rng: { s: [1, 2n] } })).toThrow(/value\.rng\.s\[1\] is a bigint.*decimal string/);
    expect(() => writeJsonAtomicSync(f, { m: new Map() })).toThrow(/value\.m is a Map, not a plain object/);
    expect(() => writeJsonAtomicSync(f, { u: undefined })).toThrow(/value\.u is undefined/);
    expect(() => writeJsonAtomicSync(f, { x: Infinity })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => writeJsonAtomicSync(f, cyclic)).toThrow(/value\.self refers back to itself/);
    expect(fs.existsSync(f)).toBe(false);
  });
});
