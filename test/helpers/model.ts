// Shared pieces of the whole-model tests (test/model.*.test.ts): tiny configs, padded batches
// built by hand or through collate, the summed cross-entropy loss with or without gradients, and
// snapshots of every parameter.
import { collate, type Seq2SeqBatch, type Seq2SeqExample } from '../../dist/data/batching.js';
import type { Seq2SeqModelConfig } from '../../dist/nn/config.js';
import type { MaskMode } from '../../dist/nn/masks.js';
import { Seq2SeqTransformer } from '../../dist/nn/seq2seq.js';
import * as ops from '../../dist/ops/index.js';
import { noGrad } from '../../dist/tensor.js';
import { Rng } from './random.js';

export type TinyConfig = Partial<Seq2SeqModelConfig> & { srcVocab: number; tgtVocab: number };

/** dModel 8, 2 heads, ffDim 16, 1+1 layers, vocab 11, no dropout: the gradient-check size. */
export const TINY: TinyConfig = {
  srcVocab: 11, tgtVocab: 11, dModel: 8, heads: 2, ffDim: 16, encoderLayers: 1, decoderLayers: 1,
  dropout: 0, attentionDropout: 0, activation: 'gelu', maxLen: 16, seed: 7, padId: 0, bosId: 1, eosId: 2,
};

/** Ids of real tokens: never pad, BOS or EOS. */
function realToken(rng: Rng, vocab: number): number {
  return rng.int(3, vocab - 1);
}

/** Random examples with the given source and target lengths (targets without BOS/EOS). */
export function randomExamples(seed: number, srcLens: readonly number[], tgtLens: readonly number[], vocab: { src: number; tgt: number }): Seq2SeqExample[] {
  const rng = new Rng(seed);
  return srcLens.map((n, i) => ({
    src: Int32Array.from({ length: n }, () => realToken(rng, vocab.src)),
    tgt: Int32Array.from({ length: tgtLens[i]! }, () => realToken(rng, vocab.tgt)),
  }));
}

/** A padded batch through collate (BOS/EOS/pad ids of the config, labels padded with -100). */
export function batchOf(cfg: TinyConfig, examples: readonly Seq2SeqExample[], fixed: { srcLen?: number; tgtLen?: number } = {}): Seq2SeqBatch {
  return collate(examples, { bos: cfg.bosId ?? 1, eos: cfg.eosId ?? 2, padId: cfg.padId ?? 0, ...fixed });
}

export const LOSS = { labelSmoothing: 0, ignoreIndex: -100 } as const;

/** Summed cross-entropy of a batch, no gradients, no dropout. */
export function lossOf(model: Seq2SeqTransformer, b: Seq2SeqBatch, maskMode: MaskMode = 'dynamic'): number {
  return noGrad(() => {
    try {
      const logits = model.forward(b, { training: false, maskMode });
      return ops.crossEntropySum(logits, b.labels, LOSS).sum;
    } finally {
      ops.arena.releaseAll();
    }
  });
}

/** Summed cross-entropy and copies of the gradient of every named parameter. */
export async function lossAndGrads(model: Seq2SeqTransformer, b: Seq2SeqBatch, maskMode: MaskMode = 'dynamic'): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const { tape } = await import('../../dist/tensor.js');
  model.zeroGrad();
  try {
    const logits = model.forward(b, { training: false, maskMode });
    const loss = ops.crossEntropySum(logits, b.labels, LOSS).sum;
    tape.run();
    const grads = new Map<string, Float32Array>();
    for (const [n, p] of model.namedParameters()) grads.set(n, new Float32Array(p.grad!));
    return { loss, grads };
  } finally {
    tape.clear();
    model.zeroGrad();
    ops.arena.releaseAll();
  }
}

/** Logits [B*T, V] of a forward pass without gradients, copied out of the arena. */
export function logitsOf(model: Seq2SeqTransformer, b: Pick<Seq2SeqBatch, 'batch' | 'srcLen' | 'tgtLen' | 'src' | 'srcLengths' | 'tgtIn' | 'tgtLengths'>,
  maskMode: MaskMode = 'dynamic'): Float32Array {
  return noGrad(() => {
    try {
      return model.forward(b, { training: false, maskMode }).toFloat32Array();
    } finally {
      ops.arena.releaseAll();
    }
  });
}

/** Copies of every parameter, by name. */
export function snapshot(model: Seq2SeqTransformer): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  for (const [n, p] of model.namedParameters()) m.set(n, new Float32Array(p.storage.data));
  return m;
}

/** Names of the parameters whose bits differ between two snapshots (empty: bitwise equal). */
export function differingBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  const out: string[] = [];
  for (const [n, x] of a) {
    const y = b.get(n);
    if (!y || !Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))) out.push(n);
  }
  for (const n of b.keys()) if (!a.has(n)) out.push(n);
  return out;
}

/** Moves every parameter off its initial special values (zero biases, unit norms) by seeded noise. */
export function jitter(model: Seq2SeqTransformer, seed: number, std = 0.1): void {
  const rng = new Rng(seed);
  for (const p of model.parameters()) {
    const d = p.storage.data;
    for (let i = 0; i < d.length; ++i) d[i]! += rng.normal() * std;
  }
}

export function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
