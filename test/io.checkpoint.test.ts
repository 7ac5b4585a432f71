// Checkpoint directories: bit-exact round trips, the manifest written last, and a clear error for
// every way a checkpoint can be incomplete, corrupt, of another version, or not what was expected.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  CHECKPOINT_VERSION, CheckpointError, SafetensorsError, loadCheckpoint, saveCheckpoint, verifyCheckpoint,
  type CheckpointInput, type CheckpointTensor,
} from '../dist/io/index.js';

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

  it('writes the manifest last, each file through a rename', async () => {
    const dir = fresh();
    const renamed: string[] = [];
    const real = fs.promises.rename;
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => { renamed.push(path.basename(String(to))); return real(from, to); });
    await saveCheckpoint(dir, full());
    expect(renamed).toHaveLength(7);
    expect(renamed[renamed.length - 1]).toBe('checkpoint.json');
  });
});

describe('interrupted saves', () => {
  it('a crash part way through a save (over an old checkpoint) reads as incomplete, never as the old one', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, full());
    const real = fs.promises.rename;
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      if (String(to).endsWith('optimizer.safetensors')) throw new Error('simulated crash');
      return real(from, to);
    });
    const next = full();
    await expect(saveCheckpoint(dir, { ...next, config: { changed: true } })).rejects.toThrow('simulated crash');
    vi.restoreAllMocks();
    const e = await ckError(loadCheckpoint(dir));
    expect(e.code).toBe('incomplete');
    expect(e.message).toMatch(/checkpoint\.json: missing: not a checkpoint, or a save that did not finish/);
    // Saving again recovers.
    await saveCheckpoint(dir, next);
    expect((await loadCheckpoint(dir)).optimizer?.step).toBe(1234);
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
