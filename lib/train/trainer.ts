// Trainer: teacher-forced training of a Seq2SeqTransformer with label-smoothed cross-entropy,
// gradient accumulation, clipping, a learning-rate schedule, periodic evaluation, progress
// reports and an AbortSignal. fit() yields to the event loop between steps so progress output,
// timers and aborts are served; one step's math runs in native kernels.
import type { Seq2SeqBatch } from '../data/batching.js';
import type { MaskMode } from '../nn/masks.js';
import type { Seq2SeqTransformer } from '../nn/seq2seq.js';
import type { Precision } from '../gemm.js';
import * as ops from '../ops/index.js';
import { noGrad, tape } from '../tensor.js';
import type { Distributed } from '../dist/distributed.js';
import { shardBatch } from '../dist/shard.js';
import { DataParallel, type CommStats } from './distributed.js';
import { isCmlm } from '../nn/config-cmlm.js';
import { cmlmLoss, type BatchLossOptions } from './cmlm.js';
import { NonFiniteError, Optimizer, type OptimizerOptions } from './optimizer.js';
import { Bf16Weights, withBf16Weights } from '../ops/bf16-weights.js';
import { learningRate, type Schedule } from './schedule.js';

export interface TrainerOptions {
  optimizer?: Partial<OptimizerOptions>;
  /** Default: inverse-sqrt with 400 warmup steps at the optimizer's lr. */
  schedule?: Schedule;
  /** Default 0.1. */
  labelSmoothing?: number;
  /** Label value that is not counted (padding). Default -100. */
  ignoreIndex?: number;
  /** 'dynamic' (default): causal flag and lengths; 'static': explicit mask arrays. */
  maskMode?: MaskMode;
  /**
   * Data-parallel training over the ranks of initDistributed(): rank 0's parameters go to every
   * rank at the first step, fit() trains each rank on its rows of every batch, gradients are
   * summed across ranks (bucketed, overlapping the backward) and every rank takes the same step.
   * Only rank 0 gets onProgress. A group of one (no mpirun) trains exactly as without it.
   */
  distributed?: Distributed;
  /** Gradient bytes per allreduce bucket when distributed. Default 2 MiB. */
  bucketBytes?: number;
  /**
   * A batch's loss in place of teacher-forced cross-entropy: runs the model, records the backward
   * on the tape, returns the loss sum and the tokens it counts (the gradient is divided by them).
   * Default: cmlmLoss (lib/train/cmlm.ts) for a model with objective 'cmlm', else cross-entropy.
   */
  loss?: BatchLoss;
  /**
   * Precision of the matrix products of every forward and backward (the Linear layers and
   * projections): 'fp32' (default) or 'bf16' (operands rounded to bf16, fp32 accumulation; the
   * 'avx512bf16' variant, else computed in fp32). Master weights, gradients, optimizer state and
   * checkpoints stay fp32; bf16 has fp32's exponent range, so no loss scaling is needed.
   */
  precision?: Precision;
  /**
   * precision 'bf16': keep bf16 copies of the weight matrices (half the fp32 weights' bytes),
   * rewritten by each optimizer step in the same pass as the update, for the products to read in
   * place of rounding the fp32 weights on every call. The same bits either way on the
   * 'avx512bf16' variant (rounding a bf16 value is exact); false saves the memory. Default true.
   */
  bf16WeightCopies?: boolean;
}

/** See TrainerOptions.loss. */
export type BatchLoss = (model: Seq2SeqTransformer, batch: Seq2SeqBatch, o: BatchLossOptions) => ops.LossValue;

/** Anything that hands out batches: a BatchLoader, or an array wrapped by `batchesOf`. */
export interface BatchSource {
  next(): Seq2SeqBatch;
  /** Batches in one pass over the data (a BatchLoader has it); needed by fit's `epochs`. */
  readonly batchesPerEpoch?: number;
}

export interface Progress {
  step: number;
  totalSteps: number;
  /** Mean loss per target token of this step. */
  loss: number;
  lr: number;
  gradNorm: number;
  /** Target tokens per second over the whole run so far. */
  tokensPerSecond: number;
  elapsedMs: number;
  etaMs: number;
  /** Present on steps where evaluation ran. */
  evalLoss?: number;
  /** Distributed runs: this step's gradient bytes reduced and the time rank 0 waited for them. */
  comm?: CommStats;
}

export interface FitOptions {
  /** Optimizer steps to take (counting from the trainer's current step). Give steps or epochs. */
  steps?: number;
  /** Passes over the data: steps = epochs * batchesPerEpoch / accumulate (rounded up). */
  epochs?: number;
  /** Micro-batches per optimizer step (gradient accumulation). Default 1. */
  accumulate?: number;
  evalData?: readonly Seq2SeqBatch[];
  /** Evaluate every N steps (and at the end) when evalData is given. Default 500. */
  evalEvery?: number;
  onProgress?: (p: Progress) => void;
  /** Report progress every N steps (default 10; evaluation steps always report). */
  progressEvery?: number;
  /** Called after each step, e.g. to save a checkpoint; may be async. */
  afterStep?: (step: number) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface StepResult {
  loss: number;
  tokens: number;
  gradNorm: number;
  lr: number;
}

/** The optimizer steps a fit runs: `steps`, or `epochs` passes over the data. */
function stepsOf(o: FitOptions, data: BatchSource, accumulate: number): number {
  if ((o.steps === undefined) === (o.epochs === undefined)) throw new TypeError('fit: give exactly one of steps and epochs');
  if (o.steps !== undefined) {
    if (!Number.isInteger(o.steps) || o.steps < 0) throw new RangeError(`fit: steps must be a non-negative integer, got ${String(o.steps)}`);
    return o.steps;
  }
  const epochs = o.epochs!;
  if (!Number.isInteger(epochs) || epochs < 0) throw new RangeError(`fit: epochs must be a non-negative integer, got ${String(epochs)}`);
  const per = data.batchesPerEpoch;
  if (per === undefined) throw new TypeError('fit: epochs needs a data source that knows its batchesPerEpoch (a BatchLoader)');
  return Math.ceil((epochs * per) / accumulate);
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('The training was aborted', 'AbortError');
}

export class Trainer {
  readonly optimizer: Optimizer;
  readonly schedule: Schedule;
  readonly labelSmoothing: number;
  readonly ignoreIndex: number;
  readonly maskMode: MaskMode;
  /** The process group (a group of one when not distributed). */
  readonly distributed: Distributed | null;
  private readonly dataParallel: DataParallel | null;
  private readonly lossFn: BatchLoss | null;
  readonly precision: Precision;
  private bf16: Bf16Weights | null = null;
  private readonly bf16Copies: boolean;

  constructor(readonly model: Seq2SeqTransformer, opts: TrainerOptions = {}) {
    this.optimizer = new Optimizer(model.trainableParameters(), opts.optimizer);
    this.schedule = opts.schedule ?? { kind: 'inverseSqrt', lr: this.optimizer.opts.lr, warmup: 400 };
    this.labelSmoothing = opts.labelSmoothing ?? 0.1;
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.maskMode = opts.maskMode ?? 'dynamic';
    this.precision = opts.precision ?? 'fp32';
    if (this.precision !== 'fp32' && this.precision !== 'bf16')
      throw new RangeError(`Trainer: precision must be 'fp32' or 'bf16', got ${String(opts.precision)}`);
    if (opts.bf16WeightCopies !== undefined && typeof opts.bf16WeightCopies !== 'boolean')
      throw new TypeError(`Trainer: bf16WeightCopies must be a boolean, got ${String(opts.bf16WeightCopies)}`);
    this.bf16Copies = opts.bf16WeightCopies ?? true;
    this.lossFn = opts.loss ?? (isCmlm(model.config) ? cmlmLoss : null);
    this.distributed = opts.distributed ?? null;
    this.dataParallel = opts.distributed && opts.distributed.size > 1 ? new DataParallel(opts.distributed, this, opts.bucketBytes) : null;
  }

  get step(): number {
    return this.optimizer.step;
  }

  /** Loss of one batch with gradients accumulated into the parameters (no update). */
  private accumulate(b: Seq2SeqBatch, step: number): ops.LossValue {
    const l = this.batchLoss(b, step, true);
    if (!Number.isFinite(l.sum)) {
      tape.clear();
      throw new NonFiniteError(`training: the loss is ${l.sum} at step ${step}; no weight was changed`, step);
    }
    tape.run();
    return l;
  }

  /** One batch's loss (options.loss, or teacher-forced cross-entropy), its backward recorded when training. */
  batchLoss(b: Seq2SeqBatch, step: number, training: boolean): ops.LossValue {
    if (this.precision === 'fp32') return this.batchLossIn(b, step, training);
    const copies = this.bf16Copies ? this.bf16Weights() : null;
    return ops.withMatmulPrecision('bf16', () => withBf16Weights(copies, () => this.batchLossIn(b, step, training)));
  }

  /**
   * precision 'bf16': the bf16 copies of the weight matrices the products read, made at first use
   * and rewritten by every optimizer step in the same pass as the update (fp32 master weights and
   * Adam state stay the truth; checkpoints save them).
   */
  private bf16Weights(): Bf16Weights {
    if (!this.bf16) {
      const params = this.optimizer.params;
      this.bf16 = new Bf16Weights(params);
      this.optimizer.bf16Copies = this.bf16.copiesFor(params);
    }
    return this.bf16;
  }

  /**
   * Tells the trainer that the model's weights were changed other than by its own steps (loaded,
   * broadcast, edited by hand): the bf16 copies of precision 'bf16' are made again from them.
   * resumeTraining and distributed training call it themselves.
   */
  weightsChanged(): void {
    this.bf16?.refresh();
  }

  private batchLossIn(b: Seq2SeqBatch, step: number, training: boolean): ops.LossValue {
    const o = { training, step, maskMode: this.maskMode, labelSmoothing: this.labelSmoothing, ignoreIndex: this.ignoreIndex };
    if (this.lossFn) return this.lossFn(this.model, b, o);
    const logits = this.model.forward(b, training ? { training, step, maskMode: this.maskMode } : { training, maskMode: this.maskMode });
    return ops.crossEntropySum(logits, b.labels, { labelSmoothing: this.labelSmoothing, ignoreIndex: this.ignoreIndex });
  }

  /**
   * One optimizer step over the given micro-batches. On a non-finite loss or gradient, throws before any weight changes.
   * Distributed: the batches are this rank's rows (fit shards them; see shardBatch), and every rank must call it.
   */
  trainStep(batches: readonly Seq2SeqBatch[]): StepResult {
    if (this.dataParallel) return this.dataParallel.step(batches);
    const step = this.optimizer.step + 1;
    let sum = 0, count = 0;
    // Ops recorded outside a step (a forward without noGrad, a forward that threw) would otherwise
    // run in this step's backward, over arena buffers that have since been reused.
    tape.clear();
    let zeroed = false;  // the update cleared the gradients as it read them
    try {
      for (const b of batches) {
        const l = this.accumulate(b, step);
        sum += l.sum;
        count += l.count;
      }
      const lr = learningRate(this.schedule, step);
      const gradNorm = count > 0 ? this.optimizer.apply(lr, 1 / count, true) : 0;
      zeroed = count > 0;
      return { loss: count > 0 ? sum / count : 0, tokens: count, gradNorm, lr };
    } catch (e) {
      // A kernel that rejects a non-finite input (attention checks q/k/v) throws before the loss
      // exists: report it as the non-finite step it is, naming the parameter when one is to blame.
      if (e instanceof NonFiniteError) throw e;
      const bad = this.nonFiniteParameter();
      if (!bad) throw e;
      const err = new NonFiniteError(`training: parameter '${bad.name}' is ${bad.value} at index ${bad.index} at step ${step} ` +
        `(${e instanceof Error ? e.message : String(e)}); no weight was changed`, step);
      err.cause = e;
      throw err;
    } finally {
      tape.clear();
      if (!zeroed) this.model.zeroGrad();
      ops.arena.releaseAll();
    }
  }

  private nonFiniteParameter(): { name: string; index: number; value: number } | null {
    for (const [name, p] of this.model.namedParameters()) {
      const d = p.storage.data;
      for (let i = 0; i < d.length; ++i) if (!Number.isFinite(d[i]!)) return { name, index: i, value: d[i]! };
    }
    return null;
  }

  /** Mean loss per counted token over batches, without gradients or dropout. */
  evaluate(batches: readonly Seq2SeqBatch[]): { loss: number; tokens: number } {
    let sum = 0, count = 0;
    noGrad(() => {
      for (const b of batches) {
        const l = this.batchLoss(b, 0, false);
        sum += l.sum;
        count += l.count;
        ops.arena.releaseAll();
      }
    });
    return { loss: count > 0 ? sum / count : 0, tokens: count };
  }

  async fit(data: BatchSource, o: FitOptions): Promise<{ steps: number; loss: number; tokensPerSecond: number; evalLoss?: number }> {
    const accumulate = o.accumulate ?? 1;
    if (!Number.isInteger(accumulate) || accumulate < 1) throw new RangeError(`fit: accumulate must be a positive integer, got ${String(o.accumulate)}`);
    const totalSteps = stepsOf(o, data, accumulate);
    const evalEvery = o.evalEvery ?? 500, every = o.progressEvery ?? 10;
    const start = performance.now();
    let tokens = 0, last: StepResult = { loss: 0, tokens: 0, gradNorm: 0, lr: 0 }, evalLoss: number | undefined;
    for (let n = 1; n <= totalSteps; ++n) {
      if (o.signal?.aborted) throw abortError(o.signal);
      const micro: Seq2SeqBatch[] = [];
      const dist = this.dataParallel?.dist;
      for (let a = 0; a < accumulate; ++a) micro.push(dist ? shardBatch(data.next(), dist.rank, dist.size) : data.next());
      last = this.trainStep(micro);
      tokens += last.tokens;
      const evalNow = o.evalData !== undefined && (n % evalEvery === 0 || n === totalSteps);
      if (evalNow) evalLoss = this.evaluate(o.evalData!).loss;
      if (o.onProgress && (this.distributed?.isMain ?? true) && (n % every === 0 || n === totalSteps || evalNow)) {
        const elapsedMs = performance.now() - start;
        o.onProgress({
          step: this.step, totalSteps: this.step - n + totalSteps, loss: last.loss, lr: last.lr, gradNorm: last.gradNorm,
          tokensPerSecond: tokens / (elapsedMs / 1000), elapsedMs, etaMs: (elapsedMs / n) * (totalSteps - n),
          ...(evalNow ? { evalLoss: evalLoss! } : {}), ...(this.dataParallel ? { comm: this.dataParallel.lastComm } : {}),
        });
      }
      if (o.afterStep) await o.afterStep(this.step);
      await new Promise<void>((r) => setImmediate(r));  // let timers, I/O and aborts run
    }
    const seconds = (performance.now() - start) / 1000;
    return { steps: totalSteps, loss: last.loss, tokensPerSecond: tokens / Math.max(seconds, 1e-9), ...(evalLoss !== undefined ? { evalLoss } : {}) };
  }
}
