// The conditional masked LM (issue 15, Mask-Predict): config, bidirectional decoder masks, the
// length predictor, the CMLM masking of targets, a gradient check of the CMLM loss against finite
// differences, and training through the Trainer (checkpoints, bit-identical resume, abort).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Seq2SeqBatch } from '../dist/data/batching.js';
import { BatchLoader } from '../dist/data/loader.js';
import type { Parameter } from '../dist/nn/module.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { meanPool } from '../dist/ops/pool.js';
import { noGrad, tape, Tensor } from '../dist/tensor.js';
import { loadModel, resumeTraining, saveModel, saveTraining } from '../dist/train/checkpoint.js';
import { cmlmInputs, cmlmLoss } from '../dist/train/cmlm.js';
import { Trainer } from '../dist/train/trainer.js';
import { TINY, batchOf, bitsEqual, differingBits, jitter, logitsOf, randomExamples, snapshot, type TinyConfig } from './helpers/model.js';
import { Rng } from './helpers/random.js';

// Vocabulary 12: ids 3..10 are real tokens (randomExamples draws 3..vocab-1, so tgtVocab 11 for
// the data), 11 is <mask>.
const MASK = 11;
const CMLM: TinyConfig = { ...TINY, srcVocab: 12, tgtVocab: 12, objective: 'cmlm', maskId: MASK };
const DATA = { src: 11, tgt: 11 };
const OPTS = { training: false, step: 3, maskMode: 'dynamic' as const, labelSmoothing: 0, ignoreIndex: -100 };

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tmp = (): string => { const d = mkdtempSync(path.join(os.tmpdir(), 'attnode-cmlm-')); dirs.push(d); return d; };

describe('CMLM config', () => {
  it('adds a length predictor over lengths 0..maxLen and nothing else', () => {
    const ar = new Seq2SeqTransformer({ ...TINY, srcVocab: 12, tgtVocab: 12 });
    const m = new Seq2SeqTransformer(CMLM);
    const extra = [...m.namedParameters().keys()].filter((n) => !ar.namedParameters().has(n));
    expect(extra).toEqual(['length_predictor.proj.weight', 'length_predictor.proj.bias']);
    expect(m.namedParameters().get('length_predictor.proj.weight')!.shape).toEqual([TINY.maxLen! + 1, TINY.dModel!]);
    // The autoregressive model's parameters are initialised as before (the predictor is made last).
    for (const [n, p] of ar.namedParameters()) expect(bitsEqual(p.storage.data, m.namedParameters().get(n)!.storage.data), n).toBe(true);
    expect(ar.lengthPredictor).toBeNull();
  });

  it('rejects bad fields, naming them', () => {
    const mk = (c: Partial<TinyConfig>) => () => new Seq2SeqTransformer({ ...CMLM, ...c } as TinyConfig);
    expect(mk({ objective: 'mlm' as never })).toThrow(/objective must be 'autoregressive' or 'cmlm'/);
    expect(mk({ maskId: undefined })).toThrow(/objective 'cmlm' needs maskId/);
    expect(mk({ maskId: 12 })).toThrow(/maskId must be a target token id/);
    expect(mk({ maskId: 0 })).toThrow(/maskId \(0\) must differ from padId/);
    expect(mk({ objective: 'autoregressive' })).toThrow(/maskId is only used with objective 'cmlm'/);
    expect(mk({ decoderSelfAttention: { window: { left: 2 } } })).toThrow(/decoderSelfAttention.*cannot be combined with objective 'cmlm'/);
    expect(mk({ decoderAttention: 'mixed' })).toThrow(/decoderAttention 'mixed' cannot be combined with objective 'cmlm'/);
  });

  it('has no KV-cache decoding (its decoder is bidirectional)', () => {
    const m = new Seq2SeqTransformer(CMLM);
    const memory = noGrad(() => m.encode(Int32Array.of(3, 4), Int32Array.of(2), 1, 2));
    expect(() => m.startDecoding(memory, Int32Array.of(2), 1, 2)).toThrow(/objective is 'cmlm'.*mask-predict/);
    ops.arena.releaseAll();
  });
});

describe('bidirectional decoder', () => {
  const model = new Seq2SeqTransformer(CMLM);
  jitter(model, 3);
  const ar = new Seq2SeqTransformer({ ...TINY, srcVocab: 12, tgtVocab: 12 });
  jitter(ar, 3);
  // Two rows: source lengths 5 and 3, target lengths 4 and 2 (padding on both sides).
  const base = {
    batch: 2, srcLen: 5, tgtLen: 4, src: Int32Array.of(3, 4, 5, 6, 7, 8, 9, 10, 0, 0), srcLengths: Int32Array.of(5, 3),
    tgtIn: Int32Array.of(3, MASK, 5, 6, 7, MASK, 0, 0), tgtLengths: Int32Array.of(4, 2),
  };
  const V = 12;
  const rowsOf = (l: Float32Array, row: number, positions: number[]) => positions.map((i) => l.slice((row * 4 + i) * V, (row * 4 + i + 1) * V));

  it('sees later target positions (an autoregressive decoder does not)', () => {
    const changed = { ...base, tgtIn: Int32Array.from(base.tgtIn) };
    changed.tgtIn[3] = 9;  // row 0, last real position
    for (const [m, sees] of [[model, true], [ar, false]] as const) {
      const a = logitsOf(m, base), b = logitsOf(m, changed);
      for (const [x, y] of rowsOf(a, 0, [0, 1, 2]).map((r, i) => [r, rowsOf(b, 0, [0, 1, 2])[i]!] as const))
        expect(bitsEqual(x, y)).toBe(!sees);
    }
  });

  it('never sees target or source padding', () => {
    const padded = { ...base, tgtIn: Int32Array.from(base.tgtIn), src: Int32Array.from(base.src) };
    padded.tgtIn[6] = 9; padded.tgtIn[7] = 4;   // row 1's target padding
    padded.src[8] = 7; padded.src[9] = 5;       // row 1's source padding
    const a = logitsOf(model, base), b = logitsOf(model, padded);
    for (const [row, n] of [[0, 4], [1, 2]] as const) {
      const idx = Array.from({ length: n }, (_, i) => i);
      rowsOf(a, row, idx).forEach((x, i) => expect(bitsEqual(x, rowsOf(b, row, idx)[i]!), `row ${row} position ${i}`).toBe(true));
    }
  });

  it('static masks (the explicit arrays) give what the dynamic options give', () => {
    const a = logitsOf(model, base, 'dynamic'), b = logitsOf(model, base, 'static');
    for (const [row, n] of [[0, 4], [1, 2]] as const)
      for (let i = 0; i < n; ++i)
        for (let v = 0; v < V; ++v) expect(Math.abs(a[(row * 4 + i) * V + v]! - b[(row * 4 + i) * V + v]!)).toBeLessThan(1e-5);
  });
});

describe('length predictor', () => {
  it('is a linear layer over the encoder output mean-pooled over real source tokens', () => {
    const model = new Seq2SeqTransformer(CMLM);
    jitter(model, 5);
    noGrad(() => {
      const src = Int32Array.of(3, 4, 5, 6, 7, 8, 0, 0), lens = Int32Array.of(4, 2);
      const mem = model.encode(src, lens, 2, 4).toFloat32Array();
      const logits = model.lengthPredictor!.forward(Tensor.fromArray(mem, [8, 8]), lens, 2, 4).toFloat32Array();
      const W = model.namedParameters().get('length_predictor.proj.weight')!.storage.data;
      const bias = model.namedParameters().get('length_predictor.proj.bias')!.storage.data;
      const C = TINY.maxLen! + 1, D = 8;
      expect(logits.length).toBe(2 * C);
      for (let b = 0; b < 2; ++b) {
        const mean = new Float64Array(D);
        for (let j = 0; j < lens[b]!; ++j) for (let d = 0; d < D; ++d) mean[d]! += mem[(b * 4 + j) * D + d]! / lens[b]!;
        for (let k = 0; k < C; ++k) {
          let z = bias[k]!;
          for (let d = 0; d < D; ++d) z += W[k * D + d]! * mean[d]!;
          expect(Math.abs(logits[b * C + k]! - z)).toBeLessThan(1e-5);
        }
      }
      // Padding, and what stands in it, changes nothing.
      const one = model.encode(Int32Array.of(7, 8), Int32Array.of(2), 1, 2);
      const l1 = model.lengthPredictor!.forward(one, Int32Array.of(2), 1, 2).toFloat32Array();
      for (let k = 0; k < C; ++k) expect(Math.abs(l1[k]! - logits[C + k]!)).toBeLessThan(1e-5);
      ops.arena.releaseAll();
    });
  });

  it('meanPool: a key mask leaves out the rows it marks 0; its gradient goes to counted rows only', () => {
    const x = Tensor.fromArray(Float32Array.from({ length: 12 }, (_, i) => i + 1), [6, 2], true);
    const y = meanPool(x, Int32Array.of(3, 2), 2, 3, Uint8Array.of(1, 0, 1, 1, 1, 1));
    expect(Array.from(y.toFloat32Array())).toEqual([(1 + 5) / 2, (2 + 6) / 2, (7 + 9) / 2, (8 + 10) / 2]);
    y.grad = Float32Array.of(1, 2, 3, 4);
    tape.run();
    expect(Array.from(x.grad!)).toEqual([0.5, 1, 0, 0, 0.5, 1, 1.5, 2, 1.5, 2, 0, 0]);
    ops.arena.releaseAll();
  });
});

describe('CMLM masking of targets', () => {
  const ex = randomExamples(2, [3, 4, 2, 5], [6, 1, 3, 4], DATA);
  const b = batchOf(CMLM, ex);
  const o = { maskId: MASK, padId: 0, ignoreIndex: -100, seed: 1, step: 7 };

  it('masks 1..n positions of each target, labels exactly those, keeps the rest and the length', () => {
    const c = cmlmInputs(b, o);
    expect(Array.from(c.lengths)).toEqual([6, 1, 3, 4]);
    expect(c.tgtLen).toBe(6);
    let masked = 0;
    ex.forEach((e, r) => {
      let k = 0;
      for (let i = 0; i < c.tgtLen; ++i) {
        const at = r * c.tgtLen + i, inp = c.tgtIn[at]!, lab = c.labels[at]!;
        if (i >= e.tgt.length) { expect([inp, lab]).toEqual([0, -100]); continue; }
        if (inp === MASK) { expect(lab).toBe(e.tgt[i]); k++; } else { expect([inp, lab]).toEqual([e.tgt[i], -100]); }
      }
      expect(k).toBeGreaterThanOrEqual(1);
      expect(k).toBeLessThanOrEqual(e.tgt.length);
      masked += k;
    });
    expect(c.masked).toBe(masked);
  });

  it('draws the masks from (seed, step, example index): batch order does not matter, steps differ', () => {
    const c = cmlmInputs(b, o);
    const rev = batchOf(CMLM, [...ex].reverse());
    rev.indices.set([3, 2, 1, 0]);
    const d = cmlmInputs(rev, o);
    for (let r = 0; r < 4; ++r)
      for (let i = 0; i < 6; ++i) expect(d.tgtIn[(3 - r) * 6 + i]).toBe(c.tgtIn[r * 6 + i]);
    expect(Array.from(cmlmInputs(b, { ...o, step: 8 }).tgtIn)).not.toEqual(Array.from(c.tgtIn));
  });

  it('draws the number of masks uniformly from 1..n', () => {
    const n = 5, counts = new Array<number>(n + 1).fill(0);
    const one = batchOf(CMLM, randomExamples(3, [2], [n], DATA));
    for (let step = 0; step < 2000; ++step) counts[cmlmInputs(one, { ...o, step }).masked]! += 1;
    expect(counts[0]).toBe(0);
    for (let k = 1; k <= n; ++k) expect(Math.abs(counts[k]! / 2000 - 1 / n)).toBeLessThan(0.04);
  });
});

// ----- Gradient check (the method of model.gradcheck.test.ts) -----

function norm(g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < g.length; ++i) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

function unit(v: Float64Array): Float64Array {
  const n = norm(v);
  return v.map((x) => x / n);
}

function directional(p: Parameter, g: Float32Array, d: Float64Array, h: number, loss: () => number): { fd: number; an: number } {
  const w = p.storage.data, w0 = new Float32Array(w);
  const at = (step: number): { fd: number; an: number } => {
    for (let i = 0; i < w.length; ++i) w[i] = w0[i]! + step * d[i]!;
    const plus = new Float32Array(w), lp = loss();
    for (let i = 0; i < w.length; ++i) w[i] = w0[i]! - step * d[i]!;
    const minus = new Float32Array(w), lm = loss();
    w.set(w0);
    let an = 0;
    for (let i = 0; i < w.length; ++i) an += g[i]! * (plus[i]! - minus[i]!);
    return { fd: (lp - lm) / (2 * step), an: an / (2 * step) };
  };
  const a = at(h), b = at(h / 2);
  return { fd: (4 * b.fd - a.fd) / 3, an: (4 * b.an - a.an) / 3 };
}

function cmlmLossOf(model: Seq2SeqTransformer, b: Seq2SeqBatch): number {
  return noGrad(() => {
    try { return cmlmLoss(model, b, OPTS, { lengthLossWeight: 0.5 }).sum; } finally { ops.arena.releaseAll(); }
  });
}

describe('CMLM loss gradient vs finite differences', () => {
  for (const [name, cfg] of [['post-LN, tied, gelu', CMLM], ['pre-LN, untied, learned positions, GQA', { ...CMLM, norm: 'pre', tieEmbeddings: false, positions: 'learned', kvHeads: 1, seed: 4 }]] as const) {
    it(name, () => {
      const h = 2.5e-2, floor = 2.5e-4 / h;
      const model = new Seq2SeqTransformer(cfg as TinyConfig);
      jitter(model, 11);
      const b = batchOf(cfg, randomExamples(5, [6, 3], [4, 2], DATA));
      model.zeroGrad();
      let loss: number;
      const grads = new Map<string, Float32Array>();
      try {
        // A large length weight so that the length predictor's share is well above the noise.
        loss = cmlmLoss(model, b, OPTS, { lengthLossWeight: 0.5 }).sum;
        tape.run();
        for (const [n, p] of model.namedParameters()) grads.set(n, new Float32Array(p.grad!));
      } finally {
        tape.clear();
        model.zeroGrad();
        ops.arena.releaseAll();
      }
      expect(cmlmLossOf(model, b)).toBe(loss);  // same masks, same forward
      const rng = new Rng(99);
      const seen = new Set<Parameter>();
      let worst = { err: 0, name: '', fd: 0, an: 0 };
      let total = 0;
      for (const g of grads.values()) total = Math.max(total, norm(g));
      for (const [pname, p] of model.namedParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        const g = grads.get(pname)!, gn = norm(g);
        if (!pname.endsWith('k_proj.bias')) expect(gn, `${pname}: zero gradient`).toBeGreaterThan(1e-4 * total);
        const dirs = [unit(Float64Array.from({ length: p.size }, () => rng.normal()))];
        if (gn > 0) dirs.push(unit(Float64Array.from(g)));
        for (const d of dirs) {
          const r = directional(p, g, d, h, () => cmlmLossOf(model, b));
          const err = Math.abs(r.fd - r.an) / Math.max(gn, floor);
          if (err > worst.err) worst = { err, name: pname, fd: r.fd, an: r.an };
          expect(err, `${pname}: fd ${r.fd} vs analytic ${r.an}`).toBeLessThan(1e-2);
        }
      }
      expect(seen.has(model.namedParameters().get('length_predictor.proj.weight')!)).toBe(true);
      console.log(`CMLM gradcheck ${name}: ${seen.size} tensors, worst ${worst.err.toExponential(2)} at ${worst.name} (fd ${worst.fd}, an ${worst.an})`);
    });
  }

  it('sum / count = mean masked-token loss + weight * mean length loss', () => {
    const model = new Seq2SeqTransformer(CMLM);
    const b = batchOf(CMLM, randomExamples(5, [6, 3], [4, 2], DATA));
    noGrad(() => {
      const c = cmlmInputs(b, { maskId: MASK, padId: 0, ignoreIndex: -100, seed: CMLM.seed!, step: OPTS.step });
      const l0 = cmlmLoss(model, b, OPTS, { lengthLossWeight: 0 });
      const l1 = cmlmLoss(model, b, OPTS, { lengthLossWeight: 0.1 });
      const memory = model.encode(b.src, b.srcLengths, b.batch, b.srcLen);
      const len = ops.crossEntropySum(model.lengthPredictor!.forward(memory, b.srcLengths, b.batch, b.srcLen), c.lengths, { labelSmoothing: 0, ignoreIndex: -100 });
      expect(l0.count).toBe(c.masked);
      expect(l1.sum / l1.count).toBeCloseTo(l0.sum / l0.count + 0.1 * (len.sum / b.batch), 5);
      ops.arena.releaseAll();
    });
  });
});

describe('CMLM training through the Trainer', () => {
  const ex = randomExamples(8, [3, 4, 2, 5, 3, 4], [3, 2, 4, 3, 1, 2], DATA);
  const loaderOf = () => new BatchLoader(ex, { batchSize: 3, shuffle: true, seed: 2, bos: 1, eos: 2, padId: 0 });
  const trainerOf = (m: Seq2SeqTransformer) => new Trainer(m, { optimizer: { lr: 3e-3 }, schedule: { kind: 'constant', lr: 3e-3 } });

  it('lowers the CMLM loss, updates the length predictor, resumes bit-identically, saves and loads', async () => {
    const straight = new Seq2SeqTransformer(CMLM);
    const before = snapshot(straight);
    const t1 = trainerOf(straight), l1 = loaderOf();
    const first = t1.evaluate([l1.next()]).loss;
    const res = await t1.fit(l1, { steps: 8 });
    expect(Number.isFinite(res.loss)).toBe(true);
    expect(differingBits(before, snapshot(straight))).toContain('length_predictor.proj.weight');
    // Half, a checkpoint, a fresh trainer resumed from it, the other half: the same bits.
    const dir = tmp();
    const a = new Seq2SeqTransformer(CMLM), ta = trainerOf(a), la = loaderOf();
    la.next();  // as l1 above, one batch went to the evaluation
    await ta.fit(la, { steps: 4 });
    await saveTraining(dir, ta, { loader: la });
    const b = new Seq2SeqTransformer(CMLM), tb = trainerOf(b), lb = loaderOf();
    await resumeTraining(dir, tb, { loader: lb });
    await tb.fit(lb, { steps: 4 });
    expect(differingBits(snapshot(straight), snapshot(b))).toEqual([]);
    // The loss went down over more steps.
    await t1.fit(l1, { steps: 40 });
    expect(t1.evaluate([loaderOf().next()]).loss).toBeLessThan(first);
    // Saved and loaded: config (objective, maskId) and the length predictor come back.
    const saved = tmp();
    await saveModel(saved, straight);
    const { model: back } = await loadModel(saved);
    expect(back.config.objective).toBe('cmlm');
    expect(back.config.maskId).toBe(MASK);
    expect(differingBits(snapshot(straight), snapshot(back))).toEqual([]);
  });

  it('stops on an aborted signal', async () => {
    const t = trainerOf(new Seq2SeqTransformer(CMLM));
    const ctl = new AbortController();
    ctl.abort();
    await expect(t.fit(loaderOf(), { steps: 3, signal: ctl.signal })).rejects.toThrow(/abort/i);
    expect(t.step).toBe(0);
  });
});
