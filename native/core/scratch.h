// Scratch memory for kernels, cached per calling thread. Kernels need packing buffers and partial
// sums on every call; taking them from malloc each time meant large blocks came from mmap and went
// back with munmap, and the page faults and cross-CPU TLB shootdowns of that churn cost ~8% of a
// training step. Blocks released here go back to the calling thread's cache and are reused.
#pragma once
#include <cstddef>

namespace attnode {

// At least `bytes` bytes, 64-byte aligned; throws std::bad_alloc. Contents are unspecified.
void* scratch_acquire(std::size_t bytes);
// Returns a block from scratch_acquire (on the same thread) to the cache.
void scratch_release(void* p);

}  // namespace attnode
