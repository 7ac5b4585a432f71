// Shared plumbing of the differentiable ops: output tensors from the step arena, and gradient
// accumulation into an input's grad.
import { kernels } from '../kernels.js';
import { CpuStorage, Tensor } from '../tensor.js';
import { arena } from './arena.js';

/** A tensor whose storage comes from the step arena (contents unspecified until written). */
export function scratch(shape: readonly number[], requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(new CpuStorage(arena.take(n)), shape, requiresGrad);
}

/** The raw values of a tensor (ops only). */
export function data(t: Tensor): Float32Array {
  return t.storage.data;
}

/**
 * Adds g into t.grad. `owned` says g is a fresh arena buffer nobody else holds, so it can become
 * t.grad without a copy. Parameters keep a persistent grad buffer (allocated by the module), so
 * their gradients always accumulate in place.
 */
export function accGrad(t: Tensor, g: Float32Array, owned: boolean): void {
  if (!t.requiresGrad) return;
  if (t.grad === null) {
    if (owned) {
      t.grad = g;
    } else {
      t.grad = arena.take(g.length);
      t.grad.set(g);
    }
    return;
  }
  kernels.add(t.grad, g, { into: t.grad });
}

/** The gradient arriving at an op's output; zeros if nothing downstream used it. */
export function gradOf(t: Tensor): Float32Array {
  if (t.grad === null) t.grad = arena.zeros(t.size);
  return t.grad;
}
