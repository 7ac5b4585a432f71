// Serving behaviour: generate runs off the event loop (timers keep firing), stream yields tokens as
// they are made, an AbortSignal stops within one step, concurrent calls equal sequential ones.
import { describe, expect, it } from 'vitest';
import { generate, stream, type GenerateOptions, type GenerateResult } from '../dist/decode/index.js';
import { CharTokenizer } from '../dist/data/index.js';
import { eosModel, tinyModel } from './helpers/decode.js';

const SOURCES = [[3, 4, 5, 6, 7, 2], [8, 2], [9, 9, 10, 2], [4, 11, 3, 5, 6, 7, 8, 9, 10, 2]];

function slowModel() {
  return tinyModel(5, { srcVocab: 300, tgtVocab: 300, dModel: 128, heads: 4, ffDim: 512, decoderLayers: 3, maxLen: 256 });
}

function strip(r: GenerateResult): unknown {
  return r.sequences.map((l) => l.map((h) => ({ tokens: [...h.tokens], score: h.score, finished: h.finished, attention: h.attention?.map((a) => [...a]) })));
}

describe('serving', () => {
  it('timers keep firing while a long generation runs', async () => {
    const model = slowModel();
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 2);
    const t0 = performance.now();
    const out = await generate(model, SOURCES, { maxNewTokens: 120, minNewTokens: 120 });
    const t1 = performance.now();
    clearInterval(timer);
    expect(out.tokens.every((t) => t.length === 120)).toBe(true);
    const during = ticks.filter((t) => t >= t0 && t <= t1);
    let gap = 0;
    for (let i = 1; i < during.length; ++i) gap = Math.max(gap, during[i]! - during[i - 1]!);
    // A step is milliseconds: the timer runs between steps all along (generous bound: the machine is shared).
    expect(during.length).toBeGreaterThanOrEqual(10);
    expect(gap).toBeLessThan(Math.max(250, (t1 - t0) / 4));
  });

  it('an abort stops generation within one step and rejects with an AbortError', async () => {
    const model = slowModel();
    const ctl = new AbortController();
    const steps: number[] = [];
    const run = async (): Promise<void> => {
      for await (const tok of stream(model, SOURCES, { maxNewTokens: 100, minNewTokens: 100, signal: ctl.signal })) {
        steps.push(tok.step);
        if (tok.step === 3) ctl.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(Math.max(...steps)).toBe(3);  // no step ran after the abort
    // generate: an abort during the run, and a signal aborted before the call.
    const ctl2 = new AbortController();
    const p = generate(model, SOURCES, { numBeams: 3, maxNewTokens: 100, minNewTokens: 100, signal: ctl2.signal });
    setTimeout(() => ctl2.abort(), 1);  // fires between the first steps: 100 steps are far from done
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DOMException);
    expect((err as DOMException).name).toBe('AbortError');
    const reason = new Error('client went away');
    await expect(generate(model, SOURCES, { signal: AbortSignal.abort(reason) })).rejects.toMatchObject({ name: 'AbortError', cause: reason });
  });

  it('concurrent generates give the results of sequential ones', async () => {
    const model = eosModel(6);
    const jobs: GenerateOptions[] = [
      { maxNewTokens: 10 },
      { numBeams: 3, numReturnSequences: 2, maxNewTokens: 9, lengthPenalty: 0.8 },
      { doSample: true, seed: 5, numReturnSequences: 2, maxNewTokens: 11, topK: 0 },
      { maxNewTokens: 8, returnAttention: true, noRepeatNgramSize: 2 },
      { numBeams: 2, maxNewTokens: 12, returnAttention: true, earlyStopping: true },
    ];
    const sequential: unknown[] = [];
    for (const o of jobs) sequential.push(strip(await generate(model, SOURCES, o)));
    const concurrent = await Promise.all(jobs.map((o) => generate(model, SOURCES, o)));
    expect(concurrent.map(strip)).toEqual(sequential);
  });

  it('stream yields the tokens of generate, step by step, with texts', async () => {
    const model = eosModel(4);
    for (const o of [{ maxNewTokens: 10 }, { doSample: true, seed: 3, numReturnSequences: 2, maxNewTokens: 10 }] as GenerateOptions[]) {
      const full = await generate(model, SOURCES, o);
      const n = o.numReturnSequences ?? 1;
      const got: number[][] = Array.from({ length: SOURCES.length * n }, () => []);
      let lastStep = 0;
      for await (const t of stream(model, SOURCES, o)) {
        expect(t.step).toBeGreaterThanOrEqual(lastStep);  // in step order
        lastStep = t.step;
        if (!t.eos) got[t.source * n + t.sequence]!.push(t.token);
        expect(t.done).toBe(t.eos || t.step === 9);
      }
      expect(got).toEqual(full.tokens.map((x) => [...x]));
    }
    // With a tokenizer: string sources in, text pieces out.
    const tok = CharTokenizer.fromTexts(['abcdefgh']);
    const m = tinyModel(5, { srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize });
    const pieces: string[] = [];
    for await (const t of stream(m, ['abc', 'hgf'], { tokenizer: tok, maxNewTokens: 6 })) if (t.source === 0) pieces.push(t.text!);
    const whole = await generate(m, ['abc', 'hgf'], { tokenizer: tok, maxNewTokens: 6 });
    expect(pieces.join('')).toBe(whole.texts![0]);
  });

  it('leaving a stream early stops it; beam search does not stream', async () => {
    const model = slowModel();
    let n = 0;
    for await (const t of model.stream(SOURCES, { maxNewTokens: 200 })) if (t.step === 2 && ++n) break;
    expect(n).toBe(1);
    await expect(model.stream(SOURCES, { numBeams: 2 }).next()).rejects.toThrow(/numBeams/);
  });
});
