// Sparse attention (DESIGN.md: window, globalTokens, blockLayout) against the float64 reference
// given the equivalent dense static mask, built here straight from the contract's formulas: the
// kernel derives the pattern itself and skips what it blocks, the reference reads every (i, j) of
// an explicit mask. Also: every ISA variant against portable, the backward's two-pass form (used
// when batch * kvHeads < threads) bitwise equal to the one-pass form, empty rows, async, errors.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuInfo, getNumThreads, kernels, setIsa, setNumThreads, type AttentionOptions } from '../dist/index.js';
import { attentionCases, caseData, type Case } from './helpers/cases.js';
import { expectGradsClose } from './helpers/gradients.js';
import { expectClose, expectLse, expectNoNaN, expectSameBits, expectThrowsLike } from './helpers/metrics.js';
import { Rng, poisoned, randomBits } from './helpers/random.js';
import { referenceBackward, type RefOptions, type RefShape } from './helpers/reference.js';

const initialIsa = cpuInfo().isa, initialThreads = getNumThreads();
afterAll(() => {
  setIsa(initialIsa);
  setNumThreads(initialThreads);
});

/**
 * The options with window/globalTokens/blockLayout replaced by one explicit [B, H, Tq, Tk] mask
 * (and-ed with the given static mask): key j visible from query i when
 * c - left <= j <= c + right (c = i + Tk - Tq) or i < g or j < g, and the block (i / bq, j / bk) is on.
 */
function densify(s: RefShape, o: AttentionOptions): RefOptions {
  const { window, globalTokens, blockLayout, mask, ...rest } = o;
  const B = s.batch, H = s.heads, Tq = s.qLen, Tk = s.kvLen, g = globalTokens ?? 0;
  const data = new Uint8Array(B * H * Tq * Tk);
  for (let b = 0; b < B; ++b)
    for (let h = 0; h < H; ++h)
      for (let i = 0; i < Tq; ++i)
        for (let j = 0; j < Tk; ++j) {
          let on = true;
          if (window) {
            const c = i + Tk - Tq;
            on = i < g || j < g || (j >= c - (window.left ?? 0) && j <= c + (window.right ?? 0));
          }
          if (blockLayout) {
            const cols = Math.ceil(Tk / blockLayout.blockK);
            on = on && blockLayout.data[Math.floor(i / blockLayout.blockQ) * cols + Math.floor(j / blockLayout.blockK)] === 1;
          }
          if (mask) {
            const mb = (mask.batch ?? 1) === 1 ? 0 : b, mh = (mask.heads ?? 1) === 1 ? 0 : h;
            on = on && mask.data[((mb * (mask.heads ?? 1) + mh) * Tq + i) * Tk + j] === 1;
          }
          data[((b * H + h) * Tq + i) * Tk + j] = on ? 1 : 0;
        }
  return { ...rest, mask: { data, batch: B, heads: H } };
}

const isSparse = (o: AttentionOptions) => o.window !== undefined || o.blockLayout !== undefined;
const sh = (batch: number, heads: number, kvHeads: number, qLen: number, kvLen: number, headDim: number) =>
  ({ batch, heads, kvHeads, qLen, kvLen, headDim });
const rng = new Rng(777);

// The shared sparse cases plus long single-head ones (the two-pass backward) and odd shapes.
const cases: Case[] = [
  ...attentionCases().filter((c) => isSparse(c.opts)),
  { name: 'T=1 D=8 window 0', shape: sh(1, 1, 1, 1, 1, 8), opts: { window: {} }, seed: 1 },
  { name: 'T=7 D=80 causal window 2', shape: sh(2, 2, 2, 7, 7, 80), opts: { causal: true, window: { left: 2 } }, seed: 2 },
  { name: 'T=300 D=16 window 40/7, B=1 Hkv=1 (two-pass backward)', shape: sh(1, 2, 1, 300, 300, 16),
    opts: { window: { left: 40, right: 7 } }, seed: 3 },
  { name: 'T=200 D=8 causal window 30 + global 65 + dropout, B=1 Hkv=1', shape: sh(1, 1, 1, 200, 200, 8),
    opts: { causal: true, window: { left: 30 }, globalTokens: 65, dropout: 0.2, seed: 11 }, seed: 4 },
  { name: 'Tq=65 Tk=200 D=16 blockLayout 64x64 + window 70', shape: sh(1, 2, 2, 65, 200, 16),
    opts: { window: { left: 70, right: 70 }, blockLayout: { data: randomBits(rng, 2 * 4, 0.6), blockQ: 64, blockK: 64 } }, seed: 5 },
];

function run(c: Case, extra: AttentionOptions = {}) {
  const d = caseData(c);
  const opts = { ...c.opts, ...extra };
  const into = { out: poisoned(d.q.length), lse: poisoned(c.shape.batch * c.shape.heads * c.shape.qLen) };
  const fwd = kernels.attentionForward(d.q, d.k, d.v, c.shape, { ...opts, into });
  const g = { dq: poisoned(d.q.length), dk: poisoned(d.k.length), dv: poisoned(d.v.length) };
  const bwd = kernels.attentionBackward(d.q, d.k, d.v, fwd.out, fwd.lse, d.dout, c.shape, { ...opts, into: g });
  return { d, fwd, bwd };
}

describe('sparse attention vs float64 reference with the equivalent dense mask', () => {
  for (const c of cases) {
    it(c.name, () => {
      const { d, fwd, bwd } = run(c);
      for (const [name, a] of [['out', fwd.out], ['dq', bwd.dq], ['dk', bwd.dk], ['dv', bwd.dv]] as const) expectNoNaN(a, name);
      const ref = referenceBackward(d.q, d.k, d.v, d.dout, c.shape, densify(c.shape, c.opts));
      expectClose(fwd.out, ref.out, 1e-5, 'out', 1e-3);
      expectLse(fwd.lse, ref.lse, 1e-5);
      expectGradsClose(bwd, ref, c.shape, c.opts.scale ?? 1 / Math.sqrt(c.shape.headDim), d, 1e-4);
    });
  }
});

describe('sparse attention: variants, threads, limits', () => {
  it('every ISA variant matches portable', () => {
    const isas = cpuInfo().supportedIsas;
    for (const c of cases) {
      setIsa('portable');
      const base = run(c);
      for (const isa of isas.filter((x) => x !== 'portable')) {
        setIsa(isa);
        const r = run(c);
        expectClose(r.fwd.out, base.fwd.out, 1e-5, `${isa} out: ${c.name}`, 1e-3);
        expectGradsClose(r.bwd, base.bwd, c.shape, c.opts.scale ?? 1 / Math.sqrt(c.shape.headDim), r.d, 1e-4, `${isa} ${c.name}: `);
      }
    }
    setIsa(initialIsa);
  });

  it('the two-pass backward (B*Hkv < threads) gives the bits of the one-pass form (1 thread)', () => {
    const long = cases.filter((c) => c.shape.batch * c.shape.kvHeads < 2 && c.shape.qLen >= 200);
    expect(long.length).toBeGreaterThanOrEqual(2);
    for (const c of long) {
      setNumThreads(2);
      const two = run(c);
      setNumThreads(1);
      const one = run(c);
      for (const n of ['dq', 'dk', 'dv'] as const) expectSameBits(two.bwd[n], one.bwd[n], `${n}: ${c.name}`);
      expectSameBits(two.fwd.out, one.fwd.out, `out: ${c.name}`);
    }
    setNumThreads(initialThreads);
  });

  it('an unbounded window is no window (same bits)', () => {
    const c: Case = { name: 'inf', shape: sh(2, 2, 1, 130, 130, 16), opts: { causal: true }, seed: 9 };
    const plain = run(c);
    const inf = run(c, { window: { left: Infinity, right: Infinity } });
    expectSameBits(inf.fwd.out, plain.fwd.out, 'out');
    for (const n of ['dq', 'dk', 'dv'] as const) expectSameBits(inf.bwd[n], plain.bwd[n], n);
  });

  it('a row whose window holds only blocked keys gives out 0, lse -Infinity, zero gradients', () => {
    const T = 70;
    const keyMask = new Uint8Array(T).fill(1);
    keyMask[66] = 0;  // query 66 sees only key 66 under window 0
    const c: Case = { name: 'empty', shape: sh(1, 1, 1, T, T, 8), opts: { window: {}, keyMask }, seed: 10 };
    const { fwd, bwd } = run(c);
    expect(fwd.lse[66]).toBe(-Infinity);
    for (let d = 0; d < 8; ++d) {
      expect(fwd.out[66 * 8 + d]).toBe(0);
      expect(bwd.dq[66 * 8 + d]).toBe(0);
      expect(bwd.dk[66 * 8 + d]).toBe(0);
    }
    expect(Number.isFinite(fwd.lse[65])).toBe(true);
  });

  it('async forms give the sync bits', async () => {
    const c = cases.find((x) => x.opts.globalTokens !== undefined)!;
    const d = caseData(c);
    const s = kernels.attentionForward(d.q, d.k, d.v, c.shape, c.opts);
    const a = await kernels.attentionForwardAsync(d.q, d.k, d.v, c.shape, c.opts);
    expectSameBits(a.out, s.out, 'out');
    const sb = kernels.attentionBackward(d.q, d.k, d.v, s.out, s.lse, d.dout, c.shape, c.opts);
    const ab = await kernels.attentionBackwardAsync(d.q, d.k, d.v, s.out, s.lse, d.dout, c.shape, c.opts);
    for (const n of ['dq', 'dk', 'dv'] as const) expectSameBits(ab[n], sb[n], n);
  });

  it('bad sparse options are rejected with an error naming them', () => {
    const shape = sh(1, 1, 1, 10, 10, 4);
    const q = new Float32Array(40), k = new Float32Array(40), v = new Float32Array(40);
    const f = (opts: unknown) => () => kernels.attentionForward(q, k, v, shape, opts as AttentionOptions);
    expectThrowsLike(f({ window: { left: -1 } }), RangeError, /opts\.window\.left/);
    expectThrowsLike(f({ window: { right: 1.5 } }), RangeError, /opts\.window\.right/);
    expectThrowsLike(f({ window: { left: NaN } }), RangeError, /opts\.window\.left/);
    expectThrowsLike(f({ window: { left: '3' } }), TypeError, /opts\.window\.left/);
    expectThrowsLike(f({ window: 3 }), TypeError, /opts\.window/);
    expectThrowsLike(f({ window: { left: 1, size: 2 } }), TypeError, /opts\.window\.size/);
    expectThrowsLike(f({ globalTokens: 2 }), RangeError, /opts\.globalTokens needs opts\.window/);
    expectThrowsLike(f({ window: {}, globalTokens: -1 }), RangeError, /opts\.globalTokens/);
    expectThrowsLike(f({ blockLayout: { data: new Uint8Array(3), blockQ: 4, blockK: 4 } }), RangeError, /opts\.blockLayout\.data must have length 9/);
    expectThrowsLike(f({ blockLayout: { data: new Uint8Array(9).fill(2), blockQ: 4, blockK: 4 } }), RangeError, /opts\.blockLayout\.data\[0\]/);
    expectThrowsLike(f({ blockLayout: { data: new Uint8Array(1), blockQ: 0, blockK: 4 } }), RangeError, /opts\.blockLayout\.blockQ/);
    expectThrowsLike(f({ blockLayout: { data: new Float32Array(9), blockQ: 4, blockK: 4 } }), TypeError, /opts\.blockLayout\.data/);
    expectThrowsLike(f({ blockLayout: { data: new Uint8Array(9), blockQ: 4 } }), TypeError, /opts\.blockLayout\.blockK/);
  });
});
