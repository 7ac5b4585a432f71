// Gradient plumbing of the differentiable ops: a residual add hands its output's gradient to both
// inputs without a copy, GEMMs accumulate straight into an input's gradient, and a ReLU fused
// into a Linear layer gates every gradient contribution to its output. These graphs
// put a tensor on both sides of an add, use it again before and after the add, and chain adds, so
// that any in-place accumulation into a buffer still read elsewhere gives a wrong gradient. The
// reference is a float64 re-implementation of each graph, differentiated by central differences
// (every graph is at most quadratic in each input, so the differences are exact up to rounding).
import { describe, expect, it } from 'vitest';
import * as ops from '../dist/ops/index.js';
import { Parameter } from '../dist/nn/module.js';
import { Tensor, tape } from '../dist/tensor.js';
import { Rng, randn } from './helpers/random.js';

const R = 5, F = 4;  // rows, features

type V = Float64Array;
const lin64 = (x: V, W: V, b: V): V => {
  const y = new Float64Array(R * F);
  for (let r = 0; r < R; ++r) for (let o = 0; o < F; ++o) {
    let s = b[o]!;
    for (let i = 0; i < F; ++i) s += x[r * F + i]! * W[o * F + i]!;
    y[r * F + o] = s;
  }
  return y;
};
const add64 = (a: V, b: V): V => a.map((x, i) => x + b[i]!);
const relu64 = (a: V): V => a.map((x) => Math.max(0, x));
const scale64 = (a: V, c: number): V => a.map((x) => x * c);

interface Graph {
  name: string;
  /** The graph on attnode ops. */
  f(x: Tensor, W: Parameter, b: Parameter, W2: Parameter, b2: Parameter): Tensor;
  /** The same graph in float64. */
  g(x: V, W: V, b: V, W2: V, b2: V): V;
}

const GRAPHS: Graph[] = [
  { name: 'add(x, x)', f: (x) => ops.add(x, x), g: (x) => add64(x, x) },
  { name: 'residual add(x, linear(x))', f: (x, W, b) => ops.add(x, ops.linear(x, W, b)), g: (x, W, b) => add64(x, lin64(x, W, b)) },
  { name: 'residual add(linear(x), x)', f: (x, W, b) => ops.add(ops.linear(x, W, b), x), g: (x, W, b) => add64(lin64(x, W, b), x) },
  {
    name: 'two residual blocks, the same weights twice',
    f: (x, W, b) => { const h = ops.add(x, ops.linear(x, W, b)); return ops.add(h, ops.linear(h, W, b)); },
    g: (x, W, b) => { const h = add64(x, lin64(x, W, b)); return add64(h, lin64(h, W, b)); },
  },
  {
    name: 'x used after the add (by a later op) and before it',
    f: (x, W, b, W2, b2) => {
      const early = ops.linear(x, W2, b2);
      const z = ops.add(x, ops.linear(x, W, b));
      return ops.add(ops.add(ops.linear(z, W2, b2), ops.scale(x, 2)), early);
    },
    g: (x, W, b, W2, b2) => {
      const early = lin64(x, W2, b2);
      const z = add64(x, lin64(x, W, b));
      return add64(add64(lin64(z, W2, b2), scale64(x, 2)), early);
    },
  },
  {
    name: 'an add whose inputs are both adds of x',
    f: (x, W, b) => { const a = ops.add(x, x), c = ops.add(x, ops.linear(x, W, b)); return ops.add(ops.add(a, c), ops.linear(a, W, b)); },
    g: (x, W, b) => { const a = add64(x, x), c = add64(x, lin64(x, W, b)); return add64(add64(a, c), lin64(a, W, b)); },
  },
  {
    name: 'linear fused with ReLU, then linear (the gate applied by the GEMM of the gradient)',
    f: (x, W, b, W2, b2) => ops.linear(ops.linear(x, W, b, { relu: true }), W2, b2),
    g: (x, W, b, W2, b2) => lin64(relu64(lin64(x, W, b)), W2, b2),
  },
  {
    name: 'a fused ReLU output also taken by adds (the gate applied on accumulation)',
    f: (x, W, b, W2, b2) => { const y = ops.linear(x, W, b, { relu: true }); return ops.add(ops.add(y, ops.linear(y, W2, b2)), y); },
    g: (x, W, b, W2, b2) => { const y = relu64(lin64(x, W, b)); return add64(add64(y, lin64(y, W2, b2)), y); },
  },
  {
    name: 'residual fused into linear, chained and with the input reused',
    f: (x, W, b, W2, b2) => { const h = ops.linear(x, W, b, { residual: x }); return ops.linear(h, W2, b2, { residual: ops.add(h, x) }); },
    g: (x, W, b, W2, b2) => { const h = add64(lin64(x, W, b), x); return add64(lin64(h, W2, b2), add64(h, x)); },
  },
  {
    name: 'fused projection parts added back to their input',
    f: (x, W, b) => { const [p, q] = ops.projectParts(x, new ParamPair(W).both, new ParamPair(b).both, [F, F]); return ops.add(ops.add(p!, x), ops.add(q!, x)); },
    g: (x, W, b) => add64(add64(lin64(x, W, b), x), add64(lin64(x, W.map((w) => 2 * w), b.map((v) => 2 * v)), x)),
  },
];

/** [2F, ...] parameter whose first half is the given one and whose second half is twice it, kept in sync for the check. */
class ParamPair {
  readonly both: Parameter;
  constructor(p: Parameter) {
    const d = p.storage.data, n = d.length;
    const all = new Float32Array(2 * n);
    all.set(d);
    for (let i = 0; i < n; ++i) all[n + i] = 2 * d[i]!;
    this.both = new Parameter(all, [2 * p.shape[0]!, ...p.shape.slice(1)]);
    pairs.push([p, this.both]);
  }
}
let pairs: [Parameter, Parameter][] = [];

describe('shared gradients and in-place accumulation', () => {
  for (const graph of GRAPHS) {
    it(graph.name, () => {
      const rng = new Rng(graph.name.length * 13);
      const x0 = randn(rng, R * F), G = randn(rng, R * F);
      const params = [randn(rng, F * F, 0.5), randn(rng, F), randn(rng, F * F, 0.5), randn(rng, F)];
      pairs = [];
      const x = Tensor.fromArray(x0.slice(), [R, F], true);
      const [W, b, W2, b2] = [new Parameter(params[0]!.slice(), [F, F]), new Parameter(params[1]!.slice(), [F]),
        new Parameter(params[2]!.slice(), [F, F]), new Parameter(params[3]!.slice(), [F])];
      tape.clear();
      const y = graph.f(x, W, b, W2, b2);
      y.grad = G.slice();
      tape.run();
      // Gradients of projectParts' stacked parameters fold back onto W and b (second half counts twice).
      for (const [p, both] of pairs) {
        const n = p.size;
        for (let i = 0; i < n; ++i) p.grad![i]! += both.grad![i]! + 2 * both.grad![n + i]!;
      }
      ops.arena.releaseAll();

      const L = (xv: V, Wv: V, bv: V, W2v: V, b2v: V) => graph.g(xv, Wv, bv, W2v, b2v).reduce((s, v, i) => s + v * G[i]!, 0);
      const inputs: [string, Float32Array, Float32Array | null][] = [
        ['x', x0, x.grad], ['W', params[0]!, W.grad], ['b', params[1]!, b.grad], ['W2', params[2]!, W2.grad], ['b2', params[3]!, b2.grad],
      ];
      inputs.forEach(([name, value, grad], which) => {
        const args = () => inputs.map(([, v]) => Float64Array.from(v));
        const fd = new Float64Array(value.length);
        for (let i = 0; i < value.length; ++i) {
          const h = 1e-3, plus = args(), minus = args();
          plus[which]![i]! += h;
          minus[which]![i]! -= h;
          fd[i] = (L(...(plus as [V, V, V, V, V])) - L(...(minus as [V, V, V, V, V]))) / (2 * h);
        }
        const got = grad ?? new Float32Array(value.length);
        const scaleOf = Math.max(1, ...Array.from(fd, Math.abs));
        for (let i = 0; i < fd.length; ++i) {
          expect(Math.abs(got[i]! - fd[i]!) / scaleOf, `${name}[${i}]: got ${got[i]}, want ${fd[i]}`).toBeLessThan(1e-4);
        }
      });
    });
  }
});
