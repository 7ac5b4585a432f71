// Embedding lookup, its scatter-add backward, and the sinusoidal position encoding.
import { opsNative } from './native.js';
import { checkOptions, snapshot } from './options.js';
import type { OutputOptions } from './elementwise.js';

// Option keys (module constants: the snapshot compiles each list once).
const KEYS_into_scale_positions_positionPeriod_positionOffset: readonly string[] = ['into', 'scale', 'positions', 'positionPeriod', 'positionOffset'];
const KEYS_paddingIdx_accumulate_scale_into: readonly string[] = ['paddingIdx', 'accumulate', 'scale', 'into'];
const KEYS_offset_base_into: readonly string[] = ['offset', 'base', 'into'];

/** weight is [vocab, dim]. */
export interface EmbeddingShape {
  vocab: number;
  dim: number;
}
export interface EmbeddingForwardOptions extends OutputOptions {
  /** Every looked-up row times this (a Transformer's sqrt(dModel)). Default 1. */
  scale?: number;
  /**
   * A position table [P, dim] added in the same pass: row t of y gets
   * positions[(t % positionPeriod) + positionOffset] (after the scale).
   */
  positions?: Float32Array;
  /** Rows per sequence when ids hold a batch of sequences back to back. Default ids.length. */
  positionPeriod?: number;
  /** Position of each sequence's first token (an incremental decoder's step). Default 0. */
  positionOffset?: number;
}
export interface EmbeddingBackwardOptions extends OutputOptions {
  /** Tokens with this id add no gradient (PyTorch's padding_idx). */
  paddingIdx?: number;
  /** Add into opts.into instead of overwriting it (tied embeddings, gradient accumulation). */
  accumulate?: boolean;
  /** Each dy row times this (the forward's scale). Default 1. */
  scale?: number;
}
export interface PositionEncodingOptions extends OutputOptions {
  /** Position of row 0 (default 0), e.g. the step of an incremental decoder. */
  offset?: number;
  /** Wavelength base (default 10000). */
  base?: number;
}

/**
 * y[t] = weight[ids[t]] * scale (+ positions[(t % positionPeriod) + positionOffset]): [ids.length, dim].
 * Every id must lie in [0, vocab).
 */
const SHAPE_KEYS: readonly string[] = ['vocab', 'dim'];
const shapeOf = (fn: string, shape: EmbeddingShape): EmbeddingShape =>
  snapshot(fn, 'shape', shape, SHAPE_KEYS) as EmbeddingShape;

export function embeddingForward(ids: Int32Array, weight: Float32Array, shape: EmbeddingShape,
  opts?: EmbeddingForwardOptions): Float32Array {
  const o = checkOptions('embeddingForward', opts, KEYS_into_scale_positions_positionPeriod_positionOffset);
  return opsNative.embeddingForward(ids, weight, shapeOf('embeddingForward', shape), o);
}

/** dweight [vocab, dim]: the sum of dy rows (times scale) per id, in token order (deterministic, no atomics). */
export function embeddingBackward(ids: Int32Array, dy: Float32Array, shape: EmbeddingShape,
  opts?: EmbeddingBackwardOptions): Float32Array {
  const o = checkOptions('embeddingBackward', opts, KEYS_paddingIdx_accumulate_scale_into);
  return opsNative.embeddingBackward(ids, dy, shapeOf('embeddingBackward', shape), o);
}

/**
 * [length, dim]: pe[p, 2i] = sin(pos / base^(2i/dim)), pe[p, 2i+1] = cos(pos / base^(2i/dim)),
 * pos = offset + p ("Attention Is All You Need", section 3.5).
 */
export function positionEncoding(length: number, dim: number, opts?: PositionEncodingOptions): Float32Array {
  const o = checkOptions('positionEncoding', opts, KEYS_offset_base_into);
  return opsNative.positionEncoding(length, dim, o);
}
