// N-API entry points of the embedding lookup, its scatter-add backward and the sinusoidal
// position encoding. Ids are checked here (outside the vocabulary -> RangeError naming the id).
#include <napi.h>

#include <cstdint>
#include <string>

#include "binding/define.h"
#include "binding/ops_args.h"
#include "core/ops.h"

namespace attnode::binding {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr int64_t kNoPadding = INT64_MIN;  // no int32 id equals it

struct EmbShape {
  int64_t vocab, dim;
};

EmbShape shape_of(const ArgContext& c, const Napi::Value& v) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray())
    c.type_error("shape", "must be an object { vocab, dim }, got " + describe(v));
  Napi::Object o = v.As<Napi::Object>();
  return {get_int(c, o, "vocab", "shape.vocab", 1, kMaxDim, 0), get_int(c, o, "dim", "shape.dim", 1, kMaxDim, 0)};
}

// d: a copy of the ids (OpArrays::copy), so what is checked is what the kernel reads.
void check_ids(const ArgContext& c, const int32_t* d, int64_t n, int64_t vocab, int64_t padding_idx) {
  for (int64_t i = 0; i < n; ++i)
    if ((d[i] < 0 || d[i] >= vocab) && d[i] != padding_idx)
      c.range_error("ids[" + std::to_string(i) + "]", "must be a token id in [0, " + std::to_string(vocab) +
                                                         ") (shape.vocab), got " + std::to_string(d[i]));
}

// embeddingForward(ids, weight, { vocab, dim }, opts?) -> y [ids.length, dim]
// opts: scale (finite, default 1); positions (Float32Array [P, dim]), positionPeriod (>= 1,
// default ids.length), positionOffset (>= 0, default 0): row t adds
// positions[(t % positionPeriod) + positionOffset]; into.
Napi::Value embedding_forward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "embeddingForward"};
  OpArrays arr(c);
  auto ids = arr.in_i32(info[0], "ids");
  auto weight = arr.in_f32(info[1], "weight");
  const EmbShape s = shape_of(c, info[2]);
  if (s.vocab * s.dim > kMaxOpElements) c.range_error("shape", "is too large: vocab*dim exceeds 2^40");
  check_len(c, weight, "weight", s.vocab * s.dim, "shape.vocab*shape.dim");
  const int64_t n = static_cast<int64_t>(ids.ElementLength());
  if (n * s.dim > kMaxOpElements) c.range_error("ids", "is too long: ids.length*dim exceeds 2^40");
  const int32_t* id = arr.copy<int32_t>(ids, "ids");
  check_ids(c, id, n, s.vocab, kNoPadding);
  Napi::Object o = options(c, info[3]);
  const float scale = static_cast<float>(opt_number(c, o, "scale", 1.0, -3.4e38, 3.4e38));
  const float* pos = nullptr;
  int64_t period = n > 0 ? n : 1, pos_offset = 0;
  if (!o.Get("positions").IsUndefined()) {
    auto table = arr.in_f32(o.Get("positions"), "opts.positions");
    const int64_t prow = rows_of(c, table, "opts.positions", s.dim, "shape.dim");
    if (!o.Get("positionPeriod").IsUndefined())
      period = int_arg(c, o.Get("positionPeriod"), "opts.positionPeriod", 1, kMaxDim);
    if (!o.Get("positionOffset").IsUndefined())
      pos_offset = int_arg(c, o.Get("positionOffset"), "opts.positionOffset", 0, kMaxDim);
    const int64_t need = pos_offset + (n < period ? n : period);  // rows of the table read
    if (n > 0 && need > prow)
      c.range_error("opts.positions", "has " + std::to_string(prow) + " rows, positionOffset + min(ids.length, positionPeriod) = " +
                                          std::to_string(need) + " are read");
    pos = table.Data();
  } else if (!o.Get("positionPeriod").IsUndefined() || !o.Get("positionOffset").IsUndefined()) {
    c.type_error("opts.positions", "must be given with opts.positionPeriod / opts.positionOffset");
  }
  auto y = arr.out_f32(into_single(o), "opts.into", n * s.dim, "ids.length*shape.dim");
  arr.seal();
  embedding_forward(n, s.dim, id, weight.Data(), y.Data(), scale, pos, period, pos_offset);
  return y;
}

// embeddingBackward(ids, dy, { vocab, dim }, opts?) -> dweight [vocab, dim]
// opts: paddingIdx (its tokens give no gradient; may also lie outside the vocabulary, e.g. -1),
// accumulate (add into opts.into instead of overwriting), scale (each dy row times it, default 1), into.
Napi::Value embedding_backward_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "embeddingBackward"};
  OpArrays arr(c);
  auto ids = arr.in_i32(info[0], "ids");
  auto dy = arr.in_f32(info[1], "dy");
  const EmbShape s = shape_of(c, info[2]);
  if (s.vocab * s.dim > kMaxOpElements) c.range_error("shape", "is too large: vocab*dim exceeds 2^40");
  const int64_t n = static_cast<int64_t>(ids.ElementLength());
  if (n * s.dim > kMaxOpElements) c.range_error("ids", "is too long: ids.length*dim exceeds 2^40");
  check_len(c, dy, "dy", n * s.dim, "ids.length*shape.dim");
  Napi::Object o = options(c, info[3]);
  int64_t padding_idx = kNoPadding;
  if (!o.Get("paddingIdx").IsUndefined())
    padding_idx = int_arg(c, o.Get("paddingIdx"), "opts.paddingIdx", -(int64_t(1) << 31), s.vocab - 1);
  const bool accumulate = opt_bool(c, o, "accumulate", false);
  const float scale = static_cast<float>(opt_number(c, o, "scale", 1.0, -3.4e38, 3.4e38));
  if (accumulate && into_single(o).IsUndefined())
    c.type_error("opts.into", "must be the Float32Array to add into when opts.accumulate is true");
  const int32_t* id = arr.copy<int32_t>(ids, "ids");
  check_ids(c, id, n, s.vocab, padding_idx);
  auto dw = arr.out_f32(into_single(o), "opts.into", s.vocab * s.dim, "shape.vocab*shape.dim");
  arr.seal();
  embedding_backward(n, s.dim, s.vocab, id, dy.Data(), padding_idx, accumulate, dw.Data(), scale);
  return dw;
}

// positionEncoding(length, dim, opts?) -> pe [length, dim]; opts: offset, base, into.
Napi::Value position_encoding_js(const Napi::CallbackInfo& info) {
  ArgContext c{info.Env(), "positionEncoding"};
  const int64_t length = int_arg(c, info[0], "length", 0, kMaxDim);
  const int64_t dim = int_arg(c, info[1], "dim", 1, kMaxDim);
  if (length * dim > kMaxOpElements) c.range_error("length", "is too large: length*dim exceeds 2^40");
  Napi::Object o = options(c, info[2]);
  int64_t offset = 0;
  if (!o.Get("offset").IsUndefined()) offset = int_arg(c, o.Get("offset"), "opts.offset", 0, int64_t(1) << 40);
  const double base = opt_number(c, o, "base", 10000.0, 1.0 + 1e-9, 1e30);
  OpArrays arr(c);
  auto pe = arr.out_f32(into_single(o), "opts.into", length * dim, "length*dim");
  arr.seal();
  sinusoidal_position_encoding(length, dim, offset, base, pe.Data());
  return pe;
}

}  // namespace

void register_embedding(Napi::Env env, Napi::Object exports) {
  define(env, exports, "embeddingForward", embedding_forward_js);
  define(env, exports, "embeddingBackward", embedding_backward_js);
  define(env, exports, "positionEncoding", position_encoding_js);
}

}  // namespace attnode::binding
