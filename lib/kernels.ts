// The typed kernel surface (DESIGN.md, "Kernel surface in TypeScript"). Arguments are checked in
// the addon (shape, types, lengths, ranges); this layer adds the check for misspelled options.
import { native } from './native.js';
import { opsKernels } from './opkernels/index.js';
import { gemmKernels, type Precision } from './gemm.js';
import { snapshot, type KeySpec } from './opkernels/options.js';

/**
 * Sizes of one attention call: q [batch, qLen, heads, headDim]; k, v [batch, kvLen, kvHeads, headDim]
 * (rows packed unless a stride says otherwise); out, dout [batch, qLen, heads, headDim] packed.
 */
export interface AttentionShape {
  batch: number;
  heads: number;
  /** Key/value heads (grouped-query attention); must divide `heads`. Default: `heads`. */
  kvHeads?: number;
  qLen: number;
  kvLen: number;
  headDim: number;
  /**
   * Floats between consecutive rows (batch entry, position) of q, and of dq in the backward.
   * Default heads * headDim (packed). A larger stride reads q as a column block of a fused
   * projection output, e.g. `qkv.subarray(0)` of a [rows, 3 * heads * headDim] buffer; the array
   * then needs only (batch * qLen - 1) * qStride + heads * headDim elements.
   */
  qStride?: number;
  /** The same for k and dk (default kvHeads * headDim), e.g. `qkv.subarray(heads * headDim)`. */
  kStride?: number;
  /** The same for v and dv (default kvHeads * headDim). */
  vStride?: number;
}

/** An explicit ("static") mask or bias laid out [batch, heads, qLen, kvLen], broadcast over 1-sized dims. */
export interface Broadcast<T extends Uint8Array | Float32Array> {
  data: T;
  /** 1 (shared by every batch entry) or the batch size. Default 1. */
  batch?: number;
  /** 1 (shared by every head) or the number of heads. Default 1. */
  heads?: number;
}

export interface AttentionOptions {
  /** Key j is visible to query i only if j <= i + (kvLen - qLen) (bottom-right aligned). */
  causal?: boolean;
  /** [batch]: keys j >= keyLengths[b] are padding. */
  keyLengths?: Int32Array;
  /** [batch * kvLen]: 1 = key may be attended, 0 = blocked (padding with holes). */
  keyMask?: Uint8Array;
  /** [batch]: query rows i >= queryLengths[b] are padding (out 0, lse -Infinity, zero gradient). */
  queryLengths?: Int32Array;
  /** Static mask: 1 = may attend, 0 = blocked. */
  mask?: Broadcast<Uint8Array>;
  /** Added to the scaled scores; -Infinity blocks. */
  bias?: Broadcast<Float32Array>;
  /**
   * Sliding-window (local) attention: with c = i + (kvLen - qLen), key j is visible only when
   * c - left <= j <= c + right. Missing sides are 0; with `causal` only `left` matters. Derived in
   * the kernel (never materialised); tiles outside the band are skipped, so cost is O(T x window).
   */
  window?: AttentionWindow;
  /**
   * Longformer/BigBird global tokens, with `window`: keys j < globalTokens are visible to every
   * query and queries i < globalTokens see every key, as far as the window goes (causal, lengths,
   * key mask, static mask and block layout still apply).
   */
  globalTokens?: number;
  /** A static block-sparse layout: blocks that are 0 are blocked whole, and skipped. */
  blockLayout?: BlockLayout;
  /** Score scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Attention-probability dropout in [0, 1). */
  dropout?: number;
  /** Dropout seed: the keep/drop of (b, h, i, j) depends only on it. */
  seed?: number | bigint;
  /**
   * Precision of the tile products (Q K^T and P V, and in the backward dO V^T, P^T dO, dS^T Q,
   * dS K): 'fp32' (default) or 'bf16' (operands rounded to bf16, nearest even, products summed in
   * fp32). The softmax statistics (max, sum, lse), exp, dropout and the accumulators of out, dq, dk
   * and dv stay fp32. Computed in bf16 on the 'avx512bf16' variant (AVX512_BF16 CPUs); every other
   * variant computes a 'bf16' request in fp32, as `gemm` does.
   */
  precision?: Precision;
}

/** The band of `AttentionOptions.window`: keys left of and right of the (bottom-right aligned) diagonal. */
export interface AttentionWindow {
  left?: number;
  right?: number;
}

/**
 * [ceil(qLen / blockQ), ceil(kvLen / blockK)] bytes, row-major: 1 = the block of queries
 * [r * blockQ, (r + 1) * blockQ) and keys [c * blockK, (c + 1) * blockK) may attend, 0 = blocked.
 * Shared by every batch entry and head. Any block sizes work; multiples of 64 (the kernel's tile)
 * skip the most work.
 */
export interface BlockLayout {
  data: Uint8Array;
  blockQ: number;
  blockK: number;
}

export interface AttentionForwardOptions extends AttentionOptions {
  /** Preallocated outputs to write into (reused buffers avoid garbage); must not overlap inputs. */
  into?: { out?: Float32Array; lse?: Float32Array };
}
export interface AttentionBackwardOptions extends AttentionOptions {
  into?: { dq?: Float32Array; dk?: Float32Array; dv?: Float32Array };
}

export interface AttentionForwardResult {
  /** [batch, qLen, heads, headDim] */
  out: Float32Array;
  /** [batch, heads, qLen]: natural-log logsumexp of each row's masked scaled scores (-Infinity if none). */
  lse: Float32Array;
}
export interface AttentionBackwardResult {
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

const BROADCAST_KEYS = ['data', 'batch', 'heads'];
const OPTION_KEYS: KeySpec = ['causal', 'keyLengths', 'keyMask', 'queryLengths', ['mask', BROADCAST_KEYS],
  ['bias', BROADCAST_KEYS], ['window', ['left', 'right']], 'globalTokens', ['blockLayout', ['data', 'blockQ', 'blockK']],
  'scale', 'dropout', 'seed', 'precision'];
const FORWARD_KEYS: KeySpec = [...OPTION_KEYS, ['into', ['out', 'lse']]];
const BACKWARD_KEYS: KeySpec = [...OPTION_KEYS, ['into', ['dq', 'dk', 'dv']]];
const SHAPE_KEYS = ['batch', 'heads', 'kvHeads', 'qLen', 'kvLen', 'headDim', 'qStride', 'kStride', 'vStride'];

// shape and opts read once into plain objects, unknown keys rejected (opkernels/options.ts).
const readShape = (fn: string, shape: AttentionShape): AttentionShape => snapshot(fn, 'shape', shape, SHAPE_KEYS) as AttentionShape;
const readOpts = <T>(fn: string, opts: T | undefined, keys: KeySpec): T | undefined => snapshot(fn, 'opts', opts, keys) as T | undefined;

export function attentionForward(q: Float32Array, k: Float32Array, v: Float32Array, shape: AttentionShape,
  opts?: AttentionForwardOptions): AttentionForwardResult {
  const fn = 'attentionForward';
  return native.attentionForward(q, k, v, readShape(fn, shape), readOpts(fn, opts, FORWARD_KEYS));
}

/** Same as attentionForward, computed on a worker thread; the inputs are copied now, opts.into is written when it settles. */
export function attentionForwardAsync(q: Float32Array, k: Float32Array, v: Float32Array, shape: AttentionShape,
  opts?: AttentionForwardOptions): Promise<AttentionForwardResult> {
  try {
    const fn = 'attentionForwardAsync';
    return native.attentionForwardAsync(q, k, v, readShape(fn, shape), readOpts(fn, opts, FORWARD_KEYS));
  } catch (e) {
    return Promise.reject(e);
  }
}

export function attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array,
  lse: Float32Array, dout: Float32Array, shape: AttentionShape, opts?: AttentionBackwardOptions): AttentionBackwardResult {
  const fn = 'attentionBackward';
  return native.attentionBackward(q, k, v, out, lse, dout, readShape(fn, shape), readOpts(fn, opts, BACKWARD_KEYS));
}

export function attentionBackwardAsync(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array,
  lse: Float32Array, dout: Float32Array, shape: AttentionShape, opts?: AttentionBackwardOptions): Promise<AttentionBackwardResult> {
  try {
    const fn = 'attentionBackwardAsync';
    return native.attentionBackwardAsync(q, k, v, out, lse, dout, readShape(fn, shape), readOpts(fn, opts, BACKWARD_KEYS));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Whether dropout keeps score (b, h, i, j) for a seed and rate: the kernels' exact decision. */
export function dropoutKeep(seed: number | bigint, b: number, h: number, i: number, j: number, p: number): boolean {
  return native.dropoutKeep(seed, b, h, i, j, p);
}

export const kernels = {
  attentionForward,
  attentionForwardAsync,
  attentionBackward,
  attentionBackwardAsync,
  dropoutKeep,
  ...gemmKernels,  // gemm, gemmBatched, linearForward/Backward (+ Async)
  ...opsKernels,  // norms, activations, dropout, embedding, cross-entropy, decoding, optimizer
};
