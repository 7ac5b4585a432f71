#!/usr/bin/env node
// npm run bench:train [-- --quick] [--threads N] [--rounds N] [--per-round N] [--warmup N] [--no-torch] [--json out.json]
//
// A whole training step of an encoder-decoder Transformer, attnode next to PyTorch in the same run.
// Config: vocab 1000 (source and target, untied), dModel 256, 4 heads, ffDim 1024, 3+3 layers
// (post-LN, ReLU, sinusoidal positions, embeddings scaled by sqrt(dModel)), batch 32 with 32
// source and 32 target tokens per row (decoder input [BOS, y1..y31], labels [y1..y31, EOS]),
// dropout 0, Adam (lr 1e-4, betas 0.9/0.98, eps 1e-9, no clipping), cross-entropy without label
// smoothing. attnode: Trainer.trainStep with dynamic masks (causal flag + lengths). PyTorch
// (bench/torch_train.py): nn.Embedding + nn.Transformer + nn.Linear, causal tgt_mask and key
// padding masks, nn.CrossEntropyLoss, torch.optim.Adam; torch.set_num_threads = attnode's
// getNumThreads(). nn.Transformer also has a final LayerNorm on each stack (attnode's post-LN
// model has none): 2 x 512 parameters, negligible work.
//
// Method: --warmup steps per side first, then --rounds rounds of --per-round steps per side,
// attnode and torch alternating (both see the same machine load); every step is timed on its own
// and the median is reported (min and max beside it). Target tokens/s = labels counted per step
// (32 x 32 = 1024) / median step time. Ratio = attnode tokens/s / torch tokens/s (target >= 2).
// Peak RSS: getrusage maxRSS of each process at the end (the Node process is the attnode side);
// "after import" is the RSS once the library/torch is loaded, before any model exists.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PYTHON, TORCH_ENV, TorchServer, printTable } from './ops/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const MODEL = {
  srcVocab: 1000, tgtVocab: 1000, dModel: 256, heads: 4, ffDim: 1024, encoderLayers: 3, decoderLayers: 3,
  dropout: 0, attentionDropout: 0, activation: 'relu', norm: 'post', positions: 'sinusoidal', tieEmbeddings: false,
  scaleEmbedding: true, maxLen: 64, seed: 1, padId: 0, bosId: 1, eosId: 2,
};
const BATCH = 32, SRC_LEN = 32, TGT_LEN = 32;
const OPT = { kind: 'adam', lr: 1e-4, beta1: 0.9, beta2: 0.98, eps: 1e-9, weightDecay: 0, clipNorm: 0 };

function parseArgs(argv) {
  const a = { quick: false, threads: null, rounds: null, perRound: null, warmup: null, torch: true, json: null };
  const num = (i, name) => {
    const v = Number(argv[i]);
    if (!Number.isInteger(v) || v < 1) usage(`${name} needs a positive integer, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i];
    if (s === '--quick') a.quick = true;
    else if (s === '--threads') a.threads = num(++i, s);
    else if (s === '--rounds') a.rounds = num(++i, s);
    else if (s === '--per-round') a.perRound = num(++i, s);
    else if (s === '--warmup') a.warmup = num(++i, s);
    else if (s === '--no-torch') a.torch = false;
    else if (s === '--json') a.json = argv[++i];
    else usage(`unknown argument ${s}`);
  }
  return a;
}

function usage(msg) {
  console.error(`${msg}\nusage: node bench/train.mjs [--quick] [--threads N] [--rounds N] [--per-round N] [--warmup N] [--no-torch] [--json out.json]`);
  process.exit(2);
}

/** mulberry32: seeded token ids, the same on both sides. */
function ids(n, seed, lo, hi) {
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

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, d = 1) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const mib = (kib) => kib / 1024;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const warmup = args.warmup ?? (args.quick ? 2 : 3);
  const rounds = args.rounds ?? (args.quick ? 3 : 5);
  const perRound = args.perRound ?? (args.quick ? 2 : 4);
  if (!existsSync(path.join(root, 'dist', 'index.js'))) {
    console.error('dist/ missing: run `npx tsc -p tsconfig.json` (and `npx node-gyp build -j 2` if the addon is missing)');
    process.exit(1);
  }
  const dist = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
  const { getNumThreads, setNumThreads, cpuInfo } = await dist('index.js');
  const { Seq2SeqTransformer } = await dist('nn/seq2seq.js');
  const { Trainer } = await dist('train/trainer.js');
  const { collate } = await dist('data/batching.js');
  if (args.threads) setNumThreads(args.threads);
  const threads = getNumThreads();
  const info = cpuInfo();
  const rssAfterImport = process.memoryUsage.rss() / 1024;

  console.log(`attnode training-step benchmark${args.quick ? ' (--quick)' : ''}: vocab ${MODEL.srcVocab}, dModel ${MODEL.dModel}, ` +
    `${MODEL.heads} heads, ffDim ${MODEL.ffDim}, ${MODEL.encoderLayers}+${MODEL.decoderLayers} layers (post-LN, ReLU), ` +
    `batch ${BATCH} x ${SRC_LEN} source / ${TGT_LEN} target tokens, dropout 0, Adam`);
  console.log(`threads = ${threads}, isa = ${info.isa}, hardware threads ${info.hardwareThreads}; ` +
    `${warmup} warm-up steps per side, then ${rounds} alternating rounds of ${perRound} steps per side (median of ${rounds * perRound})`);
  const load0 = os.loadavg();
  const busy = (l) => l > 2 || l > os.availableParallelism();
  console.log(`load average before: ${load0.map((x) => x.toFixed(2)).join(' ')} on ${os.availableParallelism()} CPUs` +
    (busy(load0[0]) ? '  (WARNING: the machine is loaded by other work; timings are noisy and pessimistic)' : ''));

  // The batch: every row full length (key padding masks are still passed on both sides).
  const examples = Array.from({ length: BATCH }, (_, b) => ({
    src: ids(SRC_LEN, 1000 + b, 3, MODEL.srcVocab - 1), tgt: ids(TGT_LEN - 1, 2000 + b, 3, MODEL.tgtVocab - 1),
  }));
  const batch = collate(examples, { bos: MODEL.bosId, eos: MODEL.eosId, padId: MODEL.padId });
  if (batch.srcLen !== SRC_LEN || batch.tgtLen !== TGT_LEN || batch.numTargetTokens !== BATCH * TGT_LEN) throw new Error('batch layout');

  // attnode side.
  const model = new Seq2SeqTransformer(MODEL);
  const trainer = new Trainer(model, { optimizer: OPT, schedule: { kind: 'constant', lr: OPT.lr }, labelSmoothing: 0 });
  const ours = { seconds: [], losses: [] };
  const oursSteps = (n, keep) => {
    for (let i = 0; i < n; ++i) {
      const t0 = performance.now();
      const r = trainer.trainStep([batch]);
      const dt = (performance.now() - t0) / 1e3;
      ours.losses.push(r.loss);
      if (keep) ours.seconds.push(dt);
    }
  };

  // torch side.
  let torch = null, torchInfo = null, torchSetup = null;
  const theirs = { seconds: [], losses: [] };
  if (args.torch) {
    const child = spawn(PYTHON, [path.join(here, 'torch_train.py')], { stdio: ['pipe', 'pipe', 'inherit'], env: TORCH_ENV });
    const server = new TorchServer(child);
    try {
      torchInfo = await server.request({ cmd: 'config', threads });
      torch = server;
    } catch (e) {
      console.log(`torch: skipped (${e.message}; needs ${PYTHON} with python3-torch and libopenblas0-openmp)`);
    }
    if (torch) {
      const b = torchInfo.blas;
      console.log(`torch ${torchInfo.torch}, torch.get_num_threads() = ${torchInfo.threads}; BLAS: ` +
        (b.openblas_config ? `OpenBLAS ${b.openblas_config}, core ${b.openblas_core}, ${b.openblas_threads} threads` : `mapped ${b.mapped.join(', ') || 'none found'}`));
      torchSetup = await torch.request({
        cmd: 'setup', seed: 1, model: MODEL, optimizer: OPT,
        batch: { batch: BATCH, srcLen: SRC_LEN, tgtLen: TGT_LEN, src: [...batch.src], tgtIn: [...batch.tgtIn], labels: [...batch.labels],
          srcLengths: [...batch.srcLengths], tgtLengths: [...batch.tgtLengths] },
      });
    }
  }
  const torchSteps = async (n, keep) => {
    if (!torch) return;
    const r = await torch.request({ cmd: 'steps', n });
    if (keep) theirs.seconds.push(...r.seconds);
    theirs.losses.push(...r.losses);
  };

  oursSteps(warmup, false);
  await torchSteps(warmup, false);
  for (let r = 0; r < rounds; ++r) {
    if (process.stdout.isTTY) process.stdout.write(`  round ${r + 1}/${rounds} ...\r`);
    oursSteps(perRound, true);
    await torchSteps(perRound, true);
  }
  const ourPeak = process.resourceUsage().maxRSS;
  const torchMem = torch ? await torch.request({ cmd: 'memory' }) : null;
  if (torch) await torch.close();
  const load1 = os.loadavg();

  const tokens = batch.numTargetTokens;
  const rows = [];
  const side = (name, params, s, losses, peakKiB, importKiB) => {
    const med = median(s);
    const row = { side: name, params, medianMs: med * 1e3, minMs: Math.min(...s) * 1e3, maxMs: Math.max(...s) * 1e3,
      tokensPerSecond: tokens / med, peakRssMiB: mib(peakKiB), rssAfterImportMiB: mib(importKiB), firstLoss: losses[0], lastLoss: losses.at(-1) };
    rows.push(row);
    return row;
  };
  const a = side('attnode', model.numParameters(), ours.seconds, ours.losses, ourPeak, rssAfterImport);
  const t = torch ? side(`torch ${torchInfo.torch} nn.Transformer`, torchSetup.params, theirs.seconds, theirs.losses, torchMem.maxRssKiB, torchInfo.rssKiB) : null;

  console.log('');
  printTable(['side', 'params', 'step ms (median)', 'min', 'max', 'target tok/s', 'peak RSS MiB', 'RSS after import MiB', 'loss (first step -> last)'],
    rows.map((r) => [r.side, r.params.toLocaleString('en-US'), fmt(r.medianMs), fmt(r.minMs), fmt(r.maxMs), fmt(r.tokensPerSecond, 0),
      fmt(r.peakRssMiB), fmt(r.rssAfterImportMiB), `${fmt(r.firstLoss, 3)} -> ${fmt(r.lastLoss, 3)}`]));
  const ratio = t ? a.tokensPerSecond / t.tokensPerSecond : null;
  console.log('');
  if (t) {
    console.log(`ratio attnode tokens/s / torch tokens/s = ${fmt(ratio, 2)}x (target >= 2x: ${ratio >= 2 ? 'met' : 'NOT met'})`);
    console.log(`peak RSS: attnode ${fmt(a.peakRssMiB)} MiB (${fmt(a.peakRssMiB - a.rssAfterImportMiB)} over its post-import RSS), ` +
      `torch ${fmt(t.peakRssMiB)} MiB (${fmt(t.peakRssMiB - t.rssAfterImportMiB)} over its post-import RSS)`);
  }
  console.log(`load average after: ${load1.map((x) => x.toFixed(2)).join(' ')}` +
    (busy(Math.max(load0[0], load1[0])) ? '  (the machine was loaded: load average > 2 on 2 CPUs during the run)' : ''));
  if (args.json) {
    writeFileSync(args.json, JSON.stringify({ model: MODEL, batch: { batch: BATCH, srcLen: SRC_LEN, tgtLen: TGT_LEN, tokens }, optimizer: OPT,
      threads, isa: info.isa, warmup, rounds, perRound, loadBefore: load0, loadAfter: load1, rows, ratio,
      torch: torchInfo ? { version: torchInfo.torch, threads: torchInfo.threads, blas: torchInfo.blas } : null,
      samples: { attnode: ours.seconds, torch: theirs.seconds } }, null, 2) + '\n');
    console.log(`wrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
