// Embedding lookup and its scatter-add backward (portable: both only move memory).
// The backward never uses atomics: columns are split into fixed blocks, each block is owned by
// one thread, and every dweight element adds its tokens in token order, so the result has the
// same bits for any thread count.
#include <omp.h>

#include <cstring>

#include "core/ops.h"
#include "core/threads.h"

namespace attnode {

void embedding_forward(int64_t n, int64_t dim, const int32_t* ids, const float* weight, float* y, float scale,
                       const float* pos, int64_t period, int64_t pos_offset) {
  const int nt = num_threads();
  const bool plain = scale == 1.f && !pos;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64) if (n * dim >= (1 << 16))
  for (int64_t t = 0; t < n; ++t) {
    const float* w = weight + static_cast<int64_t>(ids[t]) * dim;
    float* yt = y + t * dim;
    if (plain) {
      std::memcpy(yt, w, sizeof(float) * dim);
    } else if (!pos) {
      for (int64_t c = 0; c < dim; ++c) yt[c] = w[c] * scale;
    } else {
      const float* pt = pos + (t % period + pos_offset) * dim;
      for (int64_t c = 0; c < dim; ++c) {
        const float e = w[c] * scale;  // rounded before the add: the same bits as scaling, then adding
        yt[c] = e + pt[c];
      }
    }
  }
}

void embedding_backward(int64_t n, int64_t dim, int64_t vocab, const int32_t* ids, const float* dy,
                        int64_t padding_idx, bool accumulate, float* dweight, float scale) {
  constexpr int64_t kCols = 64;  // floats per column block (four cache lines)
  const int64_t nblocks = (dim + kCols - 1) / kCols;
  const int nt = num_threads();
  const bool par = (n + vocab) * dim >= (1 << 16);
  if (!accumulate) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64) if (par)
    for (int64_t v = 0; v < vocab; ++v) std::memset(dweight + v * dim, 0, sizeof(float) * dim);
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (par && nblocks > 1)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t c0 = blk * kCols, c1 = c0 + kCols < dim ? c0 + kCols : dim;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t id = ids[t];
      if (id == padding_idx) continue;
      float* dst = dweight + id * dim;
      const float* src = dy + t * dim;
      if (scale == 1.f)
        for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
      else
        for (int64_t c = c0; c < c1; ++c) {
          const float g = src[c] * scale;  // rounded before the add
          dst[c] += g;
        }
    }
  }
}

}  // namespace attnode
