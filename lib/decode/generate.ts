// generate() and stream(): greedy search, sampling or beam search over a batch of sources, with
// the KV cache, cancellable with an AbortSignal or a deadline (options.timeoutMs), within the
// bounds of options.limits (options.ts). By default they run on the model's decoding worker
// thread (worker-client.ts), so the event loop never runs a decoding kernel; generateHere and
// streamHere are the same on the calling thread (see engine.ts for scheduling and buffers).
import type { Seq2SeqTransformer } from '../nn/seq2seq.js';
import { beamSearch } from './beam.js';
import { deadline, Engine } from './engine.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from './options.js';
import { greedyOrSample } from './search.js';
import { decodeMethod, maskPredict, maskPredictSettings } from './mask-predict.js';
import { decodeWorkerFor } from './worker-client.js';
import { padSources, type PaddedSources, type SourceBatch } from './sources.js';
import type { GenerateResult, Hypothesis, StreamToken } from './types.js';

export type { GenerateLimits, GenerateOptions, GenerateTokenizer } from './options.js';
export type { Source, SourceBatch } from './sources.js';
export type { GenerateResult, Hypothesis, StreamToken } from './types.js';

function prepare(model: Seq2SeqTransformer, src: SourceBatch, options: GenerateOptions | undefined): {
  o: ResolvedOptions; s: PaddedSources; engine: Engine;
} {
  const o = resolveOptions(options, model.config.maxLen, model.config.tgtVocab);
  const s = padSources(src, model.config, o);
  decodeMethod(model, o, s.batch);
  return { o, s, engine: new Engine(model, o.signal, o.precision) };
}

/** Checks options and sources as generate does (TypeError/RangeError naming the culprit), without decoding. */
export function checkGenerate(model: Seq2SeqTransformer, src: SourceBatch, options?: GenerateOptions): void {
  prepare(model, src, options);
}

/** options with timeoutMs folded into signal (so the deadline runs once, on the calling thread). */
function withSignal(options: GenerateOptions | undefined, signal: AbortSignal | null): GenerateOptions {
  const { timeoutMs: _t, signal: _s, ...rest } = options ?? {};
  return signal ? { ...rest, signal } : rest;
}

/**
 * Generates for every source of the batch: greedy search (default), sampling (doSample) or beam
 * search (numBeams > 1). Resolves with ids, scores, texts (with a tokenizer) and, on request,
 * cross-attention weights; rejects with an AbortError when options.signal fires and with a
 * TimeoutError when options.timeoutMs passes (both checked between steps), with a
 * TypeError/RangeError naming a bad option or source, or a request beyond options.limits, before
 * any work.
 */
export async function generate(model: Seq2SeqTransformer, src: SourceBatch, options?: GenerateOptions): Promise<GenerateResult> {
  const o = resolveOptions(options, model.config.maxLen, model.config.tgtVocab);
  padSources(src, model.config, o);  // every bad option or source is named here, before any work
  decodeMethod(model, o, src.length);  // and a method the model cannot run
  const worker = o.thread === 'main' ? null : decodeWorkerFor(model, options);
  const d = deadline(o.signal, o.timeoutMs);
  try {
    const opts = o.timeoutMs === null ? options : withSignal(options, d.signal);
    if (worker) return await worker.generate(src, opts ?? {});
    return await generateHere(model, src, opts);
  } finally {
    d.dispose();
  }
}

/** generate() on this thread: the decoding steps run between event-loop turns (the worker runs this). */
export async function generateHere(model: Seq2SeqTransformer, src: SourceBatch, options?: GenerateOptions): Promise<GenerateResult> {
  const r = resolveOptions(options, model.config.maxLen, model.config.tgtVocab);
  if (r.timeoutMs !== null) {
    const d = deadline(r.signal, r.timeoutMs);
    try {
      return await generateHere(model, src, withSignal(options, d.signal));
    } finally {
      d.dispose();
    }
  }
  const { o, s, engine } = prepare(model, src, options);
  let sequences: Hypothesis[][];
  if (decodeMethod(model, o, s.batch) === 'mask-predict') {
    sequences = await maskPredict(engine, s, maskPredictSettings(o));
  } else if (o.numBeams > 1) {
    sequences = await beamSearch(engine, s, o, model.config, model.decoderStartId);
  } else {
    sequences = Array.from({ length: s.batch }, () => []);
    for await (const _ of greedyOrSample(engine, s, o, model.config, model.decoderStartId, sequences)) { /* run to the end */ }
  }
  const flat = sequences.flat();
  if (o.tokenizer) {
    const tok = o.tokenizer;
    for (const h of flat) h.text = tok.decode(h.tokens, { skipSpecial: true });
  }
  return {
    sequences, tokens: flat.map((h) => h.tokens), scores: flat.map((h) => h.score),
    ...(o.tokenizer ? { texts: flat.map((h) => h.text!) } : {}),
  };
}

/**
 * Yields tokens as they are made, step by step (every active row's token of a step, in row
 * order), for greedy search or sampling. Beam search cannot stream (its beams change until the
 * search ends, as in Hugging Face): numBeams > 1 throws a RangeError. Leaving the loop early stops
 * the generation; an abort makes the iterator throw an AbortError.
 */
export async function* stream(model: Seq2SeqTransformer, src: SourceBatch, options?: GenerateOptions): AsyncGenerator<StreamToken, void, undefined> {
  const r = resolveOptions(options, model.config.maxLen, model.config.tgtVocab);
  padSources(src, model.config, r);
  if (r.numBeams > 1) throw new RangeError('stream: options.numBeams > 1 is not supported (beam hypotheses change until the search ends); use generate');
  if (decodeMethod(model, r, src.length) === 'mask-predict') throw new RangeError("stream: method 'mask-predict' is not supported (every position may change until the last pass); use generate");
  const worker = r.thread === 'main' ? null : decodeWorkerFor(model, options);
  const d = deadline(r.signal, r.timeoutMs, 'stream');
  try {
    const opts = r.timeoutMs === null ? options : withSignal(options, d.signal);
    if (worker) yield* worker.stream(src, opts ?? {});
    else yield* streamHere(model, src, opts);
  } finally {
    d.dispose();
  }
}

/** stream() on this thread (the worker runs this). */
export async function* streamHere(model: Seq2SeqTransformer, src: SourceBatch, options?: GenerateOptions): AsyncGenerator<StreamToken, void, undefined> {
  const r = resolveOptions(options, model.config.maxLen, model.config.tgtVocab);
  if (r.timeoutMs !== null) {
    const d = deadline(r.signal, r.timeoutMs, 'stream');
    try {
      yield* streamHere(model, src, withSignal(options, d.signal));
    } finally {
      d.dispose();
    }
    return;
  }
  const { o, s, engine } = prepare(model, src, options);
  if (o.numBeams > 1) throw new RangeError('stream: options.numBeams > 1 is not supported (beam hypotheses change until the search ends); use generate');
  const sequences: Hypothesis[][] = Array.from({ length: s.batch }, () => []);
  const tok = o.tokenizer;
  for await (const events of greedyOrSample(engine, s, o, model.config, model.decoderStartId, sequences)) {
    for (const e of events) yield tok ? { ...e, text: tok.decode([e.token], { skipSpecial: true }) } : e;
  }
}
