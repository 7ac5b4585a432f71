/**
 * Maps a Hugging Face Marian or BART config.json onto a Seq2SeqConfig, for importing their
 * checkpoints. What the Seq2SeqConfig cannot say but the import must do (BART's position offset
 * and embedding LayerNorm, Marian's sin/cos layout, final_logits_bias, shared source/target
 * embeddings) comes back as fields beside it; what is ignored or approximated is listed in
 * `notes`, never dropped silently. Differences that would change the computation and have no
 * representation (per-side head counts or FFN sizes, an unknown activation, another model type)
 * are errors.
 */
import path from 'node:path';
import { readJsonFile } from './json.js';
import { statOrThrow } from './stat.js';
import { validateConfig, type Activation, type NormPlacement, type Seq2SeqConfig } from './config.js';

export type HfModelType = 'marian' | 'bart' | 'mbart' | 'pegasus';

/**
 * What each architecture computes that its config.json does not say (transformers' modeling code
 * fixes it): LayerNorm placement (a final LayerNorm ends each pre-LN stack), the position
 * encoding (sinusoids are all sines then all cosines), the learned table's offset, and a
 * LayerNorm after the embeddings.
 */
export interface HfArchitecture {
  /** transformers' class of the model with its LM head. */
  readonly className: string;
  readonly norm: NormPlacement;
  readonly positions: 'sinusoidal' | 'learned';
  readonly offset: number;
  readonly lnEmbed: boolean;
  /** Whether save_pretrained stores the (fixed) sinusoid tables. */
  readonly storesSinusoids: boolean;
}
export const HF_ARCHITECTURES: Readonly<Record<HfModelType, HfArchitecture>> = {
  marian: { className: 'MarianMTModel', norm: 'post', positions: 'sinusoidal', offset: 0, lnEmbed: false, storesSinusoids: false },
  bart: { className: 'BartForConditionalGeneration', norm: 'post', positions: 'learned', offset: 2, lnEmbed: true, storesSinusoids: false },
  mbart: { className: 'MBartForConditionalGeneration', norm: 'pre', positions: 'learned', offset: 2, lnEmbed: true, storesSinusoids: false },
  pegasus: { className: 'PegasusForConditionalGeneration', norm: 'pre', positions: 'sinusoidal', offset: 0, lnEmbed: false, storesSinusoids: true },
};
const ARCH = HF_ARCHITECTURES;

export interface HfSeq2SeqImport {
  readonly modelType: HfModelType;
  readonly config: Seq2SeqConfig;
  /** Learned position tables are indexed at position + offset (BART: 2; the first rows are unused). 0 otherwise. */
  readonly positionOffset: number;
  /** Sinusoid layout: 'halves' = sin in the first dModel/2 features, cos in the second (Marian). */
  readonly sinusoidLayout: 'halves' | undefined;
  /** A LayerNorm after embeddings + positions in both stacks (BART's layernorm_embedding). */
  readonly layerNormEmbedding: boolean;
  /** Logits add a [1, tgtVocab] bias buffer (final_logits_bias), present in Marian and BART checkpoints. */
  readonly finalLogitsBias: boolean;
  /** Encoder and decoder read one shared embedding matrix (model.shared.weight). */
  readonly sharedEmbeddings: boolean;
  /** Everything ignored, assumed or approximated, one sentence each. */
  readonly notes: readonly string[];
}

/** Keys that do not affect the computation of the model (bookkeeping, heads we do not build, labels). */
const IRRELEVANT = new Set([
  'architectures', 'transformers_version', 'use_cache', 'id2label', 'label2id', 'num_labels', 'is_encoder_decoder',
  'model_type', '_name_or_path', 'return_dict', 'output_attentions', 'output_hidden_states', 'classifier_dropout',
  'init_std', 'problem_type', 'tokenizer_class', 'dtype', 'torch_dtype', 'is_decoder',
]);
/** Generation settings: v5 keeps them in generation_config.json, older configs here. */
const GENERATION = new Set([
  'forced_eos_token_id', 'forced_bos_token_id', 'num_beams', 'max_length', 'min_length', 'bad_words_ids',
  'early_stopping', 'no_repeat_ngram_size', 'length_penalty', 'num_return_sequences', 'task_specific_params',
  'max_new_tokens', 'do_sample',
]);
const ACTIVATIONS: Readonly<Record<string, Activation>> = { relu: 'relu', gelu: 'gelu', silu: 'silu', swish: 'silu' };
/** transformers' tanh-approximated GELUs: all compute 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), attnode's 'geluTanh'. */
const GELU_APPROX = new Set(['gelu_new', 'gelu_fast', 'gelu_pytorch_tanh', 'gelu_accurate']);

/**
 * Maps a parsed Hugging Face config.json (Marian or BART) to a Seq2SeqConfig plus what else the
 * import needs. `source` labels errors (a file path).
 */
export function mapHfConfig(hf: unknown, source = 'config.json'): HfSeq2SeqImport {
  if (hf === null || typeof hf !== 'object' || Array.isArray(hf)) throw new TypeError(`${source}: must be a JSON object`);
  const h = hf as Record<string, unknown>;
  const notes: string[] = [];
  const used = new Set<string>();
  const get = (key: string): unknown => { used.add(key); return h[key]; };
  const fail = (msg: string): never => { throw new RangeError(`${source}: ${msg}`); };

  const modelType = get('model_type');
  if (typeof modelType !== 'string' || !Object.prototype.hasOwnProperty.call(ARCH, modelType)) {
    fail(`model_type ${JSON.stringify(modelType)} is not supported (supported: ${Object.keys(ARCH).map((t) => `"${t}"`).join(', ')})`);
  }
  const type = modelType as HfModelType;
  const arch = ARCH[type];
  if (get('is_encoder_decoder') === false) fail('is_encoder_decoder is false: not an encoder-decoder model');

  const int = (key: string, ...aliases: string[]): number => {
    for (const k of [key, ...aliases]) {
      const v = get(k);
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${k} must be an integer, got ${JSON.stringify(v)}`);
      return v as number;
    }
    return fail(`${key} is missing`);
  };
  const same = (a: string, b: string, what: string): number => {
    const x = int(a, ...(a === 'encoder_attention_heads' ? ['num_attention_heads'] : []));
    const y = h[b] === undefined ? x : int(b);
    if (x !== y) fail(`${a} (${x}) and ${b} (${y}) differ: one ${what} for both stacks is all a Seq2SeqConfig can hold`);
    return x;
  };
  const number = (key: string, fallback: number): number => {
    const v = get(key);
    if (v === undefined) { notes.push(`${key} absent: assumed ${fallback} (the Hugging Face default)`); return fallback; }
    if (typeof v !== 'number') return fail(`${key} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = get(key);
    if (v === undefined) { notes.push(`${key} absent: assumed ${fallback} (the Hugging Face default)`); return fallback; }
    if (typeof v !== 'boolean') return fail(`${key} must be a boolean, got ${JSON.stringify(v)}`);
    return v;
  };

  const dModel = int('d_model', 'hidden_size');
  const heads = same('encoder_attention_heads', 'decoder_attention_heads', 'head count');
  const ffDim = same('encoder_ffn_dim', 'decoder_ffn_dim', 'feed-forward size');
  const srcVocab = int('vocab_size');
  used.add('decoder_vocab_size'); // Marian only; null or absent means the source vocabulary
  const tgtVocab = type === 'marian' && h.decoder_vocab_size != null ? int('decoder_vocab_size') : srcVocab;

  const act = get('activation_function') ?? 'gelu';
  let activation: Activation;
  if (typeof act === 'string' && Object.prototype.hasOwnProperty.call(ACTIVATIONS, act)) activation = ACTIVATIONS[act];
  else if (typeof act === 'string' && GELU_APPROX.has(act)) {
    activation = 'geluTanh';
  } else return fail(`activation_function ${JSON.stringify(act)} has no Seq2SeqConfig equivalent (relu, gelu, gelu_new/gelu_pytorch_tanh/gelu_fast/gelu_accurate, silu/swish)`);

  const norm = arch.norm;
  if (h.normalize_before !== undefined) {
    used.add('normalize_before');
    notes.push(`normalize_before = ${JSON.stringify(h.normalize_before)} is not read by transformers' ${type} code: ignored (${type} is ${norm}-LN)`);
  }
  if (norm === 'pre') notes.push('pre-LN: a LayerNorm before each sublayer, and one at the end of each stack (layer_norm)');

  const padId = int('pad_token_id');
  const eosId = int('eos_token_id');
  let decoderStartId: number;
  let bosId: number;
  if (h.decoder_start_token_id == null) {
    // transformers' generate() falls back to bos_token_id (mbart-large-cc25's config has no start id).
    used.add('decoder_start_token_id');
    decoderStartId = int('bos_token_id');
    bosId = decoderStartId;
    notes.push(`decoder_start_token_id is ${h.decoder_start_token_id === null ? 'null' : 'absent'}: bos_token_id (${decoderStartId}) starts the decoder, as transformers falls back to it`);
  } else {
    decoderStartId = int('decoder_start_token_id');
    if (h.bos_token_id === undefined || h.bos_token_id === null) {
      used.add('bos_token_id');
      bosId = decoderStartId;
      notes.push(`bos_token_id is ${h.bos_token_id === null ? 'null' : 'absent'}: bosId set to decoder_start_token_id (${decoderStartId})`);
    } else bosId = int('bos_token_id');
  }

  for (const key of ['activation_dropout', 'encoder_layerdrop', 'decoder_layerdrop']) {
    const v = get(key);
    if (typeof v === 'number' && v !== 0) notes.push(`${key} = ${v} is not represented (training would differ; inference is unaffected)`);
  }
  const dtype = h.dtype ?? h.torch_dtype;
  if (dtype !== undefined && dtype !== 'float32') notes.push(`dtype ${JSON.stringify(dtype)}: weights will be converted to float32`);

  let sharedEmbeddings = true;
  if (type === 'marian') sharedEmbeddings = bool('share_encoder_decoder_embeddings', true);
  if (arch.positions === 'sinusoidal') {
    notes.push('positions are sinusoidal with sin in the first half and cos in the second half of each vector (sinusoidLayout "halves"), recomputed rather than read');
  } else {
    notes.push(`learned positions are indexed at position + ${arch.offset} (positionOffset ${arch.offset}): embed_positions has max_position_embeddings + ${arch.offset} rows`);
  }
  if (arch.lnEmbed) notes.push('a LayerNorm follows embeddings + positions in both stacks (layerNormEmbedding)');
  if (sharedEmbeddings) {
    if (srcVocab !== tgtVocab) fail(`shared encoder/decoder embeddings need vocab_size (${srcVocab}) = decoder_vocab_size (${tgtVocab})`);
    notes.push('encoder and decoder share one embedding matrix (sharedEmbeddings)');
  }
  notes.push('logits add final_logits_bias (finalLogitsBias)');

  const config = validateConfig({
    srcVocab, tgtVocab, dModel, heads, kvHeads: heads, ffDim,
    encoderLayers: int('encoder_layers', 'num_hidden_layers'), decoderLayers: int('decoder_layers', 'num_hidden_layers'),
    dropout: number('dropout', 0.1), attentionDropout: number('attention_dropout', 0), activation, norm,
    positions: arch.positions,
    tieEmbeddings: bool('tie_word_embeddings', true), scaleEmbedding: bool('scale_embedding', false),
    maxLen: int('max_position_embeddings'), seed: 0, padId, bosId, eosId, decoderStartId,
  }, `${source}: mapped config`);

  for (const key of Object.keys(h)) {
    if (used.has(key) || IRRELEVANT.has(key)) continue;
    if (GENERATION.has(key)) notes.push(`${key} is a generation setting: not part of the model (see generation_config.json)`);
    else notes.push(`${key} = ${JSON.stringify(h[key])} is not understood and was ignored`);
  }
  return {
    modelType: type, config,
    positionOffset: arch.offset,
    sinusoidLayout: arch.positions === 'sinusoidal' ? 'halves' : undefined,
    layerNormEmbedding: arch.lnEmbed,
    finalLogitsBias: true,
    sharedEmbeddings,
    notes,
  };
}

/**
 * Reads config.json from a Hugging Face model folder (or the file itself) and maps it with
 * {@link mapHfConfig}. A path that does not exist, or lies under a file, is a CheckpointError
 * (`missing-file`, `not-a-directory`).
 */
export async function readHfConfig(dirOrFile: string): Promise<HfSeq2SeqImport> {
  const stat = await statOrThrow(dirOrFile, 'no such model folder or config file');
  const file = stat.isDirectory() ? path.join(dirOrFile, 'config.json') : dirOrFile;
  return mapHfConfig(await readJsonFile(file), file);
}
