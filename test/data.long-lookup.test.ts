// The long-document keyed-lookup task (lib/data/tasks/long-lookup.ts, used by bench/long-document.mjs):
// each marker once, followed by its digit, the target the digits in marker order; seeded; options checked.
import { describe, expect, it } from 'vitest';
import { generateLongLookup } from '../dist/data/tasks/long-lookup.js';

describe('generateLongLookup', () => {
  it('plants each key once, followed by the digit the target gives for it', () => {
    const ex = generateLongLookup({ count: 20, seed: 3, length: 300, keys: 3, filler: 4 });
    expect(ex.length).toBe(20);
    for (const { source, target } of ex) {
      expect(source.length).toBe(300);
      expect(target).toMatch(/^\d{3}$/);
      ['A', 'B', 'C'].forEach((m, k) => {
        expect(source.split(m).length - 1).toBe(1);
        expect(source[source.indexOf(m) + 1]).toBe(target[k]);
      });
      expect(source.replace(/[ABC]\d/g, '')).toMatch(/^[abcd]{294}$/);
    }
    expect(generateLongLookup({ count: 20, seed: 3, length: 300, keys: 3, filler: 4 })).toEqual(ex);
  });

  it('held-out documents never appear in training', () => {
    const train = new Set(generateLongLookup({ count: 200, seed: 1, length: 12, keys: 1, filler: 2 }).map((e) => e.source));
    for (const e of generateLongLookup({ count: 50, seed: 1, length: 12, keys: 1, filler: 2, split: 'test' })) expect(train.has(e.source)).toBe(false);
  });

  it('rejects bad options by name', () => {
    expect(() => generateLongLookup({ count: 1, seed: 1, keys: 0 })).toThrow(/keys/);
    expect(() => generateLongLookup({ count: 1, seed: 1, length: 3, keys: 2 })).toThrow(/length/);
    expect(() => generateLongLookup({ count: 1, seed: 1, filler: 17 })).toThrow(/filler/);
  });
});
