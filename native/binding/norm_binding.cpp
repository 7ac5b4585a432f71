// N-API entry points of LayerNorm and RMSNorm (forward and backward): argument checks and views.
// The math lives in native/core (norm.inc).
#include <napi.h>

#include "binding/ops_args.h"
#include "core/ops.h"

namespace attnode::binding {

namespace {

double eps_of(const ArgContext& c, const Napi::Object& o, double fallback) {
  return opt_number(c, o, "eps", fallback, 0.0, 1.0);
}

// layerNormForward(x, gamma, beta, opts?) -> { y, mean, rstd }
Napi::Value layer_norm_forward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "layerNormForward"};
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], "x");
  auto gamma = arr.in_f32(info[1], "gamma");
  const int64_t dim = static_cast<int64_t>(gamma.ElementLength());
  if (dim < 1) c.range_error("gamma", "must not be empty (its length is the normalized dimension)");
  auto beta = arr.in_f32(info[2], "beta");
  check_len(c, beta, "beta", dim, "gamma.length");
  const int64_t rows = rows_of(c, x, "x", dim, "gamma.length");
  Napi::Object o = options(c, info[3]);
  const float eps = static_cast<float>(eps_of(c, o, 1e-5));
  auto y = arr.out_f32(into_field(c, o, "y"), "opts.into.y", rows * dim, "x.length");
  auto mean = arr.out_f32(into_field(c, o, "mean"), "opts.into.mean", rows, "rows = x.length / gamma.length");
  auto rstd = arr.out_f32(into_field(c, o, "rstd"), "opts.into.rstd", rows, "rows = x.length / gamma.length");
  layer_norm_forward(rows, dim, eps, x.Data(), gamma.Data(), beta.Data(), y.Data(), mean.Data(), rstd.Data());
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("y", y); r.Set("mean", mean); r.Set("rstd", rstd);
  return r;
}

// layerNormBackward(x, gamma, mean, rstd, dy, opts?) -> { dx, dgamma, dbeta }
Napi::Value layer_norm_backward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "layerNormBackward"};
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], "x");
  auto gamma = arr.in_f32(info[1], "gamma");
  const int64_t dim = static_cast<int64_t>(gamma.ElementLength());
  if (dim < 1) c.range_error("gamma", "must not be empty (its length is the normalized dimension)");
  const int64_t rows = rows_of(c, x, "x", dim, "gamma.length");
  auto mean = arr.in_f32(info[2], "mean");
  auto rstd = arr.in_f32(info[3], "rstd");
  auto dy = arr.in_f32(info[4], "dy");
  const std::string rexpr = "rows = x.length / gamma.length";
  check_len(c, mean, "mean", rows, rexpr);
  check_len(c, rstd, "rstd", rows, rexpr);
  check_len(c, dy, "dy", rows * dim, "x.length");
  Napi::Object o = options(c, info[5]);
  auto dx = arr.out_f32(into_field(c, o, "dx"), "opts.into.dx", rows * dim, "x.length");
  auto dgamma = arr.out_f32(into_field(c, o, "dgamma"), "opts.into.dgamma", dim, "gamma.length");
  auto dbeta = arr.out_f32(into_field(c, o, "dbeta"), "opts.into.dbeta", dim, "gamma.length");
  layer_norm_backward(rows, dim, x.Data(), gamma.Data(), mean.Data(), rstd.Data(), dy.Data(), dx.Data(),
                      dgamma.Data(), dbeta.Data());
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("dx", dx); r.Set("dgamma", dgamma); r.Set("dbeta", dbeta);
  return r;
}

// rmsNormForward(x, gamma, opts?) -> { y, rstd }
Napi::Value rms_norm_forward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "rmsNormForward"};
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], "x");
  auto gamma = arr.in_f32(info[1], "gamma");
  const int64_t dim = static_cast<int64_t>(gamma.ElementLength());
  if (dim < 1) c.range_error("gamma", "must not be empty (its length is the normalized dimension)");
  const int64_t rows = rows_of(c, x, "x", dim, "gamma.length");
  Napi::Object o = options(c, info[2]);
  const float eps = static_cast<float>(eps_of(c, o, 1e-6));
  auto y = arr.out_f32(into_field(c, o, "y"), "opts.into.y", rows * dim, "x.length");
  auto rstd = arr.out_f32(into_field(c, o, "rstd"), "opts.into.rstd", rows, "rows = x.length / gamma.length");
  rms_norm_forward(rows, dim, eps, x.Data(), gamma.Data(), y.Data(), rstd.Data());
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("y", y); r.Set("rstd", rstd);
  return r;
}

// rmsNormBackward(x, gamma, rstd, dy, opts?) -> { dx, dgamma }
Napi::Value rms_norm_backward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "rmsNormBackward"};
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], "x");
  auto gamma = arr.in_f32(info[1], "gamma");
  const int64_t dim = static_cast<int64_t>(gamma.ElementLength());
  if (dim < 1) c.range_error("gamma", "must not be empty (its length is the normalized dimension)");
  const int64_t rows = rows_of(c, x, "x", dim, "gamma.length");
  auto rstd = arr.in_f32(info[2], "rstd");
  auto dy = arr.in_f32(info[3], "dy");
  check_len(c, rstd, "rstd", rows, "rows = x.length / gamma.length");
  check_len(c, dy, "dy", rows * dim, "x.length");
  Napi::Object o = options(c, info[4]);
  auto dx = arr.out_f32(into_field(c, o, "dx"), "opts.into.dx", rows * dim, "x.length");
  auto dgamma = arr.out_f32(into_field(c, o, "dgamma"), "opts.into.dgamma", dim, "gamma.length");
  rms_norm_backward(rows, dim, x.Data(), gamma.Data(), rstd.Data(), dy.Data(), dx.Data(), dgamma.Data());
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("dx", dx); r.Set("dgamma", dgamma);
  return r;
}

}  // namespace

void register_norm(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNormForward", Napi::Function::New(env, layer_norm_forward_js));
  exports.Set("layerNormBackward", Napi::Function::New(env, layer_norm_backward_js));
  exports.Set("rmsNormForward", Napi::Function::New(env, rms_norm_forward_js));
  exports.Set("rmsNormBackward", Napi::Function::New(env, rms_norm_backward_js));
}

}  // namespace attnode::binding
