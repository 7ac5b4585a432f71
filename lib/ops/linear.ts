// y = x W^T + b, with W [out, in] (PyTorch layout). Forward: one GEMM whose epilogue adds the
// bias. Backward: dx = dy W (accumulated into x's gradient by the GEMM when it has one);
// dW += dy^T x with db += the column sums of dy computed while the GEMM packs dy^T, straight into
// the parameters' gradient buffers (beta = 1), so gradient accumulation over micro-batches is free.
import type { GemmOptions } from '../gemm.js';
import { kernels } from '../kernels.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, addIntoGrad, data, gradOf, scratch, setGradGate } from './grad.js';
import { weightOperand } from './bf16-weights.js';
import { matmulPrecision, precisionOpt } from './precision.js';

/** n bytes from the step arena (a ReLU's bit mask). */
function maskBuffer(n: number): Uint8Array {
  const f = arena.take(Math.ceil(n / 4));
  return new Uint8Array(f.buffer, f.byteOffset, n);
}

let ones = new Float32Array(0);
function onesOf(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(n).fill(1);
  return ones.subarray(0, n);
}

export interface LinearOptions {
  /** y = relu(x W^T + b (+ residual)), the ReLU applied by the GEMM's epilogue. */
  relu?: boolean;
  /** Added to y by the GEMM's epilogue (a residual connection), same shape as y. */
  residual?: Tensor | null;
}

export function linear(x: Tensor, W: Tensor, b: Tensor | null, opts: LinearOptions = {}): Tensor {
  const inF = W.shape[1]!, outF = W.shape[0]!;
  const rows = x.size / inF;
  if (!Number.isInteger(rows) || x.shape[x.shape.length - 1] !== inF)
    throw new RangeError(`linear: x's last dimension must be ${inF}, got shape [${x.shape.join(', ')}]`);
  const res = opts.residual ?? null;
  if (res && res.size !== rows * outF) throw new RangeError(`linear: residual must have ${rows * outF} elements, got ${res.size}`);
  const y = scratch([...x.shape.slice(0, -1), outF], needsGrad(x, W, b, res));
  const prec = precisionOpt(matmulPrecision());  // the backward's products use the forward's precision
  const Wop = weightOperand(W);  // W's bf16 copy when one is active (bf16-weights.ts), else W
  const gemmOpts: GemmOptions = { m: rows, n: outF, k: inF, transB: true, C: data(y), ...prec };
  if (b) gemmOpts.bias = data(b);
  if (res) gemmOpts.addend = data(res);
  let mask: Uint8Array | null = null;
  if (opts.relu) {
    gemmOpts.relu = true;
    if (y.requiresGrad) gemmOpts.reluMask = mask = maskBuffer(rows * Math.ceil(outF / 8));
  }
  kernels.gemm(data(x), Wop, gemmOpts);
  if (y.requiresGrad) {
    // With relu, y's gradient is kept with respect to the ReLU's input (see setGradGate): what
    // arrives here is dL/dz already.
    if (mask) setGradGate(y, { values: data(y), mask });
    tape.record(() => {
      const dy = gradOf(y);
      if (res) accGrad(res, dy, false);
      weightGrads(dy, data(x), W, b, 0, outF, rows, prec);
      addIntoGrad(x, (into, beta, gate) => kernels.gemm(dy, Wop, { m: rows, n: inF, k: outF, beta, C: into,
        ...(gate ? { gateMask: gate.mask } : {}), ...prec }));
    });
  }
  return y;
}

/**
 * Adds dy^T x into rows [o, o + w) of W's gradient and dy's column sums into the same entries of
 * b's (dy [rows, w], x [rows, in]): one GEMM, the bias gradient taken while it packs dy^T.
 */
export function weightGrads(dy: Float32Array, x: Float32Array, W: Tensor, b: Tensor | null, o: number, w: number,
  rows: number, prec: Pick<GemmOptions, 'precision'> = {}): void {
  const inF = W.shape[1]!;
  const db = b && b.requiresGrad ? gradOf(b).subarray(o, o + w) : null;
  if (W.requiresGrad) {
    const opts: GemmOptions = { m: w, n: inF, k: rows, transA: true, beta: 1, C: gradOf(W).subarray(o * inF, (o + w) * inF), ...prec };
    if (db) opts.rowSumsA = db;
    kernels.gemm(dy, x, opts);
  } else if (db) {
    kernels.gemm(onesOf(rows), dy, { m: 1, n: w, k: rows, beta: 1, C: db });
  }
}
