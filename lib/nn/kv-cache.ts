// The key/value cache of incremental decoding (DESIGN.md, "Model contract"). Per decoder layer:
// - self-attention K/V of the positions the next query may see, compact [rows, stored, kvd] so the
//   attention kernel reads exactly those keys with no mask (its key-length mask still walks masked
//   tiles, so a preallocated [rows, capacity, kvd] slab with keyLengths would cost O(capacity) per
//   step). With a decoder window (issue 16) only the first `pinned` positions (global tokens) and
//   the last `recent` ones are kept: a sliding copy, so memory is bounded by the window;
// - cross-attention K/V of the encoder memory, [memoryRows, srcLen, kvd], computed once.
// A mixed decoder layer (decoderAttention 'mixed') has no cross-attention: its keys are [source;
// prefix] of each row, so its self buffer starts with the srcLen source K/V of the row's memory
// (pinned, never dropped) and the prefix is appended behind them.
// Appending a position re-lays the self K/V out into a spare buffer ([rows, t] -> [rows, t+1]):
// that copy is O(t) per step, like the attention itself, and it also applies any pending row
// selection (beam reordering, dropping finished rows) for free, and drops the position that left
// the window.
// Decoder rows come in groups of `group` consecutive rows that share one memory row (the beams of
// one source), so cross-attention runs as batch = memoryRows, qLen = group over shared K/V.

/** Which self-attention positions a layer keeps: the first `pinned` and the last `recent`. */
export interface KvRetention {
  pinned: number;
  /** Infinity: every position (full attention). */
  recent: number;
}

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
  /** Mask-Predict (DecoderKvCache.refinement): the memory's fused [k|v] projection [memoryRows * srcLen, 2 * kvd]. */
  crossKv: Float32Array = new Float32Array(0);
  private self: SelfKv = { k: new Float32Array(0), v: new Float32Array(0), spareK: new Float32Array(0), spareV: new Float32Array(0) };
  /** Positions per row in the self buffer (at most pinned + recent). */
  stored = 0;

  constructor(readonly kvd: number, readonly retention: KvRetention = { pinned: 0, recent: Infinity }) {}

  /** Cached self keys/values [rows, stored, kvd] (valid after the step's append). */
  selfKeys(rows: number): { k: Float32Array; v: Float32Array } {
    const n = rows * this.stored * this.kvd;
    return { k: this.self.k.subarray(0, n), v: this.self.v.subarray(0, n) };
  }

  /** Floats held by the self buffers (current and spare, keys and values): what the window bounds. */
  get selfFloats(): number {
    const s = this.self;
    return s.k.length + s.v.length + s.spareK.length + s.spareV.length;
  }

  /**
   * Appends one position per row: new row r = old row from[r] (identity when from is null) with
   * newK/newV [rows, kvd] (row r's key and value of the new position) behind it. When the row is
   * full (pinned + recent positions), the oldest position after the pinned ones is dropped.
   */
  append(from: Int32Array | null, rows: number, newK: Float32Array, newV: Float32Array): void {
    const d = this.kvd, { pinned, recent } = this.retention, old = this.stored;
    const drop = old + 1 > pinned + recent ? 1 : 0;  // one in, at most one out
    const kept = old - drop, len1 = kept + 1, need = rows * len1 * d;
    const s = this.self;
    if (s.spareK.length < need) {
      // Grow geometrically (appends are every step, reallocations should not be), but never past
      // what the window can hold, so a windowed cache's memory is exactly bounded.
      const bound = Number.isFinite(recent) ? rows * (pinned + recent) * d : Infinity;
      const cap = Math.max(need, Math.min(2 * s.spareK.length, bound));
      s.spareK = new Float32Array(cap);
      s.spareV = new Float32Array(cap);
    }
    const nk = s.spareK, nv = s.spareV;
    // Row layout: positions [0, head) as they are, then old positions [head + drop, old).
    const head = Math.min(pinned, kept) * d, tail = (kept - Math.min(pinned, kept)) * d;
    for (let r = 0; r < rows; ++r) {
      const so = (from ? from[r]! : r) * old * d;
      const o = r * len1 * d;
      if (head > 0) {
        nk.set(s.k.subarray(so, so + head), o);
        nv.set(s.v.subarray(so, so + head), o);
      }
      if (tail > 0) {
        const t0 = so + head + drop * d;
        nk.set(s.k.subarray(t0, t0 + tail), o + head);
        nv.set(s.v.subarray(t0, t0 + tail), o + head);
      }
      nk.set(newK.subarray(r * d, r * d + d), o + kept * d);
      nv.set(newV.subarray(r * d, r * d + d), o + kept * d);
    }
    this.self = { k: nk, v: nv, spareK: s.k, spareV: s.v };
    this.stored = len1;
  }

  /**
   * A mixed layer: starts every row's self buffer with its memory row's K/V (crossK/crossV, rows of
   * `group` consecutive decoder rows sharing one memory row), which then stay pinned at its front.
   * The memory K/V are not kept apart afterwards: the self buffer holds them.
   */
  prefillFromMemory(memoryRows: number, group: number, srcLen: number): void {
    const w = srcLen * this.kvd, rows = memoryRows * group;
    const k = new Float32Array(rows * w), v = new Float32Array(rows * w);
    for (let r = 0; r < rows; ++r) {
      const m = Math.floor(r / group);
      k.set(this.crossK.subarray(m * w, (m + 1) * w), r * w);
      v.set(this.crossV.subarray(m * w, (m + 1) * w), r * w);
    }
    this.self = { k, v, spareK: new Float32Array(0), spareV: new Float32Array(0) };
    this.stored = srcLen;
    this.crossK = new Float32Array(0);
    this.crossV = new Float32Array(0);
  }

  /** crossK and crossV [memoryRows, srcLen, kvd] from crossKv (a Mask-Predict cache asked for attention weights). */
  splitFusedMemory(): void {
    const d = this.kvd, rows = this.crossKv.length / (2 * d);
    if (this.crossK.length === rows * d) return;
    this.crossK = new Float32Array(rows * d);
    this.crossV = new Float32Array(rows * d);
    for (let r = 0; r < rows; ++r) {
      this.crossK.set(this.crossKv.subarray(2 * r * d, (2 * r + 1) * d), r * d);
      this.crossV.set(this.crossKv.subarray((2 * r + 1) * d, (2 * r + 2) * d), r * d);
    }
  }

  /** Keeps memory rows `from` (in that order; repeats allowed). */
  selectMemory(from: Int32Array, srcLen: number): void {
    if (this.crossKv.length > 0) {
      const w = srcLen * 2 * this.kvd, kv = new Float32Array(from.length * w);
      from.forEach((src, r) => kv.set(this.crossKv.subarray(src * w, src * w + w), r * w));
      this.crossKv = kv;
      this.crossK = new Float32Array(0);
      this.crossV = new Float32Array(0);
      return;
    }
    if (this.crossK.length === 0) return;  // a mixed layer: its memory K/V live in the self buffer
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
  /**
   * Mask-Predict's refinement passes (issue 15; Seq2SeqTransformer.startRefinement), or null for
   * incremental decoding. Each memory row is then one candidate whose `len` positions are its
   * `group` (= len) decoder rows, all fed at every pass: self-attention runs over the candidate's
   * first lengths[m] positions, bidirectionally, and keeps no K/V; only the cross-attention K/V of
   * the memory are cached (computed once per source, repeated for its candidates).
   */
  refinement: { len: number; lengths: Int32Array } | null = null;
  readonly layers: LayerKvCache[];

  /**
   * `retention`: which self-attention positions each layer keeps (default: all); a decoder window
   * keeps { pinned: globalTokens, recent: left + 1 }, a mixed layer { pinned: srcLen, recent: Infinity }.
   */
  constructor(layers: number, kvd: number, memoryRows: number, readonly group: number, readonly srcLen: number, srcLengths: Int32Array,
    srcMask: Uint8Array | null = null, retention?: KvRetention) {
    this.layers = Array.from({ length: layers }, () => new LayerKvCache(kvd, retention));
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

  /**
   * A Mask-Predict cache (refinement): continues with candidates `from` (memory rows, in that
   * order; repeats allowed), their cross K/V, source lengths and target lengths.
   */
  keepCandidates(from: Int32Array): void {
    const ref = this.refinement;
    if (!ref) throw new TypeError('DecoderKvCache.keepCandidates: not a Mask-Predict cache (refinement is null)');
    const G = this.group, rows = new Int32Array(from.length * G);
    from.forEach((m, i) => { for (let g = 0; g < G; ++g) rows[i * G + g] = m * G + g; });
    const lengths = Int32Array.from(from, (m) => ref.lengths[m]!);
    this.select(rows, from);
    this.pending = null;  // no self K/V to re-lay out
    this.refinement = { len: ref.len, lengths };
  }

  /**
   * The key mask [rows * (srcLen + tgtKeys)] of a mixed layer's step: row r's source keys as its
   * memory row's lengths and mask allow, then its tgtKeys cached target keys, all visible.
   */
  mixedKeyMask(tgtKeys: number): Uint8Array {
    const S = this.srcLen, kv = S + tgtKeys, m = new Uint8Array(this.rows * kv);
    for (let r = 0; r < this.rows; ++r) {
      const mem = Math.floor(r / this.group), len = this.srcLengths[mem]!, o = r * kv;
      if (this.srcMask) m.set(this.srcMask.subarray(mem * S, mem * S + len), o);
      else m.fill(1, o, o + len);
      m.fill(1, o + S, o + kv);
    }
    return m;
  }
}
