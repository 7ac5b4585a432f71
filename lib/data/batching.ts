// Turning tokenized pairs into padded training batches: `collate` builds one Seq2SeqBatch
// (teacher forcing as in seq2seq.ts), and the planners decide which examples share a batch:
// fixed-size chunks, length bucketing (less padding) and token budgets (steadier memory and step
// time than a fixed sentence count). The planners work on index arrays, so shuffling and resuming
// (loader.ts) only ever deal with integers.
import { DEFAULT_IGNORE_INDEX, makeLabelsBatch, padSequences, shiftRightBatch } from './seq2seq.js';

/** One tokenized pair. `tgt` is y1..yn without BOS/EOS: collate adds them. */
export interface Seq2SeqExample {
  src: Int32Array;
  tgt: Int32Array;
  /**
   * Labels to use instead of [y1..yn, EOS]: tgt.length + 1 values, ignoreIndex where a position
   * does not count. Masked-token pretraining (lib/data/noising, objective 'mlm') sets it so only
   * the masked positions are scored.
   */
  labels?: Int32Array;
}

/** A padded batch, row-major, ready for the model (DESIGN.md, Model contract). */
export interface Seq2SeqBatch {
  /** [batch * srcLen] source ids, padId after srcLengths[b]. */
  src: Int32Array;
  /** [batch]: encoder keyLengths and cross-attention keyLengths. */
  srcLengths: Int32Array;
  /** [batch * tgtLen] decoder input [BOS, y1..yn, pad...]. */
  tgtIn: Int32Array;
  /** [batch * tgtLen] labels [y1..yn, EOS, ignoreIndex...]. */
  labels: Int32Array;
  /** [batch]: n + 1, the decoder self-attention keyLengths (with causal). */
  tgtLengths: Int32Array;
  batch: number;
  srcLen: number;
  tgtLen: number;
  /** Labels that count in the loss (not ignoreIndex): the sum of tgtLengths unless examples carry their own labels. */
  numTargetTokens: number;
  /** Which examples (indices into the dataset) the rows are, in row order. */
  indices: Int32Array;
}

/** Token ids and fixed lengths used by {@link collate}. */
export interface CollateOptions {
  bos: number;
  eos: number;
  padId: number;
  /** Label of padded positions. Default -100. */
  ignoreIndex?: number;
  /** Pad or truncate sources to exactly this length (first srcLen tokens kept). Default: the longest. */
  srcLen?: number;
  /**
   * Pad or truncate the decoder side to exactly this length, BOS included (a target keeps its
   * first tgtLen - 1 tokens and its labels still end in EOS). Default: the longest target + 1.
   */
  tgtLen?: number;
}

/** Build one batch from the examples at `indices` (all of them when omitted). */
export function collate(
  examples: readonly Seq2SeqExample[], options: CollateOptions, indices?: ArrayLike<number>,
): Seq2SeqBatch {
  const idx = indices === undefined ? Int32Array.from(examples.keys()) : Int32Array.from(indices);
  const rows: Seq2SeqExample[] = [];
  for (let r = 0; r < idx.length; r++) {
    const ex = examples[idx[r] as number];
    if (ex === undefined) throw new RangeError(`indices[${r}]: no example ${idx[r]} (have ${examples.length})`);
    if (!(ex.src instanceof Int32Array) || !(ex.tgt instanceof Int32Array)) {
      throw new TypeError(`examples[${idx[r]}]: src and tgt must be Int32Array`);
    }
    if (ex.labels !== undefined && (!(ex.labels instanceof Int32Array) || ex.labels.length !== ex.tgt.length + 1)) {
      throw new TypeError(`examples[${idx[r]}].labels: expected an Int32Array of tgt.length + 1 = ${ex.tgt.length + 1} values`);
    }
    rows.push(ex);
  }
  const src = padSequences(rows.map((e) => e.src), options.padId, options.srcLen);
  const tgts = rows.map((e) => e.tgt);
  const tgtIn = shiftRightBatch(tgts, { bos: options.bos, padId: options.padId, length: options.tgtLen });
  const labels = makeLabelsBatch(tgts, {
    eos: options.eos, ignoreIndex: options.ignoreIndex ?? DEFAULT_IGNORE_INDEX, length: options.tgtLen,
  });
  let numTargetTokens = 0;
  for (const n of tgtIn.lengths) numTargetTokens += n;
  if (rows.some((e) => e.labels !== undefined)) numTargetTokens = overrideLabels(rows, labels.ids, tgtIn.length, options.ignoreIndex ?? DEFAULT_IGNORE_INDEX);
  return {
    src: src.ids, srcLengths: src.lengths, tgtIn: tgtIn.ids, labels: labels.ids, tgtLengths: tgtIn.lengths,
    batch: rows.length, srcLen: src.length, tgtLen: tgtIn.length, numTargetTokens, indices: idx,
  };
}

/**
 * Put each example's own labels (where it has them) into its row of the padded label batch, cut
 * to the row length; returns the labels that count.
 */
function overrideLabels(rows: readonly Seq2SeqExample[], ids: Int32Array, width: number, ignoreIndex: number): number {
  rows.forEach((e, r) => {
    if (e.labels === undefined) return;
    const row = ids.subarray(r * width, (r + 1) * width);
    row.fill(ignoreIndex);
    row.set(e.labels.subarray(0, width));
  });
  let count = 0;
  for (const v of ids) if (v !== ignoreIndex) count++;
  return count;
}

/**
 * The length an example pads to in a batch: max(source, target + 1), each capped by the fixed
 * length when there is one. A batch then costs max(size) * count tokens on its longer side.
 */
export function exampleSizes(examples: readonly Seq2SeqExample[], fixed: { srcLen?: number; tgtLen?: number } = {}): Int32Array {
  const sizes = new Int32Array(examples.length);
  examples.forEach((e, i) => {
    const s = fixed.srcLen ?? e.src.length;
    const t = fixed.tgtLen ?? e.tgt.length + 1;
    sizes[i] = Math.max(s, t);
  });
  return sizes;
}

function checkPositive(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name}: expected an integer >= 1, got ${String(v)}`);
}

/** Consecutive chunks of `batchSize` indices of `order`; the last one may be short unless dropLast. */
export function chunkBatches(order: Int32Array, batchSize: number, dropLast = false): Int32Array[] {
  checkPositive('batchSize', batchSize);
  const out: Int32Array[] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    if (dropLast && i + batchSize > order.length) break;
    out.push(order.slice(i, i + batchSize));
  }
  return out;
}

/** What to do with an example whose size alone exceeds the token budget. */
export type OversizedPolicy = 'error' | 'skip';

/**
 * Greedy token-budget batches over `order`: a batch grows while max(size) * count <= maxTokens
 * (and count <= maxBatchSize when given). An example larger than maxTokens throws, naming it, or
 * is left out with `oversized: 'skip'`.
 */
export function tokenBudgetBatches(
  order: Int32Array, sizes: Int32Array, maxTokens: number,
  options: { maxBatchSize?: number; oversized?: OversizedPolicy } = {},
): Int32Array[] {
  checkPositive('maxTokens', maxTokens);
  if (options.maxBatchSize !== undefined) checkPositive('maxBatchSize', options.maxBatchSize);
  const cap = options.maxBatchSize ?? Infinity;
  const out: Int32Array[] = [];
  let cur: number[] = [];
  let curMax = 0;
  for (const i of order) {
    const s = sizes[i] as number;
    if (s > maxTokens) {
      if (options.oversized === 'skip') continue;
      throw new RangeError(`example ${i}: pads to ${s} tokens, more than maxTokens = ${maxTokens} (use oversized: 'skip' to leave it out)`);
    }
    const m = Math.max(curMax, s);
    if (cur.length > 0 && (m * (cur.length + 1) > maxTokens || cur.length + 1 > cap)) {
      out.push(Int32Array.from(cur));
      cur = [];
      curMax = 0;
    }
    cur.push(i);
    curMax = Math.max(curMax, s);
  }
  if (cur.length > 0) out.push(Int32Array.from(cur));
  return out;
}

/**
 * Length bucketing: cut `order` into windows of `window` indices and sort each window by size
 * (stable, so equal sizes keep the shuffled order). Batches cut from the result hold similar
 * lengths and need little padding, while the windows keep some randomness across the epoch.
 */
export function bucketOrder(order: Int32Array, sizes: Int32Array, window: number): Int32Array {
  if (!(window === Infinity || (Number.isInteger(window) && window >= 1))) {
    throw new RangeError(`bucketWindow: expected an integer >= 1 or Infinity, got ${String(window)}`);
  }
  const out = new Int32Array(order.length);
  const w = Math.min(window, Math.max(order.length, 1));
  for (let start = 0; start < order.length; start += w) {
    const part = Array.from(order.subarray(start, start + w));
    part.sort((a, b) => (sizes[a] as number) - (sizes[b] as number)); // Array#sort is stable
    out.set(part, start);
  }
  return out;
}
