// Differentiable ops: each forward calls a kernel and records its backward on the tape.
export { linear, type LinearOptions } from './linear.js';
export { layerNorm } from './norm.js';
export { activation, add, dropout, scale } from './elementwise.js';
export { embedding, type EmbeddingPositions } from './embedding.js';
export { attention, type AttentionInput, type Columns } from './attention.js';
export { projectParts } from './projection.js';
export { concatSequences } from './concat.js';
export { crossEntropySum, type LossValue } from './loss.js';
export { arena, Arena, withArena } from './arena.js';
export { scratch, data } from './grad.js';
export { matmulPrecision, withMatmulPrecision } from './precision.js';
