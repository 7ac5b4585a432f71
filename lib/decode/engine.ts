// How a generate runs its native work, and the thread policy of decoding.
//
// Scheduling: a generate is a sequence of steps (encode, then one decoder step per token). Each
// step runs synchronously, with no await inside it, and between steps the generate waits for
// setImmediate, so timers, I/O, aborts and other generates get the event loop at least once per
// step; a step costs about one decoder layer stack on the active rows (milliseconds).
//
// Buffers: every generate owns an Arena. A step swaps it in as ops.arena for exactly its
// synchronous duration (ops.withArena) and releases it after, so concurrent generates never see
// each other's buffers; what outlives a step (logits, the KV cache) is copied out of the arena.
//
// Thread policy: the steps of every generate on a model run on one thread, the model's decoding
// worker (worker-client.ts; or the calling thread with `thread: 'main'`), so however many generates
// run concurrently, at most one native kernel of theirs runs at a time, and it uses the whole
// OpenMP pool (setNumThreads; default one thread per core): concurrency interleaves steps instead
// of multiplying threads. (Training on the main thread at the same time shares the cores with it.)
import type { Seq2SeqTransformer } from '../nn/seq2seq.js';
import type { DecoderKvCache } from '../nn/kv-cache.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../tensor.js';
import { Bf16Weights, withBf16Weights } from '../ops/bf16-weights.js';
import { withMatmulPrecision } from '../ops/precision.js';
import { cpuInfo } from '../runtime.js';
import type { PaddedSources } from './sources.js';

// The TimeoutErrors of options.timeoutMs: an aborted generate rejects with them as they are.
const deadlineErrors = new WeakSet<DOMException>();

/**
 * The error an aborted generate rejects with: the signal's reason when it is an AbortError (or the
 * TimeoutError of options.timeoutMs), else a new AbortError whose cause is the reason.
 */
export function abortError(signal: AbortSignal): DOMException {
  const r: unknown = signal.reason;
  if (r instanceof DOMException && (r.name === 'AbortError' || deadlineErrors.has(r))) return r;
  const e = new DOMException('generate was aborted', 'AbortError');
  // The signal's own reason (a custom error or value) stays reachable.
  Object.defineProperty(e, 'cause', { value: r, configurable: true, writable: true });
  return e;
}

export interface Deadline {
  /** Fires on the caller's signal or at the deadline, whichever comes first (null: neither given). */
  signal: AbortSignal | null;
  /** Stops the timer and the listener on the caller's signal; call it when the call settles. */
  dispose(): void;
}

/**
 * options.signal combined with options.timeoutMs: the returned signal aborts with the caller's
 * reason, or at the deadline with a DOMException named 'TimeoutError' naming options.timeoutMs.
 */
export function deadline(signal: AbortSignal | null, timeoutMs: number | null, what = 'generate'): Deadline {
  if (timeoutMs === null) return { signal, dispose: () => {} };
  const ctl = new AbortController();
  const timer = setTimeout(() => {
    const e = new DOMException(`${what}: timed out after ${timeoutMs} ms (options.timeoutMs); the decoding was stopped`, 'TimeoutError');
    deadlineErrors.add(e);
    ctl.abort(e);
  }, timeoutMs);
  const onAbort = (): void => ctl.abort(signal!.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal,
    dispose: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** A TimeoutError rebuilt from a message (the worker's reply): aborted generates reject with it as it is. */
export function timeoutError(message: string): DOMException {
  const e = new DOMException(message, 'TimeoutError');
  deadlineErrors.add(e);
  return e;
}

export interface StepOutput {
  /** [rows * vocab], a copy the caller owns. */
  logits: Float32Array;
  /** [rows * srcLen] cross-attention weights, when asked for. */
  attention: Float32Array | null;
}

// Per model, the buffers of its bf16 weight copies, re-rounded from the weights at the start of
// every bf16 generate (~1 ms for 6M parameters; new buffers each call cost 5x that in page faults).
// Re-rounding each call, rather than trusting an old copy, keeps every call on its current weights.
const bf16Copies = new WeakMap<Seq2SeqTransformer, Bf16Weights>();
function bf16WeightsOf(model: Seq2SeqTransformer): Bf16Weights {
  const have = bf16Copies.get(model);
  if (have) {
    have.refresh();
    return have;
  }
  const made = new Bf16Weights(model.parameters());
  bf16Copies.set(model, made);
  return made;
}

export class Engine {
  private readonly arena = new ops.Arena();
  // precision 'bf16': the weights' bf16 copies, rounded at the first step of this generate (so they
  // are the weights of this call, whatever training did before it).
  private bf16: Bf16Weights | null | undefined = undefined;

  constructor(readonly model: Seq2SeqTransformer, private readonly signal: AbortSignal | null,
    private readonly precision: 'fp32' | 'bf16' = 'fp32') {}

  /** Runs fn as one synchronous step with this generate's arena, without gradients; fn copies out what it keeps. */
  run<T>(fn: () => T): T {
    try {
      if (this.precision === 'fp32') return noGrad(() => ops.withArena(this.arena, fn));
      // Copies only where the bf16 GEMM runs: elsewhere bf16 requests compute in fp32 anyway.
      if (this.bf16 === undefined) this.bf16 = cpuInfo().isa === 'avx512bf16' ? bf16WeightsOf(this.model) : null;
      const copies = this.bf16;
      return withMatmulPrecision('bf16', () => withBf16Weights(copies, () => noGrad(() => ops.withArena(this.arena, fn))));
    } finally {
      this.arena.releaseAll();
    }
  }

  /** Gives the event loop a turn, then throws an AbortError if the signal fired meanwhile. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.checkAbort();
  }

  checkAbort(): void {
    if (this.signal?.aborted) throw abortError(this.signal);
  }

  /** Encodes the sources and computes every layer's cross-attention K/V: the cache decoding starts from. */
  start(s: PaddedSources, group: number): DecoderKvCache {
    return this.run(() => {
      const memory = this.model.encode(s.src, s.srcLengths, s.batch, s.srcLen);
      return this.model.startDecoding(memory, s.srcLengths, s.batch, s.srcLen, group);
    });
  }

  /** One decoder step: feeds tokens[r] to row r, returns the next-token logits. */
  step(tokens: Int32Array, cache: DecoderKvCache, attention: boolean): StepOutput {
    return this.run(() => {
      const weights = attention ? new Float32Array(cache.rows * cache.srcLen) : null;
      const logits = ops.data(this.model.decodeStep(tokens, cache, weights)).slice();
      return { logits, attention: weights };
    });
  }
}
