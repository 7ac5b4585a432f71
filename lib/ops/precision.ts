// The precision of the matrix products that ops issue (issue 18): 'fp32', or 'bf16' (operands
// rounded to bf16, fp32 accumulation: kernels.gemm's precision option, and the attention kernels'
// tile products with their softmax statistics kept in fp32: attentionForward/Backward's precision
// option, which ops/attention.ts passes unless the caller set one). A setting for a span of
// work rather than an argument of every op, so a Trainer (or a user) switches a whole forward and
// backward at once without threading an option through every module. Each op reads it when its
// forward runs and its backward reuses that value, so a backward that runs later computes in the
// precision its forward did. Parameters, activations, gradients and optimizer state stay fp32.
import type { GemmOptions, Precision } from '../gemm.js';

let current: Precision = 'fp32';

/** The precision ops use now. */
export function matmulPrecision(): Precision {
  return current;
}

/** Runs fn with the matrix products of the ops it calls in precision p (restored afterwards, also on a throw). */
export function withMatmulPrecision<T>(p: Precision, fn: () => T): T {
  if (p !== 'fp32' && p !== 'bf16') throw new RangeError(`precision: must be 'fp32' or 'bf16', got ${String(p)}`);
  const before = current;
  current = p;
  try {
    return fn();
  } finally {
    current = before;
  }
}

/** The GEMM option for precision p: nothing for fp32 (the calls stay exactly as they were). */
export function precisionOpt(p: Precision): Pick<GemmOptions, 'precision'> {
  return p === 'bf16' ? { precision: 'bf16' } : {};
}
