// The training benchmark's model, optimizer and batch, shared by bench/train.mjs (attnode next to
// PyTorch) and bench/train-profile.mjs (where attnode's step time goes).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const MODEL = {
  srcVocab: 1000, tgtVocab: 1000, dModel: 256, heads: 4, ffDim: 1024, encoderLayers: 3, decoderLayers: 3,
  dropout: 0, attentionDropout: 0, activation: 'relu', norm: 'post', positions: 'sinusoidal', tieEmbeddings: false,
  scaleEmbedding: true, maxLen: 64, seed: 1, padId: 0, bosId: 1, eosId: 2,
};
export const BATCH = 32, SRC_LEN = 32, TGT_LEN = 32;
export const OPT = { kind: 'adam', lr: 1e-4, beta1: 0.9, beta2: 0.98, eps: 1e-9, weightDecay: 0, clipNorm: 0 };

/** A module of the built library (dist/), or exits saying how to build it. */
export async function dist(p) {
  if (!existsSync(path.join(root, 'dist', 'index.js'))) {
    console.error('dist/ missing: run `npx tsc -p tsconfig.json` (and `npx node-gyp build -j 2` if the addon is missing)');
    process.exit(1);
  }
  return import(pathToFileURL(path.join(root, 'dist', p)).href);
}

/** mulberry32: seeded token ids, the same on both sides. */
export function ids(n, seed, lo, hi) {
  let s = seed >>> 0;
  const out = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo + 1));
  }
  return out;
}

/** The benchmark batch: every row full length (key padding masks are still passed on both sides). */
export async function benchBatch() {
  const { collate } = await dist('data/batching.js');
  const examples = Array.from({ length: BATCH }, (_, b) => ({
    src: ids(SRC_LEN, 1000 + b, 3, MODEL.srcVocab - 1), tgt: ids(TGT_LEN - 1, 2000 + b, 3, MODEL.tgtVocab - 1),
  }));
  const batch = collate(examples, { bos: MODEL.bosId, eos: MODEL.eosId, padId: MODEL.padId });
  if (batch.srcLen !== SRC_LEN || batch.tgtLen !== TGT_LEN || batch.numTargetTokens !== BATCH * TGT_LEN) throw new Error('batch layout');
  return batch;
}

/** attnode's side: the model and a Trainer with the benchmark's optimizer (precision: TrainerOptions.precision). */
export async function benchTrainer(precision = 'fp32') {
  const { Seq2SeqTransformer } = await dist('nn/seq2seq.js');
  const { Trainer } = await dist('train/trainer.js');
  const model = new Seq2SeqTransformer(MODEL);
  const trainer = new Trainer(model, { optimizer: OPT, schedule: { kind: 'constant', lr: OPT.lr }, labelSmoothing: 0, precision });
  return { model, trainer };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
