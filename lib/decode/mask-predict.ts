// Mask-Predict (Ghazvininejad et al. 2019, "Mask-Predict: Parallel Decoding of Conditional Masked
// Language Models"; fairseq's cmlm_transformer), the decoding of a model whose objective is 'cmlm':
//   1. the length predictor's top-l target lengths (1..maxNewTokens) become l candidates per source;
//   2. pass 0 feeds each candidate as all <mask> and takes, at every position, the most likely token
//      and its log-probability;
//   3. pass t = 1..T-1 re-masks the n = floor(N (T - t) / T) positions of lowest probability (N the
//      candidate's length; ties: the earlier position) and predicts them again: a re-masked position
//      gets the new token and the new probability, the others keep theirs (the paper's rule, and
//      fairseq's forward_decoder, which scatters new scores into the masked positions only);
//   4. each source keeps the candidate of highest mean log-probability (ties: the likelier length).
// A pass with nothing to re-mask (n = 0 for every candidate, which stays so as t grows) ends the
// loop early: it would change nothing. <mask>, the pad id and options.suppressTokens are never
// predicted. Each pass is one full decoder forward (no KV cache: every position sees every other).
//
// The passes are written once, as a generator of steps (maskPredictSteps); generate() runs them on
// its Engine (a step per event-loop turn, abortable between passes) and maskPredictSync on the
// calling thread in one go: the same arithmetic, so the same result.
import type { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { DecoderKvCache } from '../nn/kv-cache.js';
import * as ops from '../ops/index.js';
import { noGrad, Tensor } from '../tensor.js';
import { cmlmMaskId } from '../train/cmlm.js';
import type { Engine } from './engine.js';
import { DEFAULT_ITERATIONS, DEFAULT_LENGTH_CANDIDATES, methodFor, type DecodeMethod } from './mask-predict-options.js';
import { overLimit, type ResolvedOptions } from './options.js';
import type { PaddedSources } from './sources.js';
import type { Hypothesis } from './types.js';

export interface MaskPredictSettings {
  /** Decoder passes T, >= 1. */
  iterations: number;
  /** Target lengths tried per source, >= 1. */
  lengthCandidates: number;
  /** Longest target considered (the model's maxLen bounds it too). */
  maxLength: number;
  /** Token ids never predicted besides <mask> and the pad id. */
  suppressTokens?: readonly number[];
  /** Add each output token's cross-attention weights (last decoder layer, averaged over heads). */
  returnAttention?: boolean;
}

/** The top-k indices of scores[from..to] by value, ties to the lower index. */
function topLengths(scores: Float32Array, from: number, to: number, k: number): number[] {
  const idx: number[] = [];
  for (let i = from; i <= to; ++i) idx.push(i);
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, k);
}

/** Repeats each of `batch` blocks of `block` values `times` times: [b0 b0 b1 b1 ...]. */
function repeatBlocks<A extends Float32Array | Int32Array>(a: A, make: (n: number) => A, batch: number, block: number, times: number): A {
  const out = make(batch * times * block);
  for (let b = 0; b < batch; ++b)
    for (let c = 0; c < times; ++c) out.set(a.subarray(b * block, (b + 1) * block), (b * times + c) * block);
  return out;
}

/**
 * The passes of Mask-Predict over padded sources; each `yield` separates two synchronous steps
 * (run them without gradients, in an arena released after each step: nothing kept across a yield
 * lives in it). Returns, per source, its one hypothesis.
 */
export function* maskPredictSteps(model: Seq2SeqTransformer, s: PaddedSources, set: MaskPredictSettings): Generator<void, Hypothesis[][], void> {
  const cfg = model.config, maskId = cmlmMaskId(model, "generate: options.method 'mask-predict'");
  const T = set.iterations, l = set.lengthCandidates, V = cfg.tgtVocab, B = s.batch, S = s.srcLen;
  const maxL = Math.min(set.maxLength, cfg.maxLen);
  if (l > maxL) throw new RangeError(`generate: options.lengthCandidates (${l}) must be at most the longest target tried (${maxL}, maxNewTokens and maxLen)`);
  const banned = [maskId, cfg.padId, ...(set.suppressTokens ?? [])];

  // Step 0: the encoder, the length predictor, and the memory repeated for every candidate.
  const memory0 = model.encode(s.src, s.srcLengths, B, S);
  const lengthLogits = ops.data(model.lengthPredictor!.forward(memory0, s.srcLengths, B, S));
  const C = lengthLogits.length / B;
  const R = B * l, lens = new Int32Array(R);
  for (let b = 0; b < B; ++b) topLengths(lengthLogits, b * C + 1, b * C + maxL, l).forEach((k, c) => { lens[b * l + c] = k - b * C; });
  const D = cfg.dModel, rowSrc = repeatBlocks(s.srcLengths, (n) => new Int32Array(n), B, 1, l);
  // Out of the arena: the memory is read by every pass.
  const memory = Tensor.fromArray(repeatBlocks(ops.data(memory0), (n) => new Float32Array(n), B, S * D, l), [R * S, D]);
  const L = Math.max(...lens);
  const tokens = new Int32Array(R * L).fill(cfg.padId), logp = new Float32Array(R * L);
  const masked = new Uint8Array(R * L);
  for (let r = 0; r < R; ++r) for (let i = 0; i < lens[r]!; ++i) { tokens[r * L + i] = maskId; masked[r * L + i] = 1; }

  for (let t = 0; t < T; ++t) {
    if (t > 0) {
      let any = false;
      for (let r = 0; r < R; ++r) {
        const N = lens[r]!, n = Math.floor((N * (T - t)) / T);
        if (n === 0) continue;
        any = true;
        const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => logp[r * L + a]! - logp[r * L + b]! || a - b);
        for (let k = 0; k < n; ++k) { const i = r * L + order[k]!; tokens[i] = maskId; masked[i] = 1; }
      }
      if (!any) break;
      yield;
    }
    const logits = ops.data(model.decode(tokens, lens, memory, rowSrc, R, L, S));
    for (let r = 0; r < R; ++r)
      for (let i = 0; i < lens[r]!; ++i) {
        const at = r * L + i;
        if (!masked[at]) continue;
        const row = logits.subarray(at * V, (at + 1) * V);
        for (const id of banned) row[id] = -Infinity;
        let best = 0, m = -Infinity;
        for (let v = 0; v < V; ++v) if (row[v]! > m) { m = row[v]!; best = v; }
        let z = 0;
        for (let v = 0; v < V; ++v) z += Math.exp(row[v]! - m);
        tokens[at] = best;
        logp[at] = -Math.log(z);  // row[best] - logsumexp(row)
        masked[at] = 0;
      }
  }

  // The best candidate of each source by mean log-probability.
  const out: Hypothesis[][] = [];
  const chosen: number[] = [];
  for (let b = 0; b < B; ++b) {
    let best = -1, bestScore = -Infinity;
    for (let c = 0; c < l; ++c) {
      const r = b * l + c;
      let sum = 0;
      for (let i = 0; i < lens[r]!; ++i) sum += logp[r * L + i]!;
      const score = sum / lens[r]!;
      if (best < 0 || score > bestScore) { best = r; bestScore = score; }
    }
    chosen.push(best);
    out.push([{ tokens: tokens.slice(best * L, best * L + lens[best]!), score: bestScore, finished: true }]);
  }
  if (set.returnAttention) {
    yield;
    const weights = crossAttention(model, s, memory, rowSrc, tokens, lens, L, l, chosen);
    out.forEach((h, b) => { h[0]!.attention = weights[b]!; });
  }
  return out;
}

/**
 * The last decoder layer's cross-attention probabilities, averaged over heads, of the chosen rows'
 * positions: one more decoder pass over the final tokens, whose last layer hands its
 * cross-attention input to the layer's own weight computation (the one incremental decoding uses,
 * with the row's positions as the queries of its source).
 */
function crossAttention(model: Seq2SeqTransformer, s: PaddedSources, memory: Tensor, rowSrc: Int32Array, tokens: Int32Array,
  lens: Int32Array, L: number, l: number, chosen: readonly number[]): Float32Array[][] {
  const S = s.srcLen, R = lens.length, cfg = model.config;
  const last = model.decoderLayerList[model.decoderLayerList.length - 1]!;
  const cross = last.crossAttn!;
  let y: Tensor | null = null;
  last.crossInputProbe = (x) => { y = Tensor.fromArray(ops.data(x).slice(), x.shape); };
  try {
    model.decode(tokens, lens, memory, rowSrc, R, L, S);
  } finally {
    last.crossInputProbe = null;
  }
  // A cache whose R memory rows each have L queries (group = L): stepCross then runs every
  // position of a row against its source, batch = R, qLen = L.
  const kvd = (cfg.kvHeads ?? cfg.heads) * (cfg.dModel / cfg.heads);
  const cache = new DecoderKvCache(1, kvd, R, L, S, rowSrc, null);
  cross.cacheMemory(memory, cache.layers[0]!);
  const w = new Float32Array(R * L * S);
  cross.stepCross(y!, cache.layers[0]!, cache, w);
  return chosen.map((r, b) => Array.from({ length: lens[r]! }, (_, i) =>
    w.slice((r * L + i) * S, (r * L + i) * S + s.srcLengths[b]!)));
}

/** generate()'s mask-predict: the passes as engine steps (abortable between passes). */
export async function maskPredict(engine: Engine, s: PaddedSources, set: MaskPredictSettings): Promise<Hypothesis[][]> {
  engine.checkAbort();
  const steps = maskPredictSteps(engine.model, s, set);
  for (;;) {
    const r = engine.run(() => steps.next());
    if (r.done) return r.value;
    await engine.pause();
  }
}

/** Options of maskPredictSync; defaults as generate's. */
export interface MaskPredictSyncOptions {
  iterations?: number;
  lengthCandidates?: number;
  /** Default: the model's maxLen. */
  maxLength?: number;
  suppressTokens?: readonly number[];
  returnAttention?: boolean;
}

/**
 * Mask-Predict on this thread, synchronously, over a padded batch (src [batch * srcLen]): the same
 * passes as generate(..., { method: 'mask-predict' }), for evaluation loops and tests.
 */
export function maskPredictSync(model: Seq2SeqTransformer, src: Int32Array, srcLengths: Int32Array, batch: number, srcLen: number,
  o: MaskPredictSyncOptions = {}): Hypothesis[] {
  const arena = new ops.Arena();
  const set: MaskPredictSettings = {
    iterations: o.iterations ?? DEFAULT_ITERATIONS, lengthCandidates: o.lengthCandidates ?? DEFAULT_LENGTH_CANDIDATES,
    maxLength: o.maxLength ?? model.config.maxLen, suppressTokens: o.suppressTokens ?? [], returnAttention: o.returnAttention ?? false,
  };
  for (const [k, v] of [['iterations', set.iterations], ['lengthCandidates', set.lengthCandidates], ['maxLength', set.maxLength]] as const)
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`maskPredictSync: options.${k} must be a positive integer, got ${String(v)}`);
  const steps = maskPredictSteps(model, { batch, srcLen, src, srcLengths }, set);
  for (;;) {
    const r = noGrad(() => ops.withArena(arena, () => steps.next()));
    arena.releaseAll();
    if (r.done) return r.value.map((h) => h[0]!);
  }
}

/**
 * The method a generate/stream call runs on this model (methodFor), with Mask-Predict's decoder
 * rows (sources x lengthCandidates) checked against options.limits.maxRows.
 */
export function decodeMethod(model: Seq2SeqTransformer, o: ResolvedOptions, batch: number): DecodeMethod {
  const m = methodFor(model.config, { ...o.maskPredict, numBeams: o.numBeams, doSample: o.doSample });
  if (m === 'mask-predict') {
    const rows = batch * o.maskPredict.lengthCandidates;
    if (rows > o.limits.maxRows)
      throw overLimit(`the decoder rows (${batch} sources x ${o.maskPredict.lengthCandidates} length candidates)`, rows, 'maxRows', o.limits.maxRows, ' (split the batch)');
  }
  return m;
}

/** generate's resolved options as Mask-Predict settings. */
export function maskPredictSettings(o: ResolvedOptions): MaskPredictSettings {
  return { iterations: o.maskPredict.iterations, lengthCandidates: o.maskPredict.lengthCandidates, maxLength: o.maxNewTokens,
    suppressTokens: o.suppressTokens, returnAttention: o.returnAttention };
}
