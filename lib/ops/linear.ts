// y = x W^T + b, with W [out, in] (PyTorch layout). Forward: bias broadcast into y, then one GEMM
// with beta = 1. Backward: dx = dy W; dW += dy^T x and db += 1^T dy accumulate straight into the
// parameters' gradient buffers (beta = 1), so gradient accumulation over micro-batches is free.
import { kernels } from '../kernels.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

let ones = new Float32Array(0);
function onesOf(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(n).fill(1);
  return ones.subarray(0, n);
}

/** Fills rows x row.length of dst with copies of row: log2(rows) native copies, not one per row. */
export function broadcastRows(dst: Float32Array, row: Float32Array, rows: number): void {
  const total = rows * row.length;
  if (total === 0) return;
  dst.set(row, 0);
  for (let filled = row.length; filled < total; filled *= 2) dst.copyWithin(filled, 0, Math.min(filled, total - filled));
}

export function linear(x: Tensor, W: Tensor, b: Tensor | null): Tensor {
  const inF = W.shape[1]!, outF = W.shape[0]!;
  const rows = x.size / inF;
  if (!Number.isInteger(rows) || x.shape[x.shape.length - 1] !== inF)
    throw new RangeError(`linear: x's last dimension must be ${inF}, got shape [${x.shape.join(', ')}]`);
  const y = scratch([...x.shape.slice(0, -1), outF], needsGrad(x, W, b));
  const yd = data(y);
  if (b) broadcastRows(yd, data(b), rows);
  kernels.gemm(data(x), data(W), { m: rows, n: outF, k: inF, transB: true, beta: b ? 1 : 0, C: yd });
  if (y.requiresGrad) {
    tape.record(() => {
      const dy = gradOf(y);
      if (W.requiresGrad) kernels.gemm(dy, data(x), { m: outF, n: inF, k: rows, transA: true, beta: 1, C: gradOf(W) });
      if (b && b.requiresGrad) kernels.gemm(onesOf(rows), dy, { m: 1, n: outF, k: rows, beta: 1, C: gradOf(b) });
      if (x.requiresGrad) {
        const dx = arena.take(x.size);
        kernels.gemm(dy, data(W), { m: rows, n: inF, k: outF, C: dx });
        accGrad(x, dx, true);
      }
    });
  }
  return y;
}
