#!/usr/bin/env node
// npm run bench:attention [-- --quick] [--json out.json] [--threads N] [--no-torch] [--no-clock] [--only-scaling] [--only-bf16]
//
// Times attnode's attention forward and forward+backward at a fixed list of shapes and masks, and
// PyTorch's CPU math path at the same shapes when /usr/bin/python3 has torch (bench/torch_attention.py).
//
// What the numbers mean:
// - ms: median of several repetitions after warm-up (one forward; one forward then one backward),
//   outputs written into preallocated buffers (opts.into), so no output allocation is timed.
// - useful GFLOP/s: only allowed (query, key) pairs count, counted exactly from the masks:
//   forward 4*D flops per allowed pair and head, backward 2.5x forward, forward+backward 3.5x.
// - extra RSS: each case runs in its own child process; after the inputs and outputs are allocated and
//   written and a tiny warm-up call has loaded code and started the thread pool, the child reads
//   process.resourceUsage().maxRSS, runs one forward and one backward, and reads it again. The
//   difference is the peak memory the kernels needed beyond inputs and outputs (their scratch, plus
//   whatever else the call touched). It is taken before the timing loop so earlier runs cannot hide it.
// - peak: FP32 FMA peak = FMA units x 16 lanes x 2 flops x clock x cores, with the clock both nominal
//   and measured (native/bench/clock.cpp, built by CMake into build-cmake/).
// Each case runs in a fresh process, one after the other (never concurrently), and the PyTorch
// timings run after all attnode cases, with torch.set_num_threads(the same count).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PYTHON, TORCH_ENV, measureClock, nominalGhz, printTable } from './ops/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const distIndex = pathToFileURL(path.join(root, 'dist', 'index.js')).href;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Cases

const SHAPES = [
  { B: 8, H: 8, T: 256, D: 64, mask: 'causal' },
  { B: 8, H: 8, T: 256, D: 64, mask: 'none' },
  { B: 4, H: 8, T: 1024, D: 64, mask: 'causal' },
  { B: 32, H: 8, T: 64, D: 64, mask: 'causal' },
  { B: 1, H: 8, T: 4096, D: 64, mask: 'causal' },
  { B: 8, H: 8, T: 256, D: 128, mask: 'causal' },
  // Causal + padding, the same lengths given two ways: baked into a static [B,1,T,T] mask, and as
  // dynamic causal + keyLengths + queryLengths.
  { B: 8, H: 8, T: 256, D: 64, mask: 'pad-static' },
  { B: 8, H: 8, T: 256, D: 64, mask: 'pad-lengths' },
  { B: 4, H: 8, T: 1024, D: 64, mask: 'pad-static' },
  { B: 4, H: 8, T: 1024, D: 64, mask: 'pad-lengths' },
];
// Sparse attention scaling (issue 16): encoder self-attention (not causal) fwd+bwd with a window of
// 256 keys around the diagonal (left 128, right 128) as T doubles, against full attention at the
// same T; torch gets the same band as an explicit boolean mask. Time must grow ~linearly for the
// window (16k/1k <= 20x) against ~256x for full attention. Full attention stops at 8k (16k is ~2
// TFLOP per fwd+bwd here), torch at 4k (its T x T scores need 8 GiB per tensor at 16k).
const WINDOW = { left: 128, right: 128 };
const SCALING_T = [1024, 2048, 4096, 8192, 16384];
const SCALING = [
  ...SCALING_T.map((T) => ({ B: 1, H: 8, T, D: 64, mask: 'window', scaling: true })),
  ...SCALING_T.filter((T) => T <= 8192).map((T) => ({ B: 1, H: 8, T, D: 64, mask: 'none', scaling: true })),
  // One head, one sequence: the backward splits by key tiles, then query tiles, so both threads work.
  { B: 1, H: 1, T: 16384, D: 64, mask: 'window', scaling: true },
];
const TORCH_MAX_T = 4096;
// precision 'bf16' (issue 18): the same shapes timed with precision 'fp32' and 'bf16' in one run
// (forward, backward alone, each in its own child): the bench:train attention shape and a long one.
const BF16_SHAPES = [
  { B: 32, H: 4, T: 32, D: 64, mask: 'causal' },
  { B: 32, H: 4, T: 32, D: 64, mask: 'none' },
  { B: 8, H: 8, T: 256, D: 64, mask: 'causal' },
  { B: 1, H: 8, T: 1024, D: 64, mask: 'causal' },
  { B: 1, H: 8, T: 1024, D: 64, mask: 'none' },
];

// One long sequence, one head: the kernels must not need T x T memory.
const MEMORY_CASE = { B: 1, H: 1, T: 16384, D: 64, mask: 'causal', memory: true };
const MEMORY_TARGET_MIB = 64;

const MASK_LABEL = {
  none: 'none',
  causal: 'causal',
  'pad-static': 'causal+pad (static mask)',
  'pad-lengths': 'causal+keyLen+queryLen',
  window: 'window 128/128',
};

// Deterministic generator (mulberry32): the same lengths and data on every run.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Lengths in [T/2, T], per batch entry, seeded by the shape so static and dynamic cases agree.
function lengthsFor(c) {
  const r = rng(c.B * 1000003 + c.T * 101 + c.D);
  const draw = () => Int32Array.from({ length: c.B }, () => Math.floor(c.T / 2 + r() * (c.T - c.T / 2 + 1)));
  return { keyLengths: [...draw()], queryLengths: [...draw()] };
}

function withLengths(c) {
  return c.mask.startsWith('pad-') ? { ...c, ...lengthsFor(c) } : { ...c };
}

// Allowed (query, key) pairs of one head, summed over the batch, from the rule the masks encode.
function allowedPairsByRule(c) {
  let n = 0;
  for (let b = 0; b < c.B; ++b) {
    const ql = c.queryLengths ? c.queryLengths[b] : c.T;
    const kl = c.keyLengths ? c.keyLengths[b] : c.T;
    const causal = c.mask !== 'none' && c.mask !== 'window';
    for (let i = 0; i < ql; ++i) {
      if (c.mask === 'window') n += Math.min(kl, i + WINDOW.right + 1) - Math.max(0, i - WINDOW.left);
      else n += causal ? Math.min(i + 1, kl) : kl;
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Child: one case, in its own process

function timeMedian(fn, { warmup, minReps, maxReps, budgetMs }) {
  for (let i = 0; i < warmup; ++i) fn();
  const times = [];
  const start = performance.now();
  while (times.length < minReps || (times.length < maxReps && performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const m = times.length >> 1;
  return { ms: times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2, reps: times.length, min: times[0] };
}

function fillRandom(a, r) {
  for (let i = 0; i < a.length; ++i) a[i] = r() * 2 - 1;
  return a;
}

async function runChild(c, reps) {
  const { kernels, setNumThreads, getNumThreads, cpuInfo } = await import(distIndex);
  setNumThreads(c.threads);
  const { B, H, T, D } = c;
  const shape = { batch: B, heads: H, qLen: T, kvLen: T, headDim: D };
  const r = rng(42);
  // Everything is allocated and written here, in place (no temporaries), so the RSS that follows
  // is the inputs + outputs and nothing else.
  const n = B * T * H * D;
  const q = fillRandom(new Float32Array(n), r), k = fillRandom(new Float32Array(n), r);
  const v = fillRandom(new Float32Array(n), r), dout = fillRandom(new Float32Array(n), r);
  const out = new Float32Array(n).fill(0), lse = new Float32Array(B * H * T).fill(0);
  const dq = new Float32Array(n).fill(0), dk = new Float32Array(n).fill(0), dv = new Float32Array(n).fill(0);
  const opts = c.precision ? { precision: c.precision } : {};
  let allowed;
  if (c.mask === 'causal') opts.causal = true;
  if (c.mask === 'window') opts.window = WINDOW;
  if (c.mask === 'pad-lengths') {
    opts.causal = true;
    opts.keyLengths = Int32Array.from(c.keyLengths);
    opts.queryLengths = Int32Array.from(c.queryLengths);
  }
  if (c.mask === 'pad-static') {
    const data = new Uint8Array(B * T * T);
    for (let b = 0; b < B; ++b) {
      const kl = c.keyLengths[b], ql = c.queryLengths[b];
      for (let i = 0; i < ql; ++i) data.fill(1, b * T * T + i * T, b * T * T + i * T + Math.min(i + 1, kl));
    }
    opts.mask = { data, batch: B, heads: 1 };
    allowed = 0;
    for (let i = 0; i < data.length; ++i) allowed += data[i];
    if (allowed !== allowedPairsByRule(c)) throw new Error(`static mask has ${allowed} pairs, rule says ${allowedPairsByRule(c)}`);
  } else {
    allowed = allowedPairsByRule(c);
  }

  // Tiny warm-up through every mask path: loads the kernel code pages and starts the OpenMP pool,
  // one-time costs that are not this case's memory.
  {
    const t = 32, m = 1 * t * 2 * 16;
    const s = { batch: 1, heads: 2, qLen: t, kvLen: t, headDim: 16 };
    const a = fillRandom(new Float32Array(m), r);
    const wo = { causal: true, keyLengths: Int32Array.of(20), queryLengths: Int32Array.of(30),
      mask: { data: new Uint8Array(t * t).fill(1), batch: 1, heads: 1 } };
    const f = kernels.attentionForward(a, a, a, s, wo);
    kernels.attentionBackward(a, a, a, f.out, f.lse, a, s, wo);
  }

  const fwdOpts = { ...opts, into: { out, lse } };
  const bwdOpts = { ...opts, into: { dq, dk, dv } };
  const forward = () => kernels.attentionForward(q, k, v, shape, fwdOpts);
  const backward = () => kernels.attentionBackward(q, k, v, out, lse, dout, shape, bwdOpts);

  const rssNow = () => process.memoryUsage.rss() / 1024;  // KiB, like maxRSS
  const before = process.resourceUsage().maxRSS;
  const slack = before - rssNow();  // an earlier, higher peak would hide part of the run's extra
  forward();
  const afterFwd = process.resourceUsage().maxRSS;
  backward();
  const afterBwd = process.resourceUsage().maxRSS;

  let nonFinite = 0;
  for (const a of [out, dq, dk, dv]) for (let i = 0; i < a.length; ++i) if (!Number.isFinite(a[i])) ++nonFinite;

  // CPU time over (wall time x threads) while timing: below ~100% the cores were shared with
  // other processes and the times are inflated (OpenMP spin-waiting counts as CPU time, so this
  // is an upper bound on the share we got).
  const cpu0 = process.cpuUsage(), wall0 = performance.now();
  const fwd = timeMedian(forward, reps);
  const fwdBwd = timeMedian(() => { forward(); backward(); }, reps);
  const bwd = c.precision ? timeMedian(backward, reps) : null;  // the bf16 table's rows only
  const cpu1 = process.cpuUsage(cpu0), wall = performance.now() - wall0;
  return {
    cpuShare: (cpu1.user + cpu1.system) / 1000 / (wall * getNumThreads()),
    threads: getNumThreads(),
    isa: cpuInfo().isa,
    allowedPairsPerHead: allowed,
    inputsOutputsMiB: (4 * (8 * n + B * H * T) + (opts.mask ? B * T * T : 0)) / MiB,
    extraRssFwdMiB: (afterFwd - before) / 1024,
    extraRssFwdBwdMiB: (afterBwd - before) / 1024,
    rssSlackMiB: Math.max(0, slack) / 1024,
    nonFinite,
    fwdMs: fwd.ms, fwdReps: fwd.reps, fwdBwdMs: fwdBwd.ms, fwdBwdReps: fwdBwd.reps, ...(bwd ? { bwdMs: bwd.ms } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Parent

function parseArgs(argv) {
  const a = { quick: false, json: null, threads: null, torch: true, clock: true, child: null, onlyScaling: false, onlyBf16: false };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i];
    if (s === '--quick') a.quick = true;
    else if (s === '--json') a.json = argv[++i];
    else if (s === '--threads') a.threads = Number(argv[++i]);
    else if (s === '--no-torch') a.torch = false;
    else if (s === '--no-clock') a.clock = false;
    else if (s === '--only-scaling') a.onlyScaling = true;
    else if (s === '--only-bf16') a.onlyBf16 = true;
    else if (s === '--child') a.child = argv[++i];
    else {
      console.error(`unknown argument ${s}\nusage: node bench/attention.mjs [--quick] [--json out.json] [--threads N] [--no-torch] [--no-clock] [--only-scaling] [--only-bf16]`);
      process.exit(2);
    }
  }
  if (a.json === undefined) { console.error('--json needs a file name'); process.exit(2); }
  if (a.threads !== null && !(Number.isInteger(a.threads) && a.threads > 0)) {
    console.error('--threads needs a positive integer'); process.exit(2);
  }
  return a;
}

function runCase(c, reps) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify({ c, reps })],
    { encoding: 'utf8', maxBuffer: 16 * MiB, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`case ${JSON.stringify(c)} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}


function runTorch(cases, threads, reps) {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', env: TORCH_ENV });
  if (probe.status !== 0) return { skipped: `${PYTHON} -c 'import torch' failed (apt-get install -y python3-torch libopenblas0-openmp)` };
  const input = JSON.stringify({ threads, ...reps, cases });
  const r = spawnSync(PYTHON, [path.join(here, 'torch_attention.py')],
    { input, encoding: 'utf8', maxBuffer: 64 * MiB, stdio: ['pipe', 'pipe', 'inherit'], env: TORCH_ENV });
  if (r.status !== 0) return { skipped: `torch_attention.py exited ${r.status ?? r.signal}` };
  return JSON.parse(r.stdout);
}

// A one-line progress note on a terminal; nothing when the output is captured.
const progress = (msg) => { if (process.stdout.isTTY) process.stdout.write(msg.padEnd(72) + '\r'); };

const fmt = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(d));

function printRows(rows) {
  const head = ['B', 'H', 'T', 'D', 'mask', 'fwd ms', 'f+b ms', 'fwd GF/s', 'f+b GF/s', 'extra MiB',
    'torch fwd', 'torch f+b', 'x fwd', 'x f+b'];
  const body = rows.map((r) => [r.B, r.H, r.T, r.D, MASK_LABEL[r.mask], fmt(r.fwdMs, 2), fmt(r.fwdBwdMs, 2),
    fmt(r.fwdGflops), fmt(r.fwdBwdGflops), fmt(r.extraRssFwdBwdMiB), fmt(r.torchFwdMs, 2), fmt(r.torchFwdBwdMs, 2),
    fmt(r.ratioFwd, 2), fmt(r.ratioFwdBwd, 2)].map(String));
  printTable(head, body, new Set([4]));
}

// The scaling table and its growth: time at T over time at the smallest T, against (T / T0) and
// (T / T0)^2, and the extra memory (no T x T buffer at any T).
function printScaling(scaling) {
  if (!scaling.length) return;
  console.log('\nSparse attention scaling: B=1 H=8 D=64 encoder self-attention (not causal), forward+backward; ' +
    `window = keys i-${WINDOW.left}..i+${WINDOW.right}; torch = F._scaled_dot_product_attention (PyTorch 1.13's SDPA) given the band as a boolean mask`);
  const base = new Map();
  for (const r of scaling) if (r.H === 8 && !base.has(r.mask)) base.set(r.mask, r);
  const head = ['H', 'T', 'mask', 'fwd ms', 'f+b ms', 'f+b GF/s', 'growth f+b', 'T ratio', 'extra MiB', 'torch f+b', 'x f+b'];
  const body = scaling.map((r) => {
    const b0 = base.get(r.mask);
    const growth = r.H === 8 && b0 ? r.fwdBwdMs / b0.fwdBwdMs : undefined;
    r.growthFwdBwd = growth;
    return [r.H, r.T, MASK_LABEL[r.mask], fmt(r.fwdMs, 2), fmt(r.fwdBwdMs, 2), fmt(r.fwdBwdGflops), growth === undefined ? '-' : `${fmt(growth, 1)}x`,
      r.H === 8 && b0 ? `${r.T / b0.T}x` : '-', fmt(r.extraRssFwdBwdMiB), fmt(r.torchFwdBwdMs, 2), fmt(r.ratioFwdBwd, 2)].map(String);
  });
  printTable(head, body, new Set([2]));
  const w = scaling.filter((r) => r.mask === 'window' && r.H === 8);
  const f = scaling.filter((r) => r.mask === 'none');
  if (w.length > 1) {
    const last = w[w.length - 1];
    console.log(`window: ${last.T}/${w[0].T} = ${last.T / w[0].T}x the length took ${fmt(last.growthFwdBwd, 1)}x the time ` +
      `(target <= 20x at 16k/1k: ${last.T === 16384 ? (last.growthFwdBwd <= 20 ? 'met' : 'NOT met') : 'not run (--quick)'}); ` +
      (f.length > 1 ? `full attention: ${f[f.length - 1].T}/${f[0].T} took ${fmt(f[f.length - 1].growthFwdBwd, 1)}x (quadratic would be ${(f[f.length - 1].T / f[0].T) ** 2}x)` : ''));
    const same = w.filter((r) => f.some((x) => x.T === r.T)).map((r) => `T=${r.T}: ${fmt(f.find((x) => x.T === r.T).fwdBwdMs / r.fwdBwdMs, 1)}x`);
    if (same.length) console.log(`window vs full attention, f+b speed-up: ${same.join(', ')}`);
  }
  const one = scaling.find((r) => r.H === 1);
  if (one) console.log(`one head (B*Hkv = 1, ${one.threads} threads): T=${one.T} window f+b ${fmt(one.fwdBwdMs, 1)} ms, ` +
    `${fmt(100 * one.cpuShare, 0)}% of ${one.threads} threads busy (the backward's two-pass form keeps every thread working)`);
}

// fp32 against bf16 (opts.precision) at the same shapes, forward and backward alone.
function printBf16(rows, info) {
  if (!rows.length) return;
  console.log(`\nprecision 'bf16' against 'fp32' (bf16 tile products on vdpbf16ps, fp32 softmax and accumulators; ` +
    `isa ${rows[0].isa}${info.supportedIsas.includes('avx512bf16') ? '' : ': no avx512bf16 here, so bf16 computes in fp32'}):`);
  const head = ['B', 'H', 'T', 'D', 'mask', 'fp32 fwd', 'bf16 fwd', 'x fwd', 'fp32 bwd', 'bf16 bwd', 'x bwd'];
  const body = rows.map((r) => [r.B, r.H, r.T, r.D, MASK_LABEL[r.mask], fmt(r.fp32FwdMs, 3), fmt(r.bf16FwdMs, 3),
    fmt(r.fp32FwdMs / r.bf16FwdMs, 2), fmt(r.fp32BwdMs, 3), fmt(r.bf16BwdMs, 3), fmt(r.fp32BwdMs / r.bf16BwdMs, 2)].map(String));
  printTable(head, body, new Set([4]));
  console.log('ms = median; bwd = the backward alone (from the forward\'s out/lse); x = fp32_ms / bf16_ms (> 1: bf16 faster).');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    const { c, reps } = JSON.parse(args.child);
    process.stdout.write(JSON.stringify(await runChild(c, reps)) + '\n');
    return;
  }
  if (!existsSync(path.join(root, 'dist', 'index.js'))) {
    console.error('dist/ missing: run `npx tsc -p tsconfig.json` (and `npx node-gyp build -j 2` if the addon is missing)');
    process.exit(1);
  }
  const { getNumThreads, setNumThreads, cpuInfo } = await import(distIndex);
  if (args.threads) setNumThreads(args.threads);
  const threads = getNumThreads();
  const info = cpuInfo();
  const reps = args.quick
    ? { warmup: 1, minReps: 3, maxReps: 3, budgetMs: 0 }
    : { warmup: 2, minReps: 5, maxReps: 21, budgetMs: 2000 };
  const memReps = { warmup: 1, minReps: 3, maxReps: 3, budgetMs: 0 };
  console.log(`attnode attention benchmark${args.quick ? ' (--quick)' : ''}: threads = getNumThreads() = ${threads}, ` +
    `isa = cpuInfo().isa = ${info.isa} (supported: ${info.supportedIsas.join(', ')}), hardware threads ${info.hardwareThreads}`);
  console.log(`repetitions: warm-up ${reps.warmup}, median of ${reps.minReps}` +
    (reps.maxReps > reps.minReps ? `..${reps.maxReps} (up to ${reps.budgetMs} ms per measurement)` : '') +
    '; each case in its own child process; extra MiB = maxRSS growth over inputs+outputs during one fwd+bwd');

  const load0 = os.loadavg();
  console.log(`load average before: ${load0.map((x) => x.toFixed(2)).join(' ')} on ${os.availableParallelism()} CPUs` +
    (load0[0] > os.availableParallelism() ? '  (WARNING: the CPUs are busy with other work; timings will be inflated and noisy)' : ''));
  const bf16Rows = [];
  for (const s of args.onlyScaling ? [] : BF16_SHAPES) {
    const row = { ...s };
    for (const precision of ['fp32', 'bf16']) {
      progress(`  running ${precision} ${s.B},${s.H},${s.T},${s.D} ${MASK_LABEL[s.mask]} ...`);
      const r = runCase({ ...s, threads, precision }, reps);
      Object.assign(row, { [`${precision}FwdMs`]: r.fwdMs, [`${precision}BwdMs`]: r.bwdMs, isa: r.isa });
    }
    bf16Rows.push(row);
  }
  if (args.onlyBf16) {
    printBf16(bf16Rows, info);
    if (args.json) writeFileSync(args.json, JSON.stringify({ date: new Date().toISOString(), threads, cpuInfo: info, reps, bf16: bf16Rows }, null, 2) + '\n');
    return;
  }
  const rows = [];
  for (const s of args.onlyScaling ? [] : SHAPES) {
    const c = { ...withLengths(s), threads };
    progress(`  running ${c.B},${c.H},${c.T},${c.D} ${MASK_LABEL[c.mask]} ...`);
    rows.push({ ...c, ...runCase(c, reps) });
  }
  const scaling = [];
  for (const s of SCALING.filter((x) => !args.quick || x.T <= 4096)) {
    const c = { ...s, threads };
    progress(`  running scaling ${c.B},${c.H},${c.T},${c.D} ${MASK_LABEL[c.mask]} ...`);
    scaling.push({ ...c, ...runCase(c, c.T >= 8192 && c.mask === 'none' ? memReps : reps) });  // full attention at 8k: 3 s a rep
  }
  const memCase = { ...MEMORY_CASE, threads };
  progress(`  running memory case T=${memCase.T} ...`);
  const mem = { ...memCase, ...runCase(memCase, memReps) };
  progress('');

  for (const r of [...rows, ...scaling, mem]) {
    const fwdFlops = 4 * r.D * r.H * r.allowedPairsPerHead;
    r.fwdGflops = fwdFlops / (r.fwdMs * 1e6);
    r.fwdBwdGflops = 3.5 * fwdFlops / (r.fwdBwdMs * 1e6);
    r.allowedFraction = r.allowedPairsPerHead / (r.B * r.T * r.T);
  }

  let torch = null;
  if (args.torch) {
    // One torch run per distinct problem: the static and dynamic padding cases share theirs.
    const keyOf = (r) => JSON.stringify([r.B, r.H, r.T, r.D, r.mask !== 'none', r.keyLengths ?? null, r.queryLengths ?? null]);
    const todo = new Map();
    for (const r of rows) {
      const k = keyOf(r);
      if (!todo.has(k)) todo.set(k, { key: k, B: r.B, H: r.H, T: r.T, D: r.D, causal: r.mask !== 'none',
        ...(r.keyLengths ? { keyLengths: r.keyLengths, queryLengths: r.queryLengths } : {}) });
    }
    // Scaling rows: SDPA with the band (or nothing, for full attention) up to TORCH_MAX_T.
    for (const r of scaling.filter((x) => x.T <= TORCH_MAX_T && x.H === 8)) {
      const k = JSON.stringify(['sdpa', r.B, r.H, r.T, r.D, r.mask]);
      todo.set(k, { key: k, B: r.B, H: r.H, T: r.T, D: r.D, causal: false, sdpa: true,
        ...(r.mask === 'window' ? { window: WINDOW } : {}) });
    }
    console.log(`running PyTorch (${todo.size} problems) ...`);
    torch = runTorch([...todo.values()], threads, reps);
    if (torch.results) {
      const byKey = new Map(torch.results.map((t) => [t.key, t]));
      for (const r of rows) {
        const t = byKey.get(keyOf(r));
        if (!t) continue;
        Object.assign(r, { torchFwdMs: t.fwdMs, torchFwdBwdMs: t.fwdBwdMs, ratioFwd: t.fwdMs / r.fwdMs,
          ratioFwdBwd: t.fwdBwdMs / r.fwdBwdMs, torchGradsFinite: t.gradsFinite });
      }
      for (const r of scaling) {
        const t = byKey.get(JSON.stringify(['sdpa', r.B, r.H, r.T, r.D, r.mask]));
        if (!t) continue;
        Object.assign(r, { torchFwdMs: t.fwdMs, torchFwdBwdMs: t.fwdBwdMs, ratioFwd: t.fwdMs / r.fwdMs,
          ratioFwdBwd: t.fwdBwdMs / r.fwdBwdMs, torchGradsFinite: t.gradsFinite });
      }
    }
  }

  console.log('');
  printRows(rows);
  console.log('GF/s = useful GFLOP/s: 4*D flops per allowed (query,key) pair per head (fwd), x3.5 for fwd+bwd; ' +
    'extra MiB = peak RSS growth over inputs+outputs during one fwd+bwd (child process, maxRSS); ' +
    'x = torch_ms / attnode_ms (> 1: attnode faster).');
  for (const r of rows.filter((r) => r.keyLengths)) {
    console.log(`  ${r.B},${r.H},${r.T},${r.D} ${MASK_LABEL[r.mask]}: keyLengths [${r.keyLengths}], queryLengths [${r.queryLengths}], ` +
      `${(100 * r.allowedFraction).toFixed(1)}% of T x T pairs allowed`);
  }
  printScaling(scaling);
  printBf16(bf16Rows, info);
  const shares = [...rows, ...scaling, mem].map((r) => r.cpuShare);
  const load1 = os.loadavg();
  console.log(`attnode processes used ${fmt(100 * Math.min(...shares), 0)}-${fmt(100 * Math.max(...shares), 0)}% of ` +
    `${threads} threads x wall time while timing (100% = the cores were ours); load average after: ${load1.map((x) => x.toFixed(2)).join(' ')}`);
  const bad = [...rows, mem].filter((r) => r.nonFinite);
  if (bad.length) console.log(`WARNING: non-finite outputs/gradients in ${bad.length} case(s)`);
  const slack = [...rows, mem].filter((r) => r.rssSlackMiB > 1);
  if (slack.length) console.log(`note: maxRSS was already ${slack.map((r) => fmt(r.rssSlackMiB)).join(', ')} MiB above RSS before the run in ` +
    `${slack.length} case(s); their extra MiB may be understated by up to that much`);

  if (torch?.info) {
    const ti = torch.info;
    console.log(`\nPyTorch ${ti.torch} (${PYTHON}), torch.get_num_threads() = ${ti.threads}; math path: q@k^T*scale, masked_fill(-inf), softmax, @v`);
    const b = ti.blas;
    console.log(`  BLAS: ${b.openblas_config ?? '(no OpenBLAS found)'}; core ${b.openblas_core ?? '-'}; ` +
      `openblas_get_num_threads() = ${b.openblas_threads ?? '-'}; loaded ${b.mapped.join(', ')}`);
    for (const l of ti.config.split('\n')) if (/BLAS|CPU capability|MKL|OpenMP/.test(l) && !/Build settings/.test(l)) console.log(`  torch.__config__: ${l.trim()}`);
    const bs = ti.config.match(/BLAS_INFO=[^,]*/);
    if (bs) console.log(`  torch.__config__: ${bs[0]} (Debian build: BLAS through the libblas.so.3 alternative, i.e. the OpenBLAS above)`);
  } else if (torch?.skipped) {
    console.log(`\nPyTorch comparison skipped: ${torch.skipped}`);
  }

  console.log(`\nMemory case: B=${mem.B} H=${mem.H} T=${mem.T} D=${mem.D} causal, forward+backward: ` +
    `inputs+outputs ${fmt(mem.inputsOutputsMiB)} MiB; extra RSS: forward ${fmt(mem.extraRssFwdMiB)} MiB, ` +
    `forward+backward ${fmt(mem.extraRssFwdBwdMiB)} MiB (target < ${MEMORY_TARGET_MIB} MiB: ` +
    `${mem.extraRssFwdBwdMiB < MEMORY_TARGET_MIB ? 'met' : 'NOT met'}; a T x T fp32 buffer would be ${fmt(4 * mem.T * mem.T / MiB, 0)} MiB); ` +
    `fwd ${fmt(mem.fwdMs, 1)} ms (${fmt(mem.fwdGflops)} GFLOP/s), fwd+bwd ${fmt(mem.fwdBwdMs, 1)} ms (${fmt(mem.fwdBwdGflops)} GFLOP/s)`);

  // Peak: FMA units x lanes x 2 x clock x cores.
  const clock = args.clock ? measureClock(root, args.quick) : { error: 'skipped (--no-clock)' };
  const nominal = nominalGhz();
  const cores = Math.min(threads, info.hardwareThreads);
  const allCore = clock.runs?.find((r) => r.threads === Math.max(...clock.runs.map((x) => x.threads)));
  const oneCore = clock.runs?.find((r) => r.threads === 1);
  const measuredGhz = allCore ? (allCore.fma_chain_ghz || allCore.imul_ghz) : null;
  const units = 2, lanes = 16;
  const peakOf = (ghz) => units * lanes * 2 * ghz * cores;
  const peak = { units, lanes, flopsPerFma: 2, cores, nominalGhz: nominal.ghz, nominalSource: nominal.source,
    nominalGflops: peakOf(nominal.ghz), measuredGhz, measuredGflops: measuredGhz ? peakOf(measuredGhz) : null };
  console.log('\nFP32 FMA peak = FMA units/core x lanes x 2 flops/FMA x clock x cores');
  console.log(`  FMA units/core = ${units}: two 512-bit FMA units per Sapphire-Rapids-class core (performance.md §3.1)` +
    (allCore?.fma_per_cycle_per_core ? `; measured ${fmt(allCore.fma_per_cycle_per_core, 2)} zmm FMA/cycle/core ` +
      `(12 independent accumulators, native/bench/clock.cpp)` : ''));
  console.log(`  lanes = ${lanes}: AVX-512 zmm holds 16 fp32 (isa in use: ${info.isa})`);
  console.log(`  cores = ${cores}: attnode threads (${threads}) on ${info.hardwareThreads} hardware threads`);
  console.log(`  clock, nominal: ${nominal.ghz.toFixed(2)} GHz from ${nominal.source} -> peak ${fmt(peak.nominalGflops)} GFLOP/s`);
  if (allCore) {
    console.log(`  clock, measured (native/bench/clock.cpp; dependent chains, latency x instructions / time): ` +
      `${allCore.threads} threads at once: zmm FMA chain (4-cycle latency) ${fmt(allCore.fma_chain_ghz, 2)} GHz, imul chain (3-cycle) ` +
      `${fmt(allCore.imul_ghz, 2)} GHz; 1 thread: ${fmt(oneCore?.fma_chain_ghz, 2)} / ${fmt(oneCore?.imul_ghz, 2)} GHz ` +
      `(per second of thread CPU time; the threads got >= ${fmt(100 * allCore.min_cpu_share, 0)}% of wall time)`);
    console.log(`  -> peak at the measured all-core FMA clock ${fmt(measuredGhz, 2)} GHz: ${fmt(peak.measuredGflops)} GFLOP/s ` +
      `(direct FMA-throughput measurement: ${fmt(allCore.fp32_fma_gflops_total)} GFLOP/s)`);
  } else {
    console.log(`  clock, measured: unavailable (${clock.error})`);
  }
  console.log('Forward at T >= 1024, fraction of FP32 FMA peak (useful GFLOP/s / peak):');
  for (const r of [...rows, mem].filter((r) => r.T >= 1024)) {
    r.fwdPeakFractionNominal = r.fwdGflops / peak.nominalGflops;
    r.fwdPeakFractionMeasured = peak.measuredGflops ? r.fwdGflops / peak.measuredGflops : null;
    console.log(`  ${r.B},${r.H},${r.T},${r.D} ${MASK_LABEL[r.mask]}: ${fmt(r.fwdGflops)} GFLOP/s = ` +
      `${fmt(100 * r.fwdPeakFractionNominal)}% of ${fmt(peak.nominalGflops, 0)} (nominal)` +
      (peak.measuredGflops ? `, ${fmt(100 * r.fwdPeakFractionMeasured)}% of ${fmt(peak.measuredGflops, 0)} (measured clock)` : ''));
  }

  if (args.json) {
    const doc = { date: new Date().toISOString(), quick: args.quick, node: process.version, threads, cpuInfo: info,
      loadavgBefore: load0, loadavgAfter: load1,
      reps, memReps, cases: rows, scaling, bf16: bf16Rows, memoryCase: { ...mem, targetMiB: MEMORY_TARGET_MIB }, clock, peak, torch };
    writeFileSync(args.json, JSON.stringify(doc, null, 2) + '\n');
    console.log(`\nwrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
