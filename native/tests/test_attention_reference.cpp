// Checks the float64 reference that test_attention.cpp trusts: its gradients against central
// finite differences of its own forward (masks, bias, GQA, scale, dropout, padding rows), one
// contract example (a causal decoder step with Tq = 1 sees every key), and the dropout generator's
// rate and seed dependence.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "attention_case.h"
#include "attention_reference.h"
#include "check.h"
#include "core/attention.h"

using namespace attnode_test;

namespace {

double loss(const attnode::AttnShape& s, const attnode::AttnMasks& m, const attnode::AttnParams& p,
            const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
            const std::vector<double>& dout) {
  const RefForward f = reference_forward(s, m, p, q, k, v);
  double l = 0.0;
  for (size_t i = 0; i < f.out.size(); ++i) l += f.out[i] * dout[i];
  return l;
}

// d loss / d x[i] for every i by central differences (the loss is smooth: masks, bias and dropout
// decisions do not depend on q, k, v).
std::vector<double> numeric_grad(const Case& c, std::vector<double>& x, const std::vector<double>& q,
                                 const std::vector<double>& k, const std::vector<double>& v,
                                 const std::vector<double>& dout) {
  const attnode::AttnMasks m = c.masks();
  const double h = 1e-5;
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss(c.s, m, c.p, q, k, v, dout);
    x[i] = x0 - h;
    const double lm = loss(c.s, m, c.p, q, k, v, dout);
    x[i] = x0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

void check_fd(const CaseSpec& spec, uint64_t seed) {
  context() = "finite differences | " + spec.name;
  const Case c = make_case(spec, seed);
  std::vector<double> q = to_double(c.q), k = to_double(c.k), v = to_double(c.v);
  const std::vector<double> dout = to_double(c.dout);
  const RefGrads g = reference_backward(c.s, c.masks(), c.p, q, k, v, dout);
  // FD truncation and round-off are ~1e-10 here; 1e-6 leaves room yet catches any wrong term.
  const double tol = 1e-6, floor = 1e-3;
  const double eq = rel_error(g.dq, numeric_grad(c, q, q, k, v, dout), floor);
  const double ek = rel_error(g.dk, numeric_grad(c, k, q, k, v, dout), floor);
  const double ev = rel_error(g.dv, numeric_grad(c, v, q, k, v, dout), floor);
  CHECK_MSG(eq <= tol, "dq vs FD " + std::to_string(eq));
  CHECK_MSG(ek <= tol, "dk vs FD " + std::to_string(ek));
  CHECK_MSG(ev <= tol, "dv vs FD " + std::to_string(ev));
  std::printf("FD %-60s dq %.2g dk %.2g dv %.2g\n", spec.name.c_str(), eq, ek, ev);
}

std::vector<CaseSpec> fd_specs() {
  std::vector<CaseSpec> v;
  auto add = [&](CaseSpec c) { v.push_back(std::move(c)); return &v.back(); };
  add({"plain", 1, 1, 1, 3, 4, 3});
  { auto* c = add({"causal lengths keyMask mask[B,H] bias[1,H] dropout GQA 2:1", 2, 2, 1, 3, 5, 4});
    c->causal = true; c->key_lengths = {5, 2}; c->query_lengths = {3, 2}; c->key_mask_density = 0.8;
    c->mask_batch = 2; c->mask_heads = 2; c->bias_batch = 1; c->bias_heads = 2; c->dropout = 0.3f; c->seed = 5; }
  { auto* c = add({"causal bias[B,1] with a -inf row, peaked", 1, 2, 2, 4, 4, 3});
    c->causal = true; c->bias_batch = 1; c->bias_heads = 1; c->bias_blocks_a_row = true; c->q_amp = 3.f; }
  { auto* c = add({"Tq > Tk causal (top rows blocked) mask[1,1] scale 0.7 GQA 4:2", 2, 4, 2, 5, 3, 2});
    c->causal = true; c->mask_batch = 1; c->mask_heads = 1; c->scale = 0.7f; }
  { auto* c = add({"Tq=1 keyLengths (one 0) dropout 0.5", 2, 2, 2, 1, 6, 5});
    c->key_lengths = {0, 6}; c->dropout = 0.5f; c->seed = 11; }
  { auto* c = add({"window 1/1 + 1 global token, block layout 2x2, lengths, dropout", 2, 2, 1, 6, 6, 3});
    c->window = true; c->window_left = 1; c->window_right = 1; c->global_tokens = 1; c->block_q = 2; c->block_k = 2;
    c->block_density = 0.8; c->key_lengths = {6, 4}; c->dropout = 0.2f; c->seed = 3; }
  return v;
}

// The contract's own example: with Tq = 1, causal bottom-right alignment lets the query see all Tk keys.
void check_decoder_step_sees_all() {
  context() = "causal Tq=1 sees every key";
  CaseSpec spec{"", 2, 2, 1, 1, 9, 4};
  Case c = make_case(spec, 77);
  const std::vector<double> q = to_double(c.q), k = to_double(c.k), v = to_double(c.v);
  const RefForward plain = reference_forward(c.s, c.masks(), c.p, q, k, v);
  c.spec.causal = true;
  const RefForward causal = reference_forward(c.s, c.masks(), c.p, q, k, v);
  CHECK(rel_error(causal.out, plain.out, 0.0) == 0.0);
  CHECK(rel_error(causal.lse, plain.lse, 0.0) == 0.0);
}

// Drop rate close to p (binomial std <= 0.0015 over 120k draws; 0.01 is > 6 std), p = 0 keeps all,
// and another seed gives other decisions.
void check_dropout_generator() {
  for (float p : {0.f, 0.1f, 0.5f, 0.9f}) {
    context() = "dropout rate p=" + std::to_string(p);
    long dropped = 0, differ = 0, n = 0;
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t i = 0; i < 50; ++i)
          for (int64_t j = 0; j < 200; ++j, ++n) {
            const bool keep = attnode::attention_dropout_keep(1234, b, h, i, j, p);
            dropped += keep ? 0 : 1;
            differ += keep != attnode::attention_dropout_keep(1235, b, h, i, j, p) ? 1 : 0;
          }
    const double rate = static_cast<double>(dropped) / n, disagree = static_cast<double>(differ) / n;
    CHECK_MSG(std::fabs(rate - p) < 0.01, "drop rate " + std::to_string(rate));
    // Independent seeds disagree with probability 2 p (1 - p).
    CHECK_MSG(std::fabs(disagree - 2.0 * p * (1.0 - p)) < 0.01, "seed disagreement " + std::to_string(disagree));
  }
}

}  // namespace

int main() {
  uint64_t seed = 100;
  for (const CaseSpec& spec : fd_specs()) check_fd(spec, seed++);
  check_decoder_step_sees_all();
  check_dropout_generator();
  context().clear();
  return finish();
}
