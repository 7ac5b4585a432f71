// returnAttention: cross-attention weights of every generated token, and the SVG heatmap of them.
import { describe, expect, it } from 'vitest';
import { attentionSvg, generate } from '../dist/decode/index.js';
import { CharTokenizer } from '../dist/data/index.js';
import { kernels } from '../dist/kernels.js';
import * as ops from '../dist/ops/index.js';
import { noGrad } from '../dist/tensor.js';
import { eosModel, tinyModel } from './helpers/decode.js';
import { allElements, parseXml } from './helpers/xml.js';

const SOURCES = [[3, 4, 5, 6, 7, 2], [8, 2], [9, 9, 10, 2]];

describe('returnAttention', () => {
  for (const numBeams of [1, 3]) {
    it(`one row per generated token, over the source's own tokens, summing to 1 (numBeams ${numBeams})`, async () => {
      const model = eosModel(3, { heads: 4 });
      const out = await generate(model, SOURCES, { numBeams, numReturnSequences: numBeams, maxNewTokens: 8, returnAttention: true });
      out.sequences.forEach((list, b) => {
        for (const h of list) {
          expect(h.attention!.length).toBe(h.tokens.length + (h.finished ? 1 : 0));
          for (const row of h.attention!) {
            expect(row.length).toBe(SOURCES[b]!.length);
            expect(row.every((p) => p >= 0 && p <= 1)).toBe(true);
            expect(row.reduce((a, p) => a + p, 0)).toBeCloseTo(1, 5);
          }
        }
      });
      // The weights do not change the tokens.
      const plain = await generate(model, SOURCES, { numBeams, numReturnSequences: numBeams, maxNewTokens: 8 });
      expect(plain.tokens).toEqual(out.tokens);
      expect(plain.sequences[0]![0]!.attention).toBeUndefined();
    });
  }

  it('equal the probabilities computed by hand from the weights (first token, one decoder layer)', async () => {
    const model = tinyModel(10, { heads: 2, decoderLayers: 1 });
    const c = model.config, d = c.dModel, H = c.heads, D = d / H, P = model.namedParameters();
    const w = (n: string): Float32Array => P.get(n)!.storage.data;
    const lin = (x: Float64Array, n: string): Float64Array => {
      const W = w(`${n}.weight`), b = w(`${n}.bias`), out = b.length, inF = x.length;
      return Float64Array.from({ length: out }, (_, o) => { let s = b[o]!; for (let i = 0; i < inF; ++i) s += W[o * inF + i]! * x[i]!; return s; });
    };
    const src = [3, 4, 5, 6, 2];
    const memory = noGrad(() => {
      const m = ops.data(model.encode(Int32Array.from(src), Int32Array.of(src.length), 1, src.length)).slice();
      ops.arena.releaseAll();
      return m;
    });
    const pre = 'decoder.layers.0.';
    // Step 0: embedding * sqrt(d) + position 0; self-attention over one key is that key's value.
    const E = w('shared.weight'), pos = kernels.positionEncoding(c.maxLen, d);
    const x = Float64Array.from({ length: d }, (_, i) => E[model.decoderStartId * d + i]! * Math.sqrt(d) + pos[i]!);
    const sa = lin(lin(x, `${pre}self_attn.v_proj`), `${pre}self_attn.out_proj`);
    const r = x.map((v, i) => v + sa[i]!);
    const mean = r.reduce((a, v) => a + v, 0) / d, vr = r.reduce((a, v) => a + (v - mean) ** 2, 0) / d;
    const h = r.map((v, i) => ((v - mean) / Math.sqrt(vr + 1e-5)) * w(`${pre}self_attn_layer_norm.weight`)[i]! + w(`${pre}self_attn_layer_norm.bias`)[i]!);
    const q = lin(h, `${pre}encoder_attn.q_proj`);
    const expected = new Float64Array(src.length);
    for (let hd = 0; hd < H; ++hd) {
      const s = src.map((_, j) => {
        const k = lin(Float64Array.from(memory.subarray(j * d, (j + 1) * d)), `${pre}encoder_attn.k_proj`);
        let dot = 0;
        for (let e = 0; e < D; ++e) dot += q[hd * D + e]! * k[hd * D + e]!;
        return dot / Math.sqrt(D);
      });
      const m = Math.max(...s), z = s.reduce((a, v) => a + Math.exp(v - m), 0);
      s.forEach((v, j) => { expected[j]! += Math.exp(v - m) / z / H; });
    }
    const out = await generate(model, [src], { maxNewTokens: 1, returnAttention: true });
    const got = out.sequences[0]![0]!.attention![0]!;
    got.forEach((p, j) => expect(p).toBeCloseTo(expected[j]!, 5));
  });

  it('beam search keeps each hypothesis its own attention history', async () => {
    const model = eosModel(4);
    const greedy = await generate(model, SOURCES, { maxNewTokens: 6, returnAttention: true });
    const beam = await generate(model, SOURCES, { numBeams: 2, maxNewTokens: 6, returnAttention: true });
    // Same first token: same first attention row (the first step sees only the start token).
    expect([...beam.sequences[0]![0]!.attention![0]!].map((x) => x.toFixed(5))).toEqual([...greedy.sequences[0]![0]!.attention![0]!].map((x) => x.toFixed(5)));
  });
});

describe('attentionSvg', () => {
  it('is well-formed XML with every source and target token as a label', () => {
    const src = ['<s>', 'a&b', '"q"', ' ', 'x\u0001y', 'é', '😀'];
    const tgt = ['</s>', "it's", '>'];
    const w = tgt.map((_, i) => Float32Array.from(src, (_, j) => ((i + j) % 3) / 2));
    const svg = attentionSvg(src, tgt, w);
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.get('xmlns')).toBe('http://www.w3.org/2000/svg');
    const texts = allElements(root).filter((e) => e.name === 'text').map((e) => e.text);
    for (const t of ['<s>', 'a&b', '"q"', '\u2423', 'x\\x01y', 'é', '😀', '</s>', "it's", '>']) expect(texts).toContain(t);
    // One cell per (target, source) pair, darker for a larger weight.
    const cells = allElements(root).filter((e) => e.name === 'rect' && e.children.some((c) => c.name === 'title'));
    expect(cells.length).toBe(src.length * tgt.length);
    expect(cells[0]!.attrs.get('fill')).toBe('rgb(255,255,255)');
    expect(cells[2]!.attrs.get('fill')).toBe('rgb(8,48,107)');
    expect(allElements(root).some((e) => e.name === 'title' && /target tokens.*source tokens/.test(e.text))).toBe(true);
  });

  it('the checker rejects malformed XML', () => {
    for (const bad of ['<a><b></a></b>', '<a x="1" x="2"/>', '<a>&nope;</a>', '<a>1 < 2</a>', '<a/><b/>', '<a x=1/>', '<a>']) {
      expect(() => parseXml(bad)).toThrow(SyntaxError);
    }
  });

  it('rejects weights of the wrong shape', () => {
    expect(() => attentionSvg(['a'], ['b', 'c'], [[1]])).toThrow(/rows/);
    expect(() => attentionSvg(['a', 'b'], ['c'], [[1]])).toThrow(/weights\[0\]/);
  });

  it('a translation heatmap from generate', async () => {
    const tok = CharTokenizer.fromTexts(['abcdef']);
    const model = tinyModel(9, { srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize });
    const out = await generate(model, ['cafe'], { tokenizer: tok, maxNewTokens: 5, returnAttention: true });
    const h = out.sequences[0]![0]!;
    const srcIds = tok.encode('cafe', { addEos: true });
    const tgtIds = [...h.tokens, ...(h.finished ? [tok.eosId] : [])];
    const svg = attentionSvg([...srcIds].map((i) => tok.idToToken(i)), tgtIds.map((i) => tok.idToToken(i)), h.attention!);
    const texts = allElements(parseXml(svg)).filter((e) => e.name === 'text').map((e) => e.text);
    for (const c of ['c', 'a', 'f', 'e', '</s>']) expect(texts).toContain(c);
  });
});
