// Multi-head attention on [batch * len, heads * headDim] activations: that layout is exactly the
// kernel's [B, T, H, D], so no reshaping is needed. q, k and v may also be column blocks of one
// fused projection output (Columns): the kernel reads them in place through row strides and writes
// their gradients into one buffer of the fused layout, so the projection's backward is one GEMM per
// weight (dW = dy^T x over all of q|k|v) instead of one per part. The forward keeps out and lse;
// the backward recomputes probabilities in the kernel.
import { kernels, type AttentionOptions, type AttentionShape } from '../kernels.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';
import { matmulPrecision, precisionOpt } from './precision.js';

/** Columns [col, col + width) of a 2-D tensor [rows, width of the fused projection]. */
export interface Columns {
  source: Tensor;
  col: number;
}
export type AttentionInput = Tensor | Columns;

interface View {
  t: Tensor;
  col: number;
  /** Row stride when a column block, undefined when packed. */
  stride: number | undefined;
  width: number;
}

function view(x: AttentionInput, width: number, name: string): View {
  if (!('source' in x)) return { t: x, col: 0, stride: undefined, width };
  const stride = x.source.shape[x.source.shape.length - 1]!;
  if (!Number.isInteger(x.col) || x.col < 0 || x.col + width > stride)
    throw new RangeError(`attention: ${name} columns [${x.col}, ${x.col + width}) lie outside the source's ${stride}`);
  return { t: x.source, col: x.col, stride, width };
}

export function attention(q: AttentionInput, k: AttentionInput, v: AttentionInput, shape: AttentionShape,
  options: AttentionOptions): Tensor {
  // The tile products in the ops' precision (precision.ts) unless the caller chose one; the
  // backward reuses the forward's.
  const opts: AttentionOptions = { ...options, ...precisionOpt(options.precision ?? matmulPrecision()) };
  const wq = shape.heads * shape.headDim, wkv = (shape.kvHeads ?? shape.heads) * shape.headDim;
  const Q = view(q, wq, 'q'), K = view(k, wkv, 'k'), V = view(v, wkv, 'v');
  const at = (x: View) => (x.stride === undefined ? data(x.t) : data(x.t).subarray(x.col));
  const full: AttentionShape = { ...shape,
    ...(Q.stride !== undefined ? { qStride: Q.stride } : {}),
    ...(K.stride !== undefined ? { kStride: K.stride } : {}),
    ...(V.stride !== undefined ? { vStride: V.stride } : {}) };
  const outShape = Q.stride === undefined ? Q.t.shape : [...Q.t.shape.slice(0, -1), wq];
  const out = scratch(outShape, needsGrad(Q.t, K.t, V.t));
  const lse = arena.take(shape.batch * shape.heads * shape.qLen);
  kernels.attentionForward(at(Q), at(K), at(V), full, { ...opts, into: { out: data(out), lse } });
  if (out.requiresGrad) {
    tape.record(() => {
      // One gradient buffer per fused source (zeroed only where its blocks leave columns unwritten),
      // one per packed input.
      const fused = new Map<Tensor, Float32Array>();
      const owned: [Tensor, Float32Array][] = [];
      const gradInto = (x: View): Float32Array => {
        if (x.stride === undefined) {
          const g = arena.take(x.t.size);
          owned.push([x.t, g]);
          return g;
        }
        let g = fused.get(x.t);
        if (!g) {
          const covered = [Q, K, V].filter((y) => y.t === x.t && y.stride !== undefined).reduce((s, y) => s + y.width, 0);
          g = covered === x.stride ? arena.take(x.t.size) : arena.zeros(x.t.size);
          fused.set(x.t, g);
          owned.push([x.t, g]);
        }
        return g.subarray(x.col);
      };
      const dq = gradInto(Q), dk = gradInto(K), dv = gradInto(V);
      kernels.attentionBackward(at(Q), at(K), at(V), data(out), lse, gradOf(out), full, { ...opts, into: { dq, dk, dv } });
      for (const [t, g] of owned) accGrad(t, g, true);
    });
  }
  return out;
}
