// Attention-probability dropout: the keep decisions (rate, independence across every index and the
// seed), that the kernels use exactly kernels.dropoutKeep's decisions, forward and backward against
// the reference (which takes its decisions from dropoutKeep), and reproducibility.
import { afterAll, describe, expect, it } from 'vitest';
import { getNumThreads, kernels, setNumThreads } from '../dist/index.js';
import { caseData, type Case } from './helpers/cases.js';
import { expectGradsClose } from './helpers/gradients.js';
import { expectClose, expectLse, expectSameBits } from './helpers/metrics.js';
import { Rng } from './helpers/random.js';
import { referenceBackward } from './helpers/reference.js';

const initialThreads = getNumThreads();
afterAll(() => {
  setNumThreads(initialThreads);
});

/** Asserts an observed frequency is within 5 standard deviations of the expected one. */
function expectRate(hits: number, n: number, expected: number, what: string) {
  const sigma = Math.sqrt((expected * (1 - expected)) / n);
  const observed = hits / n;
  expect(Math.abs(observed - expected), `${what}: observed ${observed}, expected ${expected} +- 5 * ${sigma}`)
    .toBeLessThanOrEqual(5 * sigma);
}

describe('dropoutKeep decisions', () => {
  for (const p of [0.1, 0.5, 0.9]) {
    it(`keep rate is 1 - p for p = ${p}`, () => {
      let kept = 0, n = 0;
      for (let b = 0; b < 4; ++b)
        for (let h = 0; h < 5; ++h)
          for (let i = 0; i < 50; ++i)
            for (let j = 0; j < 200; ++j, ++n) kept += kernels.dropoutKeep(17, b, h, i, j, p) ? 1 : 0;
      expectRate(kept, n, 1 - p, `keep rate at p=${p}`);
    });
  }

  it('p = 0 keeps everything', () => {
    for (let j = 0; j < 1000; ++j) expect(kernels.dropoutKeep(3, 0, 0, 0, j, 0)).toBe(true);
  });

  // A hash that ignored one index (or the high bits of the seed) would make neighbours along that
  // axis agree always; independent decisions agree with probability p^2 + (1-p)^2.
  const axes: Array<[string, (seed: bigint, b: number, h: number, i: number, j: number) => boolean]> = [
    ['b', (s, b, h, i, j) => kernels.dropoutKeep(s, b + 1, h, i, j, 0.5)],
    ['h', (s, b, h, i, j) => kernels.dropoutKeep(s, b, h + 1, i, j, 0.5)],
    ['i', (s, b, h, i, j) => kernels.dropoutKeep(s, b, h, i + 1, j, 0.5)],
    ['j', (s, b, h, i, j) => kernels.dropoutKeep(s, b, h, i, j + 1, 0.5)],
    ['seed (low bit)', (s, b, h, i, j) => kernels.dropoutKeep(s + 1n, b, h, i, j, 0.5)],
    ['seed (bit 40)', (s, b, h, i, j) => kernels.dropoutKeep(s + (1n << 40n), b, h, i, j, 0.5)],
    ['seed (bit 63)', (s, b, h, i, j) => kernels.dropoutKeep(s ^ (1n << 63n), b, h, i, j, 0.5)],
  ];
  for (const [axis, neighbour] of axes) {
    it(`decisions are independent along ${axis}`, () => {
      const rng = new Rng(31);
      let agree = 0;
      const n = 20000;
      for (let x = 0; x < n; ++x) {
        const s = BigInt(rng.int(0, 1e9)), b = rng.int(0, 50), h = rng.int(0, 50), i = rng.int(0, 5000), j = rng.int(0, 5000);
        agree += kernels.dropoutKeep(s, b, h, i, j, 0.5) === neighbour(s, b, h, i, j) ? 1 : 0;
      }
      expectRate(agree, n, 0.5, `agreement along ${axis}`);
    });
  }
});

describe('kernels use dropoutKeep exactly', () => {
  // q = 0 makes attention uniform (P = 1/Tk) and v_j = e_j (D = Tk) makes out[b, i, h, j] =
  // keep(b, h, i, j) / ((1 - p) Tk): the forward's decisions can be read back one by one.
  for (const p of [0.1, 0.5]) {
    it(`forward decisions at p = ${p}`, () => {
      const B = 2, H = 3, Tq = 70, Tk = 64, seed = 2024;
      const s = { batch: B, heads: H, qLen: Tq, kvLen: Tk, headDim: Tk };
      const q = new Float32Array(B * Tq * H * Tk);
      const k = new Float32Array(B * Tk * H * Tk).map((_, x) => Math.sin(x));
      const v = new Float32Array(B * Tk * H * Tk);
      for (let b = 0; b < B; ++b) for (let j = 0; j < Tk; ++j) for (let h = 0; h < H; ++h) v[((b * Tk + j) * H + h) * Tk + j] = 1;
      const { out } = kernels.attentionForward(q, k, v, s, { dropout: p, seed });
      const keptValue = 1 / ((1 - p) * Tk);
      let kept = 0, n = 0;
      for (let b = 0; b < B; ++b)
        for (let i = 0; i < Tq; ++i)
          for (let h = 0; h < H; ++h)
            for (let j = 0; j < Tk; ++j, ++n) {
              const o = out[((b * Tq + i) * H + h) * Tk + j];
              const want = kernels.dropoutKeep(seed, b, h, i, j, p);
              const got = Math.abs(o - keptValue) < 1e-6 * keptValue ? true : o === 0 ? false : undefined;
              if (got !== want) expect.fail(`(b ${b}, h ${h}, i ${i}, j ${j}): out ${o}, dropoutKeep says ${want}`);
              kept += want ? 1 : 0;
            }
      expectRate(kept, n, 1 - p, 'kernel keep rate');
    });
  }
});

const dropoutCases: Case[] = [
  { name: 'p=0.1 no mask', shape: { batch: 2, heads: 2, kvHeads: 2, qLen: 33, kvLen: 65, headDim: 16 }, opts: { dropout: 0.1, seed: 1 }, seed: 11 },
  { name: 'p=0.5 causal Tq > Tk, GQA', shape: { batch: 2, heads: 4, kvHeads: 2, qLen: 70, kvLen: 40, headDim: 8 },
    opts: { dropout: 0.5, seed: 99n, causal: true }, seed: 12 },
  { name: 'p=0.9 keyLengths + queryLengths', shape: { batch: 2, heads: 2, kvHeads: 1, qLen: 65, kvLen: 130, headDim: 32 },
    opts: { dropout: 0.9, seed: 2n ** 64n - 1n, keyLengths: Int32Array.from([130, 3]), queryLengths: Int32Array.from([10, 65]) }, seed: 13 },
];

describe('dropout forward and backward vs reference', () => {
  for (const c of dropoutCases) {
    it(c.name, () => {
      const { q, k, v, dout } = caseData(c);
      const fwd = kernels.attentionForward(q, k, v, c.shape, c.opts);
      const bwd = kernels.attentionBackward(q, k, v, fwd.out, fwd.lse, dout, c.shape, c.opts);
      const ref = referenceBackward(q, k, v, dout, c.shape, c.opts);
      expectClose(fwd.out, ref.out, 1e-5, 'out');
      expectLse(fwd.lse, ref.lse, 1e-5);
      expectGradsClose(bwd, ref, c.shape, 1 / Math.sqrt(c.shape.headDim), { q, k, v, dout }, 1e-4);
    });
  }
});

describe('dropout reproducibility', () => {
  const c = dropoutCases[1];
  const run = (opts: object) => {
    const { q, k, v, dout } = caseData(c);
    const fwd = kernels.attentionForward(q, k, v, c.shape, { ...c.opts, ...opts });
    return { ...fwd, ...kernels.attentionBackward(q, k, v, fwd.out, fwd.lse, dout, c.shape, { ...c.opts, ...opts }) };
  };
  const names = ['out', 'lse', 'dq', 'dk', 'dv'] as const;

  it('same bits with 1 thread and with 2', () => {
    setNumThreads(1);
    const one = run({});
    setNumThreads(2);
    const two = run({});
    setNumThreads(initialThreads);
    for (const n of names) expectSameBits(one[n], two[n], `${n} (1 vs 2 threads)`);
  });

  it('same seed gives the same bits; a number seed equals the same bigint seed', () => {
    const a = run({ seed: 5 }), b = run({ seed: 5 }), c5n = run({ seed: 5n });
    for (const n of names) {
      expectSameBits(a[n], b[n], `${n} (same seed)`);
      expectSameBits(a[n], c5n[n], `${n} (seed 5 vs 5n)`);
    }
  });

  it('another seed gives another result', () => {
    const a = run({ seed: 5 }), b = run({ seed: 6 });
    let differ = 0;
    for (let x = 0; x < a.out.length; ++x) differ += a.out[x] !== b.out[x] ? 1 : 0;
    expect(differ).toBeGreaterThan(a.out.length / 2);
    expectSameBits(a.lse, b.lse, 'lse (dropout does not change the softmax normaliser)');
  });

  it('dropout 0 with a seed equals no dropout', () => {
    const { q, k, v } = caseData(c);
    const plain = kernels.attentionForward(q, k, v, c.shape, { causal: true });
    const zero = kernels.attentionForward(q, k, v, c.shape, { causal: true, dropout: 0, seed: 77 });
    expectSameBits(zero.out, plain.out, 'out');
    expectSameBits(zero.lse, plain.lse, 'lse');
  });
});
