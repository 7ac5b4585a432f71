// Mask-Predict's pass (issue 15): Seq2SeqTransformer.startRefinement / refine against decode().
// The cross-attention K/V are projected once per source and shared by its candidates; a pass
// returns the logits of chosen positions only. With one candidate per source and every position
// chosen, each operand and kernel call is decode()'s, so the logits are the same bits; otherwise a
// GEMM has fewer rows than decode()'s (the memory projection, the output projection), and the
// GEMM's path for a row count rounds differently: equal to ~1e-6, as decode() of a batch is to
// decode() of one row. keepCandidates continues with a subset of the candidates.
import { describe, expect, it } from 'vitest';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { noGrad, Tensor } from '../dist/tensor.js';
import { TINY, jitter } from './helpers/model.js';

const MASK = 11, V = 12;

function model(seed = 3): Seq2SeqTransformer {
  const m = new Seq2SeqTransformer({ ...TINY, srcVocab: V, tgtVocab: V, objective: 'cmlm', maskId: MASK, maxLen: 12, seed });
  jitter(m, seed, 0.3);
  return m;
}

interface Case { B: number; S: number; l: number; L: number; lens: number[] }

function setup(m: Seq2SeqTransformer, c: Case) {
  const D = m.config.dModel, R = c.B * c.l;
  const src = Int32Array.from({ length: c.B * c.S }, (_, i) => 1 + ((i * 7 + 3) % 10));
  const srcLengths = Int32Array.from({ length: c.B }, (_, b) => c.S - (b % 2));
  const lens = Int32Array.from(c.lens);
  const tokens = Int32Array.from({ length: R * c.L }, (_, i) => (i % 3 === 0 ? MASK : 1 + ((i * 5) % 10)));
  const memory = m.encode(src, srcLengths, c.B, c.S);
  const md = ops.data(memory), rep = new Float32Array(R * c.S * D), rowSrc = new Int32Array(R);
  for (let r = 0; r < R; ++r) {
    const b = Math.floor(r / c.l);
    rowSrc[r] = srcLengths[b]!;
    rep.set(md.subarray(b * c.S * D, (b + 1) * c.S * D), r * c.S * D);
  }
  const full = ops.data(m.decode(tokens, lens, Tensor.fromArray(rep, [R * c.S, D]), rowSrc, R, c.L, c.S)).slice();
  return { memory, srcLengths, lens, tokens, full, R };
}

describe('Seq2SeqTransformer.refine (Mask-Predict passes over cached cross-attention K/V)', () => {
  it("gives decode()'s logits with one candidate per source: bit for bit at every position, closely at a few", () => {
    const m = model();
    noGrad(() => {
      for (const c of [{ B: 1, S: 5, l: 1, L: 7, lens: [7] }, { B: 3, S: 6, l: 1, L: 6, lens: [6, 4, 5] }] as Case[]) {
        const { memory, srcLengths, lens, tokens, full, R } = setup(m, c);
        const cache = m.startRefinement(memory, srcLengths, c.B, c.S, c.l, c.L, lens);
        ops.arena.releaseAll();  // the cache keeps nothing of the arena
        for (const rows of [[...Array(R * c.L).keys()], [2], [0, 3, c.L + 1].filter((r) => r < R * c.L)]) {
          const got = ops.data(m.refine(tokens, cache, Int32Array.from(rows)));
          rows.forEach((p, j) => {
            if (rows.length === R * c.L) expect(Array.from(got.subarray(j * V, (j + 1) * V)), `row ${p}`).toEqual(Array.from(full.subarray(p * V, (p + 1) * V)));
            else for (let v = 0; v < V; ++v) expect(got[j * V + v]!).toBeCloseTo(full[p * V + v]!, 5);
          });
        }
        ops.arena.releaseAll();
      }
    });
  });

  it('shares the memory between candidates (close to decode() on the repeated memory) and keeps a subset of them', () => {
    const m = model(5);
    noGrad(() => {
      const c: Case = { B: 2, S: 6, l: 3, L: 6, lens: [6, 5, 4, 6, 3, 5] };
      const { memory, srcLengths, lens, tokens, full, R } = setup(m, c);
      const cache = m.startRefinement(memory, srcLengths, c.B, c.S, c.l, c.L, lens);
      const rows = Array.from({ length: R * c.L }, (_, i) => i).filter((i) => i % c.L < lens[Math.floor(i / c.L)]!);
      const got = ops.data(m.refine(tokens, cache, Int32Array.from(rows))).slice();
      rows.forEach((p, j) => { for (let v = 0; v < V; ++v) expect(got[j * V + v]!).toBeCloseTo(full[p * V + v]!, 5); });
      // Candidates 4 and 1, in that order: their logits are those they had in the whole batch.
      cache.keepCandidates(Int32Array.of(4, 1));
      const sub = new Int32Array(2 * c.L);
      sub.set(tokens.subarray(4 * c.L, 5 * c.L), 0);
      sub.set(tokens.subarray(1 * c.L, 2 * c.L), c.L);
      const kept = ops.data(m.refine(sub, cache, Int32Array.of(0, 2, c.L + 4)));
      [4 * c.L, 4 * c.L + 2, 1 * c.L + 4].forEach((p, j) => {
        const k = rows.indexOf(p);
        for (let v = 0; v < V; ++v) expect(kept[j * V + v]!).toBeCloseTo(got[k * V + v]!, 5);
      });
      expect(ops.data(m.refine(sub, cache, new Int32Array(0))).length).toBe(0);
      ops.arena.releaseAll();
    });
  });

  it('rejects an autoregressive model, a non-refinement cache and bad sizes, naming them', () => {
    const ar = new Seq2SeqTransformer({ ...TINY, srcVocab: V, tgtVocab: V });
    const m = model();
    noGrad(() => {
      const mem = ar.encode(Int32Array.of(1, 2, 3), Int32Array.of(3), 1, 3);
      expect(() => ar.startRefinement(mem, Int32Array.of(3), 1, 3, 1, 4, Int32Array.of(4))).toThrow(/objective is 'cmlm'/);
      const memory = m.encode(Int32Array.of(1, 2, 3), Int32Array.of(3), 1, 3);
      expect(() => m.startRefinement(memory, Int32Array.of(3), 1, 3, 2, 4, Int32Array.of(4))).toThrow(/lengths must have batch \* candidates = 2/);
      expect(() => m.startRefinement(memory, Int32Array.of(3), 1, 3, 1, 4, Int32Array.of(5))).toThrow(/lengths\[0\] must be in \[1, 4\]/);
      const cache = m.startRefinement(memory, Int32Array.of(3), 1, 3, 1, 4, Int32Array.of(4));
      expect(() => m.refine(new Int32Array(3), cache, Int32Array.of(0))).toThrow(/tokens must have memoryRows \* len = 4/);
      expect(() => m.refine(new Int32Array(4), cache, Int32Array.of(4))).toThrow(/rows\[0\] = 4 is outside \[0, 4\)/);
      expect(() => m.refine(Int32Array.of(1, 2, 3, 99), cache, Int32Array.of(0))).toThrow(/outside the vocabulary/);
      const ac = ar.startDecoding(mem, Int32Array.of(3), 1, 3);
      expect(() => m.refine(new Int32Array(1), ac, Int32Array.of(0))).toThrow(/not from startRefinement/);
      expect(() => ac.keepCandidates(Int32Array.of(0))).toThrow(/not a Mask-Predict cache/);
      ops.arena.releaseAll();
    });
  });
});
