#!/usr/bin/env node
// node bench/attention-mixed.mjs [--quick] [--threads N] [--rounds N] [--per-round N] [--warmup N]
//
// Mixed vs separate decoder attention (issue 16), on the bench:train model (bench/train-setup.mjs:
// vocab 1000, dModel 256, 4 heads, ffDim 1024, 3+3 layers post-LN, batch 32 x 32 source / 32
// target tokens, Adam). 'separate': each decoder layer runs causal self-attention, then
// cross-attention over the encoder output (two kernel calls, two q/k/v/out projections).
// 'mixed' (Layer-wise Coordination, He et al. 2018): one attention per decoder layer whose keys
// are [encoder output; decoder prefix] (one kernel call, kvLen = 64, causal through the
// bottom-right rule, source padding through keyMask; one set of k/v weights for both parts).
//
// Rows: a whole training step (Trainer.trainStep), median of rounds x per-round steps, the two
// kinds alternating round by round so both see the same machine load; and greedy decoding with
// the KV cache of the 32 sources for 32 new tokens (generate, minNewTokens = maxNewTokens so both
// make the same number of tokens), median of the rounds.
import os from 'node:os';
import { printTable } from './ops/common.mjs';
import { cpuModel } from './cpu-model.mjs';
import { BATCH, MODEL, OPT, SRC_LEN, TGT_LEN, benchBatch, dist, median } from './train-setup.mjs';

function parseArgs(argv) {
  const a = { quick: false, threads: null, rounds: null, perRound: null, warmup: null };
  const num = (i, name) => {
    const v = Number(argv[i]);
    if (!Number.isInteger(v) || v < 1) usage(`${name} needs a positive integer, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i];
    if (s === '--quick') a.quick = true;
    else if (s === '--threads') a.threads = num(++i, s);
    else if (s === '--rounds') a.rounds = num(++i, s);
    else if (s === '--per-round') a.perRound = num(++i, s);
    else if (s === '--warmup') a.warmup = num(++i, s);
    else usage(`unknown argument ${s}`);
  }
  return a;
}

function usage(msg) {
  console.error(`${msg}\nusage: node bench/attention-mixed.mjs [--quick] [--threads N] [--rounds N] [--per-round N] [--warmup N]`);
  process.exit(2);
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const warmup = args.warmup ?? 2, rounds = args.rounds ?? (args.quick ? 3 : 5), perRound = args.perRound ?? (args.quick ? 2 : 4);
  const { getNumThreads, setNumThreads, cpuInfo, generate } = await dist('index.js');
  const { Seq2SeqTransformer } = await dist('nn/seq2seq.js');
  const { Trainer } = await dist('train/trainer.js');
  if (args.threads) setNumThreads(args.threads);
  console.log(`mixed vs separate decoder attention: the bench:train model (vocab ${MODEL.srcVocab}, dModel ${MODEL.dModel}, ${MODEL.heads} heads, ` +
    `ffDim ${MODEL.ffDim}, ${MODEL.encoderLayers}+${MODEL.decoderLayers} layers, batch ${BATCH} x ${SRC_LEN}/${TGT_LEN} tokens, Adam)`);
  console.log(`CPU: ${cpuModel()}; threads = ${getNumThreads()}, isa = ${cpuInfo().isa}, ${os.availableParallelism()} CPUs, ` +
    `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`${warmup} warm-up steps each, then ${rounds} alternating rounds of ${perRound} steps each (median of ${rounds * perRound})`);

  const batch = await benchBatch();
  const sources = Array.from({ length: BATCH }, (_, b) => Array.from(batch.src.subarray(b * SRC_LEN, b * SRC_LEN + batch.srcLengths[b])));
  const kinds = ['separate', 'mixed'].map((kind) => {
    const model = new Seq2SeqTransformer({ ...MODEL, decoderAttention: kind });
    const trainer = new Trainer(model, { optimizer: OPT, schedule: { kind: 'constant', lr: OPT.lr }, labelSmoothing: 0 });
    return { kind, model, trainer, steps: [], losses: [], decode: [] };
  });
  const train = (k, n, keep) => {
    for (let i = 0; i < n; ++i) {
      const t0 = performance.now();
      const r = k.trainer.trainStep([batch]);
      if (keep) k.steps.push(performance.now() - t0);
      k.losses.push(r.loss);
    }
  };
  const decode = async (k) => {
    const t0 = performance.now();
    await generate(k.model, sources, { maxNewTokens: TGT_LEN, minNewTokens: TGT_LEN, thread: 'main' });
    k.decode.push(performance.now() - t0);
  };
  for (const k of kinds) { train(k, warmup, false); await decode(k); }
  for (let r = 0; r < rounds; ++r) for (const k of kinds) { train(k, perRound, true); await decode(k); }

  const tokens = batch.numTargetTokens;
  const sep = kinds[0];
  console.log('');
  printTable(['decoder attention', 'params', 'train step ms (median)', 'min', 'max', 'target tok/s', 'vs separate', 'greedy decode ms (32 x 32 tokens)', 'vs separate', 'loss (first -> last)'],
    kinds.map((k) => {
      const m = median(k.steps), d = median(k.decode);
      return [k.kind, k.model.numParameters().toLocaleString('en-US'), fmt(m), fmt(Math.min(...k.steps)), fmt(Math.max(...k.steps)),
        fmt(tokens / (m / 1e3), 0), `${fmt(median(sep.steps) / m, 2)}x`, fmt(d), `${fmt(median(sep.decode) / d, 2)}x`,
        `${fmt(k.losses[0], 3)} -> ${fmt(k.losses.at(-1), 3)}`];
    }));
  console.log('\n("vs separate": separate time / this time; above 1 = faster than separate)');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
