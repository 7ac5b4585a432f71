// Forward kernel against the float64 reference, for every mask kind alone and combined, GQA,
// Tq != Tk both ways, and the shapes of helpers/cases.ts. Outputs are passed pre-filled with NaN so
// an element the kernel forgets to write (padding rows included) shows up.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { attentionCases, caseData } from './helpers/cases.js';
import { expectClose, expectLse, expectNoNaN, expectSameBits } from './helpers/metrics.js';
import { poisoned } from './helpers/random.js';
import { referenceForward } from './helpers/reference.js';

describe('attentionForward vs float64 reference', () => {
  for (const c of attentionCases()) {
    it(c.name, () => {
      const { q, k, v } = caseData(c);
      const s = c.shape;
      const into = { out: poisoned(q.length), lse: poisoned(s.batch * s.heads * s.qLen) };
      const got = kernels.attentionForward(q, k, v, s, { ...c.opts, into });
      expect(got.out).toBe(into.out);
      expect(got.lse).toBe(into.lse);
      expectNoNaN(got.out, 'out');
      expectNoNaN(got.lse, 'lse');

      const ref = referenceForward(q, k, v, s, c.opts);
      expectClose(got.out, ref.out, 1e-5, 'out');
      expectLse(got.lse, ref.lse, 1e-5);
      // Rows with no key (padding included) are exactly 0.
      const D = s.headDim;
      for (let b = 0; b < s.batch; ++b)
        for (let h = 0; h < s.heads; ++h)
          for (let i = 0; i < s.qLen; ++i)
            if (ref.lse[(b * s.heads + h) * s.qLen + i] === -Infinity)
              for (let d = 0; d < D; ++d) {
                const x = got.out[((b * s.qLen + i) * s.heads + h) * D + d];
                if (x !== 0) expect.fail(`out of empty row (b ${b}, h ${h}, i ${i}) is ${x}, expected 0`);
              }

      // The allocating form gives the same bits as the `into` form.
      const fresh = kernels.attentionForward(q, k, v, s, c.opts);
      expectSameBits(fresh.out, got.out, 'out (allocated vs into)');
      expectSameBits(fresh.lse, got.lse, 'lse (allocated vs into)');
    });
  }
});

// DESIGN.md: bias is added to the scaled scores and only -Infinity blocks. Finite extremes must
// therefore behave as the math says. -3.4028235e38 (float32's lowest) is what Hugging Face puts in
// additive attention masks; a row where every key has it is a softmax of equal scores (uniform),
// not a blocked row.
describe('attentionForward with extreme finite bias', () => {
  const s = { batch: 1, heads: 1, qLen: 3, kvLen: 5, headDim: 8 };
  const c = { name: '', shape: s, opts: {}, seed: 77 };
  const { q, k, v } = caseData(c);
  for (const [name, value] of [['float32 lowest (-3.4028235e38)', -3.4028234663852886e38], ['+3e38', 3e38]] as const) {
    it(`a row whose every key has bias ${name} is a softmax, not blocked and not NaN`, () => {
      const data = new Float32Array(s.qLen * s.kvLen).fill(0.25);
      data.fill(value, s.kvLen, 2 * s.kvLen);  // row 1: every key at the extreme
      const opts = { bias: { data } };
      const got = kernels.attentionForward(q, k, v, s, opts);
      const ref = referenceForward(q, k, v, s, opts);
      expectNoNaN(got.out, 'out');
      expectNoNaN(got.lse, 'lse');
      expectClose(got.out, ref.out, 1e-5, 'out');
      expectLse(got.lse, ref.lse, 1e-5);
    });
  }
});
