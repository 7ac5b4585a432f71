// Bad input to a whole model is rejected with an error naming the problem, never a crash or a
// silent wrong answer: ids outside the vocabulary, empty and over-long sequences, inconsistent
// lengths; a non-finite loss or gradient stops training, naming the step, before any weight or
// optimizer state changes.
import { describe, expect, it } from 'vitest';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { noGrad } from '../dist/tensor.js';
import { NonFiniteError } from '../dist/train/optimizer.js';
import { Trainer } from '../dist/train/trainer.js';
import { TINY, batchOf, differingBits, randomExamples, snapshot, type TinyConfig } from './helpers/model.js';

const CFG: TinyConfig = { ...TINY, maxLen: 8 };
const model = new Seq2SeqTransformer(CFG);
const good = batchOf(CFG, randomExamples(1, [3, 2], [1, 1], { src: 11, tgt: 11 }));  // srcLen 3, tgtLen 2
type Input = Parameters<Seq2SeqTransformer['forward']>[0];
const run = (x: Partial<Input>) => () => noGrad(() => {
  try {
    model.forward({ ...good, ...x });
  } finally {
    ops.arena.releaseAll();
  }
});

describe('input validation of Seq2SeqTransformer.forward', () => {
  it('accepts the well-formed batch', () => {
    expect(run({})).not.toThrow();
  });

  it('ids outside the vocabulary, naming the array, index, id and vocabulary', () => {
    const src = good.src.slice(); src[2] = 11;
    expect(run({ src })).toThrow(/input\.src\[2\] = 11 is outside the vocabulary \[0, 11\)/);
    src[2] = -1;
    expect(run({ src })).toThrow(/input\.src\[2\] = -1 is outside the vocabulary/);
    const tgtIn = good.tgtIn.slice(); tgtIn[3] = 1000;
    expect(run({ tgtIn })).toThrow(/input\.tgtIn\[3\] = 1000 is outside the vocabulary \[0, 11\)/);
    // An untied model with another source vocabulary checks each side against its own.
    const m2 = new Seq2SeqTransformer({ ...CFG, srcVocab: 20, tieEmbeddings: false });
    const src2 = good.src.slice(); src2[0] = 15;
    expect(() => noGrad(() => { try { m2.forward({ ...good, src: src2 }); } finally { ops.arena.releaseAll(); } })).not.toThrow();
    const tgt2 = good.tgtIn.slice(); tgt2[0] = 15;
    expect(() => noGrad(() => m2.forward({ ...good, tgtIn: tgt2 }))).toThrow(/input\.tgtIn\[0\] = 15 is outside the vocabulary \[0, 11\)/);
  });

  it('sequences longer than maxLen', () => {
    expect(run({ srcLen: 9, src: new Int32Array(18).fill(3), srcLengths: Int32Array.of(9, 9) })).toThrow(/sequence length 9 exceeds maxLen 8/);
    expect(run({ tgtLen: 9, tgtIn: new Int32Array(18).fill(3), tgtLengths: Int32Array.of(9, 9) })).toThrow(/sequence length 9 exceeds maxLen 8/);
  });

  it('empty batch dimensions (every source empty, no rows)', () => {
    expect(run({ srcLen: 0, src: new Int32Array(0), srcLengths: Int32Array.of(0, 0) })).toThrow(/input\.srcLen must be a positive integer, got 0/);
    expect(run({ tgtLen: 0, tgtIn: new Int32Array(0), tgtLengths: Int32Array.of(0, 0) })).toThrow(/input\.tgtLen must be a positive integer, got 0/);
    expect(run({ batch: 0 })).toThrow(/input\.batch must be a positive integer, got 0/);
  });

  it('arrays of the wrong size or type', () => {
    expect(run({ src: good.src.subarray(1) })).toThrow(/input\.src must have length batch\*srcLen = 6, got 5/);
    expect(run({ tgtIn: new Int32Array(5) })).toThrow(/input\.tgtIn must have length batch\*tgtLen = 4, got 5/);
    expect(run({ srcLengths: Int32Array.of(3) })).toThrow(/srcLengths and input\.tgtLengths must have one entry per batch row/);
    expect(run({ src: new Float32Array(6) as unknown as Int32Array })).toThrow(/ids must be an Int32Array, got a Float32Array/);
  });

  it('lengths outside [1, padded length], naming input.srcLengths / input.tgtLengths', () => {
    expect(run({ srcLengths: Int32Array.of(4, 2) })).toThrow(/input\.srcLengths\[0\] must be in \[1, 3\], got 4/);
    expect(run({ srcLengths: Int32Array.of(-1, 2) })).toThrow(/input\.srcLengths\[0\] must be in \[1, 3\], got -1/);
    expect(run({ tgtLengths: Int32Array.of(3, 1) })).toThrow(/input\.tgtLengths\[0\] must be in \[1, 2\], got 3/);
  });

  it('an empty row: a source with no token (not even EOS), a decoder row without its start token', () => {
    expect(run({ srcLengths: Int32Array.of(3, 0) })).toThrow(/input\.srcLengths\[1\] must be in \[1, 3\], got 0/);
    expect(run({ tgtLengths: Int32Array.of(2, 0) })).toThrow(/input\.tgtLengths\[1\] must be in \[1, 2\], got 0/);
  });
});

describe('non-finite values stop training before any change', () => {
  const setup = () => {
    const m = new Seq2SeqTransformer({ ...TINY, seed: 4 });
    const trainer = new Trainer(m, { optimizer: { lr: 1e-2 }, schedule: { kind: 'constant', lr: 1e-2 } });
    const batches = [1, 2, 3, 4].map((s) => batchOf(TINY, randomExamples(s, [5, 3, 4], [2, 4, 3], { src: 11, tgt: 11 })));
    return { m, trainer, batches };
  };
  const optimizerState = (t: Trainer) => t.optimizer.m.concat(t.optimizer.v).map((a) => new Float32Array(a));

  it('a NaN weight: NonFiniteError naming the step; weights, moments and step unchanged', async () => {
    const { m, trainer, batches } = setup();
    trainer.trainStep([batches[0]!]);
    trainer.trainStep([batches[1]!]);
    const w = m.namedParameters().get('decoder.layers.0.fc1.weight')!;
    w.storage.data[3] = NaN;
    const before = snapshot(m), moments = optimizerState(trainer);
    let err: unknown;
    try { trainer.trainStep([batches[2]!]); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).step).toBe(3);
    expect((err as Error).message).toMatch(/the loss is NaN at step 3; no weight was changed/);
    expect(trainer.step).toBe(2);
    const after = snapshot(m);
    expect(Number.isNaN(after.get('decoder.layers.0.fc1.weight')![3])).toBe(true);
    after.get('decoder.layers.0.fc1.weight')![3] = 0; before.get('decoder.layers.0.fc1.weight')![3] = 0;
    expect(differingBits(before, after)).toEqual([]);
    optimizerState(trainer).forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(moments[i]!.buffer))).toBe(true));
    for (const p of m.parameters()) expect(p.grad!.every((g) => g === 0)).toBe(true);  // no stale gradient left behind
  });

  it('a NaN weight that a kernel rejects before the loss exists: NonFiniteError naming the parameter and the step', () => {
    const { m, trainer, batches } = setup();
    trainer.trainStep([batches[0]!]);
    m.namedParameters().get('encoder.layers.0.self_attn.k_proj.weight')!.storage.data[7] = NaN;
    const before = snapshot(m), moments = optimizerState(trainer);
    let err: unknown;
    try { trainer.trainStep([batches[1]!]); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).step).toBe(2);
    expect((err as Error).message).toMatch(/parameter 'encoder\.layers\.0\.self_attn\.k_proj\.weight' is NaN at index 7 at step 2 .*no weight was changed/);
    expect(trainer.step).toBe(1);
    expect(differingBits(before, snapshot(m)).filter((n) => n !== 'encoder.layers.0.self_attn.k_proj.weight')).toEqual([]);
    optimizerState(trainer).forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(moments[i]!.buffer))).toBe(true));
  });

  it('fit() rejects with the same error and calls afterStep only for the steps that were taken', async () => {
    const { m, trainer, batches } = setup();
    let i = 0;
    const after: number[] = [];
    const source = { next: () => batches[i++ % batches.length]! };
    await trainer.fit(source, { steps: 1, afterStep: (s) => { after.push(s); } });
    m.namedParameters().get('decoder.layers.0.encoder_attn.v_proj.weight')!.storage.data[0] = Infinity;
    const before = snapshot(m);
    await expect(trainer.fit(source, { steps: 3, afterStep: (s) => { after.push(s); } }))
      .rejects.toThrow(/'decoder\.layers\.0\.encoder_attn\.v_proj\.weight' is Infinity at index 0 at step 2 .*no weight was changed/);
    expect(after).toEqual([1]);
    expect(differingBits(before, snapshot(m))).toEqual([]);
  });

  it('a non-finite gradient (finite loss): the optimizer names the step and changes nothing', () => {
    const { m, trainer, batches } = setup();
    trainer.trainStep([batches[0]!]);
    const before = snapshot(m), moments = optimizerState(trainer);
    // Poison one gradient entry after backward: the optimizer's norm check must catch it.
    const p = m.namedParameters().get('decoder.layers.0.fc2.bias')!;
    p.grad![0] = NaN;
    expect(() => trainer.optimizer.apply(1e-2, 1)).toThrow(/gradient norm is NaN at step 2; no weight was changed/);
    expect(trainer.step).toBe(1);
    expect(differingBits(before, snapshot(m))).toEqual([]);
    optimizerState(trainer).forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(moments[i]!.buffer))).toBe(true));
    m.zeroGrad();
  });
});

describe('ops recorded outside the trainer do not leak into a training step', () => {
  it('a forward without noGrad (and a released arena) before trainStep: same weights as a clean run', () => {
    const cfg = { ...TINY, seed: 4 };
    const b = batchOf(cfg, randomExamples(2, [5, 3], [2, 4], { src: 11, tgt: 11 }));
    const a = new Seq2SeqTransformer(cfg), clean = new Seq2SeqTransformer(cfg);
    const ta = new Trainer(a), tc = new Trainer(clean);
    a.forward(b);  // e.g. inspecting logits, forgetting noGrad: its backward closures stay on the tape
    ops.arena.releaseAll();  // ...and their buffers go back to the arena (evaluate() and decoding do this)
    ta.trainStep([b]);
    tc.trainStep([b]);
    expect(differingBits(snapshot(a), snapshot(clean))).toEqual([]);
  });

  it('a step that failed mid-forward leaves nothing behind for the next one', () => {
    const cfg = { ...TINY, seed: 4 };
    const b = batchOf(cfg, randomExamples(2, [5, 3], [2, 4], { src: 11, tgt: 11 }));
    const a = new Seq2SeqTransformer(cfg), clean = new Seq2SeqTransformer(cfg);
    const ta = new Trainer(a), tc = new Trainer(clean);
    const w = a.namedParameters().get('decoder.layers.0.self_attn.q_proj.weight')!;
    const old = w.storage.data[0]!;
    w.storage.data[0] = NaN;
    expect(() => ta.trainStep([b])).toThrow(NonFiniteError);
    w.storage.data[0] = old;
    ta.trainStep([b]);
    tc.trainStep([b]);
    expect(differingBits(snapshot(a), snapshot(clean))).toEqual([]);
  });
});
