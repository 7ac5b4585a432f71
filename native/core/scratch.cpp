#include "core/scratch.h"

#include <cstdlib>
#include <new>
#include <vector>

namespace attnode {

namespace {

struct Block {
  void* p;
  std::size_t bytes;
};

// Free blocks of this thread. A few blocks cover a kernel call (nested calls take more); the cache
// keeps at most kMaxBlocks and frees the rest, and everything is freed when the thread exits.
struct Cache {
  static constexpr std::size_t kMaxBlocks = 8;
  std::vector<Block> free_blocks;
  std::vector<Block> in_use;
  ~Cache() {
    for (const Block& b : free_blocks) std::free(b.p);
    for (const Block& b : in_use) std::free(b.p);
  }
};

Cache& cache() {
  thread_local Cache c;
  return c;
}

}  // namespace

void* scratch_acquire(std::size_t bytes) {
  Cache& c = cache();
  const std::size_t need = (bytes + 63) / 64 * 64 + 64;
  // Best fit among the free blocks: the smallest one that is large enough.
  std::size_t best = c.free_blocks.size();
  for (std::size_t i = 0; i < c.free_blocks.size(); ++i)
    if (c.free_blocks[i].bytes >= need && (best == c.free_blocks.size() || c.free_blocks[i].bytes < c.free_blocks[best].bytes)) best = i;
  Block b;
  if (best < c.free_blocks.size()) {
    b = c.free_blocks[best];
    c.free_blocks.erase(c.free_blocks.begin() + static_cast<std::ptrdiff_t>(best));
  } else {
    void* p = std::aligned_alloc(64, need);
    if (!p) throw std::bad_alloc();
    b = Block{p, need};
  }
  c.in_use.push_back(b);
  return b.p;
}

void scratch_release(void* p) {
  if (!p) return;
  Cache& c = cache();
  for (std::size_t i = 0; i < c.in_use.size(); ++i) {
    if (c.in_use[i].p != p) continue;
    const Block b = c.in_use[i];
    c.in_use.erase(c.in_use.begin() + static_cast<std::ptrdiff_t>(i));
    c.free_blocks.push_back(b);
    if (c.free_blocks.size() > Cache::kMaxBlocks) {  // drop the smallest
      std::size_t small = 0;
      for (std::size_t j = 1; j < c.free_blocks.size(); ++j)
        if (c.free_blocks[j].bytes < c.free_blocks[small].bytes) small = j;
      std::free(c.free_blocks[small].p);
      c.free_blocks.erase(c.free_blocks.begin() + static_cast<std::ptrdiff_t>(small));
    }
    return;
  }
  std::free(p);  // not ours (should not happen): still release it
}

}  // namespace attnode
