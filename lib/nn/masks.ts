// The masks each attention of an encoder-decoder sees (DESIGN.md, "Model contract"), built either
// as dynamic kernel options (a causal flag, lengths, a window, never materialised) or as static
// mask arrays (built here, read by the kernel). Both give the same result for every real position:
// the static arrays are the reference the dynamic options are tested against.
import { causalMask } from '../data/masks.js';
import type { AttentionOptions } from '../kernels.js';

export type MaskMode = 'dynamic' | 'static';

/** A sliding window (sides missing = 0) and global tokens, as the kernel's window/globalTokens options. */
export interface SparsePattern {
  window?: { left: number; right?: number };
  globalTokens?: number;
}

/** The attention pattern of a model (from its config): sparse sides, and whether decoder layers are mixed. */
export interface AttentionLayout {
  encoder?: SparsePattern | undefined;
  decoderSelf?: SparsePattern | undefined;
  mixed?: boolean;
  /** Decoder self-attention without the causal mask (a CMLM, issue 15): target padding only. */
  bidirectional?: boolean;
}

export interface Seq2SeqMasks {
  encoderSelf: AttentionOptions;
  decoderSelf: AttentionOptions;
  cross: AttentionOptions;
  /**
   * A mixed decoder layer's one attention: queries the target positions, keys [source; target] of
   * each row (kvLen = srcLen + tgtLen), source and target padding through keyMask, and causal: with
   * kvLen - qLen = srcLen the bottom-right rule lets target position i see every source key and
   * target keys 0..i.
   */
  mixed: AttentionOptions;
}

/** The kernel options of a pattern (nothing when it has no window). */
function dynamicPattern(p: SparsePattern | undefined): AttentionOptions {
  if (!p?.window) return {};
  return { window: { left: p.window.left, right: p.window.right ?? 0 }, ...(p.globalTokens ? { globalTokens: p.globalTokens } : {}) };
}

/**
 * Whether the pattern lets query i see key j (tq queries, tk keys): the kernel's rule, with
 * c = i + (tk - tq): c - left <= j <= c + right, or j < g, or i < g.
 */
function patternAllows(p: SparsePattern | undefined, i: number, j: number, tq: number, tk: number): boolean {
  if (!p?.window) return true;
  const g = p.globalTokens ?? 0;
  if (j < g || i < g) return true;
  const c = i + tk - tq;
  return j >= c - p.window.left && j <= c + (p.window.right ?? 0);
}

/**
 * A static [batch, 1, tq, tk] mask: key padding of each entry (lengths, and keyMask [B * tk] when
 * given), causal if asked, and the sparse pattern's band.
 */
function staticMask(keyLengths: Int32Array, tq: number, tk: number, causal: boolean, keyMask: Uint8Array | null = null,
  pattern?: SparsePattern): AttentionOptions {
  const B = keyLengths.length;
  const data = new Uint8Array(B * tq * tk);
  const c = causal ? causalMask(tq, tk) : null;
  for (let b = 0; b < B; ++b) {
    const len = keyLengths[b]!;
    for (let i = 0; i < tq; ++i) {
      const o = (b * tq + i) * tk;
      for (let j = 0; j < Math.min(len, tk); ++j)
        data[o + j] = (c ? c[i * tk + j]! : 1) & (keyMask ? keyMask[b * tk + j]! : 1) & (patternAllows(pattern, i, j, tq, tk) ? 1 : 0);
    }
  }
  return { mask: { data, batch: B, heads: 1 } };
}

/**
 * The key mask [batch * (srcLen + tgtLen)] of a mixed attention: row b's source keys below
 * srcLengths[b] (and marked 1 in srcMask, when given), then its target keys below tgtLengths[b].
 */
export function mixedKeyMask(srcLengths: Int32Array, tgtLengths: Int32Array, srcLen: number, tgtLen: number,
  srcMask: Uint8Array | null = null): Uint8Array {
  const B = srcLengths.length, kv = srcLen + tgtLen;
  const m = new Uint8Array(B * kv);
  for (let b = 0; b < B; ++b) {
    const o = b * kv;
    if (srcMask) for (let j = 0; j < srcLengths[b]!; ++j) m[o + j] = srcMask[b * srcLen + j]!;
    else m.fill(1, o, o + srcLengths[b]!);
    m.fill(1, o + srcLen, o + srcLen + tgtLengths[b]!);
  }
  return m;
}

/**
 * srcMask [batch * srcLen] (1 = real token), when given, further restricts the source keys of
 * encoder self-attention and cross-attention: padding inside a row (Hugging Face's attention_mask).
 * `layout` adds the config's sparse patterns (encoder and decoder self-attention); the mixed
 * attention's mask is built only when layout.mixed says the decoder uses it.
 */
export function seq2seqMasks(mode: MaskMode, srcLengths: Int32Array, tgtLengths: Int32Array, srcLen: number, tgtLen: number,
  srcMask: Uint8Array | null = null, layout: AttentionLayout = {}): Seq2SeqMasks {
  const mixedMask = layout.mixed ? mixedKeyMask(srcLengths, tgtLengths, srcLen, tgtLen, srcMask) : null;
  if (mode === 'static') {
    const all = new Int32Array(srcLengths.length).fill(srcLen + tgtLen);
    return {
      encoderSelf: staticMask(srcLengths, srcLen, srcLen, false, srcMask, layout.encoder),
      decoderSelf: staticMask(tgtLengths, tgtLen, tgtLen, !layout.bidirectional, null, layout.decoderSelf),
      cross: staticMask(srcLengths, tgtLen, srcLen, false, srcMask),
      mixed: mixedMask ? staticMask(all, tgtLen, srcLen + tgtLen, true, mixedMask) : {},
    };
  }
  const keyMask = srcMask ? { keyMask: srcMask } : {};
  return {
    encoderSelf: { keyLengths: srcLengths, queryLengths: srcLengths, ...keyMask, ...dynamicPattern(layout.encoder) },
    decoderSelf: { causal: !layout.bidirectional, keyLengths: tgtLengths, queryLengths: tgtLengths, ...dynamicPattern(layout.decoderSelf) },
    cross: { keyLengths: srcLengths, queryLengths: tgtLengths, ...keyMask },
    mixed: mixedMask ? { causal: true, keyMask: mixedMask, queryLengths: tgtLengths } : {},
  };
}
