// A small deterministic PRNG for data order and built-in tasks. Math.random cannot be seeded or
// saved, and training must resume bit-identically at a data position, so everything that shuffles
// or samples in lib/data/ draws from this generator, whose whole state is four uint32 words.

/** The complete state of an {@link Rng}, a plain JSON value (save it with a checkpoint). */
export interface RngState {
  readonly algorithm: 'xoshiro128**';
  /** Four uint32 words, not all zero. */
  readonly s: readonly [number, number, number, number];
}

const TWO_32 = 4294967296;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** fmix32 of MurmurHash3: a bijective uint32 mixer, used for seeding and for hash-based splits. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit hash of a string (FNV-1a over UTF-16 code units, then mix32), stable across runs. */
export function hashString(text: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return mix32(h);
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed: expected a safe integer, got ${String(seed)}`);
}

/**
 * xoshiro128** seeded through splitmix32. Not cryptographic; fast, 2^128 - 1 period, and
 * the same seed gives the same stream on every platform (integer arithmetic only).
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** A generator seeded from a safe integer (negative and values above 2^32 are fine). */
  constructor(seed: number) {
    checkSeed(seed);
    // splitmix32 over both halves of the seed, so seeds that differ only above bit 31 differ.
    let x = ((seed >>> 0) ^ mix32(Math.floor(seed / TWO_32) >>> 0)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return mix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /** A generator continuing exactly from a saved {@link RngState}. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.restore(state);
    return r;
  }

  /** The current state, as a fresh plain object. */
  state(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0, this.s1, this.s2, this.s3] };
  }

  /** Continue from a saved state (checked: a corrupt state would silently change the data order). */
  restore(state: RngState): void {
    const v: unknown = state;
    if (typeof v !== 'object' || v === null) throw new TypeError('rng state: expected an object');
    const o = v as { algorithm?: unknown; s?: unknown };
    if (o.algorithm !== 'xoshiro128**') {
      throw new TypeError(`rng state.algorithm: expected 'xoshiro128**', got ${JSON.stringify(o.algorithm)}`);
    }
    const s = o.s;
    if (!Array.isArray(s) || s.length !== 4) throw new TypeError('rng state.s: expected an array of 4 uint32');
    for (let i = 0; i < 4; i++) {
      const w: unknown = s[i];
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w >= TWO_32) {
        throw new TypeError(`rng state.s[${i}]: expected a uint32, got ${JSON.stringify(w)}`);
      }
    }
    const [a, b, c, d] = s as number[];
    if ((a | b | c | d) === 0) throw new RangeError('rng state.s: all four words are zero (invalid xoshiro state)');
    this.s0 = a; this.s1 = b; this.s2 = c; this.s3 = d;
  }

  /** The next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextUint32() / TWO_32;
  }

  /** An integer uniform in [0, n), without modulo bias; 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) throw new RangeError(`n: expected an integer in [1, 2^32], got ${n}`);
    // Reject the top partial range so every residue is equally likely.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** An integer uniform in [lo, hi] (both inclusive). */
  intIn(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new RangeError(`intIn: expected integers lo <= hi, got ${lo}, ${hi}`);
    }
    return lo + this.int(hi - lo + 1);
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick: empty array');
    return items[this.int(items.length)] as T;
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<A extends { length: number; [i: number]: unknown }>(items: A): A {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}
