// From text pairs (a TSV file, a built-in task) to the token-id examples the batcher takes.
import type { Seq2SeqExample } from './batching.js';
import type { Tokenizer } from './tokenizer.js';

export interface EncodePairsOptions {
  /** Tokenizer of the sources. */
  source: Tokenizer;
  /** Tokenizer of the targets; default: the source one (a shared vocabulary). */
  target?: Tokenizer;
  /**
   * End each source with EOS, as Marian, BART and fairseq sources do. Default true. Targets never
   * get BOS/EOS here: collate adds them as decoder input and labels.
   */
  sourceEos?: boolean;
}

/** Encode `{ source, target }` pairs into `{ src, tgt }` id examples. */
export function encodePairs(
  pairs: readonly { source: string; target: string }[], options: EncodePairsOptions,
): Seq2SeqExample[] {
  const tgtTok = options.target ?? options.source;
  const addEos = options.sourceEos ?? true;
  return pairs.map((p) => ({
    src: options.source.encode(p.source, { addEos }),
    tgt: tgtTok.encode(p.target),
  }));
}
