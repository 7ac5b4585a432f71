// ops.attention with q/k/v as column blocks of one source tensor (a fused projection's output):
// the same output and the same gradients, bit for bit, as with packed q/k/v tensors, the source's
// gradient holding dq|dk|dv in its layout and zeros in columns no block covers.
import { describe, expect, it } from 'vitest';
import * as ops from '../dist/ops/index.js';
import { Tensor, tape } from '../dist/tensor.js';
import { expectSameBits } from './helpers/metrics.js';
import { Rng, randn } from './helpers/random.js';

function columns(src: Float32Array, rows: number, stride: number, col: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; ++r) out.set(src.subarray(r * stride + col, r * stride + col + width), r * width);
  return out;
}

describe('attention on column blocks of a fused source', () => {
  for (const [name, B, H, Hkv, T, D, extra] of [
    ['q|k|v covering the source', 2, 2, 2, 7, 8, 0],
    ['q|k|v plus 3 unused columns, GQA 2:1', 3, 2, 1, 5, 16, 3],
  ] as const) {
    it(name, () => {
      const rng = new Rng(T * 7 + extra);
      const wq = H * D, wkv = Hkv * D, rows = B * T, stride = wq + 2 * wkv + extra;
      const s0 = randn(rng, rows * stride), G = randn(rng, rows * wq);
      const shape = { batch: B, heads: H, kvHeads: Hkv, qLen: T, kvLen: T, headDim: D };
      const opts = { causal: true, keyLengths: Int32Array.from({ length: B }, (_, b) => T - b) };

      tape.clear();
      const src = Tensor.fromArray(s0.slice(), [rows, stride], true);
      const fused = ops.attention({ source: src, col: 0 }, { source: src, col: wq }, { source: src, col: wq + wkv }, shape, opts);
      expect(fused.shape).toEqual([rows, wq]);
      const outFused = ops.data(fused).slice();
      fused.grad = G.slice();
      tape.run();
      const gFused = src.grad!.slice();
      ops.arena.releaseAll();

      tape.clear();
      const q = Tensor.fromArray(columns(s0, rows, stride, 0, wq), [rows, wq], true);
      const k = Tensor.fromArray(columns(s0, rows, stride, wq, wkv), [rows, wkv], true);
      const v = Tensor.fromArray(columns(s0, rows, stride, wq + wkv, wkv), [rows, wkv], true);
      const packed = ops.attention(q, k, v, shape, opts);
      expectSameBits(outFused, ops.data(packed), 'out');
      packed.grad = G.slice();
      tape.run();
      expectSameBits(columns(gFused, rows, stride, 0, wq), q.grad!, 'dq block');
      expectSameBits(columns(gFused, rows, stride, wq, wkv), k.grad!, 'dk block');
      expectSameBits(columns(gFused, rows, stride, wq + wkv, wkv), v.grad!, 'dv block');
      if (extra) expect(Array.from(columns(gFused, rows, stride, wq + 2 * wkv, extra))).toEqual(new Array(rows * extra).fill(0));
      ops.arena.releaseAll();
    });
  }

  it('rejects a block outside the source', () => {
    const src = Tensor.fromArray(new Float32Array(4 * 24), [4, 24], true);
    const shape = { batch: 1, heads: 1, qLen: 4, kvLen: 4, headDim: 8 };
    expect(() => ops.attention({ source: src, col: 0 }, { source: src, col: 8 }, { source: src, col: 17 }, shape, {}))
      .toThrow(/attention: v columns \[17, 25\) lie outside the source's 24/);
  });
});
