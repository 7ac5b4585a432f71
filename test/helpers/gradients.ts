// Comparing kernel gradients with the reference's.
import { expectClose, maxAbs } from './metrics.js';
import type { RefShape } from './reference.js';

export interface Grads {
  dq: ArrayLike<number>;
  dk: ArrayLike<number>;
  dv: ArrayLike<number>;
}

/**
 * Asserts dq, dk, dv within `tol` relative error. dq and dk are sums of terms
 * scale * P_ij (dP_ij - D_i) * (k_j or q_i) that can cancel exactly (a single key gives dq = 0):
 * their error is measured against at least 1e-3 of the size of such a term,
 * scale * D * max|dout| * max|v| * max|k or q|, rather than against an exact zero.
 */
export function expectGradsClose(got: Grads, ref: Grads, s: RefShape, scale: number,
  inputs: { q: ArrayLike<number>; k: ArrayLike<number>; v: ArrayLike<number>; dout: ArrayLike<number> },
  tol: number, what = ''): void {
  const term = scale * s.headDim * maxAbs(inputs.dout) * maxAbs(inputs.v);
  expectClose(got.dq, ref.dq, tol, `${what}dq`, 1e-3 * term * maxAbs(inputs.k));
  expectClose(got.dk, ref.dk, tol, `${what}dk`, 1e-3 * term * maxAbs(inputs.q));
  expectClose(got.dv, ref.dv, tol, `${what}dv`);
}
