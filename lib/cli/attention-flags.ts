// `attnode train` flags for the attention pattern (issue 16): --window, --global-tokens and
// --decoder-attention. They only set model config fields, which are saved with the model, so
// translate and serving pick them up from the checkpoint with no flag of their own.
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { intFlag, strFlag, UsageError, type ParsedArgs } from './args.js';

export const ATTENTION_FLAGS = { window: 'value', 'global-tokens': 'value', 'decoder-attention': 'value' } as const;

export const ATTENTION_USAGE = `[--window N|L,R] [--global-tokens G] [--decoder-attention separate|mixed]`;

/** "N" (N either side) or "L,R" as non-negative integers. */
function parseWindow(v: string): { left: number; right: number } {
  const parts = v.split(',');
  const n = parts.map((x) => (/^\d+$/.test(x.trim()) ? Number(x) : NaN));
  if ((parts.length !== 1 && parts.length !== 2) || n.some((x) => !Number.isSafeInteger(x)))
    throw new UsageError(`--window must be N or L,R (non-negative integers: keys left and right of each position), got ${v}`);
  return { left: n[0]!, right: n[1] ?? n[0]! };
}

/**
 * Sets m's attention fields from the flags: --window L,R gives the encoder the band [i - L, i + R]
 * and decoder self-attention [i - L, i] (a separate decoder only: a mixed layer attends to the whole
 * source and prefix); --global-tokens G makes the first G positions global wherever a window is.
 */
export function attentionFlags(p: ParsedArgs, m: Partial<Seq2SeqModelConfig>): void {
  const kind = strFlag(p, 'decoder-attention');
  if (kind !== undefined) {
    if (kind !== 'separate' && kind !== 'mixed') throw new UsageError(`--decoder-attention must be separate or mixed, got ${kind}`);
    m.decoderAttention = kind;
  }
  const w = strFlag(p, 'window');
  const g = p.flags.has('global-tokens') ? intFlag(p, 'global-tokens', 0, 0) : undefined;
  if (w === undefined) {
    if (g !== undefined) throw new UsageError('--global-tokens needs --window (without a window every position sees every key already)');
    return;
  }
  const { left, right } = parseWindow(w);
  const global = g ? { globalTokens: g } : {};
  m.encoderAttention = { window: { left, right }, ...global };
  if (m.decoderAttention !== 'mixed') m.decoderSelfAttention = { window: { left }, ...global };
}
