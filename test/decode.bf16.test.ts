// generate(..., { precision: 'bf16' }) (issue 18): decoding's matrix products in bf16, reading bf16
// copies of the weights made at the start of each call. Checked: the greedy scores equal the
// log-probabilities recomputed without the KV cache under withMatmulPrecision('bf16') (to bf16
// round-off: the two use different GEMM paths and attention tiles) and are close to fp32's; bf16 really ran (bits
// differ from fp32); same bits twice, on the worker and on the main thread; weights changed between
// calls are seen (the copies belong to a call); beam search too; bad values rejected.
import { describe, expect, it } from 'vitest';
import { cpuInfo, withMatmulPrecision } from '../dist/index.js';
import { generate } from '../dist/decode/index.js';
import { eosModel, sequenceLogprob } from './helpers/decode.js';

const HAS_BF16 = cpuInfo().isa === 'avx512bf16';
const SOURCES = [[3, 4, 5, 6, 2], [7, 8, 2], [5, 5, 9, 10, 11, 2]];

describe("generate precision 'bf16'", () => {
  it('greedy scores are the bf16 log-probabilities of the tokens, close to fp32, not its bits', async () => {
    const model = eosModel(11, { dModel: 32, heads: 4, ffDim: 64 });
    const bf = await generate(model, SOURCES, { precision: 'bf16', maxNewTokens: 12, thread: 'main' });
    const fp = await generate(model, SOURCES, { maxNewTokens: 12, thread: 'main' });
    bf.sequences.forEach((h, b) => {
      const { tokens, score, finished } = h[0]!;
      const ref = withMatmulPrecision('bf16', () => sequenceLogprob(model, SOURCES[b]!, tokens, finished));
      // Not to fp32 round-off: attention is bf16 too, and the cached step (one query against the
      // cache) rounds its probabilities in other tiles than the recomputation over whole prefixes.
      expect(Math.abs(score - ref), `source ${b}: score vs bf16 recomputation`).toBeLessThan(5e-3 * (1 + Math.abs(ref)));
      const ref32 = sequenceLogprob(model, SOURCES[b]!, tokens, finished);
      expect(Math.abs(score - ref32), `source ${b}: score vs fp32 recomputation`).toBeLessThan(5e-2 * (1 + Math.abs(ref32)));
    });
    if (HAS_BF16) expect(bf.scores).not.toEqual(fp.scores);
    else console.log('bf16 GEMM not on this CPU: bf16 requests computed in fp32');
  });

  it('same bits twice, and on the worker as on the main thread; beam search too', async () => {
    const model = eosModel(12, { dModel: 32, heads: 4, ffDim: 64 });
    const o = { precision: 'bf16' as const, maxNewTokens: 10 };
    const a = await generate(model, SOURCES, { ...o, thread: 'main' });
    const b = await generate(model, SOURCES, { ...o, thread: 'main' });
    const w = await generate(model, SOURCES, o);
    expect(b.scores).toEqual(a.scores);
    expect(w.scores).toEqual(a.scores);
    expect(w.tokens.map((t) => Array.from(t))).toEqual(a.tokens.map((t) => Array.from(t)));
    const beam = await generate(model, SOURCES, { ...o, numBeams: 3, thread: 'main' });
    const beam2 = await generate(model, SOURCES, { ...o, numBeams: 3 });
    expect(beam2.scores).toEqual(beam.scores);
    for (const [i, s] of beam.scores.entries()) expect(Number.isFinite(s), `beam score ${i}`).toBe(true);
  });

  it('sees weights changed between calls (each call makes its own copies)', async () => {
    const model = eosModel(13, { dModel: 32, heads: 4, ffDim: 64 });
    const o = { precision: 'bf16' as const, maxNewTokens: 8, thread: 'main' as const };
    const before = await generate(model, SOURCES, o);
    for (const p of model.parameters()) p.storage.data.forEach((x, i, d) => { d[i] = -x; });
    const after = await generate(model, SOURCES, o);
    const fresh = eosModel(13, { dModel: 32, heads: 4, ffDim: 64 });
    for (const [i, p] of fresh.parameters().entries()) p.storage.data.set(model.parameters()[i]!.storage.data);
    const want = await generate(fresh, SOURCES, o);
    expect(after.scores).toEqual(want.scores);
    expect(after.scores).not.toEqual(before.scores);
  });

  it('rejects a precision other than fp32/bf16', async () => {
    const model = eosModel(14);
    await expect(generate(model, SOURCES, { precision: 'fp16' as never })).rejects.toThrow(/options.precision must be 'fp32' or 'bf16'/);
  });
});
