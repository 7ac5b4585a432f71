/**
 * The encoder-decoder model configuration (issue 5): its type, defaults, validation, and reading
 * and writing config.json. Validation is strict because a typo in a config file ("dmodel") would
 * otherwise train a default-sized model without a word: unknown fields are errors that name the
 * field and suggest the closest known one.
 */
import fs from 'node:fs';
import { writeJsonAtomic, type AtomicWriteOptions } from './atomic.js';

/** 'gelu' is the erf form; 'geluTanh' the tanh approximation (transformers' gelu_new / gelu_pytorch_tanh). */
export type Activation = 'relu' | 'gelu' | 'geluTanh' | 'silu';
/** Where LayerNorm sits: after each residual add (post, original Transformer, Marian/BART) or before each sublayer (pre). */
export type NormPlacement = 'post' | 'pre';
export type PositionEncoding = 'sinusoidal' | 'learned';

/** A complete, validated configuration (every field present; see {@link validateConfig}). */
export interface Seq2SeqConfig {
  readonly srcVocab: number;
  readonly tgtVocab: number;
  readonly dModel: number;
  /** Query heads; must divide dModel. */
  readonly heads: number;
  /** Key/value heads; must divide heads (fewer than heads = grouped-query attention). Default: heads. */
  readonly kvHeads: number;
  readonly ffDim: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  /** Dropout on embeddings, sublayer outputs and inside the feed-forward block, in [0, 1). */
  readonly dropout: number;
  /** Dropout on attention probabilities, in [0, 1). */
  readonly attentionDropout: number;
  readonly activation: Activation;
  readonly norm: NormPlacement;
  readonly positions: PositionEncoding;
  /** The decoder's input embedding and output projection share one matrix. */
  readonly tieEmbeddings: boolean;
  /** Token embeddings are multiplied by sqrt(dModel). */
  readonly scaleEmbedding: boolean;
  /** Longest sequence (positions) either side accepts. */
  readonly maxLen: number;
  /** Seed of parameter initialisation and dropout, a non-negative safe integer. */
  readonly seed: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  /** First decoder input token (Hugging Face Marian: the pad id; BART: the EOS id). Default: bosId. */
  readonly decoderStartId: number;
}

/** What a caller may give: the vocabulary sizes, and any other field to override its default. */
export type Seq2SeqConfigInput =
  Pick<Seq2SeqConfig, 'srcVocab' | 'tgtVocab'> & Partial<Omit<Seq2SeqConfig, 'srcVocab' | 'tgtVocab'>>;

/**
 * Defaults: Transformer-base sizes, except pre-LN (trains from scratch without a tuned warmup;
 * imported Marian/BART set 'post'). kvHeads, ffDim and decoderStartId follow other fields.
 */
export const CONFIG_DEFAULTS = {
  dModel: 512, heads: 8, encoderLayers: 6, decoderLayers: 6,
  dropout: 0.1, attentionDropout: 0, activation: 'relu', norm: 'pre', positions: 'sinusoidal',
  tieEmbeddings: true, scaleEmbedding: true, maxLen: 512, seed: 0,
  padId: 0, bosId: 1, eosId: 2,
} as const satisfies Partial<Seq2SeqConfig>;

type Kind = 'size' | 'prob' | 'bool' | 'id' | 'seed' | readonly string[];
const FIELDS: Readonly<Record<keyof Seq2SeqConfig, Kind>> = {
  srcVocab: 'size', tgtVocab: 'size', dModel: 'size', heads: 'size', kvHeads: 'size', ffDim: 'size',
  encoderLayers: 'size', decoderLayers: 'size', dropout: 'prob', attentionDropout: 'prob',
  activation: ['relu', 'gelu', 'geluTanh', 'silu'], norm: ['post', 'pre'], positions: ['sinusoidal', 'learned'],
  tieEmbeddings: 'bool', scaleEmbedding: 'bool', maxLen: 'size', seed: 'seed',
  padId: 'id', bosId: 'id', eosId: 'id', decoderStartId: 'id',
};
const KNOWN = Object.keys(FIELDS) as (keyof Seq2SeqConfig)[];
/** Token ids are stored in Int32Arrays. */
const MAX_ID = 0x7fffffff;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/** Edit distance ignoring case and underscores, so `d_model` and `dmodel` both point at dModel. */
function closest(name: string): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/_/g, '');
  const a = norm(name);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of KNOWN) {
    const b = norm(k);
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    if (d[a.length][b.length] < bestD) { bestD = d[a.length][b.length]; best = k; }
  }
  return bestD <= Math.max(2, Math.floor(a.length / 3)) ? best : undefined;
}

function checkField(name: string, kind: Kind, v: unknown, at: string): void {
  const where = `${at}.${name}`;
  if (Array.isArray(kind)) {
    if (typeof v !== 'string') throw new TypeError(`${where} must be one of ${kind.map((k) => `'${k}'`).join(', ')}, got ${describe(v)}`);
    if (!kind.includes(v)) throw new RangeError(`${where} must be one of ${kind.map((k) => `'${k}'`).join(', ')}, got ${describe(v)}`);
    return;
  }
  if (kind === 'bool') {
    if (typeof v !== 'boolean') throw new TypeError(`${where} must be a boolean, got ${describe(v)}`);
    return;
  }
  if (typeof v !== 'number') throw new TypeError(`${where} must be a number, got ${describe(v)}`);
  if (kind === 'prob') {
    if (!(v >= 0 && v < 1)) throw new RangeError(`${where} must be in [0, 1), got ${v}`);
  } else if (kind === 'size') {
    if (!Number.isInteger(v) || v < 1 || v > MAX_ID) throw new RangeError(`${where} must be a positive integer (at most ${MAX_ID}), got ${v}`);
  } else if (kind === 'id') {
    if (!Number.isInteger(v) || v < 0 || v > MAX_ID) throw new RangeError(`${where} must be a non-negative integer token id, got ${v}`);
  } else if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${where} must be a non-negative safe integer, got ${v}`);
  }
}

/**
 * Checks a configuration object (from code or a parsed config.json) and returns it complete, with
 * defaults filled in, as a frozen object. Throws a TypeError for an unknown field or a wrong type
 * and a RangeError for a value out of range, each naming the field; `at` prefixes the names
 * (default "config", e.g. a file path).
 */
export function validateConfig(obj: unknown, at = 'config'): Seq2SeqConfig {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new TypeError(`${at} must be an object, got ${describe(obj)}`);
  const given = obj as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!Object.prototype.hasOwnProperty.call(FIELDS, name)) { // not `in`: 'toString' is in every object
      const hint = closest(name);
      throw new TypeError(`${at}.${name} is not a known field${hint ? ` (did you mean ${hint}?)` : ''}; known: ${KNOWN.join(', ')}`);
    }
  }
  for (const name of ['srcVocab', 'tgtVocab'] as const) {
    if (given[name] === undefined) throw new TypeError(`${at}.${name} is required (the vocabulary size has no default)`);
  }
  const heads = given.heads ?? CONFIG_DEFAULTS.heads;
  const dModel = given.dModel ?? CONFIG_DEFAULTS.dModel;
  const bosId = given.bosId ?? CONFIG_DEFAULTS.bosId;
  const merged: Record<string, unknown> = {
    ...CONFIG_DEFAULTS,
    kvHeads: heads,
    ffDim: typeof dModel === 'number' ? 4 * dModel : dModel,
    decoderStartId: bosId,
  };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) merged[k] = v;
  for (const name of KNOWN) checkField(name, FIELDS[name], merged[name], at);
  const c = merged as unknown as Seq2SeqConfig;

  if (c.dModel % c.heads !== 0) throw new RangeError(`${at}.heads (${c.heads}) must divide ${at}.dModel (${c.dModel})`);
  if (c.heads % c.kvHeads !== 0) throw new RangeError(`${at}.kvHeads (${c.kvHeads}) must divide ${at}.heads (${c.heads})`);
  // pad and eos occur on both sides (source padding, source end marker); bos and decoder start only in the target.
  for (const name of ['padId', 'eosId'] as const) {
    const limit = Math.min(c.srcVocab, c.tgtVocab);
    if (c[name] >= limit) throw new RangeError(`${at}.${name} (${c[name]}) must be below both vocabulary sizes (${limit})`);
  }
  for (const name of ['bosId', 'decoderStartId'] as const) {
    if (c[name] >= c.tgtVocab) throw new RangeError(`${at}.${name} (${c[name]}) must be below ${at}.tgtVocab (${c.tgtVocab})`);
  }
  const out: Record<string, unknown> = {};
  for (const name of KNOWN) out[name] = merged[name]; // fixed field order, so written files diff cleanly
  return Object.freeze(out) as unknown as Seq2SeqConfig;
}

/** Reads and validates a config.json; errors name the file and the field. */
export async function readConfig(file: string): Promise<Seq2SeqConfig> {
  const text = await fs.promises.readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return validateConfig(json, `${file}: config`);
}

/** Validates `config` and writes it (complete, defaults filled in) atomically as config.json. */
export async function writeConfig(file: string, config: Seq2SeqConfigInput, opts?: AtomicWriteOptions): Promise<Seq2SeqConfig> {
  const full = validateConfig(config);
  await writeJsonAtomic(file, full, opts);
  return full;
}
