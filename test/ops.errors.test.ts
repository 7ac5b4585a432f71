// Bad arguments to the ops are rejected with a TypeError or RangeError whose message starts with
// "<function>: <argument>", never a crash and never a silent wrong answer.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { expectThrowsLike } from './helpers/metrics.js';

const F = (n: number) => new Float32Array(n);
const I = (...v: number[]) => Int32Array.from(v);
// Casts that let a test pass a wrongly typed value through the typed API on purpose.
const bad = <T>(v: unknown) => v as T;

type Case = [string, () => unknown, typeof TypeError | typeof RangeError, RegExp];

const x6 = F(6), g3 = F(3);
const cases: Case[] = [
  // norms
  ['layerNorm x type', () => kernels.layerNormForward(bad(new Float64Array(6)), g3, g3), TypeError, /^layerNormForward: x must be a Float32Array/],
  ['layerNorm empty gamma', () => kernels.layerNormForward(x6, F(0), F(0)), RangeError, /^layerNormForward: gamma must not be empty/],
  ['layerNorm beta length', () => kernels.layerNormForward(x6, g3, F(2)), RangeError, /^layerNormForward: beta must have length 3/],
  ['layerNorm x length', () => kernels.layerNormForward(F(7), g3, g3), RangeError, /^layerNormForward: x length must be a multiple of gamma.length/],
  ['layerNorm eps', () => kernels.layerNormForward(x6, g3, g3, { eps: -1 }), RangeError, /^layerNormForward: opts.eps/],
  ['layerNorm eps NaN', () => kernels.layerNormForward(x6, g3, g3, { eps: NaN }), RangeError, /^layerNormForward: opts.eps/],
  ['layerNorm unknown option', () => kernels.layerNormForward(x6, g3, g3, bad({ epsilon: 1 })), TypeError, /^layerNormForward: opts.epsilon is not an option/],
  ['layerNorm unknown into key', () => kernels.layerNormForward(x6, g3, g3, bad({ into: { out: F(6) } })), TypeError, /^layerNormForward: opts.into.out is not an option/],
  ['layerNorm into length', () => kernels.layerNormForward(x6, g3, g3, { into: { mean: F(3) } }), RangeError, /^layerNormForward: opts.into.mean must have length 2/],
  ['layerNorm into overlaps x', () => kernels.layerNormForward(x6, g3, g3, { into: { y: x6 } }), RangeError, /^layerNormForward: opts.into.y must not overlap x/],
  ['layerNormBackward mean length', () => kernels.layerNormBackward(x6, g3, F(3), F(2), F(6)), RangeError, /^layerNormBackward: mean must have length 2/],
  ['layerNormBackward dy length', () => kernels.layerNormBackward(x6, g3, F(2), F(2), F(5)), RangeError, /^layerNormBackward: dy must have length 6/],
  ['layerNormBackward rstd type', () => kernels.layerNormBackward(x6, g3, F(2), bad([1, 1]), F(6)), TypeError, /^layerNormBackward: rstd must be a Float32Array, got an Array/],
  ['rmsNorm gamma type', () => kernels.rmsNormForward(x6, bad(null)), TypeError, /^rmsNormForward: gamma must be a Float32Array, got null/],
  ['rmsNormBackward rstd length', () => kernels.rmsNormBackward(x6, g3, F(3), F(6)), RangeError, /^rmsNormBackward: rstd must have length 2/],
  // elementwise
  ['activation kind', () => kernels.activationForward(bad('tanh'), x6), RangeError, /^activationForward: kind must be 'relu', 'gelu', 'geluTanh' or 'silu'/],
  ['activation kind type', () => kernels.activationForward(bad(3), x6), TypeError, /^activationForward: kind must be/],
  ['activation into length', () => kernels.activationForward('relu', x6, { into: new Float32Array(x6.buffer, 4, 5) }), RangeError, /^activationForward: opts.into must have length 6/],
  ['activation shifted overlap', () => { const b = F(7); return kernels.activationForward('relu', b.subarray(0, 6), { into: b.subarray(1, 7) }); }, RangeError, /^activationForward: opts.into must not overlap x/],
  ['activationBackward dy length', () => kernels.activationBackward('silu', x6, F(5)), RangeError, /^activationBackward: dy must have length 6/],
  ['gelu approximate', () => kernels.gelu(x6, bad({ approximate: 'fast' })), RangeError, /^gelu: opts.approximate must be 'none' or 'tanh'/],
  ['add b length', () => kernels.add(x6, F(5)), RangeError, /^add: b must have length 6/],
  ['dropout p = 1', () => kernels.dropoutForward(x6, 1, 0), RangeError, /^dropoutForward: p must be in \[0, 1\)/],
  ['dropout p NaN', () => kernels.dropoutForward(x6, NaN, 0), RangeError, /^dropoutForward: p must be in \[0, 1\)/],
  ['dropout p type', () => kernels.dropoutForward(x6, bad('0.1'), 0), TypeError, /^dropoutForward: p must be a number/],
  ['dropout seed negative', () => kernels.dropoutForward(x6, 0.1, -1), RangeError, /^dropoutForward: seed must be a non-negative safe integer/],
  ['dropout seed fraction', () => kernels.dropoutForward(x6, 0.1, 1.5), RangeError, /^dropoutForward: seed must be a non-negative safe integer/],
  ['dropout seed bigint too large', () => kernels.dropoutForward(x6, 0.1, 2n ** 64n), RangeError, /^dropoutForward: seed must be a bigint in \[0, 2\^64\)/],
  ['dropout offset', () => kernels.dropoutForward(x6, 0.1, 0, { offset: -3 }), RangeError, /^dropoutForward: opts.offset/],
  ['dropoutBackward names dy', () => kernels.dropoutBackward(bad(null), 0.1, 0), TypeError, /^dropoutBackward: dy must be a Float32Array/],
  ['relu names itself', () => kernels.relu(bad([1])), TypeError, /^relu: x must be a Float32Array/],
  ['siluBackward dy length', () => kernels.siluBackward(x6, F(2)), RangeError, /^siluBackward: dy must have length 6/],
  ['geluBackward into overlap', () => { const b = F(7); return kernels.geluBackward(b.subarray(0, 6), F(6), { into: b.subarray(1, 7) }); }, RangeError, /^geluBackward: opts.into must not overlap x/],
  ['dropout offset fraction', () => kernels.dropoutForward(x6, 0.1, 0, { offset: 0.5 }), TypeError, /^dropoutForward: opts.offset must be an integer/],
  // embedding
  ['embedding ids type', () => kernels.embeddingForward(bad(F(2)), F(6), { vocab: 3, dim: 2 }), TypeError, /^embeddingForward: ids must be an Int32Array, got a Float32Array/],
  ['embedding id too large', () => kernels.embeddingForward(I(0, 3), F(6), { vocab: 3, dim: 2 }), RangeError, /^embeddingForward: ids\[1\] must be a token id in \[0, 3\)/],
  ['embedding id negative', () => kernels.embeddingForward(I(-1), F(6), { vocab: 3, dim: 2 }), RangeError, /^embeddingForward: ids\[0\] must be a token id/],
  ['embedding weight length', () => kernels.embeddingForward(I(0), F(5), { vocab: 3, dim: 2 }), RangeError, /^embeddingForward: weight must have length 6/],
  ['embedding shape', () => kernels.embeddingForward(I(0), F(6), bad({ vocab: 3 })), TypeError, /^embeddingForward: shape.dim must be an integer, got undefined/],
  ['embedding shape vocab 0', () => kernels.embeddingForward(I(0), F(6), { vocab: 0, dim: 2 }), RangeError, /^embeddingForward: shape.vocab must be in \[1,/],
  ['embeddingBackward id', () => kernels.embeddingBackward(I(0, 7), F(4), { vocab: 3, dim: 2 }), RangeError, /^embeddingBackward: ids\[1\] must be a token id in \[0, 3\)/],
  ['embeddingBackward dy length', () => kernels.embeddingBackward(I(0, 1), F(3), { vocab: 3, dim: 2 }), RangeError, /^embeddingBackward: dy must have length 4/],
  ['embeddingBackward paddingIdx', () => kernels.embeddingBackward(I(0), F(2), { vocab: 3, dim: 2 }, { paddingIdx: 3 }), RangeError, /^embeddingBackward: opts.paddingIdx must be in/],
  ['embeddingBackward accumulate without into', () => kernels.embeddingBackward(I(0), F(2), { vocab: 3, dim: 2 }, { accumulate: true }), TypeError, /^embeddingBackward: opts.into must be the Float32Array to add into/],
  ['positionEncoding length', () => kernels.positionEncoding(-1, 4), RangeError, /^positionEncoding: length must be in/],
  ['positionEncoding dim', () => kernels.positionEncoding(3, 0), RangeError, /^positionEncoding: dim must be in/],
  ['positionEncoding dim fraction', () => kernels.positionEncoding(3, 2.5), TypeError, /^positionEncoding: dim must be an integer/],
  ['positionEncoding base', () => kernels.positionEncoding(3, 4, { base: 1 }), RangeError, /^positionEncoding: opts.base/],
  // cross-entropy and decoding
  ['crossEntropy target', () => kernels.crossEntropy(F(6), I(0, 3), 3), RangeError, /^crossEntropy: targets\[1\] must be a class in \[0, 3\) or opts.ignoreIndex \(-100\), got 3/],
  ['crossEntropy targets length', () => kernels.crossEntropy(F(6), I(0), 3), RangeError, /^crossEntropy: targets must have length 2/],
  ['crossEntropy targets type', () => kernels.crossEntropy(F(6), bad(new Uint8Array(2)), 3), TypeError, /^crossEntropy: targets must be an Int32Array, got a Uint8Array/],
  ['crossEntropy vocab', () => kernels.crossEntropy(F(6), I(0, 0), 0), RangeError, /^crossEntropy: vocab must be in \[1,/],
  ['crossEntropy logits length', () => kernels.crossEntropy(F(7), I(0, 0), 3), RangeError, /^crossEntropy: logits length must be a multiple of vocab/],
  ['crossEntropy labelSmoothing', () => kernels.crossEntropy(F(6), I(0, 0), 3, { labelSmoothing: 1.5 }), RangeError, /^crossEntropy: opts.labelSmoothing/],
  ['crossEntropy reduction', () => kernels.crossEntropy(F(6), I(0, 0), 3, bad({ reduction: 'avg' })), RangeError, /^crossEntropy: opts.reduction must be 'mean' or 'sum'/],
  ['crossEntropy ignoreIndex', () => kernels.crossEntropy(F(6), I(0, 0), 3, { ignoreIndex: 0.5 }), TypeError, /^crossEntropy: opts.ignoreIndex must be an integer/],
  ['crossEntropy into overlaps logits', () => { const l = F(6); return kernels.crossEntropy(l, I(0, 0), 3, { into: l }); }, RangeError, /^crossEntropy: opts.into must not overlap logits/],
  ['crossEntropy into without grad', () => kernels.crossEntropy(F(6), I(0, 0), 3, { grad: false, into: F(6) }), TypeError, /^crossEntropy: opts.into is given but opts.grad is false/],
  ['logSoftmax dim', () => kernels.logSoftmax(x6, 1.5), TypeError, /^logSoftmax: dim must be an integer/],
  ['logSoftmax length', () => kernels.logSoftmax(x6, 4), RangeError, /^logSoftmax: x length must be a multiple of dim/],
  ['argmax into type', () => kernels.argmax(x6, 3, bad({ into: F(2) })), TypeError, /^argmax: opts.into must be an Int32Array/],
  ['topK k too large', () => kernels.topK(x6, 3, 4), RangeError, /^topK: k must be in \[1, 3\]/],
  ['topK k 0', () => kernels.topK(x6, 3, 0), RangeError, /^topK: k must be in \[1, 3\]/],
  ['topK into indices length', () => kernels.topK(x6, 3, 2, { into: { indices: new Int32Array(3) } }), RangeError, /^topK: opts.into.indices must have length 4/],
  // optimizer
  ['adam m length', () => kernels.adamStep(F(4), F(4), F(3), F(4), { step: 1 }), RangeError, /^adamStep: m must have length 4/],
  ['adam m aliases params', () => { const p = F(4); return kernels.adamStep(p, F(4), p, F(4), { step: 1 }); }, RangeError, /^adamStep: m must not overlap params/],
  ['adam params overlap grads', () => { const b = F(8); return kernels.adamStep(b.subarray(0, 4), b.subarray(2, 6), F(4), F(4), { step: 1 }); }, RangeError, /^adamStep: params must not overlap grads/],
  ['adam missing step', () => kernels.adamStep(F(4), F(4), F(4), F(4), bad({ lr: 1 })), TypeError, /^adamStep: opts.step must be an integer, got undefined/],
  ['adam step 0', () => kernels.adamStep(F(4), F(4), F(4), F(4), { step: 0 }), RangeError, /^adamStep: opts.step must be in \[1,/],
  ['adam beta2 1', () => kernels.adamwStep(F(4), F(4), F(4), F(4), { step: 1, beta2: 1 }), RangeError, /^adamwStep: opts.beta2 must be in \[0, 1\)/],
  ['adam lr negative', () => kernels.adamwStep(F(4), F(4), F(4), F(4), { step: 1, lr: -1 }), RangeError, /^adamwStep: opts.lr/],
  ['adam no opts', () => kernels.adamStep(F(4), F(4), F(4), F(4), bad(undefined)), TypeError, /^adamStep: opts is required/],
  ['adam unknown option', () => kernels.adamStep(F(4), F(4), F(4), F(4), bad({ step: 1, momentum: 0.9 })), TypeError, /^adamStep: opts.momentum is not an option/],
  ['gradNorm not an array', () => kernels.gradNorm(bad(F(3))), TypeError, /^gradNorm: arrays must be an Array of Float32Arrays/],
  ['gradNorm element', () => kernels.gradNorm(bad([F(3), [1, 2]])), TypeError, /^gradNorm: arrays\[1\] must be a Float32Array, got an Array/],
  ['clipGradNorm maxNorm', () => kernels.clipGradNorm([F(3)], 0), RangeError, /^clipGradNorm: maxNorm must be a finite number > 0/],
  ['clipGradNorm overlapping arrays', () => { const a = F(4); return kernels.clipGradNorm([a, a.subarray(2)], 1); }, RangeError, /^clipGradNorm: arrays\[1\] must not overlap arrays\[0\]/],
];

describe('ops reject bad arguments by name', () => {
  for (const [name, call, type, message] of cases) it(name, () => expectThrowsLike(call, type, message, name));

  it('async forms reject (not throw) with the same errors', async () => {
    await expect(kernels.adamStepAsync(F(4), F(4), F(3), F(4), { step: 1 })).rejects.toThrow(/^adamStepAsync: m must have length 4/);
    await expect(kernels.adamwStepAsync(F(4), F(4), F(4), F(4), bad({ step: 1, beta: 1 }))).rejects.toThrow(/^adamwStepAsync: opts.beta is not an option/);
    await expect(kernels.crossEntropyAsync(F(6), I(0, 5), 3)).rejects.toBeInstanceOf(RangeError);
  });
});
