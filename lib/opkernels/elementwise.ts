// Elementwise ops: activations (forward/backward), the residual add, dropout. Each output may be
// exactly one of the inputs (in place); any other overlap is rejected.
import { opsNative, type ActivationKind } from './native.js';
import { checkOptions } from './options.js';

// Option keys (module constants: the snapshot compiles each list once).
const KEYS_into: readonly string[] = ['into'];
const KEYS_approximate_into: readonly string[] = ['approximate', 'into'];
const KEYS_offset_into: readonly string[] = ['offset', 'into'];

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
  const o = checkOptions('activationForward', opts, KEYS_into);
  return opsNative.activationForward(kind, x, o);
}
/** dx = dy * f'(x). */
export function activationBackward(kind: ActivationKind, x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array {
  const o = checkOptions('activationBackward', opts, KEYS_into);
  return opsNative.activationBackward(kind, x, dy, o);
}

/** A value in an error message, whatever it is (String() throws for some objects). */
function shown(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return String(v);
  return Array.isArray(v) ? 'an Array' : `an object`;
}

interface GeluCall { kind: ActivationKind; opts: object | undefined }
/** opts read once; the addon gets only `into`, the approximation picks the kernel. */
function geluCall(fn: string, opts: unknown): GeluCall {
  if (opts !== undefined && (opts === null || typeof opts !== 'object' || Array.isArray(opts) || ArrayBuffer.isView(opts)))
    throw new TypeError(`${fn}: opts must be an object { approximate?, into? }, got ${shown(opts)}`);
  const o = checkOptions(fn, opts, KEYS_approximate_into) as { approximate?: unknown; into?: unknown } | undefined;
  const a = o?.approximate ?? 'none';
  if (a !== 'none' && a !== 'tanh') {
    const err = typeof a === 'string' ? RangeError : TypeError;
    throw new err(`${fn}: opts.approximate must be 'none' or 'tanh', got ${shown(a)}`);
  }
  return { kind: a === 'tanh' ? 'geluTanh' : 'gelu', opts: o?.into === undefined ? undefined : { into: o.into } };
}

function forward(fn: string, kind: ActivationKind, x: Float32Array, opts?: OutputOptions): Float32Array {
  const o = checkOptions(fn, opts, KEYS_into);
  return opsNative.activationForward(kind, x, o, fn);
}
function backward(fn: string, kind: ActivationKind, x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array {
  const o = checkOptions(fn, opts, KEYS_into);
  return opsNative.activationBackward(kind, x, dy, o, fn);
}

export const relu = (x: Float32Array, opts?: OutputOptions): Float32Array => forward('relu', 'relu', x, opts);
export const reluBackward = (x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array =>
  backward('reluBackward', 'relu', x, dy, opts);
export const silu = (x: Float32Array, opts?: OutputOptions): Float32Array => forward('silu', 'silu', x, opts);
export const siluBackward = (x: Float32Array, dy: Float32Array, opts?: OutputOptions): Float32Array =>
  backward('siluBackward', 'silu', x, dy, opts);
export function gelu(x: Float32Array, opts?: GeluOptions): Float32Array {
  const g = geluCall('gelu', opts);
  return opsNative.activationForward(g.kind, x, g.opts, 'gelu');
}
export function geluBackward(x: Float32Array, dy: Float32Array, opts?: GeluOptions): Float32Array {
  const g = geluCall('geluBackward', opts);
  return opsNative.activationBackward(g.kind, x, dy, g.opts, 'geluBackward');
}

/** a + b (the residual connection). */
export function add(a: Float32Array, b: Float32Array, opts?: OutputOptions): Float32Array {
  const o = checkOptions('add', opts, KEYS_into);
  return opsNative.add(a, b, o);
}

/**
 * Inverted dropout: y[i] = x[i] / (1 - p) where element (offset + i) is kept, else 0. The keep
 * decision comes from the attention kernel's counter-based generator keyed by (seed, index), so
 * dropoutBackward with the same seed, p and offset applies the same mask without storing it.
 */
export function dropoutForward(x: Float32Array, p: number, seed: number | bigint, opts?: DropoutOptions): Float32Array {
  const o = checkOptions('dropoutForward', opts, KEYS_offset_into);
  return opsNative.dropout(x, p, seed, o, 'dropoutForward');
}
export function dropoutBackward(dy: Float32Array, p: number, seed: number | bigint, opts?: DropoutOptions): Float32Array {
  const o = checkOptions('dropoutBackward', opts, KEYS_offset_into);
  return opsNative.dropout(dy, p, seed, o, 'dropoutBackward');
}
/** Whether dropout keeps element `index` for a seed and rate: the kernel's exact decision. */
export function dropoutKeepElement(seed: number | bigint, index: number | bigint, p: number): boolean {
  return opsNative.dropoutKeepElement(seed, index, p);
}
