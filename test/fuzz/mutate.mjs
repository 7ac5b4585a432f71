// Mutations of a valid call's argument list, for the kernel fuzz. Each returns a short label (what
// it broke, for the crash report and the dedupe of findings) or null when it found nothing to do.
import {
  FuzzGetterError, proxy, put, readable, ta, detach, detachedLike, garbage, isDetached, isPlainObject, numberLike, offsetCopy, resizableCopy,
  resized, retyped, sharedCopy, shrink,
} from './values.mjs';

/** Every place in args a mutation can replace: { parent, key, path, value }, depth-first. */
export function slots(args) {
  const out = [];
  const walk = (parent, key, path, depth) => {
    const d = Object.getOwnPropertyDescriptor(parent, key);
    if (!d || d.get) return;
    const v = d.value;
    out.push({ parent, key, path, value: v });
    if (depth >= 3) return;
    if (isPlainObject(v)) for (const k of Object.keys(v)) walk(v, k, [...path, k], depth + 1);
    else if (Array.isArray(v) && v.length <= 64) for (let i = 0; i < v.length; ++i) walk(v, i, [...path, i], depth + 1);
  };
  for (let i = 0; i < args.length; ++i) walk(args, i, [i], 0);
  return out;
}

/** Every typed array reachable from args (through plain objects and arrays, never getters). */
export function views(args) {
  return slots(args).filter((s) => ArrayBuffer.isView(s.value)).map((s) => s.value);
}

const pathName = (path) => path.map((k, i) => (i === 0 ? `arg${k}` : typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');

function gc() {
  if (typeof globalThis.gc === 'function') globalThis.gc();
}

/** The value at path, creating plain objects on the way when `create` (else undefined). */
function parentOf(args, path, create) {
  let o = args;
  for (let i = 0; i < path.length - 1; ++i) {
    const k = path[i];
    const d = Object.getOwnPropertyDescriptor(o, k);  // never through a getter the fuzz put there
    if (!d || d.get || !isPlainObject(d.value)) {
      if (!create) return undefined;
      put(o, k, {});
    }
    o = Object.getOwnPropertyDescriptor(o, k).value;
  }
  return o;
}

/** What a getter or a post-issue action does to the call's other arrays. */
export function sabotage(args, r, kind = r.pick(['ints', 'bytes', 'nan', 'detach', 'detachOne', 'shrink', 'list', 'gc']), spare = null) {
  // spare: arrays the overwriting kinds leave alone (a caller's outputs: the bytes between the
  // rows of a strided output are the caller's, not the kernel's, and keep what is written there).
  const vs = views(args).filter((v) => !spare || !spare.has(v) || !['ints', 'bytes', 'nan'].includes(kind));
  try {
    switch (kind) {
      case 'ints': {
        const val = r.pick([2 ** 31 - 1, -1, -(2 ** 31), 1e6, 7]);
        for (const v of vs) if (v instanceof Int32Array && readable(v)) v.fill(val);
        break;
      }
      case 'bytes':
        for (const v of vs) if (v instanceof Uint8Array && readable(v)) v.fill(r.pick([255, 2]));
        break;
      case 'nan':
        for (const v of vs) if (v instanceof Float32Array && readable(v)) v.fill(r.pick([NaN, Infinity, 3.4e38]));
        break;
      case 'detach':
        for (const v of vs) if (!(ta.buffer(v) instanceof SharedArrayBuffer)) detach(v);
        gc();
        break;
      case 'detachOne': {
        const own = vs.filter((v) => !(ta.buffer(v) instanceof SharedArrayBuffer));
        if (own.length) detach(r.pick(own));
        gc();
        break;
      }
      case 'shrink':
        for (const v of vs) shrink(v, r);
        gc();
        break;
      case 'list':  // arrays of arrays (optimizer lists) change length
        for (const s of slots(args)) if (Array.isArray(s.value)) (r.chance(0.5) ? s.value.push(new Float32Array(3)) : (s.value.length = 0));
        break;
      default:
        gc();
    }
  } catch (e) {
    // The sabotage itself must not be what throws (a detached fill, say): swallow it.
    if (!(e instanceof TypeError)) throw e;
  }
  return kind;
}

/** Converts some input arrays to resizable-buffer copies (so 'shrink' has something to act on). */
export function makeResizable(args, r) {
  for (const s of slots(args)) {
    if (ArrayBuffer.isView(s.value) && !(s.value instanceof DataView) && r.chance(0.5)) {
      const copy = resizableCopy(s.value, r);
      // Aliases (into === x) stay aliases.
      for (const o of slots(args)) if (o.value === s.value) put(o.parent, o.key, copy);
    }
  }
}

const typedSlots = (args) => slots(args).filter((s) => ArrayBuffer.isView(s.value) && !(s.value instanceof DataView));
const numberSlots = (args) => slots(args).filter((s) => typeof s.value === 'number' || typeof s.value === 'bigint');
const objectSlots = (args) => slots(args).filter((s) => isPlainObject(s.value));
const propSlots = (args) => slots(args).filter((s) => s.parent !== args);

/** The mutations, by name. Each takes (call, r) and returns a label or null. */
export const MUTATIONS = {
  garbage(call, r) {
    const all = slots(call.args);
    if (!all.length) return null;
    const s = r.pick(all);
    const near = ArrayBuffer.isView(s.value) && !(s.value instanceof DataView) ? ta.length(s.value) : typeof s.value === 'number' && s.value < 64 ? Math.max(0, s.value) : 8;
    put(s.parent, s.key, garbage(r, 0, near));
    return `garbage@${pathName(s.path)}`;
  },
  number(call, r) {
    const ns = numberSlots(call.args);
    if (!ns.length) return null;
    const s = r.pick(ns);
    put(s.parent, s.key, numberLike(typeof s.value === 'bigint' ? Number(s.value) : s.value, r));
    return `number@${pathName(s.path)}`;
  },
  hugeDim(call, r) {  // a large, valid-looking integer: outputs sized from it must be refused, not allocated
    const ns = numberSlots(call.args).filter((s) => typeof s.value === 'number' && Number.isInteger(s.value));
    if (!ns.length) return null;
    const s = r.pick(ns);
    put(s.parent, s.key, r.pick([1e5, 1e6, 2 ** 20, 2 ** 24, 2 ** 28, 2 ** 30, 2 ** 31 - 1, 2 ** 31, 2 ** 40, 2 ** 53 - 1]));
    return `hugeDim@${pathName(s.path)}`;
  },
  overflow(call, r) {  // two sizes whose product passes 2^31, 2^32, 2^40, 2^53 or 2^64
    const ns = numberSlots(call.args).filter((s) => typeof s.value === 'number' && Number.isInteger(s.value));
    if (ns.length < 2) return null;
    const a = r.pick(ns);
    let b = r.pick(ns);
    if (b === a) b = ns[(ns.indexOf(a) + 1) % ns.length];
    const [x, y] = r.pick([[2 ** 16, 2 ** 15 + 1], [2 ** 16, 2 ** 16], [2 ** 20, 2 ** 20], [2 ** 26, 2 ** 27], [2 ** 31 - 1, 2 ** 31 - 1],
      [2 ** 32, 2 ** 32], [46341, 46341], [65537, 65537], [1e6, 1e5], [2 ** 30, 4]]);
    put(a.parent, a.key, x);
    put(b.parent, b.key, y);
    return `overflow@${pathName(a.path)},${pathName(b.path)}`;
  },
  delete(call, r) {
    const ps = propSlots(call.args);
    if (!ps.length) return null;
    const s = r.pick(ps);
    if (Array.isArray(s.parent)) put(s.parent, s.key, undefined); else delete s.parent[s.key];
    return `delete@${pathName(s.path)}`;
  },
  option(call, r) {  // an option (present or not) set to garbage, or an unknown option
    const spec = call.spec;
    if (!spec.optKeys) return null;
    const [at, keys] = spec.optKeys;
    if (!isPlainObject(call.args[at])) call.args[at] = {};
    const key = r.chance(0.1) ? r.pick(['Into', 'casual', 'eps ', 'constructor', 'toString']) : r.pick(keys);
    put(call.args[at], key, r.chance(0.3) ? numberLike(r.int(0, 8), r) : garbage(r, 0, 8));
    return `option@arg${at}.${key}`;
  },
  length(call, r) {
    const ts = typedSlots(call.args);
    if (!ts.length) return null;
    const s = r.pick(ts);
    put(s.parent, s.key, resized(s.value, r));
    return `length@${pathName(s.path)}`;
  },
  retype(call, r) {
    const ts = typedSlots(call.args);
    if (!ts.length) return null;
    const s = r.pick(ts);
    put(s.parent, s.key, retyped(s.value, r));
    return `retype@${pathName(s.path)}`;
  },
  detached(call, r) {
    const ts = typedSlots(call.args);
    if (!ts.length) return null;
    const s = r.pick(ts);
    if (r.chance(0.5)) detach(s.value); else put(s.parent, s.key, detachedLike(s.value));
    return `detached@${pathName(s.path)}`;
  },
  shrunk(call, r) {  // on a resizable buffer that is then shrunk (the view goes out of bounds or shorter)
    const ts = typedSlots(call.args);
    if (!ts.length) return null;
    const s = r.pick(ts);
    put(s.parent, s.key, shrink(resizableCopy(s.value, r), r));
    return `shrunk@${pathName(s.path)}`;
  },
  alias(call, r) {  // an output is (or overlaps) an input
    const spec = call.spec;
    const ts = typedSlots(call.args).filter((s) => s.path[0] < call.nArgs);  // not an ignored extra argument
    if (!spec.outputs || !ts.length) return null;
    const path = r.pick(spec.outputs);
    const src = r.pick(ts);
    const parent = parentOf(call.args, path, true);
    const key = path[path.length - 1];
    const mode = r.int(0, 3);
    if (mode === 0 || !call.outLengths) {
      put(parent, key, src.value);  // exactly an input
      return `alias@${pathName(path)}=${pathName(src.path)}`;
    }
    // An output view of the right length sharing some bytes with the input (it is rebuilt on a
    // common buffer, same contents): only the overlap is wrong.
    const outLen = call.outLengths[path.join('.')] ?? ta.length(src.value);
    const T = mode === 3 ? Float32Array : (path.includes('indices') || (spec.result === 'i32') ? Int32Array : Float32Array);
    const inBytes = ta.byteLength(src.value), outBytes = outLen * T.BYTES_PER_ELEMENT;
    if (inBytes === 0 || outBytes === 0 || !readable(src.value)) return null;
    const shift = Math.ceil((inBytes - r.int(1, Math.min(inBytes, outBytes))) / 4) * 4;
    const buf = new ArrayBuffer(Math.max(inBytes, shift + outBytes) + 8);
    const In = src.value.constructor;
    const inView = new In(buf, 0, ta.length(src.value));
    inView.set(src.value);
    put(src.parent, src.key, inView);
    put(parent, key, new T(buf, shift, outLen));
    return `overlap@${pathName(path)}~${pathName(src.path)}`;
  },
  aliasInputs(call, r) {  // two inputs (or in-out arrays) are the same array
    const ts = typedSlots(call.args);
    if (ts.length < 2) return null;
    const a = r.pick(ts), b = r.pick(ts);
    if (a === b) return null;
    put(b.parent, b.key, a.value);
    return `aliasInputs@${pathName(b.path)}=${pathName(a.path)}`;
  },
  throwingGetter(call, r) {
    const ps = propSlots(call.args);
    if (!ps.length) return null;
    const s = r.pick(ps);
    const where = pathName(s.path);
    const get = () => { throw new FuzzGetterError(where); };
    get.fuzzLabel = 'throws';
    Object.defineProperty(s.parent, s.key, { get, enumerable: true, configurable: true });
    return `throwingGetter@${where}`;
  },
  mutatingGetter(call, r) {  // returns the valid value, but first sabotages the call's arrays
    const ps = propSlots(call.args);
    if (!ps.length) return null;
    if (r.chance(0.4)) makeResizable(call.args, r);
    const s = r.pick(slots(call.args).filter((x) => x.parent !== call.args));
    const value = s.value;
    const kind = r.pick(['ints', 'ints', 'bytes', 'nan', 'detach', 'detachOne', 'shrink', 'list']);
    const onAccess = r.int(1, 2);
    const seed = r.fork();
    let n = 0;
    const get = () => {
      if (++n === onAccess) sabotage(call.args, new (r.constructor)(seed), kind);
      return value;
    };
    get.fuzzLabel = kind;
    Object.defineProperty(s.parent, s.key, { get, enumerable: true, configurable: true });
    return `mutatingGetter(${kind})@${pathName(s.path)}`;
  },
  proxy(call, r) {  // an options/shape object behind a Proxy whose traps throw or lie
    const os = objectSlots(call.args);
    if (!os.length) return null;
    const s = r.pick(os);
    const target = s.value;
    const mode = r.int(0, 2);
    const where = pathName(s.path);
    s.parent[s.key] = proxy(target, {
      get(t, k, rc) {
        if (mode === 0 && typeof k === 'string' && r.chance(0.5)) throw new FuzzGetterError(`${where}.${k} (proxy)`);
        return Reflect.get(t, k, rc);
      },
      has(t, k) { return mode === 1 ? true : Reflect.has(t, k); },
      ownKeys(t) { return mode === 2 ? [...Reflect.ownKeys(t), 'bogus'] : Reflect.ownKeys(t); },
      getOwnPropertyDescriptor(t, k) {
        return Reflect.getOwnPropertyDescriptor(t, k) ?? (mode === 2 && k === 'bogus' ? { value: 1, enumerable: true, configurable: true } : undefined);
      },
    });
    return `proxy${mode}@${where}`;
  },
  subclass(call, r) {  // a typed-array subclass whose length/byteOffset/buffer getters lie or sabotage
    const ts = typedSlots(call.args);
    if (!ts.length) return null;
    const s = r.pick(ts);
    if (!readable(s.value) || s.value instanceof DataView) return null;
    const Base = s.value.constructor;
    const kind = r.pick(['length', 'byteOffset', 'buffer', 'sabotage']);
    const args = call.args, sr = new (r.constructor)(r.fork());
    class Lying extends Base {
      get length() { return kind === 'length' ? super.length + 1000 : kind === 'sabotage' ? (sabotage(args, sr), super.length) : super.length; }
      get byteOffset() { return kind === 'byteOffset' ? 1 << 30 : super.byteOffset; }
      get buffer() { return kind === 'buffer' ? new ArrayBuffer(8) : super.buffer; }
    }
    const v = new Lying(ta.length(s.value));
    v.set(s.value);
    put(s.parent, s.key, v);
    return `subclass(${kind})@${pathName(s.path)}`;
  },
  truncate(call, r) {
    if (call.args.length === 0) return null;
    call.args.length = r.int(0, call.args.length - 1);
    return `truncate@${call.args.length}`;
  },
  extraArgs(call, r) {
    for (let i = r.int(1, 3); i > 0; --i) call.args.push(garbage(r, 0, 8));
    return 'extraArgs';
  },
};

const NAMES = Object.keys(MUTATIONS);
// Weights: the structural breakages are the point; the rest still runs often.
const WEIGHTS = {
  garbage: 4, number: 3, hugeDim: 1, overflow: 1, delete: 1, option: 2, length: 2, retype: 1, detached: 1, shrunk: 1,
  alias: 2, aliasInputs: 1, throwingGetter: 1, mutatingGetter: 2, proxy: 1, subclass: 1, truncate: 0.5, extraArgs: 0.3,
};
const TOTAL = NAMES.reduce((s, n) => s + WEIGHTS[n], 0);

export function pickMutation(r) {
  let x = r.float() * TOTAL;
  for (const n of NAMES) { x -= WEIGHTS[n]; if (x < 0) return n; }
  return NAMES[NAMES.length - 1];
}

/** Benign changes: the same call on other memory. The result must be the same bits (or, for a
 *  SharedArrayBuffer, a TypeError/RangeError). */
export function benign(call, r) {
  const ts = typedSlots(call.args);
  if (!ts.length) return null;
  const labels = [];
  for (let i = r.int(1, 3); i > 0; --i) {
    const s = r.pick(ts);
    if (!ArrayBuffer.isView(s.parent[s.key]) || s.parent[s.key] !== s.value) continue;
    const kind = r.pick(['offset', 'offset', 'resizable', 'tracking', 'shared']);
    s.parent[s.key] = kind === 'offset' ? offsetCopy(s.value, r) : kind === 'shared' ? sharedCopy(s.value)
      : resizableCopy(s.value, r, kind === 'tracking');
    // Keep in-place aliases (into === x) in place.
    for (const o of ts) if (o !== s && o.value === s.value) put(o.parent, o.key, s.parent[s.key]);
    labels.push(`${kind}@${pathName(s.path)}`);
  }
  return labels.length ? labels.join('+') : null;
}
