// Argmax and top-k over the last dimension, for decoding (greedy, beam search, top-k sampling).
// Order: larger value first, equal values by lower index; NaN ranks below every number (-inf
// included), so a NaN is chosen only when nothing else is left. Rows run in parallel.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops.h"
#include "core/threads.h"

namespace attnode {

namespace {

struct Entry {
  float v;
  int32_t i;
};

// Whether a ranks before b.
inline bool before(const Entry& a, const Entry& b) {
  const bool an = std::isnan(a.v), bn = std::isnan(b.v);
  if (an != bn) return bn;
  if (!an && a.v != b.v) return a.v > b.v;
  return a.i < b.i;
}

}  // namespace

void argmax(int64_t rows, int64_t dim, const float* x, int32_t* index) {
  const int nt = num_threads();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (rows * dim >= (1 << 16) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    int64_t best = 0;
    for (int64_t j = 1; j < dim; ++j)
      if (xr[j] > xr[best] || (std::isnan(xr[best]) && !std::isnan(xr[j]))) best = j;
    index[r] = static_cast<int32_t>(best);
  }
}

void top_k(int64_t rows, int64_t dim, int64_t k, const float* x, float* values, int32_t* indices) {
  const int nt = num_threads();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (rows * dim >= (1 << 16) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    // A heap of the k best so far whose top is the worst of them: each new element either
    // replaces that top or is skipped, O(dim log k).
    std::vector<Entry> heap;
    heap.reserve(static_cast<size_t>(k));
    for (int64_t j = 0; j < dim; ++j) {
      const Entry e{xr[j], static_cast<int32_t>(j)};
      if (static_cast<int64_t>(heap.size()) < k) {
        heap.push_back(e);
        std::push_heap(heap.begin(), heap.end(), before);
      } else if (before(e, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), before);
        heap.back() = e;
        std::push_heap(heap.begin(), heap.end(), before);
      }
    }
    std::sort(heap.begin(), heap.end(), before);
    for (int64_t c = 0; c < k; ++c) {
      values[r * k + c] = heap[static_cast<size_t>(c)].v;
      indices[r * k + c] = heap[static_cast<size_t>(c)].i;
    }
  }
}

}  // namespace attnode
