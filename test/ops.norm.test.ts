// LayerNorm and RMSNorm: forward against the float64 reference, backward against finite
// differences of that reference, every CPU variant against portable, outputs pre-filled with NaN,
// and the same bits for 1 and 2 threads (dgamma/dbeta are reduced over fixed row blocks).
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { dot, finiteDiff, forEachIsa, withThreads } from './helpers/ops-check.js';
import { layerNormRef, rmsNormRef } from './helpers/ops-reference.js';
import { expectClose, expectNoNaN, expectSameBits, maxAbs } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';

// [rows, dim]: dims 1, 7, 33, 100, 257 hit every vector tail and unrolled loop (4 and 2 vectors a
// step, then 1, then a partial one); 130 rows > 64 blocks in the backward.
const shapes: [number, number][] = [[1, 1], [3, 7], [5, 33], [4, 100], [2, 257], [130, 7], [1, 64], [3, 256]];

function data(rows: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const x = randn(rng, rows * dim, 2);
  for (let i = 0; i < x.length; ++i) x[i] += 3;  // a mean far from 0 tests the two-pass variance
  return { x, gamma: randn(rng, dim), beta: randn(rng, dim), dy: randn(rng, rows * dim) };
}

// The size of the terms dx is made of: dx cancels to ~0 when dim = 1, so its error is measured
// against this rather than against an exact zero.
const dxScale = (dy: Float32Array, gamma: Float32Array, rstd: ArrayLike<number>) => maxAbs(dy) * maxAbs(gamma) * maxAbs(rstd);

describe('layerNorm', () => {
  for (const [rows, dim] of shapes) {
    it(`rows ${rows} dim ${dim}: forward, backward vs finite differences, every variant`, () => {
      const { x, gamma, beta, dy } = data(rows, dim, rows * 1000 + dim);
      const eps = 1e-5;
      const ref = layerNormRef(x, gamma, beta, eps);
      // The gradients of sum(dy * y) with respect to x, gamma and beta, by finite differences.
      const gx = finiteDiff(x, (xx) => dot(dy, layerNormRef(xx, gamma, beta, eps).y));
      const gg = finiteDiff(gamma, (g) => dot(dy, layerNormRef(x, g, beta, eps).y));
      const gb = finiteDiff(beta, (b) => dot(dy, layerNormRef(x, gamma, b, eps).y));
      const runs = forEachIsa((isa) => {
        const into = { y: poisoned(rows * dim), mean: poisoned(rows), rstd: poisoned(rows) };
        const f = kernels.layerNormForward(x, gamma, beta, { eps, into });
        expect(f.y).toBe(into.y);
        expectNoNaN(f.y, `${isa} y`);
        expectClose(f.y, ref.y, 2e-6, `${isa} y`);
        expectClose(f.mean, ref.mean, 1e-6, `${isa} mean`);
        expectClose(f.rstd, ref.rstd, 1e-6, `${isa} rstd`);
        const bInto = { dx: poisoned(rows * dim), dgamma: poisoned(dim), dbeta: poisoned(dim) };
        const b = kernels.layerNormBackward(x, gamma, f.mean, f.rstd, dy, { into: bInto });
        expect(b.dx).toBe(bInto.dx);
        expectClose(b.dx, gx, 2e-4, `${isa} dx`, dxScale(dy, gamma, ref.rstd));
        expectClose(b.dgamma, gg, 2e-5, `${isa} dgamma`);
        expectClose(b.dbeta, gb, 2e-5, `${isa} dbeta`);
        return { f, b };
      });
      const p = runs.get('portable')!;
      for (const [isa, r] of runs) {
        expectClose(r.f.y, p.f.y, 2e-6, `${isa} vs portable y`);
        expectClose(r.b.dx, p.b.dx, 1e-5, `${isa} vs portable dx`, dxScale(dy, gamma, ref.rstd));
        expectClose(r.b.dgamma, p.b.dgamma, 1e-5, `${isa} vs portable dgamma`);
      }
    });
  }

  it('same bits for 1 and 2 threads (sizes that run in parallel)', () => {
    const { x, gamma, beta, dy } = data(1031, 67, 7);
    const run = () => {
      const f = kernels.layerNormForward(x, gamma, beta);
      return { f, b: kernels.layerNormBackward(x, gamma, f.mean, f.rstd, dy) };
    };
    forEachIsa((isa) => {
      const one = withThreads(1, run), two = withThreads(2, run);
      expectSameBits(one.f.y, two.f.y, `${isa} y`);
      expectSameBits(one.b.dx, two.b.dx, `${isa} dx`);
      expectSameBits(one.b.dgamma, two.b.dgamma, `${isa} dgamma`);
      expectSameBits(one.b.dbeta, two.b.dbeta, `${isa} dbeta`);
    });
  });

  it('zero rows: empty outputs, zero parameter gradients', () => {
    const g = new Float32Array(5).fill(1);
    const f = kernels.layerNormForward(new Float32Array(0), g, new Float32Array(5));
    expect(f.y.length).toBe(0);
    const b = kernels.layerNormBackward(new Float32Array(0), g, f.mean, f.rstd, new Float32Array(0),
      { into: { dgamma: poisoned(5), dbeta: poisoned(5) } });
    expect(Array.from(b.dgamma)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(b.dbeta)).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('rmsNorm', () => {
  for (const [rows, dim] of shapes) {
    it(`rows ${rows} dim ${dim}: forward, backward vs finite differences, every variant`, () => {
      const { x, gamma, dy } = data(rows, dim, rows * 1000 + dim + 1);
      const eps = 1e-6;
      const ref = rmsNormRef(x, gamma, eps);
      const gx = finiteDiff(x, (xx) => dot(dy, rmsNormRef(xx, gamma, eps).y));
      const gg = finiteDiff(gamma, (g) => dot(dy, rmsNormRef(x, g, eps).y));
      const runs = forEachIsa((isa) => {
        const into = { y: poisoned(rows * dim), rstd: poisoned(rows) };
        const f = kernels.rmsNormForward(x, gamma, { eps, into });
        expect(f.y).toBe(into.y);
        expectClose(f.y, ref.y, 2e-6, `${isa} y`);
        expectClose(f.rstd, ref.rstd, 1e-6, `${isa} rstd`);
        const bInto = { dx: poisoned(rows * dim), dgamma: poisoned(dim) };
        const b = kernels.rmsNormBackward(x, gamma, f.rstd, dy, { into: bInto });
        expect(b.dgamma).toBe(bInto.dgamma);
        expectClose(b.dx, gx, 1e-4, `${isa} dx`, dxScale(dy, gamma, ref.rstd));
        expectClose(b.dgamma, gg, 2e-5, `${isa} dgamma`);
        return { f, b };
      });
      const p = runs.get('portable')!;
      for (const [isa, r] of runs) {
        expectClose(r.f.y, p.f.y, 2e-6, `${isa} vs portable y`);
        expectClose(r.b.dx, p.b.dx, 1e-5, `${isa} vs portable dx`, dxScale(dy, gamma, ref.rstd));
        expectClose(r.b.dgamma, p.b.dgamma, 1e-5, `${isa} vs portable dgamma`);
      }
    });
  }

  it('same bits for 1 and 2 threads', () => {
    const { x, gamma, dy } = data(777, 129, 8);
    const run = () => {
      const f = kernels.rmsNormForward(x, gamma);
      return { f, b: kernels.rmsNormBackward(x, gamma, f.rstd, dy) };
    };
    forEachIsa((isa) => {
      const one = withThreads(1, run), two = withThreads(2, run);
      expectSameBits(one.f.y, two.f.y, `${isa} y`);
      expectSameBits(one.b.dx, two.b.dx, `${isa} dx`);
      expectSameBits(one.b.dgamma, two.b.dgamma, `${isa} dgamma`);
    });
  });
});
