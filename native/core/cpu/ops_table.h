// The vectorized non-GEMM ops of one ISA variant (see core/ops.h for their contracts). One
// OpsTable per variant, reached through KernelTable::ops, so set_isa() switches them together
// with attention. Ops that only move memory (embedding, position encoding, top-k) are portable
// code outside the table.
#pragma once
#include <cstdint>

#include "core/ops.h"

namespace attnode {

struct OpsTable {
  void (*layer_norm_forward)(int64_t rows, int64_t dim, float eps, const float* x, const float* gamma,
                             const float* beta, float* y, float* mean, float* rstd);
  void (*layer_norm_backward)(int64_t rows, int64_t dim, const float* x, const float* gamma, const float* mean,
                              const float* rstd, const float* dy, float* dx, float* dgamma, float* dbeta);
  void (*rms_norm_forward)(int64_t rows, int64_t dim, float eps, const float* x, const float* gamma, float* y,
                           float* rstd);
  void (*rms_norm_backward)(int64_t rows, int64_t dim, const float* x, const float* gamma, const float* rstd,
                            const float* dy, float* dx, float* dgamma);
  void (*activation_forward)(int kind, int64_t n, const float* x, float* y);
  void (*activation_backward)(int kind, int64_t n, const float* x, const float* dy, float* dx);
  void (*add)(int64_t n, const float* a, const float* b, float* y);
  void (*dropout_apply)(int64_t n, float p, uint64_t seed, uint64_t offset, const float* x, float* y);
  XentResult (*cross_entropy)(int64_t rows, int64_t vocab, const XentParams& p, const float* logits,
                              const int32_t* targets, float* dlogits);
  void (*log_softmax)(int64_t rows, int64_t dim, const float* x, float* y);
  void (*adam_step)(int64_t n, const AdamParams& p, float* params, const float* grads, float* m, float* v);
  void (*adam_step_multi)(int count, const AdamTensor* tensors, const AdamParams& p, bool zero_grads);
  // Sum of squares of all elements of all arrays: fixed blocks, summed in order in double.
  double (*sum_squares_multi)(int count, const float* const* arrays, const int64_t* lengths);
  void (*scale)(int64_t n, float s, float* x);
};

}  // namespace attnode
