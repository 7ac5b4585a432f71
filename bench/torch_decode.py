#!/usr/bin/python3
"""PyTorch's side of bench/decode.mjs: nn.Transformer decoding loops without a KV cache.

The model has the benchmark's shape (vocabulary, d_model, heads, feed-forward width, layers) with
random weights: only the time matters. Decoding is the usual nn.Transformer loop: every step runs
the decoder over the whole prefix (nn.Transformer has no cache), takes the last position's logits.
Greedy: argmax. Beam search: log-softmax, plus the beam scores, top-k over beams x vocabulary,
reorder; a fixed number of steps (attnode's side forbids EOS for as many steps, so both do the
same work).

Line protocol on stdin/stdout, one JSON object per line (so the Node runner can alternate samples):
  {"cmd": "config", "threads": n, "model": {...}}  -> {"torch": version, "threads": n}
  {"cmd": "run", "case": {"batch": b, "beams": k, "srcLen": s, "newTokens": t}}  -> {"seconds": wall time of one decode}
  {"cmd": "quit"}
"""
import math
import sys
import time

import torch
from torch import nn

sys.path.insert(0, __import__('os').path.dirname(__file__))
from torch_ops import serve  # noqa: E402  (same directory: the line protocol)


class Seq2Seq(nn.Module):
    def __init__(self, vocab, d_model, heads, ff_dim, enc_layers, dec_layers, max_len=256):
        super().__init__()
        self.d = d_model
        self.src_embed = nn.Embedding(vocab, d_model)
        self.tgt_embed = nn.Embedding(vocab, d_model)
        self.transformer = nn.Transformer(d_model, heads, enc_layers, dec_layers, ff_dim, dropout=0.0, batch_first=True)
        self.out = nn.Linear(d_model, vocab, bias=False)
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer('pe', pe)

    def encode(self, src):
        x = self.src_embed(src) * math.sqrt(self.d) + self.pe[: src.size(1)]
        return self.transformer.encoder(x)

    def next_logits(self, ys, memory):
        t = ys.size(1)
        mask = self.transformer.generate_square_subsequent_mask(t)
        y = self.tgt_embed(ys) * math.sqrt(self.d) + self.pe[:t]
        h = self.transformer.decoder(y, memory, tgt_mask=mask)
        return self.out(h[:, -1])


def greedy(model, src, new_tokens, bos=1):
    memory = model.encode(src)
    ys = torch.full((src.size(0), 1), bos, dtype=torch.long)
    for _ in range(new_tokens):
        nxt = model.next_logits(ys, memory).argmax(-1, keepdim=True)
        ys = torch.cat([ys, nxt], 1)
    return ys


def beam(model, src, beams, new_tokens, bos=1):
    b = src.size(0)
    memory = model.encode(src).repeat_interleave(beams, 0)
    ys = torch.full((b * beams, 1), bos, dtype=torch.long)
    scores = torch.zeros(b, beams)
    scores[:, 1:] = -1e9
    for _ in range(new_tokens):
        lp = torch.log_softmax(model.next_logits(ys, memory), -1)
        v = lp.size(-1)
        cand = (lp.view(b, beams, v) + scores.unsqueeze(-1)).view(b, beams * v)
        scores, idx = cand.topk(beams, -1)
        parent = (idx // v) + torch.arange(b).unsqueeze(1) * beams
        ys = torch.cat([ys[parent.view(-1)], (idx % v).view(-1, 1)], 1)
    return ys


def main():
    state = {}

    def config(req):
        torch.set_num_threads(req['threads'])
        torch.manual_seed(0)
        m = req['model']
        state['model'] = Seq2Seq(m['vocab'], m['dModel'], m['heads'], m['ffDim'], m['encoderLayers'], m['decoderLayers']).eval()
        return {'torch': torch.__version__, 'threads': torch.get_num_threads()}

    def run(req):
        c, model = req['case'], state['model']
        g = torch.Generator().manual_seed(c['batch'])
        src = torch.randint(3, model.out.out_features, (c['batch'], c['srcLen']), generator=g)
        with torch.inference_mode():
            t0 = time.perf_counter()
            if c['beams'] == 1:
                greedy(model, src, c['newTokens'])
            else:
                beam(model, src, c['beams'], c['newTokens'])
            return {'seconds': time.perf_counter() - t0}

    serve({'config': config, 'run': run})


if __name__ == '__main__':
    main()
