// An endless, seeded, resumable stream of batches over a dataset. Each epoch's plan (which
// examples form which batch, in which order) is a pure function of the generator's state at the
// start of that epoch, so a saved { epoch, position, epoch-start RNG state } replays the plan and
// continues with bit-identical batches: resume training mid-epoch exactly where it stopped.
import {
  bucketOrder, chunkBatches, collate, exampleSizes, tokenBudgetBatches,
  type CollateOptions, type OversizedPolicy, type Seq2SeqBatch, type Seq2SeqExample,
} from './batching.js';
import { Rng, hashString, type RngState } from './rng.js';

export interface BatchLoaderOptions extends CollateOptions {
  /** Examples a batch (an upper bound when maxTokens is also set). */
  batchSize?: number;
  /** Token budget: max(padded length) * count <= maxTokens per batch (see exampleSizes). */
  maxTokens?: number;
  /** With maxTokens: examples that alone exceed it throw ('error', default) or are left out. */
  oversized?: OversizedPolicy;
  /** Sort by length within windows of this many examples before batching (Infinity: whole epoch). */
  bucketWindow?: number;
  /** Shuffle examples, and the order of batches, every epoch. Default false. */
  shuffle?: boolean;
  /** Seed of the shuffling generator. Default 0. */
  seed?: number;
  /** Leave out a short final batch (fixed batchSize only). Default false. */
  dropLast?: boolean;
}

/** Where a loader stands: a plain JSON value to save next to a checkpoint. */
export interface BatchLoaderState {
  version: 1;
  /** Guards against restoring into a loader over other data or options. */
  fingerprint: string;
  epoch: number;
  /** Batches of this epoch already returned. */
  position: number;
  /** The generator at the start of `epoch` (replays the epoch's plan). */
  epochRng: RngState;
}

export class BatchLoader {
  private readonly examples: readonly Seq2SeqExample[];
  private readonly options: BatchLoaderOptions;
  private readonly sizes: Int32Array;
  private readonly fingerprint: string;
  private rng: Rng;
  private epochRng: RngState;
  private epochNo = 0;
  private pos = 0;
  private plan: Int32Array[];

  constructor(examples: readonly Seq2SeqExample[], options: BatchLoaderOptions) {
    if (options.batchSize === undefined && options.maxTokens === undefined) {
      throw new TypeError('options: give batchSize, maxTokens or both');
    }
    if (options.dropLast === true && options.maxTokens !== undefined) {
      throw new TypeError('options.dropLast: only meaningful with a fixed batchSize, not with maxTokens');
    }
    this.examples = examples;
    this.options = { ...options };
    collate(examples, this.options, []); // check ids and fixed lengths now, not at the first batch
    this.sizes = exampleSizes(examples, options);
    const { bos, eos, padId, ignoreIndex, srcLen, tgtLen, batchSize, maxTokens, oversized, bucketWindow, shuffle, seed, dropLast } = options;
    const config = JSON.stringify([bos, eos, padId, ignoreIndex, srcLen, tgtLen, batchSize, maxTokens, oversized,
      bucketWindow === Infinity ? 'inf' : bucketWindow, shuffle, seed, dropLast, examples.length]);
    const sizesText = Array.from(this.sizes).join(',');
    this.fingerprint = `${hashString(config).toString(16)}-${hashString(sizesText).toString(16)}`;
    this.rng = new Rng(options.seed ?? 0);
    this.epochRng = this.rng.state();
    this.plan = this.makePlan();
  }

  get numExamples(): number { return this.examples.length; }
  /** The epoch the next batch comes from (0-based). */
  get epoch(): number { return this.epochNo; }
  /** Batches of the current epoch already returned. */
  get position(): number { return this.pos; }
  /** Batches in the current epoch (with a token budget and shuffling it can vary by epoch). */
  get batchesPerEpoch(): number { return this.plan.length; }
  /** The current epoch's batches as example indices (copies). */
  epochPlan(): Int32Array[] { return this.plan.map((b) => b.slice()); }

  /** The next batch, moving on to a new epoch after the last one. */
  next(): Seq2SeqBatch {
    return collate(this.examples, this.options, this.nextIndices().indices);
  }

  /**
   * Which examples the next batch holds and the epoch it belongs to, without collating them: a
   * source that transforms examples as they are served (dynamic masking) builds the batch itself.
   */
  nextIndices(): { epoch: number; indices: Int32Array } {
    if (this.plan.length === 0) throw new RangeError('BatchLoader: an epoch has no batches (no examples, or dropLast with fewer than batchSize)');
    if (this.pos >= this.plan.length) this.startEpoch(this.epochNo + 1);
    const idx = this.plan[this.pos++] as Int32Array;
    return { epoch: this.epochNo, indices: idx.slice() };
  }

  /**
   * The remaining batches of the current epoch (all of the next one if this one is used up).
   * `for (const b of loader.epochBatches())` once per epoch walks the epochs in turn.
   */
  *epochBatches(): IterableIterator<Seq2SeqBatch> {
    if (this.pos >= this.plan.length && this.plan.length > 0) this.startEpoch(this.epochNo + 1);
    const epoch = this.epochNo;
    while (this.epochNo === epoch && this.pos < this.plan.length) {
      const idx = this.plan[this.pos++] as Int32Array;
      const batch = collate(this.examples, this.options, idx);
      yield batch;
    }
  }

  state(): BatchLoaderState {
    return {
      version: 1, fingerprint: this.fingerprint, epoch: this.epochNo, position: this.pos,
      epochRng: { algorithm: this.epochRng.algorithm, s: [...this.epochRng.s] as [number, number, number, number] },
    };
  }

  /** Continue from a saved state: the following batches equal those the saved loader would give. */
  restore(state: BatchLoaderState): void {
    const v: unknown = state;
    if (typeof v !== 'object' || v === null) throw new TypeError('loader state: expected an object');
    const o = v as Record<string, unknown>;
    if (o.version !== 1) throw new RangeError(`loader state.version: expected 1, got ${JSON.stringify(o.version)}`);
    if (o.fingerprint !== this.fingerprint) {
      throw new RangeError('loader state.fingerprint: the state was saved by a loader over other examples or options');
    }
    for (const k of ['epoch', 'position'] as const) {
      const n = o[k];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new RangeError(`loader state.${k}: expected an integer >= 0`);
    }
    const rng = Rng.fromState(o.epochRng as RngState); // validates the RNG state
    const epochRng = rng.state();
    this.rng = rng;
    this.epochRng = epochRng;
    this.plan = this.makePlan();
    if ((o.position as number) > this.plan.length) {
      throw new RangeError(`loader state.position: ${String(o.position)} is past the ${this.plan.length} batches of the epoch`);
    }
    this.epochNo = o.epoch as number;
    this.pos = o.position as number;
  }

  private startEpoch(epoch: number): void {
    this.epochNo = epoch;
    this.pos = 0;
    this.epochRng = this.rng.state();
    this.plan = this.makePlan();
  }

  /** The plan of one epoch, drawing from this.rng only when shuffling. */
  private makePlan(): Int32Array[] {
    const o = this.options;
    let order: Int32Array = Int32Array.from(this.examples.keys());
    const shuffle = o.shuffle === true;
    if (shuffle) this.rng.shuffle(order);
    if (o.bucketWindow !== undefined) order = bucketOrder(order, this.sizes, o.bucketWindow);
    const batches = o.maxTokens !== undefined
      ? tokenBudgetBatches(order, this.sizes, o.maxTokens, { maxBatchSize: o.batchSize, oversized: o.oversized })
      : chunkBatches(order, o.batchSize as number, o.dropLast === true);
    // Bucketed batches come out sorted by length; shuffling their order keeps epochs from
    // sweeping short to long (which biases the gradient and the LR schedule).
    if (shuffle) this.rng.shuffle(batches);
    return batches;
  }
}
