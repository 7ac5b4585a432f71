#!/usr/bin/env node
// node bench/train-profile.mjs [--steps N] [--warmup N] [--top N] [--no-clock] [--replay]
//
// Where attnode's training step (bench/train.mjs's config) spends its time: every kernel call is
// timed (the `kernels` object's functions are wrapped), grouped by kernel and, for GEMMs, by shape
// and transposition, and reported as milliseconds per step next to the whole step. "outside
// kernels" is the JavaScript of the ops, the tape and the trainer. The wrapping adds ~1 us a call;
// times are medians over the steps, so a noisy step does not skew a row.
//
// --replay: after the steps, every GEMM call of one more step is run again on its own with the
// same arguments, 3 times to warm up and 5 timed (the fastest kept), and each shape's GFLOP/s
// inside the step is printed next to its hot speed: what the step's context (cold operands, the
// ops in between) costs each shape, apart from the kernel's own efficiency.
import { MODEL, benchBatch, benchTrainer, dist, median } from './train-setup.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bf16Peak, fp32Peak, measureClock, printTable } from './ops/common.mjs';

function parseArgs(argv) {
  const a = { steps: 20, warmup: 3, top: 40, noClock: false, replay: false };
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--no-clock') { a.noClock = true; continue; }
    if (argv[i] === '--replay') { a.replay = true; continue; }
    const key = { '--steps': 'steps', '--warmup': 'warmup', '--top': 'top' }[argv[i]];
    const v = Number(argv[i + 1]);
    if (!key || !Number.isInteger(v) || v < 1) {
      console.error(`bad argument ${argv[i]}\nusage: node bench/train-profile.mjs [--steps N] [--warmup N] [--top N] [--no-clock] [--replay]`);
      process.exit(2);
    }
    a[key] = v;
    ++i;
  }
  return a;
}

/** The row a call is counted under: the kernel's name, and a GEMM's shape and flop count. */
function label(name, args) {
  if (name !== 'gemm') return { key: name, flops: 0 };
  const o = args[2];
  const t = `${o.transA ? 'T' : 'N'}${o.transB ? 'T' : 'N'}`;
  const extra = [o.relu && 'relu', o.reluMask && 'mask', o.gateMask && 'gate', o.rowSumsA && 'rowsums', o.addend && 'addend', o.bias && 'bias',
    o.beta ? 'beta1' : ''].filter(Boolean).join(',');
  return { key: `gemm ${t} m${o.m} n${o.n} k${o.k}${extra ? ` (${extra})` : ''}`, flops: 2 * o.m * o.n * o.k };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { kernels } = await dist('kernels.js');
  const { getNumThreads, cpuInfo } = await dist('index.js');
  const batch = await benchBatch();
  const { trainer } = await benchTrainer(process.env.ATTNODE_BENCH_PRECISION ?? 'fp32');  // ATTNODE_BENCH_PRECISION=bf16: the bf16 step

  let rows = new Map();  // key -> { ms, calls, flops } for the current step
  let recorded = null;   // with --replay, the GEMM calls of one step: { key, flops, args, ms }
  const rawGemm = kernels.gemm;
  for (const name of Object.keys(kernels)) {
    const fn = kernels[name];
    if (typeof fn !== 'function' || name.endsWith('Async')) continue;
    kernels[name] = (...a) => {
      const t0 = performance.now();
      const r = fn(...a);
      const dt = performance.now() - t0;
      const { key, flops } = label(name, a);
      if (recorded && name === 'gemm') recorded.push({ key, flops, args: a, ms: dt });
      const row = rows.get(key) ?? { ms: 0, calls: 0, flops };
      row.ms += dt;
      row.calls += 1;
      rows.set(key, row);
      return r;
    };
  }

  for (let i = 0; i < args.warmup; ++i) trainer.trainStep([batch]);
  const steps = [], perKey = new Map();
  for (let i = 0; i < args.steps; ++i) {
    rows = new Map();
    const t0 = performance.now();
    trainer.trainStep([batch]);
    steps.push(performance.now() - t0);
    for (const [k, r] of rows) {
      const e = perKey.get(k) ?? { ms: [], calls: r.calls, flops: r.flops };
      e.ms.push(r.ms);
      perKey.set(k, e);
    }
  }
  const step = median(steps);
  const table = [...perKey].map(([k, e]) => ({ k, ms: median(e.ms), calls: e.calls, gflop: (e.flops * e.calls) / 1e9 }))
    .sort((a, b) => b.ms - a.ms);
  const inKernels = table.reduce((s, r) => s + r.ms, 0);
  const gemm = table.filter((r) => r.k.startsWith('gemm'));
  const gemmMs = gemm.reduce((s, r) => s + r.ms, 0), gemmGflop = gemm.reduce((s, r) => s + r.gflop, 0);

  console.log(`attnode training step profile: dModel ${MODEL.dModel}, ffDim ${MODEL.ffDim}, ${MODEL.encoderLayers}+${MODEL.decoderLayers} layers; ` +
    `threads ${getNumThreads()}, isa ${cpuInfo().isa}; median of ${args.steps} steps after ${args.warmup} warm-up`);
  console.log(`step ${step.toFixed(1)} ms (min ${Math.min(...steps).toFixed(1)}), in kernels ${inKernels.toFixed(1)} ms, ` +
    `outside kernels ${(step - inKernels).toFixed(1)} ms; GEMMs ${gemmMs.toFixed(1)} ms for ${gemmGflop.toFixed(1)} GFLOP = ` +
    `${(gemmGflop / (gemmMs / 1e3)).toFixed(0)} GFLOP/s\n`);
  // The GEMMs against the peak the clock benchmark measures on this machine (issue 18's target for
  // the fp32 step: >= 85% of the FMA throughput). Measured after the steps, so it does not heat or
  // load the machine before them.
  const precision = process.env.ATTNODE_BENCH_PRECISION ?? 'fp32';
  if (!args.noClock) {
    const clock = measureClock(path.join(path.dirname(fileURLToPath(import.meta.url)), '..'), false);
    const peak = precision === 'bf16' ? bf16Peak(clock) : (clock.error ? null : fp32Peak(clock, getNumThreads(), cpuInfo().isa).gflops);
    const gemmRate = gemmGflop / (gemmMs / 1e3);
    console.log(peak ? `GEMMs of the step: ${gemmRate.toFixed(0)} GFLOP/s = ${((100 * gemmRate) / peak).toFixed(0)}% of the ${precision === 'bf16' ? 'vdpbf16ps' : 'zmm FMA'} ` +
      `peak measured by native/bench/clock.cpp (${peak.toFixed(0)} GFLOP/s on ${getNumThreads()} threads)`
      : `GEMM peak unavailable (${clock.error ?? 'no bf16 measurement'})\n`);
    // The bound GEMM tuning alone can reach: the step with every GEMM at that peak and the rest as
    // measured (what a target ratio against another library needs from the non-GEMM work too).
    if (peak) {
      const atPeak = (gemmGflop / peak) * 1e3;
      console.log(`bound: with every GEMM at that peak (${atPeak.toFixed(1)} ms) and the rest as measured ` +
        `(${(step - gemmMs).toFixed(1)} ms), a step would take ${(step - gemmMs + atPeak).toFixed(1)} ms\n`);
    }
  }
  printTable(['kernel', 'calls/step', 'ms/step', '% of step', 'GFLOP/s'],
    table.slice(0, args.top).map((r) => [r.k, String(r.calls), r.ms.toFixed(2), ((100 * r.ms) / step).toFixed(1),
      r.gflop ? (r.gflop / (r.ms / 1e3)).toFixed(0) : '']));

  if (args.replay) {
    recorded = [];
    trainer.trainStep([batch]);
    const calls = recorded;
    recorded = null;
    const byKey = new Map();  // key -> { inStep, hot, flops, calls }
    for (const c of calls) {  // each call right after the step, alone: 3 warm-up runs, best of 5
      for (let r = 0; r < 3; ++r) rawGemm(...c.args);
      let best = Infinity;
      for (let r = 0; r < 5; ++r) {
        const t0 = performance.now();
        rawGemm(...c.args);
        best = Math.min(best, performance.now() - t0);
      }
      const e = byKey.get(c.key) ?? { inStep: 0, hot: 0, flops: 0, calls: 0 };
      e.inStep += c.ms;
      e.hot += best;
      e.flops += c.flops;
      e.calls += 1;
      byKey.set(c.key, e);
    }
    const rate = (flops, ms) => (flops / 1e6 / ms).toFixed(0);
    const all = [...byKey.values()].reduce((t, e) => ({ inStep: t.inStep + e.inStep, hot: t.hot + e.hot, flops: t.flops + e.flops }),
      { inStep: 0, hot: 0, flops: 0 });
    console.log(`\nreplay: the GEMMs of one step, ${all.inStep.toFixed(1)} ms in the step (${rate(all.flops, all.inStep)} GFLOP/s), ` +
      `${all.hot.toFixed(1)} ms each replayed hot (${rate(all.flops, all.hot)} GFLOP/s)\n`);
    printTable(['gemm', 'calls', 'in step GFLOP/s', 'hot GFLOP/s', 'in step / hot'],
      [...byKey].sort((a, b) => b[1].inStep - a[1].inStep).map(([k, e]) =>
        [k.replace(/^gemm /, ''), String(e.calls), rate(e.flops, e.inStep), rate(e.flops, e.hot), (e.hot / e.inStep).toFixed(2)]));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
