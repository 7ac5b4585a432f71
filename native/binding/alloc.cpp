#include "binding/alloc.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>

namespace attnode::binding {

namespace {

// Allocations this large are tried natively first: cheap next to their use, and they catch the
// address-space and overcommit limits that a physical-memory bound does not see.
constexpr int64_t kTrialBytes = int64_t(64) << 20;

int64_t read_cgroup_limit() {
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream f(path);
    std::string s;
    if (f >> s && !s.empty() && s != "max") {
      char* end = nullptr;
      const long long v = std::strtoll(s.c_str(), &end, 10);
      if (end && *end == '\0' && v > 0) return v;
    }
  }
  return INT64_MAX;
}

std::string human(int64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b >= 1e12) std::snprintf(buf, sizeof buf, "%.1f TB", b / 1e12);
  else if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.1f GB", b / 1e9);
  else std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  return std::to_string(bytes) + " bytes (" + buf + ")";
}

}  // namespace

int64_t memory_limit_bytes() {
  static const int64_t limit = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    int64_t phys = pages > 0 && page > 0 ? int64_t(pages) * int64_t(page) : INT64_MAX;
    const int64_t cg = read_cgroup_limit();
    return cg < phys ? cg : phys;
  }();
  return limit;
}

void check_allocation(const ArgContext& c, const std::string& name, int64_t elements, int64_t elem_bytes) {
  if (elements < 0) c.range_error(name, "would have a negative length");
  if (elements > kMaxTypedElements)
    c.range_error(name, "would need " + std::to_string(elements) + " elements (" + human(elements * elem_bytes) +
                            "), more than the 2^32 of a typed array");
  const int64_t bytes = elements * elem_bytes;
  if (bytes > memory_limit_bytes())
    c.range_error(name, "would need " + human(bytes) + ", more than this machine's memory (" + human(memory_limit_bytes()) + ")");
  if (bytes >= kTrialBytes) {
    void* p = std::malloc(static_cast<size_t>(bytes));
    if (!p) c.range_error(name, "would need " + human(bytes) + ", which cannot be allocated now");
    std::free(p);
  }
}

bool allocation_ok(int64_t elements, int64_t elem_bytes) {
  // Small requests pass without a trial allocation; large ones take the full check.
  return elements >= 0 && elements * elem_bytes < kTrialBytes;
}

void AlignedFree::operator()(char* p) const { ::operator delete(p, std::align_val_t(64)); }

NativeBuffer native_buffer(const ArgContext& c, const std::string& name, int64_t bytes) {
  if (bytes > memory_limit_bytes())
    c.range_error(name, "would need a native copy of " + human(bytes) + ", more than this machine's memory");
  void* p = ::operator new(static_cast<size_t>(bytes > 0 ? bytes : 1), std::align_val_t(64), std::nothrow);
  if (!p) c.range_error(name, "cannot be copied for the call: out of memory (" + human(bytes) + ")");
  return NativeBuffer(static_cast<char*>(p));
}

}  // namespace attnode::binding
