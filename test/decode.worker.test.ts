// generate/stream on the model's decoding worker thread (the default): same results as on the
// main thread, the worker reads the model's own (shared) weights, aborts and streams work across
// the thread boundary, and options that cannot travel fall back to the main thread.
import { describe, expect, it } from 'vitest';
import { CharTokenizer, Seq2SeqTransformer } from '../dist/index.js';
import { generate, stream } from '../dist/decode/generate.js';
import { decodeWorkerFor } from '../dist/decode/worker-client.js';

const tok = CharTokenizer.fromTexts(['abcdefgh 0123456789']);
function model(seed = 3) {
  return new Seq2SeqTransformer({ srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, dModel: 16, heads: 2, ffDim: 32,
    encoderLayers: 1, decoderLayers: 1, maxLen: 40, dropout: 0, seed });
}
const SOURCES = ['abc 123', 'h0', 'deadbeef 42'];

describe('decoding worker', () => {
  it('is used by default and gives the main thread\'s results bit for bit', async () => {
    const m = model();
    expect(decodeWorkerFor(m, { tokenizer: tok })).not.toBeNull();
    for (const o of [{ maxNewTokens: 12 }, { maxNewTokens: 10, numBeams: 3, numReturnSequences: 2 }, { maxNewTokens: 9, doSample: true, seed: 5, topK: 5 }]) {
      const w = await generate(m, SOURCES, { ...o, tokenizer: tok });
      const h = await generate(m, SOURCES, { ...o, tokenizer: tok, thread: 'main' });
      expect(w.tokens).toEqual(h.tokens);
      expect(w.scores).toEqual(h.scores);
      expect(w.texts).toEqual(h.texts);
    }
  });

  it('reads the model\'s weights in place: changes made on the main thread show through', async () => {
    const m = model(), other = model(9);
    const before = await m.generate(SOURCES, { tokenizer: tok, maxNewTokens: 10 });
    // Copy another model's weights into m (same config): the worker must decode with the new ones.
    const src = other.namedParameters();
    for (const [name, p] of m.namedParameters()) p.storage.data.set(src.get(name)!.storage.data);
    const after = await m.generate(SOURCES, { tokenizer: tok, maxNewTokens: 10 });
    const expected = await other.generate(SOURCES, { tokenizer: tok, maxNewTokens: 10, thread: 'main' });
    expect(after.tokens).toEqual(expected.tokens);
    expect(after.tokens).not.toEqual(before.tokens);
  });

  it('streams the same tokens as the main thread, and an abort stops the stream', async () => {
    const m = model();
    const fromWorker: unknown[] = [], fromMain: unknown[] = [];
    for await (const t of stream(m, SOURCES, { maxNewTokens: 8, tokenizer: tok })) fromWorker.push(t);
    for await (const t of stream(m, SOURCES, { maxNewTokens: 8, thread: 'main', tokenizer: tok })) fromMain.push(t);
    expect(fromWorker).toEqual(fromMain);
    const ctl = new AbortController();
    const steps: number[] = [];
    await expect((async () => {
      for await (const t of stream(m, SOURCES, { maxNewTokens: 30, minNewTokens: 30, signal: ctl.signal, tokenizer: tok })) {
        steps.push(t.step);
        if (t.step === 2) ctl.abort();
      }
    })()).rejects.toMatchObject({ name: 'AbortError' });
    expect(Math.max(...steps)).toBe(2);
    await expect(m.generate(SOURCES, { maxNewTokens: 5, signal: AbortSignal.abort(), tokenizer: tok })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('falls back to the main thread for a tokenizer that cannot be sent to a worker', async () => {
    const m = model();
    const custom = { encode: (s: string) => tok.encode(s, { addEos: true }), decode: (ids: ArrayLike<number>) => tok.decode(ids) };
    expect(decodeWorkerFor(m, { tokenizer: custom })).toBeNull();
    const r = await m.generate(SOURCES, { tokenizer: custom, maxNewTokens: 6 });
    expect(r.texts).toHaveLength(3);
  });

  it('rejects bad options by name before any work, on either thread', async () => {
    const m = model();
    await expect(m.generate(SOURCES, { numBeams: 0, tokenizer: tok })).rejects.toThrow(/numBeams/);
    await expect(m.generate(SOURCES, { thread: 'gpu' as never, tokenizer: tok })).rejects.toThrow(/options\.thread/);
  });
});
