// LayerNorm over the last dimension; the forward saves mean and reciprocal std for the backward.
import { kernels } from '../kernels.js';
import { needsGrad, tape, type Tensor } from '../tensor.js';
import { arena } from './arena.js';
import { accGrad, data, gradOf, scratch } from './grad.js';

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const dim = gamma.size, rows = x.size / dim;
  const y = scratch(x.shape, needsGrad(x, gamma, beta));
  const mean = arena.take(rows), rstd = arena.take(rows);
  kernels.layerNormForward(data(x), data(gamma), data(beta), { eps, into: { y: data(y), mean, rstd } });
  if (y.requiresGrad) {
    tape.record(() => {
      const dx = arena.take(x.size), dgamma = arena.take(dim), dbeta = arena.take(dim);
      kernels.layerNormBackward(data(x), data(gamma), mean, rstd, gradOf(y), { into: { dx, dgamma, dbeta } });
      accGrad(gamma, dgamma, false);
      accGrad(beta, dbeta, false);
      accGrad(x, dx, true);
    });
  }
  return y;
}
