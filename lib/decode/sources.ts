// From the sources a caller gives (id arrays of different lengths, or strings with a tokenizer) to
// the padded batch the encoder takes.
import type { Seq2SeqModelConfig } from '../nn/config.js';
import { overLimit, type ResolvedOptions } from './options.js';

/** One source: token ids, or text when a tokenizer is given. */
export type Source = ArrayLike<number> | string;
/** Sources of any lengths; they are padded together. */
export type SourceBatch = readonly Source[];

export interface PaddedSources {
  batch: number;
  srcLen: number;
  /** [batch * srcLen], padded with padId. */
  src: Int32Array;
  srcLengths: Int32Array;
}

export function padSources(sources: SourceBatch, cfg: Seq2SeqModelConfig, o: ResolvedOptions): PaddedSources {
  if (!Array.isArray(sources)) throw new TypeError('generate: src must be an array of sources (id arrays or strings)');
  if (sources.length === 0) throw new RangeError('generate: src is empty');
  // The limits on the batch come before any encoding, so an oversized call costs nothing.
  const lim = o.limits;
  if (sources.length > lim.maxBatch) throw overLimit('the number of sources (src.length)', sources.length, 'maxBatch', lim.maxBatch, ' (split the batch)');
  const perSource = o.numBeams > 1 ? o.numBeams : o.numReturnSequences;
  const rows = sources.length * perSource;
  if (rows > lim.maxRows)
    throw overLimit(`the decoder rows (${sources.length} sources x ${perSource} ${o.numBeams > 1 ? 'beams' : 'sequences'})`, rows, 'maxRows', lim.maxRows, ' (split the batch)');
  const ids = sources.map((s: unknown, i): ArrayLike<number> => {
    if (typeof s === 'string') {
      if (!o.tokenizer) throw new TypeError(`generate: src[${i}] is a string but options.tokenizer is not given`);
      return o.tokenizer.encode(s, { addEos: o.sourceEos });
    }
    if (typeof s !== 'object' || s === null || typeof (s as ArrayLike<number>).length !== 'number')
      throw new TypeError(`generate: src[${i}] must be an array of token ids or a string`);
    return s as ArrayLike<number>;
  });
  let srcLen = 0;
  ids.forEach((a, b) => {  // lengths first: the padded batch is allocated after
    if (a.length < 1 || a.length > cfg.maxLen) throw new RangeError(`generate: src[${b}] has ${a.length} tokens; a source needs 1 to maxLen = ${cfg.maxLen}`);
    if (a.length > lim.maxSourceTokens) throw overLimit(`src[${b}]'s length in tokens`, a.length, 'maxSourceTokens', lim.maxSourceTokens);
    srcLen = Math.max(srcLen, a.length);
  });
  const batch = ids.length, src = new Int32Array(batch * srcLen).fill(cfg.padId), srcLengths = new Int32Array(batch);
  ids.forEach((a, b) => {
    for (let t = 0; t < a.length; ++t) {
      const id = a[t]!;
      if (!Number.isInteger(id) || id < 0 || id >= cfg.srcVocab)
        throw new RangeError(`generate: src[${b}][${t}] = ${id} is not a token id of the source vocabulary [0, ${cfg.srcVocab})`);
      src[b * srcLen + t] = id;
    }
    srcLengths[b] = a.length;
  });
  return { batch, srcLen, src, srcLengths };
}
