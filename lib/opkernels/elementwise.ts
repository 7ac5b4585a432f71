// Elementwise ops: activations (forward/backward), the residual add, dropout. Each output may be
// exactly one of the inputs (in place); any other overlap is rejected.
import { opsNative, type ActivationKind } from './native.js';
import { checkOptions } from './options.js';

export type { ActivationKind };

export interface OutputOptions {
  /** Output array of the right length; may be exactly an input (in place). */
  into?: Float32Array;
}
export interface GeluOptions extends OutputOptions {
  /** 'none' (default): x * Phi(x) with erf; 'tanh': the tanh approximation. As in PyTorch's F.gelu. */
  approximate?: 'none' | 'tanh';
}
export interface DropoutOptions extends OutputOptions {
  /** Index of element 0 in the stream of keep decisions (default 0): lets slices of one tensor share a seed. */
  offset?: number;
}

export function activationForward(kind: ActivationKind, x: Float32Array, opts?: OutputOptions): Float32Array {
  checkOptions('activationForward', opts, ['into']);
  return opsNative.activationForward(kind, x, opts);
}
/** dx = dy * f'(x). */
export function activationBackward(kind: ActivationKind, x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array {
  checkOptions('activationBackward', opts, ['into']);
  return opsNative.activationBackward(kind, x, dy, opts);
}

function geluKind(fn: string, opts?: GeluOptions): ActivationKind {
  checkOptions(fn, opts, ['approximate', 'into']);
  const a = opts?.approximate ?? 'none';
  if (a !== 'none' && a !== 'tanh') throw new RangeError(`${fn}: opts.approximate must be 'none' or 'tanh', got ${String(a)}`);
  return a === 'tanh' ? 'geluTanh' : 'gelu';
}

function forward(fn: string, kind: ActivationKind, x: Float32Array, opts?: OutputOptions): Float32Array {
  checkOptions(fn, opts, ['into']);
  return opsNative.activationForward(kind, x, opts, fn);
}
function backward(fn: string, kind: ActivationKind, x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array {
  checkOptions(fn, opts, ['into']);
  return opsNative.activationBackward(kind, x, dy, opts, fn);
}

export const relu = (x: Float32Array, opts?: OutputOptions): Float32Array => forward('relu', 'relu', x, opts);
export const reluBackward = (x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array =>
  backward('reluBackward', 'relu', x, dy, opts);
export const silu = (x: Float32Array, opts?: OutputOptions): Float32Array => forward('silu', 'silu', x, opts);
export const siluBackward = (x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array =>
  backward('siluBackward', 'silu', x, dy, opts);
export function gelu(x: Float32Array, opts?: GeluOptions): Float32Array {
  return opsNative.activationForward(geluKind('gelu', opts), x, opts?.into === undefined ? undefined : { into: opts.into }, 'gelu');
}
export function geluBackward(x: Float32Array, dy: Float32Array, opts?: GeluOptions): Float32Array {
  return opsNative.activationBackward(geluKind('geluBackward', opts), x, dy,
    opts?.into === undefined ? undefined : { into: opts.into }, 'geluBackward');
}

/** a + b (the residual connection). */
export function add(a: Float32Array, b: Float32Array, opts?: OutputOptions): Float32Array {
  checkOptions('add', opts, ['into']);
  return opsNative.add(a, b, opts);
}

/**
 * Inverted dropout: y[i] = x[i] / (1 - p) where element (offset + i) is kept, else 0. The keep
 * decision comes from the attention kernel's counter-based generator keyed by (seed, index), so
 * dropoutBackward with the same seed, p and offset applies the same mask without storing it.
 */
export function dropoutForward(x: Float32Array, p: number, seed: number | bigint, opts?: DropoutOptions): Float32Array {
  checkOptions('dropoutForward', opts, ['offset', 'into']);
  return opsNative.dropout(x, p, seed, opts, 'dropoutForward');
}
export function dropoutBackward(dy: Float32Array, p: number, seed: number | bigint, opts?: DropoutOptions): Float32Array {
  checkOptions('dropoutBackward', opts, ['offset', 'into']);
  return opsNative.dropout(dy, p, seed, opts, 'dropoutBackward');
}
/** Whether dropout keeps element `index` for a seed and rate: the kernel's exact decision. */
export function dropoutKeepElement(seed: number | bigint, index: number | bigint, p: number): boolean {
  return opsNative.dropoutKeepElement(seed, index, p);
}
