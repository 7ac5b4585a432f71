#!/usr/bin/env node
// The kernel fuzz's parent: splits a seeded run of N calls into batches, runs each batch in its own
// child process (child.mjs, `node --expose-gc`, address space capped with ulimit -v), and
// classifies every child's end: a SUMMARY line = done; a signal or an exit without SUMMARY =
// crash; no progress for --hang-ms = hang (killed). The call that was running when a child died is
// read from its progress file and recorded with the seed, so it can be replayed:
//   node --expose-gc test/fuzz/child.mjs --seed S --start I --end I+1 --verbose
// then the batch goes on from the next call in a new child.
//
//   node test/fuzz/run.mjs [--calls N] [--seed S] [--batch B] [--jobs J] [--hang-ms T]
//                          [--threads K|mix] [--mem-kb KB] [--json FILE] [--quiet] [--only f,g] [--raw]
// --raw fuzzes the addon's own functions (under `kernels`), without the TypeScript layer.
// Batches take turns over the CPU variants this build supports here (setIsa) and, by default,
// over 1 and 2 threads.
// (npm run fuzz -- --calls N --seed S). Exit 0 only with 0 crashes, 0 hangs and 0 failures.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'child.mjs');

const DEFAULTS = {
  calls: 1_000_000, seed: 1, batch: 5000, jobs: Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length)),
  hangMs: 120_000, threads: 'mix', isas: true, memKb: 4_000_000, maxRestarts: 200, quiet: false, loadRetries: 10, loadRetryMs: 30_000,
};

function readProgress(file) {
  try {
    const s = fs.readFileSync(file, 'utf8').trim();
    const sp = s.indexOf(' ');
    return sp < 0 ? null : { index: Number(s.slice(0, sp)), label: s.slice(sp + 1).trim(), raw: s };
  } catch {
    return null;
  }
}

// Children still running: killed if this process is interrupted, so none is left behind.
const live = new Set(), tmpDirs = new Set();
let onSignal = null;
function killChildrenOnSignal() {
  if (onSignal) return;
  onSignal = (sig) => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Runs calls [start, end) of `seed` in one child; resolves with how it ended. */
function runChild(o, start, end, progressFile) {
  fs.rmSync(progressFile, { force: true });  // a child that dies before its first call leaves none
  return new Promise((resolve) => {
    const nodeArgs = ['--expose-gc', '--max-old-space-size=512', CHILD, '--seed', String(o.seed), '--start', String(start),
      '--end', String(end), '--progress', progressFile];
    if (o.only) nodeArgs.push('--only', o.only);
    if (o.raw) nodeArgs.push('--raw');
    // Batches take turns over the CPU variants, and (threads 'mix') over 1 and 2 threads.
    const k = Math.floor(start / o.batch);
    if (o.isas) nodeArgs.push('--isa', String(k));
    const threads = o.threads === 'mix' ? 1 + (k % 2) : o.threads;
    const env = { ...process.env, ATTNODE_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'passive' };
    // ulimit -v: an allocation the library should have refused fails instead of eating the machine.
    const child = process.platform === 'linux' && o.memKb > 0
      ? spawn('/bin/sh', ['-c', `ulimit -v ${o.memKb} 2>/dev/null; exec "$0" "$@"`, process.execPath, ...nodeArgs], { env })
      : spawn(process.execPath, nodeArgs, { env });
    live.add(child);
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    let last = null, lastChange = Date.now(), hung = false;
    const timer = setInterval(() => {
      const p = readProgress(progressFile);
      const raw = p?.raw ?? null;
      if (raw !== last) { last = raw; lastChange = Date.now(); return; }
      if (Date.now() - lastChange > o.hangMs) { hung = true; child.kill('SIGKILL'); }
    }, 250);
    child.on('close', (code, signal) => {
      live.delete(child);
      clearInterval(timer);
      const fails = [], warns = [];
      let summary = null;
      for (const line of stdout.split('\n')) {
        if (line.startsWith('WARN ')) { try { warns.push(JSON.parse(line.slice(5))); } catch { /* a cut line */ } }
        if (line.startsWith('FAIL ')) { try { fails.push(JSON.parse(line.slice(5))); } catch { fails.push({ kind: 'badFailLine', detail: line.slice(0, 300) }); } }
        if (line.startsWith('SUMMARY ')) summary = JSON.parse(line.slice(8));
      }
      const loadFail = code === 3 && /^LOADFAIL /m.exec(stdout) ? stdout.split('LOADFAIL ')[1].split('\n')[0] : null;
      const flags = `${o.isas ? ` --isa ${k}` : ''}${o.raw ? ' --raw' : ''}`;
      resolve({ code, signal, hung, summary, fails, warns, stderr, loadFail, progress: readProgress(progressFile),
        flags, envPrefix: `ATTNODE_NUM_THREADS=${threads} ` });
    });
  });
}

const normalize = (s) => String(s ?? '').replace(/\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N').slice(0, 160);
/** A finding's dedupe key: kind, function, what was broken (argument paths kept), and the message shape. */
function findingKey(f) {
  const label = String(f.label ?? '').replace(/\d+/g, 'N');
  return `${f.kind} | ${label} | ${f.kind === 'crash' || f.kind === 'hang' ? '' : normalize(f.detail)}`;
}

export async function runFuzz(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const log = o.quiet ? () => {} : (s) => process.stderr.write(`${s}\n`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-fuzz-'));
  tmpDirs.add(tmp);
  const total = { calls: 0, ok: 0, rejected: 0, getterErrors: 0, oomErrors: 0, failures: 0, bigAllocations: 0, crashes: 0, hangs: 0,
    skippedCalls: 0, uncountedCalls: 0, children: 0, byClass: {}, byMode: {}, bySpec: {}, byMutation: {} };
  const findings = new Map();
  const record = (f) => {
    const key = findingKey(f);
    const e = findings.get(key);
    if (e) e.count += 1; else findings.set(key, { ...f, count: 1, key });
  };
  const queue = [];
  for (let s = 0; s < o.calls; s += o.batch) queue.push({ start: s, end: Math.min(o.calls, s + o.batch), restarts: 0 });
  const t0 = Date.now();
  let nextReport = 0, done = 0;
  const report = (force) => {
    if (!force && Date.now() < nextReport) return;
    nextReport = Date.now() + (o.progressMs ?? 10_000);
    log(`fuzz seed ${o.seed}: ${done}/${o.calls} calls, ${total.crashes} crashes, ${total.hangs} hangs, ` +
      `${total.failures} failures, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  let slot = 0;
  async function worker() {
    const progressFile = path.join(tmp, `progress-${slot++}`);
    while (queue.length) {
      const b = queue.shift();
      const r = await runChild(o, b.start, b.end, progressFile);
      total.children += 1;
      if (r.loadFail !== null && r.loadFail !== undefined) {
        // attnode did not load (a rebuild in progress?): wait and run the same batch again.
        b.loadFails = (b.loadFails ?? 0) + 1;
        log(`fuzz: attnode failed to load (${r.loadFail}); retrying batch ${b.start}-${b.end} in ${o.loadRetryMs / 1000} s`);
        if (b.loadFails <= o.loadRetries) {
          await new Promise((res) => setTimeout(res, o.loadRetryMs));
          queue.unshift(b);
        } else {
          total.failures += 1;
          record({ kind: 'loadFailure', seed: o.seed, index: b.start, label: '', detail: r.loadFail });
          total.skippedCalls += b.end - b.start;
          done += b.end - b.start;
        }
        continue;
      }
      for (const f of r.fails) { total.failures += 1; record(f); }
      for (const w of r.warns) { total.bigAllocations += 1; record({ ...w, warning: true }); }
      if (r.summary) {
        const s = r.summary;
        for (const k of ['calls', 'ok', 'rejected', 'getterErrors', 'oomErrors']) total[k] += s[k];
        if (s.calls !== b.end - b.start) total.failures += 1, record({ kind: 'countMismatch', seed: o.seed, index: b.start, label: '', detail: `${s.calls} of ${b.end - b.start}` });
        for (const [k, v] of Object.entries(s.byClass)) total.byClass[k] = (total.byClass[k] ?? 0) + v;
        for (const [k, v] of Object.entries(s.byMode)) total.byMode[k] = (total.byMode[k] ?? 0) + v;
        for (const what of ['bySpec', 'byMutation']) {
          for (const [k, v] of Object.entries(s[what])) {
            const t = (total[what][k] ??= { ok: 0, rejected: 0, failed: 0 });
            t.ok += v.ok; t.rejected += v.rejected; t.failed += v.failed;
          }
        }
        done += b.end - b.start;
        report(false);
        continue;
      }
      // The child died (or hung) at the call in its progress file.
      const at = r.progress && Number.isFinite(r.progress.index) && r.progress.index >= b.start ? r.progress.index : b.start;
      const kind = r.hung ? 'hang' : r.code === 13 ? 'hang' : 'crash';  // 13: a promise that never settled
      const how = r.hung ? `no progress for ${o.hangMs} ms (killed)` : r.code === 13 ? 'exit 13: a promise never settled'
        : r.signal ? `signal ${r.signal}` : `exit code ${r.code} without a summary`;
      total[kind === 'hang' ? 'hangs' : 'crashes'] += 1;
      const label = (r.progress?.label ?? '').replace(/ \(baseline\)$/, '');
      const f = { kind, seed: o.seed, index: at, spec: label.split(' ')[0], label, detail: how,
        stderr: r.stderr.split('\n').filter((l) => l.trim()).slice(-12).join('\n'),
        replay: `${r.envPrefix}node --expose-gc test/fuzz/child.mjs --seed ${o.seed} --start ${at} --end ${at + 1}${r.flags} --verbose`,
        replayBatch: `${r.envPrefix}node --expose-gc test/fuzz/child.mjs --seed ${o.seed} --start ${b.start} --end ${at + 1}${r.flags}` };
      record(f);
      log(`fuzz: ${kind} at seed ${o.seed} call ${at} (${label}): ${how}`);
      // Calls before it ran (their outcomes are not itemized); go on after it in a new child.
      total.calls += at - b.start + 1;
      total.uncountedCalls += at - b.start + 1;
      done += at - b.start + 1;
      if (at + 1 < b.end) {
        if (b.restarts + 1 > o.maxRestarts) { total.skippedCalls += b.end - at - 1; done += b.end - at - 1; }
        else queue.unshift({ start: at + 1, end: b.end, restarts: b.restarts + 1 });
      }
      report(false);
    }
  }
  await Promise.all(Array.from({ length: o.jobs }, () => worker()));
  fs.rmSync(tmp, { recursive: true, force: true });
  tmpDirs.delete(tmp);
  total.seconds = (Date.now() - t0) / 1000;
  total.findings = [...findings.values()].sort((a, b) => (a.kind === b.kind ? b.count - a.count : a.kind < b.kind ? -1 : 1));
  report(true);
  return total;
}

/** A printable summary of runFuzz's result. */
export function formatSummary(t) {
  const lines = [];
  lines.push(`kernel fuzz: ${t.calls} calls in ${t.seconds.toFixed(1)} s (${t.children} child processes)`);
  lines.push(`  results ${t.ok}, clean TypeError/RangeError ${t.rejected}, fuzz-getter errors passed through ${t.getterErrors}, ` +
    `named out-of-memory errors ${t.oomErrors}`);
  lines.push(`  crashes ${t.crashes}, hangs ${t.hangs}, other failures ${t.failures}` +
    (t.uncountedCalls ? ` (${t.uncountedCalls} calls ran in children that died, outcomes not itemized)` : '') +
    (t.skippedCalls ? `, ${t.skippedCalls} calls skipped after too many restarts` : ''));
  lines.push(`  warnings: ${t.bigAllocations} results of 1 GiB or more (an output sized from numbers alone, allocated)`);
  lines.push(`  error classes: ${JSON.stringify(t.byClass)}`);
  lines.push(`  modes: ${JSON.stringify(t.byMode)}`);
  lines.push(`  mutations (calls with it: result / rejected / failed): ${Object.entries(t.byMutation).sort()
    .map(([k, v]) => `${k} ${v.ok}/${v.rejected}/${v.failed}`).join(', ')}`);
  if (t.findings.length) {
    lines.push(`distinct findings (${t.findings.length}):`);
    for (const f of t.findings) {
      lines.push(`- ${f.warning ? 'warning ' : ''}${f.kind} x${f.count}: ${f.label}${f.detail ? ` -> ${String(f.detail).slice(0, 300)}` : ''}`);
      if (f.args) lines.push(`    args: ${f.args}`);
      lines.push(`    replay: ${f.replay ?? `node --expose-gc test/fuzz/child.mjs --seed ${f.seed} --start ${f.index} --end ${f.index + 1} --verbose`}`);
      if (f.stderr) lines.push(`    stderr: ${f.stderr.split('\n').slice(-4).join(' | ').slice(0, 400)}`);
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const num = (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const str = (name) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const opts = {
    calls: num('calls', DEFAULTS.calls), seed: num('seed', DEFAULTS.seed), batch: num('batch', DEFAULTS.batch),
    jobs: num('jobs', DEFAULTS.jobs), hangMs: num('hang-ms', DEFAULTS.hangMs),
    threads: str('threads') === undefined || str('threads') === 'mix' ? 'mix' : Number(str('threads')),
    memKb: num('mem-kb', DEFAULTS.memKb), quiet: argv.includes('--quiet'), only: str('only'), raw: argv.includes('--raw'),
  };
  killChildrenOnSignal();
  const t = await runFuzz(opts);
  console.log(formatSummary(t));
  const json = str('json');
  if (json) fs.writeFileSync(json, `${JSON.stringify(t, null, 2)}\n`);
  process.exit(t.crashes === 0 && t.hangs === 0 && t.failures === 0 ? 0 : 1);
}
