// GEMM entry (dispatched to the active ISA variant) and the Linear layer expressed as GEMMs whose
// epilogue/packing carry the bias (forward) and the bias gradient (backward).
#include "core/gemm.h"

#include <cstring>
#include <vector>

#include "core/bf16_bits.h"
#include "core/dispatch.h"
#include "core/threads.h"

namespace attnode {

#if ATTNODE_HAVE_AVX512 && ATTNODE_HAVE_AVX512BF16
namespace avx512bf16 { void to_bf16_bits(const float* src, uint16_t* dst, int64_t n); }  // cpu/avx512bf16/gemm_bf16.cpp
#endif

namespace {
void to_bf16_portable(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits(src[i]);
}
}  // namespace

void to_bf16(const float* src, uint16_t* dst, int64_t n) {
  void (*convert)(const float*, uint16_t*, int64_t) = to_bf16_portable;
#if ATTNODE_HAVE_AVX512 && ATTNODE_HAVE_AVX512BF16
  // The instruction itself where the bf16 variant is active (the same bits, ~10x faster).
  if (std::strcmp(active_kernels().name, "avx512bf16") == 0) convert = avx512bf16::to_bf16_bits;
#endif
  const int64_t chunk = 1 << 16;
  const int64_t chunks = (n + chunk - 1) / chunk;
  // Parallel only for large arrays (a model's weights one by one take ~0.1 ms each: a parallel
  // region's wake-up and end barrier would cost more on a busy host).
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n >= (int64_t(1) << 20))
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t e = c * chunk + chunk < n ? c * chunk + chunk : n;
    convert(src + c * chunk, dst + c * chunk, e - c * chunk);
  }
}

void gemm(const GemmParams& p) {
  const KernelTable& t = active_kernels();
  if (p.b16 && !(p.bf16 && std::strcmp(t.name, "avx512bf16") == 0)) {
    // No bf16 GEMM here (or an fp32 request): widen the given bf16 bits (exact) and run as fp32 B.
    const int64_t rows = p.trans_b ? p.N : p.K, cols = p.trans_b ? p.K : p.N;
    const int64_t entry = rows == 0 ? 0 : (rows - 1) * p.ldb + cols;
    const int64_t n = p.batch > 1 ? (p.batch - 1) * p.stride_b + entry : entry;
    std::vector<float> wide(static_cast<size_t>(n > 0 ? n : 0));
    for (int64_t i = 0; i < n; ++i) wide[i] = bf16_widen(p.b16[i]);
    GemmParams q = p;
    q.b = wide.data();
    q.b16 = nullptr;
    t.gemm(q);
    return;
  }
  t.gemm(p);
}

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
