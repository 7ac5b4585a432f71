// The main-thread side of decoding on a worker thread. Each model gets one worker, started on its
// first generate: the worker builds the same model from the config and adopts the model's
// parameters, which live on SharedArrayBuffers (no copy; weights trained further on this thread
// show through). generate/stream requests go to it as messages and run there, so this thread's
// event loop never runs a decoding kernel. The worker decodes its requests interleaved step by
// step, as the main-thread path does, so results equal sequential ones and one OpenMP pool serves
// them all. The worker is unref'd while idle, so it never keeps a process alive.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { packageRoot } from '../package-root.js';
import { abortError, timeoutError } from './engine.js';
import type { GenerateOptions } from './options.js';
import type { SourceBatch } from './sources.js';
import type { GenerateResult, StreamToken } from './types.js';

/** What the worker is sent with each request: the options less signal and tokenizer, the tokenizer as JSON. */
export interface WorkerRequest {
  type: 'generate' | 'stream';
  id: number;
  src: SourceBatch;
  options: Omit<GenerateOptions, 'signal' | 'tokenizer'>;
  tokenizer: object | null;
}
export type WorkerControl = { type: 'abort'; id: number };
export type WorkerReply =
  | { type: 'result'; id: number; result: GenerateResult }
  | { type: 'token'; id: number; token: StreamToken }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; name: string; message: string };

interface Pending {
  onReply(r: WorkerReply): void;
  onFailure(e: Error): void;
}

// dist/decode/worker-entry.js (ESM) or dist/cjs/decode/worker-entry.js (CommonJS), matching this module's format.
const ENTRY = path.join(packageRoot, 'dist', ...(typeof require === 'function' ? ['cjs'] : []), 'decode', 'worker-entry.js');

class DecodeWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private broken: Error | null = null;

  constructor(model: Seq2SeqTransformer, weights: Float32Array[]) {
    this.worker = new Worker(ENTRY, { workerData: { config: { ...model.config }, weights } });
    this.worker.unref();
    this.worker.on('message', (r: WorkerReply) => this.pending.get(r.id)?.onReply(r));
    const fail = (e: Error): void => {
      this.broken = e;
      for (const p of [...this.pending.values()]) p.onFailure(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`attnode: the decoding worker exited (code ${code})`)));
  }

  get usable(): boolean {
    return this.broken === null;
  }

  private open(p: Pending): number {
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();  // keep the process alive while a request runs
    this.pending.set(id, p);
    return id;
  }

  private close(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private send(type: 'generate' | 'stream', id: number, src: SourceBatch, options: GenerateOptions): void {
    const { signal: _s, tokenizer, ...rest } = options;
    const msg: WorkerRequest = { type, id, src, options: rest, tokenizer: tokenizer ? tokenizerJson(tokenizer)! : null };
    this.worker.postMessage(msg);
  }

  generate(src: SourceBatch, options: GenerateOptions): Promise<GenerateResult> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<GenerateResult>((resolve, reject) => {
      let onAbort: (() => void) | null = null;
      const finish = (): void => {
        this.close(id);
        if (onAbort) signal!.removeEventListener('abort', onAbort);
      };
      const id = this.open({
        onReply: (r) => {
          if (r.type === 'result') { finish(); resolve(r.result); }
          else if (r.type === 'error') { finish(); reject(rebuildError(r)); }
        },
        onFailure: (e) => { finish(); reject(e); },
      });
      if (signal) {
        onAbort = () => {
          this.worker.postMessage({ type: 'abort', id } satisfies WorkerControl);
          finish();
          reject(abortError(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.send('generate', id, src, options);
    });
  }

  async *stream(src: SourceBatch, options: GenerateOptions): AsyncGenerator<StreamToken, void, undefined> {
    const signal = options.signal;
    if (signal?.aborted) throw abortError(signal);
    const queue: WorkerReply[] = [];
    let wake: (() => void) | null = null;
    let failure: Error | null = null;
    const id = this.open({
      onReply: (r) => { queue.push(r); wake?.(); },
      onFailure: (e) => { failure = e; wake?.(); },
    });
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort);
    this.send('stream', id, src, options);
    let finished = false;
    try {
      for (;;) {
        // An abort is seen before any further token is handed out, even if the worker ran ahead.
        if (signal?.aborted) throw abortError(signal);
        if (failure) throw failure;
        const r = queue.shift();
        if (!r) {
          await new Promise<void>((res) => { wake = res; });
          wake = null;
          continue;
        }
        if (r.type === 'token') yield r.token;
        else if (r.type === 'done') { finished = true; return; }
        else if (r.type === 'error') { finished = true; throw rebuildError(r); }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!finished) this.worker.postMessage({ type: 'abort', id } satisfies WorkerControl);  // stopped early
      this.close(id);
    }
  }
}

/** attnode's tokenizers travel as their JSON; another encode/decode object cannot (decode on this thread). */
function tokenizerJson(t: unknown): object | null {
  const j = (t as { toJSON?: () => unknown }).toJSON?.();
  return j && typeof j === 'object' && (j as { format?: unknown }).format === 'attnode-tokenizer' ? (j as object) : null;
}

function rebuildError(r: { name: string; message: string }): Error {
  if (r.name === 'TypeError') return new TypeError(r.message);
  if (r.name === 'RangeError') return new RangeError(r.message);
  if (r.name === 'AbortError') return new DOMException(r.message, 'AbortError');
  if (r.name === 'TimeoutError') return timeoutError(r.message);
  const e = new Error(r.message);
  e.name = r.name;
  return e;
}

const workers = new WeakMap<Seq2SeqTransformer, DecodeWorker>();

/**
 * The model's decoding worker, started on first use; null when decoding must stay on this thread:
 * weights not on SharedArrayBuffers, a tokenizer that cannot travel, or options that cannot be
 * copied to another thread.
 */
export function decodeWorkerFor(model: Seq2SeqTransformer, options: GenerateOptions | undefined): DecodeWorker | null {
  if (options?.tokenizer && !tokenizerJson(options.tokenizer)) return null;
  try {
    const { signal: _s, tokenizer: _t, ...rest } = options ?? {};
    structuredClone(rest);
  } catch {
    return null;
  }
  let w = workers.get(model);
  if (w && !w.usable) w = undefined;
  if (!w) {
    const weights = model.sharedWeights();
    if (!weights) return null;
    w = new DecodeWorker(model, weights);
    workers.set(model, w);
  }
  return w;
}
