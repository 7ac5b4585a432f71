#!/usr/bin/env node
// npm run bench:decode [-- --quick] [--threads N] [--no-torch] [--pairs N] [--no-cmlm] [--cmlm-models AR_DIR,CMLM_DIR] [--json out.json]
//
// Decoding speed of generate() (KV cache: cross-attention K/V once per source, self-attention K/V
// appended per step) next to PyTorch's nn.Transformer decoding loop, which has no cache and runs the
// decoder over the whole prefix at every step (bench/torch_decode.py), in the same run.
//
// Model: vocabulary 1000, dModel 256, 4 heads, ffDim 1024, 3 encoder + 3 decoder layers, random
// weights (both sides). Sources: srcLen random tokens. Every sequence makes exactly `newTokens`
// tokens (attnode: minNewTokens = maxNewTokens, so EOS cannot end it early; torch: a fixed loop),
// so both sides do the same work. Times include encoding. Where the avx512bf16 variant runs, attnode
// with precision 'bf16' (bf16 weight copies) is timed in the same interleaved samples.
// - greedy tokens/s = batch * newTokens / seconds, at batch 1 and 32;
// - beam-4 sentences/s = batch / seconds (8 sources, 4 beams each).
// Method: one warm-up run per side, then --pairs samples alternating attnode and torch (so both see
// the same machine load); the fastest sample of each side is reported. torch.set_num_threads is
// attnode's thread count. Ratio = torch seconds / attnode seconds (> 1: attnode faster).
//
// Mask-Predict section (issue 15; skipped with --no-cmlm): bench/decode-cmlm.mjs in this run:
// exact match and tokens/s of Mask-Predict against greedy and beam decoding of a same-size
// autoregressive model, on the dates task (models trained here, or loaded with --cmlm-models;
// --quick: 600 training steps each, 50 timed sources, 1 round).
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PYTHON, TORCH_ENV, printTable, settle } from './ops/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = (p) => pathToFileURL(path.join(here, '..', 'dist', p)).href;
const { Seq2SeqTransformer } = await import(dist('nn/seq2seq.js'));
const { generate } = await import(dist('decode/index.js'));
const { getNumThreads, setNumThreads, cpuInfo } = await import(dist('runtime.js'));

function parseArgs(argv) {
  const a = { quick: false, threads: null, torch: true, pairs: null, json: null, cmlm: true, cmlmModels: null };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i];
    if (s === '--quick') a.quick = true;
    else if (s === '--threads') a.threads = Number(argv[++i]);
    else if (s === '--no-torch') a.torch = false;
    else if (s === '--pairs') a.pairs = Number(argv[++i]);
    else if (s === '--json') a.json = argv[++i];
    else if (s === '--no-cmlm') a.cmlm = false;
    else if (s === '--cmlm-models') a.cmlmModels = argv[++i].split(',');
    else {
      console.error(`unknown argument ${s}\nusage: node bench/decode.mjs [--quick] [--threads N] [--no-torch] [--pairs N] [--no-cmlm] [--cmlm-models AR_DIR,CMLM_DIR] [--json out.json]`);
      process.exit(2);
    }
  }
  return a;
}

class Torch {
  static start() {
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', env: TORCH_ENV });
    if (probe.status !== 0) return { skipped: `${PYTHON} -c 'import torch' failed (apt-get install -y python3-torch)` };
    return new Torch(spawn(PYTHON, [path.join(here, 'torch_decode.py')], { stdio: ['pipe', 'pipe', 'inherit'], env: TORCH_ENV }));
  }
  constructor(child) {
    this.child = child;
    this.pending = [];
    readline.createInterface({ input: child.stdout }).on('line', (l) => this.pending.shift()?.resolve(JSON.parse(l)));
    child.on('exit', (code) => { for (const p of this.pending.splice(0)) p.reject(new Error(`torch_decode.py exited (${code})`)); });
  }
  request(obj) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: (v) => settle().then(() => resolve(v)), reject });
      this.child.stdin.write(JSON.stringify(obj) + '\n');
    });
  }
  async close() {
    this.child.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
    await new Promise((r) => this.child.on('exit', r));
  }
}

const args = parseArgs(process.argv.slice(2));
if (args.threads) setNumThreads(args.threads);
const threads = getNumThreads();
const MODEL = { vocab: 1000, dModel: 256, heads: 4, ffDim: 1024, encoderLayers: 3, decoderLayers: 3 };
const NEW = args.quick ? 16 : 32, SRC = 24;
const CASES = [
  { name: 'greedy, batch 1', batch: 1, beams: 1, unit: 'tokens/s' },
  { name: 'greedy, batch 32', batch: 32, beams: 1, unit: 'tokens/s' },
  { name: 'beam 4, 8 sources', batch: 8, beams: 4, unit: 'sentences/s' },
].map((c) => ({ ...c, srcLen: SRC, newTokens: NEW }));
const pairs = args.pairs ?? (args.quick ? 2 : 5);

const model = new Seq2SeqTransformer({
  srcVocab: MODEL.vocab, tgtVocab: MODEL.vocab, dModel: MODEL.dModel, heads: MODEL.heads, ffDim: MODEL.ffDim,
  encoderLayers: MODEL.encoderLayers, decoderLayers: MODEL.decoderLayers, maxLen: 256, dropout: 0, seed: 1,
});

function sources(batch) {
  let x = batch * 7919;
  return Array.from({ length: batch }, () => Array.from({ length: SRC }, () => 3 + ((x = (x * 1103515245 + 12345) >>> 0) % (MODEL.vocab - 3))));
}

// bf16 (issue 18): the same calls with precision 'bf16' (bf16 weight copies, rounded at the start
// of each call and included in its time), where the avx512bf16 variant runs.
const BF16 = cpuInfo().isa === 'avx512bf16';

async function ours(c, precision = 'fp32') {
  const src = sources(c.batch);
  const t0 = performance.now();
  await generate(model, src, { maxNewTokens: c.newTokens, minNewTokens: c.newTokens, numBeams: c.beams, precision });
  return (performance.now() - t0) / 1000;
}

const torch = args.torch ? Torch.start() : { skipped: '--no-torch' };
let torchInfo = null;
if (!torch.skipped) torchInfo = await torch.request({ cmd: 'config', threads, model: MODEL });

const info = cpuInfo();
console.log(`attnode decode benchmark: ${info.vendor} ${info.isa}, ${threads} threads, ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`model: vocab ${MODEL.vocab}, dModel ${MODEL.dModel}, ${MODEL.heads} heads, ffDim ${MODEL.ffDim}, ${MODEL.encoderLayers}+${MODEL.decoderLayers} layers; ` +
  `source ${SRC} tokens, ${NEW} new tokens per sequence; best of ${pairs} samples`);
console.log(torch.skipped ? `PyTorch: skipped (${torch.skipped})` : `PyTorch ${torchInfo.torch}, ${torchInfo.threads} threads, nn.Transformer without a KV cache`);

const results = [];
for (const c of CASES) {
  await ours(c);
  if (BF16) await ours(c, 'bf16');
  if (!torch.skipped) await torch.request({ cmd: 'run', case: c });
  let a = Infinity, t = Infinity, b = Infinity;
  for (let p = 0; p < pairs; ++p) {
    a = Math.min(a, await ours(c));
    if (BF16) b = Math.min(b, await ours(c, 'bf16'));
    if (!torch.skipped) t = Math.min(t, (await torch.request({ cmd: 'run', case: c })).seconds);
  }
  const rate = (s) => (c.unit === 'tokens/s' ? (c.batch * c.newTokens) / s : c.batch / s);
  results.push({ ...c, attnodeSeconds: a, torchSeconds: torch.skipped ? null : t, attnode: rate(a), torch: torch.skipped ? null : rate(t), ratio: torch.skipped ? null : t / a,
    bf16Seconds: BF16 ? b : null, bf16: BF16 ? rate(b) : null });
}
if (!torch.skipped) await torch.close();

const fmt = (x, d = 1) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const head = ['case', 'unit', 'attnode', 'PyTorch (no cache)', 'ratio', 'attnode bf16 weights', 'bf16 / fp32', 'bf16 vs PyTorch'];
const body = results.map((r) => [r.name, r.unit, fmt(r.attnode), fmt(r.torch), r.ratio === null ? '-' : `${fmt(r.ratio, 2)}x`,
  fmt(r.bf16), r.bf16 === null ? '-' : `${fmt(r.bf16 / r.attnode, 2)}x`, r.bf16 === null || r.torch === null ? '-' : `${fmt(r.bf16 / r.torch, 2)}x`]);
printTable(head, body, new Set([0, 1]));
console.log('ratio = PyTorch time / attnode time (> 1: attnode faster). Shared machines are noisy: compare within one run.');
console.log(BF16 ? "attnode bf16 weights: generate(..., { precision: 'bf16' }): bf16 copies of the weights (re-rounded at the start of each call, in its time), bf16 products and attention tiles, fp32 accumulation; the same samples interleaved with fp32's."
  : 'attnode bf16 weights: not measured (the avx512bf16 variant is not active on this CPU)');

// ----- Mask-Predict against greedy and beam (bench/decode-cmlm.mjs), trained date models -----
let maskPredict = null;
if (args.cmlm) {
  console.log('\nMask-Predict (issue 15) against autoregressive greedy and beam 4 of a same-size model, dates task:');
  const { runDecodeCmlm } = await import('./decode-cmlm.mjs');
  const [ar, cmlm] = args.cmlmModels ?? [null, null];
  maskPredict = await runDecodeCmlm({ ar, cmlm, steps: args.quick ? 600 : 1500, timed: args.quick ? 50 : 200, rounds: args.quick ? 1 : 3, json: null });
}
if (args.json) writeFileSync(args.json, JSON.stringify({ threads, loadavg: os.loadavg(), model: MODEL, newTokens: NEW, srcLen: SRC, torch: torchInfo, results, maskPredict }, null, 2));
