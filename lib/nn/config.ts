// The model configuration (issue: training) and its defaults.
import { constants as bufferConstants } from 'node:buffer';
import os from 'node:os';
import type { ActivationKind } from '../opkernels/elementwise.js';
import { SPARSE_FIELDS, checkSparseAttention } from './config-attention.js';
import { CMLM_FIELDS, checkCmlm, type ModelObjective } from './config-cmlm.js';

export interface Seq2SeqModelConfig {
  srcVocab: number;
  tgtVocab: number;
  dModel: number;
  heads: number;
  /** Key/value heads (grouped-query attention); default heads. */
  kvHeads?: number;
  ffDim: number;
  encoderLayers: number;
  decoderLayers: number;
  dropout: number;
  attentionDropout: number;
  activation: ActivationKind;
  norm: 'post' | 'pre';
  positions: 'sinusoidal' | 'learned';
  /** Share the target embedding with the output projection (and with the source one when the vocabularies match). */
  tieEmbeddings: boolean;
  /** Multiply embeddings by sqrt(dModel). */
  scaleEmbedding: boolean;
  /** Longest source or target sequence (position table size). */
  maxLen: number;
  seed: number;
  padId: number;
  bosId: number;
  eosId: number;
  /** First decoder input; default bosId (Marian uses the pad id, BART the EOS id). */
  decoderStartId?: number;
  /**
   * Position p reads row p + positionOffset of the position table, which has maxLen +
   * positionOffset rows (Hugging Face BART: 2, its first two learned rows unused). Default 0.
   */
  positionOffset: number;
  /** Sinusoid columns: 'interleaved' (sin, cos, sin, ...; the paper) or 'halves' (all sines, then all cosines; Marian). */
  sinusoidLayout: 'interleaved' | 'halves';
  /** A LayerNorm after token embeddings + positions in both stacks (BART's layernorm_embedding). Default false. */
  layerNormEmbedding: boolean;
  /** Logits add a learned [1, tgtVocab] bias, `final_logits_bias` (Marian and BART checkpoints). Default false. */
  finalLogitsBias: boolean;
  /**
   * Sparse encoder self-attention (issue 16): a sliding window of `left` keys before and `right`
   * after each position, plus `globalTokens` leading positions that see and are seen by every
   * position (Longformer). Absent: full attention.
   */
  encoderAttention?: EncoderAttentionConfig;
  /**
   * Sparse decoder self-attention: each position sees itself and the `left` positions before it,
   * plus the first `globalTokens` positions. Incremental decoding then keeps only those positions
   * in the KV cache, so decoding memory is bounded by the window. Absent: full causal attention.
   * Not combinable with decoderAttention 'mixed'.
   */
  decoderSelfAttention?: DecoderSelfAttentionConfig;
  /**
   * 'separate' (default): each decoder layer has causal self-attention, then cross-attention over
   * the encoder output. 'mixed' (Layer-wise Coordination, He et al. 2018): one attention per decoder
   * layer whose keys and values are [encoder output; decoder prefix], one kernel call; the encoder
   * and decoder states go through the same k/v projections (as in the paper), and the layer has no
   * encoder_attn.
   */
  decoderAttention?: 'separate' | 'mixed';
  /**
   * 'autoregressive' (default): a causal decoder trained on shifted targets. 'cmlm' (issue 15,
   * Mask-Predict): a conditional masked LM, whose decoder self-attention is bidirectional (target
   * padding still masked) and whose `length_predictor` guesses the target length from the
   * mean-pooled encoder output; decoded with generate(..., { method: 'mask-predict' }).
   */
  objective?: ModelObjective;
  /** objective 'cmlm': the target token id of <mask> (withMaskTokens). */
  maskId?: number;
}

/** A sliding window: keys from `left` before to `right` after the query's position. */
export interface EncoderAttentionConfig {
  window?: { left: number; right: number };
  /** Leading positions that attend to and are attended by every position; needs `window`. */
  globalTokens?: number;
}

/** The causal window: the query's position and the `left` before it. */
export interface DecoderSelfAttentionConfig {
  window?: { left: number };
  /** Leading positions every later position also sees; needs `window`. */
  globalTokens?: number;
}

export const defaultModelConfig: Omit<Seq2SeqModelConfig, 'srcVocab' | 'tgtVocab'> = {
  dModel: 256, heads: 4, ffDim: 1024, encoderLayers: 3, decoderLayers: 3, dropout: 0.1, attentionDropout: 0,
  activation: 'relu', norm: 'post', positions: 'sinusoidal', tieEmbeddings: true, scaleEmbedding: true,
  maxLen: 256, seed: 1, padId: 0, bosId: 1, eosId: 2,
  positionOffset: 0, sinusoidLayout: 'interleaved', layerNormEmbedding: false, finalLogitsBias: false,
};

const INT_FIELDS = ['srcVocab', 'tgtVocab', 'dModel', 'heads', 'ffDim', 'encoderLayers', 'decoderLayers', 'maxLen'] as const;

/** Fills defaults and checks every field; throws a TypeError/RangeError naming the field. */
export function resolveModelConfig(c: Partial<Seq2SeqModelConfig> & { srcVocab: number; tgtVocab: number }): Seq2SeqModelConfig {
  const known = new Set([...Object.keys(defaultModelConfig), 'srcVocab', 'tgtVocab', 'kvHeads', 'decoderStartId', ...SPARSE_FIELDS, ...CMLM_FIELDS]);
  for (const k of Object.keys(c)) if (!known.has(k)) throw new TypeError(`model config: unknown field '${k}'`);
  const r = { ...defaultModelConfig, ...c } as Seq2SeqModelConfig;
  for (const f of INT_FIELDS) {
    const v = r[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`model config: ${f} must be a positive integer, got ${String(v)}`);
  }
  const kv = r.kvHeads ?? r.heads;
  if (!Number.isInteger(kv) || kv < 1 || r.heads % kv !== 0) throw new RangeError(`model config: kvHeads must divide heads (${r.heads}), got ${String(r.kvHeads)}`);
  if (r.dModel % r.heads !== 0) throw new RangeError(`model config: dModel (${r.dModel}) must be a multiple of heads (${r.heads})`);
  for (const f of ['dropout', 'attentionDropout'] as const)
    if (typeof r[f] !== 'number' || !(r[f] >= 0 && r[f] < 1)) throw new RangeError(`model config: ${f} must be in [0, 1), got ${String(r[f])}`);
  if (!['relu', 'gelu', 'geluTanh', 'silu'].includes(r.activation)) throw new RangeError(`model config: activation must be relu|gelu|geluTanh|silu, got ${String(r.activation)}`);
  if (r.norm !== 'post' && r.norm !== 'pre') throw new RangeError(`model config: norm must be 'post' or 'pre', got ${String(r.norm)}`);
  if (r.positions !== 'sinusoidal' && r.positions !== 'learned') throw new RangeError(`model config: positions must be 'sinusoidal' or 'learned', got ${String(r.positions)}`);
  for (const f of ['padId', 'bosId', 'eosId'] as const)
    if (!Number.isInteger(r[f]) || r[f] < 0 || r[f] >= Math.min(r.srcVocab, r.tgtVocab)) throw new RangeError(`model config: ${f} must be a token id in both vocabularies, got ${String(r[f])}`);
  if (r.decoderStartId !== undefined && (!Number.isInteger(r.decoderStartId) || r.decoderStartId < 0 || r.decoderStartId >= r.tgtVocab))
    throw new RangeError(`model config: decoderStartId must be a target token id, got ${String(r.decoderStartId)}`);
  if (!Number.isInteger(r.positionOffset) || r.positionOffset < 0) throw new RangeError(`model config: positionOffset must be a non-negative integer, got ${String(r.positionOffset)}`);
  if (r.sinusoidLayout !== 'interleaved' && r.sinusoidLayout !== 'halves') throw new RangeError(`model config: sinusoidLayout must be 'interleaved' or 'halves', got ${String(r.sinusoidLayout)}`);
  for (const f of ['layerNormEmbedding', 'finalLogitsBias', 'tieEmbeddings', 'scaleEmbedding'] as const)
    if (typeof r[f] !== 'boolean') throw new TypeError(`model config: ${f} must be a boolean, got ${String(r[f])}`);
  if (!Number.isInteger(r.seed)) throw new RangeError(`model config: seed must be an integer, got ${String(r.seed)}`);
  checkSparseAttention(r);
  checkCmlm(r);
  checkParameterBytes(r);
  return r;
}

const bytesText = (b: number): string => {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0, x = b;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return i ? `${x.toPrecision(3)} ${units[i]} (${b} bytes)` : `${b} bytes`;
};

/**
 * The float32 parameters a config asks for, checked before anything is allocated (issue #19: a
 * huge vocabulary failed deep inside with 'Array buffer allocation failed', naming nothing): each
 * matrix must fit one Float32Array (buffer.constants.MAX_LENGTH elements), and all of them this
 * machine's memory (os.totalmem(); gradients and optimizer state need more still). Otherwise a
 * RangeError names the fields that size the part and the bytes it would take.
 */
function checkParameterBytes(r: Seq2SeqModelConfig): void {
  const d = r.dModel, ff = r.ffDim, rows = r.maxLen + r.positionOffset;
  const kvDim = (r.kvHeads ?? r.heads) * (d / r.heads);
  const matrices: [string, number][] = [
    [`srcVocab (${r.srcVocab}) × dModel (${d})`, r.srcVocab * d],
    [`tgtVocab (${r.tgtVocab}) × dModel (${d})`, r.tgtVocab * d],
    [`ffDim (${ff}) × dModel (${d})`, ff * d],
    [`dModel (${d}) × dModel (${d})`, d * d],
    ...(r.positions === 'learned' ? [[`(maxLen + positionOffset) (${rows}) × dModel (${d})`, rows * d] as [string, number]] : []),
  ];
  const maxElements = bufferConstants.MAX_LENGTH;
  for (const [what, n] of matrices) {
    if (n > maxElements)
      throw new RangeError(`model config: ${what} = ${n} parameters in one matrix, ${bytesText(4 * n)}: more than one Float32Array holds (${maxElements} elements)`);
  }
  const attention = 2 * (d * d + d) + 2 * (d * kvDim + kvDim), ffn = 2 * d * ff + ff + d;
  const shared = r.tieEmbeddings && r.srcVocab === r.tgtVocab;
  const parts: [string, number][] = [
    [`tgtVocab (${r.tgtVocab}) × dModel (${d})`, r.tgtVocab * d * (r.tieEmbeddings ? 1 : 2) + (r.finalLogitsBias ? r.tgtVocab : 0)],
    [`srcVocab (${r.srcVocab}) × dModel (${d})`, shared ? 0 : r.srcVocab * d],
    [`encoderLayers (${r.encoderLayers}) × dModel (${d}), ffDim (${ff})`, r.encoderLayers * (attention + ffn + 4 * d)],
    [`decoderLayers (${r.decoderLayers}) × dModel (${d}), ffDim (${ff})`, r.decoderLayers * (2 * attention + ffn + 6 * d)],
    [`maxLen (${r.maxLen}) × dModel (${d})`, (r.positions === 'learned' ? 2 * rows * d : 0) + 8 * d],
  ];
  const total = parts.reduce((a, [, n]) => a + n, 0);
  const memory = os.totalmem();
  if (4 * total > memory) {
    const [largest, n] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
    throw new RangeError(`model config: the parameters would take ${bytesText(4 * total)} as ${total} float32 values, ${bytesText(4 * n)} of it for ${largest}: more than this machine's memory, ${bytesText(memory)}`);
  }
}
