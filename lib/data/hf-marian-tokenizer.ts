/**
 * transformers' MarianTokenizer: the text is split at special tokens written in it (</s>, <unk>,
 * <pad>); each other part, after a leading language code (">>fra<<", multilingual models: kept as
 * its own token), is segmented by source.spm (target.spm for targets), and pieces become ids
 * through the shared vocab.json (a piece it lacks is <unk>); a sequence ends with </s>. Decoding joins runs of ordinary pieces with the target model's rules and writes
 * special tokens as they are, as transformers' convert_tokens_to_string does. (transformers also
 * runs sacremoses' punctuation normalizer when that Python package is installed; that is not done
 * here, as it is not when the package is absent.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../io/json.js';
import { SentencePieceModel, checkText } from './sentencepiece.js';

export interface MarianSpecialTokens { eos: string; unk: string; pad: string }

export class MarianTokenizer {
  readonly vocabSize: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly padId: number;
  private readonly tokens: string[];
  private readonly special: Set<number>;
  private readonly specialPattern: RegExp;

  constructor(private readonly source: SentencePieceModel, private readonly target: SentencePieceModel,
    private readonly vocab: ReadonlyMap<string, number>, names: MarianSpecialTokens = { eos: '</s>', unk: '<unk>', pad: '<pad>' }) {
    const id = (t: string): number => {
      const v = vocab.get(t);
      if (v === undefined) throw new RangeError(`MarianTokenizer: vocab.json lacks the special token ${JSON.stringify(t)}`);
      return v;
    };
    this.eosId = id(names.eos);
    this.unkId = id(names.unk);
    this.padId = id(names.pad);
    let max = -1;
    for (const v of vocab.values()) max = Math.max(max, v);
    this.vocabSize = max + 1;
    this.tokens = new Array<string>(this.vocabSize).fill('');
    for (const [t, v] of vocab) this.tokens[v] = t;
    this.special = new Set([this.eosId, this.unkId, this.padId]);
    const specials = [names.eos, names.unk, names.pad].sort((a, b) => b.length - a.length);
    this.specialPattern = new RegExp(`(${specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'u');
  }

  /** Source ids of `text`, then </s> unless addEos is false. */
  encode(text: string, options: { addEos?: boolean } = {}): Int32Array {
    return this.ids(this.source, text, options.addEos ?? true);
  }

  /** Target ids of `text` (labels for fine-tuning), then </s> unless addEos is false. */
  encodeTarget(text: string, options: { addEos?: boolean } = {}): Int32Array {
    return this.ids(this.target, text, options.addEos ?? true);
  }

  /** Text of target ids; </s>, <unk> and <pad> left out unless skipSpecial is false. */
  decode(ids: ArrayLike<number>, options: { skipSpecial?: boolean } = {}): string {
    const skip = options.skipSpecial ?? true;
    let out = '';
    let run: string[] = [];
    for (let i = 0; i < ids.length; ++i) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`MarianTokenizer.decode: ids[${i}] = ${id} is outside [0, ${this.vocabSize})`);
      if (this.special.has(id)) {
        if (skip) continue;
        out += `${this.target.decodePieces(run)}${this.tokens[id]!} `;
        run = [];
      } else run.push(this.tokens[id]!);
    }
    out += this.target.decodePieces(run);
    return out.replaceAll('\u2581', ' ').trim();
  }

  idToToken(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`MarianTokenizer.idToToken: ${id} is outside [0, ${this.vocabSize})`);
    return this.tokens[id]!;
  }

  private ids(model: SentencePieceModel, text: string, eos: boolean): Int32Array {
    checkText(text, 'MarianTokenizer.encode: text');
    const out: number[] = [];
    text.split(this.specialPattern).forEach((part, i) => {
      if (i % 2 === 1) { out.push(this.vocab.get(part)!); return; }  // split() puts the captured specials at odd indices
      if (part === '') return;
      // transformers' remove_language_code: ">>" at the start up to the first "<<".
      const end = part.startsWith('>>') ? part.indexOf('<<') : -1;
      if (end !== -1) {
        out.push(this.vocab.get(part.slice(0, end + 2)) ?? this.unkId);
        part = part.slice(end + 2);
      }
      for (const p of model.encode(part)) out.push(p.id === model.unkId ? this.unkId : this.vocab.get(p.piece) ?? this.unkId);
    });
    if (eos) out.push(this.eosId);
    return Int32Array.from(out);
  }

  /** Reads source.spm, target.spm and vocab.json from a Hugging Face Marian folder. */
  static async fromHfFolder(dir: string): Promise<MarianTokenizer> {
    const file = (f: string): string => path.join(dir, f);
    for (const f of ['source.spm', 'target.spm', 'vocab.json'])
      if (!fs.existsSync(file(f))) throw new Error(`${dir}: ${f} is missing (a Marian tokenizer needs source.spm, target.spm and vocab.json)`);
    if (fs.existsSync(file('target_vocab.json'))) throw new RangeError(`${dir}: separate source/target vocabularies (target_vocab.json) are not supported`);
    const raw = await readJsonFile(file('vocab.json'));
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError(`${file('vocab.json')}: must be an object of piece -> id`);
    const vocab = new Map<string, number>();
    for (const [t, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`${file('vocab.json')}: "${t}" must map to a non-negative integer id, got ${JSON.stringify(v)}`);
      vocab.set(t, v);
    }
    const spm = async (f: string): Promise<SentencePieceModel> => new SentencePieceModel(new Uint8Array(await fs.promises.readFile(file(f))), file(f));
    return new MarianTokenizer(await spm('source.spm'), await spm('target.spm'), vocab);
  }
}
