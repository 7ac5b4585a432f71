// Encoder and decoder layers, post-LN ("Attention Is All You Need") or pre-LN. Parameter names
// follow Hugging Face's BART/Marian: self_attn, self_attn_layer_norm, encoder_attn,
// encoder_attn_layer_norm, fc1, fc2, final_layer_norm. A mixed decoder layer (issue 16) has only
// self_attn (over [encoder output; decoder prefix]), self_attn_layer_norm, fc1, fc2 and
// final_layer_norm.
import type { ActivationKind } from '../opkernels/elementwise.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { MultiHeadAttention, type AttentionCall } from './attention.js';
import type { Rng } from './init.js';
import type { DecoderKvCache, LayerKvCache } from './kv-cache.js';
import { LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';

export interface LayerOptions {
  dModel: number;
  heads: number;
  kvHeads: number;
  ffDim: number;
  activation: ActivationKind;
  norm: 'post' | 'pre';
}

/** Per-call state: dropout rates in force and a counter that gives every dropout site its own seed. */
export interface RunContext {
  training: boolean;
  dropout: number;
  attentionDropout: number;
  seedBase: number;
  site: number;
}

export function nextSeed(ctx: RunContext): number {
  ctx.site += 1;
  let x = (ctx.seedBase ^ Math.imul(ctx.site, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) >>> 0;
}

function drop(x: Tensor, ctx: RunContext): Tensor {
  return ctx.training && ctx.dropout > 0 ? ops.dropout(x, ctx.dropout, nextSeed(ctx)) : x;
}

function attnCall(base: Omit<AttentionCall, 'dropout' | 'seed'>, ctx: RunContext): AttentionCall {
  const p = ctx.training ? ctx.attentionDropout : 0;
  return { ...base, dropout: p, seed: p > 0 ? nextSeed(ctx) : 0 };
}

/**
 * A residual block around `f`, with the layer norm before (pre) or after (post) it. Without
 * dropout on f's output, f gets the residual and adds it in its last GEMM (no separate add pass);
 * with dropout the add stays separate, since the residual must not be dropped.
 */
function residual(x: Tensor, ln: LayerNorm, norm: 'post' | 'pre', ctx: RunContext,
  f: (h: Tensor, residual: Tensor | null) => Tensor): Tensor {
  const dropping = ctx.training && ctx.dropout > 0;
  if (norm === 'pre') return dropping ? ops.add(x, drop(f(ln.forward(x), null), ctx)) : f(ln.forward(x), x);
  return ln.forward(dropping ? ops.add(x, drop(f(x, null), ctx)) : f(x, x));
}

class FeedForward {
  constructor(private readonly fc1: Linear, private readonly fc2: Linear, private readonly kind: ActivationKind) {}
  forward(x: Tensor, ctx: RunContext, residual: Tensor | null = null): Tensor {
    // ReLU rides in fc1's GEMM epilogue (and its backward in the GEMM that produces the gradient).
    const h = this.kind === 'relu' ? this.fc1.forward(x, { relu: true }) : ops.activation(this.kind, this.fc1.forward(x));
    return this.fc2.forward(drop(h, ctx), { residual });
  }
}

export class EncoderLayer extends Module {
  readonly selfAttn: MultiHeadAttention;
  private readonly ln1: LayerNorm;
  private readonly ln2: LayerNorm;
  private readonly ffn: FeedForward;
  constructor(private readonly o: LayerOptions, rng: Rng) {
    super();
    this.selfAttn = this.child('self_attn', new MultiHeadAttention(o.dModel, o.heads, o.kvHeads, true, rng));
    this.ln1 = this.child('self_attn_layer_norm', new LayerNorm(o.dModel));
    this.ffn = new FeedForward(this.child('fc1', new Linear(o.dModel, o.ffDim, rng)), this.child('fc2', new Linear(o.ffDim, o.dModel, rng)), o.activation);
    this.ln2 = this.child('final_layer_norm', new LayerNorm(o.dModel));
  }
  forward(x: Tensor, call: Omit<AttentionCall, 'dropout' | 'seed'>, ctx: RunContext): Tensor {
    const h = residual(x, this.ln1, this.o.norm, ctx, (y, r) => this.selfAttn.forward(y, null, attnCall(call, ctx), r));
    return residual(h, this.ln2, this.o.norm, ctx, (y, r) => this.ffn.forward(y, ctx, r));
  }
}

/** The attention calls of one decoder forward: separate layers use self and cross, mixed ones mixed. */
export interface DecoderCalls {
  self: Omit<AttentionCall, 'dropout' | 'seed'>;
  cross: Omit<AttentionCall, 'dropout' | 'seed'>;
  /** batch, qLen = tgtLen, kvLen = srcLen + tgtLen and the mixed mask (masks.ts). */
  mixed: Omit<AttentionCall, 'dropout' | 'seed'>;
  /** Source positions per row (the memory part of a mixed layer's keys). */
  srcLen: number;
}

export class DecoderLayer extends Module {
  readonly selfAttn: MultiHeadAttention;
  /** Cross-attention over the encoder memory; null in a mixed layer, whose self_attn covers it. */
  readonly crossAttn: MultiHeadAttention | null;
  private readonly ln1: LayerNorm;
  private readonly ln2: LayerNorm | null;
  private readonly ln3: LayerNorm;
  private readonly ffn: FeedForward;
  /**
   * When set, forward() hands it the cross-attention's input (the queries' source, [rows, dModel]):
   * Mask-Predict's returnAttention computes this layer's cross-attention weights from it.
   */
  crossInputProbe: ((x: Tensor) => void) | null = null;
  constructor(private readonly o: LayerOptions, rng: Rng, readonly mixed = false) {
    super();
    // Mixed: built as a cross-attention (q_proj from the decoder, k_proj/v_proj over its memory),
    // and that memory is [encoder output; decoder states]: the paper's shared projections.
    this.selfAttn = this.child('self_attn', new MultiHeadAttention(o.dModel, o.heads, o.kvHeads, !mixed, rng));
    this.ln1 = this.child('self_attn_layer_norm', new LayerNorm(o.dModel));
    this.crossAttn = mixed ? null : this.child('encoder_attn', new MultiHeadAttention(o.dModel, o.heads, o.kvHeads, false, rng));
    this.ln2 = mixed ? null : this.child('encoder_attn_layer_norm', new LayerNorm(o.dModel));
    this.ffn = new FeedForward(this.child('fc1', new Linear(o.dModel, o.ffDim, rng)), this.child('fc2', new Linear(o.ffDim, o.dModel, rng)), o.activation);
    this.ln3 = this.child('final_layer_norm', new LayerNorm(o.dModel));
  }
  forward(x: Tensor, memory: Tensor, calls: DecoderCalls, ctx: RunContext): Tensor {
    const n = this.o.norm;
    let h: Tensor;
    if (this.crossAttn && this.ln2) {
      h = residual(x, this.ln1, n, ctx, (y, r) => this.selfAttn.forward(y, null, attnCall(calls.self, ctx), r));
      const cross = this.crossAttn;
      h = residual(h, this.ln2, n, ctx, (y, r) => { this.crossInputProbe?.(y); return cross.forward(y, memory, attnCall(calls.cross, ctx), r); });
    } else {
      // Keys and values of [encoder output; this layer's (normed) decoder input] per row.
      const m = calls.mixed;
      h = residual(x, this.ln1, n, ctx, (y, r) =>
        this.selfAttn.forward(y, ops.concatSequences(memory, y, m.batch, calls.srcLen, m.qLen), attnCall(m, ctx), r));
    }
    return residual(h, this.ln3, n, ctx, (y, r) => this.ffn.forward(y, ctx, r));
  }

  /** Incremental decoding: x [rows, dModel] is the newest position of each row (evaluation only). */
  step(x: Tensor, layer: LayerKvCache, cache: DecoderKvCache, ctx: RunContext, weights: Float32Array | null): Tensor {
    const n = this.o.norm;
    let h: Tensor;
    if (this.crossAttn && this.ln2) {
      h = residual(x, this.ln1, n, ctx, (y, r) => this.selfAttn.stepSelf(y, layer, cache, r));
      const cross = this.crossAttn;
      h = residual(h, this.ln2, n, ctx, (y, r) => cross.stepCross(y, layer, cache, weights, r));
    } else {
      h = residual(x, this.ln1, n, ctx, (y, r) => this.selfAttn.stepMixed(y, layer, cache, weights, r));
    }
    return residual(h, this.ln3, n, ctx, (y, r) => this.ffn.forward(y, ctx, r));
  }
}
