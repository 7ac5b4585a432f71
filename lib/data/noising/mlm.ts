// BERT's masked language model noise (Devlin et al., 2019): each token is chosen with
// probability maskRate (15%); a chosen token becomes <mask> with probability maskTokenRate (80%),
// a random token with probability randomTokenRate (10%: never a special token), and stays as it
// is otherwise (10%). Only chosen positions get a label, so the loss reads nothing else.
// Choosing each token independently (as Hugging Face's DataCollatorForLanguageModeling and
// RoBERTa do) keeps the rate exact in expectation at every length, short dates included.
import type { Rng } from '../rng.js';
import { DEFAULT_IGNORE_INDEX } from '../seq2seq.js';
import { checkKnownKeys, checkRate, checkTokenIds, randomTokenPool, requireMaskId, type NoisingVocab } from './shared.js';

export interface MlmOptions {
  objective: 'mlm';
  /** Share of tokens chosen for prediction. Default 0.15. */
  maskRate?: number;
  /** Of the chosen tokens, the share replaced by <mask>. Default 0.8. */
  maskTokenRate?: number;
  /** Of the chosen tokens, the share replaced by a random non-special token. Default 0.1. */
  randomTokenRate?: number;
  /** Label of positions that were not chosen. Default -100. */
  ignoreIndex?: number;
}

export type ResolvedMlmOptions = Required<MlmOptions>;

export interface MlmResult {
  /** The noised ids, as long as the input. */
  input: Int32Array;
  /** The original id at chosen positions, ignoreIndex elsewhere; as long as the input. */
  labels: Int32Array;
  /** How many positions were chosen. */
  chosen: number;
}

const KEYS = ['objective', 'maskRate', 'maskTokenRate', 'randomTokenRate', 'ignoreIndex'] as const;

export function resolveMlmOptions(o: MlmOptions): ResolvedMlmOptions {
  checkKnownKeys(o, KEYS, 'mlm');
  const r: ResolvedMlmOptions = {
    objective: 'mlm',
    maskRate: checkRate('noising.maskRate', o.maskRate ?? 0.15),
    maskTokenRate: checkRate('noising.maskTokenRate', o.maskTokenRate ?? 0.8),
    randomTokenRate: checkRate('noising.randomTokenRate', o.randomTokenRate ?? 0.1),
    ignoreIndex: o.ignoreIndex ?? DEFAULT_IGNORE_INDEX,
  };
  if (r.maskTokenRate + r.randomTokenRate > 1) {
    throw new RangeError(`noising.randomTokenRate: maskTokenRate + randomTokenRate must be at most 1, got ${r.maskTokenRate} + ${r.randomTokenRate}`);
  }
  if (!Number.isInteger(r.ignoreIndex)) throw new TypeError(`noising.ignoreIndex: expected an integer, got ${String(r.ignoreIndex)}`);
  return r;
}

/** Noise `ids` (a sequence without BOS/EOS) the BERT way, drawing from `rng`. */
export function mlmNoise(ids: Int32Array, vocab: NoisingVocab, rng: Rng, options: MlmOptions | ResolvedMlmOptions): MlmResult {
  checkTokenIds(ids);
  const o = resolveMlmOptions(options);
  const mask = requireMaskId(vocab, 'mlm');
  const pool = o.randomTokenRate > 0 ? randomTokenPool(vocab) : new Int32Array(0);
  if (o.randomTokenRate > 0 && pool.length === 0) throw new RangeError('tokenizer: every id is special, so mlm has no random token to draw (set randomTokenRate: 0)');
  const input = ids.slice();
  const labels = new Int32Array(ids.length).fill(o.ignoreIndex);
  let chosen = 0;
  for (let i = 0; i < ids.length; i++) {
    if (rng.nextFloat() >= o.maskRate) continue;
    chosen++;
    labels[i] = ids[i]!;
    const u = rng.nextFloat();
    if (u < o.maskTokenRate) input[i] = mask;
    else if (u < o.maskTokenRate + o.randomTokenRate) input[i] = pool[rng.int(pool.length)]!;
  }
  return { input, labels, chosen };
}
