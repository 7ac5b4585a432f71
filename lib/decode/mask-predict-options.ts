// The options of Mask-Predict decoding (issue 15): method, iterations, lengthCandidates, checked
// as the other generate options are (a TypeError/RangeError naming the option), and the check that
// a model and a method fit together (a CMLM decodes only with 'mask-predict', an autoregressive
// model never with it).
import { isCmlm } from '../nn/config-cmlm.js';
import type { Seq2SeqModelConfig } from '../nn/config.js';

export type DecodeMethod = 'autoregressive' | 'mask-predict';
export const DECODE_METHODS: readonly DecodeMethod[] = ['autoregressive', 'mask-predict'];

/** The paper's T for its main results. */
export const DEFAULT_ITERATIONS = 10;
/** fairseq's --iter-decode-with-beam default (the paper's best results use 5). */
export const DEFAULT_LENGTH_CANDIDATES = 1;
const MAX_ITERATIONS = 1000;
/**
 * Adaptive iterations by default, as fairseq's IterativeRefinementGenerator (adaptive=True unless
 * --iter-decode-force-max-iter): a candidate stops at the first pass t >= 1 whose tokens all equal
 * those of pass t - 1. (fairseq's is_a_loop compares its consecutive decoder outputs, which for its
 * cmlm_transformer are the sequences after re-masking; here the predicted sequences before it are
 * compared, the test the paper's procedure can pass.) false: always the full `iterations` passes.
 */
export const DEFAULT_EARLY_STOP = true;

export interface MaskPredictResolved {
  /** null: chosen by the model (a CMLM: 'mask-predict'; otherwise 'autoregressive'). */
  method: DecodeMethod | null;
  iterations: number;
  lengthCandidates: number;
  /** Stop a candidate when a pass changes none of its tokens (DEFAULT_EARLY_STOP). */
  earlyStop: boolean;
  /** Whether iterations, lengthCandidates or earlyStop were given (they need method 'mask-predict'). */
  maskPredictOptionsGiven: boolean;
}

function count(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number') throw new TypeError(`generate: options.${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`generate: options.${name} must be an integer in [1, ${max}], got ${v}`);
  return v;
}

export function resolveMaskPredict(o: { method?: unknown; iterations?: unknown; lengthCandidates?: unknown; earlyStop?: unknown }, maxLen: number,
  other: { numBeams: number; doSample: boolean; numReturnSequences: number }): MaskPredictResolved {
  let method: DecodeMethod | null = null;
  if (o.method !== undefined) {
    if (typeof o.method !== 'string' || !(DECODE_METHODS as readonly string[]).includes(o.method))
      throw new TypeError(`generate: options.method must be ${DECODE_METHODS.map((m) => `'${m}'`).join(' or ')}, got ${typeof o.method === 'string' ? `'${o.method}'` : String(o.method)}`);
    method = o.method as DecodeMethod;
  }
  const iterations = o.iterations !== undefined ? count('iterations', o.iterations, MAX_ITERATIONS) : DEFAULT_ITERATIONS;
  const lengthCandidates = o.lengthCandidates !== undefined ? count('lengthCandidates', o.lengthCandidates, maxLen) : DEFAULT_LENGTH_CANDIDATES;
  if (o.earlyStop !== undefined && typeof o.earlyStop !== 'boolean') throw new TypeError(`generate: options.earlyStop must be a boolean, got ${typeof o.earlyStop}`);
  const earlyStop = o.earlyStop ?? DEFAULT_EARLY_STOP;
  const given = o.iterations !== undefined || o.lengthCandidates !== undefined || o.earlyStop !== undefined;
  if (given && method === 'autoregressive')
    throw new RangeError(`generate: options.${o.iterations !== undefined ? 'iterations' : o.lengthCandidates !== undefined ? 'lengthCandidates' : 'earlyStop'} is an option of method 'mask-predict', not of options.method 'autoregressive'`);
  if (method === 'mask-predict') {
    if (other.numBeams > 1) throw new RangeError("generate: options.numBeams > 1 cannot be combined with options.method 'mask-predict' (its candidates are options.lengthCandidates)");
    if (other.doSample) throw new RangeError("generate: options.doSample cannot be combined with options.method 'mask-predict' (it takes the most likely token at each masked position)");
    if (other.numReturnSequences > 1) throw new RangeError("generate: options.numReturnSequences > 1 cannot be combined with options.method 'mask-predict' (it returns the best length candidate)");
  }
  return { method, iterations, lengthCandidates, earlyStop, maskPredictOptionsGiven: given };
}

/**
 * The method a call uses on this model: a CMLM decodes with 'mask-predict' (also when no method is
 * given), an autoregressive model with greedy/beam/sampling. A mismatch is a TypeError naming
 * options.method.
 */
export function methodFor(cfg: Seq2SeqModelConfig, r: MaskPredictResolved & { numBeams: number; doSample: boolean }): DecodeMethod {
  if (isCmlm(cfg)) {
    if (r.method === 'autoregressive')
      throw new TypeError("generate: options.method 'autoregressive' needs an autoregressive model; this model's objective is 'cmlm' (a bidirectional decoder): use method 'mask-predict'");
    if (r.method === null) {
      if (r.numBeams > 1) throw new RangeError("generate: options.numBeams > 1: this model's objective is 'cmlm', decoded with method 'mask-predict' (use options.lengthCandidates)");
      if (r.doSample) throw new RangeError("generate: options.doSample: this model's objective is 'cmlm', decoded with method 'mask-predict', which does not sample");
    }
    return 'mask-predict';
  }
  if (r.method === 'mask-predict')
    throw new TypeError("generate: options.method 'mask-predict' needs a model trained as a conditional masked LM (config objective: 'cmlm' with maskId, the tokenizer's <mask>); this model is autoregressive");
  if (r.maskPredictOptionsGiven)
    throw new RangeError("generate: options.iterations, options.lengthCandidates and options.earlyStop are options of method 'mask-predict'; this model is autoregressive");
  return 'autoregressive';
}
