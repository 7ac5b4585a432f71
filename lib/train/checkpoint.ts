// Saving and loading models and training runs through lib/io's checkpoint directories (each save
// replaces the previous one atomically, even when killed: see lib/io/checkpoint.ts):
// model.safetensors (weights by name), config.json, tokenizer JSON, optimizer state and trainer
// state (step, data position). Resuming from a checkpoint continues bit-identically: weights,
// Adam moments, the step (which also seeds dropout) and the data loader's position are restored.
import path from 'node:path';
import type { BatchLoader, BatchLoaderState } from '../data/loader.js';
import { tokenizerFromJSON } from '../data/load-tokenizer.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointTensor } from '../io/checkpoint.js';
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { Seq2SeqTransformer } from '../nn/seq2seq.js';
import type { Trainer } from './trainer.js';

export interface SavedModel {
  model: Seq2SeqTransformer;
  tokenizer?: Tokenizer;
}

function weightsOf(model: Seq2SeqTransformer): Map<string, CheckpointTensor> {
  const w = new Map<string, CheckpointTensor>();
  for (const [name, p] of model.namedParameters()) w.set(name, { shape: p.shape, data: p.storage.data });
  return w;
}

function tokenizerJson(t: Tokenizer | undefined): { src?: object; tgt?: object } | undefined {
  return t ? { src: t.toJSON() as object } : undefined;
}

/** Writes the model (and its tokenizer) to dir, atomically. */
export async function saveModel(dir: string, model: Seq2SeqTransformer, opts: { tokenizer?: Tokenizer } = {}): Promise<void> {
  const tokenizers = tokenizerJson(opts.tokenizer);
  await saveCheckpoint(dir, { config: { ...model.config }, weights: weightsOf(model), ...(tokenizers ? { tokenizers } : {}) });
}

/** The model a loaded config.json describes; a bad config (e.g. too large to allocate) is a TypeError/RangeError naming the file and field. */
function modelFor(dir: string, config: object): Seq2SeqTransformer {
  try {
    return new Seq2SeqTransformer(config as unknown as Seq2SeqModelConfig);
  } catch (e) {
    if (e instanceof RangeError) throw new RangeError(`loadModel: ${path.join(dir, 'config.json')}: ${e.message}`, { cause: e });
    if (e instanceof TypeError) throw new TypeError(`loadModel: ${path.join(dir, 'config.json')}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Loads a model saved by saveModel or saveTraining (a CheckpointError if `dir` is missing, not a
 * directory, incomplete or corrupt); verifies hashes and every tensor name and shape.
 */
export async function loadModel(dir: string): Promise<SavedModel> {
  const ck = await loadCheckpoint(dir, { finite: true });
  const model = modelFor(dir, ck.config);
  const params = model.namedParameters();
  for (const name of ck.weights.keys())
    if (!params.has(name)) throw new RangeError(`loadModel: ${dir} has a tensor '${name}' this model does not have`);
  for (const [name, p] of params) {
    const t = ck.weights.get(name);
    if (!t) throw new RangeError(`loadModel: ${dir} lacks the tensor '${name}'`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))
      throw new RangeError(`loadModel: tensor '${name}' has shape [${t.shape.join(', ')}], the model expects [${p.shape.join(', ')}]`);
    p.storage.data.set(t.data);
  }
  const src = ck.tokenizers?.src;
  return { model, ...(src ? { tokenizer: tokenizerFromJSON(src) } : {}) };
}

interface TrainerJson {
  step: number;
  loader?: BatchLoaderState;
}

/** Saves everything a run needs to continue exactly: model, tokenizer, Adam moments, step, data position (distributed: rank 0 only). */
export async function saveTraining(dir: string, trainer: Trainer, opts: { tokenizer?: Tokenizer; loader?: BatchLoader } = {}): Promise<void> {
  if (trainer.distributed && !trainer.distributed.isMain) return;  // data-parallel: every rank holds the same state; rank 0 writes it
  const model = trainer.model, opt = trainer.optimizer;
  const state = new Map<string, CheckpointTensor>();
  const names = [...model.namedParameters().entries()];
  const index = new Map(opt.params.map((p, i) => [p, i] as const));
  for (const [name, p] of names) {
    const i = index.get(p);
    if (i === undefined) continue;
    state.set(`m.${name}`, { shape: p.shape, data: opt.m[i]! });
    state.set(`v.${name}`, { shape: p.shape, data: opt.v[i]! });
  }
  const trainerJson: TrainerJson = { step: opt.step, ...(opts.loader ? { loader: opts.loader.state() } : {}) };
  const tokenizers = tokenizerJson(opts.tokenizer);
  await saveCheckpoint(dir, {
    config: { ...model.config }, weights: weightsOf(model), ...(tokenizers ? { tokenizers } : {}),
    optimizer: { step: opt.step, state, hyper: { ...opt.opts } }, trainer: trainerJson as unknown as object,
  });
}

/** Restores a run saved by saveTraining into a trainer built over a model with the same config (and a loader over the same data). */
export async function resumeTraining(dir: string, trainer: Trainer, opts: { loader?: BatchLoader } = {}): Promise<void> {
  const ck = await loadCheckpoint(dir, { finite: true });
  if (!ck.optimizer || !ck.trainer) throw new RangeError(`resumeTraining: ${dir} is a model checkpoint without optimizer and trainer state`);
  const model = trainer.model, opt = trainer.optimizer;
  const index = new Map(opt.params.map((p, i) => [p, i] as const));
  for (const [name, p] of model.namedParameters()) {
    const w = ck.weights.get(name), m = ck.optimizer.state.get(`m.${name}`), v = ck.optimizer.state.get(`v.${name}`);
    if (!w || !m || !v) throw new RangeError(`resumeTraining: ${dir} lacks the state of '${name}'`);
    if (w.data.length !== p.size) throw new RangeError(`resumeTraining: tensor '${name}' has ${w.data.length} values, the model expects ${p.size}`);
    p.storage.data.set(w.data);
    const i = index.get(p)!;
    opt.m[i]!.set(m.data);
    opt.v[i]!.set(v.data);
  }
  opt.step = ck.optimizer.step;
  trainer.weightsChanged();  // bf16 copies (precision 'bf16') follow the loaded weights
  const t = ck.trainer as unknown as TrainerJson;
  if (opts.loader && t.loader) opts.loader.restore(t.loader);
}
