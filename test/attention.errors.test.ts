// Argument checking (DESIGN.md: a TypeError or RangeError naming the argument; never a crash, never
// a silent wrong answer). Each argument is made wrong in turn on an otherwise valid call, for all
// four entry points. The random-garbage fuzz is the kernel fuzz (test/fuzz/) on these four, whose
// batches run in child processes, so a native crash fails this test with its output instead of
// killing the runner.
import { describe, expect, it } from 'vitest';
import { expectCleanRun, runFuzz } from './helpers/fuzz.js';
import { kernels } from '../dist/index.js';
import { Rng, randn } from './helpers/random.js';

// B=2, H=4, Hkv=2, Tq=3, Tk=5, D=4.
const S = { batch: 2, heads: 4, kvHeads: 2, qLen: 3, kvLen: 5, headDim: 4 };
const NQ = 2 * 3 * 4 * 4, NKV = 2 * 5 * 2 * 4, NL = 2 * 4 * 3, NMASK = 2 * 4 * 3 * 5;

/** Every argument of either entry point; forward uses q, k, v, shape, opts. */
interface Call {
  q: unknown; k: unknown; v: unknown; out: unknown; lse: unknown; dout: unknown;
  shape: Record<string, unknown>;
  opts: Record<string, unknown>;
}

function validCall(): Call {
  const rng = new Rng(5);
  return {
    q: randn(rng, NQ), k: randn(rng, NKV), v: randn(rng, NKV),
    out: randn(rng, NQ), lse: randn(rng, NL), dout: randn(rng, NQ),
    shape: { ...S },
    opts: {},
  };
}

type Entry = 'attentionForward' | 'attentionBackward' | 'attentionForwardAsync' | 'attentionBackwardAsync';
const ENTRIES: Entry[] = ['attentionForward', 'attentionBackward', 'attentionForwardAsync', 'attentionBackwardAsync'];
const isBackward = (e: Entry) => e.startsWith('attentionBackward');

function invoke(entry: Entry, c: Call): unknown {
  const f = kernels[entry] as (...args: unknown[]) => unknown;
  return isBackward(entry) ? f(c.q, c.k, c.v, c.out, c.lse, c.dout, c.shape, c.opts) : f(c.q, c.k, c.v, c.shape, c.opts);
}

type ErrorType = typeof TypeError | typeof RangeError;
interface Bad {
  what: string;
  only?: 'forward' | 'backward';
  mutate: (c: Call) => void;
  error: ErrorType;
  /** What the message must contain: the argument's name. */
  names: RegExp;
}

const f32 = (n: number) => new Float32Array(n);
const withAt = <T extends Float32Array | Uint8Array | Int32Array>(a: T, at: number, x: number): T => { a[at] = x; return a; };
const bcast = (data: unknown, batch?: unknown, heads?: unknown) => ({ data, batch, heads });

const BAD: Bad[] = [
  // Inputs: length, type, non-finite values.
  { what: 'q too short', mutate: (c) => { c.q = f32(NQ - 1); }, error: RangeError, names: /\bq\b/ },
  { what: 'q too long', mutate: (c) => { c.q = f32(NQ + 4); }, error: RangeError, names: /\bq\b/ },
  { what: 'q a Float64Array', mutate: (c) => { c.q = new Float64Array(NQ); }, error: TypeError, names: /\bq\b/ },
  { what: 'q a plain array', mutate: (c) => { c.q = Array.from({ length: NQ }, () => 0); }, error: TypeError, names: /\bq\b/ },
  { what: 'q missing', mutate: (c) => { c.q = undefined; }, error: TypeError, names: /\bq\b/ },
  { what: 'q with a NaN', mutate: (c) => { c.q = withAt(f32(NQ), 7, NaN); }, error: RangeError, names: /\bq\[7\]/ },
  { what: 'k wrong length', mutate: (c) => { c.k = f32(NKV * 2); }, error: RangeError, names: /\bk\b/ },
  { what: 'k an Int32Array', mutate: (c) => { c.k = new Int32Array(NKV); }, error: TypeError, names: /\bk\b/ },
  { what: 'k with +Infinity', mutate: (c) => { c.k = withAt(f32(NKV), 0, Infinity); }, error: RangeError, names: /\bk\[0\]/ },
  { what: 'v wrong length', mutate: (c) => { c.v = f32(1); }, error: RangeError, names: /\bv\b/ },
  { what: 'v a plain array', mutate: (c) => { c.v = [1, 2, 3]; }, error: TypeError, names: /\bv\b/ },
  { what: 'v with -Infinity', mutate: (c) => { c.v = withAt(f32(NKV), 3, -Infinity); }, error: RangeError, names: /\bv\[3\]/ },
  { what: 'out wrong length', only: 'backward', mutate: (c) => { c.out = f32(NQ - 1); }, error: RangeError, names: /\bout\b/ },
  { what: 'out a Float64Array', only: 'backward', mutate: (c) => { c.out = new Float64Array(NQ); }, error: TypeError, names: /\bout\b/ },
  { what: 'out with a NaN', only: 'backward', mutate: (c) => { c.out = withAt(f32(NQ), 1, NaN); }, error: RangeError, names: /\bout\[1\]/ },
  { what: 'lse wrong length', only: 'backward', mutate: (c) => { c.lse = f32(NQ); }, error: RangeError, names: /\blse\b/ },
  { what: 'lse a plain array', only: 'backward', mutate: (c) => { c.lse = new Array(NL).fill(0); }, error: TypeError, names: /\blse\b/ },
  { what: 'lse with a NaN', only: 'backward', mutate: (c) => { c.lse = withAt(f32(NL), 2, NaN); }, error: RangeError, names: /\blse\[2\]/ },
  { what: 'lse with +Infinity', only: 'backward', mutate: (c) => { c.lse = withAt(f32(NL), 2, Infinity); }, error: RangeError, names: /\blse\[2\]/ },
  { what: 'dout wrong length', only: 'backward', mutate: (c) => { c.dout = f32(NQ + 1); }, error: RangeError, names: /\bdout\b/ },
  { what: 'dout a Uint8Array', only: 'backward', mutate: (c) => { c.dout = new Uint8Array(NQ); }, error: TypeError, names: /\bdout\b/ },
  { what: 'dout with a NaN', only: 'backward', mutate: (c) => { c.dout = withAt(f32(NQ), 5, NaN); }, error: RangeError, names: /\bdout\[5\]/ },

  // Shape.
  { what: 'shape missing', mutate: (c) => { c.shape = undefined as never; }, error: TypeError, names: /\bshape\b/ },
  { what: 'shape an array', mutate: (c) => { c.shape = [2, 4, 2, 3, 5, 4] as never; }, error: TypeError, names: /\bshape\b/ },
  ...(['batch', 'heads', 'qLen', 'kvLen', 'headDim'] as const).flatMap((f): Bad[] => [
    { what: `shape.${f} missing`, mutate: (c) => { delete c.shape[f]; }, error: TypeError, names: new RegExp(`shape\\.${f}`) },
    { what: `shape.${f} non-integer`, mutate: (c) => { c.shape[f] = 1.5; }, error: TypeError, names: new RegExp(`shape\\.${f}`) },
    { what: `shape.${f} a string`, mutate: (c) => { c.shape[f] = '2'; }, error: TypeError, names: new RegExp(`shape\\.${f}`) },
    { what: `shape.${f} zero`, mutate: (c) => { c.shape[f] = 0; }, error: RangeError, names: new RegExp(`shape\\.${f}`) },
    { what: `shape.${f} negative`, mutate: (c) => { c.shape[f] = -2; }, error: RangeError, names: new RegExp(`shape\\.${f}`) },
    { what: `shape.${f} NaN`, mutate: (c) => { c.shape[f] = NaN; }, error: TypeError, names: new RegExp(`shape\\.${f}`) },
  ]),
  { what: 'shape.kvHeads does not divide heads', mutate: (c) => { c.shape.kvHeads = 3; }, error: RangeError, names: /shape\.kvHeads/ },
  { what: 'shape.kvHeads above heads', mutate: (c) => { c.shape.kvHeads = 8; }, error: RangeError, names: /shape\.kvHeads/ },
  { what: 'shape.kvHeads zero', mutate: (c) => { c.shape.kvHeads = 0; }, error: RangeError, names: /shape\.kvHeads/ },
  { what: 'shape.kvHeads non-integer', mutate: (c) => { c.shape.kvHeads = 1.5; }, error: TypeError, names: /shape\.kvHeads/ },
  { what: 'shape.headDim huge', mutate: (c) => { c.shape.headDim = 2 ** 40; }, error: RangeError, names: /shape\.headDim/ },
  // Row strides (q: width heads*headDim = 16; k, v: kvHeads*headDim = 8).
  { what: 'shape.qStride below a row', mutate: (c) => { c.shape.qStride = 15; }, error: RangeError, names: /shape\.qStride/ },
  { what: 'shape.kStride non-integer', mutate: (c) => { c.shape.kStride = 8.5; }, error: TypeError, names: /shape\.kStride/ },
  { what: 'shape.vStride a string', mutate: (c) => { c.shape.vStride = '16'; }, error: TypeError, names: /shape\.vStride/ },
  { what: 'q too short for shape.qStride', mutate: (c) => { c.shape.qStride = 20; c.q = f32(5 * 20 + 15); }, error: RangeError, names: /\bq\b.*at least 116/ },
  { what: 'k too short for shape.kStride', mutate: (c) => { c.shape.kStride = 16; c.k = f32(9 * 16 + 7); }, error: RangeError, names: /\bk\b.*at least 152/ },
  { what: 'q with a NaN in a strided row', mutate: (c) => { c.shape.qStride = 20; c.q = withAt(f32(5 * 20 + 16), 41, NaN); }, error: RangeError, names: /\bq\[41\]/ },
  { what: 'into.dk and into.dv sharing columns of one strided buffer', only: 'backward',
    mutate: (c) => {
      const kv = f32(10 * 16); c.shape.kStride = 16; c.shape.vStride = 16;
      c.k = kv.subarray(0); c.v = kv.subarray(8);
      const g = f32(10 * 16); c.opts.into = { dk: g.subarray(0), dv: g.subarray(7) };
    },
    error: RangeError, names: /opts\.into\.dv.*overlap.*opts\.into\.dk/ },
  { what: 'into.dq too short for shape.qStride', only: 'backward',
    mutate: (c) => { c.shape.qStride = 20; c.q = f32(6 * 20); c.opts.into = { dq: f32(5 * 20 + 15) }; }, error: RangeError, names: /opts\.into\.dq.*at least 116/ },
  { what: 'shape too large overall', mutate: (c) => { Object.assign(c.shape, { batch: 2 ** 30, qLen: 2 ** 30 }); }, error: RangeError, names: /shape/ },

  // Options.
  { what: 'opts a number', mutate: (c) => { c.opts = 5 as never; }, error: TypeError, names: /\bopts\b/ },
  { what: "misspelled option 'casual'", mutate: (c) => { c.opts.casual = true; }, error: TypeError, names: /opts\.casual/ },
  { what: 'causal a string', mutate: (c) => { c.opts.causal = 'yes'; }, error: TypeError, names: /opts\.causal/ },
  { what: 'keyLengths a Uint32Array', mutate: (c) => { c.opts.keyLengths = new Uint32Array(2); }, error: TypeError, names: /opts\.keyLengths/ },
  { what: 'keyLengths a plain array', mutate: (c) => { c.opts.keyLengths = [5, 5]; }, error: TypeError, names: /opts\.keyLengths/ },
  { what: 'keyLengths wrong length', mutate: (c) => { c.opts.keyLengths = Int32Array.from([5, 5, 5]); }, error: RangeError, names: /opts\.keyLengths/ },
  { what: 'keyLengths -1', mutate: (c) => { c.opts.keyLengths = Int32Array.from([5, -1]); }, error: RangeError, names: /opts\.keyLengths\[1\]/ },
  { what: 'keyLengths Tk+1', mutate: (c) => { c.opts.keyLengths = Int32Array.from([6, 5]); }, error: RangeError, names: /opts\.keyLengths\[0\]/ },
  { what: 'queryLengths a Float32Array', mutate: (c) => { c.opts.queryLengths = f32(2); }, error: TypeError, names: /opts\.queryLengths/ },
  { what: 'queryLengths wrong length', mutate: (c) => { c.opts.queryLengths = Int32Array.from([3]); }, error: RangeError, names: /opts\.queryLengths/ },
  { what: 'queryLengths -1', mutate: (c) => { c.opts.queryLengths = Int32Array.from([-1, 3]); }, error: RangeError, names: /opts\.queryLengths\[0\]/ },
  { what: 'queryLengths Tq+1', mutate: (c) => { c.opts.queryLengths = Int32Array.from([3, 4]); }, error: RangeError, names: /opts\.queryLengths\[1\]/ },
  { what: 'keyMask an Int8Array', mutate: (c) => { c.opts.keyMask = new Int8Array(10); }, error: TypeError, names: /opts\.keyMask/ },
  { what: 'keyMask wrong length', mutate: (c) => { c.opts.keyMask = new Uint8Array(5); }, error: RangeError, names: /opts\.keyMask/ },
  { what: 'keyMask value 2', mutate: (c) => { c.opts.keyMask = withAt(new Uint8Array(10).fill(1), 4, 2); }, error: RangeError, names: /opts\.keyMask\[4\]/ },
  { what: 'mask not an object', mutate: (c) => { c.opts.mask = new Uint8Array(NMASK); }, error: TypeError, names: /opts\.mask/ },
  { what: 'mask.batch 3 when B=2', mutate: (c) => { c.opts.mask = bcast(new Uint8Array(3 * 15), 3, 1); }, error: RangeError, names: /opts\.mask\.batch/ },
  { what: 'mask.heads 2 when H=4', mutate: (c) => { c.opts.mask = bcast(new Uint8Array(2 * 15), 1, 2); }, error: RangeError, names: /opts\.mask\.heads/ },
  { what: 'mask.batch non-integer', mutate: (c) => { c.opts.mask = bcast(new Uint8Array(15), 1.5, 1); }, error: TypeError, names: /opts\.mask\.batch/ },
  { what: 'mask.data wrong length', mutate: (c) => { c.opts.mask = bcast(new Uint8Array(14)); }, error: RangeError, names: /opts\.mask\.data/ },
  { what: 'mask.data length of another broadcast', mutate: (c) => { c.opts.mask = bcast(new Uint8Array(NMASK), 1, 4); }, error: RangeError, names: /opts\.mask\.data/ },
  { what: 'mask.data a Float32Array', mutate: (c) => { c.opts.mask = bcast(f32(15)); }, error: TypeError, names: /opts\.mask\.data/ },
  { what: 'mask.data missing', mutate: (c) => { c.opts.mask = { batch: 1, heads: 1 }; }, error: TypeError, names: /opts\.mask\.data/ },
  { what: 'mask.data value 2', mutate: (c) => { c.opts.mask = bcast(withAt(new Uint8Array(15), 9, 2)); }, error: RangeError, names: /opts\.mask\.data\[9\]/ },
  { what: 'bias.batch 3 when B=2', mutate: (c) => { c.opts.bias = bcast(f32(3 * 15), 3, 1); }, error: RangeError, names: /opts\.bias\.batch/ },
  { what: 'bias.heads 5 when H=4', mutate: (c) => { c.opts.bias = bcast(f32(5 * 15), 1, 5); }, error: RangeError, names: /opts\.bias\.heads/ },
  { what: 'bias.data wrong length', mutate: (c) => { c.opts.bias = bcast(f32(16), 1, 1); }, error: RangeError, names: /opts\.bias\.data/ },
  { what: 'bias.data a Float64Array', mutate: (c) => { c.opts.bias = bcast(new Float64Array(15)); }, error: TypeError, names: /opts\.bias\.data/ },
  { what: 'bias.data a plain array', mutate: (c) => { c.opts.bias = bcast(new Array(15).fill(0)); }, error: TypeError, names: /opts\.bias\.data/ },
  { what: 'bias with a NaN', mutate: (c) => { c.opts.bias = bcast(withAt(f32(15), 11, NaN)); }, error: RangeError, names: /opts\.bias\.data\[11\]/ },
  { what: 'bias with +Infinity', mutate: (c) => { c.opts.bias = bcast(withAt(f32(15), 12, Infinity)); }, error: RangeError, names: /opts\.bias\.data\[12\]/ },
  { what: 'scale NaN', mutate: (c) => { c.opts.scale = NaN; }, error: RangeError, names: /opts\.scale/ },
  { what: 'scale negative', mutate: (c) => { c.opts.scale = -0.5; }, error: RangeError, names: /opts\.scale/ },
  { what: 'scale Infinity', mutate: (c) => { c.opts.scale = Infinity; }, error: RangeError, names: /opts\.scale/ },
  { what: 'scale a string', mutate: (c) => { c.opts.scale = '0.5'; }, error: TypeError, names: /opts\.scale/ },
  { what: 'dropout -0.1', mutate: (c) => { c.opts.dropout = -0.1; }, error: RangeError, names: /opts\.dropout/ },
  { what: 'dropout 1', mutate: (c) => { c.opts.dropout = 1; }, error: RangeError, names: /opts\.dropout/ },
  { what: 'dropout NaN', mutate: (c) => { c.opts.dropout = NaN; }, error: RangeError, names: /opts\.dropout/ },
  { what: 'dropout a boolean', mutate: (c) => { c.opts.dropout = true; }, error: TypeError, names: /opts\.dropout/ },
  { what: 'seed -1', mutate: (c) => { c.opts.seed = -1; }, error: RangeError, names: /opts\.seed/ },
  { what: 'seed 1.5', mutate: (c) => { c.opts.seed = 1.5; }, error: RangeError, names: /opts\.seed/ },
  { what: 'seed above 2^53', mutate: (c) => { c.opts.seed = 2 ** 60; }, error: RangeError, names: /opts\.seed/ },
  { what: 'seed -1n', mutate: (c) => { c.opts.seed = -1n; }, error: RangeError, names: /opts\.seed/ },
  { what: 'seed 2n ** 64n', mutate: (c) => { c.opts.seed = 2n ** 64n; }, error: RangeError, names: /opts\.seed/ },
  { what: 'seed a string', mutate: (c) => { c.opts.seed = '7'; }, error: TypeError, names: /opts\.seed/ },

  // Preallocated outputs.
  { what: 'into a number', mutate: (c) => { c.opts.into = 3; }, error: TypeError, names: /opts\.into/ },
  { what: 'into.out wrong length', only: 'forward', mutate: (c) => { c.opts.into = { out: f32(NQ - 1) }; }, error: RangeError, names: /opts\.into\.out/ },
  { what: 'into.out a Float64Array', only: 'forward', mutate: (c) => { c.opts.into = { out: new Float64Array(NQ) }; }, error: TypeError, names: /opts\.into\.out/ },
  { what: 'into.lse wrong length', only: 'forward', mutate: (c) => { c.opts.into = { lse: f32(NL + 1) }; }, error: RangeError, names: /opts\.into\.lse/ },
  { what: 'into.out is q', only: 'forward', mutate: (c) => { c.opts.into = { out: c.q }; }, error: RangeError, names: /opts\.into\.out.*overlap.*\bq\b/ },
  { what: 'into.lse a view inside k', only: 'forward',
    mutate: (c) => { const k = c.k as Float32Array; c.opts.into = { lse: new Float32Array(k.buffer, 8, NL) }; },
    error: RangeError, names: /opts\.into\.lse.*overlap.*\bk\b/ },
  { what: 'into.out and into.lse overlapping each other', only: 'forward',
    mutate: (c) => { const buf = f32(NQ + NL); c.opts.into = { out: buf.subarray(0, NQ), lse: buf.subarray(NQ - 1, NQ - 1 + NL) }; },
    error: RangeError, names: /opts\.into\.lse.*overlap.*opts\.into\.out/ },
  { what: 'into.dq wrong length', only: 'backward', mutate: (c) => { c.opts.into = { dq: f32(NKV) }; }, error: RangeError, names: /opts\.into\.dq/ },
  { what: 'into.dk a Float64Array', only: 'backward', mutate: (c) => { c.opts.into = { dk: new Float64Array(NKV) }; }, error: TypeError, names: /opts\.into\.dk/ },
  { what: 'into.dv wrong length', only: 'backward', mutate: (c) => { c.opts.into = { dv: f32(NKV - 1) }; }, error: RangeError, names: /opts\.into\.dv/ },
  { what: 'into.dq is dout', only: 'backward', mutate: (c) => { c.opts.into = { dq: c.dout }; }, error: RangeError, names: /opts\.into\.dq.*overlap.*\bdout\b/ },
  { what: 'into.dv is v', only: 'backward', mutate: (c) => { c.opts.into = { dv: c.v }; }, error: RangeError, names: /opts\.into\.dv.*overlap.*\bv\b/ },
  { what: 'into.dk is into.dv', only: 'backward', mutate: (c) => { const d = f32(NKV); c.opts.into = { dk: d, dv: d }; }, error: RangeError, names: /opts\.into\.dv.*overlap/ },
];

async function expectError(entry: Entry, c: Call, bad: Bad): Promise<void> {
  let caught: unknown;
  if (entry.endsWith('Async')) {
    let p: unknown;
    try {
      p = invoke(entry, c);
    } catch (e) {
      expect.fail(`${entry}: threw synchronously (${String(e)}) instead of returning a rejected promise`);
    }
    expect(p, `${entry} returns a promise`).toBeInstanceOf(Promise);
    caught = await (p as Promise<unknown>).then(() => undefined, (e: unknown) => e);
  } else {
    try {
      invoke(entry, c);
    } catch (e) {
      caught = e;
    }
  }
  expect(caught, `${entry} with ${bad.what} must fail`).toBeDefined();
  expect(caught, `${entry} with ${bad.what}: ${String(caught)}`).toBeInstanceOf(bad.error);
  expect((caught as Error).message, `${entry} with ${bad.what}`).toMatch(bad.names);
  expect((caught as Error).message, 'the message starts with the function name').toMatch(new RegExp(`^${entry}: `));
}

describe('argument errors', () => {
  it('the valid baseline call succeeds on every entry point', async () => {
    for (const entry of ENTRIES) {
      const r = await invoke(entry, validCall());
      expect(r).toBeTypeOf('object');
    }
  });

  for (const bad of BAD) {
    it(bad.what, async () => {
      for (const entry of ENTRIES) {
        if (bad.only === 'forward' && isBackward(entry)) continue;
        if (bad.only === 'backward' && !isBackward(entry)) continue;
        const c = validCall();
        bad.mutate(c);
        await expectError(entry, c, bad);
      }
    });
  }

  it('-Infinity in bias and lse is accepted', async () => {
    for (const entry of ENTRIES) {
      const c = validCall();
      c.opts.bias = bcast(withAt(f32(15), 3, -Infinity));
      c.lse = withAt(f32(NL), 0, -Infinity);
      const r = (await invoke(entry, c)) as Record<string, Float32Array>;
      for (const a of Object.values(r)) for (const x of a) expect(Number.isNaN(x)).toBe(false);
    }
  });

  // A Float32Array whose buffer is a SharedArrayBuffer is a Float32Array: it must either work like
  // any other or be refused with a TypeError naming the argument, never a bare Error.
  it('a Float32Array on a SharedArrayBuffer works like any other, or is a TypeError naming it', async () => {
    const shared = (a: Float32Array) => {
      const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
      s.set(a);
      return s;
    };
    const problems: string[] = [];
    for (const entry of ENTRIES) {
      const args = isBackward(entry) ? ['q', 'k', 'v', 'out', 'lse', 'dout'] as const : ['q', 'k', 'v'] as const;
      const plain = (await invoke(entry, validCall())) as Record<string, Float32Array>;
      for (const arg of [...args, 'into'] as const) {
        const c = validCall();
        if (arg === 'into') {
          const out = isBackward(entry) ? 'dq' : 'out';
          c.opts.into = { [out]: shared(new Float32Array(NQ)) };
        } else {
          c[arg] = shared(c[arg] as Float32Array);
        }
        const name = arg === 'into' ? 'opts.into' : arg;
        try {
          const r = (await invoke(entry, c)) as Record<string, Float32Array>;
          for (const [n, a] of Object.entries(r))
            if (Array.from(a).some((x, i) => !Object.is(x, plain[n][i]))) problems.push(`${entry}, shared ${name}: ${n} differs`);
        } catch (e) {
          const ok = e instanceof TypeError && (e as Error).message.includes(name);
          if (!ok) problems.push(`${entry}, shared ${name}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('a failed call leaves no trace: the next valid call gives the same bits as before', () => {
    const c = validCall();
    const before = kernels.attentionForward(c.q as Float32Array, c.k as Float32Array, c.v as Float32Array, S);
    expect(() => kernels.attentionForward(c.q as Float32Array, c.k as Float32Array, c.v as Float32Array, S, { scale: NaN })).toThrow(RangeError);
    const after = kernels.attentionForward(c.q as Float32Array, c.k as Float32Array, c.v as Float32Array, S);
    expect(Array.from(after.out)).toEqual(Array.from(before.out));
  });
});

describe('fuzz: random garbage never crashes the process', () => {
  it('runs the kernel fuzz on the four entry points in child processes (2 threads)', async () => {
    const t = await runFuzz({
      calls: 5000, seed: 20240611, batch: 2500, jobs: 2, threads: 2, memKb: 2_000_000, hangMs: 60_000, quiet: true,
      only: 'attentionForward,attentionForwardAsync,attentionBackward,attentionBackwardAsync',
    });
    const report = expectCleanRun(t, 5000);
    expect(t.ok, report).toBeGreaterThan(500);
  }, 180_000);
});
