// Adam and AdamW over a model's parameters, with global-norm clipping folded into the fused
// step's gradScale (one pass over the gradients to measure, one fused update).
import { kernels } from '../kernels.js';
import type { Parameter } from '../nn/module.js';

export interface OptimizerOptions {
  kind: 'adam' | 'adamw';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  clipNorm: number;
}

export const defaultOptimizer: OptimizerOptions = { kind: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-9, weightDecay: 0, clipNorm: 1 };

export class NonFiniteError extends Error {
  constructor(message: string, readonly step: number) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

export class Optimizer {
  readonly opts: OptimizerOptions;
  /** Steps taken (bias correction uses step + 1). */
  step = 0;
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  /**
   * Per parameter, a bf16 copy (or null) that each update rewrites from the new values in the same
   * pass (adamStepMulti's bf16Copies): the weight copies of bf16 training (Trainer precision 'bf16').
   */
  bf16Copies: (Uint16Array | null)[] | null = null;

  constructor(readonly params: readonly Parameter[], opts: Partial<OptimizerOptions> = {}) {
    this.opts = { ...defaultOptimizer, ...opts };
    this.m = params.map((p) => new Float32Array(p.size));
    this.v = params.map((p) => new Float32Array(p.size));
  }

  /**
   * Applies one update from the accumulated gradients times gradScale (e.g. 1 / tokens), to every
   * parameter in one fused call; with zeroGrads the gradients are cleared as they are read.
   * Returns the gradient norm (after gradScale, before clipping). A non-finite norm throws before
   * any parameter or gradient changes.
   */
  apply(lr: number, gradScale: number, zeroGrads = false): number {
    const grads = this.params.map((p) => p.grad!);
    const norm = kernels.gradNorm(grads) * gradScale;
    if (!Number.isFinite(norm)) throw new NonFiniteError(`optimizer: gradient norm is ${norm} at step ${this.step + 1}; no weight was changed`, this.step + 1);
    const clip = this.opts.clipNorm > 0 && norm > this.opts.clipNorm ? this.opts.clipNorm / (norm + 1e-6) : 1;
    this.step += 1;
    const o = this.opts;
    const stepOpts = { step: this.step, lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay,
      gradScale: gradScale * clip, zeroGrads, ...(this.bf16Copies ? { bf16Copies: this.bf16Copies } : {}) };
    const data = this.params.map((p) => p.storage.data);
    if (o.kind === 'adamw') kernels.adamwStepMulti(data, grads, this.m, this.v, stepOpts);
    else kernels.adamStepMulti(data, grads, this.m, this.v, stepOpts);
    return norm;
  }
}
