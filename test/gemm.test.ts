// kernels.gemm / gemmBatched / linearForward / linearBackward (+ Async) against float64 references:
// odd sizes (1, 7, 33, 257) on both GEMM paths (m <= 16 streams B, larger m packs), every transpose
// combination, alpha/beta with beta = 0 over a NaN-poisoned C, strided batches, every ISA variant
// against portable, results bitwise identical across thread counts, Linear gradients against
// finite differences, and bad arguments rejected with an error naming them.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuInfo, getNumThreads, kernels, setIsa, setNumThreads } from '../dist/index.js';
import { expectClose, expectSameBits, expectThrowsLike } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';

const initialIsa = cpuInfo().isa;
const initialThreads = getNumThreads();
afterAll(() => {
  setIsa(initialIsa);
  setNumThreads(initialThreads);
});

const TOL = 2e-5;  // normwise relative error of a float32 product with k up to a few hundred

interface Problem {
  m: number; n: number; k: number; transA: boolean; transB: boolean; alpha: number; beta: number;
}

/** float64 alpha * op(A) op(B) + beta * C (C ignored when beta = 0). */
function refGemm(A: Float32Array, B: Float32Array, C: Float32Array | undefined, p: Problem,
  offA = 0, offB = 0, offC = 0, out?: Float64Array): Float64Array {
  const { m, n, k } = p;
  const r = out ?? new Float64Array(m * n);
  const outOff = out ? offC : 0;
  for (let i = 0; i < m; ++i) {
    for (let j = 0; j < n; ++j) {
      let s = 0;
      for (let l = 0; l < k; ++l) {
        const a = p.transA ? A[offA + l * m + i] : A[offA + i * k + l];
        const b = p.transB ? B[offB + j * k + l] : B[offB + l * n + j];
        s += a * b;
      }
      r[outOff + i * n + j] = p.alpha * s + (p.beta === 0 ? 0 : p.beta * C![offC + i * n + j]);
    }
  }
  return r;
}

function problem(m: number, n: number, k: number, transA = false, transB = false, alpha = 1, beta = 0): Problem {
  return { m, n, k, transA, transB, alpha, beta };
}

const SIZES = [1, 7, 33, 257];
const TRANS: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

describe('gemm against a float64 reference', () => {
  it('every size in {1, 7, 33, 257}^3 and every transpose combination (output poisoned, beta = 0)', () => {
    let seed = 1;
    for (const m of SIZES) for (const n of SIZES) for (const k of SIZES) for (const [ta, tb] of TRANS) {
      const p = problem(m, n, k, ta, tb);
      const rng = new Rng(seed++);
      const A = randn(rng, m * k), B = randn(rng, k * n);
      const C = kernels.gemm(A, B, { m, n, k, transA: ta, transB: tb, C: poisoned(m * n) });
      expectClose(C, refGemm(A, B, undefined, p), TOL, `m=${m} n=${n} k=${k} transA=${ta} transB=${tb}`);
    }
  });

  it('alpha and beta, with and without C, on both paths', () => {
    const rng = new Rng(77);
    for (const m of [5, 40]) for (const [ta, tb] of TRANS) {
      const n = 45, k = 70;
      const A = randn(rng, m * k), B = randn(rng, k * n), C0 = randn(rng, m * n);
      for (const [alpha, beta] of [[0.5, -1.5], [-2, 0], [1, 1], [0, 2]]) {
        const p = problem(m, n, k, ta, tb, alpha, beta);
        const C = kernels.gemm(A, B, { m, n, k, transA: ta, transB: tb, alpha, beta, C: C0.slice() });
        expectClose(C, refGemm(A, B, C0, p), TOL, `m=${m} transA=${ta} transB=${tb} alpha=${alpha} beta=${beta}`);
      }
      // no C: a new zero array, so beta has nothing to scale
      const fresh = kernels.gemm(A, B, { m, n, k, transA: ta, transB: tb, beta: 3 });
      expectClose(fresh, refGemm(A, B, undefined, problem(m, n, k, ta, tb)), TOL, 'fresh C');
    }
  });

  it('beta = 0 never reads C: NaN and Infinity there do not propagate', () => {
    const rng = new Rng(5);
    for (const m of [3, 64]) {
      const n = 37, k = 20, A = randn(rng, m * k), B = randn(rng, k * n);
      const C = new Float32Array(m * n).fill(NaN);
      C[0] = Infinity;
      const out = kernels.gemm(A, B, { m, n, k, C });
      expect(out).toBe(C);  // written in place and returned
      expect(out.every(Number.isFinite)).toBe(true);
      expectClose(out, refGemm(A, B, undefined, problem(m, n, k)), TOL, `m=${m}`);
    }
  });

  it('alpha = 0 or k = 0 gives beta * C without reading A and B', () => {
    const A = new Float32Array(6).fill(NaN), B = new Float32Array(9).fill(NaN);
    const C = kernels.gemm(A, B, { m: 2, n: 3, k: 3, alpha: 0, beta: 2, C: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(Array.from(C)).toEqual([2, 4, 6, 8, 10, 12]);
    const D = kernels.gemm(new Float32Array(0), new Float32Array(0), { m: 2, n: 2, k: 0, C: new Float32Array(4).fill(NaN) });
    expect(Array.from(D)).toEqual([0, 0, 0, 0]);
    expect(kernels.gemm(new Float32Array(0), new Float32Array(0), { m: 0, n: 5, k: 0 }).length).toBe(0);
  });
});

describe('gemmBatched', () => {
  it('strided entries, shared operands (stride 0), gaps in C left untouched, all transposes', () => {
    const rng = new Rng(11);
    for (const [ta, tb] of TRANS) {
      for (const [batch, m, n, k] of [[9, 12, 20, 30], [3, 3, 300, 64], [2, 300, 70, 200], [5, 1, 1, 1]]) {
        const shareA = batch === 2, shareB = batch === 9;
        const strideA = shareA ? 0 : m * k + 3, strideB = shareB ? 0 : k * n, strideC = m * n + 5;
        const A = randn(rng, (batch - 1) * strideA + m * k), B = randn(rng, (batch - 1) * strideB + k * n);
        const C0 = randn(rng, (batch - 1) * strideC + m * n);
        const beta = batch === 3 ? 0 : 0.5;
        const p = problem(m, n, k, ta, tb, 1.25, beta);
        const C = kernels.gemmBatched(A, B, { batch, m, n, k, strideA, strideB, strideC, transA: ta, transB: tb,
          alpha: 1.25, beta, C: C0.slice() });
        const ref = Float64Array.from(C0);
        for (let e = 0; e < batch; ++e) refGemm(A, B, C0, p, e * strideA, e * strideB, e * strideC, ref);
        expectClose(C, ref, TOL, `batch=${batch} m=${m} n=${n} k=${k} transA=${ta} transB=${tb}`);
      }
    }
  });

  it('default strides are the packed sizes', () => {
    const rng = new Rng(12);
    const batch = 4, m = 6, n = 5, k = 7;
    const A = randn(rng, batch * m * k), B = randn(rng, batch * k * n);
    const C = kernels.gemmBatched(A, B, { batch, m, n, k });
    for (let e = 0; e < batch; ++e) {
      const one = kernels.gemm(A.subarray(e * m * k, (e + 1) * m * k), B.subarray(e * k * n, (e + 1) * k * n), { m, n, k });
      expectSameBits(C.subarray(e * m * n, (e + 1) * m * n), one, `entry ${e}`);
    }
  });
});

describe('every ISA variant, threads and async forms', () => {
  const isas = cpuInfo().supportedIsas;
  const shapes: [number, number, number][] = [[1, 257, 33], [7, 33, 257], [16, 100, 50], [17, 70, 300], [257, 33, 7], [64, 1000, 40]];

  it('each variant matches portable and the reference; bits equal across 1, 2 and 3 threads', () => {
    const rng = new Rng(21);
    for (const [m, n, k] of shapes) for (const [ta, tb] of TRANS) {
      const A = randn(rng, m * k), B = randn(rng, k * n), C0 = randn(rng, m * n);
      const opts = { m, n, k, transA: ta, transB: tb, alpha: 0.75, beta: -0.5 };
      const ref = refGemm(A, B, C0, problem(m, n, k, ta, tb, 0.75, -0.5));
      let portable: Float32Array | undefined;
      for (const isa of isas) {
        setIsa(isa);
        const what = `${isa} m=${m} n=${n} k=${k} transA=${ta} transB=${tb}`;
        setNumThreads(1);
        const one = kernels.gemm(A, B, { ...opts, C: C0.slice() });
        setNumThreads(3);
        const three = kernels.gemm(A, B, { ...opts, C: C0.slice() });
        setNumThreads(2);
        const two = kernels.gemm(A, B, { ...opts, C: C0.slice() });
        expectClose(two, ref, TOL, what);
        expectSameBits(one, two, `${what}: 1 vs 2 threads`);
        expectSameBits(three, two, `${what}: 3 vs 2 threads`);
        if (isa === 'portable') portable = two;
        else expectClose(two, portable!, TOL, `${what} vs portable`);
      }
    }
    setIsa(initialIsa);
    setNumThreads(initialThreads);
  });

  it('the few-row path with B stored n x k (decoding) at every row count 1..16: reference, variants, threads', () => {
    // k >= 512, or n * k > 2^17 at up to 8 rows, takes the few-row path; its row groups (of at
    // most 6 rows on AVX-512, balanced: 7 = 4 + 3, 16 = 6 + 6 + 4) and column blocks must cover
    // C exactly: the output is poisoned, n leaves a remainder for every block width.
    const rng = new Rng(31);
    const cases: [number, number, number][] = [];
    for (let m = 1; m <= 16; ++m) cases.push([m, 71, 515]);
    for (let m = 5; m <= 8; ++m) cases.push([m, 601, 223]);
    for (const [m, n, k] of cases) {
      const A = randn(rng, m * k), B = randn(rng, n * k), C0 = randn(rng, m * n);
      const ref = refGemm(A, B, undefined, problem(m, n, k, false, true));
      const refBeta = refGemm(A, B, C0, problem(m, n, k, false, true, -0.5, 0.25));
      let portable: Float32Array | undefined;
      for (const isa of isas) {
        setIsa(isa);
        const what = `${isa} m=${m} n=${n} k=${k}`;
        const two = kernels.gemm(A, B, { m, n, k, transB: true, C: poisoned(m * n) });
        expectClose(two, ref, TOL, what);
        expectClose(kernels.gemm(A, B, { m, n, k, transB: true, alpha: -0.5, beta: 0.25, C: C0.slice() }), refBeta, TOL, `${what} alpha beta`);
        setNumThreads(1);
        expectSameBits(kernels.gemm(A, B, { m, n, k, transB: true, C: poisoned(m * n) }), two, `${what}: 1 vs 2 threads`);
        setNumThreads(3);
        expectSameBits(kernels.gemm(A, B, { m, n, k, transB: true, C: poisoned(m * n) }), two, `${what}: 3 vs 2 threads`);
        setNumThreads(2);
        if (isa === 'portable') portable = two;
        else expectClose(two, portable!, TOL, `${what} vs portable`);
      }
    }
    setIsa(initialIsa);
    setNumThreads(initialThreads);
  });

  it('async forms give the sync bits', async () => {
    const rng = new Rng(31);
    const m = 40, n = 50, k = 60;
    const A = randn(rng, m * k), B = randn(rng, k * n);
    const sync = kernels.gemm(A, B, { m, n, k, transB: true });
    expectSameBits(await kernels.gemmAsync(A, B, { m, n, k, transB: true }), sync, 'gemmAsync');
    const Ab = randn(rng, 3 * m * k);
    const syncB = kernels.gemmBatched(Ab, B, { batch: 3, m, n, k, strideB: 0 });
    expectSameBits(await kernels.gemmBatchedAsync(Ab, B, { batch: 3, m, n, k, strideB: 0 }), syncB, 'gemmBatchedAsync');
    const x = randn(rng, 9 * 20), W = randn(rng, 30 * 20), b = randn(rng, 30), dy = randn(rng, 9 * 30);
    const shape = { rows: 9, inFeatures: 20, outFeatures: 30 };
    expectSameBits(await kernels.linearForwardAsync(x, W, b, shape), kernels.linearForward(x, W, b, shape), 'linearForwardAsync');
    const g = await kernels.linearBackwardAsync(x, W, dy, shape), s = kernels.linearBackward(x, W, dy, shape);
    expectSameBits(g.dx!, s.dx!, 'dx');
    expectSameBits(g.dW, s.dW, 'dW');
    expectSameBits(g.db, s.db, 'db');
  });
});

describe('linear', () => {
  // y = x W^T + b with PyTorch's W [out, in].
  function refLinear(x: Float32Array, W: Float32Array, b: Float32Array | null, rows: number, inF: number, outF: number) {
    const y = new Float64Array(rows * outF);
    for (let r = 0; r < rows; ++r) for (let o = 0; o < outF; ++o) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; ++i) s += x[r * inF + i] * W[o * inF + i];
      y[r * outF + o] = s;
    }
    return y;
  }

  it('forward with and without bias, on both paths', () => {
    const rng = new Rng(41);
    for (const rows of [1, 7, 16, 17, 70]) {
      const inF = 33, outF = 29;
      const x = randn(rng, rows * inF), W = randn(rng, outF * inF), b = randn(rng, outF);
      const shape = { rows, inFeatures: inF, outFeatures: outF };
      expectClose(kernels.linearForward(x, W, b, shape), refLinear(x, W, b, rows, inF, outF), TOL, `rows=${rows} bias`);
      expectClose(kernels.linearForward(x, W, null, shape), refLinear(x, W, null, rows, inF, outF), TOL, `rows=${rows}`);
      expectClose(kernels.linearForward(x, W, undefined, shape), refLinear(x, W, null, rows, inF, outF), TOL, `rows=${rows}`);
    }
  });

  it('backward against central finite differences of L = sum(y * G)', () => {
    // L is linear in each of x, W and b, so the central difference is exact up to rounding of L.
    const rng = new Rng(42);
    for (const rows of [3, 40]) {
      const inF = 6, outF = 5, h = 0.5;
      const x = randn(rng, rows * inF), W = randn(rng, outF * inF), b = randn(rng, outF), G = randn(rng, rows * outF);
      const shape = { rows, inFeatures: inF, outFeatures: outF };
      const loss = () => {
        const y = kernels.linearForward(x, W, b, shape);
        let s = 0;
        for (let i = 0; i < y.length; ++i) s += y[i] * G[i];
        return s;
      };
      const fd = (arr: Float32Array) => {
        const g = new Float64Array(arr.length);
        for (let i = 0; i < arr.length; ++i) {
          const v = arr[i];
          arr[i] = v + h; const lp = loss();
          arr[i] = v - h; const lm = loss();
          arr[i] = v;
          g[i] = (lp - lm) / (2 * h);
        }
        return g;
      };
      const got = kernels.linearBackward(x, W, G, shape);
      expectClose(got.dx!, fd(x), 1e-4, `rows=${rows} dx`);
      expectClose(got.dW, fd(W), 1e-4, `rows=${rows} dW`);
      expectClose(got.db, fd(b), 1e-4, `rows=${rows} db`);
      const noDx = kernels.linearBackward(x, W, G, { ...shape, needInputGrad: false });
      expect(noDx.dx).toBeUndefined();
      expectSameBits(noDx.dW, got.dW, 'dW without dx');
      expectSameBits(noDx.db, got.db, 'db without dx');
    }
  });

  it('backward on the packed path (rows and features beyond the small-m path) against float64', () => {
    const rng = new Rng(43);
    const rows = 300, inF = 70, outF = 90;
    const x = randn(rng, rows * inF), W = randn(rng, outF * inF), dy = randn(rng, rows * outF);
    const got = kernels.linearBackward(x, W, dy, { rows, inFeatures: inF, outFeatures: outF });
    const dx = new Float64Array(rows * inF), dW = new Float64Array(outF * inF), db = new Float64Array(outF);
    for (let r = 0; r < rows; ++r) for (let o = 0; o < outF; ++o) {
      const g = dy[r * outF + o];
      db[o] += g;
      for (let i = 0; i < inF; ++i) {
        dx[r * inF + i] += g * W[o * inF + i];
        dW[o * inF + i] += g * x[r * inF + i];
      }
    }
    expectClose(got.dx!, dx, TOL, 'dx');
    expectClose(got.dW, dW, TOL, 'dW');
    expectClose(got.db, db, TOL, 'db');
  });
});

describe('argument checks name the argument', () => {
  const A = new Float32Array(6), B = new Float32Array(12);
  const ok = { m: 2, n: 4, k: 3 };
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['A not a Float32Array', () => kernels.gemm(new Float64Array(6) as unknown as Float32Array, B, ok), TypeError, /^gemm: A must be a Float32Array/],
    ['A wrong length', () => kernels.gemm(new Float32Array(5), B, ok), RangeError, /^gemm: A must have length 6 \(m\*k\)/],
    ['B wrong length', () => kernels.gemm(A, new Float32Array(11), ok), RangeError, /^gemm: B must have length 12/],
    ['B transposed wrong length', () => kernels.gemm(A, new Float32Array(13), { ...ok, transB: true }), RangeError, /^gemm: B /],
    ['opts missing', () => kernels.gemm(A, B, undefined as never), TypeError, /^gemm: opts must be an object/],
    ['m missing', () => kernels.gemm(A, B, { n: 4, k: 3 } as never), TypeError, /^gemm: opts\.m must be an integer/],
    ['m negative', () => kernels.gemm(A, B, { ...ok, m: -2 }), RangeError, /^gemm: opts\.m must be in/],
    ['k not an integer', () => kernels.gemm(A, B, { ...ok, k: 2.5 }), TypeError, /^gemm: opts\.k must be an integer/],
    ['n a string', () => kernels.gemm(A, B, { ...ok, n: '4' as never }), TypeError, /^gemm: opts\.n must be an integer/],
    ['alpha NaN', () => kernels.gemm(A, B, { ...ok, alpha: NaN }), RangeError, /^gemm: opts\.alpha must be a finite/],
    ['beta Infinity', () => kernels.gemm(A, B, { ...ok, beta: Infinity }), RangeError, /^gemm: opts\.beta must be a finite/],
    ['beta a string', () => kernels.gemm(A, B, { ...ok, beta: '1' as never }), TypeError, /^gemm: opts\.beta must be a number/],
    ['transA not boolean', () => kernels.gemm(A, B, { ...ok, transA: 1 as never }), TypeError, /^gemm: opts\.transA must be a boolean/],
    ['C wrong length', () => kernels.gemm(A, B, { ...ok, C: new Float32Array(7) }), RangeError, /^gemm: opts\.C must have length 8/],
    ['C wrong type', () => kernels.gemm(A, B, { ...ok, C: [] as never }), TypeError, /^gemm: opts\.C must be a Float32Array/],
    ['C overlaps A', () => {
      const buf = new Float32Array(20);
      return kernels.gemm(buf.subarray(0, 6), B, { ...ok, C: buf.subarray(4, 12) });
    }, RangeError, /^gemm: opts\.C must not overlap A/],
    ['misspelled option', () => kernels.gemm(A, B, { ...ok, transb: true } as never), TypeError, /^gemm: opts\.transb is not an option/],
    ['batch missing', () => kernels.gemmBatched(A, B, ok as never), TypeError, /^gemmBatched: opts\.batch must be an integer/],
    ['batch 0', () => kernels.gemmBatched(A, B, { ...ok, batch: 0 }), RangeError, /^gemmBatched: opts\.batch must be in/],
    ['strideC overlapping entries', () => kernels.gemmBatched(new Float32Array(12), new Float32Array(24),
      { ...ok, batch: 2, strideC: 4 }), RangeError, /^gemmBatched: opts\.strideC must be >= m\*n/],
    ['strideA negative', () => kernels.gemmBatched(A, B, { ...ok, batch: 1, strideA: -1 }), RangeError, /^gemmBatched: opts\.strideA must be in/],
    ['batched A length', () => kernels.gemmBatched(A, B, { ...ok, batch: 2, strideB: 0 }), RangeError,
      /^gemmBatched: A must have length 12 \(\(batch-1\)\*strideA \+ m\*k\)/],
    ['linear x length', () => kernels.linearForward(new Float32Array(5), new Float32Array(6), null, { rows: 2, inFeatures: 3, outFeatures: 2 }),
      RangeError, /^linearForward: x must have length 6/],
    ['linear W type', () => kernels.linearForward(new Float32Array(6), new Int32Array(6) as never, null, { rows: 2, inFeatures: 3, outFeatures: 2 }),
      TypeError, /^linearForward: W must be a Float32Array/],
    ['linear b length', () => kernels.linearForward(new Float32Array(6), new Float32Array(6), new Float32Array(3), { rows: 2, inFeatures: 3, outFeatures: 2 }),
      RangeError, /^linearForward: b must have length 2/],
    ['linear rows negative', () => kernels.linearForward(new Float32Array(6), new Float32Array(6), null, { rows: -1, inFeatures: 3, outFeatures: 2 }),
      RangeError, /^linearForward: shape\.rows must be in/],
    ['linear shape key', () => kernels.linearForward(new Float32Array(6), new Float32Array(6), null, { rows: 2, inFeatures: 3, outFeatures: 2, bias: 1 } as never),
      TypeError, /^linearForward: shape\.bias is not an option/],
    ['linear dy length', () => kernels.linearBackward(new Float32Array(6), new Float32Array(6), new Float32Array(5), { rows: 2, inFeatures: 3, outFeatures: 2 }),
      RangeError, /^linearBackward: dy must have length 4/],
    ['linear needInputGrad', () => kernels.linearBackward(new Float32Array(6), new Float32Array(6), new Float32Array(4),
      { rows: 2, inFeatures: 3, outFeatures: 2, needInputGrad: 'yes' as never }), TypeError, /^linearBackward: shape\.needInputGrad must be a boolean/],
  ];
  for (const [name, fn, type, msg] of cases) it(name, () => expectThrowsLike(fn, type, msg, name));

  it('async forms reject instead of throwing', async () => {
    await expect(kernels.gemmAsync(new Float32Array(5), B, ok)).rejects.toThrow(/^gemmAsync: A must have length 6/);
    await expect(kernels.gemmBatchedAsync(A, B, { ...ok, batch: 1, bogus: 1 } as never)).rejects.toThrow(/opts\.bogus is not an option/);
    await expect(kernels.linearForwardAsync(A, A, null, { rows: 2, inFeatures: 3, outFeatures: -2 })).rejects.toThrow(RangeError);
    await expect(kernels.linearBackwardAsync(A, A, A, { rows: 2, inFeatures: 3 } as never)).rejects.toThrow(/shape\.outFeatures/);
  });
});
