// Issue 17: how a global batch is split over ranks (pure TypeScript, no MPI). Every rank builds
// the same global batches and keeps a contiguous slice of their rows; over an epoch every example
// is trained on exactly once across the ranks, short last batches included.
import { describe, expect, it } from 'vitest';
import { BatchLoader } from '../dist/data/loader.js';
import type { Seq2SeqExample } from '../dist/data/batching.js';
import { launchInfo } from '../dist/dist/env.js';
import { shardBatch, shardRange } from '../dist/dist/shard.js';

function examples(n: number): Seq2SeqExample[] {
  // Lengths vary so batches pad; example i's first source token is 3 + i (to check rows by content).
  return Array.from({ length: n }, (_, i) => ({ src: Int32Array.from({ length: 1 + (i % 5) }, (_, j) => 3 + i + j), tgt: Int32Array.from({ length: 1 + (i % 3) }, () => 4 + i) }));
}

describe('shardRange', () => {
  it('splits n rows into contiguous ranges whose sizes differ by at most one, in rank order', () => {
    for (const size of [1, 2, 3, 4, 7]) {
      for (let n = 0; n <= 17; ++n) {
        const ranges = Array.from({ length: size }, (_, r) => shardRange(n, r, size));
        expect(ranges[0]!.start).toBe(0);
        expect(ranges[size - 1]!.end).toBe(n);
        for (let r = 1; r < size; ++r) expect(ranges[r]!.start).toBe(ranges[r - 1]!.end);
        const lens = ranges.map((x) => x.end - x.start);
        expect(Math.max(...lens) - Math.min(...lens)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('names a bad argument', () => {
    expect(() => shardRange(-1, 0, 2)).toThrow(/^n: /);
    expect(() => shardRange(4, 2, 2)).toThrow(/^rank: /);
    expect(() => shardRange(4, 0, 0)).toThrow(/^size: /);
    expect(() => shardRange(4, 0.5, 2)).toThrow(RangeError);
  });
});

describe('shardBatch over a BatchLoader', () => {
  for (const { n, batchSize, size, opts } of [
    { n: 45, batchSize: 8, size: 2, opts: { shuffle: true, seed: 5 } },   // last batch 5 rows: 3 + 2
    { n: 23, batchSize: 4, size: 3, opts: { shuffle: true, seed: 1 } },   // last batch 3 rows: 1 + 1 + 1
    { n: 10, batchSize: 3, size: 4, opts: {} },                           // 3-row batches on 4 ranks: one rank gets none
    { n: 31, batchSize: 6, size: 2, opts: { maxTokens: 24, bucketWindow: 10, shuffle: true, seed: 9 } },  // token-budget batches
  ]) {
    it(`${n} examples, batches of ${batchSize}, ${size} ranks ${JSON.stringify(opts)}: every example once per epoch`, () => {
      const ex = examples(n);
      const loaders = Array.from({ length: size }, () => new BatchLoader(ex, { batchSize, bos: 1, eos: 2, padId: 0, ...opts }));
      for (let epoch = 0; epoch < 3; ++epoch) {
        const seen = new Int32Array(n);
        const per = loaders[0]!.batchesPerEpoch;
        for (let b = 0; b < per; ++b) {
          const rows: number[] = [];
          let tokens = 0;
          const globalBatch = loaders.map((l) => l.next());
          for (let r = 0; r < size; ++r) {
            // Each rank's own loader gives the same global batch; it keeps its rows.
            expect(Array.from(globalBatch[r]!.indices)).toEqual(Array.from(globalBatch[0]!.indices));
            const s = shardBatch(globalBatch[r]!, r, size);
            expect(s.batch).toBe(s.indices.length);
            expect(s.src.length).toBe(s.batch * s.srcLen);
            expect(s.labels.length).toBe(s.batch * s.tgtLen);
            for (let i = 0; i < s.batch; ++i) {
              const e = s.indices[i]!;
              rows.push(e);
              seen[e]! += 1;
              expect(s.src[i * s.srcLen]).toBe(3 + e);                 // the row's content is that example's
              expect(s.srcLengths[i]).toBe(ex[e]!.src.length);
            }
            tokens += s.numTargetTokens;
          }
          expect(rows).toEqual(Array.from(globalBatch[0]!.indices));  // rank order = the global batch's row order
          expect(tokens).toBe(globalBatch[0]!.numTargetTokens);       // token counts add up to the global batch's
        }
        expect(Array.from(seen)).toEqual(new Array(n).fill(1));
      }
    });
  }

  it('a group of one keeps the batch as it is', () => {
    const b = new BatchLoader(examples(5), { batchSize: 5, bos: 1, eos: 2, padId: 0 }).next();
    expect(shardBatch(b, 0, 1)).toBe(b);
  });
});

describe('launchInfo', () => {
  it('reads Open MPI, hydra and Slurm variables, and is a group of one without them', () => {
    expect(launchInfo({})).toEqual({ rank: 0, size: 1, localRank: 0, source: 'none' });
    expect(launchInfo({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '8', OMPI_COMM_WORLD_LOCAL_RANK: '1' }))
      .toEqual({ rank: 3, size: 8, localRank: 1, source: 'OMPI_COMM_WORLD_RANK' });
    expect(launchInfo({ PMI_RANK: '1', PMI_SIZE: '2' })).toMatchObject({ rank: 1, size: 2, localRank: 0 });
    expect(launchInfo({ SLURM_PROCID: '5', SLURM_NTASKS: '6', SLURM_LOCALID: '2' })).toMatchObject({ rank: 5, size: 6, localRank: 2 });
    expect(() => launchInfo({ OMPI_COMM_WORLD_RANK: 'x', OMPI_COMM_WORLD_SIZE: '2' })).toThrow(/OMPI_COMM_WORLD_RANK/);
    expect(() => launchInfo({ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '2' })).toThrow(/rank 2 is not below/);
  });
});
