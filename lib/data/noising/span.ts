// T5's span corruption (Raffel et al., 2020; t5.data.preprocessors.random_spans_noise_mask and
// span_corruption are the reference): round(noiseDensity * n) tokens (at least 1, and at most
// n - 1 unless noiseDensity is 1) in round(noise / meanSpanLength) spans; noise and kept tokens
// are each cut into that many non-empty runs at random and interleaved. The input keeps one
// sentinel <extra_id_k> in place of the k-th span; the target lists each sentinel followed by its
// span, and then one more sentinel (T5's final sentinel), e.g.
//   Thank you <X> me to your party <Y> week.   ->   <X> for inviting <Y> last <Z>
// With randomRoll (on by default; T5's random_roll option) the pattern is rotated by a random
// offset: without it a sequence never starts with a span and always ends with one.
import type { Rng } from '../rng.js';
import { checkKnownKeys, checkPositiveNumber, checkRate, checkTokenIds, sampleDistinct, type NoisingVocab } from './shared.js';

export interface SpanOptions {
  objective: 'span';
  /** Share of tokens dropped into spans. Default 0.15. */
  noiseDensity?: number;
  /** Mean span length. Default 3. */
  meanSpanLength?: number;
  /** Rotate the noise pattern by a random offset, so spans are as likely at the start as at the end. Default true. */
  randomRoll?: boolean;
}

export type ResolvedSpanOptions = Required<SpanOptions>;

export interface SpanResult {
  /** The kept tokens with one sentinel in place of each span. */
  input: Int32Array;
  /** Each sentinel followed by its span, then the final sentinel. */
  target: Int32Array;
  /** The spans, left to right, in the input's coordinates before replacement. */
  spans: { start: number; length: number }[];
}

const KEYS = ['objective', 'noiseDensity', 'meanSpanLength', 'randomRoll'] as const;

export function resolveSpanOptions(o: SpanOptions): ResolvedSpanOptions {
  checkKnownKeys(o, KEYS, 'span');
  const r: ResolvedSpanOptions = {
    objective: 'span',
    noiseDensity: checkRate('noising.noiseDensity', o.noiseDensity ?? 0.15),
    meanSpanLength: checkPositiveNumber('noising.meanSpanLength', o.meanSpanLength ?? 3),
    randomRoll: o.randomRoll ?? true,
  };
  if (typeof r.randomRoll !== 'boolean') throw new TypeError(`noising.randomRoll: expected a boolean, got ${String(r.randomRoll)}`);
  return r;
}

/** T5's _random_segmentation: `items` cut into `segments` non-empty runs, uniformly. */
function randomSegmentation(items: number, segments: number, rng: Rng): number[] {
  const cuts = Array.from(sampleDistinct(rng, items - 1, segments - 1), (c) => c + 1).sort((a, b) => a - b);
  const out: number[] = [];
  let prev = 0;
  for (const c of cuts) { out.push(c - prev); prev = c; }
  out.push(items - prev);
  return out;
}

/** Which of n positions are noise (1), T5's random_spans_noise_mask. */
export function spanNoiseMask(n: number, o: ResolvedSpanOptions, rng: Rng): Uint8Array {
  const mask = new Uint8Array(n);
  if (n === 0 || o.noiseDensity === 0) return mask;
  if (o.noiseDensity === 1) return mask.fill(1);
  if (n === 1) return mask;  // one token: T5's "at least 1, at most n - 1" leaves no room for noise
  const noise = Math.min(Math.max(Math.round(n * o.noiseDensity), 1), n - 1);
  const spans = Math.min(Math.max(Math.round(noise / o.meanSpanLength), 1), noise, n - noise);
  const noiseRuns = randomSegmentation(noise, spans, rng);
  const keptRuns = randomSegmentation(n - noise, spans, rng);
  let at = 0;
  for (let k = 0; k < spans; k++) {
    at += keptRuns[k]!;
    mask.fill(1, at, at + noiseRuns[k]!);
    at += noiseRuns[k]!;
  }
  if (!o.randomRoll) return mask;
  const offset = rng.int(n);
  const rolled = new Uint8Array(n);
  for (let i = 0; i < n; i++) rolled[(i + offset) % n] = mask[i]!;
  return rolled;
}

/** Corrupt `ids` (a sequence without BOS/EOS) the T5 way. */
export function spanNoise(ids: Int32Array, vocab: NoisingVocab, rng: Rng, options: SpanOptions | ResolvedSpanOptions): SpanResult {
  checkTokenIds(ids);
  const o = resolveSpanOptions(options);
  const sentinels = vocab.sentinelIds ?? [];
  if (sentinels.length === 0) {
    throw new TypeError("tokenizer: objective 'span' needs sentinel tokens <extra_id_0>, ... and this tokenizer has none (add them with withMaskTokens(tokenizer, { sentinels: 100 }))");
  }
  const noise = spanNoiseMask(ids.length, o, rng);
  const spans: { start: number; length: number }[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (noise[i] === 1 && (i === 0 || noise[i - 1] === 0)) spans.push({ start: i, length: 0 });
    if (noise[i] === 1) spans[spans.length - 1]!.length++;
  }
  if (spans.length + 1 > sentinels.length) {
    throw new RangeError(`tokenizer.sentinelIds: this sequence has ${spans.length} spans and needs ${spans.length + 1} sentinels, the tokenizer has ${sentinels.length}`);
  }
  const input: number[] = [];
  const target: number[] = [];
  let k = 0;
  for (let i = 0; i < ids.length; i++) {
    if (noise[i] === 0) { input.push(ids[i]!); continue; }
    if (i === 0 || noise[i - 1] === 0) {
      input.push(sentinels[k]!);
      target.push(sentinels[k]!);
      k++;
    }
    target.push(ids[i]!);
  }
  target.push(sentinels[k]!);
  return { input: Int32Array.from(input), target: Int32Array.from(target), spans };
}
