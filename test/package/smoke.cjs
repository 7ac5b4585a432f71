// CommonJS side of the package smoke test: `require('attnode')` from the installed tarball
// resolves the "require" export (dist/cjs) and runs one attention call.
const assert = require('node:assert');
const attnode = require('attnode');
const shape = { batch: 1, heads: 2, qLen: 3, kvLen: 5, headDim: 8 };
const q = new Float32Array(1 * 3 * 2 * 8).fill(0.25);
const kv = new Float32Array(1 * 5 * 2 * 8).fill(0.5);
const { out, lse } = attnode.kernels.attentionForward(q, kv, kv, shape, { causal: true });
// Every value is 0.5, so every output is 0.5 whatever the weights.
assert.ok(out.every((x) => Math.abs(x - 0.5) < 1e-6), 'out');
assert.ok(lse.every(Number.isFinite), 'lse');
assert.strictEqual(typeof attnode.AttnodeLoadError, 'function');
console.log(`smoke.cjs: require('attnode') ok, isa=${attnode.cpuInfo().isa}, binary=${attnode.nativeBinary}`);
