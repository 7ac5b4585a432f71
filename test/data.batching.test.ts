import { describe, expect, it } from 'vitest';
import {
  BatchLoader, Rng, collate, bucketOrder, chunkBatches, exampleSizes, tokenBudgetBatches,
  type Seq2SeqBatch, type Seq2SeqExample, type BatchLoaderOptions,
} from '../dist/data/index.js';

const i32 = (a: number[]): Int32Array => Int32Array.from(a);
const arr = (a: ArrayLike<number>): number[] => Array.from(a);
const ids = { bos: 1, eos: 2, padId: 0 } as const;

/** Random examples with lengths spread over [1, maxLen]. */
function dataset(n: number, seed: number, maxLen = 30): Seq2SeqExample[] {
  const rng = new Rng(seed);
  const seq = (len: number): Int32Array => Int32Array.from({ length: len }, () => 4 + rng.int(20));
  return Array.from({ length: n }, () => {
    const s = 1 + rng.int(maxLen);
    return { src: seq(s), tgt: seq(Math.max(0, s - 2 + rng.int(5))) };
  });
}

/** Batch contents as plain arrays, for deep equality. */
const plain = (b: Seq2SeqBatch): unknown => ({
  src: arr(b.src), srcLengths: arr(b.srcLengths), tgtIn: arr(b.tgtIn), labels: arr(b.labels),
  tgtLengths: arr(b.tgtLengths), batch: b.batch, srcLen: b.srcLen, tgtLen: b.tgtLen,
  numTargetTokens: b.numTargetTokens, indices: arr(b.indices),
});

function padTokens(b: Seq2SeqBatch): number {
  let real = 0;
  for (const n of b.srcLengths) real += n;
  for (const n of b.tgtLengths) real += n;
  return b.batch * (b.srcLen + b.tgtLen) - real;
}

describe('collate', () => {
  const ex: Seq2SeqExample[] = [
    { src: i32([10, 11, 12]), tgt: i32([20, 21]) },
    { src: i32([13]), tgt: i32([22, 23, 24]) },
  ];

  it('pads to the longest (exact arrays)', () => {
    const b = collate(ex, ids);
    expect(plain(b)).toEqual({
      src: [10, 11, 12, 13, 0, 0], srcLengths: [3, 1],
      tgtIn: [1, 20, 21, 0, 1, 22, 23, 24],
      labels: [20, 21, 2, -100, 22, 23, 24, 2],
      tgtLengths: [3, 4], batch: 2, srcLen: 3, tgtLen: 4, numTargetTokens: 7, indices: [0, 1],
    });
  });

  it('pads/truncates to fixed lengths', () => {
    const b = collate(ex, { ...ids, ignoreIndex: -1, srcLen: 2, tgtLen: 3 }, [1, 0]);
    expect(plain(b)).toEqual({
      src: [13, 0, 10, 11], srcLengths: [1, 2],
      tgtIn: [1, 22, 23, 1, 20, 21],
      labels: [22, 23, 2, 20, 21, 2],
      tgtLengths: [3, 3], batch: 2, srcLen: 2, tgtLen: 3, numTargetTokens: 6, indices: [1, 0],
    });
    const c = collate(ex, { ...ids, ignoreIndex: -1, srcLen: 5, tgtLen: 6 }, [0]);
    expect(arr(c.src)).toEqual([10, 11, 12, 0, 0]);
    expect(arr(c.labels)).toEqual([20, 21, 2, -1, -1, -1]);
    expect(() => collate(ex, ids, [2])).toThrow(/indices\[0\]: no example 2/);
  });

  it('labels are ignoreIndex exactly where tgtIn is padding', () => {
    const data = dataset(50, 3);
    const b = collate(data, ids);
    let counted = 0;
    for (let r = 0; r < b.batch; r++) {
      for (let t = 0; t < b.tgtLen; t++) {
        const pad = t >= (b.tgtLengths[r] as number);
        expect(b.labels[r * b.tgtLen + t] === -100).toBe(pad);
        expect(b.tgtIn[r * b.tgtLen + t] === 0).toBe(pad);
        if (!pad) counted++;
      }
    }
    expect(b.numTargetTokens).toBe(counted);
  });
});

describe('planners', () => {
  it('chunkBatches: sizes, short last batch, dropLast', () => {
    const order = Int32Array.from({ length: 10 }, (_, i) => i);
    expect(chunkBatches(order, 4).map(arr)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(chunkBatches(order, 4, true).map((b) => b.length)).toEqual([4, 4]);
  });

  it('tokenBudgetBatches respects the budget and covers every example once', () => {
    const data = dataset(500, 5);
    const sizes = exampleSizes(data);
    const order = Int32Array.from(data.keys());
    for (const maxTokens of [40, 100, 333]) {
      const batches = tokenBudgetBatches(order, sizes, maxTokens);
      const seen = batches.flatMap((b) => arr(b)).sort((a, b) => a - b);
      expect(seen).toEqual(arr(order));
      for (const b of batches) {
        const c = collate(data, ids, b);
        expect(c.batch * c.srcLen).toBeLessThanOrEqual(maxTokens);
        expect(c.batch * c.tgtLen).toBeLessThanOrEqual(maxTokens);
      }
      // greedy: adding the next example would have broken the budget
      for (let k = 0; k + 1 < batches.length; k++) {
        const b = batches[k] as Int32Array;
        const nextSize = sizes[(batches[k + 1] as Int32Array)[0] as number] as number;
        const m = Math.max(nextSize, ...arr(b).map((i) => sizes[i] as number));
        expect(m * (b.length + 1)).toBeGreaterThan(maxTokens);
      }
    }
    const capped = tokenBudgetBatches(order, sizes, 10000, { maxBatchSize: 7 });
    expect(Math.max(...capped.map((b) => b.length))).toBe(7);
    expect(() => tokenBudgetBatches(order, sizes, 10)).toThrow(/example \d+: pads to \d+ tokens, more than maxTokens = 10/);
    const skipped = tokenBudgetBatches(order, sizes, 10, { oversized: 'skip' });
    expect(skipped.flatMap((b) => arr(b)).every((i) => (sizes[i] as number) <= 10)).toBe(true);
  });

  it('bucketing reduces padding compared with random batches', () => {
    const data = dataset(1000, 9, 60);
    const sizes = exampleSizes(data);
    const order = new Rng(1).shuffle(Int32Array.from(data.keys()));
    const total = (batches: Int32Array[]): number => batches.reduce((s, b) => s + padTokens(collate(data, ids, b)), 0);
    const random = total(chunkBatches(order, 16));
    const windowed = total(chunkBatches(bucketOrder(order, sizes, 16 * 20), 16));
    const full = total(chunkBatches(bucketOrder(order, sizes, Infinity), 16));
    expect(windowed).toBeLessThan(random * 0.5);
    expect(full).toBeLessThanOrEqual(windowed);
    // every window is sorted, and it is a permutation
    const w = bucketOrder(order, sizes, 100);
    expect(arr(w).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (let start = 0; start < 1000; start += 100) {
      for (let i = start + 1; i < start + 100; i++) expect(sizes[w[i] as number]).toBeGreaterThanOrEqual(sizes[w[i - 1] as number] as number);
    }
  });
});

describe('Rng', () => {
  it('is deterministic per seed, and restores from its JSON state', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(new Rng(43).nextUint32()).not.toBe(xs[0]);
    expect(new Rng(2 ** 40).nextUint32()).not.toBe(new Rng(0).nextUint32());
    const saved = JSON.parse(JSON.stringify(a.state()));
    const next = Array.from({ length: 5 }, () => a.nextFloat());
    const r = Rng.fromState(saved);
    expect(Array.from({ length: 5 }, () => r.nextFloat())).toEqual(next);
    expect(() => Rng.fromState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] })).toThrow(/all four words are zero/);
    expect(() => Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, -4] } as never)).toThrow(/s\[3\]/);
  });

  it('int(n) is in range and roughly uniform', () => {
    const r = new Rng(7);
    const counts = new Array(6).fill(0) as number[];
    for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
  });
});

describe('BatchLoader', () => {
  const data = dataset(203, 21);
  const strategies: Record<string, BatchLoaderOptions> = {
    fixed: { ...ids, batchSize: 16, srcLen: 20, tgtLen: 22, shuffle: true, seed: 5 },
    longest: { ...ids, batchSize: 16, shuffle: true, seed: 5 },
    bucket: { ...ids, batchSize: 16, bucketWindow: 64, shuffle: true, seed: 5 },
    tokens: { ...ids, maxTokens: 256, bucketWindow: 100, shuffle: true, seed: 5 },
  };

  for (const [name, opts] of Object.entries(strategies)) {
    it(`${name}: each epoch covers every example once, with the promised shapes`, () => {
      const loader = new BatchLoader(data, opts);
      for (let epoch = 0; epoch < 2; epoch++) {
        const seen: number[] = [];
        for (const b of loader.epochBatches()) {
          seen.push(...arr(b.indices));
          if (opts.srcLen !== undefined) expect([b.srcLen, b.tgtLen]).toEqual([opts.srcLen, opts.tgtLen]);
          if (opts.batchSize !== undefined) expect(b.batch).toBeLessThanOrEqual(opts.batchSize);
          if (opts.maxTokens !== undefined) expect(Math.max(b.srcLen, b.tgtLen) * b.batch).toBeLessThanOrEqual(opts.maxTokens);
          expect(b.src.length).toBe(b.batch * b.srcLen);
          expect(b.labels.length).toBe(b.batch * b.tgtLen);
        }
        expect(seen.sort((a, b) => a - b)).toEqual(arr(Int32Array.from(data.keys())));
        expect(loader.epoch).toBe(epoch);
      }
    });

    it(`${name}: same seed, same batches; resuming from a saved state mid-epoch gives identical batches`, () => {
      const a = new BatchLoader(data, opts);
      const b = new BatchLoader(data, opts);
      const n = a.batchesPerEpoch;
      const stop = n + Math.floor(n / 2); // in the middle of the second epoch
      for (let i = 0; i < stop; i++) expect(plain(a.next())).toEqual(plain(b.next()));
      const saved = JSON.parse(JSON.stringify(a.state()));
      expect(saved.epoch).toBe(1);
      const after = Array.from({ length: 2 * n }, () => plain(a.next()));
      const resumed = new BatchLoader(data, opts);
      resumed.restore(saved);
      expect(resumed.epoch).toBe(1);
      expect(Array.from({ length: 2 * n }, () => plain(resumed.next()))).toEqual(after);
      // other seeds shuffle differently; epochs differ from each other
      const other = new BatchLoader(data, { ...opts, seed: 6 });
      expect(plain(other.next())).not.toEqual(plain(new BatchLoader(data, opts).next()));
      const c = new BatchLoader(data, opts);
      const e0 = c.epochPlan().map(arr);
      for (let i = 0; i < c.batchesPerEpoch; i++) c.next();
      c.next();
      expect(c.epochPlan().map(arr)).not.toEqual(e0);
    });
  }

  it('resumes at an epoch boundary and through epochBatches', () => {
    const opts = strategies.bucket as BatchLoaderOptions;
    const a = new BatchLoader(data, opts);
    for (const _ of a.epochBatches()) { /* finish epoch 0 */ }
    const saved = a.state();
    expect(saved.position).toBe(a.batchesPerEpoch);
    const next = [...a.epochBatches()].map(plain);
    const r = new BatchLoader(data, opts);
    r.restore(saved);
    expect([...r.epochBatches()].map(plain)).toEqual(next);
  });

  it('without shuffle keeps dataset order; dropLast drops the short batch', () => {
    const l = new BatchLoader(data, { ...ids, batchSize: 50, dropLast: true });
    expect(l.batchesPerEpoch).toBe(4);
    expect(arr(l.next().indices)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rejects a state from another loader or a corrupt one', () => {
    const a = new BatchLoader(data, strategies.longest as BatchLoaderOptions);
    a.next();
    const s = a.state();
    expect(() => new BatchLoader(data.slice(1), strategies.longest as BatchLoaderOptions).restore(s)).toThrow(/fingerprint/);
    expect(() => new BatchLoader(data, { ...strategies.longest, seed: 9 } as BatchLoaderOptions).restore(s)).toThrow(/fingerprint/);
    const b = new BatchLoader(data, strategies.longest as BatchLoaderOptions);
    expect(() => b.restore({ ...s, version: 2 } as never)).toThrow(/version/);
    expect(() => b.restore({ ...s, position: 999 })).toThrow(/position/);
    expect(() => b.restore({ ...s, epochRng: { algorithm: 'x' } } as never)).toThrow(/algorithm/);
    expect(() => new BatchLoader(data, ids as BatchLoaderOptions)).toThrow(/batchSize, maxTokens/);
    expect(() => new BatchLoader([], { ...ids, batchSize: 2 }).next()).toThrow(/no batches/);
  });
});
