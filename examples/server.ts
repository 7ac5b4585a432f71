// An HTTP JSON translation service on node:http over a saved model (examples/translation-service.ts
// has the routes, batching, 400/503 rules). From the repository, after `npm run build:ts`:
//
//   npx vite-node examples/server.ts -- --model <dir> [--port 8080] [--host 127.0.0.1]
//       [--max-batch 16] [--wait-ms 5] [--max-queue 64] [--max-running 2] [--max-new-tokens 64] [--num-beams 1]
//       [--timeout-ms 10000] [--max-beams 16] [--new-tokens-limit N] [--max-source-tokens N]
//       [--max-sources 32] [--max-rows 1024]
//   npx vite-node examples/server.ts -- --demo      (a random tiny model with a character tokenizer)
//
// --max-new-tokens and --num-beams are the defaults of requests that do not say; the limits a
// request may not exceed (400 naming the limit) are --max-beams, --new-tokens-limit (default: the
// model's maxLen), --max-source-tokens (default: maxLen), --max-sources (per request) and
// --max-rows (sources x beams decoded together). --timeout-ms is each request's deadline: past it
// the request gets 504 and its decoding stops.
//
//   curl -s localhost:8080/translate -d '{"text": "hello", "options": {"numBeams": 4}}'
//
// <dir> is a model directory written by saveModel (config, weights, tokenizer). It prints
// "listening on http://HOST:PORT" once it accepts requests (--port 0 picks a free port).
import { CharTokenizer, Seq2SeqTransformer, loadModel, type Tokenizer } from '../dist/index.js';
import { createTranslationService } from './translation-service.js';

interface Args {
  model: string | null;
  demo: boolean;
  port: number;
  host: string;
  maxBatch: number;
  waitMs: number;
  maxQueue: number;
  maxRunning: number;
  maxNewTokens: number;
  numBeams: number;
  timeoutMs: number;
  maxSources: number;
  limits: { maxBeams: number; maxNewTokens?: number; maxSourceTokens?: number; maxRows: number };
}

function parseArgs(argv: string[]): Args {
  const a: Args = { model: null, demo: false, port: 8080, host: '127.0.0.1', maxBatch: 16, waitMs: 5, maxQueue: 64, maxRunning: 2, maxNewTokens: 64, numBeams: 1,
    timeoutMs: 10_000, maxSources: 32, limits: { maxBeams: 16, maxRows: 1024 } };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new RangeError(`${flag} needs a non-negative integer, got ${String(v)}`);
    return n;
  };
  const pos = (flag: string, v: string | undefined): number => {
    const n = num(flag, v);
    if (n < 1) throw new RangeError(`${flag} needs an integer >= 1, got ${String(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; ++i) {
    const f = argv[i]!;
    if (f === '--model') a.model = argv[++i] ?? null;
    else if (f === '--demo') a.demo = true;
    else if (f === '--port') a.port = num(f, argv[++i]);
    else if (f === '--host') a.host = argv[++i] ?? a.host;
    else if (f === '--max-batch') a.maxBatch = num(f, argv[++i]);
    else if (f === '--wait-ms') a.waitMs = num(f, argv[++i]);
    else if (f === '--max-queue') a.maxQueue = num(f, argv[++i]);
    else if (f === '--max-running') a.maxRunning = num(f, argv[++i]);
    else if (f === '--max-new-tokens') a.maxNewTokens = num(f, argv[++i]);
    else if (f === '--num-beams') a.numBeams = num(f, argv[++i]);
    else if (f === '--timeout-ms') a.timeoutMs = pos(f, argv[++i]);
    else if (f === '--max-sources') a.maxSources = pos(f, argv[++i]);
    else if (f === '--max-beams') a.limits.maxBeams = pos(f, argv[++i]);
    else if (f === '--new-tokens-limit') a.limits.maxNewTokens = pos(f, argv[++i]);
    else if (f === '--max-source-tokens') a.limits.maxSourceTokens = pos(f, argv[++i]);
    else if (f === '--max-rows') a.limits.maxRows = pos(f, argv[++i]);
    else throw new RangeError(`unknown argument ${f}`);
  }
  if (!a.model && !a.demo) throw new RangeError('give --model <dir> (a saveModel directory) or --demo');
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2).filter((x) => x !== '--'));
  let model: Seq2SeqTransformer, tokenizer: Tokenizer | undefined;
  if (args.model) {
    ({ model, tokenizer } = await loadModel(args.model));
  } else {
    tokenizer = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz .,']);
    model = new Seq2SeqTransformer({ srcVocab: tokenizer.vocabSize, tgtVocab: tokenizer.vocabSize, dModel: 64, heads: 4, ffDim: 128,
      encoderLayers: 2, decoderLayers: 2, maxLen: 128, dropout: 0 });
  }
  const maxNewTokens = Math.min(args.maxNewTokens, model.config.maxLen, args.limits.maxNewTokens ?? Infinity);
  const { server } = createTranslationService({
    model, ...(tokenizer ? { tokenizer } : {}), maxBatch: args.maxBatch, waitMs: args.waitMs, maxQueue: args.maxQueue,
    maxRunning: args.maxRunning, maxSources: args.maxSources, timeoutMs: args.timeoutMs, limits: args.limits,
    defaults: { maxNewTokens, numBeams: args.numBeams },
  });
  server.listen(args.port, args.host, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : args.port;
    console.log(`listening on http://${args.host}:${port}`);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`server: ${(e as Error).message}`);
  process.exit(1);
});
