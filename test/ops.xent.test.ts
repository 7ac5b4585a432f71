// Fused softmax cross-entropy (label smoothing, ignore index, mean/sum), log-softmax, argmax and
// top-k: against float64 references, dlogits against finite differences of the reference loss,
// every CPU variant, NaN-poisoned outputs, extreme logits, the async form, thread counts.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { finiteDiff, forEachIsa, withThreads } from './helpers/ops-check.js';
import { crossEntropyRef, logSoftmaxRef, type XentRefOptions } from './helpers/ops-reference.js';
import { expectClose, expectNoNaN, expectSameBits } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';

function targets(rng: Rng, rows: number, vocab: number, pIgnore: number, ignore = -100): Int32Array {
  return Int32Array.from({ length: rows }, () => (rng.bool(pIgnore) ? ignore : rng.int(0, vocab - 1)));
}

describe('crossEntropy', () => {
  const cases: [number, number, XentRefOptions][] = [
    [1, 1, {}],
    [7, 7, { labelSmoothing: 0.1 }],
    [33, 33, { labelSmoothing: 0.2, ignoreIndex: -1 }],
    [5, 257, { ignoreIndex: 3 }],
    [9, 40, { labelSmoothing: 0.1, reduction: 'sum' }],
    [4, 1000, { labelSmoothing: 1 }],
  ];
  for (const [rows, vocab, o] of cases) {
    it(`rows ${rows} vocab ${vocab} ${JSON.stringify(o)}: loss, count, dlogits vs finite differences, every variant`, () => {
      const rng = new Rng(rows * 31 + vocab);
      const logits = randn(rng, rows * vocab, 3);
      const t = targets(rng, rows, vocab, rows > 1 ? 0.25 : 0, o.ignoreIndex ?? -100);
      if (o.ignoreIndex !== undefined && o.ignoreIndex >= 0) t[0] = o.ignoreIndex;  // an ignored class id
      const ref = crossEntropyRef(logits, t, vocab, o);
      const g = rows * vocab <= 2000 ? finiteDiff(logits, (l) => crossEntropyRef(l, t, vocab, o).loss) : undefined;
      const runs = forEachIsa((isa) => {
        const into = poisoned(rows * vocab);
        const r = kernels.crossEntropy(logits, t, vocab, { ...o, into });
        expect(r.dlogits).toBe(into);
        expect(r.count).toBe(ref.count);
        expect(Math.abs(r.loss - ref.loss)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref.loss)));
        expect(Math.abs(r.sum - ref.sum)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref.sum)));
        expectNoNaN(r.dlogits!, `${isa} dlogits`);
        if (g) expectClose(r.dlogits!, g, 1e-5, `${isa} dlogits vs finite differences`);
        // Ignored rows: exactly zero gradient. Each counted row's gradient sums to 0.
        for (let row = 0; row < rows; ++row) {
          const d = r.dlogits!.subarray(row * vocab, (row + 1) * vocab);
          if (t[row] === (o.ignoreIndex ?? -100)) expect(d.every((v) => v === 0)).toBe(true);
          else expect(Math.abs(d.reduce((s, v) => s + v, 0))).toBeLessThan(1e-5);
        }
        const lossOnly = kernels.crossEntropy(logits, t, vocab, { ...o, grad: false });
        expect(lossOnly.dlogits).toBeUndefined();
        expect(lossOnly.loss).toBe(r.loss);
        return r;
      });
      const p = runs.get('portable')!;
      for (const [isa, r] of runs) {
        expect(Math.abs(r.loss - p.loss)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(p.loss)));
        expectClose(r.dlogits!, p.dlogits!, 1e-5, `${isa} vs portable dlogits`);
      }
    });
  }

  it('is numerically safe for huge logits (logsumexp with the max subtracted)', () => {
    const vocab = 50, rows = 3;
    const logits = randn(new Rng(1), rows * vocab, 1);
    for (let i = 0; i < logits.length; ++i) logits[i] += i < vocab ? 1e4 : i < 2 * vocab ? -1e4 : 80;
    const t = Int32Array.from([1, 2, 3]);
    const ref = crossEntropyRef(logits, t, vocab, { labelSmoothing: 0.1 });
    const r = kernels.crossEntropy(logits, t, vocab, { labelSmoothing: 0.1 });
    expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5);
    expectNoNaN(r.dlogits!, 'dlogits');
    expect(r.dlogits!.every(Number.isFinite)).toBe(true);
  });

  it('no counted row: loss 0, count 0, zero gradient', () => {
    const r = kernels.crossEntropy(randn(new Rng(2), 12), Int32Array.from([-100, -100, -100]), 4, { into: poisoned(12) });
    expect(r).toMatchObject({ loss: 0, sum: 0, count: 0 });
    expect(r.dlogits!.every((v) => v === 0)).toBe(true);
  });

  it('async form and 1 vs 2 threads: the same bits at model size (1024 x 1000)', async () => {
    const rows = 1024, vocab = 1000, rng = new Rng(3);
    const logits = randn(rng, rows * vocab, 2), t = targets(rng, rows, vocab, 0.1);
    const opts = { labelSmoothing: 0.1 };
    const one = withThreads(1, () => kernels.crossEntropy(logits, t, vocab, opts));
    const two = withThreads(2, () => kernels.crossEntropy(logits, t, vocab, opts));
    expect(two.loss).toBe(one.loss);
    expectSameBits(two.dlogits!, one.dlogits!, 'dlogits');
    const a = await kernels.crossEntropyAsync(logits, t, vocab, opts);
    expect(a.loss).toBe(two.loss);
    expect(a.count).toBe(two.count);
    expectSameBits(a.dlogits!, two.dlogits!, 'async dlogits');
    const ref = crossEntropyRef(logits, t, vocab, opts);
    expect(Math.abs(a.loss - ref.loss)).toBeLessThan(1e-6 * ref.loss);
  });

  it('async form rejects bad arguments instead of throwing', async () => {
    await expect(kernels.crossEntropyAsync(new Float32Array(4), Int32Array.from([0, 9]), 2)).rejects.toThrow(/targets\[1\]/);
  });
});

describe('logSoftmax', () => {
  for (const [rows, dim] of [[1, 1], [3, 7], [2, 33], [2, 257], [70, 1000]]) {
    it(`rows ${rows} dim ${dim}, every variant`, () => {
      const x = randn(new Rng(rows + dim), rows * dim, 4);
      x[0] += 200;  // a far-off maximum
      const ref = logSoftmaxRef(x, dim);
      const runs = forEachIsa((isa) => {
        const y = kernels.logSoftmax(x, dim, { into: poisoned(rows * dim) });
        expectClose(y, ref, 1e-6, `${isa} y`);
        return y;
      });
      for (const [isa, y] of runs) expectClose(y, runs.get('portable')!, 1e-6, `${isa} vs portable`);
    });
  }
});

describe('argmax and topK', () => {
  /** Row-wise reference: indices sorted by value descending, ties by index, NaN last. */
  function order(row: ArrayLike<number>): number[] {
    const idx = Array.from({ length: row.length }, (_, i) => i);
    const key = (v: number) => (Number.isNaN(v) ? -Infinity : v);
    return idx.sort((a, b) => {
      const na = Number.isNaN(row[a]), nb = Number.isNaN(row[b]);
      if (na !== nb) return na ? 1 : -1;
      return key(row[b]) - key(row[a]) || a - b;
    });
  }

  for (const [rows, dim, k] of [[1, 1, 1], [3, 7, 3], [4, 33, 33], [2, 257, 10], [5, 8000, 5]]) {
    it(`rows ${rows} dim ${dim} k ${k}`, () => {
      const rng = new Rng(dim + k);
      const x = randn(rng, rows * dim);
      // Ties, infinities and a NaN.
      if (dim >= 7) { x[1] = x[4] = 9; x[2] = -Infinity; x[3] = NaN; x[dim + 5] = Infinity; }
      const am = kernels.argmax(x, dim, { into: new Int32Array(rows).fill(-7) });
      const tk = kernels.topK(x, dim, k, { into: { values: poisoned(rows * k), indices: new Int32Array(rows * k).fill(-7) } });
      for (let r = 0; r < rows; ++r) {
        const row = x.subarray(r * dim, (r + 1) * dim);
        const o = order(row);
        expect(am[r]).toBe(o[0]);
        expect(Array.from(tk.indices.subarray(r * k, (r + 1) * k))).toEqual(o.slice(0, k));
        expect(Array.from(tk.values.subarray(r * k, (r + 1) * k))).toEqual(o.slice(0, k).map((i) => row[i]));
      }
    });
  }

  it('a row of NaN: argmax 0, topK in index order', () => {
    const x = new Float32Array(4).fill(NaN);
    expect(kernels.argmax(x, 4)[0]).toBe(0);
    expect(Array.from(kernels.topK(x, 4, 2).indices)).toEqual([0, 1]);
  });
});
