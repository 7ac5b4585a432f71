// Type-checked by scripts/pack-smoke.sh in the consumer project: the "require" condition's types.
import attnode = require('attnode');

const shape: attnode.AttentionShape = { batch: 1, heads: 2, qLen: 3, kvLen: 5, headDim: 8 };
const r: attnode.AttentionForwardResult = attnode.kernels.attentionForward(new Float32Array(48), new Float32Array(80), new Float32Array(80), shape);
const isa: attnode.Isa = attnode.cpuInfo().isa;
export = { r, isa };
