// Mask arrays built ahead of time, with exactly the semantics of the attention kernel's dynamic
// masks (DESIGN.md, "The attention kernel contract"): 1 = may attend, 0 = blocked; causal is
// aligned bottom-right (key j visible to query i iff j <= i + (tk - tq)). The kernel never needs
// these for causal/lengths (it derives them), but a static mask built here must give the same
// result, which is what parity tests, other backends and users' own masks rely on.

function checkSize(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name}: expected an integer >= 0, got ${String(v)}`);
}

/** Check lengths: an Int32Array of integers in [0, t]. */
export function checkLengths(name: string, lengths: Int32Array, t: number): void {
  if (!(lengths instanceof Int32Array)) throw new TypeError(`${name}: expected an Int32Array`);
  for (let b = 0; b < lengths.length; b++) {
    const n = lengths[b] as number;
    if (n < 0 || n > t) throw new RangeError(`${name}[${b}]: expected a length in [0, ${t}], got ${n}`);
  }
}

/**
 * [tq * tk] row-major: m[i * tk + j] = 1 iff j <= i + (tk - tq). With tq < tk (a decoder step
 * over a KV cache) the last query row sees every key; with tq > tk the first tq - tk rows see none.
 */
export function causalMask(tq: number, tk: number): Uint8Array {
  checkSize('tq', tq);
  checkSize('tk', tk);
  const m = new Uint8Array(tq * tk);
  for (let i = 0; i < tq; i++) {
    const last = Math.min(tk - 1, i + (tk - tq)); // last visible key of row i (may be < 0: none)
    if (last >= 0) m.fill(1, i * tk, i * tk + last + 1);
  }
  return m;
}

/** [B * t]: m[b * t + j] = 1 iff j < lengths[b] (the kernel's keyLengths / keyMask layout). */
export function paddingMask(lengths: Int32Array, t: number): Uint8Array {
  checkSize('t', t);
  checkLengths('lengths', lengths, t);
  const m = new Uint8Array(lengths.length * t);
  for (let b = 0; b < lengths.length; b++) m.fill(1, b * t, b * t + (lengths[b] as number));
  return m;
}

/** The dynamic-mask options of one attention call, as the kernel takes them. */
export interface DenseMaskOptions {
  batch: number;
  qLen: number;
  kvLen: number;
  causal?: boolean;
  keyLengths?: Int32Array;
  keyMask?: Uint8Array;
  queryLengths?: Int32Array;
}

/**
 * The static mask [batch, qLen, kvLen] (heads broadcast) equal to the given dynamic masks: every
 * constraint must hold, and padded query rows (i >= queryLengths[b]) are all 0, which the kernel
 * turns into the same out = 0, lse = -Infinity as queryLengths. Costs batch * qLen * kvLen bytes,
 * so it is meant for tests and small shapes; pass the dynamic options to the kernel instead.
 */
export function denseAttentionMask(o: DenseMaskOptions): Uint8Array {
  const { batch, qLen, kvLen } = o;
  checkSize('batch', batch);
  checkSize('qLen', qLen);
  checkSize('kvLen', kvLen);
  for (const [name, arr] of [['keyLengths', o.keyLengths], ['queryLengths', o.queryLengths]] as const) {
    if (arr === undefined) continue;
    if (arr.length !== batch) throw new RangeError(`${name}: expected length ${batch}, got ${arr.length}`);
    checkLengths(name, arr, name === 'keyLengths' ? kvLen : qLen);
  }
  if (o.keyMask !== undefined) {
    if (!(o.keyMask instanceof Uint8Array)) throw new TypeError('keyMask: expected a Uint8Array');
    if (o.keyMask.length !== batch * kvLen) throw new RangeError(`keyMask: expected length ${batch * kvLen}, got ${o.keyMask.length}`);
    const bad = o.keyMask.findIndex((x) => x > 1); // the kernel rejects these too
    if (bad >= 0) throw new RangeError(`keyMask[${bad}]: expected 0 or 1, got ${o.keyMask[bad]}`);
  }
  const causal = o.causal === true ? causalMask(qLen, kvLen) : undefined;
  const m = new Uint8Array(batch * qLen * kvLen);
  for (let b = 0; b < batch; b++) {
    const kLen = o.keyLengths ? (o.keyLengths[b] as number) : kvLen;
    const qValid = o.queryLengths ? (o.queryLengths[b] as number) : qLen;
    for (let i = 0; i < qValid; i++) {
      const row = (b * qLen + i) * kvLen;
      for (let j = 0; j < kLen; j++) {
        if (causal && causal[i * kvLen + j] === 0) continue;
        if (o.keyMask && o.keyMask[b * kvLen + j] === 0) continue;
        m[row + j] = 1;
      }
    }
  }
  return m;
}
