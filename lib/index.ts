// attnode: masked multi-head attention and encoder-decoder Transformers for Node.js.
export { kernels } from './kernels.js';
export type {
  AttentionShape, AttentionOptions, AttentionForwardOptions, AttentionBackwardOptions, AttentionWindow, BlockLayout,
  AttentionForwardResult, AttentionBackwardResult, Broadcast,
} from './kernels.js';
export type * from './opkernels/types.js';
export type {
  GemmOptions, GemmBatchedOptions, LinearShape, LinearBackwardShape, LinearBackwardResult, Precision, GemmB,
} from './gemm.js';
export { cpuInfo, setNumThreads, getNumThreads, setIsa } from './runtime.js';
export { withMatmulPrecision, matmulPrecision } from './ops/precision.js';
export type { CpuInfo, Isa } from './native.js';
export { AttnodeLoadError, AttnodeIsaError } from './errors.js';
export type { LoadAttempt } from './errors.js';
export { nativeBinary } from './native.js';
export * from './data/index.js';
export * from './io/index.js';
export { Tensor, noGrad } from './tensor.js';
export type { Device, Storage } from './tensor.js';
export { Seq2SeqTransformer } from './nn/seq2seq.js';
export type { Seq2SeqInput, ForwardOptions } from './nn/seq2seq.js';
export { resolveModelConfig, defaultModelConfig } from './nn/config.js';
export type { Seq2SeqModelConfig } from './nn/config.js';
export { seq2seqMasks } from './nn/masks.js';
export type { MaskMode, Seq2SeqMasks } from './nn/masks.js';
export { Module, Parameter } from './nn/module.js';
export { loadHfModel } from './nn/hf-import.js';
export type { HfModel, HfTokenizer } from './nn/hf-import.js';
export { saveHfModel } from './nn/hf-export.js';
export type { SaveHfOptions } from './nn/hf-export.js';
export { Trainer } from './train/trainer.js';
export type { TrainerOptions, FitOptions, Progress, BatchSource, StepResult } from './train/trainer.js';
export { Optimizer, NonFiniteError, defaultOptimizer } from './train/optimizer.js';
export type { OptimizerOptions } from './train/optimizer.js';
export { learningRate } from './train/schedule.js';
export type { Schedule } from './train/schedule.js';
export { saveModel, loadModel, saveTraining, resumeTraining } from './train/checkpoint.js';
export type { SavedModel } from './train/checkpoint.js';
export { greedyRecompute } from './decode/greedy-simple.js';
export { generate, stream, checkGenerate, attentionSvg, BeamHypotheses, DEFAULT_LIMITS } from './decode/index.js';
export type {
  GenerateLimits, GenerateOptions, GenerateTokenizer, GenerateResult, Hypothesis, StreamToken, Source, SourceBatch,
} from './decode/index.js';
export { DecoderKvCache, LayerKvCache } from './nn/kv-cache.js';
export { maskPredictSync } from './decode/mask-predict.js';
export type { MaskPredictSyncOptions } from './decode/mask-predict.js';
export { cmlmInputs, cmlmLoss, cmlmObjective, DEFAULT_LENGTH_LOSS_WEIGHT } from './train/cmlm.js';
export type { CmlmBatch, CmlmLossOptions, BatchLossOptions } from './train/cmlm.js';
export type { BatchLoss } from './train/trainer.js';
export type { ModelObjective } from './nn/config-cmlm.js';
export * from './dist/index.js';
export * from './train/pretrain.js';
