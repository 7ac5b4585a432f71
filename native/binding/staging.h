// Where a kernel call reads and writes. A sync call runs before any JS code can run again, so it
// reads and writes the caller's arrays directly. An async call returns to JS first: the caller
// may then change an input, transfer its buffer away and let it be collected, or resize it. So an
// async call reads only copies of its inputs made (and checked) while parsing, and writes the
// caller's output arrays through native scratch, copied back on the main thread when it settles,
// after checking each destination is still the array it was. Arrays the addon created itself are
// written directly: the caller cannot reach them before the call settles.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "binding/alloc.h"
#include "binding/args.h"

namespace attnode::binding {

class Staging {
 public:
  // copy (async): inputs are copied, caller outputs written through scratch that finish() copies back.
  explicit Staging(bool copy = false) : copy_(copy) {}

  // The elements the kernel reads for input `a`: a's own, or (copying) a copy made now. Checks
  // of the values (ids in range, finite) must run on what this returns.
  // (Typed: node-addon-api caches an array's data pointer and length, so the sync path makes no
  // N-API call; this runs for every array of every call.)
  template <typename T>
  const T* in(const ArgContext& c, const Napi::TypedArrayOf<T>& a, const std::string& name) {
    if (!copy_) return a.Data();
    return static_cast<const T*>(copy_of(c, a, a.Data(), a.ByteLength(), name));
  }

  // A copy of input `a` made now, sync or async: for ids and lengths the kernel trusts as
  // indices, so that nothing the caller runs after the check (a getter) can change them.
  template <typename T>
  const T* copy(const ArgContext& c, const Napi::TypedArrayOf<T>& a, const std::string& name) {
    return static_cast<const T*>(copy_of(c, a, a.Data(), a.ByteLength(), name));
  }

  // The elements the kernel writes for the caller's array `a`: a's own, or (copying) scratch that
  // finish() copies back. `read`: the kernel also reads them (updated in place), so the scratch
  // starts as a copy. A row-strided output (ld > 0) is `rows` rows of `row_elems` elements, ld
  // apart: only those are copied back (other columns may be another output of the same call).
  template <typename T>
  T* out(const ArgContext& c, const Napi::TypedArrayOf<T>& a, const std::string& name, bool read, int64_t rows = 1,
         int64_t row_elems = -1, int64_t ld = 0) {
    if (!copy_) return const_cast<T*>(a.Data());
    return static_cast<T*>(output(c, a, a.Data(), a.ByteLength(), sizeof(T), name, read, rows, row_elems, ld));
  }

  // Main thread, after the kernel ran: copies the scratch outputs back. A destination that was
  // detached or resized meanwhile is a RangeError naming it, and then none is written.
  void finish(const ArgContext& c);

 private:
  // Copies read the array's memory now: they first check it is still there (a getter of the
  // caller's may have detached it since node-addon-api cached its pointer).
  const void* copy_of(const ArgContext& c, const Napi::TypedArray& a, const void* data, size_t bytes,
                      const std::string& name);
  void* output(const ArgContext& c, const Napi::TypedArray& a, const void* data, size_t bytes, size_t elem,
               const std::string& name, bool read, int64_t rows, int64_t row_elems, int64_t ld);
  struct Back {
    Napi::Reference<Napi::Value> array;
    NativeBuffer scratch;
    const char* data;  // where the array's elements are (while its length is unchanged)
    size_t length;     // its length in elements when the call started
    int64_t rows, row_bytes, ld_bytes;
    std::string name;
  };
  bool copy_;
  std::vector<NativeBuffer> copies_;
  std::vector<Back> back_;
};

// Whether typed array `array` still has `length` elements, as when it was checked. The length
// alone tells: a detached view has length 0, and a resizable buffer keeps its address (V8 reserves
// its maximum) while changing the lengths of the views it shrinks.
bool same_length(napi_env env, napi_value array, size_t length);

}  // namespace attnode::binding
