// One entry point over the three objectives: check the options once (an unknown objective, a rate
// outside [0, 1], a tokenizer without <mask> or sentinels fail here, before any data is built),
// then turn one clean sequence into a seq2seq example for the encoder-decoder model.
//
// How each objective meets DESIGN.md's model contract (collate adds BOS to the decoder input and
// EOS to the labels):
// - 'infill' (BART): src = noised text + EOS, tgt = the original.
// - 'span' (T5): src = text with sentinels + EOS, tgt = the sentinels and their spans.
// - 'mlm' (BERT): src = noised text + EOS, tgt = the original; the labels are the original only at
//   the chosen positions (ignoreIndex elsewhere, and at the final EOS). Label t is token t of the
//   original, and the causal decoder at t has read only tokens < t of it, so the loss asks the
//   model to recover each chosen token from the noised source and the clean left context: BERT's
//   loss on an encoder-decoder, with nothing scored at positions that were not chosen.
import type { Seq2SeqExample } from '../batching.js';
import type { Rng } from '../rng.js';
import { resolveInfillOptions, infillNoise, type InfillOptions, type ResolvedInfillOptions } from './infill.js';
import { resolveMlmOptions, mlmNoise, type MlmOptions, type ResolvedMlmOptions } from './mlm.js';
import { requireMaskId, type NoisingVocab } from './shared.js';
import { resolveSpanOptions, spanNoise, type ResolvedSpanOptions, type SpanOptions } from './span.js';

export type NoisingObjective = 'mlm' | 'infill' | 'span';
export const NOISING_OBJECTIVES: readonly NoisingObjective[] = ['mlm', 'infill', 'span'];

export type NoisingOptions = MlmOptions | InfillOptions | SpanOptions;
export type ResolvedNoisingOptions = ResolvedMlmOptions | ResolvedInfillOptions | ResolvedSpanOptions;

/** Check the options of an objective against a vocabulary; returns them with defaults filled in. */
export function resolveNoising(options: NoisingOptions, vocab: NoisingVocab): ResolvedNoisingOptions {
  const v: unknown = options;
  if (typeof v !== 'object' || v === null) throw new TypeError('noising: expected an object with an objective');
  const objective = (v as { objective?: unknown }).objective;
  switch (objective) {
    case 'mlm': requireMaskId(vocab, 'mlm'); return resolveMlmOptions(options as MlmOptions);
    case 'infill': requireMaskId(vocab, 'infill'); return resolveInfillOptions(options as InfillOptions);
    case 'span': {
      const r = resolveSpanOptions(options as SpanOptions);
      if ((vocab.sentinelIds ?? []).length === 0) {
        throw new TypeError("tokenizer: objective 'span' needs sentinel tokens <extra_id_0>, ... and this tokenizer has none (add them with withMaskTokens(tokenizer, { sentinels: 100 }))");
      }
      return r;
    }
    default:
      throw new TypeError(`noising.objective: expected ${NOISING_OBJECTIVES.map((o) => `'${o}'`).join(', ')}, got ${JSON.stringify(objective)}`);
  }
}

/** What a noised example needs besides the noising options. */
export interface NoiseExampleOptions {
  /** End the source with this id (EOS), as encodePairs does; omit for no end token. */
  sourceEos?: number;
}

function withEos(ids: Int32Array, eos: number | undefined): Int32Array {
  if (eos === undefined) return ids;
  const out = new Int32Array(ids.length + 1);
  out.set(ids);
  out[ids.length] = eos;
  return out;
}

/** One seq2seq example from a clean sequence (no BOS/EOS), drawing from `rng`. */
export function noiseExample(ids: Int32Array, vocab: NoisingVocab, o: ResolvedNoisingOptions, rng: Rng,
  extra: NoiseExampleOptions = {}): Seq2SeqExample {
  switch (o.objective) {
    case 'mlm': {
      const r = mlmNoise(ids, vocab, rng, o);
      const labels = new Int32Array(ids.length + 1).fill(o.ignoreIndex);
      labels.set(r.labels);
      return { src: withEos(r.input, extra.sourceEos), tgt: ids.slice(), labels };
    }
    case 'infill': {
      const r = infillNoise(ids, vocab, rng, o);
      return { src: withEos(r.input, extra.sourceEos), tgt: r.target };
    }
    case 'span': {
      const r = spanNoise(ids, vocab, rng, o);
      return { src: withEos(r.input, extra.sourceEos), tgt: r.target };
    }
  }
}
