// The shapes and mask combinations the forward and backward kernel tests share. Sizes are picked
// to cover T in {1, 7, 64, 65, 130} (tile edges at 64) and D in {8, 16, 32, 64, 80, 128} while
// keeping the O(B*H*Tq*Tk*D) float64 reference cheap: large T goes with few heads.
import { Rng, randn, randomBits } from './random.js';
import type { AttentionOptions } from '../../dist/index.js';
import type { RefShape } from './reference.js';

export interface Case {
  name: string;
  shape: RefShape;
  /** Kernel options; the reference accepts the same object. */
  opts: AttentionOptions;
  /** Seed of q, k, v, dout. */
  seed: number;
}

export interface CaseData {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dout: Float32Array;
}

export function caseData(c: Case): CaseData {
  const s = c.shape, Hkv = s.kvHeads ?? s.heads, rng = new Rng(c.seed);
  const nq = s.batch * s.qLen * s.heads * s.headDim, nkv = s.batch * s.kvLen * Hkv * s.headDim;
  return { q: randn(rng, nq), k: randn(rng, nkv), v: randn(rng, nkv), dout: randn(rng, nq) };
}

const i32 = (...x: number[]) => Int32Array.from(x);

/** A [nb, nh, Tq, Tk] 0/1 mask with density pOne, and row `blockedRow` of the first slice all 0. */
function staticMask(rng: Rng, s: RefShape, nb: number, nh: number, pOne: number, blockedRow = -1) {
  const data = randomBits(rng, nb * nh * s.qLen * s.kvLen, pOne);
  if (blockedRow >= 0) data.fill(0, blockedRow * s.kvLen, (blockedRow + 1) * s.kvLen);
  return { data, batch: nb, heads: nh };
}

/** A [nb, nh, Tq, Tk] bias: normal values, -Infinity with probability pInf, row `blockedRow` all -Infinity. */
function bias(rng: Rng, s: RefShape, nb: number, nh: number, pInf: number, blockedRow = -1) {
  const data = randn(rng, nb * nh * s.qLen * s.kvLen);
  for (let x = 0; x < data.length; ++x) if (rng.bool(pInf)) data[x] = -Infinity;
  if (blockedRow >= 0) data.fill(-Infinity, blockedRow * s.kvLen, (blockedRow + 1) * s.kvLen);
  return { data, batch: nb, heads: nh };
}

/** A [B, Tk] key mask with holes (density pOne); entries listed in `empty` are all 0. */
function keyMask(rng: Rng, B: number, Tk: number, pOne: number, empty: number[] = []) {
  const m = randomBits(rng, B * Tk, pOne);
  for (const b of empty) m.fill(0, b * Tk, (b + 1) * Tk);
  return m;
}

const sh = (batch: number, heads: number, kvHeads: number, qLen: number, kvLen: number, headDim: number): RefShape =>
  ({ batch, heads, kvHeads, qLen, kvLen, headDim });

export function attentionCases(): Case[] {
  const rng = new Rng(20240611);
  const cases: Case[] = [];
  const add = (name: string, shape: RefShape, opts: AttentionOptions = {}) =>
    cases.push({ name, shape, opts, seed: 1000 + cases.length });

  // No mask; shapes and T/D coverage.
  add('no mask, T=7 D=16', sh(2, 2, 2, 7, 7, 16));
  add('no mask, Tq=1 Tk=1 D=8', sh(2, 1, 1, 1, 1, 8));
  add('no mask, Tq=7 < Tk=130 D=32', sh(1, 2, 2, 7, 130, 32));
  add('no mask, Tq=130 > Tk=7 D=16', sh(1, 2, 2, 130, 7, 16));
  add('no mask, T=130 D=80', sh(1, 1, 1, 130, 130, 80));
  add('no mask, T=64 D=128', sh(1, 2, 2, 64, 64, 128));

  // Causal, bottom-right aligned.
  add('causal, T=65 D=32', sh(2, 2, 2, 65, 65, 32), { causal: true });
  add('causal, Tq=1 Tk=1', sh(2, 1, 1, 1, 1, 8), { causal: true });
  add('causal, Tq=1 Tk=65 D=80 (decoder step sees every key)', sh(2, 2, 2, 1, 65, 80), { causal: true });
  add('causal, Tq=7 < Tk=130 D=64', sh(1, 2, 2, 7, 130, 64), { causal: true });
  add('causal, Tq=65 > Tk=7 D=8 (early rows have no key)', sh(2, 2, 2, 65, 7, 8), { causal: true });
  add('causal, T=130 D=128', sh(1, 2, 2, 130, 130, 128), { causal: true });

  // Dynamic masks alone.
  add('keyLengths [65, 30, 1]', sh(3, 2, 2, 65, 65, 32), { keyLengths: i32(65, 30, 1) });
  add('keyLengths with a 0 entry', sh(2, 2, 2, 7, 64, 16), { keyLengths: i32(0, 40) });
  add('keyMask with holes and an all-zero entry', sh(3, 2, 2, 7, 65, 16),
    { keyMask: keyMask(rng, 3, 65, 0.6, [2]) });
  add('queryLengths [65, 20, 0]', sh(3, 2, 2, 65, 7, 8), { queryLengths: i32(65, 20, 0) });

  // Static mask, every broadcast.
  const ms = sh(2, 2, 2, 64, 64, 16);
  add('mask batch=1 heads=1', ms, { mask: staticMask(rng, ms, 1, 1, 0.7, 5) });
  add('mask batch=B heads=1', ms, { mask: staticMask(rng, ms, 2, 1, 0.5, 63) });
  add('mask batch=1 heads=H', ms, { mask: staticMask(rng, ms, 1, 2, 0.3) });
  const msB = sh(2, 2, 2, 7, 65, 16);
  const allZero = staticMask(rng, msB, 2, 2, 0.8);
  allZero.data.fill(0, 3 * 7 * 65);  // (b=1, h=1) sees nothing
  add('mask batch=B heads=H, one head fully blocked', msB, { mask: allZero });

  // Bias, every broadcast, with -Infinity entries and whole -Infinity rows.
  const bs = sh(2, 2, 2, 65, 65, 32);
  add('bias batch=1 heads=1', bs, { bias: bias(rng, bs, 1, 1, 0) });
  add('bias batch=B heads=1 with -Infinity', bs, { bias: bias(rng, bs, 2, 1, 0.2, 0) });
  add('bias batch=1 heads=H with -Infinity', bs, { bias: bias(rng, bs, 1, 2, 0.5, 64) });
  add('bias batch=B heads=H with -Infinity', sh(2, 2, 2, 7, 7, 8), { bias: bias(rng, sh(2, 2, 2, 7, 7, 8), 2, 2, 0.3, 3) });

  // Scale.
  add('scale 0.5', sh(2, 2, 2, 7, 65, 16), { scale: 0.5 });
  add('scale 0 (uniform attention)', sh(2, 2, 2, 7, 65, 16), { scale: 0, causal: true });

  // Grouped-query attention.
  add('GQA H=4 Hkv=2, causal + keyLengths', sh(2, 4, 2, 65, 65, 32), { causal: true, keyLengths: i32(65, 17) });
  add('GQA H=4 Hkv=1, keyMask, Tq=64 < Tk=130', sh(1, 4, 1, 64, 130, 16), { keyMask: keyMask(rng, 1, 130, 0.5) });
  add('GQA H=4 Hkv=1, causal Tq=130 > Tk=64 + queryLengths', sh(2, 4, 1, 130, 64, 8),
    { causal: true, queryLengths: i32(100, 130) });
  add('GQA H=4 Hkv=2, D=64 causal + queryLengths', sh(1, 4, 2, 130, 130, 64), { causal: true, queryLengths: i32(70) });

  // Combinations.
  add('causal + keyLengths + queryLengths', sh(3, 2, 2, 65, 65, 16),
    { causal: true, keyLengths: i32(65, 40, 0), queryLengths: i32(65, 0, 30) });
  const all = sh(3, 4, 2, 65, 130, 16);
  add('everything: causal, keyLengths, keyMask, queryLengths, mask, bias, GQA, scale', all, {
    causal: true,
    keyLengths: i32(130, 77, 0),
    keyMask: keyMask(rng, 3, 130, 0.8),
    queryLengths: i32(65, 33, 65),
    mask: staticMask(rng, all, 3, 1, 0.9, 10),
    bias: bias(rng, all, 1, 4, 0.1, 20),
    scale: 0.3,
  });
  const dr = sh(2, 2, 2, 64, 65, 8);
  add('dropout 0.2 with causal, keyLengths, queryLengths, bias', dr, {
    causal: true, keyLengths: i32(65, 50), queryLengths: i32(64, 40), bias: bias(rng, dr, 1, 1, 0.1),
    dropout: 0.2, seed: 1234,
  });

  // Sparse patterns (window, global tokens, block layout), alone and with the other masks.
  add('window left 9 causal, T=130 D=16', sh(2, 2, 2, 130, 130, 16), { causal: true, window: { left: 9 } });
  add('window 20/3 not causal, Tq=65 Tk=130 D=32', sh(1, 2, 1, 65, 130, 32), { window: { left: 20, right: 3 } });
  add('window 5/5 + 2 global tokens + lengths, T=130 D=8', sh(2, 2, 2, 130, 130, 8),
    { window: { left: 5, right: 5 }, globalTokens: 2, keyLengths: i32(130, 90), queryLengths: i32(120, 130) });
  add('window 0 (own key only), Tq=65 > Tk=7', sh(1, 2, 2, 65, 7, 8), { window: {} });
  const bl = sh(2, 2, 1, 130, 65, 16);
  add('blockLayout 32x16 + causal + keyMask', bl, {
    blockLayout: { data: randomBits(rng, 5 * 5, 0.6), blockQ: 32, blockK: 16 }, causal: true, keyMask: keyMask(rng, 2, 65, 0.8),
  });
  const sp = sh(2, 4, 2, 130, 130, 16);
  add('sparse everything: window 30/10, global 3, layout 64x64, mask, bias, dropout, GQA', sp, {
    window: { left: 30, right: 10 }, globalTokens: 3, blockLayout: { data: Uint8Array.from([1, 1, 0, 1, 1, 1, 0, 1, 1]), blockQ: 64, blockK: 64 },
    keyLengths: i32(130, 100), mask: staticMask(rng, sp, 2, 1, 0.9), bias: bias(rng, sp, 1, 4, 0.05), dropout: 0.1, seed: 77,
  });
  return cases;
}
