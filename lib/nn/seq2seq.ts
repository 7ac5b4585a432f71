// Seq2SeqTransformer: embeddings + positions, encoder and decoder stacks, output projection.
// Follows DESIGN.md's model contract: encoder self-attention masks source padding; decoder
// self-attention is causal and masks target padding; cross-attention masks source padding.
// The one upward import (nn -> decode): model.generate/stream are thin delegates; lib/decode uses
// this module only as a type, so loading order has no cycle.
import { generate, stream, type GenerateOptions, type GenerateResult, type SourceBatch, type StreamToken } from '../decode/generate.js';
import * as ops from '../ops/index.js';
import { kernels } from '../kernels.js';
import { Tensor } from '../tensor.js';
import { resolveModelConfig, type Seq2SeqModelConfig } from './config.js';
import { Rng, normalInit } from './init.js';
import { DecoderKvCache, type KvRetention } from './kv-cache.js';
import { Embedding, LayerNorm, Linear } from './layers.js';
import { isCmlm, lengthClasses } from './config-cmlm.js';
import { LengthPredictor } from './length-predictor.js';
import { seq2seqMasks, type AttentionLayout, type MaskMode } from './masks.js';
import { Module, Parameter, parameterData, recordParameters } from './module.js';
import { DecoderLayer, EncoderLayer, type RunContext } from './transformer-layers.js';

/** A padded batch: src [batch * srcLen], tgtIn [batch * tgtLen] (BOS + target, shifted right). */
export interface Seq2SeqInput {
  batch: number;
  srcLen: number;
  tgtLen: number;
  src: Int32Array;
  srcLengths: Int32Array;
  tgtIn: Int32Array;
  tgtLengths: Int32Array;
  /**
   * Optional source key mask [batch * srcLen], 1 = a real token (Hugging Face's attention_mask):
   * for padding that is not at the end of a row. Encoder self-attention and cross-attention attend
   * only to keys that are both below srcLengths[b] and marked 1 here.
   */
  srcMask?: Uint8Array | null;
}

export interface ForwardOptions {
  training?: boolean;
  maskMode?: MaskMode;
  /** Seeds dropout for this call (e.g. the training step). */
  step?: number;
}

class Stack extends Module {
  readonly layers: Module[] = [];
  add<M extends Module>(m: M): M {
    this.layers.push(this.child(String(this.layers.length), m));
    return m;
  }
}

function normalFilled(n: number, std: number, rng: Rng): Float32Array {
  const d = parameterData(n);
  normalInit(d, std, rng);
  return d;
}

class Side extends Module {
  readonly embed: Embedding;
  readonly positions: Parameter | null;
  /** LayerNorm of embeddings + positions (BART), or null. */
  readonly embedNorm: LayerNorm | null;
  readonly stack = new Stack();
  readonly finalNorm: LayerNorm | null;
  constructor(embed: Embedding, ownsEmbed: boolean, cfg: Seq2SeqModelConfig, rng: Rng) {
    super();
    this.embed = ownsEmbed ? this.child('embed_tokens', embed) : embed;
    const rows = cfg.maxLen + cfg.positionOffset;
    this.positions = cfg.positions === 'learned'
      ? this.param('embed_positions.weight', new Parameter(normalFilled(rows * cfg.dModel, 0.02, rng), [rows, cfg.dModel]))
      : null;
    this.embedNorm = cfg.layerNormEmbedding ? this.child('layernorm_embedding', new LayerNorm(cfg.dModel)) : null;
    this.child('layers', this.stack);
    this.finalNorm = cfg.norm === 'pre' ? this.child('layer_norm', new LayerNorm(cfg.dModel)) : null;
  }
}

/** The sinusoid position table [rows, dim] in the given column layout. */
export function sinusoidTable(rows: number, dim: number, layout: 'interleaved' | 'halves'): Float32Array {
  const t = kernels.positionEncoding(rows, dim);
  return layout === 'halves' ? sinesThenCosines(t, rows, dim) : t;
}

/** Reorders an interleaved sinusoid table [rows, dim] (sin, cos, sin, ...) into sines first, then cosines. */
function sinesThenCosines(t: Float32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(t.length), sines = Math.ceil(dim / 2);
  for (let r = 0; r < rows; ++r)
    for (let j = 0; j < dim; ++j) out[r * dim + (j % 2 === 0 ? j / 2 : sines + (j - 1) / 2)] = t[r * dim + j]!;
  return out;
}

function checkSrcMask(name: string, m: unknown, n: number): void {
  if (!(m instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (m.length !== n) throw new RangeError(`${name} must have length batch*srcLen = ${n}, got ${m.length}`);
  const bad = m.findIndex((x) => x > 1);
  if (bad >= 0) throw new RangeError(`${name}[${bad}] must be 0 or 1, got ${m[bad]}`);
}

export class Seq2SeqTransformer extends Module {
  readonly config: Seq2SeqModelConfig;
  private readonly encoder: Side;
  private readonly decoder: Side;
  private readonly lmHead: Linear | null;
  /** [1, tgtVocab], added to the logits (config.finalLogitsBias), or null. */
  private readonly logitsBias: Parameter | null;
  /** objective 'cmlm': target-length logits from the mean-pooled encoder output (length-predictor.ts); else null. */
  readonly lengthPredictor: LengthPredictor | null;
  private sinusoid: Tensor | null = null;
  /** Every parameter (fused wholes and their named parts alike) in creation order. */
  private readonly creationOrder: Parameter[];

  constructor(config: Partial<Seq2SeqModelConfig> & { srcVocab: number; tgtVocab: number }) {
    super();
    const stop = recordParameters();
    try {
      const cfg = (this.config = resolveModelConfig(config));
      const rng = new Rng(cfg.seed);
      const lo = { dModel: cfg.dModel, heads: cfg.heads, kvHeads: cfg.kvHeads ?? cfg.heads, ffDim: cfg.ffDim, activation: cfg.activation, norm: cfg.norm };
      const tgtEmbed = new Embedding(cfg.tgtVocab, cfg.dModel, rng, cfg.padId);
      const shareSrc = cfg.tieEmbeddings && cfg.srcVocab === cfg.tgtVocab;
      const srcEmbed = shareSrc ? tgtEmbed : new Embedding(cfg.srcVocab, cfg.dModel, rng, cfg.padId);
      if (shareSrc) this.child('shared', tgtEmbed);
      this.encoder = this.child('encoder', new Side(srcEmbed, !shareSrc, cfg, rng));
      this.decoder = this.child('decoder', new Side(tgtEmbed, !shareSrc, cfg, rng));
      for (let i = 0; i < cfg.encoderLayers; ++i) this.encoder.stack.add(new EncoderLayer(lo, rng));
      const mixed = cfg.decoderAttention === 'mixed';
      for (let i = 0; i < cfg.decoderLayers; ++i) this.decoder.stack.add(new DecoderLayer(lo, rng, mixed));
      this.lmHead = cfg.tieEmbeddings ? null : this.child('lm_head', new Linear(cfg.dModel, cfg.tgtVocab, rng, false));
      // Zero-initialised, named and shaped as in transformers' checkpoints, and, as there, a fixed
      // buffer: saved and loaded, never trained.
      this.logitsBias = cfg.finalLogitsBias
        ? this.param('final_logits_bias', new Parameter(parameterData(cfg.tgtVocab), [1, cfg.tgtVocab], undefined, false))
        : null;
      // Created last, only for a CMLM: an autoregressive model's parameters and their init are unchanged.
      this.lengthPredictor = isCmlm(cfg) ? this.child('length_predictor', new LengthPredictor(cfg.dModel, lengthClasses(cfg), rng)) : null;
    } finally {
      this.creationOrder = stop();
    }
  }

  /** The config's attention patterns, as masks.ts takes them. */
  private get layout(): AttentionLayout {
    const c = this.config;
    return { encoder: c.encoderAttention, decoderSelf: c.decoderSelfAttention, mixed: c.decoderAttention === 'mixed', bidirectional: isCmlm(c) };
  }

  /** The decoder layers, in order (lib/decode/mask-predict.ts reads the last one's cross-attention). */
  get decoderLayerList(): readonly DecoderLayer[] {
    return this.decoder.stack.layers as DecoderLayer[];
  }

  get decoderStartId(): number {
    return this.config.decoderStartId ?? this.config.bosId;
  }

  private positionTable(): Tensor {
    if (!this.sinusoid) {
      const c = this.config, rows = c.maxLen + c.positionOffset;
      this.sinusoid = Tensor.fromArray(sinusoidTable(rows, c.dModel, c.sinusoidLayout), [rows, c.dModel]);
    }
    return this.sinusoid;
  }

  private embed(side: Side, ids: Int32Array, len: number, offset: number, ctx: RunContext): Tensor {
    const c = this.config;
    if (len + offset > c.maxLen) throw new RangeError(`Seq2SeqTransformer: sequence length ${len + offset} exceeds maxLen ${c.maxLen}`);
    let h = side.embed.forward(ids, c.scaleEmbedding ? Math.sqrt(c.dModel) : 1,
      { table: side.positions ?? this.positionTable(), period: len, offset: offset + c.positionOffset });
    if (side.embedNorm) h = side.embedNorm.forward(h);
    return ctx.training && ctx.dropout > 0 ? ops.dropout(h, ctx.dropout, (ctx.seedBase ^ ++ctx.site * 0x2545f491) >>> 0) : h;
  }

  private context(o: ForwardOptions): RunContext {
    const c = this.config;
    return { training: o.training ?? false, dropout: c.dropout, attentionDropout: c.attentionDropout,
      seedBase: (Math.imul(c.seed, 0x9e3779b1) ^ Math.imul((o.step ?? 0) + 1, 0x85ebca6b)) >>> 0, site: 0 };
  }

  private checkIds(name: string, ids: Int32Array, vocab: number): void {
    for (let i = 0; i < ids.length; ++i) {
      const id = ids[i]!;
      if (id < 0 || id >= vocab) throw new RangeError(`Seq2SeqTransformer: ${name}[${i}] = ${id} is outside the vocabulary [0, ${vocab})`);
    }
  }

  /** Each row has at least one token (a source, or the decoder start token) and fits its padded length. */
  private checkLengths(name: string, lengths: Int32Array, padded: number): void {
    for (let b = 0; b < lengths.length; ++b) {
      const n = lengths[b]!;
      if (n < 1 || n > padded) throw new RangeError(`Seq2SeqTransformer: ${name}[${b}] must be in [1, ${padded}], got ${n}`);
    }
  }

  private checkInput(x: Seq2SeqInput): void {
    const { batch, srcLen, tgtLen } = x;
    for (const [n, v] of [['batch', batch], ['srcLen', srcLen], ['tgtLen', tgtLen]] as const)
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Seq2SeqTransformer: input.${n} must be a positive integer, got ${String(v)}`);
    if (x.src.length !== batch * srcLen) throw new RangeError(`Seq2SeqTransformer: input.src must have length batch*srcLen = ${batch * srcLen}, got ${x.src.length}`);
    if (x.tgtIn.length !== batch * tgtLen) throw new RangeError(`Seq2SeqTransformer: input.tgtIn must have length batch*tgtLen = ${batch * tgtLen}, got ${x.tgtIn.length}`);
    if (x.srcLengths.length !== batch || x.tgtLengths.length !== batch) throw new RangeError('Seq2SeqTransformer: input.srcLengths and input.tgtLengths must have one entry per batch row');
    this.checkLengths('input.srcLengths', x.srcLengths, srcLen);
    this.checkLengths('input.tgtLengths', x.tgtLengths, tgtLen);
    this.checkIds('input.src', x.src, this.config.srcVocab);
    this.checkIds('input.tgtIn', x.tgtIn, this.config.tgtVocab);
    if (x.srcMask != null) checkSrcMask('input.srcMask', x.srcMask, batch * srcLen);
  }

  /** Encoder memory [batch * srcLen, dModel]; srcMask (optional, [batch * srcLen]) as in Seq2SeqInput. */
  encode(src: Int32Array, srcLengths: Int32Array, batch: number, srcLen: number, o: ForwardOptions = {}, ctx = this.context(o),
    srcMask: Uint8Array | null = null): Tensor {
    if (srcMask) checkSrcMask('Seq2SeqTransformer.encode: srcMask', srcMask, batch * srcLen);
    const masks = seq2seqMasks(o.maskMode ?? 'dynamic', srcLengths, srcLengths, srcLen, srcLen, srcMask, { encoder: this.config.encoderAttention });
    let h = this.embed(this.encoder, src, srcLen, 0, ctx);
    for (const l of this.encoder.stack.layers as EncoderLayer[]) h = l.forward(h, { batch, qLen: srcLen, kvLen: srcLen, mask: masks.encoderSelf }, ctx);
    return this.encoder.finalNorm ? this.encoder.finalNorm.forward(h) : h;
  }

  /** Decoder output logits [batch * tgtLen, tgtVocab] for decoder inputs tgtIn. */
  decode(tgtIn: Int32Array, tgtLengths: Int32Array, memory: Tensor, srcLengths: Int32Array, batch: number, tgtLen: number,
    srcLen: number, o: ForwardOptions = {}, ctx = this.context(o), srcMask: Uint8Array | null = null): Tensor {
    if (srcMask) checkSrcMask('Seq2SeqTransformer.decode: srcMask', srcMask, batch * srcLen);
    const { decoderSelf, mixed, bidirectional } = this.layout;
    const masks = seq2seqMasks(o.maskMode ?? 'dynamic', srcLengths, tgtLengths, srcLen, tgtLen, srcMask, { decoderSelf, mixed, bidirectional });
    let h = this.embed(this.decoder, tgtIn, tgtLen, 0, ctx);
    const calls = {
      self: { batch, qLen: tgtLen, kvLen: tgtLen, mask: masks.decoderSelf },
      cross: { batch, qLen: tgtLen, kvLen: srcLen, mask: masks.cross },
      mixed: { batch, qLen: tgtLen, kvLen: srcLen + tgtLen, mask: masks.mixed },
      srcLen,
    };
    for (const l of this.decoder.stack.layers as DecoderLayer[]) h = l.forward(h, memory, calls, ctx);
    if (this.decoder.finalNorm) h = this.decoder.finalNorm.forward(h);
    return this.logits(h);
  }

  /** The output projection (tied or lm_head), plus final_logits_bias when the model has one. */
  private logits(h: Tensor): Tensor {
    return ops.linear(h, this.lmHead ? this.lmHead.weight : this.decoder.embed.weight, this.logitsBias);
  }

  /** Logits [batch * tgtLen, tgtVocab] for a padded batch (teacher forcing). */
  forward(x: Seq2SeqInput, o: ForwardOptions = {}): Tensor {
    this.checkInput(x);
    const ctx = this.context(o);
    const srcMask = x.srcMask ?? null;  // checked by checkInput
    const memory = this.encode(x.src, x.srcLengths, x.batch, x.srcLen, o, ctx, srcMask);
    return this.decode(x.tgtIn, x.tgtLengths, memory, x.srcLengths, x.batch, x.tgtLen, x.srcLen, o, ctx, srcMask);
  }

  // ----- Incremental decoding (driven by lib/decode; evaluation only, run under noGrad) -----

  /**
   * A KV cache for decoding `batch` sources with encoder memory [batch * srcLen, dModel]: every
   * decoder layer's cross-attention K/V is computed here, once. `group` decoder rows per source
   * (the beams of beam search; 1 otherwise).
   */
  startDecoding(memory: Tensor, srcLengths: Int32Array, batch: number, srcLen: number, group = 1,
    srcMask: Uint8Array | null = null): DecoderKvCache {
    const c = this.config;
    if (isCmlm(c)) throw new TypeError("Seq2SeqTransformer.startDecoding: this model's objective is 'cmlm' (a bidirectional decoder, no KV cache); decode it with method 'mask-predict'");
    if (srcLengths.length !== batch) throw new RangeError(`Seq2SeqTransformer.startDecoding: srcLengths must have ${batch} entries, got ${srcLengths.length}`);
    if (srcMask) checkSrcMask('Seq2SeqTransformer.startDecoding: srcMask', srcMask, batch * srcLen);
    if (!Number.isInteger(group) || group < 1) throw new RangeError(`Seq2SeqTransformer.startDecoding: group must be a positive integer, got ${String(group)}`);
    const layers = this.decoder.stack.layers as DecoderLayer[];
    const mixed = c.decoderAttention === 'mixed', w = c.decoderSelfAttention;
    // What each layer's cache keeps: a mixed layer its source K/V (pinned) and the whole prefix; a
    // windowed decoder the global tokens and the last left + 1 positions; otherwise everything.
    const retention: KvRetention = mixed ? { pinned: srcLen, recent: Infinity }
      : w?.window ? { pinned: w.globalTokens ?? 0, recent: w.window.left + 1 } : { pinned: 0, recent: Infinity };
    const cache = new DecoderKvCache(layers.length, (c.kvHeads ?? c.heads) * (c.dModel / c.heads), batch, group, srcLen, srcLengths, srcMask, retention);
    layers.forEach((l, i) => {
      const layer = cache.layers[i]!;
      (l.crossAttn ?? l.selfAttn).cacheMemory(memory, layer);
      if (mixed) layer.prefillFromMemory(batch, group, srcLen);
    });
    return cache;
  }

  /**
   * Logits [cache.rows, tgtVocab] of the next token after feeding tokens [cache.rows] at position
   * cache.length; equal to decode() on the whole prefix at its last position, at O(length) cost.
   * With weights [cache.rows * srcLen] (zeroed by the caller), adds the last decoder layer's
   * cross-attention probabilities of each row, averaged over heads.
   */
  decodeStep(tokens: Int32Array, cache: DecoderKvCache, weights: Float32Array | null = null): Tensor {
    if (tokens.length !== cache.rows) throw new RangeError(`Seq2SeqTransformer.decodeStep: tokens must have one id per cache row (${cache.rows}), got ${tokens.length}`);
    if (weights && weights.length !== cache.rows * cache.srcLen) throw new RangeError(`Seq2SeqTransformer.decodeStep: weights must have rows * srcLen = ${cache.rows * cache.srcLen} entries, got ${weights.length}`);
    this.checkIds('tokens', tokens, this.config.tgtVocab);
    const ctx = this.context({});
    let h = this.embed(this.decoder, tokens, 1, cache.length, ctx);
    const layers = this.decoder.stack.layers as DecoderLayer[];
    layers.forEach((l, i) => { h = l.step(h, cache.layers[i]!, cache, ctx, i === layers.length - 1 ? weights : null); });
    cache.length += 1;
    cache.pending = null;
    if (this.decoder.finalNorm) h = this.decoder.finalNorm.forward(h);
    return this.logits(h);
  }

  /**
   * Mask-Predict's cache (issue 15; a CMLM only): every decoder layer's cross-attention K/V of the
   * memory [batch * srcLen, dModel], projected once per source and shared by its `candidates`
   * target candidates, whose lengths[batch * candidates] (source-major) are at most `len`. The
   * cache's memory rows are the candidates, each with `len` decoder rows (its positions); a pass is
   * refine(). Nothing of the memory is read afterwards (it may live in a released arena).
   */
  startRefinement(memory: Tensor, srcLengths: Int32Array, batch: number, srcLen: number, candidates: number, len: number,
    lengths: Int32Array): DecoderKvCache {
    const c = this.config;
    if (!isCmlm(c)) throw new TypeError("Seq2SeqTransformer.startRefinement: needs a model whose objective is 'cmlm' (a bidirectional decoder)");
    if (srcLengths.length !== batch) throw new RangeError(`Seq2SeqTransformer.startRefinement: srcLengths must have ${batch} entries, got ${srcLengths.length}`);
    if (lengths.length !== batch * candidates) throw new RangeError(`Seq2SeqTransformer.startRefinement: lengths must have batch * candidates = ${batch * candidates} entries, got ${lengths.length}`);
    this.checkLengths('startRefinement: lengths', lengths, len);
    if (len > c.maxLen) throw new RangeError(`Seq2SeqTransformer.startRefinement: len ${len} exceeds maxLen ${c.maxLen}`);
    const layers = this.decoder.stack.layers as DecoderLayer[];
    const cache = new DecoderKvCache(layers.length, (c.kvHeads ?? c.heads) * (c.dModel / c.heads), batch, len, srcLen, srcLengths);
    layers.forEach((l, i) => l.crossAttn!.cacheMemoryFused(memory, cache.layers[i]!));
    // Memory rows: the candidates (source-major), their source's K/V repeated.
    cache.refinement = { len, lengths: new Int32Array(batch).fill(1) };
    cache.keepCandidates(Int32Array.from({ length: batch * candidates }, (_, r) => Math.floor(r / candidates)));
    cache.refinement = { len, lengths: Int32Array.from(lengths) };
    return cache;
  }

  /**
   * One Mask-Predict pass over a startRefinement cache: tokens [memoryRows * len] (every position
   * of every candidate; positions past a candidate's length are ignored), the whole decoder
   * stack as decode() runs it (bidirectional self-attention, cross-attention over the cached K/V).
   * Returns the logits [rows.length, tgtVocab] of the positions `rows` (indices into tokens) only:
   * the output projection of the others is never computed. decode()'s logits of the same
   * candidates: bit for bit with one candidate per source and every position asked; otherwise a
   * GEMM with fewer rows may round differently (~1e-7 relative), as decode() of a batch does.
   * With weights [memoryRows * len * srcLen] (zeroed by the caller), adds the last decoder layer's
   * cross-attention probabilities of every position, averaged over heads.
   */
  refine(tokens: Int32Array, cache: DecoderKvCache, rows: Int32Array, weights: Float32Array | null = null): Tensor {
    const ref = cache.refinement;
    if (!ref) throw new TypeError('Seq2SeqTransformer.refine: the cache is not from startRefinement');
    const n = cache.memoryRows * ref.len, D = this.config.dModel;
    if (tokens.length !== n) throw new RangeError(`Seq2SeqTransformer.refine: tokens must have memoryRows * len = ${n} ids, got ${tokens.length}`);
    if (weights && weights.length !== n * cache.srcLen) throw new RangeError(`Seq2SeqTransformer.refine: weights must have ${n * cache.srcLen} entries, got ${weights.length}`);
    this.checkIds('tokens', tokens, this.config.tgtVocab);
    const ctx = this.context({});
    let h = this.embed(this.decoder, tokens, ref.len, 0, ctx);
    const layers = this.decoder.stack.layers as DecoderLayer[];
    layers.forEach((l, i) => { h = l.step(h, cache.layers[i]!, cache, ctx, i === layers.length - 1 ? weights : null); });
    if (rows.length === 0) return Tensor.fromArray(new Float32Array(0), [0, this.config.tgtVocab]);
    // The chosen rows, then the row-wise final norm and output projection on them alone.
    const hd = ops.data(h), picked = ops.scratch([rows.length, D]), pd = ops.data(picked);
    rows.forEach((r, j) => {
      if (!Number.isInteger(r) || r < 0 || r >= n) throw new RangeError(`Seq2SeqTransformer.refine: rows[${j}] = ${r} is outside [0, ${n})`);
      pd.set(hd.subarray(r * D, (r + 1) * D), j * D);
    });
    return this.logits(this.decoder.finalNorm ? this.decoder.finalNorm.forward(picked) : picked);
  }

  /**
   * The arrays behind every parameter in creation order, when all live on SharedArrayBuffers: a
   * worker thread that builds the same config adopts them (adoptWeights) and reads the same memory.
   */
  sharedWeights(): Float32Array[] | null {
    const arrays = this.creationOrder.map((p) => p.storage.data);
    return arrays.every((a) => typeof SharedArrayBuffer === 'function' && a.buffer instanceof SharedArrayBuffer) ? arrays : null;
  }

  /** Makes every parameter use the given arrays (from sharedWeights of a model with the same config). */
  adoptWeights(arrays: readonly Float32Array[]): void {
    if (arrays.length !== this.creationOrder.length)
      throw new RangeError(`adoptWeights: ${arrays.length} arrays for ${this.creationOrder.length} parameters (different config?)`);
    this.creationOrder.forEach((p, i) => p.rebind(arrays[i]!));
  }

  /** Greedy, beam or sampled generation for a batch of sources (see lib/decode/generate.ts). */
  generate(src: SourceBatch, options: GenerateOptions = {}): Promise<GenerateResult> {
    return generate(this, src, options);
  }

  /** Tokens as they are made (greedy or sampling), as an async iterator (see lib/decode/generate.ts). */
  stream(src: SourceBatch, options: GenerateOptions = {}): AsyncGenerator<StreamToken, void, undefined> {
    return stream(this, src, options);
  }
}
