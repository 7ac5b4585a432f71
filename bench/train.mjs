#!/usr/bin/env node
// npm run bench:train [-- --quick] [--threads N] [--rounds N] [--per-round N] [--warmup N] [--no-torch] [--no-bf16]
//   [--loss-curve STEPS] [--json out.json]
//
// bf16 (issue 18), when the 'avx512bf16' variant runs: attnode with precision 'bf16' and torch
// under torch.autocast('cpu', dtype=torch.bfloat16) are timed too, in the same alternating rounds;
// targets: attnode bf16 >= 2x torch fp32 and >= 1.5x torch autocast. --loss-curve N trains N more
// steps at each precision from the same start and compares the losses (target: within 1%).
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
  const a = { quick: false, threads: null, rounds: null, perRound: null, warmup: null, torch: true, json: null, bf16: true, lossCurve: 0 };
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
    else if (s === '--no-bf16') a.bf16 = false;
    else if (s === '--loss-curve') a.lossCurve = num(++i, s);
    else if (s === '--json') a.json = argv[++i];
    else usage(`unknown argument ${s}`);
  }
  return a;
}

function usage(msg) {
  console.error(`${msg}\nusage: node bench/train.mjs [--quick] [--threads N] [--rounds N] [--per-round N] [--warmup N] [--no-torch] [--no-bf16] [--loss-curve STEPS] [--json out.json]`);
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

  // attnode sides: fp32, and bf16 when the bf16 GEMM runs here.
  const bf16 = args.bf16 && info.isa === 'avx512bf16';
  if (args.bf16 && !bf16) console.log(`bf16 rows: skipped (isa ${info.isa}: no AVX512_BF16 variant active, bf16 would run in fp32)`);
  const mine = [];
  for (const precision of bf16 ? ['fp32', 'bf16'] : ['fp32']) {
    const { model, trainer } = await benchTrainer(precision);
    mine.push({ precision, model, trainer, seconds: [], losses: [] });
  }
  const oursSteps = (n, keep) => {
    for (const side of mine)
      for (let i = 0; i < n; ++i) {
        const t0 = performance.now();
        const r = side.trainer.trainStep([batch]);
        const dt = (performance.now() - t0) / 1e3;
        side.losses.push(r.loss);
        if (keep) side.seconds.push(dt);
      }
  };

  // torch sides: fp32, and bf16 autocast next to attnode's bf16; one server process each.
  const servers = [];
  let torchInfo = null;
  if (args.torch) {
    for (const autocast of bf16 ? [false, true] : [false]) {
      const child = spawn(PYTHON, [path.join(here, 'torch_train.py')], { stdio: ['pipe', 'pipe', 'inherit'], env: TORCH_ENV });
      const server = new TorchServer(child);
      let cfg;
      try {
        cfg = await server.request({ cmd: 'config', threads });
      } catch (e) {
        console.log(`torch: skipped (${e.message}; needs ${PYTHON} with python3-torch and libopenblas0-openmp)`);
        break;
      }
      torchInfo = cfg;
      const setup = await server.request({
        cmd: 'setup', seed: 1, model: MODEL, optimizer: OPT, autocast,
        batch: { batch: BATCH, srcLen: SRC_LEN, tgtLen: TGT_LEN, src: [...batch.src], tgtIn: [...batch.tgtIn], labels: [...batch.labels],
          srcLengths: [...batch.srcLengths], tgtLengths: [...batch.tgtLengths] },
      });
      servers.push({ autocast, server, setup, info: cfg, seconds: [], losses: [] });
    }
    if (torchInfo) {
      const b = torchInfo.blas;
      console.log(`torch ${torchInfo.torch}, torch.get_num_threads() = ${torchInfo.threads}; BLAS: ` +
        (b.openblas_config ? `OpenBLAS ${b.openblas_config}, core ${b.openblas_core}, ${b.openblas_threads} threads` : `mapped ${b.mapped.join(', ') || 'none found'}`));
    }
  }
  const torchSteps = async (n, keep) => {
    for (const t of servers) {
      const r = await t.server.request({ cmd: 'steps', n });
      if (keep) t.seconds.push(...r.seconds);
      t.losses.push(...r.losses);
    }
  };

  oursSteps(warmup, false);
  await torchSteps(warmup, false);
  for (let r = 0; r < rounds; ++r) {
    if (process.stdout.isTTY) process.stdout.write(`  round ${r + 1}/${rounds} ...\r`);
    oursSteps(perRound, true);
    await torchSteps(perRound, true);
  }
  const ourPeak = process.resourceUsage().maxRSS;
  const torchMem = [];
  for (const t of servers) torchMem.push(await t.server.request({ cmd: 'memory' }));
  // Loss curve: N more steps per precision from where the timed steps left off (same start for
  // both: the same seed, batch and number of earlier steps), compared at the end.
  let curve = null;
  if (args.lossCurve && mine.length === 2) {
    for (const side of mine) {
      side.curve = [];
      for (let i = 0; i < args.lossCurve; ++i) side.curve.push(side.trainer.trainStep([batch]).loss);
    }
    const [f, b] = mine;
    const at = (c) => c.slice(-10).reduce((x, y) => x + y, 0) / Math.min(10, c.length);
    curve = { steps: args.lossCurve, fp32: at(f.curve), bf16: at(b.curve), relDiff: Math.abs(at(b.curve) - at(f.curve)) / at(f.curve),
      maxRelDiff: Math.max(...f.curve.map((x, i) => Math.abs(b.curve[i] - x) / x)) };
  }
  for (const t of servers) await t.server.close();
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
  const ours = mine.map((m) => side(m.precision === 'fp32' ? 'attnode' : 'attnode bf16', m.model.numParameters(), m.seconds, m.losses, ourPeak, rssAfterImport));
  const theirs = servers.map((t, i) => side(`torch ${t.info.torch} nn.Transformer${t.autocast ? ' autocast bf16' : ''}`, t.setup.params, t.seconds, t.losses,
    torchMem[i].maxRssKiB, t.info.rssKiB));
  const a = ours[0], t = theirs[0] ?? null;

  console.log('');
  printTable(['side', 'params', 'step ms (median)', 'min', 'max', 'target tok/s', 'peak RSS MiB', 'RSS after import MiB', 'loss (first step -> last)'],
    rows.map((r) => [r.side, r.params.toLocaleString('en-US'), fmt(r.medianMs), fmt(r.minMs), fmt(r.maxMs), fmt(r.tokensPerSecond, 0),
      fmt(r.peakRssMiB), fmt(r.rssAfterImportMiB), `${fmt(r.firstLoss, 3)} -> ${fmt(r.lastLoss, 3)}`]));
  const ratio = t ? a.tokensPerSecond / t.tokensPerSecond : null;
  const ratios = {};
  console.log('');
  if (t) {
    console.log(`ratio attnode tokens/s / torch tokens/s = ${fmt(ratio, 2)}x (target >= 2x: ${ratio >= 2 ? 'met' : 'NOT met'})`);
    console.log(`peak RSS: attnode ${fmt(a.peakRssMiB)} MiB (${fmt(a.peakRssMiB - a.rssAfterImportMiB)} over its post-import RSS), ` +
      `torch ${fmt(t.peakRssMiB)} MiB (${fmt(t.peakRssMiB - t.rssAfterImportMiB)} over its post-import RSS)` +
      (ours.length > 1 ? ' (attnode fp32 and bf16 models in one process)' : ''));
  }
  if (ours[1]) {
    const b = ours[1];
    ratios.bf16VsFp32 = b.tokensPerSecond / a.tokensPerSecond;
    console.log(`attnode bf16 / attnode fp32 = ${fmt(ratios.bf16VsFp32, 2)}x`);
    if (t) {
      ratios.bf16VsTorchFp32 = b.tokensPerSecond / t.tokensPerSecond;
      console.log(`attnode bf16 / torch fp32 = ${fmt(ratios.bf16VsTorchFp32, 2)}x (target >= 2x: ${ratios.bf16VsTorchFp32 >= 2 ? 'met' : 'NOT met'})`);
    }
    if (theirs[1]) {
      ratios.bf16VsTorchAutocast = b.tokensPerSecond / theirs[1].tokensPerSecond;
      console.log(`attnode bf16 / torch autocast bf16 = ${fmt(ratios.bf16VsTorchAutocast, 2)}x (target >= 1.5x: ${ratios.bf16VsTorchAutocast >= 1.5 ? 'met' : 'NOT met'})`);
    }
  }
  if (curve) console.log(`loss after ${curve.steps} more steps (mean of the last 10): fp32 ${fmt(curve.fp32, 4)}, bf16 ${fmt(curve.bf16, 4)}: ` +
    `${fmt(100 * curve.relDiff, 2)}% apart (target within 1%: ${curve.relDiff <= 0.01 ? 'met' : 'NOT met'}; largest per-step gap ${fmt(100 * curve.maxRelDiff, 2)}%)`);
  console.log(`load average after: ${load1.map((x) => x.toFixed(2)).join(' ')}` +
    (busy(Math.max(load0[0], load1[0])) ? '  (the machine was loaded: load average > 2 on 2 CPUs during the run)' : ''));
  if (args.json) {
    writeFileSync(args.json, JSON.stringify({ model: MODEL, batch: { batch: BATCH, srcLen: SRC_LEN, tgtLen: TGT_LEN, tokens }, optimizer: OPT,
      threads, isa: info.isa, warmup, rounds, perRound, loadBefore: load0, loadAfter: load1, rows, ratio, ratios, lossCurve: curve,
      torch: torchInfo ? { version: torchInfo.torch, threads: torchInfo.threads, blas: torchInfo.blas } : null,
      samples: Object.fromEntries([...mine.map((m) => [`attnode ${m.precision}`, m.seconds]), ...servers.map((x) => [`torch${x.autocast ? ' autocast' : ''}`, x.seconds])]) },
    null, 2) + '\n');
    console.log(`wrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
