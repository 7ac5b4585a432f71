// Seeded parameter initialisation: a small counter-free PRNG (mulberry32) so the same seed gives
// the same model on every machine.
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) ^ 0x6d2b79f5;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-12), v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** Glorot/Xavier uniform, as nn.Transformer initialises its projections. */
export function xavierUniform(a: Float32Array, fanIn: number, fanOut: number, rng: Rng): void {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < a.length; ++i) a[i] = (rng.next() * 2 - 1) * bound;
}

export function normalInit(a: Float32Array, std: number, rng: Rng): void {
  for (let i = 0; i < a.length; ++i) a[i] = rng.normal() * std;
}
