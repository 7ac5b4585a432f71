// Data-parallel steps (Trainer with { distributed }): every rank runs forward and backward on its
// rows of the global batch, gradient sums are reduced across ranks in buckets, and every rank takes
// the same optimizer step scaled by 1 / (target tokens of all ranks), so N ranks compute what one
// process computes on the combined batch (up to float summation order).
//
// Overlap: the tape's afterEntry hook counts backward entries. On the first step, rank 0 records
// after which entry each parameter's gradient was last written (by watching which kernel calls
// receive a view of its gradient buffer), broadcasts that, and every rank groups parameters into
// buckets in the order their gradients complete. From then on a bucket's non-blocking allreduce
// starts as soon as the backward has passed the entry that completes it, and pending reductions are
// tested between entries (Open MPI progresses them only inside MPI calls). Reductions run on copies
// (send buffers), so a write the schedule did not foresee cannot race with MPI: it is found by
// comparing the copies with the gradients after the backward, and then every rank (told through
// the per-step summary reduction) reduces all buckets again, blocking. Correct either way; only the
// overlap depends on the schedule.
//
// Faults: a rank whose forward or backward fails still takes part in every collective of the step
// (with its failure in the summary), so all ranks throw before any update: NonFiniteError for a
// non-finite loss anywhere, RankFailedError naming the rank otherwise.
import type { Seq2SeqBatch } from '../data/batching.js';
import type { Distributed, PendingReduction } from '../dist/distributed.js';
import { RankFailedError } from '../dist/distributed.js';
import { kernels } from '../kernels.js';
import type { Parameter } from '../nn/module.js';
import * as ops from '../ops/index.js';
import { tape } from '../tensor.js';
import { NonFiniteError } from './optimizer.js';
import { learningRate } from './schedule.js';
import type { StepResult, Trainer } from './trainer.js';

/** Communication of one data-parallel step, as reported in Progress. */
export interface CommStats {
  /** Gradient bytes this rank reduced this step (each allreduce's payload; a ring sends ~2(N-1)/N of it). */
  bytes: number;
  /** Milliseconds this rank blocked waiting for reductions after its backward (the part not overlapped). */
  waitMs: number;
  /** Milliseconds of this rank's own data-parallel work: copying gradients into and out of the buckets, checking the copies. */
  copyMs: number;
  /** Reductions started while the backward was still running. */
  overlapped: number;
  buckets: number;
  /** Whether the step reduced every bucket a second time (a gradient changed after its bucket went out). */
  redone: boolean;
}

interface Bucket {
  params: Parameter[];
  send: Float32Array;
  recv: Float32Array;
  /** Backward entries after which every gradient of the bucket is final. */
  readyAt: number;
}

const FAIL_NONE = 0, FAIL_NONFINITE = 1, FAIL_ERROR = 2;
const DEFAULT_BUCKET_BYTES = 1 << 21;

type KernelTable = Record<string, unknown>;

/** Calls f(view) for every Float32Array in a kernel's arguments (and one level into option objects and lists). */
function eachView(args: readonly unknown[], f: (v: Float32Array) => void): void {
  const visit = (x: unknown, depth: number): void => {
    if (x instanceof Float32Array) f(x);
    else if (depth < 2 && Array.isArray(x)) for (const y of x) visit(y, depth + 1);
    else if (depth < 2 && x !== null && typeof x === 'object' && !ArrayBuffer.isView(x)) for (const y of Object.values(x)) visit(y, depth + 1);
  };
  for (const a of args) visit(a, 0);
}

export class DataParallel {
  private buckets: Bucket[] | null = null;
  private synced = false;
  private counter = 0;
  private last: CommStats = { bytes: 0, waitMs: 0, copyMs: 0, overlapped: 0, buckets: 0, redone: false };

  constructor(readonly dist: Distributed, private readonly trainer: Trainer, private readonly bucketBytes = DEFAULT_BUCKET_BYTES) {
    if (!Number.isInteger(bucketBytes) || bucketBytes < 4) throw new RangeError(`bucketBytes: expected an integer >= 4, got ${String(bucketBytes)}`);
  }

  get lastComm(): CommStats {
    return this.last;
  }

  /** Parameters, Adam moments and the step of rank 0 on every rank (the start of a run, or after a resume). */
  syncFromRoot(): void {
    const opt = this.trainer.optimizer;
    for (const p of this.trainer.model.parameters()) this.dist.broadcast(p.storage.data, 0);
    for (let i = 0; i < opt.params.length; ++i) {
      this.dist.broadcast(opt.m[i]!, 0);
      this.dist.broadcast(opt.v[i]!, 0);
    }
    const step = this.dist.broadcast(new Float64Array([opt.step]), 0);
    opt.step = step[0]!;
    this.trainer.weightsChanged();  // bf16 copies (precision 'bf16') follow the broadcast weights
    this.synced = true;
  }

  /** One optimizer step over this rank's rows of each micro-batch (rows may be none). */
  step(batches: readonly Seq2SeqBatch[]): StepResult {
    if (!this.synced) this.syncFromRoot();
    const t = this.trainer, dist = this.dist;
    const step = t.optimizer.step + 1;
    const params = t.optimizer.params;
    const calibrate = this.buckets === null;
    const lastTouch = calibrate ? new Map<Parameter, number>() : null;
    let sum = 0, count = 0, fail = FAIL_NONE, failure: unknown = null;
    const pending: { bucket: Bucket; reduction: PendingReduction; early: boolean }[] = [];
    let launched = 0, copyMs = 0;
    const launchReady = (upTo: number, early: boolean): void => {
      const bs = this.buckets!;
      if (launched >= bs.length || bs[launched]!.readyAt > upTo) return;
      const t0 = performance.now();
      while (launched < bs.length && bs[launched]!.readyAt <= upTo) {
        const b = bs[launched++]!;
        let off = 0;
        for (const p of b.params) { b.send.set(p.grad!, off); off += p.size; }
        pending.push({ bucket: b, reduction: dist.startAllReduce(b.send, b.recv), early });
      }
      copyMs += performance.now() - t0;
    };
    tape.clear();
    try {
      for (let i = 0; i < batches.length; ++i) {
        const b = batches[i]!;
        if (b.batch === 0) continue;  // this rank has no rows of this micro-batch
        const l = t.batchLoss(b, step, true);  // the trainer's loss (cross-entropy, or options.loss such as a CMLM's)
        if (!Number.isFinite(l.sum)) {
          tape.clear();
          fail = FAIL_NONFINITE;
          failure = new NonFiniteError(`training: the loss is ${l.sum} on rank ${dist.rank} at step ${step}; no weight was changed`, step);
          break;
        }
        const final = !batches.slice(i + 1).some((x) => x.batch > 0);  // gradients complete after this backward
        if (final) this.backward(lastTouch, () => { if (!calibrate) launchReady(this.counter, true); for (const q of pending) q.reduction.test(); });
        else tape.run();
        sum += l.sum;
        count += l.count;
      }
    } catch (e) {
      fail = e instanceof NonFiniteError ? FAIL_NONFINITE : FAIL_ERROR;
      failure = e;
    } finally {
      tape.clear();
      ops.arena.releaseAll();
    }
    if (calibrate) this.buckets = this.makeBuckets(params, lastTouch!);
    launchReady(Infinity, false);
    // A write the schedule did not foresee changed a gradient after its copy went out.
    let late = 0;
    const t1 = performance.now();
    for (const q of pending) if (q.early && late === 0) late = this.differs(q.bucket) ? 1 : 0;
    copyMs += performance.now() - t1;
    const summary = new Float64Array(3 + dist.size);
    summary[0] = sum; summary[1] = count; summary[2] = late; summary[3 + dist.rank] = fail;
    const summaryReduction = dist.startAllReduce(summary);
    let bytes = 0, waitMs = 0;
    for (const q of pending) { const r = q.reduction.wait(); bytes += r.bytes; waitMs += r.waitMs; }
    waitMs += summaryReduction.wait().waitMs;
    this.last = { bytes, waitMs, copyMs, overlapped: pending.filter((q) => q.early).length, buckets: pending.length, redone: summary[2]! > 0 };
    const failed = [...summary.subarray(3)].flatMap((f, r) => (f !== FAIL_NONE ? [r] : []));
    if (failed.length > 0) {
      t.model.zeroGrad();
      if (calibrate) this.buckets = null;  // the record may be partial: every rank records again next step
      if (fail !== FAIL_NONE) throw failure;
      const nonFinite = failed.filter((r) => summary[3 + r] === FAIL_NONFINITE);
      if (nonFinite.length > 0) throw new NonFiniteError(`training: the loss is not finite on rank ${nonFinite.join(', ')} at step ${step}; no weight was changed`, step);
      throw new RankFailedError(`training: rank ${failed.join(', ')} failed at step ${step} (its error is in its own output); no weight was changed`, failed, step);
    }
    if (summary[2]! > 0) this.reduceAgain();
    const t2 = performance.now();
    for (const b of this.buckets!) {
      let off = 0;
      for (const p of b.params) { p.grad!.set(b.recv.subarray(off, off + p.size)); off += p.size; }
    }
    this.last.copyMs += performance.now() - t2;
    const tokens = summary[1]!, lossSum = summary[0]!;
    const lr = learningRate(t.schedule, step);
    // Every rank holds the same reduced gradients, so a non-finite norm throws on all of them alike.
    let gradNorm = 0;
    try {
      if (tokens > 0) gradNorm = t.optimizer.apply(lr, 1 / tokens, true);
    } finally {
      if (tokens === 0 || t.optimizer.step !== step) t.model.zeroGrad();  // no update: the next step starts from zero
    }
    return { loss: tokens > 0 ? lossSum / tokens : 0, tokens, gradNorm, lr };
  }

  /** tape.run() with onEntry after each backward entry; on the calibration step, records the last entry writing each gradient. */
  private backward(lastTouch: Map<Parameter, number> | null, onEntry: () => void): void {
    const prev = tape.afterEntry;
    this.counter = 0;
    tape.afterEntry = () => { prev?.(); this.counter += 1; onEntry(); };
    const table = kernels as unknown as KernelTable;
    const saved = new Map<string, unknown>();
    if (lastTouch) {
      const owners = new Map<ArrayBufferLike, { p: Parameter; from: number; to: number }[]>();
      for (const p of this.trainer.optimizer.params) {
        const g = p.grad!;
        const list = owners.get(g.buffer) ?? [];
        list.push({ p, from: g.byteOffset, to: g.byteOffset + g.byteLength });
        owners.set(g.buffer, list);
      }
      for (const [name, fn] of Object.entries(table)) {
        if (typeof fn !== 'function') continue;
        saved.set(name, fn);
        const f = fn as (...a: unknown[]) => unknown;
        table[name] = (...args: unknown[]) => {
          eachView(args, (v) => {
            for (const o of owners.get(v.buffer) ?? []) {
              if (v.byteOffset < o.to && v.byteOffset + v.byteLength > o.from) lastTouch.set(o.p, this.counter);
            }
          });
          return f(...args);
        };
      }
    }
    try {
      tape.run();
    } finally {
      tape.afterEntry = prev;
      for (const [name, fn] of saved) table[name] = fn;
    }
  }

  /** Buckets of about bucketBytes, parameters in the order their gradients complete (rank 0's record, so every rank agrees). */
  private makeBuckets(params: readonly Parameter[], lastTouch: Map<Parameter, number>): Bucket[] {
    const at = new Int32Array(params.length);
    // Untouched on rank 0 (no rows, or unused): complete only at the end of the backward.
    params.forEach((p, i) => { at[i] = this.dist.rank === 0 ? lastTouch.get(p) ?? 1 << 30 : 0; });
    this.dist.broadcast(at, 0);
    // Ties (and the default order) go in reverse parameter order, the order backward reaches them.
    const order = params.map((_, i) => i).sort((a, b) => at[a]! - at[b]! || b - a);
    const buckets: Bucket[] = [];
    let cur: number[] = [], bytes = 0;
    const flush = (): void => {
      if (cur.length === 0) return;
      const ps = cur.map((i) => params[i]!);
      const n = ps.reduce((s, p) => s + p.size, 0);
      buckets.push({ params: ps, send: new Float32Array(n), recv: new Float32Array(n), readyAt: Math.max(...cur.map((i) => at[i]!)) + 1 });
      cur = []; bytes = 0;
    };
    for (const i of order) {
      cur.push(i);
      bytes += params[i]!.size * 4;
      if (bytes >= this.bucketBytes) flush();
    }
    flush();
    return buckets;
  }

  /** Whether some gradient of b no longer has the bits copied into b.send (a byte compare: memcmp, -0 and NaN exact). */
  private differs(b: Bucket): boolean {
    let off = 0;
    for (const p of b.params) {
      const g = p.grad!;
      const sent = Buffer.from(b.send.buffer, b.send.byteOffset + off * 4, g.byteLength);
      if (Buffer.compare(Buffer.from(g.buffer, g.byteOffset, g.byteLength), sent) !== 0) return true;
      off += p.size;
    }
    return false;
  }

  private reduceAgain(): void {
    for (const b of this.buckets!) {
      let off = 0;
      for (const p of b.params) { b.send.set(p.grad!, off); off += p.size; }
      const r = this.dist.startAllReduce(b.send, b.recv).wait();
      this.last.bytes += r.bytes;
      this.last.waitMs += r.waitMs;
    }
  }
}
