// Basic layers: Linear, Embedding, LayerNorm.
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { normalInit, xavierUniform, type Rng } from './init.js';
import { Module, Parameter, parameterData } from './module.js';

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, bias = true) {
    super();
    this.weight = this.param('weight', new Parameter(parameterData(outFeatures * inFeatures), [outFeatures, inFeatures]));
    xavierUniform(this.weight.storage.data, inFeatures, outFeatures, rng);
    this.bias = bias ? this.param('bias', new Parameter(parameterData(outFeatures), [outFeatures])) : null;
  }
  /** y = x W^T + b; opts fuse a ReLU or a residual into the product (ops.linear). */
  forward(x: Tensor, opts?: ops.LinearOptions): Tensor {
    return ops.linear(x, this.weight, this.bias, opts);
  }
}

export class Embedding extends Module {
  readonly weight: Parameter;
  constructor(readonly vocab: number, readonly dim: number, rng: Rng, readonly paddingIdx: number) {
    super();
    this.weight = this.param('weight', new Parameter(parameterData(vocab * dim), [vocab, dim]));
    normalInit(this.weight.storage.data, Math.pow(dim, -0.5), rng);
    if (paddingIdx >= 0 && paddingIdx < vocab) this.weight.storage.data.fill(0, paddingIdx * dim, (paddingIdx + 1) * dim);
  }
  /** W[ids] * scaleBy, plus a position term in the same pass when given. */
  forward(ids: Int32Array, scaleBy = 1, positions?: ops.EmbeddingPositions): Tensor {
    return ops.embedding(ids, this.weight, scaleBy, this.paddingIdx, positions);
  }
}

export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', new Parameter(parameterData(dim).fill(1), [dim]));
    this.bias = this.param('bias', new Parameter(parameterData(dim), [dim]));
  }
  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
}
