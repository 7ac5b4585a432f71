// Hugging Face Marian/BART config.json -> Seq2SeqConfig, with the import-only facts beside it, and
// notes (never silence) for what is ignored or approximated; errors for what cannot be represented.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { mapHfConfig, readHfConfig } from '../dist/io/index.js';

const HF = path.join(import.meta.dirname, 'fixtures', 'hf');
const marianJson = () => JSON.parse(fs.readFileSync(`${HF}/marian-a/config.json`, 'utf8')) as Record<string, unknown>;
const bartJson = () => JSON.parse(fs.readFileSync(`${HF}/bart-a/config.json`, 'utf8')) as Record<string, unknown>;

describe('fixtures', () => {
  it('marian-a', async () => {
    const m = await readHfConfig(`${HF}/marian-a`);
    expect(m.modelType).toBe('marian');
    expect(m.config).toEqual({
      srcVocab: 96, tgtVocab: 96, dModel: 32, heads: 4, kvHeads: 4, ffDim: 64, encoderLayers: 2, decoderLayers: 2,
      dropout: 0, attentionDropout: 0, activation: 'silu', norm: 'post', positions: 'sinusoidal',
      tieEmbeddings: true, scaleEmbedding: true, maxLen: 64, seed: 0, padId: 95, bosId: 95, eosId: 0, decoderStartId: 95,
    });
    expect(m).toMatchObject({ positionOffset: 0, sinusoidLayout: 'halves', layerNormEmbedding: false, finalLogitsBias: true, sharedEmbeddings: true });
    expect(m.notes).toContain('bos_token_id is null: bosId set to decoder_start_token_id (95)');
    expect(m.notes.some((n) => n.startsWith('forced_eos_token_id is a generation setting'))).toBe(true);
    expect(m.notes.some((n) => /sin in the first half and cos in the second half/.test(n))).toBe(true);
    expect(m.notes.some((n) => /not understood/.test(n))).toBe(false); // every key of the fixture is accounted for
  });

  it('bart-a (directory or file path)', async () => {
    const b = await readHfConfig(`${HF}/bart-a/config.json`);
    expect(b.modelType).toBe('bart');
    expect(b.config).toEqual({
      srcVocab: 96, tgtVocab: 96, dModel: 32, heads: 4, kvHeads: 4, ffDim: 64, encoderLayers: 2, decoderLayers: 2,
      dropout: 0, attentionDropout: 0, activation: 'gelu', norm: 'post', positions: 'learned',
      tieEmbeddings: true, scaleEmbedding: false, maxLen: 64, seed: 0, padId: 1, bosId: 0, eosId: 2, decoderStartId: 2,
    });
    expect(b).toMatchObject({ positionOffset: 2, sinusoidLayout: undefined, layerNormEmbedding: true, finalLogitsBias: true, sharedEmbeddings: true });
    expect(b.notes.some((n) => /position \+ 2/.test(n))).toBe(true);
    expect(b.notes.some((n) => /not understood/.test(n))).toBe(false);
  });
});

describe('notes', () => {
  it('ignored, assumed and approximated settings are listed', () => {
    const h: Record<string, unknown> = { ...bartJson(), activation_function: 'gelu_new', activation_dropout: 0.1, encoder_layerdrop: 0.2, mystery: 7, num_beams: 4, dtype: 'float16' };
    delete h.scale_embedding;
    const { notes, config } = mapHfConfig(h);
    expect(config.activation).toBe('geluTanh');  // the same function as transformers' gelu_new: no note
    expect(notes.some((n) => n.includes('gelu_new'))).toBe(false);
    expect(notes).toEqual(expect.arrayContaining([
      'activation_dropout = 0.1 is not represented (training would differ; inference is unaffected)',
      'encoder_layerdrop = 0.2 is not represented (training would differ; inference is unaffected)',
      'mystery = 7 is not understood and was ignored',
      'num_beams is a generation setting: not part of the model (see generation_config.json)',
      'dtype "float16": weights will be converted to float32',
      'scale_embedding absent: assumed false (the Hugging Face default)',
    ]));
  });

  it('the architecture, not normalize_before (a key transformers does not read), decides the norm placement', () => {
    const r = mapHfConfig({ ...bartJson(), normalize_before: true });
    expect(r.config.norm).toBe('post');
    expect(r.notes).toContain('normalize_before = true is not read by transformers\' bart code: ignored (bart is post-LN)');
    const m = mapHfConfig({ ...bartJson(), model_type: 'mbart' });
    expect([m.config.norm, m.config.positions, m.positionOffset, m.layerNormEmbedding]).toEqual(['pre', 'learned', 2, true]);
    const p = mapHfConfig({ ...marianJson(), model_type: 'pegasus' });
    expect([p.config.norm, p.config.positions, p.sinusoidLayout, p.layerNormEmbedding]).toEqual(['pre', 'sinusoidal', 'halves', false]);
  });

  it('no decoder_start_token_id (mbart-large-cc25): bos_token_id starts the decoder, as transformers falls back to it', () => {
    const { decoder_start_token_id: _, ...h } = { ...bartJson(), model_type: 'mbart' };
    const r = mapHfConfig(h);
    expect([r.config.decoderStartId, r.config.bosId]).toEqual([0, 0]);
    expect(r.notes).toContain('decoder_start_token_id is absent: bos_token_id (0) starts the decoder, as transformers falls back to it');
  });

  it('Marian with separate source/target vocabularies', () => {
    const r = mapHfConfig({ ...marianJson(), share_encoder_decoder_embeddings: false, decoder_vocab_size: 120 });
    expect(r.config).toMatchObject({ srcVocab: 96, tgtVocab: 120 });
    expect(r.sharedEmbeddings).toBe(false);
  });
});

describe('errors for what cannot be represented', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['another model type', { ...bartJson(), model_type: 't5' }, /^src\.json: model_type "t5" is not supported \(supported: "marian", "bart", "mbart", "pegasus"\)/],
    ['per-stack heads', { ...bartJson(), decoder_attention_heads: 8 }, /encoder_attention_heads \(4\) and decoder_attention_heads \(8\) differ/],
    ['per-stack ffn', { ...bartJson(), decoder_ffn_dim: 32 }, /encoder_ffn_dim \(64\) and decoder_ffn_dim \(32\) differ/],
    ['activation', { ...bartJson(), activation_function: 'mish' }, /activation_function "mish" has no Seq2SeqConfig equivalent/],
    ['missing size', (() => { const h = bartJson(); delete h.d_model; return h; })(), /d_model is missing/],
    ['wrong type', { ...bartJson(), encoder_layers: '2' }, /encoder_layers must be an integer, got "2"/],
    ['shared but different vocabularies', { ...marianJson(), decoder_vocab_size: 120 }, /shared encoder\/decoder embeddings need vocab_size \(96\) = decoder_vocab_size \(120\)/],
    ['pad id beyond vocab', { ...bartJson(), pad_token_id: 96 }, /src\.json: mapped config\.padId \(96\) must be below both vocabulary sizes/],
  ];
  it.each(cases)('%s', (_n, h, re) => {
    expect(() => mapHfConfig(h, 'src.json')).toThrow(re);
  });
  it('not an object', () => {
    expect(() => mapHfConfig(null)).toThrow(TypeError);
  });
});
