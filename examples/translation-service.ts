// The HTTP translation service of examples/server.ts, as a function (the tests start it in-process).
//
//   POST /translate  {"text": "..."} or {"texts": ["...", ...]} or {"ids": [[...], ...]},
//                    optional "options": {numBeams, maxNewTokens, lengthPenalty, ...} (generate's
//                    options, without signal/tokenizer)
//     200 {"translations": [{"text", "tokens", "score", "finished"}, ...], "batchSize", "ms"}
//     400 {"error": reason}   bad JSON or UTF-8, missing/empty text, a bad option or one beyond the
//                             server's limits (generate's own message, naming the limit)
//     413 body too large; 404/405 unknown path or method
//     503 {"error": "overloaded"} + Retry-After, when the queue is full
//     504 {"error": "deadline exceeded: ..."} when no answer was ready within the request's
//         deadline (timeoutMs, or the request's smaller options.timeoutMs); its decoding is stopped
//   GET /health      {"ok": true, "queued", "running"}
//
// Limits: every request is checked against generate's limits (options.limits) as this server sets
// them (limits: maxBeams 16 by default, the rest generate's defaults), so one request cannot ask
// for hours of decoding; and every request has a deadline (timeoutMs, default 10 s, from when its
// body was read): past it the client gets 504 at once and the batch is aborted within one decoding
// step once none of its requests still waits, so a costly request holds the others for at most
// its deadline.
//
// Batching: requests with the same options that arrive within waitMs of the first one (or until
// maxBatch sources are waiting) are decoded by one generate call, each getting its own rows back.
// At most maxRunning generates run at once (they interleave step by step on the main thread, see
// lib/decode/engine.ts: more would not add throughput, only latency); at most maxQueue requests
// wait or run, the next gets 503. A batch whose clients all went away is aborted.
import http from 'node:http';
import { checkGenerate, type GenerateOptions, type GenerateResult, type Seq2SeqTransformer, type Tokenizer } from '../dist/index.js';

/** generate's limits (GenerateLimits): maxBeams, maxNewTokens, maxSourceTokens, maxBatch, maxRows. */
export type ServiceLimits = NonNullable<GenerateOptions['limits']>;

export interface ServiceOptions {
  model: Seq2SeqTransformer;
  /** Needed for text requests; id requests work without. */
  tokenizer?: Tokenizer;
  /** Most sources in one generate call. Default 16. */
  maxBatch?: number;
  /** How long the first request of a batch waits for others (ms). Default 5. */
  waitMs?: number;
  /** Requests waiting or running at once; the next gets 503. Default 64. */
  maxQueue?: number;
  /** Concurrent generate calls. Default 2. */
  maxRunning?: number;
  /** Largest request body (bytes). Default 64 KiB. */
  maxBodyBytes?: number;
  /** Sources per request. Default 32. */
  maxSources?: number;
  /** Default decoding options, merged under each request's. */
  defaults?: GenerateOptions;
  /**
   * The limits each request is checked against (a request beyond one gets 400 naming it), over
   * generate's defaults: { maxBeams: 16 } unless given. A batch of requests never has more rows
   * (sources x beams) than limits.maxRows, nor more sources than maxBatch or one request's.
   */
  limits?: ServiceLimits;
  /**
   * Each request's deadline in ms, from when its body was read: past it the request gets 504 and
   * its decoding stops. A request may ask for a shorter one with options.timeoutMs. Default 10000.
   */
  timeoutMs?: number;
}

type Options = Omit<GenerateOptions, 'signal' | 'tokenizer'>;
const OPTION_KEYS = new Set(['maxNewTokens', 'minNewTokens', 'numBeams', 'lengthPenalty', 'earlyStopping', 'numReturnSequences',
  'noRepeatNgramSize', 'repetitionPenalty', 'doSample', 'temperature', 'topK', 'topP', 'seed', 'timeoutMs']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

interface Job {
  sources: (string | number[])[];
  options: Options;
  /** Decoder rows per source: numBeams in beam search, numReturnSequences otherwise. */
  rowsPerSource: number;
  resolve: (r: { result: GenerateResult; batchSize: number }) => void;
  reject: (e: unknown) => void;
  /** The client is still waiting (false once it went away or its deadline passed). */
  live: boolean;
}

interface Batch {
  key: string;
  options: Options;
  jobs: Job[];
  sources: number;
  rows: number;
  timer: NodeJS.Timeout | null;
}

export interface TranslationService {
  server: http.Server;
  /** Requests waiting (in a batch not started) and running. */
  stats(): { queued: number; running: number };
}

export function createTranslationService(o: ServiceOptions): TranslationService {
  const { model, tokenizer } = o;
  const maxBatch = o.maxBatch ?? 16, waitMs = o.waitMs ?? 5, maxQueue = o.maxQueue ?? 64, maxRunning = o.maxRunning ?? 2;
  const maxBody = o.maxBodyBytes ?? 65536, maxSources = o.maxSources ?? 32;
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) throw new RangeError(`timeoutMs must be a number of ms in (0, ${2 ** 31 - 1}], got ${timeoutMs}`);
  const limits: ServiceLimits = { maxBeams: 16, ...o.limits };
  const maxRows = limits.maxRows ?? 1024;
  // A batch is built within maxBatch sources and maxRows rows (or is one request, checked alone).
  const batchLimits: ServiceLimits = { ...limits, maxBatch: Infinity, maxRows: Infinity };
  try {  // the defaults must fit the limits, or every request would fail
    checkGenerate(model, [[0]], { ...o.defaults, limits });
  } catch (e) {
    throw new RangeError(`defaults do not fit the limits: ${(e as Error).message}`);
  }
  const open = new Map<string, Batch>();   // batches still collecting requests, by options
  const ready: Batch[] = [];               // batches closed, waiting for a free generate slot
  let running = 0, runningRequests = 0;    // generate calls running, and the requests they serve
  let inFlight = 0;                        // requests accepted that their batch has not let go yet

  function dispatch(): void {
    while (running < maxRunning && ready.length > 0) {
      const b = ready.shift()!;
      const live = b.jobs.filter((j) => j.live);
      // Clients that left while waiting: settle their requests so they stop counting as in flight.
      for (const j of b.jobs) if (!j.live) j.reject(new DOMException('the client went away', 'AbortError'));
      if (live.length === 0) continue;
      running++;
      runningRequests += live.length;
      const ctl = new AbortController();
      // Abort when no client of the batch still waits (gone, or past its deadline): checked between steps by generate.
      const watch = setInterval(() => { if (live.every((j) => !j.live)) ctl.abort(); }, 20);
      const sources = live.flatMap((j) => j.sources);
      model.generate(sources, { ...o.defaults, ...b.options, limits: batchLimits, signal: ctl.signal, ...(tokenizer ? { tokenizer } : {}) }).then((result) => {
        const n = b.options.numReturnSequences ?? o.defaults?.numReturnSequences ?? 1;
        let at = 0;
        for (const j of live) {
          const k = j.sources.length;
          const part: GenerateResult = {
            sequences: result.sequences.slice(at, at + k), tokens: result.tokens.slice(at * n, (at + k) * n),
            scores: result.scores.slice(at * n, (at + k) * n), ...(result.texts ? { texts: result.texts.slice(at * n, (at + k) * n) } : {}),
          };
          at += k;
          j.resolve({ result: part, batchSize: sources.length });
        }
      }, (e: unknown) => { for (const j of live) j.reject(e); }).finally(() => {
        clearInterval(watch);
        running--;
        runningRequests -= live.length;
        dispatch();
      });
    }
  }

  function close(b: Batch): void {
    if (b.timer) clearTimeout(b.timer);
    open.delete(b.key);
    ready.push(b);
    dispatch();
  }

  function submit(job: Job): void {
    const key = JSON.stringify(Object.entries(job.options).sort(([a], [b]) => (a < b ? -1 : 1)));
    let b = open.get(key);
    const rows = job.sources.length * job.rowsPerSource;
    if (b && (b.sources + job.sources.length > maxBatch || b.rows + rows > maxRows)) {
      close(b);
      b = undefined;
    }
    if (!b) {
      b = { key, options: job.options, jobs: [], sources: 0, rows: 0, timer: null };
      open.set(key, b);
      const batch = b;
      b.timer = setTimeout(() => close(batch), waitMs);
    }
    b.jobs.push(job);
    b.sources += job.sources.length;
    b.rows += rows;
    if (b.sources >= maxBatch || b.rows >= maxRows) close(b);
  }

  function parse(bytes: Buffer): { sources: (string | number[])[]; options: Options } {
    let body: string, v: unknown;
    try {
      body = utf8.decode(bytes);
    } catch {
      throw new HttpError(400, 'body is not valid UTF-8');
    }
    try {
      v = JSON.parse(body);
    } catch (e) {
      throw new HttpError(400, `body is not JSON: ${(e as Error).message}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'body must be a JSON object');
    const r = v as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!['text', 'texts', 'ids', 'options'].includes(k)) throw new HttpError(400, `unknown field '${k}' (known: text, texts, ids, options)`);
    const given = ['text', 'texts', 'ids'].filter((k) => r[k] !== undefined);
    if (given.length !== 1) throw new HttpError(400, 'give exactly one of text, texts or ids');
    let sources: (string | number[])[];
    if (r.text !== undefined) sources = [r.text as string];
    else if (r.texts !== undefined) {
      if (!Array.isArray(r.texts)) throw new HttpError(400, 'texts must be an array of strings');
      sources = r.texts as string[];
    } else {
      if (!Array.isArray(r.ids) || !r.ids.every((x) => Array.isArray(x))) throw new HttpError(400, 'ids must be an array of arrays of token ids');
      sources = r.ids as number[][];
    }
    if (sources.length === 0 || sources.length > maxSources) throw new HttpError(400, `a request needs 1 to ${maxSources} sources, got ${sources.length}`);
    sources.forEach((s, i) => {
      if (typeof s === 'string') {
        if (!tokenizer) throw new HttpError(400, 'this server has no tokenizer: send ids');
        if (s.trim().length === 0) throw new HttpError(400, `source ${i} is empty`);
      } else if (!Array.isArray(s)) throw new HttpError(400, `source ${i} must be a string`);
    });
    const opt = r.options ?? {};
    if (typeof opt !== 'object' || opt === null || Array.isArray(opt)) throw new HttpError(400, 'options must be an object');
    for (const k of Object.keys(opt)) if (!OPTION_KEYS.has(k)) throw new HttpError(400, `options.${k} is not a decoding option this server takes`);
    return { sources, options: opt as Options };
  }

  // Options and sources are checked up front with generate's own validation, so a bad request
  // fails alone with generate's message instead of failing the batch it would have joined.
  // Returns the request's deadline (ms) and its options without timeoutMs (the service keeps the
  // deadline per request: a batch mixes requests of different deadlines).
  function validate(sources: (string | number[])[], options: Options): { options: Options; timeoutMs: number } {
    try {
      checkGenerate(model, sources, { ...o.defaults, ...options, limits, ...(tokenizer ? { tokenizer } : {}) });
    } catch (e) {
      // (a client cannot raise the limits: the hint to raise options.limits is the operator's)
      if (e instanceof TypeError || e instanceof RangeError) throw new HttpError(400, e.message.replace(/; ask for less, or raise it .*$/, '; ask for less (a limit of this server)'));
      throw e;
    }
    const { timeoutMs: asked, ...rest } = options;
    if (asked !== undefined && asked > timeoutMs)
      throw new HttpError(400, `options.timeoutMs = ${asked} is above this server's deadline of ${timeoutMs} ms`);
    return { options: rest, timeoutMs: asked ?? timeoutMs };
  }

  function rowsPerSource(options: Options): number {
    const m = { ...o.defaults, ...options };
    return (m.numBeams ?? 1) > 1 ? m.numBeams! : (m.numReturnSequences ?? 1);
  }

  async function translate(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBody) throw new HttpError(413, `body larger than ${maxBody} bytes`);
      chunks.push(c as Buffer);
    }
    const parsed = parse(Buffer.concat(chunks));
    if (inFlight >= maxQueue) throw new HttpError(503, 'overloaded: too many requests waiting, retry later', { 'Retry-After': '1' });
    const { options, timeoutMs: deadlineMs } = validate(parsed.sources, parsed.options);
    const sources = parsed.sources;
    const t0 = performance.now();
    let job: Job | null = null;
    // The request counts as in flight until its batch lets it go (a request past its deadline is
    // answered at once, but its rows run until the abort stops them, within one step).
    inFlight++;
    const work = new Promise<{ result: GenerateResult; batchSize: number }>((resolve, reject) => {
      job = { sources, options, rowsPerSource: rowsPerSource(options), resolve, reject, live: true };
      res.on('close', () => { if (!res.writableFinished) job!.live = false; });
      submit(job);
    });
    void work.then(() => {}, () => {}).then(() => { inFlight--; });
    let timer: NodeJS.Timeout | null = null;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        job!.live = false;  // its batch is aborted once no request of it waits
        reject(new HttpError(504, `deadline exceeded: no translation within ${deadlineMs} ms (the request's deadline); ` +
          'its decoding was stopped. Ask for less work (fewer sources, beams or new tokens) or retry later'));
      }, deadlineMs);
    });
    try {
      const { result, batchSize } = await Promise.race([work, expired]);
      const translations = result.sequences.map((list) => list.map((h) => ({
        ...(h.text !== undefined ? { text: h.text } : {}), tokens: [...h.tokens], score: h.score, finished: h.finished,
      })));
      return { translations: translations.map((l) => (l.length === 1 ? l[0] : l)), batchSize, ms: Math.round(performance.now() - t0) };
    } finally {
      clearTimeout(timer!);
    }
  }

  function stats(): { queued: number; running: number } {
    return { queued: inFlight - runningRequests, running: runningRequests };
  }

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/health') {
      if (req.method !== 'GET') return send(405, { error: 'use GET' }, { Allow: 'GET' });
      return send(200, { ok: true, ...stats() });
    }
    if (url !== '/translate') return send(404, { error: `no route ${url}; use POST /translate or GET /health` });
    if (req.method !== 'POST') return send(405, { error: 'use POST' }, { Allow: 'POST' });
    translate(req, res).then((body) => send(200, body), (e: unknown) => {
      if (e instanceof HttpError) send(e.status, { error: e.message }, e.headers);
      else if (e instanceof DOMException && e.name === 'AbortError') send(499, { error: 'cancelled' });
      else if (e instanceof DOMException && e.name === 'TimeoutError') send(504, { error: `deadline exceeded: ${e.message}` });
      else send(500, { error: `internal error: ${(e as Error).message}` });
    });
  });
  return { server, stats };
}
