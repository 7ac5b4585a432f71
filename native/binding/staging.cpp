#include "binding/staging.h"

#include <cstring>

namespace attnode::binding {

bool same_length(napi_env env, napi_value array, size_t length) {
  size_t now = 0;
  return napi_get_typedarray_info(env, array, nullptr, &now, nullptr, nullptr, nullptr) == napi_ok && now == length;
}

// Copies read the array's memory now: a getter may have detached it since node-addon-api cached
// its pointer.
static void check_unchanged(const ArgContext& c, const Napi::TypedArray& a, const std::string& name) {
  if (!same_length(c.env, a, a.ElementLength()))
    c.range_error(name, "was detached or resized while the arguments were read (by a getter)");
}

const void* Staging::copy_of(const ArgContext& c, const Napi::TypedArray& a, const void* data, size_t bytes,
                             const std::string& name) {
  check_unchanged(c, a, name);
  NativeBuffer copy = native_buffer(c, name, static_cast<int64_t>(bytes));
  if (bytes) std::memcpy(copy.get(), data, bytes);
  copies_.push_back(std::move(copy));
  return copies_.back().get();
}

void* Staging::output(const ArgContext& c, const Napi::TypedArray& a, const void* data, size_t bytes, size_t elem_size,
                      const std::string& name, bool read, int64_t rows, int64_t row_elems, int64_t ld) {
  const int64_t elem = static_cast<int64_t>(elem_size);
  if (read) check_unchanged(c, a, name);
  NativeBuffer scratch = native_buffer(c, name, static_cast<int64_t>(bytes));
  if (read && bytes) std::memcpy(scratch.get(), data, bytes);
  char* p = scratch.get();
  if (ld <= 0) {  // packed: the whole array
    rows = 1;
    row_elems = static_cast<int64_t>(bytes) / elem;
    ld = row_elems;
  }
  back_.push_back(Back{Napi::Persistent(static_cast<Napi::Value>(a)), std::move(scratch), static_cast<const char*>(data),
                       a.ElementLength(), rows, row_elems * elem, ld * elem, name});
  return p;
}

void Staging::finish(const ArgContext& c) {
  for (const Back& b : back_) {
    if (!same_length(c.env, b.array.Value(), b.length))
      c.range_error(b.name, "was detached, transferred or resized before the call settled: its result is lost");
  }
  for (Back& b : back_) {
    char* dst = const_cast<char*>(b.data);
    for (int64_t r = 0; r < b.rows; ++r)
      if (b.row_bytes) std::memcpy(dst + r * b.ld_bytes, b.scratch.get() + r * b.ld_bytes, static_cast<size_t>(b.row_bytes));
    b.scratch.reset();
  }
  back_.clear();
}

}  // namespace attnode::binding
