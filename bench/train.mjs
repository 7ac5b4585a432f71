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
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON, TORCH_ENV, TorchServer, printTable } from './ops/common.mjs';
import { BATCH, MODEL, OPT, SRC_LEN, TGT_LEN, benchBatch, benchTrainer, dist, median } from './train-setup.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

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

const fmt = (x, d = 1) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const mib = (kib) => kib / 1024;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const warmup = args.warmup ?? (args.quick ? 2 : 3);
  const rounds = args.rounds ?? (args.quick ? 3 : 5);
  const perRound = args.perRound ?? (args.quick ? 2 : 4);
  const { getNumThreads, setNumThreads, cpuInfo } = await dist('index.js');
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

  const batch = await benchBatch();

  // attnode side.
  const { model, trainer } = await benchTrainer();
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
