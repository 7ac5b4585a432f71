// Argument objects on their way to the addon. Each is read exactly once, here, into a fresh
// object with no prototype holding only the known keys: the addon then reads plain data and runs
// no user code (a getter, a Proxy trap, an inherited property) between checking an argument and
// computing with it, so a getter cannot change ids or free a buffer after they were validated.
// Unknown keys are rejected (the addon would silently ignore a misspelled option).

/** The keys an argument object may hold; [key, spec] for a nested object read the same way. */
export type KeySpec = readonly (string | readonly [string, KeySpec])[];

function isPlainArgument(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Array.isArray(value) &&
    !(value instanceof ArrayBuffer) && !(typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer);
}

/**
 * A snapshot of `value` (named `what` in errors) with the keys of `spec`; anything but a plain
 * object is returned as it is, for the addon to reject with a TypeError naming it.
 */
export function snapshot(fn: string, what: string, value: unknown, spec: KeySpec): unknown {
  if (!isPlainArgument(value)) return value;
  const names = spec.map((s) => (typeof s === 'string' ? s : s[0]));
  for (const key of Object.keys(value)) {
    if (!names.includes(key)) throw new TypeError(`${fn}: ${what}.${key} is not an option (known: ${names.join(', ')})`);
  }
  const out = Object.create(null) as Record<string, unknown>;
  for (const s of spec) {
    const key = typeof s === 'string' ? s : s[0];
    const v = value[key];  // read once (getters run now, before the addon checks anything)
    if (v !== undefined) out[key] = typeof s === 'string' ? v : snapshot(fn, `${what}.${key}`, v, s[1]);
  }
  return out;
}

/** At most this many arrays in one list argument (the addon's limit too). */
const MAX_LIST = 1 << 24;

/** A copy of a list of arrays (params, grads, ...): its elements read once, into a plain Array. */
export function snapshotList(fn: string, what: string, value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const n = value.length;
  if (n > MAX_LIST) throw new RangeError(`${fn}: ${what} has ${n} arrays, more than ${MAX_LIST}`);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; ++i) out[i] = value[i];
  return out;
}

/**
 * opts read as {@link snapshot} with the keys `known`, and opts.into (when a plain object) with
 * `intoKeys`. Returns what to hand to the addon.
 */
export function checkOptions(fn: string, opts: unknown, known: readonly string[], intoKeys?: readonly string[]): object | undefined {
  const spec: KeySpec = intoKeys ? known.map((k) => (k === 'into' ? ['into', intoKeys] as const : k)) : known;
  return snapshot(fn, 'opts', opts, spec) as object | undefined;
}

/** Runs a sync check-and-start and turns a thrown argument error into a rejected promise. */
export function asPromise<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (e) {
    return Promise.reject(e);
  }
}
