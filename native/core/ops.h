// The non-GEMM training and decoding ops (norms, activations, dropout, embedding, position
// encoding, softmax cross-entropy, log-softmax, argmax/top-k, Adam/AdamW, gradient norm).
// Plain C++17, no Node headers. Arrays are row-major and contiguous; arguments are assumed valid
// here (native/binding checks them). Every op writes every element of its outputs.
// Determinism: per-row results never depend on the thread count; reductions across rows
// (gamma/beta gradients, losses, norms) use fixed blocks summed in a fixed order, so the same
// inputs give the same bits for any thread count on one ISA variant.
#pragma once
#include <cstdint>

namespace attnode {

// ---- LayerNorm / RMSNorm over the last dimension: x [rows, dim] --------------------------------
// y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps) (biased variance).
void layer_norm_forward(int64_t rows, int64_t dim, float eps, const float* x, const float* gamma,
                        const float* beta, float* y, float* mean, float* rstd);
// dgamma and dbeta are overwritten (not accumulated).
void layer_norm_backward(int64_t rows, int64_t dim, const float* x, const float* gamma, const float* mean,
                         const float* rstd, const float* dy, float* dx, float* dgamma, float* dbeta);
// y = x * rstd * gamma, rstd = 1 / sqrt(mean(x^2) + eps).
void rms_norm_forward(int64_t rows, int64_t dim, float eps, const float* x, const float* gamma, float* y,
                      float* rstd);
void rms_norm_backward(int64_t rows, int64_t dim, const float* x, const float* gamma, const float* rstd,
                       const float* dy, float* dx, float* dgamma);

// ---- Elementwise ----------------------------------------------------------------------------------
enum class Activation : int { Relu = 0, GeluErf = 1, GeluTanh = 2, Silu = 3 };
// y may equal x exactly (in place); partial overlap is not allowed.
void activation_forward(Activation a, int64_t n, const float* x, float* y);
// dx = dy * f'(x); dx may equal dy exactly.
void activation_backward(Activation a, int64_t n, const float* x, const float* dy, float* dx);
// y = a + b (the residual connection); y may equal a or b exactly.
void add(int64_t n, const float* a, const float* b, float* y);
// Inverted dropout: y[i] = keep(offset + i) ? x[i] / (1 - p) : 0, with keep from the attention
// kernel's counter-based generator keyed by (seed, element index). Backward is the same map
// applied to dy, so forward and backward agree without storing a mask. p in [0, 1).
void dropout_apply(int64_t n, float p, uint64_t seed, uint64_t offset, const float* x, float* y);
bool dropout_element_keep(uint64_t seed, uint64_t index, float p);

// ---- Embedding and position encoding (portable: they only move memory) ---------------------------
// y[t, :] = weight[ids[t], :] * scale (+ pos[(t % period) + pos_offset, :] when pos is not null: a
// Transformer's scaled token embedding plus its position term in one pass); ids in [0, vocab).
void embedding_forward(int64_t n, int64_t dim, const int32_t* ids, const float* weight, float* y,
                       float scale = 1.f, const float* pos = nullptr, int64_t period = 1, int64_t pos_offset = 0);
// dweight[v, :] (+)= sum over t with ids[t] == v of dy[t, :] * scale, in token order (no atomics); tokens
// whose id equals padding_idx add nothing (INT64_MIN: no padding id). accumulate=false zeroes dweight first.
void embedding_backward(int64_t n, int64_t dim, int64_t vocab, const int32_t* ids, const float* dy,
                        int64_t padding_idx, bool accumulate, float* dweight, float scale = 1.f);
// pe[p, 2i] = sin((offset + p) / base^(2i/dim)), pe[p, 2i+1] = cos(same angle): "Attention Is All
// You Need", section 3.5. Computed in double, rounded once.
void sinusoidal_position_encoding(int64_t length, int64_t dim, int64_t offset, double base, float* pe);

// ---- Softmax cross-entropy, log-softmax, argmax, top-k over the last dimension --------------------
struct XentParams {
  double label_smoothing = 0.0;  // in [0, 1]
  int64_t ignore_index = -100;  // rows whose target equals it are not counted and get zero gradient
  bool mean = true;             // loss and dlogits divided by the count (else summed)
};
struct XentResult {
  double loss = 0.0;  // mean (or sum) of the counted rows' losses; 0 when nothing is counted
  double sum = 0.0;   // sum of the counted rows' losses
  int64_t count = 0;  // rows whose target is not ignore_index
};
// targets in [0, vocab) or == ignore_index. dlogits may be null (loss only).
XentResult cross_entropy(int64_t rows, int64_t vocab, const XentParams& p, const float* logits,
                         const int32_t* targets, float* dlogits);
void log_softmax(int64_t rows, int64_t dim, const float* x, float* y);
// First index of the row maximum (NaN never wins unless the row is all NaN: then index 0).
void argmax(int64_t rows, int64_t dim, const float* x, int32_t* index);
// The k largest of each row, descending; ties by lower index. values/indices: [rows, k].
void top_k(int64_t rows, int64_t dim, int64_t k, const float* x, float* values, int32_t* indices);

// ---- Optimizer ----------------------------------------------------------------------------------
// Hyperparameters in double: complements such as 1 - beta2 are formed in double before rounding to
// float (0.999f would make 1 - beta2 off by 1.3e-5 relative), as PyTorch does with Python floats.
struct AdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  int64_t step = 1;        // 1-based step count, for bias correction
  bool decoupled = false;  // AdamW: p -= lr * wd * p; else Adam's L2 term g += wd * p
  double grad_scale = 1.0;  // g is multiplied by it first (fuses gradient clipping or loss scaling)
};
// One fused step in place on params, m, v (PyTorch's Adam/AdamW semantics).
void adam_step(int64_t n, const AdamParams& p, float* params, const float* grads, float* m, float* v);
// One tensor of adam_step_multi: n elements of each array.
struct AdamTensor {
  int64_t n = 0;
  float *params = nullptr, *grads = nullptr, *m = nullptr, *v = nullptr;
  // Optional [n]: written with the updated params rounded to bf16 (to_bf16's bits, core/gemm.h),
  // in the same pass: the copies a bf16 GEMM reads instead of re-rounding the weights.
  uint16_t* bf16 = nullptr;
};
// adam_step on every tensor (the same bits), in one parallel pass over all of them. With
// zero_grads, each gradient element is set to 0 once read (ready for the next accumulation).
void adam_step_multi(int count, const AdamTensor* tensors, const AdamParams& p, bool zero_grads);
// sqrt of the sum of squares over all arrays, accumulated in double over fixed blocks.
double global_grad_norm(int count, const float* const* arrays, const int64_t* lengths);
void scale_in_place(int64_t n, float s, float* x);

}  // namespace attnode
