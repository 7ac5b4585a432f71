// The example translation service (examples/translation-service.ts, behind examples/server.ts):
// batching of requests that arrive together, 400 with a reason, 503 when the queue is full.
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CharTokenizer, Seq2SeqTransformer, generate } from '../dist/index.js';
import { createTranslationService, type ServiceOptions, type TranslationService } from '../examples/translation-service.js';

const tokenizer = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz ']);
const model = new Seq2SeqTransformer({ srcVocab: tokenizer.vocabSize, tgtVocab: tokenizer.vocabSize, dModel: 32, heads: 2, ffDim: 64,
  encoderLayers: 1, decoderLayers: 2, maxLen: 64, dropout: 0, seed: 4 });

let service: TranslationService | null = null;
afterEach(async () => {
  if (service) {
    const closed = new Promise((r) => service!.server.close(r));
    service.server.closeAllConnections();  // fetch keeps connections alive: do not wait for their timeout
    await closed;
  }
  service = null;
});

async function start(o: Partial<ServiceOptions> = {}): Promise<string> {
  service = createTranslationService({ model, tokenizer, defaults: { maxNewTokens: 12 }, ...o });
  await new Promise<void>((r) => service!.server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}/translate`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe('translation service', () => {
  it('batches requests that arrive together and gives each its own translations', async () => {
    const url = await start({ waitMs: 100, maxBatch: 16 });
    const texts = ['hello', 'world', 'abcde', 'zyxwv', 'qrstu'];
    const replies = await Promise.all(texts.map((text) => post(url, { text, options: { numBeams: 2 } })));
    const direct = await generate(model, texts, { tokenizer, maxNewTokens: 12, numBeams: 2 });
    replies.forEach((r, i) => {
      expect(r.status).toBe(200);
      const t = r.json.translations as { text: string; tokens: number[]; score: number }[];
      expect(t[0]!.tokens).toEqual([...direct.tokens[i]!]);
      expect(t[0]!.text).toBe(direct.texts![i]);
    });
    expect(Math.max(...replies.map((r) => r.json.batchSize as number))).toBeGreaterThan(1);
    // Requests with other options are not mixed into that batch.
    const [a, b] = await Promise.all([post(url, { text: 'hello' }), post(url, { texts: ['hello', 'abc'], options: { numBeams: 3, numReturnSequences: 2 } })]);
    expect(a.json.batchSize).toBe(1);
    expect(b.json.batchSize).toBe(2);
    expect((b.json.translations as unknown[][])[1]!.length).toBe(2);
  });

  it('answers 400 with the reason for bad requests', async () => {
    const url = await start();
    const cases: [unknown, RegExp][] = [
      ['{not json', /not JSON/],
      [[1, 2], /object/],
      [{}, /exactly one of text, texts or ids/],
      [{ text: 'a', texts: ['b'] }, /exactly one/],
      [{ text: '   ' }, /empty/],
      [{ texts: [] }, /1 to 32 sources/],
      [{ text: 'a', extra: 1 }, /unknown field 'extra'/],
      [{ text: 'a', options: { numBeams: 0 } }, /numBeams/],
      [{ text: 'a', options: { doSample: true, temperature: -1 } }, /temperature/],
      [{ text: 'a', options: { maxNewTokens: 1000 } }, /maxNewTokens/],
      [{ text: 'a', options: { signal: 1 } }, /options.signal/],
      [{ ids: [[3, 999]] }, /999/],
    ];
    for (const [body, reason] of cases) {
      const r = await post(url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatch(reason);
    }
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/translate`)).status).toBe(405);
    const big = await post(url, { text: 'a'.repeat(70000) });
    expect(big.status).toBe(413);
  });

  it('answers 503 when the queue is full, and recovers', async () => {
    const url = await start({ maxQueue: 2, maxRunning: 1, maxBatch: 1, waitMs: 0, defaults: { maxNewTokens: 60, minNewTokens: 60 } });
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => post(url, { text: `request ${String.fromCharCode(97 + i)}` })));
    const codes = replies.map((r) => r.status);
    expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(2);
    const over = replies.filter((r) => r.status === 503);
    expect(over.length).toBeGreaterThan(0);
    expect(over[0]!.json.error).toMatch(/overloaded/);
    expect(over[0]!.headers.get('retry-after')).toBe('1');
    expect((await post(url, { text: 'again' })).status).toBe(200);
    const health = await (await fetch(`${url}/health`)).json();
    expect(health).toEqual({ ok: true, queued: 0, running: 0 });
  });

  it('requests whose clients went away stop counting (their batch is aborted)', async () => {
    const url = await start({ maxQueue: 4, maxRunning: 1, waitMs: 0, defaults: { maxNewTokens: 60, minNewTokens: 60 } });
    const ctl = new AbortController();
    const gone = Array.from({ length: 4 }, (_, i) => fetch(`${url}/translate`, { method: 'POST', body: JSON.stringify({ text: `x${'abcd'[i]}` }), signal: ctl.signal }).catch(() => null));
    await new Promise((r) => setTimeout(r, 30));
    ctl.abort();
    await Promise.all(gone);
    let health: unknown = null;
    for (let i = 0; i < 100; ++i) {
      health = await (await fetch(`${url}/health`)).json();
      if ((health as { queued: number; running: number }).queued + (health as { running: number }).running === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(health).toEqual({ ok: true, queued: 0, running: 0 });
    expect((await post(url, { text: 'again' })).status).toBe(200);
  });
});
