// The non-GEMM ops (core/ops.h) in C++, for every ISA variant this machine and build support:
// against small float64 references on odd sizes, every variant against portable, outputs
// poisoned with NaN, and the same bits for 1 and 2 threads. The vitest suites (test/ops.*.test.ts)
// check the math in depth; this test exists mostly for the sanitizer build (npm run
// test:native:asan): every buffer here has exactly its size, so a vector tail that reads or
// writes past the end is caught.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "core/threads.h"

using namespace attnode_test;
using attnode::Activation;

namespace {

using Vec = std::vector<float>;

const int64_t kDims[] = {1, 7, 33, 257};

std::string fmt(const char* what, double err, double tol) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s: rel error %.3g > %.3g", what, err, tol);
  return buf;
}
// Inputs are O(1): errors are judged relative to max|ref|, but never to less than 1e-3 (where a
// result cancels to ~0, float round-off of the O(1) terms is what remains).
#define CHECK_CLOSE(got, ref, tol, what)                         \
  do {                                                           \
    const double e_ = rel_error(got, ref, 1e-3);                 \
    CHECK_MSG(e_ <= (tol), fmt(what, e_, tol));                  \
  } while (0)

// Everything the ops produce for one input set, so variants and thread counts can be compared.
struct Outputs {
  Vec ln_y, ln_dx, ln_dg, ln_db, rms_y, rms_dx, rms_dg, act, act_dx, drop, xent_d, logsm, adam_p;
  double loss = 0;
};

Outputs run_all(int64_t rows, int64_t dim, uint64_t seed) {
  Rng rng(seed);
  const int64_t n = rows * dim;
  Vec x(n), dy(n), gamma(dim), beta(dim);
  fill(x, rng, 3.f); fill(dy, rng, 1.f); fill(gamma, rng, 1.f); fill(beta, rng, 1.f);
  Outputs o;
  Vec mean(rows), rstd(rows);
  o.ln_y.resize(n); o.ln_dx.resize(n); o.ln_dg.resize(dim); o.ln_db.resize(dim);
  poison(o.ln_y); poison(o.ln_dx); poison(o.ln_dg); poison(o.ln_db); poison(mean); poison(rstd);
  attnode::layer_norm_forward(rows, dim, 1e-5f, x.data(), gamma.data(), beta.data(), o.ln_y.data(), mean.data(), rstd.data());
  attnode::layer_norm_backward(rows, dim, x.data(), gamma.data(), mean.data(), rstd.data(), dy.data(), o.ln_dx.data(),
                               o.ln_dg.data(), o.ln_db.data());
  o.rms_y.resize(n); o.rms_dx.resize(n); o.rms_dg.resize(dim);
  poison(o.rms_y); poison(o.rms_dx); poison(o.rms_dg); poison(rstd);
  attnode::rms_norm_forward(rows, dim, 1e-6f, x.data(), gamma.data(), o.rms_y.data(), rstd.data());
  attnode::rms_norm_backward(rows, dim, x.data(), gamma.data(), rstd.data(), dy.data(), o.rms_dx.data(), o.rms_dg.data());
  // All four activations, one after the other, into one buffer each for y and dx.
  o.act.resize(4 * n); o.act_dx.resize(4 * n);
  poison(o.act); poison(o.act_dx);
  for (int k = 0; k < 4; ++k) {
    attnode::activation_forward(static_cast<Activation>(k), n, x.data(), o.act.data() + k * n);
    attnode::activation_backward(static_cast<Activation>(k), n, x.data(), dy.data(), o.act_dx.data() + k * n);
  }
  o.drop.resize(n);
  poison(o.drop);
  attnode::dropout_apply(n, 0.25f, seed, 3, x.data(), o.drop.data());
  std::vector<int32_t> targets(rows);
  for (int64_t r = 0; r < rows; ++r) targets[r] = r % 3 == 2 ? -100 : static_cast<int32_t>(rng.below(dim));
  o.xent_d.resize(n);
  poison(o.xent_d);
  attnode::XentParams xp;
  xp.label_smoothing = 0.1;
  o.loss = attnode::cross_entropy(rows, dim, xp, x.data(), targets.data(), o.xent_d.data()).loss;
  o.logsm.resize(n);
  poison(o.logsm);
  attnode::log_softmax(rows, dim, x.data(), o.logsm.data());
  o.adam_p = x;
  Vec m(n, 0.f), v(n, 0.f);
  attnode::AdamParams ap;
  ap.weight_decay = 0.01;
  ap.decoupled = true;
  for (ap.step = 1; ap.step <= 3; ++ap.step) attnode::adam_step(n, ap, o.adam_p.data(), dy.data(), m.data(), v.data());
  return o;
}

// float64 references of the forward ops (the vitest suites check every gradient too).
void check_against_reference(int64_t rows, int64_t dim, uint64_t seed, const Outputs& o, const std::string& isa) {
  Rng rng(seed);
  const int64_t n = rows * dim;
  Vec x(n), dy(n), gamma(dim), beta(dim);
  fill(x, rng, 3.f); fill(dy, rng, 1.f); fill(gamma, rng, 1.f); fill(beta, rng, 1.f);
  std::vector<double> ln(n), rms(n), gelu(n), logsm(n);
  double loss = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = &x[r * dim];
    double mu = 0, ss = 0, mx = -INFINITY;
    for (int64_t j = 0; j < dim; ++j) { mu += xr[j]; ss += double(xr[j]) * xr[j]; mx = std::fmax(mx, xr[j]); }
    mu /= dim;
    double var = 0, se = 0, sx = 0;
    for (int64_t j = 0; j < dim; ++j) { var += (xr[j] - mu) * (xr[j] - mu); se += std::exp(xr[j] - mx); sx += xr[j]; }
    var /= dim;
    const double lse = mx + std::log(se);
    for (int64_t j = 0; j < dim; ++j) {
      ln[r * dim + j] = (xr[j] - mu) / std::sqrt(var + 1e-5) * gamma[j] + beta[j];
      rms[r * dim + j] = xr[j] / std::sqrt(ss / dim + 1e-6) * gamma[j];
      logsm[r * dim + j] = xr[j] - lse;
    }
    const int32_t t = r % 3 == 2 ? -100 : static_cast<int32_t>(rng.below(dim));
    if (t != -100) {
      loss += 0.9 * (lse - xr[t]) + 0.1 * (lse - sx / dim);
      ++count;
    }
  }
  for (int64_t i = 0; i < n; ++i) gelu[i] = 0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0)));
  context() = isa + " rows " + std::to_string(rows) + " dim " + std::to_string(dim);
  CHECK_CLOSE(o.ln_y, ln, 2e-6, "layer_norm y");
  CHECK_CLOSE(o.rms_y, rms, 2e-6, "rms_norm y");
  CHECK_CLOSE(Vec(o.act.begin() + n, o.act.begin() + 2 * n), gelu, 1e-6, "gelu y");
  CHECK_CLOSE(o.logsm, logsm, 1e-6, "log_softmax y");
  const double ref_loss = count > 0 ? loss / count : 0.0;
  CHECK_MSG(std::fabs(o.loss - ref_loss) <= 1e-6 * std::fmax(1.0, ref_loss), fmt("cross_entropy loss", std::fabs(o.loss - ref_loss), 1e-6));
  for (const Vec* v : {&o.ln_dx, &o.ln_dg, &o.ln_db, &o.rms_dx, &o.rms_dg, &o.act_dx, &o.drop, &o.xent_d, &o.adam_p}) {
    long nan = 0;
    for (float f : *v) nan += std::isnan(f) ? 1 : 0;
    CHECK_MSG(nan == 0, "an output has NaN elements (not written)");
  }
}

void compare(const Outputs& a, const Outputs& b, double tol, const std::string& what, int64_t dim) {
  context() = what;
  // With dim = 1 a norm's dx is exactly 0 (x - mean = 0): what remains is float round-off of the
  // O(1) terms times rstd, up to 1/sqrt(eps) = 316 for LayerNorm (1e3 for RMSNorm's eps 1e-6), and
  // an FMA variant rounds differently from portable. Judge it against that scale, not against 1.
  const double dx_floor = dim == 1 ? 1e-3 * 1e3 : 1e-3;
  const auto dx_check = [&](const Vec& x, const Vec& y, const char* name) {
    const double e = rel_error(x, y, dx_floor);
    CHECK_MSG(e <= tol, fmt(name, e, tol));
  };
  dx_check(a.ln_dx, b.ln_dx, "layer_norm dx");
  CHECK_CLOSE(a.ln_dg, b.ln_dg, tol, "layer_norm dgamma");
  dx_check(a.rms_dx, b.rms_dx, "rms_norm dx");
  CHECK_CLOSE(a.act, b.act, tol, "activations");
  CHECK_CLOSE(a.act_dx, b.act_dx, tol, "activation gradients");
  CHECK_CLOSE(a.drop, b.drop, 0.0, "dropout");
  CHECK_CLOSE(a.xent_d, b.xent_d, tol, "dlogits");
  CHECK_CLOSE(a.adam_p, b.adam_p, tol, "adam params");
}

void check_same_bits(const Outputs& a, const Outputs& b, const std::string& what) {
  context() = what;
  CHECK(bitwise_equal(a.ln_y, b.ln_y) && bitwise_equal(a.ln_dx, b.ln_dx) && bitwise_equal(a.ln_dg, b.ln_dg) &&
        bitwise_equal(a.ln_db, b.ln_db));
  CHECK(bitwise_equal(a.rms_dx, b.rms_dx) && bitwise_equal(a.rms_dg, b.rms_dg));
  CHECK(bitwise_equal(a.act, b.act) && bitwise_equal(a.act_dx, b.act_dx) && bitwise_equal(a.drop, b.drop));
  CHECK(bitwise_equal(a.xent_d, b.xent_d) && a.loss == b.loss);
  CHECK(bitwise_equal(a.adam_p, b.adam_p));
}

// Embedding, position encoding, argmax and top-k are portable code: checked once.
void check_portable_ops() {
  context() = "embedding / position encoding / argmax / top-k";
  const int64_t vocab = 5, dim = 7, n = 9;
  Rng rng(11);
  Vec w(vocab * dim), dy(n * dim), y(n * dim), dw(vocab * dim);
  fill(w, rng, 1.f); fill(dy, rng, 1.f);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(vocab));
  poison(y); poison(dw);
  attnode::embedding_forward(n, dim, ids.data(), w.data(), y.data());
  attnode::embedding_backward(n, dim, vocab, ids.data(), dy.data(), ids[0], false, dw.data());
  std::vector<double> ref(vocab * dim, 0.0);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t c = 0; c < dim; ++c) CHECK(y[t * dim + c] == w[ids[t] * dim + c]);
    if (ids[t] != ids[0])
      for (int64_t c = 0; c < dim; ++c) ref[ids[t] * dim + c] += dy[t * dim + c];
  }
  CHECK_CLOSE(dw, ref, 1e-6, "embedding dweight");
  // Scaled rows plus a position table (period 4, offset 1), and the scaled backward.
  const int64_t period = 4, offset = 1;
  Vec table((offset + period) * dim);
  fill(table, rng, 1.f);
  poison(y); poison(dw);
  attnode::embedding_forward(n, dim, ids.data(), w.data(), y.data(), 3.f, table.data(), period, offset);
  attnode::embedding_backward(n, dim, vocab, ids.data(), dy.data(), ids[0], false, dw.data(), 3.f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < dim; ++c) {
      const float e = w[ids[t] * dim + c] * 3.f;
      CHECK(y[t * dim + c] == e + table[(t % period + offset) * dim + c]);
    }
  for (auto& r : ref) r *= 3.0;
  CHECK_CLOSE(dw, ref, 1e-6, "scaled embedding dweight");
  Vec pe(3 * 5);
  poison(pe);
  attnode::sinusoidal_position_encoding(3, 5, 2, 10000.0, pe.data());
  for (int64_t p = 0; p < 3; ++p)
    for (int64_t c = 0; c < 5; ++c) {
      const double a = (p + 2) / std::pow(10000.0, 2.0 * (c / 2) / 5.0);
      CHECK(pe[p * 5 + c] == static_cast<float>(c % 2 ? std::cos(a) : std::sin(a)));
    }
  const Vec x = {1, 5, 3, 5, -2, 0};
  std::vector<int32_t> am(2), idx(4);
  Vec val(4);
  attnode::argmax(2, 3, x.data(), am.data());
  CHECK(am[0] == 1 && am[1] == 0);
  attnode::top_k(2, 3, 2, x.data(), val.data(), idx.data());
  CHECK(idx[0] == 1 && idx[1] == 2 && idx[2] == 0 && idx[3] == 2 && val[0] == 5 && val[3] == 0);
}

// adam_step_multi: the bits of one adam_step per tensor (tiny tensors, several kChunk blocks),
// at 1 and 2 threads; zero_grads clears every gradient; the gradient norm of the same tensors.
void check_adam_multi(const std::string& isa) {
  context() = isa + ": adam_step_multi";
  const int64_t sizes[] = {1, 7, 257, 40000, 16384};
  Rng rng(21);
  std::vector<Vec> p, g, m, v;
  for (int64_t n : sizes) {
    p.emplace_back(n); g.emplace_back(n); m.emplace_back(n); v.emplace_back(n);
    fill(p.back(), rng, 1.f); fill(g.back(), rng, 1.f); fill(m.back(), rng, 0.1f); fill(v.back(), rng, 0.1f);
    for (float& x : v.back()) x = std::fabs(x);
  }
  attnode::AdamParams ap;
  ap.lr = 2e-3; ap.weight_decay = 0.01; ap.decoupled = true; ap.step = 4; ap.grad_scale = 0.5;
  std::vector<Vec> wp = p, wm = m, wv = v;
  for (size_t i = 0; i < p.size(); ++i) attnode::adam_step(p[i].size(), ap, wp[i].data(), g[i].data(), wm[i].data(), wv[i].data());
  std::vector<const float*> gptr;
  std::vector<int64_t> glen;
  double want_sq = 0.0;
  for (const Vec& x : g) {
    gptr.push_back(x.data());
    glen.push_back(static_cast<int64_t>(x.size()));
    for (float y : x) want_sq += double(y) * y;
  }
  const double norm = attnode::global_grad_norm(static_cast<int>(g.size()), gptr.data(), glen.data());
  CHECK(std::fabs(norm - std::sqrt(want_sq)) <= 1e-6 * std::sqrt(want_sq));
  for (int threads : {1, 2}) {
    attnode::set_num_threads(threads);
    std::vector<Vec> gp = p, gg = g, gm = m, gv = v;
    std::vector<attnode::AdamTensor> ts(p.size());
    for (size_t i = 0; i < p.size(); ++i) ts[i] = {static_cast<int64_t>(p[i].size()), gp[i].data(), gg[i].data(), gm[i].data(), gv[i].data()};
    attnode::adam_step_multi(static_cast<int>(ts.size()), ts.data(), ap, true);
    for (size_t i = 0; i < p.size(); ++i) {
      CHECK(bitwise_equal(gp[i], wp[i]) && bitwise_equal(gm[i], wm[i]) && bitwise_equal(gv[i], wv[i]));
      bool zero = true;
      for (float x : gg[i]) zero &= x == 0.f;
      CHECK(zero);
    }
  }
}

}  // namespace

int main() {
  check_portable_ops();
  const std::vector<std::string> isas = attnode::supported_isas();
  const int threads_before = attnode::num_threads();
  for (int64_t rows : {1, 3, 70})
    for (int64_t dim : kDims) {
      const uint64_t seed = static_cast<uint64_t>(rows * 1000 + dim);
      Outputs portable;
      for (const std::string& isa : isas) {
        attnode::set_isa(isa);
        const Outputs o = run_all(rows, dim, seed);
        check_against_reference(rows, dim, seed, o, isa);
        if (isa == "portable") portable = o;
        else compare(o, portable, 2e-5, isa + " vs portable, rows " + std::to_string(rows) + " dim " + std::to_string(dim), dim);
      }
    }
  // Large enough for every op to run in parallel: 1 and 2 threads give the same bits.
  for (const std::string& isa : isas) {
    attnode::set_isa(isa);
    check_adam_multi(isa);
    attnode::set_num_threads(1);
    const Outputs one = run_all(300, 257, 5);
    attnode::set_num_threads(2);
    const Outputs two = run_all(300, 257, 5);
    check_same_bits(one, two, isa + ": 1 vs 2 threads");
  }
  attnode::set_num_threads(threads_before);
  attnode::set_isa(attnode::best_isa());
  return finish();
}
