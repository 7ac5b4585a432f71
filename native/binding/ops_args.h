// Argument helpers shared by the ops bindings (norm, elementwise, embedding, cross-entropy,
// optimizer): typed-array inputs of checked type, outputs that are either the caller's `into`
// array (type, length and overlap checked) or new, and option readers. Every failure is a JS
// TypeError or RangeError naming the argument (args.h).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/kernel_worker.h"
#include "binding/staging.h"

namespace attnode::binding {

// The arrays of one call: kept alive for as long as the call (sync or async) runs, and their
// byte ranges, so no output can overlap an input or another output. `async`: the kernel reads
// and writes through stage() (staging.h); the data pointers of the arrays returned here are then
// the caller's, for overlap checks only.
class OpArrays {
 public:
  explicit OpArrays(const ArgContext& c, bool async = false) : c_(c), stage_(async), keep_(async) {}

  // An input array of any length (its length is checked by the caller, which knows the shape).
  Napi::Float32Array in_f32(const Napi::Value& v, const std::string& name);
  Napi::Int32Array in_i32(const Napi::Value& v, const std::string& name);
  // An array updated in place: like an input, but it must not overlap any array seen so far.
  Napi::Uint16Array inout_u16(const Napi::Value& v, const std::string& name, int64_t length,
                              const std::string& expr);
  Napi::Float32Array inout_f32(const Napi::Value& v, const std::string& name, int64_t length,
                               const std::string& length_expr);
  // An output: `given` (undefined -> a new array) of exactly `length` elements. It must not
  // overlap any array seen so far, except that it may be exactly one of `alias_ok` (elementwise
  // ops, where y[i] depends only on inputs at i, can run in place).
  Napi::Float32Array out_f32(const Napi::Value& given, const std::string& name, int64_t length,
                             const std::string& length_expr, const std::vector<std::string>& alias_ok = {});
  Napi::Int32Array out_i32(const Napi::Value& given, const std::string& name, int64_t length,
                           const std::string& length_expr);

  const ArgContext& ctx() const { return c_; }
  Staging& stage() { return stage_; }
  // What the kernel reads / writes for an array returned above (see Staging).
  template <typename T>
  const T* read(const Napi::TypedArrayOf<T>& a, const std::string& name) { return stage_.in<T>(c_, a, name); }
  template <typename T>
  const T* copy(const Napi::TypedArrayOf<T>& a, const std::string& name) { return stage_.copy<T>(c_, a, name); }
  // Right before the kernel runs: every array still as checked (Keepalive::check).
  void seal() const { keep_.check(c_); }
  const Keepalive& keep() const { return keep_; }
  template <typename T>
  T* write(const Napi::TypedArrayOf<T>& a, const std::string& name, bool read_too) {
    return fresh(a.Data(), a.ByteLength()) ? const_cast<T*>(a.Data()) : stage_.out<T>(c_, a, name, read_too);
  }

 private:
  struct Span {
    const char* lo;
    const char* hi;
    std::string name;
  };
  void check_length(const Napi::TypedArray& a, const std::string& name, int64_t length, const std::string& expr);
  void record(const Napi::TypedArray& a, const std::string& name, bool input,
              const std::vector<std::string>& alias_ok);

  bool fresh(const void* data, size_t bytes) const;

  ArgContext c_;
  Staging stage_;
  Keepalive keep_;
  std::vector<Span> spans_;
  std::vector<const char*> fresh_;  // arrays created here: written directly even when async
};

// Throws a RangeError on `name` unless the array has exactly `length` elements.
void check_len(const ArgContext& c, const Napi::TypedArray& a, const std::string& name, int64_t length,
               const std::string& length_expr);
// opts.into.<field> of a multi-output op (undefined when absent); opts.into must be an object.
Napi::Value into_field(const ArgContext& c, const Napi::Object& opts, const char* field);
// opts.into of a single-output op: the output array itself (undefined when absent).
Napi::Value into_single(const Napi::Object& opts);

// The options object: undefined -> an empty object; anything but a plain object -> TypeError.
Napi::Object options(const ArgContext& c, const Napi::Value& v, const std::string& name = "opts");
// opts[key] as a finite number in [lo, hi] (fallback when undefined).
double opt_number(const ArgContext& c, const Napi::Object& o, const char* key, double fallback, double lo, double hi);
bool opt_bool(const ArgContext& c, const Napi::Object& o, const char* key, bool fallback);
// A positive integer argument (a dimension): an integer in [lo, hi].
int64_t int_arg(const ArgContext& c, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi);
// A seed: a non-negative safe integer or a bigint below 2^64.
uint64_t seed_arg(const ArgContext& c, const Napi::Value& v, const std::string& name);
// rows = length / dim, a RangeError on `name` when the length is not a multiple of dim.
int64_t rows_of(const ArgContext& c, const Napi::TypedArray& a, const std::string& name, int64_t dim,
                const std::string& dim_expr);

constexpr int64_t kMaxOpElements = int64_t(1) << 40;

}  // namespace attnode::binding
