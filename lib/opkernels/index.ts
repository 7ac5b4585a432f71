// The non-GEMM ops of the kernel surface, merged into `kernels` by ../kernels.ts.
import { layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward } from './norm.js';
import {
  activationBackward, activationForward, add, dropoutBackward, dropoutForward, dropoutKeepElement, gelu, geluBackward,
  relu, reluBackward, silu, siluBackward,
} from './elementwise.js';
import { embeddingBackward, embeddingForward, positionEncoding } from './embedding.js';
import { argmax, crossEntropy, crossEntropyAsync, logSoftmax, topK } from './xent.js';
import {
  adamStep, adamStepAsync, adamStepMulti, adamStepMultiAsync, adamwStep, adamwStepAsync, adamwStepMulti, adamwStepMultiAsync,
  clipGradNorm, gradNorm,
} from './optim.js';

export const opsKernels = {
  layerNormForward, layerNormBackward, rmsNormForward, rmsNormBackward,
  activationForward, activationBackward, relu, reluBackward, gelu, geluBackward, silu, siluBackward,
  add, dropoutForward, dropoutBackward, dropoutKeepElement,
  embeddingForward, embeddingBackward, positionEncoding,
  crossEntropy, crossEntropyAsync, logSoftmax, argmax, topK,
  adamStep, adamwStep, adamStepAsync, adamwStepAsync, adamStepMulti, adamwStepMulti, adamStepMultiAsync,
  adamwStepMultiAsync, gradNorm, clipGradNorm,
};
