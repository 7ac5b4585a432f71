// Row-strided q/k/v (shape.qStride/kStride/vStride): q, k and v read as column blocks of fused
// projection outputs, and dq/dk/dv written into one fused gradient buffer, give the same bits as
// packed arrays. Columns outside the blocks hold NaN on input (a read would be reported) and a
// sentinel on output (a write would show).
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { expectSameBits } from './helpers/metrics.js';
import { Rng, randn } from './helpers/random.js';

interface Fused {
  buf: Float32Array;
  stride: number;
}

/** Packed [rows, width] blocks placed side by side (at the given column offsets) in one buffer of NaN. */
function fuse(rows: number, stride: number, blocks: { data: Float32Array; col: number; width: number }[], fill: number): Fused {
  const buf = new Float32Array(rows * stride).fill(fill);
  for (const b of blocks)
    for (let r = 0; r < rows; ++r) buf.set(b.data.subarray(r * b.width, (r + 1) * b.width), r * stride + b.col);
  return { buf, stride };
}

function unfuse(f: Fused, rows: number, col: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; ++r) out.set(f.buf.subarray(r * f.stride + col, r * f.stride + col + width), r * width);
  return out;
}

const SENTINEL = 12345;

describe('row-strided q/k/v', () => {
  const cases = [
    { name: 'self-attention qkv [rows, 3*H*D], causal, lengths', B: 3, H: 4, Hkv: 4, Tq: 7, Tk: 7, D: 16, self: true, causal: true },
    { name: 'self-attention GQA 4:2, T=65, D=80', B: 2, H: 4, Hkv: 2, Tq: 65, Tk: 65, D: 80, self: true, causal: true },
    { name: 'cross-attention: q packed, kv [rows, 2*Hkv*D], Tq=1, Tk=33, D=8', B: 2, H: 2, Hkv: 2, Tq: 1, Tk: 33, D: 8, self: false, causal: false },
    { name: 'cross-attention T=32, D=64 (the training benchmark)', B: 4, H: 4, Hkv: 4, Tq: 32, Tk: 32, D: 64, self: false, causal: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const rng = new Rng(c.Tq * 31 + c.D);
      const wq = c.H * c.D, wkv = c.Hkv * c.D, rq = c.B * c.Tq, rk = c.B * c.Tk;
      const q = randn(rng, rq * wq), k = randn(rng, rk * wkv), v = randn(rng, rk * wkv), dout = randn(rng, rq * wq);
      const shape = { batch: c.B, heads: c.H, kvHeads: c.Hkv, qLen: c.Tq, kvLen: c.Tk, headDim: c.D };
      const keyLengths = Int32Array.from({ length: c.B }, (_, b) => Math.max(1, c.Tk - 3 * b));
      const queryLengths = Int32Array.from({ length: c.B }, (_, b) => Math.max(0, c.Tq - 2 * b));
      const opts = { causal: c.causal, keyLengths, queryLengths };
      const packedF = kernels.attentionForward(q, k, v, shape, opts);
      const packedB = kernels.attentionBackward(q, k, v, packedF.out, packedF.lse, dout, shape, opts);

      // Self-attention: one [rows, wq + 2 wkv + 1] buffer (an odd extra column); cross: q packed,
      // k and v in one [rows, 2 wkv + 3] buffer with a gap between them.
      const kvStride = c.self ? wq + 2 * wkv + 1 : 2 * wkv + 3;
      const kCol = c.self ? wq : 0, vCol = c.self ? wq + wkv : wkv + 2;
      let qArr: Float32Array, kvBuf: Fused, qStride: number | undefined;
      if (c.self) {
        kvBuf = fuse(rq, kvStride, [{ data: q, col: 0, width: wq }, { data: k, col: kCol, width: wkv }, { data: v, col: vCol, width: wkv }], NaN);
        qArr = kvBuf.buf.subarray(0);
        qStride = kvStride;
      } else {
        kvBuf = fuse(rk, kvStride, [{ data: k, col: kCol, width: wkv }, { data: v, col: vCol, width: wkv }], NaN);
        qArr = q;
      }
      const sshape = { ...shape, ...(qStride ? { qStride } : {}), kStride: kvStride, vStride: kvStride };
      const kArr = kvBuf.buf.subarray(kCol), vArr = kvBuf.buf.subarray(vCol);
      const f = kernels.attentionForward(qArr, kArr, vArr, sshape, opts);
      expectSameBits(f.out, packedF.out, 'out');
      expectSameBits(f.lse, packedF.lse, 'lse');

      const grad = new Float32Array(kvBuf.buf.length).fill(SENTINEL);
      const dqInto = c.self ? grad.subarray(0) : new Float32Array(rq * wq).fill(NaN);
      const dkInto = grad.subarray(kCol), dvInto = grad.subarray(vCol);
      const b = kernels.attentionBackward(qArr, kArr, vArr, f.out, f.lse, dout, sshape,
        { ...opts, into: { dq: dqInto, dk: dkInto, dv: dvInto } });
      expect(b.dk).toBe(dkInto);
      expect(b.dv).toBe(dvInto);
      const g: Fused = { buf: grad, stride: kvStride };
      const rows = c.self ? rq : rk;
      expectSameBits(unfuse(g, rows, kCol, wkv), packedB.dk, 'dk');
      expectSameBits(unfuse(g, rows, vCol, wkv), packedB.dv, 'dv');
      expectSameBits(c.self ? unfuse(g, rq, 0, wq) : dqInto, packedB.dq, 'dq');
      // Every column outside the blocks still holds the sentinel.
      let touched = 0;
      for (let r = 0; r < rows; ++r)
        for (let x = 0; x < kvStride; ++x) {
          const inBlock = (c.self && x < wq) || (x >= kCol && x < kCol + wkv) || (x >= vCol && x < vCol + wkv);
          if (!inBlock && grad[r * kvStride + x] !== SENTINEL) ++touched;
        }
      expect(touched, 'gap columns written').toBe(0);
    });
  }

  it('async forms take strides too', async () => {
    const rng = new Rng(3);
    const B = 2, H = 2, T = 5, D = 8, w = H * D, stride = 3 * w;
    const qkv = randn(rng, B * T * stride);
    const shape = { batch: B, heads: H, qLen: T, kvLen: T, headDim: D, qStride: stride, kStride: stride, vStride: stride };
    const sync = kernels.attentionForward(qkv.subarray(0), qkv.subarray(w), qkv.subarray(2 * w), shape, { causal: true });
    const async = await kernels.attentionForwardAsync(qkv.subarray(0), qkv.subarray(w), qkv.subarray(2 * w), shape, { causal: true });
    expectSameBits(async.out, sync.out, 'out');
    const dout = randn(rng, B * T * w);
    const sb = kernels.attentionBackward(qkv.subarray(0), qkv.subarray(w), qkv.subarray(2 * w), sync.out, sync.lse, dout, shape, { causal: true });
    const ab = await kernels.attentionBackwardAsync(qkv.subarray(0), qkv.subarray(w), qkv.subarray(2 * w), sync.out, sync.lse, dout, shape, { causal: true });
    // New outputs come back in the strided layout: (rows - 1) * stride + width floats.
    expect(sb.dq.length).toBe((B * T - 1) * stride + w);
    expectSameBits(ab.dq, sb.dq, 'dq');
    expectSameBits(ab.dv, sb.dv, 'dv');
  });
});
