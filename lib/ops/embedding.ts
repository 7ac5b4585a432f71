// Token embeddings (optionally scaled by sqrt(dModel)) and position terms.
import { kernels } from '../kernels.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

/** y[t] = W[ids[t]] * scale; the padding id's row gets no gradient. */
export function embedding(ids: Int32Array, W: Tensor, scaleBy: number, paddingIdx: number): Tensor {
  const vocab = W.shape[0]!, dim = W.shape[1]!;
  const y = scratch([ids.length, dim], needsGrad(W));
  const yd = data(y);
  kernels.embeddingForward(ids, data(W), { vocab, dim }, { into: yd });
  if (scaleBy !== 1) for (let i = 0; i < yd.length; ++i) yd[i]! *= scaleBy;
  if (y.requiresGrad) {
    tape.record(() => {
      let g = gradOf(y);
      if (scaleBy !== 1) {
        const s = arena.take(g.length);
        for (let i = 0; i < g.length; ++i) s[i] = g[i]! * scaleBy;
        g = s;
      }
      kernels.embeddingBackward(ids, g, { vocab, dim }, { paddingIdx, accumulate: true, into: gradOf(W) });
    });
  }
  return y;
}

/** x [batch * len, dim] + table[offset + t] for position t of each row (a constant or learned table). */
export function addPositions(x: Tensor, table: Tensor, len: number, offset = 0): Tensor {
  const dim = table.shape[1]!, rows = x.size / dim;
  const y = scratch(x.shape, needsGrad(x, table));
  const xd = data(x), yd = data(y), td = data(table);
  for (let r = 0; r < rows; ++r) {
    const t = (r % len) + offset, xo = r * dim, to = t * dim;
    for (let c = 0; c < dim; ++c) yd[xo + c] = xd[xo + c]! + td[to + c]!;
  }
  if (y.requiresGrad) {
    tape.record(() => {
      const g = gradOf(y);
      if (table.requiresGrad) {
        const gt = gradOf(table);
        for (let r = 0; r < rows; ++r) {
          const t = (r % len) + offset, go = r * dim, to = t * dim;
          for (let c = 0; c < dim; ++c) gt[to + c]! += g[go + c]!;
        }
      }
      accGrad(x, g, false);
    });
  }
  return y;
}
