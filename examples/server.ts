// An HTTP JSON translation service on node:http over a saved model (examples/translation-service.ts
// has the routes, batching, 400/503 rules). From the repository, after `npm run build:ts`:
//
//   npx vite-node examples/server.ts -- --model <dir> [--port 8080] [--host 127.0.0.1]
//       [--max-batch 16] [--wait-ms 5] [--max-queue 64] [--max-running 2] [--max-new-tokens 64] [--num-beams 1]
//   npx vite-node examples/server.ts -- --demo      (a random tiny model with a character tokenizer)
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
}

function parseArgs(argv: string[]): Args {
  const a: Args = { model: null, demo: false, port: 8080, host: '127.0.0.1', maxBatch: 16, waitMs: 5, maxQueue: 64, maxRunning: 2, maxNewTokens: 64, numBeams: 1 };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new RangeError(`${flag} needs a non-negative integer, got ${String(v)}`);
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
  const maxNewTokens = Math.min(args.maxNewTokens, model.config.maxLen);
  const { server } = createTranslationService({
    model, ...(tokenizer ? { tokenizer } : {}), maxBatch: args.maxBatch, waitMs: args.waitMs, maxQueue: args.maxQueue,
    maxRunning: args.maxRunning, defaults: { maxNewTokens, numBeams: args.numBeams },
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
