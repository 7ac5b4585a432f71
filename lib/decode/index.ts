// lib/decode: greedy search, sampling and beam search with a KV cache, streaming, attention heatmaps.
export { generate, stream, checkGenerate } from './generate.js';
export type { GenerateOptions, GenerateTokenizer, GenerateResult, Hypothesis, StreamToken, Source, SourceBatch } from './generate.js';
export { resolveOptions, resolveLimits, DEFAULT_LIMITS } from './options.js';
export type { ResolvedOptions, GenerateLimits } from './options.js';
export { BeamHypotheses } from './beam-hypotheses.js';
export { attentionSvg, escapeXml } from './heatmap.js';
export { abortError } from './engine.js';
export { greedyRecompute } from './greedy-simple.js';
export type { GreedyResult } from './greedy-simple.js';
