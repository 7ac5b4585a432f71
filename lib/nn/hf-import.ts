/**
 * Loads a Hugging Face Marian or BART checkpoint folder (config.json, model.safetensors or a sharded
 * model.safetensors.index.json, optional generation_config.json) into a Seq2SeqTransformer, so it
 * can be evaluated, decoded and fine-tuned here. The config is mapped by lib/io/hf-config.ts; this
 * file maps tensor names onto the model's parameters (Hugging Face's names minus the "model."
 * prefix, by design of lib/nn's naming) and accounts for every tensor: each parameter must be
 * filled, and each stored tensor must be a parameter, a known alias of one (tied copies, checked
 * equal) or a known recomputed buffer (Marian's sinusoids). Anything else is an error that names
 * the tensor. The folder's tokenizer is read when it has one: Marian's (source.spm, target.spm,
 * vocab.json) or a byte-level BPE (BART's tokenizer.json, or vocab.json + merges.txt).
 */
import { checkCheckpointDir } from '../io/checkpoint.js';
import fs from 'node:fs';
import path from 'node:path';
import { ByteLevelBpeTokenizer } from '../data/hf-bpe.js';
import { MarianTokenizer } from '../data/hf-marian-tokenizer.js';
import type { GenerateOptions } from '../decode/options.js';
import { mapHfConfig, type HfSeq2SeqImport } from '../io/hf-config.js';
import { readJsonFile as readJson } from '../io/json.js';
import { readSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import type { Seq2SeqModelConfig } from './config.js';
import { fromHfName, toHfName } from './hf-names.js';
import { Seq2SeqTransformer, sinusoidTable } from './seq2seq.js';

/** What loadHfModel reads: Marian's SentencePiece pair, or a byte-level BPE. */
export type HfTokenizer = MarianTokenizer | ByteLevelBpeTokenizer;

export interface HfModel {
  model: Seq2SeqTransformer;
  /** The mapped config and what the import had to know besides it. */
  mapped: HfSeq2SeqImport;
  /** generate() options from generation_config.json (beams, length penalty, forced EOS, ...). */
  generateOptions: GenerateOptions;
  /** The folder's tokenizer, or null (none, or one not supported: see notes). */
  tokenizer: HfTokenizer | null;
  /** Everything ignored, assumed or approximated (config, weights, generation settings), one sentence each. */
  notes: string[];
}


async function exists(file: string): Promise<boolean> {
  return fs.promises.stat(file).then(() => true, () => false);
}

/** Every stored tensor name -> the file holding it (one file, or the shards of an index). */
async function openWeights(dir: string): Promise<Map<string, SafetensorsFile>> {
  const single = path.join(dir, 'model.safetensors'), index = path.join(dir, 'model.safetensors.index.json');
  const where = new Map<string, SafetensorsFile>();
  if (await exists(single)) {
    const f = await readSafetensors(single);
    for (const n of f.names()) where.set(n, f);
    return where;
  }
  if (await exists(index)) {
    const j = await readJson(index) as { weight_map?: unknown };
    const map = j.weight_map;
    if (map === null || typeof map !== 'object') throw new RangeError(`${index}: weight_map must be an object of tensor name -> shard file`);
    const shards = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) throw new RangeError(`${index}: weight_map["${name}"] must be a file name in the folder`);
      if (!shards.has(shard)) shards.set(shard, await readSafetensors(path.join(dir, shard)));
      const f = shards.get(shard)!;
      if (!f.has(name)) throw new RangeError(`${path.join(dir, shard)}: lacks the tensor '${name}' that ${index} places there`);
      where.set(name, f);
    }
    return where;
  }
  const bin = await exists(path.join(dir, 'pytorch_model.bin'));
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json` +
    (bin ? ' (pytorch_model.bin is a pickle, which is not read here: convert it with save_pretrained(..., safe_serialization=True))' : ''));
}

/** The generate() options generation_config.json (or the config's older generation keys) stand for. */
function generationOptions(g: Record<string, unknown>, cfg: Seq2SeqModelConfig, notes: string[]): GenerateOptions {
  const o: GenerateOptions = {};
  const num = (k: string): number | undefined => (typeof g[k] === 'number' ? g[k] as number : undefined);
  const beams = num('num_beams');
  if (beams !== undefined && beams > 1) o.numBeams = beams;
  const lp = num('length_penalty');
  if (lp !== undefined) o.lengthPenalty = lp;
  const ngram = num('no_repeat_ngram_size');
  if (ngram !== undefined && ngram > 0) o.noRepeatNgramSize = ngram;
  const rep = num('repetition_penalty');
  if (rep !== undefined && rep !== 1) o.repetitionPenalty = rep;
  if (typeof g.early_stopping === 'boolean' || g.early_stopping === 'never') o.earlyStopping = g.early_stopping as boolean | 'never';
  // transformers' lengths count the decoder start token; ours count generated tokens only.
  const maxNew = num('max_new_tokens');
  if (maxNew !== undefined) o.maxNewTokens = Math.min(maxNew, cfg.maxLen);
  else if (num('max_length') !== undefined) o.maxNewTokens = Math.min(Math.max(1, num('max_length')! - 1), cfg.maxLen);
  else {
    o.maxNewTokens = Math.min(19, cfg.maxLen);
    notes.push('generation: no max_length or max_new_tokens: maxNewTokens 19, from transformers\' default max_length 20');
  }
  const minLen = num('min_length');
  if (minLen !== undefined && minLen > 1) o.minNewTokens = Math.min(minLen - 1, o.maxNewTokens);
  const minNew = num('min_new_tokens');
  if (minNew !== undefined && minNew > 0) o.minNewTokens = Math.min(minNew, o.maxNewTokens);
  const fbos = g.forced_bos_token_id;
  if (typeof fbos === 'number' && Number.isInteger(fbos) && fbos >= 0 && fbos < cfg.tgtVocab) o.forceFirstToken = fbos;
  else if (fbos !== undefined && fbos !== null) notes.push(`generation: forced_bos_token_id ${JSON.stringify(fbos)} is not a target token id: not applied`);
  const forced = g.forced_eos_token_id;
  if (forced !== undefined && forced !== null) {
    if (forced === cfg.eosId) o.forceEos = true;
    else notes.push(`generation: forced_eos_token_id ${JSON.stringify(forced)} differs from eos_token_id ${cfg.eosId}: not applied`);
  }
  const suppress = new Set<number>();
  const addIds = (key: string, ids: unknown[]): void => {
    for (const t of ids) {
      if (typeof t === 'number' && Number.isInteger(t) && t >= 0 && t < cfg.tgtVocab) suppress.add(t);
      else notes.push(`generation: ${key} holds ${JSON.stringify(t)}, not a target token id: skipped`);
    }
  };
  if (Array.isArray(g.suppress_tokens)) addIds('suppress_tokens', g.suppress_tokens);
  if (Array.isArray(g.bad_words_ids)) {
    for (const w of g.bad_words_ids) {
      if (Array.isArray(w) && w.length === 1) addIds('bad_words_ids', w);
      else notes.push(`generation: bad_words_ids entry ${JSON.stringify(w)} (a sequence of several tokens) is not applied; only single-token entries are`);
    }
  }
  if (suppress.size) o.suppressTokens = [...suppress].sort((a, b) => a - b);
  for (const k of ['do_sample', 'num_return_sequences', 'temperature', 'top_k', 'top_p'])
    if (g[k] !== undefined && g[k] !== null && g[k] !== false) notes.push(`generation: ${k} = ${JSON.stringify(g[k])} is not applied by default; pass the generate() option yourself where there is one`);
  if (g.decoder_start_token_id !== undefined && g.decoder_start_token_id !== cfg.decoderStartId)
    notes.push(`generation: decoder_start_token_id ${JSON.stringify(g.decoder_start_token_id)} differs from config.json's (${String(cfg.decoderStartId)}); the model uses config.json's`);
  return o;
}

/** True when a and b hold the same values. */
function same(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; ++i) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Reads a Hugging Face MarianMTModel / BartForConditionalGeneration folder. Weights of any float
 * dtype are converted to float32 and must be finite. Throws, naming the file or tensor, on a
 * missing file, an unsupported config, a tensor the model lacks, a missing tensor or a wrong shape.
 */
export async function loadHfModel(dir: string): Promise<HfModel> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('loadHfModel: dir must be a folder path');
  await checkCheckpointDir(dir);  // a file or a missing path: a CheckpointError naming it
  const configFile = path.join(dir, 'config.json');
  if (!(await exists(configFile))) throw new Error(`loadHfModel: ${configFile} does not exist`);
  const hf = await readJson(configFile);
  const mapped = mapHfConfig(hf, configFile);
  const notes = [...mapped.notes];
  const c = mapped.config;
  // lib/nn shares the source embedding with the target one exactly when tieEmbeddings holds and the
  // vocabularies match; Hugging Face says the two things separately.
  if (mapped.sharedEmbeddings !== (c.tieEmbeddings && c.srcVocab === c.tgtVocab))
    throw new RangeError(`${configFile}: shared encoder/decoder embeddings = ${mapped.sharedEmbeddings} with tie_word_embeddings = ${c.tieEmbeddings} is not supported`);
  const config: Seq2SeqModelConfig = {
    srcVocab: c.srcVocab, tgtVocab: c.tgtVocab, dModel: c.dModel, heads: c.heads, kvHeads: c.kvHeads, ffDim: c.ffDim,
    encoderLayers: c.encoderLayers, decoderLayers: c.decoderLayers, dropout: c.dropout, attentionDropout: c.attentionDropout,
    activation: c.activation, norm: c.norm, positions: c.positions, tieEmbeddings: c.tieEmbeddings,
    scaleEmbedding: c.scaleEmbedding, maxLen: c.maxLen, seed: c.seed, padId: c.padId, bosId: c.bosId, eosId: c.eosId,
    decoderStartId: c.decoderStartId, positionOffset: mapped.positionOffset,
    sinusoidLayout: mapped.sinusoidLayout ?? 'interleaved', layerNormEmbedding: mapped.layerNormEmbedding,
    finalLogitsBias: mapped.finalLogitsBias,
  };
  const model = new Seq2SeqTransformer(config);
  const params = model.namedParameters();
  const stored = await openWeights(dir);
  const filled = new Set<string>();
  const tied: [string, string][] = [];  // stored alias -> parameter it must equal

  for (const [hfName, file] of stored) {
    const name = fromHfName(hfName);
    const p = params.get(name);
    if (p) {
      const info = file.info(hfName);
      if (info.shape.length !== p.shape.length || info.shape.some((d, i) => d !== p.shape[i]))
        throw new RangeError(`${file.file}: tensor '${hfName}' has shape [${info.shape.join(', ')}], the model expects [${p.shape.join(', ')}]`);
      p.storage.data.set(file.float32(hfName, { finite: true }));
      filled.add(name);
      continue;
    }
    // Tied copies some checkpoints also store: checked against the parameter once all are loaded.
    const alias = name === 'lm_head.weight' || name === 'encoder.embed_tokens.weight' || name === 'decoder.embed_tokens.weight'
      ? (params.has('shared.weight') ? 'shared.weight' : name === 'lm_head.weight' ? 'decoder.embed_tokens.weight' : null)
      : null;
    if (alias && params.has(alias)) { tied.push([hfName, alias]); continue; }
    if (config.positions === 'sinusoidal' && /^(encoder|decoder)\.embed_positions\.weight$/.test(name)) {
      // Recomputed, not read; but a stored table that is not the formula's would change outputs.
      const want = sinusoidTable(config.maxLen + config.positionOffset, config.dModel, config.sinusoidLayout);
      const got = file.float32(hfName, { finite: true });
      const rows = Math.min(got.length, want.length);
      let err = got.length === 0 ? Infinity : 0;
      for (let i = 0; i < rows; ++i) err = Math.max(err, Math.abs(got[i]! - want[i]!));
      if (!(err < 1e-4)) throw new RangeError(`${file.file}: tensor '${hfName}' is not the sinusoid table this architecture computes (max |diff| ${err.toExponential(2)})`);
      notes.push(`${hfName} (sinusoids) is recomputed, not read (checked equal to the stored table, max |diff| ${err.toExponential(1)})`);
      continue;
    }
    throw new RangeError(`${file.file}: tensor '${hfName}' has no place in the model (parameters: ${[...params.keys()].slice(0, 4).join(', ')}, ...)`);
  }
  // What transformers itself fills in: a matrix stored only under a tied name (lm_head.weight or a
  // side's embed_tokens for model.shared), and final_logits_bias (a zero buffer) when absent.
  for (const name of params.keys()) {
    if (filled.has(name)) continue;
    const i = tied.findIndex(([, alias]) => alias === name);
    if (i >= 0) {
      const [hfName] = tied.splice(i, 1)[0]!;
      const p = params.get(name)!, shape = stored.get(hfName)!.info(hfName).shape;
      if (shape.length !== p.shape.length || shape.some((d, k) => d !== p.shape[k]))
        throw new RangeError(`${stored.get(hfName)!.file}: tensor '${hfName}' has shape [${shape.join(', ')}], the model expects [${p.shape.join(', ')}]`);
      p.storage.data.set(stored.get(hfName)!.float32(hfName, { finite: true }));
      notes.push(`${toHfName(name)} is absent: read from its tied copy ${hfName}`);
      filled.add(name);
    } else if (name === 'final_logits_bias') {
      notes.push('final_logits_bias is absent: zeros, as transformers initialises it');
      filled.add(name);
    }
  }
  const missing = [...params.keys()].filter((n) => !filled.has(n));
  if (missing.length) throw new RangeError(`loadHfModel: ${dir} lacks ${missing.length} tensor(s): ${missing.map((n) => `'${toHfName(n)}'`).join(', ')}`);
  for (const [hfName, alias] of tied) {
    if (!same(stored.get(hfName)!.float32(hfName), params.get(alias)!.storage.data))
      throw new RangeError(`${stored.get(hfName)!.file}: tensor '${hfName}' should be tied to '${alias}' but differs from it`);
    notes.push(`${hfName} is a tied copy of ${alias} (checked equal)`);
  }

  const genFile = path.join(dir, 'generation_config.json');
  const gen = (await exists(genFile) ? await readJson(genFile) : hf) as Record<string, unknown>;
  const generateOptions = generationOptions(gen ?? {}, model.config, notes);
  return { model, mapped, generateOptions, tokenizer: await readTokenizer(dir, model.config, notes), notes };
}

/** The folder's tokenizer if it has one that fits the model; otherwise null and a note saying why. */
async function readTokenizer(dir: string, cfg: Seq2SeqModelConfig, notes: string[]): Promise<HfTokenizer | null> {
  const has = (f: string): Promise<boolean> => exists(path.join(dir, f));
  const marian = (await has('source.spm')) || (await has('target.spm'));
  if (!marian && !(await has('tokenizer.json')) && !((await has('vocab.json')) && (await has('merges.txt')))) {
    notes.push('tokenizer: none in the folder; pass token ids');
    return null;
  }
  try {
    const t = marian ? await MarianTokenizer.fromHfFolder(dir) : await ByteLevelBpeTokenizer.fromHfFolder(dir);
    if (t.vocabSize > Math.min(cfg.srcVocab, cfg.tgtVocab)) {
      notes.push(`tokenizer: its ${t.vocabSize} ids do not fit the model's vocabulary (${cfg.srcVocab}): not used`);
      return null;
    }
    return t;
  } catch (e) {
    notes.push(`tokenizer: not read: ${(e as Error).message}`);
    return null;
  }
}
