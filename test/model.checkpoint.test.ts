// Whole-model checkpoints: save/load gives bitwise-identical logits; a run interrupted by
// saveTraining and continued with resumeTraining in a fresh model, trainer and loader ends with
// the same weights, bit for bit, as an uninterrupted run (also with dropout); corrupt or
// inconsistent checkpoints are rejected with an error naming the problem.
import buffer from 'node:buffer';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CharTokenizer } from '../dist/data/char.js';
import { encodePairs } from '../dist/data/examples.js';
import { BatchLoader } from '../dist/data/loader.js';
import { generateTask } from '../dist/data/tasks/index.js';
import { CheckpointError, SafetensorsError, saveCheckpoint } from '../dist/io/index.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import { loadModel, resumeTraining, saveModel, saveTraining } from '../dist/train/checkpoint.js';
import { Trainer } from '../dist/train/trainer.js';
import { TINY, batchOf, bitsEqual, differingBits, logitsOf, randomExamples, snapshot, type TinyConfig } from './helpers/model.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-model-ckpt-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, `ck-${n++}`);

const CFG: TinyConfig = { ...TINY, dModel: 16, heads: 4, ffDim: 32, maxLen: 24, activation: 'relu' };

describe('saveModel / loadModel', () => {
  for (const [name, cfg] of [
    ['post-LN, tied, sinusoidal', CFG],
    ['pre-LN, untied, GQA, learned, other source vocabulary', { ...CFG, norm: 'pre', tieEmbeddings: false, kvHeads: 2, positions: 'learned', srcVocab: 15 }],
  ] as [string, TinyConfig][]) {
    it(`round trip gives bitwise-identical weights and logits (${name})`, async () => {
      const model = new Seq2SeqTransformer(cfg);
      const b = batchOf(cfg, randomExamples(2, [5, 2, 7], [3, 6, 1], { src: cfg.srcVocab, tgt: cfg.tgtVocab }));
      const tok = CharTokenizer.fromTexts(['abcdefg']);
      const dir = fresh();
      await saveModel(dir, model, { tokenizer: tok });
      const loaded = await loadModel(dir);
      expect(loaded.model.config).toEqual(model.config);
      expect(differingBits(snapshot(model), snapshot(loaded.model))).toEqual([]);
      expect(bitsEqual(logitsOf(model, b), logitsOf(loaded.model, b))).toBe(true);
      expect(loaded.tokenizer?.encode('cab')).toEqual(tok.encode('cab'));
    });
  }
});

describe('resumeTraining continues bit-identically', () => {
  const train = generateTask('copy', { count: 400, seed: 3, minLength: 2, maxLength: 8 });
  const tok = CharTokenizer.fromTexts(train.map((p) => p.source));
  const examples = encodePairs(train, { source: tok });
  const makeRun = (dropout: number) => {
    const model = new Seq2SeqTransformer({ ...CFG, srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, dropout, attentionDropout: dropout,
      padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId, seed: 21 });
    const trainer = new Trainer(model, { optimizer: { lr: 3e-3 }, schedule: { kind: 'inverseSqrt', lr: 3e-3, warmup: 4 } });
    const loader = new BatchLoader(examples, { batchSize: 16, shuffle: true, seed: 5, bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
    return { model, trainer, loader };
  };
  const N = 8;

  for (const dropout of [0, 0.2]) {
    it(`N steps straight = N/2, save, fresh model/trainer/loader, resume, N/2 more (dropout ${dropout})`, async () => {
      const straight = makeRun(dropout);
      await straight.trainer.fit(straight.loader, { steps: N });

      const first = makeRun(dropout);
      await first.trainer.fit(first.loader, { steps: N / 2 });
      const dir = fresh();
      await saveTraining(dir, first.trainer, { tokenizer: tok, loader: first.loader });
      const second = makeRun(dropout);
      await resumeTraining(dir, second.trainer, { loader: second.loader });
      expect(second.trainer.step).toBe(N / 2);
      expect(differingBits(snapshot(first.model), snapshot(second.model))).toEqual([]);
      await second.trainer.fit(second.loader, { steps: N / 2 });

      expect(second.trainer.step).toBe(N);
      expect(differingBits(snapshot(straight.model), snapshot(second.model))).toEqual([]);
      expect(straight.loader.state()).toEqual(second.loader.state());
      // The weights did move (the comparison is not between two untrained models).
      expect(differingBits(snapshot(makeRun(dropout).model), snapshot(second.model)).length).toBeGreaterThan(10);
      // Adam moments too: a further step from each stays identical.
      straight.trainer.trainStep([straight.loader.next()]);
      second.trainer.trainStep([second.loader.next()]);
      expect(differingBits(snapshot(straight.model), snapshot(second.model))).toEqual([]);
    });
  }

  it('dropout actually changes training (so the dropout case tests the dropout seeds)', async () => {
    const a = makeRun(0), b = makeRun(0.2);
    await a.trainer.fit(a.loader, { steps: 2 });
    await b.trainer.fit(b.loader, { steps: 2 });
    expect(differingBits(snapshot(a.model), snapshot(b.model)).length).toBeGreaterThan(10);
  });

  it('resumeTraining of a model-only checkpoint names what is missing', async () => {
    const r = makeRun(0);
    const dir = fresh();
    await saveModel(dir, r.model);
    await expect(resumeTraining(dir, makeRun(0).trainer)).rejects.toThrow(/without optimizer and trainer state/);
  });
});

describe('corrupt and inconsistent checkpoints are rejected naming the problem', () => {
  const saved = async () => {
    const dir = fresh();
    await saveModel(dir, new Seq2SeqTransformer(CFG));
    return dir;
  };
  const expectCheckpointError = async (dir: string, code: string, file: string, message: RegExp) => {
    const err = await loadModel(dir).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe(code);
    expect((err as CheckpointError).file).toBe(file);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(dir);
  };

  it('a flipped byte in model.safetensors', async () => {
    const dir = await saved();
    const f = path.join(dir, 'model.safetensors');
    const buf = fs.readFileSync(f);
    buf[buf.length - 100]! ^= 0x01;
    fs.writeFileSync(f, buf);
    await expectCheckpointError(dir, 'corrupt', 'model.safetensors', /SHA-256 .* differs from the manifest/);
  });

  it('a truncated model.safetensors', async () => {
    const dir = await saved();
    const f = path.join(dir, 'model.safetensors');
    fs.truncateSync(f, fs.statSync(f).size - 64);
    await expectCheckpointError(dir, 'corrupt', 'model.safetensors', /bytes, the manifest says .* \(truncated or replaced\)/);
  });

  it('config.json removed', async () => {
    const dir = await saved();
    fs.rmSync(path.join(dir, 'config.json'));
    await expectCheckpointError(dir, 'missing-file', 'config.json', /listed in the manifest but missing/);
  });

  it('no manifest (a save that did not finish)', async () => {
    const dir = await saved();
    fs.rmSync(path.join(dir, 'checkpoint.json'));
    await expectCheckpointError(dir, 'incomplete', 'checkpoint.json', /missing/);
  });

  // Consistent files (hashes match) whose content is wrong for a model: written with saveCheckpoint.
  const writeWith = async (config: object, weights = new Seq2SeqTransformer(CFG).namedParameters()) => {
    const dir = fresh();
    const w = new Map([...weights].map(([k, p]) => [k, { shape: p.shape, data: new Float32Array(p.storage.data) }]));
    await saveCheckpoint(dir, { config, weights: w });
    return { dir, w };
  };

  it.each([
    [{ heads: 3 }, /dModel \(16\) must be a multiple of heads \(3\)/],
    [{ dModel: -16 }, /dModel must be a positive integer, got -16/],
    [{ norm: 'middle' }, /norm must be 'post' or 'pre', got middle/],
    [{ dropout: 1.5 }, /dropout must be in \[0, 1\), got 1.5/],
    [{ dmodel: 16 }, /unknown field 'dmodel'/],
    [{ eosId: 99 }, /eosId must be a token id in both vocabularies, got 99/],
  ])('a bad config field %j', async (bad, message) => {
    const { dir } = await writeWith({ ...new Seq2SeqTransformer(CFG).config, ...bad });
    await expect(loadModel(dir)).rejects.toThrow(message);
  });

  it('a huge vocabulary: a RangeError naming the file, the fields and the bytes, before anything is allocated', async () => {
    const { dir } = await writeWith({ ...new Seq2SeqTransformer(CFG).config, srcVocab: 1e12 });
    const err = await loadModel(dir).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe(`loadModel: ${path.join(dir, 'config.json')}: model config: srcVocab (1000000000000) × dModel (16) = 16000000000000 parameters in one matrix, `
      + `58.2 TiB (64000000000000 bytes): more than one Float32Array holds (${buffer.constants.MAX_LENGTH} elements)`);
    // Each matrix fitting, all of them together not: the largest part is named.
    expect(() => new Seq2SeqTransformer({ ...CFG, decoderLayers: 2 ** 34 })).toThrow(
      /^model config: the parameters would take [\d.]+ [KMGTPE]iB \(\d+ bytes\) as \d+ float32 values, .* of it for decoderLayers \(17179869184\) × dModel \(16\), ffDim \(32\): more than this machine's memory, .* \(\d+ bytes\)$/);
  });

  it('a file, or a missing folder, given as the model folder', async () => {
    const file = path.join(root, 'not-a-folder');
    fs.writeFileSync(file, '{}');
    for (const load of [loadModel, (d: string) => resumeTraining(d, null as never)]) {
      const err = await load(file).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect(err).toMatchObject({ code: 'not-a-directory', dir: file, message: `checkpoint ${file}: is a file, not a directory` });
      expect(await load(path.join(root, 'no-such-model')).catch((e: CheckpointError) => e.code)).toBe('missing-file');
    }
  });

  it('weights of another shape than the config says', async () => {
    const { dir } = await writeWith({ ...new Seq2SeqTransformer(CFG).config, ffDim: 48 });
    await expect(loadModel(dir)).rejects.toThrow(/tensor 'encoder\.layers\.0\.fc1\.weight' has shape \[32, 16\], the model expects \[48, 16\]/);
  });

  it('a missing and an unexpected tensor', async () => {
    const params = new Seq2SeqTransformer(CFG).namedParameters();
    const cfg = { ...new Seq2SeqTransformer(CFG).config };
    const fewer = new Map(params);
    fewer.delete('decoder.layers.0.fc2.bias');
    await expect(loadModel((await writeWith(cfg, fewer)).dir)).rejects.toThrow(/lacks the tensor 'decoder\.layers\.0\.fc2\.bias'/);
    const more = new Map(params);
    more.set('decoder.extra', params.get('decoder.layers.0.fc2.bias')!);
    await expect(loadModel((await writeWith(cfg, more)).dir)).rejects.toThrow(/has a tensor 'decoder\.extra' this model does not have/);
  });

  it('a NaN weight', async () => {
    const model = new Seq2SeqTransformer(CFG);
    model.namedParameters().get('encoder.layers.0.fc1.weight')!.storage.data[5] = NaN;
    const dir = fresh();
    await saveModel(dir, model);
    const err = await loadModel(dir).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toMatch(/encoder\.layers\.0\.fc1\.weight/);
  });
});
