// Logits processors and sampling warpers, in Hugging Face's order and with its semantics, each on
// one row of `vocab` scores in place. `history` is the row's decoder input so far: the start
// token, then every generated token (Hugging Face's decoder input_ids, which the repetition
// penalty and the n-gram ban read including the start token).
import type { ResolvedOptions } from './options.js';

/**
 * Repetition penalty, n-gram ban, suppressed tokens, minimum length, forced EOS at the last token:
 * applied to logits (greedy, sampling) or log-probs (beam).
 */
export function processRow(row: Float32Array, history: ArrayLike<number>, generated: number, o: ResolvedOptions, eosId: number): void {
  if (o.repetitionPenalty !== 1) repetitionPenalty(row, history, o.repetitionPenalty);
  if (o.noRepeatNgramSize > 0) banRepeatedNgrams(row, history, o.noRepeatNgramSize);
  for (const t of o.suppressTokens) row[t] = -Infinity;
  if (generated < o.minNewTokens) row[eosId] = -Infinity;
  if (o.forceFirstToken !== null && generated === 0) {
    row.fill(-Infinity);
    row[o.forceFirstToken] = 0;
  }
  if (o.forceEos && generated === o.maxNewTokens - 1) {
    row.fill(-Infinity);
    row[eosId] = 0;
  }
}

/** CTRL's penalty as Hugging Face applies it: once per distinct token seen, x < 0 ? x * p : x / p. */
export function repetitionPenalty(row: Float32Array, history: ArrayLike<number>, p: number): void {
  const seen = new Set<number>();
  for (let i = 0; i < history.length; ++i) {
    const t = history[i]!;
    if (seen.has(t)) continue;
    seen.add(t);
    const x = row[t]!;
    row[t] = x < 0 ? x * p : x / p;
  }
}

/** Forbids every token that would complete an n-gram already in history. */
export function banRepeatedNgrams(row: Float32Array, history: ArrayLike<number>, n: number): void {
  const len = history.length;
  if (len + 1 < n) return;
  const start = len - n + 1;  // the last n - 1 tokens: the prefix the next token would complete
  for (let i = 0; i + n <= len; ++i) {
    let same = true;
    for (let j = 0; j < n - 1 && same; ++j) same = history[i + j] === history[start + j];
    if (same) row[history[i + n - 1]!] = -Infinity;
  }
}

/** Temperature, top-k, top-p (the sampling warpers, in Hugging Face's order). */
export function warpRow(row: Float32Array, o: ResolvedOptions): void {
  if (o.temperature !== 1) for (let i = 0; i < row.length; ++i) row[i]! /= o.temperature;
  if (o.topK > 0 && o.topK < row.length) topK(row, o.topK);
  if (o.topP < 1) topP(row, o.topP);
}

/** Keeps every score >= the k-th largest (ties with it stay, as Hugging Face's threshold does). */
function topK(row: Float32Array, k: number): void {
  const sorted = Float32Array.from(row).sort();
  const threshold = sorted[row.length - k]!;
  for (let i = 0; i < row.length; ++i) if (row[i]! < threshold) row[i] = -Infinity;
}

/**
 * Nucleus filtering as Hugging Face does it: in ascending order of score, drop tokens while the
 * cumulative probability stays <= 1 - p; the most likely token always stays.
 */
function topP(row: Float32Array, p: number): void {
  const order = Array.from(row.keys()).sort((a, b) => (row[a]! - row[b]!) || (a - b));
  const probs = softmax64(row);
  let cum = 0;
  for (let n = 0; n < order.length - 1; ++n) {
    cum += probs[order[n]!]!;
    if (cum > 1 - p) break;
    row[order[n]!] = -Infinity;
  }
}

/** log(sum(exp(row))) in double precision; -Infinity when every entry is. */
export function logSumExp(row: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; ++i) if (row[i]! > m) m = row[i]!;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < row.length; ++i) s += Math.exp(row[i]! - m);
  return m + Math.log(s);
}

export function softmax64(row: ArrayLike<number>): Float64Array {
  const lse = logSumExp(row), p = new Float64Array(row.length);
  if (lse === -Infinity) return p;
  for (let i = 0; i < row.length; ++i) p[i] = Math.exp(row[i]! - lse);
  return p;
}

/** Index of the largest score (the first on ties), as the argmax kernel. */
export function argmaxRow(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; ++i) if (row[i]! > row[best]!) best = i;
  return best;
}
