// The fused Linear-layer parts of kernels.gemm: the bias added by the epilogue (per entry of a batch
// with strideBias), the row sums of op(A) taken while A is packed (rowSumsA, following beta), the
// residual addend, the ReLU gate of a backward and the ReLU of a forward, on both GEMM paths, odd
// sizes and the "kept A" path of short deep products (dW = dy^T x: m <= 336, k up to 1500, op(A)
// packed once by the team), against float64 references; bits across thread counts and ISA
// variants; and the argument checks of the new options.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { forEachIsa, withThreads } from './helpers/ops-check.js';
import { expectClose, expectSameBits, expectThrowsLike } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';

const TOL = 2e-5;

/** float64 op(A) op(B) + beta * C + bias, and beta * sums0 + the row sums of op(A). */
function ref(A: Float32Array, B: Float32Array, C0: Float32Array | null, bias: Float32Array | null, sums0: Float32Array | null,
  m: number, n: number, k: number, transA: boolean, transB: boolean, beta: number) {
  const C = new Float64Array(m * n), sums = new Float64Array(m);
  for (let i = 0; i < m; ++i) {
    let rs = 0;
    for (let l = 0; l < k; ++l) rs += transA ? A[l * m + i]! : A[i * k + l]!;
    sums[i] = rs + (beta === 0 || !sums0 ? 0 : beta * sums0[i]!);
    for (let j = 0; j < n; ++j) {
      let s = 0;
      for (let l = 0; l < k; ++l) s += (transA ? A[l * m + i]! : A[i * k + l]!) * (transB ? B[j * k + l]! : B[l * n + j]!);
      C[i * n + j] = s + (beta === 0 || !C0 ? 0 : beta * C0[i * n + j]!) + (bias ? bias[j]! : 0);
    }
  }
  return { C, sums };
}

const SHAPES: [number, number, number][] = [[1, 7, 33], [7, 65, 8], [16, 33, 80], [17, 80, 65], [100, 70, 1500], [257, 33, 257], [400, 40, 90]];

describe('gemm bias and rowSumsA', () => {
  for (const [m, n, k] of SHAPES) {
    it(`m=${m} n=${n} k=${k}: every transpose, beta 0 (poisoned C and sums) and 1`, () => {
      const rng = new Rng(m * 31 + n * 7 + k);
      for (const transA of [false, true]) for (const transB of [false, true]) for (const beta of [0, 1]) {
        const A = randn(rng, m * k), B = randn(rng, k * n), bias = randn(rng, n);
        const C0 = beta ? randn(rng, m * n) : poisoned(m * n), S0 = beta ? randn(rng, m) : poisoned(m);
        const C = C0.slice(), S = S0.slice();
        kernels.gemm(A, B, { m, n, k, transA, transB, beta, C, bias, rowSumsA: S });
        const r = ref(A, B, C0, bias, S0, m, n, k, transA, transB, beta);
        const what = `transA=${transA} transB=${transB} beta=${beta}`;
        expectClose(C, r.C, TOL, `C ${what}`);
        expectClose(S, r.sums, TOL, `rowSumsA ${what}`);
      }
    });
  }

  it('bits: 1, 2 and 3 threads agree; every ISA variant is close to portable', () => {
    const rng = new Rng(3);
    for (const [m, n, k] of [[256, 256, 1024], [33, 200, 300], [5, 64, 40]] as const) {
      const A = randn(rng, m * k), B = randn(rng, k * n), bias = randn(rng, n), C0 = randn(rng, m * n), S0 = randn(rng, m);
      const run = () => {
        const C = C0.slice(), S = S0.slice();
        kernels.gemm(A, B, { m, n, k, transA: true, beta: 1, C, bias, rowSumsA: S });
        return { C, S };
      };
      const one = withThreads(1, run), two = withThreads(2, run), three = withThreads(3, run);
      for (const [name, r] of [['2', two], ['3', three]] as const) {
        expectSameBits(r.C, one.C, `C ${name} threads m=${m}`);
        expectSameBits(r.S, one.S, `rowSumsA ${name} threads m=${m}`);
      }
      const byIsa = forEachIsa(run);
      for (const [isa, r] of byIsa) {
        expectClose(r.C, byIsa.get('portable')!.C, TOL, `${isa} C`);
        expectClose(r.S, byIsa.get('portable')!.S, TOL, `${isa} rowSumsA`);
      }
    }
  });

  it('alpha = 0 or k = 0: C = beta * C + bias and rowSumsA = beta * rowSumsA (+ the sums)', () => {
    const C = Float32Array.from([1, 2, 3, 4]), S = Float32Array.from([5, 6]);
    kernels.gemm(Float32Array.from([1, 2, 3, 4]), new Float32Array(4).fill(NaN), { m: 2, n: 2, k: 2, alpha: 0, beta: 2, C,
      bias: Float32Array.from([10, 20]), rowSumsA: S });
    expect(Array.from(C)).toEqual([12, 24, 16, 28]);
    expect(Array.from(S)).toEqual([13, 19]);  // 2 * [5, 6] + the row sums [3, 7]
    const D = new Float32Array(4).fill(NaN), T = new Float32Array(2).fill(NaN);
    kernels.gemm(new Float32Array(0), new Float32Array(0), { m: 2, n: 2, k: 0, C: D, bias: Float32Array.from([1, 2]), rowSumsA: T });
    expect(Array.from(D)).toEqual([1, 2, 1, 2]);
    expect(Array.from(T)).toEqual([0, 0]);
  });
});

describe('gemm addend, gate and relu', () => {
  /** float64 relu?(alpha * (op(A) op(B) .* [gate > 0]) + beta * C0 + bias + addend). */
  function refEpi(A: Float32Array, B: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean,
    o: { alpha: number; beta: number; C0: Float32Array; bias?: Float32Array; addend?: Float32Array; gate?: Float32Array; relu?: boolean }) {
    const r = ref(A, B, null, null, null, m, n, k, transA, transB, 0).C;
    return r.map((v, idx) => {
      let x = o.alpha * (o.gate && !(o.gate[idx]! > 0) ? 0 : v);
      if (o.beta !== 0) x += o.beta * o.C0[idx]!;
      if (o.bias) x += o.bias[idx % n]!;
      if (o.addend) x += o.addend[idx]!;
      return o.relu ? Math.max(0, x) : x;
    });
  }
  const shapes: [number, number, number][] = [[3, 40, 33], [16, 65, 300], [64, 128, 512], [100, 70, 1500], [400, 40, 90], [257, 33, 257]];
  for (const [m, n, k] of shapes) {
    it(`m=${m} n=${n} k=${k}: every transpose and combination against float64; 1, 2 and 3 threads give the same bits`, () => {
      const rng = new Rng(m + 3 * n + 7 * k);
      for (const transA of [false, true]) for (const transB of [false, true]) {
        const A = randn(rng, m * k), B = randn(rng, k * n), C0 = randn(rng, m * n);
        const combos = [
          { alpha: 1, beta: 0, relu: true, bias: randn(rng, n) },
          { alpha: 1, beta: 0, addend: randn(rng, m * n), bias: randn(rng, n) },
          { alpha: 0.5, beta: 1, gate: randn(rng, m * n) },
          { alpha: 1, beta: 0, gate: randn(rng, m * n), addend: randn(rng, m * n), relu: true },
        ];
        for (const c of combos) {
          const what = `transA=${transA} transB=${transB} ${Object.keys(c).join('+')}`;
          const run = () => kernels.gemm(A, B, { m, n, k, transA, transB, ...c, C: c.beta ? C0.slice() : poisoned(m * n) });
          const one = withThreads(1, run);
          expectClose(one, refEpi(A, B, m, n, k, transA, transB, { ...c, C0 }), TOL, what);
          expectSameBits(withThreads(2, run), one, `2 threads ${what}`);
          expectSameBits(withThreads(3, run), one, `3 threads ${what}`);
        }
      }
    });
  }

  it('reluMask holds [C > 0] as bits and gateMask gates exactly like gate, on every path and ISA variant', () => {
    const rng = new Rng(99);
    const bits = (C: Float32Array, m: number, n: number) => {
      const row = Math.ceil(n / 8), out = new Uint8Array(m * row);
      for (let i = 0; i < m; ++i) for (let j = 0; j < n; ++j) if (C[i * n + j]! > 0) out[i * row + (j >> 3)]! |= 1 << (j & 7);
      return out;
    };
    for (const [m, n, k] of [[3, 37, 20], [16, 70, 33], [64, 129, 300], [200, 45, 90], [257, 300, 40]] as const) {
      for (const transB of [false, true]) {
        const A = randn(rng, m * k), B = randn(rng, k * n), bias = randn(rng, n);
        const gate = randn(rng, m * n), gateMask = bits(gate, m, n);
        forEachIsa((isa) => {
          const what = `${isa} m=${m} n=${n} k=${k} transB=${transB}`;
          const reluMask = new Uint8Array(m * Math.ceil(n / 8)).fill(0xa5);
          const C = kernels.gemm(A, B, { m, n, k, transB, bias, relu: true, reluMask, C: poisoned(m * n) });
          expect(Array.from(reluMask), `reluMask ${what}`).toEqual(Array.from(bits(C, m, n)));
          const C0 = randn(rng, m * n);
          const byFloat = kernels.gemm(A, B, { m, n, k, transB, beta: 1, gate, C: C0.slice() });
          const byBits = kernels.gemm(A, B, { m, n, k, transB, beta: 1, gateMask, C: C0.slice() });
          expectSameBits(byBits, byFloat, `gateMask vs gate ${what}`);
          expectSameBits(withThreads(1, () => kernels.gemm(A, B, { m, n, k, transB, beta: 1, gateMask, C: C0.slice() })), byBits,
            `1 vs 2 threads ${what}`);
        });
      }
    }
  });

  it('relu gives exact zeros and gate drops the product where gate <= 0 or NaN', () => {
    const A = Float32Array.from([1, -1]), B = Float32Array.from([2, 3]);  // op(A) op(B) = [[2, 3], [-2, -3]]
    expect(Array.from(kernels.gemm(A, B, { m: 2, n: 2, k: 1, relu: true }))).toEqual([2, 3, 0, 0]);
    const gate = Float32Array.from([1, 0, NaN, -1]);
    expect(Array.from(kernels.gemm(A, B, { m: 2, n: 2, k: 1, gate, beta: 1, C: Float32Array.from([10, 20, 30, 40]) }))).toEqual([12, 20, 30, 40]);
  });
});

describe('gemmBatched bias with strideBias', () => {
  it('per-entry bias slices (strideBias = n) and one shared bias (default 0), both paths', () => {
    const rng = new Rng(21);
    for (const [batch, m, n, k] of [[3, 40, 24, 33], [3, 300, 64, 70], [5, 4, 17, 9]] as const) {
      const A = randn(rng, m * k), B = randn(rng, batch * n * k);
      for (const strideBias of [n, 0]) {
        const bias = randn(rng, (batch - 1) * strideBias + n);
        const C = kernels.gemmBatched(A, B, { batch, m, n, k, transB: true, strideA: 0, strideB: n * k, C: poisoned(batch * m * n),
          bias, strideBias });
        for (let e = 0; e < batch; ++e) {
          const r = ref(A, B.subarray(e * n * k, (e + 1) * n * k), null, bias.subarray(e * strideBias, e * strideBias + n), null,
            m, n, k, false, true, 0);
          expectClose(C.subarray(e * m * n, (e + 1) * m * n), r.C, TOL, `batch=${batch} m=${m} entry ${e} strideBias=${strideBias}`);
        }
      }
    }
  });
});

describe('argument checks of bias, strideBias and rowSumsA', () => {
  const A = new Float32Array(6), B = new Float32Array(12), ok = { m: 2, n: 4, k: 3 };
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['bias wrong length', () => kernels.gemm(A, B, { ...ok, bias: new Float32Array(3) }), RangeError, /^gemm: opts\.bias must have length 4 \(n\)/],
    ['bias wrong type', () => kernels.gemm(A, B, { ...ok, bias: [1, 2, 3, 4] as never }), TypeError, /^gemm: opts\.bias must be a Float32Array/],
    ['C overlaps bias', () => {
      const buf = new Float32Array(12);
      return kernels.gemm(A, B, { ...ok, bias: buf.subarray(0, 4), C: buf.subarray(2, 10) });
    }, RangeError, /^gemm: opts\.C must not overlap opts\.bias/],
    ['rowSumsA wrong length', () => kernels.gemm(A, B, { ...ok, rowSumsA: new Float32Array(3) }), RangeError, /^gemm: opts\.rowSumsA must have length 2 \(m\)/],
    ['rowSumsA overlaps C', () => {
      const buf = new Float32Array(10);
      return kernels.gemm(A, B, { ...ok, C: buf.subarray(0, 8), rowSumsA: buf.subarray(7, 9) });
    }, RangeError, /^gemm: opts\.rowSumsA must not overlap opts\.C/],
    ['rowSumsA overlaps A', () => kernels.gemm(A, B, { ...ok, rowSumsA: A.subarray(0, 2) }), RangeError, /^gemm: opts\.rowSumsA must not overlap A/],
    ['rowSumsA in gemmBatched', () => kernels.gemmBatched(A, B, { ...ok, batch: 1, rowSumsA: new Float32Array(2) }), TypeError,
      /^gemmBatched: opts\.rowSumsA is only supported by gemm/],
    ['strideBias too long for bias', () => kernels.gemmBatched(A, new Float32Array(24), { ...ok, batch: 2, strideA: 0, bias: new Float32Array(4), strideBias: 4 }),
      RangeError, /^gemmBatched: opts\.bias must have length 8 \(\(batch-1\)\*strideBias \+ n\)/],
    ['addend wrong length', () => kernels.gemm(A, B, { ...ok, addend: new Float32Array(7) }), RangeError, /^gemm: opts\.addend must have length 8 \(m\*n\)/],
    ['gate wrong type', () => kernels.gemm(A, B, { ...ok, gate: new Int32Array(8) as never }), TypeError, /^gemm: opts\.gate must be a Float32Array/],
    ['C overlaps addend', () => {
      const buf = new Float32Array(16);
      return kernels.gemm(A, B, { ...ok, addend: buf.subarray(0, 8), C: buf.subarray(4, 12) });
    }, RangeError, /^gemm: opts\.C must not overlap opts\.addend/],
    ['relu not boolean', () => kernels.gemm(A, B, { ...ok, relu: 1 as never }), TypeError, /^gemm: opts\.relu must be a boolean/],
    ['gate in gemmBatched', () => kernels.gemmBatched(A, B, { ...ok, batch: 1, gate: new Float32Array(8) } as never), TypeError,
      /^gemmBatched: opts\.gate is only supported by gemm/],
    ['reluMask without relu', () => kernels.gemm(A, B, { ...ok, reluMask: new Uint8Array(2) }), TypeError, /^gemm: opts\.reluMask needs opts\.relu: true/],
    ['reluMask wrong length', () => kernels.gemm(A, B, { ...ok, relu: true, reluMask: new Uint8Array(3) }), RangeError,
      /^gemm: opts\.reluMask must have length 2 \(m\*ceil\(n\/8\)\)/],
    ['gateMask with gate', () => kernels.gemm(A, B, { ...ok, gate: new Float32Array(8), gateMask: new Uint8Array(2) }), TypeError,
      /^gemm: opts\.gateMask cannot be given with opts\.gate/],
    ['gateMask wrong type', () => kernels.gemm(A, B, { ...ok, gateMask: new Float32Array(2) as never }), TypeError, /^gemm: opts\.gateMask must be a Uint8Array/],
    ['strideBias on gemm', () => kernels.gemm(A, B, { ...ok, strideBias: 1 } as never), TypeError, /^gemm: opts\.strideBias is not an option/],
  ];
  for (const [name, fn, type, msg] of cases) it(name, () => expectThrowsLike(fn, type, msg, name));
});
