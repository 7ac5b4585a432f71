// Shared plumbing of the differentiable ops: output tensors from the step arena, and gradient
// accumulation into an input's grad.
import { kernels } from '../kernels.js';
import { CpuStorage, tape, Tensor } from '../tensor.js';
import { arena } from './arena.js';

// Outputs of ops (made by scratch): their gradient is dead once their producer's backward has
// read it, so the tape hands its buffer back to the arena right then (see afterEntry). Leaves and
// parameters are never in here: their gradients are the results.
const intermediates = new WeakSet<Tensor>();

/** A tensor whose storage comes from the step arena (contents unspecified until written). */
export function scratch(shape: readonly number[], requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = new Tensor(new CpuStorage(arena.take(n)), shape, requiresGrad);
  if (requiresGrad) intermediates.add(t);
  return t;
}

/** The raw values of a tensor (ops only). */
export function data(t: Tensor): Float32Array {
  return t.storage.data;
}

// Gradient buffers held by more than one tensor, with the number of holders: a residual add hands
// its output's gradient to both inputs without a copy. Nothing adds into such a buffer in place
// (the first accumulation into it makes a new buffer for the tensor that accumulates) until its
// other holders are done with it. A tensor is done with its gradient once its producer's backward
// has run: that backward reads it through gradOf, and the tape releases it after the entry.
const holders = new Map<Float32Array, number>();
const consumed = new Set<Tensor>();  // a Set: an op may read its output's gradient more than once

function release(g: Float32Array | null): void {
  if (g === null) return;
  const n = holders.get(g);
  if (n === undefined) return;
  if (n <= 2) holders.delete(g);  // one holder left: it may write in place
  else holders.set(g, n - 1);
}

tape.afterEntry = () => {
  for (const t of consumed) {
    const g = t.grad;
    // The last holder of an op output's gradient has been consumed: nothing reads or adds to it
    // again (reverse order: every contribution came before the producer's backward), so the
    // buffer goes back to the arena while it is hot. t.grad is cleared so it cannot be misread.
    if (g !== null && !holders.has(g) && intermediates.has(t)) {
      t.grad = null;
      arena.recycle(g);
    } else {
      release(g);
    }
  }
  consumed.clear();
};
// Once backward is over, intermediate gradients are dead (arena buffers come back next step).
tape.afterRun = () => {
  holders.clear();
  consumed.clear();
};

// Outputs of a Linear layer fused with ReLU (ops.linear with relu): their gradient is kept with
// respect to the ReLU's input, so every contribution is multiplied by [y > 0] on its way in (by
// the GEMM that computes it, through addIntoGrad's gate, or by a ReLU backward pass in accGrad).
/** The ReLU's output values, and [values > 0] as the GEMM's bit mask (rows of ceil(cols/8) bytes). */
export interface GradGate {
  values: Float32Array;
  mask: Uint8Array;
}
const gates = new WeakMap<Tensor, GradGate>();

/** Marks t as the output of a fused ReLU: its gradient counts only where t's values are > 0. */
export function setGradGate(t: Tensor, gate: GradGate): void {
  gates.set(t, gate);
}

/**
 * Adds g into t.grad. `owned` says g is a fresh arena buffer nobody else holds; otherwise some other
 * tensor holds g as its gradient too, and t shares it (see above). Either way no copy is made.
 * Parameters keep a persistent grad buffer (allocated by the module), so their gradients always
 * accumulate in place.
 */
export function accGrad(t: Tensor, g: Float32Array, owned: boolean): void {
  if (!t.requiresGrad) return;
  const gate = gates.get(t);
  if (gate) {
    const gated = owned ? g : arena.take(g.length);
    kernels.activationBackward('relu', gate.values, g, { into: gated });
    g = gated;
    owned = true;
  }
  addGrad(t, g, owned);
}

/** accGrad for a contribution already gated (or a tensor without a gate). */
function addGrad(t: Tensor, g: Float32Array, owned: boolean): void {
  if (t.grad === null) {
    t.grad = g;
    if (!owned) holders.set(g, (holders.get(g) ?? 1) + 1);
    return;
  }
  if (holders.has(t.grad)) {
    const sum = arena.take(g.length);
    kernels.add(t.grad, g, { into: sum });
    release(t.grad);
    t.grad = sum;
    return;
  }
  kernels.add(t.grad, g, { into: t.grad });
}

/**
 * Lets a kernel that can accumulate (GEMM's beta) write its contribution to t's gradient straight
 * into t.grad: `write(into, beta, gate)` must set into = contribution .* [gate > 0] + beta * into
 * (gate is undefined unless t is a fused ReLU's output: GEMM's gateMask option does exactly this).
 * Without a gradient yet, or with a shared one, it writes a fresh buffer (beta 0) instead.
 */
export function addIntoGrad(t: Tensor, write: (into: Float32Array, beta: 0 | 1, gate: GradGate | undefined) => void): void {
  if (!t.requiresGrad) return;
  const gate = gates.get(t);
  if (t.grad !== null && !holders.has(t.grad)) {
    write(t.grad, 1, gate);
    return;
  }
  const g = arena.take(t.size);
  write(g, 0, gate);
  addGrad(t, g, true);
}

/**
 * The gradient arriving at an op's output; zeros if nothing downstream used it. Only the backward
 * of the op that produced t (or an update of a parameter's own gradient) may call it: t's share of
 * a shared gradient is released when that backward ends.
 */
export function gradOf(t: Tensor): Float32Array {
  if (t.grad === null) t.grad = arena.zeros(t.size);
  consumed.add(t);
  return t.grad;
}
