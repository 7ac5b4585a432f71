// N-API entry points of the fused softmax cross-entropy (sync and async), log-softmax, argmax and
// top-k. Targets are checked here (outside the vocabulary and not the ignore index -> RangeError).
#include <napi.h>

#include <memory>
#include <string>

#include "binding/define.h"
#include "binding/ops_args.h"
#include "core/ops.h"

namespace attnode::binding {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;

struct XentCall {
  XentCall(const ArgContext& c, bool async) : arrays(c, async) {}
  OpArrays arrays;
  int64_t rows = 0, vocab = 0;
  XentParams p;
  const float* logits = nullptr;
  const int32_t* targets = nullptr;
  float* dlogits = nullptr;  // may be null with a gradient wanted: zero rows
  bool grad = false;
  Napi::Reference<Napi::Value> dlogits_ref;  // the output array, when the gradient is wanted
  XentResult result;
};

// crossEntropy(logits, targets, vocab, opts?) -> { loss, sum, count, dlogits? }
// Async: the targets are checked on the copy the kernel reads (staging.h).
std::shared_ptr<XentCall> parse_xent(const ArgContext& c, const Napi::CallbackInfo& info, bool async) {
  auto call = std::make_shared<XentCall>(c, async);
  OpArrays& arr = call->arrays;
  auto logits = arr.in_f32(info[0], "logits");
  auto targets = arr.in_i32(info[1], "targets");
  const int64_t vocab = int_arg(c, info[2], "vocab", 1, kMaxDim);
  const int64_t rows = rows_of(c, logits, "logits", vocab, "vocab");
  check_len(c, targets, "targets", rows, "rows = logits.length / vocab");
  Napi::Object o = options(c, info[3]);
  call->p.label_smoothing = opt_number(c, o, "labelSmoothing", 0.0, 0.0, 1.0);
  if (!o.Get("ignoreIndex").IsUndefined())
    call->p.ignore_index = int_arg(c, o.Get("ignoreIndex"), "opts.ignoreIndex", -(int64_t(1) << 31), (int64_t(1) << 31) - 1);
  Napi::Value red = o.Get("reduction");
  if (!red.IsUndefined()) {
    if (!red.IsString()) c.type_error("opts.reduction", "must be 'mean' or 'sum', got " + describe(red));
    const std::string r = red.As<Napi::String>().Utf8Value();
    if (r != "mean" && r != "sum") c.range_error("opts.reduction", "must be 'mean' or 'sum', got '" + r + "'");
    call->p.mean = r == "mean";
  }
  const bool grad = opt_bool(c, o, "grad", true);
  if (!grad && !into_single(o).IsUndefined()) c.type_error("opts.into", "is given but opts.grad is false");
  const int32_t* t = arr.copy<int32_t>(targets, "targets");  // checked, then read: a copy
  for (int64_t r = 0; r < rows; ++r)
    if ((t[r] < 0 || t[r] >= vocab) && t[r] != call->p.ignore_index)
      c.range_error("targets[" + std::to_string(r) + "]", "must be a class in [0, " + std::to_string(vocab) +
                                                             ") or opts.ignoreIndex (" + std::to_string(call->p.ignore_index) +
                                                             "), got " + std::to_string(t[r]));
  call->rows = rows;
  call->vocab = vocab;
  call->logits = arr.read<float>(logits, "logits");
  call->targets = t;
  if (grad) {
    auto d = arr.out_f32(into_single(o), "opts.into", rows * vocab, "logits.length");
    call->dlogits = arr.write<float>(d, "opts.into", false);
    call->grad = true;
    call->dlogits_ref = Napi::Persistent(static_cast<Napi::Value>(d));
  }
  return call;
}

Napi::Value xent_result(Napi::Env env, const XentCall& call) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("loss", call.result.loss);
  r.Set("sum", call.result.sum);
  r.Set("count", static_cast<double>(call.result.count));
  if (call.grad) r.Set("dlogits", call.dlogits_ref.Value());
  return r;
}

template <bool Async>
Napi::Value cross_entropy_js(const Napi::CallbackInfo& info) {
  const char* fn = Async ? "crossEntropyAsync" : "crossEntropy";
  ArgContext c{info.Env(), fn};
  auto call = parse_xent(c, info, Async);
  auto work = [call] {
    call->result = cross_entropy(call->rows, call->vocab, call->p, call->logits, call->targets, call->dlogits);
  };
  return run_call<Async>(c.env, fn, call->arrays.keep(), work, [call, fn](Napi::Env env) {
    call->arrays.stage().finish(ArgContext{env, fn});
    return xent_result(env, *call);
  });
}

// logSoftmax(x, dim, opts?) -> y
Napi::Value log_softmax_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "logSoftmax"};
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], "x");
  const int64_t dim = int_arg(c, info[1], "dim", 1, kMaxDim);
  const int64_t rows = rows_of(c, x, "x", dim, "dim");
  Napi::Object o = options(c, info[2]);
  auto y = arr.out_f32(into_single(o), "opts.into", rows * dim, "x.length");
  arr.seal();
  log_softmax(rows, dim, x.Data(), y.Data());
  return y;
}

// argmax(x, dim, opts?) -> Int32Array [rows]
Napi::Value argmax_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "argmax"};
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], "x");
  const int64_t dim = int_arg(c, info[1], "dim", 1, kMaxDim);
  const int64_t rows = rows_of(c, x, "x", dim, "dim");
  Napi::Object o = options(c, info[2]);
  auto idx = arr.out_i32(into_single(o), "opts.into", rows, "rows = x.length / dim");
  arr.seal();
  argmax(rows, dim, x.Data(), idx.Data());
  return idx;
}

// topK(x, dim, k, opts?) -> { values [rows, k], indices [rows, k] }, each row descending.
Napi::Value top_k_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "topK"};
  OpArrays arr(c);
  auto x = arr.in_f32(info[0], "x");
  const int64_t dim = int_arg(c, info[1], "dim", 1, kMaxDim);
  const int64_t rows = rows_of(c, x, "x", dim, "dim");
  const int64_t k = int_arg(c, info[2], "k", 1, dim);
  Napi::Object o = options(c, info[3]);
  auto values = arr.out_f32(into_field(c, o, "values"), "opts.into.values", rows * k, "rows*k");
  auto indices = arr.out_i32(into_field(c, o, "indices"), "opts.into.indices", rows * k, "rows*k");
  arr.seal();
  top_k(rows, dim, k, x.Data(), values.Data(), indices.Data());
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("values", values);
  r.Set("indices", indices);
  return r;
}

}  // namespace

void register_xent(Napi::Env env, Napi::Object exports) {
  define(env, exports, "crossEntropy", cross_entropy_js<false>);
  define(env, exports, "crossEntropyAsync", cross_entropy_js<true>);
  define(env, exports, "logSoftmax", log_softmax_js);
  define(env, exports, "argmax", argmax_js);
  define(env, exports, "topK", top_k_js);
}

}  // namespace attnode::binding
