// Issue #19, kernel side: inputs a hostile or careless caller can give that once crashed the
// process or gave a silent wrong answer. Each case must end in a result or a TypeError/RangeError
// naming the argument. (test/fuzz/ tries the same families at random over every kernel.)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { native } from '../dist/native.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Detaches a's buffer (as postMessage with a transfer list does); the copy is dropped at once. */
function transferAway(a: ArrayBufferView): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}
const rand = (n: number, seed = 1): Float32Array => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
};
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('outputs sized from tiny inputs: a RangeError naming the output and the bytes, before V8 allocates', () => {
  const huge: [string, () => unknown, RegExp][] = [
    ['positionEncoding(1e6, 1e5)', () => kernels.positionEncoding(1e6, 1e5), /positionEncoding: output \(length\*dim\) would need .*400000000000 bytes/],
    ['gemm m=1e6 n=1e5 k=0', () => kernels.gemm(new Float32Array(0), new Float32Array(0), { m: 1e6, n: 1e5, k: 0 }), /gemm: output C \(m\*n\) would need/],
    ['embeddingBackward vocab 1e6 dim 1e5', () => kernels.embeddingBackward(new Int32Array(0), new Float32Array(0), { vocab: 1e6, dim: 1e5 }),
      /embeddingBackward: output \(shape\.vocab\*shape\.dim\) would need/],
    ['linearForward rows 1e6 out 1e5', () => kernels.linearForward(new Float32Array(0), new Float32Array(0), null, { rows: 1e6, inFeatures: 0, outFeatures: 1e5 }),
      /linearForward: output y \(rows\*outFeatures\) would need/],
    ['gemmBatched with a large strideC', () => kernels.gemmBatched(new Float32Array(0), new Float32Array(0), { batch: 3, m: 1, n: 1, k: 0, strideC: 2 ** 38 }),
      /gemmBatched: output C \(\(batch-1\)\*strideC \+ m\*n\) would need/],
  ];
  for (const [name, call, message] of huge) {
    it(name, () => {
      expect(call).toThrow(RangeError);
      expect(call).toThrow(message);
    });
  }

  it('the async forms reject the same way', async () => {
    await expect(kernels.gemmAsync(new Float32Array(0), new Float32Array(0), { m: 1e6, n: 1e5, k: 0 })).rejects.toThrow(/gemmAsync: output C/);
    await expect(kernels.linearForwardAsync(new Float32Array(0), new Float32Array(0), null, { rows: 1e6, inFeatures: 0, outFeatures: 1e5 }))
      .rejects.toThrow(/linearForwardAsync: output y/);
    await expect(kernels.attentionForwardAsync(new Float32Array(0), new Float32Array(0), new Float32Array(0),
      { batch: 2 ** 20, heads: 2 ** 12, qLen: 1, kvLen: 1, headDim: 1 })).rejects.toThrow(RangeError);
  });

  it('under an address-space limit: what cannot be allocated now is a RangeError, sync and async; length 0 builds nothing', () => {
    // The limit is what the process uses plus 1 GiB: the 4 GiB outputs below cannot be had.
    const script = `
      const { kernels: k } = await import(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const { execFileSync } = await import('node:child_process');
      const { readFileSync } = await import('node:fs');
      const vm = Number(/VmSize:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm + 2 ** 30)]);
      const out = [];
      const t = async (f) => { try { const r = await f(); out.push('ok ' + r.length); } catch (e) { out.push(e.constructor.name + ' ' + e.message); } };
      await t(() => k.positionEncoding(0, 2 ** 30));
      await t(() => k.positionEncoding(1, 2 ** 30));
      await t(() => k.gemm(new Float32Array(0), new Float32Array(0), { m: 2 ** 15, n: 2 ** 15, k: 0 }));
      await t(() => k.gemmAsync(new Float32Array(0), new Float32Array(0), { m: 2 ** 15, n: 2 ** 15, k: 0 }));
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    expect(lines[0]).toBe('ok 0');
    expect(lines[1]).toMatch(/^RangeError positionEncoding: output \(length\*dim\) would need 4294967296 bytes .* cannot be allocated now/);
    expect(lines[2]).toMatch(/^RangeError gemm: output C \(m\*n\) would need 4294967296 bytes/);
    expect(lines[3]).toMatch(/^RangeError gemmAsync: output C/);
  });

  it('a kernel whose own scratch cannot be allocated (std::bad_alloc) throws a RangeError, not an abort', () => {
    // into is given (no output allocated); then the address space is limited to what the process
    // uses plus 256 MiB, so the 1 GiB frequency table of dim / 2 doubles is what fails.
    const script = `
      const { kernels: k } = await import(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const { execFileSync } = await import('node:child_process');
      const { readFileSync } = await import('node:fs');
      const into = new Float32Array(2 ** 28).fill(1);
      const vm = Number(/VmSize:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm + 2 ** 28)]);
      try { k.positionEncoding(1, 2 ** 28, { into }); console.log('no error'); } catch (e) { console.log(e.constructor.name + ' ' + e.message); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('RangeError positionEncoding: out of memory');
  });
});

describe('getters cannot change what was validated: options are read once, before the addon checks them', () => {
  it('embeddingBackward: a getter on opts.into that sets an id out of the vocabulary', () => {
    const ids = new Int32Array([1, 2]);
    const opts = { get into() { ids[0] = 2 ** 31 - 1; return undefined; } };
    expect(() => kernels.embeddingBackward(ids, rand(8), { vocab: 4, dim: 4 }, opts)).toThrow(/ids\[0\] must be a token id/);
  });
  it('embeddingForward: the same through opts.scale', () => {
    const ids = new Int32Array([0, 1]);
    const opts = { get scale() { ids[1] = -5; return 1; } };
    expect(() => kernels.embeddingForward(ids, rand(8), { vocab: 2, dim: 4 }, opts)).toThrow(/ids\[1\] must be a token id/);
  });
  it('crossEntropy: the same for the targets', () => {
    const targets = new Int32Array([0, 1]);
    const opts = { get labelSmoothing() { targets[0] = 2 ** 31 - 1; return 0; } };
    expect(() => kernels.crossEntropy(rand(6), targets, 3, opts)).toThrow(/targets\[0\] must be a class/);
  });
  it('getters that transfer a buffer away and collect it: relu, gemm rowSumsA, adamStepMulti lists', () => {
    const x = rand(1 << 16);
    const y = kernels.relu(x, { get into() { transferAway(x); gc(); return undefined; } });
    expect(y.length).toBe(0);  // x was empty by the time the addon saw it

    // rowSumsA's buffer goes away while the options are read: the addon sees an empty array and
    // names it, instead of writing into freed memory.
    const sums = new Float32Array(3);
    expect(() => kernels.gemm(rand(12), rand(12), { m: 3, n: 3, k: 4, get alpha() { transferAway(sums); gc(); return 1; }, rowSumsA: sums }))
      .toThrow(/opts\.rowSumsA must have length 3/);

    const p = [rand(64), rand(64)], g = [rand(64), rand(64)], m = [new Float32Array(64), new Float32Array(64)];
    const v = [new Float32Array(64), new Float32Array(64)];
    const list = [p[0]!];
    Object.defineProperty(list, 1, { get() { transferAway(p[1]!); gc(); return p[1]; }, enumerable: true });
    expect(() => kernels.adamStepMulti(list as Float32Array[], g, m, v, { step: 1 })).toThrow(/params\[1\] must have length 64|grads\[1\] must have length 0/);
  });
});

describe('async calls: inputs changed or freed before they settle', () => {
  const shape = { batch: 2, heads: 4, kvHeads: 2, qLen: 7, kvLen: 9, headDim: 8 };
  const nq = 2 * 7 * 4 * 8, nkv = 2 * 9 * 2 * 8;

  it('crossEntropyAsync: targets overwritten right after the call are not what it used', async () => {
    const logits = rand(4 * 5), targets = new Int32Array([0, 1, 2, 3]);
    const ref = kernels.crossEntropy(logits, targets, 5);
    const p = kernels.crossEntropyAsync(logits, targets, 5);
    targets.fill(2 ** 31 - 1);
    const r = await p;
    expect(r.loss).toBe(ref.loss);
    expect(bits(r.dlogits!)).toEqual(bits(ref.dlogits!));
  });

  it('attentionForwardAsync / attentionBackwardAsync: q, k, v, lengths transferred and collected: the sync bits', async () => {
    const q = rand(nq, 1), k = rand(nkv, 2), v = rand(nkv, 3), kl = new Int32Array([9, 4]);
    const ref = kernels.attentionForward(q, k, v, shape, { keyLengths: kl, causal: true });
    const refB = kernels.attentionBackward(q, k, v, ref.out, ref.lse, ref.out, shape, { keyLengths: kl, causal: true });
    const [q2, k2, v2, kl2] = [q.slice(), k.slice(), v.slice(), kl.slice()];
    const pf = kernels.attentionForwardAsync(q2, k2, v2, shape, { keyLengths: kl2, causal: true });
    const [q3, k3, v3, o3, l3, d3] = [q.slice(), k.slice(), v.slice(), ref.out.slice(), ref.lse.slice(), ref.out.slice()];
    const pb = kernels.attentionBackwardAsync(q3, k3, v3, o3, l3, d3, shape, { keyLengths: kl.slice(), causal: true });
    for (const a of [q2, k2, v2, kl2, q3, k3, v3, o3, l3, d3]) transferAway(a);
    gc();
    const f = await pf, b = await pb;
    expect(bits(f.out)).toEqual(bits(ref.out));
    expect(bits(f.lse)).toEqual(bits(ref.lse));
    for (const key of ['dq', 'dk', 'dv'] as const) expect(bits(b[key])).toEqual(bits(refB[key]));
  });

  it('a caller output detached before the call settles rejects naming it; intact outputs get the sync bits', async () => {
    const q = rand(nq, 4), k = rand(nkv, 5), v = rand(nkv, 6);
    const ref = kernels.attentionForward(q, k, v, shape);
    const out = new Float32Array(nq);
    const p = kernels.attentionForwardAsync(q, k, v, shape, { into: { out } });
    transferAway(out);
    gc();
    await expect(p).rejects.toThrow(/attentionForwardAsync: opts\.into\.out was detached, transferred or resized/);
    const out2 = new Float32Array(nq).fill(NaN), lse2 = new Float32Array(2 * 4 * 7).fill(NaN);
    const r = await kernels.attentionForwardAsync(q, k, v, shape, { into: { out: out2, lse: lse2 } });
    expect(r.out).toBe(out2);
    expect(bits(out2)).toEqual(bits(ref.out));
    expect(bits(lse2)).toEqual(bits(ref.lse));
  });

  it('dq, dk, dv written async into column blocks of one fused buffer: only their own columns change', async () => {
    // q/k/v as column blocks of a fused [rows, 3 * width] projection (self-attention: qLen = kvLen).
    const s = { batch: 2, heads: 2, qLen: 5, kvLen: 5, headDim: 4, qStride: 24, kStride: 24, vStride: 24 };
    const rows = 10, w = 8;
    const qkv = rand(rows * 24, 7);
    const q = qkv.subarray(0), k = qkv.subarray(w), v = qkv.subarray(2 * w);
    const fw = kernels.attentionForward(q, k, v, s);
    const dout = rand(rows * w, 8);
    const syncGrad = new Float32Array(rows * 24).fill(7);
    kernels.attentionBackward(q, k, v, fw.out, fw.lse, dout, s,
      { into: { dq: syncGrad.subarray(0), dk: syncGrad.subarray(w), dv: syncGrad.subarray(2 * w) } });
    const asyncGrad = new Float32Array(rows * 24).fill(7);
    await kernels.attentionBackwardAsync(q, k, v, fw.out, fw.lse, dout, s,
      { into: { dq: asyncGrad.subarray(0), dk: asyncGrad.subarray(w), dv: asyncGrad.subarray(2 * w) } });
    expect(bits(asyncGrad)).toEqual(bits(syncGrad));
  });

  it('gemmAsync: A, B and C transferred after the call; C read (beta) and written back only when still attached', async () => {
    const A = rand(12, 9), B = rand(12, 10), C0 = rand(9, 11);
    const ref = kernels.gemm(A, B, { m: 3, n: 3, k: 4, C: C0.slice(), beta: 0.5 });
    const [A2, B2] = [A.slice(), B.slice()];
    const C2 = C0.slice();
    const p = kernels.gemmAsync(A2, B2, { m: 3, n: 3, k: 4, C: C2, beta: 0.5 });
    transferAway(A2); transferAway(B2);
    gc();
    expect(bits(await p)).toEqual(bits(ref));
    const C3 = C0.slice();
    const p3 = kernels.gemmAsync(A, B, { m: 3, n: 3, k: 4, C: C3, beta: 0.5 });
    transferAway(C3);
    gc();
    await expect(p3).rejects.toThrow(/gemmAsync: opts\.C was detached/);
  });

  it('adamStepMultiAsync: parameters detached meanwhile reject naming them, and no tensor is half updated', async () => {
    const make = () => ({ p: [rand(32, 1), rand(32, 2)], g: [rand(32, 3), rand(32, 4)], m: [new Float32Array(32), new Float32Array(32)],
      v: [new Float32Array(32), new Float32Array(32)] });
    const a = make();
    const p = kernels.adamStepMultiAsync(a.p, a.g, a.m, a.v, { step: 1 });
    transferAway(a.p[1]!);
    gc();
    await expect(p).rejects.toThrow(/adamStepMultiAsync: params\[1\] was detached/);
    expect(bits(a.p[0]!)).toEqual(bits(rand(32, 1)));  // untouched: nothing is written back
    const b = make(), c = make();
    kernels.adamStepMulti(b.p, b.g, b.m, b.v, { step: 1, zeroGrads: true });
    await kernels.adamStepMultiAsync(c.p, c.g, c.m, c.v, { step: 1, zeroGrads: true });
    for (const key of ['p', 'g', 'm', 'v'] as const) for (let i = 0; i < 2; ++i) expect(bits(c[key][i]!)).toEqual(bits(b[key][i]!));
  });
});

describe('attention: no output may overlap any input, mask and lengths included', () => {
  const shape = { batch: 2, heads: 2, qLen: 5, kvLen: 7, headDim: 8 };
  const q = rand(2 * 5 * 2 * 8, 1), k = rand(2 * 7 * 2 * 8, 2), v = rand(2 * 7 * 2 * 8, 3);
  const fw = kernels.attentionForward(q, k, v, shape);
  it('forward: into.lse over keyLengths / queryLengths, into.out over keyMask / mask.data / bias.data', () => {
    const buf = new ArrayBuffer(4096);
    const f32 = (off: number, n: number): Float32Array => new Float32Array(buf, off, n);
    const kl = new Int32Array(buf, 0, 2); kl.set([7, 7]);
    expect(() => kernels.attentionForward(q, k, v, shape, { keyLengths: kl, into: { lse: f32(0, 20) } })).toThrow(/opts\.into\.lse must not overlap opts\.keyLengths/);
    expect(kl[0]).toBe(7);
    const ql = new Int32Array(buf, 64, 2); ql.set([5, 5]);
    expect(() => kernels.attentionForward(q, k, v, shape, { queryLengths: ql, into: { lse: f32(60, 20) } })).toThrow(/must not overlap opts\.queryLengths/);
    const km = new Uint8Array(buf, 0, 14).fill(1);
    expect(() => kernels.attentionForward(q, k, v, shape, { keyMask: km, into: { out: f32(8, 160) } })).toThrow(/must not overlap opts\.keyMask/);
    const mask = new Uint8Array(buf, 1000, 35).fill(1);
    expect(() => kernels.attentionForward(q, k, v, shape, { mask: { data: mask }, into: { out: f32(1024, 160) } })).toThrow(/must not overlap opts\.mask\.data/);
    const bias = f32(2000, 35);
    expect(() => kernels.attentionForward(q, k, v, shape, { bias: { data: bias }, into: { lse: f32(2100, 20) } })).toThrow(/must not overlap opts\.bias\.data/);
  });
  it('backward: into.dq over bias.data (accepted before, dq off by up to 0.21)', () => {
    const buf = new Float32Array(35 + 160);
    expect(() => kernels.attentionBackward(q, k, v, fw.out, fw.lse, fw.out, shape,
      { bias: { data: buf.subarray(0, 35) }, into: { dq: buf.subarray(2, 162) } })).toThrow(/opts\.into\.dq must not overlap opts\.bias\.data/);
  });
});

describe('option objects: unknown keys, bad kinds, unchecked scalars', () => {
  const shape = { batch: 1, heads: 1, qLen: 2, kvLen: 2, headDim: 4 };
  it('unknown keys in the attention shape, opts.into and the embedding shape are TypeErrors naming them', () => {
    const q = rand(8);
    expect(() => kernels.attentionForward(q, q, q, { ...shape, hedDim: 4 } as typeof shape)).toThrow(/attentionForward: shape\.hedDim is not an option/);
    expect(() => kernels.attentionForward(q, q, q, shape, { into: { outt: new Float32Array(8) } as never })).toThrow(/opts\.into\.outt is not an option/);
    expect(() => kernels.attentionBackward(q, q, q, q, new Float32Array(2), q, shape, { mask: { data: new Uint8Array(4), head: 1 } as never }))
      .toThrow(/opts\.mask\.head is not an option/);
    expect(() => kernels.embeddingForward(new Int32Array(1), rand(4), { vocab: 1, dim: 4, dims: 2 } as never)).toThrow(/embeddingForward: shape\.dims is not an option/);
  });
  it('gelu: opts.approximate of the wrong kind is named; a non-object opts is rejected', () => {
    const x = rand(4);
    expect(() => kernels.gelu(x, { approximate: Object.create(null) as never })).toThrow(/gelu: opts\.approximate must be 'none' or 'tanh', got an object/);
    expect(() => kernels.gelu(x, 'garbage' as never)).toThrow(/gelu: opts must be an object/);
    expect(() => kernels.geluBackward(x, x, { approximate: 'tan' as never })).toThrow(RangeError);
  });
  it('dropoutKeep checks every argument', () => {
    expect(() => kernels.dropoutKeep(1, 0, 0, 0, 0, NaN)).toThrow(/dropoutKeep: p must be in \[0, 1\)/);
    expect(() => kernels.dropoutKeep(1, 0.5, 0, 0, 0, 0.1)).toThrow(/dropoutKeep: b must be an integer/);
    expect(() => kernels.dropoutKeep(1, 0, -1, 0, 0, 0.1)).toThrow(/dropoutKeep: h must be in/);
    expect(() => kernels.dropoutKeep(-1, 0, 0, 0, 0, 0.1)).toThrow(/dropoutKeep: seed/);
    expect(() => kernels.dropoutKeep(1, 0, 0, 0, 0, 1)).toThrow(RangeError);
    expect(typeof kernels.dropoutKeep(1n, 0, 1, 2, 3, 0.5)).toBe('boolean');
  });
});

describe("the addon's own functions (no JS wrapper in between) survive getters that run after a check", () => {
  // The public kernels read options first (above); a caller of the raw addon gets the same safety
  // from the addon itself: arrays re-checked right before the kernel, ids and lengths copied.
  const raw = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  it('a getter detaching params after they were checked: a RangeError, the memory never touched', () => {
    const n = 1 << 16;
    const p = new Float32Array(n), g = new Float32Array(n).fill(1), m = new Float32Array(n), v = new Float32Array(n);
    expect(() => raw.adamwStep!(p, g, m, v, { step: 1, get eps() { transferAway(p); gc(); return 1e-8; } }))
      .toThrow(/adamwStep: an array argument was detached or resized/);
  });
  it('ids and targets changed by a later getter: the checked copy is what the kernel reads', () => {
    const ids = new Int32Array([0, 1]);
    const y = raw.embeddingForward!(ids, rand(8), { vocab: 2, dim: 4 }, { get into() { ids[0] = 2 ** 31 - 1; return undefined; } }) as Float32Array;
    expect([...y.subarray(0, 4)]).toEqual([...rand(8).subarray(0, 4)]);
    const targets = new Int32Array([0, 1]);
    // Changed before the check here: named; changed after it, it would not be read.
    expect(() => raw.crossEntropy!(rand(6), targets, 3, { get reduction() { targets[1] = 2 ** 31 - 1; return 'sum'; } }))
      .toThrow(/targets\[1\] must be a class/);
    const kl = new Int32Array([2]);
    const q = rand(8);
    const out = raw.attentionForward!(q, q, q, { batch: 1, heads: 1, qLen: 2, kvLen: 2, headDim: 4 },
      { keyLengths: kl, get seed() { kl[0] = 2 ** 30; return 0; } }) as { out: Float32Array };
    expect(out.out.every(Number.isFinite)).toBe(true);
  });
  it('a resizable buffer shrunk by a getter of the shape: a RangeError', () => {
    const buf = new ArrayBuffer(64, { maxByteLength: 64 });
    const weight = new Float32Array(buf);
    expect(() => raw.embeddingForward!(new Int32Array([3]), weight, { vocab: 4, get dim() { return 4; } },
      { get scale() { buf.resize(0); return 1; } })).toThrow(RangeError);
  });
});

describe('a rejected call and the caller\'s arrays', () => {
  it('async attention rejecting a non-finite input leaves opts.into as it was; sync may have written it (no extra pass)', async () => {
    const shape = { batch: 1, heads: 1, qLen: 2, kvLen: 2, headDim: 2 };
    const q = new Float32Array(4).fill(0.5), k = new Float32Array([0.1, NaN, 0.3, 0.4]), v = new Float32Array(4).fill(1);
    const out = new Float32Array(4).fill(7), lse = new Float32Array(2).fill(7);
    await expect(kernels.attentionForwardAsync(q, k, v, shape, { into: { out, lse } })).rejects.toThrow(/k\[1\] is NaN/);
    expect([...out, ...lse]).toEqual([7, 7, 7, 7, 7, 7]);
    expect(() => kernels.attentionForward(q, k, v, shape, { into: { out, lse } })).toThrow(/attentionForward: k\[1\] is NaN/);
    // Arguments wrong in any other way are refused before anything is written.
    expect(() => kernels.attentionForward(q, k, v, shape, { into: { out, lse: new Float32Array(3) } })).toThrow(/opts\.into\.lse must have length 2/);
  });
  it('other kernels refuse before writing: embeddingBackward with a bad id leaves opts.into', () => {
    const into = new Float32Array(8).fill(5);
    expect(() => kernels.embeddingBackward(new Int32Array([0, 9]), rand(8), { vocab: 2, dim: 4 }, { into })).toThrow(/ids\[1\]/);
    expect(into.every((x) => x === 5)).toBe(true);
  });
});
