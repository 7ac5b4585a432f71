// One batch of the kernel fuzz, run as its own process by run.mjs so a native crash or hang is
// seen by the parent instead of ending the run:
//   node --expose-gc test/fuzz/child.mjs --seed S --start A --end B [--progress FILE] [--verbose]
// Call i (A <= i < B) draws everything from callSeed(S, i): it can be replayed alone with
// --start i --end i+1 --verbose (prints the call and its outcome).
// Before each call the child writes "i label" to the progress file, so the parent knows which
// call was running when the process died. Unexpected outcomes are printed as `FAIL {json}` lines
// and the batch goes on; the last line is `SUMMARY {json}`.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Rng, callSeed } from './rng.mjs';
import { ALL_SPECS, ISAS } from './specs.mjs';
import { MUTATIONS, benign, makeResizable, pickMutation, sabotage, slots, views } from './mutate.mjs';
import { FuzzGetterError, PROXIES, describe, readable, ta } from './values.mjs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const seed = Number(opt('seed', 1)) >>> 0;
const start = Number(opt('start', 0));
const end = Number(opt('end', start + 1000));
const progressPath = opt('progress', null);
const verbose = argv.includes('--verbose');
const only = opt('only', null);  // a comma-separated list of spec names (debugging)

// Loaded here, not imported statically: a binary being rebuilt (or a dist/ being written) is a
// load failure the parent retries, not a crash of some call.
let attnode;
try {
  attnode = await import('../../dist/index.js');
} catch (e) {
  console.log(`LOADFAIL ${String(e?.message ?? e).split('\n')[0].slice(0, 300)}`);
  process.exit(3);
}
const { kernels } = attnode;
const RUNTIME = { setNumThreads: attnode.setNumThreads, getNumThreads: attnode.getNumThreads, cpuInfo: attnode.cpuInfo, setIsa: attnode.setIsa };
const info = attnode.cpuInfo();
ISAS.splice(0, ISAS.length, ...info.supportedIsas);
// --isa N: this batch runs on supported variant N (mod their count), so every variant is fuzzed.
const isaArg = opt('isa', null);
if (isaArg !== null) attnode.setIsa(info.supportedIsas[Number(isaArg) % info.supportedIsas.length]);
const homeIsa = attnode.cpuInfo().isa, homeThreads = attnode.getNumThreads();

// --raw: call the addon's own functions (what `kernels` wraps) with the same arguments, without
// the TypeScript layer's option snapshots: the native checks alone must hold too.
const raw = argv.includes('--raw');
const surface = raw ? rawSurface(createRequire(import.meta.url)(attnode.nativeBinary)) : kernels;
function rawSurface(addon) {
  const act = (kind, fn) => (x, o) => addon.activationForward(kind, x, o, fn);
  const actB = (kind, fn) => (x, dy, o) => addon.activationBackward(kind, x, dy, o, fn);
  const s = {};
  for (const name of Object.keys(kernels)) if (typeof addon[name] === 'function') s[name] = addon[name];
  Object.assign(s, {
    // The addon's trailing `fn` argument (the caller's name, for messages) is internal: extra
    // arguments of the fuzz must not land there.
    activationForward: (kind, x, o) => addon.activationForward(kind, x, o, 'activationForward'),
    activationBackward: (kind, x, dy, o) => addon.activationBackward(kind, x, dy, o, 'activationBackward'),
    relu: act('relu', 'relu'), reluBackward: actB('relu', 'reluBackward'), silu: act('silu', 'silu'),
    siluBackward: actB('silu', 'siluBackward'), gelu: act('gelu', 'gelu'), geluBackward: actB('gelu', 'geluBackward'),
    dropoutForward: (x, p, seed, o) => addon.dropout(x, p, seed, o, 'dropoutForward'),
    dropoutBackward: (x, p, seed, o) => addon.dropout(x, p, seed, o, 'dropoutBackward'),
  });
  return s;
}
const specs = ALL_SPECS.filter((s) => (only ? only.split(',').includes(s.name) : true));
for (const s of specs) {
  const fn = s.runtime ? RUNTIME[s.name] : surface[s.name];
  if (typeof fn !== 'function') throw new Error(`fuzz spec ${s.name}: no such function`);
  s.fn = fn;
  s.isAsync = s.name.endsWith('Async');
  s.syncFn = s.isAsync ? surface[s.name.slice(0, -5)] : fn;
}
const kernelNames = new Set([...Object.keys(kernels), ...Object.keys(RUNTIME)]);
const IN_PLACE_OK = new Set(['activationForward', 'activationBackward', 'relu', 'reluBackward', 'gelu', 'geluBackward', 'silu',
  'siluBackward', 'add', 'dropoutForward', 'dropoutBackward']);
const BIG = 1 << 30;  // bytes: a result this large means the library allocated it

const progressFd = progressPath ? fs.openSync(progressPath, 'w') : null;
function progress(i, label) {
  if (progressFd === null) return;
  const line = `${i} ${label}`.slice(0, 250).padEnd(256, ' ');
  fs.writeSync(progressFd, line, 0);
}

const counts = { calls: 0, ok: 0, rejected: 0, getterErrors: 0, oomErrors: 0, failures: 0, bigAllocations: 0, byClass: {}, bySpec: {}, byMode: {}, byMutation: {} };
let mutationsOfCall = [];
function countSpec(name, what) {
  const c = (counts.bySpec[name] ??= { ok: 0, rejected: 0, failed: 0 });
  c[what] += 1;
  for (const m of mutationsOfCall) {
    const t = (counts.byMutation[m] ??= { ok: 0, rejected: 0, failed: 0 });
    t[what] += 1;
  }
}

function fail(kind, i, spec, label, detail, args) {
  counts.failures += 1;
  countSpec(spec.name, 'failed');
  const rec = { kind, seed, index: i, spec: spec.name, label, detail: String(detail).slice(0, 400), replay: replayCommand(i) };
  if (args) rec.args = args.map((a) => describe(a)).join(', ').slice(0, 600);
  console.log(`FAIL ${JSON.stringify(rec)}`);
}

/** The command that runs call i alone, as this batch ran it. */
function replayCommand(i) {
  return `ATTNODE_NUM_THREADS=${process.env.ATTNODE_NUM_THREADS ?? homeThreads} node --expose-gc test/fuzz/child.mjs --seed ${seed} ` +
    `--start ${i} --end ${i + 1}${isaArg !== null ? ` --isa ${isaArg}` : ''}${raw ? ' --raw' : ''} --verbose`;
}

/** Whether e is an acceptable error, and if not, why. */
function judgeError(e, spec) {
  if (e instanceof FuzzGetterError) return { ok: true, kind: 'getter' };
  if (e instanceof TypeError || e instanceof RangeError) {
    const m = /^(\w+): (\S+)/.exec(e.message ?? '');
    if (!m) return { ok: false, kind: 'unnamedError', detail: `${e.constructor.name}: ${e.message}` };
    const base = spec.name.replace(/Async$/, '');
    if (m[1] !== spec.name && m[1] !== base && !kernelNames.has(m[1])) {
      return { ok: false, kind: 'misnamedError', detail: `${e.constructor.name}: ${e.message}` };
    }
    return { ok: true, kind: e.constructor.name };
  }
  if (e instanceof Error && /out of memory|allocation failed/i.test(e.message) && /^\w+: /.test(e.message)) {
    return { ok: true, kind: 'oom' };
  }
  return { ok: false, kind: 'unexpectedError', detail: `${e?.constructor?.name ?? typeof e}: ${e?.message ?? String(e)}` };
}

const isF32 = (x) => x instanceof Float32Array;
const isI32 = (x) => x instanceof Int32Array;
/** Why a returned value is malformed, or null. */
function badResult(spec, r) {
  const res = spec.result;
  if (Array.isArray(res)) {
    if (typeof r !== 'object' || r === null) return `returned ${describe(r)}`;
    for (const n of res) if (!isF32(r[n]) && !(n === 'indices' && isI32(r[n]))) return `result.${n} is ${describe(r[n])}`;
    return null;
  }
  switch (res) {
    case 'f32': return isF32(r) ? null : `returned ${describe(r)}`;
    case 'i32': return isI32(r) ? null : `returned ${describe(r)}`;
    case 'u16': return r instanceof Uint16Array ? null : `returned ${describe(r)}`;
    case 'bool': return typeof r === 'boolean' ? null : `returned ${describe(r)}`;
    case 'number': return typeof r === 'number' ? null : `returned ${describe(r)}`;
    case 'string': return typeof r === 'string' ? null : `returned ${describe(r)}`;
    case 'void': return r === undefined ? null : `returned ${describe(r)}`;
    case 'object': return typeof r === 'object' && r !== null ? null : `returned ${describe(r)}`;
    case 'clip': return r && typeof r.norm === 'number' && typeof r.scale === 'number' ? null : `returned ${describe(r)}`;
    case 'xent': return r && typeof r.loss === 'number' && typeof r.count === 'number' && (r.dlogits === undefined || isF32(r.dlogits))
      ? null : `returned ${describe(r)}`;
    case 'linearBackward': return r && isF32(r.dW) && isF32(r.db) && (r.dx === undefined || isF32(r.dx)) ? null : `returned ${describe(r)}`;
    default: return null;
  }
}

/** Typed arrays of a result, for the size check and the bit comparison. */
function resultViews(r) {
  if (ArrayBuffer.isView(r)) return [r];
  if (r && typeof r === 'object') return Object.values(r).filter((v) => ArrayBuffer.isView(v));
  return [];
}
function bits(v) {
  if (!ArrayBuffer.isView(v)) return v;
  if (!readable(v)) return [];  // detached or out of bounds: no elements (differs from a non-empty result)
  return Array.from(new Uint8Array(ta.buffer(v), ta.byteOffset(v), ta.byteLength(v)));
}
/** A comparable form of (result, the call's arrays after it): in-place updates count too. */
function fingerprint(r, args) {
  const out = [];
  if (ArrayBuffer.isView(r)) out.push(bits(r));
  else if (r && typeof r === 'object') for (const k of Object.keys(r).sort()) out.push(k, typeof r[k] === 'number' ? Object.is(r[k], -0) ? '-0' : String(r[k]) : bits(r[k]));
  else out.push(String(r));
  if (args) for (const v of views(args)) out.push(bits(v));
  return JSON.stringify(out);
}

const sleep0 = () => new Promise((res) => setImmediate(res));

/** Calls spec.fn on args; returns { value } or { error }. `after` runs just after an async call is issued. */
async function invoke(spec, fn, args, after) {
  let ret;
  try {
    ret = fn(...args);
  } catch (e) {
    if (spec.isAsync) return { error: e, syncThrow: true };
    return { error: e };
  }
  if (spec.isAsync) {
    if (!(ret instanceof Promise)) return { value: ret, notPromise: true };
    if (after) after();
    try {
      return { value: await ret };
    } catch (e) {
      return { error: e };
    }
  }
  return { value: ret };
}

function restoreRuntime() {
  try {
    if (attnode.getNumThreads() !== homeThreads) attnode.setNumThreads(homeThreads);
    if (attnode.cpuInfo().isa !== homeIsa) attnode.setIsa(homeIsa);
  } catch { /* the next call reports it */ }
}

/** Output lengths of a valid call, by output path (for overlapping-output mutations). */
function outputLengths(spec, value) {
  if (!spec.outputs) return null;
  const out = {};
  for (const path of spec.outputs) {
    const key = path[path.length - 1];
    const v = key === 'into' || key === 'C' ? value : value?.[key];
    if (ArrayBuffer.isView(v)) out[path.join('.')] = v.length;
  }
  return out;
}

/** The output arrays the caller gave (at the spec's output paths). */
function outputArrays(spec, args) {
  const outs = new Set();
  for (const path of spec.outputs ?? []) {
    let o = args;
    for (const k of path) {
      // Never through the fuzz's Proxies or getters (they may throw or sabotage again).
      const d = o && typeof o === 'object' && !PROXIES.has(o) ? Object.getOwnPropertyDescriptor(o, k) : undefined;
      o = d && !d.get ? d.value : undefined;
    }
    if (ArrayBuffer.isView(o)) outs.add(o);
  }
  return outs;
}

const plainValue = (o, k) => {
  const d = o && typeof o === 'object' && !PROXIES.has(o) ? Object.getOwnPropertyDescriptor(o, k) : undefined;
  return d && !d.get ? d.value : undefined;
};

/**
 * Attention reads q, k, v (and writes dq, dk, dv) as rows of a stride: with qStride > heads*headDim
 * only part of each row is touched (a column block of a fused qkv buffer). Map: array -> its rows.
 */
function stridedLayouts(spec, args) {
  const m = new Map();
  if (!spec.name.startsWith('attention')) return m;
  const backward = spec.name.startsWith('attentionBackward');
  const shape = args[backward ? 6 : 3], opts = args[backward ? 7 : 4];
  const n = (k, d) => { const v = plainValue(shape, k); return typeof v === 'number' ? v : d; };
  const B = n('batch'), H = n('heads'), Hkv = n('kvHeads', H), Tq = n('qLen'), Tk = n('kvLen'), D = n('headDim');
  if (![B, H, Hkv, Tq, Tk, D].every(Number.isInteger)) return m;
  const qL = { rows: B * Tq, width: H * D, stride: n('qStride', H * D) };
  const kL = { rows: B * Tk, width: Hkv * D, stride: n('kStride', Hkv * D) };
  const vL = { rows: B * Tk, width: Hkv * D, stride: n('vStride', Hkv * D) };
  const into = plainValue(opts, 'into');
  for (const [v, l] of [[args[0], qL], [args[1], kL], [args[2], vL], [plainValue(into, 'dq'), qL],
    [plainValue(into, 'dk'), kL], [plainValue(into, 'dv'), vL]]) {
    if (v instanceof Float32Array) m.set(v, l);
  }
  return m;
}

/** The bytes an array's call touches: its whole span, or the row blocks of a strided layout. */
function touchedBytes(v, layouts) {
  const off = ta.byteOffset(v), len = ta.byteLength(v);
  const l = layouts.get(v);
  const bytes = new Set();
  if (!l) { for (let b = 0; b < len; ++b) bytes.add(off + b); return bytes; }
  for (let r = 0; r < l.rows; ++r) {
    for (let c = 0; c < l.width * 4; ++c) {
      const b = (r * l.stride) * 4 + c;
      if (b < len) bytes.add(off + b);
    }
  }
  return bytes;
}

/** Whether any output array the caller gave shares bytes with another array of the call. */
function overlapping(spec, args, nArgs) {
  const vs = views(args.slice(0, nArgs));  // extra arguments are ignored by the call
  const outs = outputArrays(spec, args);
  const layouts = stridedLayouts(spec, args);
  for (const o of outs) {
    if (o instanceof DataView) continue;
    const ob = ta.buffer(o), oo = ta.byteOffset(o), on = ta.byteLength(o);
    if (on === 0) continue;
    let same = 0;
    for (const v of vs) {
      if (v instanceof DataView) continue;
      const vo = ta.byteOffset(v), vn = ta.byteLength(v);
      if (ta.buffer(v) !== ob || vn === 0) continue;
      if (vo === oo && vn === on) { same += 1; continue; }
      if (!(vo < oo + on && oo < vo + vn)) continue;
      if (!layouts.has(o) && !layouts.has(v)) return true;
      // Strided: only a byte both touch is an overlap.
      const ot = touchedBytes(o, layouts);
      for (const b of touchedBytes(v, layouts)) if (ot.has(b)) return true;
    }
    // Exactly an input (it is counted once itself): allowed only where the op may run in place.
    if (same > 1 && !IN_PLACE_OK.has(spec.name)) return true;
  }
  return false;
}

let counted = false;  // whether call i was counted before the harness threw
async function runOne(i) {
  counted = false;
  mutationsOfCall = [];
  const r = new Rng(callSeed(seed, i));
  const spec = specs[Math.floor(r.float() * specs.length)];
  const buildSeed = r.fork();
  const scale = r.chance(0.06) ? r.pick([4, 8, 16]) : 1;  // now and then larger sizes
  const build = () => {
    const args = spec.build(new Rng(buildSeed, scale));
    return { spec, args, nArgs: args.length, outLengths: null };
  };
  const roll = r.float();
  const mode = roll < 0.06 ? 'valid' : roll < 0.14 ? 'benign' : spec.isAsync && roll < 0.30 ? 'asyncAbuse'
    : spec.isAsync && roll < 0.36 ? 'asyncGc' : 'mutate';
  counts.byMode[mode] = (counts.byMode[mode] ?? 0) + 1;
  const call = build();
  let label = `${spec.name} ${mode}`;
  let baseline = null;  // the sync result of an identical, untouched call
  // asyncAbuse: async calls work on copies of their inputs and write caller outputs on settle,
  // so overwriting or freeing the arrays after the call is issued must not change the result.
  const abuseCompare = mode === 'asyncAbuse' && spec.result !== 'void';
  const needBaseline = mode === 'benign' || mode === 'asyncGc' || abuseCompare || (mode === 'mutate' && spec.outputs && r.chance(0.5));
  if (needBaseline && !spec.runtime) {
    const copy = build();
    progress(i, `${label} (baseline)`);
    const b = await invoke({ ...spec, isAsync: false }, spec.syncFn, copy.args);
    if (b.error) {
      counts.calls += 1;
      fail('validRejected', i, spec, label, `${b.error?.constructor?.name}: ${b.error?.message}`, build().args);
      return;
    }
    // asyncGc drops its arrays and asyncAbuse overwrites them: those compare only the result.
    baseline = fingerprint(b.value, abuseCompare || (mode === 'asyncGc' && spec.result !== 'void') ? null : copy.args);
    call.outLengths = outputLengths(spec, b.value);
  }
  let after = null;
  if (mode === 'mutate') {
    const labels = [];
    for (let m = r.int(1, 3); m > 0; --m) {
      const name = pickMutation(r);
      const l = MUTATIONS[name](call, r);
      if (l) labels.push(l);
    }
    label += ` ${labels.join(' ')}`;
    mutationsOfCall = [...new Set(labels.map((l) => l.split('@')[0].replace(/\(.*\)|\d+$/g, '')))];
  } else if (mode === 'benign') {
    label += ` ${benign(call, r) ?? 'none'}`;
  } else if (mode === 'asyncAbuse') {
    if (r.chance(0.4)) makeResizable(call.args, r);
    const kind = r.pick(['detach', 'detach', 'detachOne', 'shrink', 'ints', 'bytes', 'nan', 'list', 'gc']);
    const sr = new Rng(r.fork());
    label += ` after:${kind}`;
    after = () => {
      sabotage(call.args, sr, kind, outputArrays(spec, call.args));
      // Reuse freed memory, so a kernel still using it is more likely to be noticed.
      for (let j = 0; j < 8; ++j) new Float32Array(1024).fill(NaN);
    };
  }
  if (verbose) console.log(`call ${i}: ${label}\n  args: ${call.args.map((a) => describe(a)).join(', ')}`);
  progress(i, label);
  counts.calls += 1;
  counted = true;

  let res;
  if (mode === 'asyncGc') {
    // Nothing but the pending call references the arrays; GCs run while it works.
    let args = call.args;
    const keep = spec.result === 'void' ? args : null;  // in-place results: compare the arrays after
    const p = (async () => invoke(spec, spec.fn, args))();
    args = null;
    call.args = null;
    for (let g = 0; g < 2; ++g) { globalThis.gc?.(); await sleep0(); }
    res = await p;
    call.args = keep;
  } else {
    // A rejected call must leave the caller's arrays as they were (no partial writes): their
    // bytes before, unless a getter of the fuzz changes them itself.
    const before = mode === 'mutate' && !label.includes('mutatingGetter') ? fingerprint(undefined, call.args) : null;
    res = await invoke(spec, spec.fn, call.args, after);
    // One documented exception: sync attention finds non-finite q/k/v/out/dout as it reads them
    // (no extra pass, README), so such a rejection may follow writes to opts.into.
    const nonFiniteAfterRun = /^attention(Forward|Backward): (q|k|v|out|dout)\[\d+\] (is NaN|is not finite)$/
      .test(String(res.error?.message));
    if ('error' in res && before !== null && !nonFiniteAfterRun && fingerprint(undefined, call.args) !== before) {
      const j = judgeError(res.error, spec);
      if (j.ok) {
        fail('rejectedButWrote', i, spec, label, `rejected (${res.error?.message}) after changing an argument's array`, call.args);
        return;
      }
    }
  }
  if (spec.runtime) restoreRuntime();

  // (The addon's own async functions throw argument errors synchronously; the wrappers reject.)
  if (res.syncThrow && !raw) fail('asyncThrewSync', i, spec, label, `${res.error?.constructor?.name}: ${res.error?.message}`, call.args);
  if (res.notPromise) fail('asyncNotPromise', i, spec, label, describe(res.value), call.args);
  if ('error' in res) {
    const j = judgeError(res.error, spec);
    counts.byClass[j.kind] = (counts.byClass[j.kind] ?? 0) + 1;
    if (verbose) console.log(`  -> ${res.error?.constructor?.name}: ${res.error?.message}`);
    if (!j.ok) { fail(j.kind, i, spec, label, j.detail, call.args); return; }
    if (mode === 'valid' || mode === 'asyncGc' || (mode === 'benign' && !(label.includes('shared@') && j.kind === 'TypeError'))) {
      fail('validRejected', i, spec, label, `${res.error?.constructor?.name}: ${res.error?.message}`, call.args);
      return;
    }
    if (j.kind === 'getter') counts.getterErrors += 1; else if (j.kind === 'oom') counts.oomErrors += 1; else counts.rejected += 1;
    countSpec(spec.name, 'rejected');
    return;
  }
  if (verbose) console.log(`  -> ok: ${describe(res.value)}`);
  const bad = badResult(spec, res.value);
  if (bad) { fail('badResult', i, spec, label, bad, call.args); return; }
  const big = resultViews(res.value).find((v) => !(v instanceof DataView) && ta.byteLength(v) >= BIG);
  if (big) {
    // Not a failure by itself (the call asked for it and the memory was there), but reported:
    // an output sized from a small input's numbers alone.
    counts.bigAllocations += 1;
    console.log(`WARN ${JSON.stringify({ kind: 'bigAllocation', seed, index: i, spec: spec.name, label, replay: replayCommand(i),
      detail: `a ${describe(big)} result (${(ta.byteLength(big) / 2 ** 30).toFixed(2)} GiB)`, args: call.args.map((a) => describe(a)).join(', ').slice(0, 600) })}`);
  }
  if (baseline !== null && (mode === 'benign' || mode === 'asyncGc' || abuseCompare)) {
    const got = fingerprint(res.value, abuseCompare ? null : call.args);
    const kind = mode === 'asyncGc' ? 'asyncDiffers' : mode === 'benign' ? 'benignDiffers' : 'asyncAbuseDiffers';
    if (got !== baseline) { fail(kind, i, spec, label, 'result bits differ from the plain sync call', call.args); return; }
  }
  if (mode === 'mutate' && /alias@|overlap@/.test(label) && call.args && overlapping(spec, call.args, call.nArgs)) {
    fail('overlapAccepted', i, spec, label, 'an output sharing memory with an input was accepted', call.args);
    return;
  }
  counts.ok += 1;
  countSpec(spec.name, 'ok');
}

process.on('unhandledRejection', (e) => {
  console.log(`FAIL ${JSON.stringify({ kind: 'unhandledRejection', seed, detail: String(e?.stack ?? e).slice(0, 400) })}`);
  counts.failures += 1;
});

// FUZZ_SELFTEST=crash@I | hang@I | unsettled@I: call I crashes the process, spins forever or
// leaves a promise that never settles (the runner's own test that it sees each of them).
const [selfKind, selfAt] = (process.env.FUZZ_SELFTEST ?? '').split('@');
async function selftest(i) {
  if (selfKind === undefined || Number(selfAt) !== i) return;
  progress(i, `selftest ${selfKind}`);
  if (selfKind === 'crash') process.kill(process.pid, 'SIGSEGV');
  if (selfKind === 'hang') for (;;);
  if (selfKind === 'unsettled') await new Promise(() => {});
}

for (let i = start; i < end; ++i) {
  await selftest(i);
  try {
    await runOne(i);
  } catch (e) {
    // The fuzz's own code threw (or a getter's error escaped where no call was running).
    console.log(`FAIL ${JSON.stringify({ kind: 'harnessError', seed, index: i, detail: String(e?.stack ?? e).slice(0, 600) })}`);
    counts.failures += 1;
    if (!counted) counts.calls += 1;
  }
}
if (progressFd !== null) progress(end, 'done');
console.log(`SUMMARY ${JSON.stringify(counts)}`);
