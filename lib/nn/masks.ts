// The masks each attention of an encoder-decoder sees (DESIGN.md, "Model contract"), built either
// as dynamic kernel options (a causal flag and lengths, never materialised) or as static mask
// arrays (built here, read by the kernel). Both give the same result for every real position.
import { causalMask } from '../data/masks.js';
import type { AttentionOptions } from '../kernels.js';

export type MaskMode = 'dynamic' | 'static';

export interface Seq2SeqMasks {
  encoderSelf: AttentionOptions;
  decoderSelf: AttentionOptions;
  cross: AttentionOptions;
}

/** A static [batch, 1, tq, tk] mask: key padding of each entry (lengths, and keyMask [B * tk] when given), and causal if asked. */
function staticMask(keyLengths: Int32Array, tq: number, tk: number, causal: boolean, keyMask: Uint8Array | null = null): AttentionOptions {
  const B = keyLengths.length;
  const data = new Uint8Array(B * tq * tk);
  const c = causal ? causalMask(tq, tk) : null;
  for (let b = 0; b < B; ++b) {
    const len = keyLengths[b]!;
    for (let i = 0; i < tq; ++i) {
      const o = (b * tq + i) * tk;
      for (let j = 0; j < Math.min(len, tk); ++j) data[o + j] = (c ? c[i * tk + j]! : 1) & (keyMask ? keyMask[b * tk + j]! : 1);
    }
  }
  return { mask: { data, batch: B, heads: 1 } };
}

/**
 * srcMask [batch * srcLen] (1 = real token), when given, further restricts the source keys of
 * encoder self-attention and cross-attention: padding inside a row (Hugging Face's attention_mask).
 */
export function seq2seqMasks(mode: MaskMode, srcLengths: Int32Array, tgtLengths: Int32Array, srcLen: number, tgtLen: number,
  srcMask: Uint8Array | null = null): Seq2SeqMasks {
  if (mode === 'static') {
    return {
      encoderSelf: staticMask(srcLengths, srcLen, srcLen, false, srcMask),
      decoderSelf: staticMask(tgtLengths, tgtLen, tgtLen, true),
      cross: staticMask(srcLengths, tgtLen, srcLen, false, srcMask),
    };
  }
  const keyMask = srcMask ? { keyMask: srcMask } : {};
  return {
    encoderSelf: { keyLengths: srcLengths, queryLengths: srcLengths, ...keyMask },
    decoderSelf: { causal: true, keyLengths: tgtLengths, queryLengths: tgtLengths },
    cross: { keyLengths: srcLengths, queryLengths: tgtLengths, ...keyMask },
  };
}
