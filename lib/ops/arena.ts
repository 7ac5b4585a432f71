// Reusable Float32Array buffers for the activations and gradients of one training step, so a
// step does not churn the garbage collector: take() hands out a free buffer of the exact length
// (or makes one), releaseAll() at the end of the step returns every buffer handed out since.
// Buffers are not zeroed: every op writes all of its output.

export class Arena {
  private free = new Map<number, Float32Array[]>();
  // In use since the last releaseAll, in the order taken (a Set: recycle removes one in O(1)).
  private used = new Set<Float32Array>();
  // Every buffer this arena made, by its memory, so a view handed out can be recycled.
  private owner = new WeakMap<ArrayBufferLike, Float32Array>();

  /**
   * Buffers come in size classes (steps of 1/8 of a power of two), so batches padded to different
   * lengths reuse the same buffers instead of growing one free list per exact length. The caller
   * gets an exact-length view.
   */
  private static sizeClass(n: number): number {
    if (n <= 64) return 64;
    const step = 2 ** Math.max(0, Math.floor(Math.log2(n)) - 3);
    return Math.ceil(n / step) * step;
  }

  take(length: number): Float32Array {
    const size = Arena.sizeClass(length);
    const list = this.free.get(size);
    let buf = list && list.length > 0 ? list.pop() : undefined;
    if (!buf) {
      buf = new Float32Array(size);
      this.owner.set(buf.buffer, buf);
    }
    this.used.add(buf);
    return buf.length === length ? buf : buf.subarray(0, length);
  }

  /**
   * Returns one buffer (or a view take() handed out) before the step ends, because nothing will
   * read it again: a gradient whose producer's backward has run. The next take() of its size gets
   * it back while it is still in cache, instead of a buffer whose every line is a store miss.
   * Buffers of another arena, or already free, are ignored.
   */
  recycle(view: Float32Array): void {
    const buf = this.owner.get(view.buffer);
    if (!buf || !this.used.delete(buf)) return;
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
  }

  /** A buffer filled with zeros. */
  zeros(length: number): Float32Array {
    return this.take(length).fill(0);
  }

  releaseAll(): void {
    for (const buf of this.used) {
      let list = this.free.get(buf.length);
      if (!list) this.free.set(buf.length, (list = []));
      list.push(buf);
    }
    this.used.clear();
  }

  /** Drops every free buffer (memory goes back to the system). */
  trim(): void {
    this.free.clear();
  }

  /** Bytes held (free and in use), for memory reports. */
  get bytes(): number {
    let n = 0;
    for (const list of this.free.values()) for (const b of list) n += b.byteLength;
    for (const b of this.used) n += b.byteLength;
    return n;
  }
}

/** The arena ops allocate from. Training steps and generate() release it when they end. */
export let arena = new Arena();

/** Runs fn with a fresh arena (e.g. a concurrent generate that must not share buffers). */
export function withArena<T>(a: Arena, fn: () => T): T {
  const prev = arena;
  arena = a;
  try {
    return fn();
  } finally {
    arena = prev;
  }
}
