#!/usr/bin/python3
"""PyTorch's side of bench/ops.mjs: times one op at a time on request.

Run by bench/ops.mjs with /usr/bin/python3 (Debian's python3-torch; its BLAS is OpenBLAS through the
libblas.so.3 alternative). A line protocol on stdin/stdout, one JSON object per line, so the Node
runner can alternate attnode and torch samples of the same row (both then see the same machine load):
  {"cmd": "config", "threads": n}  -> torch version, threads and the BLAS really loaded
  {"cmd": "setup", "op": name, "args": {...}}   -> {"ok": true}: builds inputs for `op`
  {"cmd": "sample", "iters": i}    -> {"seconds": s}: wall time of i calls of the op set up last
  {"cmd": "quit"}
Ops live in OPS: a function that takes the row's args and returns a zero-argument callable. GEMM's
op is here; another row group adds bench/ops/torch_<group>.py with its own OPS dict, merged at start.
"""
import ctypes
import importlib
import json
import pathlib
import sys
import time

import torch


def blas_info():
    """Which BLAS this process really loaded (from /proc/self/maps) and OpenBLAS's own report."""
    torch.ones(64, 64) @ torch.ones(64, 64)  # make sure the BLAS is loaded and initialised
    paths = set()
    with open('/proc/self/maps') as f:
        for line in f:
            p = line.split()[-1]
            if p.startswith('/') and ('blas' in p or 'lapack' in p):
                paths.add(p)
    info = {'mapped': sorted(paths)}
    for p in sorted(paths):
        # dlopen of an already-mapped path returns the same handle: this queries the loaded copy.
        try:
            lib = ctypes.CDLL(p)
            cfg = lib.openblas_get_config
        except (OSError, AttributeError):
            continue
        cfg.restype = ctypes.c_char_p
        core = lib.openblas_get_corename
        core.restype = ctypes.c_char_p
        info['openblas_config'] = cfg().decode()
        info['openblas_core'] = core().decode()
        info['openblas_threads'] = lib.openblas_get_num_threads()
        info['openblas_library'] = p
        break
    return info


def op_mm(a):
    """C = op(A) op(B) with the same memory layouts as attnode's gemm: a transposed operand is a
    transposed view of a row-major array, which torch.mm hands to sgemm as a transpose flag."""
    m, n, k = a['m'], a['n'], a['k']
    g = torch.Generator().manual_seed(1)
    A = torch.rand(k, m, generator=g).t() if a.get('transA') else torch.rand(m, k, generator=g)
    B = torch.rand(n, k, generator=g).t() if a.get('transB') else torch.rand(k, n, generator=g)
    C = torch.empty(m, n)
    return lambda: torch.mm(A, B, out=C)


def op_mm_bf16(a):
    """The same product on bfloat16 tensors (PyTorch's CPU bf16 matmul goes to oneDNN), bf16 out."""
    m, n, k = a['m'], a['n'], a['k']
    g = torch.Generator().manual_seed(1)
    A = (torch.rand(k, m, generator=g).t() if a.get('transA') else torch.rand(m, k, generator=g)).bfloat16()
    B = (torch.rand(n, k, generator=g).t() if a.get('transB') else torch.rand(k, n, generator=g)).bfloat16()
    C = torch.empty(m, n, dtype=torch.bfloat16)
    return lambda: torch.mm(A, B, out=C)


OPS = {
    'mm': op_mm,
    'mm_bf16': op_mm_bf16,
}
# Row groups other than GEMM keep their torch ops next to their row module, in
# bench/ops/torch_<group>.py, each defining its own OPS table: all are merged here.
_OPS_DIR = pathlib.Path(__file__).resolve().parent / 'ops'
sys.path.insert(0, str(_OPS_DIR))
for _plugin in sorted(_OPS_DIR.glob('torch_*.py')):
    OPS.update(importlib.import_module(_plugin.stem).OPS)


def serve(handlers):
    """The line protocol of the bench servers (torch_ops, torch_train, torch_decode): one JSON
    request per stdin line, handlers[req['cmd']](req) gives the reply, one JSON line on stdout;
    {"cmd": "quit"} ends the loop and an unknown cmd gets {"error": ...}."""
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req['cmd']
        if cmd == 'quit':
            break
        handler = handlers.get(cmd)
        out = handler(req) if handler else {'error': f'unknown cmd {cmd}'}
        sys.stdout.write(json.dumps(out) + '\n')
        sys.stdout.flush()


def main():
    state = {}

    def config(req):
        torch.set_num_threads(req['threads'])
        return {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': blas_info(),
                'config': torch.__config__.show()}

    def setup(req):
        state['op'] = OPS[req['op']](req['args'])
        state['op']()  # warm-up: first-touch of the output, BLAS buffers, thread pool
        return {'ok': True}

    def sample(req):
        current, iters = state['op'], req['iters']
        t0 = time.perf_counter()
        for _ in range(iters):
            current()
        return {'seconds': time.perf_counter() - t0}

    serve({'config': config, 'setup': setup, 'sample': sample})


if __name__ == '__main__':
    main()
