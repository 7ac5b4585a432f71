// Malformed values for the kernel fuzz: garbage of every JS kind, special numbers, and typed arrays
// on unusual memory (detached, shared, offset, resizable / shrunk, wrong element type).

/** Thrown by the fuzz's own getters: a call must let it through unchanged (or name its own error). */
export class FuzzGetterError extends Error {
  constructor(where) {
    super(`fuzz getter threw at ${where}`);
    this.name = 'FuzzGetterError';
  }
}

export const NUMBERS = [NaN, Infinity, -Infinity, -1, 0, -0, 1, 2, 1.5, 0.5, 0.999999999, 1e-300, 2 ** 31, 2 ** 31 - 1,
  2 ** 31 + 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40, 2 ** 40 + 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63, 2 ** 64, 1e308, -1e308,
  5e-324, 3.4e38, 3.5e38, -(2 ** 31), -(2 ** 31) - 1];

export const TYPED = [Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Uint8ClampedArray,
  Int16Array, Uint16Array, BigInt64Array, BigUint64Array];

// The built-in accessors of typed arrays: a subclass (see the 'subclass' mutation) may override
// .buffer, .byteOffset, .length with lying getters; the fuzz's own bookkeeping never uses those.
const TA = Object.getPrototypeOf(Uint8Array.prototype);
const accessor = (name) => Object.getOwnPropertyDescriptor(TA, name).get;
const getBuffer = accessor('buffer'), getByteOffset = accessor('byteOffset'), getByteLength = accessor('byteLength'),
  getLength = accessor('length');
const getDvBuffer = Object.getOwnPropertyDescriptor(DataView.prototype, 'buffer').get;
export const ta = {
  buffer: (v) => (v instanceof DataView ? getDvBuffer.call(v) : getBuffer.call(v)),
  byteOffset: (v) => getByteOffset.call(v),
  byteLength: (v) => getByteLength.call(v),
  length: (v) => getLength.call(v),
};

/** Whether an ArrayBuffer is detached (Node 20 has no ArrayBuffer.prototype.detached). */
export function isDetached(buf) {
  if (!(buf instanceof ArrayBuffer)) return false;
  if (buf.byteLength > 0) return false;
  try { new Uint8Array(buf); return false; } catch { return true; }
}

/** The fuzz's own Proxies: never walked into or described (their traps may throw or lie). */
export const PROXIES = new WeakSet();
export function proxy(target, handler) {
  const p = new Proxy(target, handler);
  PROXIES.add(p);
  return p;
}

/** obj[key] = value, even over a getter the fuzz put there. */
export function put(obj, key, value) {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Whether a typed array can still be read (not detached, not out of bounds of a shrunk buffer). */
export function readable(a) {
  if (!ArrayBuffer.isView(a) || a instanceof DataView) return false;
  if (isDetached(ta.buffer(a))) return false;
  try { TA.slice.call(a, 0, 0); return true; } catch { return false; }  // slice throws when out of bounds
}

export function isPlainObject(x) {
  return typeof x === 'object' && x !== null && !PROXIES.has(x) && !ArrayBuffer.isView(x) && !Array.isArray(x) &&
    !(x instanceof ArrayBuffer) && Object.getPrototypeOf(x) === Object.prototype;
}

/** Detaches a's buffer (its views now have length 0); the bytes move to a clone that is dropped. */
export function detach(a) {
  const buf = ta.buffer(a);
  if (buf instanceof ArrayBuffer && !isDetached(buf)) structuredClone(buf, { transfer: [buf] });
  return a;
}

/** A view of a's type and length whose buffer is detached. */
export function detachedLike(a) {
  const T = a.constructor;
  const v = new T(Math.max(1, ta.length(a)));
  return detach(v);
}

/** The same contents on a SharedArrayBuffer. */
export function sharedCopy(a) {
  if (!readable(a)) return detachedLike(a);
  const T = a.constructor;
  const v = new T(new SharedArrayBuffer(Math.max(1, ta.byteLength(a))), 0, ta.length(a));
  v.set(a);
  return v;
}

/** The same contents at a nonzero byteOffset of a bigger buffer (a valid input: same results). */
export function offsetCopy(a, r) {
  if (!readable(a)) return a;
  const T = a.constructor;
  const before = r.int(1, 5), after = r.int(0, 3);
  const big = new T(ta.length(a) + before + after);
  const v = big.subarray(before, before + ta.length(a));
  v.set(a);
  return v;
}

/**
 * The same contents on a resizable ArrayBuffer, as a fixed-length view or a length-tracking one
 * (`tracking`), starting at `offset` elements. The returned view remembers its buffer.
 */
export function resizableCopy(a, r, tracking = r.chance(0.5)) {
  if (!readable(a)) return a;
  const T = a.constructor, bpe = T.BYTES_PER_ELEMENT;
  const offset = r.int(0, 2);
  const bytes = (offset + ta.length(a)) * bpe;
  const buf = new ArrayBuffer(bytes, { maxByteLength: bytes + bpe * r.int(0, 64) });
  const v = tracking ? new T(buf, offset * bpe) : new T(buf, offset * bpe, ta.length(a));
  v.set(a);
  return v;
}

/** Shrinks the resizable buffer under v: a fixed-length view goes out of bounds (length 0). */
export function shrink(v, r) {
  const buf = ta.buffer(v);
  if (!(buf instanceof ArrayBuffer) || !buf.resizable || isDetached(buf)) return v;
  buf.resize(r.pick([0, Math.floor(buf.byteLength / 2), Math.max(0, buf.byteLength - v.constructor.BYTES_PER_ELEMENT)]));
  return v;
}

/** Another typed-array type holding a's values (converted), same length. */
export function retyped(a, r) {
  const T = r.pick(TYPED.filter((t) => t !== a.constructor));
  if (!readable(a)) return new T(0);
  if (T === BigInt64Array || T === BigUint64Array) return new T(ta.length(a));
  return T.from(a, (x) => (Number.isFinite(x) ? x : 0));
}

/** Same type, length off by a little (or a lot), random contents. */
export function resized(a, r) {
  const T = a.constructor;
  const n = Math.max(0, ta.length(a) + r.pick([-1, 1, -2, 2, -ta.length(a), ta.length(a), 7]));
  const v = new T(n);
  const m = readable(a) ? Math.min(n, ta.length(a)) : 0;
  for (let i = 0; i < m; ++i) v[i] = a[i];
  return v;
}

/** A special number for a numeric slot holding `x` (usually a size or an integer option). */
export function numberLike(x, r) {
  switch (r.int(0, 7)) {
    case 0: return x + r.pick([-1, 1]);
    case 1: return x + r.pick([0.5, -0.5, 1e-9, 0.1]);
    case 2: return -x - r.int(0, 1);
    case 3: return x * r.pick([2 ** 16, 2 ** 20, 2 ** 24, 2 ** 31, 2 ** 32]);
    case 4: return r.pick([String(x), `${x}`, BigInt(Math.trunc(Number.isFinite(x) ? x : 0)), [x], { valueOf: () => x }, new Number(x)]);
    default: return r.pick(NUMBERS);
  }
}

/** A random value of a random kind; `near` (a length) makes typed arrays of about that size. */
export function garbage(r, depth = 0, near = 8) {
  switch (r.int(0, 19)) {
    case 0: return undefined;
    case 1: return null;
    case 2: return r.pick(NUMBERS);
    case 3: return r.int(-10, 100);
    case 4: return r.pick(['', 'abc', '3', '1e3', 'NaN', 'Float32Array', 'mean', 'tanh', 'relu', 'x'.repeat(1000)]);
    case 5: return r.chance(0.5);
    case 6: return r.pick([0n, 1n, -1n, 2n ** 64n, 2n ** 63n, 2n ** 70n, 2n ** 64n - 1n]);
    case 7: return Symbol('garbage');
    case 8: {  // typed array of a random type and a length near the expected one
      const T = r.pick(TYPED);
      const n = Math.max(0, near + r.int(-2, 2));
      if (T === BigInt64Array || T === BigUint64Array) return new T(n);
      return new T(n).map(() => (T === Float32Array || T === Float64Array ? r.pick([...NUMBERS, 0.5]) : r.int(-3, 3)));
    }
    case 9: return r.f32(Math.max(0, near + r.pick([-1, 0, 0, 1])), () => r.pick([0, 1, NaN, Infinity, -Infinity, -1, 0.25]));
    case 10: return detachedLike(new Float32Array(Math.max(1, near)));
    case 11: return sharedCopy(r.f32(near));
    case 12: return r.f32(near + 3).subarray(r.int(0, 3), r.int(0, 3) + near);
    case 13: return shrink(resizableCopy(r.f32(near), r), r);
    case 14: return Array.from({ length: Math.min(near, 64) }, () => (r.chance(0.8) ? 0 : garbage(r, depth + 1)));
    case 15: return depth > 2 ? {} : Object.fromEntries(Array.from({ length: r.int(0, 4) },
      () => [r.pick(['data', 'batch', 'heads', 'out', 'lse', 'dq', 'x', 'm', 'n', 'k', 'into', 'dim', 'vocab', 'step', '__proto__']),
        garbage(r, depth + 1, near)]));
    case 16: return r.pick([() => 1, new Date(0), new ArrayBuffer(16), new DataView(new ArrayBuffer(16)), new Map(), /re/,
      proxy({}, {}), Object.create(null), new (class Foo {})(), Promise.resolve(1), new WeakRef({})]);
    case 17: return { valueOf: () => 3, toString: () => '3' };
    case 18: return proxy(r.f32(near), {});  // a Proxy around a typed array is not a typed array
    default: return r.pick([{}, [], new Float32Array(0), new Int32Array(0), new Uint8Array(0)]);
  }
}

/** A short description of a value, without calling getters or proxies' traps. */
export function describe(x, depth = 0) {
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'symbol') return 'Symbol()';
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  if (typeof x === 'string') return JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}...(${x.length})` : x);
  if (typeof x === 'function') return 'function';
  if (x === null || x === undefined) return String(x);
  if (PROXIES.has(x)) return 'Proxy';
  if (x instanceof DataView) return 'DataView';
  if (ArrayBuffer.isView(x)) {
    const buf = ta.buffer(x), off = ta.byteOffset(x);
    const kind = buf instanceof SharedArrayBuffer ? 'shared ' : isDetached(buf) ? 'detached ' : buf.resizable ? (readable(x) ? 'resizable ' : 'out-of-bounds ') : '';
    return `${kind}${x.constructor.name}(${ta.length(x)}${off ? ` @${off}` : ''})`;
  }
  if (typeof x === 'object' && depth < 4) {
    if (Array.isArray(x)) {
      if (x.length > 8) return `Array(${x.length})`;
      return `[${x.map((e) => describe(e, depth + 1)).join(', ')}]`;
    }
    if (!isPlainObject(x)) return x.constructor?.name ?? 'object';
    const parts = [];
    for (const k of Object.keys(x)) {
      const d = Object.getOwnPropertyDescriptor(x, k);
      parts.push(`${k}: ${d.get ? `get ${d.get.fuzzLabel ?? ''}` : describe(d.value, depth + 1)}`);
    }
    return `{ ${parts.join(', ')} }`;
  }
  return typeof x;
}
