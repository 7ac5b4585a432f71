// Adam/AdamW fused steps against a float64 PyTorch-semantics reference over several steps, the
// async forms, every CPU variant; the global gradient norm and clipping by it.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { forEachIsa, withThreads } from './helpers/ops-check.js';
import { adamRef, type AdamRefOptions } from './helpers/ops-reference.js';
import { expectClose, expectSameBits, maxAbs, expectThrowsLike } from './helpers/metrics.js';
import { Rng, randn } from './helpers/random.js';

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);

describe('adamStep / adamwStep', () => {
  const configs: [string, Omit<AdamRefOptions, 'step'>][] = [
    ['adam', { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }],
    ['adam + L2', { lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: false }],
    ['adamw', { lr: 1e-2, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.05, decoupled: true }],
    ['adamw + gradScale', { lr: 5e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, gradScale: 0.25 }],
  ];
  for (const n of [1, 7, 33, 257, 40_000]) {
    for (const [name, cfg] of configs) {
      it(`${name} n=${n}: 5 steps vs float64 reference, every variant`, () => {
        const rng = new Rng(n + name.length);
        const p0 = randn(rng, n), grads = Array.from({ length: 5 }, () => randn(rng, n));
        const runs = forEachIsa((isa) => {
          const p = p0.slice(), m = new Float32Array(n), v = new Float32Array(n);
          const pr = Float64Array.from(p0), mr = new Float64Array(n), vr = new Float64Array(n);
          for (let step = 1; step <= 5; ++step) {
            const opts = { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay,
              gradScale: cfg.gradScale, step };
            (cfg.decoupled ? kernels.adamwStep : kernels.adamStep)(p, grads[step - 1], m, v, opts);
            adamRef(pr, grads[step - 1], mr, vr, { ...cfg, step });
          }
          // The update size is lr per step: compare the change, not the (much larger) parameters.
          const dp = p.map((x, i) => x - p0[i]), dpr = pr.map((x, i) => x - p0[i]);
          expectClose(dp, dpr, 2e-4, `${isa} parameter change`);
          // m and v cancel towards 0 for n = 1: measure against the size of one update's term.
          const g = maxAbs(grads[4]) * (cfg.gradScale ?? 1);
          expectClose(m, mr, 1e-6, `${isa} m`, (1 - cfg.beta1) * g);
          expectClose(v, vr, 1e-6, `${isa} v`, (1 - cfg.beta2) * g * g);
          return p;
        });
        for (const [isa, p] of runs) expectClose(p, runs.get('portable')!, 1e-6, `${isa} vs portable`);
      });
    }
  }

  it('async forms give the same bits as the sync ones; threads do not change them', async () => {
    const n = 100_000, rng = new Rng(9);
    const p0 = randn(rng, n), g = randn(rng, n), m0 = randn(rng, n, 0.1), v0 = f32(randn(rng, n, 0.1).map(Math.abs));
    const opts = { lr: 1e-3, weightDecay: 0.01, step: 7 };
    for (const [sync, async] of [[kernels.adamStep, kernels.adamStepAsync], [kernels.adamwStep, kernels.adamwStepAsync]] as const) {
      const a = [p0.slice(), m0.slice(), v0.slice()], b = [p0.slice(), m0.slice(), v0.slice()], c = [p0.slice(), m0.slice(), v0.slice()];
      withThreads(1, () => sync(a[0], g, a[1], a[2], opts));
      withThreads(2, () => sync(b[0], g, b[1], b[2], opts));
      await async(c[0], g, c[1], c[2], opts);
      for (let k = 0; k < 3; ++k) {
        expectSameBits(a[k], b[k], `1 vs 2 threads [${k}]`);
        expectSameBits(c[k], b[k], `async vs sync [${k}]`);
      }
    }
  });

  it('AdamW defaults to weightDecay 0.01, Adam to 0', () => {
    const p = f32([1]), g = f32([0]);
    kernels.adamwStep(p, g, new Float32Array(1), new Float32Array(1), { step: 1, lr: 0.1, eps: 1 });
    expect(p[0]).toBeCloseTo(1 - 0.1 * 0.01, 7);
    const q = f32([1]);
    kernels.adamStep(q, g, new Float32Array(1), new Float32Array(1), { step: 1, lr: 0.1, eps: 1 });
    expect(q[0]).toBe(1);
  });
});

describe('adamStepMulti / adamwStepMulti', () => {
  // Sizes of a small model's parameters: odd, tiny, and several kChunk (16384) blocks.
  const SIZES = [1, 7, 65, 257, 16_384, 40_000, 80];
  const setup = (seed: number) => {
    const rng = new Rng(seed);
    return SIZES.map((n) => ({ p: randn(rng, n), g: randn(rng, n), m: randn(rng, n, 0.1), v: f32(randn(rng, n, 0.1).map(Math.abs)) }));
  };
  const copy = (ts: ReturnType<typeof setup>) => ts.map((t) => ({ p: t.p.slice(), g: t.g.slice(), m: t.m.slice(), v: t.v.slice() }));

  for (const decoupled of [false, true]) {
    const name = decoupled ? 'adamwStepMulti' : 'adamStepMulti';
    it(`${name}: the bits of one single-tensor step per tensor, every variant and thread count, sync and async`, async () => {
      const ts = setup(decoupled ? 2 : 1);
      const opts = { lr: 2e-3, beta1: 0.9, beta2: 0.98, eps: 1e-9, weightDecay: 0.01, gradScale: 0.5, step: 3 };
      const single = decoupled ? kernels.adamwStep : kernels.adamStep;
      const multi = decoupled ? kernels.adamwStepMulti : kernels.adamStepMulti;
      const multiAsync = decoupled ? kernels.adamwStepMultiAsync : kernels.adamStepMultiAsync;
      forEachIsa((isa) => {
        const want = copy(ts);
        for (const t of want) single(t.p, t.g, t.m, t.v, opts);
        for (const threads of [1, 2, 3]) {
          const got = copy(ts);
          withThreads(threads, () => multi(got.map((t) => t.p), got.map((t) => t.g), got.map((t) => t.m), got.map((t) => t.v), opts));
          got.forEach((t, i) => {
            const what = `${isa} ${threads} threads tensor ${i} (n=${SIZES[i]})`;
            expectSameBits(t.p, want[i]!.p, `params ${what}`);
            expectSameBits(t.m, want[i]!.m, `m ${what}`);
            expectSameBits(t.v, want[i]!.v, `v ${what}`);
            expectSameBits(t.g, ts[i]!.g, `grads untouched ${what}`);
          });
        }
      });
      const want = copy(ts);
      for (const t of want) single(t.p, t.g, t.m, t.v, opts);
      const got = copy(ts);
      await multiAsync(got.map((t) => t.p), got.map((t) => t.g), got.map((t) => t.m), got.map((t) => t.v), opts);
      got.forEach((t, i) => expectSameBits(t.p, want[i]!.p, `async params tensor ${i}`));
    });
  }

  it('zeroGrads clears every gradient after using it', () => {
    const ts = setup(5), want = copy(ts), got = copy(ts);
    const opts = { lr: 1e-3, step: 1 };
    for (const t of want) kernels.adamStep(t.p, t.g, t.m, t.v, opts);
    kernels.adamStepMulti(got.map((t) => t.p), got.map((t) => t.g), got.map((t) => t.m), got.map((t) => t.v), { ...opts, zeroGrads: true });
    got.forEach((t, i) => {
      expectSameBits(t.p, want[i]!.p, `params tensor ${i}`);
      expect(t.g.every((x) => x === 0 && !Object.is(x, -0))).toBe(true);
    });
  });

  it('an empty list is a no-op; bad lists are rejected before anything changes', () => {
    kernels.adamStepMulti([], [], [], [], { step: 1 });
    const a = () => new Float32Array(4);
    const p = f32([1, 2, 3, 4]);
    const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
      ['grads count', () => kernels.adamStepMulti([p], [], [a()], [a()], { step: 1 }), RangeError, /^adamStepMulti: grads must have 1 arrays/],
      ['params not an Array', () => kernels.adamStepMulti(p as never, [a()], [a()], [a()], { step: 1 }), TypeError, /^adamStepMulti: params must be an Array/],
      ['an element of the wrong type', () => kernels.adamStepMulti([p], [new Float64Array(4) as never], [a()], [a()], { step: 1 }), TypeError,
        /^adamStepMulti: grads\[0\] must be a Float32Array/],
      ['lengths differ', () => kernels.adamStepMulti([p], [a()], [new Float32Array(3)], [a()], { step: 1 }), RangeError,
        /^adamStepMulti: m\[0\] must have length 4/],
      ['the same array twice', () => kernels.adamStepMulti([p, p], [a(), a()], [a(), a()], [a(), a()], { step: 1 }), RangeError,
        /^adamStepMulti: params\[1\] must not overlap params\[0\]/],
      ['step missing', () => kernels.adamStepMulti([p], [a()], [a()], [a()], {} as never), TypeError, /^adamStepMulti: opts\.step/],
      ['unknown option', () => kernels.adamwStepMulti([p], [a()], [a()], [a()], { step: 1, zeroGrad: true } as never), TypeError,
        /^adamwStepMulti: opts\.zeroGrad is not an option/],
    ];
    for (const [name, fn, type, msg] of cases) expectThrowsLike(fn, type, msg, name);
    expect(Array.from(p)).toEqual([1, 2, 3, 4]);
  });
});

describe('gradNorm and clipGradNorm', () => {
  const norm64 = (arrays: Float32Array[]) => Math.sqrt(arrays.reduce((s, a) => s + a.reduce((t, x) => t + x * x, 0), 0));

  it('the norm of a list of arrays of odd sizes, every variant, threads', () => {
    const rng = new Rng(5);
    const arrays = [1, 7, 33, 257, 70_001, 0].map((n) => randn(rng, n));
    const ref = norm64(arrays);
    forEachIsa((isa) => {
      const got = kernels.gradNorm(arrays);
      expect(Math.abs(got - ref) / ref, isa).toBeLessThan(1e-6);
      expect(withThreads(1, () => kernels.gradNorm(arrays))).toBe(withThreads(2, () => kernels.gradNorm(arrays)));
    });
    expect(kernels.gradNorm([])).toBe(0);
  });

  it('clips by min(1, maxNorm / (norm + 1e-6)) in place, and leaves small gradients alone', () => {
    const rng = new Rng(6);
    const arrays = [randn(rng, 100), randn(rng, 33)];
    const before = arrays.map((a) => a.slice());
    const norm = norm64(arrays);
    const r = kernels.clipGradNorm(arrays, 1);
    expect(Math.abs(r.norm - norm) / norm).toBeLessThan(1e-6);
    expect(r.scale).toBe(1 / (r.norm + 1e-6));
    arrays.forEach((a, k) => expectClose(a, before[k].map((x) => x * r.scale), 1e-7, `array ${k}`));
    expect(Math.abs(norm64(arrays) - 1)).toBeLessThan(1e-5);
    const small = [f32([0.1, 0.2])];
    expect(kernels.clipGradNorm(small, 1).scale).toBe(1);
    expect(Array.from(small[0])).toEqual([Math.fround(0.1), Math.fround(0.2)]);
  });

  it('a non-finite gradient: the norm says so and nothing is scaled', () => {
    const a = f32([1, 2, NaN]), b = f32([3, Infinity]);
    expect(kernels.gradNorm([a])).toBeNaN();
    const r = kernels.clipGradNorm([b], 1);
    expect(r.norm).toBe(Infinity);
    expect(r.scale).toBe(1);
    expect(Array.from(b)).toEqual([3, Infinity]);
  });
});
