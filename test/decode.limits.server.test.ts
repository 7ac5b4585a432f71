// The translation service's limits and deadlines (examples/translation-service.ts): a request
// beyond a limit gets 400 at once, naming it; invalid UTF-8 and bad seeds get 400; a request past
// its deadline gets 504 and its decoding stops, so a costly request holds cheap ones for at most
// its deadline (plus a margin), however costly it is.
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Seq2SeqTransformer } from '../dist/index.js';
import { createTranslationService, type ServiceOptions, type TranslationService } from '../examples/translation-service.js';

// Slow enough that a 16-beam request over 16 sources and 250 tokens takes many seconds (about 29 s
// uncut on a 2-core machine, against the bounds of a few seconds below).
const model = new Seq2SeqTransformer({ srcVocab: 300, tgtVocab: 300, dModel: 128, heads: 4, ffDim: 512, encoderLayers: 1, decoderLayers: 3,
  maxLen: 256, dropout: 0, seed: 5 });
const COSTLY_IDS = Array.from({ length: 16 }, (_, i) => [3 + i, 4, 5, 6, 2]);
const COSTLY = { numBeams: 16, maxNewTokens: 250, minNewTokens: 250 };

let service: TranslationService | null = null;
afterEach(async () => {
  if (service) {
    const closed = new Promise((r) => service!.server.close(r));
    service.server.closeAllConnections();
    await closed;
  }
  service = null;
});

async function start(o: Partial<ServiceOptions> = {}): Promise<string> {
  service = createTranslationService({ model, defaults: { maxNewTokens: 12 }, ...o });
  await new Promise<void>((r) => service!.server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
}

interface Reply { status: number; json: Record<string, unknown>; ms: number }

async function post(url: string, body: unknown): Promise<Reply> {
  const t0 = performance.now();
  const res = await fetch(`${url}/translate`, { method: 'POST', body: body instanceof Uint8Array ? body : JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, json, ms: performance.now() - t0 };
}

async function idle(url: string): Promise<unknown> {
  let health: unknown = null;
  for (let i = 0; i < 150; ++i) {
    health = await (await fetch(`${url}/health`)).json();
    const h = health as { queued: number; running: number };
    if (h.queued === 0 && h.running === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return health;
}

const cheap = (i: number): unknown => ({ ids: [[3 + i, 7, 2]] });

describe('translation service limits', () => {
  it('answers 400 naming the limit, at once', async () => {
    const url = await start({ limits: { maxSourceTokens: 8 } });
    const cases: [unknown, RegExp][] = [
      [{ ids: [[3, 2]], options: { numBeams: 10000 } }, /numBeams = 10000 is above the limit options\.limits\.maxBeams = 16; ask for less \(a limit of this server\)$/],
      [{ ids: [[3, 2]], options: { numBeams: 17 } }, /maxBeams = 16/],
      [{ ids: [[3, 2]], options: { maxNewTokens: 1e9 } }, /maxNewTokens/],
      [{ ids: [new Array(9).fill(3)] }, /src\[0\]'s length in tokens = 9 .*maxSourceTokens = 8/],
      [{ ids: [[3, 2]], options: { doSample: true, seed: -1 } }, /options\.seed must be an integer in \[0, 9007199254740991\], got -1/],
      [{ ids: [[3, 2]], options: { doSample: true, seed: 1.5 } }, /options\.seed/],
      [{ ids: [[3, 2]], options: { doSample: true, numReturnSequences: 100000 } }, /maxRows/],
      [{ ids: [[3, 2]], options: { limits: { maxBeams: 1000 } } }, /options\.limits is not a decoding option this server takes/],
      [{ ids: [[3, 2]], options: { timeoutMs: 0 } }, /options\.timeoutMs must be/],
      [{ ids: [[3, 2]], options: { timeoutMs: 20_000 } }, /options\.timeoutMs = 20000 is above this server's deadline of 10000 ms/],
    ];
    for (const [body, reason] of cases) {
      const r = await post(url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatch(reason);
      expect(r.ms).toBeLessThan(3000);  // refused before any decoding (generous: the machine is shared)
    }
    expect(await idle(url)).toEqual({ ok: true, queued: 0, running: 0 });
  });

  it('answers 400 to a body that is not valid UTF-8', async () => {
    const url = await start();
    const enc = new TextEncoder();
    const invalid = [
      Uint8Array.from([...enc.encode('{"ids": [[3, 2]], "x": "'), 0xff, 0xfe, ...enc.encode('"}')]),  // bytes never in UTF-8
      Uint8Array.from([...enc.encode('{"ids": [[3, 2]], "x": "'), 0xed, 0xa0, 0x80, ...enc.encode('"}')]),  // an encoded surrogate
      Uint8Array.from([...enc.encode('{"ids": [[3, 2]], "x": "'), 0xc3]),  // truncated sequence
    ];
    for (const body of invalid) {
      const r = await post(url, body);
      expect(r.status).toBe(400);
      expect(r.json.error).toBe('body is not valid UTF-8');
    }
    expect((await post(url, enc.encode('{"ids": [[3, 2]]}'))).status).toBe(200);
  });

  it('refuses defaults beyond its limits when created', () => {
    expect(() => createTranslationService({ model, defaults: { numBeams: 32 } })).toThrow(/defaults do not fit the limits: .*maxBeams = 16/);
    expect(() => createTranslationService({ model, defaults: { numBeams: 32 }, limits: { maxBeams: 32 } })).not.toThrow();
    expect(() => createTranslationService({ model, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

describe('translation service deadlines', () => {
  it('a request past its deadline gets 504 and its decoding stops', async () => {
    const url = await start({ timeoutMs: 800 });
    const r = await post(url, { ids: COSTLY_IDS, options: COSTLY });
    expect(r.status).toBe(504);
    expect(r.json.error).toMatch(/deadline exceeded: no translation within 800 ms/);
    expect(r.ms).toBeGreaterThanOrEqual(790);
    expect(r.ms).toBeLessThan(800 + 3000);
    // Its batch is aborted within a step: the service is idle again at once (it would run for seconds).
    expect(await idle(url)).toEqual({ ok: true, queued: 0, running: 0 });
    // A request may ask for a shorter deadline than the server's.
    const short = await post(url, { ids: COSTLY_IDS, options: { ...COSTLY, timeoutMs: 300 } });
    expect(short.status).toBe(504);
    expect(short.json.error).toMatch(/within 300 ms/);
    expect(short.ms).toBeLessThan(300 + 3000);
  });

  it('costly requests hold cheap ones for at most their deadline plus a margin', async () => {
    const DEADLINE = 1000;  // the costly requests' own deadline; the cheap ones keep the server's 10 s
    const url = await start({ maxRunning: 2, waitMs: 5 });
    // A cheap request alone (warm, then the slower of two).
    await post(url, cheap(0));
    const alone = Math.max((await post(url, cheap(1))).ms, (await post(url, cheap(2))).ms);
    // Two costly requests (different options: two batches) take both generate slots; cheap
    // requests arrive while they run, some at once, some later. Uncut, the costly ones would run
    // for many seconds and the cheap ones would wait for them.
    const t0 = performance.now();
    const costly = [
      post(url, { ids: COSTLY_IDS, options: { ...COSTLY, timeoutMs: DEADLINE } }),
      post(url, { ids: COSTLY_IDS, options: { ...COSTLY, lengthPenalty: 0.5, timeoutMs: DEADLINE } }),
    ];
    await new Promise((r) => setTimeout(r, 100));
    const early = Array.from({ length: 3 }, (_, i) => post(url, cheap(3 + i)));
    await new Promise((r) => setTimeout(r, 400));
    const late = Array.from({ length: 3 }, (_, i) => post(url, cheap(6 + i)));
    const [c, e, l] = await Promise.all([Promise.all(costly), Promise.all(early), Promise.all(late)]);
    const total = performance.now() - t0;
    for (const r of c) {
      expect(r.status).toBe(504);  // cut by the deadline (so the bound below is a real test)
      expect(r.ms).toBeLessThan(DEADLINE + 3000);
    }
    // Every cheap request is answered, none later than the costly deadline plus a margin (generous:
    // the machine is shared), far from the seconds the costly requests would have run.
    const bound = DEADLINE + 3000 + Math.min(10 * alone, 3000);
    for (const r of [...e, ...l]) {
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.ms).toBeLessThan(bound);
    }
    expect(total).toBeLessThan(bound + 500);
    console.log(`cheap request alone ${alone.toFixed(0)} ms; beside two costly ones cut at ${DEADLINE} ms: ` +
      `${[...e, ...l].map((r) => r.ms.toFixed(0)).join(', ')} ms; costly answered 504 after ${c.map((r) => r.ms.toFixed(0)).join(', ')} ms`);
    expect(await idle(url)).toEqual({ ok: true, queued: 0, running: 0 });
    // And afterwards a cheap request is as fast as before (the costly decoding stopped).
    expect((await post(url, cheap(9))).ms).toBeLessThan(10 * alone + 1000);
  });
});
