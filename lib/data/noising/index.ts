// lib/data/noising: the noising objectives of masked-token pretraining (BERT's mlm, BART's
// infill, T5's span corruption), the tokens they need, and static/dynamic masking of a corpus.
export { mlmNoise, resolveMlmOptions } from './mlm.js';
export type { MlmOptions, MlmResult } from './mlm.js';
export { infillNoise, resolveInfillOptions } from './infill.js';
export type { InfillOptions, InfillResult, InfillSpan } from './infill.js';
export { spanNoise, spanNoiseMask, resolveSpanOptions } from './span.js';
export type { SpanOptions, SpanResult } from './span.js';
export { noiseExample, resolveNoising, NOISING_OBJECTIVES } from './objective.js';
export type { NoisingObjective, NoisingOptions, ResolvedNoisingOptions, NoiseExampleOptions } from './objective.js';
export { keyedRng, poisson } from './shared.js';
export type { NoisingVocab } from './shared.js';
export { withMaskTokens, MASK_TOKEN, sentinelToken } from './mask-tokens.js';
export type { MaskTokenOptions } from './mask-tokens.js';
export { MaskedBatchSource, maskedEvalBatches } from './masked-source.js';
export type { MaskingMode, MaskedSourceOptions, MaskedSourceVocab } from './masked-source.js';
