// N-API entry points of the fused Adam/AdamW step (sync and async), the global gradient norm and
// clipping by it. The arrays updated in place must not overlap each other or the gradients.
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "binding/define.h"
#include "binding/ops_args.h"
#include "core/ops.h"

namespace attnode::binding {

namespace {

struct AdamCall {
  AdamCall(const ArgContext& c, bool async) : arrays(c, async) {}
  OpArrays arrays;
  int64_t n = 0;
  AdamParams p;
  float *params = nullptr, *m = nullptr, *v = nullptr;
  const float* grads = nullptr;
};

// The options of the Adam steps: opts.step (1-based) is required; zeroGrads only for the
// multi-tensor form.
AdamParams parse_adam_options(const ArgContext& c, const Napi::Value& v, bool decoupled, bool multi, bool* zero_grads) {
  const char* keys = multi ? "{ lr?, beta1?, beta2?, eps?, weightDecay?, step, gradScale?, zeroGrads?, bf16Copies? }"
                           : "{ lr?, beta1?, beta2?, eps?, weightDecay?, step, gradScale? }";
  if (v.IsUndefined()) c.type_error("opts", std::string("is required: ") + keys);
  Napi::Object o = options(c, v);
  AdamParams p;
  p.decoupled = decoupled;
  p.lr = opt_number(c, o, "lr", 1e-3, 0.0, 1e30);
  p.beta1 = opt_number(c, o, "beta1", 0.9, 0.0, 1.0);
  p.beta2 = opt_number(c, o, "beta2", 0.999, 0.0, 1.0);
  if (p.beta1 >= 1.0) c.range_error("opts.beta1", "must be in [0, 1), got 1");
  if (p.beta2 >= 1.0) c.range_error("opts.beta2", "must be in [0, 1), got 1");
  p.eps = opt_number(c, o, "eps", 1e-8, 0.0, 1e30);
  p.weight_decay = opt_number(c, o, "weightDecay", decoupled ? 1e-2 : 0.0, 0.0, 1e30);
  p.grad_scale = opt_number(c, o, "gradScale", 1.0, -1e30, 1e30);
  p.step = get_int(c, o, "step", "opts.step", 1, int64_t(1) << 53, 0);
  if (zero_grads) *zero_grads = opt_bool(c, o, "zeroGrads", false);
  return p;
}

// adamStep / adamwStep(params, grads, m, v, opts): opts.step (1-based) is required.
std::shared_ptr<AdamCall> parse_adam(const ArgContext& c, const Napi::CallbackInfo& info, bool decoupled, bool async) {
  auto call = std::make_shared<AdamCall>(c, async);
  OpArrays& arr = call->arrays;
  auto grads = arr.in_f32(info[1], "grads");
  const int64_t n = static_cast<int64_t>(grads.ElementLength());
  auto params = arr.inout_f32(info[0], "params", n, "grads.length");
  auto m = arr.inout_f32(info[2], "m", n, "grads.length");
  auto v = arr.inout_f32(info[3], "v", n, "grads.length");
  call->p = parse_adam_options(c, info[4], decoupled, false, nullptr);
  call->n = n;
  call->params = arr.write<float>(params, "params", true);
  call->grads = arr.read<float>(grads, "grads");
  call->m = arr.write<float>(m, "m", true);
  call->v = arr.write<float>(v, "v", true);
  return call;
}

template <bool Decoupled, bool Async>
Napi::Value adam_js(const Napi::CallbackInfo& info) {
  const char* fn = Decoupled ? (Async ? "adamwStepAsync" : "adamwStep") : (Async ? "adamStepAsync" : "adamStep");
  ArgContext c{info.Env(), fn};
  auto call = parse_adam(c, info, Decoupled, Async);
  auto work = [call] { adam_step(call->n, call->p, call->params, call->grads, call->m, call->v); };
  return run_call<Async>(c.env, fn, call->arrays.keep(), work, [call, fn](Napi::Env env) {
    call->arrays.stage().finish(ArgContext{env, fn});
    return env.Undefined();
  });
}

// adamStepMulti / adamwStepMulti(params[], grads[], m[], v[], opts): adamStep on every tensor i
// (params[i], grads[i], m[i], v[i] of one length), in one call and one parallel pass. No array may
// overlap another; with opts.zeroGrads the gradients are cleared as they are read.
struct AdamMultiCall {
  AdamMultiCall(const ArgContext& c, bool async) : arrays(c, async) {}
  OpArrays arrays;
  std::vector<AdamTensor> tensors;
  AdamParams p;
  bool zero_grads = false;
};

Napi::Array list_arg(const ArgContext& c, const Napi::Value& v, const char* name, uint32_t length, bool check_length) {
  if (!v.IsArray()) c.type_error(name, "must be an Array of Float32Arrays, got " + describe(v));
  Napi::Array a = v.As<Napi::Array>();
  if (check_length && a.Length() != length)
    c.range_error(name, "must have " + std::to_string(length) + " arrays (params.length), got " + std::to_string(a.Length()));
  return a;
}

std::shared_ptr<AdamMultiCall> parse_adam_multi(const ArgContext& c, const Napi::CallbackInfo& info, bool decoupled,
                                                bool async) {
  auto call = std::make_shared<AdamMultiCall>(c, async);
  Napi::Array params = list_arg(c, info[0], "params", 0, false);
  const uint32_t count = params.Length();
  if (count > (1u << 24)) c.range_error("params", "has too many arrays");
  Napi::Array grads = list_arg(c, info[1], "grads", count, true);
  Napi::Array m = list_arg(c, info[2], "m", count, true);
  Napi::Array v = list_arg(c, info[3], "v", count, true);
  call->p = parse_adam_options(c, info[4], decoupled, true, &call->zero_grads);
  OpArrays& arr = call->arrays;
  call->tensors.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    Napi::Value pv = params.Get(i);
    if (!pv.IsTypedArray() || pv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      c.type_error("params" + at, "must be a Float32Array, got " + describe(pv));
    const int64_t n = static_cast<int64_t>(pv.As<Napi::TypedArray>().ElementLength());
    const std::string len = "params" + at + ".length";
    AdamTensor& t = call->tensors[i];
    t.n = n;
    auto pa = arr.inout_f32(pv, "params" + at, n, len);
    auto ga = arr.inout_f32(grads.Get(i), "grads" + at, n, len);
    auto ma = arr.inout_f32(m.Get(i), "m" + at, n, len);
    auto va = arr.inout_f32(v.Get(i), "v" + at, n, len);
    t.params = arr.write<float>(pa, "params" + at, true);
    // zeroGrads clears the gradients as they are read: then they are an output too.
    t.grads = call->zero_grads ? arr.write<float>(ga, "grads" + at, true) : const_cast<float*>(arr.read<float>(ga, "grads" + at));
    t.m = arr.write<float>(ma, "m" + at, true);
    t.v = arr.write<float>(va, "v" + at, true);
  }
  // opts.bf16Copies: per tensor a Uint16Array (or null) that receives the updated parameters'
  // bf16 bits in the same pass (the weight copies the bf16 GEMM reads).
  Napi::Object o = info[4].As<Napi::Object>();
  Napi::Value copies = o.Get("bf16Copies");
  if (!copies.IsUndefined()) {
    if (!copies.IsArray()) c.type_error("opts.bf16Copies", "must be an Array of Uint16Array or null, got " + describe(copies));
    Napi::Array list = copies.As<Napi::Array>();
    if (list.Length() != count)
      c.range_error("opts.bf16Copies", "must have " + std::to_string(count) + " entries (params.length), got " + std::to_string(list.Length()));
    for (uint32_t i = 0; i < count; ++i) {
      Napi::Value e = list.Get(i);
      if (e.IsNull() || e.IsUndefined()) continue;
      const std::string at = "opts.bf16Copies[" + std::to_string(i) + "]";
      auto ca = arr.inout_u16(e, at, call->tensors[i].n, "params[" + std::to_string(i) + "].length");
      call->tensors[i].bf16 = arr.write<uint16_t>(ca, at, false);
    }
  }
  return call;
}

template <bool Decoupled, bool Async>
Napi::Value adam_multi_js(const Napi::CallbackInfo& info) {
  const char* fn = Decoupled ? (Async ? "adamwStepMultiAsync" : "adamwStepMulti") : (Async ? "adamStepMultiAsync" : "adamStepMulti");
  ArgContext c{info.Env(), fn};
  auto call = parse_adam_multi(c, info, Decoupled, Async);
  auto work = [call] {
    adam_step_multi(static_cast<int>(call->tensors.size()), call->tensors.data(), call->p, call->zero_grads);
  };
  return run_call<Async>(c.env, fn, call->arrays.keep(), work, [call, fn](Napi::Env env) {
    call->arrays.stage().finish(ArgContext{env, fn});
    return env.Undefined();
  });
}

// The arrays of a gradient list: a JS Array of distinct, non-overlapping Float32Arrays.
void parse_list(const ArgContext& c, const Napi::Value& v, OpArrays& arr, std::vector<const float*>& ptrs,
                std::vector<int64_t>& lens, std::vector<float*>* mut) {
  if (!v.IsArray()) c.type_error("arrays", "must be an Array of Float32Arrays, got " + describe(v));
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string name = "arrays[" + std::to_string(i) + "]";
    Napi::Value e = a.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      c.type_error(name, "must be a Float32Array, got " + describe(e));
    const int64_t len = static_cast<int64_t>(e.As<Napi::TypedArray>().ElementLength());
    auto f = arr.inout_f32(e, name, len, name + ".length");
    ptrs.push_back(f.Data());
    lens.push_back(len);
    if (mut) mut->push_back(f.Data());
  }
}

// gradNorm(arrays) -> the L2 norm of all their elements together.
Napi::Value grad_norm_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "gradNorm"};
  OpArrays arr(c);
  std::vector<const float*> ptrs;
  std::vector<int64_t> lens;
  parse_list(c, info[0], arr, ptrs, lens, nullptr);
  arr.seal();
  return Napi::Number::New(c.env, global_grad_norm(static_cast<int>(ptrs.size()), ptrs.data(), lens.data()));
}

// clipGradNorm(arrays, maxNorm, opts?) -> { norm, scale }: scales every array in place by
// scale = min(1, maxNorm / (norm + eps)) (PyTorch's clip_grad_norm_). A non-finite norm scales
// nothing (scale 1) and is returned as is, so the caller can skip the step.
Napi::Value clip_grad_norm_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "clipGradNorm"};
  OpArrays arr(c);
  std::vector<const float*> ptrs;
  std::vector<int64_t> lens;
  std::vector<float*> mut;
  parse_list(c, info[0], arr, ptrs, lens, &mut);
  if (!info[1].IsNumber()) c.type_error("maxNorm", "must be a number, got " + describe(info[1]));
  const double max_norm = info[1].As<Napi::Number>().DoubleValue();
  if (!(max_norm > 0) || !std::isfinite(max_norm)) c.range_error("maxNorm", "must be a finite number > 0, got " + info[1].ToString().Utf8Value());
  Napi::Object o = options(c, info[2]);
  const double eps = opt_number(c, o, "eps", 1e-6, 0.0, 1e30);
  arr.seal();
  const double norm = global_grad_norm(static_cast<int>(ptrs.size()), ptrs.data(), lens.data());
  double scale = 1.0;
  if (std::isfinite(norm)) {
    const double coef = max_norm / (norm + eps);
    if (coef < 1.0) {
      scale = coef;
      for (size_t i = 0; i < mut.size(); ++i) scale_in_place(lens[i], static_cast<float>(coef), mut[i]);
    }
  }
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("norm", norm);
  r.Set("scale", scale);
  return r;
}

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports) {
  define(env, exports, "adamStep", adam_js<false, false>);
  define(env, exports, "adamwStep", adam_js<true, false>);
  define(env, exports, "adamStepAsync", adam_js<false, true>);
  define(env, exports, "adamwStepAsync", adam_js<true, true>);
  define(env, exports, "adamStepMulti", adam_multi_js<false, false>);
  define(env, exports, "adamwStepMulti", adam_multi_js<true, false>);
  define(env, exports, "adamStepMultiAsync", adam_multi_js<false, true>);
  define(env, exports, "adamwStepMultiAsync", adam_multi_js<true, true>);
  define(env, exports, "gradNorm", grad_norm_js);
  define(env, exports, "clipGradNorm", clip_grad_norm_js);
}

}  // namespace attnode::binding
