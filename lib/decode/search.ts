// Greedy search and sampling with the KV cache. Rows that end (EOS or maxNewTokens) leave the
// active batch at once: their cache rows are dropped, so a finished sequence costs nothing more.
import type { Rng } from '../data/rng.js';
import type { Seq2SeqModelConfig } from '../nn/config.js';
import type { Engine } from './engine.js';
import type { ResolvedOptions } from './options.js';
import { argmaxRow, logSumExp, processRow, warpRow } from './processors.js';
import { sampleRow, sequenceRng } from './sampling.js';
import type { PaddedSources } from './sources.js';
import type { Hypothesis, StreamToken } from './types.js';

interface Row {
  source: number;
  sequence: number;
  /** Start token then generated tokens (the processors' history). */
  history: number[];
  score: number;
  rng: Rng | null;
  attention: Float32Array[] | null;
}

/**
 * Yields the tokens of each step (one per active row); fills `out[source][sequence]` as rows end.
 * Throws an AbortError between steps once the signal fires.
 */
export async function* greedyOrSample(engine: Engine, s: PaddedSources, o: ResolvedOptions, cfg: Seq2SeqModelConfig,
  startId: number, out: Hypothesis[][]): AsyncGenerator<StreamToken[], void, undefined> {
  const n = o.numReturnSequences, V = cfg.tgtVocab;
  engine.checkAbort();
  const cache = engine.start(s, 1);
  if (n > 1) {
    // n independent samples per source: repeat each memory row n times.
    const rep = Int32Array.from({ length: s.batch * n }, (_, r) => Math.floor(r / n));
    cache.select(rep, rep);
  }
  let rows: Row[] = Array.from({ length: s.batch * n }, (_, r) => ({
    source: Math.floor(r / n), sequence: r % n, history: [startId], score: 0,
    rng: o.doSample ? sequenceRng(o.seed, Math.floor(r / n), r % n) : null,
    attention: o.returnAttention ? [] : null,
  }));
  for (const src of out) src.length = n;
  let tokens = new Int32Array(rows.length).fill(startId);
  for (let t = 0; t < o.maxNewTokens && rows.length > 0; ++t) {
    await engine.pause();
    const step = engine.step(tokens, cache, o.returnAttention);
    const events: StreamToken[] = [];
    const keep: number[] = [];
    rows.forEach((row, r) => {
      const logits = step.logits.subarray(r * V, (r + 1) * V);
      processRow(logits, row.history, t, o, cfg.eosId);
      let token: number, logprob: number;
      if (row.rng) {
        warpRow(logits, o);
        ({ token, logprob } = sampleRow(logits, row.rng));
      } else {
        token = argmaxRow(logits);
        logprob = logits[token]! - logSumExp(logits);
      }
      row.history.push(token);
      row.score += logprob;
      if (row.attention && step.attention)
        row.attention.push(step.attention.slice(r * s.srcLen, r * s.srcLen + s.srcLengths[row.source]!));
      const eos = token === cfg.eosId, done = eos || t + 1 === o.maxNewTokens;
      events.push({ source: row.source, sequence: row.sequence, step: t, token, logprob, done, eos });
      if (done) out[row.source]![row.sequence] = finish(row, eos);
      else keep.push(r);
    });
    yield events;
    if (keep.length < rows.length && keep.length > 0) {
      const k = Int32Array.from(keep);
      cache.select(k, k);
    }
    rows = keep.map((r) => rows[r]!);
    tokens = Int32Array.from(rows, (row) => row.history[row.history.length - 1]!);
  }
}

function finish(row: Row, eos: boolean): Hypothesis {
  const gen = row.history.slice(1, eos ? -1 : undefined);
  return { tokens: Int32Array.from(gen), score: row.score, finished: eos, ...(row.attention ? { attention: row.attention } : {}) };
}
