// Fuzz of the four attention entry points, run as its own process by attention.errors.test.ts so a
// native crash (segfault, abort) is seen as a failed exit instead of killing the test runner.
//   node --expose-gc test/fuzz/attention-fuzz.mjs <seed> <iterations>
// Each iteration builds a random valid call (small sizes), then usually breaks 1-3 of its parts
// with garbage: wrong types, sizes, nested objects, huge/negative/NaN numbers, null, undefined,
// strings, symbols, bigints, detached or shared buffers. Every call must return a well-formed
// result or throw (reject with) a TypeError or RangeError. Valid async calls also drop every other
// reference to their arrays and force GCs while running, and must give the sync result's bits.
// Exit 0 and print "fuzz ok: N iterations" on success; exit 1 with the offending call otherwise.
import { kernels } from '../../dist/index.js';

const seed = Number(process.argv[2] ?? 1);
const iterations = Number(process.argv[3] ?? 1000);

// mulberry32, as in helpers/random.ts (this file runs without a TypeScript loader).
let state = seed >>> 0;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rand() * a.length)];
const chance = (p) => rand() < p;

const f32 = (n, fill = () => rand() * 2 - 1) => Float32Array.from({ length: n }, fill);

const NUMBERS = [NaN, Infinity, -Infinity, -1, 0, -0, 1, 2, 1.5, 0.999999999, 2 ** 31, 2 ** 31 - 1, 2 ** 32 + 1,
  2 ** 53, -(2 ** 53), 2 ** 64, 1e308, -1e308, 5e-324, 3.4e38];
const TYPED = [Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Uint8ClampedArray,
  Int16Array, Uint16Array, BigInt64Array];

function detachedFloat32() {
  const buf = new ArrayBuffer(64);
  const view = new Float32Array(buf);
  structuredClone(buf, { transfer: [buf] });  // detaches buf: view now has length 0
  return view;
}

/** A random value of a random kind; `near` (a length) makes typed arrays of about that size. */
function garbage(depth = 0, near = 8) {
  switch (int(0, 17)) {
    case 0: return undefined;
    case 1: return null;
    case 2: return pick(NUMBERS);
    case 3: return int(-10, 100);
    case 4: return pick(['', 'abc', '3', '1e3', 'NaN', 'Float32Array']);
    case 5: return chance(0.5);
    case 6: return pick([0n, 1n, -1n, 2n ** 64n, 2n ** 63n, 2n ** 70n]);
    case 7: return Symbol('garbage');
    case 8: {  // typed array of a random type and a length near the expected one
      const T = pick(TYPED);
      const n = Math.max(0, near + int(-2, 2));
      return T === BigInt64Array ? new T(n) : new T(n).map(() => (T === Float32Array ? pick([...NUMBERS, 0.5]) : int(-3, 3)));
    }
    case 9: return f32(Math.max(0, near + pick([-1, 0, 0, 1])), () => pick([0, 1, NaN, Infinity, -Infinity, -1, 0.25]));
    case 10: return detachedFloat32();
    // Typed arrays on a SharedArrayBuffer are left out here: they have their own test in
    // attention.errors.test.ts (they currently give a plain Error, which would mask all else).
    case 11: return f32(near).subarray(1);
    case 12: return f32(near + 3).subarray(int(0, 3), int(0, 3) + near);
    case 13: return Array.from({ length: near }, () => (chance(0.8) ? 0 : garbage(depth + 1)));
    case 14: return depth > 2 ? {} : Object.fromEntries(Array.from({ length: int(0, 4) },
      () => [pick(['data', 'batch', 'heads', 'out', 'lse', 'dq', 'x', 'causal', '__proto__']), garbage(depth + 1, near)]));
    case 15: return pick([() => 1, new Date(0), new ArrayBuffer(16), new DataView(new ArrayBuffer(16)), new Map(), /re/]);
    case 16: return { valueOf: () => 3, toString: () => '3' };
    default: return pick([{}, [], new Float32Array(0)]);
  }
}

/** A valid call of small random size with a random subset of the options. */
function validCall(backward) {
  const G = int(1, 3), Hkv = int(1, 2), H = G * Hkv, B = int(1, 3), Tq = int(1, 6), Tk = int(1, 6), D = int(1, 9);
  const shape = { batch: B, heads: H, kvHeads: Hkv, qLen: Tq, kvLen: Tk, headDim: D };
  const nq = B * Tq * H * D, nkv = B * Tk * Hkv * D, nl = B * H * Tq, nm = Tq * Tk;
  const opts = {};
  if (chance(0.3)) opts.causal = chance(0.5);
  if (chance(0.3)) opts.keyLengths = Int32Array.from({ length: B }, () => int(0, Tk));
  if (chance(0.3)) opts.queryLengths = Int32Array.from({ length: B }, () => int(0, Tq));
  if (chance(0.3)) opts.keyMask = Uint8Array.from({ length: B * Tk }, () => int(0, 1));
  if (chance(0.3)) {
    const nb = pick([1, B]), nh = pick([1, H]);
    opts.mask = { data: Uint8Array.from({ length: nb * nh * nm }, () => int(0, 1)), batch: nb, heads: nh };
  }
  if (chance(0.3)) {
    const nb = pick([1, B]), nh = pick([1, H]);
    opts.bias = { data: f32(nb * nh * nm, () => (chance(0.1) ? -Infinity : rand() * 4 - 2)), batch: nb, heads: nh };
  }
  if (chance(0.2)) opts.scale = rand() * 2;
  if (chance(0.2)) { opts.dropout = pick([0, 0.1, 0.5, 0.9]); opts.seed = chance(0.5) ? int(0, 1e6) : BigInt(int(0, 1e6)); }
  if (chance(0.2)) {
    opts.into = backward ? { dq: f32(nq), dk: f32(nkv), dv: f32(nkv) } : { out: f32(nq), lse: f32(nl) };
    if (chance(0.3)) delete opts.into[pick(Object.keys(opts.into))];
  }
  const args = backward
    ? [f32(nq), f32(nkv), f32(nkv), f32(nq), f32(nl, () => rand() * 3), f32(nq), shape, opts]
    : [f32(nq), f32(nkv), f32(nkv), shape, opts];
  return { args, sizes: { nq, nkv, nl, nm, B, H, Tk } };
}

/** Breaks one part of the call: a whole argument, a shape field, an option, a sub-field. */
function mutate(call, backward) {
  const { args, sizes } = call;
  const shapeAt = backward ? 6 : 3, optsAt = shapeAt + 1;
  const near = pick([sizes.nq, sizes.nkv, sizes.nl, sizes.B, sizes.nm, sizes.B * sizes.Tk]);
  const value = garbage(0, near);
  const where = int(0, 5);
  if (where === 0) {
    args[int(0, args.length - 1)] = value;
  } else if (where === 1 && isPlainObject(args[shapeAt])) {
    const f = pick(['batch', 'heads', 'kvHeads', 'qLen', 'kvLen', 'headDim']);
    if (chance(0.2)) delete args[shapeAt][f]; else args[shapeAt][f] = value;
  } else if (where <= 3 && isPlainObject(args[optsAt])) {
    const f = pick(['causal', 'keyLengths', 'keyMask', 'queryLengths', 'mask', 'bias', 'scale', 'dropout', 'seed', 'into',
      'casual', 'Scale']);
    args[optsAt][f] = value;
  } else if (where === 4 && isPlainObject(args[optsAt])) {
    const o = args[optsAt];
    const sub = pick(['mask', 'bias', 'into']);
    if (!isPlainObject(o[sub])) o[sub] = {};
    o[sub][pick(['data', 'batch', 'heads', 'out', 'lse', 'dq', 'dk', 'dv'])] = value;
  } else if (where === 5) {
    args.length = int(0, args.length);  // too few arguments
  }
}

function isPlainObject(x) {
  return typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && !Array.isArray(x);
}

function describe(x, depth = 0) {
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'symbol') return 'Symbol()';
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  if (typeof x === 'function') return 'function';
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${x.length ?? x.byteLength})`;
  if (Array.isArray(x)) return `Array(${x.length})`;
  if (x && typeof x === 'object' && depth < 3) {
    return `{ ${Object.entries(x).map(([k, v]) => `${k}: ${describe(v, depth + 1)}`).join(', ')} }`;
  }
  return String(x);
}

function fail(msg, args) {
  console.log(`fuzz FAILED at seed ${seed}: ${msg}`);
  if (args) console.log('arguments:', args.map((a) => describe(a)).join(', '));
  process.exit(1);
}

/** A returned result must be an object of Float32Arrays with the output names. */
function checkResult(r, backward, args) {
  const names = backward ? ['dq', 'dk', 'dv'] : ['out', 'lse'];
  if (typeof r !== 'object' || r === null) fail(`returned ${describe(r)}`, args);
  for (const n of names) if (!(r[n] instanceof Float32Array)) fail(`result.${n} is ${describe(r[n])}`, args);
}

function checkError(e, args) {
  if (!(e instanceof TypeError) && !(e instanceof RangeError)) {
    fail(`threw ${e?.constructor?.name ?? typeof e}: ${e?.message ?? String(e)}`, args);
  }
}

/** A valid async call whose arrays nothing else references, with GCs while it runs, vs sync bits. */
async function asyncUnderGc(backward) {
  const { args } = validCall(backward);
  const name = backward ? 'attentionBackward' : 'attentionForward';
  const copy = () => args.map((a) => (a instanceof Float32Array ? a.slice() : a));
  const sync = kernels[name](...copy());
  const pending = kernels[`${name}Async`](...copy());  // its arrays are referenced only by the call
  for (let g = 0; g < 3; ++g) globalThis.gc();
  const got = await pending;
  for (const n of Object.keys(sync)) {
    const a = new Uint32Array(sync[n].buffer), b = new Uint32Array(got[n].buffer);
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) fail(`async ${n} differs from sync under GC`, args);
  }
}

let valid = 0, rejected = 0;
for (let it = 0; it < iterations; ++it) {
  const backward = chance(0.5), async_ = chance(0.3);
  if (async_ && typeof globalThis.gc === 'function' && chance(0.03)) {
    await asyncUnderGc(backward);
    continue;
  }
  const call = validCall(backward);
  if (!chance(0.1)) for (let m = int(1, 3); m > 0; --m) mutate(call, backward);
  const fn = kernels[(backward ? 'attentionBackward' : 'attentionForward') + (async_ ? 'Async' : '')];
  try {
    const r = fn(...call.args);
    if (async_) {
      if (!(r instanceof Promise)) fail(`async form returned ${describe(r)}`, call.args);
      checkResult(await r, backward, call.args);
    } else {
      checkResult(r, backward, call.args);
    }
    valid += 1;
  } catch (e) {
    checkError(e, call.args);
    rejected += 1;
  }
}
console.log(`fuzz ok: ${iterations} iterations (${valid} valid results, ${rejected} TypeError/RangeError)`);
