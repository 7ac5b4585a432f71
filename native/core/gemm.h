// General matrix products (GEMM) and the Linear layer built on them. Plain C++17, no Node headers.
// Arguments are assumed valid here: native/binding checks them.
//
// Layout: every matrix is row-major with a leading dimension (the distance between rows):
//   op(A) is M x K: A is stored M x K (lda >= K), or K x M when trans_a (lda >= M);
//   op(B) is K x N: B is stored K x N (ldb >= N), or N x K when trans_b (ldb >= K);
//   C is M x N (ldc >= N).
// C = alpha * op(A) op(B) + beta * C (+ bias[n] on every row). With beta == 0, C is only written,
// never read (NaN or garbage there does not propagate), as in BLAS; with alpha == 0 or K == 0,
// A and B are not read.
//
// Determinism: each element of C is reduced over k in an order fixed by the ISA variant's block
// sizes and by M (which path runs), never by the thread count, so results are bitwise identical
// across runs and thread counts. Different ISA variants round differently (tests compare them
// with a tolerance).
#pragma once
#include <cstdint>

namespace attnode {

struct GemmParams {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.f, beta = 0.f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  // Strided batch: entry i uses a + i * stride_a, b + i * stride_b, c + i * stride_c. A stride of
  // 0 shares that operand across the batch (not allowed for C: entries are written in parallel).
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
  // Optional [N]: added to every row of C after the product (the fused bias of a Linear layer);
  // entry i of a batch adds bias + i * stride_bias (0: one bias for every entry).
  const float* bias = nullptr;
  int64_t stride_bias = 0;
  // Optional [M], batch == 1 only: row_sums_a[i] = row_sums_beta * row_sums_a[i] + sum_k op(A)(i, k),
  // the sums computed while A is packed (the fused bias gradient of a Linear layer: op(A) = dy^T;
  // row_sums_beta = 1 accumulates it into a parameter's gradient). With row_sums_beta == 0 the
  // previous contents are never read.
  float* row_sums_a = nullptr;
  float row_sums_beta = 0.f;
  // Fused epilogue of a Linear layer, batch == 1 only. The full result is
  //   C = relu?(alpha * (op(A) op(B) .* [gate > 0]) + beta * C + bias + addend)
  // addend [M x N] (row stride ld_addend): added once, like bias (a residual connection).
  // gate [M x N] (row stride ld_gate): the product counts only where gate > 0 (the backward of a
  // ReLU whose output is gate: dz = dy .* [y > 0]; linear in the product, so it holds per k-block).
  // relu: max(0, .) of the final value (NaN gives 0, as the ReLU kernel does).
  const float* addend = nullptr;
  int64_t ld_addend = 0;
  const float* gate = nullptr;
  int64_t ld_gate = 0;
  bool relu = false;
  // Bit masks, 8 columns a byte (bit j % 8 of byte j / 8 of a row; row stride ld_* bytes), 32x
  // smaller than a float matrix. relu_mask (with relu): written with [final C > 0], the mask a
  // ReLU's backward needs. gate_mask: like gate, the product counts where the bit is set.
  uint8_t* relu_mask = nullptr;
  int64_t ld_relu_mask = 0;
  const uint8_t* gate_mask = nullptr;
  int64_t ld_gate_mask = 0;
  // Precision of the product: false = fp32; true = op(A) and op(B) rounded to bf16 (nearest even),
  // products and sums in fp32, on the "avx512bf16" variant; other variants compute it in fp32
  // (the fallback: more precise, never slower there). Row sums are always fp32 sums of the
  // unrounded op(A).
  bool bf16 = false;
  // Optional, with bf16: op(B) already rounded to bf16, as the bits of each element (same layout,
  // ldb and stride_b as b would have; b is not read). Weights converted once (by the optimizer
  // step, or for decoding) are then neither re-read as fp32 nor rounded again. Rounding a bf16
  // value is exact, so the result is bitwise the one b = to_bf16(the fp32 weights) gives. Variants
  // without the bf16 GEMM (and bf16 = false) widen the bits to fp32 first.
  const uint16_t* b16 = nullptr;
};

// dst[i] = src[i] rounded to bf16 (round to nearest even; NaN stays NaN, quieted), n elements,
// on num_threads() threads: the bits the bf16 GEMM packs from fp32.
void to_bf16(const float* src, uint16_t* dst, int64_t n);

// Runs on the active ISA variant (core/dispatch.h) with attnode::num_threads() threads.
void gemm(const GemmParams& p);

// Linear layer, PyTorch layout: x [rows, in], W [out, in], b [out] (may be null), y [rows, out].
// y = x W^T + b.
// bf16: the products in bf16 (GemmParams::bf16), the bias and its gradient in fp32.
void linear_forward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w,
                    const float* b, float* y, bool bf16 = false);
// dy [rows, out] -> dx [rows, in] = dy W (skipped when dx is null), dW [out, in] = dy^T x,
// db [out] = sum over rows of dy (skipped when db is null). dW and db are overwritten.
void linear_backward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* db, bool bf16 = false);

}  // namespace attnode
