// DESIGN.md's model contract on whole models: the decoder is causal, padding on either side is
// ignored, the labels [y1..yn, EOS] go with the decoder input [BOS, y1..yn], and the static (mask
// arrays) and dynamic (causal flag + lengths) masks give the same loss and gradients.
import { describe, expect, it } from 'vitest';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { noGrad } from '../dist/tensor.js';
import { TINY, batchOf, bitsEqual, jitter, lossAndGrads, lossOf, logitsOf, randomExamples, type TinyConfig } from './helpers/model.js';
import { Rng } from './helpers/random.js';

const SMALL: TinyConfig = { ...TINY, dModel: 16, heads: 4, ffDim: 32, encoderLayers: 2, decoderLayers: 2, maxLen: 32, activation: 'relu' };
const CONFIGS: [string, TinyConfig][] = [
  ['post-LN, tied, sinusoidal', SMALL],
  ['pre-LN, untied, GQA kvHeads 2, learned', { ...SMALL, norm: 'pre', tieEmbeddings: false, kvHeads: 2, positions: 'learned', srcVocab: 14 }],
];
const SRC_LENS = [9, 4, 1, 6], TGT_LENS = [3, 7, 0, 5];  // an empty target (decoder input [BOS], label [EOS])
const vocabOf = (c: TinyConfig) => ({ src: c.srcVocab, tgt: c.tgtVocab });

function setup(cfg: TinyConfig, seed = 1) {
  const model = new Seq2SeqTransformer(cfg);
  jitter(model, seed, 0.05);
  const b = batchOf(cfg, randomExamples(seed, SRC_LENS, TGT_LENS, vocabOf(cfg)));
  return { model, b };
}

/** Rows [row * T + t] of logits [B*T, V] for real positions only (t < lengths[row]). */
function realRows(logits: Float32Array, lengths: Int32Array, T: number, V: number): Float32Array[] {
  const out: Float32Array[] = [];
  lengths.forEach((n, row) => { for (let t = 0; t < n; ++t) out.push(logits.subarray((row * T + t) * V, (row * T + t + 1) * V)); });
  return out;
}

/** A real-token id (not pad/BOS/EOS) other than `id`. */
function otherId(rng: Rng, id: number, vocab: number): number {
  for (;;) { const x = rng.int(3, vocab - 1); if (x !== id) return x; }
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; ++i) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); m = Math.max(m, Math.abs(a[i]!)); }
  return d / Math.max(m, 1e-30);
}

describe('labels and decoder inputs of a collated batch', () => {
  it('decoder input is [BOS, y1..yn, pad...], labels are [y1..yn, EOS, -100...], label t = input t+1', () => {
    const cfg = TINY;
    const ex = randomExamples(3, [5, 2, 4], [4, 0, 2], vocabOf(cfg));
    const b = batchOf(cfg, ex);
    expect(b.tgtLen).toBe(5);
    expect(Array.from(b.tgtLengths)).toEqual([5, 1, 3]);
    expect(b.numTargetTokens).toBe(9);
    ex.forEach((e, row) => {
      const n = e.tgt.length, T = b.tgtLen;
      const input = Array.from(b.tgtIn.subarray(row * T, row * T + T));
      const labels = Array.from(b.labels.subarray(row * T, row * T + T));
      expect(input).toEqual([cfg.bosId, ...e.tgt, ...Array(T - n - 1).fill(cfg.padId)]);
      expect(labels).toEqual([...e.tgt, cfg.eosId, ...Array(T - n - 1).fill(-100)]);
      for (let t = 0; t < n; ++t) expect(labels[t]).toBe(input[t + 1]);
      // Sources are padded with padId after their length.
      expect(Array.from(b.src.subarray(row * b.srcLen, (row + 1) * b.srcLen))).toEqual([...e.src, ...Array(b.srcLen - e.src.length).fill(cfg.padId)]);
    });
  });

  it('the loss counts exactly the real label positions', () => {
    const { model, b } = setup(SMALL);
    const count = noGrad(() => {
      const l = ops.crossEntropySum(model.forward(b), b.labels, { labelSmoothing: 0, ignoreIndex: -100 });
      ops.arena.releaseAll();
      return l.count;
    });
    expect(count).toBe(b.numTargetTokens);
    expect(count).toBe(TGT_LENS.reduce((a, n) => a + n + 1, 0));
  });
});

for (const [name, cfg] of CONFIGS) {
  describe(`model contract (${name})`, () => {
    for (const mode of ['dynamic', 'static'] as const) {
      it(`causal decoder: logits at t do not change when target tokens after t change (${mode} masks)`, () => {
        const { model, b } = setup(cfg);
        const T = b.tgtLen, V = cfg.tgtVocab;
        const base = logitsOf(model, b, mode);
        const rng = new Rng(4);
        for (let t = 0; t < T - 1; ++t) {
          const tgtIn = b.tgtIn.slice();
          for (let row = 0; row < b.batch; ++row) for (let s = t + 1; s < T; ++s) tgtIn[row * T + s] = otherId(rng, tgtIn[row * T + s]!, V);
          const changed = logitsOf(model, { ...b, tgtIn }, mode);
          for (let row = 0; row < b.batch; ++row) {
            for (let s = 0; s < b.tgtLengths[row]!; ++s) {
              const at = (row * T + s) * V;
              const same = bitsEqual(base.subarray(at, at + V), changed.subarray(at, at + V));
              if (s <= t) expect(same, `row ${row} position ${s} changed when tokens after ${t} changed`).toBe(true);
            }
          }
          // ...and the change is seen at the next real position (the test does test something).
          const row = 1, at = (row * T + t + 1) * V;
          if (t + 1 < b.tgtLengths[row]!) expect(bitsEqual(base.subarray(at, at + V), changed.subarray(at, at + V))).toBe(false);
        }
      });

      it(`padding ignored: other ids at source or target padding leave encoder output and real logits unchanged (${mode} masks)`, () => {
        const { model, b } = setup(cfg);
        const rng = new Rng(8);
        const src = b.src.slice(), tgtIn = b.tgtIn.slice();
        let changedSrc = 0, changedTgt = 0;
        for (let row = 0; row < b.batch; ++row) {
          for (let j = b.srcLengths[row]!; j < b.srcLen; ++j, ++changedSrc) src[row * b.srcLen + j] = rng.int(1, cfg.srcVocab - 1);
          for (let j = b.tgtLengths[row]!; j < b.tgtLen; ++j, ++changedTgt) tgtIn[row * b.tgtLen + j] = rng.int(1, cfg.tgtVocab - 1);
        }
        expect(changedSrc).toBeGreaterThan(10);
        expect(changedTgt).toBeGreaterThan(5);
        const D = cfg.dModel!;
        const memory = (s: Int32Array) => noGrad(() => {
          const m = model.encode(s, b.srcLengths, b.batch, b.srcLen, { maskMode: mode }).toFloat32Array();
          ops.arena.releaseAll();
          return m;
        });
        const m0 = memory(b.src), m1 = memory(src);
        b.srcLengths.forEach((n, row) => {
          for (let j = 0; j < n; ++j) {
            const at = (row * b.srcLen + j) * D;
            expect(bitsEqual(m0.subarray(at, at + D), m1.subarray(at, at + D)), `encoder row ${row} position ${j}`).toBe(true);
          }
        });
        const V = cfg.tgtVocab, T = b.tgtLen;
        const l0 = realRows(logitsOf(model, b, mode), b.tgtLengths, T, V);
        const l1 = realRows(logitsOf(model, { ...b, src, tgtIn }, mode), b.tgtLengths, T, V);
        l0.forEach((r, i) => expect(bitsEqual(r, l1[i]!), `decoder real position ${i}`).toBe(true));
        expect(lossOf(model, { ...b, src, tgtIn }, mode)).toBe(lossOf(model, b, mode));
      });
    }

    it('a padded row gives the logits of the same example run alone, unpadded (to float32 rounding)', () => {
      const { model, b } = setup(cfg);
      const V = cfg.tgtVocab, all = logitsOf(model, b);
      for (let row = 0; row < b.batch; ++row) {
        const sl = b.srcLengths[row]!, tl = b.tgtLengths[row]!;
        const alone = logitsOf(model, {
          batch: 1, srcLen: sl, tgtLen: tl, src: b.src.slice(row * b.srcLen, row * b.srcLen + sl), srcLengths: Int32Array.of(sl),
          tgtIn: b.tgtIn.slice(row * b.tgtLen, row * b.tgtLen + tl), tgtLengths: Int32Array.of(tl),
        });
        const mine = all.subarray(row * b.tgtLen * V, (row * b.tgtLen + tl) * V);
        expect(maxRelDiff(mine, alone), `row ${row}`).toBeLessThan(1e-5);
      }
    });

    it('static and dynamic masks: the same loss (1e-6 relative) and gradients (1e-5) on a padded batch', async () => {
      const { model, b } = setup(cfg);
      expect(b.srcLen).not.toBe(b.tgtLen);
      const d = await lossAndGrads(model, b, 'dynamic');
      const s = await lossAndGrads(model, b, 'static');
      expect(Math.abs(d.loss - s.loss) / Math.abs(d.loss)).toBeLessThan(1e-6);
      let worst = 0;
      for (const [n, g] of d.grads) {
        const r = maxRelDiff(g, s.grads.get(n)!);
        if (!n.endsWith('k_proj.bias')) worst = Math.max(worst, r);  // key bias: true gradient 0, only rounding
        if (!n.endsWith('k_proj.bias')) expect(r, n).toBeLessThan(1e-5);
      }
      console.log(`static vs dynamic (${name}): loss ${d.loss} vs ${s.loss}, worst gradient difference ${worst.toExponential(2)} (relative to the tensor's max |g|)`);
    });
  });
}

it('static and dynamic masks also agree in training mode with dropout (same keep/drop pattern)', async () => {
  const cfg: TinyConfig = { ...SMALL, dropout: 0.2, attentionDropout: 0.2 };
  const { model, b } = setup(cfg);
  const { tape } = await import('../dist/tensor.js');
  const run = (maskMode: 'dynamic' | 'static') => {
    model.zeroGrad();
    const logits = model.forward(b, { training: true, step: 3, maskMode });
    const loss = ops.crossEntropySum(logits, b.labels, { labelSmoothing: 0.1, ignoreIndex: -100 }).sum;
    tape.run();
    const g = [...model.namedParameters()].map(([n, p]) => [n, new Float32Array(p.grad!)] as const);
    model.zeroGrad();
    ops.arena.releaseAll();
    return { loss, g };
  };
  const d = run('dynamic'), s = run('static');
  expect(Math.abs(d.loss - s.loss) / d.loss).toBeLessThan(1e-6);
  expect(d.loss).not.toBe(lossOf(model, b));  // dropout was on
  d.g.forEach(([n, g], i) => { if (!n.endsWith('k_proj.bias')) expect(maxRelDiff(g, s.g[i]![1]), n).toBeLessThan(1e-5); });
});
