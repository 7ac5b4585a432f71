// Options of generate()/stream(), their defaults (Hugging Face's GenerationConfig where it has
// one) and their validation: a bad value throws a TypeError or RangeError naming the option. The
// limits bound the work one call may ask for (beams, new tokens, source tokens, sources, decoder
// rows), so a single call cannot run for minutes or take gigabytes by accident; a request beyond a
// limit is a RangeError naming the option, the limit and how to raise it.
import { resolveMaskPredict, type DecodeMethod, type MaskPredictResolved } from './mask-predict-options.js';

/**
 * Bounds on the work of one generate/stream call. Each is an integer >= 1, or Infinity for none;
 * options.limits replaces the defaults (DEFAULT_LIMITS) one field at a time.
 */
export interface GenerateLimits {
  /** Most beams (options.numBeams). Default 64. */
  maxBeams?: number;
  /** Most new tokens (options.maxNewTokens); the model's maxLen bounds it anyway. Default: the model's maxLen. */
  maxNewTokens?: number;
  /** Most tokens in one source (string sources: after encoding); maxLen bounds it anyway. Default: the model's maxLen. */
  maxSourceTokens?: number;
  /** Most sources in one call. Default 256. */
  maxBatch?: number;
  /**
   * Most decoder rows decoded together, the cost of every step and the size of the KV cache:
   * sources x numBeams in beam search, sources x numReturnSequences otherwise. Default 1024.
   */
  maxRows?: number;
}

/** The limits a call gets when it sets none (maxNewTokens and maxSourceTokens: the model's maxLen). */
export const DEFAULT_LIMITS: Readonly<{ maxBeams: number; maxBatch: number; maxRows: number }> = Object.freeze({ maxBeams: 64, maxBatch: 256, maxRows: 1024 });

/** The largest options.timeoutMs (setTimeout's range). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Largest options.seed: the sampler uses the seed's 53 bits. */
const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** The tokenizer surface generate() needs: attnode's tokenizers fit, so does any encode/decode pair. */
export interface GenerateTokenizer {
  encode(text: string, options?: { addEos?: boolean }): ArrayLike<number>;
  decode(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): string;
}

export interface GenerateOptions {
  /** Most tokens generated per sequence, EOS included; at most the model's maxLen. Default min(64, maxLen). */
  maxNewTokens?: number;
  /** EOS is forbidden until this many tokens were generated. Default 0. */
  minNewTokens?: number;
  /**
   * The last of maxNewTokens tokens is EOS, forced (Hugging Face's forced_eos_token_id: every other
   * score becomes -Infinity and EOS's 0, also in beam search). Default false.
   */
  forceEos?: boolean;
  /**
   * Token ids never generated (their scores become -Infinity at every step): Hugging Face's
   * suppress_tokens, and its single-token bad_words_ids (Marian bans its pad id so). Default none.
   */
  suppressTokens?: readonly number[];
  /** The first generated token is this id, forced (Hugging Face's forced_bos_token_id, e.g. mBART's target language). */
  forceFirstToken?: number;
  /** 1 (default): greedy search, or sampling with doSample. More: beam search. */
  numBeams?: number;
  /**
   * Beam search ranks a hypothesis by sum(logprobs) / length ** lengthPenalty, length = generated
   * tokens including EOS. > 0 favours longer outputs, < 0 shorter ones. Default 1.
   */
  lengthPenalty?: number;
  /**
   * When a source's beam search stops (Hugging Face semantics): true, as soon as numBeams
   * hypotheses ended; false (default), also when the best running beam's score, normalised by the
   * current length, cannot beat the worst kept hypothesis (a heuristic); 'never', only when no
   * running beam can beat it under the exact bound (at maxNewTokens for lengthPenalty > 0).
   */
  earlyStopping?: boolean | 'never';
  /** Hypotheses returned per source, best first: at most numBeams in beam search, 1 for greedy. Default 1. */
  numReturnSequences?: number;
  /** Forbid repeating any n-gram of this size (0: off). Default 0. */
  noRepeatNgramSize?: number;
  /** Hugging Face/CTRL repetition penalty on tokens already in the sequence (1: off). Default 1. */
  repetitionPenalty?: number;
  /** Sample from the distribution instead of taking its maximum. Default false. */
  doSample?: boolean;
  /** Sampling: logits are divided by this (> 0). Default 1. */
  temperature?: number;
  /** Sampling: keep only the topK most likely tokens (0: off). Default 50, as Hugging Face. */
  topK?: number;
  /** Sampling: keep the smallest set of most likely tokens with probability >= topP, in (0, 1]. Default 1. */
  topP?: number;
  /**
   * Sampling seed, an integer in [0, 2^53 - 1]: the same seed gives the same samples, whatever the
   * batch, thread count or concurrency. Default 0.
   */
  seed?: number;
  /** Aborting stops generation within one decoding step and rejects with an AbortError. */
  signal?: AbortSignal;
  /**
   * A deadline, in ms from the call (stream: from its first next()): once it passes, generation
   * stops within one decoding step and the call rejects (the iterator throws) with a DOMException
   * named 'TimeoutError'. Combines with signal (whichever fires first). Default none.
   */
  timeoutMs?: number;
  /** Bounds on the work of this call, replacing DEFAULT_LIMITS field by field (see GenerateLimits). */
  limits?: GenerateLimits;
  /**
   * Where the decoding steps run: 'worker' (default) on the model's decoding worker thread, so the
   * event loop never runs a kernel of it; 'main' on this thread between event-loop turns (also the
   * fallback where a worker cannot be used: a tokenizer that is not an attnode tokenizer, or weights
   * not on SharedArrayBuffers).
   */
  thread?: 'worker' | 'main';
  /** Encodes string sources and decodes outputs into `texts`. */
  tokenizer?: GenerateTokenizer;
  /** End each string source with EOS when encoding it (as training data do). Default true. */
  sourceEos?: boolean;
  /** Return each generated token's cross-attention weights (last decoder layer, averaged over heads). */
  returnAttention?: boolean;
  /**
   * Precision of the matrix products (issue 18): 'fp32' (default) or 'bf16': bf16 operands, fp32
   * accumulation, reading bf16 copies of the weights made once at the start of the call (half the
   * bytes per token at batch 1). On a CPU without AVX512_BF16 the products run in fp32.
   */
  precision?: 'fp32' | 'bf16';
  /**
   * 'autoregressive': greedy, beam or sampling (numBeams, doSample); 'mask-predict' (issue 15): the
   * parallel decoding of a CMLM (model config objective 'cmlm'). Default: the one the model is for.
   */
  method?: DecodeMethod;
  /**
   * Mask-Predict: decoder passes T (the first predicts every position; pass t re-masks N(T-t)/T).
   * Default 10. With earlyStop (the default) the most passes a candidate gets.
   */
  iterations?: number;
  /** Mask-Predict: the most likely target lengths tried per source, the best by mean log-probability kept. Default 1. */
  lengthCandidates?: number;
  /**
   * Mask-Predict: stop refining a candidate at the first pass whose tokens equal the previous
   * pass's (fairseq's IterativeRefinementGenerator is adaptive by default; false = its
   * --iter-decode-force-max-iter: all `iterations` passes). Default true. (Beam search's option
   * is earlyStopping.)
   */
  earlyStop?: boolean;
}

export interface ResolvedOptions {
  maxNewTokens: number;
  minNewTokens: number;
  forceEos: boolean;
  suppressTokens: readonly number[];
  forceFirstToken: number | null;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  numReturnSequences: number;
  noRepeatNgramSize: number;
  repetitionPenalty: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  signal: AbortSignal | null;
  timeoutMs: number | null;
  limits: Required<GenerateLimits>;
  tokenizer: GenerateTokenizer | null;
  thread: 'worker' | 'main';
  sourceEos: boolean;
  returnAttention: boolean;
  precision: 'fp32' | 'bf16';
  /** Mask-Predict's options (mask-predict-options.ts). */
  maskPredict: MaskPredictResolved;
}

const KEYS: readonly (keyof GenerateOptions)[] = [
  'maxNewTokens', 'minNewTokens', 'forceEos', 'suppressTokens', 'forceFirstToken', 'numBeams', 'lengthPenalty', 'earlyStopping', 'numReturnSequences', 'noRepeatNgramSize',
  'repetitionPenalty', 'doSample', 'temperature', 'topK', 'topP', 'seed', 'signal', 'timeoutMs', 'limits', 'tokenizer', 'sourceEos', 'returnAttention', 'thread', 'precision',
  'method', 'iterations', 'lengthCandidates', 'earlyStop',
];

function int(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER, why = ''): number {
  if (typeof v !== 'number') throw new TypeError(`generate: options.${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`generate: options.${name} must be an integer in [${min}, ${max}]${why}, got ${v}`);
  return v;
}

function num(name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`generate: options.${name} must be a number, got ${typeof v}`);
  if (!ok(v)) throw new RangeError(`generate: options.${name} must be ${what}, got ${v}`);
  return v;
}

function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`generate: options.${name} must be a boolean, got ${typeof v}`);
  return v;
}

function tokenId(name: string, t: unknown, vocab: number | undefined): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || (vocab !== undefined && t >= vocab))
    throw new RangeError(`generate: options.${name} must be a token id${vocab !== undefined ? ` in [0, ${vocab})` : ''}, got ${String(t)}`);
  return t;
}

function tokenList(name: string, v: unknown, vocab: number | undefined): number[] {
  if (!Array.isArray(v)) throw new TypeError(`generate: options.${name} must be an array of token ids`);
  return v.map((t: unknown, i) => tokenId(`${name}[${i}]`, t, vocab));
}

const LIMIT_KEYS: readonly (keyof GenerateLimits)[] = ['maxBeams', 'maxNewTokens', 'maxSourceTokens', 'maxBatch', 'maxRows'];

/** options.limits over the defaults, each checked (an integer >= 1 or Infinity). */
export function resolveLimits(limits: GenerateLimits | undefined, maxLen: number): Required<GenerateLimits> {
  const r: Required<GenerateLimits> = { ...DEFAULT_LIMITS, maxNewTokens: maxLen, maxSourceTokens: maxLen };
  if (limits === undefined) return r;
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) throw new TypeError('generate: options.limits must be an object');
  for (const [k, v] of Object.entries(limits)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(k)) throw new TypeError(`generate: options.limits.${k} is not a limit (known: ${LIMIT_KEYS.join(', ')})`);
    if (v === undefined) continue;
    if (typeof v !== 'number') throw new TypeError(`generate: options.limits.${k} must be a number, got ${typeof v}`);
    if (v !== Infinity && (!Number.isInteger(v) || v < 1)) throw new RangeError(`generate: options.limits.${k} must be an integer >= 1 or Infinity, got ${v}`);
    r[k as keyof GenerateLimits] = v;
  }
  return r;
}

/** The RangeError of a request beyond a limit: names the option, the limit and how to raise it. */
export function overLimit(what: string, value: number, limit: keyof GenerateLimits, bound: number, hint = ''): RangeError {
  return new RangeError(`generate: ${what} = ${value} is above the limit options.limits.${limit} = ${bound}${hint}; ` +
    `ask for less, or raise it (e.g. options.limits: { ${limit}: ${value} })`);
}

/** Fills defaults and checks every option against a model with this maxLen (and target vocabulary, when given). */
export function resolveOptions(options: GenerateOptions | undefined, maxLen: number, vocab?: number): ResolvedOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new TypeError('generate: options must be an object');
  for (const k of Object.keys(o))
    if (!(KEYS as readonly string[]).includes(k)) throw new TypeError(`generate: options.${k} is not an option (known: ${KEYS.join(', ')})`);
  const d = (k: keyof GenerateOptions): boolean => o[k] !== undefined;
  const limits = resolveLimits(o.limits, maxLen);
  const maxNewTokens = d('maxNewTokens') ? int('maxNewTokens', o.maxNewTokens, 1, maxLen, ' (the model\'s position table has maxLen positions)') : Math.min(64, maxLen, limits.maxNewTokens);
  if (maxNewTokens > limits.maxNewTokens) throw overLimit('options.maxNewTokens', maxNewTokens, 'maxNewTokens', limits.maxNewTokens);
  const numBeams = d('numBeams') ? int('numBeams', o.numBeams, 1) : 1;
  if (numBeams > limits.maxBeams) throw overLimit('options.numBeams', numBeams, 'maxBeams', limits.maxBeams);
  const doSample = d('doSample') ? bool('doSample', o.doSample) : false;
  const r: ResolvedOptions = {
    maxNewTokens,
    minNewTokens: d('minNewTokens') ? int('minNewTokens', o.minNewTokens, 0, maxNewTokens, ' (at most maxNewTokens)') : 0,
    forceEos: d('forceEos') ? bool('forceEos', o.forceEos) : false,
    suppressTokens: d('suppressTokens') ? tokenList('suppressTokens', o.suppressTokens, vocab) : [],
    forceFirstToken: d('forceFirstToken') ? tokenId('forceFirstToken', o.forceFirstToken, vocab) : null,
    numBeams,
    lengthPenalty: d('lengthPenalty') ? num('lengthPenalty', o.lengthPenalty, Number.isFinite, 'a finite number') : 1,
    earlyStopping: false,
    numReturnSequences: 1,
    noRepeatNgramSize: d('noRepeatNgramSize') ? int('noRepeatNgramSize', o.noRepeatNgramSize, 0) : 0,
    repetitionPenalty: d('repetitionPenalty') ? num('repetitionPenalty', o.repetitionPenalty, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0') : 1,
    doSample,
    temperature: d('temperature') ? num('temperature', o.temperature, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0') : 1,
    topK: d('topK') ? int('topK', o.topK, 0) : 50,
    topP: d('topP') ? num('topP', o.topP, (x) => x > 0 && x <= 1, 'in (0, 1]') : 1,
    seed: d('seed') ? int('seed', o.seed, 0, MAX_SEED) : 0,
    signal: null,
    timeoutMs: d('timeoutMs') ? num('timeoutMs', o.timeoutMs, (x) => x > 0 && x <= MAX_TIMEOUT_MS, `a number of ms in (0, ${MAX_TIMEOUT_MS}]`) : null,
    limits,
    thread: o.thread === 'main' ? 'main' : 'worker',
    tokenizer: null,
    sourceEos: d('sourceEos') ? bool('sourceEos', o.sourceEos) : true,
    returnAttention: d('returnAttention') ? bool('returnAttention', o.returnAttention) : false,
    precision: o.precision === 'bf16' ? 'bf16' : 'fp32',
    maskPredict: { method: null, iterations: 0, lengthCandidates: 0, earlyStop: true, maskPredictOptionsGiven: false },
  };
  if (d('earlyStopping')) {
    const e: unknown = o.earlyStopping;
    if (e !== true && e !== false && e !== 'never') throw new TypeError(`generate: options.earlyStopping must be true, false or 'never', got ${String(e)}`);
    r.earlyStopping = e;
  }
  if (d('numReturnSequences')) {
    if (numBeams > 1) r.numReturnSequences = int('numReturnSequences', o.numReturnSequences, 1, numBeams, ' (at most numBeams)');
    else if (doSample) r.numReturnSequences = int('numReturnSequences', o.numReturnSequences, 1);
    else r.numReturnSequences = int('numReturnSequences', o.numReturnSequences, 1, 1, ' (greedy search returns one sequence; use numBeams or doSample)');
  }
  r.maskPredict = resolveMaskPredict(o, maxLen, r);
  if (doSample && numBeams > 1) throw new RangeError('generate: options.doSample with options.numBeams > 1 (beam sampling) is not supported');
  if (d('thread') && o.thread !== 'worker' && o.thread !== 'main') throw new TypeError(`generate: options.thread must be 'worker' or 'main', got ${String(o.thread)}`);
  if (d('precision') && o.precision !== 'fp32' && o.precision !== 'bf16') throw new RangeError(`generate: options.precision must be 'fp32' or 'bf16', got ${String(o.precision)}`);
  if (d('signal')) {
    if (!(o.signal instanceof AbortSignal)) throw new TypeError('generate: options.signal must be an AbortSignal');
    r.signal = o.signal;
  }
  if (d('tokenizer')) {
    const t = o.tokenizer as unknown as Record<string, unknown> | null;
    if (typeof t !== 'object' || t === null || typeof t.encode !== 'function' || typeof t.decode !== 'function')
      throw new TypeError('generate: options.tokenizer must have encode(text) and decode(ids) methods');
    r.tokenizer = o.tokenizer!;
  }
  return r;
}
