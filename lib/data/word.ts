// Word-level tokenizer with a simple split: runs of letters, marks and digits are words, and every
// other non-space character is a token of its own ("March 3rd, 2021" -> March | 3rd | , | 2021).
// Whitespace is not kept, so decode() re-inserts spaces by English punctuation rules; that is
// exact for conventionally spaced text and best effort otherwise (see spaceBefore()).
import {
  VocabTokenizer, buildVocab, parseTokenizerJSON,
  type MaskTokenIds, type SpecialIds, type TokenizerBuildOptions, type TokenizerJSON,
} from './tokenizer.js';

const TOKEN_RE = /[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]/gu;
const DIGITS_RE = /^\p{N}+$/u;
/** No space before these (closing punctuation). */
const ATTACH_LEFT = new Set(['.', ',', '!', '?', ';', ':', ')', ']', '}', '%', '…']);
/** No space after these (opening brackets). */
const ATTACH_RIGHT = new Set(['(', '[', '{']);
/** No space on either side: "3-Mar-2021", "03/03/2021", "don't". */
const ATTACH_BOTH = new Set(['-', '/', "'", '’', '_']);

/** Split text the way WordTokenizer does (exported for tests and for users' own counting). */
export function splitWords(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

export class WordTokenizer extends VocabTokenizer {
  readonly type = 'word' as const;

  private constructor(vocab: readonly string[], ids: SpecialIds, lowercase: boolean, extra: MaskTokenIds = {}) {
    super(vocab, ids, lowercase, extra);
  }

  /** Build the vocabulary from the words of `texts`. */
  static fromTexts(texts: Iterable<string>, options: TokenizerBuildOptions = {}): WordTokenizer {
    const lowercase = options.lowercase === true;
    const counts = new Map<string, number>();
    let i = 0;
    for (const raw of texts) {
      if (typeof raw !== 'string') throw new TypeError(`texts[${i}]: expected a string, got ${typeof raw}`);
      for (const w of splitWords(lowercase ? raw.toLowerCase() : raw)) counts.set(w, (counts.get(w) ?? 0) + 1);
      i++;
    }
    const { vocab, ids } = buildVocab(counts, options);
    return new WordTokenizer(vocab, ids, lowercase);
  }

  /** Load what `toJSON()` wrote (an object or its JSON text); throws naming a bad field. */
  static fromJSON(json: unknown): WordTokenizer {
    const j: TokenizerJSON = parseTokenizerJSON(json, 'word');
    const special = new Set([...Object.values(j.specialIds), ...(j.maskId !== undefined ? [j.maskId] : []), ...(j.sentinelIds ?? [])]);
    j.vocab.forEach((t, id) => {
      if (special.has(id)) return;
      const one = splitWords(t);
      if (one.length !== 1 || one[0] !== t) {
        throw new TypeError(`tokenizer JSON field 'vocab[${id}]': '${t}' is not a single word or punctuation token`);
      }
    });
    return new WordTokenizer(j.vocab, j.specialIds, j.lowercase, {
      ...(j.maskId !== undefined ? { mask: j.maskId } : {}), ...(j.sentinelIds ? { sentinels: j.sentinelIds } : {}),
    });
  }

  protected split(text: string): string[] {
    return splitWords(text);
  }

  protected join(tokens: readonly string[]): string {
    let out = '';
    for (let i = 0; i < tokens.length; i++) {
      if (i > 0 && spaceBefore(tokens, i)) out += ' ';
      out += tokens[i] as string;
    }
    return out;
  }
}

/** Whether decode() puts a space between tokens[i - 1] and tokens[i]. */
function spaceBefore(tokens: readonly string[], i: number): boolean {
  const prev = tokens[i - 1] as string;
  const cur = tokens[i] as string;
  if (ATTACH_LEFT.has(cur) || ATTACH_BOTH.has(cur) || ATTACH_RIGHT.has(prev) || ATTACH_BOTH.has(prev)) return false;
  // A '.' between digits is a decimal point or a dotted date ("2021.3.3"): no space after it either.
  if (prev === '.' && i >= 2 && DIGITS_RE.test(cur) && DIGITS_RE.test(tokens[i - 2] as string)) return false;
  return true;
}
