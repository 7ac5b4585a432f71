// Determinism (DESIGN.md): the same inputs give bitwise-identical outputs and gradients on every
// run and, as the design aims, across thread counts; the async forms compute the same bits as the
// sync ones on a worker thread, leaving the event loop free.
import { afterAll, describe, expect, it } from 'vitest';
import { getNumThreads, kernels, setNumThreads } from '../dist/index.js';
import { caseData, type Case } from './helpers/cases.js';
import { expectSameBits } from './helpers/metrics.js';
import { randn, Rng } from './helpers/random.js';

const initialThreads = getNumThreads();
afterAll(() => {
  setNumThreads(initialThreads);
});

const cases: Case[] = [
  { name: 'causal + keyLengths + queryLengths', shape: { batch: 3, heads: 2, kvHeads: 2, qLen: 130, kvLen: 130, headDim: 32 },
    opts: { causal: true, keyLengths: Int32Array.from([130, 64, 1]), queryLengths: Int32Array.from([100, 130, 65]) }, seed: 1 },
  { name: 'GQA H=8 Hkv=2, causal Tq < Tk', shape: { batch: 2, heads: 8, kvHeads: 2, qLen: 65, kvLen: 200, headDim: 64 },
    opts: { causal: true }, seed: 2 },
  { name: 'MQA H=4 Hkv=1 with bias', shape: { batch: 1, heads: 4, kvHeads: 1, qLen: 129, kvLen: 67, headDim: 16 },
    opts: { bias: { data: randn(new Rng(3), 4 * 129 * 67), batch: 1, heads: 4 } }, seed: 3 },
];
const names = ['out', 'lse', 'dq', 'dk', 'dv'] as const;

function runSync(c: Case) {
  const { q, k, v, dout } = caseData(c);
  const fwd = kernels.attentionForward(q, k, v, c.shape, c.opts);
  return { ...fwd, ...kernels.attentionBackward(q, k, v, fwd.out, fwd.lse, dout, c.shape, c.opts) };
}

async function runAsync(c: Case) {
  const { q, k, v, dout } = caseData(c);
  const fwd = await kernels.attentionForwardAsync(q, k, v, c.shape, c.opts);
  return { ...fwd, ...(await kernels.attentionBackwardAsync(q, k, v, fwd.out, fwd.lse, dout, c.shape, c.opts)) };
}

describe('bitwise determinism', () => {
  for (const c of cases) {
    it(`two runs are bitwise equal: ${c.name}`, () => {
      const a = runSync(c), b = runSync(c);
      for (const n of names) expectSameBits(a[n], b[n], n);
    });

    it(`1 thread and 2 threads are bitwise equal: ${c.name}`, () => {
      setNumThreads(1);
      expect(getNumThreads()).toBe(1);
      const one = runSync(c);
      setNumThreads(2);
      expect(getNumThreads()).toBe(2);
      const two = runSync(c);
      setNumThreads(initialThreads);
      for (const n of names) expectSameBits(one[n], two[n], `${n} (1 vs 2 threads)`);
    });

    it(`async gives the same bits as sync: ${c.name}`, async () => {
      const sync = runSync(c), async_ = await runAsync(c);
      for (const n of names) expectSameBits(async_[n], sync[n], `${n} (async vs sync)`);
    });
  }

  it('several async calls in flight at once each give the sync bits', async () => {
    const sync = cases.map(runSync);
    const all = await Promise.all([...cases, ...cases].map(runAsync));
    all.forEach((r, x) => {
      for (const n of names) expectSameBits(r[n], sync[x % cases.length][n], `${n} (concurrent async #${x})`);
    });
  });
});

describe('async forms leave the event loop free', () => {
  // Large enough that the kernel runs for many event-loop turns; only "the timer ticked at least
  // once before the call settled" is asserted, never a duration.
  const big = { batch: 2, heads: 8, qLen: 1024, kvLen: 1024, headDim: 64 };
  const rng = new Rng(8);
  const n = big.batch * big.qLen * big.heads * big.headDim;
  const q = randn(rng, n), k = randn(rng, n), v = randn(rng, n), dout = randn(rng, n);

  async function ticksDuring<T>(p: () => Promise<T>): Promise<{ ticks: number; result: T }> {
    let ticks = 0;
    const timer = setInterval(() => { ticks += 1; }, 1);
    try {
      const result = await p();
      return { ticks, result };
    } finally {
      clearInterval(timer);
    }
  }

  it('a timer ticks while attentionForwardAsync and attentionBackwardAsync run', async () => {
    const f = await ticksDuring(() => kernels.attentionForwardAsync(q, k, v, big));
    expect(f.ticks).toBeGreaterThan(0);
    const b = await ticksDuring(() => kernels.attentionBackwardAsync(q, k, v, f.result.out, f.result.lse, dout, big));
    expect(b.ticks).toBeGreaterThan(0);
    // And the work was real: the results equal the sync ones.
    const sf = kernels.attentionForward(q, k, v, big);
    expectSameBits(f.result.out, sf.out, 'out (async vs sync)');
    const sb = kernels.attentionBackward(q, k, v, sf.out, sf.lse, dout, big);
    expectSameBits(b.result.dq, sb.dq, 'dq (async vs sync)');
  });
});
