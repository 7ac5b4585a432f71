// Token embeddings (optionally scaled by sqrt(dModel)) and position terms.
import { kernels } from '../kernels.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { data, gradOf, scratch } from './grad.js';

/** Position terms added in the embedding's pass: row r gets table[(r % period) + offset]. */
export interface EmbeddingPositions {
  table: Tensor;
  /** Rows per sequence (the padded length of a batch laid out [batch * len, dim]). */
  period: number;
  /** Position of each sequence's first row. */
  offset: number;
}

/**
 * y[t] = W[ids[t]] * scale (+ the position term): one native pass, forward and backward. The
 * padding id's row of W gets no gradient; a learned table gets the sum of its positions' rows.
 */
export function embedding(ids: Int32Array, W: Tensor, scaleBy: number, paddingIdx: number,
  positions?: EmbeddingPositions): Tensor {
  const vocab = W.shape[0]!, dim = W.shape[1]!;
  const y = scratch([ids.length, dim], needsGrad(W, positions?.table ?? null));
  kernels.embeddingForward(ids, data(W), { vocab, dim }, {
    into: data(y), scale: scaleBy,
    ...(positions ? { positions: data(positions.table), positionPeriod: positions.period, positionOffset: positions.offset } : {}),
  });
  if (y.requiresGrad) {
    tape.record(() => {
      const g = gradOf(y);
      if (W.requiresGrad) {
        kernels.embeddingBackward(ids, g, { vocab, dim }, { paddingIdx, accumulate: true, scale: scaleBy, into: gradOf(W) });
      }
      const table = positions?.table;
      if (positions && table?.requiresGrad) {
        const at = new Int32Array(ids.length);
        for (let r = 0; r < at.length; ++r) at[r] = (r % positions.period) + positions.offset;
        kernels.embeddingBackward(at, g, { vocab: table.shape[0]!, dim }, { accumulate: true, into: gradOf(table) });
      }
    });
  }
  return y;
}
