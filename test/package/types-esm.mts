// Type-checked by scripts/pack-smoke.sh in the consumer project: the "import" condition's types.
import { kernels, cpuInfo, AttnodeLoadError, type AttentionShape, type CpuInfo } from 'attnode';

const shape: AttentionShape = { batch: 1, heads: 2, qLen: 3, kvLen: 5, headDim: 8 };
const q = new Float32Array(48);
const kv = new Float32Array(80);
const { out, lse }: { out: Float32Array; lse: Float32Array } = kernels.attentionForward(q, kv, kv, shape, { causal: true });
const info: CpuInfo = cpuInfo();
const isLoadError = (e: unknown): boolean => e instanceof AttnodeLoadError && e.attempts.every((a) => typeof a.reason === 'string');
export { out, lse, info, isLoadError };
