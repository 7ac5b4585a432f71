// End to end: a tiny Transformer learns the copy task to 100% exact match (greedy decoding) on
// held-out strings after a fixed number of steps. Judged by accuracy only, never by time.
// The recipe (dModel 32, 2 heads, ffDim 64, 1+1 pre-LN layers, batch 32, Adam 3e-3 with cosine
// decay, 700 steps, strings of 1-8 letters over 'abcdefghij') reached 100% for each of seeds 1-8
// when chosen; 500 steps already reached 100% for 4 of 5 seeds (99.7% for the fifth), so 700 is
// the smallest round count with a margin. Training is deterministic (seeded data, init, and
// kernels that are bitwise identical across thread counts), so this test is not flaky.
import { expect, it } from 'vitest';
import { CharTokenizer } from '../dist/data/char.js';
import { collate } from '../dist/data/batching.js';
import { encodePairs } from '../dist/data/examples.js';
import { BatchLoader } from '../dist/data/loader.js';
import { generateTask } from '../dist/data/tasks/index.js';
import { greedyRecompute } from '../dist/decode/greedy-simple.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import { Trainer } from '../dist/train/trainer.js';

it('copy task: 100% exact match on 300 held-out strings after 700 steps', async () => {
  const seed = 1, steps = 700, lr = 3e-3, maxLength = 8;
  const train = generateTask('copy', { count: 20000, seed, minLength: 1, maxLength });
  const test = generateTask('copy', { count: 300, seed: seed + 1000, split: 'test', minLength: 1, maxLength });
  const seen = new Set(train.map((p) => p.source));
  expect(test.filter((p) => seen.has(p.source))).toEqual([]);  // held out: never trained on
  const tok = CharTokenizer.fromTexts(train.map((p) => p.source));
  const model = new Seq2SeqTransformer({
    srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, dModel: 32, heads: 2, ffDim: 64, encoderLayers: 1, decoderLayers: 1,
    dropout: 0, norm: 'pre', maxLen: maxLength + 4, padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId, seed,
  });
  const trainer = new Trainer(model, {
    optimizer: { lr }, labelSmoothing: 0, schedule: { kind: 'cosine', lr, warmup: 70, totalSteps: steps, minLr: lr / 20 },
  });
  const loader = new BatchLoader(encodePairs(train, { source: tok }),
    { batchSize: 32, shuffle: true, seed, bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
  const r = await trainer.fit(loader, { steps });
  expect(trainer.step).toBe(steps);

  const b = collate(encodePairs(test, { source: tok }), { bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
  const out = greedyRecompute(model, b.src, b.srcLengths, b.batch, b.srcLen, maxLength + 2).tokens.map((t) => tok.decode(t));
  const wrong = test.map((p, i) => ({ source: p.source, got: out[i] })).filter((x) => x.got !== x.source);
  console.log(`copy: final training loss ${r.loss.toFixed(4)}, held-out exact match ${((1 - wrong.length / test.length) * 100).toFixed(1)}%`);
  expect(wrong).toEqual([]);
});
