// Module: a named tree of parameters. Parameters own persistent gradient buffers, so linear and
// embedding backward accumulate into them in place.
import { CpuStorage, Tensor } from '../tensor.js';

/**
 * Storage for a parameter's values: on a SharedArrayBuffer where the platform has one, so a decoding
 * worker thread can read the very same weights (no copy, and updates from training show through).
 */
export function parameterData(n: number): Float32Array {
  return typeof SharedArrayBuffer === 'function' ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
}

// Parameters in the order they are created while a model is being built (see recordParameters).
let creationLog: Parameter[] | null = null;

export class Parameter extends Tensor {
  /**
   * trainable false: a fixed buffer saved with the model but never given a gradient or updated
   * (transformers' final_logits_bias); Module.trainableParameters() leaves it out.
   */
  constructor(data: Float32Array, shape: readonly number[], grad?: Float32Array, trainable = true) {
    super(new CpuStorage(data), shape, trainable);
    this.grad = grad ?? new Float32Array(data.length);
    creationLog?.push(this);
  }

  /** Makes this parameter read and write `data` (same length) from now on: a worker adopting shared weights. */
  rebind(data: Float32Array): void {
    if (data.length !== this.size) throw new RangeError(`Parameter.rebind: ${data.length} values for a parameter of ${this.size}`);
    (this as unknown as { storage: CpuStorage }).storage = new CpuStorage(data);
  }
}

/**
 * Records every Parameter created until the returned function is called, which returns them in
 * creation order. A model built twice from the same config creates its parameters in the same
 * order, which is how a worker matches its parameters with the main thread's.
 */
export function recordParameters(): () => Parameter[] {
  const outer = creationLog;
  const log: Parameter[] = [];
  creationLog = log;
  return () => {
    creationLog = outer;
    outer?.push(...log);
    return log;
  };
}

/** Parameters sharing one buffer (and one gradient buffer) laid out back to back: a fused
 * projection whose parts keep their own names. */
export function fusedParameters(shapes: readonly (readonly number[])[]): { whole: Parameter; parts: Parameter[] } {
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  const data = parameterData(total), grad = new Float32Array(total);
  const rows = shapes.reduce((a, s) => a + s[0]!, 0);
  const whole = new Parameter(data, shapes[0]!.length === 2 ? [rows, shapes[0]![1]!] : [total], grad);
  let off = 0;
  const parts = shapes.map((shape, i) => {
    const p = new Parameter(data.subarray(off, off + sizes[i]!), shape, grad.subarray(off, off + sizes[i]!));
    off += sizes[i]!;
    return p;
  });
  return { whole, parts };
}

export abstract class Module {
  private readonly params = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();

  protected param(name: string, p: Parameter): Parameter {
    this.params.set(name, p);
    return p;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Every parameter, named like `encoder.layers.0.self_attn.q_proj.weight`, in a fixed order. */
  namedParameters(prefix = ''): Map<string, Parameter> {
    const out = new Map<string, Parameter>();
    for (const [n, p] of this.params) out.set(prefix + n, p);
    for (const [n, c] of this.children) for (const [cn, p] of c.namedParameters(`${prefix}${n}.`)) out.set(cn, p);
    return out;
  }

  /** Distinct parameters (tied ones once). */
  parameters(): Parameter[] {
    return [...new Set(this.namedParameters().values())];
  }

  /** Distinct parameters an optimizer updates (fixed buffers left out). */
  trainableParameters(): Parameter[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad!.fill(0);
  }

  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }
}
