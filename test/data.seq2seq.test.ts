import { describe, expect, it } from 'vitest';
import {
  shiftRight, makeLabels, shiftRightBatch, makeLabelsBatch, shiftTokensRight, padSequences,
  causalMask, paddingMask, denseAttentionMask, Rng,
} from '../dist/data/index.js';

const i32 = (a: number[]): Int32Array => Int32Array.from(a);
const arr = (a: ArrayLike<number>): number[] => Array.from(a);

describe('shiftRight / makeLabels', () => {
  it('follow the Model contract on one target', () => {
    const y = i32([7, 8, 9]);
    expect(arr(shiftRight(y, 1))).toEqual([1, 7, 8, 9]);
    expect(arr(makeLabels(y, 2))).toEqual([7, 8, 9, 2]);
    expect(arr(shiftRight(i32([]), 1))).toEqual([1]);
    expect(arr(makeLabels(i32([]), 2))).toEqual([2]);
    // Marian starts with the pad id, BART with EOS: the start token is just a parameter.
    expect(arr(shiftRight(y, 0))).toEqual([0, 7, 8, 9]);
    expect(() => shiftRight([1, 2] as unknown as Int32Array, 1)).toThrow(/targets: expected an Int32Array/);
    expect(() => makeLabels(y, 1.5)).toThrow(/eos/);
  });

  it('batched: pad decoder inputs with padId, labels with ignoreIndex', () => {
    const ys = [i32([5, 6, 7]), i32([8]), i32([])];
    const tin = shiftRightBatch(ys, { bos: 1, padId: 0 });
    expect(tin.length).toBe(4);
    expect(arr(tin.ids)).toEqual([
      1, 5, 6, 7,
      1, 8, 0, 0,
      1, 0, 0, 0,
    ]);
    expect(arr(tin.lengths)).toEqual([4, 2, 1]);
    const lab = makeLabelsBatch(ys, { eos: 2 });
    expect(arr(lab.ids)).toEqual([
      5, 6, 7, 2,
      8, 2, -100, -100,
      2, -100, -100, -100,
    ]);
    expect(arr(lab.lengths)).toEqual([4, 2, 1]);
    const lab9 = makeLabelsBatch(ys, { eos: 2, ignoreIndex: 9, length: 5 });
    expect(arr(lab9.ids.subarray(5, 10))).toEqual([8, 2, 9, 9, 9]);
  });

  it('fixed length: pads, and truncates keeping EOS at the end of the labels', () => {
    const ys = [i32([5, 6, 7, 8, 9]), i32([4])];
    const tin = shiftRightBatch(ys, { bos: 1, padId: 0, length: 3 });
    const lab = makeLabelsBatch(ys, { eos: 2, length: 3 });
    expect(arr(tin.ids)).toEqual([1, 5, 6, 1, 4, 0]);
    expect(arr(lab.ids)).toEqual([5, 6, 2, 4, 2, -100]);
    expect(arr(tin.lengths)).toEqual([3, 2]);
    // Alignment: wherever the input is real, the label is the token after it in [BOS, y..., EOS].
    expect(() => shiftRightBatch(ys, { bos: 1, padId: 0, length: 0 })).toThrow(/length/);
  });

  it('shiftTokensRight matches HF shift_tokens_right', () => {
    const labels = i32([5, 6, 7, 2, 8, 2, -100, -100]);
    expect(arr(shiftTokensRight(labels, 2, 4, { decoderStartId: 0, padId: 0 }))).toEqual([0, 5, 6, 7, 0, 8, 2, 0]);
    expect(() => shiftTokensRight(labels, 3, 4, { decoderStartId: 0, padId: 0 })).toThrow(/labels: expected batch \* length = 12/);
  });

  it('padSequences pads to the longest or pads/truncates to a length', () => {
    const s = [i32([3, 4, 5]), i32([6])];
    expect(arr(padSequences(s, 0).ids)).toEqual([3, 4, 5, 6, 0, 0]);
    const p = padSequences(s, 9, 2);
    expect(arr(p.ids)).toEqual([3, 4, 6, 9]);
    expect(arr(p.lengths)).toEqual([2, 1]);
  });
});

describe('masks', () => {
  it('causalMask is bottom-right aligned (exact arrays)', () => {
    expect(arr(causalMask(3, 3))).toEqual([
      1, 0, 0,
      1, 1, 0,
      1, 1, 1,
    ]);
    // Tq < Tk: a decoder step over a cache, the last query row sees every key.
    expect(arr(causalMask(2, 4))).toEqual([
      1, 1, 1, 0,
      1, 1, 1, 1,
    ]);
    expect(arr(causalMask(1, 3))).toEqual([1, 1, 1]);
    // Tq > Tk: the first Tq - Tk rows see no key.
    expect(arr(causalMask(4, 2))).toEqual([
      0, 0,
      0, 0,
      1, 0,
      1, 1,
    ]);
    expect(causalMask(0, 5).length).toBe(0);
    expect(() => causalMask(-1, 2)).toThrow(/tq/);
  });

  it('paddingMask marks j < len (exact arrays)', () => {
    expect(arr(paddingMask(i32([3, 0, 1]), 3))).toEqual([
      1, 1, 1,
      0, 0, 0,
      1, 0, 0,
    ]);
    expect(() => paddingMask(i32([4]), 3)).toThrow(/lengths\[0\]/);
    expect(() => paddingMask(i32([-1]), 3)).toThrow(RangeError);
  });

  it('denseAttentionMask ANDs every constraint and blanks padded query rows', () => {
    const m = denseAttentionMask({
      batch: 2, qLen: 3, kvLen: 3, causal: true, keyLengths: i32([2, 3]), queryLengths: i32([3, 1]),
      keyMask: Uint8Array.from([1, 1, 1, 1, 0, 1]),
    });
    expect(arr(m)).toEqual([
      1, 0, 0,
      1, 1, 0,
      1, 1, 0,
      1, 0, 0,
      0, 0, 0,
      0, 0, 0,
    ]);
    expect(() => denseAttentionMask({ batch: 1, qLen: 1, kvLen: 2, keyMask: Uint8Array.from([1, 2]) })).toThrow(/keyMask\[1\]/);
  });
});

// The masks must agree exactly with the kernel's dynamic masks. This needs the native addon; a
// tree without a build skips it (the arrays above already pin the semantics down).
type Kernels = {
  attentionForward(q: Float32Array, k: Float32Array, v: Float32Array,
    shape: Record<string, number>, opts: Record<string, unknown>): { out: Float32Array; lse: Float32Array };
};
let kernels: Kernels | undefined;
try {
  kernels = ((await import('../dist/index.js')) as unknown as { kernels: Kernels }).kernels;
} catch {
  kernels = undefined;
}

describe.skipIf(kernels === undefined)('masks agree with the attention kernel', () => {
  it('static mask from these functions == causal + keyLengths + queryLengths + keyMask', () => {
    const rng = new Rng(11);
    const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.nextFloat() * 2 - 1);
    for (const [B, Tq, Tk] of [[3, 5, 5], [2, 3, 7], [2, 7, 3], [1, 1, 6]] as const) {
      const H = 2; const D = 8;
      const q = rand(B * Tq * H * D); const k = rand(B * Tk * H * D); const v = rand(B * Tk * H * D);
      const keyLengths = Int32Array.from({ length: B }, () => 1 + rng.int(Tk));
      const queryLengths = Int32Array.from({ length: B }, () => 1 + rng.int(Tq));
      const keyMask = Uint8Array.from({ length: B * Tk }, () => (rng.int(4) === 0 ? 0 : 1));
      const shape = { batch: B, heads: H, kvHeads: H, qLen: Tq, kvLen: Tk, headDim: D };
      const dynamic = kernels!.attentionForward(q, k, v, shape, { causal: true, keyLengths, queryLengths, keyMask });
      const data = denseAttentionMask({ batch: B, qLen: Tq, kvLen: Tk, causal: true, keyLengths, queryLengths, keyMask });
      const stat = kernels!.attentionForward(q, k, v, shape, { mask: { data, batch: B, heads: 1 } });
      for (let i = 0; i < dynamic.out.length; i++) expect(stat.out[i]).toBeCloseTo(dynamic.out[i] as number, 6);
      expect(Array.from(stat.lse).map((x) => (Number.isFinite(x) ? Math.round(x * 1e5) : x)))
        .toEqual(Array.from(dynamic.lse).map((x) => (Number.isFinite(x) ? Math.round(x * 1e5) : x)));
      // and the pieces: causal alone, keyLengths alone via paddingMask
      const c1 = kernels!.attentionForward(q, k, v, shape, { causal: true });
      const c2 = kernels!.attentionForward(q, k, v, shape, { mask: { data: causalMask(Tq, Tk), batch: 1, heads: 1 } });
      for (let i = 0; i < c1.out.length; i++) expect(c2.out[i]).toBeCloseTo(c1.out[i] as number, 6);
      const p1 = kernels!.attentionForward(q, k, v, shape, { keyLengths });
      const p2 = kernels!.attentionForward(q, k, v, shape, { keyMask: paddingMask(keyLengths, Tk) });
      for (let i = 0; i < p1.out.length; i++) expect(p2.out[i]).toBeCloseTo(p1.out[i] as number, 6);
    }
  });
});
