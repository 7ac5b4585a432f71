// `attnode train --task dates --objective cmlm`: the date recipe (demo.ts) trained as a
// conditional masked LM (issue 15, Mask-Predict). The character tokenizer gains <mask> (appended,
// no id shifts: withMaskTokens), the model a bidirectional decoder and a length predictor, the
// Trainer the CMLM loss; held-out exact match is measured with Mask-Predict decoding.
import { collate, type Seq2SeqBatch } from '../data/batching.js';
import { CharTokenizer } from '../data/char.js';
import { encodePairs } from '../data/examples.js';
import { BatchLoader } from '../data/loader.js';
import { withMaskTokens } from '../data/noising/mask-tokens.js';
import { generateTask } from '../data/tasks/index.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { maskPredictSync } from '../decode/mask-predict.js';
import { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { saveModel } from '../train/checkpoint.js';
import { Trainer } from '../train/trainer.js';
import type { RecipeOptions } from './demo.js';
import { ProgressBar } from './progress.js';

export interface CmlmRecipeOptions extends RecipeOptions {
  /** Mask-Predict passes for the held-out evaluation. Default 10. */
  iterations?: number;
  /** Length candidates for the held-out evaluation. Default 1. */
  lengthCandidates?: number;
}

/** Exact-match accuracy of Mask-Predict decoding over pairs. */
export function exactMatchMaskPredict(model: Seq2SeqTransformer, tok: Tokenizer, pairs: readonly { source: string; target: string }[],
  o: { iterations?: number; lengthCandidates?: number; maxLength?: number } = {}): { accuracy: number; outputs: string[] } {
  const ex = encodePairs(pairs, { source: tok });
  const outputs: string[] = [];
  for (let i = 0; i < ex.length; i += 250) {
    const b: Seq2SeqBatch = collate(ex.slice(i, i + 250), { bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
    for (const h of maskPredictSync(model, b.src, b.srcLengths, b.batch, b.srcLen, o)) outputs.push(tok.decode(h.tokens, { skipSpecial: true }));
  }
  const ok = outputs.filter((x, i) => x === pairs[i]!.target).length;
  return { accuracy: pairs.length ? ok / pairs.length : 0, outputs };
}

export async function runCmlmRecipe(o: CmlmRecipeOptions): Promise<{ accuracy: number; seconds: number }> {
  const t0 = performance.now();
  const train = generateTask(o.task, { count: 100_000, seed: o.seed });
  const test = generateTask(o.task, { count: 1000, seed: o.seed + 1, split: 'test' });
  const tok = withMaskTokens(CharTokenizer.fromTexts([...train.map((p) => p.source), ...train.map((p) => p.target)]));
  const loader = new BatchLoader(encodePairs(train, { source: tok }),
    { batchSize: o.batchSize, shuffle: true, seed: o.seed, bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
  const model = new Seq2SeqTransformer({ ...o.model, srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, seed: o.seed,
    padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId, objective: 'cmlm', maskId: tok.maskId! });
  o.log(`task ${o.task} (objective cmlm): ${train.length} generated training pairs, e.g. "${test[0]!.source}" -> "${test[0]!.target}"`);
  o.log(`model: ${model.numParameters().toLocaleString('en-US')} parameters (dModel ${model.config.dModel}, ` +
    `${model.config.encoderLayers}+${model.config.decoderLayers} layers, ${model.config.heads} heads, bidirectional decoder, ` +
    `length predictor); ${o.steps} steps of ${o.batchSize}`);
  const trainer = new Trainer(model, {
    optimizer: { lr: o.lr }, labelSmoothing: 0.1,
    schedule: { kind: 'cosine', lr: o.lr, warmup: 200, totalSteps: o.steps, minLr: o.lr * 0.02 },
    ...(o.distributed ? { distributed: o.distributed } : {}),
  });
  const bar = new ProgressBar();
  await trainer.fit(loader, { steps: o.steps, onProgress: (p) => bar.update(p), progressEvery: 10, ...(o.signal ? { signal: o.signal } : {}) });
  bar.done();
  if (o.distributed && !o.distributed.isMain) return { accuracy: NaN, seconds: (performance.now() - t0) / 1000 };
  const iterations = o.iterations ?? 10, lengthCandidates = o.lengthCandidates ?? 1;
  const { accuracy, outputs } = exactMatchMaskPredict(model, tok, test, { iterations, lengthCandidates });
  o.log(`exact match on ${test.length} held-out examples (Mask-Predict, ${iterations} iterations, ${lengthCandidates} length candidate${lengthCandidates > 1 ? 's' : ''}): ${(accuracy * 100).toFixed(1)}%`);
  for (let i = 0; i < 6; ++i) o.log(`  ${JSON.stringify(test[i]!.source).padEnd(34)} -> ${outputs[i]}${outputs[i] === test[i]!.target ? '' : `   (expected ${test[i]!.target})`}`);
  await saveModel(o.out, model, { tokenizer: tok });
  const seconds = (performance.now() - t0) / 1000;
  o.log(`saved the model to ${o.out}  (translate with: npx attnode translate --model ${o.out} --method mask-predict "March 3rd, 2021")`);
  o.log(`total time ${seconds.toFixed(1)} s`);
  return { accuracy, seconds };
}
