// Softmax cross-entropy fused from logits, log-softmax, argmax and top-k over the last dimension.
import { opsNative } from './native.js';
import { asPromise, checkOptions } from './options.js';
import type { OutputOptions } from './elementwise.js';

// Option keys (module constants: the snapshot compiles each list once).
const KEYS_into: readonly string[] = ['into'];
const INTO_values_indices: readonly string[] = ['values', 'indices'];

export interface CrossEntropyOptions {
  /** Mixes the one-hot target with the uniform distribution (PyTorch's label_smoothing); default 0. */
  labelSmoothing?: number;
  /** Rows with this target are not counted and get zero gradient; default -100. */
  ignoreIndex?: number;
  /** 'mean' (default): loss and dlogits divided by the count of counted rows; 'sum': not divided. */
  reduction?: 'mean' | 'sum';
  /** Compute dlogits (default true); false computes only the loss. */
  grad?: boolean;
  /** Preallocated dlogits (same length as logits, must not overlap it). */
  into?: Float32Array;
}
export interface CrossEntropyResult {
  /** The mean (or sum) over counted rows; 0 when no row is counted. */
  loss: number;
  /** Sum of the counted rows' losses (to average over several calls). */
  sum: number;
  /** Rows whose target is not ignoreIndex. */
  count: number;
  /** d loss / d logits, present unless opts.grad is false. */
  dlogits?: Float32Array;
}
export interface TopKOptions {
  into?: { values?: Float32Array; indices?: Int32Array };
}
export interface TopKResult {
  /** [rows, k], each row descending. */
  values: Float32Array;
  /** [rows, k]: column of each value (ties: lower index first). */
  indices: Int32Array;
}

const XENT_KEYS = ['labelSmoothing', 'ignoreIndex', 'reduction', 'grad', 'into'];

/** logits [rows, vocab], targets [rows]: loss, count and dlogits in one call. */
export function crossEntropy(logits: Float32Array, targets: Int32Array, vocab: number,
  opts?: CrossEntropyOptions): CrossEntropyResult {
  const o = checkOptions('crossEntropy', opts, XENT_KEYS);
  return opsNative.crossEntropy(logits, targets, vocab, o);
}
/** crossEntropy on a worker thread; the inputs are copied (targets checked on the copy) now. */
export function crossEntropyAsync(logits: Float32Array, targets: Int32Array, vocab: number,
  opts?: CrossEntropyOptions): Promise<CrossEntropyResult> {
  return asPromise(() => {
    const o = checkOptions('crossEntropyAsync', opts, XENT_KEYS);
    return opsNative.crossEntropyAsync(logits, targets, vocab, o);
  });
}

/** x - logsumexp(x) per row of `dim` values. */
export function logSoftmax(x: Float32Array, dim: number, opts?: OutputOptions): Float32Array {
  const o = checkOptions('logSoftmax', opts, KEYS_into);
  return opsNative.logSoftmax(x, dim, o);
}

/** Index of each row's maximum (first on ties; NaN ranks below every number). */
export function argmax(x: Float32Array, dim: number, opts?: { into?: Int32Array }): Int32Array {
  const o = checkOptions('argmax', opts, KEYS_into);
  return opsNative.argmax(x, dim, o);
}

/** The k largest values of each row and their indices, descending. */
export function topK(x: Float32Array, dim: number, k: number, opts?: TopKOptions): TopKResult {
  const o = checkOptions('topK', opts, KEYS_into, INTO_values_indices);
  return opsNative.topK(x, dim, k, o);
}
