// Character-level tokenizer: one token per Unicode code point (so an emoji or a letter outside
// the BMP is one token, not two UTF-16 halves). Decoding concatenates, so encode/decode is
// lossless for every character in the vocabulary (after lower-casing when that is on).
import {
  VocabTokenizer, buildVocab, parseTokenizerJSON,
  type MaskTokenIds, type SpecialIds, type TokenizerBuildOptions, type TokenizerJSON,
} from './tokenizer.js';

export class CharTokenizer extends VocabTokenizer {
  readonly type = 'char' as const;

  private constructor(vocab: readonly string[], ids: SpecialIds, lowercase: boolean, extra: MaskTokenIds = {}) {
    super(vocab, ids, lowercase, extra);
  }

  /** Build the vocabulary from the characters of `texts`. */
  static fromTexts(texts: Iterable<string>, options: TokenizerBuildOptions = {}): CharTokenizer {
    const lowercase = options.lowercase === true;
    const counts = new Map<string, number>();
    let i = 0;
    for (const raw of texts) {
      if (typeof raw !== 'string') throw new TypeError(`texts[${i}]: expected a string, got ${typeof raw}`);
      const text = lowercase ? raw.toLowerCase() : raw;
      for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
      i++;
    }
    const { vocab, ids } = buildVocab(counts, options);
    return new CharTokenizer(vocab, ids, lowercase);
  }

  /** Load what `toJSON()` wrote (an object or its JSON text); throws naming a bad field. */
  static fromJSON(json: unknown): CharTokenizer {
    const j: TokenizerJSON = parseTokenizerJSON(json, 'char');
    const special = new Set([...Object.values(j.specialIds), ...(j.maskId !== undefined ? [j.maskId] : []), ...(j.sentinelIds ?? [])]);
    j.vocab.forEach((t, id) => {
      // A multi-character regular token could never be produced by split(): the file is wrong.
      if (!special.has(id) && [...t].length !== 1) {
        throw new TypeError(`tokenizer JSON field 'vocab[${id}]': a char tokenizer token must be one character, got '${t}'`);
      }
    });
    return new CharTokenizer(j.vocab, j.specialIds, j.lowercase, {
      ...(j.maskId !== undefined ? { mask: j.maskId } : {}), ...(j.sentinelIds ? { sentinels: j.sentinelIds } : {}),
    });
  }

  protected split(text: string): string[] {
    return Array.from(text);
  }

  protected join(tokens: readonly string[]): string {
    return tokens.join('');
  }
}
