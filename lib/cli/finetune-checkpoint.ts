// `attnode finetune --model DIR` where DIR is an attnode checkpoint (e.g. from `attnode pretrain`):
// fine-tunes it on a TSV of text pairs with its own tokenizer and saves an attnode checkpoint.
// (A Hugging Face folder goes through finetune.ts's transformers path instead.)
import { encodePairs } from '../data/examples.js';
import { BatchLoader } from '../data/loader.js';
import { readTsvSync } from '../data/tsv.js';
import { loadModel, saveModel } from '../train/checkpoint.js';
import { Trainer } from '../train/trainer.js';
import { intFlag, numFlag, UsageError, type ParsedArgs } from './args.js';
import { exactMatch } from './demo.js';
import { ProgressBar } from './progress.js';

const log = (line: string): void => void process.stdout.write(line + '\n');

export async function finetuneCheckpoint(dir: string, data: string, out: string, p: ParsedArgs): Promise<void> {
  const { model, tokenizer: tok } = await loadModel(dir);
  if (!tok) throw new UsageError(`--model ${dir}: the checkpoint has no tokenizer`);
  const pairs = readTsvSync(data);
  if (pairs.length === 0) throw new UsageError(`--data ${data}: no pairs`);
  const c = model.config;
  const examples = encodePairs(pairs, { source: tok });
  examples.forEach((e, i) => {
    if (e.src.length > c.maxLen || e.tgt.length + 1 > c.maxLen) throw new UsageError(`--data ${data}: line ${i + 1} is longer than the model's ${c.maxLen} positions`);
  });
  let unk = 0;
  for (const e of examples) for (const id of [...e.src, ...e.tgt]) if (id === tok.unkId) unk++;
  if (unk > 0) log(`note: ${unk} characters of the pairs are not in the checkpoint's vocabulary (encoded as ${tok.idToToken(tok.unkId)})`);
  const steps = intFlag(p, 'steps', 500), lr = numFlag(p, 'lr', 1e-3, 1e-9, 1), seed = intFlag(p, 'seed', 1, 0);
  const loader = new BatchLoader(examples, { batchSize: intFlag(p, 'batch-size', 32), shuffle: true, seed,
    bos: model.decoderStartId, eos: c.eosId, padId: c.padId });
  log(`fine-tuning ${dir} (${model.numParameters().toLocaleString('en-US')} parameters) on ${pairs.length} pairs from ${data}; ${steps} steps`);
  const trainer = new Trainer(model, { optimizer: { lr }, labelSmoothing: numFlag(p, 'label-smoothing', 0.1, 0, 0.99),
    schedule: { kind: 'cosine', lr, warmup: Math.min(100, Math.max(1, Math.floor(steps / 10))), totalSteps: Math.max(1, steps), minLr: lr * 0.02 } });
  const bar = new ProgressBar();
  const r = await trainer.fit(loader, { steps, onProgress: (x) => bar.update(x) });
  bar.done();
  const sample = pairs.slice(0, Math.min(pairs.length, 200));
  const { accuracy } = exactMatch(model, tok, sample, c.maxLen - 1);
  log(`last loss ${r.loss.toFixed(4)}; exact match on ${sample.length} training pairs: ${(accuracy * 100).toFixed(1)}%`);
  await saveModel(out, model, { tokenizer: tok });
  log(`saved the model to ${out}`);
}
