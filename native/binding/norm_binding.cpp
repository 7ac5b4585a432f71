// N-API entry points of LayerNorm and RMSNorm (forward and backward): argument checks and views.
// The math lives in native/core (norm.inc).
#include <napi.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "binding/define.h"
#include "binding/ops_args.h"
#include "core/ops.h"

namespace attnode::binding {

namespace {

double eps_of(const ArgContext& c, const Napi::Object& o, double fallback) {
  return opt_number(c, o, "eps", fallback, 0.0, 1.0);
}

const char* const kRowsExpr = "rows = x.length / gamma.length";

// What every norm entry point starts with: x [rows, dim] and gamma [dim], dim = gamma.length.
struct NormArgs {
  Napi::Float32Array x, gamma;
  int64_t dim, rows;
};
NormArgs norm_args(const ArgContext& c, OpArrays& arr, const Napi::CallbackInfo& info) {
  NormArgs a;
  a.x = arr.in_f32(info[0], "x");
  a.gamma = arr.in_f32(info[1], "gamma");
  a.dim = static_cast<int64_t>(a.gamma.ElementLength());
  if (a.dim < 1) c.range_error("gamma", "must not be empty (its length is the normalized dimension)");
  a.rows = rows_of(c, a.x, "x", a.dim, "gamma.length");
  return a;
}

// Output `field`: opts.into.<field> when given, else a new array of `length` elements.
Napi::Float32Array output(const ArgContext& c, OpArrays& arr, const Napi::Object& o, const char* field, int64_t length,
                          const char* length_expr) {
  return arr.out_f32(into_field(c, o, field), std::string("opts.into.") + field, length, length_expr);
}

Napi::Object result(const ArgContext& c, std::initializer_list<std::pair<const char*, Napi::Float32Array>> fields) {
  Napi::Object r = Napi::Object::New(c.env);
  for (const auto& [name, a] : fields) r.Set(name, a);
  return r;
}

// layerNormForward(x, gamma, beta, opts?) -> { y, mean, rstd }
Napi::Value layer_norm_forward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "layerNormForward"};
  OpArrays arr(c);
  const NormArgs a = norm_args(c, arr, info);
  auto beta = arr.in_f32(info[2], "beta");
  check_len(c, beta, "beta", a.dim, "gamma.length");
  Napi::Object o = options(c, info[3]);
  const float eps = static_cast<float>(eps_of(c, o, 1e-5));
  auto y = output(c, arr, o, "y", a.rows * a.dim, "x.length");
  auto mean = output(c, arr, o, "mean", a.rows, kRowsExpr);
  auto rstd = output(c, arr, o, "rstd", a.rows, kRowsExpr);
  arr.seal();
  layer_norm_forward(a.rows, a.dim, eps, a.x.Data(), a.gamma.Data(), beta.Data(), y.Data(), mean.Data(), rstd.Data());
  return result(c, {{"y", y}, {"mean", mean}, {"rstd", rstd}});
}

// layerNormBackward(x, gamma, mean, rstd, dy, opts?) -> { dx, dgamma, dbeta }
Napi::Value layer_norm_backward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "layerNormBackward"};
  OpArrays arr(c);
  const NormArgs a = norm_args(c, arr, info);
  auto mean = arr.in_f32(info[2], "mean");
  auto rstd = arr.in_f32(info[3], "rstd");
  auto dy = arr.in_f32(info[4], "dy");
  check_len(c, mean, "mean", a.rows, kRowsExpr);
  check_len(c, rstd, "rstd", a.rows, kRowsExpr);
  check_len(c, dy, "dy", a.rows * a.dim, "x.length");
  Napi::Object o = options(c, info[5]);
  auto dx = output(c, arr, o, "dx", a.rows * a.dim, "x.length");
  auto dgamma = output(c, arr, o, "dgamma", a.dim, "gamma.length");
  auto dbeta = output(c, arr, o, "dbeta", a.dim, "gamma.length");
  arr.seal();
  layer_norm_backward(a.rows, a.dim, a.x.Data(), a.gamma.Data(), mean.Data(), rstd.Data(), dy.Data(), dx.Data(),
                      dgamma.Data(), dbeta.Data());
  return result(c, {{"dx", dx}, {"dgamma", dgamma}, {"dbeta", dbeta}});
}

// rmsNormForward(x, gamma, opts?) -> { y, rstd }
Napi::Value rms_norm_forward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "rmsNormForward"};
  OpArrays arr(c);
  const NormArgs a = norm_args(c, arr, info);
  Napi::Object o = options(c, info[2]);
  const float eps = static_cast<float>(eps_of(c, o, 1e-6));
  auto y = output(c, arr, o, "y", a.rows * a.dim, "x.length");
  auto rstd = output(c, arr, o, "rstd", a.rows, kRowsExpr);
  arr.seal();
  rms_norm_forward(a.rows, a.dim, eps, a.x.Data(), a.gamma.Data(), y.Data(), rstd.Data());
  return result(c, {{"y", y}, {"rstd", rstd}});
}

// rmsNormBackward(x, gamma, rstd, dy, opts?) -> { dx, dgamma }
Napi::Value rms_norm_backward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "rmsNormBackward"};
  OpArrays arr(c);
  const NormArgs a = norm_args(c, arr, info);
  auto rstd = arr.in_f32(info[2], "rstd");
  auto dy = arr.in_f32(info[3], "dy");
  check_len(c, rstd, "rstd", a.rows, kRowsExpr);
  check_len(c, dy, "dy", a.rows * a.dim, "x.length");
  Napi::Object o = options(c, info[4]);
  auto dx = output(c, arr, o, "dx", a.rows * a.dim, "x.length");
  auto dgamma = output(c, arr, o, "dgamma", a.dim, "gamma.length");
  arr.seal();
  rms_norm_backward(a.rows, a.dim, a.x.Data(), a.gamma.Data(), rstd.Data(), dy.Data(), dx.Data(), dgamma.Data());
  return result(c, {{"dx", dx}, {"dgamma", dgamma}});
}

}  // namespace

void register_norm(Napi::Env env, Napi::Object exports) {
  define(env, exports, "layerNormForward", layer_norm_forward_js);
  define(env, exports, "layerNormBackward", layer_norm_backward_js);
  define(env, exports, "rmsNormForward", rms_norm_forward_js);
  define(env, exports, "rmsNormBackward", rms_norm_backward_js);
}

}  // namespace attnode::binding
