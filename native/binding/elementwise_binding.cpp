// N-API entry points of the elementwise ops: activations (forward/backward), the residual add and
// dropout. Outputs may be exactly an input (in place); the math lives in native/core.
#include <napi.h>

#include <string>

#include "binding/define.h"
#include "binding/ops_args.h"
#include "core/ops.h"

namespace attnode::binding {

namespace {

// The JS wrappers (relu, gelu, dropoutBackward, ...) pass their own name as a last, internal
// argument so that error messages name the function the user called.
std::string fn_name(const Napi::CallbackInfo& info, size_t at, const char* fallback) {
  return info.Length() > at && info[at].IsString() ? info[at].As<Napi::String>().Utf8Value() : fallback;
}

Activation activation_of(const ArgContext& c, const Napi::Value& v) {
  const std::string expected = "must be 'relu', 'gelu', 'geluTanh' or 'silu', got ";
  if (!v.IsString()) c.type_error("kind", expected + describe(v));
  const std::string k = v.As<Napi::String>().Utf8Value();
  if (k == "relu") return Activation::Relu;
  if (k == "gelu") return Activation::GeluErf;
  if (k == "geluTanh") return Activation::GeluTanh;
  if (k == "silu") return Activation::Silu;
  c.range_error("kind", expected + "'" + k + "'");
}

// activationForward(kind, x, opts?) -> y
Napi::Value activation_forward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), fn_name(info, 3, "activationForward")};
  const Activation a = activation_of(c, info[0]);
  OpArrays arr(c);
  auto x = arr.in_f32(info[1], "x");
  Napi::Object o = options(c, info[2]);
  const int64_t n = static_cast<int64_t>(x.ElementLength());
  auto y = arr.out_f32(into_single(o), "opts.into", n, "x.length", {"x"});
  arr.seal();
  activation_forward(a, n, x.Data(), y.Data());
  return y;
}

// activationBackward(kind, x, dy, opts?) -> dx
Napi::Value activation_backward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), fn_name(info, 4, "activationBackward")};
  const Activation a = activation_of(c, info[0]);
  OpArrays arr(c);
  auto x = arr.in_f32(info[1], "x");
  const int64_t n = static_cast<int64_t>(x.ElementLength());
  auto dy = arr.in_f32(info[2], "dy");
  check_len(c, dy, "dy", n, "x.length");
  Napi::Object o = options(c, info[3]);
  auto dx = arr.out_f32(into_single(o), "opts.into", n, "x.length", {"x", "dy"});
  arr.seal();
  activation_backward(a, n, x.Data(), dy.Data(), dx.Data());
  return dx;
}

// add(a, b, opts?) -> a + b
Napi::Value add_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "add"};
  OpArrays arr(c);
  auto a = arr.in_f32(info[0], "a");
  const int64_t n = static_cast<int64_t>(a.ElementLength());
  auto b = arr.in_f32(info[1], "b");
  check_len(c, b, "b", n, "a.length");
  Napi::Object o = options(c, info[2]);
  auto y = arr.out_f32(into_single(o), "opts.into", n, "a.length", {"a", "b"});
  arr.seal();
  add(n, a.Data(), b.Data(), y.Data());
  return y;
}

float dropout_p(const ArgContext& c, const Napi::Value& v) {
  if (!v.IsNumber()) c.type_error("p", "must be a number in [0, 1), got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < 1)) c.range_error("p", "must be in [0, 1), got " + v.ToString().Utf8Value());
  const float p = static_cast<float>(d);
  return p >= 1.f ? 0.99999994f : p;  // a double just below 1 rounds up to 1 in float
}

// dropout(x, p, seed, opts?) -> y; the backward is the same call on dy (same seed and offset).
Napi::Value dropout_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), fn_name(info, 4, "dropout")};
  const std::string xname = c.fn == "dropoutBackward" ? "dy" : "x";
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], xname);
  const float p = dropout_p(c, info[1]);
  const uint64_t seed = seed_arg(c, info[2], "seed");
  Napi::Object o = options(c, info[3]);
  const double off = opt_number(c, o, "offset", 0, 0, 9007199254740991.0);
  if (off != static_cast<double>(static_cast<uint64_t>(off))) c.type_error("opts.offset", "must be an integer");
  const int64_t n = static_cast<int64_t>(x.ElementLength());
  auto y = arr.out_f32(into_single(o), "opts.into", n, xname + ".length", {xname});
  arr.seal();
  dropout_apply(n, p, seed, static_cast<uint64_t>(off), x.Data(), y.Data());
  return y;
}

// dropoutKeepElement(seed, index, p) -> whether element `index` is kept: the kernel's decision.
Napi::Value dropout_keep_element_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "dropoutKeepElement"};
  const uint64_t seed = seed_arg(c, info[0], "seed");
  const uint64_t index = seed_arg(c, info[1], "index");
  const float p = dropout_p(c, info[2]);
  return Napi::Boolean::New(c.env, dropout_element_keep(seed, index, p));
}

}  // namespace

void register_elementwise(Napi::Env env, Napi::Object exports) {
  define(env, exports, "activationForward", activation_forward_js);
  define(env, exports, "activationBackward", activation_backward_js);
  define(env, exports, "add", add_js);
  define(env, exports, "dropout", dropout_js);
  define(env, exports, "dropoutKeepElement", dropout_keep_element_js);
}

}  // namespace attnode::binding
