// The step arena: size-class reuse across steps, and early recycling of gradients whose producer's
// backward has run (a hot buffer for the next take of that size instead of a cold one).
import { describe, expect, it } from 'vitest';
import * as ops from '../dist/ops/index.js';
import { Arena } from '../dist/ops/arena.js';
import { Tensor, tape } from '../dist/tensor.js';
import { Rng, randn } from './helpers/random.js';

describe('Arena', () => {
  it('recycle hands a buffer (or its view) back to the next take of its size class, once', () => {
    const a = new Arena();
    const x = a.take(1000), y = a.take(1000);
    expect(x.buffer).not.toBe(y.buffer);
    a.recycle(x);
    a.recycle(x);  // already free: ignored
    const z = a.take(1000);
    expect(z.buffer).toBe(x.buffer);
    expect(a.take(1000).buffer).not.toBe(x.buffer);  // not handed out twice
    const v = a.take(1001);  // a view of a larger size-class buffer
    expect(v.length).toBe(1001);
    a.recycle(v);
    expect(a.take(1001).buffer).toBe(v.buffer);
  });

  it('ignores buffers it did not make, and releaseAll still frees each buffer once', () => {
    const a = new Arena(), b = new Arena();
    const x = a.take(64);
    b.recycle(x);             // another arena's buffer: ignored
    b.recycle(new Float32Array(64));
    a.recycle(x);
    a.releaseAll();           // x is free already: not listed twice
    const got = new Set([a.take(64).buffer, a.take(64).buffer]);
    expect(got.size).toBe(2);
    expect(got.has(x.buffer)).toBe(true);
  });
});

describe('gradient recycling during backward', () => {
  it('intermediate gradients are recycled (grad cleared), leaf gradients are kept and exact', () => {
    const rng = new Rng(9);
    const R = 6, F = 5;
    const x0 = randn(rng, R * F), w0 = randn(rng, F * F), G = randn(rng, R * F);
    const run = (): { xg: Float32Array; h: Tensor } => {
      tape.clear();
      const x = Tensor.fromArray(x0.slice(), [R, F], true);
      const W = Tensor.fromArray(w0.slice(), [F, F], true);
      const h = ops.linear(x, W, null, { relu: true });
      const y = ops.add(ops.linear(h, W, null), h);
      y.grad = G.slice();
      tape.run();
      const xg = x.grad!.slice();
      expect(W.grad).not.toBeNull();  // a leaf: its gradient is the result
      return { xg, h };
    };
    const first = run();
    expect(first.h.grad, 'an op output\'s gradient is gone once its producer has read it').toBeNull();
    ops.arena.releaseAll();
    const second = run();
    // The same bits when every buffer comes from the recycled pool.
    expect(Array.from(second.xg)).toEqual(Array.from(first.xg));
    ops.arena.releaseAll();
  });
});
