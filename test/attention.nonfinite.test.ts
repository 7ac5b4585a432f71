// The kernels check q, k, v, out and dout for NaN/Infinity while reading them: a non-finite value
// the computation uses is an error naming the element; one the masks exclude is never read.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';

const shape = { batch: 2, heads: 2, qLen: 5, kvLen: 6, headDim: 16 };
const nq = 2 * 5 * 2 * 16, nk = 2 * 6 * 2 * 16;
const fill = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
const opts = { keyLengths: Int32Array.of(6, 3), queryLengths: Int32Array.of(5, 2) };
// Element index of (b, t, h, d) in [B, T, H, D].
const at = (b: number, t: number, T: number, h = 0, d = 0) => ((b * T + t) * 2 + h) * 16 + d;

describe('non-finite inputs', () => {
  it('names the first non-finite element the kernel reads, sync and async', async () => {
    const q = fill(nq, 1), k = fill(nk, 2), v = fill(nk, 3);
    k[at(1, 2, 6, 1, 3)] = Infinity;
    expect(() => kernels.attentionForward(q, k, v, shape, opts)).toThrow(new RegExp(`k\\[${at(1, 2, 6, 1, 3)}\\] is not finite`));
    await expect(kernels.attentionForwardAsync(q, k, v, shape, opts)).rejects.toThrow(RangeError);
    const { out, lse } = kernels.attentionForward(fill(nq, 1), fill(nk, 2), v, shape, opts);
    const dout = fill(nq, 4);
    dout[at(0, 4, 5, 1, 0)] = NaN;
    expect(() => kernels.attentionBackward(fill(nq, 1), fill(nk, 2), v, out, lse, dout, shape, opts)).toThrow(/dout\[\d+\] is NaN/);
    await expect(kernels.attentionBackwardAsync(fill(nq, 1), fill(nk, 2), v, out, lse, dout, shape, opts)).rejects.toThrow(/dout/);
  });

  it('ignores non-finite values in padding the masks exclude (they cannot affect the result)', () => {
    const q = fill(nq, 1), k = fill(nk, 2), v = fill(nk, 3);
    const clean = kernels.attentionForward(q, k, v, shape, opts);
    k[at(1, 4, 6)] = NaN;      // key 4 of entry 1: beyond keyLengths[1] = 3
    v[at(1, 5, 6, 1)] = Infinity;
    q[at(1, 3, 5)] = NaN;      // query 3 of entry 1: beyond queryLengths[1] = 2
    const dirty = kernels.attentionForward(q, k, v, shape, opts);
    expect(dirty.out).toEqual(clean.out);
    expect(dirty.lse).toEqual(clean.lse);
  });
});
