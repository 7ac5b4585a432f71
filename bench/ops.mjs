#!/usr/bin/env node
// npm run bench:ops [-- --quick] [--only gemm,...] [--threads N] [--no-torch] [--no-clock] [--sample-ms MS]
//                   [--pairs N] [--json out.json]
//
// Times attnode's op kernels next to PyTorch's CPU ops in the same run. Rows come from the modules
// bench/ops/<group>.mjs (all found there), each exporting `group` and `rows(kernels)`: a list of
// { name, flops? | bytes?, target?, setup() -> the call to time, torch?: { op, args } } where
// torch.op names an entry of OPS in bench/torch_ops.py (or of a bench/ops/torch_<group>.py).
//
// Method: one warm-up call, then --pairs samples of about --sample-ms each, attnode and torch alternating
// (so both see the same machine load); the fastest sample of each side gives its time per call.
// torch.set_num_threads is set to attnode's thread count. Ratio = torch time / attnode time
// (> 1: attnode faster). % peak = achieved GFLOP/s over the FP32 FMA peak of the cores in use,
// cores x 2 FMA units x lanes x 2 flops x clock, with the all-core clock measured by
// native/bench/clock.cpp (built into build-cmake/ on first use).
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TorchServer, bf16Peak, fp32Peak, measureClock, printTable, timeRow } from './ops/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
// Row modules: every bench/ops/*.mjs but common.mjs, GEMM first, then by name.
const MODULES = readdirSync(path.join(here, 'ops'))
  .filter((f) => f.endsWith('.mjs') && f !== 'common.mjs')
  .sort((a, b) => (a === 'gemm.mjs' ? -1 : b === 'gemm.mjs' ? 1 : a.localeCompare(b)))
  .map((f) => './ops/' + f);

function parseArgs(argv) {
  const a = { quick: false, only: null, threads: null, torch: true, clock: true, json: null, sampleMs: null, pairs: null };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i];
    if (s === '--quick') a.quick = true;
    else if (s === '--only') a.only = argv[++i].split(',');
    else if (s === '--threads') a.threads = Number(argv[++i]);
    else if (s === '--no-torch') a.torch = false;
    else if (s === '--no-clock') a.clock = false;
    else if (s === '--json') a.json = argv[++i];
    else if (s === '--sample-ms') a.sampleMs = Number(argv[++i]);
    else if (s === '--pairs') a.pairs = Number(argv[++i]);
    else {
      console.error(`unknown argument ${s}\nusage: node bench/ops.mjs [--quick] [--only gemm,...] [--threads N] ` +
        '[--no-torch] [--no-clock] [--sample-ms MS] [--pairs N] [--json out.json]');
      process.exit(2);
    }
  }
  return a;
}

const fmt = (x, d = 1) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(root, 'dist', 'index.js'))) {
    console.error('dist/ missing: run `npx tsc -p tsconfig.json` (and `npx node-gyp build -j 2` if the addon is missing)');
    process.exit(1);
  }
  const { kernels, getNumThreads, setNumThreads, cpuInfo } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href);
  if (args.threads) setNumThreads(args.threads);
  const threads = getNumThreads();
  const info = cpuInfo();
  // Short samples, many of them: on a shared machine the fastest of many short windows is the
// best estimate of an undisturbed run (a descheduled thread stalls a whole parallel call).
  const sampling = { sampleMs: args.sampleMs ?? (args.quick ? 10 : 20), pairs: args.pairs ?? (args.quick ? 5 : 15) };

  console.log(`attnode op benchmark${args.quick ? ' (--quick)' : ''}: threads = ${threads}, isa = ${info.isa} ` +
    `(supported: ${info.supportedIsas.join(', ')}), hardware threads ${info.hardwareThreads}`);
  console.log(`sampling: ${sampling.pairs} alternating samples of ~${sampling.sampleMs} ms per side, fastest kept`);
  const load0 = os.loadavg();
  console.log(`load average before: ${load0.map((x) => x.toFixed(2)).join(' ')} on ${os.availableParallelism()} CPUs` +
    (load0[0] > os.availableParallelism() ? '  (WARNING: the CPUs are busy with other work; timings are noisy)' : ''));

  const clock = args.clock ? measureClock(root, args.quick) : { error: 'skipped (--no-clock)' };
  const peak = fp32Peak(clock, Math.min(threads, info.hardwareThreads), info.isa);
  console.log(`FP32 peak = ${peak.cores} cores x ${peak.units} FMA units x ${peak.lanes} lanes x 2 flops x clock: ` +
    (peak.measuredGhz
      ? `measured all-core clock ${fmt(peak.measuredGhz, 2)} GHz (zmm FMA chain, native/bench/clock.cpp) -> ${fmt(peak.gflops, 0)} GFLOP/s` +
        (peak.allCore?.fma_per_cycle_per_core ? ` (measured ${fmt(peak.allCore.fma_per_cycle_per_core, 2)} zmm FMA/cycle/core)` : '')
      : `clock unavailable (${clock.error}); nominal ${fmt(peak.nominal.ghz, 2)} GHz`) +
    `; at the nominal ${fmt(peak.nominal.ghz, 2)} GHz: ${fmt(peak.nominalGflops, 0)} GFLOP/s`);
  const peakBf16 = bf16Peak(clock);
  if (peakBf16) console.log(`bf16 peak = measured vdpbf16ps throughput (native/bench/clock.cpp, 64 flops each, all cores): ${fmt(peakBf16, 0)} GFLOP/s`);

  let torch = null;
  if (args.torch) {
    const t = TorchServer.start(here);
    if (t.skipped) console.log(`torch: skipped (${t.skipped})`);
    else {
      torch = t;
      const cfg = await torch.request({ cmd: 'config', threads });
      const blas = cfg.blas.openblas_config
        ? `OpenBLAS ${cfg.blas.openblas_config}, core ${cfg.blas.openblas_core}, ${cfg.blas.openblas_threads} threads (${cfg.blas.openblas_library})`
        : `BLAS libraries mapped: ${cfg.blas.mapped.join(', ') || 'none found'}`;
      console.log(`torch ${cfg.torch}, torch.get_num_threads() = ${cfg.threads}; BLAS in use: ${blas}`);
      const blasLine = cfg.config.split('\n').find((l) => l.includes('BLAS_INFO'));
      if (blasLine) console.log(`torch build: ${blasLine.trim().split(', ').filter((s) => /BLAS|LAPACK|MKL/.test(s)).join(', ')}`);
    }
  }

  const results = [];
  for (const spec of MODULES) {
    const mod = await import(spec);
    if (args.only && !args.only.includes(mod.group)) continue;
    for (const row of mod.rows(kernels, info)) {
      if (process.stdout.isTTY) process.stdout.write(`  ${mod.group} ${row.name} ...`.padEnd(60) + '\r');
      const ours = row.setup();
      let torchSide = null;
      if (torch && row.torch) {
        await torch.request({ cmd: 'setup', op: row.torch.op, args: row.torch.args });
        torchSide = torch;
      }
      const t = await timeRow(ours, torchSide, sampling);
      // A row may also time another attnode call on the same problem (bf16 rows: the fp32 GEMM).
      const alt = row.alt ? { altName: row.alt.name, altSeconds: (await timeRow(row.alt.setup(), null, sampling)).seconds } : {};
      results.push({ group: mod.group, name: row.name, flops: row.flops, bytes: row.bytes, target: row.target,
        peakKind: row.peakKind ?? 'fp32', ...alt, ...t });
    }
  }
  if (torch) await torch.close();

  console.log('');
  const head = ['group', 'row', 'ms', 'GFLOP/s|GB/s', '% peak', 'torch ms', 'torch GFLOP/s|GB/s', 'ratio', 'target', 'met', 'x alt'];
  const body = results.map((r) => {
    const rate = (s) => (r.flops ? r.flops / s / 1e9 : r.bytes ? r.bytes / s / 1e9 : null);
    r.rate = rate(r.seconds);
    r.torchRate = r.torchSeconds ? rate(r.torchSeconds) : null;
    r.ratio = r.torchSeconds ? r.torchSeconds / r.seconds : null;
    r.peakFraction = !r.flops ? null : r.peakKind === 'bf16' ? (peakBf16 ? r.rate / peakBf16 : null) : r.rate / peak.gflops;
    r.altRatio = r.altSeconds ? r.altSeconds / r.seconds : null;
    r.met = r.ratio !== null && r.target ? r.ratio >= r.target : null;
    return [r.group, r.name, fmt(r.seconds * 1e3, 3), fmt(r.rate), r.peakFraction !== null ? fmt(100 * r.peakFraction, 0) + '%' : '-',
      fmt(r.torchSeconds !== null ? r.torchSeconds * 1e3 : null, 3), fmt(r.torchRate), fmt(r.ratio, 2),
      r.target ? fmt(r.target, 2) : '-', r.met === null ? '-' : r.met ? 'yes' : 'NO',
      r.altRatio !== null ? `${fmt(r.altRatio, 2)} (${r.altName})` : '-'];
  });
  printTable(head, body, new Set([0, 1]));
  const load1 = os.loadavg();
  console.log(`\nload average after: ${load1.map((x) => x.toFixed(2)).join(' ')}. ratio = torch ms / attnode ms ` +
    '(> 1: attnode faster); GFLOP/s for rows with a flop count, GB/s for rows with a byte count; ' +
    '% peak of the fp32 peak, or of the bf16 peak for gemm-bf16 rows (torch side: torch.mm on bf16 tensors); ' +
    'x alt = the other attnode call\'s ms / this row\'s ms (gemm-bf16: attnode fp32 GEMM / attnode bf16 GEMM).');
  if (args.json) {
    writeFileSync(args.json, JSON.stringify({ threads, isa: info.isa, peak, clock, loadBefore: load0, loadAfter: load1, results }, null, 2));
    console.log(`wrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
