// Mask-Predict decoding (issue 15): generate(..., { method: 'mask-predict' }) against a plain
// reference written from the paper (loops, one candidate at a time, the model's full forward each
// pass), batch = one by one, worker = main thread = maskPredictSync, returnAttention, abort, and
// the option errors.
import { describe, expect, it } from 'vitest';
import { generate, stream } from '../dist/decode/generate.js';
import { maskPredictSync } from '../dist/decode/mask-predict.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { noGrad } from '../dist/tensor.js';
import { TINY, jitter, type TinyConfig } from './helpers/model.js';

const MASK = 11, V = 12;
const CMLM: TinyConfig = { ...TINY, srcVocab: V, tgtVocab: V, objective: 'cmlm', maskId: MASK, maxLen: 12 };

function cmlmModel(seed = 4): Seq2SeqTransformer {
  const m = new Seq2SeqTransformer({ ...CMLM, seed });
  jitter(m, seed, 0.3);  // decisive (not near-tied) predictions
  return m;
}

/**
 * The paper's algorithm, written plainly: one candidate at a time, model.forward for every pass.
 * earlyStop: a candidate stops after the first pass t >= 1 that leaves all its tokens as pass t - 1
 * gave them (fairseq's adaptive decoding); without it, all T passes (or until nothing is re-masked).
 */
function reference(model: Seq2SeqTransformer, src: number[], T: number, l: number, maxLength: number, earlyStop = false): { tokens: number[]; score: number; passes: number[] } {
  return noGrad(() => {
    const S = src.length, srcArr = Int32Array.from(src), srcLens = Int32Array.of(S);
    const memory = model.encode(srcArr, srcLens, 1, S);
    const lenLogits = Array.from(model.lengthPredictor!.forward(memory, srcLens, 1, S).toFloat32Array());
    ops.arena.releaseAll();
    const lengths = lenLogits.map((z, k) => ({ z, k })).filter((x) => x.k >= 1 && x.k <= maxLength)
      .sort((a, b) => b.z - a.z || a.k - b.k).slice(0, l).map((x) => x.k);
    let best: { tokens: number[]; score: number; passes: number[] } | null = null;
    const passes: number[] = [];
    for (const N of lengths) {
      const tokens = new Array<number>(N).fill(MASK), logp = new Array<number>(N).fill(0);
      let previous: number[] = [], done = 0;
      for (let t = 0; t < T; ++t) {
        if (t > 0) {
          const n = Math.floor((N * (T - t)) / T);
          if (n === 0) break;
          previous = [...tokens];
          const order = [...tokens.keys()].sort((a, b) => logp[a]! - logp[b]! || a - b);
          for (const i of order.slice(0, n)) tokens[i] = MASK;
        }
        const logits = model.forward({ batch: 1, srcLen: S, tgtLen: N, src: srcArr, srcLengths: srcLens, tgtIn: Int32Array.from(tokens), tgtLengths: Int32Array.of(N) }).toFloat32Array();
        ops.arena.releaseAll();
        for (let i = 0; i < N; ++i) {
          if (tokens[i] !== MASK) continue;
          const row = Array.from(logits.subarray(i * V, (i + 1) * V));
          row[MASK] = -Infinity; row[0] = -Infinity;  // <mask> and pad are never predicted
          const m = Math.max(...row), lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
          const arg = row.indexOf(m);
          tokens[i] = arg;
          logp[i] = row[arg]! - lse;
        }
        done = t + 1;
        if (earlyStop && t > 0 && tokens.every((x, i) => x === previous[i])) break;
      }
      passes.push(done);
      const score = logp.reduce((a, x) => a + x, 0) / N;
      if (!best || score > best.score) best = { tokens, score, passes };
    }
    best!.passes = passes;
    return best!;
  });
}

const SOURCES = [[3, 4, 5, 6, 7], [8, 9, 3], [10, 4, 4, 5, 6, 7, 8], [5]];

describe('Mask-Predict', () => {
  it('with earlyStop false equals the reference with all T passes, for several T and l', async () => {
    const model = cmlmModel();
    for (const [T, l] of [[1, 1], [3, 2], [10, 3], [4, 5]] as const) {
      const r = await generate(model, SOURCES, { method: 'mask-predict', iterations: T, lengthCandidates: l, earlyStop: false, thread: 'main' });
      SOURCES.forEach((src, i) => {
        const ref = reference(model, src, T, l, model.config.maxLen);
        expect(Array.from(r.tokens[i]!), `T ${T} l ${l} source ${i}`).toEqual(ref.tokens);
        expect(r.scores[i]!).toBeCloseTo(ref.score, 4);
        expect(r.sequences[i]![0]!.finished).toBe(true);
      });
    }
  });

  it('with earlyStop (the default) equals the reference that stops a candidate at its first unchanged pass', async () => {
    let stoppedEarly = 0, differs = 0;
    for (const seed of [4, 5]) {
      const model = cmlmModel(seed);
      for (const [T, l] of [[1, 1], [3, 2], [10, 3], [10, 1], [6, 4]] as const) {
        const o = { method: 'mask-predict', iterations: T, lengthCandidates: l, thread: 'main' } as const;
        const [r, given] = [await generate(model, SOURCES, o), await generate(model, SOURCES, { ...o, earlyStop: true })];
        const forced = await generate(model, SOURCES, { ...o, earlyStop: false });
        expect(given.tokens.map((t) => Array.from(t))).toEqual(r.tokens.map((t) => Array.from(t)));
        SOURCES.forEach((src, i) => {
          const ref = reference(model, src, T, l, model.config.maxLen, true);
          expect(Array.from(r.tokens[i]!), `seed ${seed} T ${T} l ${l} source ${i}`).toEqual(ref.tokens);
          expect(r.scores[i]!).toBeCloseTo(ref.score, 4);
          const all = reference(model, src, T, l, model.config.maxLen, false);
          stoppedEarly += ref.passes.filter((p, c) => p < all.passes[c]!).length;
          if (r.scores[i] !== forced.scores[i]) differs++;
        });
      }
    }
    // The rule is exercised: candidates do stop before their last pass, and it changes some results.
    expect(stoppedEarly).toBeGreaterThan(10);
    expect(differs).toBeGreaterThan(0);
  });

  it('gives the same output in a batch as one by one, on the worker and on this thread, and as maskPredictSync', async () => {
    const model = cmlmModel(6);
    for (const earlyStop of [true, false]) {
    const o = { method: 'mask-predict', iterations: 5, lengthCandidates: 3, earlyStop } as const;
    const batch = await generate(model, SOURCES, { ...o, thread: 'main' });
    const worker = await generate(model, SOURCES, o);
    expect(worker.tokens.map((t) => Array.from(t))).toEqual(batch.tokens.map((t) => Array.from(t)));
    expect(worker.scores).toEqual(batch.scores);
    for (let i = 0; i < SOURCES.length; ++i) {
      const one = await generate(model, [SOURCES[i]!], { ...o, thread: 'main' });
      expect(Array.from(one.tokens[0]!)).toEqual(Array.from(batch.tokens[i]!));
      expect(one.scores[0]!).toBeCloseTo(batch.scores[i]!, 5);
    }
    const S = Math.max(...SOURCES.map((s) => s.length));
    const src = new Int32Array(SOURCES.length * S);
    SOURCES.forEach((s, b) => src.set(s, b * S));
    const sync = maskPredictSync(model, src, Int32Array.from(SOURCES, (s) => s.length), SOURCES.length, S, { iterations: 5, lengthCandidates: 3, earlyStop });
    expect(sync.map((h) => Array.from(h.tokens))).toEqual(batch.tokens.map((t) => Array.from(t)));
    sync.forEach((h, i) => expect(h.score).toBe(batch.scores[i]!));
    }
  });

  it('is the default method of a CMLM, bounds lengths by maxNewTokens and never predicts suppressed tokens', async () => {
    const model = cmlmModel(8);
    const a = await generate(model, SOURCES, { thread: 'main' });
    const b = await generate(model, SOURCES, { method: 'mask-predict', iterations: 10, lengthCandidates: 1, thread: 'main' });
    expect(a.tokens.map((t) => Array.from(t))).toEqual(b.tokens.map((t) => Array.from(t)));
    const short = await generate(model, SOURCES, { maxNewTokens: 2, lengthCandidates: 2, thread: 'main' });
    for (const t of short.tokens) expect(t.length).toBeLessThanOrEqual(2);
    const banned = [...new Set(b.tokens.flatMap((t) => Array.from(t)))];
    const c = await generate(model, SOURCES, { suppressTokens: banned, thread: 'main' });
    for (const t of c.tokens) for (const id of t) expect(banned).not.toContain(id);
  });

  it('returnAttention: one row per output token over the source, each a distribution; the same in a batch and alone', async () => {
    const model = cmlmModel(9);
    const o = { method: 'mask-predict', iterations: 3, lengthCandidates: 2, returnAttention: true, thread: 'main' } as const;
    const r = await generate(model, SOURCES, o);
    r.sequences.forEach((hyps, i) => {
      const h = hyps[0]!;
      expect(h.attention!.length).toBe(h.tokens.length);
      for (const row of h.attention!) {
        expect(row.length).toBe(SOURCES[i]!.length);
        expect(row.every((x) => x >= 0)).toBe(true);
        expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
      }
    });
    const alone = await generate(model, [SOURCES[2]!], o);
    alone.sequences[0]![0]!.attention!.forEach((row, j) => {
      const other = r.sequences[2]![0]!.attention![j]!;
      for (let k = 0; k < row.length; ++k) expect(row[k]!).toBeCloseTo(other[k]!, 5);
    });
    // Without returnAttention: no weights, same tokens.
    const plain = await generate(model, SOURCES, { ...o, returnAttention: false });
    expect(plain.sequences[0]![0]!.attention).toBeUndefined();
    expect(plain.tokens.map((t) => Array.from(t))).toEqual(r.tokens.map((t) => Array.from(t)));
  });

  it('stops on an aborted signal', async () => {
    const model = cmlmModel();
    const ctl = new AbortController();
    ctl.abort();
    await expect(generate(model, SOURCES, { signal: ctl.signal, thread: 'main' })).rejects.toThrow(/abort/i);
  });

  it('rejects bad options and mismatched models, naming the option', async () => {
    const cmlm = cmlmModel();
    const ar = new Seq2SeqTransformer({ ...TINY, srcVocab: V, tgtVocab: V });
    const bad = (m: Seq2SeqTransformer, o: object) => generate(m, SOURCES, { thread: 'main', ...o });
    await expect(bad(cmlm, { method: 'nar' })).rejects.toThrow(/options.method must be 'autoregressive' or 'mask-predict', got 'nar'/);
    await expect(bad(cmlm, { iterations: 0 })).rejects.toThrow(/options.iterations must be an integer in \[1, 1000\], got 0/);
    await expect(bad(cmlm, { iterations: 1.5 })).rejects.toThrow(RangeError);
    await expect(bad(cmlm, { lengthCandidates: 0 })).rejects.toThrow(/options.lengthCandidates must be an integer/);
    await expect(bad(cmlm, { lengthCandidates: '2' })).rejects.toThrow(TypeError);
    await expect(bad(cmlm, { method: 'autoregressive' })).rejects.toThrow(/options.method 'autoregressive' needs an autoregressive model/);
    await expect(bad(cmlm, { numBeams: 2 })).rejects.toThrow(/options.numBeams/);
    await expect(bad(cmlm, { method: 'mask-predict', doSample: true })).rejects.toThrow(/options.doSample/);
    await expect(bad(cmlm, { lengthCandidates: 300, limits: { maxRows: 8 } })).rejects.toThrow(/lengthCandidates/);
    await expect(bad(cmlm, { lengthCandidates: 3, limits: { maxRows: 8 } })).rejects.toThrow(/options.limits.maxRows/);
    await expect(bad(ar, { method: 'mask-predict' })).rejects.toThrow(/options.method 'mask-predict' needs a model trained as a conditional masked LM/);
    await expect(bad(ar, { iterations: 3 })).rejects.toThrow(/options.iterations, options.lengthCandidates and options.earlyStop are options of method 'mask-predict'/);
    await expect(bad(ar, { earlyStop: false })).rejects.toThrow(/options.earlyStop are options of method 'mask-predict'/);
    await expect(bad(ar, { method: 'autoregressive', earlyStop: true })).rejects.toThrow(/options.earlyStop is an option of method 'mask-predict'/);
    await expect(bad(cmlm, { earlyStop: 'yes' })).rejects.toThrow(/options.earlyStop must be a boolean, got string/);
    await expect(bad(ar, { method: 'autoregressive', lengthCandidates: 2 })).rejects.toThrow(/options.lengthCandidates is an option of method 'mask-predict'/);
    const it = stream(cmlm, SOURCES, { thread: 'main' });
    await expect(it.next()).rejects.toThrow(/stream: method 'mask-predict' is not supported/);
    // The autoregressive methods still work on an autoregressive model.
    expect((await bad(ar, { method: 'autoregressive', maxNewTokens: 3 })).tokens.length).toBe(SOURCES.length);
  });
});
