// How to build a valid, small call of every function in `kernels` (and the runtime settings),
// for the kernel fuzz. A spec is
//   { name, build(r) -> args, result, outputs?, inputs? }
// name:    the key in `kernels` (or in RUNTIME); `Async` forms are specs of their own.
// build:   a valid argument list from an Rng (the same Rng state gives the same arguments).
// result:  what a successful call returns: 'f32', 'i32', 'bool', 'number', 'void', 'clip', 'xent'
//          or a list of Float32Array / Int32Array field names (an object of arrays).
// outputs: paths (argument index, then keys) where a caller-given output array may go: the
//          fuzz's aliasing mutations put an input there.
// optKeys: [options argument index, option names]: the options a mutation may add or break.
// Sizes come from r.dim(lo, hi): usually tiny, now and then `r.scale` times larger (vector tails,
// blocking and threading paths).

const ACT_KINDS = ['relu', 'gelu', 'geluTanh', 'silu'];

function attentionCall(r, backward) {
  const G = r.int(1, 3), Hkv = r.int(1, 2), B = r.int(1, 3), Tq = r.dim(1, 6), Tk = r.dim(1, 6), D = r.dim(1, 9);
  const noKv = r.chance(0.2), h = noKv ? Hkv : G * Hkv;  // without kvHeads, kvHeads = heads
  const shape = { batch: B, heads: h, kvHeads: Hkv, qLen: Tq, kvLen: Tk, headDim: D };
  if (noKv) delete shape.kvHeads;
  let qStride = h * D, kStride = Hkv * D, vStride = Hkv * D;
  if (r.chance(0.15)) { qStride += r.int(0, 3); shape.qStride = qStride; }
  if (r.chance(0.15)) { kStride += r.int(0, 3); shape.kStride = kStride; }
  if (r.chance(0.15)) { vStride += r.int(0, 3); shape.vStride = vStride; }
  const nq = (B * Tq - 1) * qStride + h * D, nk = (B * Tk - 1) * kStride + Hkv * D, nv = (B * Tk - 1) * vStride + Hkv * D;
  const nout = B * Tq * h * D, nl = B * h * Tq, nm = Tq * Tk;
  const opts = {};
  if (r.chance(0.3)) opts.causal = r.chance(0.5);
  if (r.chance(0.3)) opts.keyLengths = r.i32(B, 0, Tk);
  if (r.chance(0.3)) opts.queryLengths = r.i32(B, 0, Tq);
  if (r.chance(0.3)) opts.keyMask = r.u8(B * Tk, 0, 1);
  if (r.chance(0.3)) {
    const nb = r.pick([1, B]), nh = r.pick([1, h]);
    opts.mask = { data: r.u8(nb * nh * nm, 0, 1), batch: nb, heads: nh };
  }
  if (r.chance(0.3)) {
    const nb = r.pick([1, B]), nh = r.pick([1, h]);
    opts.bias = { data: r.f32(nb * nh * nm, () => (r.chance(0.1) ? -Infinity : r.float() * 4 - 2)), batch: nb, heads: nh };
  }
  if (r.chance(0.25)) {
    opts.window = {};
    if (r.chance(0.8)) opts.window.left = r.chance(0.1) ? Infinity : r.int(0, Tk + 2);
    if (r.chance(0.6)) opts.window.right = r.int(0, Tk + 2);
    if (r.chance(0.4)) opts.globalTokens = r.int(0, Math.max(Tq, Tk) + 1);
  }
  if (r.chance(0.2)) {
    const bq = r.int(1, Tq + 1), bk = r.int(1, Tk + 1);
    opts.blockLayout = { data: r.u8(Math.ceil(Tq / bq) * Math.ceil(Tk / bk), 0, 1), blockQ: bq, blockK: bk };
  }
  if (r.chance(0.2)) opts.scale = r.float() * 2;
  if (r.chance(0.2)) { opts.dropout = r.pick([0, 0.1, 0.5, 0.9]); opts.seed = r.chance(0.5) ? r.int(0, 1e6) : BigInt(r.int(0, 1e6)); }
  if (r.chance(0.3)) opts.precision = r.pick(['fp32', 'bf16']);
  if (r.chance(0.25)) {
    opts.into = backward ? { dq: r.f32(nq), dk: r.f32(nk), dv: r.f32(nv) } : { out: r.f32(nout), lse: r.f32(nl) };
    if (r.chance(0.3)) delete opts.into[r.pick(Object.keys(opts.into))];
  }
  const pick = r.chance(0.7) ? opts : (r.chance(0.5) ? undefined : {});
  if (!backward) return [r.f32(nq), r.f32(nk), r.f32(nv), shape, pick];
  return [r.f32(nq), r.f32(nk), r.f32(nv), r.f32(nout), r.f32(nl, () => r.float() * 3), r.f32(nout), shape, pick];
}

const ATT_OPTS = ['causal', 'keyLengths', 'keyMask', 'queryLengths', 'mask', 'bias', 'window', 'globalTokens', 'blockLayout',
  'scale', 'dropout', 'seed', 'precision', 'into'];

function gemmCall(r, batched) {
  const m = r.dim(0, 6), n = r.dim(0, 6), k = r.dim(0, 6);
  const o = { m, n, k };
  if (r.chance(0.4)) o.transA = r.chance(0.5);
  if (r.chance(0.4)) o.transB = r.chance(0.5);
  if (r.chance(0.3)) o.alpha = r.float() * 4 - 2;
  if (r.chance(0.3)) o.beta = r.pick([0, 1, 0.5, -1]);
  if (r.chance(0.3)) o.precision = r.pick(['fp32', 'bf16']);
  let batch = 1, sa = m * k, sb = k * n, sc = m * n;
  if (batched) {
    batch = r.int(1, 3);
    o.batch = batch;
    if (r.chance(0.3)) { sa = r.pick([0, m * k, m * k + r.int(1, 3)]); o.strideA = sa; }
    if (r.chance(0.3)) { sb = r.pick([0, k * n, k * n + r.int(1, 3)]); o.strideB = sb; }
    if (r.chance(0.3)) { sc = m * n + r.int(0, 3); o.strideC = sc; }
  }
  if (r.chance(0.3)) o.C = r.f32((batch - 1) * sc + m * n);
  if (r.chance(0.3)) {
    let sbias = 0;
    if (batched && r.chance(0.5)) { sbias = r.pick([0, n, n + 1]); o.strideBias = sbias; }
    o.bias = r.f32((batch - 1) * sbias + n);
  }
  if (r.chance(0.3)) o.relu = r.chance(0.6);
  if (!batched) {
    const maskLen = m * Math.ceil(n / 8);
    if (r.chance(0.2)) o.rowSumsA = r.f32(m);
    if (r.chance(0.2)) o.addend = r.f32(m * n);
    if (r.chance(0.2)) o.gate = r.f32(m * n);
    else if (r.chance(0.2)) o.gateMask = r.u8(maskLen, 0, 255);
    if (o.relu && r.chance(0.4)) o.reluMask = r.u8(maskLen, 0, 255);
  }
  const blen = (batch - 1) * sb + k * n;
  // B as bf16 bits (a weight copy, issue 18): any 16-bit pattern, NaN and infinity included.
  const B = o.precision === 'bf16' && r.chance(0.4) ? Uint16Array.from({ length: blen }, () => r.int(0, 65535)) : r.f32(blen);
  return [r.f32((batch - 1) * sa + m * k), B, o];
}
const GEMM_OPTS = ['m', 'n', 'k', 'transA', 'transB', 'alpha', 'beta', 'precision', 'C', 'bias', 'rowSumsA', 'addend', 'gate', 'relu', 'reluMask',
  'gateMask'];

function linearForwardCall(r) {
  const rows = r.dim(0, 5), inF = r.dim(1, 6), outF = r.dim(1, 6);
  const b = r.pick([r.f32(outF), null, undefined]);
  const shape = { rows, inFeatures: inF, outFeatures: outF };
  if (r.chance(0.3)) shape.precision = r.pick(['fp32', 'bf16']);
  return [r.f32(rows * inF), r.f32(outF * inF), b, shape];
}
function linearBackwardCall(r) {
  const rows = r.dim(0, 5), inF = r.dim(1, 6), outF = r.dim(1, 6);
  const shape = { rows, inFeatures: inF, outFeatures: outF };
  if (r.chance(0.4)) shape.needInputGrad = r.chance(0.5);
  if (r.chance(0.3)) shape.precision = r.pick(['fp32', 'bf16']);
  return [r.f32(rows * inF), r.f32(outF * inF), r.f32(rows * outF), shape];
}

function normRows(r) { return { rows: r.dim(0, 5), dim: r.dim(1, 9) }; }
function maybeInto(r, fields) {
  if (!r.chance(0.3)) return undefined;
  const into = {};
  for (const [k, n] of Object.entries(fields)) if (r.chance(0.7)) into[k] = r.f32(n);
  return into;
}
function optsWith(r, o) {
  const out = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return Object.keys(out).length === 0 && r.chance(0.5) ? undefined : out;
}

const layerNormForward = (r) => {
  const { rows, dim } = normRows(r);
  return [r.f32(rows * dim), r.f32(dim), r.f32(dim),
    optsWith(r, { eps: r.chance(0.3) ? r.pick([1e-5, 0, 0.5, 1]) : undefined, into: maybeInto(r, { y: rows * dim, mean: rows, rstd: rows }) })];
};
const layerNormBackward = (r) => {
  const { rows, dim } = normRows(r);
  return [r.f32(rows * dim), r.f32(dim), r.f32(rows), r.f32(rows, () => r.float() * 3), r.f32(rows * dim),
    optsWith(r, { into: maybeInto(r, { dx: rows * dim, dgamma: dim, dbeta: dim }) })];
};
const rmsNormForward = (r) => {
  const { rows, dim } = normRows(r);
  return [r.f32(rows * dim), r.f32(dim), optsWith(r, { eps: r.chance(0.3) ? r.pick([1e-6, 0, 1]) : undefined,
    into: maybeInto(r, { y: rows * dim, rstd: rows }) })];
};
const rmsNormBackward = (r) => {
  const { rows, dim } = normRows(r);
  return [r.f32(rows * dim), r.f32(dim), r.f32(rows, () => r.float() * 3), r.f32(rows * dim),
    optsWith(r, { into: maybeInto(r, { dx: rows * dim, dgamma: dim }) })];
};

/** opts.into for an elementwise op: absent, a new array, or in place on one of the inputs. */
function elementInto(r, n, inputs) {
  const c = r.int(0, 5);
  if (c <= 2) return undefined;
  if (c === 3) return r.f32(n);
  return r.pick(inputs);
}
function unary(extra) {
  return (r) => {
    const x = r.f32(r.dim(0, 12));
    const o = optsWith(r, { ...(extra ? extra(r) : {}), into: elementInto(r, x.length, [x]) });
    return [x, o];
  };
}
function binary(extra) {
  return (r) => {
    const n = r.dim(0, 12);
    const x = r.f32(n), dy = r.f32(n);
    return [x, dy, optsWith(r, { ...(extra ? extra(r) : {}), into: elementInto(r, n, [x, dy]) })];
  };
}
const geluOpts = (r) => ({ approximate: r.chance(0.4) ? r.pick(['none', 'tanh']) : undefined });

const seedValue = (r) => r.pick([r.int(0, 1e6), BigInt(r.int(0, 1e6)), 0, 2 ** 53 - 1, 2n ** 64n - 1n]);
function dropoutCall(r) {
  const x = r.f32(r.dim(0, 12));
  return [x, r.pick([0, 0.1, 0.5, 0.99]), seedValue(r),
    optsWith(r, { offset: r.chance(0.3) ? r.pick([0, 5, 2 ** 40]) : undefined, into: elementInto(r, x.length, [x]) })];
}

function embeddingForwardCall(r) {
  const vocab = r.dim(1, 8), dim = r.dim(1, 6), n = r.dim(0, 8);
  const ids = r.i32(n, 0, vocab - 1);
  const o = {};
  if (r.chance(0.3)) o.scale = r.float() * 4;
  if (r.chance(0.3)) {
    const period = r.chance(0.5) ? r.int(1, Math.max(1, n)) : undefined;
    const off = r.chance(0.5) ? r.int(0, 3) : undefined;
    const rows = (off ?? 0) + Math.min(n, period ?? n) + r.int(0, 2);
    o.positions = r.f32(rows * dim);
    if (period !== undefined) o.positionPeriod = period;
    if (off !== undefined) o.positionOffset = off;
  }
  if (r.chance(0.25)) o.into = r.f32(n * dim);
  return [ids, r.f32(vocab * dim), { vocab, dim }, optsWith(r, o)];
}
function embeddingBackwardCall(r) {
  const vocab = r.dim(1, 8), dim = r.dim(1, 6), n = r.dim(0, 8);
  const o = {};
  if (r.chance(0.3)) o.paddingIdx = r.int(-1, vocab - 1);
  if (r.chance(0.3)) o.scale = r.float() * 4;
  if (r.chance(0.3)) o.into = r.f32(vocab * dim);
  if (o.into && r.chance(0.5)) o.accumulate = r.chance(0.7);
  return [r.i32(n, 0, vocab - 1), r.f32(n * dim), { vocab, dim }, optsWith(r, o)];
}
function positionEncodingCall(r) {
  const length = r.dim(0, 8), dim = r.dim(1, 8);
  const o = {};
  if (r.chance(0.3)) o.offset = r.pick([0, 3, 1000]);
  if (r.chance(0.3)) o.base = r.pick([10000, 2, 1e6]);
  if (r.chance(0.25)) o.into = r.f32(length * dim);
  return [length, dim, optsWith(r, o)];
}

function crossEntropyCall(r) {
  const vocab = r.dim(1, 8), rows = r.dim(0, 6);
  const o = {};
  if (r.chance(0.3)) o.labelSmoothing = r.pick([0, 0.1, 1]);
  if (r.chance(0.3)) o.ignoreIndex = r.pick([-100, 0, vocab - 1]);
  if (r.chance(0.3)) o.reduction = r.pick(['mean', 'sum']);
  if (r.chance(0.2)) o.grad = r.chance(0.5);
  if (o.grad !== false && r.chance(0.25)) o.into = r.f32(rows * vocab);
  const targets = r.i32(rows, 0, vocab - 1);
  if (o.ignoreIndex !== undefined) for (let i = 0; i < rows; ++i) if (r.chance(0.2)) targets[i] = o.ignoreIndex;
  return [r.f32(rows * vocab, () => r.float() * 8 - 4), targets, vocab, optsWith(r, o)];
}
function rowsCall(r) { const dim = r.dim(1, 8), rows = r.dim(0, 5); return { dim, rows, x: r.f32(rows * dim, () => r.float() * 8 - 4) }; }
const logSoftmaxCall = (r) => { const { dim, rows, x } = rowsCall(r); return [x, dim, optsWith(r, { into: r.chance(0.25) ? r.f32(rows * dim) : undefined })]; };
const argmaxCall = (r) => { const { dim, rows, x } = rowsCall(r); return [x, dim, optsWith(r, { into: r.chance(0.25) ? new Int32Array(rows) : undefined })]; };
const topKCall = (r) => {
  const { dim, rows, x } = rowsCall(r);
  const k = r.int(1, dim);
  const into = r.chance(0.3) ? optsWith(r, { values: r.chance(0.6) ? r.f32(rows * k) : undefined,
    indices: r.chance(0.6) ? new Int32Array(rows * k) : undefined }) : undefined;
  return [x, dim, k, optsWith(r, { into })];
};

function adamOpts(r, multi) {
  const o = { step: r.int(1, 1000) };
  if (r.chance(0.3)) o.lr = r.pick([1e-3, 0, 1]);
  if (r.chance(0.3)) o.beta1 = r.pick([0, 0.9, 0.5]);
  if (r.chance(0.3)) o.beta2 = r.pick([0, 0.999]);
  if (r.chance(0.3)) o.eps = r.pick([1e-8, 0, 1]);
  if (r.chance(0.3)) o.weightDecay = r.pick([0, 0.01, 1]);
  if (r.chance(0.3)) o.gradScale = r.pick([1, -2, 0.5]);
  if (multi && r.chance(0.3)) o.zeroGrads = r.chance(0.5);
  return o;
}
function adamCall(r) {
  const n = r.dim(0, 12);
  return [r.f32(n), r.f32(n), r.f32(n), r.f32(n, () => r.float()), adamOpts(r, false)];
}
function adamMultiCall(r) {
  const t = r.int(0, 4);
  const lens = Array.from({ length: t }, () => r.dim(0, 8));
  const list = (fill) => lens.map((n) => r.f32(n, fill));
  const o = adamOpts(r, true);
  if (r.chance(0.3)) o.bf16Copies = lens.map((n) => (r.chance(0.7) ? new Uint16Array(n) : null));
  return [list(), list(), list(), list(() => r.float()), o];
}
const arraysCall = (r) => Array.from({ length: r.int(0, 4) }, () => r.f32(r.dim(0, 8)));

/** Every function of `kernels`, with its spec. */
export const KERNEL_SPECS = [
  { name: 'attentionForward', build: (r) => attentionCall(r, false), result: ['out', 'lse'], outputs: [[4, 'into', 'out'], [4, 'into', 'lse']], optKeys: [4, ATT_OPTS] },
  { name: 'attentionForwardAsync', build: (r) => attentionCall(r, false), result: ['out', 'lse'], outputs: [[4, 'into', 'out'], [4, 'into', 'lse']], optKeys: [4, ATT_OPTS] },
  { name: 'attentionBackward', build: (r) => attentionCall(r, true), result: ['dq', 'dk', 'dv'], outputs: [[7, 'into', 'dq'], [7, 'into', 'dk'], [7, 'into', 'dv']], optKeys: [7, ATT_OPTS] },
  { name: 'attentionBackwardAsync', build: (r) => attentionCall(r, true), result: ['dq', 'dk', 'dv'], outputs: [[7, 'into', 'dq'], [7, 'into', 'dk'], [7, 'into', 'dv']], optKeys: [7, ATT_OPTS] },
  { name: 'dropoutKeep', build: (r) => [seedValue(r), r.int(0, 3), r.int(0, 3), r.int(0, 9), r.int(0, 9), r.pick([0, 0.1, 0.5, 0.99])], result: 'bool' },
  { name: 'gemm', build: (r) => gemmCall(r, false), result: 'f32', outputs: [[2, 'C'], [2, 'reluMask'], [2, 'rowSumsA']], optKeys: [2, GEMM_OPTS] },
  { name: 'gemmAsync', build: (r) => gemmCall(r, false), result: 'f32', outputs: [[2, 'C'], [2, 'reluMask'], [2, 'rowSumsA']], optKeys: [2, GEMM_OPTS] },
  { name: 'gemmBatched', build: (r) => gemmCall(r, true), result: 'f32', outputs: [[2, 'C']], optKeys: [2, [...GEMM_OPTS, 'batch', 'strideA', 'strideB', 'strideC', 'strideBias']] },
  { name: 'gemmBatchedAsync', build: (r) => gemmCall(r, true), result: 'f32', outputs: [[2, 'C']], optKeys: [2, [...GEMM_OPTS, 'batch', 'strideA', 'strideB', 'strideC', 'strideBias']] },
  { name: 'linearForward', build: linearForwardCall, result: 'f32', optKeys: [3, ['rows', 'inFeatures', 'outFeatures', 'precision']] },
  { name: 'linearForwardAsync', build: linearForwardCall, result: 'f32', optKeys: [3, ['rows', 'inFeatures', 'outFeatures', 'precision']] },
  { name: 'linearBackward', build: linearBackwardCall, result: 'linearBackward', optKeys: [3, ['rows', 'inFeatures', 'outFeatures', 'needInputGrad', 'precision']] },
  { name: 'linearBackwardAsync', build: linearBackwardCall, result: 'linearBackward', optKeys: [3, ['rows', 'inFeatures', 'outFeatures', 'needInputGrad', 'precision']] },
  { name: 'layerNormForward', build: layerNormForward, result: ['y', 'mean', 'rstd'], outputs: [[3, 'into', 'y'], [3, 'into', 'mean'], [3, 'into', 'rstd']], optKeys: [3, ['eps', 'into']] },
  { name: 'layerNormBackward', build: layerNormBackward, result: ['dx', 'dgamma', 'dbeta'], outputs: [[5, 'into', 'dx'], [5, 'into', 'dgamma'], [5, 'into', 'dbeta']], optKeys: [5, ['into']] },
  { name: 'rmsNormForward', build: rmsNormForward, result: ['y', 'rstd'], outputs: [[2, 'into', 'y'], [2, 'into', 'rstd']], optKeys: [2, ['eps', 'into']] },
  { name: 'rmsNormBackward', build: rmsNormBackward, result: ['dx', 'dgamma'], outputs: [[4, 'into', 'dx'], [4, 'into', 'dgamma']], optKeys: [4, ['into']] },
  { name: 'activationForward', build: (r) => [r.pick(ACT_KINDS), ...unary()(r)], result: 'f32', outputs: [[2, 'into']], optKeys: [2, ['into']] },
  { name: 'activationBackward', build: (r) => [r.pick(ACT_KINDS), ...binary()(r)], result: 'f32', outputs: [[3, 'into']], optKeys: [3, ['into']] },
  { name: 'relu', build: unary(), result: 'f32', outputs: [[1, 'into']], optKeys: [1, ['into']] },
  { name: 'reluBackward', build: binary(), result: 'f32', outputs: [[2, 'into']], optKeys: [2, ['into']] },
  { name: 'gelu', build: unary(geluOpts), result: 'f32', outputs: [[1, 'into']], optKeys: [1, ['into', 'approximate']] },
  { name: 'geluBackward', build: binary(geluOpts), result: 'f32', outputs: [[2, 'into']], optKeys: [2, ['into', 'approximate']] },
  { name: 'silu', build: unary(), result: 'f32', outputs: [[1, 'into']], optKeys: [1, ['into']] },
  { name: 'siluBackward', build: binary(), result: 'f32', outputs: [[2, 'into']], optKeys: [2, ['into']] },
  { name: 'add', build: binary(), result: 'f32', outputs: [[2, 'into']], optKeys: [2, ['into']] },
  { name: 'dropoutForward', build: dropoutCall, result: 'f32', outputs: [[3, 'into']], optKeys: [3, ['offset', 'into']] },
  { name: 'dropoutBackward', build: dropoutCall, result: 'f32', outputs: [[3, 'into']], optKeys: [3, ['offset', 'into']] },
  { name: 'dropoutKeepElement', build: (r) => [seedValue(r), r.pick([r.int(0, 100), BigInt(r.int(0, 100)), 2 ** 53 - 1]), r.pick([0, 0.5, 0.99])], result: 'bool' },
  { name: 'embeddingForward', build: embeddingForwardCall, result: 'f32', outputs: [[3, 'into']], optKeys: [3, ['into', 'scale', 'positions', 'positionPeriod', 'positionOffset']] },
  { name: 'embeddingBackward', build: embeddingBackwardCall, result: 'f32', outputs: [[3, 'into']], optKeys: [3, ['paddingIdx', 'accumulate', 'scale', 'into']] },
  { name: 'positionEncoding', build: positionEncodingCall, result: 'f32', outputs: [[2, 'into']], optKeys: [2, ['offset', 'base', 'into']] },
  { name: 'crossEntropy', build: crossEntropyCall, result: 'xent', outputs: [[3, 'into']], optKeys: [3, ['labelSmoothing', 'ignoreIndex', 'reduction', 'grad', 'into']] },
  { name: 'crossEntropyAsync', build: crossEntropyCall, result: 'xent', outputs: [[3, 'into']], optKeys: [3, ['labelSmoothing', 'ignoreIndex', 'reduction', 'grad', 'into']] },
  { name: 'logSoftmax', build: logSoftmaxCall, result: 'f32', outputs: [[2, 'into']], optKeys: [2, ['into']] },
  { name: 'argmax', build: argmaxCall, result: 'i32', outputs: [[2, 'into']], optKeys: [2, ['into']] },
  { name: 'topK', build: topKCall, result: ['values', 'indices'], outputs: [[3, 'into', 'values'], [3, 'into', 'indices']], optKeys: [3, ['into']] },
  ...['adamStep', 'adamwStep', 'adamStepAsync', 'adamwStepAsync'].map((name) => (
    { name, build: adamCall, result: 'void', optKeys: [4, ['step', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradScale']] })),
  ...['adamStepMulti', 'adamwStepMulti', 'adamStepMultiAsync', 'adamwStepMultiAsync'].map((name) => (
    { name, build: adamMultiCall, result: 'void', optKeys: [4, ['step', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradScale', 'zeroGrads', 'bf16Copies']] })),
  { name: 'toBf16', build: (r) => { const src = r.f32(r.dim(0, 40)); return r.chance(0.3) ? [src, new Uint16Array(src.length)] : [src]; }, result: 'u16' },
  { name: 'gradNorm', build: (r) => [arraysCall(r)], result: 'number' },
  { name: 'clipGradNorm', build: (r) => [arraysCall(r), r.pick([1, 0.5, 1e-3, 100]), optsWith(r, { eps: r.chance(0.3) ? r.pick([1e-6, 0]) : undefined })], result: 'clip', optKeys: [2, ['eps']] },
];

/** The process-wide settings exported next to `kernels` (lib/runtime.ts). */
export const RUNTIME_SPECS = [
  { name: 'setNumThreads', build: (r) => [r.int(1, 2)], result: 'void', runtime: true },
  { name: 'getNumThreads', build: () => [], result: 'number', runtime: true },
  { name: 'cpuInfo', build: () => [], result: 'object', runtime: true },
  // ISAS: the variants this build supports here (set by the child from cpuInfo()).
  { name: 'setIsa', build: (r) => [r.pick(ISAS)], result: 'string', runtime: true },
];

export const ISAS = ['portable'];

export const ALL_SPECS = [...KERNEL_SPECS, ...RUNTIME_SPECS];
