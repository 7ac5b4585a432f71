// A fused projection whose outputs are used separately (self-attention's q, k, v; cross-attention's
// k, v): W [sum(widths), in] and b [sum(widths)] are one parameter each, and each part of W is a
// contiguous block of rows. The parts are computed straight into separate contiguous outputs (one
// batched GEMM with x shared when the widths are equal), so no [rows, q|k|v] activation is split
// column by column and no gradient is merged back.
import { kernels } from '../kernels.js';
import { CpuStorage, needsGrad, tape, Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf } from './grad.js';
import { broadcastRows } from './linear.js';

let ones = new Float32Array(0);
function onesOf(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(n).fill(1);
  return ones.subarray(0, n);
}

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
  const xd = data(x), Wd = data(W), bd = b ? data(b) : null;
  const offsets: number[] = [];
  widths.reduce((o, w) => (offsets.push(o), o + w), 0);
  parts.forEach((p, i) => { if (bd) broadcastRows(data(p), bd.subarray(offsets[i]!, offsets[i]! + widths[i]!), rows); });
  const equal = widths.every((w) => w === widths[0]);
  const beta = bd ? 1 : 0;
  if (equal && parts.length > 1) {
    const w = widths[0]!;
    // C_i = x W_i^T for every part i in one call: A = x shared (strideA 0), B_i = rows of W.
    kernels.gemmBatched(xd, Wd, { batch: parts.length, m: rows, n: w, k: inF, transB: true, beta,
      strideA: 0, strideB: w * inF, strideC: rows * w, C: block });
  } else {
    parts.forEach((p, i) => kernels.gemm(xd, Wd.subarray(offsets[i]! * inF, (offsets[i]! + widths[i]!) * inF),
      { m: rows, n: widths[i]!, k: inF, transB: true, beta, C: data(p) }));
  }
  if (grad) {
    tape.record(() => {
      const dx = x.requiresGrad ? arena.take(x.size) : null;
      parts.forEach((p, i) => {
        const dy = gradOf(p), w = widths[i]!, o = offsets[i]!;
        const Wi = Wd.subarray(o * inF, (o + w) * inF);
        if (W.requiresGrad) kernels.gemm(dy, xd, { m: w, n: inF, k: rows, transA: true, beta: 1, C: gradOf(W).subarray(o * inF, (o + w) * inF) });
        if (b && b.requiresGrad) kernels.gemm(onesOf(rows), dy, { m: 1, n: w, k: rows, beta: 1, C: gradOf(b).subarray(o, o + w) });
        if (dx) kernels.gemm(dy, Wi, { m: rows, n: inF, k: w, beta: i === 0 ? 0 : 1, C: dx });
      });
      if (dx) accGrad(x, dx, true);
    });
  }
  return parts;
}
