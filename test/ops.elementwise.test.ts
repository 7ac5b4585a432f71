// Activations (ReLU, GELU erf/tanh, SiLU), the residual add and dropout: forward against float64
// references, backward against finite differences, every CPU variant, NaN-poisoned outputs,
// in-place use, and dropout's agreement with its counter-based keep decisions.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { dot, finiteDiff, forEachIsa } from './helpers/ops-check.js';
import { activationRef, erf, type ActivationKind } from './helpers/ops-reference.js';
import { expectClose, expectNoNaN, expectSameBits } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';

const kinds: ActivationKind[] = ['relu', 'gelu', 'geluTanh', 'silu'];
const sizes = [1, 7, 33, 257];

function inputs(n: number, seed: number): Float32Array {
  const x = randn(new Rng(seed), n, 3);
  const special = [0, -0, 1e-3, -1e-3, 5, -5, 9, -9, 20, -20, 100, -100];
  for (let i = 0; i < Math.min(n, special.length); ++i) x[(i * 7) % n] = special[i];
  return x;
}

describe('the float64 erf of the tests', () => {
  it('matches known values', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 14);
    expect(Math.abs(1 - erf(4) - 1.541725790028002e-8)).toBeLessThan(1e-15);
  });
});

describe('activations', () => {
  for (const kind of kinds) {
    for (const n of sizes) {
      it(`${kind} n=${n}: forward vs reference, backward vs finite differences, every variant`, () => {
        const x = inputs(n, n * 10 + kinds.indexOf(kind));
        const dy = randn(new Rng(n), n);
        const f = activationRef[kind];
        const ref = Array.from(x, f);
        // Finite differences away from ReLU's kink (random normals never hit 0 exactly).
        const smooth = Float32Array.from(x, (v) => (v === 0 ? 0.5 : v));
        const g = finiteDiff(smooth, (xx) => dot(dy, Array.from(xx, f)));
        const runs = forEachIsa((isa) => {
          const into = poisoned(n);
          const y = kernels.activationForward(kind, x, { into });
          expect(y).toBe(into);
          expectNoNaN(y, `${isa} y`);
          expectClose(y, ref, 1e-6, `${isa} ${kind} y`);
          // Pointwise too: each element within a few float32 ulps of its own size (or 1e-7 absolute).
          for (let i = 0; i < n; ++i) {
            const tol = 4e-7 * Math.max(Math.abs(ref[i]), 0.25);
            if (!(Math.abs(y[i] - ref[i]) <= tol)) expect.fail(`${isa} ${kind}(${x[i]}) = ${y[i]}, ref ${ref[i]}`);
          }
          const dx = kernels.activationBackward(kind, smooth, dy, { into: poisoned(n) });
          expectClose(dx, g, 2e-6, `${isa} ${kind} dx`);
          return { y, dx };
        });
        const p = runs.get('portable')!;
        for (const [isa, r] of runs) {
          expectClose(r.y, p.y, 1e-6, `${isa} vs portable y`);
          expectClose(r.dx, p.dx, 2e-6, `${isa} vs portable dx`);
        }
      });
    }
  }

  it('runs in place (into = x, into = dy) with the same bits', () => {
    const x = inputs(1000, 5), dy = randn(new Rng(6), 1000);
    for (const kind of kinds) {
      const y = kernels.activationForward(kind, x);
      const inPlace = x.slice();
      expect(kernels.activationForward(kind, inPlace, { into: inPlace })).toBe(inPlace);
      expectSameBits(inPlace, y, `${kind} in place`);
      const dx = kernels.activationBackward(kind, x, dy);
      const d2 = dy.slice();
      kernels.activationBackward(kind, x, d2, { into: d2 });
      expectSameBits(d2, dx, `${kind} backward in place`);
    }
  });

  it('gelu / geluBackward / relu / silu are the activation kinds', () => {
    const x = inputs(100, 9), dy = randn(new Rng(10), 100);
    expectSameBits(kernels.gelu(x), kernels.activationForward('gelu', x), 'gelu');
    expectSameBits(kernels.gelu(x, { approximate: 'tanh' }), kernels.activationForward('geluTanh', x), 'gelu tanh');
    expectSameBits(kernels.geluBackward(x, dy, { approximate: 'tanh' }), kernels.activationBackward('geluTanh', x, dy), 'gelu tanh grad');
    expectSameBits(kernels.relu(x), kernels.activationForward('relu', x), 'relu');
    expectSameBits(kernels.siluBackward(x, dy), kernels.activationBackward('silu', x, dy), 'silu grad');
  });

  it('large arrays (several parallel chunks) match the small-array results element by element', () => {
    const x = inputs(100_003, 11);
    for (const kind of kinds) {
      const big = kernels.activationForward(kind, x);
      const part = kernels.activationForward(kind, x.subarray(40_000, 40_037));
      expectSameBits(big.subarray(40_000, 40_037), part, `${kind} chunked vs alone`);
    }
  });
});

describe('add', () => {
  for (const n of [...sizes, 70_001]) {
    it(`n=${n}: exact float32 sums, in place on either input`, () => {
      const rng = new Rng(n);
      const a = randn(rng, n), b = randn(rng, n);
      const ref = Float32Array.from(a, (v, i) => Math.fround(v + b[i]));
      forEachIsa((isa) => {
        expectSameBits(kernels.add(a, b, { into: poisoned(n) }), ref, `${isa} a + b`);
        const a2 = a.slice();
        kernels.add(a2, b, { into: a2 });
        expectSameBits(a2, ref, `${isa} a += b`);
        const b2 = b.slice();
        kernels.add(a, b2, { into: b2 });
        expectSameBits(b2, ref, `${isa} b = a + b`);
      });
    });
  }
});

describe('dropout', () => {
  const mask = (n: number, p: number, seed: number, offset = 0) =>
    Array.from({ length: n }, (_, i) => kernels.dropoutKeepElement(seed, offset + i, p));

  for (const n of sizes) {
    it(`n=${n}: y = keep ? x / (1 - p) : 0, backward the same map, every variant with the same bits`, () => {
      const rng = new Rng(n + 77);
      const x = randn(rng, n), dy = randn(rng, n), p = 0.3, seed = 1234 + n;
      const keep = mask(n, p, seed);
      const scale = Math.fround(1 / Math.fround(1 - p));
      const ref = Float32Array.from(x, (v, i) => (keep[i] ? Math.fround(v * scale) : 0));
      // Backward against finite differences of sum(dy * dropout(x)) (a linear map).
      const g = finiteDiff(x, (xx) => dot(dy, Array.from(xx, (v, i) => (keep[i] ? v / (1 - p) : 0))));
      const runs = forEachIsa((isa) => {
        const y = kernels.dropoutForward(x, p, seed, { into: poisoned(n) });
        expectSameBits(y, ref, `${isa} y`);
        const dx = kernels.dropoutBackward(dy, p, seed, { into: poisoned(n) });
        expectClose(dx, g, 1e-6, `${isa} dx`);
        for (let i = 0; i < n; ++i) expect(dx[i] === 0).toBe(!keep[i]);
        return y;
      });
      for (const [isa, y] of runs) expectSameBits(y, runs.get('portable')!, `${isa} vs portable`);
    });
  }

  it('keeps about 1 - p of the elements; seeds and offsets select the stream', () => {
    const n = 200_000, x = new Float32Array(n).fill(1);
    for (const p of [0.1, 0.5, 0.9]) {
      const y = kernels.dropoutForward(x, p, 42);
      const kept = y.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0) / n;
      expect(Math.abs(kept - (1 - p))).toBeLessThan(0.01);
    }
    const a = kernels.dropoutForward(x, 0.5, 1), b = kernels.dropoutForward(x, 0.5, 2);
    let same = 0;
    for (let i = 0; i < n; ++i) same += a[i] === b[i] ? 1 : 0;
    expect(Math.abs(same / n - 0.5)).toBeLessThan(0.01);  // independent masks agree half the time
    // A slice with its offset gives the same decisions as the whole array.
    const whole = kernels.dropoutForward(x, 0.5, 3);
    expectSameBits(kernels.dropoutForward(x.subarray(12_345, 20_000), 0.5, 3, { offset: 12_345 }),
      whole.subarray(12_345, 20_000), 'slice with offset');
    expectSameBits(kernels.dropoutForward(x, 0, 3), x, 'p = 0 is the identity');
  });

  it('indices across 2^32 use the high bits (offset near the boundary)', () => {
    const n = 40, offset = 2 ** 32 - 17, p = 0.5, seed = 99;
    const x = new Float32Array(n).fill(1);
    const y = kernels.dropoutForward(x, p, seed, { offset });
    for (let i = 0; i < n; ++i) expect(y[i] !== 0).toBe(kernels.dropoutKeepElement(seed, offset + i, p));
    // and the stream after the boundary is not the one at its start
    const low = mask(20, p, seed, 0), high = mask(20, p, seed, 2 ** 32);
    expect(low).not.toEqual(high);
  });

  it('is not attention dropout\'s stream for the same seed', () => {
    // Element j of the elementwise stream and key j of attention row (0, 0, 0) differ somewhere.
    const a = Array.from({ length: 64 }, (_, j) => kernels.dropoutKeepElement(5, j, 0.5));
    const b = Array.from({ length: 64 }, (_, j) => kernels.dropoutKeep(5, 0, 0, 0, j, 0.5));
    expect(a).not.toEqual(b);
  });
});
