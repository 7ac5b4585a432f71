// Noising objectives (lib/data/noising): statistics over many seeded draws, edge cases, the
// mask/sentinel tokens and option errors.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CharTokenizer, WordTokenizer, infillNoise, keyedRng, mlmNoise, noiseExample, poisson, resolveNoising, spanNoise,
  tokenizerFromJSON, withMaskTokens,
} from '../dist/data/index.js';
import { ByteLevelBpeTokenizer } from '../dist/data/hf-bpe.js';
import { MarianTokenizer } from '../dist/data/hf-marian-tokenizer.js';

const TEXTS = ['the 3rd of March, 2021', 'Wednesday, March 3, 2021', '03/03/2021', 'hello world', 'Mr. Smith.'];
const base = CharTokenizer.fromTexts(TEXTS);
const tok = withMaskTokens(base, { sentinels: 40 });
const MASK = tok.maskId!;

/** A sequence of n regular (non-special) ids. */
function seq(n: number, seed = 0): Int32Array {
  const r = keyedRng(seed, 0, n, 9);
  const pool: number[] = [];
  for (let id = 0; id < base.vocabSize; id++) if (!tok.isSpecial(id)) pool.push(id);
  return Int32Array.from({ length: n }, () => pool[r.int(pool.length)]!);
}

describe('withMaskTokens', () => {
  it('appends <mask> and sentinels after the last id, leaving every existing id and round trip unchanged', () => {
    expect(tok.vocabSize).toBe(base.vocabSize + 41);
    expect(tok.maskId).toBe(base.vocabSize);
    expect(tok.sentinelIds).toEqual(Array.from({ length: 40 }, (_, k) => base.vocabSize + 1 + k));
    for (let id = 0; id < base.vocabSize; id++) expect(tok.idToToken(id)).toBe(base.idToToken(id));
    expect(tok.idToToken(tok.sentinelIds[3]!)).toBe('<extra_id_3>');
    for (const s of TEXTS) {
      expect(Array.from(tok.encode(s, { addEos: true }))).toEqual(Array.from(base.encode(s, { addEos: true })));
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    // Special: text spelling them does not produce them, and skipSpecial leaves them out.
    expect(tok.isSpecial(MASK)).toBe(true);
    expect(tok.tokenToId('<mask>')).toBeUndefined();
    expect(tok.decode([MASK, ...tok.encode('hello')], { skipSpecial: true })).toBe('hello');
    expect(tok.decode([MASK, tok.sentinelIds[0]!])).toBe('<mask><extra_id_0>');
  });

  it('survives toJSON / tokenizerFromJSON and is idempotent', () => {
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(back.maskId).toBe(tok.maskId);
    expect(back.sentinelIds).toEqual(tok.sentinelIds);
    expect(back.vocabSize).toBe(tok.vocabSize);
    const again = withMaskTokens(tok, { sentinels: 40 });
    expect(again.toJSON()).toEqual(tok.toJSON());
    const more = withMaskTokens(tok, { sentinels: 42 });
    expect(more.sentinelIds.slice(0, 40)).toEqual(tok.sentinelIds);
    expect(more.vocabSize).toBe(tok.vocabSize + 2);
    // A file without the new fields loads as before (no mask).
    expect(CharTokenizer.fromJSON(base.toJSON()).maskId).toBeUndefined();
  });

  it('works for the word tokenizer and rejects corrupt mask fields', () => {
    const w = WordTokenizer.fromTexts(TEXTS);
    const wm = withMaskTokens(w, { sentinels: 2 });
    expect(wm.maskId).toBe(w.vocabSize);
    expect(wm.decode(wm.encode('hello world'))).toBe('hello world');
    const j = tok.toJSON();
    expect(() => tokenizerFromJSON({ ...j, maskId: j.specialIds.pad })).toThrow(/'maskId'.*twice/);
    expect(() => tokenizerFromJSON({ ...j, maskId: j.vocab.length })).toThrow(/'maskId'/);
    expect(() => tokenizerFromJSON({ ...j, sentinelIds: 'x' })).toThrow(/'sentinelIds'/);
    expect(() => withMaskTokens(base, { sentinels: -1 })).toThrow(/sentinels/);
  });

  it("uses a Hugging Face BPE tokenizer's own <mask> and appends sentinels after its vocabulary", async () => {
    const dir = path.join(import.meta.dirname, 'fixtures', 'hf-bpe');
    const bpe = await ByteLevelBpeTokenizer.fromHfFolder(dir);
    expect(bpe.maskId).toBe(4);  // tokenizer.json's added token '<mask>'
    const m = withMaskTokens(bpe, { sentinels: 3 });
    expect(m.maskId).toBe(4);
    expect(m.vocabSize).toBe(bpe.vocabSize + 3);
    expect(m.sentinelIds).toEqual([bpe.vocabSize, bpe.vocabSize + 1, bpe.vocabSize + 2]);
    const text = 'Byte-level BPE, the tokenizer of BART.';
    expect(Array.from(m.encode(text))).toEqual(Array.from(bpe.encode(text)));
    expect(m.decode(m.encode(text))).toBe(text);
    expect(m.isSpecial(4)).toBe(true);
    expect(m.isSpecial(m.sentinelIds[0]!)).toBe(true);
  });

  it('refuses a Marian tokenizer (it has no <mask>) with a clear error', async () => {
    const marian = await MarianTokenizer.fromHfFolder(path.join(import.meta.dirname, 'fixtures', 'hf-spm'));
    expect(() => withMaskTokens(marian as never)).toThrow(/Marian tokenizer has no <mask>/);
  });
});

describe('mlm', () => {
  it('chooses 15% of tokens, 80% of them <mask>, 10% random non-special, 10% unchanged; labels only where chosen', () => {
    let n = 0, chosen = 0, masked = 0, random = 0, same = 0;
    for (let d = 0; d < 400; d++) {
      const ids = seq(50, d);
      const r = mlmNoise(ids, tok, keyedRng(1, 0, d), { objective: 'mlm' });
      expect(r.input.length).toBe(ids.length);
      n += ids.length;
      for (let i = 0; i < ids.length; i++) {
        if (r.labels[i] === -100) { expect(r.input[i]).toBe(ids[i]); continue; }
        chosen++;
        expect(r.labels[i]).toBe(ids[i]);
        if (r.input[i] === MASK) masked++;
        else if (r.input[i] === ids[i]) same++;
        else { random++; expect(tok.isSpecial(r.input[i]!)).toBe(false); }
      }
      expect(r.chosen).toBe(Array.from(r.labels).filter((v) => v !== -100).length);
    }
    // 20,000 tokens: sd of the chosen share is 0.25%; of the 80/10/10 split about 0.8%, 0.6%, 0.6%.
    expect(chosen / n).toBeGreaterThan(0.14);
    expect(chosen / n).toBeLessThan(0.16);
    expect(masked / chosen).toBeGreaterThan(0.77);
    expect(masked / chosen).toBeLessThan(0.83);
    // A random draw may hit the original id (1 in ~20 here): it counts as unchanged, so allow for it.
    expect(random / chosen).toBeGreaterThan(0.075);
    expect(random / chosen).toBeLessThan(0.115);
    expect(same / chosen).toBeGreaterThan(0.085);
    expect(same / chosen).toBeLessThan(0.125);
  });

  it('handles empty, one token and all masked', () => {
    const r0 = mlmNoise(new Int32Array(0), tok, keyedRng(0, 0, 0), { objective: 'mlm' });
    expect(r0.input.length).toBe(0);
    expect(r0.chosen).toBe(0);
    const ids = seq(30);
    const all = mlmNoise(ids, tok, keyedRng(0, 0, 0), { objective: 'mlm', maskRate: 1, maskTokenRate: 1, randomTokenRate: 0 });
    expect(Array.from(all.input)).toEqual(Array(30).fill(MASK));
    expect(Array.from(all.labels)).toEqual(Array.from(ids));
    const one = mlmNoise(seq(1), tok, keyedRng(0, 0, 0), { objective: 'mlm', maskRate: 1, maskTokenRate: 1, randomTokenRate: 0 });
    expect(Array.from(one.input)).toEqual([MASK]);
  });

  it('as a seq2seq example: target = the original, labels only at chosen positions (EOS not scored)', () => {
    const ids = seq(20);
    const o = resolveNoising({ objective: 'mlm', maskRate: 0.5 }, tok);
    const ex = noiseExample(ids, tok, o, keyedRng(3, 0, 0), { sourceEos: tok.eosId });
    expect(ex.src.length).toBe(21);
    expect(ex.src[20]).toBe(tok.eosId);
    expect(Array.from(ex.tgt)).toEqual(Array.from(ids));
    expect(ex.labels!.length).toBe(21);
    expect(ex.labels![20]).toBe(-100);
    for (let i = 0; i < 20; i++) if (ex.labels![i] !== -100) expect(ex.labels![i]).toBe(ids[i]);
  });
});

describe('infill (BART)', () => {
  it('draws Poisson(3) span lengths, masks infillRate of the tokens, one <mask> per span, target = original', () => {
    let lengths = 0, spans = 0, zero = 0, covered = 0, n = 0;
    for (let d = 0; d < 60; d++) {
      const ids = seq(1000, d);
      const r = infillNoise(ids, tok, keyedRng(2, 0, d), { objective: 'infill' });
      expect(Array.from(r.target)).toEqual(Array.from(ids));
      for (const s of r.spans) { lengths += s.length; spans++; if (s.length === 0) zero++; covered += s.length; }
      n += ids.length;
      // Reconstruct the input from the spans: kept tokens in order, one <mask> per span.
      const expected: number[] = [];
      let at = 0;
      for (const s of r.spans) {
        expected.push(...ids.subarray(at, s.start), MASK);
        at = s.start + s.length;
      }
      expected.push(...ids.subarray(at));
      expect(Array.from(r.input)).toEqual(expected);
    }
    expect(covered / n).toBeGreaterThan(0.29);
    expect(covered / n).toBeLessThan(0.31);
    // ~6000 spans: sd of the mean length about 0.02 (the trimmed last span of each draw pulls it down a little).
    expect(lengths / spans).toBeGreaterThan(2.85);
    expect(lengths / spans).toBeLessThan(3.1);
    expect(zero / spans).toBeGreaterThan(0.035);  // Poisson(3) gives 0 with probability e^-3 = 5.0%
    expect(zero / spans).toBeLessThan(0.065);
  });

  it('inserts a <mask> for a zero-length span, and Poisson draws have mean lambda', () => {
    const r = keyedRng(5, 0, 0);
    let s = 0;
    for (let i = 0; i < 20000; i++) s += poisson(r, 3);
    expect(s / 20000).toBeGreaterThan(2.95);
    expect(s / 20000).toBeLessThan(3.05);
    // Find a draw with an insertion: the input is then one longer than kept tokens + spans.
    let found = false;
    for (let d = 0; d < 500 && !found; d++) {
      const ids = seq(20, d);
      const x = infillNoise(ids, tok, keyedRng(6, 0, d), { objective: 'infill' });
      const z = x.spans.find((sp) => sp.length === 0);
      if (!z) continue;
      found = true;
      const covered = x.spans.reduce((a, sp) => a + sp.length, 0);
      expect(x.input.length).toBe(ids.length - covered + x.spans.length);
    }
    expect(found).toBe(true);
  });

  it('token masking and deletion at their rates, outside spans', () => {
    let n = 0, masked = 0;
    for (let d = 0; d < 40; d++) {
      const ids = seq(500, d);
      const r = infillNoise(ids, tok, keyedRng(7, 0, d), { objective: 'infill', infillRate: 0, tokenMaskRate: 0.2 });
      expect(r.input.length).toBe(500);
      n += 500;
      for (let i = 0; i < 500; i++) if (r.input[i] === MASK) masked++; else expect(r.input[i]).toBe(ids[i]);
    }
    expect(masked / n).toBeGreaterThan(0.19);
    expect(masked / n).toBeLessThan(0.21);
    let kept = 0;
    for (let d = 0; d < 40; d++) {
      const r = infillNoise(seq(500, d), tok, keyedRng(8, 0, d), { objective: 'infill', infillRate: 0, deletionRate: 0.1 });
      kept += r.input.length;
    }
    expect(1 - kept / n).toBeGreaterThan(0.09);
    expect(1 - kept / n).toBeLessThan(0.11);
  });

  it('permutes sentences and rotates the document, keeping every token', () => {
    const dot = tok.encode('.')[0]!;
    const a = tok.encode('hello world.'), b = tok.encode('03/03/2021.'), c = tok.encode('the 3rd of March.');
    const doc = Int32Array.from([...a, ...b, ...c]);
    const seen = new Set<string>();
    for (let d = 0; d < 60; d++) {
      const r = infillNoise(doc, tok, keyedRng(9, 0, d), { objective: 'infill', infillRate: 0, permuteRate: 1, sentenceEndIds: [dot] });
      expect(Array.from(r.input).sort()).toEqual(Array.from(doc).sort());
      expect(Array.from(r.target)).toEqual(Array.from(doc));
      seen.add(tok.decode(r.input));
    }
    // 3 sentences shuffled: all 6 orders appear, each made of whole sentences.
    expect(seen.size).toBe(6);
    for (const s of seen) expect(s.split('.').filter((x) => x).sort()).toEqual(['03/03/2021', 'hello world', 'the 3rd of March']);
    let rotated = 0;
    for (let d = 0; d < 400; d++) {
      const r = infillNoise(doc, tok, keyedRng(10, 0, d), { objective: 'infill', infillRate: 0, rotateRate: 0.5 });
      if (r.rotated) {
        rotated++;
        const text = tok.decode(doc), got = tok.decode(r.input);
        expect((text + text).includes(got)).toBe(true);
        expect(got).not.toBe(text);
      } else expect(Array.from(r.input)).toEqual(Array.from(doc));
    }
    expect(rotated / 400).toBeGreaterThan(0.42);
    expect(rotated / 400).toBeLessThan(0.58);
  });

  it('mixes noises, and handles empty, one token and all masked', () => {
    const mix = infillNoise(seq(200), tok, keyedRng(11, 0, 0), { objective: 'infill', tokenMaskRate: 0.1, deletionRate: 0.1, rotateRate: 1 });
    expect(mix.rotated).toBe(true);
    expect(mix.spans.length).toBeGreaterThan(0);
    const e = infillNoise(new Int32Array(0), tok, keyedRng(0, 0, 0), { objective: 'infill', rotateRate: 1 });
    expect(e.input.length).toBe(0);
    const all = infillNoise(seq(40), tok, keyedRng(0, 0, 0), { objective: 'infill', infillRate: 1 });
    expect(all.spans.reduce((s, sp) => s + sp.length, 0)).toBe(40);
    expect(Array.from(all.input).every((v) => v === MASK)).toBe(true);
    expect(all.input.length).toBe(all.spans.length);
    for (let d = 0; d < 20; d++) {
      const one = infillNoise(seq(1), tok, keyedRng(0, 0, d), { objective: 'infill', infillRate: 1 });
      expect(one.input.length).toBeGreaterThanOrEqual(1);
      expect(Array.from(one.input).every((v) => v === MASK)).toBe(true);
    }
  });
});

describe('span (T5)', () => {
  it('drops 15% of tokens in spans of mean length 3; input has sentinels in their place, target lists them with a final sentinel', () => {
    let noise = 0, spans = 0, n = 0, startsWithSpan = 0, endsWithSpan = 0;
    for (let d = 0; d < 200; d++) {
      const ids = seq(200, d);
      const r = spanNoise(ids, tok, keyedRng(12, 0, d), { objective: 'span' });
      n += ids.length;
      spans += r.spans.length;
      if (r.spans[0]!.start === 0) startsWithSpan++;
      const lastSpan = r.spans[r.spans.length - 1]!;
      if (lastSpan.start + lastSpan.length === ids.length) endsWithSpan++;
      const expectedIn: number[] = [], expectedTgt: number[] = [];
      let at = 0;
      r.spans.forEach((s, k) => {
        noise += s.length;
        expect(s.length).toBeGreaterThan(0);
        expectedIn.push(...ids.subarray(at, s.start), tok.sentinelIds[k]!);
        expectedTgt.push(tok.sentinelIds[k]!, ...ids.subarray(s.start, s.start + s.length));
        at = s.start + s.length;
      });
      expectedIn.push(...ids.subarray(at));
      expectedTgt.push(tok.sentinelIds[r.spans.length]!);
      expect(Array.from(r.input)).toEqual(expectedIn);
      expect(Array.from(r.target)).toEqual(expectedTgt);
    }
    expect(noise / n).toBeCloseTo(0.15, 2);  // round(200 * 0.15) = 30 exactly
    expect(noise / spans).toBeGreaterThan(2.8);
    expect(noise / spans).toBeLessThan(3.2);
    // With the random roll, spans reach both ends of a sequence.
    expect(startsWithSpan).toBeGreaterThan(0);
    expect(endsWithSpan).toBeGreaterThan(0);
  });

  it('follows T5 without the roll: never a span first, always one last', () => {
    for (let d = 0; d < 50; d++) {
      const r = spanNoise(seq(40, d), tok, keyedRng(13, 0, d), { objective: 'span', randomRoll: false });
      expect(r.spans[0]!.start).toBeGreaterThan(0);
      const last = r.spans[r.spans.length - 1]!;
      expect(last.start + last.length).toBe(40);
    }
  });

  it('handles empty, one token and all masked', () => {
    const s0 = tok.sentinelIds[0]!, s1 = tok.sentinelIds[1]!;
    const e = spanNoise(new Int32Array(0), tok, keyedRng(0, 0, 0), { objective: 'span' });
    expect(Array.from(e.input)).toEqual([]);
    expect(Array.from(e.target)).toEqual([s0]);
    const one = seq(1);
    const o = spanNoise(one, tok, keyedRng(0, 0, 0), { objective: 'span' });
    expect(Array.from(o.input)).toEqual(Array.from(one));
    expect(Array.from(o.target)).toEqual([s0]);
    const ids = seq(10);
    const all = spanNoise(ids, tok, keyedRng(0, 0, 0), { objective: 'span', noiseDensity: 1 });
    expect(Array.from(all.input)).toEqual([s0]);
    expect(Array.from(all.target)).toEqual([s0, ...ids, s1]);
  });

  it('says when the tokenizer has too few sentinels', () => {
    const few = withMaskTokens(base, { sentinels: 2 });
    expect(() => spanNoise(seq(200), few, keyedRng(0, 0, 0), { objective: 'span' })).toThrow(/sentinelIds.*needs \d+ sentinels, the tokenizer has 2/);
  });
});

describe('determinism and options', () => {
  it('the same key gives the same noise, another key another', () => {
    const ids = seq(100);
    const o = resolveNoising({ objective: 'infill', tokenMaskRate: 0.1 }, tok);
    const a = noiseExample(ids, tok, o, keyedRng(1, 2, 3));
    const b = noiseExample(ids, tok, o, keyedRng(1, 2, 3));
    const c = noiseExample(ids, tok, o, keyedRng(1, 3, 3));
    expect(Array.from(a.src)).toEqual(Array.from(b.src));
    expect(Array.from(a.src)).not.toEqual(Array.from(c.src));
    expect(() => keyedRng(1, -1, 0)).toThrow(/epoch/);
  });

  it('rejects unknown objectives, rates outside [0, 1], unknown options and a tokenizer without <mask> or sentinels', () => {
    expect(() => resolveNoising({ objective: 'bert' } as never, tok)).toThrow(TypeError);
    expect(() => resolveNoising({ objective: 'bert' } as never, tok)).toThrow(/noising\.objective: expected 'mlm', 'infill', 'span', got "bert"/);
    expect(() => resolveNoising({ objective: 'mlm', maskRate: 1.5 }, tok)).toThrow(RangeError);
    expect(() => resolveNoising({ objective: 'mlm', maskRate: 1.5 }, tok)).toThrow(/noising\.maskRate: expected a number in \[0, 1\], got 1\.5/);
    expect(() => resolveNoising({ objective: 'infill', deletionRate: -0.1 }, tok)).toThrow(/noising\.deletionRate/);
    expect(() => resolveNoising({ objective: 'span', noiseDensity: Number.NaN }, tok)).toThrow(/noising\.noiseDensity/);
    expect(() => resolveNoising({ objective: 'infill', poissonLambda: 0 }, tok)).toThrow(/noising\.poissonLambda/);
    expect(() => resolveNoising({ objective: 'mlm', maskTokenRate: 0.9, randomTokenRate: 0.2 }, tok)).toThrow(/randomTokenRate/);
    expect(() => resolveNoising({ objective: 'mlm', poissonLambda: 3 } as never, tok)).toThrow(/noising\.poissonLambda: not an option of objective 'mlm'/);
    expect(() => resolveNoising({ objective: 'mlm' }, base)).toThrow(TypeError);
    expect(() => resolveNoising({ objective: 'infill' }, base)).toThrow(/objective 'infill' needs a <mask> token/);
    expect(() => resolveNoising({ objective: 'span' }, withMaskTokens(base))).toThrow(/objective 'span' needs sentinel tokens/);
    expect(() => mlmNoise([1, 2] as never, tok, keyedRng(0, 0, 0), { objective: 'mlm' })).toThrow(/ids: expected an Int32Array/);
  });
});
