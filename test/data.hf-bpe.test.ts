// Byte-level BPE (BART/RoBERTa/GPT-2) from Hugging Face tokenizer files, on a hand-built vocabulary:
// the 256 byte symbols plus a few merges, so every expected id below follows from the algorithm's
// definition (bytes_to_unicode, GPT-2's pre-tokenization, merges applied by rank, the
// post-processor's specials), worked out by hand in the comments.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteLevelBpeTokenizer, preTokenize } from '../dist/data/hf-bpe.js';

const SPECIALS = [['<s>', 0], ['<pad>', 1], ['</s>', 2], ['<unk>', 3]] as const;
// bytes_to_unicode: printable Latin-1 stands for itself; the 68 others map to U+0100.. in byte order.
const sym = (b: number): string => {
  const printable = (x: number): boolean => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  if (printable(b)) return String.fromCodePoint(b);
  let n = 0;
  for (let x = 0; x < b; ++x) if (!printable(x)) ++n;
  return String.fromCodePoint(256 + n);
};
const byteId = (b: number): number => 4 + b;   // byte symbols take ids 4..259
const MERGES: [string, string, number][] = [  // pair, id of the merged token; rank = index
  ['Ġ', 't', 260], ['h', 'e', 261], ['Ġt', 'he', 262], ['c', 'a', 263], ['ca', 't', 264], ['Ġ', 'cat', 265],
];

function tokenizerJson(mergeForm: 'strings' | 'pairs', extra: Record<string, unknown> = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; ++b) vocab[sym(b)] = byteId(b);
  for (const [a, c, id] of MERGES) vocab[a + c] = id;
  return {
    version: '1.0', normalizer: null,
    added_tokens: SPECIALS.map(([content, id]) => ({ id, content, special: true })),
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', dropout: null, unk_token: null, vocab, merges: MERGES.map(([a, c]) => (mergeForm === 'strings' ? `${a} ${c}` : [a, c])) },
    ...extra,
  };
}

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'hf-bpe');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-bpe-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function folder(files: Record<string, string>): string {
  const dir = path.join(tmp, `t${n++}`);
  fs.mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}
const load = (json: Record<string, unknown>): Promise<ByteLevelBpeTokenizer> =>
  ByteLevelBpeTokenizer.fromHfFolder(folder({ 'tokenizer.json': JSON.stringify(json) }));

describe('byte-level BPE', () => {
  it('bytes_to_unicode and GPT-2 pre-tokenization', () => {
    expect([sym(32), sym(10), sym(0), sym(0xad), sym(97)]).toEqual(['Ġ', 'Ċ', 'Ā', 'Ń', 'a']);
    expect(preTokenize("I'm here!  ok\n")).toEqual(['I', "'m", ' here', '!', ' ', ' ok', '\n']);
    expect(preTokenize('abc123 x4,5')).toEqual(['abc', '123', ' x', '4', ',', '5']);
  });

  it('merges by rank, every occurrence, and the post-processor specials', async () => {
    const t = await load(tokenizerJson('strings'));
    // "the" -> t h e -> (h e: rank 1) t he -> no merge "t he": [t, he].
    // " cat" -> Ġ c a t -> (c a: 3) Ġ ca t -> (ca t: 4) Ġ cat -> (Ġ cat: 5) Ġcat.
    // " the" -> Ġ t h e -> (Ġ t: 0) Ġt h e -> (h e: 1) Ġt he -> (Ġt he: 2) Ġthe.
    expect([...t.encode('the cat the')]).toEqual([0, byteId(116), 261, 265, 262, 2]);
    expect([...t.encode('caca', { addSpecial: false })]).toEqual([263, 263]);    // both "c a" merge
    expect([...t.encode(' he', { addEos: false })]).toEqual([byteId(32), 261]);  // "Ġ he" is no merge
    expect([...t.encode('é')]).toEqual([0, byteId(0xc3), byteId(0xa9), 2]);     // UTF-8 bytes C3 A9
    expect(t.vocabSize).toBe(266);
    // Targets for training start with the prefix, as transformers' BART labels; </s> on request.
    expect([...t.encodeTarget('the cat')]).toEqual([0, byteId(116), 261, 265, 2]);
    expect([...t.encodeTarget('the cat', { addEos: false })]).toEqual([0, byteId(116), 261, 265]);
  });

  it('special tokens in the text stay whole; decode skips them unless asked', async () => {
    const t = await load(tokenizerJson('pairs'));
    expect([...t.encode('<s>the</s> cat', { addSpecial: false })]).toEqual([0, byteId(116), 261, 2, 265]);
    expect(t.decode([0, 262, 265, 2])).toBe(' the cat');
    expect(t.decode([0, 262, 265, 2], { skipSpecial: false })).toBe('<s> the cat</s>');
    expect(() => t.decode([266])).toThrow(/ids\[0\] = 266 is outside \[0, 266\)/);
  });

  it('decode(encode(text)) is the text, for any Unicode', async () => {
    const t = await load(tokenizerJson('strings'));
    for (const s of ['', 'the cat', '😀 ok\n\tx  y ', 'naïve café — 東京 ', "it's 12,5 km/h?!", ' \u00ad\u0000z']) {
      expect(t.decode(t.encode(s))).toBe(s);
    }
  });

  // Found by a review against tokenizers 0.23 on random strings; the expected ids follow from this file's vocabulary.
  it('lstrip/rstrip special tokens take in the whitespace beside them; Rust\'s whitespace class; a BOM is kept', async () => {
    const j = tokenizerJson('strings');
    const added = (j.added_tokens as Record<string, unknown>[]).map((a) => (a.content === '<pad>' ? { ...a, lstrip: true, rstrip: true } : a));
    const t = await load({ ...j, added_tokens: added });
    expect([...t.encode('a <pad> b', { addSpecial: false })]).toEqual([byteId(97), 1, byteId(98)]);
    const plain = await load(j);
    expect([...plain.encode('a <pad> b', { addSpecial: false })]).toEqual([byteId(97), byteId(32), 1, byteId(32), byteId(98)]);
    // U+0085 is whitespace to Rust (and Unicode), U+FEFF is not: "  \u0085" is one whitespace run before "b".
    expect(preTokenize('a  \u0085b')).toEqual(['a', '  ', '\u0085', 'b']);
    expect(preTokenize('a  \ufeffb')).toEqual(['a', ' ', ' \ufeff', 'b']);
    expect(plain.decode(plain.encode('\ufeffthe', { addSpecial: false }))).toBe('\ufeffthe');
    expect(() => plain.encode('\udc00')).toThrow(/text has a lone surrogate \(U\+DC00\) at index 0/);
  });

  it('add_prefix_space puts a space before each text segment', async () => {
    const j = tokenizerJson('strings');
    const t = await load({ ...j, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } });
    expect([...t.encode('the', { addSpecial: false })]).toEqual([262]);
    expect([...t.encode('the<s>cat', { addSpecial: false })]).toEqual([262, 0, 265]);
  });

  it('a TemplateProcessing post-processor, and vocab.json + merges.txt, give the same ids', async () => {
    const j = tokenizerJson('strings');
    const tp = await load({ ...j, post_processor: { type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }] } });
    const model = j.model as { vocab: Record<string, number>; merges: string[] };
    const vocab = { ...model.vocab, ...Object.fromEntries(SPECIALS) };
    const slow = await ByteLevelBpeTokenizer.fromHfFolder(folder({
      'vocab.json': JSON.stringify(vocab), 'merges.txt': `#version: 0.2\n${model.merges.join('\n')}\n`,
    }));
    const fast = await load(j);
    for (const s of ['the cat the', 'caca é', '<s>x</s>']) {
      expect([...tp.encode(s)], s).toEqual([...fast.encode(s)]);
      expect([...slow.encode(s)], s).toEqual([...fast.encode(s)]);
    }
  });

  it('symbols outside the vocabulary: the unk id, or an error naming the symbol', async () => {
    const j = tokenizerJson('strings');
    const model = j.model as { vocab: Record<string, number> };
    const { z: _, ...noZ } = model.vocab;
    await expect(load({ ...j, model: { ...model, vocab: noZ } }).then((t) => t.encode('zz'))).rejects.toThrow(/symbol "z" of "zz" is not in the vocabulary/);
    const withUnk = await load({ ...j, model: { ...model, vocab: noZ, unk_token: '<unk>' } });
    expect([...withUnk.encode('az', { addSpecial: false })]).toEqual([byteId(97), 3]);
  });

  it('unsupported or broken files are errors naming the file and field', async () => {
    const j = tokenizerJson('strings');
    const model = j.model as Record<string, unknown>;
    await expect(load({ ...j, model: { ...model, type: 'WordPiece' } })).rejects.toThrow(/tokenizer\.json: model\.type "WordPiece" is not supported/);
    await expect(load({ ...j, normalizer: { type: 'NFKC' } })).rejects.toThrow(/normalizer "NFKC" is not supported/);
    await expect(load({ ...j, pre_tokenizer: { type: 'Whitespace' } })).rejects.toThrow(/pre_tokenizer \["Whitespace"\] is not supported/);
    await expect(load({ ...j, model: { ...model, merges: ['a b', 'abc'] } })).rejects.toThrow(/model\.merges\[1\] must be a pair/);
    await expect(load({ ...j, model: { ...model, vocab: { a: -1 } } })).rejects.toThrow(/model\.vocab\["a"\] must be a non-negative integer/);
    await expect(ByteLevelBpeTokenizer.fromHfFolder(folder({ 'tokenizer.json': '{"model":' }))).rejects.toThrow(/tokenizer\.json: not valid JSON/);
    await expect(ByteLevelBpeTokenizer.fromHfFolder(folder({}))).rejects.toThrow(/no tokenizer\.json, or vocab\.json with merges\.txt/);
    await expect(ByteLevelBpeTokenizer.fromHfFolder(folder({ 'vocab.json': '{"a":0}', 'merges.txt': 'a b c\n' }))).rejects.toThrow(/merges\.txt: line 1 must be a pair/);
  });
});

// test/fixtures/hf-bpe: a 600-token tokenizer trained by the `tokenizers` library, and what that
// library returns for 17 strings (see its README).
describe('against Hugging Face tokenizers 0.23', () => {
  interface Case { text: string; ids: number[]; ids_no_special: number[]; ids_prefix_space: number[]; decoded: string; decoded_special: string }
  const cases = (JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as { cases: Case[] }).cases;

  it('tokenizer.json: ids with and without specials, decodes with and without specials', async () => {
    const t = await ByteLevelBpeTokenizer.fromHfFolder(FIXTURE);
    expect(cases.length).toBe(17);
    for (const c of cases) {
      expect([...t.encode(c.text)], c.text).toEqual(c.ids);
      expect([...t.encode(c.text, { addSpecial: false })], c.text).toEqual(c.ids_no_special);
      expect(t.decode(c.ids), c.text).toBe(c.decoded);
      expect(t.decode(c.ids, { skipSpecial: false }), c.text).toBe(c.decoded_special);
    }
  });

  it('vocab.json + merges.txt give the same ids', async () => {
    const t = await ByteLevelBpeTokenizer.fromHfFolder(folder({
      'vocab.json': fs.readFileSync(path.join(FIXTURE, 'vocab.json'), 'utf8'), 'merges.txt': fs.readFileSync(path.join(FIXTURE, 'merges.txt'), 'utf8'),
    }));
    for (const c of cases) expect([...t.encode(c.text)], c.text).toEqual(c.ids);
  });

  it('add_prefix_space', async () => {
    const j = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'tokenizer.json'), 'utf8')) as { pre_tokenizer: Record<string, unknown> };
    j.pre_tokenizer.add_prefix_space = true;
    const t = await load(j as unknown as Record<string, unknown>);
    for (const c of cases) expect([...t.encode(c.text)], c.text).toEqual(c.ids_prefix_space);
  });
});
