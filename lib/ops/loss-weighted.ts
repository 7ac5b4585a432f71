// Cross-entropy whose value and gradient are multiplied by a weight: an auxiliary loss added to a
// main one under the same gradient scale (a CMLM's length loss, weighted 0.1 as in fairseq, is
// added to the masked-token loss). Same kernel as crossEntropySum; the gradient is scaled in place.
import { kernels } from '../kernels.js';
import { tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data } from './grad.js';
import type { LossValue } from './loss.js';

export function weightedCrossEntropySum(logits: Tensor, labels: Int32Array, weight: number,
  opts: { labelSmoothing: number; ignoreIndex: number }): LossValue {
  if (!Number.isFinite(weight)) throw new RangeError(`weightedCrossEntropySum: weight must be finite, got ${weight}`);
  const vocab = logits.shape[logits.shape.length - 1]!;
  const grad = tape.enabled && logits.requiresGrad && weight !== 0;
  const into = grad ? arena.take(logits.size) : undefined;
  const r = kernels.crossEntropy(data(logits), labels, vocab, {
    labelSmoothing: opts.labelSmoothing, ignoreIndex: opts.ignoreIndex, reduction: 'sum', grad, ...(into ? { into } : {}),
  });
  if (grad && into) {
    for (let i = 0; i < into.length; ++i) into[i]! *= weight;
    tape.record(() => accGrad(logits, into, true));
  }
  return { sum: r.sum * weight, count: r.count };
}
