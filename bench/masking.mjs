#!/usr/bin/env node
// npm run bench:masking [-- --steps N] [--documents N] [--objective mlm|infill|span]
//
// Static against dynamic masking (RoBERTa, Liu et al. 2019, section 4.1), side by side on the same
// steps: the same model, seed, corpus, batches of the same documents and schedule; only when the
// masks are drawn differs. 'static' draws each document's mask once when the data set is built;
// 'static x10' draws 10 copies with different masks (RoBERTa's baseline); 'dynamic' draws a fresh
// mask each time a document is served (keyed by seed, epoch and index). The corpus is kept small
// (default 1000 documents of calendar text, ~25 epochs) so that static masks repeat many times.
//
// Reported: held-out masked-token accuracy (argmax at the scored positions of 2000 unseen documents
// with fixed masks; for 'mlm' the chosen positions) and held-out loss (cross-entropy per scored
// token, no label smoothing), and the data pipeline's cost: ms per batch of source.next() alone,
// measured in a loop of its own (no training running; median of 21 rounds of 100 batches), and the
// one-off build of the source.
import { cpuModel } from './cpu-model.mjs';
import {
  CharTokenizer, MaskedBatchSource, Seq2SeqTransformer, Trainer, generateDateText, getNumThreads, maskedEvalBatches, noGrad, withMaskTokens,
} from '../dist/index.js';

function args(argv) {
  const a = { steps: 800, documents: 1000, objective: 'mlm', batchSize: 32 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (argv[i] === '--steps') a.steps = Number(v);
    else if (argv[i] === '--documents') a.documents = Number(v);
    else if (argv[i] === '--objective') a.objective = v;
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return a;
}

const a = args(process.argv.slice(2));
const SEED = 7;
const corpus = generateDateText({ count: a.documents, seed: 41, maxSentences: 1 });
const held = generateDateText({ count: 2000, seed: 42, maxSentences: 1, split: 'test' });
const tok = withMaskTokens(CharTokenizer.fromTexts([...corpus, ...held]), { sentinels: 20 });
const docs = corpus.map((t) => tok.encode(t));
const heldDocs = held.map((t) => tok.encode(t));
const noising = { objective: a.objective };
const evalBatches = maskedEvalBatches(heldDocs, tok, { noising, batchSize: 128, seed: 999 });
const MODEL = { dModel: 64, heads: 4, ffDim: 256, encoderLayers: 2, decoderLayers: 2, dropout: 0.1, attentionDropout: 0, norm: 'pre',
  activation: 'relu', positions: 'sinusoidal', tieEmbeddings: true, scaleEmbedding: true, maxLen: 128 };

/** Held-out accuracy and loss over the scored positions (labels that are not -100). */
function heldOut(model) {
  let right = 0, count = 0, loss = 0;
  noGrad(() => {
    for (const b of evalBatches) {
      const logits = model.forward(b, { training: false }).toFloat32Array();
      const V = tok.vocabSize;
      for (let r = 0; r < b.labels.length; r++) {
        const y = b.labels[r];
        if (y === -100) continue;
        const row = logits.subarray(r * V, (r + 1) * V);
        let best = 0, max = -Infinity;
        for (let v = 0; v < V; v++) if (row[v] > max) { max = row[v]; best = v; }
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
        loss += Math.log(z) + max - row[y];
        if (best === y) right++;
        count++;
      }
    }
  });
  return { accuracy: right / count, loss: loss / count, count };
}

function makeSource(masking, duplicates) {
  return new MaskedBatchSource(docs, tok, { noising, masking, ...(duplicates ? { duplicates } : {}), batchSize: a.batchSize, seed: SEED });
}

/** ms per batch of next() alone: the median of 21 rounds of 100 batches (after a warm-up), steady on a busy machine. */
function pipelineCost(source, rounds = 21, per = 100) {
  for (let i = 0; i < 50; i++) source.next();
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < per; i++) source.next();
    times.push((performance.now() - t) / per);
  }
  return times.sort((x, y) => x - y)[rounds >> 1];
}

const runs = [['static', undefined], ['static x10', 10], ['dynamic', undefined]];
console.log(`CPU: ${cpuModel()}; ${getNumThreads()} threads`);
console.log(`objective ${a.objective}; ${docs.length} training documents (e.g. ${JSON.stringify(corpus[0])}), ${heldDocs.length} held-out; ` +
  `${a.steps} steps of ${a.batchSize} (${(a.steps * a.batchSize / docs.length).toFixed(1)} epochs); model dModel ${MODEL.dModel}, 2+2 layers`);
const results = [];
for (const [name, dup] of runs) {
  const masking = name.startsWith('static') ? 'static' : 'dynamic';
  const t0 = performance.now();
  const source = makeSource(masking, dup);
  const buildMs = performance.now() - t0;
  const model = new Seq2SeqTransformer({ ...MODEL, srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, seed: SEED, padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId });
  const lr = 2e-3;
  const trainer = new Trainer(model, { optimizer: { lr }, labelSmoothing: 0, schedule: { kind: 'cosine', lr, warmup: 100, totalSteps: a.steps, minLr: lr * 0.02 } });
  const t1 = performance.now();
  const fit = await trainer.fit(source, { steps: a.steps });
  const trainS = (performance.now() - t1) / 1000;
  const h = heldOut(model);
  const perBatch = pipelineCost(makeSource(masking, dup));
  results.push({ name, h, trainLoss: fit.loss, buildMs, perBatch, trainS });
  console.log(`  ${name}: held-out accuracy ${(h.accuracy * 100).toFixed(1)}%, loss ${h.loss.toFixed(3)} (${h.count} scored tokens); ` +
    `train ${trainS.toFixed(0)} s`);
}
console.log('\n| masking | held-out masked-token accuracy | held-out loss | last train loss | pipeline ms/batch | build ms |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.name} | ${(r.h.accuracy * 100).toFixed(1)}% | ${r.h.loss.toFixed(3)} | ${r.trainLoss.toFixed(3)} | ${r.perBatch.toFixed(3)} | ${r.buildMs.toFixed(0)} |`);
}
