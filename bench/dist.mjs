#!/usr/bin/env node
// npm run bench:dist [-- --steps N] [--warmup N] [--rounds N] [--bind none|core] [--json out.json]
//
// Data-parallel training on one machine: the bench:train model and batch (bench/train-setup.mjs:
// vocab 1000, dModel 256, 4 heads, ffDim 1024, 3+3 layers, batch 32 x 32/32 tokens, Adam), as
//   A) 1 process x 2 OpenMP threads (Trainer without distributed), and
//   B) mpirun -np 2, 1 thread per rank: each rank trains 16 of the 32 rows, gradients summed by
//      bucketed non-blocking MPI allreduce started during the backward.
// The two setups take turns, --rounds times (each a fresh launch: --warmup then --steps timed
// steps), so both see the same machine load. Reports per step (median over all timed steps): step time, target tokens/s of the whole
// batch, gradient bytes reduced per rank, the time rank 0 blocked waiting for reductions after its
// backward (share of the step), and a plain allreduce of the same bytes timed alone (the link's cost
// without overlap). The CPU model comes from /proc/cpuinfo.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BATCH, MODEL, OPT, SRC_LEN, TGT_LEN, benchBatch, dist, median } from './train-setup.mjs';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const opt = (name, d) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : d; };
const steps = Number(opt('steps', 10)), warmup = Number(opt('warmup', 3)), rounds = Number(opt('rounds', 3));
// Open MPI binds each rank to a core by default; on a machine shared with other work a bound rank
// cannot move off a busy core and the other rank waits for it every step, so the default is none.
const bind = opt('bind', 'none');

async function worker(out) {
  const { initDistributed, Seq2SeqTransformer, Trainer, getNumThreads } = await dist('index.js');
  const d = await initDistributed();
  const batch = await benchBatch();
  const model = new Seq2SeqTransformer(MODEL);
  const trainer = new Trainer(model, { optimizer: OPT, schedule: { kind: 'constant', lr: OPT.lr }, labelSmoothing: 0, distributed: d });
  const times = [], waits = [], bytes = [], overlapped = [], copies = [], redone = [];
  let last = null;
  await trainer.fit({ next: () => batch }, {
    steps: warmup + steps, progressEvery: 1,
    onProgress: (p) => {
      if (last !== null && p.step > warmup) {
        times.push(p.elapsedMs - last);
        if (p.comm) { waits.push(p.comm.waitMs); bytes.push(p.comm.bytes); overlapped.push(p.comm.overlapped / p.comm.buckets); copies.push(p.comm.copyMs); redone.push(p.comm.redone); }
      }
      last = p.elapsedMs;
    },
  });
  // The same bytes reduced alone, blocking: what the link costs when nothing overlaps it.
  let alone = null;
  if (d.size > 1) {
    const n = model.parameters().reduce((s, p) => s + p.size, 0), buf = new Float32Array(n), t = [];
    for (let i = 0; i < 12; ++i) { d.barrier(); const t0 = performance.now(); d.allReduce(buf); t.push(performance.now() - t0); }
    alone = median(t.slice(2));
  }
  if (d.isMain) {
    writeFileSync(out, JSON.stringify({ ranks: d.size, threads: getNumThreads(), params: model.numParameters(), times, waits, bytes, overlapped,
      copies, redone, alone: alone === null ? [] : [alone], tokens: batch.numTargetTokens }));
  }
  d.dispose();
}

function cpuModel() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (k) => info.match(new RegExp(`^${k}\\s*:\\s*(.+)$`, 'm'))?.[1].trim();
    return `${field('model name') ?? os.cpus()[0]?.model ?? 'unknown'} (${field('vendor_id') ?? '?'} family ${field('cpu family') ?? '?'} model ${field('model') ?? '?'})`;
  } catch { return os.cpus()[0]?.model ?? 'unknown'; }
}

/** Medians over the rounds' samples. */
function summarise(runs) {
  const all = (k) => runs.flatMap((r) => r[k]);
  const times = all('times'), med = (xs) => (xs.length ? median(xs) : 0);
  return { ranks: runs[0].ranks, threads: runs[0].threads, params: runs[0].params, tokens: runs[0].tokens, stepMs: median(times),
    minMs: Math.min(...times), maxMs: Math.max(...times), waitMs: med(all('waits')), bytes: med(all('bytes')), overlappedShare: med(all('overlapped')),
    copyMs: med(all('copies')), redoneSteps: all('redone').filter(Boolean).length, allreduceAloneMs: runs[0].alone.length ? median(all('alone')) : null };
}

function launch(label, cmd, args, threads) {
  const out = path.join(os.tmpdir(), `attnode-bench-dist-${process.pid}-${label}.json`);
  const worker = [self, '--worker', out, '--steps', String(steps), '--warmup', String(warmup)];
  const r = spawnSync(cmd ?? process.execPath, cmd ? [...args, process.execPath, ...worker] : worker,
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ATTNODE_NUM_THREADS: String(threads) } });
  if (r.status !== 0) throw new Error(`${label}: ${cmd} exited ${r.status}`);
  return JSON.parse(readFileSync(out, 'utf8'));
}

async function main() {
  if (argv[0] === '--worker') return worker(argv[1]);
  const mpirun = (process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'mpirun')).find((f) => { try { readFileSync(f); return true; } catch { return false; } });
  console.log(`attnode data-parallel benchmark: bench:train model (vocab ${MODEL.srcVocab}, dModel ${MODEL.dModel}, ${MODEL.encoderLayers}+${MODEL.decoderLayers} layers), ` +
    `global batch ${BATCH} x ${SRC_LEN}/${TGT_LEN} tokens, Adam; mpirun --bind-to ${bind}; ${rounds} alternating rounds of ${warmup} warm-up + ${steps} timed steps per setup (medians)`);
  console.log(`CPU: ${cpuModel()}, ${os.availableParallelism()} CPUs; load average before ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (!mpirun) console.log('mpirun not found: the 2-rank case is skipped (apt-get install openmpi-bin libopenmpi-dev; npm run build:dist)');
  const ra = [], rb = [];
  for (let r = 0; r < rounds; ++r) {
    ra.push(launch('1x2', null, [], 2));
    if (mpirun) rb.push(launch('2x1', mpirun, ['--allow-run-as-root', '--oversubscribe', '--bind-to', bind, '-np', '2'], 1));
  }
  const a = summarise(ra), b = mpirun ? summarise(rb) : null;
  const rows = [['1 rank x 2 threads', a], ...(b ? [['2 ranks x 1 thread', b]] : [])];
  const fmt = (x, d = 1) => (x === null || x === undefined ? '-' : x.toFixed(d));
  console.log('');
  console.log('setup                 step ms (median, min-max)   target tok/s   allreduce MB/step/rank   waited ms (share)   copies ms (share)   reductions overlapped   allreduce alone ms');
  for (const [name, r] of rows) {
    console.log(`${name.padEnd(22)}${`${fmt(r.stepMs)} (${fmt(r.minMs)}-${fmt(r.maxMs)})`.padEnd(28)}${fmt(r.tokens / (r.stepMs / 1000), 0).padEnd(15)}` +
      `${fmt(r.bytes / 1e6, 2).padEnd(25)}${`${fmt(r.waitMs, 2)} (${fmt((100 * r.waitMs) / r.stepMs)}%)`.padEnd(20)}${`${fmt(r.copyMs, 2)} (${fmt((100 * r.copyMs) / r.stepMs)}%)`.padEnd(20)}${`${fmt(100 * r.overlappedShare, 0)}%`.padEnd(24)}${fmt(r.allreduceAloneMs)}`);
  }
  if (b) console.log(`\n2 ranks / 1 rank tokens/s = ${(a.stepMs / b.stepMs).toFixed(2)}x; gradient bytes per step per rank ${(b.bytes / 1e6).toFixed(2)} MB ` +
    `(${b.params.toLocaleString('en-US')} parameters); compute per step on 1 rank x 2 threads ${fmt(a.stepMs)} ms`);
  if (b && b.redoneSteps > 0) console.log(`WARNING: ${b.redoneSteps} steps reduced their buckets twice (a gradient changed after its bucket went out)`);
  const loaded = Math.max(...os.loadavg()) > os.availableParallelism();
  console.log(`load average after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}${loaded ? '  (WARNING: the machine was loaded by other work; timings are noisy)' : ''}`);
  const json = opt('json');
  if (json) writeFileSync(json, JSON.stringify({ cpu: cpuModel(), steps, warmup, rounds, single: a, twoRanks: b, samples: { single: ra, twoRanks: rb } }, null, 2) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
