#!/usr/bin/env node
// attnode command line: demo | train | translate | finetune | pretrain.
import { UsageError } from './cli/args.js';
import { demo, readVersion, train, translate } from './cli/commands.js';
import { finetune } from './cli/finetune.js';
import { pretrainCommand } from './cli/pretrain.js';
import { packageRoot } from './package-root.js';

const USAGE = `usage:
  attnode demo [--steps N] [--out DIR]
      train the date-normalisation model on this CPU, report held-out accuracy, save it
  attnode train (--task dates|copy|reverse|sort | --data pairs.tsv) --out DIR [--steps N]
      [--batch-size N] [--lr X] [--seed N] [--label-smoothing X] [--d-model N] [--heads N]
      [--kv-heads N] [--ff-dim N] [--encoder-layers N] [--decoder-layers N] [--dropout X]
      [--activation relu|gelu|silu] [--norm pre|post] [--positions sinusoidal|learned] [--max-len N]
      [--window N|L,R] [--global-tokens G] [--decoder-attention separate|mixed]
      (--window: encoder keys L before to R after each position, decoder self-attention L before;
      --global-tokens: the first G positions see and are seen by all; mixed: one decoder attention
      over [source; prefix]. Saved with the model: translate needs no flag)
      [--objective autoregressive|cmlm] (cmlm, with --task: a conditional masked LM, bidirectional
      decoder and length predictor, decoded with Mask-Predict)
      [--precision fp32|bf16] (bf16: matrix products with bf16 operands and fp32 accumulation on
      AVX512_BF16 CPUs; weights, gradients and the saved model stay fp32)
  attnode translate --model DIR [--max-new-tokens N] [--beams N] [--attention out.svg]
      [--max-beams N] [--timeout-ms N] [--method autoregressive|mask-predict] [--iterations T]
      [--length-candidates L] [--no-early-stop] [--precision fp32|bf16] ["text" ...]
      (DIR: an attnode checkpoint, or a Hugging Face Marian/BART folder with its tokenizer)
      one output per input; with no text, reads one input per line from stdin; --attention writes
      a heatmap of the cross-attention of each output token over the source tokens; --beams is at
      most --max-beams (default 64); --timeout-ms stops the whole run after N ms (exit code 1);
      --precision bf16 decodes with bf16 copies of the weights (AVX512_BF16 CPUs); Mask-Predict
      stops a candidate once a pass changes none of its tokens, unless --no-early-stop
  attnode finetune --model HF_DIR --data pairs.tsv --out DIR [--steps N] [--batch-size N] [--lr X]
      [--seed N] [--label-smoothing X]
      fine-tune a Hugging Face Marian/BART folder with its own tokenizer; writes a transformers folder;
      with an attnode checkpoint (e.g. from pretrain) as --model, writes an attnode checkpoint
  attnode pretrain (--text corpus.txt | --task dates|copy|reverse|sort) --out DIR
      [--objective mlm|infill|span] [--masking static|dynamic] [--duplicates K] [--steps N] [--batch-size N]
      [--lr X] [--seed N] [--checkpoint-every N] [--resume] [--documents N] [--tokenizer char|word]
      [--mask-rate X] [--infill-rate X] [--poisson-lambda X] [--token-mask-rate X] [--deletion-rate X]
      [--permute-rate X] [--rotate-rate X] [--noise-density X] [--mean-span-length X] [model flags as train]
      masked-token pretraining on one document a line (or a built-in generated corpus); Ctrl-C saves
      a checkpoint, --resume continues the run in --out
  attnode --version`;

async function main(argv: readonly string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'demo': return demo(rest);
    case 'train': return train(rest);
    case 'translate': return translate(rest);
    case 'finetune': return finetune(rest);
    case 'pretrain': return pretrainCommand(rest);
    case '--version': process.stdout.write(readVersion(packageRoot) + '\n'); return;
    case undefined: case '--help': case 'help': process.stdout.write(USAGE + '\n'); return;
    default: throw new UsageError(`unknown command '${cmd}'`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`attnode: ${e.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`attnode: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
});
