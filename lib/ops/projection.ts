// A fused projection whose outputs are used separately (self-attention's q, k, v; cross-attention's
// k, v): W [sum(widths), in] and b [sum(widths)] are one parameter each, and each part of W is a
// contiguous block of rows. The parts are computed straight into separate contiguous outputs (one
// batched GEMM with x shared when the widths are equal), so no [rows, q|k|v] activation is split
// column by column and no gradient is merged back.
import { kernels } from '../kernels.js';
import { CpuStorage, needsGrad, tape, Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { addIntoGrad, data, gradOf } from './grad.js';
import { weightGrads } from './linear.js';
import { weightOperand } from './bf16-weights.js';
import { matmulPrecision, precisionOpt } from './precision.js';

export function projectParts(x: Tensor, W: Tensor, b: Tensor | null, widths: readonly number[]): Tensor[] {
  const inF = W.shape[1]!, total = W.shape[0]!;
  if (widths.reduce((a, w) => a + w, 0) !== total) throw new RangeError(`projectParts: widths sum to ${widths.reduce((a, w) => a + w, 0)}, W has ${total} rows`);
  const rows = x.size / inF;
  const grad = needsGrad(x, W, b);
  // One block, part after part: each part contiguous, and the block is the batched GEMM's C.
  const block = arena.take(rows * total);
  let at = 0;
  const parts = widths.map((w) => {
    const t = new Tensor(new CpuStorage(block.subarray(at, at + rows * w)), [...x.shape.slice(0, -1), w], grad);
    at += rows * w;
    return t;
  });
  const xd = data(x), Wd = weightOperand(W), bd = b ? data(b) : null;  // W's bf16 copy when one is active
  const offsets: number[] = [];
  widths.reduce((o, w) => (offsets.push(o), o + w), 0);
  const equal = widths.every((w) => w === widths[0]);
  const prec = precisionOpt(matmulPrecision());  // the backward's products use the forward's precision
  if (rows === 1) {
    // One row (a decoding step of one sequence): the part-after-part block is exactly the [1, total]
    // output of one product with all of W, the cheapest form of a GEMV.
    kernels.gemm(xd, Wd, { m: 1, n: total, k: inF, transB: true, C: block, ...(bd ? { bias: bd } : {}), ...prec });
  } else if (equal && parts.length > 1) {
    const w = widths[0]!;
    // C_i = x W_i^T + b_i for every part i in one call: A = x shared (strideA 0), B_i = rows of W,
    // b_i the matching slice of b.
    kernels.gemmBatched(xd, Wd, { batch: parts.length, m: rows, n: w, k: inF, transB: true,
      strideA: 0, strideB: w * inF, strideC: rows * w, C: block, ...(bd ? { bias: bd, strideBias: w } : {}), ...prec });
  } else {
    parts.forEach((p, i) => {
      const o = offsets[i]!, w = widths[i]!;
      kernels.gemm(xd, Wd.subarray(o * inF, (o + w) * inF),
        { m: rows, n: w, k: inF, transB: true, C: data(p), ...(bd ? { bias: bd.subarray(o, o + w) } : {}), ...prec });
    });
  }
  if (grad) {
    tape.record(() => {
      parts.forEach((p, i) => weightGrads(gradOf(p), xd, W, b, offsets[i]!, widths[i]!, rows, prec));
      // dx = sum_i dy_i W_i: the first part writes (or adds into x's gradient), the rest add.
      addIntoGrad(x, (into, beta, gate) => parts.forEach((p, i) => {
        const o = offsets[i]!, w = widths[i]!;
        kernels.gemm(gradOf(p), Wd.subarray(o * inF, (o + w) * inF),
          { m: rows, n: inF, k: w, beta: i === 0 ? beta : 1, C: into, ...(gate ? { gateMask: gate.mask } : {}), ...prec });
      }));
    });
  }
  return parts;
}
