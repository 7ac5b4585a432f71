// N-API entry points of GEMM and the Linear layer: argument checks, typed arrays -> raw views,
// sync + AsyncWorker forms. The math lives in native/core (core/gemm.h).
//
// gemm(A, B, opts) / gemmBatched(A, B, opts): opts { m, n, k, transA?, transB?, alpha?, beta?, C?,
// bias?, and for gemm rowSumsA?, and for the batched form batch, strideA?, strideB?, strideC?,
// strideBias? }.
// C, when given, is read (beta != 0) and written in place, then returned; otherwise a new
// zero-initialized array is returned. bias [n] is added to every row of C (entry i of a batch adds
// the n values at i * strideBias, default 0: the same bias for all);
// rowSumsA [m] = beta * rowSumsA + the row sums of op(A) (a Linear layer's bias gradient, fused
// into the packing of dy^T). The rest of the fused epilogue (core/gemm.h): addend [m*n] added once
// (a residual), gate [m*n] (the product counts where gate > 0: a ReLU's backward), relu, and
// the bit-mask forms (8 columns a byte, rows of ceil(n/8) bytes): reluMask written with
// [C > 0], gateMask read like gate.
// Element values are not checked: NaN and Infinity in A or B propagate as in BLAS.
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/define.h"
#include "binding/kernel_worker.h"
#include "binding/staging.h"
#include "core/gemm.h"

namespace attnode::binding {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr int64_t kMaxElements = int64_t(1) << 40;

// Everything one call needs, with references that keep its arrays alive until it ends. The
// pointers are the arrays' own (sync) or native copies and scratch (async, staging.h).
struct GemmCall {
  explicit GemmCall(bool async) : stage(async), keep(async) {}
  GemmParams p;
  Staging stage;
  Keepalive keep;
  Napi::Reference<Napi::Value> result;
};

struct LinearCall {
  explicit LinearCall(bool async) : stage(async), keep(async) {}
  Staging stage;
  int64_t rows = 0, in = 0, out = 0;
  const float *x = nullptr, *w = nullptr, *b = nullptr, *dy = nullptr;
  float *y = nullptr, *dx = nullptr, *dw = nullptr, *db = nullptr;
  bool bf16 = false;
  Keepalive keep;
  Napi::Reference<Napi::Value> result;
};

bool is_plain_object(const Napi::Value& v) { return v.IsObject() && !v.IsArray() && !v.IsTypedArray(); }

// a * b, or a RangeError naming `what` past 2^40 elements.
int64_t mul(const ArgContext& c, int64_t a, int64_t b, const std::string& name, const std::string& what) {
  if (a != 0 && b > kMaxElements / a) c.range_error(name, "is too large: " + what + " exceeds 2^40 elements");
  return a * b;
}

bool get_bool(const ArgContext& c, const Napi::Object& o, const char* key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) c.type_error(name, "must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

float get_scalar(const ArgContext& c, const Napi::Object& o, const char* key, const std::string& name, float fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) c.type_error(name, "must be a number, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::fabs(d) > 3.4028234663852886e38)
    c.range_error(name, "must be a finite float32 number, got " + v.ToString().Utf8Value());
  return static_cast<float>(d);
}

struct Span {
  const char* lo;
  const char* hi;
  std::string name;
};
Span span_of(const Napi::TypedArray& a, const std::string& name) {
  const char* base = typed_bytes(a);
  return {base, base + a.ByteLength(), name};
}
// An output must not share memory with an input: the kernels read inputs while writing outputs.
void check_disjoint(const ArgContext& c, const Span& out, const std::vector<Span>& inputs) {
  if (out.lo == out.hi) return;
  for (const Span& in : inputs)
    if (in.lo < out.hi && out.lo < in.hi) c.range_error(out.name, "must not overlap " + in.name);
}

// The output array: the caller's (checked, kept) or a new zero-filled one.
Napi::Float32Array output(const ArgContext& c, const Napi::Value& given, const std::string& name, int64_t len,
                          const std::string& expr, const std::vector<Span>& inputs) {
  if (given.IsUndefined()) return new_f32(c, [&] { return "output C (" + expr + ")"; }, len);
  Napi::Float32Array a = expect_f32(c, given, name, len, expr, false);
  check_disjoint(c, span_of(a, name), inputs);
  return a;
}

// precision: 'fp32' (default) or 'bf16' (operands rounded to bf16, fp32 accumulation; core/gemm.h).
bool parse_precision(const ArgContext& c, const Napi::Object& o, const std::string& name) {
  Napi::Value v = o.Get("precision");
  if (v.IsUndefined()) return false;
  if (!v.IsString()) c.type_error(name, "must be 'fp32' or 'bf16', got " + describe(v));
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s != "fp32" && s != "bf16") c.range_error(name, "must be 'fp32' or 'bf16', got '" + s + "'");
  return s == "bf16";
}

void parse_gemm(const ArgContext& c, const Napi::CallbackInfo& info, bool batched, GemmCall& call) {
  if (!is_plain_object(info[2]))
    c.type_error("opts", std::string("must be an object { ") + (batched ? "batch, " : "") +
                             "m, n, k, transA?, transB?, alpha?, beta?, precision?, C?, bias?, relu?" + (batched ? "" : ", rowSumsA?, addend?, gate?, gateMask?, reluMask?") + " }, got " + describe(info[2]));
  Napi::Object o = info[2].As<Napi::Object>();
  GemmParams& p = call.p;
  p.batch = batched ? get_int(c, o, "batch", "opts.batch", 1, kMaxDim, -1) : 1;
  p.M = get_int(c, o, "m", "opts.m", 0, kMaxDim, -1);
  p.N = get_int(c, o, "n", "opts.n", 0, kMaxDim, -1);
  p.K = get_int(c, o, "k", "opts.k", 0, kMaxDim, -1);
  p.trans_a = get_bool(c, o, "transA", "opts.transA");
  p.trans_b = get_bool(c, o, "transB", "opts.transB");
  p.alpha = get_scalar(c, o, "alpha", "opts.alpha", 1.f);
  p.beta = get_scalar(c, o, "beta", "opts.beta", 0.f);
  p.bf16 = parse_precision(c, o, "opts.precision");
  p.lda = p.trans_a ? p.M : p.K;
  p.ldb = p.trans_b ? p.K : p.N;
  p.ldc = p.N;
  const int64_t asz = mul(c, p.M, p.K, "opts", "m*k"), bsz = mul(c, p.K, p.N, "opts", "k*n"),
                csz = mul(c, p.M, p.N, "opts", "m*n");
  p.stride_a = batched ? get_int(c, o, "strideA", "opts.strideA", 0, kMaxElements, asz) : 0;
  p.stride_b = batched ? get_int(c, o, "strideB", "opts.strideB", 0, kMaxElements, bsz) : 0;
  p.stride_c = batched ? get_int(c, o, "strideC", "opts.strideC", 0, kMaxElements, csz) : 0;
  if (p.batch > 1 && p.stride_c < csz)
    c.range_error("opts.strideC", "must be >= m*n (" + std::to_string(csz) + ") so batch entries of C do not overlap, got " +
                                      std::to_string(p.stride_c));
  // Lengths: (batch - 1) * stride + one entry (exactly: a wrong length is a shape mistake).
  const int64_t alen = mul(c, p.batch - 1, p.stride_a, "opts.strideA", "(batch-1)*strideA") + asz;
  const int64_t blen = mul(c, p.batch - 1, p.stride_b, "opts.strideB", "(batch-1)*strideB") + bsz;
  const int64_t clen = mul(c, p.batch - 1, p.stride_c, "opts.strideC", "(batch-1)*strideC") + csz;
  const std::string aexpr = batched ? "(batch-1)*strideA + m*k" : "m*k";
  const std::string bexpr = batched ? "(batch-1)*strideB + k*n" : "k*n";
  const std::string cexpr = batched ? "(batch-1)*strideC + m*n" : "m*n";
  Napi::Float32Array A = expect_f32(c, info[0], "A", alen, aexpr, false);
  // B as a Uint16Array: bf16 bits (a weight copy kept in bf16; core/gemm.h GemmParams::b16).
  const bool b_bits = info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
  if (b_bits && !p.bf16)
    c.type_error("B", "is a Uint16Array (bf16 bits), which needs opts.precision: 'bf16'");
  Napi::Float32Array B;
  Napi::Uint16Array B16;
  if (b_bits) B16 = expect_u16(c, info[1], "B", blen, bexpr);
  else B = expect_f32(c, info[1], "B", blen, bexpr, false);
  call.keep.add(A);  // as checked: a later getter detaching them is caught
  if (b_bits) call.keep.add(B16); else call.keep.add(B);
  std::vector<Span> inputs{span_of(A, "A"), b_bits ? span_of(B16, "B") : span_of(B, "B")};
  Napi::Value bias = o.Get("bias");
  if (!bias.IsUndefined()) {
    p.stride_bias = batched ? get_int(c, o, "strideBias", "opts.strideBias", 0, kMaxElements, 0) : 0;
    const int64_t len = mul(c, p.batch - 1, p.stride_bias, "opts.strideBias", "(batch-1)*strideBias") + p.N;
    Napi::Float32Array b = expect_f32(c, bias, "opts.bias", len, batched ? "(batch-1)*strideBias + n" : "n", false);
    p.bias = call.stage.in<float>(c, b, "opts.bias");
    call.keep.add(b);
    inputs.push_back(span_of(b, "opts.bias"));
  }
  // The fused epilogue's other inputs, gemm only: [m x n] matrices and a [m x ceil(n/8)] bit mask.
  const auto gemm_only = [&](const char* name) {
    if (batched) c.type_error(name, "is only supported by gemm, not gemmBatched");
  };
  const auto matrix = [&](const char* key, const char* name) -> const float* {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return nullptr;
    gemm_only(name);
    Napi::Float32Array a = expect_f32(c, v, name, csz, "m*n", false);
    call.keep.add(a);
    inputs.push_back(span_of(a, name));
    return call.stage.in<float>(c, a, name);
  };
  p.addend = matrix("addend", "opts.addend");
  p.ld_addend = p.N;
  p.gate = matrix("gate", "opts.gate");
  p.ld_gate = p.N;
  p.relu = get_bool(c, o, "relu", "opts.relu");
  const int64_t mask_row = (p.N + 7) / 8, mask_len = mul(c, p.M, mask_row, "opts", "m*ceil(n/8)");
  Napi::Value gmask = o.Get("gateMask");
  if (!gmask.IsUndefined()) {
    gemm_only("opts.gateMask");
    if (p.gate) c.type_error("opts.gateMask", "cannot be given with opts.gate (one gate at a time)");
    Napi::Uint8Array g = expect_u8(c, gmask, "opts.gateMask", mask_len, "m*ceil(n/8)");
    p.gate_mask = call.stage.in<uint8_t>(c, g, "opts.gateMask"); p.ld_gate_mask = mask_row;
    call.keep.add(g);
    inputs.push_back(span_of(g, "opts.gateMask"));
  }
  Napi::Value given_c = o.Get("C");
  Napi::Float32Array C = output(c, given_c, "opts.C", clen, cexpr, inputs);
  call.keep.add(C);
  // The other outputs must not overlap any input, C, or each other.
  std::vector<Span> taken = inputs;
  taken.push_back(span_of(C, "opts.C"));
  Napi::Value rmask = o.Get("reluMask");
  if (!rmask.IsUndefined()) {
    gemm_only("opts.reluMask");
    if (!p.relu) c.type_error("opts.reluMask", "needs opts.relu: true (it is the ReLU's mask)");
    Napi::Uint8Array r = expect_u8(c, rmask, "opts.reluMask", mask_len, "m*ceil(n/8)");
    check_disjoint(c, span_of(r, "opts.reluMask"), taken);
    taken.push_back(span_of(r, "opts.reluMask"));
    // Read too: the last byte of a row keeps its bits past n.
    p.relu_mask = call.stage.out<uint8_t>(c, r, "opts.reluMask", true); p.ld_relu_mask = mask_row;
    call.keep.add(r);
  }
  Napi::Value sums = o.Get("rowSumsA");
  if (!sums.IsUndefined()) {
    gemm_only("opts.rowSumsA");
    Napi::Float32Array r = expect_f32(c, sums, "opts.rowSumsA", p.M, "m", false);
    check_disjoint(c, span_of(r, "opts.rowSumsA"), taken);
    p.row_sums_a = call.stage.out<float>(c, r, "opts.rowSumsA", true);
    p.row_sums_beta = p.beta;
    call.keep.add(r);
  }
  p.a = call.stage.in<float>(c, A, "A");
  if (b_bits) p.b16 = call.stage.in<uint16_t>(c, B16, "B");
  else p.b = call.stage.in<float>(c, B, "B");
  // The caller's C is read (beta) and written; a new C is written directly.
  p.c = given_c.IsUndefined() ? C.Data() : call.stage.out<float>(c, C, "opts.C", true);
  call.result = Napi::Persistent(static_cast<Napi::Value>(C));
}

struct LinearShape {
  int64_t rows, in, out;
};
LinearShape parse_linear_shape(const ArgContext& c, const Napi::Value& v, bool backward, bool& need_dx, bool& bf16) {
  if (!is_plain_object(v))
    c.type_error("shape", std::string("must be an object { rows, inFeatures, outFeatures") +
                              (backward ? ", needInputGrad? }" : " }") + ", got " + describe(v));
  Napi::Object o = v.As<Napi::Object>();
  LinearShape s;
  s.rows = get_int(c, o, "rows", "shape.rows", 0, kMaxDim, -1);
  s.in = get_int(c, o, "inFeatures", "shape.inFeatures", 0, kMaxDim, -1);
  s.out = get_int(c, o, "outFeatures", "shape.outFeatures", 0, kMaxDim, -1);
  need_dx = true;
  bf16 = parse_precision(c, o, "shape.precision");
  if (backward) {
    Napi::Value nd = o.Get("needInputGrad");
    if (!nd.IsUndefined()) {
      if (!nd.IsBoolean()) c.type_error("shape.needInputGrad", "must be a boolean, got " + describe(nd));
      need_dx = nd.As<Napi::Boolean>().Value();
    }
  }
  mul(c, s.rows, s.in, "shape", "rows*inFeatures");
  mul(c, s.rows, s.out, "shape", "rows*outFeatures");
  mul(c, s.out, s.in, "shape", "outFeatures*inFeatures");
  return s;
}

// linearForward(x, W, b | undefined | null, shape) and linearBackward(x, W, dy, shape).
void parse_linear(const ArgContext& c, const Napi::CallbackInfo& info, bool backward, LinearCall& call) {
  bool need_dx = true;
  const LinearShape s = parse_linear_shape(c, info[3], backward, need_dx, call.bf16);
  call.rows = s.rows; call.in = s.in; call.out = s.out;
  Napi::Float32Array x = expect_f32(c, info[0], "x", s.rows * s.in, "rows*inFeatures", false);
  Napi::Float32Array w = expect_f32(c, info[1], "W", s.out * s.in, "outFeatures*inFeatures", false);
  call.x = call.stage.in<float>(c, x, "x"); call.w = call.stage.in<float>(c, w, "W");
  call.keep.add(x); call.keep.add(w);
  if (!backward) {
    if (!info[2].IsUndefined() && !info[2].IsNull()) {
      Napi::Float32Array b = expect_f32(c, info[2], "b", s.out, "outFeatures", false);
      call.b = call.stage.in<float>(c, b, "b");
      call.keep.add(b);
    }
    Napi::Float32Array y = new_f32(c, [] { return std::string("output y (rows*outFeatures)"); }, s.rows * s.out);
    call.y = y.Data();
    call.result = Napi::Persistent(static_cast<Napi::Value>(y));
    return;
  }
  Napi::Float32Array dy = expect_f32(c, info[2], "dy", s.rows * s.out, "rows*outFeatures", false);
  call.dy = call.stage.in<float>(c, dy, "dy");
  call.keep.add(dy);
  Napi::Object result = Napi::Object::New(c.env);
  if (need_dx) {
    Napi::Float32Array dx = new_f32(c, [] { return std::string("output dx (rows*inFeatures)"); }, s.rows * s.in);
    call.dx = dx.Data();
    result.Set("dx", dx);
  }
  Napi::Float32Array dw = new_f32(c, [] { return std::string("output dW (outFeatures*inFeatures)"); }, s.out * s.in);
  Napi::Float32Array db = new_f32(c, [] { return std::string("output db (outFeatures)"); }, s.out);
  call.dw = dw.Data(); call.db = db.Data();
  result.Set("dW", dw);
  result.Set("db", db);
  call.result = Napi::Persistent(static_cast<Napi::Value>(result));
}

void run_linear(const LinearCall& l, bool backward) {
  if (!backward) linear_forward(l.rows, l.in, l.out, l.x, l.w, l.b, l.y, l.bf16);
  else linear_backward(l.rows, l.in, l.out, l.x, l.w, l.dy, l.dx, l.dw, l.db, l.bf16);
}

template <bool Batched, bool Async>
Napi::Value gemm_entry(const Napi::CallbackInfo& info) {
  const char* fn = Batched ? (Async ? "gemmBatchedAsync" : "gemmBatched") : (Async ? "gemmAsync" : "gemm");
  ArgContext c{info.Env(), fn};
  auto call = std::make_shared<GemmCall>(Async);
  parse_gemm(c, info, Batched, *call);
  return run_call<Async>(info.Env(), fn, call->keep, [call] { gemm(call->p); }, [call, fn](Napi::Env env) -> Napi::Value {
    call->stage.finish(ArgContext{env, fn});
    return call->result.Value();
  });
}

template <bool Backward, bool Async>
Napi::Value linear_entry(const Napi::CallbackInfo& info) {
  const char* fn = Backward ? (Async ? "linearBackwardAsync" : "linearBackward")
                            : (Async ? "linearForwardAsync" : "linearForward");
  ArgContext c{info.Env(), fn};
  auto call = std::make_shared<LinearCall>(Async);
  parse_linear(c, info, Backward, *call);
  return run_call<Async>(info.Env(), fn, call->keep, [call] { run_linear(*call, Backward); },
                         [call](Napi::Env) -> Napi::Value { return call->result.Value(); });
}

// toBf16(src: Float32Array, dst?: Uint16Array) -> dst: src rounded to bf16 bits (core/gemm.h
// to_bf16, the rounding the bf16 GEMM packs with), into dst (src.length elements) or a new array.
Napi::Value to_bf16_entry(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "toBf16"};
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    c.type_error("src", "must be a Float32Array, got " + describe(info[0]));
  Napi::Float32Array src = info[0].As<Napi::Float32Array>();
  const int64_t n = static_cast<int64_t>(src.ElementLength());
  Napi::Uint16Array dst = info[1].IsUndefined() ? Napi::Uint16Array::New(c.env, static_cast<size_t>(n))
                                                : expect_u16(c, info[1], "dst", n, "src.length");
  to_bf16(src.Data(), dst.Data(), n);
  return dst;
}

}  // namespace

void register_gemm(Napi::Env env, Napi::Object exports) {
  define(env, exports, "gemm", gemm_entry<false, false>);
  define(env, exports, "gemmAsync", gemm_entry<false, true>);
  define(env, exports, "gemmBatched", gemm_entry<true, false>);
  define(env, exports, "gemmBatchedAsync", gemm_entry<true, true>);
  define(env, exports, "linearForward", linear_entry<false, false>);
  define(env, exports, "linearForwardAsync", linear_entry<false, true>);
  define(env, exports, "linearBackward", linear_entry<true, false>);
  define(env, exports, "linearBackwardAsync", linear_entry<true, true>);
  define(env, exports, "toBf16", to_bf16_entry);
}

}  // namespace attnode::binding
