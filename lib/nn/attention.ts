// MultiHeadAttention, self or cross. Self-attention runs one fused QKV projection; the q, k and v
// parts stay separate named parameters (views into one buffer) so checkpoints read like Hugging
// Face's. Grouped-query heads: k and v have kvHeads * headDim columns.
import type { AttentionOptions } from '../kernels.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { xavierUniform, type Rng } from './init.js';
import { Linear } from './layers.js';
import { Module, Parameter, fusedParameters } from './module.js';

/** What an attention call needs besides its inputs: sizes and masks of this batch. */
export interface AttentionCall {
  batch: number;
  qLen: number;
  kvLen: number;
  mask: AttentionOptions;
  /** Attention-probability dropout for this call (0 when evaluating). */
  dropout: number;
  seed: number;
}

export class MultiHeadAttention extends Module {
  readonly headDim: number;
  private readonly qkv: Parameter | null = null;     // fused [q; k; v] weight (self-attention)
  private readonly qkvBias: Parameter | null = null;
  private readonly q: Linear | null = null;          // cross-attention: q from the decoder,
  private readonly kv: Parameter | null = null;      // fused [k; v] from the encoder memory
  private readonly kvBias: Parameter | null = null;
  readonly outProj: Linear;

  constructor(readonly dModel: number, readonly heads: number, readonly kvHeads: number, readonly isSelf: boolean, rng: Rng) {
    super();
    if (dModel % heads !== 0) throw new RangeError(`MultiHeadAttention: dModel ${dModel} must be a multiple of heads ${heads}`);
    if (heads % kvHeads !== 0) throw new RangeError(`MultiHeadAttention: heads ${heads} must be a multiple of kvHeads ${kvHeads}`);
    this.headDim = dModel / heads;
    const kvd = kvHeads * this.headDim;
    const names = isSelf ? ['q_proj', 'k_proj', 'v_proj'] : ['k_proj', 'v_proj'];
    const outs = isSelf ? [dModel, kvd, kvd] : [kvd, kvd];
    const w = fusedParameters(outs.map((o) => [o, dModel]));
    const b = fusedParameters(outs.map((o) => [o]));
    names.forEach((n, i) => {
      xavierUniform(w.parts[i]!.storage.data, dModel, outs[i]!, rng);
      this.child(n, new NamedParams({ weight: w.parts[i]!, bias: b.parts[i]! }));
    });
    if (isSelf) {
      this.qkv = w.whole; this.qkvBias = b.whole;
    } else {
      this.q = this.child('q_proj', new Linear(dModel, dModel, rng));
      this.kv = w.whole; this.kvBias = b.whole;
    }
    this.outProj = this.child('out_proj', new Linear(dModel, dModel, rng));
  }

  /** x: [batch * qLen, dModel]; memory (cross-attention): [batch * kvLen, dModel]. */
  forward(x: Tensor, memory: Tensor | null, call: AttentionCall): Tensor {
    const kvd = this.kvHeads * this.headDim;
    let q: Tensor, k: Tensor, v: Tensor;
    if (this.isSelf) {
      [q, k, v] = ops.splitColumns(ops.linear(x, this.qkv!, this.qkvBias), [this.dModel, kvd, kvd]) as [Tensor, Tensor, Tensor];
    } else {
      if (!memory) throw new TypeError('MultiHeadAttention: cross-attention needs the encoder memory');
      q = this.q!.forward(x);
      [k, v] = ops.splitColumns(ops.linear(memory, this.kv!, this.kvBias), [kvd, kvd]) as [Tensor, Tensor];
    }
    const out = ops.attention(q, k, v, {
      batch: call.batch, heads: this.heads, kvHeads: this.kvHeads, qLen: call.qLen, kvLen: call.kvLen, headDim: this.headDim,
    }, { ...call.mask, ...(call.dropout > 0 ? { dropout: call.dropout, seed: call.seed } : {}) });
    return this.outProj.forward(out);
  }
}

/** A leaf holding already-made parameters under fixed names. */
class NamedParams extends Module {
  constructor(ps: Record<string, Parameter>) {
    super();
    for (const [n, p] of Object.entries(ps)) this.param(n, p);
  }
}
