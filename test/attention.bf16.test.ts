// kernels.attentionForward / attentionBackward with precision 'bf16' (issue 18). On the
// 'avx512bf16' variant the tile products (Q K^T, P V; dO V^T, P^T dO, dS^T Q, dS K) take operands
// rounded to bf16 (nearest even) and sum in fp32; softmax statistics, exp and the accumulators
// stay fp32. The error bound, checked elementwise against a float64 reference:
//   bf16 keeps 8 significant bits: rounding has relative error u = 2^-8, so a product of two rounded
//   operands summed over k terms in fp32 is off by at most gamma(k) sum|a b| with
//   gamma(k) = 2^-7 + 2^-16 + k 2^-24 (as gemm.bf16.test.ts; + 2^-20 slack for the fp32 steps).
//   scores: |ds_ij| <= E_ij = gamma(D) scale sum_d |q_id k_jd| + 2^-21 (|s_ij| + |max_i| + 1);
//   delta_i = max_j E_ij; p^/p in [e^-2delta, e^2delta];
//   out: |do_id| <= [(e^2delta - 1) + e^2delta gamma(2 Tk)] sum_j p_ij |v_jd|;  lse: |dl_i| <= delta_i.
//   backward (from the reference out/lse rounded to float): eps_ij = e^E_ij - 1,
//   F_ij = gamma(D) sum_d |v_jd dO_id| (dP), H_i = D 2^-24 sum_d |dO_id o_id| (+ the out rounding) (D_i),
//   G_ij = P [eps (|dP - D_i| + F + H) + F + H] (dS);
//   dv_jd <= sum P |dO_id| (eps + (1 + eps) gamma(G Tq)),
//   dk_jd <= scale sum (G + gamma(G Tq)(|dS| + G)) |q_id|,  dq_id <= scale sum_j (G + gamma(Tk)(|dS| + G)) |k_jd|.
// native/tests/test_attention_bf16.cpp derives the same bounds with dropout and end to end (the
// backward from the bf16 forward's own out/lse). Also: outputs poisoned before each call, same
// bits twice and across thread counts, bf16 off = fp32 bits, empty rows zero (not NaN), the
// fp32 fallback of every other variant, and argument errors. Without AVX512_BF16 the bf16 numerics
// checks are skipped with the reason, and the fallback is checked on the best variant.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuInfo, kernels, setIsa } from '../dist/index.js';
import type { AttentionOptions, AttentionShape } from '../dist/index.js';
import { withThreads } from './helpers/ops-check.js';
import { expectSameBits, expectThrowsLike } from './helpers/metrics.js';
import { Rng, poisoned, randn } from './helpers/random.js';
import { allowed, type RefOptions, type RefShape } from './helpers/reference.js';
import * as ops from '../dist/ops/index.js';
import { Tensor, tape } from '../dist/tensor.js';

const initial = cpuInfo().isa;
afterAll(() => setIsa(initial));
const HAS_BF16 = cpuInfo().supportedIsas.includes('avx512bf16');
const NO_BF16 = 'this CPU or build has no avx512bf16 variant: bf16 computes in fp32 here (checked below)';

const gamma = (k: number) => 2 ** -7 + 2 ** -16 + k * 2 ** -24 + 2 ** -20;

interface Case {
  name: string;
  B: number; H: number; Hkv: number; Tq: number; Tk: number; D: number;
  opts?: (rng: Rng) => AttentionOptions;
}

const CASES: Case[] = [
  { name: 'T=1 D=8', B: 2, H: 2, Hkv: 2, Tq: 1, Tk: 1, D: 8 },
  { name: 'T=7 D=80 causal GQA 4:2', B: 2, H: 4, Hkv: 2, Tq: 7, Tk: 7, D: 80, opts: () => ({ causal: true }) },
  { name: 'T=65 D=8 causal keyLengths (one 0)', B: 2, H: 2, Hkv: 1, Tq: 65, Tk: 65, D: 8,
    opts: () => ({ causal: true, keyLengths: Int32Array.from([65, 0]) }) },
  { name: 'T=65 D=80 queryLengths, static mask [B,H]', B: 2, H: 2, Hkv: 2, Tq: 65, Tk: 65, D: 80,
    opts: (rng) => ({ queryLengths: Int32Array.from([40, 65]),
      mask: { data: Uint8Array.from({ length: 2 * 2 * 65 * 65 }, () => (rng.uniform(0, 1) < 0.7 ? 1 : 0)), batch: 2, heads: 2 } }) },
  { name: 'Tq=65 Tk=7 D=80 causal (top rows see nothing)', B: 1, H: 2, Hkv: 1, Tq: 65, Tk: 7, D: 80, opts: () => ({ causal: true }) },
];

function shapeOf(c: Case): AttentionShape {
  return { batch: c.B, heads: c.H, kvHeads: c.Hkv, qLen: c.Tq, kvLen: c.Tk, headDim: c.D };
}

function inputs(c: Case, seed: number) {
  const rng = new Rng(seed);
  const q = randn(rng, c.B * c.Tq * c.H * c.D), k = randn(rng, c.B * c.Tk * c.Hkv * c.D);
  const v = randn(rng, c.B * c.Tk * c.Hkv * c.D), dout = randn(rng, c.B * c.Tq * c.H * c.D);
  return { q, k, v, dout, opts: c.opts ? c.opts(rng) : {} };
}

// The float64 reference with the bounds of the header (no dropout, no bias in these cases).
function bounded(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, dout: Float32Array, o: RefOptions) {
  const { B, H, Hkv, Tq, Tk, D } = c, G = H / Hkv, scale = 1 / Math.sqrt(D), s: RefShape = shapeOf(c);
  const out = new Float64Array(q.length), outB = new Float64Array(q.length).fill(1e-30);
  const lse = new Float64Array(B * H * Tq), lseB = new Float64Array(B * H * Tq);
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  const dqB = new Float64Array(q.length).fill(1e-30), dkB = new Float64Array(k.length).fill(1e-30), dvB = new Float64Array(v.length).fill(1e-30);
  const S = new Float64Array(Tk), E = new Float64Array(Tk), P = new Float64Array(Tk);
  for (let b = 0; b < B; ++b)
    for (let h = 0; h < H; ++h) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < Tq; ++i) {
        const qo = ((b * Tq + i) * H + h) * D, li = (b * H + h) * Tq + i;
        let mx = -Infinity;
        for (let j = 0; j < Tk; ++j) {
          S[j] = -Infinity;
          if (!allowed(s, o, b, h, i, j)) continue;
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          let dot = 0, a = 0;
          for (let d = 0; d < D; ++d) { dot += q[qo + d]! * k[ko + d]!; a += Math.abs(q[qo + d]! * k[ko + d]!); }
          S[j] = scale * dot; E[j] = gamma(D) * scale * a;
          mx = Math.max(mx, S[j]!);
        }
        if (mx === -Infinity) { lse[li] = -Infinity; continue; }
        let sum = 0, delta = 0;
        for (let j = 0; j < Tk; ++j) {
          if (S[j] === -Infinity) continue;
          E[j] += 2 ** -21 * (Math.abs(S[j]!) + Math.abs(mx) + 1);
          delta = Math.max(delta, E[j]!);
          sum += Math.exp(S[j]! - mx);
        }
        const l = mx + Math.log(sum);
        lse[li] = l; lseB[li] = delta + 2 ** -22 * (Math.abs(l) + 1) + Tk * 2 ** -24;
        const e2 = Math.exp(2 * delta);
        for (let j = 0; j < Tk; ++j) {
          P[j] = S[j] === -Infinity ? 0 : Math.exp(S[j]! - l);
          if (P[j] === 0) continue;
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          for (let d = 0; d < D; ++d) {
            out[qo + d] += P[j]! * v[ko + d]!;
            outB[qo + d] += ((e2 - 1) + e2 * gamma(2 * Tk)) * P[j]! * Math.abs(v[ko + d]!);
          }
        }
        // Backward from out/lse rounded to float.
        let di = 0, hi = 0;
        for (let d = 0; d < D; ++d) {
          const of = Math.fround(out[qo + d]!);
          di += dout[qo + d]! * out[qo + d]!;
          hi += Math.abs(dout[qo + d]!) * (Math.abs(of - out[qo + d]!) + D * 2 ** -24 * Math.abs(of));
        }
        const eta = 2 ** -24 * Math.abs(l) + 2 ** -22 * (Math.abs(l) + 1);
        for (let j = 0; j < Tk; ++j) {
          if (P[j] === 0) continue;
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          let dp = 0, av = 0;
          for (let d = 0; d < D; ++d) { dp += dout[qo + d]! * v[ko + d]!; av += Math.abs(dout[qo + d]! * v[ko + d]!); }
          const F = gamma(D) * av, eps = Math.exp(E[j]! + eta) - 1, p = P[j]!;
          const ds = p * (dp - di);
          const g = p * (eps * (Math.abs(dp - di) + F + hi) + F + hi) + 2 ** -20 * (Math.abs(ds) + p * (Math.abs(dp) + Math.abs(di)));
          const gq = gamma(G * Tq), gk = gamma(Tk);
          for (let d = 0; d < D; ++d) {
            dv[ko + d] += p * dout[qo + d]!;
            dq[qo + d] += scale * ds * k[ko + d]!;
            dk[ko + d] += scale * ds * q[qo + d]!;
            dvB[ko + d] += p * Math.abs(dout[qo + d]!) * (eps + (1 + eps) * gq);
            dkB[ko + d] += scale * (g + gq * (Math.abs(ds) + g)) * Math.abs(q[qo + d]!);
            dqB[qo + d] += scale * (g + gk * (Math.abs(ds) + g)) * Math.abs(k[ko + d]!);
          }
        }
      }
    }
  return { out, outB, lse, lseB, dq, dqB, dk, dkB, dv, dvB };
}

function expectWithin(got: Float32Array, ref: Float64Array, bound: Float64Array, what: string): number {
  let worst = 0, bad = -1;
  for (let x = 0; x < got.length; ++x) {
    if (ref[x] === -Infinity) { if (got[x] !== -Infinity && bad < 0) bad = x; continue; }
    const e = Math.abs(got[x]! - ref[x]!);
    if (!(e <= bound[x]!) && bad < 0) bad = x;
    worst = Math.max(worst, e / bound[x]!);
  }
  expect(bad, bad < 0 ? what : `${what}[${bad}] = ${got[bad]} vs ${ref[bad]} (bound ${bound[bad]})`).toBe(-1);
  return worst;
}

function forward(x: ReturnType<typeof inputs>, shape: AttentionShape, precision: 'fp32' | 'bf16') {
  const out = poisoned(x.q.length), lse = poisoned(shape.batch * shape.heads * shape.qLen);
  kernels.attentionForward(x.q, x.k, x.v, shape, { ...x.opts, precision, into: { out, lse } });
  return { out, lse };
}
function backward(x: ReturnType<typeof inputs>, shape: AttentionShape, precision: 'fp32' | 'bf16', out: Float32Array, lse: Float32Array) {
  const dq = poisoned(x.q.length), dk = poisoned(x.k.length), dv = poisoned(x.v.length);
  kernels.attentionBackward(x.q, x.k, x.v, out, lse, x.dout, shape, { ...x.opts, precision, into: { dq, dk, dv } });
  return { dq, dk, dv };
}
function both(x: ReturnType<typeof inputs>, shape: AttentionShape, precision: 'fp32' | 'bf16') {
  const f = forward(x, shape, precision);
  return { ...f, ...backward(x, shape, precision, f.out, f.lse) };
}
function expectSameAll(a: ReturnType<typeof both>, b: ReturnType<typeof both>, what: string) {
  for (const n of ['out', 'lse', 'dq', 'dk', 'dv'] as const) expectSameBits(a[n], b[n], `${what}: ${n}`);
}

describe('attention precision bf16', () => {
  describe.skipIf(!HAS_BF16)(`on avx512bf16${HAS_BF16 ? '' : ` (skipped: ${NO_BF16})`}`, () => {
    CASES.forEach((c, n) => {
      it(`${c.name}: within the bf16 bound of float64, forward and backward`, () => {
        setIsa('avx512bf16');
        const x = inputs(c, 1000 + n), shape = shapeOf(c);
        const f = forward(x, shape, 'bf16');
        const r = bounded(c, x.q, x.k, x.v, x.dout, x.opts as RefOptions);
        expectWithin(f.out, r.out, r.outB, 'out');
        expectWithin(f.lse, r.lse, r.lseB, 'lse');
        const g = backward(x, shape, 'bf16', Float32Array.from(r.out), Float32Array.from(r.lse));
        expectWithin(g.dq, r.dq, r.dqB, 'dq');
        expectWithin(g.dk, r.dk, r.dkB, 'dk');
        expectWithin(g.dv, r.dv, r.dvB, 'dv');
        // Empty rows: out 0 and lse -Infinity (checked above through the reference), dq 0, no NaN.
        for (const a of [f.out, f.lse, g.dq, g.dk, g.dv]) expect(a.some(Number.isNaN)).toBe(false);
        // bf16 really ran: out differs from the fp32 kernel's.
        const f32 = forward(x, shape, 'fp32');
        expect(f32.out.every((y, i) => Object.is(y, f.out[i]))).toBe(false);
      });
    });

    it('same bits twice and with 1 and 2 threads (one-pass and two-pass backward)', () => {
      setIsa('avx512bf16');
      const cases: Case[] = [CASES[3]!, { name: 'B=1 Hkv=1 T=200 D=16 causal', B: 1, H: 2, Hkv: 1, Tq: 200, Tk: 200, D: 16,
        opts: () => ({ causal: true, dropout: 0.1, seed: 9 }) }];
      for (const c of cases) {
        const x = inputs(c, 7), shape = shapeOf(c);
        const a = withThreads(2, () => both(x, shape, 'bf16'));
        expectSameAll(withThreads(2, () => both(x, shape, 'bf16')), a, `${c.name} twice`);
        expectSameAll(withThreads(1, () => both(x, shape, 'bf16')), a, `${c.name} 1 vs 2 threads`);
      }
    });

    it("precision 'fp32' and no precision give the avx512 kernel's bits", () => {
      const x = inputs(CASES[3]!, 3), shape = shapeOf(CASES[3]!);
      setIsa('avx512');
      const ref = both(x, shape, 'fp32');
      setIsa('avx512bf16');
      expectSameAll(both(x, shape, 'fp32'), ref, 'fp32 on avx512bf16');
      const out = poisoned(x.q.length), lse = poisoned(2 * 2 * 65);
      kernels.attentionForward(x.q, x.k, x.v, shape, { ...x.opts, into: { out, lse } });
      expectSameBits(out, ref.out, 'default precision: out');
    });
  });

  it('every variant without bf16 computes a bf16 request in fp32, bit for bit', () => {
    const c = CASES[2]!, x = inputs(c, 5), shape = shapeOf(c);
    for (const isa of cpuInfo().supportedIsas.filter((n) => n !== 'avx512bf16')) {
      setIsa(isa);
      expectSameAll(both(x, shape, 'bf16'), both(x, shape, 'fp32'), isa);
    }
    setIsa(initial);
  });

  it("the attention op follows matmulPrecision(): forward and backward (run after the span) in the forward's precision", () => {
    setIsa(initial);
    const c = CASES[1]!, x = inputs(c, 13), shape = shapeOf(c);
    const rows = c.B * c.Tq;
    const viaOp = (p: 'fp32' | 'bf16', explicit?: 'fp32' | 'bf16') => {
      tape.clear();
      const q = Tensor.fromArray(x.q.slice(), [rows, c.H * c.D], true);
      const k = Tensor.fromArray(x.k.slice(), [c.B * c.Tk, c.Hkv * c.D], true);
      const v = Tensor.fromArray(x.v.slice(), [c.B * c.Tk, c.Hkv * c.D], true);
      const y = ops.withMatmulPrecision(p, () => ops.attention(q, k, v, shape, { ...x.opts, ...(explicit ? { precision: explicit } : {}) }));
      const out = ops.data(y).slice();
      y.grad = x.dout.slice();
      tape.run();  // outside the span: must still use the forward's precision
      const r = { out, dq: q.grad!.slice(), dk: k.grad!.slice(), dv: v.grad!.slice() };
      ops.arena.releaseAll();
      return r;
    };
    for (const [p, explicit, want] of [['bf16', undefined, 'bf16'], ['fp32', undefined, 'fp32'], ['bf16', 'fp32', 'fp32'], ['fp32', 'bf16', 'bf16']] as const) {
      const got = viaOp(p, explicit), ref = both(x, shape, want);
      for (const n of ['out', 'dq', 'dk', 'dv'] as const) expectSameBits(got[n], ref[n], `op under ${p}${explicit ? ` with precision ${explicit}` : ''}: ${n}`);
    }
  });

  it('async forms take precision too', async () => {
    const c = CASES[1]!, x = inputs(c, 11), shape = shapeOf(c);
    setIsa(initial);
    const s = both(x, shape, 'bf16');
    const f = await kernels.attentionForwardAsync(x.q, x.k, x.v, shape, { ...x.opts, precision: 'bf16' });
    expectSameBits(f.out, s.out, 'async out');
    const g = await kernels.attentionBackwardAsync(x.q, x.k, x.v, f.out, f.lse, x.dout, shape, { ...x.opts, precision: 'bf16' });
    expectSameBits(g.dq, s.dq, 'async dq');
    expectSameBits(g.dv, s.dv, 'async dv');
  });

  it('a bad precision is a RangeError (or TypeError) naming opts.precision', () => {
    const c = CASES[0]!, x = inputs(c, 1), shape = shapeOf(c);
    const bad = (p: unknown) => () => kernels.attentionForward(x.q, x.k, x.v, shape, { precision: p as 'bf16' });
    expectThrowsLike(bad('fp16'), RangeError, /opts\.precision.*'fp32' or 'bf16'/);
    expectThrowsLike(bad('BF16'), RangeError, /opts\.precision/);
    expectThrowsLike(bad(16), TypeError, /opts\.precision/);
    const f = kernels.attentionForward(x.q, x.k, x.v, shape);
    expectThrowsLike(() => kernels.attentionBackward(x.q, x.k, x.v, f.out, f.lse, x.dout, shape, { precision: 'half' as 'bf16' }),
      RangeError, /opts\.precision/);
  });
});
