// Seeded random data for the tests: every case is reproducible from its seed (no Math.random).

/** mulberry32: a tiny 32-bit PRNG, good enough for test data and trivially reproducible. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(pTrue = 0.5): boolean {
    return this.next() < pTrue;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();  // (0, 1]: log stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** n normal values times `std`, as float32. */
export function randn(rng: Rng, n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; ++i) a[i] = rng.normal() * std;
  return a;
}

/** n bits, 1 with probability pOne. */
export function randomBits(rng: Rng, n: number, pOne: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; ++i) a[i] = rng.bool(pOne) ? 1 : 0;
  return a;
}

/** A float32 copy filled with NaN: an output buffer whose every element the kernel must write. */
export function poisoned(n: number): Float32Array {
  return new Float32Array(n).fill(NaN);
}
