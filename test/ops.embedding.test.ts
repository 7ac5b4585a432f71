// Embedding lookup and its scatter-add backward (padding id, accumulate, deterministic without
// atomics), and the sinusoidal position encoding.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { dot, finiteDiff, withThreads } from './helpers/ops-check.js';
import { positionEncodingRef } from './helpers/ops-reference.js';
import { expectClose, expectSameBits } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';

function ids(rng: Rng, n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(0, vocab - 1));
}

/** dweight[v] = sum of dy[t] over tokens t with ids[t] = v (except the padding id), in float64. */
function scatterRef(idx: Int32Array, dy: Float32Array, vocab: number, dim: number, pad?: number): Float64Array {
  const dw = new Float64Array(vocab * dim);
  idx.forEach((id, t) => {
    if (id === pad) return;
    for (let c = 0; c < dim; ++c) dw[id * dim + c] += dy[t * dim + c];
  });
  return dw;
}

describe('embedding', () => {
  for (const [n, vocab, dim] of [[1, 1, 1], [7, 5, 7], [33, 10, 33], [257, 50, 257], [65, 3, 130]]) {
    it(`n ${n} vocab ${vocab} dim ${dim}: lookup, scatter-add backward vs reference and finite differences`, () => {
      const rng = new Rng(n * 7 + dim);
      const idx = ids(rng, n, vocab);
      const weight = randn(rng, vocab * dim), dy = randn(rng, n * dim);
      const y = kernels.embeddingForward(idx, weight, { vocab, dim }, { into: poisoned(n * dim) });
      for (let t = 0; t < n; ++t) expectSameBits(y.subarray(t * dim, (t + 1) * dim), weight.subarray(idx[t] * dim, (idx[t] + 1) * dim), `row ${t}`);
      const dw = kernels.embeddingBackward(idx, dy, { vocab, dim }, { into: poisoned(vocab * dim) });
      expectClose(dw, scatterRef(idx, dy, vocab, dim), 1e-6, 'dweight');
      // The gradient of sum(dy * lookup(weight)) with respect to weight, by finite differences.
      if (vocab * dim <= 2000) {
        const lookup = (w: Float64Array) => Array.from({ length: n * dim }, (_, k) => w[idx[Math.floor(k / dim)] * dim + (k % dim)]);
        expectClose(dw, finiteDiff(weight, (w) => dot(dy, lookup(w))), 1e-6, 'dweight vs finite differences');
      }
    });
  }

  it('the padding id gets no gradient; accumulate adds into the given array', () => {
    const rng = new Rng(3);
    const vocab = 6, dim = 9, n = 40, pad = 0;
    const idx = ids(rng, n, vocab);
    idx[0] = pad; idx[5] = pad;
    const dy = randn(rng, n * dim);
    const dw = kernels.embeddingBackward(idx, dy, { vocab, dim }, { paddingIdx: pad });
    expect(Array.from(dw.subarray(0, dim))).toEqual(new Array(dim).fill(0));
    expectClose(dw, scatterRef(idx, dy, vocab, dim, pad), 1e-6, 'dweight with padding');
    const base = randn(rng, vocab * dim);
    const acc = base.slice();
    expect(kernels.embeddingBackward(idx, dy, { vocab, dim }, { paddingIdx: pad, accumulate: true, into: acc })).toBe(acc);
    const ref = scatterRef(idx, dy, vocab, dim, pad).map((v, i) => v + base[i]);
    expectClose(acc, ref, 1e-6, 'accumulated dweight');
    // A padding id outside the vocabulary (e.g. -1) is allowed in the backward and skipped.
    idx[1] = -1;
    const dw2 = kernels.embeddingBackward(idx, dy, { vocab, dim }, { paddingIdx: -1 });
    expectClose(dw2, scatterRef(idx, dy, vocab, dim, -1), 1e-6, 'dweight with padding id -1');
  });

  it('backward: same bits for 1 and 2 threads, many tokens on few ids', () => {
    const rng = new Rng(4);
    const vocab = 50, dim = 300, n = 4000;
    const idx = ids(rng, n, vocab), dy = randn(rng, n * dim);
    const one = withThreads(1, () => kernels.embeddingBackward(idx, dy, { vocab, dim }));
    const two = withThreads(2, () => kernels.embeddingBackward(idx, dy, { vocab, dim }));
    expectSameBits(one, two, 'dweight');
    expectClose(two, scatterRef(idx, dy, vocab, dim), 1e-5, 'dweight');
  });
});

describe('embedding with scale and positions (one pass)', () => {
  for (const [n, vocab, dim, period, offset] of [[1, 1, 1, 1, 0], [7, 5, 7, 7, 2], [66, 10, 33, 33, 0], [65, 9, 80, 13, 3]]) {
    it(`n ${n} vocab ${vocab} dim ${dim} period ${period} offset ${offset}: forward bits, scaled backward vs reference`, () => {
      const rng = new Rng(n * 13 + dim);
      const idx = ids(rng, n, vocab);
      const weight = randn(rng, vocab * dim), dy = randn(rng, n * dim);
      const rows = offset + Math.min(n, period);
      const table = randn(rng, rows * dim);
      const scale = Math.sqrt(dim);
      const y = kernels.embeddingForward(idx, weight, { vocab, dim },
        { into: poisoned(n * dim), scale, positions: table, positionPeriod: period, positionOffset: offset });
      const s32 = Math.fround(scale);
      for (let t = 0; t < n; ++t) {
        const p = (t % period) + offset;
        for (let c = 0; c < dim; ++c) {
          // float32 semantics: the scaled row is rounded, then the position term added and rounded.
          const want = Math.fround(Math.fround(weight[idx[t]! * dim + c]! * s32) + table[p * dim + c]!);
          expect(y[t * dim + c]).toBe(want);
        }
      }
      const dw = kernels.embeddingBackward(idx, dy, { vocab, dim }, { scale, into: poisoned(vocab * dim) });
      const ref = scatterRef(idx, dy.map((x) => x * scale), vocab, dim);
      expectClose(dw, ref, 1e-6, 'scaled dweight');
    });
  }

  it('scale alone; same bits for 1 and 2 threads', () => {
    const rng = new Rng(21);
    const vocab = 30, dim = 256, n = 1024;
    const idx = ids(rng, n, vocab), weight = randn(rng, vocab * dim), table = randn(rng, 32 * dim);
    const y = kernels.embeddingForward(idx, weight, { vocab, dim }, { scale: 0.5 });
    expectSameBits(y, Float32Array.from(y, (_, i) => weight[idx[Math.floor(i / dim)]! * dim + (i % dim)]! * 0.5), 'y = w * 0.5');
    const f = () => kernels.embeddingForward(idx, weight, { vocab, dim }, { scale: 16, positions: table, positionPeriod: 32 });
    expectSameBits(withThreads(1, f), withThreads(2, f), 'y');
  });

  it('rejects a position table that is too short or not whole rows, and a period without a table', () => {
    const idx = Int32Array.from([0, 1, 2, 0, 1, 2]);
    const weight = new Float32Array(3 * 4);
    const call = (o: object) => () => kernels.embeddingForward(idx, weight, { vocab: 3, dim: 4 }, o);
    expect(call({ positions: new Float32Array(5 * 4) })).toThrow(/opts\.positions has 5 rows.*6 are read/);
    expect(call({ positions: new Float32Array(3 * 4), positionPeriod: 3, positionOffset: 1 })).toThrow(/opts\.positions has 3 rows/);
    expect(call({ positions: new Float32Array(4 * 4), positionPeriod: 3, positionOffset: 1 })).not.toThrow();
    expect(call({ positions: new Float32Array(7) })).toThrow(/opts\.positions/);
    expect(call({ positionPeriod: 3 })).toThrow(/opts\.positions must be given/);
    expect(call({ positions: new Float32Array(6 * 4), positionPeriod: 0 })).toThrow(/opts\.positionPeriod/);
    expect(call({ scale: NaN })).toThrow(/opts\.scale/);
    expect(() => kernels.embeddingBackward(idx, new Float32Array(24), { vocab: 3, dim: 4 }, { scale: Infinity })).toThrow(/opts\.scale/);
  });
});

describe('positionEncoding', () => {
  for (const [length, dim] of [[1, 1], [7, 7], [33, 33], [257, 64], [3, 257]]) {
    it(`length ${length} dim ${dim}`, () => {
      const pe = kernels.positionEncoding(length, dim, { into: poisoned(length * dim) });
      const ref = positionEncodingRef(length, dim);
      for (let i = 0; i < pe.length; ++i) expect(pe[i]).toBe(Math.fround(ref[i]));
    });
  }
  it('offset and base: rows of a longer table, any wavelength base', () => {
    const full = kernels.positionEncoding(100, 16);
    expectSameBits(kernels.positionEncoding(10, 16, { offset: 90 }), full.subarray(90 * 16), 'offset 90');
    const pe = kernels.positionEncoding(5, 6, { base: 500, offset: 1_000_000 });
    const ref = positionEncodingRef(5, 6, 1_000_000, 500);
    for (let i = 0; i < pe.length; ++i) expect(pe[i]).toBe(Math.fround(ref[i]));
    expect(kernels.positionEncoding(0, 4).length).toBe(0);
  });
});
