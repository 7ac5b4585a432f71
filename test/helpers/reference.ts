// A float64 reference of the attention kernel contract (shared/DESIGN.md, "The attention kernel
// contract"), written for clarity, not speed: one query row at a time, every mask checked
// per (b, h, i, j). The kernels are tested against it, and it is itself checked against finite
// differences (attention.reference.test.ts).
import { kernels } from '../../dist/index.js';

export interface RefShape {
  batch: number;
  heads: number;
  kvHeads?: number;
  qLen: number;
  kvLen: number;
  headDim: number;
}

export interface RefBroadcast<T> {
  data: T;
  batch?: number;
  heads?: number;
}

export interface RefOptions {
  causal?: boolean;
  keyLengths?: Int32Array;
  keyMask?: Uint8Array;
  queryLengths?: Int32Array;
  mask?: RefBroadcast<Uint8Array>;
  bias?: RefBroadcast<Float32Array | Float64Array>;
  scale?: number;
  dropout?: number;
  seed?: number | bigint;
  window?: { left?: number; right?: number };
  globalTokens?: number;
  blockLayout?: { data: Uint8Array; blockQ: number; blockK: number };
}

/** The keep decision of dropout for (b, h, i, j): the kernels' own (kernels.dropoutKeep) by default. */
export type KeepFn = (seed: number | bigint, b: number, h: number, i: number, j: number, p: number) => boolean;

export interface RefForward {
  out: Float64Array;  // [B, Tq, H, D]
  lse: Float64Array;  // [B, H, Tq]
}
export interface RefBackward extends RefForward {
  dq: Float64Array;   // [B, Tq, H, D]
  dk: Float64Array;   // [B, Tk, Hkv, D]
  dv: Float64Array;   // [B, Tk, Hkv, D]
}

/** Index into a [batch, heads, Tq, Tk] array broadcast over its 1-sized batch/heads. */
function broadcastIndex(x: RefBroadcast<unknown>, s: RefShape, b: number, h: number, i: number, j: number): number {
  const nb = x.batch ?? 1, nh = x.heads ?? 1;
  return ((((nb === 1 ? 0 : b) * nh + (nh === 1 ? 0 : h)) * s.qLen + i) * s.kvLen) + j;
}

/** Whether query i of (b, h) may attend key j under every given mask (bias -Infinity included). */
export function allowed(s: RefShape, o: RefOptions, b: number, h: number, i: number, j: number): boolean {
  if (o.queryLengths && i >= o.queryLengths[b]) return false;
  if (o.causal && j > i + (s.kvLen - s.qLen)) return false;
  if (o.keyLengths && j >= o.keyLengths[b]) return false;
  if (o.keyMask && o.keyMask[b * s.kvLen + j] === 0) return false;
  if (o.window) {  // c - left <= j <= c + right, c = i + (Tk - Tq); global queries and keys exempt
    const c = i + (s.kvLen - s.qLen), g = o.globalTokens ?? 0;
    if (!(i < g || j < g) && (j < c - (o.window.left ?? 0) || j > c + (o.window.right ?? 0))) return false;
  }
  if (o.blockLayout) {
    const { data, blockQ, blockK } = o.blockLayout;
    if (data[Math.floor(i / blockQ) * Math.ceil(s.kvLen / blockK) + Math.floor(j / blockK)] === 0) return false;
  }
  if (o.mask && o.mask.data[broadcastIndex(o.mask, s, b, h, i, j)] === 0) return false;
  if (o.bias && o.bias.data[broadcastIndex(o.bias, s, b, h, i, j)] === -Infinity) return false;
  return true;
}

/** One query row's softmax: allowed keys, their probabilities and dropout multipliers. */
interface Row {
  keys: number[];   // allowed key indices
  p: number[];      // softmax probability of each allowed key
  z: number[];      // dropout multiplier: 1/(1-p) kept, 0 dropped, 1 without dropout
  lse: number;      // -Infinity when no key is allowed
}

function rowSoftmax(q: ArrayLike<number>, k: ArrayLike<number>, s: RefShape, o: RefOptions, keep: KeepFn,
  b: number, h: number, i: number): Row {
  const H = s.heads, Hkv = s.kvHeads ?? s.heads, D = s.headDim, hk = Math.floor(h / (H / Hkv));
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const pDrop = o.dropout ?? 0;
  const keys: number[] = [], scores: number[] = [];
  const qo = ((b * s.qLen + i) * H + h) * D;
  for (let j = 0; j < s.kvLen; ++j) {
    if (!allowed(s, o, b, h, i, j)) continue;
    const ko = ((b * s.kvLen + j) * Hkv + hk) * D;
    let dot = 0;
    for (let d = 0; d < D; ++d) dot += q[qo + d] * k[ko + d];
    let x = scale * dot;
    if (o.bias) x += o.bias.data[broadcastIndex(o.bias, s, b, h, i, j)];
    keys.push(j); scores.push(x);
  }
  if (keys.length === 0) return { keys, p: [], z: [], lse: -Infinity };
  const m = Math.max(...scores);
  let sum = 0;
  for (const x of scores) sum += Math.exp(x - m);
  const lse = m + Math.log(sum);
  // Normalise by the sum, not exp(x - lse): for scores near -FLT_MAX, m + log(sum) rounds back to m.
  const p = scores.map((x) => Math.exp(x - m) / sum);
  const z = keys.map((j) => (pDrop > 0 ? (keep(o.seed ?? 0, b, h, i, j, pDrop) ? 1 / (1 - pDrop) : 0) : 1));
  return { keys, p, z, lse };
}

function dims(s: RefShape) {
  const Hkv = s.kvHeads ?? s.heads;
  return { B: s.batch, H: s.heads, Hkv, G: s.heads / Hkv, Tq: s.qLen, Tk: s.kvLen, D: s.headDim };
}

/** out and lse of the contract, in float64. Rows with no allowed key: out 0, lse -Infinity. */
export function referenceForward(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  s: RefShape, o: RefOptions = {}, keep: KeepFn = kernels.dropoutKeep): RefForward {
  const { B, H, Hkv, G, Tq, D } = dims(s);
  const out = new Float64Array(B * Tq * H * D);
  const lse = new Float64Array(B * H * Tq);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < H; ++h) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < Tq; ++i) {
        const row = rowSoftmax(q, k, s, o, keep, b, h, i);
        lse[(b * H + h) * Tq + i] = row.lse;
        const oo = ((b * Tq + i) * H + h) * D;
        row.keys.forEach((j, n) => {
          const w = row.p[n] * row.z[n];
          const vo = ((b * s.kvLen + j) * Hkv + hk) * D;
          for (let d = 0; d < D; ++d) out[oo + d] += w * v[vo + d];
        });
      }
    }
  }
  return { out, lse };
}

/**
 * Gradients of sum(out * dout) with respect to q, k, v, in float64, by the textbook formulas:
 * with P the softmax, Z the dropout multipliers and out_i = sum_j P_ij Z_ij v_j,
 *   dv_j += P_ij Z_ij dout_i;  dP_ij = dout_i . v_j;  dS_ij = P_ij (Z_ij dP_ij - dout_i . out_i);
 *   dq_i += scale dS_ij k_j;   dk_j += scale dS_ij q_i.
 * Padding rows and rows with no key contribute nothing (their out is constant 0).
 */
export function referenceBackward(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  dout: ArrayLike<number>, s: RefShape, o: RefOptions = {}, keep: KeepFn = kernels.dropoutKeep): RefBackward {
  const { B, H, Hkv, G, Tq, Tk, D } = dims(s);
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const { out, lse } = referenceForward(q, k, v, s, o, keep);
  const dq = new Float64Array(B * Tq * H * D);
  const dk = new Float64Array(B * Tk * Hkv * D);
  const dv = new Float64Array(B * Tk * Hkv * D);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < H; ++h) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < Tq; ++i) {
        const row = rowSoftmax(q, k, s, o, keep, b, h, i);
        if (row.keys.length === 0) continue;
        const qo = ((b * Tq + i) * H + h) * D;
        let di = 0;
        for (let d = 0; d < D; ++d) di += dout[qo + d] * out[qo + d];
        row.keys.forEach((j, n) => {
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          let dP = 0;
          for (let d = 0; d < D; ++d) dP += dout[qo + d] * v[ko + d];
          const pz = row.p[n] * row.z[n];
          const dS = row.p[n] * (row.z[n] * dP - di);
          for (let d = 0; d < D; ++d) {
            dv[ko + d] += pz * dout[qo + d];
            dq[qo + d] += scale * dS * k[ko + d];
            dk[ko + d] += scale * dS * q[qo + d];
          }
        });
      }
    }
  }
  return { out, lse, dq, dk, dv };
}
