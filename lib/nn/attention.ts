// MultiHeadAttention, self or cross. Self-attention runs one fused QKV projection; the q, k and v
// parts stay separate named parameters (views into one buffer) so checkpoints read like Hugging
// Face's. Grouped-query heads: k and v have kvHeads * headDim columns. A mixed decoder layer's
// attention (issue 16) is built as a cross-attention (q from the decoder, fused k|v) whose memory is
// [encoder output; decoder states] of each row: one set of k/v weights for both.
import { kernels, type AttentionOptions } from '../kernels.js';
import * as ops from '../ops/index.js';
import { Tensor } from '../tensor.js';
import { xavierUniform, type Rng } from './init.js';
import type { DecoderKvCache, LayerKvCache } from './kv-cache.js';
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

  /**
   * x: [batch * qLen, dModel]; memory (cross-attention): [batch * kvLen, dModel]. residual, when
   * given, is added to the result by the output projection's GEMM (a fused residual connection).
   */
  forward(x: Tensor, memory: Tensor | null, call: AttentionCall, residual: Tensor | null = null): Tensor {
    const kvd = this.kvHeads * this.headDim;
    // One fused projection ([rows, q|k|v] or [rows, k|v]); attention reads its column blocks in
    // place and returns their gradients in the same layout, so the projection's backward is one
    // dW GEMM and one dx GEMM.
    let q: ops.AttentionInput, k: ops.AttentionInput, v: ops.AttentionInput;
    if (this.isSelf) {
      const qkv = ops.linear(x, this.qkv!, this.qkvBias);
      [q, k, v] = [{ source: qkv, col: 0 }, { source: qkv, col: this.dModel }, { source: qkv, col: this.dModel + kvd }];
    } else {
      if (!memory) throw new TypeError('MultiHeadAttention: cross-attention needs the encoder memory');
      q = this.q!.forward(x);
      const kv = ops.linear(memory, this.kv!, this.kvBias);
      [k, v] = [{ source: kv, col: 0 }, { source: kv, col: kvd }];
    }
    const out = ops.attention(q, k, v, {
      batch: call.batch, heads: this.heads, kvHeads: this.kvHeads, qLen: call.qLen, kvLen: call.kvLen, headDim: this.headDim,
    }, { ...call.mask, ...(call.dropout > 0 ? { dropout: call.dropout, seed: call.seed } : {}) });
    return this.outProj.forward(out, { residual });
  }

  // ----- Incremental decoding (no gradients): one new position per decoder row. -----

  /** Cross-attention K/V of the encoder memory [memoryRows * srcLen, dModel], computed once per source. */
  cacheMemory(memory: Tensor, layer: LayerKvCache): void {
    if (this.isSelf) throw new TypeError('MultiHeadAttention.cacheMemory: this is a self-attention');
    const kvd = this.kvHeads * this.headDim;
    const [k, v] = ops.projectParts(memory, this.kv!, this.kvBias, [kvd, kvd]) as [Tensor, Tensor];
    layer.crossK = ops.data(k).slice();  // out of the step arena: the cache outlives the step
    layer.crossV = ops.data(v).slice();
  }

  /**
   * Mask-Predict (cache.refinement): the fused [k|v] projection of the memory [memoryRows * srcLen,
   * dModel], the very product forward() makes, kept in layer.crossKv for every pass.
   */
  cacheMemoryFused(memory: Tensor, layer: LayerKvCache): void {
    if (this.isSelf) throw new TypeError('MultiHeadAttention.cacheMemoryFused: this is a self-attention');
    layer.crossKv = ops.data(ops.linear(memory, this.kv!, this.kvBias)).slice();  // out of the step arena
  }

  /**
   * Self-attention of x [rows, dModel] (the newest position of each row) over every cached position,
   * after appending its K/V; residual (or null) is added by the output projection's GEMM. In a
   * Mask-Predict pass (cache.refinement) x holds every position of every candidate and this is
   * forward()'s bidirectional self-attention over the candidate's positions, nothing cached.
   */
  stepSelf(x: Tensor, layer: LayerKvCache, cache: DecoderKvCache, residual: Tensor | null = null): Tensor {
    if (!this.isSelf) throw new TypeError('MultiHeadAttention.stepSelf: this is a cross-attention');
    const ref = cache.refinement;
    if (ref) {
      const n = ref.lengths.length;
      return this.forward(x, null, { batch: n, qLen: ref.len, kvLen: ref.len, dropout: 0, seed: 0,
        mask: { causal: false, keyLengths: ref.lengths, queryLengths: ref.lengths } }, residual);
    }
    const kvd = this.kvHeads * this.headDim, rows = cache.rows;
    const [q, k, v] = ops.projectParts(x, this.qkv!, this.qkvBias, [this.dModel, kvd, kvd]) as [Tensor, Tensor, Tensor];
    layer.append(cache.pending, rows, ops.data(k), ops.data(v));
    const kv = layer.selfKeys(rows);
    // Every cached key is visible to the one new query (the causal rule with Tq = 1; with a window
    // the cache holds exactly the global tokens and the window): no mask.
    const { out } = this.stepAttention(q, kv.k, kv.v, rows, 1, layer.stored, {});
    return this.outProj.forward(out, { residual });
  }

  /**
   * A mixed layer's step: x [rows, dModel] (the newest position of each row) attends, in one call,
   * over the row's [source; prefix] K/V in its cache (source padding through keyMask), after
   * appending its own K/V. With `weights` [rows * srcLen], adds the probabilities of the source
   * keys averaged over heads (they sum to less than 1: the rest went to the prefix).
   */
  stepMixed(x: Tensor, layer: LayerKvCache, cache: DecoderKvCache, weights: Float32Array | null,
    residual: Tensor | null = null): Tensor {
    if (this.isSelf) throw new TypeError('MultiHeadAttention.stepMixed: this is a self-attention');
    const kvd = this.kvHeads * this.headDim, rows = cache.rows;
    const q = this.q!.forward(x);
    const [k, v] = ops.projectParts(x, this.kv!, this.kvBias, [kvd, kvd]) as [Tensor, Tensor];
    layer.append(cache.pending, rows, ops.data(k), ops.data(v));
    const kv = layer.selfKeys(rows), kvLen = layer.stored;
    const { out, lse } = this.stepAttention(q, kv.k, kv.v, rows, 1, kvLen, { keyMask: cache.mixedKeyMask(kvLen - cache.srcLen) });
    if (weights) this.addWeights(ops.data(q), kv.k, lse, cache, weights, { keyRows: rows, keysPerRow: kvLen, group: 1 });
    return this.outProj.forward(out, { residual });
  }

  /**
   * Cross-attention of x [rows, dModel] over the cached memory K/V: the `group` rows of one source
   * are that source's queries (batch = memoryRows, qLen = group). With `weights` [rows * srcLen],
   * adds the attention probabilities averaged over heads (p_j = exp(s_j - lse), s_j = scale q.k_j).
   * residual (or null) is added by the output projection's GEMM.
   */
  stepCross(x: Tensor, layer: LayerKvCache, cache: DecoderKvCache, weights: Float32Array | null,
    residual: Tensor | null = null): Tensor {
    if (this.isSelf) throw new TypeError('MultiHeadAttention.stepCross: this is a self-attention');
    const ref = cache.refinement;
    if (ref && !weights) {
      // A Mask-Predict pass: forward()'s cross-attention (the same kernel calls and operand
      // layout) over the fused K/V computed once (cacheMemoryFused).
      const kvd = this.kvHeads * this.headDim, S = cache.srcLen;
      const kv = Tensor.fromArray(layer.crossKv, [cache.memoryRows * S, 2 * kvd]);
      const out = ops.attention(this.q!.forward(x), { source: kv, col: 0 }, { source: kv, col: kvd },
        { batch: cache.memoryRows, heads: this.heads, kvHeads: this.kvHeads, qLen: ref.len, kvLen: S, headDim: this.headDim },
        { keyLengths: cache.srcLengths, queryLengths: ref.lengths, ...(cache.srcMask ? { keyMask: cache.srcMask } : {}) });
      return this.outProj.forward(out, { residual });
    }
    if (ref) layer.splitFusedMemory();  // the attention weights below read contiguous K and V
    const q = this.q!.forward(x);
    const { out, lse } = this.stepAttention(q, layer.crossK, layer.crossV, cache.memoryRows, cache.group, cache.srcLen,
      { keyLengths: cache.srcLengths, ...(cache.srcMask ? { keyMask: cache.srcMask } : {}) });
    if (weights) this.addWeights(ops.data(q), layer.crossK, lse, cache, weights, { keyRows: cache.memoryRows, keysPerRow: cache.srcLen, group: cache.group });
    return this.outProj.forward(out, { residual });
  }

  private stepAttention(q: Tensor, k: Float32Array, v: Float32Array, batch: number, qLen: number, kvLen: number,
    mask: AttentionOptions): { out: Tensor; lse: Float32Array } {
    const out = ops.scratch(q.shape);
    const lse = ops.arena.take(batch * this.heads * qLen);
    kernels.attentionForward(ops.data(q), k, v, { batch, heads: this.heads, kvHeads: this.kvHeads, qLen, kvLen, headDim: this.headDim },
      { ...mask, into: { out: ops.data(out), lse } });
    return { out, lse };
  }

  // Recomputes the probabilities from the kernel's lse rather than asking the kernel for a
  // [Tq, Tk] matrix it never forms: O(rows * heads * srcLen * headDim), only when asked.
  // Keys: `keyRows` rows of `keysPerRow` keys whose first srcLen are the source's; the kernel call
  // had batch = keyRows and qLen = group (cross: memory rows and beams; mixed: rows and 1).
  private addWeights(q: Float32Array, k: Float32Array, lse: Float32Array, cache: DecoderKvCache, weights: Float32Array,
    keys: { keyRows: number; keysPerRow: number; group: number }): void {
    const H = this.heads, D = this.headDim, per = H / this.kvHeads, kvd = this.kvHeads * D, T = cache.srcLen;
    const G = keys.group, P = keys.keysPerRow, scale = 1 / Math.sqrt(D);
    for (let m = 0; m < keys.keyRows; ++m) {
      const mem = Math.floor((m * G) / cache.group);  // the memory row of these queries
      const len = cache.srcLengths[mem]!, mask = cache.srcMask;
      for (let g = 0; g < G; ++g) {
        const r = m * G + g;
        for (let h = 0; h < H; ++h) {
          const l = lse[(m * H + h) * G + g]!;
          if (l === -Infinity) continue;
          const qo = r * this.dModel + h * D, ko = Math.floor(h / per) * D;
          for (let j = 0; j < len; ++j) {
            if (mask && mask[mem * T + j] === 0) continue;
            const kb = (m * P + j) * kvd + ko;
            let s = 0;
            for (let d = 0; d < D; ++d) s += q[qo + d]! * k[kb + d]!;
            weights[r * T + j]! += Math.exp(s * scale - l) / H;
          }
        }
      }
    }
  }
}

/** A leaf holding already-made parameters under fixed names. */
class NamedParams extends Module {
  constructor(ps: Record<string, Parameter>) {
    super();
    for (const [n, p] of Object.entries(ps)) this.param(n, p);
  }
}
