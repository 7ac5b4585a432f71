// Smoke test run by scripts/pack-smoke.sh INSIDE a fresh project that installed the packed
// tarball (no compiler on PATH, install scripts not run): `import 'attnode'` exactly as a user
// would, one attention forward + backward on fixed inputs, results written for comparison
// across ISA variants (ATTNODE_ISA) by compare.mjs.
//   node smoke.mjs OUT.json [LABEL]   (LABEL names a run that is not a plain ISA run, e.g. rebuilt)
import fs from 'node:fs';
import * as attnode from 'attnode';

const { kernels, cpuInfo, nativeBinary } = attnode;
const [outFile, label] = process.argv.slice(2);
if (!outFile) throw new Error('usage: node smoke.mjs OUT.json [LABEL]');

// Inputs from a fixed xorshift stream, so every run and every variant sees the same numbers.
let s = 0x9e3779b9 >>> 0;
const rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32 - 0.5; };
const fill = (n) => Float32Array.from({ length: n }, rand);

// Odd sizes, grouped-query heads, causal + padded keys and queries: the masking paths and tails.
const shape = { batch: 2, heads: 4, kvHeads: 2, qLen: 37, kvLen: 53, headDim: 64 };
const nq = shape.batch * shape.qLen * shape.heads * shape.headDim;
const nk = shape.batch * shape.kvLen * shape.kvHeads * shape.headDim;
const q = fill(nq), k = fill(nk), v = fill(nk), dout = fill(nq);
const opts = { causal: true, keyLengths: Int32Array.of(53, 41), queryLengths: Int32Array.of(37, 30) };

const { out, lse } = kernels.attentionForward(q, k, v, shape, opts);
const { dq, dk, dv } = kernels.attentionBackward(q, k, v, out, lse, dout, shape, opts);
const results = { out, lse, dq, dk, dv };
for (const [name, a] of Object.entries(results)) {
  // lse is -Infinity on padded query rows by contract; everything else must be finite.
  const bad = a.findIndex((x) => Number.isNaN(x) || (name !== 'lse' && !Number.isFinite(x)));
  if (bad >= 0) throw new Error(`${name}[${bad}] = ${a[bad]}`);
}

// Model-level smoke through the installed package. Each hook turns on by itself once attnode
// exports the API it needs (lib/index.ts), so the packaged model path cannot stay untested.
const tiny = { srcVocab: 12, tgtVocab: 12, dModel: 16, heads: 2, ffDim: 32, encoderLayers: 1, decoderLayers: 1,
  maxLen: 16, dropout: 0 };
function modelForward(api) {
  const model = new api.Seq2SeqTransformer(tiny);
  const batch = 2, srcLen = 5, tgtLen = 4;
  const ids = (n, off) => Int32Array.from({ length: n }, (_, i) => 3 + ((i * 7 + off) % 9));
  const logits = model.forward({ batch, srcLen, tgtLen, src: ids(batch * srcLen, 1), srcLengths: Int32Array.of(5, 3),
    tgtIn: ids(batch * tgtLen, 2), tgtLengths: Int32Array.of(4, 2) });
  const values = logits.toFloat32Array();
  if (values.length !== batch * tgtLen * tiny.tgtVocab || !values.every(Number.isFinite)) {
    throw new Error(`Seq2SeqTransformer.forward: ${values.length} logits, finite: ${values.every(Number.isFinite)}`);
  }
  console.log(`smoke: Seq2SeqTransformer forward ok (${values.length} logits)`);
}
function tinyBatch(api) {
  // Copy task rows: targets equal sources; collate adds BOS/EOS and the labels.
  const examples = [[3, 4, 5, 6], [7, 8, 9], [10, 11, 3, 4, 5]].map((a) => ({ src: Int32Array.from(a), tgt: Int32Array.from(a) }));
  return api.collate(examples, { bos: 1, eos: 2, padId: 0 });
}
function trainingStep(api) {
  const model = new api.Seq2SeqTransformer(tiny);
  const trainer = new api.Trainer(model, { optimizer: { lr: 3e-3 }, schedule: { kind: 'constant', lr: 3e-3 }, labelSmoothing: 0 });
  const batch = tinyBatch(api);
  const losses = [];
  for (let i = 0; i < 30; ++i) losses.push(trainer.trainStep([batch]).loss);
  if (!losses.every(Number.isFinite) || !(losses[losses.length - 1] < losses[0])) {
    throw new Error(`training step: losses ${losses[0]} -> ${losses[losses.length - 1]} (finite and falling expected)`);
  }
  console.log(`smoke: training ok (loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)})`);
}
function generateHook(api) {
  const model = new api.Seq2SeqTransformer(tiny);
  const b = tinyBatch(api);
  const r = api.greedyRecompute(model, b.src, b.srcLengths, b.batch, b.srcLen, 6);
  if (r.tokens.length !== b.batch || r.tokens.some((t) => t.length > 6 || t.some((id) => id < 0 || id >= tiny.tgtVocab))) {
    throw new Error(`generate: ${JSON.stringify(r.tokens.map((t) => Array.from(t)))}`);
  }
  console.log(`smoke: greedy decoding ok (${r.tokens.map((t) => t.length).join(', ')} tokens)`);
}
const hooks = [
  { name: 'model forward', needs: ['Seq2SeqTransformer'], run: modelForward },
  { name: 'training step', needs: ['Trainer'], run: trainingStep },
  { name: 'generate', needs: ['greedyRecompute'], run: generateHook },
];
for (const hook of hooks) {
  if (hook.needs.some((name) => name in attnode)) hook.run(attnode);
  else console.log(`smoke: ${hook.name}: inactive until attnode exports ${hook.needs.join(' or ')} (TODO(model) hook)`);
}

const info = cpuInfo();
const summary = Object.fromEntries(Object.entries(results).map(([n, a]) => [n, a.reduce((t, x) => (Number.isFinite(x) ? t + x : t), 0)]));
console.log(`smoke: isa=${info.isa} binary=${nativeBinary} sums=${JSON.stringify(summary)}`);
fs.writeFileSync(outFile, JSON.stringify({
  isa: info.isa, label: label ?? info.isa, binary: nativeBinary,
  results: Object.fromEntries(Object.entries(results).map(([n, a]) => [n, Array.from(a, (x) => (Number.isFinite(x) ? x : String(x)))])),
}));
