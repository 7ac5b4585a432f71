// Backward kernel against the float64 reference on the shared cases (helpers/cases.ts). The
// kernel is fed its own forward's out and lse, as in training. Gradient outputs are passed
// pre-filled with NaN so an element left unwritten (padding rows, keys nobody sees) shows up.
import { describe, expect, it } from 'vitest';
import { kernels } from '../dist/index.js';
import { attentionCases, caseData } from './helpers/cases.js';
import { expectGradsClose } from './helpers/gradients.js';
import { expectNoNaN, expectSameBits } from './helpers/metrics.js';
import { poisoned } from './helpers/random.js';
import { allowed, referenceBackward } from './helpers/reference.js';

describe('attentionBackward vs float64 reference', () => {
  for (const c of attentionCases()) {
    it(c.name, () => {
      const { q, k, v, dout } = caseData(c);
      const s = c.shape;
      const fwd = kernels.attentionForward(q, k, v, s, c.opts);
      const into = { dq: poisoned(q.length), dk: poisoned(k.length), dv: poisoned(v.length) };
      const got = kernels.attentionBackward(q, k, v, fwd.out, fwd.lse, dout, s, { ...c.opts, into });
      expect(got.dq).toBe(into.dq);
      expect(got.dk).toBe(into.dk);
      expect(got.dv).toBe(into.dv);
      for (const name of ['dq', 'dk', 'dv'] as const) expectNoNaN(got[name], name);

      const ref = referenceBackward(q, k, v, dout, s, c.opts);
      const scale = c.opts.scale ?? 1 / Math.sqrt(s.headDim);
      expectGradsClose(got, ref, s, scale, { q, k, v, dout }, 1e-4);

      // Rows that see no key (padding rows included) give exactly zero dq; keys that no row of any
      // query head of their kv head sees get exactly zero dk and dv.
      const H = s.heads, Hkv = s.kvHeads ?? H, G = H / Hkv, D = s.headDim;
      const rowSees = (b: number, h: number, i: number) => {
        for (let j = 0; j < s.kvLen; ++j) if (allowed(s, c.opts, b, h, i, j)) return true;
        return false;
      };
      const keySeen = (b: number, hk: number, j: number) => {
        for (let h = hk * G; h < (hk + 1) * G; ++h)
          for (let i = 0; i < s.qLen; ++i) if (allowed(s, c.opts, b, h, i, j)) return true;
        return false;
      };
      for (let b = 0; b < s.batch; ++b) {
        for (let h = 0; h < H; ++h)
          for (let i = 0; i < s.qLen; ++i)
            if (!rowSees(b, h, i))
              for (let d = 0; d < D; ++d) {
                const g = got.dq[((b * s.qLen + i) * H + h) * D + d];
                if (g !== 0) expect.fail(`dq of a row with no key (b ${b}, h ${h}, i ${i}) is ${g}, expected 0`);
              }
        for (let hk = 0; hk < Hkv; ++hk)
          for (let j = 0; j < s.kvLen; ++j)
            if (!keySeen(b, hk, j))
              for (let d = 0; d < D; ++d) {
                const at = ((b * s.kvLen + j) * Hkv + hk) * D + d;
                if (got.dk[at] !== 0 || got.dv[at] !== 0)
                  expect.fail(`dk/dv of a key nobody sees (b ${b}, kv head ${hk}, j ${j}) are ${got.dk[at]}/${got.dv[at]}, expected 0`);
              }
      }

      const fresh = kernels.attentionBackward(q, k, v, fwd.out, fwd.lse, dout, s, c.opts);
      for (const name of ['dq', 'dk', 'dv'] as const) expectSameBits(fresh[name], got[name], `${name} (allocated vs into)`);
    });
  }
});
