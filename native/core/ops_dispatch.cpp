// The ops of core/ops.h that have ISA variants: each call goes to the active variant's OpsTable
// (dispatch.cpp picks it at load time; set_isa() switches it). Also the global gradient norm,
// which combines the per-array sums of squares in a fixed order.
#include <cmath>

#include "core/cpu/dropout_element.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace attnode {

static const OpsTable& ops() { return *active_kernels().ops; }

void layer_norm_forward(int64_t rows, int64_t dim, float eps, const float* x, const float* gamma,
                        const float* beta, float* y, float* mean, float* rstd) {
  ops().layer_norm_forward(rows, dim, eps, x, gamma, beta, y, mean, rstd);
}
void layer_norm_backward(int64_t rows, int64_t dim, const float* x, const float* gamma, const float* mean,
                         const float* rstd, const float* dy, float* dx, float* dgamma, float* dbeta) {
  ops().layer_norm_backward(rows, dim, x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
}
void rms_norm_forward(int64_t rows, int64_t dim, float eps, const float* x, const float* gamma, float* y,
                      float* rstd) {
  ops().rms_norm_forward(rows, dim, eps, x, gamma, y, rstd);
}
void rms_norm_backward(int64_t rows, int64_t dim, const float* x, const float* gamma, const float* rstd,
                       const float* dy, float* dx, float* dgamma) {
  ops().rms_norm_backward(rows, dim, x, gamma, rstd, dy, dx, dgamma);
}
void activation_forward(Activation a, int64_t n, const float* x, float* y) {
  ops().activation_forward(static_cast<int>(a), n, x, y);
}
void activation_backward(Activation a, int64_t n, const float* x, const float* dy, float* dx) {
  ops().activation_backward(static_cast<int>(a), n, x, dy, dx);
}
void add(int64_t n, const float* a, const float* b, float* y) { ops().add(n, a, b, y); }
void dropout_apply(int64_t n, float p, uint64_t seed, uint64_t offset, const float* x, float* y) {
  ops().dropout_apply(n, p, seed, offset, x, y);
}
bool dropout_element_keep(uint64_t seed, uint64_t index, float p) {
  return dropout_element_keep_bits(seed, index, dropout_threshold(p));
}
XentResult cross_entropy(int64_t rows, int64_t vocab, const XentParams& p, const float* logits,
                         const int32_t* targets, float* dlogits) {
  return ops().cross_entropy(rows, vocab, p, logits, targets, dlogits);
}
void log_softmax(int64_t rows, int64_t dim, const float* x, float* y) { ops().log_softmax(rows, dim, x, y); }
void adam_step(int64_t n, const AdamParams& p, float* params, const float* grads, float* m, float* v) {
  ops().adam_step(n, p, params, grads, m, v);
}
void adam_step_multi(int count, const AdamTensor* tensors, const AdamParams& p, bool zero_grads) {
  ops().adam_step_multi(count, tensors, p, zero_grads);
}
double global_grad_norm(int count, const float* const* arrays, const int64_t* lengths) {
  return std::sqrt(ops().sum_squares_multi(count, arrays, lengths));
}
void scale_in_place(int64_t n, float s, float* x) { ops().scale(n, s, x); }

}  // namespace attnode
