// kernels.gemm and the Linear kernels with precision 'bf16' (issue 18). On the 'avx512bf16'
// variant the operands are rounded to bf16 (nearest even) and the products summed in fp32, so:
// - against a float64 product of the bf16-rounded inputs, the error is fp32 accumulation only:
//   |C - ref_bf16| <= k 2^-24 sum_k |a b| (+ the epilogue's few fp32 roundings);
// - against the exact float64 product, the bound the docs state:
//   |C - ref| <= (2^-7 + 2^-16 + k 2^-24) sum_k |a b|.
// Both are checked elementwise on odd shapes, every transpose, every epilogue option, batched
// calls; plus same bits across runs and thread counts, the fp32 fallback of the other variants,
// the Linear kernels and argument errors. On a CPU without AVX512_BF16 the bf16-specific checks
// are reported as not applicable (the fallback checks still run).
import { afterAll, describe, expect, it } from 'vitest';
import { cpuInfo, kernels, setIsa } from '../dist/index.js';
import { withThreads } from './helpers/ops-check.js';
import { expectSameBits, expectThrowsLike } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';

const initial = cpuInfo().isa;
afterAll(() => setIsa(initial));
const HAS_BF16 = cpuInfo().supportedIsas.includes('avx512bf16');

/** fp32 -> bf16 (round to nearest even) -> fp32, as the kernel's packing does. */
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
function bf16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  u32[0] = (((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16) >>> 0;
  return f32[0]!;
}

interface Case {
  m: number; n: number; k: number; transA: boolean; transB: boolean;
  alpha?: number; beta?: number; bias?: boolean; addend?: boolean; gate?: boolean; relu?: boolean; gateMask?: boolean;
}

// float64 result of the case's epilogue over a product computed from rounded (or exact) inputs,
// plus sum_k |a b| per element for the bound.
function reference(c: Case, A: Float32Array, B: Float32Array, C0: Float32Array, ex: { bias?: Float32Array; addend?: Float32Array;
  gate?: Float32Array; gateMask?: Uint8Array }, round: (x: number) => number) {
  const { m, n, k } = c, alpha = c.alpha ?? 1, beta = c.beta ?? 0, ldm = Math.ceil(n / 8);
  const out = new Float64Array(m * n), mag = new Float64Array(m * n);
  for (let i = 0; i < m; ++i)
    for (let j = 0; j < n; ++j) {
      let s = 0, a = 0;
      for (let l = 0; l < k; ++l) {
        const x = round(c.transA ? A[l * m + i]! : A[i * k + l]!), y = round(c.transB ? B[j * k + l]! : B[l * n + j]!);
        s += x * y; a += Math.abs(x * y);
      }
      let v = alpha * s;
      if (ex.gate && !(ex.gate[i * n + j]! > 0)) v = 0;
      if (ex.gateMask && !((ex.gateMask[i * ldm + (j >> 3)]! >> (j & 7)) & 1)) v = 0;
      if (beta !== 0) v += beta * C0[i * n + j]!;
      if (ex.bias) v += ex.bias[j]!;
      if (ex.addend) v += ex.addend[i * n + j]!;
      if (c.relu) v = Math.max(v, 0);
      out[i * n + j] = v;
      mag[i * n + j] = Math.abs(alpha) * a;
    }
  return { out, mag };
}

function run(c: Case, seed: number) {
  const rng = new Rng(seed);
  const { m, n, k } = c;
  const A = randn(rng, m * k), B = randn(rng, k * n), C0 = randn(rng, m * n);
  const ex = {
    ...(c.bias ? { bias: randn(rng, n) } : {}), ...(c.addend ? { addend: randn(rng, m * n) } : {}),
    ...(c.gate ? { gate: randn(rng, m * n) } : {}),
    ...(c.gateMask ? { gateMask: Uint8Array.from({ length: m * Math.ceil(n / 8) }, () => Math.floor(rng.next() * 256)) } : {}),
  };
  const C = (c.beta ?? 0) !== 0 ? C0.slice() : poisoned(m * n);
  const reluMask = c.relu ? new Uint8Array(m * Math.ceil(n / 8)).fill(0xa5) : undefined;
  kernels.gemm(A, B, {
    m, n, k, transA: c.transA, transB: c.transB, C, precision: 'bf16', ...ex,
    ...(c.alpha !== undefined ? { alpha: c.alpha } : {}), ...(c.beta !== undefined ? { beta: c.beta } : {}),
    ...(c.relu ? { relu: true, reluMask } : {}),
  });
  return { A, B, C0, C, ex, reluMask };
}

const CASES: Case[] = [];
for (const [m, n, k] of [[1, 1, 1], [7, 13, 5], [13, 65, 66], [65, 33, 130], [130, 80, 257], [16, 300, 64], [300, 17, 33],
  [2, 40, 64], [8, 33, 97]] as const)  // the last two: the few-row path (m <= 8, transB) past one chunk of 32 k
  for (const transA of [false, true]) for (const transB of [false, true]) CASES.push({ m, n, k, transA, transB });
CASES.push({ m: 65, n: 70, k: 90, transA: false, transB: true, alpha: -0.5, beta: 1, bias: true, addend: true });
CASES.push({ m: 33, n: 47, k: 64, transA: true, transB: false, beta: 0.25, gate: true, relu: true });
CASES.push({ m: 4, n: 50, k: 96, transA: false, transB: true, beta: 0.5, bias: true, relu: true });
CASES.push({ m: 29, n: 100, k: 31, transA: false, transB: false, gateMask: true, bias: true, relu: true });

describe.runIf(HAS_BF16)('gemm precision bf16 on avx512bf16: error bounds', () => {
  for (const [x, c] of CASES.entries()) {
    const name = `m=${c.m} n=${c.n} k=${c.k} transA=${c.transA} transB=${c.transB}` +
      ['alpha', 'beta', 'bias', 'addend', 'gate', 'gateMask', 'relu'].filter((o) => (c as unknown as Record<string, unknown>)[o] !== undefined).map((o) => ` ${o}`).join('');
    it(name, () => {
      setIsa('avx512bf16');
      const r = run(c, 100 + x);
      const rounded = reference(c, r.A, r.B, r.C0, r.ex, bf16);
      const exact = reference(c, r.A, r.B, r.C0, r.ex, (v) => v);
      const u32k = c.k * 2 ** -24, ubf = 2 ** -7 + 2 ** -16;
      for (let i = 0; i < r.C.length; ++i) {
        const got = r.C[i]!;
        const epi = 8 * 2 ** -24 * (Math.abs(rounded.out[i]!) + 1);  // a few fp32 roundings in the epilogue
        const e1 = Math.abs(got - rounded.out[i]!), b1 = u32k * rounded.mag[i]! + epi;
        if (!(e1 <= b1)) expect.fail(`C[${i}] = ${got}: ${e1} from the bf16-input product, bound ${b1}`);
        const e2 = Math.abs(got - exact.out[i]!), b2 = (ubf + u32k) * exact.mag[i]! * 1.01 + epi;
        if (!(e2 <= b2)) expect.fail(`C[${i}] = ${got}: ${e2} from the exact product, bound ${b2}`);
      }
      if (r.reluMask) {
        const ldm = Math.ceil(c.n / 8);
        for (let i = 0; i < c.m; ++i)
          for (let j = 0; j < c.n; ++j) {
            const bit = (r.reluMask[i * ldm + (j >> 3)]! >> (j & 7)) & 1;
            expect(bit, `relu mask (${i}, ${j})`).toBe(r.C[i * c.n + j]! > 0 ? 1 : 0);
          }
      }
    });
  }

  it('batched: every entry, shared B, per-entry bias', () => {
    setIsa('avx512bf16');
    const rng = new Rng(5);
    const batch = 3, m = 19, n = 35, k = 41;
    const A = randn(rng, batch * m * k), B = randn(rng, k * n), bias = randn(rng, batch * n);
    const C = kernels.gemmBatched(A, B, { batch, m, n, k, strideB: 0, bias, strideBias: n, precision: 'bf16' });
    for (let e = 0; e < batch; ++e)
      for (let i = 0; i < m; ++i)
        for (let j = 0; j < n; ++j) {
          let s = 0, a = 0;
          for (let l = 0; l < k; ++l) { const p = bf16(A[(e * m + i) * k + l]!) * bf16(B[l * n + j]!); s += p; a += Math.abs(p); }
          const want = s + bias[e * n + j]!, got = C[(e * m + i) * n + j]!;
          expect(Math.abs(got - want)).toBeLessThanOrEqual(k * 2 ** -24 * a + 1e-6 * Math.abs(want) + 1e-7);
        }
  });

  it('bf16 really rounds: the result differs from fp32 by about the bf16 bound, not by fp32 round-off', () => {
    setIsa('avx512bf16');
    const rng = new Rng(9);
    const m = 64, n = 64, k = 256, A = randn(rng, m * k), B = randn(rng, k * n);
    const c16 = kernels.gemm(A, B, { m, n, k, precision: 'bf16' }), c32 = kernels.gemm(A, B, { m, n, k });
    let d = 0, s = 0;
    for (let i = 0; i < c16.length; ++i) { d = Math.max(d, Math.abs(c16[i]! - c32[i]!)); s = Math.max(s, Math.abs(c32[i]!)); }
    expect(d / s).toBeGreaterThan(1e-4);
    expect(d / s).toBeLessThan(3e-2);
  });

  it('same bits across runs and thread counts', () => {
    setIsa('avx512bf16');
    const rng = new Rng(11);
    for (const [m, n, k, transA, transB] of [[300, 200, 130, false, true], [64, 512, 1000, true, false]] as const) {
      const A = randn(rng, m * k), B = randn(rng, k * n), bias = randn(rng, n);
      const f = () => kernels.gemm(A, B, { m, n, k, transA, transB, bias, precision: 'bf16' });
      const one = withThreads(1, f), two = withThreads(2, f), again = withThreads(2, f), three = withThreads(3, f);
      expectSameBits(two, one, '2 vs 1 threads');
      expectSameBits(again, two, 'run twice');
      expectSameBits(three, one, '3 vs 1 threads');
    }
  });

  it('linearForward and linearBackward in bf16: products within the bf16 bound, bias gradient in fp32', () => {
    setIsa('avx512bf16');
    const rng = new Rng(13);
    const rows = 70, inF = 48, outF = 33;
    const x = randn(rng, rows * inF), W = randn(rng, outF * inF), b = randn(rng, outF), dy = randn(rng, rows * outF);
    const y16 = kernels.linearForward(x, W, b, { rows, inFeatures: inF, outFeatures: outF, precision: 'bf16' });
    const y32 = kernels.linearForward(x, W, b, { rows, inFeatures: inF, outFeatures: outF });
    const g16 = kernels.linearBackward(x, W, dy, { rows, inFeatures: inF, outFeatures: outF, precision: 'bf16' });
    const g32 = kernels.linearBackward(x, W, dy, { rows, inFeatures: inF, outFeatures: outF });
    const rel = (a: Float32Array, r: Float32Array) => {
      let d = 0, s = 0;
      for (let i = 0; i < a.length; ++i) { d = Math.max(d, Math.abs(a[i]! - r[i]!)); s = Math.max(s, Math.abs(r[i]!)); }
      return d / s;
    };
    expect(rel(y16, y32)).toBeLessThan(2e-2);
    expect(rel(y16, y32)).toBeGreaterThan(0);
    expect(rel(g16.dW, g32.dW)).toBeLessThan(2e-2);
    expect(rel(g16.dx!, g32.dx!)).toBeLessThan(2e-2);
    // db = sums of dy in fp32 (not rounded to bf16): equal to the float64 sums to fp32 round-off.
    for (let o = 0; o < outF; ++o) {
      let s = 0;
      for (let r = 0; r < rows; ++r) s += dy[r * outF + o]!;
      expect(Math.abs(g16.db[o]! - s)).toBeLessThan(1e-5 * (1 + Math.abs(s)));
    }
  });

  it('rowSumsA (transA, beta 1: a weight gradient accumulating) are fp32 sums of the unrounded op(A), same bits on any thread count', () => {
    setIsa('avx512bf16');
    const rng = new Rng(19);
    // (Summed while op(A) is packed, in groups of panels sized by the thread count.)
    for (const [m, n, k] of [[37, 20, 130], [300, 16, 7], [1000, 40, 65]] as const) {
      const A = randn(rng, k * m), B = randn(rng, k * n), C0 = randn(rng, m * n), S0 = randn(rng, m);
      const run = (threads: number): [Float32Array, Float32Array] => withThreads(threads, () => {
        const C = C0.slice(), S = S0.slice();
        kernels.gemm(A, B, { m, n, k, transA: true, beta: 1, C, rowSumsA: S, precision: 'bf16' });
        return [C, S];
      });
      const [C1, S] = run(1);
      for (const threads of [2, 3]) {
        const [Ct, St] = run(threads);
        expectSameBits(St, S, `rowSumsA m=${m} k=${k} at ${threads} threads`);
        expectSameBits(Ct, C1, `C m=${m} k=${k} at ${threads} threads`);
      }
      for (let i = 0; i < m; ++i) {
        let s = S0[i]!;
        for (let l = 0; l < k; ++l) s += A[l * m + i]!;
        expect(Math.abs(S[i]! - s), `rowSumsA[${i}]`).toBeLessThan(1e-5 * (1 + k));
      }
    }
  });

  it('async gives the sync bits', async () => {
    setIsa('avx512bf16');
    const rng = new Rng(17);
    const A = randn(rng, 50 * 60), B = randn(rng, 60 * 70);
    const s = kernels.gemm(A, B, { m: 50, n: 70, k: 60, precision: 'bf16' });
    const a = await kernels.gemmAsync(A, B, { m: 50, n: 70, k: 60, precision: 'bf16' });
    expectSameBits(a, s, 'async');
  });
});

describe('gemm precision bf16: fallback and errors', () => {
  it('the variants without the bf16 GEMM compute it in fp32 (the bits of an fp32 call)', () => {
    const rng = new Rng(21);
    const A = randn(rng, 40 * 30), B = randn(rng, 30 * 20);
    for (const isa of cpuInfo().supportedIsas.filter((x) => x !== 'avx512bf16')) {
      setIsa(isa);
      expectSameBits(kernels.gemm(A, B, { m: 40, n: 20, k: 30, precision: 'bf16' }), kernels.gemm(A, B, { m: 40, n: 20, k: 30 }), isa);
    }
    setIsa(initial);
  });

  it('precision other than fp32/bf16 is rejected naming it', () => {
    const A = new Float32Array(4), B = new Float32Array(4);
    expectThrowsLike(() => kernels.gemm(A, B, { m: 2, n: 2, k: 2, precision: 'fp16' as never }), RangeError, /opts\.precision must be 'fp32' or 'bf16'/);
    expectThrowsLike(() => kernels.gemm(A, B, { m: 2, n: 2, k: 2, precision: 16 as never }), TypeError, /opts\.precision/);
    expectThrowsLike(() => kernels.linearForward(A, B, null, { rows: 2, inFeatures: 2, outFeatures: 2, precision: 'half' as never }), RangeError, /shape\.precision/);
  });

  it('cpuInfo lists avx512bf16 exactly when the CPU reports AVX512_BF16 (and AVX-512)', () => {
    const info = cpuInfo();
    expect(info.supportedIsas.includes('avx512bf16')).toBe(HAS_BF16);
    if (HAS_BF16) expect(info.supportedIsas).toContain('avx512');
  });
});
