// Sampling is reproducible from its seed, independent of the batch around a source and of the
// thread count; the processors and warpers do what Hugging Face's do.
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../dist/decode/index.js';
import { banRepeatedNgrams, processRow, repetitionPenalty, warpRow } from '../dist/decode/processors.js';
import { resolveOptions } from '../dist/decode/options.js';
import { getNumThreads, setNumThreads } from '../dist/runtime.js';
import { eosModel, tinyModel } from './helpers/decode.js';

const SOURCES = [[3, 4, 5, 6, 7, 2], [8, 2], [9, 9, 10, 2], [4, 11, 3, 5, 6, 7, 8, 9, 10, 2]];
const ids = (r: { tokens: Int32Array[] }): number[][] => r.tokens.map((t) => [...t]);

describe('sampling', () => {
  const threads = getNumThreads();
  afterAll(() => setNumThreads(threads));
  const model = eosModel(7, { tgtVocab: 40, srcVocab: 40 }, 1.5);
  const opts = { doSample: true, maxNewTokens: 12, topK: 0, seed: 1234 };

  it('the same seed gives the same samples; another seed others', async () => {
    const a = await generate(model, SOURCES, opts);
    const b = await generate(model, SOURCES, opts);
    const c = await generate(model, SOURCES, { ...opts, seed: 99 });
    expect(ids(a)).toEqual(ids(b));
    expect(a.scores).toEqual(b.scores);
    expect(ids(c)).not.toEqual(ids(a));
    // Samples are not all the greedy choice.
    const g = await generate(model, SOURCES, { maxNewTokens: 12 });
    expect(ids(a)).not.toEqual(ids(g));
  });

  it('a source samples the same alone, in any batch, in any position', async () => {
    const all = await generate(model, SOURCES, opts);
    // A source's generator is keyed by (seed, its index in the batch, sequence), never by its neighbours.
    const alone = await generate(model, [SOURCES[0]!], opts);
    expect([...alone.tokens[0]!]).toEqual([...all.tokens[0]!]);
    const others = await generate(model, [SOURCES[3]!, SOURCES[0]!, SOURCES[2]!], opts);
    expect([...others.tokens[2]!]).toEqual([...all.tokens[2]!]);
  });

  it('numReturnSequences draws independent samples per source', async () => {
    const out = await generate(model, SOURCES, { ...opts, numReturnSequences: 3 });
    expect(out.sequences.every((l) => l.length === 3)).toBe(true);
    expect(out.tokens.length).toBe(SOURCES.length * 3);
    const distinct = new Set(out.sequences[0]!.map((h) => [...h.tokens].join(',')));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it('does not depend on the thread count', async () => {
    // Big enough that the kernels split work across threads.
    const big = tinyModel(9, { srcVocab: 500, tgtVocab: 500, dModel: 128, heads: 4, ffDim: 512, maxLen: 64 });
    const o2 = { ...opts, numReturnSequences: 4, maxNewTokens: 24 };
    setNumThreads(1);
    const one = await generate(big, SOURCES, o2);
    setNumThreads(2);
    const two = await generate(big, SOURCES, o2);
    expect(ids(two)).toEqual(ids(one));
    expect(two.scores).toEqual(one.scores);
  });

  it('topK = 1 and a tiny topP are greedy', async () => {
    const g = await generate(model, SOURCES, { maxNewTokens: 12 });
    expect(ids(await generate(model, SOURCES, { ...opts, topK: 1 }))).toEqual(ids(g));
    expect(ids(await generate(model, SOURCES, { ...opts, topP: 1e-6 }))).toEqual(ids(g));
  });
});

describe('processors and warpers', () => {
  const o = (x: object) => resolveOptions(x, 100);

  it('repetition penalty divides positive and multiplies negative logits, once per distinct token', () => {
    const row = Float32Array.of(2, -2, 1, 4);
    repetitionPenalty(row, [0, 1, 1, 0], 2);
    expect([...row]).toEqual([1, -4, 1, 4]);
  });

  it('no-repeat n-gram bans the tokens that would repeat an n-gram (history includes the start token)', () => {
    const row = new Float32Array(6);
    banRepeatedNgrams(row, [1, 3, 4, 3, 5, 3], 2);  // bigrams after 3: (3,4), (3,5) -> ban 4, 5
    expect([...row]).toEqual([0, 0, 0, 0, -Infinity, -Infinity]);
    const row3 = new Float32Array(6);
    banRepeatedNgrams(row3, [1, 3], 3);  // too short for a trigram: nothing banned
    expect(row3.every((x) => x === 0)).toBe(true);
  });

  it('minNewTokens bans EOS before that many tokens', () => {
    const row = new Float32Array(4);
    processRow(row, [1], 0, o({ minNewTokens: 1 }), 2);
    expect(row[2]).toBe(-Infinity);
    const later = new Float32Array(4);
    processRow(later, [1, 3], 1, o({ minNewTokens: 1 }), 2);
    expect(later[2]).toBe(0);
  });

  it('suppressTokens are never chosen', () => {
    const row = Float32Array.of(1, 5, 2, 4);
    processRow(row, [1], 0, o({ suppressTokens: [1, 3] }), 2);
    expect([...row]).toEqual([1, -Infinity, 2, -Infinity]);
  });

  it('forceFirstToken forces the first generated token only', () => {
    const row = Float32Array.of(1, 5, 2, 4);
    processRow(row, [1], 0, o({ forceFirstToken: 3 }), 2);
    expect([...row]).toEqual([-Infinity, -Infinity, -Infinity, 0]);
    const later = Float32Array.of(1, 5, 2, 4);
    processRow(later, [1, 3], 1, o({ forceFirstToken: 3 }), 2);
    expect([...later]).toEqual([1, 5, 2, 4]);
  });

  it('forceEos makes the last of maxNewTokens tokens EOS, with score 0 as Hugging Face', () => {
    const row = Float32Array.of(-1, -2, -3, -0.5);
    processRow(row, [1], 2, o({ maxNewTokens: 4, forceEos: true }), 2);
    expect([...row]).toEqual([-1, -2, -3, -0.5]);  // not the last token yet
    processRow(row, [1], 3, o({ maxNewTokens: 4, forceEos: true }), 2);
    expect([...row]).toEqual([-Infinity, -Infinity, 0, -Infinity]);
  });

  it('temperature, top-k (ties kept) and top-p as Hugging Face', () => {
    const t = Float32Array.of(2, 4);
    warpRow(t, o({ temperature: 2, topK: 0 }));
    expect([...t]).toEqual([1, 2]);
    const k = Float32Array.of(1, 3, 3, 2, 0);
    warpRow(k, o({ topK: 2 }));
    expect([...k]).toEqual([-Infinity, 3, 3, -Infinity, -Infinity]);
    // probs 0.5, 0.25, 0.125, 0.125: topP 0.7 keeps the two most likely (0.75 >= 0.7).
    const p = Float32Array.from([0.5, 0.25, 0.125, 0.125], Math.log);
    warpRow(p, o({ topP: 0.7, topK: 0 }));
    expect([...p].map((x) => x > -Infinity)).toEqual([true, true, false, false]);
  });

  it('noRepeatNgramSize and repetitionPenalty take effect in generate', async () => {
    const model = tinyModel(8);
    const plain = await generate(model, SOURCES, { maxNewTokens: 12 });
    const hasRepeat = (t: Int32Array, n: number): boolean => {
      const seen = new Set<string>();
      for (let i = 0; i + n <= t.length; ++i) {
        const key = [...t.subarray(i, i + n)].join(',');
        if (seen.has(key)) return true;
        seen.add(key);
      }
      return false;
    };
    expect(plain.tokens.some((t) => hasRepeat(t, 2))).toBe(true);
    const banned = await generate(model, SOURCES, { maxNewTokens: 12, noRepeatNgramSize: 2 });
    for (const t of banned.tokens) expect(hasRepeat(t, 2)).toBe(false);
    const penalised = await generate(model, SOURCES, { maxNewTokens: 12, repetitionPenalty: 5 });
    const distinct = (r: { tokens: Int32Array[] }): number => r.tokens.reduce((a, t) => a + new Set(t).size, 0);
    expect(distinct(penalised)).toBeGreaterThan(distinct(plain));
  });
});
