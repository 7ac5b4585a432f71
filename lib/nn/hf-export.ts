/**
 * Writes a Seq2SeqTransformer as a Hugging Face folder (config.json, model.safetensors,
 * generation_config.json) that transformers loads as MarianMTModel, BartForConditionalGeneration,
 * MBartForConditionalGeneration or PegasusForConditionalGeneration: train or fine-tune in Node,
 * serve or analyse in Python. Only models whose computation one of those architectures performs
 * can be written; any other is refused with the config fields that differ, never written
 * approximately. The layout mirrors what save_pretrained writes (the files
 * in test/fixtures/hf): F32 tensors, tied matrices stored once, final_logits_bias always present.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { resolveOptions, type GenerateOptions } from '../decode/options.js';
import { writeSafetensors, type WritableTensor } from '../io/safetensors-write.js';
import type { Seq2SeqModelConfig } from './config.js';
import { toHfName } from './hf-names.js';
import { HF_ARCHITECTURES, type HfModelType } from '../io/hf-config.js';
import { Seq2SeqTransformer, sinusoidTable } from './seq2seq.js';

export interface SaveHfOptions {
  /** Which architecture to write; default: the one the config matches. */
  modelType?: HfModelType;
  /** Generation settings for generation_config.json (e.g. loadHfModel's generateOptions). */
  generateOptions?: GenerateOptions;
}

const ACTIVATION_NAMES: Readonly<Record<Seq2SeqModelConfig['activation'], string>> = {
  relu: 'relu', gelu: 'gelu', geluTanh: 'gelu_pytorch_tanh', silu: 'swish',
};

/** The config fields that differ from what `type` computes, as "field (have, need)" phrases. */
function mismatches(c: Seq2SeqModelConfig, type: HfModelType): string[] {
  const out: string[] = [];
  const need = (field: keyof Seq2SeqModelConfig, want: unknown): void => {
    if (c[field] !== want) out.push(`${field} is ${JSON.stringify(c[field])}, ${type} needs ${JSON.stringify(want)}`);
  };
  const a = HF_ARCHITECTURES[type];
  need('norm', a.norm);
  if ((c.kvHeads ?? c.heads) !== c.heads) out.push(`kvHeads (${String(c.kvHeads)}) differs from heads (${c.heads}): ${type} has no grouped-query attention`);
  need('positions', a.positions);
  if (a.positions === 'sinusoidal') need('sinusoidLayout', 'halves');
  need('positionOffset', a.offset);
  need('layerNormEmbedding', a.lnEmbed);
  // transformers' Marian/BART attend densely and have cross-attention: a sparse or mixed model
  // would compute something else there, so it is refused rather than exported approximately.
  if (c.encoderAttention?.window) out.push(`encoderAttention has a window: ${type} has only full encoder attention`);
  if (c.decoderSelfAttention?.window) out.push(`decoderSelfAttention has a window: ${type} has only full decoder self-attention`);
  if (c.decoderAttention === 'mixed') out.push(`decoderAttention is 'mixed': ${type} needs 'separate' (self- and cross-attention)`);
  if (c.objective === 'cmlm') out.push(`objective is 'cmlm' (a bidirectional decoder and a length predictor): ${type} is autoregressive`);
  if (type !== 'marian') {
    need('tieEmbeddings', true);  // the encoder, decoder and output share model.shared
    if (c.srcVocab !== c.tgtVocab) out.push(`srcVocab (${c.srcVocab}) and tgtVocab (${c.tgtVocab}) differ: ${type} has one vocabulary`);
  }
  return out;
}

function hfConfig(c: Seq2SeqModelConfig, type: HfModelType): Record<string, unknown> {
  const shared = c.tieEmbeddings && c.srcVocab === c.tgtVocab;
  return {
    activation_dropout: 0, activation_function: ACTIVATION_NAMES[c.activation],
    architectures: [HF_ARCHITECTURES[type].className],
    attention_dropout: c.attentionDropout, bos_token_id: c.bosId, d_model: c.dModel,
    decoder_attention_heads: c.heads, decoder_ffn_dim: c.ffDim, decoder_layerdrop: 0, decoder_layers: c.decoderLayers,
    decoder_start_token_id: c.decoderStartId ?? c.bosId,
    ...(type === 'marian' ? { decoder_vocab_size: c.tgtVocab } : {}),
    dropout: c.dropout, dtype: 'float32',
    encoder_attention_heads: c.heads, encoder_ffn_dim: c.ffDim, encoder_layerdrop: 0, encoder_layers: c.encoderLayers,
    eos_token_id: c.eosId, init_std: 0.02, is_encoder_decoder: true, max_position_embeddings: c.maxLen,
    model_type: type, pad_token_id: c.padId, scale_embedding: c.scaleEmbedding,
    ...(type === 'marian' ? { share_encoder_decoder_embeddings: shared } : {}),
    tie_word_embeddings: c.tieEmbeddings, use_cache: true, vocab_size: c.srcVocab,
  };
}

/**
 * config.json's text. transformers 5 checks value types strictly: a float field written as 0 (which
 * is what JSON.stringify makes of 0.0) is refused, so these are written with a decimal point.
 */
const FLOAT_KEYS = ['activation_dropout', 'attention_dropout', 'dropout', 'decoder_layerdrop', 'encoder_layerdrop', 'init_std'];
function configText(cfg: Record<string, unknown>): string {
  let text = JSON.stringify(cfg, null, 2);
  for (const k of FLOAT_KEYS) text = text.replace(new RegExp(`^(  "${k}": -?\\d+)(,?)$`, 'm'), '$1.0$2');
  return `${text}\n`;
}

function generationConfig(c: Seq2SeqModelConfig, o: GenerateOptions): Record<string, unknown> {
  return {
    bos_token_id: c.bosId, decoder_start_token_id: c.decoderStartId ?? c.bosId, eos_token_id: c.eosId, pad_token_id: c.padId,
    ...(o.forceEos ? { forced_eos_token_id: c.eosId } : {}),
    // bad_words_ids, not suppress_tokens: what Marian's configs use, read by every transformers version.
    ...(o.suppressTokens?.length ? { bad_words_ids: o.suppressTokens.map((t) => [t]) } : {}),
    ...(o.forceFirstToken !== undefined ? { forced_bos_token_id: o.forceFirstToken } : {}),
    ...(o.minNewTokens ? { min_new_tokens: o.minNewTokens } : {}),
    ...(o.numBeams !== undefined ? { num_beams: o.numBeams } : {}),
    ...(o.lengthPenalty !== undefined ? { length_penalty: o.lengthPenalty } : {}),
    ...(o.noRepeatNgramSize !== undefined ? { no_repeat_ngram_size: o.noRepeatNgramSize } : {}),
    ...(o.repetitionPenalty !== undefined ? { repetition_penalty: o.repetitionPenalty } : {}),
    ...(o.earlyStopping !== undefined ? { early_stopping: o.earlyStopping } : {}),
    ...(o.maxNewTokens !== undefined ? { max_new_tokens: o.maxNewTokens } : {}),
  };
}

/**
 * Writes `model` into `dir` (created if needed) as a transformers checkpoint; each file is
 * written atomically. Throws a RangeError listing every config field that no architecture
 * (or the requested one) can represent.
 */
export async function saveHfModel(dir: string, model: Seq2SeqTransformer, opts: SaveHfOptions = {}): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('saveHfModel: dir must be a folder path');
  if (!(model instanceof Seq2SeqTransformer)) throw new TypeError('saveHfModel: model must be a Seq2SeqTransformer');
  if (opts === null || typeof opts !== 'object') throw new TypeError('saveHfModel: opts must be an object');
  const c = model.config;
  // The same checks generate() makes: a bad option is named here, not written into the folder.
  if (opts.generateOptions !== undefined) resolveOptions(opts.generateOptions, c.maxLen, c.tgtVocab);
  if (opts.modelType !== undefined && !Object.prototype.hasOwnProperty.call(HF_ARCHITECTURES, opts.modelType))
    throw new RangeError(`saveHfModel: opts.modelType must be one of ${Object.keys(HF_ARCHITECTURES).map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(opts.modelType)}`);
  const candidates = opts.modelType ? [opts.modelType] : Object.keys(HF_ARCHITECTURES) as HfModelType[];
  const type = candidates.find((t) => mismatches(c, t).length === 0);
  if (!type) {
    const why = candidates.map((t) => `${t}: ${mismatches(c, t).join('; ')}`).join(' | ');
    throw new RangeError(`saveHfModel: this model is no architecture transformers can load (${why})`);
  }
  const tensors = new Map<string, WritableTensor>();
  for (const [name, p] of model.namedParameters()) tensors.set(toHfName(name), { dtype: 'F32', shape: p.shape, data: p.storage.data });
  // transformers keeps final_logits_bias as a buffer that every Marian/BART checkpoint holds.
  if (!tensors.has('final_logits_bias')) tensors.set('final_logits_bias', { dtype: 'F32', shape: [1, c.tgtVocab], data: new Float32Array(c.tgtVocab) });
  if (HF_ARCHITECTURES[type].storesSinusoids) {  // Pegasus keeps its fixed tables in the checkpoint
    const table = sinusoidTable(c.maxLen, c.dModel, 'halves');
    for (const side of ['encoder', 'decoder']) tensors.set(`model.${side}.embed_positions.weight`, { dtype: 'F32', shape: [c.maxLen, c.dModel], data: table });
  }
  await fs.promises.mkdir(dir, { recursive: true });
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  await writeFileAtomic(path.join(dir, 'config.json'), configText(hfConfig(c, type)));
  await writeJsonAtomic(path.join(dir, 'generation_config.json'), generationConfig(c, opts.generateOptions ?? {}));
}
