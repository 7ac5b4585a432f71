// The addon's non-GEMM op functions, typed. The addon object is shared with the attention API
// (native.ts); this view is checked once at load, so a binary built before these ops existed
// gives a clear error naming what is missing instead of "x is not a function" later.
import { native } from '../native.js';
import { AttnodeLoadError } from '../errors.js';

export type ActivationKind = 'relu' | 'gelu' | 'geluTanh' | 'silu';

export interface OpsNativeAddon {
  layerNormForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, opts?: object):
    { y: Float32Array; mean: Float32Array; rstd: Float32Array };
  layerNormBackward(x: Float32Array, gamma: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    opts?: object): { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array };
  rmsNormForward(x: Float32Array, gamma: Float32Array, opts?: object): { y: Float32Array; rstd: Float32Array };
  rmsNormBackward(x: Float32Array, gamma: Float32Array, rstd: Float32Array, dy: Float32Array, opts?: object):
    { dx: Float32Array; dgamma: Float32Array };
  // `fn`: the caller's name, used in error messages.
  activationForward(kind: ActivationKind, x: Float32Array, opts?: object, fn?: string): Float32Array;
  activationBackward(kind: ActivationKind, x: Float32Array, dy: Float32Array, opts?: object, fn?: string): Float32Array;
  add(a: Float32Array, b: Float32Array, opts?: object): Float32Array;
  dropout(x: Float32Array, p: number, seed: number | bigint, opts?: object, fn?: string): Float32Array;
  dropoutKeepElement(seed: number | bigint, index: number | bigint, p: number): boolean;
  embeddingForward(ids: Int32Array, weight: Float32Array, shape: { vocab: number; dim: number }, opts?: object): Float32Array;
  embeddingBackward(ids: Int32Array, dy: Float32Array, shape: { vocab: number; dim: number }, opts?: object): Float32Array;
  positionEncoding(length: number, dim: number, opts?: object): Float32Array;
  crossEntropy(logits: Float32Array, targets: Int32Array, vocab: number, opts?: object):
    { loss: number; sum: number; count: number; dlogits?: Float32Array };
  crossEntropyAsync(logits: Float32Array, targets: Int32Array, vocab: number, opts?: object):
    Promise<{ loss: number; sum: number; count: number; dlogits?: Float32Array }>;
  logSoftmax(x: Float32Array, dim: number, opts?: object): Float32Array;
  argmax(x: Float32Array, dim: number, opts?: object): Int32Array;
  topK(x: Float32Array, dim: number, k: number, opts?: object): { values: Float32Array; indices: Int32Array };
  adamStep(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, opts: object): void;
  adamwStep(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, opts: object): void;
  adamStepAsync(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, opts: object): Promise<void>;
  adamwStepAsync(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, opts: object): Promise<void>;
  adamStepMulti(params: readonly Float32Array[], grads: readonly Float32Array[], m: readonly Float32Array[],
    v: readonly Float32Array[], opts: object): void;
  adamwStepMulti(params: readonly Float32Array[], grads: readonly Float32Array[], m: readonly Float32Array[],
    v: readonly Float32Array[], opts: object): void;
  adamStepMultiAsync(params: readonly Float32Array[], grads: readonly Float32Array[], m: readonly Float32Array[],
    v: readonly Float32Array[], opts: object): Promise<void>;
  adamwStepMultiAsync(params: readonly Float32Array[], grads: readonly Float32Array[], m: readonly Float32Array[],
    v: readonly Float32Array[], opts: object): Promise<void>;
  gradNorm(arrays: readonly Float32Array[]): number;
  clipGradNorm(arrays: readonly Float32Array[], maxNorm: number, opts?: object): { norm: number; scale: number };
}

const FUNCTIONS: readonly (keyof OpsNativeAddon)[] = [
  'layerNormForward', 'layerNormBackward', 'rmsNormForward', 'rmsNormBackward', 'activationForward',
  'activationBackward', 'add', 'dropout', 'dropoutKeepElement', 'embeddingForward', 'embeddingBackward',
  'positionEncoding', 'crossEntropy', 'crossEntropyAsync', 'logSoftmax', 'argmax', 'topK', 'adamStep',
  'adamwStep', 'adamStepAsync', 'adamwStepAsync', 'adamStepMulti', 'adamwStepMulti', 'adamStepMultiAsync',
  'adamwStepMultiAsync', 'gradNorm', 'clipGradNorm',
];

function opsView(): OpsNativeAddon {
  const addon = native as unknown as Record<string, unknown>;
  const missing = FUNCTIONS.filter((f) => typeof addon[f] !== 'function');
  if (missing.length > 0) {
    throw new AttnodeLoadError(`attnode: the native addon in use lacks ${missing.join(', ')}: it was built from an ` +
      'older version; rebuild it (npm rebuild attnode)', []);
  }
  return addon as unknown as OpsNativeAddon;
}

export const opsNative: OpsNativeAddon = opsView();
