// Tensor (shape + storage) and the autograd tape. Storage sits behind a small interface tagged
// with its device so a GPU backend can slot in; only lib/ops/ and the data boundaries read a
// tensor's Float32Array.

export type Device = 'cpu';

/** Where a tensor's numbers live. */
export interface Storage {
  readonly device: Device;
  readonly length: number;
}

export class CpuStorage implements Storage {
  readonly device = 'cpu' as const;
  constructor(readonly data: Float32Array) {}
  get length(): number {
    return this.data.length;
  }
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly storage: CpuStorage;
  /** Whether gradients flow to this tensor (parameters, and results of ops on them). */
  requiresGrad: boolean;
  /** Gradient of the loss with respect to this tensor, same size; null until backward reaches it. */
  grad: Float32Array | null = null;

  constructor(storage: CpuStorage, shape: readonly number[], requiresGrad = false) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== storage.length) throw new RangeError(`Tensor: shape [${shape.join(', ')}] needs ${size} elements, storage has ${storage.length}`);
    this.storage = storage;
    this.shape = shape;
    this.requiresGrad = requiresGrad;
  }

  static fromArray(data: Float32Array, shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(new CpuStorage(data), shape, requiresGrad);
  }

  static zeros(shape: readonly number[], requiresGrad = false): Tensor {
    return Tensor.fromArray(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, requiresGrad);
  }

  get size(): number {
    return this.storage.length;
  }

  /** A copy of the values (the boundary where storage becomes a plain typed array). */
  toFloat32Array(): Float32Array {
    return new Float32Array(this.storage.data);
  }
}

/** One recorded op: runs its backward, reading its output's grad and adding into its inputs'. */
export type BackwardFn = () => void;

class Tape {
  enabled = true;
  /** Called after each backward entry (lib/ops/grad.ts: releases the gradients it consumed). */
  afterEntry: (() => void) | null = null;
  /** Called when a backward pass ends, normally or not (lib/ops/grad.ts: forgets shared buffers). */
  afterRun: (() => void) | null = null;
  private entries: BackwardFn[] = [];

  record(fn: BackwardFn): void {
    this.entries.push(fn);
  }

  /** Runs every recorded backward in reverse order, then forgets them. */
  run(): void {
    const entries = this.entries;
    this.entries = [];
    try {
      for (let i = entries.length - 1; i >= 0; --i) {
        entries[i]!();
        this.afterEntry?.();
      }
    } finally {
      this.afterRun?.();
    }
  }

  clear(): void {
    this.entries = [];
  }
}

export const tape = new Tape();

/** Runs fn without recording anything for backward (evaluation, decoding). */
export function noGrad<T>(fn: () => T): T {
  const was = tape.enabled;
  tape.enabled = false;
  try {
    return fn();
  } finally {
    tape.enabled = was;
  }
}

/** Whether an op on these inputs must record its backward. */
export function needsGrad(...inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!tape.enabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}
