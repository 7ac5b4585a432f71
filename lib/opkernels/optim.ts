// Fused Adam/AdamW steps (in place on params, m, v), the global gradient norm and clipping by it.
import { opsNative } from './native.js';
import { asPromise, checkOptions, snapshotList } from './options.js';

// Option keys (module constants: the snapshot compiles each list once).
const KEYS_eps: readonly string[] = ['eps'];

export interface AdamOptions {
  /** 1-based step count (bias correction); required. */
  step: number;
  /** Default 1e-3. */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Adam: L2 term added to the gradient (default 0). AdamW: decoupled decay p -= lr * wd * p (default 0.01). */
  weightDecay?: number;
  /** Multiplies the gradient first (fuses clipping or loss-scale removal); default 1. */
  gradScale?: number;
}
export interface ClipResult {
  /** The global norm before clipping (Infinity or NaN if a gradient is not finite). */
  norm: number;
  /** The factor applied: min(1, maxNorm / (norm + eps)); 1 when the norm is not finite (nothing is scaled). */
  scale: number;
}

const ADAM_KEYS = ['step', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradScale'];

/** PyTorch's Adam step, in place on params, m and v (all of grads.length). */
export function adamStep(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, opts: AdamOptions): void {
  const o = checkOptions('adamStep', opts, ADAM_KEYS);
  opsNative.adamStep(params, grads, m, v, o as AdamOptions);
}
/** PyTorch's AdamW step (decoupled weight decay), in place. */
export function adamwStep(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, opts: AdamOptions): void {
  const o = checkOptions('adamwStep', opts, ADAM_KEYS);
  opsNative.adamwStep(params, grads, m, v, o as AdamOptions);
}
/** adamStep on a worker thread: the arrays are read now and written when it settles (updates made meanwhile are lost). */
export function adamStepAsync(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array,
  opts: AdamOptions): Promise<void> {
  return asPromise(() => {
    const o = checkOptions('adamStepAsync', opts, ADAM_KEYS);
    return opsNative.adamStepAsync(params, grads, m, v, o as AdamOptions);
  });
}
export function adamwStepAsync(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array,
  opts: AdamOptions): Promise<void> {
  return asPromise(() => {
    const o = checkOptions('adamwStepAsync', opts, ADAM_KEYS);
    return opsNative.adamwStepAsync(params, grads, m, v, o as AdamOptions);
  });
}

export interface AdamMultiOptions extends AdamOptions {
  /** Set every gradient to 0 once read, ready for the next step's accumulation (default false). */
  zeroGrads?: boolean;
  /**
   * Per tensor, a Uint16Array of its length (or null): written with the updated parameters rounded
   * to bf16 (kernels.toBf16's bits) in the same pass, so the bf16 weight copies a bf16 GEMM reads
   * are refreshed without another pass over the weights.
   */
  bf16Copies?: readonly (Uint16Array | null)[];
}
const ADAM_MULTI_KEYS = [...ADAM_KEYS, 'zeroGrads', 'bf16Copies'];

type Lists = [Float32Array[], Float32Array[], Float32Array[], Float32Array[]];
function lists(fn: string, params: unknown, grads: unknown, m: unknown, v: unknown): Lists {
  return [snapshotList(fn, 'params', params), snapshotList(fn, 'grads', grads), snapshotList(fn, 'm', m),
    snapshotList(fn, 'v', v)] as Lists;
}

/**
 * adamStep on every tensor i (params[i], grads[i], m[i], v[i], all of one length) in one call and
 * one parallel pass: a whole model's update without a call per parameter. Same bits as adamStep.
 */
export function adamStepMulti(params: readonly Float32Array[], grads: readonly Float32Array[], m: readonly Float32Array[],
  v: readonly Float32Array[], opts: AdamMultiOptions): void {
  const o = checkOptions('adamStepMulti', opts, ADAM_MULTI_KEYS);
  opsNative.adamStepMulti(...lists('adamStepMulti', params, grads, m, v), o as AdamMultiOptions);
}
/** adamwStep on every tensor, in one call (see adamStepMulti). */
export function adamwStepMulti(params: readonly Float32Array[], grads: readonly Float32Array[], m: readonly Float32Array[],
  v: readonly Float32Array[], opts: AdamMultiOptions): void {
  const o = checkOptions('adamwStepMulti', opts, ADAM_MULTI_KEYS);
  opsNative.adamwStepMulti(...lists('adamwStepMulti', params, grads, m, v), o as AdamMultiOptions);
}
/** adamStepMulti on a worker thread: the arrays are read now and written when it settles (updates made meanwhile are lost). */
export function adamStepMultiAsync(params: readonly Float32Array[], grads: readonly Float32Array[],
  m: readonly Float32Array[], v: readonly Float32Array[], opts: AdamMultiOptions): Promise<void> {
  return asPromise(() => {
    const o = checkOptions('adamStepMultiAsync', opts, ADAM_MULTI_KEYS);
    return opsNative.adamStepMultiAsync(...lists('adamStepMultiAsync', params, grads, m, v), o as AdamMultiOptions);
  });
}
export function adamwStepMultiAsync(params: readonly Float32Array[], grads: readonly Float32Array[],
  m: readonly Float32Array[], v: readonly Float32Array[], opts: AdamMultiOptions): Promise<void> {
  return asPromise(() => {
    const o = checkOptions('adamwStepMultiAsync', opts, ADAM_MULTI_KEYS);
    return opsNative.adamwStepMultiAsync(...lists('adamwStepMultiAsync', params, grads, m, v), o as AdamMultiOptions);
  });
}

/** sqrt of the sum of squares of every element of every array (accumulated in double). */
export function gradNorm(arrays: readonly Float32Array[]): number {
  return opsNative.gradNorm(snapshotList('gradNorm', 'arrays', arrays) as Float32Array[]);
}

/** Scales every array in place so that their global norm is at most maxNorm (PyTorch's clip_grad_norm_). */
export function clipGradNorm(arrays: readonly Float32Array[], maxNorm: number, opts?: { eps?: number }): ClipResult {
  const o = checkOptions('clipGradNorm', opts, KEYS_eps);
  return opsNative.clipGradNorm(snapshotList('clipGradNorm', 'arrays', arrays) as Float32Array[], maxNorm, o);
}
