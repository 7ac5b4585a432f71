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
// A candidate with nothing to re-mask (n = 0, which stays so as t grows) is done: more passes would
// change nothing. Early termination (options.earlyStop, default true: fairseq's
// IterativeRefinementGenerator is adaptive unless --iter-decode-force-max-iter): a candidate also
// stops after the first pass t >= 1 whose tokens all equal those pass t - 1 gave it (its scores are
// pass t's); with earlyStop false every candidate gets all T passes (or stops at n = 0). (fairseq's
// is_a_loop compares consecutive decoder outputs, which its cmlm_transformer returns re-masked for
// the next pass; here the predictions themselves are compared.) <mask>, the pad id and
// options.suppressTokens are never predicted. Each pass runs the decoder over every position of the
// candidates still refined (no self-attention cache: every position sees every other), with the
// cross-attention K/V of the memory computed once.
//
// The passes are written once, as a generator of steps (maskPredictSteps); generate() runs them on
// its Engine (a step per event-loop turn, abortable between passes) and maskPredictSync on the
// calling thread in one go: the same arithmetic, so the same result.
import type { Seq2SeqTransformer } from '../nn/seq2seq.js';
import * as ops from '../ops/index.js';
import { noGrad, Tensor } from '../tensor.js';
import { cmlmMaskId } from '../train/cmlm.js';
import type { Engine } from './engine.js';
import { DEFAULT_EARLY_STOP, DEFAULT_ITERATIONS, DEFAULT_LENGTH_CANDIDATES, methodFor, type DecodeMethod } from './mask-predict-options.js';
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
  /** Stop a candidate at the first pass that changes none of its tokens (default DEFAULT_EARLY_STOP: true). */
  earlyStop?: boolean;
}

/** The top-k indices of scores[from..to] by value, ties to the lower index. */
function topLengths(scores: Float32Array, from: number, to: number, k: number): number[] {
  const idx: number[] = [];
  for (let i = from; i <= to; ++i) idx.push(i);
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, k);
}

/**
 * The passes of Mask-Predict over padded sources; each `yield` separates two synchronous steps
 * (run them without gradients, in an arena released after each step: nothing kept across a yield
 * lives in it). Returns, per source, its one hypothesis.
 *
 * Cost: the cross-attention K/V of each source are projected once (model.startRefinement) and
 * shared by its candidates and passes; a pass feeds only the candidates still refined, and the
 * output projection runs only on the positions it predicts (model.refine): the logits of a full
 * model.decode of every candidate up to GEMM rounding (bit for bit at one candidate per source
 * when every position is predicted), and in tests and on the dates benchmark the same tokens.
 */
export function* maskPredictSteps(model: Seq2SeqTransformer, s: PaddedSources, set: MaskPredictSettings): Generator<void, Hypothesis[][], void> {
  const cfg = model.config, maskId = cmlmMaskId(model, "generate: options.method 'mask-predict'");
  const T = set.iterations, l = set.lengthCandidates, V = cfg.tgtVocab, B = s.batch, S = s.srcLen;
  const maxL = Math.min(set.maxLength, cfg.maxLen);
  if (l > maxL) throw new RangeError(`generate: options.lengthCandidates (${l}) must be at most the longest target tried (${maxL}, maxNewTokens and maxLen)`);
  const banned = [maskId, cfg.padId, ...(set.suppressTokens ?? [])];
  const earlyStop = set.earlyStop ?? DEFAULT_EARLY_STOP;

  // Step 0: the encoder, the length predictor, every layer's cross-attention K/V of the memory.
  const memory0 = model.encode(s.src, s.srcLengths, B, S);
  const lengthLogits = ops.data(model.lengthPredictor!.forward(memory0, s.srcLengths, B, S));
  const C = lengthLogits.length / B;
  const R = B * l, lens = new Int32Array(R);
  for (let b = 0; b < B; ++b) topLengths(lengthLogits, b * C + 1, b * C + maxL, l).forEach((k, c) => { lens[b * l + c] = k - b * C; });
  const L = Math.max(...lens);
  const cache = model.startRefinement(memory0, s.srcLengths, B, S, l, L, lens);
  // Out of the arena, only when the attention pass at the end needs it.
  const memory = set.returnAttention ? Tensor.fromArray(ops.data(memory0).slice(), memory0.shape) : null;
  const tokens = new Int32Array(R * L).fill(cfg.padId), logp = new Float32Array(R * L);
  const masked = new Uint8Array(R * L), before = earlyStop ? new Int32Array(R * L) : null;
  for (let r = 0; r < R; ++r) for (let i = 0; i < lens[r]!; ++i) { tokens[r * L + i] = maskId; masked[r * L + i] = 1; }
  // The candidates still refined, in the cache's order; a candidate leaves when it has nothing
  // left to re-mask (n = 0, which stays so as t grows) or, with earlyStop, when a pass changed
  // none of its tokens. Leaving changes nothing of its tokens or scores.
  let active = Array.from({ length: R }, (_, r) => r);
  const stopped = new Uint8Array(R);

  for (let t = 0; t < T; ++t) {
    if (t > 0) {
      const keep: number[] = [], next: number[] = [];
      active.forEach((r, a) => {
        const N = lens[r]!, n = Math.floor((N * (T - t)) / T);
        if (n === 0 || stopped[r]) return;
        keep.push(a);
        next.push(r);
        if (before) before.set(tokens.subarray(r * L, r * L + N), r * L);
        const order = Array.from({ length: N }, (_, i) => i).sort((x, y) => logp[r * L + x]! - logp[r * L + y]! || x - y);
        for (let k = 0; k < n; ++k) { const i = r * L + order[k]!; tokens[i] = maskId; masked[i] = 1; }
      });
      if (next.length === 0) break;
      if (next.length < active.length) cache.keepCandidates(Int32Array.from(keep));
      active = next;
      yield;
    }
    // Feed every position of the active candidates; predict the masked ones.
    const feed = new Int32Array(active.length * L), pick: number[] = [], at: number[] = [];
    active.forEach((r, a) => {
      feed.set(tokens.subarray(r * L, (r + 1) * L), a * L);
      for (let i = 0; i < lens[r]!; ++i) if (masked[r * L + i]) { pick.push(a * L + i); at.push(r * L + i); }
    });
    const logits = ops.data(model.refine(feed, cache, Int32Array.from(pick)));
    at.forEach((p, j) => {
      const row = logits.subarray(j * V, (j + 1) * V);
      for (const id of banned) row[id] = -Infinity;
      let best = 0, m = -Infinity;
      for (let v = 0; v < V; ++v) if (row[v]! > m) { m = row[v]!; best = v; }
      let z = 0;
      for (let v = 0; v < V; ++v) z += Math.exp(row[v]! - m);
      tokens[p] = best;
      logp[p] = -Math.log(z);  // row[best] - logsumexp(row)
      masked[p] = 0;
    });
    if (before && t > 0)
      for (const r of active) {
        let same = true;
        for (let i = r * L, e = r * L + lens[r]!; same && i < e; ++i) same = tokens[i] === before[i];
        if (same) stopped[r] = 1;
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
  if (memory) {
    yield;
    const weights = crossAttention(model, s, memory, out.map((h) => h[0]!.tokens));
    out.forEach((h, b) => { h[0]!.attention = weights[b]!; });
  }
  return out;
}

/**
 * The last decoder layer's cross-attention probabilities, averaged over heads, of each source's
 * chosen tokens: one more decoder pass over them (a fresh refinement cache of one candidate per
 * source), whose last layer computes them from the kernel's lse.
 */
function crossAttention(model: Seq2SeqTransformer, s: PaddedSources, memory: Tensor, chosen: readonly Int32Array[]): Float32Array[][] {
  const S = s.srcLen, B = s.batch, cfg = model.config;
  const lens = Int32Array.from(chosen, (t) => t.length), L = Math.max(...lens);
  const cache = model.startRefinement(memory, s.srcLengths, B, S, 1, L, lens);
  const feed = new Int32Array(B * L).fill(cfg.padId);
  chosen.forEach((t, b) => feed.set(t, b * L));
  const w = new Float32Array(B * L * S);
  model.refine(feed, cache, new Int32Array(0), w);
  return chosen.map((t, b) => Array.from({ length: t.length }, (_, i) =>
    w.slice((b * L + i) * S, (b * L + i) * S + s.srcLengths[b]!)));
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
  /** Default true (adaptive, as fairseq; DEFAULT_EARLY_STOP). */
  earlyStop?: boolean;
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
    earlyStop: o.earlyStop ?? DEFAULT_EARLY_STOP,
  };
  if (typeof set.earlyStop !== 'boolean') throw new TypeError(`maskPredictSync: options.earlyStop must be a boolean, got ${typeof set.earlyStop}`);
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
    suppressTokens: o.suppressTokens, returnAttention: o.returnAttention, earlyStop: o.maskPredict.earlyStop };
}
