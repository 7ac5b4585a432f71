#!/usr/bin/env node
// attnode command line. `demo` will train the date task once the model exists (issue: training);
// until then it runs the attention kernels end to end and reports what this machine can do.
import { kernels } from './kernels.js';
import { cpuInfo } from './runtime.js';

function demo(): void {
  const info = cpuInfo();
  console.log(`attnode on ${info.vendor}: variant ${info.isa} (supported: ${info.supportedIsas.join(', ')}), ${info.threads} threads`);
  const shape = { batch: 8, heads: 8, qLen: 256, kvLen: 256, headDim: 64 };
  const n = shape.batch * shape.qLen * shape.heads * shape.headDim;
  const q = new Float32Array(n).map(() => Math.random() - 0.5);
  const k = new Float32Array(n).map(() => Math.random() - 0.5);
  const v = new Float32Array(n).map(() => Math.random() - 0.5);
  const t0 = performance.now();
  const { out, lse } = kernels.attentionForward(q, k, v, shape, { causal: true });
  const dout = new Float32Array(n).fill(1e-3);
  kernels.attentionBackward(q, k, v, out, lse, dout, shape, { causal: true });
  const ms = performance.now() - t0;
  console.log(`causal attention forward+backward, (B,H,T,D) = (8,8,256,64): ${ms.toFixed(1)} ms`);
  console.log('The training demo (the date-normalisation task) arrives with the model; see README.');
}

const [cmd] = process.argv.slice(2);
switch (cmd) {
  case 'demo':
    demo();
    break;
  default:
    console.log('usage: attnode demo');
    process.exitCode = cmd === undefined || cmd === '--help' ? 0 : 2;
}
