// Elementwise ops: activations, residual add, dropout, scaling.
import { kernels } from '../kernels.js';
import type { ActivationKind } from '../opkernels/elementwise.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

export type { ActivationKind };

export function activation(kind: ActivationKind, x: Tensor): Tensor {
  const y = scratch(x.shape, needsGrad(x));
  kernels.activationForward(kind, data(x), { into: data(y) });
  if (y.requiresGrad) {
    tape.record(() => {
      const dx = arena.take(x.size);
      kernels.activationBackward(kind, data(x), gradOf(y), { into: dx });
      accGrad(x, dx, true);
    });
  }
  return y;
}

export function add(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new RangeError(`add: sizes differ (${a.size} vs ${b.size})`);
  const y = scratch(a.shape, needsGrad(a, b));
  kernels.add(data(a), data(b), { into: data(y) });
  if (y.requiresGrad) {
    tape.record(() => {
      // Both inputs share y's gradient buffer (no copy); lib/ops/grad.ts keeps either from adding
      // into it in place while the other may still read it.
      const g = gradOf(y);
      accGrad(b, g, false);
      accGrad(a, g, false);
    });
  }
  return y;
}

/** Inverted dropout keyed by (seed, element index): the backward regenerates the same mask. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (p <= 0) return x;
  const y = scratch(x.shape, needsGrad(x));
  kernels.dropoutForward(data(x), p, seed, { into: data(y) });
  if (y.requiresGrad) {
    tape.record(() => {
      const dx = arena.take(x.size);
      kernels.dropoutBackward(gradOf(y), p, seed, { into: dx });
      accGrad(x, dx, true);
    });
  }
  return y;
}

/** y = x * c for a constant c. */
export function scale(x: Tensor, c: number): Tensor {
  if (c === 1) return x;
  const y = scratch(x.shape, needsGrad(x));
  const xd = data(x), yd = data(y);
  for (let i = 0; i < xd.length; ++i) yd[i] = xd[i]! * c;
  if (y.requiresGrad) {
    tape.record(() => {
      const g = gradOf(y), dx = arena.take(x.size);
      for (let i = 0; i < g.length; ++i) dx[i] = g[i]! * c;
      accGrad(x, dx, true);
    });
  }
  return y;
}
