// Conditional masked-LM training (Mask-Predict, Ghazvininejad et al. 2019; fairseq's
// cmlm_transformer): for each target y1..yn, a number k drawn uniformly from 1..n of its positions
// (chosen uniformly) become <mask> in the decoder input, which is the target itself, not shifted;
// the token loss counts only the masked positions. The length predictor adds a cross-entropy on n,
// weighted (fairseq: length_loss_factor 0.1). The Trainer uses cmlmLoss for a model whose
// objective is 'cmlm' (TrainerOptions.loss), with its progress, checkpoints, resume and abort.
//
// Masks are drawn from a generator keyed by (seed, step, example index): they do not depend on the
// batch order, the batch size or the thread count, and a resumed run draws the same masks.
import type { Seq2SeqBatch } from '../data/batching.js';
import { Rng, mix32 } from '../data/rng.js';
import { isCmlm } from '../nn/config-cmlm.js';
import type { MaskMode } from '../nn/masks.js';
import type { Seq2SeqInput, Seq2SeqTransformer } from '../nn/seq2seq.js';
import type { RunContext } from '../nn/transformer-layers.js';
import * as ops from '../ops/index.js';
import { weightedCrossEntropySum } from '../ops/loss-weighted.js';

/** fairseq's length_loss_factor. */
export const DEFAULT_LENGTH_LOSS_WEIGHT = 0.1;

/** A batch as a CMLM sees it. */
export interface CmlmBatch {
  /** [batch * tgtLen]: the target with its masked positions set to maskId, then padId. */
  tgtIn: Int32Array;
  /** [batch]: max(n, 1) (a row needs one decoder position; an empty target gets one unlabelled <mask>). */
  tgtLengths: Int32Array;
  /** [batch * tgtLen]: the target token at masked positions, ignoreIndex elsewhere. */
  labels: Int32Array;
  /** [batch]: the true target length n, the length predictor's label. */
  lengths: Int32Array;
  tgtLen: number;
  /** Masked positions (the tokens the loss counts). */
  masked: number;
}

export interface CmlmMaskOptions {
  maskId: number;
  padId: number;
  ignoreIndex: number;
  /** Keys the mask generator with the step and the example index. */
  seed: number;
  step: number;
}

function maskRng(seed: number, step: number, index: number): Rng {
  return new Rng(mix32(mix32(mix32(seed >>> 0) ^ (step >>> 0)) ^ (index >>> 0)));
}

/**
 * The CMLM decoder input and labels of a teacher-forcing batch (tgtIn = [BOS, y1..yn, pad...],
 * tgtLengths = n + 1, as collate makes them).
 */
export function cmlmInputs(b: Seq2SeqBatch, o: CmlmMaskOptions): CmlmBatch {
  const B = b.batch;
  const lengths = new Int32Array(B);
  for (let r = 0; r < B; ++r) lengths[r] = Math.max(0, b.tgtLengths[r]! - 1);
  const T = Math.max(1, ...lengths);
  const tgtIn = new Int32Array(B * T).fill(o.padId), labels = new Int32Array(B * T).fill(o.ignoreIndex);
  const tgtLengths = new Int32Array(B);
  let masked = 0;
  for (let r = 0; r < B; ++r) {
    const n = lengths[r]!, at = r * T;
    tgtLengths[r] = Math.max(1, n);
    for (let i = 0; i < n; ++i) tgtIn[at + i] = b.tgtIn[r * b.tgtLen + 1 + i]!;
    if (n === 0) {
      tgtIn[at] = o.maskId;
      continue;
    }
    const rng = maskRng(o.seed, o.step, b.indices[r] ?? r);
    const k = 1 + rng.int(n);
    // The first k of a partial Fisher-Yates shuffle: k distinct positions, uniformly.
    const pos = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; ++i) {
      const j = i + rng.int(n - i);
      const t = pos[i]!; pos[i] = pos[j]!; pos[j] = t;
      const p = pos[i]!;
      labels[at + p] = tgtIn[at + p]!;
      tgtIn[at + p] = o.maskId;
    }
    masked += k;
  }
  return { tgtIn, tgtLengths, labels, lengths, tgtLen: T, masked };
}

export interface BatchLossOptions {
  training: boolean;
  step: number;
  maskMode: MaskMode;
  labelSmoothing: number;
  ignoreIndex: number;
}

export interface CmlmLossOptions {
  /** Weight of the length loss (mean over sentences) beside the token loss (mean over masked tokens). Default 0.1. */
  lengthLossWeight?: number;
  /** Seeds the masks (with the step and the example index). Default: the model's seed. */
  seed?: number;
}

/** The model's <mask> id, or a TypeError saying why the model cannot be trained or decoded as a CMLM. */
export function cmlmMaskId(model: Seq2SeqTransformer, what: string): number {
  const c = model.config;
  if (!isCmlm(c) || c.maskId === undefined || !model.lengthPredictor)
    throw new TypeError(`${what}: the model was not built as a CMLM (its config needs objective: 'cmlm' and maskId, the tokenizer's <mask> id)`);
  return c.maskId;
}

/**
 * Loss of one batch: the masked-token cross-entropy sum plus the weighted length loss, scaled so
 * that sum / count = (mean token loss) + weight * (mean length loss) for this batch; backward is
 * recorded on the tape, count = the masked tokens (the Trainer divides the gradient by it).
 */
export function cmlmLoss(model: Seq2SeqTransformer, b: Seq2SeqBatch, o: BatchLossOptions, opts: CmlmLossOptions = {}): ops.LossValue {
  const maskId = cmlmMaskId(model, 'cmlmLoss');
  const c = model.config;
  const w = opts.lengthLossWeight ?? DEFAULT_LENGTH_LOSS_WEIGHT;
  if (typeof w !== 'number' || !(w >= 0) || !Number.isFinite(w)) throw new RangeError(`cmlmLoss: lengthLossWeight must be a finite number >= 0, got ${String(w)}`);
  const cb = cmlmInputs(b, { maskId, padId: c.padId, ignoreIndex: o.ignoreIndex, seed: opts.seed ?? c.seed, step: o.step });
  const srcMask = (b as Partial<Seq2SeqInput>).srcMask ?? null;
  // One context for both stacks, as forward() has: every dropout site gets its own seed.
  const ctx: RunContext = { training: o.training, dropout: c.dropout, attentionDropout: c.attentionDropout,
    seedBase: (Math.imul(c.seed ^ 0x6c6d63, 0x9e3779b1) ^ Math.imul(o.step + 1, 0x85ebca6b)) >>> 0, site: 0 };
  const fo = { training: o.training, step: o.step, maskMode: o.maskMode };
  const memory = model.encode(b.src, b.srcLengths, b.batch, b.srcLen, fo, ctx, srcMask);
  const logits = model.decode(cb.tgtIn, cb.tgtLengths, memory, b.srcLengths, b.batch, cb.tgtLen, b.srcLen, fo, ctx, srcMask);
  const tok = ops.crossEntropySum(logits, cb.labels, { labelSmoothing: o.labelSmoothing, ignoreIndex: o.ignoreIndex });
  const lengthLogits = model.lengthPredictor!.forward(memory, b.srcLengths, b.batch, b.srcLen, srcMask);
  const scale = tok.count > 0 ? (w * tok.count) / b.batch : 0;
  const len = weightedCrossEntropySum(lengthLogits, cb.lengths, scale, { labelSmoothing: 0, ignoreIndex: o.ignoreIndex });
  return { sum: tok.sum + len.sum, count: tok.count };
}

/** cmlmLoss with fixed options, in the shape TrainerOptions.loss takes. */
export function cmlmObjective(opts: CmlmLossOptions = {}): (model: Seq2SeqTransformer, b: Seq2SeqBatch, o: BatchLossOptions) => ops.LossValue {
  return (model, b, o) => cmlmLoss(model, b, o, opts);
}
