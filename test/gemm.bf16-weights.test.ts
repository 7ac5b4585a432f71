// bf16 weight copies (issue 18): kernels.toBf16 rounds fp32 to bf16 bits; kernels.gemm takes B as
// those bits (a Uint16Array) with precision 'bf16'; adamStepMulti rewrites copies in the same pass
// as the update. Checked:
// - toBf16 is the GEMM's own rounding, special values included (ties to even, denormals to signed
//   zero, NaN stays NaN, overflow to infinity): a product with A = 1 returns exactly the rounded B,
//   through both GEMM paths (few rows, read straight from B; many rows, packed panels);
// - gemm(A, toBf16(B)) has the bits of gemm(A, B) in bf16 on odd shapes, both B layouts, the few-row
//   path and the packed one, epilogues, batched strides, thread counts; and is within the fp32
//   accumulation bound of a float64 product of the rounded inputs;
// - the fallback (another ISA variant) widens the bits: the fp32 product of the rounded weights;
// - adamStepMulti's bf16Copies equal toBf16 of the updated parameters;
// - bad arguments are rejected naming them.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuInfo, kernels, setIsa } from '../dist/index.js';
import { expectSameBits } from './helpers/metrics.js';
import { withThreads } from './helpers/ops-check.js';
import { Rng, poisoned, randn } from './helpers/random.js';

const initial = cpuInfo().isa;
afterAll(() => setIsa(initial));
const HAS_BF16 = cpuInfo().supportedIsas.includes('avx512bf16');

const bitsOf = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const fromBits = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0]!;

/** The specification of the rounding, written independently of the kernel. */
function bf16Spec(x: number): number {
  const u = bitsOf(x);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;  // NaN, quieted
  if ((u & 0x7f800000) === 0) return (u >>> 16) & 0x8000;  // zero or denormal: signed zero
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

const SPECIALS = [0, -0, 1, -1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, 3.4e38, -3.4e38, Infinity, -Infinity, NaN,
  fromBits(0x00000001), fromBits(0x807fffff), fromBits(0x00800000), fromBits(0x7f7fffff), fromBits(0x7fa00001), fromBits(0xffc12345),
  1e-39, -1e-39, 65504, 0.1, -0.3];

describe('toBf16', () => {
  it('rounds as specified: ties to even, denormals to signed zero, NaN quieted, overflow to infinity', () => {
    const rng = new Rng(1);
    const src = Float32Array.from([...SPECIALS, ...randn(rng, 5000), ...Array.from({ length: 5000 }, () => fromBits(Math.floor(rng.next() * 2 ** 32)))]);
    const got = kernels.toBf16(src);
    expect(got).toBeInstanceOf(Uint16Array);
    expect(got.length).toBe(src.length);
    for (let i = 0; i < src.length; ++i) if (got[i] !== bf16Spec(src[i]!)) expect.fail(`toBf16(${src[i]} = 0x${bitsOf(src[i]!).toString(16)}) = 0x${got[i]!.toString(16)}, want 0x${bf16Spec(src[i]!).toString(16)}`);
    const into = new Uint16Array(src.length);
    expect(kernels.toBf16(src, into)).toBe(into);
    expect(Array.from(into)).toEqual(Array.from(got));
    // The portable conversion (any other variant) and the instruction (avx512bf16) agree.
    setIsa('portable');
    try {
      expect(Array.from(kernels.toBf16(src))).toEqual(Array.from(got));
    } finally {
      setIsa(initial);
    }
    const big = Float32Array.from({ length: (1 << 20) + 37 }, (_, i) => fromBits((i * 2654435761) >>> 0));
    const bigBits = kernels.toBf16(big);  // the multi-threaded form
    for (let i = 0; i < big.length; i += 997) if (bigBits[i] !== bf16Spec(big[i]!)) expect.fail(`big[${i}]`);
    expect(bigBits[big.length - 1]).toBe(bf16Spec(big[big.length - 1]!));
    expect(Array.from(kernels.fromBf16(Uint16Array.of(0x3f80, 0xc000, 0x7f80)))).toEqual([1, -2, Infinity]);
  });

  it('rejects a wrong source type or destination length', () => {
    expect(() => kernels.toBf16(new Float64Array(3) as never)).toThrow(/src must be a Float32Array/);
    expect(() => kernels.toBf16(new Float32Array(3), new Uint16Array(2))).toThrow(/dst/);
  });

  it.runIf(HAS_BF16)('is the rounding the bf16 GEMM applies to its operands (both GEMM paths)', () => {
    setIsa('avx512bf16');
    const rng = new Rng(2);
    // Finite values only: with A = 1 the product of a NaN/inf is not the value itself in every lane pair.
    const B = Float32Array.from([...SPECIALS.filter((x) => Number.isFinite(x) && Math.abs(x) < 3e38), ...randn(rng, 200)]);
    const n = B.length;
    const want = kernels.fromBf16(kernels.toBf16(B));
    for (const m of [1, 20]) {
      const C = kernels.gemm(new Float32Array(m).fill(1), B, { m, n, k: 1, transB: true, precision: 'bf16' });
      for (let i = 0; i < m; ++i)
        for (let j = 0; j < n; ++j)
          if (!Object.is(C[i * n + j], want[j]) && !(C[i * n + j] === 0 && want[j] === 0))
            expect.fail(`m=${m}: row ${i} col ${j}: ${C[i * n + j]} vs toBf16 ${want[j]} (B = ${B[j]})`);
    }
  });
});

interface Shape { m: number; n: number; k: number; transB: boolean }
const SHAPES: Shape[] = [];
for (const [m, n, k] of [[1, 1, 1], [1, 1000, 256], [1, 33, 65], [3, 17, 80], [4, 64, 7], [5, 80, 8], [8, 65, 129], [9, 20, 31], [65, 70, 90], [130, 33, 257]] as const)
  for (const transB of [true, false]) SHAPES.push({ m, n, k, transB });

describe.runIf(HAS_BF16)('gemm with B as bf16 bits (avx512bf16)', () => {
  for (const s of SHAPES) {
    it(`m=${s.m} n=${s.n} k=${s.k} transB=${s.transB}: the bits of fp32 B in bf16, within the bound of the rounded product`, () => {
      setIsa('avx512bf16');
      const rng = new Rng(10 + s.m * 7 + s.n + s.k);
      const { m, n, k, transB } = s;
      const A = randn(rng, m * k), B = randn(rng, k * n), bias = randn(rng, n), B16 = kernels.toBf16(B);
      const o = { m, n, k, transB, bias, precision: 'bf16' as const };
      const ref = kernels.gemm(A, B, { ...o, C: poisoned(m * n) });
      const got = kernels.gemm(A, B16, { ...o, C: poisoned(m * n) });
      expectSameBits(got, ref, 'bf16 bits vs fp32 B rounded on the fly');
      const Ar = kernels.fromBf16(kernels.toBf16(A)), Br = kernels.fromBf16(B16);
      for (let i = 0; i < m; ++i)
        for (let j = 0; j < n; ++j) {
          let sum = bias[j]!, mag = Math.abs(bias[j]!);
          for (let l = 0; l < k; ++l) { const p = Ar[i * k + l]! * (transB ? Br[j * k + l]! : Br[l * n + j]!); sum += p; mag += Math.abs(p); }
          const e = Math.abs(got[i * n + j]! - sum), bound = (k + 2) * 2 ** -24 * mag + 1e-30;
          if (!(e <= bound)) expect.fail(`C[${i}, ${j}] = ${got[i * n + j]}: error ${e} > ${bound}`);
        }
    });
  }

  it('epilogues (alpha, beta, addend, relu + mask) and thread counts: the same bits as fp32 B', () => {
    setIsa('avx512bf16');
    const rng = new Rng(3);
    for (const m of [2, 7, 40]) {
      const n = 45, k = 70;
      const A = randn(rng, m * k), W = randn(rng, n * k), C0 = randn(rng, m * n), add = randn(rng, m * n), W16 = kernels.toBf16(W);
      const run = (B: Float32Array | Uint16Array) => {
        const C = C0.slice(), reluMask = new Uint8Array(m * Math.ceil(n / 8));
        kernels.gemm(A, B, { m, n, k, transB: true, alpha: -0.75, beta: 0.5, C, addend: add, relu: true, reluMask, precision: 'bf16' });
        return { C, reluMask };
      };
      const a = withThreads(1, () => run(W)), b = withThreads(2, () => run(W16)), c = withThreads(3, () => run(W16));
      expectSameBits(b.C, a.C, `m=${m}: bits, 2 threads vs fp32 B on 1`);
      expectSameBits(c.C, a.C, `m=${m}: bits, 3 threads`);
      expect(Array.from(b.reluMask)).toEqual(Array.from(a.reluMask));
    }
  });

  it('gemmBatched with bf16 B: per-entry strides and a shared B', () => {
    setIsa('avx512bf16');
    const rng = new Rng(4);
    for (const m of [1, 19]) {
      const batch = 3, n = 35, k = 41;
      const A = randn(rng, batch * m * k), B = randn(rng, batch * k * n), B16 = kernels.toBf16(B);
      for (const strideB of [0, k * n]) {
        const o = { batch, m, n, k, transB: true, strideB, precision: 'bf16' as const };
        const len = strideB === 0 ? k * n : B.length;
        expectSameBits(kernels.gemmBatched(A, B16.subarray(0, len), o), kernels.gemmBatched(A, B.subarray(0, len), o), `m=${m} strideB=${strideB}`);
      }
    }
  });

  it('async gives the sync bits', async () => {
    setIsa('avx512bf16');
    const rng = new Rng(6);
    const A = randn(rng, 3 * 64), W16 = kernels.toBf16(randn(rng, 100 * 64));
    const o = { m: 3, n: 100, k: 64, transB: true, precision: 'bf16' as const };
    expectSameBits(await kernels.gemmAsync(A, W16, o), kernels.gemm(A, W16, o), 'async');
  });
});

describe('gemm with B as bf16 bits: the fallback and errors', () => {
  it('another variant widens the bits: the fp32 product of the rounded B', () => {
    setIsa('portable');
    try {
      const rng = new Rng(7);
      const m = 5, n = 30, k = 40, A = randn(rng, m * k), W = randn(rng, n * k), W16 = kernels.toBf16(W);
      const got = kernels.gemm(A, W16, { m, n, k, transB: true, precision: 'bf16' });
      const want = kernels.gemm(A, kernels.fromBf16(W16), { m, n, k, transB: true });
      expectSameBits(got, want, 'portable: widened bf16 B');
    } finally {
      setIsa(initial);
    }
  });

  it('rejects bf16 bits without precision bf16, and a wrong length, naming B', () => {
    const A = new Float32Array(6), B16 = new Uint16Array(12);
    expect(() => kernels.gemm(A, B16, { m: 2, n: 4, k: 3 })).toThrow(/B is a Uint16Array \(bf16 bits\), which needs opts.precision: 'bf16'/);
    expect(() => kernels.gemm(A, B16.subarray(0, 11), { m: 2, n: 4, k: 3, precision: 'bf16' })).toThrow(/B/);
    expect(() => kernels.gemm(A, new Int16Array(12) as never, { m: 2, n: 4, k: 3, precision: 'bf16' })).toThrow(/B must be a Float32Array/);
  });
});

describe('adamStepMulti bf16Copies', () => {
  it('writes toBf16 of the updated parameters, leaves null entries alone, and changes nothing else', () => {
    const rng = new Rng(8);
    const sizes = [1000, 7, 70_000];
    const mk = () => sizes.map((n) => randn(rng, n));
    const p = mk(), g = mk(), m = sizes.map((n) => new Float32Array(n)), v = sizes.map((n) => new Float32Array(n));
    const p2 = p.map((a) => a.slice()), g2 = g.map((a) => a.slice()), m2 = m.map((a) => a.slice()), v2 = v.map((a) => a.slice());
    const copies = [new Uint16Array(1000), null, new Uint16Array(70_000)];
    for (let step = 1; step <= 3; ++step) {
      kernels.adamStepMulti(p, g, m, v, { step, lr: 1e-2, bf16Copies: copies });
      kernels.adamStepMulti(p2, g2, m2, v2, { step, lr: 1e-2 });
    }
    for (let i = 0; i < sizes.length; ++i) {
      expectSameBits(p[i]!, p2[i]!, `params[${i}] as without copies`);
      expectSameBits(m[i]!, m2[i]!, `m[${i}]`);
    }
    expect(Array.from(copies[0]!)).toEqual(Array.from(kernels.toBf16(p[0]!)));
    expect(Array.from(copies[2]!)).toEqual(Array.from(kernels.toBf16(p[2]!)));
  });

  it('rejects copies of the wrong type, length or count', () => {
    const p = [new Float32Array(4)], g = [new Float32Array(4)], m = [new Float32Array(4)], v = [new Float32Array(4)];
    expect(() => kernels.adamStepMulti(p, g, m, v, { step: 1, bf16Copies: [new Uint16Array(3)] })).toThrow(/bf16Copies\[0\] must have length 4/);
    expect(() => kernels.adamStepMulti(p, g, m, v, { step: 1, bf16Copies: [new Float32Array(4) as never] })).toThrow(/bf16Copies\[0\] must be a Uint16Array/);
    expect(() => kernels.adamStepMulti(p, g, m, v, { step: 1, bf16Copies: [] })).toThrow(/bf16Copies must have 1 entries/);
  });
});
