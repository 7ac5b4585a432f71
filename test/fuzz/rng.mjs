// Seeded randomness of the kernel fuzz (test/fuzz/). Every call of a run draws from its own
// generator, keyed by (run seed, call index), so any single call can be replayed on its own:
//   node --expose-gc test/fuzz/child.mjs --seed S --start I --end I+1 --verbose

/** mulberry32, as in test/helpers/random.ts (this code runs without a TypeScript loader). */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return function rand() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit key for call `index` of run `seed` (murmur3's finalizer over both). */
export function callSeed(seed, index) {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca6b) ^ Math.floor(index / 2 ** 32)) >>> 0;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

/** Helpers over one generator. */
export class Rng {
  constructor(seed, scale = 1) {
    this.seed = seed >>> 0;
    this.rand = mulberry32(seed);
    this.scale = scale;  // size multiplier of dim()
  }
  /** A new, independent generator drawn from this one (for a call built twice identically). */
  fork() { return Math.floor(this.rand() * 4294967296) >>> 0; }
  float() { return this.rand(); }
  int(lo, hi) { return lo + Math.floor(this.rand() * (hi - lo + 1)); }
  /** A size in [lo, hi * scale]. */
  dim(lo, hi) { return this.int(lo, hi * this.scale); }
  pick(a) { return a[Math.floor(this.rand() * a.length)]; }
  chance(p) { return this.rand() < p; }
  /** n floats in [-1, 1), or from `fill`. */
  f32(n, fill) {
    const a = new Float32Array(n);
    for (let i = 0; i < n; ++i) a[i] = fill ? fill(i) : this.rand() * 2 - 1;
    return a;
  }
  i32(n, lo, hi) {
    const a = new Int32Array(n);
    for (let i = 0; i < n; ++i) a[i] = this.int(lo, hi);
    return a;
  }
  u8(n, lo, hi) {
    const a = new Uint8Array(n);
    for (let i = 0; i < n; ++i) a[i] = this.int(lo, hi);
    return a;
  }
}
