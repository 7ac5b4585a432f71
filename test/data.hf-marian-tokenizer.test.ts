// SentencePiece unigram models and transformers' MarianTokenizer: against what sentencepiece 0.2.2
// and transformers 5.18 return on test/fixtures/hf-spm (27 strings: NFKC normalization through
// the model's precompiled charsmap, whitespace rules, unknown characters, user-defined symbols,
// language codes), then Viterbi and error cases on hand-built models whose answers follow from
// the piece scores.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MarianTokenizer } from '../dist/data/hf-marian-tokenizer.js';
import { SentencePieceModel } from '../dist/data/sentencepiece.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'hf-spm');

interface Case { text: string; source_pieces: string[]; source_ids: number[]; target_ids: number[]; decoded: string; decoded_special: string }
const cases = (JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as { cases: Case[] }).cases;

describe('against sentencepiece 0.2.2 and transformers 5.18', () => {
  it('source pieces (normalization and segmentation) equal sentencepiece\'s', () => {
    const m = new SentencePieceModel(new Uint8Array(fs.readFileSync(path.join(FIXTURE, 'source.spm'))), 'source.spm');
    expect(cases.length).toBe(27);
    for (const c of cases) expect(m.encode(c.text).map((p) => p.piece), JSON.stringify(c.text)).toEqual(c.source_pieces);
  });

  it('MarianTokenizer: source ids, target ids and decodes equal transformers\'', async () => {
    const t = await MarianTokenizer.fromHfFolder(FIXTURE);
    expect([t.eosId, t.unkId, t.padId, t.vocabSize]).toEqual([0, 1, 410, 411]);
    for (const c of cases) {
      const what = JSON.stringify(c.text);
      expect([...t.encode(c.text)], what).toEqual(c.source_ids);
      expect([...t.encodeTarget(c.text)], what).toEqual(c.target_ids);
      expect(t.decode(c.target_ids), what).toBe(c.decoded);
      expect(t.decode(c.target_ids, { skipSpecial: false }), what).toBe(c.decoded_special);
    }
    expect([...t.encode('Hello', { addEos: false })]).toEqual(cases[0]!.source_ids.slice(0, -1).slice(0, 6));
  });

  // Found by a review that ran transformers 5.18 on random strings; each expected value is what it returned.
  it('special tokens written in the text, bare language codes, lone surrogates', async () => {
    const t = await MarianTokenizer.fromHfFolder(FIXTURE);
    expect([...t.encode('x</s>y')]).toEqual([3, 30, 0, 3, 45, 0]);   // split out, each side segmented on its own
    expect([...t.encode('>><< hi')].slice(0, 1)).toEqual([1]);         // ">><<" is a (unknown) language code
    expect(() => t.encode('a\ud800b')).toThrow(/text has a lone surrogate \(U\+D800\) at index 1/);
  });
});

// ----- hand-built models -----

/** Protobuf bytes: fields as [number, value]; strings and nested messages length-delimited, floats as fixed32. */
type Field = [number, number | string | Uint8Array | { float: number }];
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}
function message(fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const [no, v] of fields) {
    if (typeof v === 'number') out.push(...varint(no * 8), ...varint(v));
    else if (typeof v === 'string' || v instanceof Uint8Array) {
      const b = typeof v === 'string' ? new TextEncoder().encode(v) : v;
      out.push(...varint(no * 8 + 2), ...varint(b.length), ...b);
    } else {
      const f = new Uint8Array(4);
      new DataView(f.buffer).setFloat32(0, v.float, true);
      out.push(...varint(no * 8 + 5), ...f);
    }
  }
  return Uint8Array.from(out);
}
/** A unigram model without a charsmap (identity normalization) from [piece, score, type?]. */
function model(pieces: [string, number, number?][], trainer: Field[] = [], normalizer: Field[] = []): Uint8Array {
  return message([
    ...pieces.map(([p, s, t]): Field => [1, message([[1, p], [2, { float: s }], ...(t ? [[3, t] as Field] : [])])]),
    [2, message([[3, 1], ...trainer])],
    [3, message(normalizer)],
  ]);
}
const PIECES: [string, number, number?][] = [['<unk>', 0, 2], ['</s>', 0, 3], ['▁a', -1], ['a', -2], ['b', -2], ['▁', -3], ['ab', -1.5], ['▁ab', -5]];

describe('hand-built unigram models', () => {
  it('Viterbi takes the best total score; unknown runs merge into one piece', () => {
    const m = new SentencePieceModel(model(PIECES));
    // "▁ab": ▁a+b = -3 beats ▁ab = -5, ▁+ab = -4.5 and ▁+a+b = -7.
    expect(m.encode('ab')).toEqual([{ piece: '▁a', id: 2 }, { piece: 'b', id: 4 }]);
    // "c", "d" are in no piece: one unknown piece for the run (score min - 10 each).
    expect(m.encode('acd b')).toEqual([{ piece: '▁a', id: 2 }, { piece: 'cd', id: 0 }, { piece: '▁', id: 5 }, { piece: 'b', id: 4 }]);
    expect(m.normalize('  a   b  ')).toBe('▁a▁b');
    expect(m.decodePieces(['▁a', 'b', '▁', 'b'])).toBe('ab b');
  });

  it('whitespace options of the normalizer spec', () => {
    const keep = new SentencePieceModel(model(PIECES, [], [[3, 0], [4, 0]]));  // no dummy prefix, keep extra spaces
    expect(keep.normalize(' a  b ')).toBe('▁a▁▁b▁');
    const raw = new SentencePieceModel(model(PIECES, [], [[5, 0]]));             // spaces not escaped
    expect(raw.normalize('a  b')).toBe(' a b');
  });

  it('a user-defined piece wins over its parts, and is matched before normalization', () => {
    const m = new SentencePieceModel(model([...PIECES, ['ba', -50, 4]]));
    expect(m.encode('aba').map((p) => p.piece)).toEqual(['▁a', 'ba']);
    // sentencepiece scores it length * max(max_score, FLT_MIN) - 0.1, about -0.1 here: it beats xy + z = -1.5.
    const xyz = new SentencePieceModel(model([['<unk>', 0, 2], ['▁', -3], ['xy', -0.5], ['z', -1], ['xyz', 0, 4]]));
    expect(xyz.encode('xyz').map((p) => p.piece)).toEqual(['▁', 'xyz']);
  });

  it('scores add in float32, as sentencepiece: near-ties break its way', () => {
    // sentencepiece 0.2.2 on source.spm; with float64 sums the 24-dash case ends "--", "-------------" instead.
    const m = new SentencePieceModel(new Uint8Array(fs.readFileSync(path.join(FIXTURE, 'source.spm'))), 'source.spm');
    expect(m.encode('-'.repeat(24)).map((p) => p.piece)).toEqual(['▁', '-', '--', '--', '--', '--', '-------------', '--']);
    expect(m.encode('-'.repeat(30)).map((p) => p.piece)).toEqual(['▁', '-------------', '-------------', '--', '--']);
  });

  it('a BOM is a character; an empty text has no pieces', () => {
    expect(new SentencePieceModel(model(PIECES)).encode('\ufeffa').map((p) => p.piece)).toEqual(['▁', '\ufeff', 'a']);  // a BOM is a character
    expect(new SentencePieceModel(model(PIECES, [], [[4, 0]])).encode('')).toEqual([]);
  });

  it('unsupported or broken models are errors naming the file', () => {
    expect(() => new SentencePieceModel(model(PIECES, [[3, 2]]), 'x.spm')).toThrow(/x\.spm: model type BPE is not supported/);
    expect(() => new SentencePieceModel(model(PIECES, [[35, 1]]), 'x.spm')).toThrow(/x\.spm: byte_fallback is not supported/);
    expect(() => new SentencePieceModel(model(PIECES.slice(1)), 'x.spm')).toThrow(/x\.spm: no unknown piece/);
    expect(() => new SentencePieceModel(Uint8Array.of(0x0a, 0x50, 1), 'x.spm')).toThrow(/x\.spm: not a SentencePiece model/);
    expect(() => new SentencePieceModel(new Uint8Array(0), 'x.spm')).toThrow(/x\.spm: not a SentencePiece model \(no pieces\)/);
  });
});

describe('MarianTokenizer files', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-marian-tok-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('missing files, a vocab without the special tokens, separate vocabularies', async () => {
    await expect(MarianTokenizer.fromHfFolder(tmp)).rejects.toThrow(/source\.spm is missing/);
    for (const f of ['source.spm', 'target.spm']) fs.copyFileSync(path.join(FIXTURE, f), path.join(tmp, f));
    fs.writeFileSync(path.join(tmp, 'vocab.json'), JSON.stringify({ '</s>': 0, '<unk>': 1 }));
    await expect(MarianTokenizer.fromHfFolder(tmp)).rejects.toThrow(/vocab\.json lacks the special token "<pad>"/);
    fs.writeFileSync(path.join(tmp, 'vocab.json'), JSON.stringify({ '</s>': 0, '<unk>': -1 }));
    await expect(MarianTokenizer.fromHfFolder(tmp)).rejects.toThrow(/"<unk>" must map to a non-negative integer id/);
    fs.copyFileSync(path.join(FIXTURE, 'vocab.json'), path.join(tmp, 'vocab.json'));
    fs.writeFileSync(path.join(tmp, 'target_vocab.json'), '{}');
    await expect(MarianTokenizer.fromHfFolder(tmp)).rejects.toThrow(/target_vocab\.json\) are not supported/);
    fs.rmSync(path.join(tmp, 'target_vocab.json'));
    const t = await MarianTokenizer.fromHfFolder(tmp);
    expect(() => t.decode([411])).toThrow(/ids\[0\] = 411 is outside \[0, 411\)/);
  });
});
