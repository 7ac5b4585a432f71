// bf16 GEMM rows of bench/ops.mjs (issue 18): kernels.gemm with precision 'bf16' against torch.mm
// on bf16 tensors (PyTorch's CPU bf16 matmul, oneDNN) at the same shapes and layouts, and against
// attnode's own fp32 GEMM on the same call (column "x fp32": fp32 ms / bf16 ms). % peak is of
// the bf16 peak the clock benchmark measures (vdpbf16ps throughput). The shapes are those of a
// training step of the bench:train model (Linear forward NT, dx NN, dW TN) and a large square one.
// Rows only where the 'avx512bf16' variant runs: elsewhere precision 'bf16' is the fp32 GEMM.
import { fill } from './gemm.mjs';

export const group = 'gemm-bf16';

const SHAPES = [
  // [m, n, k, transA, transB]
  [4096, 1024, 256, false, true],
  [4096, 256, 1024, false, true],
  [4096, 256, 1024, false, false],
  [1024, 256, 4096, true, false],
  [256, 256, 4096, true, false],
  [4096, 768, 256, false, true],
  [2048, 2048, 2048, false, false],
];

export function rows(kernels, info) {
  if (info && !info.supportedIsas.includes('avx512bf16')) return [];
  return SHAPES.map(([m, n, k, transA, transB]) => {
    const make = (precision) => () => {
      const A = fill(m * k, 1), B = fill(k * n, 2), C = new Float32Array(m * n);
      const opts = { m, n, k, transA, transB, C, precision };
      return () => kernels.gemm(A, B, opts);
    };
    return {
      name: `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${n}x${k}`,
      flops: 2 * m * n * k,
      peakKind: 'bf16',
      setup: make('bf16'),
      alt: { name: 'fp32', setup: make('fp32') },
      torch: { op: 'mm_bf16', args: { m, n, k, transA, transB } },
    };
  });
}
