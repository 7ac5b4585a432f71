// Incremental decoding with the KV cache gives the logits of full recomputation (within 1e-5), for
// every model variant, sources of different lengths, and after row selections (beam reordering,
// dropped rows, repeated rows).
import { describe, expect, it } from 'vitest';
import * as ops from '../dist/ops/index.js';
import { noGrad } from '../dist/tensor.js';
import type { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import { recomputeLogits, tinyModel, type TinyConfig } from './helpers/decode.js';
import { Rng } from './helpers/random.js';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Feeds random prefixes step by step (selecting rows by `select` before some steps) and compares every step's logits with recomputation. */
function checkCache(model: Seq2SeqTransformer, sources: number[][], steps: number, seed: number,
  select?: (t: number, rows: number) => Int32Array | null): number {
  const rng = new Rng(seed), V = model.config.tgtVocab, B = sources.length, S = Math.max(...sources.map((s) => s.length));
  const src = new Int32Array(B * S), lens = Int32Array.from(sources, (s) => s.length);
  sources.forEach((s, b) => src.set(s, b * S));
  let worst = 0;
  noGrad(() => {
    const cache = model.startDecoding(model.encode(src, lens, B, S), lens, B, S, 1);
    ops.arena.releaseAll();  // the cache must not depend on arena buffers
    let rowSource = Array.from({ length: B }, (_, b) => b);
    let prefixes = rowSource.map(() => [model.decoderStartId]);
    for (let t = 0; t < steps; ++t) {
      const pick = select?.(t, prefixes.length) ?? null;
      if (pick) {
        cache.select(pick, pick);
        rowSource = Array.from(pick, (r) => rowSource[r]!);
        prefixes = Array.from(pick, (r) => prefixes[r]!.slice());
      }
      const tokens = Int32Array.from(prefixes, (p) => p[p.length - 1]!);
      const logits = ops.data(model.decodeStep(tokens, cache)).slice();
      ops.arena.releaseAll();
      prefixes.forEach((p, r) => {
        const ref = recomputeLogits(model, sources[rowSource[r]!]!, [p])[0]!;
        worst = Math.max(worst, maxDiff(logits.subarray(r * V, (r + 1) * V), ref));
        p.push(rng.int(0, V - 1));
      });
    }
  });
  return worst;
}

const VARIANTS: [string, TinyConfig][] = [
  ['post-LN, sinusoidal, tied', {}],
  ['pre-LN', { norm: 'pre' }],
  ['learned positions, untied head', { positions: 'learned', tieEmbeddings: false }],
  ['grouped-query heads (4 heads, 2 kv heads)', { heads: 4, kvHeads: 2 }],
  ['gelu, 3 decoder layers, different vocabularies', { activation: 'gelu', decoderLayers: 3, srcVocab: 15, tgtVocab: 11 }],
  ['decoder start = pad (Marian)', { decoderStartId: 0 }],
];

describe('KV cache: cached logits equal recomputation', () => {
  const sources = [[3, 4, 5, 6, 7, 2], [8, 2], [9, 9, 10, 2], [4, 11, 3, 5, 6, 7, 8, 2]];
  for (const [name, cfg] of VARIANTS) {
    it(name, () => {
      const model = tinyModel(11, cfg);
      const src = sources.map((s) => s.map((x) => x % model.config.srcVocab));
      expect(checkCache(model, src, 10, 1)).toBeLessThan(1e-5);
    });
  }

  it('after reordering, dropping and repeating rows', () => {
    const model = tinyModel(12);
    // Reverse at step 2, drop rows 0 and 2 at step 4, repeat row 1 three times at step 6 (as a
    // beam reorder, finished rows leaving, and beams copied from one parent do).
    const select = (t: number, rows: number): Int32Array | null => {
      if (t === 2) return Int32Array.from({ length: rows }, (_, r) => rows - 1 - r);
      if (t === 4) return Int32Array.of(1, 3);
      if (t === 6) return Int32Array.of(1, 1, 0, 1);
      return null;
    };
    expect(checkCache(model, sources, 9, 2, select)).toBeLessThan(1e-5);
  });

  it('groups of rows share a memory row (beams): cross-attention with qLen = group', () => {
    const model = tinyModel(13, { heads: 4, kvHeads: 1 });
    const V = model.config.tgtVocab, G = 3, S = 5;
    const sources = [[3, 4, 5, 6, 2], [7, 8, 2]];
    const src = new Int32Array(2 * S), lens = Int32Array.of(5, 3);
    sources.forEach((s, b) => src.set(s, b * S));
    noGrad(() => {
      const cache = model.startDecoding(model.encode(src, lens, 2, S), lens, 2, S, G);
      const prefixes = Array.from({ length: 2 * G }, (_, r) => [model.decoderStartId, 3 + r, 4 + (r % 2)]);
      let logits = new Float32Array(0);
      for (let t = 0; t < 3; ++t) {
        logits = ops.data(model.decodeStep(Int32Array.from(prefixes, (p) => p[t]!), cache)).slice();
        ops.arena.releaseAll();
      }
      prefixes.forEach((p, r) => {
        const ref = recomputeLogits(model, sources[Math.floor(r / G)]!, [p])[0]!;
        expect(maxDiff(logits.subarray(r * V, (r + 1) * V), ref)).toBeLessThan(1e-5);
      });
      // Dropping source 0 keeps source 1's beams (reordered) on their own memory.
      cache.select(Int32Array.of(5, 3, 4), Int32Array.of(1));
      const kept = [prefixes[5]!, prefixes[3]!, prefixes[4]!].map((p) => [...p, 6]);
      logits = ops.data(model.decodeStep(Int32Array.of(6, 6, 6), cache)).slice();
      ops.arena.releaseAll();
      kept.forEach((p, r) => {
        const ref = recomputeLogits(model, sources[1]!, [p])[0]!;
        expect(maxDiff(logits.subarray(r * V, (r + 1) * V), ref)).toBeLessThan(1e-5);
      });
    });
  });

  it('rejects wrong inputs by name and stops at the position table', () => {
    const model = tinyModel(14, { maxLen: 4 });
    noGrad(() => {
      const cache = model.startDecoding(model.encode(Int32Array.of(3, 2), Int32Array.of(2), 1, 2), Int32Array.of(2), 1, 2);
      expect(() => model.decodeStep(Int32Array.of(1, 1), cache)).toThrow(/tokens/);
      expect(() => model.decodeStep(Int32Array.of(99), cache)).toThrow(RangeError);
      expect(() => cache.select(Int32Array.of(1))).toThrow(/row 1/);
      for (let t = 0; t < 4; ++t) model.decodeStep(Int32Array.of(3), cache);
      expect(() => model.decodeStep(Int32Array.of(3), cache)).toThrow(/maxLen/);
      ops.arena.releaseAll();
    });
  });
});
