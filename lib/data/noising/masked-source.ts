// Static and dynamic masking of a corpus, as a batch source the Trainer consumes.
//
// - 'static': every document is noised when the source is built, `duplicates` times with
//   different masks (RoBERTa's baseline: 10 copies), and those fixed examples are served epoch
//   after epoch. Copy d of document i is drawn from keyedRng(seed, d, i).
// - 'dynamic': a document is noised afresh each time it is served, from keyedRng(seed, epoch, i):
//   a pure function of (seed, epoch, index), so masks do not depend on batch order, batch size or
//   thread count, and restoring the loader's position (saveTraining/resumeTraining save
//   `source.loader`) continues with bit-identical batches.
// Batching, shuffling, epochs and the saved position are BatchLoader's in both modes.
import { collate, type Seq2SeqBatch, type Seq2SeqExample } from '../batching.js';
import { BatchLoader, type BatchLoaderOptions, type BatchLoaderState } from '../loader.js';
import { DEFAULT_IGNORE_INDEX } from '../seq2seq.js';
import { noiseExample, resolveNoising, type NoisingOptions, type ResolvedNoisingOptions } from './objective.js';
import { keyedRng, type NoisingVocab } from './shared.js';

export type MaskingMode = 'static' | 'dynamic';

/** The vocabulary facts the source needs: the noising ones and the ids collate writes. */
export interface MaskedSourceVocab extends NoisingVocab {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
}

export interface MaskedSourceOptions extends Omit<BatchLoaderOptions, 'bos' | 'eos' | 'padId' | 'ignoreIndex'> {
  noising: NoisingOptions;
  masking: MaskingMode;
  /** 'static' only: noised copies of each document, each with its own mask. Default 1. */
  duplicates?: number;
  /** End each source with EOS (as encodePairs does). Default true. */
  sourceEos?: boolean;
  /** Decoder start id. Default: the tokenizer's BOS. */
  decoderStartId?: number;
  /** Label of ignored positions. Default -100 (for 'mlm', its noising.ignoreIndex). */
  ignoreIndex?: number;
}

function checkDocuments(documents: readonly Int32Array[]): void {
  if (!Array.isArray(documents)) throw new TypeError('documents: expected an array of Int32Array');
  documents.forEach((d, i) => {
    if (!(d instanceof Int32Array)) throw new TypeError(`documents[${i}]: expected an Int32Array of token ids`);
  });
}

export class MaskedBatchSource {
  readonly masking: MaskingMode;
  readonly noising: ResolvedNoisingOptions;
  /** The loader behind the source: hand it to saveTraining / resumeTraining to save and restore the position. */
  readonly loader: BatchLoader;
  private readonly documents: readonly Int32Array[];
  private readonly vocab: MaskedSourceVocab;
  private readonly seed: number;
  private readonly eos: number | undefined;
  private readonly collateOptions: { bos: number; eos: number; padId: number; ignoreIndex: number; srcLen?: number; tgtLen?: number };

  /** `documents`: token ids without BOS/EOS (tokenizer.encode(text)). */
  constructor(documents: readonly Int32Array[], vocab: MaskedSourceVocab, options: MaskedSourceOptions) {
    checkDocuments(documents);
    const masking = options.masking;
    if (masking !== 'static' && masking !== 'dynamic') throw new TypeError(`masking: expected 'static' or 'dynamic', got ${JSON.stringify(masking)}`);
    const duplicates = options.duplicates ?? 1;
    if (!Number.isInteger(duplicates) || duplicates < 1) throw new RangeError(`duplicates: expected an integer >= 1, got ${String(duplicates)}`);
    if (masking === 'dynamic' && options.duplicates !== undefined && duplicates !== 1) {
      throw new TypeError("duplicates: only meaningful with masking: 'static' (dynamic masking draws a fresh mask every epoch)");
    }
    this.masking = masking;
    this.noising = resolveNoising(options.noising, vocab);
    this.documents = documents;
    this.vocab = vocab;
    this.seed = options.seed ?? 0;
    this.eos = (options.sourceEos ?? true) ? vocab.eosId : undefined;
    const ignoreIndex = this.noising.objective === 'mlm' ? this.noising.ignoreIndex : options.ignoreIndex ?? DEFAULT_IGNORE_INDEX;
    this.collateOptions = {
      bos: options.decoderStartId ?? vocab.bosId, eos: vocab.eosId, padId: vocab.padId, ignoreIndex,
      ...(options.srcLen !== undefined ? { srcLen: options.srcLen } : {}), ...(options.tgtLen !== undefined ? { tgtLen: options.tgtLen } : {}),
    };
    const { noising: _n, masking: _m, duplicates: _d, sourceEos: _s, decoderStartId: _b, ignoreIndex: _i, ...loaderOptions } = options;
    const examples: Seq2SeqExample[] = [];
    if (masking === 'static') {
      for (let d = 0; d < duplicates; d++) documents.forEach((_, i) => examples.push(this.exampleAt(i, d)));
    } else {
      // The loader plans over the clean documents (their lengths); batches are noised as served.
      for (const doc of documents) examples.push({ src: this.withEos(doc), tgt: doc });
    }
    this.loader = new BatchLoader(examples, { shuffle: true, ...loaderOptions, ...this.collateOptions });
  }

  /** Examples the loader serves per epoch (documents x duplicates for 'static'). */
  get numExamples(): number { return this.loader.numExamples; }
  get batchesPerEpoch(): number { return this.loader.batchesPerEpoch; }
  get epoch(): number { return this.loader.epoch; }

  /**
   * Document `index` noised with the key (seed, round, index): for 'dynamic' `round` is the epoch
   * it is served in, for 'static' the copy number. Pure: the same arguments give the same example.
   */
  exampleAt(index: number, round: number): Seq2SeqExample {
    const doc = this.documents[index];
    if (doc === undefined) throw new RangeError(`index: no document ${index} (have ${this.documents.length})`);
    return noiseExample(doc, this.vocab, this.noising, keyedRng(this.seed, round, index), this.eos === undefined ? {} : { sourceEos: this.eos });
  }

  next(): Seq2SeqBatch {
    if (this.masking === 'static') return this.loader.next();
    const { epoch, indices } = this.loader.nextIndices();
    const rows = Array.from(indices, (i) => this.exampleAt(i, epoch));
    return { ...collate(rows, this.collateOptions), indices };
  }

  state(): BatchLoaderState { return this.loader.state(); }
  restore(state: BatchLoaderState): void { this.loader.restore(state); }

  private withEos(doc: Int32Array): Int32Array {
    if (this.eos === undefined) return doc;
    const out = new Int32Array(doc.length + 1);
    out.set(doc);
    out[doc.length] = this.eos;
    return out;
  }
}

/** Fixed noised batches of held-out documents (one draw, in order): evaluation data for fit or a benchmark. */
export function maskedEvalBatches(documents: readonly Int32Array[], vocab: MaskedSourceVocab,
  options: Omit<MaskedSourceOptions, 'masking' | 'duplicates' | 'shuffle'> & { batchSize: number }): Seq2SeqBatch[] {
  const source = new MaskedBatchSource(documents, vocab, { ...options, masking: 'static', shuffle: false });
  return Array.from({ length: source.batchesPerEpoch }, () => source.next());
}
