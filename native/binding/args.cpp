#include "binding/args.h"

#include <cmath>

namespace attnode::binding {

void ArgContext::type_error(const std::string& name, const std::string& what) const {
  throw Napi::TypeError::New(env, fn + ": " + name + " " + what);
}
void ArgContext::range_error(const std::string& name, const std::string& what) const {
  throw Napi::RangeError::New(env, fn + ": " + name + " " + what);
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "an Int8Array";
      case napi_uint8_array: return "a Uint8Array";
      case napi_uint8_clamped_array: return "a Uint8ClampedArray";
      case napi_int16_array: return "an Int16Array";
      case napi_uint16_array: return "a Uint16Array";
      case napi_int32_array: return "an Int32Array";
      case napi_uint32_array: return "a Uint32Array";
      case napi_float32_array: return "a Float32Array";
      case napi_float64_array: return "a Float64Array";
      default: return "a typed array";
    }
  }
  if (v.IsArray()) return "an Array";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsString()) return "a string";
  if (v.IsBigInt()) return "a bigint";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

const char* typed_bytes(const Napi::TypedArray& a) {
  void* first = nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  NAPI_THROW_IF_FAILED(a.Env(), napi_get_typedarray_info(a.Env(), a, &type, &length, &first, nullptr, nullptr), nullptr);
  return static_cast<const char*>(first);
}

int64_t get_int(const ArgContext& c, const Napi::Object& o, const char* key, const std::string& name,
                int64_t lo, int64_t hi, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && fallback >= lo) return fallback;
  if (!v.IsNumber()) c.type_error(name, "must be an integer, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    c.type_error(name, "must be an integer, got " + describe(v));
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    c.range_error(name, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.ToString().Utf8Value());
  return static_cast<int64_t>(d);
}

static void check_length(const ArgContext& c, const Napi::TypedArray& a, const std::string& name,
                         int64_t length, const std::string& length_expr) {
  if (static_cast<int64_t>(a.ElementLength()) != length)
    c.range_error(name, "must have length " + std::to_string(length) + " (" + length_expr + "), got " +
                            std::to_string(a.ElementLength()));
}

template <typename T>
static T expect_typed(const ArgContext& c, const Napi::Value& v, const std::string& name,
                      napi_typedarray_type type, const char* type_name, int64_t length,
                      const std::string& length_expr) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    c.type_error(name, std::string("must be a ") + type_name + ", got " + describe(v));
  T a = v.As<T>();
  check_length(c, a, name, length, length_expr);
  return a;
}

Napi::Float32Array expect_f32(const ArgContext& c, const Napi::Value& v, const std::string& name,
                              int64_t length, const std::string& length_expr, bool finite) {
  auto a = expect_typed<Napi::Float32Array>(c, v, name, napi_float32_array, "Float32Array", length, length_expr);
  if (finite) check_finite(c, a.Data(), a.ElementLength(), name, false);
  return a;
}
Napi::Int32Array expect_i32(const ArgContext& c, const Napi::Value& v, const std::string& name,
                            int64_t length, const std::string& length_expr) {
  return expect_typed<Napi::Int32Array>(c, v, name, napi_int32_array, "Int32Array", length, length_expr);
}
Napi::Uint8Array expect_u8(const ArgContext& c, const Napi::Value& v, const std::string& name,
                           int64_t length, const std::string& length_expr) {
  return expect_typed<Napi::Uint8Array>(c, v, name, napi_uint8_array, "Uint8Array", length, length_expr);
}

Napi::Uint16Array expect_u16(const ArgContext& c, const Napi::Value& v, const std::string& name,
                             int64_t length, const std::string& length_expr) {
  return expect_typed<Napi::Uint16Array>(c, v, name, napi_uint16_array, "Uint16Array", length, length_expr);
}

void check_range_i32(const ArgContext& c, const Napi::Int32Array& a, const std::string& name, int64_t lo, int64_t hi) {
  const int32_t* d = a.Data();
  for (size_t i = 0; i < a.ElementLength(); ++i)
    if (d[i] < lo || d[i] > hi)
      c.range_error(name + "[" + std::to_string(i) + "]", "must be in [" + std::to_string(lo) + ", " +
                                                             std::to_string(hi) + "], got " + std::to_string(d[i]));
}

void check_range_u8(const ArgContext& c, const Napi::Uint8Array& a, const std::string& name, int lo, int hi) {
  const uint8_t* d = a.Data();
  for (size_t i = 0; i < a.ElementLength(); ++i)
    if (d[i] < lo || d[i] > hi)
      c.range_error(name + "[" + std::to_string(i) + "]", "must be " + std::to_string(lo) + " or " +
                                                             std::to_string(hi) + ", got " + std::to_string(d[i]));
}

void check_finite(const ArgContext& c, const float* data, size_t n, const std::string& name, bool allow_neg_inf) {
  // Branch-free scan first (cheap next to the kernels); locate the bad element only on failure.
  // An all-ones exponent is NaN or +-Infinity; the integer test vectorises.
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(data);
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= (bits[i] & 0x7f800000u) == 0x7f800000u;
  if (!bad) return;
  for (size_t i = 0; i < n; ++i) {
    const float x = data[i];
    if (std::isnan(x)) c.range_error(name + "[" + std::to_string(i) + "]", "is NaN");
    if (std::isinf(x) && !(allow_neg_inf && x < 0))
      c.range_error(name + "[" + std::to_string(i) + "]", allow_neg_inf ? "is +Infinity (only -Infinity may block)" : "is not finite");
  }
}

}  // namespace attnode::binding
