// Seeded sampling. Every output sequence draws from its own generator, seeded from (seed, source
// index, sequence index), so a sample depends only on its own logits: not on the other sources in
// the batch, on which rows already finished, on concurrent generates or on the thread count. The
// draw walks the probabilities in token order in double precision (no parallel reduction).
import { Rng, mix32 } from '../data/rng.js';
import { logSumExp } from './processors.js';

/** The generator of output sequence `sequence` of source `source`. */
export function sequenceRng(seed: number, source: number, sequence: number): Rng {
  const lo = seed >>> 0, hi = Math.floor(seed / 4294967296) >>> 0;
  const s = mix32(lo ^ mix32(hi ^ 0x5bd1e995) ^ mix32(Math.imul(source + 1, 0x9e3779b1) ^ mix32(sequence + 0x632be5ab)));
  return new Rng(s);
}

/** Draws a token from softmax(row); returns it with its log-probability. */
export function sampleRow(row: Float32Array, rng: Rng): { token: number; logprob: number } {
  const lse = logSumExp(row);
  const u = rng.nextFloat();
  if (lse === -Infinity) return { token: 0, logprob: -Infinity };
  let cum = 0, last = -1;
  for (let i = 0; i < row.length; ++i) {
    const x = row[i]!;
    if (x === -Infinity) continue;
    last = i;
    cum += Math.exp(x - lse);
    if (u < cum) return { token: i, logprob: x - lse };
  }
  // Rounding left the total a hair under 1 and u above it: the last possible token.
  return { token: last, logprob: row[last]! - lse };
}
