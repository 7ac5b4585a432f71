// Masked-token pretraining of a Seq2SeqTransformer on unlabelled text: the documents are
// tokenized (a character tokenizer with <mask> and sentinels appended, unless one is given),
// noised by an objective of lib/data/noising with static or dynamic masking, and fed to the
// Trainer. With `out` the run is checkpointed (saveTraining: weights, Adam moments, step, data
// position) every `checkpointEvery` steps, at the end and when aborted, and `resume` continues a
// saved run bit-identically. The result is an ordinary attnode checkpoint: loadModel reads it, and
// `attnode finetune --model DIR` fine-tunes it on labelled pairs.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CharTokenizer } from '../data/char.js';
import { withMaskTokens } from '../data/noising/mask-tokens.js';
import { MaskedBatchSource, maskedEvalBatches, type MaskingMode } from '../data/noising/masked-source.js';
import type { NoisingOptions } from '../data/noising/objective.js';
import type { WordTokenizer } from '../data/word.js';
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { resumeTraining, saveTraining } from './checkpoint.js';
import type { Schedule } from './schedule.js';
import { Trainer, type Progress } from './trainer.js';

export interface PretrainOptions {
  /** Unlabelled documents, one string each (a line of a corpus file). */
  documents: readonly string[];
  /** Held-out documents: their noised loss is evaluated every `evalEvery` steps. */
  evalDocuments?: readonly string[];
  /** Default: a CharTokenizer over the documents. <mask> (and sentinels for 'span') are appended when missing. */
  tokenizer?: CharTokenizer | WordTokenizer;
  /** The objective and its rates (lib/data/noising). */
  noising: NoisingOptions;
  masking: MaskingMode;
  /** Static masking: noised copies of each document. Default 1. */
  duplicates?: number;
  /** Sentinels given to the tokenizer for 'span'. Default 100 (T5's count). */
  sentinels?: number;
  /** Model settings; vocabulary sizes and special ids come from the tokenizer. */
  model?: Partial<Seq2SeqModelConfig>;
  steps: number;
  /** Default 32. */
  batchSize?: number;
  /** Default 1e-3. */
  lr?: number;
  /** Default: cosine with 10% warmup down to 2% of lr. */
  schedule?: Schedule;
  /** Default 0 (masked-token prediction has one right answer). */
  labelSmoothing?: number;
  /** Seeds the model, the data order and the masks. Default 1. */
  seed?: number;
  /** Checkpoint folder. */
  out?: string;
  /** Save every N steps (0: only at the end and on abort). Default 0. */
  checkpointEvery?: number;
  /**
   * Continue the run saved in `out` (when it has one). Default false. With the same `steps` the
   * result is bit-identical to an uninterrupted run; a larger `steps` extends it (the default
   * cosine schedule then follows the new length).
   */
  resume?: boolean;
  evalEvery?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  progressEvery?: number;
}

export interface PretrainResult {
  model: Seq2SeqTransformer;
  tokenizer: CharTokenizer | WordTokenizer;
  /** Optimizer steps taken in total (resumed ones included). */
  steps: number;
  /** The step the run resumed from (0: a fresh run). */
  resumedFrom: number;
  loss: number;
  evalLoss?: number;
  source: MaskedBatchSource;
}

/** The file next to the checkpoint that says how the data was noised, so a resume cannot silently change it. */
const RUN_FILE = 'pretrain.json';

interface RunRecord {
  noising: object;
  masking: MaskingMode;
  duplicates: number;
  seed: number;
  batchSize: number;
  documents: number;
}

function checkRun(dir: string, run: RunRecord): void {
  const file = path.join(dir, RUN_FILE);
  if (!existsSync(file)) return;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(run)) {
    if (JSON.stringify(saved[k]) !== JSON.stringify(v)) {
      throw new RangeError(`resume: ${k} differs from the saved run in ${file} (saved ${JSON.stringify(saved[k])}, now ${JSON.stringify(v)})`);
    }
  }
}

function checkSteps(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name}: expected an integer >= ${min}, got ${String(v)}`);
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  if (!Array.isArray(o.documents) || o.documents.length === 0) throw new TypeError('documents: expected a non-empty array of strings');
  o.documents.forEach((d, i) => { if (typeof d !== 'string') throw new TypeError(`documents[${i}]: expected a string`); });
  checkSteps('steps', o.steps, 0);
  const batchSize = o.batchSize ?? 32, seed = o.seed ?? 1, lr = o.lr ?? 1e-3, checkpointEvery = o.checkpointEvery ?? 0;
  checkSteps('batchSize', batchSize, 1);
  checkSteps('checkpointEvery', checkpointEvery, 0);
  if (o.resume === true && o.out === undefined) throw new TypeError('resume: needs out, the folder of the run to continue');
  const objective = (o.noising as { objective?: unknown } | undefined)?.objective;
  const base = o.tokenizer ?? CharTokenizer.fromTexts(o.documents);
  const tokenizer = withMaskTokens(base, { sentinels: objective === 'span' ? (o.sentinels ?? 100) : 0 });
  const docs = o.documents.map((d) => tokenizer.encode(d));
  const longest = Math.max(...docs.map((d) => d.length));
  const source = new MaskedBatchSource(docs, tokenizer, {
    noising: o.noising, masking: o.masking, ...(o.duplicates !== undefined ? { duplicates: o.duplicates } : {}), batchSize, seed,
  });
  const evalData = o.evalDocuments && o.evalDocuments.length > 0
    ? maskedEvalBatches(o.evalDocuments.map((d) => tokenizer.encode(d)), tokenizer, { noising: o.noising, batchSize, seed: seed + 1 })
    : undefined;
  // Room for noise that lengthens a sequence (inserted masks, a sentinel before each span).
  const maxLen = Math.max(o.model?.maxLen ?? 0, 2 * longest + 8);
  const model = new Seq2SeqTransformer({ norm: 'pre', dropout: 0.1, ...o.model, maxLen, srcVocab: tokenizer.vocabSize, tgtVocab: tokenizer.vocabSize,
    seed, padId: tokenizer.padId, bosId: tokenizer.bosId, eosId: tokenizer.eosId });
  const trainer = new Trainer(model, {
    optimizer: { lr }, labelSmoothing: o.labelSmoothing ?? 0,
    ...(o.noising.objective === 'mlm' && o.noising.ignoreIndex !== undefined ? { ignoreIndex: o.noising.ignoreIndex } : {}),
    schedule: o.schedule ?? { kind: 'cosine', lr, warmup: Math.max(1, Math.floor(o.steps / 10)), totalSteps: Math.max(1, o.steps), minLr: lr * 0.02 },
  });
  const run: RunRecord = { noising: source.noising, masking: o.masking, duplicates: o.duplicates ?? 1, seed, batchSize, documents: docs.length };
  let resumedFrom = 0;
  if (o.out !== undefined) {
    if (o.resume === true && existsSync(path.join(o.out, 'checkpoint.json'))) {
      checkRun(o.out, run);
      await resumeTraining(o.out, trainer, { loader: source.loader });
      resumedFrom = trainer.step;
    }
    mkdirSync(o.out, { recursive: true });
    writeFileSync(path.join(o.out, RUN_FILE), JSON.stringify(run, null, 2) + '\n');
  }
  const save = async (): Promise<void> => {
    if (o.out !== undefined) await saveTraining(o.out, trainer, { tokenizer, loader: source.loader });
  };
  const left = Math.max(0, o.steps - trainer.step);
  let r: Awaited<ReturnType<Trainer['fit']>>;
  try {
    r = await trainer.fit(source, {
      steps: left, ...(evalData ? { evalData, evalEvery: o.evalEvery ?? 500 } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}), ...(o.progressEvery !== undefined ? { progressEvery: o.progressEvery } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      afterStep: async (step) => { if (checkpointEvery > 0 && step % checkpointEvery === 0 && step < o.steps) await save(); },
    });
  } catch (e) {
    // An aborted run keeps what it did: the checkpoint holds the last finished step, ready to resume.
    if (o.signal?.aborted === true) await save();
    throw e;
  }
  await save();
  return { model, tokenizer, steps: trainer.step, resumedFrom, loss: r.loss, ...(r.evalLoss !== undefined ? { evalLoss: r.evalLoss } : {}), source };
}
