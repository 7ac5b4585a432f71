// N-API entry points of the attention kernels: argument checks, typed arrays -> raw views, and
// sync + AsyncWorker forms. The math lives in native/core.
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "binding/args.h"
#include "binding/define.h"
#include "binding/kernel_worker.h"
#include "binding/ops_args.h"
#include "binding/staging.h"
#include "core/attention.h"

namespace attnode::binding {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr int64_t kMaxElements = int64_t(1) << 40;

// Everything one kernel call needs, with references that keep its arrays alive until it ends.
// The pointers are what the kernel reads and writes: the arrays' own (sync) or native copies and
// scratch (async, see staging.h).
struct AttnCall {
  // Sync: outputs written directly (scratch and a copy back cost ~30% of a training-size call);
  // so a sync call rejected for a non-finite input found by the kernel may have written them.
  explicit AttnCall(bool async) : stage(async), keep(async) {}
  AttnShape s;
  AttnMasks m;
  AttnParams p;
  const float *q = nullptr, *k = nullptr, *v = nullptr, *out_in = nullptr, *lse_in = nullptr, *dout = nullptr;
  unsigned bad = 0;         // non-finite inputs the kernel read (AttnNonFinite bits)
  float *out = nullptr, *lse = nullptr, *dq = nullptr, *dk = nullptr, *dv = nullptr;
  Staging stage;
  Keepalive keep;
  Napi::ObjectReference result;
};

// The bytes an array's rows occupy: [lo, hi), and for a row-strided view (stride > 0) only
// `width` bytes of every `stride`, from lo.
struct Span {
  const char* lo;
  const char* hi;
  std::string name;
  int64_t stride = 0, width = 0;
};
Span span_of(const Napi::TypedArray& a, const std::string& name, int64_t ld = 0, int64_t width = 0) {
  const char* base = typed_bytes(a);
  return {base, base + a.ByteLength(), name, ld * 4, width * 4};
}

int64_t checked_product(const ArgContext& c, std::initializer_list<int64_t> dims, const char* what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d != 0 && n > kMaxElements / d) c.range_error("shape", std::string("is too large: ") + what + " exceeds 2^40 elements");
    n *= d;
  }
  return n;
}

AttnShape parse_shape(const ArgContext& c, const Napi::Value& v) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray())
    c.type_error("shape", "must be an object { batch, heads, kvHeads?, qLen, kvLen, headDim, qStride?, kStride?, vStride? }, got " + describe(v));
  Napi::Object o = v.As<Napi::Object>();
  AttnShape s;
  s.B = get_int(c, o, "batch", "shape.batch", 1, kMaxDim, 0);
  s.H = get_int(c, o, "heads", "shape.heads", 1, kMaxDim, 0);
  s.Hkv = get_int(c, o, "kvHeads", "shape.kvHeads", 1, kMaxDim, s.H);
  s.Tq = get_int(c, o, "qLen", "shape.qLen", 1, kMaxDim, 0);
  s.Tk = get_int(c, o, "kvLen", "shape.kvLen", 1, kMaxDim, 0);
  s.D = get_int(c, o, "headDim", "shape.headDim", 1, 4096, 0);
  if (s.H % s.Hkv != 0)
    c.range_error("shape.kvHeads", "must divide shape.heads (" + std::to_string(s.H) + "), got " + std::to_string(s.Hkv));
  checked_product(c, {s.B, s.Tq, s.H, s.D}, "batch*qLen*heads*headDim");
  checked_product(c, {s.B, s.Tk, s.Hkv, s.D}, "batch*kvLen*kvHeads*headDim");
  checked_product(c, {s.B, s.H, s.Tq, s.Tk}, "batch*heads*qLen*kvLen");
  // Row strides: at least a row's width (rows never overlap); 0 (absent) = packed.
  auto stride = [&](const char* key, const std::string& name, int64_t width) -> int64_t {
    return o.Get(key).IsUndefined() ? 0 : get_int(c, o, key, name, width, kMaxDim, width);
  };
  s.ldq = stride("qStride", "shape.qStride", s.H * s.D);
  s.ldk = stride("kStride", "shape.kStride", s.Hkv * s.D);
  s.ldv = stride("vStride", "shape.vStride", s.Hkv * s.D);
  checked_product(c, {s.B, s.Tq, s.ldq ? s.ldq : 1}, "batch*qLen*qStride");
  checked_product(c, {s.B, s.Tk, s.ldk ? s.ldk : 1}, "batch*kvLen*kStride");
  checked_product(c, {s.B, s.Tk, s.ldv ? s.ldv : 1}, "batch*kvLen*vStride");
  return s;
}

// A static mask or bias: { data, batch: 1|B, heads: 1|H } laid out [batch, heads, Tq, Tk].
template <typename ArrayT>
ArrayT parse_broadcast(const ArgContext& c, const Napi::Value& v, const std::string& name, const AttnShape& s,
                       int64_t& batch, int64_t& heads, bool is_mask) {
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray())
    c.type_error(name, "must be an object { data, batch: 1|" + std::to_string(s.B) + ", heads: 1|" + std::to_string(s.H) + " }, got " + describe(v));
  Napi::Object o = v.As<Napi::Object>();
  batch = get_int(c, o, "batch", name + ".batch", 1, s.B, 1);
  heads = get_int(c, o, "heads", name + ".heads", 1, s.H, 1);
  if (batch != 1 && batch != s.B) c.range_error(name + ".batch", "must be 1 or " + std::to_string(s.B) + ", got " + std::to_string(batch));
  if (heads != 1 && heads != s.H) c.range_error(name + ".heads", "must be 1 or " + std::to_string(s.H) + ", got " + std::to_string(heads));
  const int64_t len = batch * heads * s.Tq * s.Tk;
  const std::string expr = name + ".batch*" + name + ".heads*qLen*kvLen";
  (void)is_mask;
  if constexpr (std::is_same_v<ArrayT, Napi::Uint8Array>)
    return expect_u8(c, o.Get("data"), name + ".data", len, expr);
  else
    return expect_f32(c, o.Get("data"), name + ".data", len, expr, false);
}

uint64_t parse_seed(const ArgContext& c, const Napi::Value& v, const std::string& name = "opts.seed") {
  if (v.IsUndefined() && name == "opts.seed") return 0;
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

// Every element of ids (n of them) in [lo, hi]; every mask byte 0 or 1.
void check_ints(const ArgContext& c, const int32_t* d, int64_t n, const std::string& name, int64_t lo, int64_t hi) {
  for (int64_t i = 0; i < n; ++i)
    if (d[i] < lo || d[i] > hi)
      c.range_error(name + "[" + std::to_string(i) + "]", "must be in [" + std::to_string(lo) + ", " +
                                                             std::to_string(hi) + "], got " + std::to_string(d[i]));
}
void check_bits(const ArgContext& c, const uint8_t* d, int64_t n, const std::string& name) {
  for (int64_t i = 0; i < n; ++i)
    if (d[i] > 1) c.range_error(name + "[" + std::to_string(i) + "]", "must be 0 or 1, got " + std::to_string(d[i]));
}

// A window side: a non-negative integer or Infinity (unbounded), clamped to Tq + Tk (wider
// reaches no further key) so the kernel's index arithmetic cannot overflow.
int64_t window_side(const ArgContext& c, const Napi::Object& w, const char* key, const AttnShape& s) {
  Napi::Value v = w.Get(key);
  const std::string name = std::string("opts.window.") + key;
  if (v.IsUndefined()) return 0;
  if (!v.IsNumber()) c.type_error(name, "must be a non-negative integer or Infinity, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || (std::isfinite(d) && std::floor(d) != d))
    c.range_error(name, "must be a non-negative integer or Infinity, got " + v.ToString().Utf8Value());
  const double cap = static_cast<double>(s.Tq + s.Tk);
  return static_cast<int64_t>(d < cap ? d : cap);
}

// window, globalTokens and blockLayout (DESIGN.md: the sparse patterns).
void parse_sparse(const ArgContext& c, const Napi::Object& o, AttnCall& call, std::vector<Span>& spans) {
  const AttnShape& s = call.s;
  Napi::Value win = o.Get("window");
  if (!win.IsUndefined()) {
    if (!win.IsObject() || win.IsArray() || win.IsTypedArray())
      c.type_error("opts.window", "must be an object { left?, right? }, got " + describe(win));
    Napi::Object w = win.As<Napi::Object>();
    call.m.window = true;
    call.m.window_left = window_side(c, w, "left", s);
    call.m.window_right = window_side(c, w, "right", s);
  }
  Napi::Value g = o.Get("globalTokens");
  if (!g.IsUndefined()) {
    const int64_t n = get_int(c, o, "globalTokens", "opts.globalTokens", 0, kMaxDim, 0);
    if (n > 0 && !call.m.window)
      c.range_error("opts.globalTokens", "needs opts.window: global tokens are exempt from the window, and without one every key is visible already");
    call.m.global_tokens = n < s.Tq + s.Tk ? n : s.Tq + s.Tk;
  }
  Napi::Value bl = o.Get("blockLayout");
  if (!bl.IsUndefined()) {
    if (!bl.IsObject() || bl.IsArray() || bl.IsTypedArray())
      c.type_error("opts.blockLayout", "must be an object { data, blockQ, blockK }, got " + describe(bl));
    Napi::Object b = bl.As<Napi::Object>();
    call.m.block_q = get_int(c, b, "blockQ", "opts.blockLayout.blockQ", 1, kMaxDim, 0);
    call.m.block_k = get_int(c, b, "blockK", "opts.blockLayout.blockK", 1, kMaxDim, 0);
    const int64_t rows = (s.Tq + call.m.block_q - 1) / call.m.block_q, cols = (s.Tk + call.m.block_k - 1) / call.m.block_k;
    auto a = expect_u8(c, b.Get("data"), "opts.blockLayout.data", rows * cols,
                       "ceil(qLen/blockQ)*ceil(kvLen/blockK) = " + std::to_string(rows) + "*" + std::to_string(cols));
    call.m.block_layout = call.stage.in<uint8_t>(c, a, "opts.blockLayout.data");
    check_bits(c, call.m.block_layout, rows * cols, "opts.blockLayout.data");
    call.keep.add(a);
    spans.push_back(span_of(a, "opts.blockLayout.data"));
  }
}

// The options' arrays are inputs too: recorded in `spans` so that no output may overlap them.
void parse_opts(const ArgContext& c, const Napi::Value& v, AttnCall& call, std::vector<Span>& spans) {
  const AttnShape& s = call.s;
  call.p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.D)));
  if (v.IsUndefined()) return;
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) c.type_error("opts", "must be an object, got " + describe(v));
  Napi::Object o = v.As<Napi::Object>();

  Napi::Value causal = o.Get("causal");
  if (!causal.IsUndefined()) {
    if (!causal.IsBoolean()) c.type_error("opts.causal", "must be a boolean, got " + describe(causal));
    call.m.causal = causal.As<Napi::Boolean>().Value();
  }
  Napi::Value kl = o.Get("keyLengths");
  if (!kl.IsUndefined()) {
    auto a = expect_i32(c, kl, "opts.keyLengths", s.B, "batch");
    call.m.key_lengths = call.stage.copy<int32_t>(c, a, "opts.keyLengths");
    check_ints(c, call.m.key_lengths, s.B, "opts.keyLengths", 0, s.Tk);
    call.keep.add(a);
    spans.push_back(span_of(a, "opts.keyLengths"));
  }
  Napi::Value ql = o.Get("queryLengths");
  if (!ql.IsUndefined()) {
    auto a = expect_i32(c, ql, "opts.queryLengths", s.B, "batch");
    call.m.query_lengths = call.stage.copy<int32_t>(c, a, "opts.queryLengths");
    check_ints(c, call.m.query_lengths, s.B, "opts.queryLengths", 0, s.Tq);
    call.keep.add(a);
    spans.push_back(span_of(a, "opts.queryLengths"));
  }
  Napi::Value km = o.Get("keyMask");
  if (!km.IsUndefined()) {
    auto a = expect_u8(c, km, "opts.keyMask", s.B * s.Tk, "batch*kvLen");
    call.m.key_mask = call.stage.copy<uint8_t>(c, a, "opts.keyMask");
    check_bits(c, call.m.key_mask, s.B * s.Tk, "opts.keyMask");
    call.keep.add(a);
    spans.push_back(span_of(a, "opts.keyMask"));
  }
  Napi::Value mask = o.Get("mask");
  if (!mask.IsUndefined()) {
    auto a = parse_broadcast<Napi::Uint8Array>(c, mask, "opts.mask", s, call.m.mask_batch, call.m.mask_heads, true);
    call.m.mask = call.stage.in<uint8_t>(c, a, "opts.mask.data");
    check_bits(c, call.m.mask, static_cast<int64_t>(a.ElementLength()), "opts.mask.data");
    call.keep.add(a);
    spans.push_back(span_of(a, "opts.mask.data"));
  }
  Napi::Value bias = o.Get("bias");
  if (!bias.IsUndefined()) {
    auto a = parse_broadcast<Napi::Float32Array>(c, bias, "opts.bias", s, call.m.bias_batch, call.m.bias_heads, false);
    call.m.bias = call.stage.in<float>(c, a, "opts.bias.data");
    check_finite(c, call.m.bias, a.ElementLength(), "opts.bias.data", true);
    call.keep.add(a);
    spans.push_back(span_of(a, "opts.bias.data"));
  }
  parse_sparse(c, o, call, spans);
  Napi::Value scale = o.Get("scale");
  if (!scale.IsUndefined()) {
    if (!scale.IsNumber()) c.type_error("opts.scale", "must be a number, got " + describe(scale));
    const double d = scale.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < 0 || d > 3.4e38) c.range_error("opts.scale", "must be a finite number >= 0, got " + scale.ToString().Utf8Value());
    call.p.scale = static_cast<float>(d);
  }
  Napi::Value dropout = o.Get("dropout");
  if (!dropout.IsUndefined()) {
    if (!dropout.IsNumber()) c.type_error("opts.dropout", "must be a number, got " + describe(dropout));
    const double d = dropout.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d < 1)) c.range_error("opts.dropout", "must be in [0, 1), got " + dropout.ToString().Utf8Value());
    call.p.dropout = static_cast<float>(d);
    if (call.p.dropout >= 1.f) call.p.dropout = 0.99999994f;  // a double just below 1 rounds up in float
  }
  call.p.seed = parse_seed(c, o.Get("seed"));
  // precision: 'fp32' (default) or 'bf16' (bf16 tile products, fp32 softmax and accumulators;
  // core/attention.h). Computed in fp32 on variants without AVX512_BF16.
  Napi::Value prec = o.Get("precision");
  if (!prec.IsUndefined()) {
    if (!prec.IsString()) c.type_error("opts.precision", "must be 'fp32' or 'bf16', got " + describe(prec));
    const std::string ps = prec.As<Napi::String>().Utf8Value();
    if (ps != "fp32" && ps != "bf16") c.range_error("opts.precision", "must be 'fp32' or 'bf16', got '" + ps + "'");
    call.p.bf16 = ps == "bf16";
  }
}

// Whether two spans share a byte. Row-strided views with the same stride are disjoint when their
// column blocks are (dq, dk and dv written into one fused gradient buffer).
bool overlaps(const Span& a, const Span& b) {
  if (!(a.lo < b.hi && b.lo < a.hi) || a.lo == a.hi || b.lo == b.hi) return false;
  if (a.stride == 0 || a.stride != b.stride) return true;
  const Span& first = a.lo <= b.lo ? a : b;
  const Span& second = a.lo <= b.lo ? b : a;
  const int64_t d = (second.lo - first.lo) % a.stride;  // where second's block starts in first's rows
  return !(first.width <= d && d + second.width <= a.stride);
}

// A q/k/v-like input or dq/dk/dv-like output of `rows` rows of `width` floats: packed (ld == 0:
// exactly rows*width long) or row-strided (at least (rows-1)*ld + width long: a view from a column
// offset to the end of a fused buffer is fine).
int64_t strided_len(int64_t rows, int64_t width, int64_t ld) {
  return ld == 0 ? rows * width : (rows - 1) * ld + width;
}
Napi::Float32Array expect_rows(const ArgContext& c, const Napi::Value& v, const std::string& name, int64_t rows,
                               int64_t width, int64_t ld, const std::string& expr, const std::string& stride_name) {
  if (ld == 0) return expect_f32(c, v, name, rows * width, expr, false);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    c.type_error(name, "must be a Float32Array, got " + describe(v));
  auto a = v.As<Napi::Float32Array>();
  const int64_t need = strided_len(rows, width, ld);
  if (static_cast<int64_t>(a.ElementLength()) < need)
    c.range_error(name, "must have at least " + std::to_string(need) + " elements (rows " + std::to_string(rows) +
                            " of " + std::to_string(width) + " floats, " + stride_name + " " + std::to_string(ld) +
                            " apart), got " + std::to_string(a.ElementLength()));
  return a;
}

// An output buffer: the caller's (opts.into.<name>, checked and kept) or a new one. A row-strided
// output (ld > 0: dq/dk/dv of strided q/k/v) has `rows` rows of `width` floats, ld apart.
float* output(const ArgContext& c, AttnCall& call, const Napi::Value& into, const char* name, int64_t rows,
              int64_t width, int64_t ld, const std::string& expr, const std::string& stride_name, Napi::Object& result,
              std::vector<Span>& inputs) {
  Napi::Value given = into.IsObject() ? into.As<Napi::Object>().Get(name) : c.env.Undefined();
  if (given.IsUndefined()) {  // a new array: written directly, nobody else holds it before the call settles
    Napi::Float32Array a = new_f32(c, [&] { return std::string("output ") + name + " (" + expr + ")"; }, strided_len(rows, width, ld));
    result.Set(name, a);
    return a.Data();
  }
  const std::string arg = std::string("opts.into.") + name;
  Napi::Float32Array a = expect_rows(c, given, arg, rows, width, ld, expr, stride_name);
  const Span mine = span_of(a, arg, ld, width);
  for (const Span& other : inputs)
    if (overlaps(mine, other)) c.range_error(mine.name, "must not overlap " + other.name);
  inputs.push_back(mine);
  call.keep.add(a);
  result.Set(name, a);
  return call.stage.out<float>(c, a, arg, false, ld ? rows : 1, ld ? width : -1, ld);
}

void parse_call(const ArgContext& c, const Napi::CallbackInfo& info, bool backward, AttnCall& call) {
  const size_t nin = backward ? 6 : 3;
  call.s = parse_shape(c, info[nin]);
  const AttnShape& s = call.s;
  const int64_t nq = s.B * s.Tq * s.H * s.D, nl = s.B * s.H * s.Tq;
  const int64_t rq = s.B * s.Tq, rk = s.B * s.Tk, wq = s.H * s.D, wkv = s.Hkv * s.D;
  std::vector<Span> spans;
  // q, k, v, out and dout are checked for NaN/Infinity by the kernel as it reads them (no extra
  // pass); see report_non_finite.
  auto q = expect_rows(c, info[0], "q", rq, wq, s.ldq, "batch*qLen*heads*headDim", "shape.qStride");
  auto k = expect_rows(c, info[1], "k", rk, wkv, s.ldk, "batch*kvLen*kvHeads*headDim", "shape.kStride");
  auto v = expect_rows(c, info[2], "v", rk, wkv, s.ldv, "batch*kvLen*kvHeads*headDim", "shape.vStride");
  call.q = call.stage.in<float>(c, q, "q"); call.k = call.stage.in<float>(c, k, "k");
  call.v = call.stage.in<float>(c, v, "v");
  call.keep.add(q); call.keep.add(k); call.keep.add(v);
  spans.push_back(span_of(q, "q", s.ldq, wq)); spans.push_back(span_of(k, "k", s.ldk, wkv));
  spans.push_back(span_of(v, "v", s.ldv, wkv));
  if (backward) {
    auto o = expect_f32(c, info[3], "out", nq, "batch*qLen*heads*headDim", false);
    auto l = expect_f32(c, info[4], "lse", nl, "batch*heads*qLen", false);
    auto d = expect_f32(c, info[5], "dout", nq, "batch*qLen*heads*headDim", false);
    call.out_in = call.stage.in<float>(c, o, "out");
    call.lse_in = call.stage.in<float>(c, l, "lse");
    check_finite(c, call.lse_in, l.ElementLength(), "lse", true);
    call.dout = call.stage.in<float>(c, d, "dout");
    call.keep.add(o); call.keep.add(l); call.keep.add(d);
    spans.push_back(span_of(o, "out")); spans.push_back(span_of(l, "lse")); spans.push_back(span_of(d, "dout"));
  }
  Napi::Value opts = info[nin + 1];
  parse_opts(c, opts, call, spans);
  Napi::Value into = opts.IsObject() ? opts.As<Napi::Object>().Get("into") : c.env.Undefined();
  if (!into.IsUndefined() && (!into.IsObject() || into.IsTypedArray() || into.IsArray()))
    c.type_error("opts.into", "must be an object of output Float32Arrays, got " + describe(into));
  Napi::Object result = Napi::Object::New(c.env);
  if (!backward) {
    call.out = output(c, call, into, "out", rq, wq, 0, "batch*qLen*heads*headDim", "", result, spans);
    call.lse = output(c, call, into, "lse", 1, nl, 0, "batch*heads*qLen", "", result, spans);
  } else {
    call.dq = output(c, call, into, "dq", rq, wq, s.ldq, "batch*qLen*heads*headDim", "shape.qStride", result, spans);
    call.dk = output(c, call, into, "dk", rk, wkv, s.ldk, "batch*kvLen*kvHeads*headDim", "shape.kStride", result, spans);
    call.dv = output(c, call, into, "dv", rk, wkv, s.ldv, "batch*kvLen*kvHeads*headDim", "shape.vStride", result, spans);
  }
  call.result = Napi::Persistent(result);
}

void run(AttnCall& c, bool backward) {
  if (!backward)
    c.bad = attention_forward(c.s, c.m, c.p, c.q, c.k, c.v, c.out, c.lse);
  else
    c.bad = attention_backward(c.s, c.m, c.p, c.q, c.k, c.v, c.out_in, c.lse_in, c.dout, c.dq, c.dk, c.dv);
}

// The kernel said which inputs held a non-finite value where it read: name the first one (this
// rescan runs only on that error path, row by row, so a strided view's other columns are not read).
void report_non_finite(const ArgContext& c, const AttnCall& call) {
  if (!call.bad) return;
  const AttnShape& s = call.s;
  const int64_t rq = s.B * s.Tq, rk = s.B * s.Tk, wq = s.H * s.D, wkv = s.Hkv * s.D;
  const struct { unsigned bit; const char* name; const float* data; int64_t rows, width, ld; } inputs[] = {
      {kBadQ, "q", call.q, rq, wq, s.ldq ? s.ldq : wq}, {kBadK, "k", call.k, rk, wkv, s.ldk ? s.ldk : wkv},
      {kBadV, "v", call.v, rk, wkv, s.ldv ? s.ldv : wkv}, {kBadOut, "out", call.out_in, rq, wq, wq},
      {kBadDout, "dout", call.dout, rq, wq, wq}};
  for (const auto& in : inputs) {
    if (!(call.bad & in.bit) || !in.data) continue;
    for (int64_t r = 0; r < in.rows; ++r) {
      const float* row = in.data + r * in.ld;
      for (int64_t x = 0; x < in.width; ++x)
        if (!std::isfinite(row[x]))
          c.range_error(std::string(in.name) + "[" + std::to_string(r * in.ld + x) + "]", std::isnan(row[x]) ? "is NaN" : "is not finite");
    }
  }
}

template <bool Backward, bool Async>
Napi::Value entry(const Napi::CallbackInfo& info) {
  const char* fn = Backward ? (Async ? "attentionBackwardAsync" : "attentionBackward")
                            : (Async ? "attentionForwardAsync" : "attentionForward");
  ArgContext c{info.Env(), fn};
  auto call = std::make_shared<AttnCall>(Async);
  parse_call(c, info, Backward, *call);
  return run_call<Async>(info.Env(), fn, call->keep, [call] { run(*call, Backward); },
                         [call, fn](Napi::Env env) -> Napi::Value {
                           report_non_finite(ArgContext{env, fn}, *call);
                           call->stage.finish(ArgContext{env, fn});
                           return call->result.Value();
                         });
}

// dropoutKeep(seed, b, h, i, j, p): the kernels' keep decision for score (b, h, i, j).
Napi::Value dropout_keep(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "dropoutKeep"};
  const uint64_t seed = parse_seed(c, info[0], "seed");
  int64_t idx[4];
  const char* names[4] = {"b", "h", "i", "j"};
  for (int x = 0; x < 4; ++x) idx[x] = int_arg(c, info[x + 1], names[x], 0, kMaxDim - 1);
  if (!info[5].IsNumber()) c.type_error("p", "must be a number in [0, 1), got " + describe(info[5]));
  const double d = info[5].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < 1)) c.range_error("p", "must be in [0, 1), got " + info[5].ToString().Utf8Value());
  float p = static_cast<float>(d);
  if (p >= 1.f) p = 0.99999994f;  // as opts.dropout: a double just below 1 rounds up in float
  return Napi::Boolean::New(info.Env(), attention_dropout_keep(seed, idx[0], idx[1], idx[2], idx[3], p));
}

}  // namespace

void register_attention(Napi::Env env, Napi::Object exports) {
  define(env, exports, "attentionForward", entry<false, false>);
  define(env, exports, "attentionBackward", entry<true, false>);
  define(env, exports, "attentionForwardAsync", entry<false, true>);
  define(env, exports, "attentionBackwardAsync", entry<true, true>);
  define(env, exports, "dropoutKeep", dropout_keep);
}

}  // namespace attnode::binding
