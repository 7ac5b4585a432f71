// Error metrics and assertions shared by the kernel tests.
import { expect } from 'vitest';

/** Below this a reference is treated as zero, so an all-zero reference compares absolute error. */
export const TINY = 1e-30;

/**
 * max|got - ref| / max(max|ref|, floor, TINY) over the whole array. Non-finite entries are an error
 * unless both are the same infinity (lse of a row with no key). `floor` is for references that
 * vanish by symmetry (e.g. dq with a single key): there the error is measured against the size of
 * the terms that cancel, not against an exact 0.
 */
export function relError(got: ArrayLike<number>, ref: ArrayLike<number>, floor = 0): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != reference length ${ref.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; ++i) {
    const g = got[i], r = ref[i];
    if (!Number.isFinite(r) || !Number.isFinite(g)) {
      if (g === r && !Number.isNaN(g)) continue;
      return Infinity;
    }
    maxDiff = Math.max(maxDiff, Math.abs(g - r));
    maxRef = Math.max(maxRef, Math.abs(r));
  }
  return maxDiff / Math.max(maxRef, floor, TINY);
}

/** Index and values of the worst element, for failure messages. */
export function worst(got: ArrayLike<number>, ref: ArrayLike<number>): string {
  let at = -1, d = -1;
  for (let i = 0; i < ref.length; ++i) {
    const e = Number.isFinite(got[i]) && Number.isFinite(ref[i]) ? Math.abs(got[i] - ref[i])
      : (got[i] === ref[i] ? 0 : Infinity);
    if (e > d) { d = e; at = i; }
  }
  return at < 0 ? 'empty' : `worst at [${at}]: got ${got[at]}, ref ${ref[at]}`;
}

/** Asserts relError(got, ref, floor) <= tol, naming `what` and the worst element on failure. */
export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what: string, floor = 0): void {
  const e = relError(got, ref, floor);
  expect(e, `${what}: rel error ${e} > ${tol} (${worst(got, ref)})`).toBeLessThanOrEqual(tol);
}

/**
 * lse: -Infinity exactly where the reference has it (rows with no key), and finite values within
 * `tol` relative error.
 */
export function expectLse(got: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what = 'lse'): void {
  expect(got.length).toBe(ref.length);
  const g: number[] = [], r: number[] = [];
  for (let i = 0; i < ref.length; ++i) {
    if (ref[i] === -Infinity) {
      expect(got[i], `${what}[${i}] must be -Infinity (row with no key)`).toBe(-Infinity);
    } else {
      expect(Number.isFinite(got[i]), `${what}[${i}] = ${got[i]} must be finite (ref ${ref[i]})`).toBe(true);
      g.push(got[i]); r.push(ref[i]);
    }
  }
  if (r.length) expectClose(g, r, tol, what);
}

/** Asserts no element is NaN (outputs pre-filled with NaN must have been overwritten everywhere). */
export function expectNoNaN(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; ++i) {
    if (Number.isNaN(a[i])) expect.fail(`${what}[${i}] is NaN (element not written, or NaN produced)`);
  }
}

/** Bitwise equality of two float32 arrays (NaN-safe, distinguishes -0 and +0). */
export function expectSameBits(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; ++i) {
    if (ua[i] !== ub[i]) expect.fail(`${what}: bits differ at [${i}]: ${a[i]} vs ${b[i]}`);
  }
}

/** max |x| over an array (0 for an empty one). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Asserts that fn throws an error of `type` whose message matches `message` (the argument-error tables). */
export function expectThrowsLike(fn: () => unknown, type: abstract new (...args: never[]) => Error, message: RegExp, what = ''): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `${what}: nothing was thrown`).toBeInstanceOf(type);
  expect((err as Error).message, what).toMatch(message);
}
