// Validation of the conditional-masked-LM fields of the model config (issue 15, Mask-Predict):
// objective and maskId. Kept apart from config.ts so each file has one job; errors name the field.
import type { Seq2SeqModelConfig } from './config.js';

export const CMLM_FIELDS = ['objective', 'maskId'] as const;

/** Training objectives a model is built for. */
export type ModelObjective = 'autoregressive' | 'cmlm';

/** Whether a (resolved) config describes a conditional masked LM (bidirectional decoder, length predictor). */
export function isCmlm(c: Pick<Seq2SeqModelConfig, 'objective'>): boolean {
  return c.objective === 'cmlm';
}

/**
 * The length classes of a CMLM's length predictor: target lengths 0..maxLen (fairseq's
 * embed_length has 256 rows; here the position table bounds the decoder input, so maxLen + 1).
 */
export function lengthClasses(c: Pick<Seq2SeqModelConfig, 'maxLen'>): number {
  return c.maxLen + 1;
}

export function checkCmlm(r: Seq2SeqModelConfig): void {
  const o: unknown = r.objective;
  if (o !== undefined && o !== 'autoregressive' && o !== 'cmlm')
    throw new RangeError(`model config: objective must be 'autoregressive' or 'cmlm', got ${String(o)}`);
  if (o !== 'cmlm') {
    if (r.maskId !== undefined) throw new RangeError("model config: maskId is only used with objective 'cmlm'");
    return;
  }
  const m: unknown = r.maskId;
  if (m === undefined) throw new RangeError("model config: objective 'cmlm' needs maskId (the target tokenizer's <mask> id; see withMaskTokens)");
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 0 || m >= r.tgtVocab)
    throw new RangeError(`model config: maskId must be a target token id in [0, ${r.tgtVocab}), got ${String(m)}`);
  if (m === r.padId || m === r.bosId || m === r.eosId)
    throw new RangeError(`model config: maskId (${m}) must differ from padId, bosId and eosId`);
  // The decoder sees the whole target at once: a causal window or a mixed (causal) layer would
  // contradict that, so they are refused rather than silently made bidirectional.
  if (r.decoderSelfAttention !== undefined)
    throw new RangeError("model config: decoderSelfAttention (a causal window) cannot be combined with objective 'cmlm' (its decoder is bidirectional)");
  if (r.decoderAttention === 'mixed')
    throw new RangeError("model config: decoderAttention 'mixed' cannot be combined with objective 'cmlm' (its decoder is bidirectional)");
}
