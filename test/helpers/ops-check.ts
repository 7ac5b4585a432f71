// Shared checks of the ops tests: central finite differences of a float64 function, running a
// body under every CPU variant (portable first), and under a given thread count.
import { cpuInfo, getNumThreads, setIsa, setNumThreads, type Isa } from '../../dist/index.js';

/**
 * d f / d x by central differences at every element of x (f takes the perturbed x as float64).
 * h is relative to max(1, |x_i|).
 */
export function finiteDiff(x: ArrayLike<number>, f: (x: Float64Array) => number, h = 1e-5): Float64Array {
  const xs = Float64Array.from(x);
  const g = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; ++i) {
    const x0 = xs[i], step = h * Math.max(1, Math.abs(x0));
    xs[i] = x0 + step;
    const fp = f(xs);
    xs[i] = x0 - step;
    const fm = f(xs);
    xs[i] = x0;
    g[i] = (fp - fm) / (2 * step);
  }
  return g;
}

/** sum_i w_i y_i: the scalar objective whose gradient a backward with dy = w computes. */
export function dot(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; ++i) s += w[i] * y[i];
  return s;
}

/** The variants this machine runs, portable first. */
export const isas: Isa[] = cpuInfo().supportedIsas;

/** Runs body under each variant (portable first), then restores the variant in use before. */
export function forEachIsa<T>(body: (isa: Isa) => T): Map<Isa, T> {
  const before = cpuInfo().isa;
  const out = new Map<Isa, T>();
  try {
    for (const isa of isas) {
      setIsa(isa);
      out.set(isa, body(isa));
    }
  } finally {
    setIsa(before);
  }
  return out;
}

/** Runs body with n threads, then restores the thread count. */
export function withThreads<T>(n: number, body: () => T): T {
  const before = getNumThreads();
  setNumThreads(n);
  try {
    return body();
  } finally {
    setNumThreads(before);
  }
}
