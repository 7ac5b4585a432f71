// Typed access to the kernel fuzz runner (test/fuzz/run.mjs) and the assertions every fuzz test
// makes of a run: all calls ran, none crashed, hung or failed a check.
import { expect } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { formatSummary, runFuzz as run } from '../fuzz/run.mjs';

export interface FuzzSummary {
  calls: number; ok: number; rejected: number; getterErrors: number; crashes: number; hangs: number; failures: number;
  skippedCalls: number; findings: { kind: string }[];
}

export const runFuzz = run as (opts: Record<string, unknown>) => Promise<FuzzSummary>;
export const formatFuzzSummary = formatSummary as (t: FuzzSummary) => string;

/** Asserts a clean run of `calls` calls; returns the printed summary for further assertions. */
export function expectCleanRun(t: FuzzSummary, calls: number): string {
  const report = formatFuzzSummary(t);
  expect(t.calls, report).toBe(calls);
  expect(t.crashes, report).toBe(0);
  expect(t.hangs, report).toBe(0);
  expect(t.failures, report).toBe(0);
  return report;
}
