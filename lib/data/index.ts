// lib/data: tokenizers, teacher forcing and masks, batching, TSV input and built-in tasks.
// Pure TypeScript: importing it never loads the native addon.
export { Rng, mix32, hashString } from './rng.js';
export type { RngState } from './rng.js';
export {
  VocabTokenizer, parseTokenizerJSON, DEFAULT_SPECIAL_IDS, DEFAULT_SPECIAL_TOKENS, TOKENIZER_JSON_VERSION,
} from './tokenizer.js';
export type {
  Tokenizer, TokenizerJSON, TokenizerType, TokenizerBuildOptions, EncodeOptions, DecodeOptions,
  SpecialIds, SpecialTokens, MaskTokenIds,
} from './tokenizer.js';
export { CharTokenizer } from './char.js';
export { WordTokenizer, splitWords } from './word.js';
export { tokenizerFromJSON } from './load-tokenizer.js';
export { ByteLevelBpeTokenizer, preTokenize } from './hf-bpe.js';
export type { ByteLevelBpeOptions } from './hf-bpe.js';
export { SentencePieceModel } from './sentencepiece.js';
export { MarianTokenizer } from './hf-marian-tokenizer.js';
export type { MarianSpecialTokens } from './hf-marian-tokenizer.js';
export {
  shiftRight, makeLabels, shiftRightBatch, makeLabelsBatch, shiftTokensRight, padSequences,
  DEFAULT_IGNORE_INDEX,
} from './seq2seq.js';
export type { PaddedIds, DecoderPadOptions } from './seq2seq.js';
export { causalMask, paddingMask, denseAttentionMask } from './masks.js';
export type { DenseMaskOptions } from './masks.js';
export { collate, exampleSizes, chunkBatches, tokenBudgetBatches, bucketOrder } from './batching.js';
export type { Seq2SeqExample, Seq2SeqBatch, CollateOptions, OversizedPolicy } from './batching.js';
export { BatchLoader } from './loader.js';
export type { BatchLoaderOptions, BatchLoaderState } from './loader.js';
export { encodePairs } from './examples.js';
export type { EncodePairsOptions } from './examples.js';
export { parseTsv, readTsv, readTsvSync } from './tsv.js';
export type { ParallelPair } from './tsv.js';
export { DataFormatError } from './errors.js';
export * from './tasks/index.js';
export * from './noising/index.js';
