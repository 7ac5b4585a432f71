// LayerNorm and RMSNorm over the last dimension (x is [rows, dim], dim = gamma.length).
import { opsNative } from './native.js';
import { checkOptions } from './options.js';

// Option keys (module constants: the snapshot compiles each list once).
const KEYS_eps_into: readonly string[] = ['eps', 'into'];
const INTO_y_mean_rstd: readonly string[] = ['y', 'mean', 'rstd'];
const KEYS_into: readonly string[] = ['into'];
const INTO_dx_dgamma_dbeta: readonly string[] = ['dx', 'dgamma', 'dbeta'];
const INTO_y_rstd: readonly string[] = ['y', 'rstd'];
const INTO_dx_dgamma: readonly string[] = ['dx', 'dgamma'];

export interface LayerNormForwardOptions {
  /** Added to the variance; default 1e-5 (PyTorch's LayerNorm). */
  eps?: number;
  /** Preallocated outputs (must not overlap the inputs). */
  into?: { y?: Float32Array; mean?: Float32Array; rstd?: Float32Array };
}
export interface LayerNormForwardResult {
  /** [rows, dim]: (x - mean) * rstd * gamma + beta */
  y: Float32Array;
  /** [rows] */
  mean: Float32Array;
  /** [rows]: 1 / sqrt(biased variance + eps) */
  rstd: Float32Array;
}
export interface LayerNormBackwardOptions {
  into?: { dx?: Float32Array; dgamma?: Float32Array; dbeta?: Float32Array };
}
export interface LayerNormBackwardResult {
  dx: Float32Array;
  /** Overwritten, not accumulated. */
  dgamma: Float32Array;
  dbeta: Float32Array;
}
export interface RmsNormForwardOptions {
  /** Added to mean(x^2); default 1e-6. */
  eps?: number;
  into?: { y?: Float32Array; rstd?: Float32Array };
}
export interface RmsNormForwardResult {
  /** [rows, dim]: x * rstd * gamma */
  y: Float32Array;
  /** [rows]: 1 / sqrt(mean(x^2) + eps) */
  rstd: Float32Array;
}
export interface RmsNormBackwardOptions {
  into?: { dx?: Float32Array; dgamma?: Float32Array };
}
export interface RmsNormBackwardResult {
  dx: Float32Array;
  dgamma: Float32Array;
}

export function layerNormForward(x: Float32Array, gamma: Float32Array, beta: Float32Array,
  opts?: LayerNormForwardOptions): LayerNormForwardResult {
  const o = checkOptions('layerNormForward', opts, KEYS_eps_into, INTO_y_mean_rstd);
  return opsNative.layerNormForward(x, gamma, beta, o);
}

/** Gradients from the forward's saved mean and rstd. */
export function layerNormBackward(x: Float32Array, gamma: Float32Array, mean: Float32Array, rstd: Float32Array,
  dy: Float32Array, opts?: LayerNormBackwardOptions): LayerNormBackwardResult {
  const o = checkOptions('layerNormBackward', opts, KEYS_into, INTO_dx_dgamma_dbeta);
  return opsNative.layerNormBackward(x, gamma, mean, rstd, dy, o);
}

export function rmsNormForward(x: Float32Array, gamma: Float32Array, opts?: RmsNormForwardOptions): RmsNormForwardResult {
  const o = checkOptions('rmsNormForward', opts, KEYS_eps_into, INTO_y_rstd);
  return opsNative.rmsNormForward(x, gamma, o);
}

export function rmsNormBackward(x: Float32Array, gamma: Float32Array, rstd: Float32Array, dy: Float32Array,
  opts?: RmsNormBackwardOptions): RmsNormBackwardResult {
  const o = checkOptions('rmsNormBackward', opts, KEYS_into, INTO_dx_dgamma);
  return opsNative.rmsNormBackward(x, gamma, rstd, dy, o);
}
