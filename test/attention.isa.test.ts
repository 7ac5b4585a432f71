// Every CPU variant this machine supports against the portable one (DESIGN.md: the portable
// version is the reference every variant is tested against), on shapes with odd T and D so
// vector tails and tile edges are hit. The portable variant itself is checked against the float64
// reference here too, so the chain reaches the contract.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuInfo, kernels, setIsa, type Isa } from '../dist/index.js';
import { caseData, type Case } from './helpers/cases.js';
import { expectGradsClose } from './helpers/gradients.js';
import { expectClose, expectLse } from './helpers/metrics.js';
import { Rng, randn, randomBits } from './helpers/random.js';
import { referenceBackward } from './helpers/reference.js';

const initial = cpuInfo().isa;
afterAll(() => {
  setIsa(initial);
});

const sh = (batch: number, heads: number, kvHeads: number, qLen: number, kvLen: number, headDim: number) =>
  ({ batch, heads, kvHeads, qLen, kvLen, headDim });
const rng = new Rng(4242);
const shapes: Case[] = [
  { name: 'T=1 D=1', shape: sh(1, 1, 1, 1, 1, 1), opts: {}, seed: 1 },
  { name: 'Tq=5 Tk=3 D=3 causal', shape: sh(2, 2, 1, 5, 3, 3), opts: { causal: true }, seed: 2 },
  { name: 'T=67 D=13 causal + keyLengths', shape: sh(2, 3, 3, 67, 67, 13), opts: { causal: true, keyLengths: Int32Array.from([67, 30]) }, seed: 3 },
  { name: 'Tq=17 Tk=129 D=80 GQA + keyMask', shape: sh(1, 4, 2, 17, 129, 80),
    opts: { keyMask: randomBits(rng, 129, 0.7) }, seed: 4 },
  { name: 'Tq=130 Tk=65 D=33 causal + queryLengths + bias', shape: sh(2, 2, 2, 130, 65, 33),
    opts: { causal: true, queryLengths: Int32Array.from([130, 71]), bias: { data: randn(rng, 130 * 65), batch: 1, heads: 1 } }, seed: 5 },
  { name: 'T=64 D=128 mask + dropout', shape: sh(1, 2, 2, 64, 64, 128),
    opts: { mask: { data: randomBits(rng, 2 * 64 * 64, 0.8), batch: 1, heads: 2 }, dropout: 0.25, seed: 9 }, seed: 6 },
];

function runAll(c: Case) {
  const { q, k, v, dout } = caseData(c);
  const fwd = kernels.attentionForward(q, k, v, c.shape, c.opts);
  const bwd = kernels.attentionBackward(q, k, v, fwd.out, fwd.lse, dout, c.shape, c.opts);
  return { q, k, v, dout, fwd, bwd };
}

describe('CPU variants', () => {
  const isas: Isa[] = cpuInfo().supportedIsas;

  it('portable is supported and is the reference variant', () => {
    expect(isas).toContain('portable');
  });

  for (const c of shapes) {
    it(`portable vs float64 reference: ${c.name}`, () => {
      setIsa('portable');
      const r = runAll(c);
      const ref = referenceBackward(r.q, r.k, r.v, r.dout, c.shape, c.opts);
      expectClose(r.fwd.out, ref.out, 1e-5, 'out');
      expectLse(r.fwd.lse, ref.lse, 1e-5);
      expectGradsClose(r.bwd, ref, c.shape, c.opts.scale ?? 1 / Math.sqrt(c.shape.headDim), r, 1e-4);
    });
  }

  for (const isa of isas.filter((x) => x !== 'portable')) {
    for (const c of shapes) {
      it(`${isa} vs portable: ${c.name}`, () => {
        setIsa('portable');
        const base = runAll(c);
        expect(setIsa(isa)).toBe(isa);
        expect(cpuInfo().isa).toBe(isa);
        const got = runAll(c);
        expectClose(got.fwd.out, base.fwd.out, 1e-5, `${isa} out`);
        expectLse(got.fwd.lse, base.fwd.lse, 1e-5, `${isa} lse`);
        expectGradsClose(got.bwd, base.bwd, c.shape,
          c.opts.scale ?? 1 / Math.sqrt(c.shape.headDim), got, 1e-4, `${isa} `);
      });
    }
  }
});
