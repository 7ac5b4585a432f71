#!/usr/bin/python3
"""PyTorch's CPU *math* attention path, timed at the shapes bench/attention.mjs gives it.

Run by bench/attention.mjs with /usr/bin/python3 (Debian's python3-torch, BLAS = OpenBLAS through the
libblas.so.3 alternative). Reads one JSON object on stdin:
  {"threads": n, "warmup": w, "minReps": r, "maxReps": R, "budgetMs": t,
   "cases": [{"key", "B", "H", "T", "D", "causal", "keyLengths"?, "queryLengths"?}]}
and writes one JSON object on stdout: torch/BLAS configuration and, per case, the median forward
and forward+backward milliseconds. Nothing else goes to stdout.

The path timed is the plain one (no fused SDPA kernel): q, k, v float32 [B, H, T, D] with
requires_grad; scores = q @ k^T * scale; masked_fill(~mask, -inf); softmax; @ v; backward with a
random dout. The boolean mask is built once outside the timed region, [T, T] for causal and
[B, 1, T, T] when lengths are given (allowed = causal and j < keyLen[b] and i < queryLen[b]).
Query rows with no allowed key give NaN after softmax in this path; when a case has such rows the
probabilities go through nan_to_num (their gradient is then zero, as in attnode's contract).
"""
import json
import math
import statistics
import sys
import time

import torch

from torch_ops import blas_info  # same directory: reports the BLAS this process really loaded


def build_mask(c):
    """Boolean 'may attend' mask (or None), broadcastable to [B, H, T, T], and whether some row is empty."""
    B, T = c['B'], c['T']
    kl, ql = c.get('keyLengths'), c.get('queryLengths')
    if not c['causal'] and kl is None and ql is None:
        return None, False
    i = torch.arange(T).view(T, 1)
    j = torch.arange(T).view(1, T)
    allowed = (j <= i) if c['causal'] else torch.ones(T, T, dtype=torch.bool)
    if kl is None and ql is None:
        return allowed, False
    klt = torch.tensor(kl if kl is not None else [T] * B).view(B, 1, 1, 1)
    qlt = torch.tensor(ql if ql is not None else [T] * B).view(B, 1, 1, 1)
    m = allowed.view(1, 1, T, T) & (j.view(1, 1, 1, T) < klt) & (i.view(1, 1, T, 1) < qlt)
    return m, bool((~m.any(dim=-1)).any())


def band_mask(T, window):
    """'May attend' for keys i - left .. i + right: the same band attnode derives in the kernel."""
    i = torch.arange(T).view(T, 1)
    j = torch.arange(T).view(1, T)
    return (j >= i - window['left']) & (j <= i + window['right'])


def sdpa(q, k, v, allowed):
    # PyTorch 1.13's scaled_dot_product_attention (renamed public in 2.0): a boolean attn_mask,
    # True = take part.
    return torch.nn.functional._scaled_dot_product_attention(q, k, v, allowed, 0.0, False, False)[0]


def attention(q, k, v, blocked, scale, empty_rows):
    s = (q @ k.transpose(-2, -1)) * scale
    if blocked is not None:
        s = s.masked_fill(blocked, float('-inf'))
    p = torch.softmax(s, dim=-1)
    if empty_rows:
        p = torch.nan_to_num(p, nan=0.0)
    return p @ v


def median_ms(fn, warmup, min_reps, max_reps, budget_ms):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (len(times) < max_reps and (time.perf_counter() - start) * 1e3 < budget_ms):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def run_case(c, cfg):
    B, H, T, D = c['B'], c['H'], c['T'], c['D']
    g = torch.Generator().manual_seed(1234)
    q = torch.randn(B, H, T, D, generator=g).requires_grad_()
    k = torch.randn(B, H, T, D, generator=g).requires_grad_()
    v = torch.randn(B, H, T, D, generator=g).requires_grad_()
    dout = torch.randn(B, H, T, D, generator=g)
    if c.get('sdpa'):
        allowed = band_mask(T, c['window']) if c.get('window') else None

        def run(): return sdpa(q, k, v, allowed)
    else:
        mask, empty_rows = build_mask(c)
        blocked = None if mask is None else ~mask
        scale = 1.0 / math.sqrt(D)

        def run(): return attention(q, k, v, blocked, scale, empty_rows)

    def fwd():
        with torch.no_grad():
            run()

    def fwd_bwd():
        q.grad = k.grad = v.grad = None
        out = run()
        out.backward(dout)

    reps = (cfg['warmup'], cfg['minReps'], cfg['maxReps'], cfg['budgetMs'])
    f_ms, f_n = median_ms(fwd, *reps)
    fb_ms, fb_n = median_ms(fwd_bwd, *reps)
    # Sanity: the backward really produced finite gradients.
    finite = bool(torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all() and torch.isfinite(v.grad).all())
    return {'key': c['key'], 'fwdMs': f_ms, 'fwdBwdMs': fb_ms, 'reps': [f_n, fb_n],
            'nanToNum': bool(not c.get('sdpa') and build_mask(c)[1]), 'gradsFinite': finite}


def main():
    cfg = json.load(sys.stdin)
    torch.set_num_threads(int(cfg['threads']))
    info = {
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'config': torch.__config__.show(),
        'parallel': torch.__config__.parallel_info(),
        'blas': blas_info(),
    }
    results = [run_case(c, cfg) for c in cfg['cases']]
    json.dump({'info': info, 'results': results}, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
