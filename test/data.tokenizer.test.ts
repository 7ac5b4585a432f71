import { describe, expect, it } from 'vitest';
import { CharTokenizer, WordTokenizer, tokenizerFromJSON, splitWords } from '../dist/data/index.js';

const texts = ['hello world', 'hello there', 'Hello, World!'];

describe('CharTokenizer', () => {
  it('puts specials at ids 0..3 and orders characters by frequency, ties by code unit', () => {
    const t = CharTokenizer.fromTexts(['abb', 'b c']);
    expect([t.padId, t.bosId, t.eosId, t.unkId]).toEqual([0, 1, 2, 3]);
    expect(t.vocabSize).toBe(8);
    // b:3, then a, ' ', c with 1 each ordered by code unit: ' ' (32) < 'a' < 'c'
    expect([4, 5, 6, 7].map((i) => t.idToToken(i))).toEqual(['b', ' ', 'a', 'c']);
    expect(Array.from(t.encode('abc'))).toEqual([6, 4, 7]);
  });

  it('round-trips text, with BOS/EOS and skipSpecial', () => {
    const t = CharTokenizer.fromTexts(texts);
    for (const s of texts) {
      const ids = t.encode(s, { addBos: true, addEos: true });
      expect(ids[0]).toBe(t.bosId);
      expect(ids[ids.length - 1]).toBe(t.eosId);
      expect(ids.length).toBe(s.length + 2);
      expect(t.decode(ids, { skipSpecial: true })).toBe(s);
      expect(t.decode(ids)).toBe(`<s>${s}</s>`);
    }
    expect(t.decode([t.padId, t.padId], { skipSpecial: true })).toBe('');
  });

  it('maps unknown characters to UNK and keeps UNK visible when skipping specials', () => {
    const t = CharTokenizer.fromTexts(['ab']);
    const ids = t.encode('axb');
    expect(Array.from(ids)).toEqual([t.tokenToId('a'), t.unkId, t.tokenToId('b')]);
    expect(t.decode(ids, { skipSpecial: true })).toBe('a<unk>b');
  });

  it('does not turn the text of a special token into that token', () => {
    const t = CharTokenizer.fromTexts(['<s>']);
    expect(Array.from(t.encode('<s>'))).not.toContain(t.bosId);
    expect(t.decode(t.encode('<s>'))).toBe('<s>');
  });

  it('treats a code point outside the BMP as one token', () => {
    const t = CharTokenizer.fromTexts(['a😀b']);
    expect(t.encode('😀').length).toBe(1);
    expect(t.decode(t.encode('a😀b'))).toBe('a😀b');
  });

  it('honours minFreq, maxVocab and lowercase', () => {
    const t = CharTokenizer.fromTexts(['aaab', 'AAc'], { minFreq: 2 });
    expect(t.vocabSize).toBe(6); // specials + a + A
    expect(t.encode('b')[0]).toBe(t.unkId);
    const l = CharTokenizer.fromTexts(['aaab', 'AAc'], { lowercase: true, maxVocab: 5 });
    expect(l.vocabSize).toBe(5);
    expect(l.idToToken(4)).toBe('a');
    expect(Array.from(l.encode('A'))).toEqual([4]);
    expect(l.encode('b')[0]).toBe(l.unkId);
    expect(() => CharTokenizer.fromTexts(['a'], { maxVocab: 3 })).toThrow(/maxVocab/);
    expect(() => CharTokenizer.fromTexts(['a'], { minFreq: 0 })).toThrow(/minFreq/);
  });

  it('accepts configured special ids and strings', () => {
    const t = CharTokenizer.fromTexts(['xyz'], { specialIds: { pad: 6, bos: 0, eos: 1, unk: 2 }, specialTokens: { pad: '_' } });
    expect([t.padId, t.bosId, t.eosId, t.unkId]).toEqual([6, 0, 1, 2]);
    expect([3, 4, 5].map((i) => t.idToToken(i))).toEqual(['x', 'y', 'z']);
    expect(t.idToToken(6)).toBe('_');
    expect(t.decode([3, 6, 6])).toBe('x__');
    expect(() => CharTokenizer.fromTexts(['x'], { specialIds: { pad: 1 } })).toThrow(/specialIds\.bos: id 1 is already used by pad/);
    expect(() => CharTokenizer.fromTexts(['x'], { specialIds: { pad: 9 } })).toThrow(/specialIds\.pad/);
  });

  it('rejects out-of-range ids in decode, naming the index', () => {
    const t = CharTokenizer.fromTexts(['ab']);
    expect(() => t.decode([4, 99])).toThrow(/ids\[1\].*\[0, 6\)/);
    expect(() => t.decode([-1])).toThrow(RangeError);
  });
});

describe('WordTokenizer', () => {
  it('splits words and punctuation', () => {
    expect(splitWords('Tuesday, March 3rd, 2021!')).toEqual(['Tuesday', ',', 'March', '3rd', ',', '2021', '!']);
    expect(splitWords('  3-Mar-2021  03/03/2021 2021.3.3 ')).toEqual(
      ['3', '-', 'Mar', '-', '2021', '03', '/', '03', '/', '2021', '2021', '.', '3', '.', '3']);
  });

  it('round-trips conventionally spaced text', () => {
    const samples = [
      'Hello, world!', 'the 3rd of March, 2021', 'Tuesday, March 3, 2021', '3-Mar-2021', '03/03/2021',
      '2021.3.3', "don't (really) stop.", 'It costs 3.5 euros; ok?',
    ];
    const t = WordTokenizer.fromTexts(samples);
    for (const s of samples) expect(t.decode(t.encode(s))).toBe(s);
  });

  it('maps unknown words to UNK and lower-cases when asked', () => {
    const t = WordTokenizer.fromTexts(['The cat sat', 'the dog'], { lowercase: true });
    expect(t.tokenToId('The')).toBeUndefined();
    const ids = t.encode('THE bird sat', { addEos: true });
    expect(Array.from(ids)).toEqual([t.tokenToId('the'), t.unkId, t.tokenToId('sat'), t.eosId]);
    expect(t.decode(ids, { skipSpecial: true })).toBe('the <unk> sat');
    expect(t.vocabSize).toBe(4 + 4);
  });
});

describe('tokenizer JSON', () => {
  it('saves and loads both kinds to identical behaviour', () => {
    for (const t of [CharTokenizer.fromTexts(texts, { lowercase: true }), WordTokenizer.fromTexts(texts)]) {
      const json = JSON.stringify(t.toJSON());
      const back = t.type === 'char' ? CharTokenizer.fromJSON(json) : WordTokenizer.fromJSON(JSON.parse(json));
      expect(back.toJSON()).toEqual(t.toJSON());
      const any = tokenizerFromJSON(json);
      expect(any.type).toBe(t.type);
      for (const s of [...texts, 'unseen QQ']) {
        expect(Array.from(back.encode(s, { addBos: true }))).toEqual(Array.from(t.encode(s, { addBos: true })));
        expect(Array.from(any.encode(s))).toEqual(Array.from(t.encode(s)));
      }
      expect(t.toJSON().version).toBe(1);
      expect(t.toJSON().format).toBe('attnode-tokenizer');
    }
  });

  it('names the corrupt field', () => {
    const good = CharTokenizer.fromTexts(['abc']).toJSON();
    const bad = (patch: Record<string, unknown>): string => JSON.stringify({ ...good, ...patch });
    expect(() => CharTokenizer.fromJSON('{not json')).toThrow(/not valid JSON/);
    expect(() => CharTokenizer.fromJSON(null)).toThrow(/expected an object/);
    expect(() => CharTokenizer.fromJSON(bad({ format: 'x' }))).toThrow(/'format'/);
    expect(() => CharTokenizer.fromJSON(bad({ version: 2 }))).toThrow(/'version'.*got 2/);
    expect(() => CharTokenizer.fromJSON(bad({ version: undefined }))).toThrow(/'version'/);
    expect(() => CharTokenizer.fromJSON(bad({ type: 'bpe' }))).toThrow(/'type'/);
    expect(() => CharTokenizer.fromJSON(bad({ type: 'word' }))).toThrow(/'type': expected 'char'/);
    expect(() => CharTokenizer.fromJSON(bad({ lowercase: 'no' }))).toThrow(/'lowercase'/);
    expect(() => CharTokenizer.fromJSON(bad({ vocab: 'abc' }))).toThrow(/'vocab'/);
    expect(() => CharTokenizer.fromJSON(bad({ vocab: [...good.vocab.slice(0, 5), 7] }))).toThrow(/'vocab\[5\]'/);
    expect(() => CharTokenizer.fromJSON(bad({ vocab: [...good.vocab, 'a'] }))).toThrow(/'vocab\[7\]'.*repeats vocab\[4\]/);
    expect(() => CharTokenizer.fromJSON(bad({ vocab: [...good.vocab, 'xy'] }))).toThrow(/'vocab\[7\]'.*one character/);
    expect(() => CharTokenizer.fromJSON(bad({ specialIds: { pad: 0, bos: 1, eos: 2 } }))).toThrow(/'specialIds\.unk'/);
    expect(() => CharTokenizer.fromJSON(bad({ specialIds: { pad: 0, bos: 1, eos: 2, unk: 70 } }))).toThrow(/'specialIds\.unk'/);
    expect(() => CharTokenizer.fromJSON(bad({ specialIds: { pad: 0, bos: 0, eos: 2, unk: 3 } }))).toThrow(/'specialIds\.bos'.*twice/);
    expect(() => WordTokenizer.fromJSON({ ...WordTokenizer.fromTexts(['a b']).toJSON(), vocab: ['<pad>', '<s>', '</s>', '<unk>', 'a b'] }))
      .toThrow(/'vocab\[4\]'/);
    expect(() => tokenizerFromJSON(bad({ type: 7 }))).toThrow(/'type'/);
  });
});
