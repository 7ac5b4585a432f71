// Which rows of a global batch each rank trains on. Every rank builds the same global batches
// (same data, seed and loader state), then keeps a contiguous slice of the rows: an epoch covers
// every example exactly once over all ranks, uneven last batches included (the first
// batch % size ranks get one row more; a rank may get none). Pure TypeScript, no MPI.
import type { Seq2SeqBatch } from '../data/batching.js';

function checkRank(rank: number, size: number): void {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size: expected an integer >= 1, got ${String(size)}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new RangeError(`rank: expected an integer in [0, ${size}), got ${String(rank)}`);
}

/** Rows [start, end) of n that rank `rank` of `size` takes. */
export function shardRange(n: number, rank: number, size: number): { start: number; end: number } {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n: expected an integer >= 0, got ${String(n)}`);
  checkRank(rank, size);
  const base = Math.floor(n / size), extra = n % size;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/**
 * The rows of a batch this rank trains on, padded as in the global batch (so each row computes
 * exactly what it would in one process). numTargetTokens counts only these rows.
 */
export function shardBatch(b: Seq2SeqBatch, rank: number, size: number): Seq2SeqBatch {
  const { start, end } = shardRange(b.batch, rank, size);
  if (size === 1) return b;
  const tgtLengths = b.tgtLengths.slice(start, end);
  let numTargetTokens = 0;
  for (const n of tgtLengths) numTargetTokens += n;
  return {
    src: b.src.slice(start * b.srcLen, end * b.srcLen), srcLengths: b.srcLengths.slice(start, end),
    tgtIn: b.tgtIn.slice(start * b.tgtLen, end * b.tgtLen), labels: b.labels.slice(start * b.tgtLen, end * b.tgtLen),
    tgtLengths, batch: end - start, srcLen: b.srcLen, tgtLen: b.tgtLen, numTargetTokens, indices: b.indices.slice(start, end),
  };
}
