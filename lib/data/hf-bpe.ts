/**
 * Byte-level BPE, the tokenizer of BART, RoBERTa and GPT-2, read from a Hugging Face tokenizer
 * folder: tokenizer.json (the `tokenizers` library's format) or vocab.json + merges.txt. Text is
 * split at special tokens, then by GPT-2's pre-tokenization pattern; each piece's UTF-8 bytes are
 * written as printable characters (bytes_to_unicode: a space is 'Ġ') and merged pair by pair in
 * the merges' rank order; the post-processor's special tokens (BART: <s> ... </s>) go around the
 * result. Every byte has a symbol, so decode(encode(text)) gives back the text. What is not
 * implemented (normalizers, other models, BPE dropout) is an error naming it, not an approximation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile as readJson } from '../io/json.js';
import { checkText } from './sentencepiece.js';

/**
 * Whitespace as the tokenizers library (Rust) sees it: Unicode White_Space. JavaScript's \s
 * differs (it has U+FEFF and lacks U+0085), so the class is spelled out.
 */
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** GPT-2's pre-tokenization: contractions, letters, digits, other symbols, each with an optional leading space; whitespace runs. */
const PRETOKENIZE = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`, 'gu');
const TRIM_WS = new RegExp(`^[${WS}]+|[${WS}]+$`, 'gu');

/** The pieces GPT-2's pre-tokenization cuts `text` into (exported for tests and for inspection). */
export function preTokenize(text: string): string[] {
  return Array.from(text.matchAll(PRETOKENIZE), (m) => m[0]);
}

/** GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 for U+0100.. in byte order. */
function byteSymbols(): { toChar: string[]; toByte: Map<string, number> } {
  const toChar: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; ++b) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    toChar[b] = String.fromCodePoint(printable ? b : next++);
  }
  return { toChar, toByte: new Map(toChar.map((c, b) => [c, b] as const)) };
}
const BYTES = byteSymbols();

export interface ByteLevelBpeOptions {
  /** token -> id. */
  vocab: ReadonlyMap<string, number>;
  /** Merge pairs, highest priority first. */
  merges: readonly (readonly [string, string])[];
  /** Special tokens matched in the input text before pre-tokenization (content -> id). */
  specialTokens?: ReadonlyMap<string, number>;
  /** Special tokens that take in the whitespace on their left (lstrip) or right (rstrip), as RoBERTa's <mask>. */
  strip?: ReadonlyMap<string, { lstrip: boolean; rstrip: boolean }>;
  /** Ids put before / after a sequence by the post-processor (BART: [0] and [2]). */
  prefix?: readonly number[];
  suffix?: readonly number[];
  /** Prepend a space to the text when it does not start with one (ByteLevel add_prefix_space). */
  addPrefixSpace?: boolean;
  /** Id for symbols outside the vocabulary; without it such a symbol is an error. */
  unkId?: number;
}

export class ByteLevelBpeTokenizer {
  readonly vocabSize: number;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly tokens: string[];
  private readonly ranks = new Map<string, number>();
  private readonly special: ReadonlyMap<string, number>;
  private readonly specialIds: Set<number>;
  private readonly specialPattern: RegExp | null;
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();
  private readonly o: ByteLevelBpeOptions;

  constructor(o: ByteLevelBpeOptions) {
    this.o = o;
    this.vocab = o.vocab;
    this.special = o.specialTokens ?? new Map();
    let max = -1;
    for (const [t, id] of o.vocab) {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`ByteLevelBpeTokenizer: vocab["${t}"] must be a non-negative integer id, got ${String(id)}`);
      max = Math.max(max, id);
    }
    for (const [t, id] of this.special) {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`ByteLevelBpeTokenizer: special token "${t}" must have a non-negative integer id, got ${String(id)}`);
      max = Math.max(max, id);
    }
    this.vocabSize = max + 1;
    this.tokens = new Array<string>(this.vocabSize).fill('');
    for (const [t, id] of o.vocab) this.tokens[id] = t;
    for (const [t, id] of this.special) this.tokens[id] = t;
    this.specialIds = new Set(this.special.values());
    o.merges.forEach(([a, b], i) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    const alternatives = [...this.special.keys()].sort((a, b) => b.length - a.length).map((s) => {
      const st = o.strip?.get(s);
      return `${st?.lstrip ? `[${WS}]*` : ''}${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${st?.rstrip ? `[${WS}]*` : ''}`;
    });
    this.specialPattern = alternatives.length ? new RegExp(`(${alternatives.join('|')})`, 'u') : null;
  }

  /**
   * Token ids of `text`: the post-processor's special tokens around it unless `addEos` (or
   * `addSpecial`) is false. `addEos` is the name generate() uses for "add the specials a source takes".
   */
  encode(text: string, options: { addEos?: boolean; addSpecial?: boolean } = {}): Int32Array {
    checkText(text, 'ByteLevelBpeTokenizer.encode: text');
    const special = options.addSpecial ?? options.addEos ?? true;
    const out: number[] = special ? [...(this.o.prefix ?? [])] : [];
    const parts = this.specialPattern ? text.split(this.specialPattern) : [text];
    parts.forEach((part, i) => {
      if (part === '') return;
      // split() puts the captured specials at odd indices (with the whitespace lstrip/rstrip took in).
      if (i % 2 === 1) { out.push(this.special.get(part) ?? this.special.get(part.replace(TRIM_WS, ''))!); return; }
      // As the tokenizers library: every text segment between special tokens gets the space.
      const t = this.o.addPrefixSpace && !part.startsWith(' ') ? ` ${part}` : part;
      for (const piece of preTokenize(t)) out.push(...this.word(piece));
    });
    if (special) out.push(...(this.o.suffix ?? []));
    return Int32Array.from(out);
  }

  /**
   * Ids of a target for training: the post-processor's prefix (BART's <s>: transformers' labels
   * start with it) and the text, then its suffix (</s>) unless addEos is false.
   */
  encodeTarget(text: string, options: { addEos?: boolean } = {}): Int32Array {
    const body = this.encode(text, { addSpecial: false });
    const suffix = options.addEos ?? true ? (this.o.suffix ?? []) : [];
    return Int32Array.from([...(this.o.prefix ?? []), ...body, ...suffix]);
  }

  /** Text of `ids`; special tokens are left out unless skipSpecial is false. Invalid UTF-8 decodes to U+FFFD. */
  decode(ids: ArrayLike<number>, options: { skipSpecial?: boolean } = {}): string {
    const skip = options.skipSpecial ?? true;
    let text = '';
    let bytes: number[] = [];
    const flush = (): void => {
      if (bytes.length) text += new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (let i = 0; i < ids.length; ++i) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`ByteLevelBpeTokenizer.decode: ids[${i}] = ${id} is outside [0, ${this.vocabSize})`);
      if (this.specialIds.has(id)) {
        if (!skip) { flush(); text += this.tokens[id]!; }
        continue;
      }
      for (const ch of this.tokens[id]!) {
        const b = BYTES.toByte.get(ch);
        if (b === undefined) { flush(); text += ch; } else bytes.push(b);
      }
    }
    flush();
    return text;
  }

  /** The id of the folder's own `<mask>` special token (RoBERTa, BART), or undefined. */
  get maskId(): number | undefined {
    return this.special.get('<mask>');
  }

  /** Ids of the special tokens `<extra_id_0>`, `<extra_id_1>`, ... in order (stops at the first gap). */
  get sentinelIds(): readonly number[] {
    const out: number[] = [];
    for (let k = 0; ; ++k) {
      const id = this.special.get(`<extra_id_${k}>`);
      if (id === undefined) return out;
      out.push(id);
    }
  }

  /** Whether `id` is one of the special tokens (never drawn as a random replacement when noising). */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * This tokenizer with `tokens` added as special tokens at the end of the vocabulary (ids
   * vocabSize, vocabSize + 1, ...), so every existing id keeps its meaning; tokens it already has
   * keep their ids (a regular vocabulary entry becomes special at its id). Text that spells an added token encodes to it, as the tokenizers library does.
   */
  withSpecialTokens(tokens: readonly string[]): ByteLevelBpeTokenizer {
    const special = new Map(this.special);
    let next = this.vocabSize;
    tokens.forEach((t, i) => {
      if (typeof t !== 'string' || t.length === 0) throw new TypeError(`tokens[${i}]: expected a non-empty string`);
      if (!special.has(t)) special.set(t, this.vocab.get(t) ?? next++);
    });
    return new ByteLevelBpeTokenizer({ ...this.o, specialTokens: special });
  }

  /** The vocabulary entry of an id (byte symbols as stored: a space is 'Ġ'). */
  idToToken(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`ByteLevelBpeTokenizer.idToToken: ${id} is outside [0, ${this.vocabSize})`);
    return this.tokens[id]!;
  }

  /** Ids of one pre-token: its bytes as symbols, merged by rank. */
  private word(piece: string): number[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    let symbols = Array.from(this.utf8.encode(piece), (b) => BYTES.toChar[b]!);
    for (;;) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; ++i) {
        const r = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      // Merge every occurrence of the best pair, left to right (GPT-2's bpe()).
      const a = symbols[best]!, b = symbols[best + 1]!, merged: string[] = [];
      for (let i = 0; i < symbols.length; ++i) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) { merged.push(a + b); ++i; } else merged.push(symbols[i]!);
      }
      symbols = merged;
    }
    const ids = symbols.map((s) => {
      const id = this.vocab.get(s);
      if (id !== undefined) return id;
      if (this.o.unkId !== undefined) return this.o.unkId;
      throw new RangeError(`ByteLevelBpeTokenizer: the symbol "${s}" of "${piece}" is not in the vocabulary and there is no unk token`);
    });
    if (this.cache.size < 100_000) this.cache.set(piece, ids);
    return ids;
  }

  /** Reads tokenizer.json, or vocab.json + merges.txt, from a Hugging Face folder. */
  static async fromHfFolder(dir: string): Promise<ByteLevelBpeTokenizer> {
    const tj = path.join(dir, 'tokenizer.json');
    if (fs.existsSync(tj)) return fromTokenizerJson(await readJson(tj), tj);
    const vj = path.join(dir, 'vocab.json'), mt = path.join(dir, 'merges.txt');
    if (fs.existsSync(vj) && fs.existsSync(mt)) return fromVocabAndMerges(await readJson(vj), await fs.promises.readFile(mt, 'utf8'), vj, mt, dir);
    throw new Error(`${dir}: no tokenizer.json, or vocab.json with merges.txt (a byte-level BPE tokenizer)`);
  }
}


function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function vocabMap(v: unknown, what: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [t, id] of Object.entries(obj(v, what))) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new RangeError(`${what}["${t}"] must be a non-negative integer id, got ${JSON.stringify(id)}`);
    m.set(t, id);
  }
  return m;
}

/** "a b" strings (older files, merges.txt lines) or ["a", "b"] pairs (newer tokenizer.json). */
function mergePair(m: unknown, where: string): [string, string] {
  if (typeof m === 'string') {
    const parts = m.split(' ');
    if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
  } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
  throw new RangeError(`${where} must be a pair of symbols ("a b" or ["a", "b"]), got ${JSON.stringify(m)}`);
}

/** The ByteLevel step of a pre_tokenizer (alone or in a Sequence), or an error naming what else is there. */
function byteLevelPretokenizer(p: unknown, file: string): { addPrefixSpace: boolean } {
  const o = obj(p, `${file}: pre_tokenizer`);
  const steps = o.type === 'Sequence' && Array.isArray(o.pretokenizers) ? o.pretokenizers.map((s) => obj(s, `${file}: pre_tokenizer step`)) : [o];
  if (steps.length !== 1 || steps[0]!.type !== 'ByteLevel')
    throw new RangeError(`${file}: pre_tokenizer ${JSON.stringify(steps.map((s) => s.type))} is not supported (only ByteLevel)`);
  if (steps[0]!.use_regex === false) throw new RangeError(`${file}: ByteLevel with use_regex false is not supported`);
  return { addPrefixSpace: steps[0]!.add_prefix_space === true };
}

function fromTokenizerJson(j: unknown, file: string): ByteLevelBpeTokenizer {
  const t = obj(j, file);
  const model = obj(t.model, `${file}: model`);
  if (model.type !== 'BPE') throw new RangeError(`${file}: model.type ${JSON.stringify(model.type)} is not supported (only BPE)`);
  if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0) throw new RangeError(`${file}: BPE dropout is not supported`);
  if (t.normalizer !== null && t.normalizer !== undefined) throw new RangeError(`${file}: normalizer ${JSON.stringify(obj(t.normalizer, 'normalizer').type)} is not supported`);
  if (model.continuing_subword_prefix || model.end_of_word_suffix) throw new RangeError(`${file}: continuing_subword_prefix / end_of_word_suffix are not supported`);
  const vocab = vocabMap(model.vocab, `${file}: model.vocab`);
  if (!Array.isArray(model.merges)) throw new TypeError(`${file}: model.merges must be an array`);
  const merges = model.merges.map((m: unknown, i: number) => mergePair(m, `${file}: model.merges[${i}]`));
  const { addPrefixSpace } = byteLevelPretokenizer(t.pre_tokenizer, file);
  const specialTokens = new Map<string, number>();
  const strip = new Map<string, { lstrip: boolean; rstrip: boolean }>();
  if (Array.isArray(t.added_tokens)) {
    t.added_tokens.forEach((a: unknown, i: number) => {
      const o = obj(a, `${file}: added_tokens[${i}]`);
      if (typeof o.content !== 'string' || typeof o.id !== 'number') throw new TypeError(`${file}: added_tokens[${i}] needs a string content and a numeric id`);
      specialTokens.set(o.content, o.id);
      if (o.lstrip === true || o.rstrip === true) strip.set(o.content, { lstrip: o.lstrip === true, rstrip: o.rstrip === true });
    });
  }
  const idOf = (tok: string, where: string): number => {
    const id = specialTokens.get(tok) ?? vocab.get(tok);
    if (id === undefined) throw new RangeError(`${file}: ${where} names the token ${JSON.stringify(tok)}, which has no id`);
    return id;
  };
  let prefix: number[] = [], suffix: number[] = [];
  const pp = t.post_processor === null || t.post_processor === undefined ? null : obj(t.post_processor, `${file}: post_processor`);
  if (pp && (pp.type === 'RobertaProcessing' || pp.type === 'BertProcessing')) {
    const cls = pp.cls as [string, number], sep = pp.sep as [string, number];
    prefix = [cls[1]];
    suffix = [sep[1]];
  } else if (pp && pp.type === 'TemplateProcessing') {
    const single = Array.isArray(pp.single) ? pp.single.map((s) => obj(s, `${file}: post_processor.single`)) : [];
    const seq = single.findIndex((s) => 'Sequence' in s);
    if (seq < 0) throw new RangeError(`${file}: post_processor.single has no Sequence`);
    const ids = (s: Record<string, unknown>): number => idOf(String(obj(s.SpecialToken, 'SpecialToken').id), 'post_processor.single');
    prefix = single.slice(0, seq).map(ids);
    suffix = single.slice(seq + 1).map(ids);
  } else if (pp && pp.type !== 'ByteLevel') {
    throw new RangeError(`${file}: post_processor ${JSON.stringify(pp.type)} is not supported`);
  }
  const unk = typeof model.unk_token === 'string' ? idOf(model.unk_token, 'model.unk_token') : undefined;
  return new ByteLevelBpeTokenizer({ vocab, merges, specialTokens, strip, prefix, suffix, addPrefixSpace, ...(unk !== undefined ? { unkId: unk } : {}) });
}

/** vocab.json + merges.txt (the "slow" tokenizer files): specials <s> ... </s> as RoBERTa/BART, when the vocabulary has them. */
function fromVocabAndMerges(v: unknown, mergesText: string, vj: string, mt: string, dir: string): ByteLevelBpeTokenizer {
  const vocab = vocabMap(v, vj);
  const merges: [string, string][] = [];
  mergesText.split('\n').forEach((line, i) => {
    const l = line.replace(/\r$/, '');
    if (l === '' || (i === 0 && l.startsWith('#version'))) return;
    merges.push(mergePair(l, `${mt}: line ${i + 1}`));
  });
  const specialTokens = new Map<string, number>();
  for (const s of ['<s>', '<pad>', '</s>', '<unk>', '<mask>']) {
    const id = vocab.get(s);
    if (id !== undefined) specialTokens.set(s, id);
  }
  const bos = specialTokens.get('<s>'), eos = specialTokens.get('</s>'), unk = specialTokens.get('<unk>');
  // The slow tokenizer keeps add_prefix_space in tokenizer_config.json; only that is read from it.
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const cfg = fs.existsSync(cfgFile) ? obj(JSON.parse(fs.readFileSync(cfgFile, 'utf8')), cfgFile) : {};
  return new ByteLevelBpeTokenizer({
    vocab, merges, specialTokens, prefix: bos !== undefined ? [bos] : [], suffix: eos !== undefined ? [eos] : [],
    addPrefixSpace: cfg.add_prefix_space === true, ...(unk !== undefined ? { unkId: unk } : {}),
  });
}
