// Per-batch concatenation along the sequence: [batch * aLen, width] and [batch * bLen, width] ->
// [batch * (aLen + bLen), width], row b holding a's rows of entry b, then b's. A mixed decoder
// layer's keys and values come from [encoder output; decoder states] of each entry (issue 16), and
// the attention kernel reads keys as [batch, kvLen, ...]: this lays the two out that way. Copies
// only (TypedArray.set, a memcpy); the backward splits the gradient back.
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

export function concatSequences(a: Tensor, b: Tensor, batch: number, aLen: number, bLen: number): Tensor {
  const width = a.shape[a.shape.length - 1]!;
  if (b.shape[b.shape.length - 1] !== width) throw new RangeError(`concatSequences: widths differ (${width} vs ${String(b.shape[b.shape.length - 1])})`);
  if (a.size !== batch * aLen * width) throw new RangeError(`concatSequences: a has ${a.size} values, batch * aLen * width = ${batch * aLen * width}`);
  if (b.size !== batch * bLen * width) throw new RangeError(`concatSequences: b has ${b.size} values, batch * bLen * width = ${batch * bLen * width}`);
  const na = aLen * width, nb = bLen * width, n = na + nb;
  const y = scratch([batch * (aLen + bLen), width], needsGrad(a, b));
  const ad = data(a), bd = data(b), yd = data(y);
  for (let e = 0; e < batch; ++e) {
    yd.set(ad.subarray(e * na, (e + 1) * na), e * n);
    yd.set(bd.subarray(e * nb, (e + 1) * nb), e * n + na);
  }
  if (y.requiresGrad) {
    tape.record(() => {
      const g = gradOf(y);
      const ga = a.requiresGrad ? arena.take(a.size) : null, gb = b.requiresGrad ? arena.take(b.size) : null;
      for (let e = 0; e < batch; ++e) {
        ga?.set(g.subarray(e * n, e * n + na), e * na);
        gb?.set(g.subarray(e * n + na, (e + 1) * n), e * nb);
      }
      if (ga) accGrad(a, ga, true);
      if (gb) accGrad(b, gb, true);
    });
  }
  return y;
}
