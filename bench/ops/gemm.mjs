// GEMM rows of bench/ops.mjs: attnode's kernels.gemm against torch.mm at the same shapes and
// memory layouts. NN: activations times weights stored [in, out]; NT: y = x W^T with PyTorch's
// [out, in] weights (Linear forward, and decoding at m = 1..8); TN: dW = dy^T x (weight gradients).
// Targets (issue 4): 0.85x PyTorch on large shapes, 0.7x at m <= 8.
export const group = 'gemm';

const SHAPES = [
  // [m, n, k, transA, transB]
  [1024, 1024, 256, false, false],
  [1024, 256, 1024, false, false],
  [2048, 512, 512, false, false],
  [1024, 8000, 256, false, false],
  [1, 1024, 1024, false, false],
  [8, 4096, 1024, false, false],
  [2048, 512, 512, false, true],
  [1024, 8000, 256, false, true],
  [1, 1024, 1024, false, true],
  [8, 4096, 1024, false, true],
  [512, 512, 2048, true, false],
  [1024, 1024, 1024, true, false],
  [8000, 256, 2048, true, false],
];

/** n deterministic values in [0, 1) (an LCG): the same operands on every run and in every row module. */
export function fill(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; ++i) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296;
  }
  return a;
}

/** Rows: { name, flops, target, setup() -> the call to time, torch: { op, args } }. */
export function rows(kernels) {
  return SHAPES.map(([m, n, k, transA, transB]) => ({
    name: `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${n}x${k}`,
    flops: 2 * m * n * k,
    target: m <= 8 ? 0.7 : 0.85,
    setup() {
      const A = fill(m * k, 1), B = fill(k * n, 2), C = new Float32Array(m * n);
      const opts = { m, n, k, transA, transB, C };  // beta = 0: C is only written, as torch.mm(out=C)
      return () => kernels.gemm(A, B, opts);
    },
    torch: { op: 'mm', args: { m, n, k, transA, transB } },
  }));
}
