// A tiny data-parallel training run for test/dist.mpi.test.ts, started alone or under mpirun.
//   node test/helpers/dist-train.mjs OUT.json [--single] [--steps N] [--accumulate N] [--save DIR] [--resume DIR]
//     [--kill-rank R --kill-step S (SIGKILL itself)] [--throw-rank R --throw-step S] [--nan-rank R --nan-step S]
//     [--hang-rank R --hang-step S (blocks for 10 minutes)] [--timeout MS (collectives' timeout, default 20000)]
// --single: one process on the combined (global) batches, no initDistributed: the reference.
// Rank 0 writes OUT.json (losses per step, weights); every rank writes OUT.rankN.json (its weights' bits).
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { BatchLoader, encodePairs, CharTokenizer, generateTask, Seq2SeqTransformer, Trainer, initDistributed, saveTraining, resumeTraining, NonFiniteError, shardBatch } from '../../dist/index.js';

const argv = process.argv.slice(2);
const out = argv[0];
const flag = (name) => argv.includes(`--${name}`);
const val = (name, d) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : d; };
const steps = Number(val('steps', 6)), accumulate = Number(val('accumulate', 1));
const num = (name) => (val(name) === undefined ? -1 : Number(val(name)));
const killRank = num('kill-rank'), killStep = num('kill-step'), throwRank = num('throw-rank'), throwStep = num('throw-step');
const nanRank = num('nan-rank'), nanStep = num('nan-step'), hangRank = num('hang-rank'), hangStep = num('hang-step');

const dist = flag('single') ? null : await initDistributed({ timeoutMs: Number(val('timeout', 20_000)) });
const rank = dist?.rank ?? 0;
// 45 examples in batches of 8: the last batch of each epoch has 5 rows (3 + 2 on two ranks).
const pairs = generateTask('copy', { count: 45, seed: 3 });
const tok = CharTokenizer.fromTexts(pairs.flatMap((p) => [p.source, p.target]));
const loader = new BatchLoader(encodePairs(pairs, { source: tok }), { batchSize: 8, shuffle: true, seed: 5, bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
const model = new Seq2SeqTransformer({ dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 1, dropout: 0, attentionDropout: 0,
  norm: 'pre', tieEmbeddings: true, maxLen: 64, srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, seed: 7,
  padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId });
// Ranks other than 0 start from other weights: the first step must broadcast rank 0's.
if (rank !== 0) for (const p of model.parameters()) p.storage.data.fill(0.5);
const trainer = new Trainer(model, { optimizer: { lr: 3e-3, eps: Number(val('eps', 1e-9)) }, labelSmoothing: 0.1, schedule: { kind: 'constant', lr: 3e-3 },
  ...(dist ? { distributed: dist, bucketBytes: 4096 } : {}) });
if (val('resume')) await resumeTraining(val('resume'), trainer, { loader });

const losses = [], comm = [];
let nonFinite = null;
const weights = () => [...model.namedParameters()].map(([name, p]) => [name, Array.from(p.storage.data)]);
const bits = () => {
  const h = createHash('sha256');
  for (const p of model.parameters()) h.update(Buffer.from(p.storage.data.buffer, p.storage.data.byteOffset, p.storage.data.byteLength));
  return h.digest('hex');
};
if (nanStep > 0) {
  // Step by hand so one rank can poison its own copy of a weight right before step nanStep.
  for (let s = 1; s <= steps; ++s) {
    const micro = [loader.next()].map((b) => (dist ? shardBatch(b, dist.rank, dist.size) : b));
    if (s === nanStep && rank === nanRank) model.parameters()[0].storage.data[0] = NaN;
    const before = bits();
    try {
      losses.push(trainer.trainStep(micro).loss);
    } catch (e) {
      if (!(e instanceof NonFiniteError)) throw e;
      if (rank === nanRank) model.parameters()[0].storage.data[0] = 0;  // (compared below without the poisoned value)
      nonFinite = { step: s, message: e.message, optimizerStep: trainer.step, unchanged: rank === nanRank || before === bits() };
      break;
    }
  }
} else {
  await trainer.fit(loader, {
    steps, accumulate, progressEvery: 1,
    onProgress: (p) => { losses.push(p.loss); if (p.comm) comm.push(p.comm); },
    afterStep: async (s) => {
      if (s === killStep && rank === killRank) process.kill(process.pid, 'SIGKILL');
      if (s === hangStep && rank === hangRank) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600_000);  // alive, but gone from the group
      if (s === throwStep && rank === throwRank) throw new Error(`deliberate failure on rank ${rank} at step ${s}`);
      if (val('save') && s === steps) await saveTraining(val('save'), trainer, { loader });
    },
  });
}
const gradBytes = trainer.optimizer.params.reduce((n, p) => n + p.size * 4, 0);
const mine = { rank, size: dist?.size ?? 1, bits: bits(), step: trainer.step, nonFinite, losses, gradBytes };
fs.writeFileSync(`${out}.rank${rank}.json`, JSON.stringify(mine));
if (rank === 0) fs.writeFileSync(out, JSON.stringify({ ...mine, comm, weights: weights(), loaderEpoch: loader.epoch, loaderPosition: loader.position }));
dist?.dispose();
