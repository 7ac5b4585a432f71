// Teacher forcing, following DESIGN.md's Model contract: for a target y1..yn the decoder input is
// [BOS, y1, ..., yn] and the labels are [y1, ..., yn, EOS], the same length n + 1, so position t
// predicts the token after the ones it may see (with the causal mask). Padded label positions hold
// ignoreIndex (default -100) so the loss skips them; padded decoder inputs hold padId. The start
// token is a parameter: Hugging Face Marian starts with the pad id, BART with the EOS id.
export { causalMask, paddingMask, denseAttentionMask } from './masks.js';
export type { DenseMaskOptions } from './masks.js';

/** Hugging Face's and PyTorch's default ignored label. */
export const DEFAULT_IGNORE_INDEX = -100;

function checkId(name: string, v: number): void {
  if (!Number.isInteger(v)) throw new TypeError(`${name}: expected an integer token id, got ${String(v)}`);
}

function checkIds(name: string, a: Int32Array): void {
  if (!(a instanceof Int32Array)) throw new TypeError(`${name}: expected an Int32Array`);
}

/** [bos, y1, ..., yn] for targets y1..yn (no BOS/EOS in `targets`). */
export function shiftRight(targets: Int32Array, bos: number): Int32Array {
  checkIds('targets', targets);
  checkId('bos', bos);
  const out = new Int32Array(targets.length + 1);
  out[0] = bos;
  out.set(targets, 1);
  return out;
}

/** [y1, ..., yn, eos] for targets y1..yn: the labels aligned with {@link shiftRight}. */
export function makeLabels(targets: Int32Array, eos: number): Int32Array {
  checkIds('targets', targets);
  checkId('eos', eos);
  const out = new Int32Array(targets.length + 1);
  out.set(targets, 0);
  out[targets.length] = eos;
  return out;
}

/** Sequences padded into one row-major [batch * length] array. */
export interface PaddedIds {
  ids: Int32Array;
  /** Real (unpadded) length of each row, after any truncation. */
  lengths: Int32Array;
  batch: number;
  length: number;
}

function checkLength(length: number | undefined, min: number): void {
  if (length !== undefined && (!Number.isInteger(length) || length < min)) {
    throw new RangeError(`length: expected an integer >= ${min}, got ${String(length)}`);
  }
}

/**
 * Pad (and truncate, keeping the first `length` tokens) sequences into [batch * length]. Without
 * `length`, pads to the longest. Used for sources; targets go through the decoder functions below.
 */
export function padSequences(seqs: readonly Int32Array[], padId: number, length?: number): PaddedIds {
  checkId('padId', padId);
  checkLength(length, 0);
  seqs.forEach((s, i) => checkIds(`seqs[${i}]`, s));
  const t = length ?? seqs.reduce((m, s) => Math.max(m, s.length), 0);
  const ids = new Int32Array(seqs.length * t).fill(padId);
  const lengths = new Int32Array(seqs.length);
  seqs.forEach((s, b) => {
    const n = Math.min(s.length, t);
    ids.set(s.subarray(0, n), b * t);
    lengths[b] = n;
  });
  return { ids, lengths, batch: seqs.length, length: t };
}

/** Options of the batched decoder input / labels. */
export interface DecoderPadOptions {
  /**
   * Fixed decoder length T, BOS (or EOS) included. A target longer than T - 1 tokens keeps its
   * first T - 1 tokens and still ends its labels with EOS, as tokenizers truncate before adding
   * specials. Default: the longest target + 1.
   */
  length?: number;
}

/** The decoder length for `targets` under `length`, and each row's kept target count. */
function decoderLayout(targets: readonly Int32Array[], length: number | undefined): { t: number; kept: Int32Array } {
  checkLength(length, 1);
  targets.forEach((s, i) => checkIds(`targets[${i}]`, s));
  const t = length ?? targets.reduce((m, s) => Math.max(m, s.length), 0) + 1;
  const kept = new Int32Array(targets.length);
  targets.forEach((s, b) => { kept[b] = Math.min(s.length, t - 1); });
  return { t, kept };
}

/**
 * Batched {@link shiftRight}: row b is [bos, y1..yn, padId...]; lengths[b] = n + 1 (the decoder
 * self-attention keyLengths and queryLengths).
 */
export function shiftRightBatch(
  targets: readonly Int32Array[], options: DecoderPadOptions & { bos: number; padId: number },
): PaddedIds {
  checkId('bos', options.bos);
  checkId('padId', options.padId);
  const { t, kept } = decoderLayout(targets, options.length);
  const ids = new Int32Array(targets.length * t).fill(options.padId);
  const lengths = new Int32Array(targets.length);
  targets.forEach((s, b) => {
    const n = kept[b] as number;
    ids[b * t] = options.bos;
    ids.set(s.subarray(0, n), b * t + 1);
    lengths[b] = n + 1;
  });
  return { ids, lengths, batch: targets.length, length: t };
}

/** Batched {@link makeLabels}: row b is [y1..yn, eos, ignoreIndex...]; lengths[b] = n + 1. */
export function makeLabelsBatch(
  targets: readonly Int32Array[], options: DecoderPadOptions & { eos: number; ignoreIndex?: number },
): PaddedIds {
  checkId('eos', options.eos);
  const ignore = options.ignoreIndex ?? DEFAULT_IGNORE_INDEX;
  checkId('ignoreIndex', ignore);
  const { t, kept } = decoderLayout(targets, options.length);
  const ids = new Int32Array(targets.length * t).fill(ignore);
  const lengths = new Int32Array(targets.length);
  targets.forEach((s, b) => {
    const n = kept[b] as number;
    ids.set(s.subarray(0, n), b * t);
    ids[b * t + n] = options.eos;
    lengths[b] = n + 1;
  });
  return { ids, lengths, batch: targets.length, length: t };
}

/**
 * Hugging Face's `shift_tokens_right` on padded labels [batch * length]: each row moves one step
 * right behind `decoderStartId`, its last entry drops, and ignoreIndex becomes padId. For labels
 * made by {@link makeLabelsBatch} this equals {@link shiftRightBatch} with bos = decoderStartId
 * except in a padded row at position n + 1, where HF keeps the EOS (transformers issue #18249)
 * and shiftRightBatch has padId; that position is padding (>= lengths[b]) and is never attended.
 */
export function shiftTokensRight(
  labels: Int32Array, batch: number, length: number,
  options: { decoderStartId: number; padId: number; ignoreIndex?: number },
): Int32Array {
  checkIds('labels', labels);
  if (!Number.isInteger(batch) || batch < 0) throw new RangeError(`batch: expected an integer >= 0, got ${batch}`);
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`length: expected an integer >= 1, got ${length}`);
  if (labels.length !== batch * length) {
    throw new RangeError(`labels: expected batch * length = ${batch * length} entries, got ${labels.length}`);
  }
  checkId('decoderStartId', options.decoderStartId);
  checkId('padId', options.padId);
  const ignore = options.ignoreIndex ?? DEFAULT_IGNORE_INDEX;
  const out = new Int32Array(labels.length);
  for (let b = 0; b < batch; b++) {
    out[b * length] = options.decoderStartId;
    for (let i = 1; i < length; i++) {
      const v = labels[b * length + i - 1] as number;
      out[b * length + i] = v === ignore ? options.padId : v;
    }
  }
  return out;
}
