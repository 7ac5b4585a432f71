// Module entry: runtime facts (CPU features, ISA variant, threads) and the kernel registrations.
#include <napi.h>

#include "binding/args.h"
#include "binding/define.h"
#include "core/cpu_features.h"
#include "core/dispatch.h"
#include "core/threads.h"

namespace attnode::binding {

void register_attention(Napi::Env env, Napi::Object exports);
void register_gemm(Napi::Env env, Napi::Object exports);  // gemm_binding.cpp
void register_ops(Napi::Env env, Napi::Object exports);  // ops_register.cpp

namespace {

Napi::Value cpu_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(env);
  o.Set("vendor", f.vendor);
  Napi::Object feat = Napi::Object::New(env);
  feat.Set("sse42", f.sse42); feat.Set("avx", f.avx); feat.Set("avx2", f.avx2); feat.Set("fma", f.fma);
  feat.Set("avx512f", f.avx512f); feat.Set("avx512bw", f.avx512bw); feat.Set("avx512vl", f.avx512vl);
  feat.Set("avx512dq", f.avx512dq); feat.Set("avx512bf16", f.avx512_bf16); feat.Set("avx512fp16", f.avx512_fp16);
  feat.Set("amxTile", f.amx_tile); feat.Set("amxBf16", f.amx_bf16);
  o.Set("features", feat);
  Napi::Array isas = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& n : supported_isas()) isas.Set(i++, n);
  o.Set("supportedIsas", isas);
  o.Set("isa", active_kernels().name);
  o.Set("bestIsa", best_isa());
  o.Set("threads", num_threads());
  o.Set("hardwareThreads", max_hardware_threads());
  if (!isa_env_error().empty()) o.Set("isaEnvError", isa_env_error());
  return o;
}

Napi::Value set_threads(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "setNumThreads"};
  if (!info[0].IsNumber()) c.type_error("n", "must be an integer >= 1, got " + describe(info[0]));
  const double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 1024) || d != static_cast<double>(static_cast<int>(d)))
    c.range_error("n", "must be an integer in [1, 1024], got " + info[0].ToString().Utf8Value());
  set_num_threads(static_cast<int>(d));
  return info.Env().Undefined();
}

Napi::Value get_threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }

Napi::Value set_isa_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "setIsa"};
  if (!info[0].IsString()) c.type_error("isa", "must be a string ('portable' | 'avx2' | 'avx512'), got " + describe(info[0]));
  const std::string err = set_isa(info[0].As<Napi::String>().Utf8Value());
  if (!err.empty()) c.range_error("isa", err.substr(err.find(' ') + 1));
  return Napi::String::New(info.Env(), active_kernels().name);
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  define(env, exports, "cpuInfo", cpu_info);
  define(env, exports, "setNumThreads", set_threads);
  define(env, exports, "getNumThreads", get_threads);
  define(env, exports, "setIsa", set_isa_js);
  register_attention(env, exports);
  register_gemm(env, exports);
  register_ops(env, exports);
  return exports;
}

}  // namespace attnode::binding

static Napi::Object InitAttnode(Napi::Env env, Napi::Object exports) {
  return attnode::binding::init(env, exports);
}
NODE_API_MODULE(attnode, InitAttnode)
