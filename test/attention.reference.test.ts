// The float64 reference checked on its own: its gradients against central finite differences of
// the scalar loss sum(out * W), and its masks against hand-computable cases. Everything the kernels
// are compared with rests on this file.
import { describe, expect, it } from 'vitest';
import { expectClose, maxAbs } from './helpers/metrics.js';
import { Rng } from './helpers/random.js';
import { referenceBackward, referenceForward, type RefOptions, type RefShape } from './helpers/reference.js';

function randomF64(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; ++i) a[i] = rng.normal();
  return a;
}

/** d(sum(out * W))/dx by central differences, one element of x at a time. */
function numericGrad(x: Float64Array, loss: () => number, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let n = 0; n < x.length; ++n) {
    const x0 = x[n];
    x[n] = x0 + h; const up = loss();
    x[n] = x0 - h; const down = loss();
    x[n] = x0;
    g[n] = (up - down) / (2 * h);
  }
  return g;
}

const i32 = (...x: number[]) => Int32Array.from(x);

interface FdCase { name: string; shape: RefShape; opts: RefOptions }

const B2 = { batch: 2, heads: 2, kvHeads: 2, qLen: 3, kvLen: 4, headDim: 3 };
const GQA = { batch: 2, heads: 4, kvHeads: 2, qLen: 4, kvLen: 3, headDim: 2 };
const MQA = { batch: 1, heads: 3, kvHeads: 1, qLen: 3, kvLen: 5, headDim: 4 };

function fdCases(): FdCase[] {
  const rng = new Rng(99);
  const bias = (s: RefShape, nb: number, nh: number) => {
    const data = new Float64Array(nb * nh * s.qLen * s.kvLen);
    for (let x = 0; x < data.length; ++x) data[x] = rng.bool(0.15) ? -Infinity : rng.normal();
    return { data, batch: nb, heads: nh };
  };
  return [
    { name: 'no mask', shape: B2, opts: {} },
    { name: 'causal (Tq < Tk)', shape: B2, opts: { causal: true } },
    { name: 'causal (Tq > Tk: rows without keys)', shape: GQA, opts: { causal: true } },
    { name: 'keyLengths + queryLengths', shape: B2, opts: { keyLengths: i32(2, 0), queryLengths: i32(3, 1) } },
    { name: 'keyMask + static mask (broadcast over batch)', shape: B2, opts: {
      keyMask: Uint8Array.from([1, 0, 1, 1, 0, 1, 1, 0]),
      mask: { data: Uint8Array.from({ length: 2 * 3 * 4 }, (_, x) => (x % 5 === 0 ? 0 : 1)), batch: 1, heads: 2 },
    } },
    { name: 'GQA + bias with -Infinity (per batch and head) + scale', shape: GQA, opts: { bias: bias(GQA, 2, 4), scale: 0.7 } },
    { name: 'MQA + bias broadcast + causal', shape: MQA, opts: { bias: bias(MQA, 1, 1), causal: true } },
    { name: 'dropout 0.3, fixed seed (keep decisions fixed: smooth)', shape: GQA, opts: { dropout: 0.3, seed: 5, causal: true } },
    { name: 'dropout 0.5 + keyLengths + bias', shape: B2, opts: { dropout: 0.5, seed: 123n, keyLengths: i32(4, 3), bias: bias(B2, 2, 1) } },
  ];
}

describe('reference gradients vs central finite differences (float64)', () => {
  for (const c of fdCases()) {
    it(c.name, () => {
      const s = c.shape, Hkv = s.kvHeads ?? s.heads, rng = new Rng(7);
      const nq = s.batch * s.qLen * s.heads * s.headDim, nkv = s.batch * s.kvLen * Hkv * s.headDim;
      const q = randomF64(rng, nq), k = randomF64(rng, nkv), v = randomF64(rng, nkv), w = randomF64(rng, nq);
      const loss = () => {
        const { out } = referenceForward(q, k, v, s, c.opts);
        let l = 0;
        for (let n = 0; n < out.length; ++n) l += out[n] * w[n];
        return l;
      };
      const ref = referenceBackward(q, k, v, w, s, c.opts);
      // Central differences with h = 1e-5 are accurate to ~1e-9 here; 1e-6 leaves a wide margin
      // while any formula error (a missing term, a wrong mask) is O(1).
      expectClose(ref.dq, numericGrad(q, loss), 1e-6, 'dq');
      expectClose(ref.dk, numericGrad(k, loss), 1e-6, 'dk');
      expectClose(ref.dv, numericGrad(v, loss), 1e-6, 'dv');
      expect(maxAbs(ref.dq) + maxAbs(ref.dk) + maxAbs(ref.dv)).toBeGreaterThan(0);
    });
  }
});

describe('reference mask semantics on hand-computable cases', () => {
  // One head, D = 1, scale 0: every allowed key gets the same weight, so out is the mean of the
  // allowed values and lse = log(number of allowed keys).
  const uniform = (qLen: number, kvLen: number, opts: RefOptions, batch = 1) => {
    const s = { batch, heads: 1, qLen, kvLen, headDim: 1 };
    const v = Float64Array.from({ length: batch * kvLen }, (_, j) => 2 ** (j % kvLen));  // bit j <-> key j
    return referenceForward(new Float64Array(batch * qLen), new Float64Array(batch * kvLen), v, s, { scale: 0, ...opts });
  };
  /** The keys a row attended, read back from out * count = sum of 2^j. */
  const keysOf = (out: number, lse: number) => {
    if (lse === -Infinity) return [];
    const n = Math.round(Math.exp(lse)), sum = Math.round(out * n), keys: number[] = [];
    for (let j = 0; 2 ** j <= sum; ++j) if (sum & (1 << j)) keys.push(j);
    return keys;
  };

  it('causal is bottom-right aligned: Tq=1 sees every key; Tq > Tk leaves early rows empty', () => {
    const one = uniform(1, 4, { causal: true });
    expect(keysOf(one.out[0], one.lse[0])).toEqual([0, 1, 2, 3]);
    const tall = uniform(4, 2, { causal: true });  // row i sees j <= i - 2
    expect([0, 1, 2, 3].map((i) => keysOf(tall.out[i], tall.lse[i]))).toEqual([[], [], [0], [0, 1]]);
    expect(tall.lse[0]).toBe(-Infinity);
    expect(tall.out[0]).toBe(0);
    const wide = uniform(2, 4, { causal: true });  // row i sees j <= i + 2
    expect([0, 1].map((i) => keysOf(wide.out[i], wide.lse[i]))).toEqual([[0, 1, 2], [0, 1, 2, 3]]);
  });

  it('keyLengths, keyMask, queryLengths, mask and -Infinity bias all restrict, and combine by AND', () => {
    const r = uniform(2, 4, {
      keyLengths: i32(3, 4),
      keyMask: Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1]),
      queryLengths: i32(2, 1),
      mask: { data: Uint8Array.from([1, 1, 1, 1, 1, 0, 1, 1]), batch: 1, heads: 1 },
      bias: { data: Float64Array.from([0, 0, 0, 0, 0, 0, -Infinity, 0]), batch: 1, heads: 1 },
    }, 2);
    // b=0: row 0 keys < 3; row 1 keys < 3 minus j=1 (mask) minus j=2 (bias).
    expect(keysOf(r.out[0], r.lse[0])).toEqual([0, 1, 2]);
    expect(keysOf(r.out[1], r.lse[1])).toEqual([0]);
    // b=1: keyMask drops j=0; row 0 sees 1, 2, 3; row 1 is padding (queryLengths 1).
    expect(keysOf(r.out[2], r.lse[2])).toEqual([1, 2, 3]);
    expect(r.lse[3]).toBe(-Infinity);
    expect(r.out[3]).toBe(0);
  });

  it('GQA: query head h reads kv head floor(h / (H / Hkv))', () => {
    const s = { batch: 1, heads: 4, kvHeads: 2, qLen: 1, kvLen: 1, headDim: 1 };
    const r = referenceForward(new Float64Array(4), new Float64Array(2), Float64Array.from([10, 20]), s);
    expect(Array.from(r.out)).toEqual([10, 10, 20, 20]);
  });

  it('default scale is 1/sqrt(D) and bias is added after scaling', () => {
    const s = { batch: 1, heads: 1, qLen: 1, kvLen: 2, headDim: 4 };
    const q = Float64Array.from([1, 1, 1, 1]), k = Float64Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
    const v = Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0]);
    const bias = { data: Float64Array.from([0.5, 0]) };
    const r = referenceForward(q, k, v, s, { bias });
    const s0 = 4 / 2 + 0.5;  // q.k0 / sqrt(4) + bias
    expect(r.lse[0]).toBeCloseTo(Math.log(Math.exp(s0) + 1), 12);
    expect(r.out[0]).toBeCloseTo(Math.exp(s0) / (Math.exp(s0) + 1), 12);
  });

  it('dropout scales kept weights by 1/(1-p) and zeroes dropped ones, by the given keep function', () => {
    const s = { batch: 1, heads: 1, qLen: 1, kvLen: 4, headDim: 1 };
    const keepEven = (_seed: number | bigint, _b: number, _h: number, _i: number, j: number) => j % 2 === 0;
    const v = Float64Array.from([1, 2, 4, 8]);
    const r = referenceForward(new Float64Array(1), new Float64Array(4), v, s, { dropout: 0.5, seed: 1 }, keepEven);
    expect(r.out[0]).toBeCloseTo(((1 + 4) / 4) * 2, 12);  // weights 1/4 each, kept x2
    expect(r.lse[0]).toBeCloseTo(Math.log(4), 12);        // lse ignores dropout
  });
});
