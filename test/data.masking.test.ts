// Static and dynamic masking (MaskedBatchSource): what is drawn when, determinism, independence
// from batch order and size, and bit-identical resume through the loader state.
import { describe, expect, it } from 'vitest';
import { CharTokenizer, MaskedBatchSource, generateDateText, maskedEvalBatches, withMaskTokens } from '../dist/data/index.js';
import type { MaskedSourceOptions, Seq2SeqBatch } from '../dist/data/index.js';

const texts = generateDateText({ count: 40, seed: 3, maxSentences: 1 });
const tok = withMaskTokens(CharTokenizer.fromTexts(texts), { sentinels: 20 });
const docs = texts.map((t) => tok.encode(t));

const source = (o: Partial<MaskedSourceOptions> = {}): MaskedBatchSource =>
  new MaskedBatchSource(docs, tok, { noising: { objective: 'infill' }, masking: 'dynamic', batchSize: 8, seed: 5, ...o });

/** Every example of `batches`, keyed "epoch:index" -> its source row (padding cut off). */
function rowsOf(batches: readonly { epoch: number; batch: Seq2SeqBatch }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { epoch, batch } of batches) {
    for (let r = 0; r < batch.batch; r++) {
      const src = batch.src.subarray(r * batch.srcLen, r * batch.srcLen + batch.srcLengths[r]!);
      out.set(`${epoch}:${batch.indices[r]}`, src.join(','));
    }
  }
  return out;
}

function take(s: MaskedBatchSource, n: number): { epoch: number; batch: Seq2SeqBatch }[] {
  return Array.from({ length: n }, () => { const batch = s.next(); return { epoch: s.epoch, batch }; });
}

describe('dynamic masking', () => {
  it('draws a fresh mask for each example every epoch', () => {
    const s = source();
    const rows = rowsOf(take(s, 10));  // 5 batches an epoch: epochs 0 and 1
    let differ = 0;
    for (let i = 0; i < docs.length; i++) if (rows.get(`0:${i}`) !== rows.get(`1:${i}`)) differ++;
    expect(differ).toBeGreaterThan(docs.length * 0.8);
  });

  it('masks depend on (seed, epoch, index) only: not on batch size, order or shuffling', () => {
    const a = rowsOf(take(source({ batchSize: 8 }), 10));
    const b = rowsOf(take(source({ batchSize: 5, shuffle: false }), 16));
    for (const [k, v] of a) expect(b.get(k)).toBe(v);
    const other = rowsOf(take(source({ seed: 6 }), 5));
    let same = 0;
    for (const [k, v] of other) if (a.get(k) === v) same++;
    expect(same).toBeLessThan(docs.length * 0.3);
    expect(source().exampleAt(3, 7)).toEqual(source().exampleAt(3, 7));
  });

  it('a run resumed from the loader state continues with bit-identical batches', () => {
    const full = source();
    const all = take(full, 13);
    const first = source();
    take(first, 6);
    const saved = JSON.parse(JSON.stringify(first.state()));
    const resumed = source();
    resumed.restore(saved);
    const rest = take(resumed, 7);
    rest.forEach((r, i) => {
      const want = all[6 + i]!.batch;
      expect(r.epoch).toBe(all[6 + i]!.epoch);
      expect(Array.from(r.batch.src)).toEqual(Array.from(want.src));
      expect(Array.from(r.batch.tgtIn)).toEqual(Array.from(want.tgtIn));
      expect(Array.from(r.batch.labels)).toEqual(Array.from(want.labels));
      expect(Array.from(r.batch.indices)).toEqual(Array.from(want.indices));
    });
    // A state from another data set or options is refused.
    expect(() => source({ batchSize: 4 }).restore(saved)).toThrow(/fingerprint/);
  });
});

describe('static masking', () => {
  it('draws masks once: the same example is served with the same mask every epoch', () => {
    const s = source({ masking: 'static' });
    const rows = rowsOf(take(s, 10));
    for (let i = 0; i < docs.length; i++) expect(rows.get(`1:${i}`)).toBe(rows.get(`0:${i}`));
  });

  it('duplicates: K copies of each document with K different masks, served per epoch', () => {
    const s = source({ masking: 'static', duplicates: 3 });
    expect(s.numExamples).toBe(docs.length * 3);
    expect(s.batchesPerEpoch).toBe(15);
    const copies = [0, 1, 2].map((d) => s.exampleAt(4, d).src.join(','));
    expect(new Set(copies).size).toBe(3);
    // Copy d is the example dynamic masking would serve in epoch d: both draw from keyedRng(seed, d, i).
    expect(source().exampleAt(4, 2)).toEqual(s.exampleAt(4, 2));
    const served = rowsOf(take(s, 15));
    expect(served.size).toBe(docs.length * 3);
  });

  it('is deterministic and resumes bit-identically too', () => {
    const all = take(source({ masking: 'static', duplicates: 2 }), 12);
    const first = source({ masking: 'static', duplicates: 2 });
    take(first, 4);
    const resumed = source({ masking: 'static', duplicates: 2 });
    resumed.restore(first.state());
    take(resumed, 8).forEach((r, i) => expect(Array.from(r.batch.src)).toEqual(Array.from(all[4 + i]!.batch.src)));
  });
});

describe('batches for the trainer', () => {
  it('mlm: decoder input = [BOS, original], labels = original only at chosen positions', () => {
    const s = source({ noising: { objective: 'mlm', maskRate: 0.3 }, shuffle: false });
    const b = s.next();
    let counted = 0;
    for (let r = 0; r < b.batch; r++) {
      const doc = docs[b.indices[r]!]!;
      const row = b.tgtIn.subarray(r * b.tgtLen, (r + 1) * b.tgtLen);
      expect(row[0]).toBe(tok.bosId);
      expect(Array.from(row.subarray(1, doc.length + 1))).toEqual(Array.from(doc));
      const labels = b.labels.subarray(r * b.tgtLen, (r + 1) * b.tgtLen);
      const src = b.src.subarray(r * b.srcLen, r * b.srcLen + b.srcLengths[r]!);
      for (let t = 0; t < b.tgtLen; t++) {
        if (labels[t] === -100) continue;
        counted++;
        expect(labels[t]).toBe(doc[t]);  // label t is token t of the original
        expect(t).toBeLessThan(doc.length);  // EOS is not scored
      }
      expect(src[src.length - 1]).toBe(tok.eosId);
    }
    expect(b.numTargetTokens).toBe(counted);
    expect(counted).toBeGreaterThan(0);
  });

  it('span and infill: labels are the target and EOS; eval batches are fixed', () => {
    const s = source({ noising: { objective: 'span' }, shuffle: false });
    const b = s.next();
    expect(tok.sentinelIds).toContain(b.tgtIn[1]);  // the target starts with <extra_id_0>
    expect(b.numTargetTokens).toBe(Array.from(b.tgtLengths).reduce((x, y) => x + y, 0));
    const e1 = maskedEvalBatches(docs, tok, { noising: { objective: 'infill' }, batchSize: 16, seed: 1 });
    const e2 = maskedEvalBatches(docs, tok, { noising: { objective: 'infill' }, batchSize: 16, seed: 1 });
    expect(e1.length).toBe(3);
    expect(e1.map((x) => Array.from(x.src))).toEqual(e2.map((x) => Array.from(x.src)));
  });

  it('rejects bad options with errors naming them', () => {
    expect(() => source({ masking: 'sometimes' as never })).toThrow(/masking: expected 'static' or 'dynamic'/);
    expect(() => source({ masking: 'static', duplicates: 0 })).toThrow(/duplicates/);
    expect(() => source({ duplicates: 2 })).toThrow(/duplicates: only meaningful with masking: 'static'/);
    expect(() => source({ noising: { objective: 'infill', infillRate: 2 } })).toThrow(/noising\.infillRate/);
    expect(() => new MaskedBatchSource([[1, 2]] as never, tok, { noising: { objective: 'mlm' }, masking: 'dynamic', batchSize: 2 })).toThrow(/documents\[0\]/);
  });
});
