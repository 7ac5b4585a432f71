// Whole-model gradient check: the gradient of the summed cross-entropy that backward leaves in
// every parameter, against central finite differences of the loss itself, on tiny models (dModel 8,
// 2 heads, ffDim 16, 1+1 layers, vocab 11, batch 2 with padding on both sides, dropout 0).
//
// Method. Every parameter is first moved off its initial special values (zero biases, unit norm
// weights) by seeded noise. For every parameter tensor W (tied ones once) with analytic gradient G,
// and unit directions d (a random one, G/|G| itself, and single entries: the largest |G_i| and two
// random ones), compare
//   fd = (L(W + h d) - L(W - h d)) / 2h     with Richardson extrapolation (4 fd(h/2) - fd(h)) / 3,
//   an = G . (W+ - W-) / 2h                 the same combination over the perturbations actually
//                                           stored in float32 (rounding of W + h d is not an error).
// Error = |fd - an| / max(|G|_2, floor). |G|_2 bounds the derivative along any unit direction, so
// this is the error of the gradient relative to its size as a vector. The floor is the noise of fd
// itself: the loss (~20-40) is computed in float32, so it carries ~3e-5 absolute noise, which
// divided by 2h and times 5/3 (Richardson) is ~1e-3 at h = 2.5e-2; floor = 2.5e-4 / h keeps fd
// noise below ~0.1 of the tolerance when the true gradient is tiny (the key biases below, whose
// true gradient is 0). Measured worst errors are ~1e-3 (printed per case); the tolerance 1e-2
// still catches any wrong backward (a missing term, a transposed weight, a wrong scale: errors of
// order 1). ReLU uses a smaller h: at h = 2.5e-2 the perturbations cross ReLU kinks and fd is off
// by ~1e-2 (errors shrink with h, which is the signature of kinks rather than of a wrong gradient).
import { describe, expect, it } from 'vitest';
import type { Parameter } from '../dist/nn/module.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import { TINY, batchOf, jitter, lossAndGrads, lossOf, randomExamples, type TinyConfig } from './helpers/model.js';
import { Rng } from './helpers/random.js';

const TOL = 1e-2;

interface Check { name: string; what: string; err: number; an: number; fd: number; gnorm: number }

function unit(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  return v.map((x) => x / n);
}

function norm(g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < g.length; ++i) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

/** fd and an along direction d for one parameter, Richardson-extrapolated from h and h/2. */
function directional(p: Parameter, g: Float32Array, d: Float64Array, h: number, loss: () => number): { fd: number; an: number } {
  const w = p.storage.data, w0 = new Float32Array(w);
  const at = (step: number): { fd: number; an: number } => {
    for (let i = 0; i < w.length; ++i) w[i] = w0[i]! + step * d[i]!;
    const plus = new Float32Array(w), lp = loss();
    for (let i = 0; i < w.length; ++i) w[i] = w0[i]! - step * d[i]!;
    const minus = new Float32Array(w), lm = loss();
    w.set(w0);
    let an = 0;
    for (let i = 0; i < w.length; ++i) an += g[i]! * (plus[i]! - minus[i]!);
    return { fd: (lp - lm) / (2 * step), an: an / (2 * step) };
  };
  const a = at(h), b = at(h / 2);
  return { fd: (4 * b.fd - a.fd) / 3, an: (4 * b.an - a.an) / 3 };
}

// The optional fourth entry: a source key mask with a hole (row 0, position 1), as Hugging Face's attention_mask.
const CASES: [string, TinyConfig, number, boolean?][] = [
  ['post-LN, tied, MHA, sinusoidal, gelu', { ...TINY }, 2.5e-2],
  ['pre-LN, untied, GQA kvHeads 1, learned, gelu', { ...TINY, norm: 'pre', tieEmbeddings: false, kvHeads: 1, positions: 'learned' }, 2.5e-2],
  ['post-LN, untied, GQA kvHeads 1, learned, src vocab 13, unscaled embeddings', { ...TINY, srcVocab: 13, tieEmbeddings: false, kvHeads: 1, positions: 'learned', scaleEmbedding: false }, 2.5e-2],
  ['pre-LN, tied (shared src/tgt), MHA, sinusoidal, silu', { ...TINY, norm: 'pre', activation: 'silu', seed: 3 }, 2.5e-2],
  ['post-LN, tied, GQA kvHeads 1, learned, relu', { ...TINY, kvHeads: 1, positions: 'learned', activation: 'relu', seed: 5 }, 5e-3],
  ['post-LN, tied, BART/Marian extras: learned positions at offset 2, layernorm_embedding, final_logits_bias, silu, source mask with a hole',
    { ...TINY, positions: 'learned', positionOffset: 2, layerNormEmbedding: true, finalLogitsBias: true, activation: 'silu', seed: 9 }, 2.5e-2, true],
];

describe('whole-model gradient vs finite differences of the loss', () => {
  for (const [name, cfg, h, hole] of CASES) {
    it(name, async () => {
      const floor = 2.5e-4 / h;
      const model = new Seq2SeqTransformer(cfg);
      jitter(model, 11);
      const ex = randomExamples(5, [6, 3], [4, 1], { src: cfg.srcVocab, tgt: cfg.tgtVocab });
      const b = batchOf(cfg, ex);
      expect([b.srcLen, b.tgtLen, ...b.srcLengths, ...b.tgtLengths]).toEqual([6, 5, 6, 3, 5, 2]);  // padding on both sides
      if (hole) Object.assign(b, { srcMask: Uint8Array.from([1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]) });
      const { loss, grads } = await lossAndGrads(model, b);
      expect(Number.isFinite(loss)).toBe(true);
      expect(lossOf(model, b)).toBe(loss);  // recording the tape does not change the forward
      const rng = new Rng(99);
      const checks: Check[] = [];
      const seen = new Set<Parameter>();
      const L = (): number => lossOf(model, b);
      let total = 0;
      for (const g of grads.values()) total = Math.max(total, norm(g));
      for (const [pname, p] of model.namedParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        if (!p.requiresGrad) {  // a fixed buffer (final_logits_bias): no gradient at all
          expect(grads.get(pname)!.every((v) => v === 0), `${pname}: a fixed buffer got a gradient`).toBe(true);
          continue;
        }
        const g = grads.get(pname)!;
        const gn = norm(g);
        // Softmax is invariant to a shift of all scores of a query: q.(k_j + b) = q.k_j + q.b, so the
        // key bias has zero gradient; everything else must get some gradient.
        if (pname.endsWith('k_proj.bias')) expect(gn, `${pname}: key bias gradient`).toBeLessThan(1e-5 * total);
        else expect(gn, `${pname}: zero gradient`).toBeGreaterThan(1e-4 * total);
        const dirs: [string, Float64Array][] = [];
        dirs.push(['random direction', unit(Float64Array.from({ length: p.size }, () => rng.normal()))]);
        if (gn > 0) dirs.push(['G/|G|', unit(Float64Array.from(g))]);
        let imax = 0;
        for (let i = 1; i < g.length; ++i) if (Math.abs(g[i]!) > Math.abs(g[imax]!)) imax = i;
        for (const i of new Set([imax, rng.int(0, p.size - 1), rng.int(0, p.size - 1)])) {
          const d = new Float64Array(p.size);
          d[i] = 1;
          dirs.push([`entry ${i}`, d]);
        }
        for (const [what, d] of dirs) {
          const r = directional(p, g, d, h, L);
          checks.push({ name: pname, what, err: Math.abs(r.fd - r.an) / Math.max(gn, floor), an: r.an, fd: r.fd, gnorm: gn });
        }
      }
      checks.sort((x, y) => y.err - x.err);
      const w = checks[0]!;
      console.log(`${name}: ${checks.length} checks over ${seen.size} tensors (h ${h}), worst error ${w.err.toExponential(2)} at ${w.name} ` +
        `(${w.what}): fd ${w.fd.toPrecision(6)}, analytic ${w.an.toPrecision(6)}, |G| ${w.gnorm.toPrecision(3)}`);
      const w2 = checks.find((c) => !c.name.endsWith('k_proj.bias'))!;
      console.log(`  worst where the true gradient is not 0: ${w2.err.toExponential(2)} at ${w2.name} (${w2.what}): fd ${w2.fd.toPrecision(6)}, analytic ${w2.an.toPrecision(6)}`);
      if (process.env.GRADCHECK_VERBOSE) for (const c of checks.slice(0, 20)) console.log('  ', c.name, c.what, c.err.toExponential(2), c.fd, c.an, c.gnorm);
      for (const c of checks) expect(c.err, `${c.name} (${c.what}): fd ${c.fd} vs analytic ${c.an}`).toBeLessThan(TOL);
    });
  }
});
