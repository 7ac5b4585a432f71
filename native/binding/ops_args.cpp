#include "binding/ops_args.h"

#include <cmath>

namespace attnode::binding {

// How an allocation error names a new output: by what sized it ("output y (x.length)").
static std::string fresh_name(const std::string& name, const std::string& expr) {
  const std::string prefix = "opts.into.";
  const std::string field = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) + " " : "";
  return "output " + field + "(" + expr + ")";
}

static bool is_typed(const Napi::Value& v, napi_typedarray_type t) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == t;
}

void OpArrays::check_length(const Napi::TypedArray& a, const std::string& name, int64_t length,
                            const std::string& expr) {
  check_len(c_, a, name, length, expr);
}

void OpArrays::record(const Napi::TypedArray& a, const std::string& name, bool input,
                      const std::vector<std::string>& alias_ok) {
  const char* lo = typed_bytes(a);
  const Span mine{lo, lo + a.ByteLength(), name};
  if (!input && a.ByteLength() > 0) {
    for (const Span& o : spans_) {
      if (!(mine.lo < o.hi && o.lo < mine.hi)) continue;
      bool exact_ok = false;
      for (const auto& n : alias_ok) exact_ok |= (n == o.name && o.lo == mine.lo && o.hi == mine.hi);
      if (!exact_ok)
        c_.range_error(name, "must not overlap " + o.name +
                                 (alias_ok.empty() ? "" : " (only an exact alias of an elementwise input is allowed)"));
    }
  }
  keep_.add(a);
  spans_.push_back(mine);
}

bool OpArrays::fresh(const void* data, size_t bytes) const {
  for (const char* f : fresh_)
    if (f == data && bytes > 0) return true;
  return false;
}

Napi::Float32Array OpArrays::in_f32(const Napi::Value& v, const std::string& name) {
  if (!is_typed(v, napi_float32_array)) c_.type_error(name, "must be a Float32Array, got " + describe(v));
  auto a = v.As<Napi::Float32Array>();
  record(a, name, true, {});
  return a;
}

Napi::Int32Array OpArrays::in_i32(const Napi::Value& v, const std::string& name) {
  if (!is_typed(v, napi_int32_array)) c_.type_error(name, "must be an Int32Array, got " + describe(v));
  auto a = v.As<Napi::Int32Array>();
  record(a, name, true, {});
  return a;
}

Napi::Float32Array OpArrays::inout_f32(const Napi::Value& v, const std::string& name, int64_t length,
                                       const std::string& expr) {
  if (!is_typed(v, napi_float32_array)) c_.type_error(name, "must be a Float32Array, got " + describe(v));
  auto a = v.As<Napi::Float32Array>();
  check_length(a, name, length, expr);
  record(a, name, false, {});
  return a;
}

Napi::Uint16Array OpArrays::inout_u16(const Napi::Value& v, const std::string& name, int64_t length,
                                      const std::string& expr) {
  if (!is_typed(v, napi_uint16_array)) c_.type_error(name, "must be a Uint16Array (bf16 bits), got " + describe(v));
  auto a = v.As<Napi::Uint16Array>();
  check_length(a, name, length, expr);
  record(a, name, false, {});
  return a;
}

Napi::Float32Array OpArrays::out_f32(const Napi::Value& given, const std::string& name, int64_t length,
                                     const std::string& expr, const std::vector<std::string>& alias_ok) {
  if (given.IsUndefined()) {
    auto a = new_f32(c_, [&] { return fresh_name(name, expr); }, length);
    record(a, name, false, {});
    fresh_.push_back(reinterpret_cast<const char*>(a.Data()));
    return a;
  }
  if (!is_typed(given, napi_float32_array)) c_.type_error(name, "must be a Float32Array, got " + describe(given));
  auto a = given.As<Napi::Float32Array>();
  check_length(a, name, length, expr);
  record(a, name, false, alias_ok);
  return a;
}

Napi::Int32Array OpArrays::out_i32(const Napi::Value& given, const std::string& name, int64_t length,
                                   const std::string& expr) {
  if (given.IsUndefined()) {
    auto a = new_i32(c_, [&] { return fresh_name(name, expr); }, length);
    record(a, name, false, {});
    fresh_.push_back(reinterpret_cast<const char*>(a.Data()));
    return a;
  }
  if (!is_typed(given, napi_int32_array)) c_.type_error(name, "must be an Int32Array, got " + describe(given));
  auto a = given.As<Napi::Int32Array>();
  check_length(a, name, length, expr);
  record(a, name, false, {});
  return a;
}

void check_len(const ArgContext& c, const Napi::TypedArray& a, const std::string& name, int64_t length,
               const std::string& expr) {
  if (static_cast<int64_t>(a.ElementLength()) != length)
    c.range_error(name, "must have length " + std::to_string(length) + " (" + expr + "), got " +
                            std::to_string(a.ElementLength()));
}

Napi::Value into_field(const ArgContext& c, const Napi::Object& opts, const char* field) {
  Napi::Value into = opts.Get("into");
  if (into.IsUndefined()) return into;
  if (!into.IsObject() || into.IsArray() || into.IsTypedArray())
    c.type_error("opts.into", "must be an object of output arrays, got " + describe(into));
  return into.As<Napi::Object>().Get(field);
}

Napi::Value into_single(const Napi::Object& opts) { return opts.Get("into"); }

Napi::Object options(const ArgContext& c, const Napi::Value& v, const std::string& name) {
  if (v.IsUndefined()) return Napi::Object::New(c.env);
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction())
    c.type_error(name, "must be an object, got " + describe(v));
  return v.As<Napi::Object>();
}

double opt_number(const ArgContext& c, const Napi::Object& o, const char* key, double fallback, double lo, double hi) {
  Napi::Value v = o.Get(key);
  const std::string name = std::string("opts.") + key;
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) c.type_error(name, "must be a number, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi) {
    c.range_error(name, "must be a finite number in [" + Napi::Number::New(c.env, lo).ToString().Utf8Value() + ", " +
                            Napi::Number::New(c.env, hi).ToString().Utf8Value() + "], got " + v.ToString().Utf8Value());
  }
  return d;
}

bool opt_bool(const ArgContext& c, const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) c.type_error(std::string("opts.") + key, "must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

int64_t int_arg(const ArgContext& c, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) c.type_error(name, "must be an integer, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d) c.type_error(name, "must be an integer, got " + describe(v));
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    c.range_error(name, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.ToString().Utf8Value());
  return static_cast<int64_t>(d);
}

uint64_t seed_arg(const ArgContext& c, const Napi::Value& v, const std::string& name) {
  if (v.IsBigInt()) {
    bool lossless = true;
    const uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) c.range_error(name, "must be a bigint in [0, 2^64)");
    return x;
  }
  if (!v.IsNumber()) c.type_error(name, "must be a non-negative integer or bigint, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < 0 || d > 9007199254740991.0)
    c.range_error(name, "must be a non-negative safe integer, got " + v.ToString().Utf8Value());
  return static_cast<uint64_t>(d);
}

int64_t rows_of(const ArgContext& c, const Napi::TypedArray& a, const std::string& name, int64_t dim,
                const std::string& dim_expr) {
  const int64_t n = static_cast<int64_t>(a.ElementLength());
  if (n % dim != 0)
    c.range_error(name, "length must be a multiple of " + dim_expr + " (" + std::to_string(dim) + "), got " + std::to_string(n));
  return n / dim;
}

}  // namespace attnode::binding
