// Shared parts of bench/ops.mjs: the PyTorch side (a persistent bench/torch_ops.py process), the
// alternating sampler, and the FP32 peak from the measured clock.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export const PYTHON = '/usr/bin/python3';  // Debian's python with python3-torch; not the pyenv one on PATH

// The environment as this process started, captured before any benchmark imports dist/: attnode's
// loader sets GOMP_SPINCOUNT for its own OpenMP threads when the user has not, and a child spawned
// with process.env would inherit it. PyTorch runs with the user's settings, not attnode's.
export const TORCH_ENV = { ...process.env };

// After answering, PyTorch's OpenMP threads keep spinning (libgomp's default: up to ~300k pauses,
// about 10 ms here) on the cores our next measurement needs. Every reply is handed over only after
// this much idle time, so each side is timed on a quiet machine.
export const TORCH_SETTLE_MS = 40;
export const settle = () => new Promise((r) => setTimeout(r, TORCH_SETTLE_MS));

/** One python process answering JSON-line requests (bench/torch_ops.py). */
export class TorchServer {
  static start(benchDir) {
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', env: TORCH_ENV });
    if (probe.status !== 0) {
      return { skipped: `${PYTHON} -c 'import torch' failed (apt-get install -y python3-torch libopenblas0-openmp)` };
    }
    return new TorchServer(spawn(PYTHON, [path.join(benchDir, 'torch_ops.py')], { stdio: ['pipe', 'pipe', 'inherit'], env: TORCH_ENV }));
  }

  constructor(child) {
    this.child = child;
    this.pending = [];
    this.exited = null;
    readline.createInterface({ input: child.stdout }).on('line', (line) => this.pending.shift()?.resolve(JSON.parse(line)));
    child.on('exit', (code, signal) => {
      this.exited = `torch_ops.py exited (${code ?? signal})`;
      for (const p of this.pending.splice(0)) p.reject(new Error(this.exited));
    });
  }

  request(obj) {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: (v) => settle().then(() => resolve(v)), reject });
      this.child.stdin.write(JSON.stringify(obj) + '\n');
    });
  }

  async close() {
    if (this.exited) return;
    this.child.stdin.write(JSON.stringify({ cmd: 'quit' }) + '\n');
    this.child.stdin.end();
    await new Promise((r) => this.child.on('exit', r));
  }
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** Seconds for `iters` calls of fn. */
function sampleOurs(fn, iters) {
  const t0 = now();
  for (let i = 0; i < iters; ++i) fn();
  return now() - t0;
}

/**
 * Times one row on both sides: a calibration call sets how many calls make one sample of about
 * `sampleMs`, then `pairs` samples of attnode and torch alternate (so both see the same load), and
 * the fastest sample of each side gives its seconds per call.
 */
export async function timeRow(ours, torch, { sampleMs, pairs }) {
  ours();  // warm-up
  const once = Math.max(sampleOurs(ours, 1), 1e-7);
  const iters = Math.max(1, Math.ceil(sampleMs / 1e3 / once));
  let torchIters = 0;
  if (torch) {
    const t = (await torch.request({ cmd: 'sample', iters: 1 })).seconds;
    torchIters = Math.max(1, Math.ceil(sampleMs / 1e3 / Math.max(t, 1e-7)));
  }
  let best = Infinity, bestTorch = Infinity;
  for (let p = 0; p < pairs; ++p) {
    best = Math.min(best, sampleOurs(ours, iters) / iters);
    if (torch) bestTorch = Math.min(bestTorch, (await torch.request({ cmd: 'sample', iters: torchIters })).seconds / torchIters);
  }
  return { seconds: best, torchSeconds: torch ? bestTorch : null, iters, torchIters };
}

/** The clock microbenchmark (native/bench/clock.cpp), built on demand into build-cmake/ (never build/). */
export function measureClock(root, quick) {
  const bin = path.join(root, 'build-cmake', 'clock');
  if (!existsSync(bin)) {
    console.log('building native/bench/clock.cpp (cmake, build-cmake/) ...');
    const opt = { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] };
    const cfg = spawnSync('cmake', ['-S', '.', '-B', 'build-cmake', '-DCMAKE_BUILD_TYPE=Release'], opt);
    const bld = cfg.status === 0 && spawnSync('cmake', ['--build', 'build-cmake', '--target', 'clock', '-j', '2'], opt);
    if (!bld || bld.status !== 0 || !existsSync(bin)) return { error: 'could not build build-cmake/clock' };
  }
  const r = spawnSync(bin, ['--json', '--reps', quick ? '2' : '5'], { encoding: 'utf8' });
  if (r.status !== 0) return { error: `clock exited ${r.status}: ${r.stderr}` };
  return JSON.parse(r.stdout);
}

export function nominalGhz() {
  // In this VM /proc/cpuinfo reports the TSC (= nominal) frequency.
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^cpu MHz\s*:\s*([\d.]+)/m);
    if (m) return { ghz: Number(m[1]) / 1000, source: "/proc/cpuinfo 'cpu MHz' (nominal/TSC)" };
  } catch { /* not Linux */ }
  return { ghz: 2.6, source: 'assumed nominal 2.6 GHz (performance.md §3.1)' };
}

/**
 * FP32 FMA peak = cores x FMA units x lanes x 2 flops x clock. Lanes from the ISA in use (16 for
 * avx512, 8 for avx2, 4 for portable SSE code); 2 FMA units per core (Sapphire Rapids class).
 */
export function fp32Peak(clock, cores, isa) {
  const lanes = isa.startsWith('avx512') ? 16 : isa === 'avx2' ? 8 : 4;
  const runs = clock.runs ?? [];
  const allCore = runs.find((r) => r.threads === Math.max(...runs.map((x) => x.threads)));
  // zmm FMA units per core as measured (1 on Zen 4, 2 on Sapphire Rapids), else 2.
  const units = allCore?.fma_per_cycle_per_core > 0.5 ? Math.round(allCore.fma_per_cycle_per_core) : 2;
  const measuredGhz = allCore ? (allCore.fma_chain_ghz || allCore.imul_ghz) : null;
  const nominal = nominalGhz();
  const of = (ghz) => cores * units * lanes * 2 * ghz;
  return { cores, units, lanes, measuredGhz, allCore, nominal, gflops: of(measuredGhz ?? nominal.ghz),
    nominalGflops: of(nominal.ghz), source: measuredGhz ? 'measured' : 'nominal' };
}

/** The bf16 peak: the clock benchmark's measured vdpbf16ps throughput over all cores (GFLOP/s), or null. */
export function bf16Peak(clock) {
  const runs = clock.runs ?? [];
  const allCore = runs.find((r) => r.threads === Math.max(...runs.map((x) => x.threads)));
  return allCore?.bf16_dp_gflops_total > 0 ? allCore.bf16_dp_gflops_total : null;
}

/** Prints a Markdown table; the columns in leftCols are left-aligned, the rest right-aligned. */
export function printTable(head, body, leftCols = new Set([0])) {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => '| ' + cells.map((c, i) => (leftCols.has(i) ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((x, i) => (leftCols.has(i) ? ':' + '-'.repeat(x + 1) : '-'.repeat(x + 1) + ':')).join('|') + '|');
  for (const b of body) console.log(line(b));
}
