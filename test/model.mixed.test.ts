// decoderAttention 'mixed' (issue 16; Layer-wise Coordination, He et al. 2018): each decoder layer
// has one attention over [encoder output; decoder prefix]. Checked here: its config and parameter
// names; dynamic masks (causal + keyMask, one kernel call) equal the explicit static mask; causality
// and padding invariance; a whole-model gradient check; KV-cache logits equal recomputation (row
// selections and beam groups included); greedy, beam, sampling and stream work and agree with
// recomputation; training lowers the loss; save/load round trip; HF export refuses it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchLoader } from '../dist/data/loader.js';
import { generate, greedyRecompute, stream } from '../dist/decode/index.js';
import { saveHfModel } from '../dist/nn/hf-export.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { noGrad } from '../dist/tensor.js';
import { loadModel, saveModel } from '../dist/train/checkpoint.js';
import { Trainer } from '../dist/train/trainer.js';
import { referenceBeamSearch } from './helpers/decode.js';
import { TINY, batchOf, bitsEqual, jitter, logitsOf, randomExamples, type TinyConfig } from './helpers/model.js';
import { cacheVsRecompute, gradCheck, maxDiff, padSources, recompute } from './helpers/sparse.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-mixed-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const MIXED: TinyConfig = { ...TINY, decoderAttention: 'mixed' };
const DECODE: TinyConfig = { srcVocab: 12, tgtVocab: 12, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 2,
  maxLen: 24, dropout: 0, decoderAttention: 'mixed' };
const SOURCES = [[3, 4, 5, 6, 7, 2], [8, 2], [9, 9, 10, 2], [4, 11, 3, 5, 6, 7, 8, 2]];

describe("decoderAttention 'mixed': config and structure", () => {
  it('is validated by name', () => {
    expect(() => new Seq2SeqTransformer({ ...TINY, decoderAttention: 'joint' as 'mixed' })).toThrow(/decoderAttention must be 'separate' or 'mixed'/);
    expect(() => new Seq2SeqTransformer({ ...MIXED, decoderSelfAttention: { window: { left: 2 } } }))
      .toThrow(/decoderSelfAttention\.window cannot be combined with decoderAttention 'mixed'/);
    expect(new Seq2SeqTransformer({ ...TINY, decoderAttention: 'separate' }).config.decoderAttention).toBe('separate');
  });

  it('a mixed decoder layer has one attention (shared k/v projections for source and prefix) and no encoder_attn', () => {
    const names = [...new Seq2SeqTransformer(MIXED).namedParameters().keys()].filter((n) => n.startsWith('decoder.layers.0.'));
    expect(names.some((n) => n.includes('encoder_attn'))).toBe(false);
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) expect(names).toContain(`decoder.layers.0.self_attn.${p}.weight`);
    const separate = new Seq2SeqTransformer(TINY).numParameters(), mixed = new Seq2SeqTransformer(MIXED).numParameters();
    const d = TINY.dModel!;
    expect(separate - mixed).toBe(4 * (d * d + d) + 2 * d);  // one attention (q, k, v, out) and its layer norm fewer
  });
});

describe("decoderAttention 'mixed': masks", () => {
  const cfg: TinyConfig = { ...MIXED, dModel: 16, heads: 4, ffDim: 32, decoderLayers: 2, kvHeads: 2, norm: 'pre' };
  const model = new Seq2SeqTransformer(cfg);
  jitter(model, 3);
  const b = batchOf(cfg, randomExamples(4, [6, 3, 5], [4, 1, 6], { src: cfg.srcVocab, tgt: cfg.tgtVocab }));

  it('dynamic masks (causal + keyMask over [source; target], one kernel call) equal the explicit static mask', () => {
    const dyn = logitsOf(model, b, 'dynamic'), stat = logitsOf(model, b, 'static');
    const V = cfg.tgtVocab;
    let worst = 0;
    for (let r = 0; r < b.batch; ++r) for (let t = 0; t < b.tgtLengths[r]!; ++t) {
      const o = (r * b.tgtLen + t) * V;
      worst = Math.max(worst, maxDiff(dyn.subarray(o, o + V), stat.subarray(o, o + V)));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('also with a source mask that has a hole', () => {
    const withHole = { ...b, srcMask: Uint8Array.from({ length: b.batch * b.srcLen }, (_, i) => (i === 1 ? 0 : 1)) };
    const dyn = logitsOf(model, withHole, 'dynamic'), stat = logitsOf(model, withHole, 'static');
    const plain = logitsOf(model, b, 'dynamic');
    const V = cfg.tgtVocab;
    expect(maxDiff(dyn.subarray(0, b.tgtLengths[0]! * V), stat.subarray(0, b.tgtLengths[0]! * V))).toBeLessThan(1e-5);
    expect(maxDiff(dyn.subarray(0, V), plain.subarray(0, V))).toBeGreaterThan(1e-4);  // the hole is seen
  });

  it('is causal, ignores padding on both sides, and reads the source', () => {
    const V = cfg.tgtVocab, base = logitsOf(model, b);
    // Changing target token 3 of row 0 changes no logit before position 3.
    const later = { ...b, tgtIn: b.tgtIn.slice() };
    later.tgtIn[3] = (later.tgtIn[3]! % (V - 4)) + 3;
    expect(maxDiff(logitsOf(model, later).subarray(0, 3 * V), base.subarray(0, 3 * V))).toBe(0);
    expect(maxDiff(logitsOf(model, later).subarray(3 * V, 4 * V), base.subarray(3 * V, 4 * V))).toBeGreaterThan(1e-4);
    // Padded source and target ids of row 1 (lengths 4 and 2) change none of its real logits.
    const padded = { ...b, src: b.src.slice(), tgtIn: b.tgtIn.slice() };
    for (let j = b.srcLengths[1]!; j < b.srcLen; ++j) padded.src[b.srcLen + j] = 5;
    for (let j = b.tgtLengths[1]!; j < b.tgtLen; ++j) padded.tgtIn[b.tgtLen + j] = 6;
    const o = b.tgtLen * V, n = b.tgtLengths[1]! * V;
    expect(maxDiff(logitsOf(model, padded).subarray(o, o + n), base.subarray(o, o + n))).toBe(0);
    // A real source token of row 2 changes its first logits (the source is attended).
    const src = { ...b, src: b.src.slice() };
    src.src[2 * b.srcLen] = (src.src[2 * b.srcLen]! % (V - 4)) + 4;
    const o2 = 2 * b.tgtLen * V;
    expect(maxDiff(logitsOf(model, src).subarray(o2, o2 + V), base.subarray(o2, o2 + V))).toBeGreaterThan(1e-4);
  });
});

describe("decoderAttention 'mixed': gradient", () => {
  for (const [name, cfg, h] of [
    ['post-LN, MHA, gelu', { ...MIXED }, 2.5e-2],
    ['pre-LN, GQA kvHeads 1, learned positions, untied, 2 decoder layers', { ...MIXED, norm: 'pre', kvHeads: 1, positions: 'learned', tieEmbeddings: false, decoderLayers: 2, seed: 4 }, 2.5e-2],
  ] as [string, TinyConfig, number][]) {
    it(`matches finite differences of the loss (${name})`, async () => {
      const model = new Seq2SeqTransformer(cfg);
      jitter(model, 11);
      const b = batchOf(cfg, randomExamples(5, [6, 3], [4, 1], { src: cfg.srcVocab, tgt: cfg.tgtVocab }));
      const r = await gradCheck(model, b, h);
      console.log(`mixed gradcheck (${name}): ${r.checks} checks, worst error ${r.worst.toExponential(2)} at ${r.where}`);
      expect(r.zero).toEqual([]);
      expect(r.worst).toBeLessThan(1e-2);
    });
  }
});

describe("decoderAttention 'mixed': KV cache", () => {
  it('cached logits equal recomputation (sources of different lengths, GQA)', () => {
    const model = new Seq2SeqTransformer({ ...DECODE, heads: 4, kvHeads: 2, seed: 21 });
    expect(cacheVsRecompute(model, SOURCES, 10, 1, 'dynamic')).toBeLessThan(1e-5);
    expect(cacheVsRecompute(model, SOURCES, 6, 2, 'static')).toBeLessThan(1e-5);
  });

  it('after reordering, dropping and repeating rows; pre-LN', () => {
    const model = new Seq2SeqTransformer({ ...DECODE, norm: 'pre', seed: 22 });
    const select = (t: number, rows: number): Int32Array | null => {
      if (t === 2) return Int32Array.from({ length: rows }, (_, r) => rows - 1 - r);
      if (t === 4) return Int32Array.of(1, 3);
      if (t === 6) return Int32Array.of(1, 1, 0, 1);
      return null;
    };
    expect(cacheVsRecompute(model, SOURCES, 9, 2, 'dynamic', select)).toBeLessThan(1e-5);
  });

  it('beam groups: rows of one source share its memory; the source K/V are computed once and held per row', () => {
    const model = new Seq2SeqTransformer({ ...DECODE, seed: 23 });
    const V = model.config.tgtVocab, G = 3, { src, lens, S } = padSources([[3, 4, 5, 6, 2], [7, 8, 2]]);
    noGrad(() => {
      const cache = model.startDecoding(model.encode(src, lens, 2, S), lens, 2, S, G);
      expect(cache.layers.every((l) => l.stored === S && l.crossK.length === 0)).toBe(true);
      const prefixes = Array.from({ length: 2 * G }, (_, r) => [model.decoderStartId, 3 + r, 4 + (r % 2)]);
      let logits = new Float32Array(0);
      for (let t = 0; t < 3; ++t) {
        logits = ops.data(model.decodeStep(Int32Array.from(prefixes, (p) => p[t]!), cache)).slice();
        ops.arena.releaseAll();
      }
      expect(cache.layers[0]!.stored).toBe(S + 3);
      const sources = [[3, 4, 5, 6, 2], [7, 8, 2]];
      prefixes.forEach((p, r) => {
        const ref = recompute(model, sources[Math.floor(r / G)]!, [p], 'dynamic')[0]!;
        expect(maxDiff(logits.subarray(r * V, (r + 1) * V), ref)).toBeLessThan(1e-5);
      });
    });
  });
});

describe("decoderAttention 'mixed': generate and stream", () => {
  const model = new Seq2SeqTransformer({ ...DECODE, seed: 31, tieEmbeddings: false });
  // Make EOS likely at some steps, so sequences end at different lengths.
  const w = model.namedParameters().get('lm_head.weight')!;
  for (let i = 0; i < w.shape[1]!; ++i) w.storage.data[2 * w.shape[1]! + i]! *= 3;

  it('greedy equals greedy recomputation; stream yields the same tokens', async () => {
    const { src, lens, S } = padSources(SOURCES);
    const ref = greedyRecompute(model, src, lens, SOURCES.length, S, 10);
    const out = await generate(model, SOURCES, { maxNewTokens: 10 });
    expect(out.tokens.map((t) => [...t])).toEqual(ref.tokens.map((t) => [...t]));
    const streamed: number[][] = SOURCES.map(() => []);
    for await (const t of stream(model, SOURCES, { maxNewTokens: 10, thread: 'main' })) if (!t.eos) streamed[t.source]!.push(t.token);
    expect(streamed).toEqual(ref.tokens.map((t) => [...t]));
  });

  it("beam search matches Hugging Face's algorithm by recomputation", async () => {
    const opts = { numBeams: 3, lengthPenalty: 1, earlyStopping: false, maxNewTokens: 6 } as const;
    const out = await generate(model, SOURCES, { ...opts, numReturnSequences: 3 });
    SOURCES.forEach((s, b) => {
      const ref = referenceBeamSearch(model, s, opts);
      expect(out.sequences[b]!.map((h) => [...h.tokens])).toEqual(ref.map((h) => h.tokens));
    });
  });

  it('sampling is seeded and returns tokens of the vocabulary; attention weights over the source are probabilities', async () => {
    const o = { doSample: true, seed: 5, numReturnSequences: 2, maxNewTokens: 8, returnAttention: true } as const;
    const a = await generate(model, SOURCES, o), b = await generate(model, SOURCES, { ...o, thread: 'main' });
    expect(a.tokens.map((t) => [...t])).toEqual(b.tokens.map((t) => [...t]));
    for (const t of a.tokens) for (const id of t) expect(id >= 0 && id < model.config.tgtVocab).toBe(true);
    a.sequences.forEach((hyps, s) => {
      for (const h of hyps) for (const row of h.attention!) {
        expect(row.length).toBe(SOURCES[s]!.length);
        const sum = row.reduce((x, y) => x + y, 0);
        expect(sum).toBeGreaterThan(0);
        expect(sum).toBeLessThanOrEqual(1 + 1e-5);  // the rest went to the decoder prefix
      }
    });
  });
});

describe("decoderAttention 'mixed': training and checkpoints", () => {
  it('training on a copy task lowers the loss', async () => {
    const ex = Array.from({ length: 32 }, (_, i) => {
      const s = Int32Array.from({ length: 3 + (i % 4) }, (_, j) => 3 + ((i * 7 + j * 3) % 8));
      return { src: s, tgt: s };
    });
    const loader = new BatchLoader(ex, { batchSize: 8, bos: 1, eos: 2, padId: 0, shuffle: true, seed: 1 });
    const model = new Seq2SeqTransformer({ ...DECODE, dModel: 32, heads: 4, ffDim: 64, norm: 'pre', maxLen: 12, seed: 3 });
    const trainer = new Trainer(model, { optimizer: { lr: 3e-3 } });
    const losses: number[] = [];
    await trainer.fit(loader, { steps: 120, progressEvery: 10, onProgress: (p) => losses.push(p.loss) });
    console.log(`mixed copy training loss: ${losses[0]!.toFixed(3)} -> ${losses[losses.length - 1]!.toFixed(3)}`);
    expect(losses[losses.length - 1]!).toBeLessThan(0.5 * losses[0]!);
  });

  it('save/load round trip keeps decoderAttention and gives bitwise-identical logits', async () => {
    const cfg: TinyConfig = { ...MIXED, dModel: 16, heads: 4, ffDim: 32, maxLen: 24 };
    const model = new Seq2SeqTransformer(cfg);
    jitter(model, 2);
    const dir = path.join(root, 'mixed');
    await saveModel(dir, model);
    const loaded = (await loadModel(dir)).model;
    expect(loaded.config.decoderAttention).toBe('mixed');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).decoderAttention).toBe('mixed');
    const b = batchOf(cfg, randomExamples(2, [5, 2], [3, 6], { src: cfg.srcVocab, tgt: cfg.tgtVocab }));
    expect(bitsEqual(logitsOf(loaded, b), logitsOf(model, b))).toBe(true);
  });

  it('Hugging Face export refuses a mixed model, naming the field', async () => {
    const model = new Seq2SeqTransformer({ ...MIXED, norm: 'post', positions: 'sinusoidal' });
    await expect(saveHfModel(path.join(root, 'hf'), model)).rejects.toThrow(/decoderAttention is 'mixed'/);
    expect(fs.existsSync(path.join(root, 'hf', 'model.safetensors'))).toBe(false);
  });
});
