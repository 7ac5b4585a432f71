// The decoding worker thread (see worker-client.ts): builds the model from the config, adopts the
// main thread's shared parameter arrays, and serves generate/stream requests with the same code
// the main thread would run, posting results, tokens and errors back.
import { parentPort, workerData } from 'node:worker_threads';
import { tokenizerFromJSON } from '../data/load-tokenizer.js';
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { generateHere, streamHere } from './generate.js';
import type { GenerateOptions } from './options.js';
import type { WorkerControl, WorkerReply, WorkerRequest } from './worker-client.js';

const init = workerData as { config: Seq2SeqModelConfig; weights: Float32Array[] };
const model = new Seq2SeqTransformer(init.config);
model.adoptWeights(init.weights);
const port = parentPort!;
const running = new Map<number, AbortController>();

function reply(r: WorkerReply): void {
  port.postMessage(r);
}

function fail(id: number, e: unknown): void {
  const err = e instanceof Error || e instanceof DOMException ? e : new Error(String(e));
  reply({ type: 'error', id, name: err.name, message: err.message });
}

async function serve(req: WorkerRequest): Promise<void> {
  const ctl = new AbortController();
  running.set(req.id, ctl);
  const options: GenerateOptions = { ...req.options, signal: ctl.signal, thread: 'main',
    ...(req.tokenizer ? { tokenizer: tokenizerFromJSON(req.tokenizer) } : {}) };
  try {
    if (req.type === 'generate') {
      reply({ type: 'result', id: req.id, result: await generateHere(model, req.src, options) });
    } else {
      for await (const token of streamHere(model, req.src, options)) reply({ type: 'token', id: req.id, token });
      reply({ type: 'done', id: req.id });
    }
  } catch (e) {
    if (!ctl.signal.aborted) fail(req.id, e);  // an aborted request: the main thread has settled it already
  } finally {
    running.delete(req.id);
  }
}

port.on('message', (m: WorkerRequest | WorkerControl) => {
  if (m.type === 'abort') running.get(m.id)?.abort();
  else void serve(m);
});
