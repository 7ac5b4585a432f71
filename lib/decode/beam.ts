// Beam search with the KV cache, following Hugging Face's beam search step by step:
// - beam scores start at 0 for beam 0 and -1e9 for the others (so step 1 expands one beam);
// - each step: log-softmax of the logits, the processors on the log-probs, plus the beam's score;
//   the 2 * numBeams best (beam, token) candidates of a source in order; an EOS candidate ranked
//   among the first numBeams becomes a finished hypothesis (score normalised by its length, EOS
//   counted), an EOS candidate ranked lower is skipped, the others fill the numBeams new beams;
// - a source is done when its BeamHypotheses says so (earlyStopping semantics there); done
//   sources leave the active batch (their cache rows are dropped);
// - at maxNewTokens, the running beams of unfinished sources are offered as hypotheses too.
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { BeamHypotheses } from './beam-hypotheses.js';
import type { Engine } from './engine.js';
import type { ResolvedOptions } from './options.js';
import { logSumExp, processRow } from './processors.js';
import type { PaddedSources } from './sources.js';
import type { Hypothesis } from './types.js';

interface Beam {
  /** Start token then generated tokens. */
  history: number[];
  /** Sum of the log-probs of the generated tokens. */
  score: number;
  attention: Float32Array[] | null;
}

interface Item {
  source: number;
  beams: Beam[];
  hyps: BeamHypotheses;
}

interface Candidate {
  score: number;
  beam: number;
  token: number;
}

/** The k best candidates, best first; ties go to the lower (beam, token), as a stable top-k would. */
function topCandidates(lp: Float32Array, beams: readonly Beam[], V: number, k: number): Candidate[] {
  const top: Candidate[] = [];
  for (let b = 0; b < beams.length; ++b) {
    const base = beams[b]!.score, row = b * V;
    for (let v = 0; v < V; ++v) {
      const score = lp[row + v]! + base;
      if (top.length === k && !(score > top[k - 1]!.score)) continue;
      let i = top.length < k ? top.length : k - 1;
      while (i > 0 && score > top[i - 1]!.score) --i;
      top.splice(i, 0, { score, beam: b, token: v });
      if (top.length > k) top.pop();
    }
  }
  return top;
}

export async function beamSearch(engine: Engine, s: PaddedSources, o: ResolvedOptions, cfg: Seq2SeqModelConfig,
  startId: number): Promise<Hypothesis[][]> {
  const N = o.numBeams, V = cfg.tgtVocab, eos = cfg.eosId;
  engine.checkAbort();
  const cache = engine.start(s, N);
  let items: Item[] = Array.from({ length: s.batch }, (_, source) => ({
    source,
    beams: Array.from({ length: N }, (_, b) => ({ history: [startId], score: b === 0 ? 0 : -1e9, attention: o.returnAttention ? [] : null })),
    hyps: new BeamHypotheses(N, o.lengthPenalty, o.earlyStopping, o.maxNewTokens),
  }));
  const all = items.slice();
  let tokens = new Int32Array(s.batch * N).fill(startId);
  for (let t = 0; t < o.maxNewTokens && items.length > 0; ++t) {
    await engine.pause();
    const step = engine.step(tokens, cache, o.returnAttention);
    const lp = step.logits;
    // Log-softmax of every row, then the processors on the log-probs (Hugging Face's beam order).
    for (let r = 0; r < items.length * N; ++r) {
      const row = lp.subarray(r * V, (r + 1) * V), lse = logSumExp(row);
      for (let v = 0; v < V; ++v) row[v] = row[v]! - lse;
      processRow(row, items[Math.floor(r / N)]!.beams[r % N]!.history, t, o, eos);
    }
    const last = t + 1 === o.maxNewTokens;
    const keptRows: number[] = [], keptItems: number[] = [], next: Item[] = [];
    items.forEach((item, a) => {
      const cands = topCandidates(lp.subarray(a * N * V, (a + 1) * N * V), item.beams, V, 2 * N);
      const attnOf = (c: Candidate): Float32Array[] | null => {
        const prev = item.beams[c.beam]!.attention;
        if (!prev || !step.attention) return null;
        const r = a * N + c.beam;
        return [...prev, step.attention.slice(r * s.srcLen, r * s.srcLen + s.srcLengths[item.source]!)];
      };
      const beams: Beam[] = [], from: number[] = [];
      for (let rank = 0; rank < cands.length && beams.length < N; ++rank) {
        const c = cands[rank]!, parent = item.beams[c.beam]!;
        if (c.token === eos) {
          if (rank >= N) continue;
          item.hyps.add(parent.history.slice(1), c.score, t + 1, true, attnOf(c));
        } else {
          beams.push({ history: [...parent.history, c.token], score: c.score, attention: attnOf(c) });
          from.push(a * N + c.beam);
        }
      }
      if (beams.length < N) throw new Error(`beam search: only ${beams.length} of ${N} beams could continue (vocabulary too small for numBeams?)`);
      const done = item.hyps.isDone(cands[0]!.score, t + 1);
      if (!done && last) for (const b of beams) item.hyps.add(b.history.slice(1), b.score, t + 1, false, b.attention);
      if (done || last) return;
      item.beams = beams;
      next.push(item);
      keptItems.push(a);
      keptRows.push(...from);
    });
    if (next.length === 0) break;
    cache.select(Int32Array.from(keptRows), next.length < items.length ? Int32Array.from(keptItems) : undefined);
    items = next;
    tokens = Int32Array.from(items.flatMap((it) => it.beams.map((b) => b.history[b.history.length - 1]!)));
  }
  return all.map((item) => item.hyps.best().slice(0, o.numReturnSequences).map((h) => ({
    tokens: Int32Array.from(h.tokens), score: h.score, finished: h.finished, ...(h.attention ? { attention: h.attention } : {}),
  })));
}
