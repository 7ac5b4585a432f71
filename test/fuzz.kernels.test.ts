// The kernel fuzz (test/fuzz/, issue #19): every function of `kernels`, sync and async, and the
// runtime settings, called with valid arguments and then with broken ones (types, sizes, NaN /
// huge / fractional dims, overflowing products, detached / shared / offset / resizable buffers,
// aliased outputs, throwing and mutating getters, inputs freed while an async call runs). Each
// batch runs in its own process, so a native crash or hang is counted instead of ending the run.
// A short seeded run here; `npm run fuzz` is the long one (1,000,000 calls).
import { describe, expect, it } from 'vitest';
import { expectCleanRun, formatFuzzSummary, runFuzz, type FuzzSummary } from './helpers/fuzz.js';

describe('kernel fuzz', () => {
  it('sees a crash, a hang and an unsettled promise in a child (the runner itself)', async () => {
    const kinds: string[] = [];
    for (const [what, want] of [['crash', 'crash'], ['hang', 'hang'], ['unsettled', 'hang']] as const) {
      process.env.FUZZ_SELFTEST = `${what}@3`;
      try {
        const t: FuzzSummary = await runFuzz({ calls: 6, batch: 6, jobs: 1, seed: 5, hangMs: 1500, quiet: true });
        expect(t.calls).toBe(6);
        expect(t.findings.map((f) => f.kind), formatFuzzSummary(t)).toContain(want);
        kinds.push(want);
      } finally {
        delete process.env.FUZZ_SELFTEST;
      }
    }
    expect(kinds).toEqual(['crash', 'hang', 'hang']);
  });

  it('24,000 seeded calls: 0 crashes, 0 hangs, only results or named TypeError/RangeError', async () => {
    // 2 GB of address space per child: an output the library sizes from numbers alone fails fast
    // (a clean RangeError) instead of being computed for seconds; a call silent for 60 s is a hang.
    const t: FuzzSummary = await runFuzz({ calls: 24_000, seed: 20261203, batch: 3000, jobs: 2, memKb: 2_000_000,
      hangMs: 60_000, quiet: true });
    const report = expectCleanRun(t, 24_000);
    expect(t.skippedCalls, report).toBe(0);
    // The mutations must not all be caught by one trivial check: many calls get through.
    expect(t.ok, report).toBeGreaterThan(5000);
    expect(t.rejected, report).toBeGreaterThan(5000);
  }, 240_000);
});
