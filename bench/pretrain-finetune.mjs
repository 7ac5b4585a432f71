#!/usr/bin/env node
// npm run bench:pretrain [-- --pretrain-steps N] [--finetune-steps A,B,C] [--pairs N] [--seed N]
//
// Does masked-token pretraining help a small labelled set? A model is pretrained with BART's
// 'infill' objective (dynamic masking) on unlabelled calendar text (generateDateText: dates in
// the date task's spellings and in ISO, one date per sentence, never two spellings of one date
// together, and no held-out date), then fine-tuned on `--pairs` labelled date pairs (default
// 500). The same model (same config, seed and tokenizer) is trained from scratch on the same
// pairs with the same fine-tuning settings. Both are compared on 1000 held-out dates (exact match
// of greedy decoding) at equal fine-tuning steps.
import { cpuModel } from './cpu-model.mjs';
import {
  BatchLoader, CharTokenizer, Seq2SeqTransformer, Trainer, encodePairs, generateDateText, generateDates, getNumThreads, pretrain,
  withMaskTokens,
} from '../dist/index.js';
import { exactMatch } from '../dist/cli/demo.js';

function args(argv) {
  const a = { pretrainSteps: 1500, finetuneSteps: [250, 500, 1000], pairs: 500, seed: 1, corpus: 30000 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--pretrain-steps': a.pretrainSteps = Number(v); i++; break;
      case '--finetune-steps': a.finetuneSteps = v.split(',').map(Number); i++; break;
      case '--pairs': a.pairs = Number(v); i++; break;
      case '--seed': a.seed = Number(v); i++; break;
      case '--corpus': a.corpus = Number(v); i++; break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return a;
}

const a = args(process.argv.slice(2));
const MODEL = { dModel: 128, heads: 4, ffDim: 512, encoderLayers: 2, decoderLayers: 2, dropout: 0.1, attentionDropout: 0,
  norm: 'pre', activation: 'relu', positions: 'sinusoidal', tieEmbeddings: true, scaleEmbedding: true, maxLen: 96 };
const FT = { batchSize: 32, lr: 1e-3, warmup: 100 };

console.log(`CPU: ${cpuModel()}; ${getNumThreads()} threads`);
const corpus = generateDateText({ count: a.corpus, seed: a.seed + 100, maxSentences: 1 });
const heldCorpus = generateDateText({ count: 256, seed: a.seed + 101, maxSentences: 1 });
const pairs = generateDates({ count: a.pairs, seed: a.seed + 200 });
const test = generateDates({ count: 1000, seed: a.seed + 300, split: 'test' });
// One tokenizer for both models: the corpus's and the pairs' characters, <mask> appended.
const tok = withMaskTokens(CharTokenizer.fromTexts([...corpus, ...pairs.map((p) => p.source), ...pairs.map((p) => p.target)]));
console.log(`corpus: ${corpus.length} documents, e.g. ${JSON.stringify(corpus[0])}, ${JSON.stringify(corpus[1])}`);
console.log(`labelled: ${pairs.length} pairs; held out: ${test.length} dates; vocabulary ${tok.vocabSize}`);

const t0 = performance.now();
const pre = await pretrain({ documents: corpus, evalDocuments: heldCorpus, tokenizer: tok, noising: { objective: 'infill' }, masking: 'dynamic',
  model: MODEL, steps: a.pretrainSteps, batchSize: 64, lr: 2e-3, seed: a.seed, evalEvery: a.pretrainSteps, progressEvery: 250,
  onProgress: (p) => console.log(`  pretraining step ${p.step}/${p.totalSteps}: loss ${p.loss.toFixed(3)}, ${(p.elapsedMs / 1000).toFixed(0)} s`) });
const preSeconds = (performance.now() - t0) / 1000;
console.log(`pretrained ${pre.steps} steps (batch 64) in ${preSeconds.toFixed(0)} s: loss ${pre.loss.toFixed(3)}, held-out noised loss ${pre.evalLoss?.toFixed(3)}`);

async function finetune(model, label) {
  const loader = new BatchLoader(encodePairs(pairs, { source: tok }), { batchSize: FT.batchSize, shuffle: true, seed: a.seed,
    bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
  const last = a.finetuneSteps[a.finetuneSteps.length - 1];
  const trainer = new Trainer(model, { optimizer: { lr: FT.lr }, labelSmoothing: 0.1,
    schedule: { kind: 'cosine', lr: FT.lr, warmup: FT.warmup, totalSteps: last, minLr: FT.lr * 0.02 } });
  const rows = [];
  let done = 0;
  const t = performance.now();
  for (const at of a.finetuneSteps) {
    await trainer.fit(loader, { steps: at - done });
    done = at;
    const { accuracy } = exactMatch(model, tok, test, 14);
    rows.push(accuracy);
    console.log(`  ${label}: ${at} fine-tuning steps: exact match ${(accuracy * 100).toFixed(1)}%`);
  }
  return { rows, seconds: (performance.now() - t) / 1000 };
}

const scratchModel = new Seq2SeqTransformer({ norm: 'pre', ...MODEL, maxLen: pre.model.config.maxLen, srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize,
  seed: a.seed, padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId });
const fromPre = await finetune(pre.model, 'pretrained');
const scratch = await finetune(scratchModel, 'scratch   ');
console.log('\nheld-out exact match (1000 unseen dates), same model and fine-tuning settings:');
console.log('fine-tuning steps | from scratch | pretrained (infill) ');
a.finetuneSteps.forEach((s, i) => {
  console.log(`${String(s).padStart(17)} | ${(scratch.rows[i] * 100).toFixed(1).padStart(11)}% | ${(fromPre.rows[i] * 100).toFixed(1).padStart(18)}%`);
});
console.log(`(pretraining ${preSeconds.toFixed(0)} s; fine-tuning ${fromPre.seconds.toFixed(0)} s and ${scratch.seconds.toFixed(0)} s)`);
