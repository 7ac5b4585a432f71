// Argument objects on their way to the addon. Each is read exactly once, here, into a fresh
// object holding exactly the known keys: the addon then reads plain data and runs
// no user code (a getter, a Proxy trap, an inherited property) between checking an argument and
// computing with it, so a getter cannot change ids or free a buffer after they were validated.
// Unknown keys are rejected (the addon would silently ignore a misspelled option).

/** The keys an argument object may hold; [key, spec] for a nested object read the same way. */
export type KeySpec = readonly (string | readonly [string, KeySpec])[];

function isPlainArgument(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Array.isArray(value) &&
    !(value instanceof ArrayBuffer) && !(typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer);
}

interface CompiledSpec {
  readonly keys: readonly string[];
  readonly known: ReadonlySet<string>;
  /** Indexes of the keys whose values are nested argument objects. */
  readonly nested: readonly [string, KeySpec][];
  /** Reads every key once, in order, into a new object literal. */
  readonly read: (value: Record<string, unknown>) => Record<string, unknown>;
}
// Specs are module constants: compiled once each. This runs on every kernel call (a decoding step
// makes dozens), so the reader is generated code with one named property load per key: a loop of
// value[key] lookups was megamorphic and cost ~1 us a call. The keys are the library's own option
// names (checked to be identifiers), never user input.
const compiled = new WeakMap<KeySpec, CompiledSpec>();
function compile(spec: KeySpec): CompiledSpec {
  let c = compiled.get(spec);
  if (!c) {
    const keys = spec.map((s) => (typeof s === 'string' ? s : s[0]));
    if (!keys.every((k) => /^[A-Za-z_$][\w$]*$/.test(k))) throw new Error(`attnode: bad option key list ${keys.join(', ')}`);
    const read = new Function('v', `return { ${keys.map((k) => `${k}: v.${k}`).join(', ')} };`) as CompiledSpec['read'];
    const nested = spec.filter((s): s is readonly [string, KeySpec] => typeof s !== 'string').map((s) => [s[0], s[1]] as [string, KeySpec]);
    c = { keys, known: new Set(keys), nested, read };
    compiled.set(spec, c);
  }
  return c;
}

/**
 * A snapshot of `value` (named `what` in errors) with the keys of `spec`; anything but a plain
 * object is returned as it is, for the addon to reject with a TypeError naming it.
 */
export function snapshot(fn: string, what: string, value: unknown, spec: KeySpec): unknown {
  if (!isPlainArgument(value)) return value;
  const c = compile(spec);
  for (const key of Object.keys(value)) {
    if (!c.known.has(key)) throw new TypeError(`${fn}: ${what}.${key} is not an option (known: ${c.keys.join(', ')})`);
  }
  // Every known key becomes an own data property (undefined when absent), always in the spec's
  // order: each getter runs once, now; the addon's lookups never reach a prototype.
  const out = c.read(value);
  for (const [key, inner] of c.nested) {
    const v = out[key];
    if (v !== undefined) out[key] = snapshot(fn, `${what}.${key}`, v, inner);
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
const withInto = new WeakMap<readonly string[], KeySpec>();
export function checkOptions(fn: string, opts: unknown, known: readonly string[], intoKeys?: readonly string[]): object | undefined {
  let spec: KeySpec = known;
  if (intoKeys) {
    spec = withInto.get(intoKeys) ?? known.map((k) => (k === 'into' ? ['into', intoKeys] as const : k));
    withInto.set(intoKeys, spec);
  }
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
