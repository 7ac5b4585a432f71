// Splits the columns of a [rows, a + b + ...] activation (a fused QKV projection) into contiguous
// tensors, and routes their gradients back into one [rows, a + b + ...] gradient.
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

export function splitColumns(x: Tensor, widths: readonly number[]): Tensor[] {
  const total = widths.reduce((a, b) => a + b, 0);
  const rows = x.size / total;
  const xd = data(x);
  const parts = widths.map((w) => scratch([...x.shape.slice(0, -1), w], needsGrad(x)));
  let off = 0;
  widths.forEach((w, n) => {
    const pd = data(parts[n]!);
    for (let r = 0; r < rows; ++r) pd.set(xd.subarray(r * total + off, r * total + off + w), r * w);
    off += w;
  });
  if (x.requiresGrad && tape.enabled) {
    tape.record(() => {
      const g = arena.take(x.size);
      let o = 0;
      widths.forEach((w, n) => {
        const pg = gradOf(parts[n]!);
        for (let r = 0; r < rows; ++r) g.set(pg.subarray(r * w, r * w + w), r * total + o);
        o += w;
      });
      accGrad(x, g, true);
    });
  }
  return parts;
}
