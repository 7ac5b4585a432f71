// Shared pieces of test/model.sparse.test.ts and test/model.mixed.test.ts (issue 16): recomputation
// references in a chosen mask mode, a KV-cache-versus-recomputation check, and a compact
// whole-model gradient check (the method of test/model.gradcheck.test.ts: directional derivatives,
// Richardson-extrapolated central differences, error relative to |G|).
import type { Seq2SeqBatch } from '../../dist/data/batching.js';
import type { MaskMode } from '../../dist/nn/masks.js';
import type { Seq2SeqTransformer } from '../../dist/nn/seq2seq.js';
import * as ops from '../../dist/ops/index.js';
import { noGrad } from '../../dist/tensor.js';
import { lossAndGrads, lossOf } from './model.js';
import { Rng } from './random.js';

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Sources padded with pad into [B * S], and their lengths. */
export function padSources(sources: readonly (readonly number[])[], pad = 0): { src: Int32Array; lens: Int32Array; S: number } {
  const S = Math.max(...sources.map((s) => s.length));
  const src = new Int32Array(sources.length * S).fill(pad);
  sources.forEach((s, b) => src.set(s, b * S));
  return { src, lens: Int32Array.from(sources, (s) => s.length), S };
}

/** Logits of the token after each prefix (start token included), by full recomputation in `mode`. */
export function recompute(model: Seq2SeqTransformer, src: readonly number[], prefixes: readonly (readonly number[])[], mode: MaskMode): Float32Array[] {
  return noGrad(() => {
    const V = model.config.tgtVocab, B = prefixes.length, S = src.length, T = Math.max(...prefixes.map((p) => p.length));
    const srcIds = new Int32Array(B * S);
    for (let b = 0; b < B; ++b) srcIds.set(src, b * S);
    const srcLengths = new Int32Array(B).fill(S);
    const memory = model.encode(srcIds, srcLengths, B, S, { maskMode: mode });
    const tgt = new Int32Array(B * T), lens = Int32Array.from(prefixes, (p) => p.length);
    prefixes.forEach((p, b) => tgt.set(p, b * T));
    const logits = ops.data(model.decode(tgt, lens, memory, srcLengths, B, T, S, { maskMode: mode }));
    const out = prefixes.map((p, b) => logits.slice((b * T + p.length - 1) * V, (b * T + p.length) * V));
    ops.arena.releaseAll();
    return out;
  });
}

/**
 * Feeds random prefixes step by step through the KV cache (selecting rows by `select` before some
 * steps) and returns the worst difference of any step's logits from recomputation in `mode`;
 * `after(t)` sees the cache after each step (memory checks).
 */
export function cacheVsRecompute(model: Seq2SeqTransformer, sources: number[][], steps: number, seed: number, mode: MaskMode,
  select?: (t: number, rows: number) => Int32Array | null, after?: (cache: ReturnType<Seq2SeqTransformer['startDecoding']>, t: number) => void): number {
  const rng = new Rng(seed), V = model.config.tgtVocab, B = sources.length;
  const { src, lens, S } = padSources(sources);
  let worst = 0;
  noGrad(() => {
    const cache = model.startDecoding(model.encode(src, lens, B, S), lens, B, S, 1);
    ops.arena.releaseAll();  // the cache must not depend on arena buffers
    let rowSource = Array.from({ length: B }, (_, b) => b);
    let prefixes = rowSource.map(() => [model.decoderStartId]);
    for (let t = 0; t < steps; ++t) {
      const pick = select?.(t, prefixes.length) ?? null;
      if (pick) {
        cache.select(pick, pick);
        rowSource = Array.from(pick, (r) => rowSource[r]!);
        prefixes = Array.from(pick, (r) => prefixes[r]!.slice());
      }
      const tokens = Int32Array.from(prefixes, (p) => p[p.length - 1]!);
      const logits = ops.data(model.decodeStep(tokens, cache)).slice();
      ops.arena.releaseAll();
      after?.(cache, t);
      prefixes.forEach((p, r) => {
        const ref = recompute(model, sources[rowSource[r]!]!, [p], mode)[0]!;
        worst = Math.max(worst, maxDiff(logits.subarray(r * V, (r + 1) * V), ref));
        p.push(rng.int(3, V - 1));
      });
    }
  });
  return worst;
}

function unit(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  return v.map((x) => x / n);
}

function norm(g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < g.length; ++i) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

export interface GradCheckResult {
  worst: number;
  where: string;
  checks: number;
  /** Parameters (other than key biases, whose true gradient is 0) left with no gradient at all. */
  zero: string[];
}

/**
 * The worst |fd - an| / max(|G|, floor) over every parameter tensor, along a random direction,
 * G/|G| and the largest entry: fd is (L(W + h d) - L(W - h d)) / 2h Richardson-extrapolated from
 * h and h/2, an the same combination of G over the perturbations stored in float32.
 */
export async function gradCheck(model: Seq2SeqTransformer, b: Seq2SeqBatch, h: number, mode: MaskMode = 'dynamic'): Promise<GradCheckResult> {
  const floor = 2.5e-4 / h;
  const { grads } = await lossAndGrads(model, b, mode);
  const rng = new Rng(99), seen = new Set<unknown>(), zero: string[] = [];
  let total = 0;
  for (const g of grads.values()) total = Math.max(total, norm(g));
  let worst = 0, where = '', checks = 0;
  for (const [name, p] of model.namedParameters()) {
    if (seen.has(p) || !p.requiresGrad) continue;
    seen.add(p);
    const g = grads.get(name)!, gn = norm(g);
    if (!name.endsWith('k_proj.bias') && gn <= 1e-4 * total) zero.push(name);
    let imax = 0;
    for (let i = 1; i < g.length; ++i) if (Math.abs(g[i]!) > Math.abs(g[imax]!)) imax = i;
    const single = new Float64Array(p.size);
    single[imax] = 1;
    const dirs = [unit(Float64Array.from({ length: p.size }, () => rng.normal())), single];
    if (gn > 0) dirs.push(unit(Float64Array.from(g)));
    const w = p.storage.data, w0 = new Float32Array(w);
    for (const d of dirs) {
      const at = (step: number): { fd: number; an: number } => {
        for (let i = 0; i < w.length; ++i) w[i] = w0[i]! + step * d[i]!;
        const plus = new Float32Array(w), lp = lossOf(model, b, mode);
        for (let i = 0; i < w.length; ++i) w[i] = w0[i]! - step * d[i]!;
        const minus = new Float32Array(w), lm = lossOf(model, b, mode);
        w.set(w0);
        let an = 0;
        for (let i = 0; i < w.length; ++i) an += g[i]! * (plus[i]! - minus[i]!);
        return { fd: (lp - lm) / (2 * step), an: an / (2 * step) };
      };
      const x = at(h), y = at(h / 2);
      const err = Math.abs((4 * y.fd - x.fd) / 3 - (4 * y.an - x.an) / 3) / Math.max(gn, floor);
      ++checks;
      if (err > worst) { worst = err; where = name; }
    }
  }
  return { worst, where, checks, zero };
}
