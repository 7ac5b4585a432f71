// Masked mean pooling over the sequence: [batch * len, width] -> [batch, width], entry b the mean
// of its rows j < lengths[b] (and, with a key mask [batch * len], only those marked 1). A CMLM's
// length predictor reads the mean-pooled encoder output (fairseq's _mean_pooling). Plain loops:
// the pooled rows are few and the cost is one pass over the input.
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

/** Per entry, 1 / (rows counted), 0 for an entry with none (its mean is 0, its gradient 0). */
function rowWeights(lengths: Int32Array, len: number, mask: Uint8Array | null): Float32Array {
  const w = new Float32Array(lengths.length);
  for (let b = 0; b < lengths.length; ++b) {
    let n = 0;
    for (let j = 0; j < Math.min(lengths[b]!, len); ++j) if (!mask || mask[b * len + j] === 1) n++;
    w[b] = n > 0 ? 1 / n : 0;
  }
  return w;
}

export function meanPool(x: Tensor, lengths: Int32Array, batch: number, len: number, mask: Uint8Array | null = null): Tensor {
  const width = x.shape[x.shape.length - 1]!;
  if (x.size !== batch * len * width) throw new RangeError(`meanPool: x has ${x.size} values, batch * len * width = ${batch * len * width}`);
  if (lengths.length !== batch) throw new RangeError(`meanPool: lengths must have ${batch} entries, got ${lengths.length}`);
  if (mask && mask.length !== batch * len) throw new RangeError(`meanPool: mask must have batch * len = ${batch * len} entries, got ${mask.length}`);
  const w = rowWeights(lengths, len, mask);
  const y = scratch([batch, width], needsGrad(x));
  const xd = data(x), yd = data(y);
  yd.fill(0);
  const counted = (b: number, j: number): boolean => j < lengths[b]! && (!mask || mask[b * len + j] === 1);
  for (let b = 0; b < batch; ++b) {
    const o = b * width;
    for (let j = 0; j < len; ++j) {
      if (!counted(b, j)) continue;
      const r = (b * len + j) * width;
      for (let c = 0; c < width; ++c) yd[o + c]! += xd[r + c]!;
    }
    for (let c = 0; c < width; ++c) yd[o + c]! *= w[b]!;
  }
  if (y.requiresGrad) {
    tape.record(() => {
      const g = gradOf(y);
      const gx = arena.take(x.size);
      gx.fill(0);
      for (let b = 0; b < batch; ++b)
        for (let j = 0; j < len; ++j) {
          if (!counted(b, j)) continue;
          const r = (b * len + j) * width;
          for (let c = 0; c < width; ++c) gx[r + c] = g[b * width + c]! * w[b]!;
        }
      accGrad(x, gx, true);
    });
  }
  return y;
}
