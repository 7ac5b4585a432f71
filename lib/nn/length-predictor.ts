// A CMLM's target-length predictor (Mask-Predict, issue 15), as fairseq's cmlm_transformer does
// it: the encoder output, mean-pooled over each source's real tokens, goes through one linear layer
// to logits over the target lengths 0..maxLen. Trained with a cross-entropy on the true length
// (weighted 0.1 beside the token loss, lib/train/cmlm.ts); decoding takes its top-l lengths.
// (fairseq also offers a special length token in the encoder input; the pooled form needs no
// change of the source and keeps the encoder identical to an autoregressive model's.)
import * as ops from '../ops/index.js';
import { meanPool } from '../ops/pool.js';
import type { Tensor } from '../tensor.js';
import type { Rng } from './init.js';
import { Linear } from './layers.js';
import { Module } from './module.js';

export class LengthPredictor extends Module {
  readonly proj: Linear;
  constructor(dModel: number, readonly classes: number, rng: Rng) {
    super();
    this.proj = this.child('proj', new Linear(dModel, classes, rng));
  }

  /** Logits [batch, classes] (class k = target length k) from encoder memory [batch * srcLen, dModel]. */
  forward(memory: Tensor, srcLengths: Int32Array, batch: number, srcLen: number, srcMask: Uint8Array | null = null): Tensor {
    return ops.linear(meanPool(memory, srcLengths, batch, srcLen, srcMask), this.proj.weight, this.proj.bias);
  }
}
