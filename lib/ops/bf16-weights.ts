// bf16 copies of weight matrices (issue 18): with matrix precision 'bf16', the products that read a
// weight read its copy (2 bytes an element, already rounded) instead of the fp32 values. Rounding
// a bf16 value is exact, so on the 'avx512bf16' variant the results are bitwise those of the same
// products with fp32 weights rounded on the fly: a copy only saves memory traffic and rounding
// work. The holder of a set of copies keeps them current: the Trainer has its optimizer step write
// them (adamStepMulti's bf16Copies, in the same pass as the update); generate makes them at the
// start of a call. A set is used only inside withBf16Weights, so a stale copy cannot leak into
// work that did not ask for it.
import { kernels } from '../kernels.js';
import type { Tensor } from '../tensor.js';
import { matmulPrecision } from './precision.js';

export class Bf16Weights {
  // One copy per parameter buffer: fused projections keep their parts in one buffer and multiply by
  // the whole (lib/nn/module.ts fusedParameters), so a tensor's copy is the matching range of its
  // buffer's copy, whichever view of the buffer it is.
  private readonly copies = new Map<ArrayBufferLike, { src: Float32Array; bits: Uint16Array }>();

  /** Copies of the buffers of every given tensor with two or more dimensions (the matrices products read). */
  constructor(tensors: Iterable<Tensor>) {
    for (const t of tensors) {
      const d = t.storage.data;
      if (t.shape.length < 2 || this.copies.has(d.buffer)) continue;
      const src = new Float32Array(d.buffer, 0, d.buffer.byteLength / 4);
      this.copies.set(d.buffer, { src, bits: kernels.toBf16(src) });
    }
  }

  /** The copy of W's values, if this set has its buffer. */
  get(W: Tensor): Uint16Array | undefined {
    const d = W.storage.data, c = this.copies.get(d.buffer);
    return c ? c.bits.subarray(d.byteOffset / 4, d.byteOffset / 4 + d.length) : undefined;
  }

  /** Re-rounds every copy from its buffer's current values. */
  refresh(): void {
    for (const c of this.copies.values()) kernels.toBf16(c.src, c.bits);
  }

  /**
   * For each tensor, the range of its buffer's copy (null when its buffer has none): adamStepMulti's
   * bf16Copies, so each update rewrites what it changed. Every tensor of a copied buffer gets its
   * range, so no part of a copy is left stale.
   */
  copiesFor(tensors: readonly Tensor[]): (Uint16Array | null)[] {
    return tensors.map((t) => this.get(t) ?? null);
  }

  /** Bytes held by the copies. */
  get bytes(): number {
    let n = 0;
    for (const c of this.copies.values()) n += c.bits.byteLength;
    return n;
  }
}

let active: Bf16Weights | null = null;

/** Runs fn with `weights` as the copies bf16 products read (restored afterwards, also on a throw). */
export function withBf16Weights<T>(weights: Bf16Weights | null, fn: () => T): T {
  const before = active;
  active = weights;
  try {
    return fn();
  } finally {
    active = before;
  }
}

/**
 * What a product reads for weight W now: its bf16 copy when the matrix precision is 'bf16' and the
 * active set has one, else W's fp32 values.
 */
export function weightOperand(W: Tensor): Float32Array | Uint16Array {
  if (active && matmulPrecision() === 'bf16') {
    const c = active.get(W);
    if (c) return c;
  }
  return W.storage.data;
}
