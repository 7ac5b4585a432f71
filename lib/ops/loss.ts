// Label-smoothed cross-entropy from logits, fused: one kernel pass gives the loss and dlogits.
// reduction 'sum' so that gradient accumulation over micro-batches can divide by the total
// token count once (the optimizer's gradScale).
import { kernels } from '../kernels.js';
import { tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data } from './grad.js';

export interface LossValue {
  /** Sum of the per-token losses over counted tokens. */
  sum: number;
  /** Tokens counted (labels != ignoreIndex). */
  count: number;
}

export function crossEntropySum(logits: Tensor, labels: Int32Array, opts: { labelSmoothing: number; ignoreIndex: number }): LossValue {
  const vocab = logits.shape[logits.shape.length - 1]!;
  const grad = tape.enabled && logits.requiresGrad;
  const into = grad ? arena.take(logits.size) : undefined;
  const r = kernels.crossEntropy(data(logits), labels, vocab, {
    labelSmoothing: opts.labelSmoothing, ignoreIndex: opts.ignoreIndex, reduction: 'sum', grad, ...(into ? { into } : {}),
  });
  if (grad && into) tape.record(() => accGrad(logits, into, true));
  return { sum: r.sum, count: r.count };
}
