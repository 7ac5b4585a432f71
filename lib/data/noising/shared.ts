// What the noising objectives share: the view of a vocabulary they need, option checks whose
// errors name the option, a counter-based generator keyed by (seed, epoch, example index), and
// the Poisson sampler of BART's span lengths. Everything draws from lib/data/rng.ts's Rng, so a
// noised example is a pure function of its ids, its options and its key.
import { Rng, mix32 } from '../rng.js';

/**
 * The vocabulary facts a noising function needs. A CharTokenizer or WordTokenizer (after
 * withMaskTokens) and a ByteLevelBpeTokenizer fit it as they are.
 */
export interface NoisingVocab {
  readonly vocabSize: number;
  /** `<mask>`: needed by 'mlm' and 'infill'. */
  readonly maskId?: number | undefined;
  /** `<extra_id_0>`, `<extra_id_1>`, ...: needed by 'span'. */
  readonly sentinelIds?: readonly number[];
  /** Special ids are never drawn as the random replacement of 'mlm'. */
  isSpecial(id: number): boolean;
}

/** A value in [0, 1], or a RangeError naming the option. */
export function checkRate(name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`${name}: expected a number in [0, 1], got ${String(v)}`);
  return v;
}

export function checkPositiveNumber(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${name}: expected a finite number > 0, got ${String(v)}`);
  return v;
}

/** The `<mask>` id of `vocab`, or a TypeError saying which objective needs it and how to add one. */
export function requireMaskId(vocab: NoisingVocab, objective: string): number {
  const id = vocab.maskId;
  if (id === undefined) {
    throw new TypeError(`tokenizer: objective '${objective}' needs a <mask> token and this tokenizer has none (add one with withMaskTokens(tokenizer))`);
  }
  if (!Number.isInteger(id) || id < 0 || id >= vocab.vocabSize) throw new RangeError(`tokenizer.maskId: ${id} is outside [0, ${vocab.vocabSize})`);
  return id;
}

export function checkTokenIds(ids: unknown): Int32Array {
  if (!(ids instanceof Int32Array)) throw new TypeError('ids: expected an Int32Array of token ids');
  return ids;
}

const poolCache = new WeakMap<NoisingVocab, Int32Array>();

/** The ids 'mlm' may draw as a random replacement: every id that is not special. Cached per vocabulary. */
export function randomTokenPool(vocab: NoisingVocab): Int32Array {
  let pool = poolCache.get(vocab);
  if (pool === undefined) {
    const ids: number[] = [];
    for (let id = 0; id < vocab.vocabSize; id++) if (!vocab.isSpecial(id)) ids.push(id);
    pool = Int32Array.from(ids);
    poolCache.set(vocab, pool);
  }
  return pool;
}

const TWO_32 = 4294967296;

function checkKey(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name}: expected a safe integer >= 0, got ${String(v)}`);
}

/**
 * A fresh generator for one (seed, epoch, example index): the "counter-based" draw of dynamic
 * masking. It depends on nothing else (not on batch order, batch size, threads or how many
 * examples came before), so a resumed run, or a different batching, noises each example the same.
 * `stream` separates independent uses of one key (0 for noising).
 */
export function keyedRng(seed: number, epoch: number, index: number, stream = 0): Rng {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed: expected a safe integer, got ${String(seed)}`);
  checkKey('epoch', epoch);
  checkKey('index', index);
  const key = [seed >>> 0, Math.floor(seed / TWO_32) >>> 0, epoch >>> 0, Math.floor(epoch / TWO_32) >>> 0,
    index >>> 0, Math.floor(index / TWO_32) >>> 0, stream >>> 0];
  const s: number[] = [];
  for (let w = 0; w < 4; w++) {
    // Each state word hashes the whole key from its own starting point (mix32 is a bijection, so
    // keys differing in any word give unrelated states).
    let h = mix32((0x9e3779b9 * (w + 1)) >>> 0);
    for (const k of key) h = mix32(((h ^ k) + 0x7f4a7c15) >>> 0);
    s.push(h);
  }
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
  return Rng.fromState({ algorithm: 'xoshiro128**', s: [s[0]!, s[1]!, s[2]!, s[3]!] });
}

/** A Poisson(lambda) draw (Knuth's product of uniforms: exact, and fast for BART's lambda of about 3). */
export function poisson(rng: Rng, lambda: number): number {
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rng.nextFloat();
  while (p > limit) {
    k++;
    p *= rng.nextFloat();
  }
  return k;
}

/** `k` distinct integers of [0, n), in random order (a partial Fisher-Yates over an index array). */
export function sampleDistinct(rng: Rng, n: number, k: number): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = all[i]!; all[i] = all[j]!; all[j] = t;
  }
  return all.slice(0, k);
}

/** Reject option keys an objective does not have, so a typo (or another objective's option) is not silently ignored. */
export function checkKnownKeys(options: object, known: readonly string[], objective: string): void {
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new TypeError(`noising.${k}: not an option of objective '${objective}' (its options: ${known.join(', ')})`);
  }
}
