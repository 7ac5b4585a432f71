// `attnode pretrain`: masked-token pretraining on unlabelled text (a file with one document a
// line, or a built-in generated corpus), through lib/train/pretrain.ts. Progress on stderr; a
// checkpoint in --out every --checkpoint-every steps, at the end and on Ctrl-C; --resume continues
// the run saved there. `attnode finetune --model DIR` then fine-tunes the result on labelled pairs.
import { readFileSync } from 'node:fs';
import { generateTask } from '../data/tasks/index.js';
import { generateDateText } from '../data/tasks/date-text.js';
import type { NoisingOptions } from '../data/noising/objective.js';
import type { MaskingMode } from '../data/noising/masked-source.js';
import { WordTokenizer } from '../data/word.js';
import { pretrain } from '../train/pretrain.js';
import { intFlag, numFlag, parseArgs, strFlag, UsageError, type ParsedArgs } from './args.js';
import { MODEL_FLAGS, modelFlags } from './commands.js';
import { ProgressBar } from './progress.js';

const log = (line: string): void => void process.stdout.write(line + '\n');

/** Rate flags and the option each sets; a flag of another objective is refused by the noising checks. */
const RATE_FLAGS = {
  'mask-rate': 'maskRate', 'mask-token-rate': 'maskTokenRate', 'random-token-rate': 'randomTokenRate',
  'infill-rate': 'infillRate', 'poisson-lambda': 'poissonLambda', 'token-mask-rate': 'tokenMaskRate', 'deletion-rate': 'deletionRate',
  'permute-rate': 'permuteRate', 'rotate-rate': 'rotateRate', 'noise-density': 'noiseDensity', 'mean-span-length': 'meanSpanLength',
} as const;

export const PRETRAIN_TASKS = ['dates', 'copy', 'reverse', 'sort'] as const;

/** Documents of a built-in corpus: calendar text for 'dates', the sources of a sequence task otherwise. */
function builtInCorpus(task: string, count: number, seed: number, split: 'train' | 'test'): string[] {
  if (task === 'dates') return generateDateText({ count, seed, split });
  if (task === 'copy' || task === 'reverse' || task === 'sort') return generateTask(task, { count, seed, split }).map((p) => p.source);
  throw new UsageError(`--task must be ${PRETRAIN_TASKS.join(', ')}, got ${task}`);
}

function noisingFlags(p: ParsedArgs, objective: string): NoisingOptions {
  if (objective !== 'mlm' && objective !== 'infill' && objective !== 'span') throw new UsageError(`--objective must be mlm, infill or span, got ${objective}`);
  const o: Record<string, number | string | number[]> = { objective };
  for (const [flag, key] of Object.entries(RATE_FLAGS)) if (p.flags.has(flag)) o[key] = numFlag(p, flag, 0, 0, 1000);
  return o as unknown as NoisingOptions;
}

export async function pretrainCommand(argv: readonly string[]): Promise<void> {
  const known: Record<string, 'value' | 'flag'> = {
    text: 'value', task: 'value', objective: 'value', masking: 'value', duplicates: 'value', out: 'value', steps: 'value',
    'batch-size': 'value', lr: 'value', seed: 'value', 'label-smoothing': 'value', 'checkpoint-every': 'value', resume: 'flag',
    documents: 'value', tokenizer: 'value', ...Object.fromEntries(Object.keys(RATE_FLAGS).map((k) => [k, 'value' as const])), ...MODEL_FLAGS,
  };
  const p = parseArgs(argv, known);
  const out = strFlag(p, 'out');
  if (!out) throw new UsageError('pretrain needs --out DIR (where the checkpoint is saved)');
  const text = strFlag(p, 'text'), task = strFlag(p, 'task');
  if ((text === undefined) === (task === undefined)) throw new UsageError('pretrain needs exactly one of --text corpus.txt and --task dates|copy|reverse|sort');
  const masking = strFlag(p, 'masking') ?? 'dynamic';
  if (masking !== 'static' && masking !== 'dynamic') throw new UsageError(`--masking must be static or dynamic, got ${masking}`);
  const noising = noisingFlags(p, strFlag(p, 'objective') ?? 'infill');
  const seed = intFlag(p, 'seed', 1, 0), steps = intFlag(p, 'steps', 2000, 0);
  let documents: string[], evalDocuments: string[] = [];
  if (text !== undefined) {
    documents = readFileSync(text, 'utf8').split(/\r?\n/).filter((l) => l.trim().length > 0);
    if (documents.length === 0) throw new UsageError(`--text ${text}: no documents (one a line)`);
  } else {
    documents = builtInCorpus(task!, intFlag(p, 'documents', 20000), seed, 'train');
    evalDocuments = builtInCorpus(task!, 256, seed + 1, 'test');
  }
  const kind = strFlag(p, 'tokenizer') ?? 'char';
  if (kind !== 'char' && kind !== 'word') throw new UsageError(`--tokenizer must be char or word, got ${kind}`);
  const model = modelFlags(p, { dModel: 128, heads: 4, ffDim: 512, encoderLayers: 2, decoderLayers: 2, dropout: 0.1, norm: 'pre', maxLen: 64 });
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new Error('interrupted (Ctrl-C)'));
  process.once('SIGINT', onSigint);
  const bar = new ProgressBar();
  log(`pretraining on ${documents.length} documents from ${text ?? `the built-in '${task}' corpus`} (e.g. ${JSON.stringify(documents[0])}); ` +
    `objective ${noising.objective}, ${masking} masking; ${steps} steps`);
  try {
    const r = await pretrain({
      documents, evalDocuments, noising, masking: masking as MaskingMode, steps, seed, model, out,
      ...(kind === 'word' ? { tokenizer: WordTokenizer.fromTexts(documents) } : {}),
      ...(p.flags.has('duplicates') ? { duplicates: intFlag(p, 'duplicates', 1) } : {}),
      batchSize: intFlag(p, 'batch-size', 32), lr: numFlag(p, 'lr', 1e-3, 1e-7, 1),
      labelSmoothing: numFlag(p, 'label-smoothing', 0, 0, 0.99), checkpointEvery: intFlag(p, 'checkpoint-every', 0, 0),
      resume: p.flags.has('resume'), evalEvery: Math.max(1, Math.floor(steps / 4)),
      signal: controller.signal, onProgress: (x) => bar.update(x),
    });
    bar.done();
    if (r.resumedFrom > 0) log(`resumed from step ${r.resumedFrom}`);
    log(`${r.model.numParameters().toLocaleString('en-US')} parameters; last loss ${r.loss.toFixed(4)}` +
      (r.evalLoss !== undefined ? `; held-out noised loss ${r.evalLoss.toFixed(4)}` : ''));
    log(`saved the pretrained model to ${out} (step ${r.steps}); fine-tune it with: attnode finetune --model ${out} --data pairs.tsv --out DIR`);
  } catch (e) {
    bar.done();
    if (controller.signal.aborted) throw new Error(`pretrain: interrupted; the checkpoint in ${out} holds the last finished step (continue with --resume)`);
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
