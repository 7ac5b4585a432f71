// Greedy decoding by full recomputation of the decoder at every step (no KV cache): simple and
// exact, used for evaluation of short outputs. Finished rows are no longer extended.
import { kernels } from '../kernels.js';
import type { Seq2SeqTransformer } from '../nn/seq2seq.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../tensor.js';

export interface GreedyResult {
  /** Generated ids per source, without the start token, up to and excluding EOS. */
  tokens: Int32Array[];
}

export function greedyRecompute(model: Seq2SeqTransformer, src: Int32Array, srcLengths: Int32Array, batch: number, srcLen: number,
  maxNewTokens: number): GreedyResult {
  const cfg = model.config;
  return noGrad(() => {
    const memory = model.encode(src, srcLengths, batch, srcLen);
    const out: number[][] = Array.from({ length: batch }, () => []);
    const done = new Uint8Array(batch);
    const maxT = Math.min(maxNewTokens, cfg.maxLen - 1);
    let prefix = new Int32Array(batch).fill(model.decoderStartId);
    for (let t = 1; t <= maxT; ++t) {
      const lengths = new Int32Array(batch).fill(t);
      const logits = model.decode(prefix, lengths, memory, srcLengths, batch, t, srcLen);
      const V = cfg.tgtVocab, ld = ops.data(logits);
      const last = new Float32Array(batch * V);
      for (let b = 0; b < batch; ++b) last.set(ld.subarray((b * t + t - 1) * V, (b * t + t) * V), b * V);
      const next = kernels.argmax(last, V);
      const grown = new Int32Array(batch * (t + 1));
      for (let b = 0; b < batch; ++b) {
        grown.set(prefix.subarray(b * t, b * t + t), b * (t + 1));
        const id = done[b] ? cfg.padId : next[b]!;
        grown[b * (t + 1) + t] = id;
        if (!done[b]) {
          if (id === cfg.eosId) done[b] = 1;
          else out[b]!.push(id);
        }
      }
      prefix = grown;
      if (done.every((d) => d === 1)) break;
    }
    ops.arena.releaseAll();
    return { tokens: out.map((o) => Int32Array.from(o)) };
  });
}
