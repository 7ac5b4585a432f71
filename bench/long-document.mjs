#!/usr/bin/env node
// node bench/long-document.mjs [--quick] [--steps N] [--batch N] [--window N] [--lr X] [--train-length N]
//                              [--lengths 2048,4096] [--eval N] [--threads N] [--json out.json]
//
// Sparse attention earning its keep on long documents (issue 16). Task: keyed lookup
// (lib/data/tasks/long-lookup.ts): filler letters a-p with one marker letter A somewhere, followed
// by a digit; the target is that digit. The answer is local to its marker, so a windowed encoder
// suffices, and its states depend only on a fixed neighbourhood, however long the document.
//
// Model: dModel 64, 4 heads, ffDim 256, 2+2 layers, pre-LN, sinusoidal positions, dropout 0, Adam
// (lr --lr, inverse-sqrt schedule with 50 warm-up steps). Two runs from the same initial weights
// on the same batches: "window" (encoderAttention window ±--window, decoder self-attention window
// 4) and "full" (dense attention). Both train --steps steps of --batch documents of --train-length
// tokens (default 256: training at 2k-4k from scratch does not find the needle within minutes on
// 2 cores). Then, for --train-length and each of --lengths (default 2048, 4096):
// - exact match of greedy decoding on --eval held-out documents of that length;
// - the median time of 3 training steps (batch --batch) of a fresh model at that length, timing
//   only: encoder self-attention costs O(T x window) with the window and O(T^2) without;
//   cross-attention (2 decoder positions) is small either way.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { printTable } from './ops/common.mjs';
import { cpuModel } from './cpu-model.mjs';
import { dist, median } from './train-setup.mjs';

function parseArgs(argv) {
  const a = { quick: false, steps: 500, batch: 8, window: 8, lr: 2e-3, trainLength: 256, lengths: null, eval: null, threads: null, json: null };
  const num = (i, name, int = true) => {
    const v = Number(argv[i]);
    if (!(v > 0) || (int && !Number.isInteger(v))) usage(`${name} needs a positive ${int ? 'integer' : 'number'}, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i];
    if (s === '--quick') a.quick = true;
    else if (s === '--steps') a.steps = num(++i, s);
    else if (s === '--batch') a.batch = num(++i, s);
    else if (s === '--window') a.window = num(++i, s);
    else if (s === '--lr') a.lr = num(++i, s, false);
    else if (s === '--train-length') a.trainLength = num(++i, s);
    else if (s === '--lengths') {
      a.lengths = String(argv[++i]).split(',').map(Number);
      if (a.lengths.some((x) => !Number.isInteger(x) || x < 2)) usage(`--lengths needs comma-separated integers >= 2, got ${argv[i]}`);
    } else if (s === '--eval') a.eval = num(++i, s);
    else if (s === '--threads') a.threads = num(++i, s);
    else if (s === '--json') a.json = argv[++i];
    else usage(`unknown argument ${s}`);
  }
  return a;
}

function usage(msg) {
  console.error(`${msg}\nusage: node bench/long-document.mjs [--quick] [--steps N] [--batch N] [--window N] [--lr X] [--train-length N] [--lengths 2048,4096] [--eval N] [--threads N] [--json out.json]`);
  process.exit(2);
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const lengths = [a.trainLength, ...(a.lengths ?? (a.quick ? [2048] : [2048, 4096]))];
  const evalCount = a.eval ?? (a.quick ? 40 : 100);
  const { getNumThreads, setNumThreads, cpuInfo, Seq2SeqTransformer, Trainer } = await dist('index.js');
  const { CharTokenizer } = await dist('data/char.js');
  const { encodePairs } = await dist('data/examples.js');
  const { collate } = await dist('data/batching.js');
  const { greedyRecompute } = await dist('decode/greedy-simple.js');
  const { generateLongLookup } = await dist('data/tasks/long-lookup.js');
  if (a.threads) setNumThreads(a.threads);
  console.log(`long-document keyed lookup: trained on ${a.trainLength}-token documents (${a.steps} steps of ${a.batch}), ` +
    `evaluated at ${lengths.join(', ')} tokens; dModel 64, 2+2 layers; window ±${a.window}`);
  console.log(`CPU: ${cpuModel()}; threads = ${getNumThreads()}, isa = ${cpuInfo().isa}, ${os.availableParallelism()} CPUs, ` +
    `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const t0 = performance.now();

  const tok = CharTokenizer.fromTexts(['abcdefghijklmnop', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '0123456789']);
  const encode = (pairs) => encodePairs(pairs, { source: tok });
  const batchOf = (ex) => collate(ex, { bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
  const docs = (count, seed, length, split) => generateLongLookup({ count, seed, length, keys: 1, ...(split ? { split } : {}) });
  const train = encode(docs(a.steps * a.batch, 1, a.trainLength));
  const base = { srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize, dModel: 64, heads: 4, ffDim: 256, encoderLayers: 2, decoderLayers: 2,
    dropout: 0, attentionDropout: 0, norm: 'pre', maxLen: Math.max(...lengths) + 2, seed: 1, padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId };
  const kinds = [
    { name: `window ±${a.window}`, cfg: { ...base, encoderAttention: { window: { left: a.window, right: a.window } }, decoderSelfAttention: { window: { left: 4 } } } },
    { name: 'full', cfg: base },
  ];
  const rows = [];
  for (const k of kinds) {
    const model = new Seq2SeqTransformer(k.cfg);
    const trainer = new Trainer(model, { optimizer: { lr: a.lr }, labelSmoothing: 0, schedule: { kind: 'inverseSqrt', lr: a.lr, warmup: 50 } });
    const times = [], losses = [];
    for (let s = 0; s < a.steps; ++s) {
      const b = batchOf(train.slice(s * a.batch, (s + 1) * a.batch));
      const st = performance.now();
      losses.push(trainer.trainStep([b]).loss);
      times.push(performance.now() - st);
      if (s % 50 === 49) process.stdout.write(`  ${k.name}: step ${s + 1}/${a.steps}, loss ${losses.at(-1).toFixed(3)}\n`);
    }
    const row = { kind: k.name, trainStepMs: median(times), firstLoss: losses[0], lastLoss: losses.at(-1), exact: {}, stepMs: {} };
    for (const L of lengths) {
      const test = docs(evalCount, 2, L, 'test'), ex = encode(test);
      let ok = 0;
      for (let i = 0; i < ex.length; i += 20) {
        const b = batchOf(ex.slice(i, i + 20));
        greedyRecompute(model, b.src, b.srcLengths, b.batch, b.srcLen, 2).tokens.forEach((t, j) => { if (tok.decode(t) === test[i + j].target) ++ok; });
      }
      row.exact[L] = ok / test.length;
      // Timing only: a fresh model and trainer, so learning is not measured here.
      const timer = new Trainer(new Seq2SeqTransformer(k.cfg), { optimizer: { lr: a.lr }, labelSmoothing: 0 });
      const long = encode(docs(3 * a.batch, 3, L)), lt = [];
      for (let s = 0; s < 3; ++s) {
        const b = batchOf(long.slice(s * a.batch, (s + 1) * a.batch));
        const st = performance.now();
        timer.trainStep([b]);
        lt.push(performance.now() - st);
      }
      row.stepMs[L] = median(lt);
    }
    rows.push(row);
  }
  console.log('');
  const full = rows.at(-1);
  printTable(['attention', 'loss first -> last', ...lengths.map((L) => `exact @ ${L}`), ...lengths.flatMap((L) => [`train step ms @ ${L}`, 'vs full'])],
    rows.map((r) => [r.kind, `${fmt(r.firstLoss, 3)} -> ${fmt(r.lastLoss, 3)}`, ...lengths.map((L) => `${fmt(100 * r.exact[L])}%`),
      ...lengths.flatMap((L) => [fmt(r.stepMs[L]), `${fmt(full.stepMs[L] / r.stepMs[L], 2)}x`])]));
  console.log(`\n(exact: of ${evalCount} held-out documents per length, chance 10%; train step: median of 3 steps of batch ${a.batch}; ` +
    `"vs full": full step time / this step time; total ${fmt((performance.now() - t0) / 1e3, 0)} s)`);
  if (a.json) {
    writeFileSync(a.json, JSON.stringify({ cpu: cpuModel(), threads: getNumThreads(), steps: a.steps, batch: a.batch, window: a.window, lengths, evalCount, rows }, null, 2) + '\n');
    console.log(`wrote ${a.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
