// Argument checks and conversions for the N-API layer. Every failure throws a JS TypeError or
// RangeError whose message names the argument (`fn: name ...`). No math here.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace attnode::binding {

struct ArgContext {
  Napi::Env env;
  std::string fn;  // the JS function name, first word of every message
  [[noreturn]] void type_error(const std::string& name, const std::string& what) const;
  [[noreturn]] void range_error(const std::string& name, const std::string& what) const;
};

std::string describe(const Napi::Value& v);  // "a string", "a Float64Array", "undefined", ...

// First byte of a typed array's elements, for ArrayBuffer and SharedArrayBuffer backing alike
// (Napi::TypedArray::ArrayBuffer() throws for a SharedArrayBuffer).
const char* typed_bytes(const Napi::TypedArray& a);

// An integer property of an object in [lo, hi]; `fallback` is used when the property is
// undefined, unless fallback < lo (then it is required).
int64_t get_int(const ArgContext& c, const Napi::Object& o, const char* key, const std::string& name,
                int64_t lo, int64_t hi, int64_t fallback);

Napi::Float32Array expect_f32(const ArgContext& c, const Napi::Value& v, const std::string& name,
                              int64_t length, const std::string& length_expr, bool finite);
Napi::Int32Array expect_i32(const ArgContext& c, const Napi::Value& v, const std::string& name,
                            int64_t length, const std::string& length_expr);
Napi::Uint8Array expect_u8(const ArgContext& c, const Napi::Value& v, const std::string& name,
                           int64_t length, const std::string& length_expr);
// bf16 bits (a Uint16Array), exactly `length` elements.
Napi::Uint16Array expect_u16(const ArgContext& c, const Napi::Value& v, const std::string& name,
                             int64_t length, const std::string& length_expr);

// Checks every element lies in [lo, hi].
void check_range_i32(const ArgContext& c, const Napi::Int32Array& a, const std::string& name, int64_t lo, int64_t hi);
void check_range_u8(const ArgContext& c, const Napi::Uint8Array& a, const std::string& name, int lo, int hi);
// Rejects NaN (and +-Infinity unless allow_neg_inf permits -Infinity).
void check_finite(const ArgContext& c, const float* data, size_t n, const std::string& name, bool allow_neg_inf);

}  // namespace attnode::binding
