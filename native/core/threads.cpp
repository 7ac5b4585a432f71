#include "core/threads.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>

namespace attnode {

static int initial_threads() {
  if (const char* env = std::getenv("ATTNODE_NUM_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
  }
  int n = omp_get_num_procs();
  return n >= 1 ? n : 1;
}

static std::atomic<int>& thread_setting() {
  static std::atomic<int> n{initial_threads()};
  return n;
}

int num_threads() { return thread_setting().load(std::memory_order_relaxed); }
void set_num_threads(int n) { thread_setting().store(n < 1 ? 1 : n, std::memory_order_relaxed); }
int max_hardware_threads() { return omp_get_num_procs(); }

}  // namespace attnode
