// Hugging Face Marian and BART checkpoints (test/fixtures/hf, copied from the tiny models in
// ../shared/fixtures/hf: transformers 5.17.0, torch 2.11.0, random weights) imported with
// loadHfModel and checked against transformers' own outputs stored beside them: encoder states,
// logits, the loss, parameter gradients, incremental decoding, greedy and 4-beam generation. Then
// the import's error paths, and saving/loading/fine-tuning an imported model.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHfModel, type HfModel } from '../dist/nn/hf-import.js';
import { saveHfModel } from '../dist/nn/hf-export.js';
import { Seq2SeqTransformer } from '../dist/nn/seq2seq.js';
import { mapHfConfig, readSafetensors, writeSafetensors } from '../dist/io/index.js';
import type { Seq2SeqInput } from '../dist/nn/seq2seq.js';
import * as ops from '../dist/ops/index.js';
import { noGrad, tape } from '../dist/tensor.js';
import { loadModel, saveModel } from '../dist/train/checkpoint.js';
import { Optimizer } from '../dist/train/optimizer.js';
import { collate } from '../dist/data/batching.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'hf');
const NAMES = ['marian-a', 'bart-a', 'mbart-a', 'pegasus-a'] as const;
/** Fixtures whose beam references were made with early_stopping=True (see the 4-beam test). */
const EARLY_STOPPING_REFS = new Set(['marian-a', 'bart-a']);

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  loss: number;
  greedy: number[][];
  beam4: number[][];
  /** sequences_scores (mbart-a, pegasus-a). */
  beam4_scores?: number[];
  /** What transformers was given as decoder input (mbart-a, pegasus-a). */
  decoder_input_ids?: number[][];
  grad_params: string[];
}

interface Case {
  hf: HfModel;
  ref: Reference;
  tensors: Map<string, Float32Array>;
  x: Seq2SeqInput;
  labels: Int32Array;
}

/** The reference batch as the model takes it: decoder inputs are the labels shifted right behind the start token (-100 -> pad). */
async function load(name: string): Promise<Case> {
  const dir = path.join(FIXTURES, name);
  const hf = await loadHfModel(dir);
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
  const file = await readSafetensors(path.join(dir, 'reference.safetensors'));
  const tensors = new Map(file.names().map((n) => [n, file.float32(n)] as const));
  const c = hf.model.config, B = ref.input_ids.length, S = ref.input_ids[0]!.length, T = ref.labels[0]!.length;
  const tgtIn = new Int32Array(B * T), tgtLengths = new Int32Array(B);
  ref.labels.forEach((row, b) => {
    tgtIn[b * T] = hf.model.decoderStartId;
    for (let t = 1; t < T; ++t) tgtIn[b * T + t] = row[t - 1] === -100 ? c.padId : row[t - 1]!;
    tgtLengths[b] = row.filter((l) => l !== -100).length;
  });
  if (ref.decoder_input_ids) expect([...tgtIn]).toEqual(ref.decoder_input_ids.flat());
  const x: Seq2SeqInput = {
    batch: B, srcLen: S, tgtLen: T, src: Int32Array.from(ref.input_ids.flat()),
    srcLengths: Int32Array.from(ref.attention_mask, (m) => m.lastIndexOf(1) + 1),
    srcMask: Uint8Array.from(ref.attention_mask.flat()), tgtIn, tgtLengths,
  };
  return { hf, ref, tensors, x, labels: Int32Array.from(ref.labels.flat()) };
}

/** Largest |a - b| over the rows [rows, width] where keep(row). */
function maxDiff(a: Float32Array, b: Float32Array, width: number, keep: (row: number) => boolean): number {
  expect(a.length).toBe(b.length);
  let m = 0, rows = 0;
  for (let r = 0; r < a.length / width; ++r) {
    if (!keep(r)) continue;
    rows += 1;
    for (let j = 0; j < width; ++j) m = Math.max(m, Math.abs(a[r * width + j]! - b[r * width + j]!));
  }
  expect(rows).toBeGreaterThan(0);
  return m;
}

function logitsOf(c: Case, maskMode: 'dynamic' | 'static' = 'dynamic'): Float32Array {
  return noGrad(() => {
    try {
      return ops.data(c.hf.model.forward(c.x, { maskMode })).slice();
    } finally {
      ops.arena.releaseAll();
    }
  });
}

describe.each(NAMES)('%s against transformers', (name) => {
  it('maps the config and reads every tensor', async () => {
    const { hf } = await load(name);
    const cfg = hf.model.config;
    expect([cfg.dModel, cfg.heads, cfg.ffDim, cfg.encoderLayers, cfg.decoderLayers, cfg.srcVocab, cfg.maxLen]).toEqual([32, 4, 64, 2, 2, 96, 64]);
    // [activation, norm, positions, sinusoidLayout, positionOffset, scaleEmbedding, layerNormEmbedding], [pad, eos, decoder start]
    const want: Record<string, [unknown[], number[]]> = {
      'marian-a': [['silu', 'post', 'sinusoidal', 'halves', 0, true, false], [95, 0, 95]],
      'bart-a': [['gelu', 'post', 'learned', 'interleaved', 2, false, true], [1, 2, 2]],
      'mbart-a': [['gelu', 'pre', 'learned', 'interleaved', 2, true, true], [1, 2, 2]],
      'pegasus-a': [['relu', 'pre', 'sinusoidal', 'halves', 0, true, false], [0, 1, 0]],
    };
    expect([cfg.activation, cfg.norm, cfg.positions, cfg.sinusoidLayout, cfg.positionOffset, cfg.scaleEmbedding, cfg.layerNormEmbedding]).toEqual(want[name]![0]);
    expect([cfg.padId, cfg.eosId, hf.model.decoderStartId]).toEqual(want[name]![1]);
    if (cfg.positions === 'learned') expect(hf.model.namedParameters().get('encoder.embed_positions.weight')!.shape).toEqual([66, 32]);
    if (cfg.norm === 'pre') expect(hf.model.namedParameters().get('decoder.layer_norm.weight')!.shape).toEqual([32]);
    expect(cfg.finalLogitsBias).toBe(true);
    // No max_length in generation_config.json: transformers' default 20, the start token included.
    expect(hf.generateOptions).toEqual({ forceEos: true, maxNewTokens: 19 });
    // Every parameter holds the checkpoint's values (spot-check the shared embedding and the logits bias).
    const st = await readSafetensors(path.join(FIXTURES, name, 'model.safetensors'));
    const params = hf.model.namedParameters();
    for (const n of ['shared.weight', 'final_logits_bias', 'decoder.layers.1.fc2.weight', 'encoder.layers.0.self_attn.v_proj.bias'])
      expect(params.get(n)!.storage.data, n).toEqual(st.float32(n === 'final_logits_bias' ? n : `model.${n}`));
  });

  it('encoder states and logits equal transformers\' to 2e-6, with dynamic and static masks', async () => {
    const c = await load(name);
    const { x } = c, D = c.hf.model.config.dModel, V = c.hf.model.config.tgtVocab;
    const memory = noGrad(() => {
      try {
        return ops.data(c.hf.model.encode(x.src, x.srcLengths, x.batch, x.srcLen, {}, undefined, x.srcMask)).slice();
      } finally {
        ops.arena.releaseAll();
      }
    });
    // Padded source rows are compared nowhere: transformers computes them, attnode zeroes them.
    const memErr = maxDiff(memory, c.tensors.get('encoder_last_hidden_state')!, D, (r) => x.srcMask![r] === 1);
    const logits = logitsOf(c);
    const logitErr = maxDiff(logits, c.tensors.get('logits')!, V, (r) => c.labels[r] !== -100);
    console.log(`${name}: encoder states max |diff| ${memErr.toExponential(2)}, logits ${logitErr.toExponential(2)}`);
    expect(memErr).toBeLessThan(2e-6);
    expect(logitErr).toBeLessThan(2e-6);
    const st = logitsOf(c, 'static');
    expect(maxDiff(st, logits, V, (r) => c.labels[r] !== -100)).toBeLessThan(1e-6);
    if (name === 'marian-a') {
      // Row 0 has a pad in the middle of its source: without the mask its logits move by far more
      // than the tolerance (this random model attends almost uniformly, so by ~3e-4).
      const { srcMask: _, ...noMask } = x;
      const unmasked = noGrad(() => { try { return ops.data(c.hf.model.forward(noMask)).slice(); } finally { ops.arena.releaseAll(); } });
      expect(maxDiff(unmasked, c.tensors.get('logits')!, V, (r) => r < x.tgtLen)).toBeGreaterThan(1e-4);
      // A bad mask is named, in either mask mode and through encode() too.
      for (const maskMode of ['dynamic', 'static'] as const) {
        expect(() => c.hf.model.forward({ ...x, srcMask: new Uint8Array(3) }, { maskMode })).toThrow(/input\.srcMask must have length batch\*srcLen = 27, got 3/);
        expect(() => c.hf.model.forward({ ...x, srcMask: new Uint8Array(27).fill(2) }, { maskMode })).toThrow(/input\.srcMask\[0\] must be 0 or 1, got 2/);
        expect(() => c.hf.model.encode(x.src, x.srcLengths, x.batch, x.srcLen, { maskMode }, undefined, new Uint8Array(5)))
          .toThrow(/encode: srcMask must have length/);
      }
      ops.arena.releaseAll();
      expect(maxDiff(logitsOf({ ...c, x: { ...x, srcMask: null } }), unmasked, V, () => true)).toBe(0);  // null = no mask
    }
  });

  it('loss and gradients equal transformers\'', async () => {
    const c = await load(name);
    const model = c.hf.model;
    model.zeroGrad();
    let loss: number;
    try {
      const r = ops.crossEntropySum(model.forward(c.x), c.labels, { labelSmoothing: 0, ignoreIndex: -100 });
      tape.run();
      loss = r.sum / r.count;
      const params = model.namedParameters();
      for (const n of c.ref.grad_params) {
        // transformers' loss is the mean over counted tokens; crossEntropySum's is the sum.
        const g = Float32Array.from(params.get(n.slice('model.'.length))!.grad!, (v) => v / r.count);
        const want = c.tensors.get(`grad.${n}`)!;
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(scale, n).toBeGreaterThan(0);
        expect(maxDiff(g, want, g.length, () => true) / scale, n).toBeLessThan(1e-4);
      }
    } finally {
      ops.arena.releaseAll();
    }
    expect(Math.abs(loss - c.ref.loss)).toBeLessThan(1e-5);
  });

  it('incremental decoding (KV cache, source mask) gives transformers\' logits at every position', async () => {
    const c = await load(name);
    const { x } = c, model = c.hf.model, V = model.config.tgtVocab;
    const want = c.tensors.get('logits')!;
    noGrad(() => {
      try {
        const memory = model.encode(x.src, x.srcLengths, x.batch, x.srcLen, {}, undefined, x.srcMask);
        const cache = model.startDecoding(memory, x.srcLengths, x.batch, x.srcLen, 1, x.srcMask);
        for (let t = 0; t < x.tgtLen; ++t) {
          const tokens = Int32Array.from({ length: x.batch }, (_, b) => x.tgtIn[b * x.tgtLen + t]!);
          const got = ops.data(model.decodeStep(tokens, cache));
          for (let b = 0; b < x.batch; ++b) {
            const r = b * x.tgtLen + t;
            if (c.labels[r] === -100) continue;
            const e = maxDiff(got.subarray(b * V, (b + 1) * V), want.subarray(r * V, (r + 1) * V), V, () => true);
            expect(e, `row ${b} position ${t}`).toBeLessThan(2e-6);
          }
        }
      } finally {
        ops.arena.releaseAll();
      }
    });
  });

  // generate() pads sources at the end only, so rows whose source mask has a hole are left to the
  // KV-cache test above.
  const plainRows = (ref: Reference): number[] => ref.attention_mask.flatMap((m, b) => (m.slice(0, m.lastIndexOf(1) + 1).includes(0) ? [] : [b]));
  const expected = (seq: number[], eos: number, start: number): number[] => {
    expect(seq[0]).toBe(start);
    const end = seq.indexOf(eos, 1);
    expect(end).toBeGreaterThan(0);
    return seq.slice(1, end);  // generate() returns the tokens between the start token and EOS
  };

  it('greedy generation with generation_config.json\'s options equals transformers\'', async () => {
    const { hf, ref } = await load(name);
    const rows = plainRows(ref);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const srcs = rows.map((b) => ref.input_ids[b]!.slice(0, ref.attention_mask[b]!.lastIndexOf(1) + 1));
    const r = await hf.model.generate(srcs, { ...hf.generateOptions, maxNewTokens: 12, thread: 'main' });
    rows.forEach((b, i) => {
      expect(r.sequences[i]![0]!.finished).toBe(true);
      expect([...r.sequences[i]![0]!.tokens], `row ${b}`).toEqual(expected(ref.greedy[b]!, hf.model.config.eosId, hf.model.decoderStartId));
    });
  });

  // The stored 4-beam references were made with early_stopping=True: transformers 5.18 reproduces
  // them only so (checked here with a local install). With its default (false), transformers 5.18
  // returns 11 x 50 + EOS for every bart-a row, sequences_scores -3.62929, -3.62983, -3.62983:
  // attnode's default gives the same (the test after this one).
  it('4-beam search equals transformers\'', async () => {
    const { hf, ref } = await load(name);
    const rows = plainRows(ref);
    const srcs = rows.map((b) => ref.input_ids[b]!.slice(0, ref.attention_mask[b]!.lastIndexOf(1) + 1));
    const earlyStopping = EARLY_STOPPING_REFS.has(name);
    const r = await hf.model.generate(srcs, { ...hf.generateOptions, maxNewTokens: 12, numBeams: 4, earlyStopping, thread: 'main' });
    rows.forEach((b, i) => {
      expect([...r.sequences[i]![0]!.tokens], `row ${b}`).toEqual(expected(ref.beam4[b]!, hf.model.config.eosId, hf.model.decoderStartId));
      if (ref.beam4_scores) expect(Math.abs(r.sequences[i]![0]!.score - ref.beam4_scores[b]!), `row ${b} score`).toBeLessThan(2e-5);
    });
  });
});

it('bart-a: 4-beam search with the default earlyStopping (false) equals transformers 5.18\'s default', async () => {
  const { hf, ref } = await load('bart-a');
  const srcs = ref.input_ids.map((row, b) => row.slice(0, ref.attention_mask[b]!.lastIndexOf(1) + 1));
  const r = await hf.model.generate(srcs, { ...hf.generateOptions, maxNewTokens: 12, numBeams: 4, thread: 'main' });
  const want = [-3.6292896270751953, -3.629828691482544, -3.629826307296753];  // transformers 5.18 sequences_scores
  r.sequences.forEach(([h], b) => {
    expect([...h!.tokens]).toEqual(new Array<number>(11).fill(50));
    expect(h!.finished).toBe(true);
    expect(Math.abs(h!.score - want[b]!)).toBeLessThan(2e-5);
  });
});

describe('an imported model', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-hf-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('saves and loads as an attnode checkpoint with identical logits', async () => {
    const c = await load('bart-a');
    const dir = path.join(tmp, 'saved');
    await saveModel(dir, c.hf.model);
    const { model } = await loadModel(dir);
    expect(model.config).toEqual(c.hf.model.config);
    const again = noGrad(() => { try { return ops.data(model.forward(c.x)).slice(); } finally { ops.arena.releaseAll(); } });
    expect(again).toEqual(logitsOf(c));
  });

  it('fine-tunes: Adam steps on the reference batch lower its loss', async () => {
    const c = await load('marian-a');
    const model = c.hf.model;
    const opt = new Optimizer(model.trainableParameters());
    const bias = Float32Array.from(model.namedParameters().get('final_logits_bias')!.storage.data);
    const losses: number[] = [];
    for (let step = 0; step < 40; ++step) {
      model.zeroGrad();
      try {
        const r = ops.crossEntropySum(model.forward(c.x, { training: true, step }), c.labels, { labelSmoothing: 0, ignoreIndex: -100 });
        tape.run();
        losses.push(r.sum / r.count);
      } finally {
        ops.arena.releaseAll();
      }
      opt.apply(3e-3, 1 / c.labels.filter((l) => l !== -100).length);
    }
    expect(losses[0]).toBeCloseTo(c.ref.loss, 5);
    console.log(`marian-a fine-tuning: loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)} in 40 Adam steps`);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    // final_logits_bias is a fixed buffer, as in transformers: not trained, no gradient.
    const p = model.namedParameters().get('final_logits_bias')!;
    expect(p.storage.data).toEqual(bias);
    expect(p.grad!.every((g) => g === 0)).toBe(true);
  });
});

describe('import errors name the file or tensor', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-hf-bad-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  /** A copy of bart-a whose weights are edited by `edit`. */
  async function variant(edit: (w: Map<string, { shape: number[]; data: Float32Array }>) => void): Promise<string> {
    const dir = path.join(tmp, `v${n++}`);
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(FIXTURES, 'bart-a', 'config.json'), path.join(dir, 'config.json'));
    const st = await readSafetensors(path.join(FIXTURES, 'bart-a', 'model.safetensors'));
    const w = new Map(st.names().map((k) => [k, { shape: [...st.info(k).shape], data: st.float32(k) }] as const));
    edit(w);
    await writeSafetensors(path.join(dir, 'model.safetensors'), w);
    return dir;
  }

  it('a missing folder, config or weights file', async () => {
    await expect(loadHfModel(path.join(tmp, 'nowhere'))).rejects.toThrow(/no such directory/);
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'not a folder');
    await expect(loadHfModel(file)).rejects.toMatchObject({ name: 'CheckpointError', code: 'not-a-directory' });
    const dir = path.join(tmp, 'config-only');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(FIXTURES, 'bart-a', 'config.json'), path.join(dir, 'config.json'));
    await expect(loadHfModel(dir)).rejects.toThrow(/no model\.safetensors/);
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    await expect(loadHfModel(dir)).rejects.toThrow(/pytorch_model\.bin is a pickle/);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": ');
    await expect(loadHfModel(dir)).rejects.toThrow(/config\.json: not valid JSON/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 't5' }));
    await expect(loadHfModel(dir)).rejects.toThrow(/model_type "t5" is not supported/);
  });

  it('a missing tensor, an unknown one, a wrong shape, NaN, an untied copy', async () => {
    await expect(loadHfModel(await variant((w) => w.delete('model.decoder.layers.1.fc1.bias'))))
      .rejects.toThrow(/lacks 1 tensor\(s\): 'model\.decoder\.layers\.1\.fc1\.bias'/);
    await expect(loadHfModel(await variant((w) => w.set('model.encoder.extra.weight', { shape: [2], data: new Float32Array(2) }))))
      .rejects.toThrow(/'model\.encoder\.extra\.weight' has no place in the model/);
    await expect(loadHfModel(await variant((w) => w.set('model.encoder.layers.0.fc1.weight', { shape: [32, 64], data: new Float32Array(2048) }))))
      .rejects.toThrow(/'model\.encoder\.layers\.0\.fc1\.weight' has shape \[32, 64\], the model expects \[64, 32\]/);
    await expect(loadHfModel(await variant((w) => { w.get('model.shared.weight')!.data[5] = NaN; })))
      .rejects.toThrow(/model\.shared\.weight/);
    const shared = (await readSafetensors(path.join(FIXTURES, 'bart-a', 'model.safetensors'))).float32('model.shared.weight');
    // A tied copy equal to the shared embedding is accepted; a different one is an error.
    const ok = await loadHfModel(await variant((w) => w.set('lm_head.weight', { shape: [96, 32], data: shared })));
    expect(ok.notes.some((s) => s.includes('lm_head.weight is a tied copy'))).toBe(true);
    const other = Float32Array.from(shared, (v, i) => (i === 7 ? v + 1 : v));
    await expect(loadHfModel(await variant((w) => w.set('lm_head.weight', { shape: [96, 32], data: other }))))
      .rejects.toThrow(/'lm_head\.weight' should be tied to 'shared\.weight' but differs/);
  });

  it('generation_config.json: single-token bad_words_ids and suppress_tokens become suppressTokens, longer ones a note', async () => {
    const dir = await variant(() => {});
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({
      decoder_start_token_id: 2, eos_token_id: 2, pad_token_id: 1, forced_eos_token_id: 2, num_beams: 5, max_length: 30,
      bad_words_ids: [[1], [7, 8]], suppress_tokens: [9, 1],
    }));
    const { generateOptions, notes } = await loadHfModel(dir);
    expect(generateOptions).toEqual({ forceEos: true, numBeams: 5, maxNewTokens: 29, suppressTokens: [1, 9] });
    expect(notes.some((n) => n.includes('[7,8]') && n.includes('not applied'))).toBe(true);
  });

  it('what transformers fills in itself: the shared matrix from a tied copy, a missing final_logits_bias, unprefixed names', async () => {
    const onlyLmHead = await loadHfModel(await variant((w) => {
      w.set('lm_head.weight', w.get('model.shared.weight')!);
      w.delete('model.shared.weight');
      w.delete('final_logits_bias');
    }));
    const ref = await load('bart-a');
    expect(onlyLmHead.model.namedParameters().get('shared.weight')!.storage.data).toEqual(ref.hf.model.namedParameters().get('shared.weight')!.storage.data);
    expect(onlyLmHead.model.namedParameters().get('final_logits_bias')!.storage.data.every((v) => v === 0)).toBe(true);
    expect(onlyLmHead.notes).toEqual(expect.arrayContaining([
      'model.shared.weight is absent: read from its tied copy lm_head.weight',
      'final_logits_bias is absent: zeros, as transformers initialises it',
    ]));
    // BartModel checkpoints name tensors without the "model." prefix.
    const bare = await loadHfModel(await variant((w) => {
      for (const [k, v] of [...w]) if (k.startsWith('model.')) { w.delete(k); w.set(k.slice(6), v); }
    }));
    for (const [k, p] of ref.hf.model.namedParameters()) expect(bare.model.namedParameters().get(k)!.storage.data, k).toEqual(p.storage.data);
  });

  it('generation_config.json: min_length, min_new_tokens and forced_bos_token_id', async () => {
    const dir = await variant(() => {});
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ max_new_tokens: 10, min_length: 4, forced_bos_token_id: 0 }));
    expect((await loadHfModel(dir)).generateOptions).toEqual({ maxNewTokens: 10, minNewTokens: 3, forceFirstToken: 0 });
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ max_new_tokens: 10, min_new_tokens: 5, forced_bos_token_id: 500 }));
    const r = await loadHfModel(dir);
    expect(r.generateOptions).toEqual({ maxNewTokens: 10, minNewTokens: 5 });
    expect(r.notes.some((n) => n.includes('forced_bos_token_id 500'))).toBe(true);
  });

  it('a tanh-approximated GELU imports as geluTanh and exports back under its name', async () => {
    const dir = await variant(() => {});
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, activation_function: 'gelu_pytorch_tanh' }));
    const { model } = await loadHfModel(dir);
    expect(model.config.activation).toBe('geluTanh');
    await saveHfModel(path.join(dir, 'out'), model);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'config.json'), 'utf8')).activation_function).toBe('gelu_pytorch_tanh');
  });

  it('stored sinusoid tables (Pegasus) must be the formula\'s: a changed one is an error, not silently replaced', async () => {
    const dir = path.join(tmp, 'pegasus-bad-sin');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(FIXTURES, 'pegasus-a', 'config.json'), path.join(dir, 'config.json'));
    const st = await readSafetensors(path.join(FIXTURES, 'pegasus-a', 'model.safetensors'));
    const w = new Map(st.names().map((k) => [k, { shape: [...st.info(k).shape], data: st.float32(k) }] as const));
    w.get('model.encoder.embed_positions.weight')!.data[40] += 0.01;
    await writeSafetensors(path.join(dir, 'model.safetensors'), w);
    await expect(loadHfModel(dir)).rejects.toThrow(/'model\.encoder\.embed_positions\.weight' is not the sinusoid table this architecture computes \(max \|diff\| 1\.00e-2\)/);
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', async () => {
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(FIXTURES, 'bart-a', 'config.json'), path.join(dir, 'config.json'));
    const st = await readSafetensors(path.join(FIXTURES, 'bart-a', 'model.safetensors'));
    const names = st.names(), half = Math.floor(names.length / 2);
    const weightMap: Record<string, string> = {};
    for (const [i, part] of [names.slice(0, half), names.slice(half)].entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeSafetensors(path.join(dir, file), new Map(part.map((k) => [k, { shape: [...st.info(k).shape], data: st.float32(k) }] as const)));
      for (const k of part) weightMap[k] = file;
    }
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    const a = await loadHfModel(dir), b = await loadHfModel(path.join(FIXTURES, 'bart-a'));
    for (const [k, p] of b.model.namedParameters()) expect(a.model.namedParameters().get(k)!.storage.data, k).toEqual(p.storage.data);
  });
});

describe('saveHfModel writes what transformers saves', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-hf-out-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it.each(NAMES)('%s: import then export gives back the same tensors and an equivalent config', async (name) => {
    const src = path.join(FIXTURES, name), out = path.join(tmp, name);
    const hf = await loadHfModel(src);
    await saveHfModel(out, hf.model, { generateOptions: hf.generateOptions });
    const a = await readSafetensors(path.join(src, 'model.safetensors')), b = await readSafetensors(path.join(out, 'model.safetensors'));
    expect(b.names().sort()).toEqual(a.names().sort());
    for (const n of a.names()) {
      expect(b.info(n).dtype, n).toBe('F32');
      expect(b.info(n).shape, n).toEqual(a.info(n).shape);
      expect(b.float32(n), n).toEqual(a.float32(n));
    }
    expect(b.metadata).toEqual({ format: 'pt' });
    const readJson = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
    const theirs = readJson(path.join(src, 'config.json')), ours = readJson(path.join(out, 'config.json'));
    expect(mapHfConfig(ours).config).toEqual({ ...mapHfConfig(theirs).config });
    for (const k of ['model_type', 'architectures', 'activation_function', 'd_model', 'vocab_size', 'max_position_embeddings', 'scale_embedding', 'pad_token_id', 'eos_token_id', 'decoder_start_token_id', 'tie_word_embeddings'])
      expect(ours[k], k).toEqual(theirs[k]);
    const gen = readJson(path.join(out, 'generation_config.json')), theirGen = readJson(path.join(src, 'generation_config.json'));
    for (const k of ['decoder_start_token_id', 'eos_token_id', 'forced_eos_token_id', 'pad_token_id']) expect(gen[k], k).toEqual(theirGen[k]);
    // And it imports again into the same model.
    const again = await loadHfModel(out);
    expect(again.model.config).toEqual(hf.model.config);
    expect(again.generateOptions).toEqual(hf.generateOptions);
  });

  it('a model trained here exports as BART and re-imports with identical logits', async () => {
    const model = new Seq2SeqTransformer({
      srcVocab: 40, tgtVocab: 40, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 2, dropout: 0,
      attentionDropout: 0, activation: 'gelu', norm: 'post', positions: 'learned', positionOffset: 2, layerNormEmbedding: true,
      finalLogitsBias: true, scaleEmbedding: false, maxLen: 20, seed: 4, padId: 1, bosId: 0, eosId: 2, decoderStartId: 2,
    });
    for (const p of model.parameters()) for (let i = 0; i < p.size; ++i) p.storage.data[i] = Math.sin(i * 0.37 + p.size) * 0.2;
    const dir = path.join(tmp, 'trained');
    await saveHfModel(dir, model);
    const back = (await loadHfModel(dir)).model;
    expect(back.config).toEqual({ ...model.config, kvHeads: 2, seed: 0 });
    const x: Seq2SeqInput = { batch: 2, srcLen: 5, tgtLen: 4, src: Int32Array.from([5, 6, 7, 8, 2, 9, 10, 2, 1, 1]), srcLengths: Int32Array.of(5, 3),
      tgtIn: Int32Array.from([2, 11, 12, 13, 2, 14, 1, 1]), tgtLengths: Int32Array.of(4, 2) };
    const run = (m: Seq2SeqTransformer): Float32Array => noGrad(() => { try { return ops.data(m.forward(x)).slice(); } finally { ops.arena.releaseAll(); } });
    expect(run(back)).toEqual(run(model));
  });

  it('config.json writes float fields with a decimal point (transformers 5 refuses 0 for 0.0)', async () => {
    const hf = await loadHfModel(path.join(FIXTURES, 'bart-a'));
    const out = path.join(tmp, 'floats');
    await saveHfModel(out, hf.model);
    const text = fs.readFileSync(path.join(out, 'config.json'), 'utf8');
    for (const k of ['activation_dropout', 'attention_dropout', 'dropout', 'decoder_layerdrop', 'encoder_layerdrop'])
      expect(text, k).toMatch(new RegExp(`"${k}": 0\\.0,`));
    expect(text).toMatch(/"init_std": 0\.02,/);
    expect(text).toMatch(/"d_model": 32,/);  // integers stay integers
  });

  it('refuses bad arguments, naming them', async () => {
    const hf = await loadHfModel(path.join(FIXTURES, 'bart-a'));
    await expect(saveHfModel(path.join(tmp, 'x1'), {} as never)).rejects.toThrow(/model must be a Seq2SeqTransformer/);
    await expect(saveHfModel(path.join(tmp, 'x2'), hf.model, null as never)).rejects.toThrow(/opts must be an object/);
    await expect(saveHfModel(path.join(tmp, 'x3'), hf.model, { generateOptions: { numBeams: 'x' as never } })).rejects.toThrow(/options\.numBeams/);
    await expect(saveHfModel(path.join(tmp, 'x4'), hf.model, { modelType: 't5' as never })).rejects.toThrow(/modelType must be one of 'marian', 'bart', 'mbart', 'pegasus'/);
    for (const d of ['x1', 'x2', 'x3', 'x4']) expect(fs.existsSync(path.join(tmp, d)), d).toBe(false);
  });

  it('refuses a model no architecture computes, naming the fields', async () => {
    const model = new Seq2SeqTransformer({ srcVocab: 20, tgtVocab: 20, dModel: 8, heads: 2, kvHeads: 1, ffDim: 16, encoderLayers: 1, decoderLayers: 1, norm: 'pre' });
    await expect(saveHfModel(path.join(tmp, 'bad'), model)).rejects.toThrow(/marian: norm is "pre", marian needs "post"; kvHeads \(1\) differs.*\| bart: norm.*\| mbart: kvHeads.*\| pegasus: kvHeads \(1\)[^|]*sinusoidLayout is "interleaved", pegasus needs "halves"\)$/);
    const marianLike = new Seq2SeqTransformer({ srcVocab: 20, tgtVocab: 20, dModel: 8, heads: 2, ffDim: 16, encoderLayers: 1, decoderLayers: 1, norm: 'post' });
    await expect(saveHfModel(path.join(tmp, 'bad2'), marianLike)).rejects.toThrow(/sinusoidLayout is "interleaved", marian needs "halves"/);
    await expect(saveHfModel(path.join(tmp, 'bad3'), marianLike, { modelType: 'bart' })).rejects.toThrow(/^saveHfModel: .*\(bart: positions is "sinusoidal"/);
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
  });
});

describe('folders with tokenizers: BART with a byte-level BPE (test/fixtures/hf-bpe), Marian with SentencePiece (test/fixtures/hf-spm)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-hf-tok-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const CLI = path.join(import.meta.dirname, '..', 'dist', 'cli.js');
  const cli = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) throw r.error;
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('loadHfModel reads the tokenizer; generate() and `attnode translate` give the same texts', async () => {
    const model = new Seq2SeqTransformer({
      srcVocab: 600, tgtVocab: 600, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 1, dropout: 0,
      attentionDropout: 0, activation: 'gelu', norm: 'post', positions: 'learned', positionOffset: 2, layerNormEmbedding: true,
      finalLogitsBias: true, scaleEmbedding: false, maxLen: 40, seed: 11, padId: 1, bosId: 0, eosId: 2, decoderStartId: 2,
    });
    const dir = path.join(tmp, 'bart-bpe');
    await saveHfModel(dir, model, { generateOptions: { maxNewTokens: 6, forceEos: true } });
    fs.copyFileSync(path.join(import.meta.dirname, 'fixtures', 'hf-bpe', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const hf = await loadHfModel(dir);
    expect(hf.tokenizer).not.toBeNull();
    expect([...hf.tokenizer!.encode('Hello world')].slice(0, 1)).toEqual([0]);  // <s> first, as BART
    const inputs = ['Hello world', 'naïve café'];
    const want = await hf.model.generate(inputs, { ...hf.generateOptions, tokenizer: hf.tokenizer!, thread: 'main' });
    expect(want.texts).toHaveLength(2);
    const r = cli(['translate', '--model', dir, ...inputs]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${want.texts!.join('\n')}\n`);
  });

  it('Marian: loadHfModel reads source.spm/target.spm/vocab.json; generate() and `attnode translate` agree', async () => {
    const model = new Seq2SeqTransformer({
      srcVocab: 411, tgtVocab: 411, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 1, dropout: 0,
      attentionDropout: 0, activation: 'silu', norm: 'post', positions: 'sinusoidal', sinusoidLayout: 'halves', finalLogitsBias: true,
      scaleEmbedding: true, maxLen: 40, seed: 12, padId: 410, bosId: 410, eosId: 0, decoderStartId: 410,
    });
    const dir = path.join(tmp, 'marian-spm');
    await saveHfModel(dir, model, { generateOptions: { maxNewTokens: 6, forceEos: true, suppressTokens: [410] } });
    for (const f of ['source.spm', 'target.spm', 'vocab.json']) fs.copyFileSync(path.join(import.meta.dirname, 'fixtures', 'hf-spm', f), path.join(dir, f));
    const hf = await loadHfModel(dir);
    expect(hf.tokenizer?.constructor.name).toBe('MarianTokenizer');
    expect(hf.generateOptions).toEqual({ maxNewTokens: 6, forceEos: true, suppressTokens: [410] });
    const inputs = ['Hello world', 'The quick brown fox'];
    const want = await hf.model.generate(inputs, { ...hf.generateOptions, tokenizer: hf.tokenizer!, thread: 'main' });
    for (const [h] of want.sequences) expect([...h!.tokens]).not.toContain(410);
    const r = cli(['translate', '--model', dir, ...inputs]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${want.texts!.join('\n')}\n`);
  });

  it('`attnode finetune` trains a Marian folder on text pairs and writes a transformers folder that loads again', async () => {
    const src = path.join(tmp, 'marian-spm');  // written by the test above
    const pairs = [['Hello world', 'Hello world'], ['The quick brown fox', 'The quick brown fox'], ['attnode trains', 'attnode trains'], ['lazy dog', 'lazy dog']];
    const tsv = path.join(tmp, 'pairs.tsv');
    fs.writeFileSync(tsv, pairs.map((p) => p.join('\t')).join('\n') + '\n');
    const out = path.join(tmp, 'tuned');
    const r = cli(['finetune', '--model', src, '--data', tsv, '--out', out, '--steps', '40', '--lr', '0.01', '--batch-size', '4']);
    expect(r.stderr.split('\n').filter((l) => l && !/step \d+\/40 /.test(l)).join('\n')).toBe('');  // progress lines only
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/saved a transformers folder to /);
    for (const f of ['config.json', 'model.safetensors', 'generation_config.json', 'source.spm', 'target.spm', 'vocab.json'])
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    // The mean loss of the pairs (labels: target ids + </s>, decoder input shifted right behind the start token) went down.
    const loss = async (dir: string): Promise<number> => {
      const { model, tokenizer } = await loadHfModel(dir);
      const b = collate(pairs.map(([s, t]) => ({ src: tokenizer!.encode(s!), tgt: tokenizer!.encodeTarget(t!, { addEos: false }) })),
        { bos: model.decoderStartId, eos: model.config.eosId, padId: model.config.padId });
      return noGrad(() => {
        try {
          const l = ops.crossEntropySum(model.forward(b), b.labels, { labelSmoothing: 0, ignoreIndex: -100 });
          return l.sum / l.count;
        } finally {
          ops.arena.releaseAll();
        }
      });
    };
    const before = await loss(src), after = await loss(out);
    console.log(`finetune: mean loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    expect(after).toBeLessThan(0.7 * before);
    const bad = cli(['finetune', '--model', src, '--data', tsv, '--out', src]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--out must differ from --model/);
  });

  it('a folder without a tokenizer: a note, and translate says why it cannot run', async () => {
    const hf = await loadHfModel(path.join(FIXTURES, 'marian-a'));
    expect(hf.tokenizer).toBeNull();
    expect(hf.notes).toContain('tokenizer: none in the folder; pass token ids');
    const r = cli(['translate', '--model', path.join(FIXTURES, 'marian-a'), 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a Hugging Face folder without a tokenizer attnode reads \(tokenizer: none in the folder/);
  });
});
