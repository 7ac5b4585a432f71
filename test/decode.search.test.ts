// Greedy search and beam search: numBeams = 1 is greedy recomputation, beam search matches a plain
// recomputation of Hugging Face's algorithm, a beam as wide as the vocabulary finds the
// exhaustive best, EOS and length penalty behave, and scores are what they claim to be.
import { describe, expect, it } from 'vitest';
import { BeamHypotheses, generate, greedyRecompute } from '../dist/decode/index.js';
import type { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import { eosModel, logSoftmax64, recomputeLogits, referenceBeamSearch, sequenceLogprob, tinyModel } from './helpers/decode.js';

const SOURCES = [[3, 4, 5, 6, 7, 2], [8, 2], [9, 9, 10, 2], [4, 11, 3, 5, 6, 7, 8, 9, 10, 2], [5, 2]];

function padded(sources: number[][], pad: number): { src: Int32Array; lens: Int32Array; S: number } {
  const S = Math.max(...sources.map((s) => s.length));
  const src = new Int32Array(sources.length * S).fill(pad);
  sources.forEach((s, b) => src.set(s, b * S));
  return { src, lens: Int32Array.from(sources, (s) => s.length), S };
}

describe('greedy search (numBeams = 1)', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`equals greedy recomputation, sources of different lengths (seed ${seed})`, async () => {
      const model = eosModel(seed);
      const { src, lens, S } = padded(SOURCES, 0);
      const ref = greedyRecompute(model, src, lens, SOURCES.length, S, 12);
      const out = await generate(model, SOURCES, { maxNewTokens: 12 });
      expect(out.tokens.map((t) => [...t])).toEqual(ref.tokens.map((t) => [...t]));
      // Each hypothesis says whether it ended with EOS, and its score is its log-probability.
      out.sequences.forEach(([h], b) => {
        expect(h!.finished).toBe(h!.tokens.length < 12);
        expect(h!.score).toBeCloseTo(sequenceLogprob(model, SOURCES[b]!, h!.tokens, h!.finished), 4);
      });
    });
  }

  it('rows end at different steps (EOS), and a row that ended is not extended', async () => {
    // Seeds where some sequences end early and some run to maxNewTokens.
    let mixed = 0;
    for (let seed = 1; seed <= 6; ++seed) {
      const out = await generate(eosModel(seed), SOURCES, { maxNewTokens: 10 });
      const lengths = out.sequences.map(([h]) => (h!.finished ? h!.tokens.length : -1));
      if (lengths.some((l) => l >= 0) && lengths.some((l) => l < 0)) ++mixed;
      for (const [h] of out.sequences) expect([...h!.tokens]).not.toContain(eosModel(seed).config.eosId);
    }
    expect(mixed).toBeGreaterThan(0);
  });

  it('minNewTokens forbids EOS until that many tokens were made', async () => {
    const model = eosModel(2);
    const free = await generate(model, SOURCES, { maxNewTokens: 12 });
    const shortest = Math.min(...free.sequences.map(([h]) => h!.tokens.length));
    const out = await generate(model, SOURCES, { maxNewTokens: 12, minNewTokens: 5 });
    expect(shortest).toBeLessThan(5);
    for (const [h] of out.sequences) expect(h!.tokens.length).toBeGreaterThanOrEqual(5);
  });

  it('forceEos ends every unfinished hypothesis with EOS at maxNewTokens (greedy and beam)', async () => {
    for (const numBeams of [1, 3]) {
      const out = await generate(tinyModel(3), SOURCES, { maxNewTokens: 3, numBeams, forceEos: true });
      const free = await generate(tinyModel(3), SOURCES, { maxNewTokens: 3, numBeams });
      expect(free.sequences.some(([h]) => !h!.finished)).toBe(true);  // the case forceEos changes
      for (const [h] of out.sequences) expect(h!.finished).toBe(true);
    }
  });

  it('suppressTokens removes tokens from greedy and beam outputs', async () => {
    for (const numBeams of [1, 3]) {
      const free = await generate(tinyModel(3), SOURCES, { maxNewTokens: 8, numBeams });
      const used = [...new Set(free.sequences.flatMap(([h]) => [...h!.tokens]))];
      expect(used.length).toBeGreaterThan(0);
      const out = await generate(tinyModel(3), SOURCES, { maxNewTokens: 8, numBeams, suppressTokens: used });
      for (const [h] of out.sequences) for (const t of h!.tokens) expect(used).not.toContain(t);
    }
  });

  it('stops at maxNewTokens', async () => {
    const out = await generate(tinyModel(3), SOURCES, { maxNewTokens: 3 });
    for (const [h] of out.sequences) expect(h!.tokens.length + (h!.finished ? 1 : 0)).toBeLessThanOrEqual(3);
  });
});

describe('beam search', () => {
  const settings = [
    { numBeams: 2, lengthPenalty: 1, earlyStopping: false },
    { numBeams: 3, lengthPenalty: 0.6, earlyStopping: true },
    { numBeams: 4, lengthPenalty: 2, earlyStopping: 'never' },
    { numBeams: 4, lengthPenalty: -1, earlyStopping: false },
    { numBeams: 5, lengthPenalty: 0, earlyStopping: 'never' },
  ] as const;
  for (const [i, st] of settings.entries()) {
    it(`matches Hugging Face's algorithm by recomputation: ${JSON.stringify(st)}`, async () => {
      const model = eosModel(20 + i, {}, 3);
      const opts = { ...st, maxNewTokens: 7 };
      const out = await generate(model, SOURCES, { ...opts, numReturnSequences: st.numBeams });
      SOURCES.forEach((s, b) => {
        const ref = referenceBeamSearch(model, s, opts);
        const got = out.sequences[b]!;
        expect(got.map((h) => [...h.tokens])).toEqual(ref.map((h) => h.tokens));
        expect(got.map((h) => h.finished)).toEqual(ref.map((h) => h.finished));
        got.forEach((h, j) => expect(h.score).toBeCloseTo(ref[j]!.score, 4));
      });
    });
  }

  it('n-best lists are sorted, scores are sum(logprobs) / length ** lengthPenalty with EOS counted', async () => {
    const model = eosModel(31, {}, 3);
    for (const lengthPenalty of [0, 1, 1.7]) {
      const out = await generate(model, SOURCES, { numBeams: 4, numReturnSequences: 3, maxNewTokens: 8, lengthPenalty });
      expect(out.tokens.length).toBe(SOURCES.length * 3);
      out.sequences.forEach((list, b) => {
        for (let j = 1; j < list.length; ++j) expect(list[j - 1]!.score).toBeGreaterThanOrEqual(list[j]!.score);
        for (const h of list) {
          const len = h.tokens.length + (h.finished ? 1 : 0);
          expect(h.score).toBeCloseTo(sequenceLogprob(model, SOURCES[b]!, h.tokens, h.finished) / len ** lengthPenalty, 4);
        }
      });
      expect(out.scores).toEqual(out.sequences.flat().map((h) => h.score));
    }
  });

  it('a larger lengthPenalty favours longer hypotheses', async () => {
    const model = eosModel(32, {}, 3);
    const lengths = async (lengthPenalty: number): Promise<number> => {
      const out = await generate(model, SOURCES, { numBeams: 4, maxNewTokens: 10, lengthPenalty, earlyStopping: 'never' });
      return out.sequences.reduce((a, [h]) => a + h!.tokens.length, 0);
    };
    expect(await lengths(3)).toBeGreaterThanOrEqual(await lengths(-3));
  });

  for (const seed of [41, 42, 43]) {
    it(`numBeams as wide as the vocabulary finds the exhaustive best decoder sequence of length <= 3 (seed ${seed})`, async () => {
      // Tiny vocabulary: pad 0, bos 1 (the decoder start), eos 2 and two more. Decoder sequences of
      // length <= 3 are [start, EOS], [start, a, EOS] and [start, a, b] (maxNewTokens 2). With V
      // beams every one-token prefix survives step 1, and step 2 keeps the best two-token
      // continuation whether it ends with EOS or not, so the search is exhaustive.
      const V = 5;
      const model = eosModel(seed, { srcVocab: V, tgtVocab: V }, 2);
      for (const lengthPenalty of [1, 0, 2]) {
        const src = [3, 4, 3, 2];
        const best = exhaustiveBest(model, src, 2, lengthPenalty);
        const out = await generate(model, [src], { numBeams: V, maxNewTokens: 2, lengthPenalty, earlyStopping: 'never' });
        const h = out.sequences[0]![0]!;
        expect(h.score).toBeCloseTo(best.score, 4);
        expect([...h.tokens]).toEqual(best.tokens);
      }
    });
  }

  it('numBeams = V * V finds the exhaustive best of up to 3 new tokens', async () => {
    // With 3 new tokens V beams are not always enough (step 2 has (V-1) * V candidates for V
    // beams), but V * V beams keep every two-token prefix, so the search is exhaustive again.
    const V = 4;
    for (const seed of [44, 45]) {
      const model = eosModel(seed, { srcVocab: V, tgtVocab: V }, 2);
      for (const lengthPenalty of [1, 0.5]) {
        const src = [3, 3, 2];
        const best = exhaustiveBest(model, src, 3, lengthPenalty);
        const out = await generate(model, [src], { numBeams: V * V, maxNewTokens: 3, lengthPenalty, earlyStopping: 'never' });
        expect(out.sequences[0]![0]!.score).toBeCloseTo(best.score, 4);
        expect([...out.sequences[0]![0]!.tokens]).toEqual(best.tokens);
      }
    }
  });

  it('earlyStopping true stops a source as soon as numBeams hypotheses ended', () => {
    const h = new BeamHypotheses(2, 1, true, 10);
    h.add([3], -1, 2, true);
    expect(h.isDone(-0.1, 2)).toBe(false);
    h.add([4], -3, 2, true);
    expect(h.isDone(-0.1, 2)).toBe(true);
  });

  it('earlyStopping false uses the current length; "never" the exact bound at maxNewTokens', () => {
    const make = (e: boolean | 'never'): BeamHypotheses => {
      const h = new BeamHypotheses(2, 1, e, 10);
      h.add([3], -2, 2, true);  // score -1
      h.add([4], -4, 2, true);  // score -2 (worst)
      return h;
    };
    // Best running beam: sum -5 at length 2. false: -5 / 2 = -2.5 <= worst -2 -> done.
    expect(make(false).isDone(-5, 2)).toBe(true);
    // 'never' with lengthPenalty > 0: -5 / 10 = -0.5 could still beat -2 -> not done.
    expect(make('never').isDone(-5, 2)).toBe(false);
    expect(make('never').isDone(-25, 2)).toBe(true);
    // The kept list holds the numBeams best: a better hypothesis evicts the worst.
    const h = make(false);
    h.add([5], -1, 1, true);
    expect(h.best().map((x) => x.score)).toEqual([-1, -1]);
    expect(h.best().map((x) => x.tokens)).toEqual([[5], [3]]);
  });

  it('numBeams = 1 is greedy', async () => {
    const model = eosModel(33);
    const a = await generate(model, SOURCES, { numBeams: 1, maxNewTokens: 9 });
    const b = await generate(model, SOURCES, { maxNewTokens: 9 });
    expect(a.tokens).toEqual(b.tokens);
  });
});

/** The best scoring decoder output of at most maxNew tokens (EOS counted in length), by enumeration. */
function exhaustiveBest(model: Seq2SeqTransformer, src: number[], maxNew: number, lp: number): { tokens: number[]; score: number } {
  const V = model.config.tgtVocab, eos = model.config.eosId, start = model.decoderStartId;
  let best = { tokens: [] as number[], score: -Infinity };
  const visit = (prefix: number[], sum: number): void => {
    const lps = logSoftmax64(recomputeLogits(model, src, [[start, ...prefix]])[0]!);
    for (let v = 0; v < V; ++v) {
      const s = sum + lps[v]!, len = prefix.length + 1;
      if (v === eos || len === maxNew) {
        const score = s / len ** lp;
        if (score > best.score) best = { tokens: v === eos ? prefix : [...prefix, v], score };
      } else visit([...prefix, v], s);
    }
  };
  visit([], 0);
  return best;
}
