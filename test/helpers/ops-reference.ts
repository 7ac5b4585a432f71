// Float64 references of the non-GEMM ops (native/core/ops.h), written for clarity, not speed.
// The kernels are tested against them, and their gradients against finite differences of them.

export type Arr = ArrayLike<number>;

export function layerNormRef(x: Arr, gamma: Arr, beta: Arr, eps: number) {
  const dim = gamma.length, rows = x.length / dim;
  const y = new Float64Array(x.length), mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; ++r) {
    let mu = 0;
    for (let j = 0; j < dim; ++j) mu += x[r * dim + j];
    mu /= dim;
    let v = 0;
    for (let j = 0; j < dim; ++j) v += (x[r * dim + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / dim + eps);
    for (let j = 0; j < dim; ++j) y[r * dim + j] = (x[r * dim + j] - mu) * rs * gamma[j] + beta[j];
    mean[r] = mu;
    rstd[r] = rs;
  }
  return { y, mean, rstd };
}

export function rmsNormRef(x: Arr, gamma: Arr, eps: number) {
  const dim = gamma.length, rows = x.length / dim;
  const y = new Float64Array(x.length), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; ++r) {
    let s = 0;
    for (let j = 0; j < dim; ++j) s += x[r * dim + j] ** 2;
    const rs = 1 / Math.sqrt(s / dim + eps);
    for (let j = 0; j < dim; ++j) y[r * dim + j] = x[r * dim + j] * rs * gamma[j];
    rstd[r] = rs;
  }
  return { y, rstd };
}

/** erf to ~1e-14: Taylor series for |x| < 2.5, Lentz continued fraction of erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x, sum = x;
    for (let n = 1; n < 200; ++n) {
      term *= -x * x / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + 1/2/(z + 1/(z + 3/2/(z + 2/(z + ...)))))
  let f = ax, c = ax, d = 0;
  for (let n = 1; n < 500; ++n) {
    const a = n / 2;
    d = ax + a * d;
    d = 1 / d;
    c = ax + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export type ActivationKind = 'relu' | 'gelu' | 'geluTanh' | 'silu';
export const activationRef: Record<ActivationKind, (x: number) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  silu: (x) => x * sigmoid(x),
};

export interface XentRefOptions {
  labelSmoothing?: number;
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum';
}
/** PyTorch's F.cross_entropy(logits, targets, ignore_index, label_smoothing, reduction). */
export function crossEntropyRef(logits: Arr, targets: Arr, vocab: number, o: XentRefOptions = {}) {
  const eps = o.labelSmoothing ?? 0, ignore = o.ignoreIndex ?? -100;
  const rows = targets.length;
  let sum = 0, count = 0;
  for (let r = 0; r < rows; ++r) {
    const t = targets[r];
    if (t === ignore) continue;
    ++count;
    let m = -Infinity, sx = 0;
    for (let j = 0; j < vocab; ++j) { m = Math.max(m, logits[r * vocab + j]); sx += logits[r * vocab + j]; }
    let s = 0;
    for (let j = 0; j < vocab; ++j) s += Math.exp(logits[r * vocab + j] - m);
    const lse = m + Math.log(s);
    sum += (1 - eps) * (lse - logits[r * vocab + t]) + eps * (lse - sx / vocab);
  }
  const mean = (o.reduction ?? 'mean') === 'mean';
  return { loss: count === 0 ? 0 : mean ? sum / count : sum, sum, count };
}

export function logSoftmaxRef(x: Arr, dim: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; ++r) {
    let m = -Infinity;
    for (let j = 0; j < dim; ++j) m = Math.max(m, x[r * dim + j]);
    let s = 0;
    for (let j = 0; j < dim; ++j) s += Math.exp(x[r * dim + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < dim; ++j) y[r * dim + j] = x[r * dim + j] - lse;
  }
  return y;
}

export interface AdamRefOptions {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number;
  decoupled: boolean; gradScale?: number;
}
/** One step of torch.optim.Adam / AdamW in float64, in place on p, m, v. */
export function adamRef(p: Float64Array, g: Arr, m: Float64Array, v: Float64Array, o: AdamRefOptions): void {
  const bc1 = 1 - o.beta1 ** o.step, bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < p.length; ++i) {
    let gi = g[i] * (o.gradScale ?? 1);
    if (o.decoupled) p[i] *= 1 - o.lr * o.weightDecay;
    else gi += o.weightDecay * p[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
    p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps);
  }
}

/** pe[p, 2i] = sin(pos / base^(2i/dim)), pe[p, 2i+1] = cos(...), pos = offset + p. */
export function positionEncodingRef(length: number, dim: number, offset = 0, base = 10000): Float64Array {
  const pe = new Float64Array(length * dim);
  for (let p = 0; p < length; ++p)
    for (let c = 0; c < dim; ++c) {
      const angle = (offset + p) / base ** ((2 * Math.floor(c / 2)) / dim);
      pe[p * dim + c] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  return pe;
}
