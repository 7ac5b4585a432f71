// Checkpoint directories: bit-exact round trips; a save replaces the previous checkpoint atomically
// (the folder loads as the old or the new one after a failure at any step, leftovers are cleaned,
// a concurrent load never mixes two saves); and a clear error for every way a checkpoint can be
// incomplete, corrupt, of another version, or not what was expected. test/io.checkpoint.kill.test.ts
// SIGKILLs real saves.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  CHECKPOINT_VERSION, CheckpointError, SafetensorsError, loadCheckpoint, readCheckpointManifest, readHfConfig, saveCheckpoint, verifyCheckpoint,
  type CheckpointInput, type CheckpointTensor,
} from '../dist/io/index.js';

/** How staging folders name this host (lib/io/checkpoint.ts). */
const HOST = os.hostname().replace(/[^A-Za-z0-9-]/g, '_').slice(0, 40) || 'host';
const STAGE = /^\.save\.[A-Za-z0-9_-]+\.\d+\.[0-9a-f]{12}$/;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-ckpt-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => { vi.restoreAllMocks(); });
let n = 0;
const fresh = () => path.join(root, `ck-${n++}`);

/** Deterministic pseudo-random floats, plus the values whose bits are easiest to lose. */
function tensor(shape: number[], seed: number): CheckpointTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; data[i] = (s / 2 ** 32 - 0.5) * 2; }
  return { shape, data };
}
function specialBits(): CheckpointTensor {
  const bits = Uint32Array.from([0x7fc00123, 0x80000000, 0x00000001, 0x7f7fffff, 0xff800000, 0x3f800000]);
  return { shape: [2, 3], data: new Float32Array(bits.buffer) };
}
const bitsOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function full(): CheckpointInput {
  return {
    config: { srcVocab: 96, tgtVocab: 96, dModel: 8, nested: { list: [1, 'a', null, true, -1.5e-30] } },
    weights: new Map([
      ['encoder.embed.weight', tensor([96, 8], 1)],
      ['decoder.layers.0.fc1.bias', tensor([16], 2)],
      ['special', specialBits()],
      ['scalar', { shape: [], data: Float32Array.from([3]) }],
      ['empty', { shape: [0], data: new Float32Array(0) }],
    ]),
    tokenizers: { src: { type: 'bpe', merges: ['a b', 'ab c'] }, tgt: { type: 'char', vocab: { a: 0, b: 1 } } },
    optimizer: {
      step: 1234,
      state: new Map([['m.encoder.embed.weight', tensor([96, 8], 3)], ['v.encoder.embed.weight', tensor([96, 8], 4)]]),
      hyper: { kind: 'adamw', lr: 3e-4, betas: [0.9, 0.98], eps: 1e-9, weightDecay: 0.01 },
    },
    trainer: { step: 1234, epoch: 2, rng: { seed: '18446744073709551615', counter: 99 }, data: { shard: 3, offset: 4567 }, schedule: { kind: 'inverse-sqrt', warmup: 4000 } },
  };
}

async function ckError(p: Promise<unknown>): Promise<CheckpointError> {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(CheckpointError); return e as CheckpointError; }
  throw new Error('expected a CheckpointError');
}

describe('round trip', () => {
  it('returns the same structure, every tensor bit for bit', async () => {
    const dir = fresh();
    const input = full();
    const manifest = await saveCheckpoint(dir, input);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'checkpoint.json', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.src.json', 'tokenizer.tgt.json', 'trainer.json',
    ]);
    // The manifest's hashes are those of the files on disk.
    for (const [name, e] of Object.entries(manifest.files)) {
      const buf = fs.readFileSync(path.join(dir, name));
      expect(e).toEqual({ bytes: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') });
    }
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'))).toEqual({ format: 'attnode-checkpoint', version: CHECKPOINT_VERSION, files: manifest.files });

    const back = await loadCheckpoint(dir);
    expect(back.config).toEqual(input.config);
    expect(back.tokenizers).toEqual(input.tokenizers);
    expect(back.trainer).toEqual(input.trainer);
    expect(back.optimizer?.step).toBe(1234);
    expect(back.optimizer?.hyper).toEqual(input.optimizer?.hyper);
    for (const [src, dst] of [[input.weights, back.weights], [input.optimizer?.state, back.optimizer?.state]] as const) {
      expect([...(dst?.keys() ?? [])].sort()).toEqual([...(src?.keys() ?? [])].sort());
      for (const [name, t] of src ?? []) {
        expect(dst?.get(name)?.shape).toEqual(t.shape);
        expect(bitsOf(dst?.get(name)?.data as Float32Array).equals(bitsOf(t.data))).toBe(true);
      }
    }
  });

  it('saving the same input twice gives the same bytes', async () => {
    const a = fresh(), b = fresh();
    await saveCheckpoint(a, full());
    await saveCheckpoint(b, full());
    for (const f of fs.readdirSync(a)) expect(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f)))).toBe(true);
  });

  it('a minimal checkpoint (weights and config) loads without the optional parts', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, { config: { a: 1 }, weights: new Map([['w', tensor([2, 2], 5)]]) });
    const back = await loadCheckpoint(dir);
    expect(Object.keys(back).sort()).toEqual(['config', 'weights']);
    expect(await verifyCheckpoint(dir)).toMatchObject({ files: { 'model.safetensors': expect.any(Object), 'config.json': expect.any(Object) } });
  });

  it('saving over a checkpoint replaces it and removes the optional files the new one lacks', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, full());
    await saveCheckpoint(dir, { config: { v: 2 }, weights: new Map([['w', tensor([3], 6)]]) });
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint.json', 'config.json', 'model.safetensors']);
    const back = await loadCheckpoint(dir);
    expect(back.config).toEqual({ v: 2 });
    expect([...back.weights.keys()]).toEqual(['w']);
  });

  it('a save stages its files, switches with one rename of checkpoint.json, then moves them to the top', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, full());
    const renamed: [string, string][] = [];
    const real = fs.promises.rename;
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      renamed.push([path.relative(dir, String(from)), path.relative(dir, String(to))]);
      return real(from, to);
    });
    await saveCheckpoint(dir, { config: { v: 2 }, weights: new Map([['w', tensor([3], 6)]]) });
    const stage = renamed[0]![0].split(path.sep)[0]!;
    expect(stage).toMatch(STAGE);
    expect(renamed).toEqual([
      [path.join(stage, 'checkpoint.json'), 'checkpoint.json'], // the switch
      [path.join(stage, 'model.safetensors'), 'model.safetensors'],
      [path.join(stage, 'config.json'), 'config.json'],
      [path.join(stage, 'checkpoint.json'), 'checkpoint.json'], // the plain manifest
    ]);
  });
});

describe('interrupted saves', () => {
  const v1 = (): CheckpointInput => ({ ...full(), config: { v: 1 } });
  const v2 = (): CheckpointInput => ({ config: { v: 2 }, weights: new Map([['w', tensor([3], 6)]]), tokenizers: { src: { t: 2 } } });
  const listing = (dir: string) => fs.readdirSync(dir).sort();

  it('at every step of a save the folder loads as the old checkpoint, then from the switch on as the new one', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, v1());
    const seen: unknown[] = [];
    const look = async () => { seen.push((await loadCheckpoint(dir)).config.v); };
    const real = fs.promises.rename;
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => { await look(); await real(from, to); await look(); });
    await saveCheckpoint(dir, v2());
    expect(seen).toEqual([1, 2, 2, 2, 2, 2, 2, 2, 2, 2]); // 5 renames: before and after each
  });

  for (let k = 0; k < 6; k++) {
    it(`a save failing at its rename #${k + 1} leaves a loadable folder (old before the switch, new after), cleaned by the next save`, async () => {
      const dir = fresh();
      await saveCheckpoint(dir, v1());
      const real = fs.promises.rename;
      let calls = 0;
      vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
        if (calls++ === k) throw new Error('simulated crash');
        return real(from, to);
      });
      const failed = await saveCheckpoint(dir, v2()).then(() => false, (e: Error) => e.message === 'simulated crash');
      vi.restoreAllMocks();
      expect(failed).toBe(k < 5); // v2 has 3 files: 1 + 3 + 1 renames
      const back = await loadCheckpoint(dir);
      expect(back.config).toEqual({ v: k === 0 ? 1 : 2 });
      expect(back.tokenizers).toEqual(k === 0 ? full().tokenizers : { src: { t: 2 } });
      expect(back.optimizer?.step).toBe(k === 0 ? 1234 : undefined);
      expect(listing(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      // Saving again recovers, leaving only the new checkpoint's files.
      await saveCheckpoint(dir, v1());
      expect(listing(dir)).toEqual(['checkpoint.json', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.src.json', 'tokenizer.tgt.json', 'trainer.json']);
      expect((await loadCheckpoint(dir)).config).toEqual({ v: 1 });
    });
  }

  it('a save failing while it writes a staged file leaves the old checkpoint and no staging folder', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, v1());
    const before = listing(dir);
    const real = fs.promises.open;
    vi.spyOn(fs.promises, 'open').mockImplementation(async (file, flags, mode) => {
      if (String(file).endsWith(`${path.sep}config.json`) && flags === 'wx') throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return real(file, flags, mode);
    });
    await expect(saveCheckpoint(dir, v2())).rejects.toThrow(/ENOSPC/);
    vi.restoreAllMocks();
    expect(listing(dir)).toEqual(before);
    expect((await loadCheckpoint(dir)).config).toEqual({ v: 1 });
  });

  it('a folder written by earlier attnode versions (plain manifest, no staging) loads as before', async () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    const files: Record<string, Buffer> = {
      'config.json': Buffer.from('{\n  "v": 0\n}\n'),
      'model.safetensors': Buffer.concat([Buffer.from([56, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  '), Buffer.from(Float32Array.from([1.5, -2]).buffer)]),
    };
    const entries: Record<string, { bytes: number; sha256: string }> = {};
    for (const [name, buf] of Object.entries(files)) {
      fs.writeFileSync(path.join(dir, name), buf);
      entries[name] = { bytes: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') };
    }
    fs.writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify({ format: 'attnode-checkpoint', version: 1, files: entries }));
    const back = await loadCheckpoint(dir);
    expect(back.config).toEqual({ v: 0 });
    expect([...back.weights.get('w')!.data]).toEqual([1.5, -2]);
  });

  it('leftovers of dead saves are removed by the next load; live ones, foreign hosts and other files are kept', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, v1());
    const dead = `.save.${HOST}.99999999.0123456789ab`, alive = `.save.${HOST}.1.0123456789ab`, foreign = '.save.otherhost.99999999.0123456789ab';
    for (const s of [dead, alive, foreign]) { fs.mkdirSync(path.join(dir, s)); fs.writeFileSync(path.join(dir, s, 'model.safetensors'), 'x'); }
    const deadTmp = '.model.safetensors.99999999.0123456789ab.tmp', aliveTmp = '.config.json.1.0123456789ab.tmp';
    for (const f of [deadTmp, aliveTmp, 'notes.txt', '.other.99999999.0123456789ab.tmp']) fs.writeFileSync(path.join(dir, f), 'x');
    const base = ['checkpoint.json', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.src.json', 'tokenizer.tgt.json', 'trainer.json'];

    expect((await loadCheckpoint(dir)).config).toEqual({ v: 1 });
    expect(listing(dir)).toEqual([...base, alive, '.config.json.1.0123456789ab.tmp', '.other.99999999.0123456789ab.tmp', foreign, 'notes.txt'].sort());
    await saveCheckpoint(dir, v2()); // a save also drops other hosts' staging folders (two saves at once are not supported)
    expect(listing(dir)).toEqual(['checkpoint.json', 'config.json', 'model.safetensors', 'tokenizer.src.json', alive, aliveTmp, '.other.99999999.0123456789ab.tmp', 'notes.txt'].sort());
  });

  it('a staged manifest of a save killed part way through its moves loads, and keeps its staging folder until the next save', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, v1());
    // What a save by a dead process leaves after its switch, having moved one of its three files.
    const stage = `.save.${HOST}.99999999.00000000000a`;
    const other = fresh();
    await saveCheckpoint(other, v2());
    fs.mkdirSync(path.join(dir, stage));
    const m = JSON.parse(fs.readFileSync(path.join(other, 'checkpoint.json'), 'utf8'));
    for (const name of Object.keys(m.files)) {
      m.files[name].path = `${stage}/${name}`;
      fs.copyFileSync(path.join(other, name), path.join(dir, name === 'config.json' ? name : path.join(stage, name)));
    }
    fs.writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify(m));
    expect(await readCheckpointManifest(dir)).toEqual(m);
    const back = await loadCheckpoint(dir);
    expect(back.config).toEqual({ v: 2 });
    expect(back.tokenizers).toEqual({ src: { t: 2 } });
    expect(listing(dir)).toContain(stage); // referenced: still part of the checkpoint
    await saveCheckpoint(dir, v2());
    expect(listing(dir)).toEqual(['checkpoint.json', 'config.json', 'model.safetensors', 'tokenizer.src.json']);
  });

  it('a manifest path outside a staging folder is refused', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, v1());
    const mf = path.join(dir, 'checkpoint.json');
    const m = JSON.parse(fs.readFileSync(mf, 'utf8'));
    for (const bad of ['../elsewhere/config.json', `.save.${HOST}.1.0123456789ab/model.safetensors`, `.save.${HOST}.1.0123456789ab/config.json/x`, 'config.json']) {
      m.files['config.json'].path = bad;
      fs.writeFileSync(mf, JSON.stringify(m));
      const e = await ckError(loadCheckpoint(dir));
      expect(e).toMatchObject({ code: 'corrupt', file: 'checkpoint.json' });
      expect(e.message).toMatch(/entry for config\.json has a path other than \.save\.<host>\.<pid>\.<hex>\/config\.json/);
    }
  });

  it('cleaning a read-only folder fails quietly: the load succeeds and the leftover stays', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, v1());
    const dead = `.save.${HOST}.99999999.0123456789ab`;
    fs.mkdirSync(path.join(dir, dead));
    const rofs = async () => { throw Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' }); };
    vi.spyOn(fs.promises, 'rm').mockImplementation(rofs);
    vi.spyOn(fs.promises, 'unlink').mockImplementation(rofs);
    expect((await loadCheckpoint(dir)).config).toEqual({ v: 1 });
    vi.restoreAllMocks();
    expect(fs.existsSync(path.join(dir, dead))).toBe(true);
  });
});

describe('a load while a save replaces the checkpoint', () => {
  it('a file replaced under the loader (hash of the old manifest fails) makes it start over: it returns the new checkpoint whole', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, { ...full(), config: { v: 1 } });
    const real = fs.promises.readFile;
    let saved = false;
    vi.spyOn(fs.promises, 'readFile').mockImplementation((async (file: fs.PathLike, opts?: unknown) => {
      // The loader has read the old manifest; before it reads the weights, a save replaces everything.
      if (!saved && String(file).endsWith('model.safetensors')) {
        saved = true;
        await saveCheckpoint(dir, { config: { v: 2 }, weights: new Map([['w', tensor([3], 6)]]) });
      }
      return real(file, opts as never);
    }) as typeof fs.promises.readFile);
    const back = await loadCheckpoint(dir);
    expect(saved).toBe(true);
    expect(back.config).toEqual({ v: 2 });
    expect([...back.weights.keys()]).toEqual(['w']);
    expect(back.optimizer).toBeUndefined();
  });

  it('saves that keep replacing it give a concurrent-save error, never a mix', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, { config: { v: 0 }, weights: new Map([['w', tensor([3], 0)]]) });
    const real = fs.promises.readFile;
    let v = 0;
    vi.spyOn(fs.promises, 'readFile').mockImplementation((async (file: fs.PathLike, opts?: unknown) => {
      if (String(file).endsWith('model.safetensors')) { v++; await saveCheckpoint(dir, { config: { v }, weights: new Map([['w', tensor([3], v)]]) }); }
      return real(file, opts as never);
    }) as typeof fs.promises.readFile);
    const e = await ckError(loadCheckpoint(dir));
    expect(e.code).toBe('concurrent-save');
    expect(e.message).toMatch(/was replaced 8 times while being read \(saves in progress\): read it again/);
  });
});

describe('the folder itself', () => {
  it('a file, or a path under a file, given as the folder is a not-a-directory CheckpointError; a missing one is missing-file', async () => {
    const file = path.join(root, 'a-file');
    fs.writeFileSync(file, 'x');
    for (const load of [loadCheckpoint, verifyCheckpoint, readCheckpointManifest] as ((d: string) => Promise<unknown>)[]) {
      expect(await ckError(load(file))).toMatchObject({ code: 'not-a-directory', dir: file, message: `checkpoint ${file}: is a file, not a directory` });
      expect(await ckError(load(path.join(file, 'sub')))).toMatchObject({ code: 'not-a-directory', message: expect.stringMatching(/is not a directory \(a part of the path is a file\)/) });
      expect(await ckError(load(path.join(root, 'missing')))).toMatchObject({ code: 'missing-file', message: expect.stringMatching(/no such directory/) });
    }
    expect(await ckError(saveCheckpoint(file, { config: {}, weights: new Map() }))).toMatchObject({ code: 'not-a-directory' });
    expect(await ckError(saveCheckpoint(path.join(file, 'sub'), { config: {}, weights: new Map() }))).toMatchObject({ code: 'not-a-directory' });
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });

  it('readHfConfig: a missing model folder, or one under a file, is a CheckpointError (a config file itself is read)', async () => {
    const file = path.join(root, 'hf-file');
    fs.writeFileSync(file, '{"model_type": "t5"}');
    expect(await ckError(readHfConfig(path.join(root, 'no-hf')))).toMatchObject({ code: 'missing-file', message: expect.stringMatching(/no such model folder or config file/) });
    expect(await ckError(readHfConfig(path.join(file, 'config.json')))).toMatchObject({ code: 'not-a-directory' });
    await expect(readHfConfig(file)).rejects.toThrow(/model_type "t5" is not supported/);
  });

  it('invalid input is refused before anything is written', async () => {
    const dir = fresh();
    const w = new Map([['w', tensor([2], 1)]]);
    await expect(saveCheckpoint(dir, { config: { lr: NaN }, weights: w })).rejects.toThrow(/saveCheckpoint: config\.lr is NaN/);
    await expect(saveCheckpoint(dir, { config: {}, weights: new Map([['w', { shape: [3], data: new Float32Array(2) }]]) }))
      .rejects.toThrow(/tensors\['w'\]\.data has 2 elements, shape \[3\] needs 3/);
    await expect(saveCheckpoint(dir, { config: {}, weights: new Map([['w', { shape: [1], data: new Int32Array(1) as unknown as Float32Array }]]) }))
      .rejects.toThrow(/saveCheckpoint: weights\['w'\]\.data must be a Float32Array/);
    await expect(saveCheckpoint(dir, { config: {}, weights: w, optimizer: { step: -1, state: new Map(), hyper: {} } })).rejects.toThrow(RangeError);
    await expect(saveCheckpoint(dir, { config: {}, weights: w, trainer: { rng: 5n } })).rejects.toThrow(/saveCheckpoint: trainer\.rng is a bigint/);
    await expect(saveCheckpoint(dir, { config: [] as unknown as object, weights: w })).rejects.toThrow(/config must be a plain object, got an array/);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('damaged checkpoints', () => {
  async function saved(): Promise<string> {
    const dir = fresh();
    await saveCheckpoint(dir, full());
    return dir;
  }

  it('no directory, no manifest', async () => {
    expect((await ckError(loadCheckpoint(path.join(root, 'nope')))).code).toBe('missing-file');
    const dir = await saved();
    fs.unlinkSync(path.join(dir, 'checkpoint.json'));
    expect((await ckError(loadCheckpoint(dir))).code).toBe('incomplete');
  });

  it('a listed file is missing', async () => {
    const dir = await saved();
    fs.unlinkSync(path.join(dir, 'trainer.json'));
    const e = await ckError(loadCheckpoint(dir));
    expect(e).toMatchObject({ code: 'missing-file', file: 'trainer.json', dir });
    expect(e.message).toBe(`checkpoint ${dir}/trainer.json: listed in the manifest but missing`);
  });

  it('one flipped byte in the tensor data is a hash mismatch', async () => {
    const dir = await saved();
    const f = path.join(dir, 'model.safetensors');
    const buf = fs.readFileSync(f);
    buf[buf.length - 10] ^= 0x01;
    fs.writeFileSync(f, buf);
    const e = await ckError(loadCheckpoint(dir));
    expect(e).toMatchObject({ code: 'corrupt', file: 'model.safetensors' });
    expect(e.message).toMatch(/SHA-256 [0-9a-f]{64} differs from the manifest's [0-9a-f]{64}: the file is corrupt/);
    await expect(verifyCheckpoint(dir)).rejects.toThrow(/model\.safetensors: SHA-256/);
  });

  it('a truncated file', async () => {
    const dir = await saved();
    const f = path.join(dir, 'optimizer.safetensors');
    fs.truncateSync(f, 100);
    const e = await ckError(loadCheckpoint(dir));
    expect(e).toMatchObject({ code: 'corrupt', file: 'optimizer.safetensors' });
    expect(e.message).toMatch(/has 100 bytes, the manifest says \d+ \(truncated or replaced\)/);
  });

  it('a bad safetensors header whose hash matches (a forged manifest) is still corrupt, with the cause', async () => {
    const dir = await saved();
    const f = path.join(dir, 'model.safetensors');
    const buf = fs.readFileSync(f);
    buf.write('[', 8); // the header must start with '{'
    fs.writeFileSync(f, buf);
    const mf = path.join(dir, 'checkpoint.json');
    const m = JSON.parse(fs.readFileSync(mf, 'utf8'));
    m.files['model.safetensors'].sha256 = crypto.createHash('sha256').update(buf).digest('hex');
    fs.writeFileSync(mf, JSON.stringify(m));
    const e = await ckError(loadCheckpoint(dir));
    expect(e.code).toBe('corrupt');
    expect(e.cause).toBeInstanceOf(SafetensorsError);
    expect(e.message).toMatch(/header must start with '\{'/);
  });

  it('manifest problems: bad JSON, other format, other version, unknown file, missing required file', async () => {
    const dir = await saved();
    const mf = path.join(dir, 'checkpoint.json');
    const good = JSON.parse(fs.readFileSync(mf, 'utf8'));
    const withManifest = async (m: unknown) => { fs.writeFileSync(mf, typeof m === 'string' ? m : JSON.stringify(m)); return ckError(loadCheckpoint(dir)); };
    expect(await withManifest('{"format":')).toMatchObject({ code: 'corrupt', file: 'checkpoint.json' });
    expect((await withManifest({ ...good, version: 2 })).message).toMatch(/format version 2 is not readable here \(this attnode reads version 1\)/);
    expect(await withManifest({ ...good, version: 2 })).toMatchObject({ code: 'format-version' });
    expect(await withManifest({ ...good, format: 'other' })).toMatchObject({ code: 'format-version' });
    expect((await withManifest({ ...good, files: { ...good.files, 'x.bin': good.files['config.json'] } })).message).toMatch(/lists an unknown file "x\.bin"/);
    const { ['config.json']: _omit, ...rest } = good.files;
    expect((await withManifest({ ...good, files: rest })).message).toMatch(/does not list config\.json/);
    expect((await withManifest({ ...good, files: { ...good.files, 'config.json': { bytes: 1 } } })).message).toMatch(/entry for config\.json must be \{ bytes, sha256 \}/);
  });

  it('expected tensors that are missing or unexpected', async () => {
    const dir = await saved();
    const names = [...full().weights.keys()];
    await expect(loadCheckpoint(dir, { expect: { weights: names } })).resolves.toBeDefined();
    const e = await ckError(loadCheckpoint(dir, { expect: { weights: [...names.slice(1), 'decoder.out.weight'] } }));
    expect(e).toMatchObject({ code: 'missing-tensor', file: 'model.safetensors' });
    expect(e.message).toMatch(/missing tensors 'decoder\.out\.weight'; unexpected tensors 'encoder\.embed\.weight'/);
    const o = await ckError(loadCheckpoint(dir, { expect: { optimizerState: ['m.encoder.embed.weight'] } }));
    expect(o.message).toMatch(/optimizer\.safetensors: unexpected tensors 'v\.encoder\.embed\.weight'/);
    const bare = fresh();
    await saveCheckpoint(bare, { config: {}, weights: new Map() });
    expect((await ckError(loadCheckpoint(bare, { expect: { optimizerState: [] } }))).message).toMatch(/optimizer state was expected, but the checkpoint has none/);
  });

  it('finite: true rejects NaN weights, naming the tensor', async () => {
    const dir = await saved();
    await expect(loadCheckpoint(dir, { finite: true })).rejects.toThrow(/model\.safetensors: tensor 'special': NaN at flat index 0 \(position \[0, 0\]\)/);
  });
});
