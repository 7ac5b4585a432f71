// GEMM entry (dispatched to the active ISA variant) and the Linear layer expressed as GEMMs whose
// epilogue/packing carry the bias (forward) and the bias gradient (backward).
#include "core/gemm.h"

#include "core/dispatch.h"

namespace attnode {

void gemm(const GemmParams& p) { active_kernels().gemm(p); }

void linear_forward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w,
                    const float* b, float* y, bool bf16) {
  GemmParams p;
  p.bf16 = bf16;  // y [rows, out] = x [rows, in] * (W [out, in])^T + b
  p.M = rows; p.N = out; p.K = in;
  p.trans_b = true;
  p.a = x; p.lda = in;
  p.b = w; p.ldb = in;
  p.c = y; p.ldc = out;
  p.bias = b;
  gemm(p);
}

void linear_backward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* db, bool bf16) {
  GemmParams g;
  g.bf16 = bf16;  // dW [out, in] = (dy [rows, out])^T x [rows, in]; db = row sums of dy^T
  g.M = out; g.N = in; g.K = rows;
  g.trans_a = true;
  g.a = dy; g.lda = out;
  g.b = x; g.ldb = in;
  g.c = dw; g.ldc = in;
  g.row_sums_a = db;
  gemm(g);
  if (!dx) return;
  GemmParams d;  // dx [rows, in] = dy [rows, out] W [out, in]
  d.bf16 = bf16;
  d.M = rows; d.N = in; d.K = out;
  d.a = dy; d.lda = out;
  d.b = w; d.ldb = in;
  d.c = dx; d.ldc = in;
  gemm(d);
}

}  // namespace attnode
