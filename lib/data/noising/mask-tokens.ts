// Giving a tokenizer the tokens of masked-token pretraining: <mask> and the T5 sentinels
// <extra_id_0>, <extra_id_1>, .... They are appended at the end of the vocabulary, so every
// existing id keeps its meaning (a model's embedding rows, a saved dataset), and they are special:
// never produced by encoding text, left out by decode({ skipSpecial: true }). A tokenizer that
// already has them keeps their ids; a Hugging Face BPE tokenizer's own <mask> (RoBERTa, BART) is
// used as it is.
import { CharTokenizer } from '../char.js';
import { ByteLevelBpeTokenizer } from '../hf-bpe.js';
import { tokenizerFromJSON } from '../load-tokenizer.js';
import type { TokenizerJSON } from '../tokenizer.js';
import { WordTokenizer } from '../word.js';

export interface MaskTokenOptions {
  /** Add `<mask>` (when missing). Default true. */
  mask?: boolean;
  /** Have at least this many sentinels `<extra_id_0>` ... (T5 uses 100). Default 0. */
  sentinels?: number;
}

export const MASK_TOKEN = '<mask>';
export const sentinelToken = (k: number): string => `<extra_id_${k}>`;

function checkOptions(o: MaskTokenOptions): { mask: boolean; sentinels: number } {
  const sentinels = o.sentinels ?? 0;
  if (!Number.isInteger(sentinels) || sentinels < 0 || sentinels > 10_000) {
    throw new RangeError(`sentinels: expected an integer in [0, 10000], got ${String(sentinels)}`);
  }
  const mask = o.mask ?? true;
  if (typeof mask !== 'boolean') throw new TypeError(`mask: expected a boolean, got ${String(mask)}`);
  return { mask, sentinels };
}

function extendJson(j: TokenizerJSON, o: { mask: boolean; sentinels: number }): TokenizerJSON {
  const vocab = [...j.vocab];
  const taken = new Set(vocab);
  const add = (token: string): number => {
    if (taken.has(token)) throw new RangeError(`tokenizer: '${token}' is already a token of this vocabulary but not its mask or sentinel`);
    taken.add(token);
    vocab.push(token);
    return vocab.length - 1;
  };
  const maskId = j.maskId ?? (o.mask ? add(MASK_TOKEN) : undefined);
  const sentinelIds = [...(j.sentinelIds ?? [])];
  for (let k = sentinelIds.length; k < o.sentinels; k++) sentinelIds.push(add(sentinelToken(k)));
  return {
    ...j, vocab, ...(maskId !== undefined ? { maskId } : {}), ...(sentinelIds.length > 0 ? { sentinelIds } : {}),
  };
}

/** The tokenizer with `<mask>` and sentinels appended after its last id (existing ids unchanged). */
export function withMaskTokens(tokenizer: CharTokenizer, options?: MaskTokenOptions): CharTokenizer;
export function withMaskTokens(tokenizer: WordTokenizer, options?: MaskTokenOptions): WordTokenizer;
export function withMaskTokens(tokenizer: ByteLevelBpeTokenizer, options?: MaskTokenOptions): ByteLevelBpeTokenizer;
export function withMaskTokens(tokenizer: CharTokenizer | WordTokenizer, options?: MaskTokenOptions): CharTokenizer | WordTokenizer;
export function withMaskTokens(tokenizer: CharTokenizer | WordTokenizer | ByteLevelBpeTokenizer, options?: MaskTokenOptions): CharTokenizer | WordTokenizer | ByteLevelBpeTokenizer;
export function withMaskTokens(tokenizer: CharTokenizer | WordTokenizer | ByteLevelBpeTokenizer, options: MaskTokenOptions = {}): CharTokenizer | WordTokenizer | ByteLevelBpeTokenizer {
  const o = checkOptions(options);
  if (tokenizer instanceof CharTokenizer || tokenizer instanceof WordTokenizer) {
    return tokenizerFromJSON(extendJson(tokenizer.toJSON(), o)) as CharTokenizer | WordTokenizer;
  }
  if (tokenizer instanceof ByteLevelBpeTokenizer) {
    const have = tokenizer.sentinelIds.length;
    const add = [...(o.mask && tokenizer.maskId === undefined ? [MASK_TOKEN] : [])];
    for (let k = have; k < o.sentinels; k++) add.push(sentinelToken(k));
    return add.length === 0 ? tokenizer : tokenizer.withSpecialTokens(add);
  }
  throw new TypeError('tokenizer: expected a CharTokenizer, WordTokenizer or ByteLevelBpeTokenizer (a Marian tokenizer has no <mask>; not supported)');
}
