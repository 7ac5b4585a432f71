// Limits and deadlines of generate/stream: a call beyond options.limits (beams, new tokens, source
// tokens, sources, decoder rows) is a RangeError naming the option and the limit, before any work;
// options.timeoutMs stops the decoding within one step and rejects with a TimeoutError.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, checkGenerate, generate, stream, type GenerateOptions } from '../dist/decode/index.js';
import { tinyModel } from './helpers/decode.js';

function slowModel() {
  return tinyModel(5, { srcVocab: 300, tgtVocab: 300, dModel: 128, heads: 4, ffDim: 512, decoderLayers: 3, maxLen: 256 });
}

/** A job of many seconds on slowModel (beam search over 256 rows, 250 steps). */
const COSTLY: GenerateOptions = { numBeams: 16, maxNewTokens: 250, minNewTokens: 250 };
const COSTLY_SRC = Array.from({ length: 16 }, (_, i) => [3 + i, 4, 5, 6, 2]);

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => null, (e: unknown) => e);
}

describe('limits', () => {
  const model = tinyModel(1, { maxLen: 16 });
  const src = [[3, 4, 2]];

  it('has defaults: 64 beams, 256 sources, 1024 rows', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxBeams: 64, maxBatch: 256, maxRows: 1024 });
  });

  const cases: [string, unknown[], object, RegExp][] = [
    ['numBeams above maxBeams', src, { numBeams: 65 }, /options\.numBeams = 65 is above the limit options\.limits\.maxBeams = 64.*limits: \{ maxBeams: 65 \}/],
    ['100000 beams', src, { numBeams: 100000 }, /numBeams = 100000 .*maxBeams = 64/],
    ['a lower maxBeams', src, { numBeams: 3, limits: { maxBeams: 2 } }, /numBeams = 3 .*maxBeams = 2/],
    ['maxNewTokens above its limit', src, { maxNewTokens: 9, limits: { maxNewTokens: 8 } }, /maxNewTokens = 9 .*limits\.maxNewTokens = 8/],
    ['more sources than maxBatch', Array.from({ length: 257 }, () => [3, 2]), {}, /number of sources .* = 257 .*maxBatch = 256/],
    ['more rows than maxRows (beams)', Array.from({ length: 17 }, () => [3, 2]), { numBeams: 64 }, /17 sources x 64 beams\) = 1088 .*maxRows = 1024/],
    ['more rows than maxRows (samples)', [[3, 2], [4, 2]], { doSample: true, numReturnSequences: 600 }, /2 sources x 600 sequences\) = 1200 .*maxRows = 1024/],
    ['a source above maxSourceTokens', [[3, 2], [3, 4, 5, 2]], { limits: { maxSourceTokens: 3 } }, /src\[1\]'s length in tokens = 4 .*maxSourceTokens = 3/],
  ];
  for (const [name, sources, opts, msg] of cases) {
    it(`${name}: a RangeError naming the limit, before any work`, async () => {
      const t0 = performance.now();
      const e = await failure(generate(model, sources as never, opts as never));
      expect(e).toBeInstanceOf(RangeError);
      expect((e as Error).message).toMatch(msg);
      expect(performance.now() - t0).toBeLessThan(2000);  // no decoding ran (generous: the machine is shared)
      expect(() => checkGenerate(model, sources as never, opts as never)).toThrow(msg);
    });
  }

  it('a huge batch is refused before its sources are read', () => {
    const huge = new Array(1_000_000);  // holes: reading them would throw a TypeError, not the limit's RangeError
    expect(() => checkGenerate(model, huge)).toThrow(/number of sources .* = 1000000 .*maxBatch = 256/);
  });

  it('limits can be raised, or lifted with Infinity', () => {
    expect(() => checkGenerate(model, src, { numBeams: 65, limits: { maxBeams: 65 } })).not.toThrow();
    expect(() => checkGenerate(model, Array.from({ length: 300 }, () => [3, 2]), { limits: { maxBatch: Infinity } })).not.toThrow();
    expect(() => checkGenerate(model, Array.from({ length: 17 }, () => [3, 2]), { numBeams: 64, limits: { maxRows: 17 * 64 } })).not.toThrow();
    // The position table still bounds maxNewTokens and source lengths.
    expect(() => checkGenerate(model, src, { maxNewTokens: 17, limits: { maxNewTokens: Infinity } })).toThrow(/maxLen/);
    expect(() => checkGenerate(model, [new Array(17).fill(3)], { limits: { maxSourceTokens: Infinity } })).toThrow(/maxLen/);
    // A maxNewTokens limit below the default of 64 / maxLen lowers the default too.
    expect(() => checkGenerate(model, src, { limits: { maxNewTokens: 4 } })).not.toThrow();
  });

  it('bad limits are named', () => {
    const bad: [unknown, ErrorConstructor, RegExp][] = [
      [{ maxBeams: 0 }, RangeError, /limits\.maxBeams must be an integer >= 1 or Infinity, got 0/],
      [{ maxRows: 1.5 }, RangeError, /limits\.maxRows/],
      [{ maxBatch: '3' }, TypeError, /limits\.maxBatch must be a number/],
      [{ maxBeam: 3 }, TypeError, /limits\.maxBeam is not a limit/],
      [3, TypeError, /options\.limits must be an object/],
    ];
    for (const [limits, type, msg] of bad) {
      expect(() => checkGenerate(model, src, { limits } as never), JSON.stringify(limits)).toThrow(type);
      expect(() => checkGenerate(model, src, { limits } as never), JSON.stringify(limits)).toThrow(msg);
    }
  });

  it('seed must be an integer in [0, 2^53 - 1]; timeoutMs a number in (0, 2^31 - 1]', () => {
    for (const seed of [-1, 1.5, 2 ** 53, NaN, Infinity])
      expect(() => checkGenerate(model, src, { doSample: true, seed }), String(seed)).toThrow(/options\.seed must be an integer in \[0, 9007199254740991\]/);
    expect(() => checkGenerate(model, src, { doSample: true, seed: '1' as never })).toThrow(TypeError);
    for (const seed of [0, 4294967295, 2 ** 53 - 1]) expect(() => checkGenerate(model, src, { doSample: true, seed })).not.toThrow();
    for (const timeoutMs of [0, -5, NaN, Infinity, 2 ** 31])
      expect(() => checkGenerate(model, src, { timeoutMs }), String(timeoutMs)).toThrow(/options\.timeoutMs must be a number of ms/);
    expect(() => checkGenerate(model, src, { timeoutMs: '5' as never })).toThrow(TypeError);
    expect(() => checkGenerate(model, src, { timeoutMs: 0.5 })).not.toThrow();
  });
});

describe('timeoutMs', () => {
  const model = slowModel();

  for (const thread of ['worker', 'main'] as const) {
    it(`generate (${thread}): rejects with a TimeoutError naming timeoutMs, soon after the deadline`, async () => {
      const t0 = performance.now();
      const e = await failure(generate(model, COSTLY_SRC, { ...COSTLY, timeoutMs: 100, thread }));
      const ms = performance.now() - t0;
      expect(e).toBeInstanceOf(DOMException);
      expect((e as DOMException).name).toBe('TimeoutError');
      expect((e as Error).message).toMatch(/generate: timed out after 100 ms \(options\.timeoutMs\)/);
      // The job takes many seconds; the rejection comes at the deadline plus at most one step
      // (generous bound: the machine is shared).
      expect(ms).toBeGreaterThanOrEqual(95);
      expect(ms).toBeLessThan(100 + 3000);
    });

    it(`stream (${thread}): throws a TimeoutError and yields nothing after it`, async () => {
      let tokens = 0, error: unknown = null;
      const t0 = performance.now();
      try {
        for await (const _ of stream(model, COSTLY_SRC.slice(0, 4), { maxNewTokens: 250, minNewTokens: 250, timeoutMs: 150, thread })) ++tokens;
      } catch (e) {
        error = e;
      }
      expect((error as DOMException)?.name).toBe('TimeoutError');
      expect((error as Error).message).toMatch(/stream: timed out after 150 ms/);
      expect(tokens).toBeLessThan(4 * 250);
      expect(performance.now() - t0).toBeLessThan(150 + 3000);
    });
  }

  it('a call that ends before its deadline is not affected by it', async () => {
    const a = await generate(model, [[3, 4, 2]], { maxNewTokens: 5, timeoutMs: 60_000 });
    const b = await generate(model, [[3, 4, 2]], { maxNewTokens: 5 });
    expect(a.tokens.map((t) => [...t])).toEqual(b.tokens.map((t) => [...t]));
    const c = await generate(model, [[3, 4, 2]], { maxNewTokens: 5, timeoutMs: 60_000, thread: 'main' });
    expect(c.tokens.map((t) => [...t])).toEqual(b.tokens.map((t) => [...t]));
  });

  it('combines with signal: whichever fires first', async () => {
    const ctl = new AbortController();
    const p = generate(model, COSTLY_SRC, { ...COSTLY, timeoutMs: 60_000, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    expect(await failure(p)).toMatchObject({ name: 'AbortError' });
    const reason = new Error('mine');
    expect(await failure(generate(model, COSTLY_SRC, { ...COSTLY, timeoutMs: 60_000, signal: AbortSignal.abort(reason) })))
      .toMatchObject({ name: 'AbortError', cause: reason });
    const ctl2 = new AbortController();
    expect(await failure(generate(model, COSTLY_SRC, { ...COSTLY, timeoutMs: 50, signal: ctl2.signal }))).toMatchObject({ name: 'TimeoutError' });
  });

  it('after a timeout the decoding worker is free: a cheap call is not held by the costly one', async () => {
    const cheap = async (): Promise<number> => {
      const t = performance.now();
      await generate(model, [[3, 4, 5, 2]], { maxNewTokens: 20, minNewTokens: 20 });
      return performance.now() - t;
    };
    await cheap();  // warm
    const alone = Math.min(await cheap(), await cheap());
    // Next to a running costly call, the cheap one's steps interleave with the costly steps.
    const ctl = new AbortController();
    const running = failure(generate(model, COSTLY_SRC, { ...COSTLY, signal: ctl.signal }));
    await new Promise((r) => setTimeout(r, 100));
    const beside = await cheap();
    ctl.abort();
    await running;
    // The same costly call cut by its deadline: the worker must drop it.
    expect(await failure(generate(model, COSTLY_SRC, { ...COSTLY, timeoutMs: 200 }))).toMatchObject({ name: 'TimeoutError' });
    const after = Math.min(await cheap(), await cheap());
    // (minima: robust to a slow moment of the shared machine)
    console.log(`cheap call: ${alone.toFixed(0)} ms alone, ${beside.toFixed(0)} ms beside a costly call, ${after.toFixed(0)} ms after its timeout`);
    expect(beside).toBeGreaterThan(2 * alone);  // the comparison below means something
    expect(after).toBeLessThan((alone + beside) / 2);
  });
});
