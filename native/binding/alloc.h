// The one checked path for arrays the addon allocates. V8 aborts the whole process when it cannot
// back a new ArrayBuffer, so a size no machine could hold (an output sized from tiny inputs and
// large dimensions) must be refused before V8 is asked: a RangeError naming the argument and the
// bytes asked. Native scratch allocations go through here too (copies made for async calls).
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "binding/args.h"

namespace attnode::binding {

// The largest typed array V8 creates (elements), and the bytes this process may allocate: the
// machine's physical memory, or less under a cgroup limit.
constexpr int64_t kMaxTypedElements = int64_t(1) << 32;
int64_t memory_limit_bytes();

// Throws a RangeError on `name` unless `elements` of `elem_bytes` each can be allocated: at most
// kMaxTypedElements, within memory_limit_bytes(), and (for large requests) an allocation of that
// size succeeds now (a ulimit -v or overcommit limit would make V8's fail).
void check_allocation(const ArgContext& c, const std::string& name, int64_t elements, int64_t elem_bytes);

// Whether check_allocation would pass (no message built: the common, cheap path).
bool allocation_ok(int64_t elements, int64_t elem_bytes);

// New zero-filled arrays of `length` elements, checked as above; `name()` gives the output's name
// (built only for the error message).
template <class Name>
Napi::Float32Array new_f32(const ArgContext& c, Name&& name, int64_t length) {
  if (!allocation_ok(length, 4)) check_allocation(c, name(), length, 4);
  return Napi::Float32Array::New(c.env, static_cast<size_t>(length));
}
template <class Name>
Napi::Int32Array new_i32(const ArgContext& c, Name&& name, int64_t length) {
  if (!allocation_ok(length, 4)) check_allocation(c, name(), length, 4);
  return Napi::Int32Array::New(c.env, static_cast<size_t>(length));
}

// Native memory of `bytes` (64-byte aligned), or a RangeError on `name`; freed by the unique_ptr.
struct AlignedFree {
  void operator()(char* p) const;
};
using NativeBuffer = std::unique_ptr<char, AlignedFree>;
NativeBuffer native_buffer(const ArgContext& c, const std::string& name, int64_t bytes);

}  // namespace attnode::binding
