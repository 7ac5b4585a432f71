#!/usr/bin/python3
"""PyTorch's side of bench/train.mjs: a whole encoder-decoder training step with nn.Transformer.

Run by bench/train.mjs with /usr/bin/python3 (Debian's python3-torch; BLAS is OpenBLAS through the
libblas.so.3 alternative). One JSON object per line on stdin/stdout, so the Node runner can
alternate blocks of attnode and torch steps (both then see the same machine load):
  {"cmd": "config", "threads": n}   -> torch version, threads, BLAS in use, RSS after import
  {"cmd": "setup", "model": {...}, "batch": {...}, "seed": s, "autocast": bool} -> parameter count, initial loss
  {"cmd": "steps", "n": n}          -> {"seconds": [per step], "losses": [per step]}
  {"cmd": "memory"}                 -> {"maxRssKiB": peak RSS of this process, "rssKiB": now}
  {"cmd": "quit"}

The model is what a PyTorch user writes for this task: source and target nn.Embedding (times
sqrt(dModel)) plus fixed sinusoidal positions, nn.Transformer (post-LN, ReLU, batch_first, dropout
0) and a bias-free nn.Linear output projection; a causal tgt_mask and key padding masks for source,
target and memory; nn.CrossEntropyLoss (mean over the non-ignored labels); torch.optim.Adam. One
step = zero_grad, forward, loss, backward, optimizer step: the same work as attnode's
Trainer.trainStep (whose Adam is also unclipped here).
"""
import math
import resource
import sys
import time

import torch
from torch import nn

sys.path.insert(0, __import__('os').path.dirname(__file__))
from torch_ops import blas_info, serve  # noqa: E402  (same directory: the BLAS really loaded, the line protocol)


def rss_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


class Seq2Seq(nn.Module):
    def __init__(self, m):
        super().__init__()
        d = m['dModel']
        self.d = d
        self.src_embed = nn.Embedding(m['srcVocab'], d, padding_idx=m['padId'])
        self.tgt_embed = nn.Embedding(m['tgtVocab'], d, padding_idx=m['padId'])
        pos = torch.arange(m['maxLen']).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(m['maxLen'], d)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer('pe', pe)
        self.transformer = nn.Transformer(
            d_model=d, nhead=m['heads'], num_encoder_layers=m['encoderLayers'], num_decoder_layers=m['decoderLayers'],
            dim_feedforward=m['ffDim'], dropout=m['dropout'], activation='relu', batch_first=True, norm_first=False)
        self.out = nn.Linear(d, m['tgtVocab'], bias=False)

    def forward(self, src, tgt_in, src_pad, tgt_pad, tgt_mask):
        s = self.src_embed(src) * math.sqrt(self.d) + self.pe[: src.shape[1]]
        t = self.tgt_embed(tgt_in) * math.sqrt(self.d) + self.pe[: tgt_in.shape[1]]
        h = self.transformer(s, t, tgt_mask=tgt_mask, src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                             memory_key_padding_mask=src_pad)
        return self.out(h)


class Run:
    def __init__(self, req):
        m, b = req['model'], req['batch']
        torch.manual_seed(req.get('seed', 1))
        self.model = Seq2Seq(m)
        self.model.train()
        o = req['optimizer']
        self.opt = torch.optim.Adam(self.model.parameters(), lr=o['lr'], betas=(o['beta1'], o['beta2']), eps=o['eps'])
        self.loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
        B, S, T = b['batch'], b['srcLen'], b['tgtLen']
        self.src = torch.tensor(b['src'], dtype=torch.long).view(B, S)
        self.tgt_in = torch.tensor(b['tgtIn'], dtype=torch.long).view(B, T)
        self.labels = torch.tensor(b['labels'], dtype=torch.long).view(B * T)
        src_len = torch.tensor(b['srcLengths']).unsqueeze(1)
        tgt_len = torch.tensor(b['tgtLengths']).unsqueeze(1)
        self.src_pad = torch.arange(S).unsqueeze(0) >= src_len  # True = padding (ignored)
        self.tgt_pad = torch.arange(T).unsqueeze(0) >= tgt_len
        self.tgt_mask = nn.Transformer.generate_square_subsequent_mask(T)
        self.vocab = m['tgtVocab']

        # bf16 autocast (torch.autocast('cpu', dtype=torch.bfloat16)): the forward's matmuls in bf16
        # with fp32 master weights, as a PyTorch user gets mixed precision on the CPU.
        self.autocast = bool(req.get('autocast'))

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.model(self.src, self.tgt_in, self.src_pad, self.tgt_pad, self.tgt_mask)
            loss = self.loss_fn(logits.view(-1, self.vocab).float(), self.labels)
        loss.backward()
        self.opt.step()
        return loss.item()


def main():
    state = {}

    def config(req):
        torch.set_num_threads(req['threads'])
        return {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': blas_info(), 'rssKiB': rss_kib()}

    def setup(req):
        run = state['run'] = Run(req)
        with torch.no_grad():
            logits = run.model(run.src, run.tgt_in, run.src_pad, run.tgt_pad, run.tgt_mask)
            loss0 = run.loss_fn(logits.view(-1, run.vocab), run.labels).item()
        return {'params': sum(p.numel() for p in run.model.parameters()), 'loss': loss0, 'rssKiB': rss_kib()}

    def steps(req):
        seconds, losses = [], []
        for _ in range(req['n']):
            t0 = time.perf_counter()
            losses.append(state['run'].step())
            seconds.append(time.perf_counter() - t0)
        return {'seconds': seconds, 'losses': losses}

    def memory(req):
        return {'maxRssKiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'rssKiB': rss_kib()}

    serve({'config': config, 'setup': setup, 'steps': steps, 'memory': memory})


if __name__ == '__main__':
    main()
