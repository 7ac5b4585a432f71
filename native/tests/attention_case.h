// One attention test case: shape, masks, parameters and random inputs, owned in vectors, plus the
// AttnMasks/AttnParams views the kernels and the reference read. Built from a short description
// and a seed so every case is reproducible.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "core/attention.h"

namespace attnode_test {

// What a case uses; lengths/masks left empty are not given to the kernel.
struct CaseSpec {
  std::string name;
  int64_t B, H, Hkv, Tq, Tk, D;
  bool causal = false;
  std::vector<int32_t> key_lengths;    // [B] or empty
  std::vector<int32_t> query_lengths;  // [B] or empty
  double key_mask_density = -1;        // < 0: no keyMask; else P(key allowed)
  int64_t zero_key_mask_entry = -1;    // a batch entry whose keyMask is all zero (-1: none)
  int64_t mask_batch = 0, mask_heads = 0;  // 0: no static mask
  int64_t bias_batch = 0, bias_heads = 0;  // 0: no bias
  bool bias_blocks_a_row = false;      // put -inf on one whole bias row (a fully masked row)
  float scale = 0.f;                   // 0: the 1/sqrt(D) default
  float dropout = 0.f;
  uint64_t seed = 0;
  float q_amp = 1.f;                   // larger -> peakier softmax (exercises the online max)
  bool window = false;                 // sliding window (left, right) and global tokens
  int64_t window_left = 0, window_right = 0, global_tokens = 0;
  int64_t block_q = 0, block_k = 0;    // 0: no block layout; else blocks on with P = block_density
  double block_density = 0.5;
};

struct Case {
  CaseSpec spec;
  attnode::AttnShape s;
  attnode::AttnParams p;
  std::vector<uint8_t> key_mask, mask, layout;
  std::vector<float> bias;
  std::vector<float> q, k, v, dout;

  attnode::AttnMasks masks() const {
    attnode::AttnMasks m;
    m.causal = spec.causal;
    m.key_lengths = spec.key_lengths.empty() ? nullptr : spec.key_lengths.data();
    m.query_lengths = spec.query_lengths.empty() ? nullptr : spec.query_lengths.data();
    m.key_mask = key_mask.empty() ? nullptr : key_mask.data();
    if (!mask.empty()) { m.mask = mask.data(); m.mask_batch = spec.mask_batch; m.mask_heads = spec.mask_heads; }
    if (!bias.empty()) { m.bias = bias.data(); m.bias_batch = spec.bias_batch; m.bias_heads = spec.bias_heads; }
    if (spec.window) {
      m.window = true; m.window_left = spec.window_left; m.window_right = spec.window_right;
      m.global_tokens = spec.global_tokens;
    }
    if (!layout.empty()) { m.block_layout = layout.data(); m.block_q = spec.block_q; m.block_k = spec.block_k; }
    return m;
  }
};

inline Case make_case(const CaseSpec& spec, uint64_t seed) {
  Case c;
  c.spec = spec;
  c.s.B = spec.B; c.s.H = spec.H; c.s.Hkv = spec.Hkv; c.s.Tq = spec.Tq; c.s.Tk = spec.Tk; c.s.D = spec.D;
  c.p.scale = spec.scale != 0.f ? spec.scale : 1.f / std::sqrt(static_cast<float>(spec.D));
  c.p.dropout = spec.dropout;
  c.p.seed = spec.seed;
  Rng r(seed);
  const int64_t B = spec.B, Tq = spec.Tq, Tk = spec.Tk;
  c.q.resize(B * Tq * spec.H * spec.D);
  c.k.resize(B * Tk * spec.Hkv * spec.D);
  c.v.resize(c.k.size());
  c.dout.resize(c.q.size());
  fill(c.q, r, spec.q_amp);
  fill(c.k, r, 1.f);
  fill(c.v, r, 1.f);
  fill(c.dout, r, 1.f);
  if (spec.key_mask_density >= 0) {
    c.key_mask.resize(B * Tk);
    for (auto& x : c.key_mask) x = r.uniform() < spec.key_mask_density ? 1 : 0;
    if (spec.zero_key_mask_entry >= 0)
      for (int64_t j = 0; j < Tk; ++j) c.key_mask[spec.zero_key_mask_entry * Tk + j] = 0;
  }
  if (spec.mask_batch > 0) {
    c.mask.resize(spec.mask_batch * spec.mask_heads * Tq * Tk);
    for (auto& x : c.mask) x = r.uniform() < 0.75 ? 1 : 0;
  }
  if (spec.bias_batch > 0) {
    c.bias.resize(spec.bias_batch * spec.bias_heads * Tq * Tk);
    const float ninf = -std::numeric_limits<float>::infinity();
    for (auto& x : c.bias) x = r.uniform() < 0.05 ? ninf : r.symmetric(2.f);
    if (spec.bias_blocks_a_row && Tq > 0)
      for (int64_t j = 0; j < Tk; ++j) c.bias[(Tq / 2) * Tk + j] = ninf;  // row Tq/2 of head 0
  }
  if (spec.block_q > 0) {
    c.layout.resize(((Tq + spec.block_q - 1) / spec.block_q) * ((Tk + spec.block_k - 1) / spec.block_k));
    for (auto& x : c.layout) x = r.uniform() < spec.block_density ? 1 : 0;
  }
  return c;
}

inline std::vector<double> to_double(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

}  // namespace attnode_test
