// The attention kernels against the float64 reference of the contract, for every ISA variant this
// machine and build support: forward out/lse and backward dq/dk/dv over shapes, masks, bias, scale,
// GQA and dropout; every variant against portable; outputs poisoned with NaN before each call and
// checked fully written; bitwise determinism across runs and across thread counts.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "attention_case.h"
#include "attention_reference.h"
#include "check.h"
#include "core/dispatch.h"
#include "core/threads.h"

using namespace attnode_test;

namespace {

constexpr double kTolForward = 1e-5;  // out, lse
constexpr double kTolGrad = 1e-4;     // dq, dk, dv
// Inputs are O(1), so every output is a sum of O(1) terms and float32 round-off is ~1e-7 of that
// scale however much the terms cancel: errors are judged relative to max|ref|, but never to less
// than this (only matters where the exact result is ~0, like dq and dk with one key per row).
constexpr double kFloor = 1e-3;

struct Result {
  std::vector<float> out, lse, dq, dk, dv;
};

// Forward then backward (from the kernel's own out/lse, as a user would), into NaN-poisoned buffers.
Result run_kernels(const Case& c) {
  const attnode::AttnMasks m = c.masks();
  Result r;
  r.out.resize(c.q.size());
  r.lse.resize(c.s.B * c.s.H * c.s.Tq);
  r.dq.resize(c.q.size());
  r.dk.resize(c.k.size());
  r.dv.resize(c.v.size());
  poison(r.out); poison(r.lse); poison(r.dq); poison(r.dk); poison(r.dv);
  attnode::attention_forward(c.s, m, c.p, c.q.data(), c.k.data(), c.v.data(), r.out.data(), r.lse.data());
  attnode::attention_backward(c.s, m, c.p, c.q.data(), c.k.data(), c.v.data(), r.out.data(), r.lse.data(),
                              c.dout.data(), r.dq.data(), r.dk.data(), r.dv.data());
  return r;
}

// The same call with q/dq, and k/dk + v/dv, as column blocks of fused row-strided buffers (one
// [rows, H*D + 3] for q, one [rows, 2*Hkv*D + 5] holding k at column 0 and v at Hkv*D + 2, as a
// fused projection's output would). Columns outside the blocks hold NaN on input (never read: a
// read would be reported as a non-finite q/k/v) and a sentinel on output (never written). Returns
// the packed results, or an empty Result when the gaps were touched.
Result run_kernels_strided(const Case& c) {
  const attnode::AttnMasks m = c.masks();
  attnode::AttnShape s = c.s;
  const int64_t wq = s.H * s.D, wkv = s.Hkv * s.D, rq = s.B * s.Tq, rk = s.B * s.Tk;
  s.ldq = wq + 3;
  s.ldk = s.ldv = 2 * wkv + 5;
  const int64_t voff = wkv + 2;
  const float nan = std::numeric_limits<float>::quiet_NaN(), sentinel = 12345.f;
  std::vector<float> qb(rq * s.ldq, nan), kvb(rk * s.ldk, nan);
  std::vector<float> dqb(rq * s.ldq, sentinel), dkvb(rk * s.ldk, sentinel);
  for (int64_t r = 0; r < rq; ++r)
    for (int64_t x = 0; x < wq; ++x) { qb[r * s.ldq + x] = c.q[r * wq + x]; dqb[r * s.ldq + x] = nan; }
  for (int64_t r = 0; r < rk; ++r)
    for (int64_t x = 0; x < wkv; ++x) {
      kvb[r * s.ldk + x] = c.k[r * wkv + x];
      kvb[r * s.ldk + voff + x] = c.v[r * wkv + x];
      dkvb[r * s.ldk + x] = dkvb[r * s.ldk + voff + x] = nan;
    }
  Result r;
  r.out.resize(c.q.size());
  r.lse.resize(s.B * s.H * s.Tq);
  poison(r.out); poison(r.lse);
  const unsigned bf = attnode::attention_forward(s, m, c.p, qb.data(), kvb.data(), kvb.data() + voff, r.out.data(), r.lse.data());
  const unsigned bb = attnode::attention_backward(s, m, c.p, qb.data(), kvb.data(), kvb.data() + voff, r.out.data(),
                                                  r.lse.data(), c.dout.data(), dqb.data(), dkvb.data(), dkvb.data() + voff);
  CHECK_MSG(bf == 0 && bb == 0, "strided: a gap column was read (reported non-finite)");
  bool gaps = true;
  r.dq.resize(c.q.size()); r.dk.resize(c.k.size()); r.dv.resize(c.v.size());
  for (int64_t row = 0; row < rq; ++row)
    for (int64_t x = 0; x < s.ldq; ++x) {
      const float y = dqb[row * s.ldq + x];
      if (x < wq) r.dq[row * wq + x] = y;
      else gaps = gaps && y == sentinel;
    }
  for (int64_t row = 0; row < rk; ++row)
    for (int64_t x = 0; x < s.ldk; ++x) {
      const float y = dkvb[row * s.ldk + x];
      if (x < wkv) r.dk[row * wkv + x] = y;
      else if (x >= voff && x < voff + wkv) r.dv[row * wkv + x - voff] = y;
      else gaps = gaps && y == sentinel;
    }
  CHECK_MSG(gaps, "strided: a gap column of dq/dk/dv was written");
  return r;
}

long count_nan(const std::vector<float>& x) {
  long n = 0;
  for (float v : x) n += std::isnan(v) ? 1 : 0;
  return n;
}

std::string fmt(const char* what, double err, double tol) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s rel error %.3g > %.3g", what, err, tol);
  return buf;
}

// Worst error seen per ISA and quantity, printed at the end so the margin to the tolerance shows.
std::map<std::string, double>& worst() {
  static std::map<std::string, double> w;
  return w;
}

void check_close(const char* what, double err, double tol) {
  CHECK_MSG(err <= tol, fmt(what, err, tol));
  if (std::getenv("ATTNODE_TEST_VERBOSE")) std::printf("[%s] %s %.3g\n", context().c_str(), what, err);
  const std::string key = context().substr(0, context().find(" | ")) + " " + what;
  double& w = worst()[key];
  w = std::isnan(err) || err > w ? err : w;
}

// Every output element written (the NaN poison is gone), values match the reference, and rows with
// no key allowed are exactly out = 0, lse = -inf, dq = 0.
void check_against_reference(const Case& c, const Result& r, const RefForward& rf, const RefGrads& rg) {
  CHECK_MSG(count_nan(r.out) == 0, "out not fully written (NaN left)");
  CHECK_MSG(count_nan(r.lse) == 0, "lse not fully written (NaN left)");
  CHECK_MSG(count_nan(r.dq) == 0, "dq not fully written (NaN left)");
  CHECK_MSG(count_nan(r.dk) == 0, "dk not fully written (NaN left)");
  CHECK_MSG(count_nan(r.dv) == 0, "dv not fully written (NaN left)");
  check_close("out", rel_error(r.out, rf.out, kFloor), kTolForward);
  check_close("lse", rel_error(r.lse, rf.lse, kFloor), kTolForward);
  check_close("dq", rel_error(r.dq, rg.dq, kFloor), kTolGrad);
  check_close("dk", rel_error(r.dk, rg.dk, kFloor), kTolGrad);
  check_close("dv", rel_error(r.dv, rg.dv, kFloor), kTolGrad);

  const attnode::AttnShape& s = c.s;
  long empty_rows = 0, bad_rows = 0;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t i = 0; i < s.Tq; ++i) {
        const int64_t li = (b * s.H + h) * s.Tq + i;
        if (!std::isinf(rf.lse[li])) {
          bad_rows += std::isinf(r.lse[li]) ? 1 : 0;
          continue;
        }
        ++empty_rows;
        bool ok = r.lse[li] == -std::numeric_limits<float>::infinity();
        const int64_t o = ((b * s.Tq + i) * s.H + h) * s.D;
        for (int64_t d = 0; d < s.D; ++d) ok = ok && r.out[o + d] == 0.f && r.dq[o + d] == 0.f;
        bad_rows += ok ? 0 : 1;
      }
  CHECK_MSG(bad_rows == 0, std::to_string(bad_rows) + " rows with wrong empty-row handling (of " +
                               std::to_string(empty_rows) + " rows with no key allowed)");
}

void check_bitwise(const char* what, const Result& a, const Result& b) {
  const bool eq = bitwise_equal(a.out, b.out) && bitwise_equal(a.lse, b.lse) && bitwise_equal(a.dq, b.dq) &&
                  bitwise_equal(a.dk, b.dk) && bitwise_equal(a.dv, b.dv);
  CHECK_MSG(eq, std::string("not bitwise equal: ") + what);
}

void check_close_to(const Result& a, const Result& ref) {
  check_close("out vs portable", rel_error(a.out, ref.out, kFloor), kTolForward);
  check_close("lse vs portable", rel_error(a.lse, ref.lse, kFloor), kTolForward);
  check_close("dq vs portable", rel_error(a.dq, ref.dq, kFloor), kTolGrad);
  check_close("dk vs portable", rel_error(a.dk, ref.dk, kFloor), kTolGrad);
  check_close("dv vs portable", rel_error(a.dv, ref.dv, kFloor), kTolGrad);
}

// The cases: T in {1, 7, 64, 65, 130} and D in {8, 16, 32, 64, 80, 128} spread over the masks,
// Tq != Tk both ways, GQA, fully masked rows and batch entries of length 0.
std::vector<CaseSpec> specs() {
  std::vector<CaseSpec> v;
  auto add = [&](CaseSpec c) { v.push_back(std::move(c)); return &v.back(); };
  add({"T=1 D=8 plain", 2, 2, 2, 1, 1, 8});
  { auto* c = add({"T=7 D=16 causal GQA 4:2", 2, 4, 2, 7, 7, 16}); c->causal = true; }
  { auto* c = add({"T=64 D=32 causal keyLengths (one 0) GQA 2:1", 3, 2, 1, 64, 64, 32});
    c->causal = true; c->key_lengths = {64, 0, 37}; }
  { auto* c = add({"Tq=65 Tk=130 D=64 causal queryLengths (one 0)", 2, 2, 2, 65, 130, 64});
    c->causal = true; c->query_lengths = {65, 0}; }
  { auto* c = add({"Tq=130 Tk=65 D=80 causal (top rows see nothing) peaked GQA 3:1", 1, 3, 1, 130, 65, 80});
    c->causal = true; c->q_amp = 4.f; }
  { auto* c = add({"T=130 D=128 keyMask mask[1,H] bias[B,1]", 2, 2, 2, 130, 130, 128});
    c->key_mask_density = 0.8; c->mask_batch = 1; c->mask_heads = 2; c->bias_batch = 2; c->bias_heads = 1; }
  { auto* c = add({"Tq=7 Tk=65 D=8 dropout 0.1 keyLengths (one 0) GQA 2:1", 2, 2, 1, 7, 65, 8});
    c->dropout = 0.1f; c->seed = 12345; c->key_lengths = {0, 50}; }
  { auto* c = add({"Tq=64 Tk=7 D=80 dropout 0.3 causal bias[1,H] -inf row", 2, 2, 2, 64, 7, 80});
    c->dropout = 0.3f; c->seed = 0xfedcba9876543210ULL; c->causal = true; c->bias_batch = 1; c->bias_heads = 2;
    c->bias_blocks_a_row = true; }
  { auto* c = add({"decoder step Tq=1 Tk=130 D=128 causal keyLengths GQA 4:2", 3, 4, 2, 1, 130, 128});
    c->causal = true; c->key_lengths = {130, 1, 77}; }
  { auto* c = add({"Tq=65 Tk=64 D=16 keyMask (one all zero) queryLengths mask[B,H]", 3, 2, 2, 65, 64, 16});
    c->key_mask_density = 0.7; c->zero_key_mask_entry = 1; c->query_lengths = {65, 30, 0};
    c->mask_batch = 3; c->mask_heads = 2; }
  { auto* c = add({"Tq=7 Tk=130 D=32 scale 0.3 bias[1,1] mask[B,1]", 2, 2, 2, 7, 130, 32});
    c->scale = 0.3f; c->bias_batch = 1; c->bias_heads = 1; c->mask_batch = 2; c->mask_heads = 1; }
  { auto* c = add({"Tq=65 Tk=1 D=16 causal keyMask GQA 2:1", 2, 2, 1, 65, 1, 16});
    c->causal = true; c->key_mask_density = 0.5; }
  { auto* c = add({"T=130 D=64 everything: causal lengths keyMask mask[B,1] bias[1,H] dropout 0.2 GQA 4:2",
                   2, 4, 2, 130, 130, 64});
    c->causal = true; c->key_lengths = {130, 100}; c->query_lengths = {120, 130}; c->key_mask_density = 0.85;
    c->mask_batch = 2; c->mask_heads = 1; c->bias_batch = 1; c->bias_heads = 4; c->dropout = 0.2f;
    c->seed = 7; c->q_amp = 2.f; }
  { auto* c = add({"T=64 D=128 peaked, no mask", 1, 2, 2, 64, 64, 128}); c->q_amp = 6.f; }
  { auto* c = add({"Tq=130 Tk=7 D=8 queryLengths keyLengths dropout 0.5", 2, 1, 1, 130, 7, 8});
    c->query_lengths = {70, 130}; c->key_lengths = {7, 3}; c->dropout = 0.5f; c->seed = 99; }
  // Sparse patterns (window, global tokens, block layout) alone and composed with the rest. Long
  // single-head cases (B * Hkv = 1) take the backward's two-pass form with 2 threads and the
  // one-pass form with 1: the bitwise 1-vs-2-thread check below compares the two.
  { auto* c = add({"T=200 D=16 causal window left 37", 1, 2, 1, 200, 200, 16});
    c->causal = true; c->window = true; c->window_left = 37; }
  { auto* c = add({"T=300 D=32 window left 70 right 5 (not causal), B=1 Hkv=1", 1, 1, 1, 300, 300, 32});
    c->window = true; c->window_left = 70; c->window_right = 5; }
  { auto* c = add({"T=257 D=8 window 64/64 + 3 global tokens, lengths, GQA 2:1", 2, 2, 1, 257, 257, 8});
    c->window = true; c->window_left = 64; c->window_right = 64; c->global_tokens = 3;
    c->key_lengths = {257, 190}; c->query_lengths = {200, 257}; }
  { auto* c = add({"Tq=65 Tk=300 D=80 causal window 1 + global 70 (global rows cross tiles)", 1, 2, 2, 65, 300, 80});
    c->causal = true; c->window = true; c->window_left = 1; c->global_tokens = 70; }
  { auto* c = add({"Tq=7 Tk=130 D=16 decoder-like window 9 causal keyLengths", 3, 2, 2, 7, 130, 16});
    c->causal = true; c->window = true; c->window_left = 9; c->key_lengths = {130, 5, 64}; }
  { auto* c = add({"T=1 D=8 window 0 (each query its own key)", 2, 1, 1, 1, 1, 8});
    c->window = true; }
  { auto* c = add({"Tq=130 Tk=7 D=8 window 2/0 (rows past the keys see nothing)", 1, 2, 2, 130, 7, 8});
    c->window = true; c->window_left = 2; }
  { auto* c = add({"T=200 D=32 blockLayout 64x64 (half on), B=1 Hkv=1", 1, 2, 1, 200, 200, 32});
    c->block_q = 64; c->block_k = 64; }
  { auto* c = add({"Tq=130 Tk=65 D=16 blockLayout 16x48 + causal + keyMask", 2, 2, 2, 130, 65, 16});
    c->block_q = 16; c->block_k = 48; c->block_density = 0.6; c->causal = true; c->key_mask_density = 0.8; }
  { auto* c = add({"T=260 D=64 everything sparse: window 40/20 global 5 layout 32x64 mask bias dropout GQA 4:2",
                   2, 4, 2, 260, 260, 64});
    c->window = true; c->window_left = 40; c->window_right = 20; c->global_tokens = 5;
    c->block_q = 32; c->block_k = 64; c->block_density = 0.8; c->key_lengths = {260, 199};
    c->query_lengths = {250, 260}; c->key_mask_density = 0.9; c->mask_batch = 2; c->mask_heads = 1;
    c->bias_batch = 1; c->bias_heads = 4; c->dropout = 0.2f; c->seed = 31; }
  { auto* c = add({"T=330 D=16 causal window 100 + dropout 0.1, B=1 Hkv=1 H=2 (two-pass)", 1, 2, 1, 330, 330, 16});
    c->causal = true; c->window = true; c->window_left = 100; c->dropout = 0.1f; c->seed = 5; }
  return v;
}

void run_case(const CaseSpec& spec, uint64_t seed, const std::vector<std::string>& isas) {
  const Case c = make_case(spec, seed);
  const attnode::AttnMasks m = c.masks();
  const std::vector<double> q = to_double(c.q), k = to_double(c.k), v = to_double(c.v), dout = to_double(c.dout);
  const RefForward rf = reference_forward(c.s, m, c.p, q, k, v);
  const RefGrads rg = reference_backward(c.s, m, c.p, q, k, v, dout);

  Result portable;
  for (const std::string& isa : isas) {
    context() = isa + " | " + spec.name;
    CHECK(attnode::set_isa(isa).empty());
    attnode::set_num_threads(2);
    const Result r2 = run_kernels(c);
    check_against_reference(c, r2, rf, rg);
    check_bitwise("two runs, 2 threads", run_kernels(c), r2);
    check_bitwise("row-strided q/k/v in fused buffers vs packed", run_kernels_strided(c), r2);
    attnode::set_num_threads(1);
    check_bitwise("1 thread vs 2 threads", run_kernels(c), r2);
    if (isa == "portable")
      portable = r2;
    else
      check_close_to(r2, portable);
  }
}

}  // namespace

int main() {
  const std::vector<std::string> isas = attnode::supported_isas();
  CHECK(!isas.empty() && isas.front() == "portable");  // portable is the baseline every variant meets
  CHECK(!attnode::set_isa("no-such-isa").empty());
  std::string list;
  for (const auto& n : isas) list += " " + n;
  std::printf("ISA variants tested:%s\n", list.c_str());

  uint64_t seed = 1;
  for (const CaseSpec& spec : specs()) run_case(spec, seed++, isas);

  for (const auto& [key, err] : worst()) std::printf("worst %-24s %.3g\n", key.c_str(), err);
  context().clear();
  attnode::set_isa(attnode::best_isa());
  return finish();
}
