// `attnode finetune`: fine-tunes a Hugging Face Marian/BART folder on a TSV of text pairs with the
// folder's own tokenizer, and writes a transformers folder again (weights, config,
// generation_config, and the tokenizer files copied over), so the result loads in transformers
// and in `attnode translate` alike.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { BatchLoader } from '../data/loader.js';
import { readTsvSync } from '../data/tsv.js';
import { saveHfModel } from '../nn/hf-export.js';
import { loadHfModel } from '../nn/hf-import.js';
import { Trainer } from '../train/trainer.js';
import { intFlag, numFlag, parseArgs, strFlag, UsageError } from './args.js';
import { finetuneCheckpoint } from './finetune-checkpoint.js';
import { ProgressBar } from './progress.js';

/** Tokenizer files of Marian and BART folders, copied as they are. */
const TOKENIZER_FILES = ['source.spm', 'target.spm', 'vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

const log = (line: string): void => void process.stdout.write(line + '\n');

export async function finetune(argv: readonly string[]): Promise<void> {
  const p = parseArgs(argv, { model: 'value', data: 'value', out: 'value', steps: 'value', 'batch-size': 'value', lr: 'value',
    seed: 'value', 'label-smoothing': 'value' });
  const dir = strFlag(p, 'model'), data = strFlag(p, 'data'), out = strFlag(p, 'out');
  if (!dir || !data || !out) throw new UsageError('finetune needs --model HF_DIR --data pairs.tsv --out DIR');
  if (path.resolve(dir) === path.resolve(out)) throw new UsageError('finetune: --out must differ from --model (the original is kept)');
  if (existsSync(path.join(dir, 'checkpoint.json'))) return finetuneCheckpoint(dir, data, out, p);  // an attnode checkpoint (attnode pretrain)
  const steps = intFlag(p, 'steps', 500), lr = numFlag(p, 'lr', 5e-5, 1e-9, 1), seed = intFlag(p, 'seed', 1, 0);
  const hf = await loadHfModel(dir);
  const tok = hf.tokenizer;
  if (!tok) throw new UsageError(`--model ${dir}: no tokenizer attnode reads (${hf.notes.filter((n) => n.startsWith('tokenizer')).join('; ')})`);
  const pairs = readTsvSync(data);
  if (pairs.length === 0) throw new UsageError(`--data ${data}: no pairs`);
  const model = hf.model, c = model.config;
  // transformers' convention: labels are the target's ids (BART: <s> first) and </s>; the decoder
  // input is them shifted right behind decoder_start_token_id. collate adds the start and </s>.
  const examples = pairs.map((x, i) => {
    const src = tok.encode(x.source), tgt = tok.encodeTarget(x.target, { addEos: false });
    if (src.length > c.maxLen || tgt.length + 1 > c.maxLen)
      throw new UsageError(`--data ${data}: line ${i + 1} is longer than the model's ${c.maxLen} positions`);
    return { src, tgt };
  });
  const loader = new BatchLoader(examples, { batchSize: intFlag(p, 'batch-size', 16), shuffle: true, seed,
    bos: model.decoderStartId, eos: c.eosId, padId: c.padId });
  log(`fine-tuning ${dir} (${model.numParameters().toLocaleString('en-US')} parameters) on ${pairs.length} pairs from ${data}; ${steps} steps`);
  const trainer = new Trainer(model, { optimizer: { kind: 'adamw', lr, weightDecay: 0 },
    labelSmoothing: numFlag(p, 'label-smoothing', 0, 0, 0.99),  // transformers' Seq2SeqTrainer default
    schedule: { kind: 'inverseSqrt', lr, warmup: Math.min(100, Math.max(1, Math.floor(steps / 10))) } });
  const bar = new ProgressBar();
  const r = await trainer.fit(loader, { steps, onProgress: (x) => bar.update(x) });
  bar.done();
  mkdirSync(out, { recursive: true });
  await saveHfModel(out, model, { generateOptions: hf.generateOptions });
  for (const f of TOKENIZER_FILES) if (existsSync(path.join(dir, f))) copyFileSync(path.join(dir, f), path.join(out, f));
  log(`last loss ${r.loss.toFixed(4)}; saved a transformers folder to ${out}`);
}
