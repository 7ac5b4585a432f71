// lib/io: files in and out (safetensors, atomic writes, checkpoints, model config, Hugging Face config import).
export { SafetensorsError, CheckpointError } from './errors.js';
export type { CheckpointErrorCode } from './errors.js';
export { DTYPE_SIZES, FLOAT_DTYPES, INT_DTYPES } from './dtypes.js';
export {
  SafetensorsFile, parseSafetensors, readSafetensors, readSafetensorsSync,
  encodeSafetensors, encodeSafetensorsChunks, writeSafetensors, writeSafetensorsSync,
} from './safetensors.js';
export type {
  Dtype, SafetensorsTensorInfo, Float32Tensor, SafetensorsReadOptions,
  WritableTensor, WritableTensors, SafetensorsWriteOptions,
} from './safetensors.js';
export { writeFileAtomic, writeFileAtomicSync, writeJsonAtomic, writeJsonAtomicSync } from './atomic.js';
export type { AtomicData, AtomicWriteOptions, JsonWriteOptions } from './atomic.js';
export { checkJsonValue } from './json.js';
export type { JsonValue, JsonObject, JsonPrimitive } from './json.js';
export {
  saveCheckpoint, loadCheckpoint, verifyCheckpoint, readCheckpointManifest,
  CHECKPOINT_FORMAT, CHECKPOINT_VERSION, MANIFEST_FILE,
} from './checkpoint.js';
export type {
  CheckpointTensor, OptimizerState, CheckpointInput, Checkpoint, CheckpointManifest, ManifestEntry, LoadCheckpointOptions,
} from './checkpoint.js';
export { validateConfig, readConfig, writeConfig, CONFIG_DEFAULTS } from './config.js';
export type { Seq2SeqConfig, Seq2SeqConfigInput, Activation, NormPlacement, PositionEncoding } from './config.js';
export { mapHfConfig, readHfConfig } from './hf-config.js';
export type { HfSeq2SeqImport, HfModelType } from './hf-config.js';
