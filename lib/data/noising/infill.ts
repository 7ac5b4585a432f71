// BART's noising (Lewis et al., 2020; fairseq's DenoisingDataset is the reference), in fairseq's
// order: sentence permutation, text infilling, token masking and deletion, document rotation.
// The model reads the noised text and is trained to write the original back.
//
// Text infilling: a budget of round(infillRate * n) tokens (rounded at random, so the expected
// share is exactly infillRate) is cut into spans whose lengths are drawn from Poisson(lambda)
// until they cover it (the last one trimmed to fit, as fairseq does); each span becomes one
// <mask>, and a span of length 0 inserts a <mask> between two tokens. The spans are laid out
// without overlap, uniformly over all arrangements, so the drawn lengths are what the text shows.
import type { Rng } from '../rng.js';
import {
  checkKnownKeys, checkPositiveNumber, checkRate, checkTokenIds, poisson, requireMaskId, sampleDistinct, type NoisingVocab,
} from './shared.js';

export interface InfillOptions {
  objective: 'infill';
  /** Share of tokens inside infilled spans. Default 0.3 (BART). */
  infillRate?: number;
  /** Mean span length (Poisson lambda). Default 3. */
  poissonLambda?: number;
  /** Share of the tokens outside spans replaced by <mask> one by one. Default 0. */
  tokenMaskRate?: number;
  /** Share of the tokens outside spans deleted (no <mask> marks where). Default 0. */
  deletionRate?: number;
  /** Share of the sentences that swap places among themselves. Default 0. */
  permuteRate?: number;
  /** Probability that the document is rotated to start at a random token. Default 0. */
  rotateRate?: number;
  /** Ids that end a sentence (e.g. '.', '!', '?'); without them a document is one sentence. */
  sentenceEndIds?: readonly number[];
}

export type ResolvedInfillOptions = Required<InfillOptions>;

/** One infilled span, in the coordinates of the (permuted) original. */
export interface InfillSpan {
  start: number;
  length: number;
}

export interface InfillResult {
  input: Int32Array;
  /** The original ids (the model writes them back). */
  target: Int32Array;
  /** The infilled spans, left to right (length 0: an inserted <mask>). */
  spans: InfillSpan[];
  /** Whether the document was rotated. */
  rotated: boolean;
}

const KEYS = ['objective', 'infillRate', 'poissonLambda', 'tokenMaskRate', 'deletionRate', 'permuteRate', 'rotateRate', 'sentenceEndIds'] as const;

export function resolveInfillOptions(o: InfillOptions): ResolvedInfillOptions {
  checkKnownKeys(o, KEYS, 'infill');
  const r: ResolvedInfillOptions = {
    objective: 'infill',
    infillRate: checkRate('noising.infillRate', o.infillRate ?? 0.3),
    poissonLambda: checkPositiveNumber('noising.poissonLambda', o.poissonLambda ?? 3),
    tokenMaskRate: checkRate('noising.tokenMaskRate', o.tokenMaskRate ?? 0),
    deletionRate: checkRate('noising.deletionRate', o.deletionRate ?? 0),
    permuteRate: checkRate('noising.permuteRate', o.permuteRate ?? 0),
    rotateRate: checkRate('noising.rotateRate', o.rotateRate ?? 0),
    sentenceEndIds: o.sentenceEndIds ?? [],
  };
  if (r.poissonLambda > 50) throw new RangeError(`noising.poissonLambda: expected at most 50, got ${r.poissonLambda}`);
  if (r.tokenMaskRate + r.deletionRate > 1) {
    throw new RangeError(`noising.deletionRate: tokenMaskRate + deletionRate must be at most 1, got ${r.tokenMaskRate} + ${r.deletionRate}`);
  }
  if (!Array.isArray(r.sentenceEndIds) || r.sentenceEndIds.some((v) => !Number.isInteger(v))) {
    throw new TypeError('noising.sentenceEndIds: expected an array of integer token ids');
  }
  return r;
}

/** fairseq's permute_sentences: ceil(permuteRate * sentences) sentences trade places at random. */
function permuteSentences(ids: Int32Array, ends: ReadonlySet<number>, rate: number, rng: Rng): Int32Array {
  const sentences: Int32Array[] = [];
  let start = 0;
  for (let i = 0; i < ids.length; i++) {
    if (ends.has(ids[i]!)) { sentences.push(ids.subarray(start, i + 1)); start = i + 1; }
  }
  if (start < ids.length) sentences.push(ids.subarray(start));
  const n = sentences.length;
  const k = Math.ceil(n * rate);
  if (n < 2 || k < 2) return ids.slice();
  const chosen = sampleDistinct(rng, n, k);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const moved = rng.shuffle(chosen.slice());
  chosen.forEach((pos, j) => { order[pos] = moved[j]!; });
  const out = new Int32Array(ids.length);
  let at = 0;
  for (const s of order) { out.set(sentences[s]!, at); at += sentences[s]!.length; }
  return out;
}

/** Span lengths covering exactly `budget` tokens (the last one trimmed), fairseq's way. */
function drawSpanLengths(budget: number, lambda: number, rng: Rng): number[] {
  const lengths: number[] = [];
  let sum = 0;
  while (sum < budget) {
    const l = poisson(rng, lambda);
    lengths.push(Math.min(l, budget - sum));
    sum += lengths[lengths.length - 1]!;
  }
  return lengths;
}

/** Noise `ids` (a document without BOS/EOS) the BART way; the target is the original. */
export function infillNoise(ids: Int32Array, vocab: NoisingVocab, rng: Rng, options: InfillOptions | ResolvedInfillOptions): InfillResult {
  checkTokenIds(ids);
  const o = resolveInfillOptions(options);
  const mask = requireMaskId(vocab, 'infill');
  const target = ids.slice();
  const doc = o.permuteRate > 0 && o.sentenceEndIds.length > 0 ? permuteSentences(ids, new Set(o.sentenceEndIds), o.permuteRate, rng) : ids;
  const n = doc.length;
  const exact = o.infillRate * n;
  const budget = Math.floor(exact) + (rng.nextFloat() < exact - Math.floor(exact) ? 1 : 0);
  // Shuffled, so the trimmed last span is not always the rightmost one.
  const lengths = budget > 0 ? rng.shuffle(drawSpanLengths(budget, o.poissonLambda, rng)) : [];
  // Lay out the spans among the n - budget kept tokens: choose which of the kept + spans slots hold
  // a span (uniform over arrangements); spans fill those slots in turn.
  const kept = n - budget;
  const slots = kept + lengths.length;
  const isSpan = new Uint8Array(slots);
  for (const s of sampleDistinct(rng, slots, lengths.length)) isSpan[s] = 1;
  const out: number[] = [];
  const spans: InfillSpan[] = [];
  let src = 0;
  let next = 0;
  for (let s = 0; s < slots; s++) {
    if (isSpan[s] === 1) {
      const length = lengths[next++]!;
      spans.push({ start: src, length });
      out.push(mask);
      src += length;
      continue;
    }
    const tok = doc[src++]!;
    if (o.tokenMaskRate > 0 || o.deletionRate > 0) {
      const u = rng.nextFloat();
      if (u < o.deletionRate) continue;
      if (u < o.deletionRate + o.tokenMaskRate) { out.push(mask); continue; }
    }
    out.push(tok);
  }
  let input = Int32Array.from(out);
  let rotated = false;
  if (o.rotateRate > 0 && input.length >= 2 && rng.nextFloat() < o.rotateRate) {
    const offset = 1 + rng.int(input.length - 1);
    const r = new Int32Array(input.length);
    r.set(input.subarray(offset), 0);
    r.set(input.subarray(0, offset), input.length - offset);
    input = r;
    rotated = true;
  }
  return { input, target, spans, rotated };
}
