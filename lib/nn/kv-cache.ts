// The key/value cache of incremental decoding (DESIGN.md, "Model contract"). Per decoder layer:
// - self-attention K/V of every position fed so far, compact [rows, length, kvd] so the attention
//   kernel reads exactly `length` keys (its key-length mask still walks masked tiles, so a
//   preallocated [rows, capacity, kvd] slab with keyLengths would cost O(capacity) per step);
// - cross-attention K/V of the encoder memory, [memoryRows, srcLen, kvd], computed once.
// Appending a position re-lays the self K/V out into a spare buffer ([rows, t] -> [rows, t+1]):
// that copy is O(t) per step, like the attention itself, and it also applies any pending row
// selection (beam reordering, dropping finished rows) for free.
// Decoder rows come in groups of `group` consecutive rows that share one memory row (the beams of
// one source), so cross-attention runs as batch = memoryRows, qLen = group over shared K/V.

/** Self-attention K/V of one layer: current and spare buffers (ping-pong). */
interface SelfKv {
  k: Float32Array;
  v: Float32Array;
  spareK: Float32Array;
  spareV: Float32Array;
}

/** One decoder layer's cache. */
export class LayerKvCache {
  /** Cross-attention keys and values [memoryRows, srcLen, kvd]; set once by the layer. */
  crossK: Float32Array = new Float32Array(0);
  crossV: Float32Array = new Float32Array(0);
  private self: SelfKv = { k: new Float32Array(0), v: new Float32Array(0), spareK: new Float32Array(0), spareV: new Float32Array(0) };

  constructor(readonly kvd: number) {}

  /** Cached self keys/values [rows, length, kvd] (valid after the step's append). */
  selfKeys(rows: number, length: number): { k: Float32Array; v: Float32Array } {
    const n = rows * length * this.kvd;
    return { k: this.self.k.subarray(0, n), v: this.self.v.subarray(0, n) };
  }

  /**
   * Appends one position per row: new row r = old row from[r] (identity when from is null) with
   * newK/newV [rows, kvd] (row r's key and value of the new position) behind it.
   */
  append(from: Int32Array | null, rows: number, length: number, newK: Float32Array, newV: Float32Array): void {
    const d = this.kvd, len1 = length + 1, need = rows * len1 * d;
    const s = this.self;
    if (s.spareK.length < need) {
      // Grow geometrically: appends are every step, reallocations should not be.
      const cap = Math.max(need, 2 * s.spareK.length);
      s.spareK = new Float32Array(cap);
      s.spareV = new Float32Array(cap);
    }
    const nk = s.spareK, nv = s.spareV;
    for (let r = 0; r < rows; ++r) {
      const src = from ? from[r]! : r;
      const o = r * len1 * d;
      if (length > 0) {
        const so = src * length * d;
        nk.set(s.k.subarray(so, so + length * d), o);
        nv.set(s.v.subarray(so, so + length * d), o);
      }
      nk.set(newK.subarray(r * d, r * d + d), o + length * d);
      nv.set(newV.subarray(r * d, r * d + d), o + length * d);
    }
    this.self = { k: nk, v: nv, spareK: s.k, spareV: s.v };
  }

  /** Keeps memory rows `from` (in that order; repeats allowed). */
  selectMemory(from: Int32Array, srcLen: number): void {
    const w = srcLen * this.kvd;
    const k = new Float32Array(from.length * w), v = new Float32Array(from.length * w);
    from.forEach((src, r) => {
      k.set(this.crossK.subarray(src * w, src * w + w), r * w);
      v.set(this.crossV.subarray(src * w, src * w + w), r * w);
    });
    this.crossK = k;
    this.crossV = v;
  }
}

/** The whole decoder's cache for one batch of sources being decoded together. */
export class DecoderKvCache {
  /** Positions cached so far: the position of the next token fed. */
  length = 0;
  /** Decoder rows in the active batch (memoryRows * group). */
  rows: number;
  /** Memory (source) rows in the active batch. */
  memoryRows: number;
  /** Source lengths of the memory rows (cross-attention key lengths). */
  srcLengths: Int32Array;
  /** Source key mask of the memory rows [memoryRows * srcLen] (1 = real token), or null: lengths alone. */
  srcMask: Uint8Array | null;
  /** Row selection to apply at the next append: new row r continues old row pending[r]. */
  pending: Int32Array | null = null;
  readonly layers: LayerKvCache[];

  constructor(layers: number, kvd: number, memoryRows: number, readonly group: number, readonly srcLen: number, srcLengths: Int32Array,
    srcMask: Uint8Array | null = null) {
    this.layers = Array.from({ length: layers }, () => new LayerKvCache(kvd));
    this.memoryRows = memoryRows;
    this.rows = memoryRows * group;
    this.srcLengths = Int32Array.from(srcLengths);
    this.srcMask = srcMask ? Uint8Array.from(srcMask) : null;
  }

  /**
   * Continues with a subset (or reordering, or repetition) of the rows: new row r continues old
   * row rows[r]. memoryRows (new memory row m = old memoryRows[m]) must be given when the set of
   * sources changes (finished sources dropped, sources repeated); rows must then stay grouped.
   * Self K/V are re-laid out lazily at the next append; cross K/V are gathered now.
   */
  select(rows: Int32Array, memoryRows?: Int32Array): void {
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`DecoderKvCache.select: row ${r} is outside [0, ${this.rows})`);
    const mem = memoryRows ?? null;
    const newMem = mem ? mem.length : this.memoryRows;
    if (rows.length !== newMem * this.group)
      throw new RangeError(`DecoderKvCache.select: ${rows.length} rows given, ${newMem} memory rows of ${this.group} rows each need ${newMem * this.group}`);
    if (mem) {
      for (const m of mem) if (!Number.isInteger(m) || m < 0 || m >= this.memoryRows) throw new RangeError(`DecoderKvCache.select: memory row ${m} is outside [0, ${this.memoryRows})`);
      for (const l of this.layers) l.selectMemory(mem, this.srcLen);
      this.srcLengths = Int32Array.from(mem, (m) => this.srcLengths[m]!);
      const old = this.srcMask, T = this.srcLen;
      if (old) {
        const next = new Uint8Array(mem.length * T);
        mem.forEach((m, i) => next.set(old.subarray(m * T, (m + 1) * T), i * T));
        this.srcMask = next;
      }
      this.memoryRows = newMem;
    }
    // Compose with a selection not yet applied.
    const prev = this.pending;
    this.pending = prev ? Int32Array.from(rows, (r) => prev[r]!) : Int32Array.from(rows);
    this.rows = rows.length;
  }
}
