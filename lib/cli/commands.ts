// The commands behind `attnode demo | train | translate`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CharTokenizer } from '../data/char.js';
import { encodePairs } from '../data/examples.js';
import { BatchLoader } from '../data/loader.js';
import { readTsvSync } from '../data/tsv.js';
import { generate } from '../decode/generate.js';
import { DEFAULT_LIMITS, type GenerateOptions } from '../decode/options.js';
import { loadHfModel } from '../nn/hf-import.js';
import { attentionSvg } from '../decode/heatmap.js';
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { loadModel, saveModel } from '../train/checkpoint.js';
import { Trainer } from '../train/trainer.js';
import { initDistributed } from '../dist/distributed.js';
import { intFlag, numFlag, parseArgs, strFlag, UsageError } from './args.js';
import { ATTENTION_FLAGS, attentionFlags } from './attention-flags.js';
import { DEMO_RECIPE, exactMatch, runRecipe } from './demo.js';
import { exactMatchMaskPredict, runCmlmRecipe } from './cmlm.js';
import { withMaskTokens } from '../data/noising/mask-tokens.js';
import { ProgressBar } from './progress.js';

const log = (line: string): void => void process.stdout.write(line + '\n');

export async function demo(argv: readonly string[]): Promise<void> {
  const p = parseArgs(argv, { out: 'value', steps: 'value' });
  const out = strFlag(p, 'out') ?? path.join(os.tmpdir(), 'attnode-demo-model');
  log('attnode demo: learning to normalise dates ("the 3rd of March, 2021" -> 2021-03-03) on this CPU');
  await runRecipe({ ...DEMO_RECIPE, steps: intFlag(p, 'steps', DEMO_RECIPE.steps), out, log });
}

export const MODEL_FLAGS = {
  'd-model': 'value', heads: 'value', 'kv-heads': 'value', 'ff-dim': 'value', 'encoder-layers': 'value', 'decoder-layers': 'value',
  dropout: 'value', activation: 'value', norm: 'value', positions: 'value', 'max-len': 'value', ...ATTENTION_FLAGS,
} as const;

export function modelFlags(p: ReturnType<typeof parseArgs>, base: Partial<Seq2SeqModelConfig>): Partial<Seq2SeqModelConfig> {
  const m: Partial<Seq2SeqModelConfig> = { ...base };
  const dModel = intFlag(p, 'd-model', m.dModel ?? 256);
  const heads = intFlag(p, 'heads', m.heads ?? 4);
  m.dModel = dModel;
  m.heads = heads;
  if (p.flags.has('kv-heads')) m.kvHeads = intFlag(p, 'kv-heads', heads);
  if (dModel % heads !== 0) throw new UsageError(`--d-model (${dModel}) must be a multiple of --heads (${heads})`);
  if (m.kvHeads !== undefined && heads % m.kvHeads !== 0) throw new UsageError(`--kv-heads (${m.kvHeads}) must divide --heads (${heads})`);
  m.ffDim = intFlag(p, 'ff-dim', m.ffDim ?? 4 * dModel);
  m.encoderLayers = intFlag(p, 'encoder-layers', m.encoderLayers ?? 3);
  m.decoderLayers = intFlag(p, 'decoder-layers', m.decoderLayers ?? 3);
  m.dropout = numFlag(p, 'dropout', m.dropout ?? 0.1, 0, 0.99);
  m.maxLen = intFlag(p, 'max-len', m.maxLen ?? 256);
  const act = strFlag(p, 'activation');
  if (act !== undefined) {
    if (act !== 'relu' && act !== 'gelu' && act !== 'silu') throw new UsageError(`--activation must be relu, gelu or silu, got ${act}`);
    m.activation = act;
  }
  const norm = strFlag(p, 'norm');
  if (norm !== undefined) {
    if (norm !== 'pre' && norm !== 'post') throw new UsageError(`--norm must be pre or post, got ${norm}`);
    m.norm = norm;
  }
  const pos = strFlag(p, 'positions');
  if (pos !== undefined) {
    if (pos !== 'sinusoidal' && pos !== 'learned') throw new UsageError(`--positions must be sinusoidal or learned, got ${pos}`);
    m.positions = pos;
  }
  attentionFlags(p, m);
  return m;
}

export async function train(argv: readonly string[]): Promise<void> {
  const p = parseArgs(argv, { task: 'value', data: 'value', out: 'value', steps: 'value', 'batch-size': 'value', lr: 'value', seed: 'value',
    'label-smoothing': 'value', objective: 'value', precision: 'value', ...MODEL_FLAGS });
  const out = strFlag(p, 'out');
  if (!out) throw new UsageError('train needs --out DIR (where the model is saved)');
  const task = strFlag(p, 'task'), data = strFlag(p, 'data');
  if ((task === undefined) === (data === undefined)) throw new UsageError('train needs exactly one of --task dates|copy|reverse|sort and --data pairs.tsv');
  const seed = intFlag(p, 'seed', 1, 0);
  // --precision bf16 (issue 18): the matrix products in bf16 with fp32 accumulation; weights stay fp32.
  const precision = strFlag(p, 'precision') ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw new UsageError(`--precision must be fp32 or bf16, got ${precision}`);
  // --objective cmlm (issue 15): a conditional masked LM, decoded with translate --method mask-predict.
  const objective = strFlag(p, 'objective') ?? 'autoregressive';
  if (objective !== 'autoregressive' && objective !== 'cmlm') throw new UsageError(`--objective must be autoregressive or cmlm, got ${objective}`);
  // Under mpirun: data-parallel over the ranks, rank 0 alone prints and saves (alone: a group of one).
  const dist = await initDistributed();
  const say = dist.isMain ? log : (): void => {};
  if (dist.size > 1) say(`data-parallel training on ${dist.size} ranks (MPI); global batch split across them`);
  if (task !== undefined) {
    if (task !== 'dates' && task !== 'copy' && task !== 'reverse' && task !== 'sort') throw new UsageError(`--task must be dates, copy, reverse or sort, got ${task}`);
    await (objective === 'cmlm' ? runCmlmRecipe : runRecipe)({ ...DEMO_RECIPE, task, out, seed, log: say, distributed: dist, precision, steps: intFlag(p, 'steps', DEMO_RECIPE.steps),
      batchSize: intFlag(p, 'batch-size', DEMO_RECIPE.batchSize), lr: numFlag(p, 'lr', DEMO_RECIPE.lr, 1e-7, 1),
      model: modelFlags(p, DEMO_RECIPE.model) });
    return;
  }
  const pairs = readTsvSync(data!);
  if (pairs.length === 0) throw new UsageError(`--data ${data}: no pairs`);
  // The same pipeline for both objectives; a CMLM's tokenizer gains <mask> (appended: no id
  // shifts), its model a bidirectional decoder and a length predictor, its Trainer the CMLM loss
  // (the default for such a model), its evaluation Mask-Predict.
  const cmlm = objective === 'cmlm';
  const chars = CharTokenizer.fromTexts([...pairs.map((x) => x.source), ...pairs.map((x) => x.target)]);
  const tok = cmlm ? withMaskTokens(chars) : chars;
  const steps = intFlag(p, 'steps', 2000), lr = numFlag(p, 'lr', 1e-3, 1e-7, 1);
  const cfg = modelFlags(p, { norm: 'pre' });
  const longest = Math.max(...pairs.map((x) => Math.max(tok.encode(x.source).length + 1, tok.encode(x.target).length + 1)));
  const model = new Seq2SeqTransformer({ ...cfg, maxLen: Math.max(cfg.maxLen ?? 0, longest + 8), srcVocab: tok.vocabSize, tgtVocab: tok.vocabSize,
    seed, padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId, ...(cmlm ? { objective: 'cmlm' as const, maskId: tok.maskId! } : {}) });
  const loader = new BatchLoader(encodePairs(pairs, { source: tok }),
    { batchSize: intFlag(p, 'batch-size', 32), shuffle: true, seed, bos: tok.bosId, eos: tok.eosId, padId: tok.padId });
  say(`${pairs.length} pairs from ${data}${cmlm ? ' (objective cmlm)' : ''}; ${model.numParameters().toLocaleString('en-US')} parameters; ${steps} steps`);
  const trainer = new Trainer(model, { optimizer: { lr }, labelSmoothing: numFlag(p, 'label-smoothing', 0.1, 0, 0.99),
    schedule: { kind: 'inverseSqrt', lr, warmup: Math.min(400, Math.max(1, Math.floor(steps / 10))) }, distributed: dist, precision });
  const bar = new ProgressBar();
  await trainer.fit(loader, { steps, onProgress: (x) => bar.update(x) });
  bar.done();
  if (!dist.isMain) return;  // every rank has the same weights: rank 0 evaluates and saves
  const sample = pairs.slice(0, Math.min(pairs.length, 200));
  const { accuracy } = cmlm ? exactMatchMaskPredict(model, tok, sample) : exactMatch(model, tok, sample, model.config.maxLen - 1);
  log(`exact match on ${sample.length} training pairs${cmlm ? ' (Mask-Predict, 10 iterations, 1 length candidate)' : ''}: ${(accuracy * 100).toFixed(1)}%`);
  await saveModel(out, model, { tokenizer: tok });
  log(`saved the model to ${out}${cmlm ? `  (translate with: npx attnode translate --model ${out} --method mask-predict ...)` : ''}`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * An attnode checkpoint (checkpoint.json), or a Hugging Face Marian/BART folder (config.json) with
 * the generation settings of its generation_config.json, which the flags override.
 */
async function loadForTranslate(dir: string): Promise<{ model: Seq2SeqTransformer; tokenizer: TranslateTokenizer | null; defaults: GenerateOptions }> {
  if (!existsSync(path.join(dir, 'checkpoint.json')) && existsSync(path.join(dir, 'config.json'))) {
    const hf = await loadHfModel(dir);
    if (!hf.tokenizer) throw new UsageError(`--model ${dir}: a Hugging Face folder without a tokenizer attnode reads (${hf.notes.filter((n) => n.startsWith('tokenizer')).join('; ')})`);
    return { model: hf.model, tokenizer: hf.tokenizer, defaults: hf.generateOptions };
  }
  const { model, tokenizer } = await loadModel(dir);
  return { model, tokenizer: tokenizer ?? null, defaults: {} };
}

interface TranslateTokenizer {
  encode(text: string, options?: { addEos?: boolean }): ArrayLike<number>;
  decode(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): string;
  idToToken(id: number): string;
}

export async function translate(argv: readonly string[]): Promise<void> {
  const p = parseArgs(argv, { model: 'value', 'max-new-tokens': 'value', beams: 'value', attention: 'value', 'max-beams': 'value', 'timeout-ms': 'value',
    method: 'value', iterations: 'value', 'length-candidates': 'value', 'no-early-stop': 'flag', precision: 'value' });
  const maskPredict = maskPredictFlags(p);
  // --precision bf16 (issue 18): decoding's products in bf16 from weight copies made per batch.
  const precision = strFlag(p, 'precision') ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw new UsageError(`--precision must be fp32 or bf16, got ${precision}`);
  const dir = strFlag(p, 'model');
  if (!dir) throw new UsageError('translate needs --model DIR');
  // The limits are checked before the model loads: a request for hours of beam search fails at once.
  const maxBeams = intFlag(p, 'max-beams', DEFAULT_LIMITS.maxBeams);
  const beams = p.flags.has('beams') ? intFlag(p, 'beams', 1) : undefined;
  if (beams !== undefined && beams > maxBeams)
    throw new UsageError(`--beams ${beams} is above the limit of ${maxBeams} beams (each beam costs a decoder row per step); raise it with --max-beams ${beams}`);
  const timeoutMs = p.flags.has('timeout-ms') ? intFlag(p, 'timeout-ms', 1) : undefined;
  if (timeoutMs !== undefined && timeoutMs > 2 ** 31 - 1) throw new UsageError(`--timeout-ms must be at most ${2 ** 31 - 1}, got ${timeoutMs}`);
  const started = performance.now();
  const maxNewFlag = p.flags.has('max-new-tokens') ? intFlag(p, 'max-new-tokens', 1) : undefined;
  const svg = strFlag(p, 'attention');
  const { model, tokenizer, defaults } = await loadForTranslate(dir);
  if (!tokenizer) throw new UsageError(`--model ${dir}: the checkpoint has no tokenizer`);
  const inputs = p.positionals.length > 0 ? p.positionals : (await readStdin()).split(/\r?\n/).filter((l) => l.length > 0);
  if (inputs.length === 0) return;
  const maxNew = Math.min(maxNewFlag ?? defaults.maxNewTokens ?? model.config.maxLen - 1, model.config.maxLen - 1);
  const numBeams = beams ?? defaults.numBeams ?? 1;
  if (numBeams > maxBeams)
    throw new UsageError(`the model's generation config asks for ${numBeams} beams, above the limit of ${maxBeams}; give --beams N or --max-beams ${numBeams}`);
  const limits = { maxBeams, maxRows: Math.max(DEFAULT_LIMITS.maxRows, maxBeams) };
  // Inputs go in batches within the limits (sources, and sources x beams decoded together).
  const per = Math.max(1, Math.min(DEFAULT_LIMITS.maxBatch, Math.floor(limits.maxRows / numBeams)));
  const sequences: Awaited<ReturnType<typeof generate>>['sequences'] = [];
  for (let at = 0; at < inputs.length; at += per) {
    const left = timeoutMs === undefined ? undefined : Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
    let result;
    try {
      result = await generate(model, inputs.slice(at, at + per), {
        ...defaults, ...(defaults.minNewTokens !== undefined ? { minNewTokens: Math.min(defaults.minNewTokens, maxNew) } : {}),
        tokenizer, maxNewTokens: maxNew, numBeams, limits, precision, ...maskPredict, ...(left !== undefined ? { timeoutMs: left } : {}), ...(svg ? { returnAttention: true } : {}),
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'TimeoutError')
        throw new Error(`translate: timed out after --timeout-ms ${timeoutMs} (${at} of ${inputs.length} inputs translated)`);
      throw e;
    }
    for (const t of result.texts ?? []) log(t);
    sequences.push(...result.sequences);
  }
  if (svg) {
    sequences.forEach((hyps, i) => {
      const h = hyps[0]!;
      const srcIds = tokenizer.encode(inputs[i]!, { addEos: true });
      const srcTokens = Array.from(srcIds, (id) => tokenizer.idToToken(id));
      // EOS has a row when it was generated (Mask-Predict's outputs have no EOS and no row for one).
      const tgtIds = h.finished && (h.attention?.length ?? 0) > h.tokens.length ? [...h.tokens, model.config.eosId] : [...h.tokens];
      const tgtTokens = tgtIds.map((id) => tokenizer.idToToken(id));
      const file = inputs.length === 1 ? svg : svg.replace(/(\.svg)?$/i, `-${i}.svg`);
      writeFileSync(file, attentionSvg(srcTokens, tgtTokens, h.attention ?? []));
      process.stderr.write(`attention heatmap of input ${i + 1}: ${file}\n`);
    });
  }
}

/**
 * translate's --method autoregressive|mask-predict, --iterations T, --length-candidates L and
 * --no-early-stop (every candidate gets all T passes: fairseq's --iter-decode-force-max-iter) as
 * generate options.
 */
function maskPredictFlags(p: ReturnType<typeof parseArgs>): GenerateOptions {
  const o: GenerateOptions = {};
  const method = strFlag(p, 'method');
  if (method !== undefined) {
    if (method !== 'autoregressive' && method !== 'mask-predict') throw new UsageError(`--method must be autoregressive or mask-predict, got ${method}`);
    o.method = method;
  }
  if (p.flags.has('iterations')) o.iterations = intFlag(p, 'iterations', 10);
  if (p.flags.has('length-candidates')) o.lengthCandidates = intFlag(p, 'length-candidates', 1);
  if (p.flags.has('no-early-stop')) o.earlyStop = false;
  return o;
}

export function readVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}
