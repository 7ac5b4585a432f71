// Trainer.fit options: epochs or steps, progress reports, and an AbortSignal.
import { describe, expect, it } from 'vitest';
import { BatchLoader, Seq2SeqTransformer, Trainer, type Progress } from '../dist/index.js';

function setup() {
  const ex = Array.from({ length: 10 }, (_, i) => ({ src: Int32Array.of(3 + (i % 5), 4), tgt: Int32Array.of(3 + (i % 5), 4) }));
  const loader = new BatchLoader(ex, { batchSize: 4, bos: 1, eos: 2, padId: 0 });
  const model = new Seq2SeqTransformer({ srcVocab: 10, tgtVocab: 10, dModel: 8, heads: 2, ffDim: 8, encoderLayers: 1, decoderLayers: 1, maxLen: 8 });
  return { loader, trainer: new Trainer(model) };
}

describe('Trainer.fit', () => {
  it('runs epochs * batchesPerEpoch / accumulate steps', async () => {
    const { loader, trainer } = setup();
    expect(loader.batchesPerEpoch).toBe(3);
    expect((await trainer.fit(loader, { epochs: 2 })).steps).toBe(6);
    expect((await trainer.fit(loader, { epochs: 1, accumulate: 2 })).steps).toBe(2);
    expect(trainer.step).toBe(8);
  });

  it('wants exactly one of steps and epochs', async () => {
    const { loader, trainer } = setup();
    await expect(trainer.fit(loader, { steps: 1, epochs: 1 })).rejects.toThrow(/exactly one of steps and epochs/);
    await expect(trainer.fit(loader, {})).rejects.toThrow(TypeError);
    await expect(trainer.fit(loader, { steps: -1 })).rejects.toThrow(/steps/);
    await expect(trainer.fit({ next: () => loader.next() }, { epochs: 1 })).rejects.toThrow(/batchesPerEpoch/);
  });

  it('reports progress with loss, tokens/s, learning rate and ETA', async () => {
    const { loader, trainer } = setup();
    const seen: Progress[] = [];
    await trainer.fit(loader, { steps: 5, progressEvery: 2, onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.step)).toEqual([2, 4, 5]);
    for (const p of seen) {
      expect(Number.isFinite(p.loss) && p.loss > 0).toBe(true);
      expect(p.tokensPerSecond).toBeGreaterThan(0);
      expect(p.lr).toBeGreaterThan(0);
      expect(p.totalSteps).toBe(5);
    }
    expect(seen[seen.length - 1]!.etaMs).toBe(0);
  });

  it('stops at an aborted signal with an AbortError, between steps', async () => {
    const { loader, trainer } = setup();
    const ac = new AbortController();
    const run = trainer.fit(loader, { steps: 1000, onProgress: (p) => { if (p.step === 3) ac.abort(); }, progressEvery: 1, signal: ac.signal });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(trainer.step).toBe(3);
  });
});
