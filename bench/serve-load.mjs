#!/usr/bin/env node
// node bench/serve-load.mjs [--quick] [--seconds S] [--max-requests N] [--new-tokens T] [--wait-ms MS]
//
// Load test of examples/server.ts on 127.0.0.1 only: saves a random model of the decode benchmark's
// shape (dModel 256, 4 heads, ffDim 1024, 3+3 layers; a character vocabulary) to a temporary
// directory, starts the server on a free port (vite-node, so run `npm run build:ts` first), and at
// concurrency 1, 8 and 32 keeps that many clients sending one sentence each, back to back, for at
// most --seconds or --max-requests per level (bounded either way). Every request asks for exactly
// --new-tokens tokens (minNewTokens = maxNewTokens), so the work per request is fixed.
// Reports requests/s (answered 200s over the level's wall time), p50/p99 latency of the 200s, and
// 503s (queue full). The machine is shared and noisy: compare levels within one run.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const { CharTokenizer, Seq2SeqTransformer, saveModel, getNumThreads } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href);

const argv = process.argv.slice(2);
const flag = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
const quick = argv.includes('--quick');
const SECONDS = flag('--seconds', quick ? 3 : 10);
const MAX_REQUESTS = flag('--max-requests', quick ? 100 : 500);
const NEW_TOKENS = flag('--new-tokens', 16);
const WAIT_MS = flag('--wait-ms', 5);
const LEVELS = [1, 8, 32];

const SENTENCES = ['the cat sat on the mat', 'a quick brown fox', 'jumps over the lazy dog', 'hello world', 'good morning to you',
  'where is the station', 'i would like a coffee', 'see you tomorrow', 'the weather is fine today', 'how much is this'];

const tokenizer = CharTokenizer.fromTexts(SENTENCES);
const model = new Seq2SeqTransformer({ srcVocab: tokenizer.vocabSize, tgtVocab: tokenizer.vocabSize, dModel: 256, heads: 4, ffDim: 1024,
  encoderLayers: 3, decoderLayers: 3, maxLen: 128, dropout: 0, seed: 1 });
const dir = mkdtempSync(path.join(os.tmpdir(), 'attnode-serve-'));
await saveModel(dir, model, { tokenizer });

const server = spawn(path.join(root, 'node_modules', '.bin', 'vite-node'),
  [path.join(root, 'examples', 'server.ts'), '--', '--model', dir, '--host', '127.0.0.1', '--port', '0', '--wait-ms', String(WAIT_MS),
    '--max-batch', '32', '--max-queue', '256', '--max-new-tokens', String(NEW_TOKENS)],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
const stopServer = () => { if (server.exitCode === null) server.kill('SIGTERM'); };
process.on('exit', () => { stopServer(); rmSync(dir, { recursive: true, force: true }); });

const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the server did not start within 60 s')), 60000);
  server.on('exit', (code) => reject(new Error(`the server exited (${code})`)));
  readline.createInterface({ input: server.stdout }).on('line', (line) => {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
});

async function one(i) {
  const t0 = performance.now();
  const res = await fetch(`${base}/translate`, {
    method: 'POST',
    body: JSON.stringify({ text: SENTENCES[i % SENTENCES.length], options: { maxNewTokens: NEW_TOKENS, minNewTokens: NEW_TOKENS } }),
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - t0 };
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const rows = [];
await one(0);  // warm-up: first batch pays for code loading
for (const c of LEVELS) {
  const done = [];
  let sent = 0;
  const t0 = performance.now(), deadline = t0 + SECONDS * 1000;
  await Promise.all(Array.from({ length: c }, async () => {
    while (performance.now() < deadline && sent < MAX_REQUESTS) done.push(await one(sent++));
  }));
  const wall = (performance.now() - t0) / 1000;
  const ok = done.filter((d) => d.status === 200).map((d) => d.ms).sort((a, b) => a - b);
  rows.push({ c, requests: done.length, ok: ok.length, rejected: done.filter((d) => d.status === 503).length,
    other: done.filter((d) => d.status !== 200 && d.status !== 503).length, rps: ok.length / wall, p50: pct(ok, 50), p99: pct(ok, 99) });
}
stopServer();

console.log(`serve-load: examples/server.ts on ${base}, ${getNumThreads()} threads, ${os.cpus().length} CPUs, load average ` +
  `${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; model dModel 256, 4 heads, ffDim 1024, 3+3 layers, vocab ${tokenizer.vocabSize}; ` +
  `${NEW_TOKENS} new tokens per request, wait window ${WAIT_MS} ms; per level at most ${SECONDS} s or ${MAX_REQUESTS} requests`);
console.log('| concurrency | requests | 200 | 503 | other | requests/s | p50 ms | p99 ms |');
console.log('|------------:|---------:|----:|----:|------:|-----------:|-------:|-------:|');
for (const r of rows) {
  console.log(`| ${r.c} | ${r.requests} | ${r.ok} | ${r.rejected} | ${r.other} | ${r.rps.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`);
}
