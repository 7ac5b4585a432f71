// `attnode demo` and `attnode train --task dates`: the date-normalisation recipe. Trains a small
// pre-LN Transformer on generated dates, reports exact-match accuracy on 1000 held-out dates
// (dates never seen in training, in any spelling) and saves the model.
import { collate, type Seq2SeqBatch } from '../data/batching.js';
import { CharTokenizer } from '../data/char.js';
import { encodePairs } from '../data/examples.js';
import { BatchLoader } from '../data/loader.js';
import { generateTask } from '../data/tasks/index.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { greedyRecompute } from '../decode/greedy-simple.js';
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { saveModel } from '../train/checkpoint.js';
import { Trainer } from '../train/trainer.js';
import type { Distributed } from '../dist/distributed.js';
import type { Precision } from '../gemm.js';
import { ProgressBar } from './progress.js';

export interface RecipeOptions {
  task: 'dates' | 'copy' | 'reverse' | 'sort';
  out: string;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  model: Partial<Seq2SeqModelConfig>;
  signal?: AbortSignal;
  log: (line: string) => void;
  /** Data-parallel over these ranks (initDistributed); rank 0 alone evaluates and saves. */
  distributed?: Distributed;
  /** Matrix-product precision of training (TrainerOptions.precision); default fp32. */
  precision?: Precision;
}

export const DEMO_RECIPE: Omit<RecipeOptions, 'out' | 'log'> = {
  task: 'dates', steps: 1500, batchSize: 64, lr: 2e-3, seed: 1,
  model: { dModel: 128, heads: 4, ffDim: 512, encoderLayers: 2, decoderLayers: 2, dropout: 0, attentionDropout: 0,
    norm: 'pre', activation: 'relu', positions: 'sinusoidal', tieEmbeddings: true, scaleEmbedding: true, maxLen: 64 },
};

/** Exact-match accuracy of greedy decoding over pairs. */
export function exactMatch(model: Seq2SeqTransformer, tok: Tokenizer, pairs: readonly { source: string; target: string }[],
  maxNewTokens: number): { accuracy: number; outputs: string[] } {
  const ex = encodePairs(pairs, { source: tok });
  const outputs: string[] = [];
  for (let i = 0; i < ex.length; i += 250) {
    const b: Seq2SeqBatch = collate(ex.slice(i, i + 250), { bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
    const r = greedyRecompute(model, b.src, b.srcLengths, b.batch, b.srcLen, maxNewTokens);
    for (const t of r.tokens) outputs.push(tok.decode(t));
  }
  const ok = outputs.filter((o, i) => o === pairs[i]!.target).length;
  return { accuracy: pairs.length ? ok / pairs.length : 0, outputs };
}

export async function runRecipe(o: RecipeOptions): Promise<{ accuracy: number; seconds: number }> {
  const t0 = performance.now();
  const train = generateTask(o.task, { count: 100_000, seed: o.seed });
  const test = generateTask(o.task, { count: 1000, seed: o.seed + 1, split: 'test' });
  const tok = CharTokenizer.fromTexts([...train.map((p) => p.source), ...train.map((p) => p.target)]);
  const loader = new BatchLoader(encodePairs(train, { source: tok }),
    { batchSize: o.batchSize, shuffle: true, seed: o.seed, bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
  const model = new Seq2SeqTransformer({ ...o.model, srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, seed: o.seed,
    padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId });
  o.log(`task ${o.task}: ${train.length} generated training pairs, e.g. "${test[0]!.source}" -> "${test[0]!.target}"`);
  o.log(`model: ${model.numParameters().toLocaleString('en-US')} parameters (dModel ${model.config.dModel}, ` +
    `${model.config.encoderLayers}+${model.config.decoderLayers} layers, ${model.config.heads} heads); ${o.steps} steps of ${o.batchSize}`);
  const trainer = new Trainer(model, {
    optimizer: { lr: o.lr }, labelSmoothing: 0.1,
    schedule: { kind: 'cosine', lr: o.lr, warmup: 200, totalSteps: o.steps, minLr: o.lr * 0.02 },
    ...(o.distributed ? { distributed: o.distributed } : {}),
    ...(o.precision ? { precision: o.precision } : {}),
  });
  const bar = new ProgressBar();
  await trainer.fit(loader, { steps: o.steps, onProgress: (p) => bar.update(p), progressEvery: 10, ...(o.signal ? { signal: o.signal } : {}) });
  bar.done();
  if (o.distributed && !o.distributed.isMain) return { accuracy: NaN, seconds: (performance.now() - t0) / 1000 };  // every rank has the same weights
  const maxOut = Math.max(...test.map((p) => tok.encode(p.target).length)) + 2;
  const { accuracy, outputs } = exactMatch(model, tok, test, maxOut);
  o.log(`exact match on ${test.length} held-out examples: ${(accuracy * 100).toFixed(1)}%`);
  for (let i = 0; i < 6; ++i) o.log(`  ${JSON.stringify(test[i]!.source).padEnd(34)} -> ${outputs[i]}${outputs[i] === test[i]!.target ? '' : `   (expected ${test[i]!.target})`}`);
  await saveModel(o.out, model, { tokenizer: tok });
  const seconds = (performance.now() - t0) / 1000;
  o.log(`saved the model to ${o.out}  (translate with: npx attnode translate --model ${o.out} "March 3rd, 2021")`);
  o.log(`total time ${seconds.toFixed(1)} s`);
  return { accuracy, seconds };
}
