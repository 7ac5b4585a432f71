// attnode: masked multi-head attention and encoder-decoder Transformers for Node.js.
export { kernels } from './kernels.js';
export type {
  AttentionShape, AttentionOptions, AttentionForwardOptions, AttentionBackwardOptions,
  AttentionForwardResult, AttentionBackwardResult, Broadcast,
} from './kernels.js';
export type * from './opkernels/types.js';
export type {
  GemmOptions, GemmBatchedOptions, LinearShape, LinearBackwardShape, LinearBackwardResult,
} from './gemm.js';
export { cpuInfo, setNumThreads, getNumThreads, setIsa } from './runtime.js';
export type { CpuInfo, Isa } from './native.js';
export { AttnodeLoadError, AttnodeIsaError } from './errors.js';
export type { LoadAttempt } from './errors.js';
export { nativeBinary } from './native.js';
export * from './data/index.js';
export * from './io/index.js';
