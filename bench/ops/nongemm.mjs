// Non-GEMM rows of bench/ops.mjs: LayerNorm, GELU and the fused softmax cross-entropy at model
// sizes, next to PyTorch (ops in bench/ops/torch_nongemm.py).
//
// Sizes: a batch of 32 sequences of 32 tokens = 1024 rows; LayerNorm at dModel 256, GELU at the
// feed-forward width 1024, cross-entropy over vocabularies of 1000 and 8000 with label smoothing
// 0.1 (mean over tokens, none ignored). attnode writes into preallocated outputs (opts.into);
// "fwd+bwd" is one forward then one backward call. PyTorch runs the same kernels without autograd
// where ATen has them (native_layer_norm[_backward], gelu[_backward]); cross-entropy with label
// smoothing has no single backward kernel there, so its row is F.cross_entropy + loss.backward().
// GB/s counts the compulsory traffic only: each input read once, each output written once.
export const group = 'nongemm';

function randn(n, seed) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const a = new Float32Array(n);
  for (let i = 0; i < n; ++i) a[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return a;
}

function layerNormRow(kernels, rows, dim, backward) {
  const n = rows * dim;
  return {
    name: `LayerNorm ${rows}x${dim} ${backward ? 'fwd+bwd' : 'fwd'}`,
    bytes: 4 * (backward ? 5 * n : 2 * n),  // fwd: x, y; bwd: x, dy, dx
    setup() {
      const x = randn(n, 1), dy = randn(n, 2), gamma = randn(dim, 3), beta = randn(dim, 4);
      const f = { y: new Float32Array(n), mean: new Float32Array(rows), rstd: new Float32Array(rows) };
      const b = { dx: new Float32Array(n), dgamma: new Float32Array(dim), dbeta: new Float32Array(dim) };
      const fwd = () => kernels.layerNormForward(x, gamma, beta, { into: f });
      if (!backward) return fwd;
      return () => { fwd(); kernels.layerNormBackward(x, gamma, f.mean, f.rstd, dy, { into: b }); };
    },
    torch: { op: 'layer_norm', args: { rows, dim, backward } },
  };
}

function geluRow(kernels, rows, dim, backward) {
  const n = rows * dim;
  return {
    name: `GELU (erf) ${rows}x${dim} ${backward ? 'fwd+bwd' : 'fwd'}`,
    bytes: 4 * (backward ? 5 * n : 2 * n),
    setup() {
      const x = randn(n, 1), dy = randn(n, 2), y = new Float32Array(n), dx = new Float32Array(n);
      const fwd = () => kernels.gelu(x, { into: y });
      if (!backward) return fwd;
      return () => { fwd(); kernels.geluBackward(x, dy, { into: dx }); };
    },
    torch: { op: 'gelu', args: { rows, dim, backward } },
  };
}

function xentRow(kernels, rows, vocab, backward) {
  const n = rows * vocab;
  return {
    name: `cross-entropy ${rows}x${vocab} ls=0.1 ${backward ? 'loss+dlogits' : 'loss'}`,
    bytes: 4 * (backward ? 2 * n : n),  // logits; dlogits
    setup() {
      const logits = randn(n, 5), dlogits = new Float32Array(n);
      const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7919) % vocab);
      if (!backward) return () => kernels.crossEntropy(logits, targets, vocab, { labelSmoothing: 0.1, grad: false });
      return () => kernels.crossEntropy(logits, targets, vocab, { labelSmoothing: 0.1, into: dlogits });
    },
    torch: { op: 'cross_entropy', args: { rows, vocab, backward, smoothing: 0.1 } },
  };
}

/** Rows: { name, bytes, setup() -> the call to time, torch: { op, args } }. */
export function rows(kernels) {
  return [
    layerNormRow(kernels, 1024, 256, false),
    layerNormRow(kernels, 1024, 256, true),
    geluRow(kernels, 1024, 1024, false),
    geluRow(kernels, 1024, 1024, true),
    xentRow(kernels, 1024, 1000, false),
    xentRow(kernels, 1024, 1000, true),
    xentRow(kernels, 1024, 8000, false),
    xentRow(kernels, 1024, 8000, true),
  ];
}
