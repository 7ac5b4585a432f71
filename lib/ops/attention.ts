// Multi-head attention on [batch * len, heads * headDim] activations: that layout is exactly the
// kernel's [B, T, H, D], so no reshaping is needed. The forward keeps out and lse; the backward
// recomputes probabilities in the kernel.
import { kernels, type AttentionOptions, type AttentionShape } from '../kernels.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

export function attention(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape, opts: AttentionOptions): Tensor {
  const out = scratch(q.shape, needsGrad(q, k, v));
  const lse = arena.take(shape.batch * shape.heads * shape.qLen);
  kernels.attentionForward(data(q), data(k), data(v), shape, { ...opts, into: { out: data(out), lse } });
  if (out.requiresGrad) {
    tape.record(() => {
      const dq = arena.take(q.size), dk = arena.take(k.size), dv = arena.take(v.size);
      kernels.attentionBackward(data(q), data(k), data(v), data(out), lse, gradOf(out), shape,
        { ...opts, into: { dq, dk, dv } });
      accGrad(q, dq, true);
      accGrad(k, dk, true);
      accGrad(v, dv, true);
    });
  }
  return out;
}
