// Attention with precision bf16 (AttnParams::bf16): on the "avx512bf16" variant, forward out/lse and
// backward dq/dk/dv against the float64 reference within an elementwise error bound derived from
// bf16's 8-bit significand; outputs poisoned with NaN before each call; the same bits twice and
// across thread counts (1 vs 2, which also switches the backward between its one-pass and two-pass
// forms for the B * Hkv = 1 cases); empty rows give zeros, not NaN; and bf16 off gives exactly the
// avx512 kernel's bits. On every other variant a bf16 request must compute exactly the fp32 result.
//
// The error bound. bf16 keeps 8 significant bits, so rounding to nearest even has relative error
// u = 2^-8 (one half of the 2^-7 spacing of the significand). A tile product sum_k a_k b_k with
// both operands rounded is then off by at most (2u + u^2) sum_k |a_k b_k| = (2^-7 + 2^-16) sum|a b|
// from the rounding, plus k * 2^-24 sum|a b| from the fp32 accumulation (vdpbf16ps multiplies bf16
// pairs exactly into fp32): gamma(k) = 2^-7 + 2^-16 + k 2^-24, as the bf16 GEMM's test. Propagated:
//   scores   |ds_ij| <= E_ij = gamma(D) * scale * sum_d |q_id k_jd|  (+ fp32 slack, see below)
//   softmax  with delta_i = max_j E_ij over the row's allowed keys, p^_ij / p_ij lies in
//            [e^-2delta_i, e^2delta_i], so |p^ - p| <= (e^2delta_i - 1) p
//   out      |o^_id - o_id| <= [(e^2delta_i - 1) + e^2delta_i gamma(2 Tk)] sum_j p_ij z_ij |v_jd|
//            (z the dropout factor; P z is rounded to bf16 for the P V product, the row sum L is fp32)
//   lse      |l^_i - l_i| <= delta_i
// Backward, P recomputed from the lse it is given (off by eta_i: the forward bound above, or 2^-24
// |l| for the reference's lse rounded to float) and D_i = rowsum(dO * O) from the O it is given (off
// by H_i = sum_d |dO_id| |dO_id error bound| + D 2^-24 sum |dO O|):
//   eps_ij = e^(E_ij + eta_i) - 1 bounds |P^ - P| / P;  F_ij = gamma(D) sum_d |v_jd dO_id| bounds dP
//   dS_ij = P (z dP - D_i): |dS^ - dS| <= G_ij = P [eps (|z dP - D_i| + z F + H_i) + z F + H_i]
//   dV_jd <= sum_(h,i) P z |dO_id| (eps + (1 + eps) gamma(G Tq))
//   dK_jd <= scale sum_(h,i) (G_ij + gamma(G Tq) (|dS_ij| + G_ij)) |q_id|
//   dQ_id <= scale sum_j (G_ij + gamma(Tk) (|dS_ij| + G_ij)) |k_jd|
// fp32 slack: every score also gets 2^-21 (|s_ij| + |m_i| + 1) (the scale applied to q in fp32,
// the bias addition, the exp2 argument's rounding and exp2's own < 1e-8 error) and every bound
// 2^-20 of its magnitude sum plus 1e-30 absolute (vdpbf16ps flushes denormals). These are
// worst-case bounds: the printed worst ratio error / bound shows the margin (typically ~0.05).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "attention_case.h"
#include "attention_reference.h"
#include "check.h"
#include "core/dispatch.h"
#include "core/threads.h"

using namespace attnode_test;

namespace {

constexpr double kU = 1.0 / 256;  // bf16 unit roundoff, 2^-8
double gamma(double k) { return 2 * kU + kU * kU + k * std::ldexp(1.0, -24) + std::ldexp(1.0, -20); }

struct Result {
  std::vector<float> out, lse, dq, dk, dv;
};

Result forward(const Case& c, bool bf16) {
  attnode::AttnParams p = c.p;
  p.bf16 = bf16;
  Result r;
  r.out.resize(c.q.size());
  r.lse.resize(c.s.B * c.s.H * c.s.Tq);
  poison(r.out); poison(r.lse);
  CHECK(attnode::attention_forward(c.s, c.masks(), p, c.q.data(), c.k.data(), c.v.data(), r.out.data(), r.lse.data()) == 0);
  return r;
}

// Backward from the given out/lse into r's (poisoned) gradients.
void backward(const Case& c, bool bf16, const std::vector<float>& out, const std::vector<float>& lse, Result& r) {
  attnode::AttnParams p = c.p;
  p.bf16 = bf16;
  r.dq.resize(c.q.size()); r.dk.resize(c.k.size()); r.dv.resize(c.v.size());
  poison(r.dq); poison(r.dk); poison(r.dv);
  CHECK(attnode::attention_backward(c.s, c.masks(), p, c.q.data(), c.k.data(), c.v.data(), out.data(), lse.data(),
                                    c.dout.data(), r.dq.data(), r.dk.data(), r.dv.data()) == 0);
}

Result run(const Case& c, bool bf16) {
  Result r = forward(c, bf16);
  backward(c, bf16, r.out, r.lse, r);
  return r;
}

bool same_bits(const Result& a, const Result& b) {
  return bitwise_equal(a.out, b.out) && bitwise_equal(a.lse, b.lse) && bitwise_equal(a.dq, b.dq) &&
         bitwise_equal(a.dk, b.dk) && bitwise_equal(a.dv, b.dv);
}

long count_nan(const std::vector<float>& x) {
  long n = 0;
  for (float v : x) n += std::isnan(v) ? 1 : 0;
  return n;
}

double& worst_ratio(const std::string& what) {
  static std::vector<std::pair<std::string, double>> w;
  for (auto& e : w)
    if (e.first == what) return e.second;
  w.emplace_back(what, 0.0);
  return w.back().second;
}
std::vector<std::string> ratio_names{"out", "lse", "dq", "dk", "dv", "dq (e2e)", "dk (e2e)", "dv (e2e)"};

// Elementwise |got - ref| <= bound; records the worst ratio.
void check_bound(const char* what, const std::vector<float>& got, const std::vector<double>& ref,
                 const std::vector<double>& bound) {
  long bad = 0, first = -1;
  double worst = 0.0;
  for (size_t x = 0; x < got.size(); ++x) {
    const double err = std::fabs(static_cast<double>(got[x]) - ref[x]);
    const bool ok = ref[x] == -std::numeric_limits<double>::infinity() ? got[x] == -std::numeric_limits<float>::infinity()
                                                                         : err <= bound[x];
    if (!ok) { ++bad; if (first < 0) first = static_cast<long>(x); }
    if (std::isfinite(ref[x]) && bound[x] > 0) worst = std::fmax(worst, err / bound[x]);
  }
  char buf[200];
  if (bad)
    std::snprintf(buf, sizeof buf, "%s: %ld elements outside the bound, first [%ld] got %.9g ref %.9g bound %.3g", what, bad,
                  first, got[first], ref[first], bound[first]);
  else
    buf[0] = 0;
  CHECK_MSG(bad == 0, buf);
  double& w = worst_ratio(what);
  w = std::fmax(w, worst);
}

// The float64 reference with the bounds above: forward, then the backward from (a) out/lse given.
struct Bounded {
  std::vector<double> out, lse, out_b, lse_b;     // reference and bounds
  std::vector<double> dq, dk, dv, dq_b, dk_b, dv_b;
};

// Forward reference and bounds.
void bounded_forward(const Case& c, Bounded& r) {
  const attnode::AttnShape& s = c.s;
  const attnode::AttnMasks m = c.masks();
  const std::vector<double> q = to_double(c.q), k = to_double(c.k), v = to_double(c.v);
  r.out.assign(c.q.size(), 0.0); r.out_b.assign(c.q.size(), 1e-30);
  r.lse.assign(s.B * s.H * s.Tq, 0.0); r.lse_b.assign(s.B * s.H * s.Tq, 0.0);
  const double scale = c.p.scale;
  std::vector<double> P;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t hk = h / (s.H / s.Hkv);
      for (int64_t i = 0; i < s.Tq; ++i) {
        const int64_t li = (b * s.H + h) * s.Tq + i;
        const double lse = ref_row(s, m, c.p, q, k, b, h, i, P);
        r.lse[li] = lse;
        if (std::isinf(lse)) continue;
        const double* qr = &q[((b * s.Tq + i) * s.H + h) * s.D];
        double mx = -INFINITY;
        for (int64_t j = 0; j < s.Tk; ++j)
          if (P[j] > 0) mx = std::fmax(mx, ref_score(s, m, scale, q, k, b, h, i, j));
        double delta = 0.0;
        for (int64_t j = 0; j < s.Tk; ++j) {
          if (!ref_allowed(s, m, b, h, i, j)) continue;
          const double* kr = &k[((b * s.Tk + j) * s.Hkv + hk) * s.D];
          double a = 0.0;
          for (int64_t d = 0; d < s.D; ++d) a += std::fabs(qr[d] * kr[d]);
          const double sc = ref_score(s, m, scale, q, k, b, h, i, j);
          if (std::isinf(sc)) continue;
          delta = std::fmax(delta, gamma(s.D) * scale * a + std::ldexp(std::fabs(sc) + std::fabs(mx) + 1, -21));
        }
        r.lse_b[li] = delta + std::ldexp(std::fabs(lse) + 1, -22) + s.Tk * std::ldexp(1.0, -24);
        const double e2 = std::exp(2 * delta);
        double* o = &r.out[((b * s.Tq + i) * s.H + h) * s.D];
        double* ob = &r.out_b[((b * s.Tq + i) * s.H + h) * s.D];
        for (int64_t j = 0; j < s.Tk; ++j) {
          const double w = P[j] * ref_dropout(c.p, b, h, i, j);
          if (w == 0.0) continue;
          const double* vr = &v[((b * s.Tk + j) * s.Hkv + hk) * s.D];
          for (int64_t d = 0; d < s.D; ++d) {
            o[d] += w * vr[d];
            ob[d] += ((e2 - 1) + e2 * gamma(2.0 * s.Tk)) * w * std::fabs(vr[d]);
          }
        }
      }
    }
}

// Backward reference and bounds, for a kernel backward given lse_used (within lse_err of the exact
// lse, per row) and out_used (within out_err, per element).
void bounded_backward(const Case& c, const std::vector<double>& lse_err, const std::vector<float>& out_used,
                      const std::vector<double>& out_err, Bounded& r) {
  const attnode::AttnShape& s = c.s;
  const attnode::AttnMasks m = c.masks();
  const std::vector<double> q = to_double(c.q), k = to_double(c.k), v = to_double(c.v), dout = to_double(c.dout);
  const RefGrads g = reference_backward(s, m, c.p, q, k, v, dout);
  r.dq = g.dq; r.dk = g.dk; r.dv = g.dv;
  r.dq_b.assign(q.size(), 1e-30); r.dk_b.assign(k.size(), 1e-30); r.dv_b.assign(v.size(), 1e-30);
  const double scale = c.p.scale;
  const int64_t G = s.H / s.Hkv;
  std::vector<double> P, dP(s.Tk), Z(s.Tk), E(s.Tk), F(s.Tk);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t hk = h / G;
      for (int64_t i = 0; i < s.Tq; ++i) {
        const double lse = ref_row(s, m, c.p, q, k, b, h, i, P);
        if (std::isinf(lse)) continue;
        const int64_t qo = ((b * s.Tq + i) * s.H + h) * s.D;
        const double* dor = &dout[qo];
        const double* qr = &q[qo];
        double mx = -INFINITY;
        for (int64_t j = 0; j < s.Tk; ++j)
          if (P[j] > 0) mx = std::fmax(mx, ref_score(s, m, scale, q, k, b, h, i, j));
        // D_i as the kernel forms it (from the out it is given) and its error bound.
        double Di = 0.0, Hi = 0.0, dsum = 0.0;
        for (int64_t d = 0; d < s.D; ++d) {
          Di += dor[d] * out_used[qo + d];
          Hi += std::fabs(dor[d]) * out_err[qo + d] + s.D * std::ldexp(1.0, -24) * std::fabs(dor[d] * out_used[qo + d]);
        }
        for (int64_t j = 0; j < s.Tk; ++j) {
          Z[j] = ref_dropout(c.p, b, h, i, j);
          const double* vr = &v[((b * s.Tk + j) * s.Hkv + hk) * s.D];
          const double* kr = &k[((b * s.Tk + j) * s.Hkv + hk) * s.D];
          double dot = 0.0, av = 0.0, aq = 0.0;
          for (int64_t d = 0; d < s.D; ++d) { dot += dor[d] * vr[d]; av += std::fabs(dor[d] * vr[d]); aq += std::fabs(qr[d] * kr[d]); }
          dP[j] = Z[j] * dot;
          dsum += P[j] * dP[j];
          F[j] = gamma(s.D) * av;
          const double sc = P[j] > 0 ? ref_score(s, m, scale, q, k, b, h, i, j) : 0.0;
          E[j] = gamma(s.D) * scale * aq + std::ldexp(std::fabs(sc) + std::fabs(mx) + 1, -21);
        }
        const double eta = lse_err[(b * s.H + h) * s.Tq + i] + std::ldexp(std::fabs(lse) + 1, -22);
        for (int64_t j = 0; j < s.Tk; ++j) {
          if (P[j] == 0.0) continue;
          const double eps = std::exp(E[j] + eta) - 1;
          const double ds = P[j] * (dP[j] - dsum);
          const double Gij = P[j] * (eps * (std::fabs(dP[j] - dsum) + Z[j] * F[j] + Hi) + Z[j] * F[j] + Hi) +
                             std::ldexp(std::fabs(ds) + P[j] * (std::fabs(dP[j]) + std::fabs(dsum)), -20);
          const int64_t kv = ((b * s.Tk + j) * s.Hkv + hk) * s.D;
          const double gq = gamma(static_cast<double>(G) * s.Tq), gk = gamma(s.Tk);
          for (int64_t d = 0; d < s.D; ++d) {
            r.dv_b[kv + d] += P[j] * Z[j] * std::fabs(dor[d]) * (eps + (1 + eps) * gq);
            r.dk_b[kv + d] += scale * (Gij + gq * (std::fabs(ds) + Gij)) * std::fabs(qr[d]);
            r.dq_b[qo + d] += scale * (Gij + gk * (std::fabs(ds) + Gij)) * std::fabs(k[kv + d]);
          }
        }
      }
    }
}

void run_case(const CaseSpec& spec, uint64_t seed, bool have_bf16) {
  const Case c = make_case(spec, seed);
  context() = spec.name;
  // fp32 (bf16 off) on avx512: the reference bits of every other check.
  CHECK(attnode::set_isa(have_bf16 ? "avx512" : attnode::best_isa()).empty());
  attnode::set_num_threads(2);
  const Result fp32 = run(c, false);
  if (!have_bf16) {  // the fallback: a bf16 request computes exactly the fp32 result
    context() = attnode::best_isa() + " (no avx512_bf16) | " + spec.name;
    CHECK_MSG(same_bits(run(c, true), fp32), "bf16 request on a variant without bf16 differs from fp32");
    return;
  }
  // Every variant without bf16 computes a bf16 request in fp32, bit for bit.
  for (const std::string& isa : attnode::supported_isas()) {
    if (isa == "avx512bf16") continue;
    CHECK(attnode::set_isa(isa).empty());
    context() = isa + " | " + spec.name;
    CHECK_MSG(same_bits(run(c, true), run(c, false)), "bf16 request on a variant without bf16 differs from its fp32");
  }
  CHECK(attnode::set_isa("avx512bf16").empty());
  context() = "avx512bf16 | " + spec.name;
  CHECK_MSG(same_bits(run(c, false), fp32), "avx512bf16 with bf16 off differs from avx512 fp32");
  const Result r = run(c, true);
  for (const auto* x : {&r.out, &r.lse, &r.dq, &r.dk, &r.dv}) CHECK_MSG(count_nan(*x) == 0, "output not fully written (NaN left)");
  CHECK_MSG(same_bits(run(c, true), r), "two bf16 runs differ");
  attnode::set_num_threads(1);
  CHECK_MSG(same_bits(run(c, true), r), "bf16 with 1 thread differs from 2 threads");
  attnode::set_num_threads(2);
  CHECK_MSG(!bitwise_equal(r.out, fp32.out), "bf16 out equals fp32 out bit for bit: bf16 path not taken?");

  Bounded ref;
  bounded_forward(c, ref);
  check_bound("out", r.out, ref.out, ref.out_b);
  check_bound("lse", r.lse, ref.lse, ref.lse_b);
  // Backward alone: from the reference out/lse rounded to float.
  {
    std::vector<float> out32(ref.out.begin(), ref.out.end()), lse32(ref.lse.begin(), ref.lse.end());
    std::vector<double> lerr(lse32.size()), oerr(out32.size());
    for (size_t x = 0; x < lerr.size(); ++x) lerr[x] = std::isinf(ref.lse[x]) ? 0 : std::ldexp(std::fabs(ref.lse[x]), -24);
    for (size_t x = 0; x < oerr.size(); ++x) oerr[x] = std::ldexp(std::fabs(ref.out[x]), -24);
    Result g;
    backward(c, true, out32, lse32, g);
    bounded_backward(c, lerr, out32, oerr, ref);
    check_bound("dq", g.dq, ref.dq, ref.dq_b);
    check_bound("dk", g.dk, ref.dk, ref.dk_b);
    check_bound("dv", g.dv, ref.dv, ref.dv_b);
  }
  // End to end, as training runs it: the backward from the bf16 forward's own out/lse.
  {
    std::vector<double> lerr(ref.lse_b), oerr(ref.out_b);
    Bounded e2e;
    bounded_backward(c, lerr, r.out, oerr, e2e);
    check_bound("dq (e2e)", r.dq, e2e.dq, e2e.dq_b);
    check_bound("dk (e2e)", r.dk, e2e.dk, e2e.dk_b);
    check_bound("dv (e2e)", r.dv, e2e.dv, e2e.dv_b);
  }
  // Empty rows (no key allowed): out 0, lse -inf, dq 0.
  long bad_rows = 0;
  for (int64_t b = 0; b < c.s.B; ++b)
    for (int64_t h = 0; h < c.s.H; ++h)
      for (int64_t i = 0; i < c.s.Tq; ++i) {
        const int64_t li = (b * c.s.H + h) * c.s.Tq + i;
        if (!std::isinf(ref.lse[li])) continue;
        bool ok = r.lse[li] == -std::numeric_limits<float>::infinity();
        const int64_t o = ((b * c.s.Tq + i) * c.s.H + h) * c.s.D;
        for (int64_t d = 0; d < c.s.D; ++d) ok = ok && r.out[o + d] == 0.f && r.dq[o + d] == 0.f;
        bad_rows += ok ? 0 : 1;
      }
  CHECK_MSG(bad_rows == 0, std::to_string(bad_rows) + " empty rows not out 0 / lse -inf / dq 0");
}

std::vector<CaseSpec> specs() {
  std::vector<CaseSpec> v;
  auto add = [&](CaseSpec c) { v.push_back(std::move(c)); return &v.back(); };
  add({"T=1 D=8 plain", 2, 2, 2, 1, 1, 8});
  { auto* c = add({"T=7 D=80 causal GQA 4:2", 2, 4, 2, 7, 7, 80}); c->causal = true; }
  { auto* c = add({"T=65 D=8 causal keyLengths (one 0) GQA 2:1", 3, 2, 1, 65, 65, 8});
    c->causal = true; c->key_lengths = {65, 0, 37}; }
  { auto* c = add({"T=65 D=80 causal queryLengths (one 0)", 2, 2, 2, 65, 65, 80});
    c->causal = true; c->query_lengths = {65, 0}; }
  { auto* c = add({"Tq=65 Tk=7 D=80 causal (top rows see nothing) peaked GQA 3:1", 1, 3, 1, 65, 7, 80});
    c->causal = true; c->q_amp = 4.f; }
  { auto* c = add({"T=65 D=80 keyMask mask[1,H] bias[B,1] -inf row", 2, 2, 2, 65, 65, 80});
    c->key_mask_density = 0.8; c->mask_batch = 1; c->mask_heads = 2; c->bias_batch = 2; c->bias_heads = 1;
    c->bias_blocks_a_row = true; }
  { auto* c = add({"Tq=7 Tk=65 D=8 dropout 0.1 keyLengths (one 0) GQA 2:1", 2, 2, 1, 7, 65, 8});
    c->dropout = 0.1f; c->seed = 12345; c->key_lengths = {0, 50}; }
  { auto* c = add({"Tq=65 Tk=64 D=80 keyMask (one all zero) queryLengths mask[B,H]", 3, 2, 2, 65, 64, 80});
    c->key_mask_density = 0.7; c->zero_key_mask_entry = 1; c->query_lengths = {65, 30, 0};
    c->mask_batch = 3; c->mask_heads = 2; }
  { auto* c = add({"decoder step Tq=1 Tk=65 D=80 causal keyLengths GQA 4:2", 3, 4, 2, 1, 65, 80});
    c->causal = true; c->key_lengths = {65, 1, 33}; }
  { auto* c = add({"T=130 D=80 causal lengths dropout 0.2 GQA 4:2", 2, 4, 2, 130, 130, 80});
    c->causal = true; c->key_lengths = {130, 100}; c->query_lengths = {120, 130}; c->dropout = 0.2f; c->seed = 7; }
  { auto* c = add({"T=200 D=8 causal window 37, B=1 Hkv=1 (two-pass backward at 2 threads)", 1, 2, 1, 200, 200, 8});
    c->causal = true; c->window = true; c->window_left = 37; }
  { auto* c = add({"T=130 D=80 blockLayout 32x64 + keyMask, B=1 Hkv=1", 1, 1, 1, 130, 130, 80});
    c->block_q = 32; c->block_k = 64; c->block_density = 0.7; c->key_mask_density = 0.9; }
  { auto* c = add({"T=65 D=80 peaked q x6", 1, 2, 2, 65, 65, 80}); c->q_amp = 6.f; }
  return v;
}

}  // namespace

int main() {
  const std::vector<std::string> isas = attnode::supported_isas();
  bool have_bf16 = false;
  for (const auto& n : isas) have_bf16 = have_bf16 || n == "avx512bf16";
  if (!have_bf16)
    std::printf("SKIP the bf16 numerics checks: this CPU or build has no avx512bf16 variant; checking that a bf16 request "
                "computes the fp32 result on %s instead\n", attnode::best_isa().c_str());
  uint64_t seed = 101;
  for (const CaseSpec& spec : specs()) run_case(spec, seed++, have_bf16);
  context().clear();
  if (have_bf16)
    for (const auto& n : ratio_names) std::printf("worst error / bound %-10s %.3g\n", n.c_str(), worst_ratio(n));
  attnode::set_isa(attnode::best_isa());
  return finish();
}
