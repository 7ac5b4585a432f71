// Tiny seeded models and recomputation references for the decoding tests: the references never
// use the KV cache, only Seq2SeqTransformer.decode on whole prefixes.
import { Seq2SeqTransformer } from '../../dist/nn/seq2seq.js';
import type { Seq2SeqModelConfig } from '../../dist/nn/config.js';
import * as ops from '../../dist/ops/index.js';
import { noGrad } from '../../dist/tensor.js';

export type TinyConfig = Partial<Seq2SeqModelConfig>;

export function tinyModel(seed: number, over: TinyConfig = {}): Seq2SeqTransformer {
  return new Seq2SeqTransformer({
    srcVocab: 12, tgtVocab: 12, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 2,
    maxLen: 24, dropout: 0, seed, ...over,
  });
}

/**
 * A tiny model whose EOS logit swings with the decoder state (its output row scaled up), so
 * sequences end at different, seed-dependent steps.
 */
export function eosModel(seed: number, over: TinyConfig = {}, gain = 4): Seq2SeqTransformer {
  const m = tinyModel(seed, { tieEmbeddings: false, ...over });
  const w = m.namedParameters().get('lm_head.weight')!;
  const d = w.shape[1]!, eos = m.config.eosId, data = w.storage.data;
  for (let i = 0; i < d; ++i) data[eos * d + i]! *= gain;
  return m;
}

/** Logits [prefixes.length * vocab] of the token after each prefix (start token included), by full recomputation. */
export function recomputeLogits(model: Seq2SeqTransformer, src: ArrayLike<number>, prefixes: readonly (readonly number[])[]): Float32Array[] {
  return noGrad(() => {
    const V = model.config.tgtVocab, B = prefixes.length, S = src.length, T = Math.max(...prefixes.map((p) => p.length));
    const srcIds = new Int32Array(B * S);
    for (let b = 0; b < B; ++b) srcIds.set(Array.from(src), b * S);
    const srcLengths = new Int32Array(B).fill(S);
    const memory = model.encode(srcIds, srcLengths, B, S);
    const tgt = new Int32Array(B * T), lens = Int32Array.from(prefixes, (p) => p.length);
    prefixes.forEach((p, b) => tgt.set(p, b * T));
    const logits = ops.data(model.decode(tgt, lens, memory, srcLengths, B, T, S));
    const out = prefixes.map((p, b) => logits.slice((b * T + p.length - 1) * V, (b * T + p.length) * V));
    ops.arena.releaseAll();
    return out;
  });
}

export function logSoftmax64(row: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < row.length; ++i) m = Math.max(m, row[i]!);
  let s = 0;
  for (let i = 0; i < row.length; ++i) s += Math.exp(row[i]! - m);
  const lse = m + Math.log(s);
  return Float64Array.from(row, (x) => x - lse);
}

/** Sum of log-probs of `tokens` (then EOS when finished) given src, by recomputation. */
export function sequenceLogprob(model: Seq2SeqTransformer, src: ArrayLike<number>, tokens: ArrayLike<number>, finished: boolean): number {
  const seq = [...Array.from(tokens), ...(finished ? [model.config.eosId] : [])];
  const start = model.decoderStartId;
  const prefixes = seq.map((_, i) => [start, ...seq.slice(0, i)]);
  const rows = recomputeLogits(model, src, prefixes);
  return seq.reduce((a, tok, i) => a + logSoftmax64(rows[i]!)[tok]!, 0);
}

export interface RefHyp {
  tokens: number[];
  score: number;
  finished: boolean;
}

/**
 * Hugging Face's beam search for one source, written plainly over full recomputation (no cache,
 * no dropped rows): the reference the cached implementation must match.
 */
export function referenceBeamSearch(model: Seq2SeqTransformer, src: ArrayLike<number>, o: {
  numBeams: number; maxNewTokens: number; lengthPenalty: number; earlyStopping: boolean | 'never';
}): RefHyp[] {
  const N = o.numBeams, V = model.config.tgtVocab, eos = model.config.eosId, start = model.decoderStartId;
  let beams = Array.from({ length: N }, (_, b) => ({ seq: [start], score: b === 0 ? 0 : -1e9 }));
  const hyps: { score: number; tokens: number[]; finished: boolean }[] = [];
  let worst = 1e9;
  const add = (tokens: number[], sum: number, len: number, finished: boolean): void => {
    const score = sum / len ** o.lengthPenalty;
    if (hyps.length < N || score > worst) {
      hyps.push({ score, tokens, finished });
      if (hyps.length > N) {
        const sorted = hyps.map((h, i) => [h.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        hyps.splice(sorted[0]![1], 1);
        worst = sorted[1]![0];
      } else worst = Math.min(score, worst);
    }
  };
  const isDone = (best: number, cur: number): boolean => {
    if (hyps.length < N) return false;
    if (o.earlyStopping === true) return true;
    const len = o.earlyStopping === 'never' && o.lengthPenalty > 0 ? o.maxNewTokens : cur;
    return worst >= best / len ** o.lengthPenalty;
  };
  for (let t = 0; t < o.maxNewTokens; ++t) {
    const rows = recomputeLogits(model, src, beams.map((b) => b.seq)).map(logSoftmax64);
    const cands: { score: number; beam: number; token: number }[] = [];
    beams.forEach((b, bi) => rows[bi]!.forEach((lp, v) => cands.push({ score: Math.fround(lp) + b.score, beam: bi, token: v })));
    cands.sort((a, b) => b.score - a.score || a.beam - b.beam || a.token - b.token);
    const next: typeof beams = [];
    for (let rank = 0; rank < 2 * N && next.length < N; ++rank) {
      const c = cands[rank]!, parent = beams[c.beam]!;
      if (c.token === eos) {
        if (rank >= N) continue;
        add(parent.seq.slice(1), c.score, t + 1, true);
      } else next.push({ seq: [...parent.seq, c.token], score: c.score });
    }
    const done = isDone(cands[0]!.score, t + 1);
    if (done) break;
    beams = next;
    if (t + 1 === o.maxNewTokens) for (const b of beams) add(b.seq.slice(1), b.score, t + 1, false);
  }
  return hyps.map((h, i) => [h, i] as const).sort((a, b) => b[0].score - a[0].score || b[1] - a[1]).map(([h]) => h);
}
