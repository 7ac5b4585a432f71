// GEMM and the Linear layer (native/core/gemm.h), merged into `kernels` by kernels.ts. The addon
// checks shapes, types, lengths and values; this layer rejects misspelled option names.
import { native } from './native.js';
import { AttnodeLoadError } from './errors.js';
import { snapshot } from './opkernels/options.js';

/**
 * C (m x n, row-major) = alpha * op(A) op(B) + beta * C. op(A) is m x k: A is stored m x k, or k x m
 * with `transA`; op(B) is k x n: B is stored k x n, or n x k with `transB`.
 */
/** Precision of the matrix products: fp32, or bf16 operands with fp32 accumulation. */
export type Precision = 'fp32' | 'bf16';

/**
 * B of a GEMM: fp32 values, or (with precision 'bf16' only) bf16 bits in a Uint16Array of the same
 * length and layout, e.g. a weight copy made once by toBf16. On the 'avx512bf16' variant, rounding
 * a bf16 value is exact, so gemm(A, toBf16(B), o) gives the same bits as gemm(A, B, o) with precision
 * 'bf16' while reading half the bytes of B; other variants widen the bits and compute in fp32.
 */
export type GemmB = Float32Array | Uint16Array;

export interface GemmOptions {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Default 1. */
  alpha?: number;
  /** Default 0. With beta = 0, C's previous contents are never read (NaN there does not spread). */
  beta?: number;
  /**
   * 'fp32' (default) or 'bf16': op(A) and op(B) rounded to bfloat16 (nearest even), products and
   * sums in fp32, epilogue in fp32. Runs on the 'avx512bf16' variant (AVX512_BF16: AMD Zen 4,
   * Intel Cooper Lake and later); on other variants the product is computed in fp32. Each element
   * of C is then within (2^-7 + 2^-16 + k 2^-24) sum_k |a_ik b_kj| of the exact product.
   */
  precision?: Precision;
  /** Initial C, read when beta != 0, written in place and returned. Default: a new zero array. */
  C?: Float32Array;
  /** [n], added to every row of C (of every batch entry) after the product: a Linear layer's bias. */
  bias?: Float32Array;
  /**
   * [m], gemm only: rowSumsA = beta * rowSumsA + the sums of op(A)'s rows, computed while A is packed.
   * With op(A) = dy^T (transA) these are a Linear layer's bias gradient, at no extra pass over dy.
   */
  rowSumsA?: Float32Array;
  /** [m*n], gemm only: added to C once, like bias (a residual connection fused into a Linear layer). */
  addend?: Float32Array;
  /**
   * [m*n], gemm only: the product counts only where gate > 0, i.e.
   * C = alpha * (op(A) op(B) .* [gate > 0]) + beta * C + ... (a ReLU's backward, gate its output).
   */
  gate?: Float32Array;
  /** max(0, x) of the final C (a Linear layer followed by ReLU; NaN gives 0). */
  relu?: boolean;
  /**
   * gemm only, with relu: written with the ReLU's mask [C > 0] as bits, m rows of ceil(n/8) bytes
   * (bit j % 8 of byte j / 8 of row i is column j), 32x smaller than C: what gateMask reads.
   */
  reluMask?: Uint8Array;
  /** gemm only: gate as such a bit mask (the product counts where the bit is set); not with gate. */
  gateMask?: Uint8Array;
}

/** Strided batch: entry i reads A at i*strideA, B at i*strideB and writes C at i*strideC. */
export interface GemmBatchedOptions extends GemmOptions {
  batch: number;
  /** Default m*k; 0 shares one A across the batch. */
  strideA?: number;
  /** Default k*n; 0 shares one B across the batch. */
  strideB?: number;
  /** Default m*n; at least m*n (entries of C must not overlap). */
  strideC?: number;
  /** Entry i adds the n values of bias at i*strideBias. Default 0: one bias for every entry. */
  strideBias?: number;
}

/** x [rows, inFeatures], W [outFeatures, inFeatures] (PyTorch layout), b [outFeatures]. */
export interface LinearShape {
  rows: number;
  inFeatures: number;
  outFeatures: number;
  /** Precision of the products (GemmOptions.precision); the bias and its gradient stay fp32. */
  precision?: Precision;
}
export interface LinearBackwardShape extends LinearShape {
  /** Compute dx (default true); false for a first layer whose input needs no gradient. */
  needInputGrad?: boolean;
}
export interface LinearBackwardResult {
  /** [rows, inFeatures] = dy W; absent when needInputGrad is false. */
  dx?: Float32Array;
  /** [outFeatures, inFeatures] = dy^T x (overwritten, not accumulated). */
  dW: Float32Array;
  /** [outFeatures] = sum of dy over rows. */
  db: Float32Array;
}

interface GemmNativeAddon {
  gemm(A: Float32Array, B: GemmB, opts: GemmOptions): Float32Array;
  gemmAsync(A: Float32Array, B: GemmB, opts: GemmOptions): Promise<Float32Array>;
  gemmBatched(A: Float32Array, B: GemmB, opts: GemmBatchedOptions): Float32Array;
  gemmBatchedAsync(A: Float32Array, B: GemmB, opts: GemmBatchedOptions): Promise<Float32Array>;
  toBf16(src: Float32Array, dst?: Uint16Array): Uint16Array;
  linearForward(x: Float32Array, W: Float32Array, b: Float32Array | null | undefined, shape: LinearShape): Float32Array;
  linearForwardAsync(x: Float32Array, W: Float32Array, b: Float32Array | null | undefined, shape: LinearShape): Promise<Float32Array>;
  linearBackward(x: Float32Array, W: Float32Array, dy: Float32Array, shape: LinearBackwardShape): LinearBackwardResult;
  linearBackwardAsync(x: Float32Array, W: Float32Array, dy: Float32Array, shape: LinearBackwardShape): Promise<LinearBackwardResult>;
}

const FUNCTIONS: readonly (keyof GemmNativeAddon)[] = [
  'gemm', 'gemmAsync', 'gemmBatched', 'gemmBatchedAsync', 'linearForward', 'linearForwardAsync', 'linearBackward',
  'linearBackwardAsync', 'toBf16',
];

// Checked once at load: a binary built before these functions existed fails with a clear message.
function gemmView(): GemmNativeAddon {
  const addon = native as unknown as Record<string, unknown>;
  const missing = FUNCTIONS.filter((f) => typeof addon[f] !== 'function');
  if (missing.length > 0) {
    throw new AttnodeLoadError(`attnode: the native addon in use lacks ${missing.join(', ')}: it was built from an ` +
      'older version; rebuild it (npm rebuild attnode)', []);
  }
  return addon as unknown as GemmNativeAddon;
}
const gemmNative = gemmView();

const GEMM_KEYS = ['m', 'n', 'k', 'transA', 'transB', 'alpha', 'beta', 'precision', 'C', 'bias', 'rowSumsA', 'addend', 'gate', 'relu',
  'reluMask', 'gateMask'];
const BATCHED_KEYS = [...GEMM_KEYS, 'batch', 'strideA', 'strideB', 'strideC', 'strideBias'];
const LINEAR_KEYS = ['rows', 'inFeatures', 'outFeatures', 'precision'];
const LINEAR_BACKWARD_KEYS = [...LINEAR_KEYS, 'needInputGrad'];

// Options and shapes are read once into plain objects, unknown keys rejected (opkernels/options.ts).
const readOpts = (fn: string, value: unknown, keys: readonly string[]): never =>
  snapshot(fn, 'opts', value, keys) as never;
const readShape = (fn: string, value: unknown, keys: readonly string[]): never =>
  snapshot(fn, 'shape', value, keys) as never;

function rejecting<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (e) {
    return Promise.reject(e);
  }
}

export function gemm(A: Float32Array, B: GemmB, opts: GemmOptions): Float32Array {
  return gemmNative.gemm(A, B, readOpts('gemm', opts, GEMM_KEYS));
}

/** Same as gemm on a worker thread. A, B and a given opts.C are copied now; C is written when it settles. */
export function gemmAsync(A: Float32Array, B: GemmB, opts: GemmOptions): Promise<Float32Array> {
  return rejecting(() => {
    return gemmNative.gemmAsync(A, B, readOpts('gemmAsync', opts, GEMM_KEYS));
  });
}

export function gemmBatched(A: Float32Array, B: GemmB, opts: GemmBatchedOptions): Float32Array {
  return gemmNative.gemmBatched(A, B, readOpts('gemmBatched', opts, BATCHED_KEYS));
}

export function gemmBatchedAsync(A: Float32Array, B: GemmB, opts: GemmBatchedOptions): Promise<Float32Array> {
  return rejecting(() => {
    return gemmNative.gemmBatchedAsync(A, B, readOpts('gemmBatchedAsync', opts, BATCHED_KEYS));
  });
}

/** y [rows, outFeatures] = x W^T + b (b optional). */
export function linearForward(x: Float32Array, W: Float32Array, b: Float32Array | null | undefined,
  shape: LinearShape): Float32Array {
  return gemmNative.linearForward(x, W, b, readShape('linearForward', shape, LINEAR_KEYS));
}

export function linearForwardAsync(x: Float32Array, W: Float32Array, b: Float32Array | null | undefined,
  shape: LinearShape): Promise<Float32Array> {
  return rejecting(() => {
    return gemmNative.linearForwardAsync(x, W, b, readShape('linearForwardAsync', shape, LINEAR_KEYS));
  });
}

/** Gradients of y = x W^T + b for an upstream gradient dy [rows, outFeatures]. */
export function linearBackward(x: Float32Array, W: Float32Array, dy: Float32Array,
  shape: LinearBackwardShape): LinearBackwardResult {
  return gemmNative.linearBackward(x, W, dy, readShape('linearBackward', shape, LINEAR_BACKWARD_KEYS));
}

export function linearBackwardAsync(x: Float32Array, W: Float32Array, dy: Float32Array,
  shape: LinearBackwardShape): Promise<LinearBackwardResult> {
  return rejecting(() => {
    return gemmNative.linearBackwardAsync(x, W, dy, readShape('linearBackwardAsync', shape, LINEAR_BACKWARD_KEYS));
  });
}

/**
 * src rounded to bf16 (round to nearest even; zero and denormals give a zero of the same sign, NaN
 * stays a NaN: the rounding of vcvtneps2bf16, the bf16 GEMM's own), as bits, into dst (src.length
 * elements) or a new Uint16Array.
 */
export function toBf16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  return gemmNative.toBf16(src, dst);
}

/** bf16 bits widened to fp32 (exact). */
export function fromBf16(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; ++i) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

export const gemmKernels = {
  gemm, gemmAsync, gemmBatched, gemmBatchedAsync, toBf16, fromBf16,
  linearForward, linearForwardAsync, linearBackward, linearBackwardAsync,
};
