"""PyTorch's side of the non-GEMM rows of bench/ops.mjs (bench/ops/nongemm.mjs), merged into the
OPS table of bench/torch_ops.py. Each entry takes the row's args and returns a zero-argument
callable; inputs are made once, outside the timed calls.

- layer_norm: aten.native_layer_norm (eps 1e-5), and for backward=True also
  aten.native_layer_norm_backward with all three gradients: the kernels, without autograd.
- gelu: aten.gelu (erf form), and for backward=True also aten.gelu_backward.
- cross_entropy: F.cross_entropy(logits, targets, label_smoothing) (mean); backward=False under
  no_grad, backward=True adds loss.backward() (which writes dlogits), the usual autograd path,
  since ATen has no single backward kernel for the label-smoothed loss.
"""
import torch
import torch.nn.functional as F

aten = torch.ops.aten


def _inputs(rows, dim):
    g = torch.Generator().manual_seed(1)
    return torch.randn(rows, dim, generator=g), torch.randn(rows, dim, generator=g), g


def op_layer_norm(a):
    rows, dim = a['rows'], a['dim']
    x, dy, g = _inputs(rows, dim)
    w, b = torch.randn(dim, generator=g), torch.randn(dim, generator=g)
    if not a['backward']:
        return lambda: aten.native_layer_norm(x, [dim], w, b, 1e-5)

    def step():
        _, mean, rstd = aten.native_layer_norm(x, [dim], w, b, 1e-5)
        aten.native_layer_norm_backward(dy, x, [dim], mean, rstd, w, b, [True, True, True])
    return step


def op_gelu(a):
    x, dy, _ = _inputs(a['rows'], a['dim'])
    if not a['backward']:
        return lambda: aten.gelu(x)

    def step():
        aten.gelu(x)
        aten.gelu_backward(dy, x)
    return step


def op_cross_entropy(a):
    rows, vocab, ls = a['rows'], a['vocab'], a['smoothing']
    x, _, _ = _inputs(rows, vocab)
    t = torch.tensor([(i * 7919) % vocab for i in range(rows)], dtype=torch.long)
    if not a['backward']:
        def loss_only():
            with torch.no_grad():
                return F.cross_entropy(x, t, label_smoothing=ls)
        return loss_only
    x.requires_grad_(True)

    def step():
        x.grad = None
        F.cross_entropy(x, t, label_smoothing=ls).backward()
    return step


OPS = {
    'layer_norm': op_layer_norm,
    'gelu': op_gelu,
    'cross_entropy': op_cross_entropy,
}
