// Sparse attention in the model (issue 16): encoderAttention / decoderSelfAttention windows and
// global tokens. The reference is the static mask mode: the same band built as explicit mask arrays
// (checked here against a plain rule written from DESIGN.md), which the dynamic kernel options
// must match in logits and gradients. Also: the receptive field a window implies, a gradient
// check, KV-cache logits equal recomputation while the cache holds only the window (memory bounded),
// greedy and beam search, save/load, HF export refused, and `attnode train` with the flags.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, greedyRecompute } from '../dist/decode/index.js';
import { saveHfModel } from '../dist/nn/hf-export.js';
import { seq2seqMasks, type SparsePattern } from '../dist/nn/masks.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { noGrad } from '../dist/tensor.js';
import { loadModel, saveModel } from '../dist/train/checkpoint.js';
import { referenceBeamSearch } from './helpers/decode.js';
import { TINY, batchOf, bitsEqual, jitter, logitsOf, lossAndGrads, randomExamples, type TinyConfig } from './helpers/model.js';
import { cacheVsRecompute, gradCheck, maxDiff, padSources } from './helpers/sparse.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-sparse-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const DECODE: TinyConfig = { srcVocab: 12, tgtVocab: 12, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 2,
  maxLen: 32, dropout: 0 };
const SOURCES = [[3, 4, 5, 6, 7, 8, 9, 10, 2], [8, 2], [9, 9, 10, 3, 4, 2], [4, 11, 3, 5, 6, 7, 8, 2]];

describe('sparse attention config', () => {
  const bad: [string, TinyConfig, RegExp][] = [
    ['window not an object', { ...TINY, encoderAttention: { window: 3 as unknown as { left: number; right: number } } }, /encoderAttention\.window must be an object/],
    ['negative left', { ...TINY, encoderAttention: { window: { left: -1, right: 2 } } }, /encoderAttention\.window\.left must be a non-negative integer, got -1/],
    ['missing right', { ...TINY, encoderAttention: { window: { left: 1 } as { left: number; right: number } } }, /encoderAttention\.window\.right must be a non-negative integer/],
    ['fractional globalTokens', { ...TINY, encoderAttention: { window: { left: 1, right: 1 }, globalTokens: 1.5 } }, /encoderAttention\.globalTokens must be a non-negative integer/],
    ['globalTokens without window', { ...TINY, encoderAttention: { globalTokens: 2 } }, /encoderAttention\.globalTokens needs encoderAttention\.window/],
    ['unknown field', { ...TINY, encoderAttention: { windows: {} } as unknown as SparsePattern }, /unknown field 'encoderAttention\.windows'/],
    ['unknown window field', { ...TINY, encoderAttention: { window: { left: 1, right: 1, up: 2 } as { left: number; right: number } } }, /unknown field 'encoderAttention\.window\.up'/],
    ['decoder right side', { ...TINY, decoderSelfAttention: { window: { left: 1, right: 2 } as { left: number } } }, /decoderSelfAttention\.window\.right must be 0 or absent/],
    ['decoder left missing', { ...TINY, decoderSelfAttention: { window: {} as { left: number } } }, /decoderSelfAttention\.window\.left must be a non-negative integer/],
    ['decoder side not an object', { ...TINY, decoderSelfAttention: 'local' as unknown as SparsePattern }, /decoderSelfAttention must be an object/],
  ];
  for (const [name, cfg, re] of bad) it(`rejects ${name}, naming the field`, () => expect(() => new Seq2SeqTransformer(cfg)).toThrow(re));

  it('accepts windows and global tokens on both sides', () => {
    const m = new Seq2SeqTransformer({ ...TINY, encoderAttention: { window: { left: 2, right: 1 }, globalTokens: 1 }, decoderSelfAttention: { window: { left: 3 }, globalTokens: 2 } });
    expect(m.config.encoderAttention).toEqual({ window: { left: 2, right: 1 }, globalTokens: 1 });
    expect(m.config.decoderSelfAttention).toEqual({ window: { left: 3 }, globalTokens: 2 });
  });
});

/** DESIGN.md's rule, written out plainly: may query i see key j (tq queries, tk keys)? */
function allowed(i: number, j: number, tq: number, tk: number, o: { causal?: boolean; left: number; right: number; g: number }): boolean {
  const c = i + tk - tq;
  if (o.causal && j > c) return false;
  return j < o.g || i < o.g || (j >= c - o.left && j <= c + (o.causal ? 0 : o.right));
}

describe('static masks: the explicit band', () => {
  it('encoder and decoder static masks equal the rule (window, global tokens, padding); dynamic options carry the same band', () => {
    const srcLengths = Int32Array.of(7, 4), tgtLengths = Int32Array.of(3, 6), S = 7, T = 6;
    const enc = { window: { left: 2, right: 1 }, globalTokens: 1 }, dec = { window: { left: 1 }, globalTokens: 2 };
    const st = seq2seqMasks('static', srcLengths, tgtLengths, S, T, null, { encoder: enc, decoderSelf: dec });
    for (const [m, len, tq, tk, o] of [
      [st.encoderSelf.mask!.data, srcLengths, S, S, { left: 2, right: 1, g: 1 }],
      [st.decoderSelf.mask!.data, tgtLengths, T, T, { causal: true, left: 1, right: 0, g: 2 }],
    ] as const) {
      for (let b = 0; b < 2; ++b) for (let i = 0; i < tq; ++i) for (let j = 0; j < tk; ++j)
        expect(m[(b * tq + i) * tk + j], `b ${b} i ${i} j ${j}`).toBe(j < len[b]! && allowed(i, j, tq, tk, o) ? 1 : 0);
    }
    const dy = seq2seqMasks('dynamic', srcLengths, tgtLengths, S, T, null, { encoder: enc, decoderSelf: dec });
    expect(dy.encoderSelf).toMatchObject({ window: { left: 2, right: 1 }, globalTokens: 1, keyLengths: srcLengths });
    expect(dy.decoderSelf).toMatchObject({ causal: true, window: { left: 1, right: 0 }, globalTokens: 2 });
    expect(dy.cross.window).toBeUndefined();  // cross-attention stays dense
  });
});

const VARIANTS: [string, TinyConfig][] = [
  ['encoder window 1,2', { encoderAttention: { window: { left: 1, right: 2 } } }],
  ['encoder window 2,0 + 2 global tokens, decoder window 1', { encoderAttention: { window: { left: 2, right: 0 }, globalTokens: 2 }, decoderSelfAttention: { window: { left: 1 } } }],
  ['decoder window 2 + 1 global token, GQA, pre-LN', { decoderSelfAttention: { window: { left: 2 }, globalTokens: 1 }, kvHeads: 1, norm: 'pre' }],
  ['window 0 (each position alone) both sides', { encoderAttention: { window: { left: 0, right: 0 } }, decoderSelfAttention: { window: { left: 0 } } }],
];

describe('windowed model: dynamic kernel options equal the explicit static mask (the reference)', () => {
  for (const [name, over] of VARIANTS) {
    it(`${name}: logits and gradients`, async () => {
      const cfg: TinyConfig = { ...TINY, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 2, decoderLayers: 2, maxLen: 16, ...over };
      const model = new Seq2SeqTransformer(cfg);
      jitter(model, 5);
      const b = batchOf(cfg, randomExamples(6, [9, 4, 7], [6, 2, 8], { src: cfg.srcVocab, tgt: cfg.tgtVocab }));
      const dyn = logitsOf(model, b, 'dynamic'), stat = logitsOf(model, b, 'static');
      const V = cfg.tgtVocab;
      let worst = 0;
      for (let r = 0; r < b.batch; ++r) for (let t = 0; t < b.tgtLengths[r]!; ++t) {
        const o = (r * b.tgtLen + t) * V;
        worst = Math.max(worst, maxDiff(dyn.subarray(o, o + V), stat.subarray(o, o + V)));
      }
      expect(worst).toBeLessThan(1e-5);
      // The window changes the model: it is not the dense one.
      const dense = new Seq2SeqTransformer({ ...cfg, encoderAttention: undefined, decoderSelfAttention: undefined });
      for (const [n, p] of model.namedParameters()) dense.namedParameters().get(n)!.storage.data.set(p.storage.data);
      expect(maxDiff(logitsOf(dense, b), dyn)).toBeGreaterThan(1e-4);
      const gd = await lossAndGrads(model, b, 'dynamic'), gs = await lossAndGrads(model, b, 'static');
      expect(Math.abs(gd.loss - gs.loss)).toBeLessThan(1e-4 * Math.abs(gs.loss));
      for (const [n, g] of gd.grads) {
        const ref = gs.grads.get(n)!;
        const scale = Math.max(1e-3, ...Array.from(ref, Math.abs));
        expect(maxDiff(g, ref) / scale, n).toBeLessThan(1e-4);
      }
    });
  }

  it('with a source mask that has a hole', () => {
    const cfg: TinyConfig = { ...TINY, encoderAttention: { window: { left: 1, right: 1 }, globalTokens: 1 } };
    const model = new Seq2SeqTransformer(cfg);
    jitter(model, 6);
    const b = { ...batchOf(cfg, randomExamples(7, [6, 5], [3, 4], { src: 11, tgt: 11 })), srcMask: Uint8Array.of(1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0) };
    const dyn = logitsOf(model, b, 'dynamic'), stat = logitsOf(model, b, 'static'), V = 11;
    expect(maxDiff(dyn.subarray(0, 3 * V), stat.subarray(0, 3 * V))).toBeLessThan(1e-5);
    expect(maxDiff(dyn.subarray(b.tgtLen * V, (b.tgtLen + 4) * V), stat.subarray(b.tgtLen * V, (b.tgtLen + 4) * V))).toBeLessThan(1e-5);
  });
});

describe('what a window means', () => {
  it('one encoder layer with window 1,1: position i reads only source i-1..i+1, plus the global token', () => {
    for (const g of [0, 1]) {
      const cfg: TinyConfig = { ...TINY, dModel: 16, encoderAttention: { window: { left: 1, right: 1 }, ...(g ? { globalTokens: g } : {}) } };
      const model = new Seq2SeqTransformer(cfg);
      jitter(model, 8);
      const S = 10, src = Int32Array.from({ length: S }, (_, i) => 3 + (i % 8)), lens = Int32Array.of(S);
      const enc = (ids: Int32Array): Float32Array => noGrad(() => {
        try { return model.encode(ids, lens, 1, S).toFloat32Array(); } finally { ops.arena.releaseAll(); }
      });
      const base = enc(src), d = cfg.dModel!;
      for (const j of [0, 5]) {
        const changed = src.slice();
        changed[j] = changed[j] === 4 ? 5 : 4;
        const out = enc(changed);
        for (let i = 0; i < S; ++i) {
          const diff = maxDiff(out.subarray(i * d, (i + 1) * d), base.subarray(i * d, (i + 1) * d));
          const sees = Math.abs(i - j) <= 1 || (g > 0 && (i < g || j < g));
          if (sees) expect(diff, `g ${g}: position ${i} should see source ${j}`).toBeGreaterThan(1e-6);
          else expect(diff, `g ${g}: position ${i} must not see source ${j}`).toBe(0);
        }
      }
    }
  });

  it('one decoder layer with window 2: logits at t depend on decoder inputs t-2..t only', () => {
    const cfg: TinyConfig = { ...TINY, dModel: 16, decoderSelfAttention: { window: { left: 2 } } };
    const model = new Seq2SeqTransformer(cfg);
    jitter(model, 9);
    const b = batchOf(cfg, randomExamples(3, [5], [8], { src: 11, tgt: 11 }));
    const base = logitsOf(model, b), V = 11;
    const changed = { ...b, tgtIn: b.tgtIn.slice() };
    changed.tgtIn[2] = changed.tgtIn[2] === 4 ? 5 : 4;
    const out = logitsOf(model, changed);
    for (let t = 0; t < b.tgtLen; ++t) {
      const diff = maxDiff(out.subarray(t * V, (t + 1) * V), base.subarray(t * V, (t + 1) * V));
      if (t >= 2 && t <= 4) expect(diff, `t ${t}`).toBeGreaterThan(1e-6);
      else expect(diff, `t ${t}`).toBe(0);
    }
  });

  it('gradient check of a windowed model (dynamic masks)', async () => {
    const cfg: TinyConfig = { ...TINY, encoderAttention: { window: { left: 1, right: 1 }, globalTokens: 1 }, decoderSelfAttention: { window: { left: 1 } } };
    const model = new Seq2SeqTransformer(cfg);
    jitter(model, 11);
    const b = batchOf(cfg, randomExamples(5, [6, 3], [4, 1], { src: 11, tgt: 11 }));
    const r = await gradCheck(model, b, 2.5e-2);
    console.log(`windowed gradcheck: ${r.checks} checks, worst error ${r.worst.toExponential(2)} at ${r.where}`);
    expect(r.zero).toEqual([]);
    expect(r.worst).toBeLessThan(1e-2);
  });
});

describe('KV cache with a decoder window', () => {
  it('cached logits equal recomputation (dynamic and static), after row selections too', () => {
    for (const [i, w] of [{ window: { left: 2 } }, { window: { left: 3 }, globalTokens: 2 }, { window: { left: 0 } }].entries()) {
      const model = new Seq2SeqTransformer({ ...DECODE, decoderSelfAttention: w, seed: 40 + i, heads: 4, kvHeads: 2 });
      expect(cacheVsRecompute(model, SOURCES, 12, 1, 'dynamic'), JSON.stringify(w)).toBeLessThan(1e-5);
      const select = (t: number, rows: number): Int32Array | null =>
        t === 5 ? Int32Array.from({ length: rows }, (_, r) => rows - 1 - r) : t === 8 ? Int32Array.of(1, 1, 3) : null;
      expect(cacheVsRecompute(model, SOURCES, 11, 2, 'static', select), JSON.stringify(w)).toBeLessThan(1e-5);
    }
  });

  it('holds at most globalTokens + left + 1 positions per row: memory is bounded by the window', () => {
    const g = 1, left = 3, steps = 24;
    const windowed = new Seq2SeqTransformer({ ...DECODE, decoderSelfAttention: { window: { left }, globalTokens: g } });
    const full = new Seq2SeqTransformer({ ...DECODE });
    const kvd = DECODE.dModel!, rows = SOURCES.length;
    const stored: number[] = [];
    let most = 0;
    cacheVsRecompute(windowed, SOURCES, steps, 3, 'dynamic', undefined, (cache) => {
      stored.push(cache.layers[0]!.stored);
      for (const l of cache.layers) most = Math.max(most, l.selfFloats);
    });
    expect(stored).toEqual(Array.from({ length: steps }, (_, t) => Math.min(t + 1, g + left + 1)));
    // Keys and values, current and spare buffer, each rows x (g + left + 1) x kvd at most.
    expect(most).toBeLessThanOrEqual(4 * rows * (g + left + 1) * kvd);
    let fullMost = 0;
    cacheVsRecompute(full, SOURCES, steps, 3, 'dynamic', undefined, (cache) => { fullMost = Math.max(fullMost, cache.layers[0]!.selfFloats); });
    expect(fullMost).toBeGreaterThan(4 * most);
  });

  it('greedy equals greedy recomputation and beam search matches the reference', async () => {
    const model = new Seq2SeqTransformer({ ...DECODE, tieEmbeddings: false, decoderSelfAttention: { window: { left: 2 }, globalTokens: 1 },
      encoderAttention: { window: { left: 2, right: 2 } }, seed: 50 });
    const w = model.namedParameters().get('lm_head.weight')!;
    for (let i = 0; i < w.shape[1]!; ++i) w.storage.data[2 * w.shape[1]! + i]! *= 3;
    const { src, lens, S } = padSources(SOURCES);
    const ref = greedyRecompute(model, src, lens, SOURCES.length, S, 14);
    const out = await generate(model, SOURCES, { maxNewTokens: 14 });
    expect(out.tokens.map((t) => [...t])).toEqual(ref.tokens.map((t) => [...t]));
    const opts = { numBeams: 3, lengthPenalty: 1, earlyStopping: false, maxNewTokens: 8 } as const;
    const beams = await generate(model, SOURCES, { ...opts, numReturnSequences: 3 });
    SOURCES.forEach((s, b) => expect(beams.sequences[b]!.map((h) => [...h.tokens])).toEqual(referenceBeamSearch(model, s, opts).map((h) => h.tokens)));
  });
});

describe('saving and exporting', () => {
  it('save/load round trip keeps the attention fields and gives bitwise-identical logits', async () => {
    const cfg: TinyConfig = { ...TINY, encoderAttention: { window: { left: 2, right: 1 }, globalTokens: 1 }, decoderSelfAttention: { window: { left: 1 } } };
    const model = new Seq2SeqTransformer(cfg);
    jitter(model, 12);
    const dir = path.join(root, 'sparse');
    await saveModel(dir, model);
    const loaded = (await loadModel(dir)).model;
    expect(loaded.config.encoderAttention).toEqual(cfg.encoderAttention);
    expect(loaded.config.decoderSelfAttention).toEqual(cfg.decoderSelfAttention);
    const b = batchOf(cfg, randomExamples(2, [7, 2], [3, 6], { src: 11, tgt: 11 }));
    expect(bitsEqual(logitsOf(loaded, b), logitsOf(model, b))).toBe(true);
    // A config.json edited by hand is checked on load, naming the file and field.
    const file = path.join(dir, 'config.json');
    const bad = JSON.parse(fs.readFileSync(file, 'utf8'));
    bad.encoderAttention.window.left = -2;
    const dir2 = path.join(root, 'sparse-bad');
    await saveModel(dir2, model);
    const { saveCheckpoint, loadCheckpoint } = await import('../dist/io/checkpoint.js');
    const ck = await loadCheckpoint(dir2);
    await saveCheckpoint(dir2, { ...ck, config: bad });
    await expect(loadModel(dir2)).rejects.toThrow(/config\.json: model config: encoderAttention\.window\.left must be a non-negative integer/);
  });

  it('Hugging Face export refuses a windowed model, naming the fields', async () => {
    const model = new Seq2SeqTransformer({ ...TINY, norm: 'post', encoderAttention: { window: { left: 1, right: 1 } }, decoderSelfAttention: { window: { left: 1 } } });
    await expect(saveHfModel(path.join(root, 'hf'), model)).rejects.toThrow(/encoderAttention has a window.*decoderSelfAttention has a window/);
  });
});

describe('attnode train --window --global-tokens --decoder-attention', () => {
  const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  const cli = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
    if (r.error) throw r.error;
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const small = ['--steps', '3', '--d-model', '16', '--heads', '2', '--ff-dim', '32', '--encoder-layers', '1', '--decoder-layers', '1', '--dropout', '0'];

  it('saves the pattern in config.json, and translate decodes with it', () => {
    const out = path.join(root, 'cli-window');
    const r = cli(['train', '--task', 'copy', '--out', out, ...small, '--window', '4,2', '--global-tokens', '1']);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(c.encoderAttention).toEqual({ window: { left: 4, right: 2 }, globalTokens: 1 });
    expect(c.decoderSelfAttention).toEqual({ window: { left: 4 }, globalTokens: 1 });
    const t = cli(['translate', '--model', out, '--max-new-tokens', '4', 'abc', 'de']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout.split('\n').length).toBe(3);  // one line per input
  });

  it('mixed decoder: --window applies to the encoder only; --window N is N either side', () => {
    const out = path.join(root, 'cli-mixed');
    const r = cli(['train', '--task', 'reverse', '--out', out, ...small, '--window', '3', '--decoder-attention', 'mixed']);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(c.decoderAttention).toBe('mixed');
    expect(c.encoderAttention).toEqual({ window: { left: 3, right: 3 } });
    expect(c.decoderSelfAttention).toBeUndefined();
    const t = cli(['translate', '--model', out, '--beams', '2', '--max-new-tokens', '3', 'abc']);
    expect(t.code, t.stderr).toBe(0);
  });

  it('bad flags exit with code 2 naming the flag', () => {
    for (const [args, re] of [
      [['--window', '2,x'], /--window must be N or L,R/],
      [['--window', '1,2,3'], /--window must be N or L,R/],
      [['--global-tokens', '2'], /--global-tokens needs --window/],
      [['--window', '2', '--global-tokens', '-1'], /--global-tokens must be an integer >= 0/],
      [['--decoder-attention', 'joint'], /--decoder-attention must be separate or mixed/],
    ] as [string[], RegExp][]) {
      const r = cli(['train', '--task', 'copy', '--out', path.join(root, 'never'), ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  });
});
