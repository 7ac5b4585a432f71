// What the character and word tokenizers share: the vocabulary with its four special tokens,
// building it from counts, encode/decode over ids, and the versioned JSON form with validation.
// A subclass only says how text splits into tokens and how tokens join back.

/** The strings of the special tokens (they appear in decoded text when not skipped). */
export interface SpecialTokens {
  pad: string;
  bos: string;
  eos: string;
  unk: string;
}

/** The ids of the special tokens. Default pad 0, bos 1, eos 2, unk 3. */
export interface SpecialIds {
  pad: number;
  bos: number;
  eos: number;
  unk: number;
}

export const DEFAULT_SPECIAL_TOKENS: Readonly<SpecialTokens> = Object.freeze({
  pad: '<pad>', bos: '<s>', eos: '</s>', unk: '<unk>',
});
export const DEFAULT_SPECIAL_IDS: Readonly<SpecialIds> = Object.freeze({ pad: 0, bos: 1, eos: 2, unk: 3 });

const SPECIAL_KEYS = ['pad', 'bos', 'eos', 'unk'] as const;
type SpecialKey = (typeof SPECIAL_KEYS)[number];

/** Options of `fromTexts`: how the vocabulary is built from a corpus. */
export interface TokenizerBuildOptions {
  /** Keep tokens seen at least this often (default 1). Rarer ones encode to UNK. */
  minFreq?: number;
  /** Upper bound on `vocabSize`, the four specials included; the most frequent tokens win. */
  maxVocab?: number;
  /** Lower-case text before counting and before encoding (stored in the JSON). Default false. */
  lowercase?: boolean;
  specialTokens?: Partial<SpecialTokens>;
  specialIds?: Partial<SpecialIds>;
}

export interface EncodeOptions {
  /** Put BOS first. Default false. */
  addBos?: boolean;
  /** Put EOS last. Default false. */
  addEos?: boolean;
}

export interface DecodeOptions {
  /**
   * Leave out PAD, BOS and EOS (and `<mask>` and sentinels, when the tokenizer has them). Default false. UNK is kept (as its token string): it stands for
   * real text that the vocabulary lacked, and dropping it would hide that.
   */
  skipSpecial?: boolean;
}

export type TokenizerType = 'char' | 'word';

/** The JSON form written by `toJSON()`; `version` changes when the layout does. */
export interface TokenizerJSON {
  format: 'attnode-tokenizer';
  version: 1;
  type: TokenizerType;
  lowercase: boolean;
  specialIds: SpecialIds;
  /** Every token by id, the specials included at their ids. */
  vocab: string[];
  /**
   * Id of the `<mask>` token of masked-token pretraining (lib/data/noising), when the tokenizer
   * has one. Optional: files written before masking existed load as before.
   */
  maskId?: number;
  /** Ids of the T5 sentinels `<extra_id_0>`, `<extra_id_1>`, ... in order, when it has them. */
  sentinelIds?: number[];
}

/** The noising tokens a VocabTokenizer may carry besides its four specials. */
export interface MaskTokenIds {
  mask?: number;
  sentinels?: readonly number[];
}

export const TOKENIZER_JSON_VERSION = 1;

/** The surface decoders, trainers and the CLI rely on, whatever the tokenizer. */
export interface Tokenizer {
  readonly type: TokenizerType;
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  /** Split text into tokens (after lower-casing when configured), before id lookup. */
  tokenize(text: string): string[];
  encode(text: string, options?: EncodeOptions): Int32Array;
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  idToToken(id: number): string;
  /** The id of a regular token, or undefined (special tokens are not looked up from text). */
  tokenToId(token: string): number | undefined;
  isSpecial(id: number): boolean;
  toJSON(): TokenizerJSON;
  /** Id of `<mask>` (lib/data/noising: withMaskTokens adds one), or undefined. */
  readonly maskId?: number | undefined;
  /** Ids of the sentinels `<extra_id_0>`, ... in order (empty or absent when there are none). */
  readonly sentinelIds?: readonly number[];
}

function checkCount(name: string, v: number | undefined, min: number): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name}: expected an integer >= ${min}, got ${String(v)}`);
}

/** Resolve and check special ids and strings given to `fromTexts`. */
export function resolveSpecials(options: TokenizerBuildOptions): { tokens: SpecialTokens; ids: SpecialIds } {
  const tokens: SpecialTokens = { ...DEFAULT_SPECIAL_TOKENS, ...options.specialTokens };
  const ids: SpecialIds = { ...DEFAULT_SPECIAL_IDS, ...options.specialIds };
  const seenIds = new Map<number, SpecialKey>();
  const seenTokens = new Map<string, SpecialKey>();
  for (const k of SPECIAL_KEYS) {
    const id = ids[k];
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`specialIds.${k}: expected an integer >= 0, got ${String(id)}`);
    const other = seenIds.get(id);
    if (other !== undefined) throw new RangeError(`specialIds.${k}: id ${id} is already used by ${other}`);
    seenIds.set(id, k);
    const tok = tokens[k];
    if (typeof tok !== 'string' || tok.length === 0) throw new TypeError(`specialTokens.${k}: expected a non-empty string`);
    const otherTok = seenTokens.get(tok);
    if (otherTok !== undefined) throw new RangeError(`specialTokens.${k}: '${tok}' is already used by ${otherTok}`);
    seenTokens.set(tok, k);
  }
  return { tokens, ids };
}

/**
 * Lay out a vocabulary: the specials at their ids, the regular tokens (most frequent first, ties
 * in code-unit order so the result never depends on corpus order) in the free ids in turn.
 */
export function buildVocab(counts: ReadonlyMap<string, number>, options: TokenizerBuildOptions): {
  vocab: string[]; ids: SpecialIds;
} {
  checkCount('minFreq', options.minFreq, 1);
  checkCount('maxVocab', options.maxVocab, SPECIAL_KEYS.length);
  const { tokens, ids } = resolveSpecials(options);
  const minFreq = options.minFreq ?? 1;
  const specialStrings = new Set(Object.values(tokens));
  const kept = [...counts].filter(([tok, n]) => n >= minFreq && !specialStrings.has(tok));
  kept.sort((a, b) => (b[1] - a[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const room = options.maxVocab === undefined ? kept.length : Math.min(kept.length, options.maxVocab - SPECIAL_KEYS.length);
  const size = SPECIAL_KEYS.length + room;
  const vocab = new Array<string>(size);
  for (const k of SPECIAL_KEYS) {
    if (ids[k] >= size) {
      throw new RangeError(`specialIds.${k}: id ${ids[k]} is outside the vocabulary of ${size} tokens built from the texts`);
    }
    vocab[ids[k]] = tokens[k];
  }
  let next = 0;
  for (let i = 0; i < room; i++) {
    while (vocab[next] !== undefined) next++;
    vocab[next] = (kept[i] as [string, number])[0];
  }
  return { vocab, ids };
}

/** Parse and validate a tokenizer JSON value (or its text); errors name the offending field. */
export function parseTokenizerJSON(json: unknown, expectedType?: TokenizerType): TokenizerJSON {
  let v = json;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v) as unknown;
    } catch (e) {
      throw new SyntaxError(`tokenizer JSON: not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('tokenizer JSON: expected an object');
  const o = v as Record<string, unknown>;
  if (o.format !== 'attnode-tokenizer') {
    throw new TypeError(`tokenizer JSON field 'format': expected 'attnode-tokenizer', got ${JSON.stringify(o.format)}`);
  }
  if (o.version !== TOKENIZER_JSON_VERSION) {
    throw new RangeError(`tokenizer JSON field 'version': this attnode reads version ${TOKENIZER_JSON_VERSION}, got ${JSON.stringify(o.version)}`);
  }
  if (o.type !== 'char' && o.type !== 'word') {
    throw new TypeError(`tokenizer JSON field 'type': expected 'char' or 'word', got ${JSON.stringify(o.type)}`);
  }
  if (expectedType !== undefined && o.type !== expectedType) {
    throw new TypeError(`tokenizer JSON field 'type': expected '${expectedType}', got '${o.type}'`);
  }
  if (typeof o.lowercase !== 'boolean') throw new TypeError("tokenizer JSON field 'lowercase': expected a boolean");
  const vocab = o.vocab;
  if (!Array.isArray(vocab)) throw new TypeError("tokenizer JSON field 'vocab': expected an array of strings");
  const seen = new Map<string, number>();
  for (let i = 0; i < vocab.length; i++) {
    const t: unknown = vocab[i];
    if (typeof t !== 'string' || t.length === 0) throw new TypeError(`tokenizer JSON field 'vocab[${i}]': expected a non-empty string`);
    const prev = seen.get(t);
    if (prev !== undefined) throw new RangeError(`tokenizer JSON field 'vocab[${i}]': '${t}' repeats vocab[${prev}]`);
    seen.set(t, i);
  }
  const sid = o.specialIds;
  if (typeof sid !== 'object' || sid === null) throw new TypeError("tokenizer JSON field 'specialIds': expected an object");
  const ids = sid as Record<string, unknown>;
  const used = new Set<number>();
  for (const k of SPECIAL_KEYS) {
    const id = ids[k];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocab.length) {
      throw new RangeError(`tokenizer JSON field 'specialIds.${k}': expected an integer in [0, ${vocab.length}), got ${JSON.stringify(id)}`);
    }
    if (used.has(id)) throw new RangeError(`tokenizer JSON field 'specialIds.${k}': id ${id} is used twice`);
    used.add(id);
  }
  const specialIds: SpecialIds = { pad: ids.pad as number, bos: ids.bos as number, eos: ids.eos as number, unk: ids.unk as number };
  const extra = parseMaskTokenIds(o, vocab.length, used);
  return {
    format: 'attnode-tokenizer', version: 1, type: o.type, lowercase: o.lowercase,
    specialIds, vocab: vocab as string[],
    ...(extra.mask !== undefined ? { maskId: extra.mask } : {}),
    ...(extra.sentinels !== undefined ? { sentinelIds: [...extra.sentinels] } : {}),
  };
}

/** The optional maskId / sentinelIds fields: in range and distinct from every other special id. */
function parseMaskTokenIds(o: Record<string, unknown>, size: number, used: Set<number>): MaskTokenIds {
  const checkId = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= size) {
      throw new RangeError(`tokenizer JSON field '${field}': expected an integer in [0, ${size}), got ${JSON.stringify(v)}`);
    }
    if (used.has(v)) throw new RangeError(`tokenizer JSON field '${field}': id ${v} is used twice`);
    used.add(v);
    return v;
  };
  const out: { mask?: number; sentinels?: number[] } = {};
  if (o.maskId !== undefined) out.mask = checkId(o.maskId, 'maskId');
  if (o.sentinelIds !== undefined) {
    if (!Array.isArray(o.sentinelIds)) throw new TypeError("tokenizer JSON field 'sentinelIds': expected an array of ids");
    out.sentinels = o.sentinelIds.map((v: unknown, i: number) => checkId(v, `sentinelIds[${i}]`));
  }
  return out;
}

/** A tokenizer over a fixed vocabulary; subclasses define splitting and joining. */
export abstract class VocabTokenizer implements Tokenizer {
  abstract readonly type: TokenizerType;
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly lowercase: boolean;
  readonly maskId: number | undefined;
  readonly sentinelIds: readonly number[];
  private readonly vocab: readonly string[];
  private readonly lookup: ReadonlyMap<string, number>;
  private readonly special: Uint8Array;

  protected constructor(vocab: readonly string[], ids: SpecialIds, lowercase: boolean, extra: MaskTokenIds = {}) {
    this.vocab = Object.freeze([...vocab]);
    this.vocabSize = vocab.length;
    this.padId = ids.pad;
    this.bosId = ids.bos;
    this.eosId = ids.eos;
    this.unkId = ids.unk;
    this.lowercase = lowercase;
    this.maskId = extra.mask;
    this.sentinelIds = Object.freeze([...(extra.sentinels ?? [])]);
    this.special = new Uint8Array(vocab.length);
    for (const id of [ids.pad, ids.bos, ids.eos, ids.unk, ...(extra.mask !== undefined ? [extra.mask] : []), ...this.sentinelIds]) {
      this.special[id] = 1;
    }
    // Specials are left out of the lookup: text that spells "</s>" must not inject an EOS.
    const lookup = new Map<string, number>();
    vocab.forEach((t, id) => { if (this.special[id] === 0) lookup.set(t, id); });
    this.lookup = lookup;
  }

  /** Split already-normalised text into tokens. */
  protected abstract split(text: string): string[];
  /** Join tokens back into text. */
  protected abstract join(tokens: readonly string[]): string;

  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw new TypeError(`text: expected a string, got ${typeof text}`);
    return this.split(this.lowercase ? text.toLowerCase() : text);
  }

  encode(text: string, options: EncodeOptions = {}): Int32Array {
    const toks = this.tokenize(text);
    const bos = options.addBos === true ? 1 : 0;
    const out = new Int32Array(bos + toks.length + (options.addEos === true ? 1 : 0));
    if (bos) out[0] = this.bosId;
    for (let i = 0; i < toks.length; i++) out[bos + i] = this.lookup.get(toks[i] as string) ?? this.unkId;
    if (options.addEos === true) out[out.length - 1] = this.eosId;
    return out;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecial === true;
    const toks: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const tok = this.idToTokenAt(id, `ids[${i}]`);
      if (skip && this.special[id] === 1 && id !== this.unkId) continue;
      toks.push(tok);
    }
    return this.join(toks);
  }

  idToToken(id: number): string {
    return this.idToTokenAt(id, 'id');
  }

  tokenToId(token: string): number | undefined {
    return this.lookup.get(token);
  }

  isSpecial(id: number): boolean {
    return this.special[id] === 1;
  }

  toJSON(): TokenizerJSON {
    return {
      format: 'attnode-tokenizer', version: 1, type: this.type, lowercase: this.lowercase,
      specialIds: { pad: this.padId, bos: this.bosId, eos: this.eosId, unk: this.unkId },
      vocab: [...this.vocab],
      ...(this.maskId !== undefined ? { maskId: this.maskId } : {}),
      ...(this.sentinelIds.length > 0 ? { sentinelIds: [...this.sentinelIds] } : {}),
    };
  }

  private idToTokenAt(id: number, name: string): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`${name}: expected a token id in [0, ${this.vocabSize}), got ${id}`);
    }
    return this.vocab[id] as string;
  }
}
