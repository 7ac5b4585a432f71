#!/usr/bin/env node
// node bench/decode-cmlm.mjs [--ar DIR] [--cmlm DIR] [--steps N] [--timed N] [--rounds R] [--threads N] [--json out.json]
// (also run by bench/decode.mjs as its Mask-Predict section: runDecodeCmlm below)
//
// Mask-Predict (issue 15) against autoregressive greedy and beam decoding on the dates task, in
// one run: two models of the same size (DEMO_RECIPE: dModel 128, 4 heads, ffDim 512, 2+2 layers,
// maxLen 64), one trained autoregressively (`attnode train --task dates`), one as a CMLM
// (`attnode train --task dates --objective cmlm`: bidirectional decoder + length predictor, one
// more vocabulary row for <mask>). --ar/--cmlm load saved models; without them both are trained
// here for --steps steps (default 1500, the recipe's).
//
// Rows: exact match on the 1000 held-out dates of the recipe (dates never seen in training, in
// any spelling), decoded with generate() in batches of 250; tokens/s at batch 1 = output tokens
// (EOS not counted, so every method is credited the same 10 characters of a date) / seconds over
// the first --timed held-out sources (default 200), one generate() call per source; and at batch
// 50. Every method runs on the calling thread (thread: 'main'), so no worker messaging is timed.
// Method: one warm-up, then --rounds rounds (default 3) interleaving the methods source by source
// (batch 1) or batch by batch (batch 50), so all see the same machine load; the fastest round of
// each method is reported. Mask-Predict rows: "adaptive" stops a candidate at the first pass that
// changes none of its tokens (generate's default earlyStop: true, as fairseq's
// IterativeRefinementGenerator), "forced" runs all T passes (earlyStop: false).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { cpuModel } from './cpu-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = (p) => pathToFileURL(path.join(here, '..', 'dist', p)).href;
const { generate } = await import(dist('decode/generate.js'));
const { loadModel } = await import(dist('train/checkpoint.js'));
const { generateTask } = await import(dist('data/tasks/index.js'));
const { DEMO_RECIPE, runRecipe } = await import(dist('cli/demo.js'));
const { runCmlmRecipe } = await import(dist('cli/cmlm.js'));
const { getNumThreads, setNumThreads } = await import(dist('runtime.js'));

export function parseArgs(argv) {
  const a = { ar: null, cmlm: null, steps: DEMO_RECIPE.steps, timed: 200, rounds: 3, threads: null, json: null };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i], v = () => argv[++i];
    if (s === '--ar') a.ar = v();
    else if (s === '--cmlm') a.cmlm = v();
    else if (s === '--steps') a.steps = Number(v());
    else if (s === '--timed') a.timed = Number(v());
    else if (s === '--rounds') a.rounds = Number(v());
    else if (s === '--threads') a.threads = Number(v());
    else if (s === '--json') a.json = v();
    else {
      console.error(`unknown argument ${s}\nusage: node bench/decode-cmlm.mjs [--ar DIR] [--cmlm DIR] [--steps N] [--timed N] [--rounds R] [--threads N] [--json out.json]`);
      process.exit(2);
    }
  }
  return a;
}

/**
 * The comparison, printed through `log`; returns { cpu, threads, rows, arDir, cmlmDir }. a: as
 * parseArgs gives (ar, cmlm, steps, timed, rounds, json).
 */
export async function runDecodeCmlm(a, log = (s) => process.stdout.write(s + '\n')) {
  const args = a;
  async function modelDir(given, train) {
    if (given) return given;
    const out = mkdtempSync(path.join(os.tmpdir(), 'attnode-bench-cmlm-'));
    await train({ ...DEMO_RECIPE, steps: args.steps, out, log: (s) => log(`  ${s}`) });
    return out;
  }

  log(`bench:decode-cmlm on ${cpuModel()}, ${getNumThreads()} threads, node ${process.version}`);
  const arDir = await modelDir(args.ar, runRecipe);
  const cmlmDir = await modelDir(args.cmlm, runCmlmRecipe);
  const ar = await loadModel(arDir), cm = await loadModel(cmlmDir);
  if (ar.model.config.objective === 'cmlm' || cm.model.config.objective !== 'cmlm') throw new Error('--ar must be an autoregressive model, --cmlm a CMLM');
  for (const [name, m] of [['autoregressive', ar.model], ['cmlm', cm.model]])
    log(`${name.padEnd(14)} ${m.numParameters().toLocaleString('en-US')} parameters, dModel ${m.config.dModel}, ${m.config.encoderLayers}+${m.config.decoderLayers} layers, ${m.config.heads} heads, ffDim ${m.config.ffDim}`);

  const test = generateTask('dates', { count: 1000, seed: DEMO_RECIPE.seed + 1, split: 'test' });
  const maxNewTokens = 12;  // a date is 10 characters + EOS
  const methods = [
    { name: 'greedy', model: ar, o: {} },
    { name: 'beam 4', model: ar, o: { numBeams: 4 } },
    ...[[10, 1, true], [10, 1, false], [10, 3, true], [10, 3, false], [4, 1, true], [2, 1, true], [1, 1, true]].map(([T, l, adaptive]) => ({
      name: `mask-predict T=${T} l=${l}${T > 1 ? (adaptive ? ' adaptive' : ' forced') : ''}`, model: cm,
      o: { method: 'mask-predict', iterations: T, lengthCandidates: l, earlyStop: adaptive } })),
  ];

  async function decodeAll(m, sources, batch) {
    const texts = [];
    let tokens = 0;
    for (let i = 0; i < sources.length; i += batch) {
      const r = await generate(m.model.model, sources.slice(i, i + batch), { ...m.o, tokenizer: m.model.tokenizer, maxNewTokens, thread: 'main' });
      texts.push(...r.texts);
      for (const t of r.tokens) tokens += t.length;
    }
    return { texts, tokens };
  }

  const rows = [];
  for (const m of methods) {
    const { texts } = await decodeAll(m, test.map((p) => p.source), 250);
    const ok = texts.filter((t, i) => t === test[i].target).length;
    rows.push({ method: m.name, exactMatch: ok / test.length, best1: Infinity, best50: Infinity, tokens1: 0, tokens50: 0 });
  }
  const timed = test.slice(0, args.timed).map((p) => p.source);
  for (const m of methods) await decodeAll(m, timed.slice(0, 10), 1);  // warm-up
  // Batch 1: within a round, every source is decoded by every method in turn (the order rotating
  // from source to source), so all methods see the same machine load, even a load that changes
  // within seconds (this host is shared); a round's time per method is the sum over its sources.
  // Batch 50: the methods alternate batch by batch. The fastest round of each method is reported.
  for (let r = 0; r < args.rounds; ++r) {
    const s1 = methods.map(() => 0), n1 = methods.map(() => 0), s50 = methods.map(() => 0), n50 = methods.map(() => 0);
    for (let i = 0; i < timed.length; ++i)
      for (let j = 0; j < methods.length; ++j) {
        const k = (i + j) % methods.length, t0 = performance.now();
        n1[k] += (await decodeAll(methods[k], [timed[i]], 1)).tokens;
        s1[k] += (performance.now() - t0) / 1000;
      }
    for (let i = 0; i < timed.length; i += 50)
      for (let j = 0; j < methods.length; ++j) {
        const k = (i / 50 + j) % methods.length, t0 = performance.now();
        n50[k] += (await decodeAll(methods[k], timed.slice(i, i + 50), 50)).tokens;
        s50[k] += (performance.now() - t0) / 1000;
      }
    rows.forEach((row, k) => {
      if (s1[k] < row.best1) { row.best1 = s1[k]; row.tokens1 = n1[k]; }
      if (s50[k] < row.best50) { row.best50 = s50[k]; row.tokens50 = n50[k]; }
    });
  }
  const greedy1 = rows[0].tokens1 / rows[0].best1, greedy50 = rows[0].tokens50 / rows[0].best50;
  log('');
  log(`method                               exact match   tokens/s b1   vs greedy   tokens/s b50   vs greedy`);
  for (const row of rows) {
    const t1 = row.tokens1 / row.best1, t50 = row.tokens50 / row.best50;
    Object.assign(row, { tokensPerSecond1: t1, tokensPerSecond50: t50, vsGreedy1: t1 / greedy1, vsGreedy50: t50 / greedy50 });
    log(`${row.method.padEnd(36)} ${(row.exactMatch * 100).toFixed(1).padStart(10)}%  ${t1.toFixed(0).padStart(12)}  ${(t1 / greedy1).toFixed(2).padStart(9)}x  ${t50.toFixed(0).padStart(13)}  ${(t50 / greedy50).toFixed(2).padStart(9)}x`);
  }
  log(`\nexact match: ${test.length} held-out dates; tokens/s: output tokens (EOS not counted) of the first ${timed.length}, fastest of ${args.rounds} rounds; models: ${arDir}, ${cmlmDir}`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ cpu: cpuModel(), threads: getNumThreads(), rows }, null, 2));
  return { cpu: cpuModel(), threads: getNumThreads(), rows, arDir, cmlmDir };
}

const direct = process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (direct) {
  const args = parseArgs(process.argv.slice(2));
  if (args.threads) setNumThreads(args.threads);
  await runDecodeCmlm(args);
}
