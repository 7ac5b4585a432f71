// GEMM and Linear kernels against a float64 reference, for every ISA variant this machine runs:
// odd sizes on both paths (small M and packed), all transpose combinations, padded leading
// dimensions, alpha/beta (beta = 0 over a NaN-poisoned C), bias, fused row sums, strided batches
// (shared operands, per-entry and team threading), several k/column/row blocks; outputs are
// poisoned before every call, and results must be bitwise identical across thread counts.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "core/dispatch.h"
#include "core/bf16_bits.h"
#include "core/gemm.h"
#include "core/threads.h"

using attnode::GemmParams;
using namespace attnode_test;

namespace {

constexpr double kTol = 2e-5;  // normwise relative error of a float32 product (K up to ~2000)

// max|a - ref| / max|ref| (absolute when ref is all zero); any NaN gives NaN, so `err <= tol` fails.
template <class A, class R>
double gemm_error(const A& a, const R& ref) {
  if (a.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = ref[i];
    if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
    num = std::fmax(num, std::fabs(x - y));
    den = std::fmax(den, std::fabs(y));
  }
  return den > 0.0 ? num / den : num;
}

struct Case {
  int64_t M, N, K;
  bool ta, tb;
  float alpha = 1.f, beta = 0.f;
  int64_t pad = 0;  // extra columns in every leading dimension
  int64_t batch = 1;
  bool share_a = false, share_b = false;  // stride 0
  bool bias = false, sums = false;
  // Fused epilogue (batch 1): addend, gate as floats or as a bit mask, relu with its bit mask,
  // row sums accumulated into their previous values (row_sums_beta = 1).
  bool addend = false, gate = false, gate_mask = false, relu = false, sums_acc = false;
};

std::string describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "M=%lld N=%lld K=%lld ta=%d tb=%d alpha=%g beta=%g pad=%lld batch=%lld share=%d%d bias=%d sums=%d "
                "addend=%d gate=%d gate_mask=%d relu=%d sums_acc=%d",
                (long long)c.M, (long long)c.N, (long long)c.K, c.ta, c.tb, c.alpha, c.beta, (long long)c.pad,
                (long long)c.batch, c.share_a, c.share_b, c.bias, c.sums, c.addend, c.gate, c.gate_mask, c.relu, c.sums_acc);
  return buf;
}

struct Data {
  GemmParams p;
  std::vector<float> a, b, c0, bias, addend, gate, sums0;
  std::vector<uint8_t> gate_mask;
  int64_t ld_mask = 0;
};

Data make(const Case& cs, uint64_t seed) {
  Rng rng(seed);
  Data d;
  GemmParams& p = d.p;
  p.M = cs.M; p.N = cs.N; p.K = cs.K;
  p.trans_a = cs.ta; p.trans_b = cs.tb;
  p.alpha = cs.alpha; p.beta = cs.beta;
  p.lda = (cs.ta ? cs.M : cs.K) + cs.pad;
  p.ldb = (cs.tb ? cs.K : cs.N) + cs.pad;
  p.ldc = cs.N + cs.pad;
  const int64_t asz = (cs.ta ? cs.K : cs.M) * p.lda, bsz = (cs.tb ? cs.N : cs.K) * p.ldb, csz = cs.M * p.ldc;
  p.batch = cs.batch;
  p.stride_a = cs.share_a ? 0 : asz;
  p.stride_b = cs.share_b ? 0 : bsz;
  p.stride_c = csz;
  d.a.resize(cs.share_a ? asz : asz * cs.batch);
  d.b.resize(cs.share_b ? bsz : bsz * cs.batch);
  d.c0.resize(csz * cs.batch);
  fill(d.a, rng, 1.f);
  fill(d.b, rng, 1.f);
  if (cs.beta == 0.f) poison(d.c0);  // must not leak into the result
  else fill(d.c0, rng, 1.f);
  if (cs.bias) {
    d.bias.resize(cs.N);
    fill(d.bias, rng, 1.f);
  }
  // Epilogue matrices share C's padded row stride; masks have ceil(N/8) + pad bytes a row.
  if (cs.addend) {
    d.addend.resize(csz);
    fill(d.addend, rng, 1.f);
  }
  d.ld_mask = (cs.N + 7) / 8 + cs.pad;
  if (cs.gate || cs.gate_mask) {
    d.gate.resize(csz);
    fill(d.gate, rng, 1.f);
    if (cs.gate_mask) {
      d.gate_mask.assign(cs.M * d.ld_mask, 0);
      for (int64_t i = 0; i < cs.M; ++i)
        for (int64_t j = 0; j < cs.N; ++j)
          if (d.gate[i * p.ldc + j] > 0.f) d.gate_mask[i * d.ld_mask + j / 8] |= uint8_t(1u << (j % 8));
    }
  }
  if (cs.sums_acc) {
    d.sums0.resize(cs.M);
    fill(d.sums0, rng, 1.f);
  }
  return d;
}

// float64 reference of every batch entry; padding columns of C keep their initial value.
std::vector<double> reference(const Data& d, std::vector<double>* sums) {
  const GemmParams& p = d.p;
  std::vector<double> out(d.c0.begin(), d.c0.end());
  for (int64_t e = 0; e < p.batch; ++e) {
    const float* A = d.a.data() + e * p.stride_a;
    const float* B = d.b.data() + e * p.stride_b;
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j) {
        double s = 0.0;
        for (int64_t k = 0; k < p.K; ++k) {
          const double x = p.trans_a ? A[k * p.lda + i] : A[i * p.lda + k];
          const double y = p.trans_b ? B[j * p.ldb + k] : B[k * p.ldb + j];
          s += x * y;
        }
        double& c = out[e * p.stride_c + i * p.ldc + j];
        if (!d.gate.empty() && !(d.gate[i * p.ldc + j] > 0.f)) s = 0.0;
        c = p.alpha * s + (p.beta == 0.f ? 0.0 : p.beta * c) + (d.bias.empty() ? 0.0 : d.bias[j]);
        if (!d.addend.empty()) c += d.addend[i * p.ldc + j];
        if (p.relu) c = c > 0.0 ? c : 0.0;
      }
  }
  if (sums) {
    sums->assign(p.M, 0.0);
    if (!d.sums0.empty())
      for (int64_t i = 0; i < p.M; ++i) (*sums)[i] = d.sums0[i];
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t k = 0; k < p.K; ++k) (*sums)[i] += p.trans_a ? d.a[k * p.lda + i] : d.a[i * p.lda + k];
  }
  return out;
}

// Runs the case on the active variant; padding columns of C must stay untouched.
std::vector<float> run(const Data& d, bool sums, std::vector<float>* row_sums, std::vector<uint8_t>* relu_mask) {
  GemmParams p = d.p;
  std::vector<float> c = d.c0;
  p.a = d.a.data(); p.b = d.b.data(); p.c = c.data();
  p.bias = d.bias.empty() ? nullptr : d.bias.data();
  if (sums) {
    if (d.sums0.empty()) {
      row_sums->assign(p.M, 0.f);
      poison(*row_sums);
    } else {
      *row_sums = d.sums0;
      p.row_sums_beta = 1.f;
    }
    p.row_sums_a = row_sums->data();
  }
  if (!d.addend.empty()) { p.addend = d.addend.data(); p.ld_addend = p.ldc; }
  if (!d.gate_mask.empty()) { p.gate_mask = d.gate_mask.data(); p.ld_gate_mask = d.ld_mask; }
  else if (!d.gate.empty()) { p.gate = d.gate.data(); p.ld_gate = p.ldc; }
  relu_mask->clear();
  if (p.relu) {
    relu_mask->assign(p.M * d.ld_mask, 0xa5);  // poison: every mask bit must be written
    p.relu_mask = relu_mask->data();
    p.ld_relu_mask = d.ld_mask;
  }
  attnode::gemm(p);
  return c;
}

void check_case(const Case& cs, uint64_t seed, std::vector<float>* portable_out) {
  Data d = make(cs, seed);
  d.p.relu = cs.relu;
  std::vector<double> ref_sums;
  const std::vector<double> ref = reference(d, cs.sums ? &ref_sums : nullptr);
  std::vector<float> sums1, sums2;
  std::vector<uint8_t> mask1, mask2;
  attnode::set_num_threads(1);
  const std::vector<float> c1 = run(d, cs.sums, &sums1, &mask1);
  attnode::set_num_threads(3);  // more threads than cores: a different split of C
  const std::vector<float> c3 = run(d, cs.sums, &sums2, &mask2);
  attnode::set_num_threads(2);
  const std::vector<float> c2 = run(d, cs.sums, &sums2, &mask2);
  context() = std::string(attnode::active_kernels().name) + " " + describe(cs);
  // Padding columns of C: untouched (bitwise, NaN included).
  bool pad_ok = true;
  for (int64_t e = 0; e < cs.batch; ++e)
    for (int64_t i = 0; i < cs.M; ++i)
      for (int64_t j = cs.N; j < d.p.ldc; ++j) {
        const size_t at = e * d.p.stride_c + i * d.p.ldc + j;
        pad_ok &= std::memcmp(&c2[at], &d.c0[at], 4) == 0;
      }
  CHECK(pad_ok);
  std::vector<double> got(c2.begin(), c2.end()), want = ref;
  if (cs.beta == 0.f)  // the poisoned padding is equal on both sides; compare only the product
    for (size_t i = 0; i < got.size(); ++i)
      if (std::isnan(d.c0[i])) {
        const int64_t col = (i % d.p.stride_c) % d.p.ldc;
        if (col >= cs.N) got[i] = want[i] = 0.0;
      }
  const double err = gemm_error(got, want);
  CHECK_MSG(err <= kTol, "rel error " + std::to_string(err));
  CHECK_MSG(bitwise_equal(c1, c2), "1 vs 2 threads differ");
  CHECK_MSG(bitwise_equal(c3, c2), "3 vs 2 threads differ");
  if (cs.relu) {  // bit j % 8 of byte j / 8: set exactly where the result is > 0
    bool mask_ok = mask1 == mask2;
    for (int64_t i = 0; i < cs.M; ++i)
      for (int64_t j = 0; j < cs.N; ++j)
        mask_ok &= ((mask2[i * d.ld_mask + j / 8] >> (j % 8)) & 1) == (c2[i * d.p.ldc + j] > 0.f ? 1 : 0);
    CHECK_MSG(mask_ok, "relu mask");
  }
  if (cs.sums) {
    const double serr = gemm_error(sums2, ref_sums);
    CHECK_MSG(serr <= kTol, "row sums rel error " + std::to_string(serr));
    CHECK_MSG(bitwise_equal(sums1, sums2), "row sums: 1 vs 2 threads differ");
  }
  if (portable_out) {
    if (portable_out->empty()) {
      *portable_out = c2;
    } else {
      std::vector<double> mine(c2.begin(), c2.end()), port(portable_out->begin(), portable_out->end());
      if (cs.beta == 0.f)
        for (size_t i = 0; i < mine.size(); ++i)
          if ((i % d.p.stride_c) % d.p.ldc >= static_cast<size_t>(cs.N)) mine[i] = port[i] = 0.0;
      const double verr = gemm_error(mine, port);
      CHECK_MSG(verr <= kTol, "vs portable: rel error " + std::to_string(verr));
    }
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const int64_t ms[] = {1, 7, 16, 17, 33, 257};
  const int64_t ns[] = {1, 7, 33, 257};
  const int64_t ks[] = {1, 7, 33, 257};
  for (int64_t m : ms)
    for (int64_t n : ns)
      for (int64_t k : ks)
        for (int t = 0; t < 4; ++t) {
          if (m * n * k > 1000000 && t != 0 && t != 3) continue;  // keep the big ones to NN and TT
          Case c{m, n, k, (t & 1) != 0, (t & 2) != 0};
          out.push_back(c);
        }
  // alpha / beta / bias / padded leading dims, on both paths
  for (int64_t m : {5, 40})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      Case c{m, 45, 70, ta, tb};
      c.alpha = 0.5f; c.beta = -1.5f; out.push_back(c);
      c.alpha = -2.f; c.beta = 0.f; c.bias = true; out.push_back(c);
      c.alpha = 1.f; c.beta = 1.f; c.bias = true; c.pad = 3; out.push_back(c);
      c.alpha = 0.f; c.beta = 2.f; c.bias = false; c.pad = 0; out.push_back(c);  // A, B unread
      Case z{m, 45, 0, ta, tb}; z.beta = 0.f; z.bias = true; out.push_back(z);   // K = 0
      Case s{m, 33, 300, ta, tb}; s.sums = true; out.push_back(s);               // fused row sums
      Case s2{m, 33, 600, ta, tb}; s2.sums = true; s2.beta = 0.5f; out.push_back(s2);
    }
  // Every edge-panel height of the packed path (M % MR = 1 .. MR - 1 for MR = 14 and 6), each with
  // its own micro-kernel instance, through the full-width and the column-edge epilogues.
  for (int64_t m = 17; m <= 30; ++m) {
    Case e{m, 40, 50, (m & 1) != 0, (m & 2) != 0};
    e.bias = true; e.relu = true; e.pad = 1; out.push_back(e);
  }
  // The fused epilogue on every path: small M, packed, kept op(A) (M <= 336, several k-blocks),
  // row blocks; relu masks and gate masks at columns that are not multiples of 8.
  for (int64_t m : {3, 40, 64, 400})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int64_t k = m == 64 ? 600 : 90;
      Case r{m, 77, k, ta, tb}; r.bias = true; r.addend = true; r.relu = true; r.pad = 2; out.push_back(r);
      Case g{m, 77, k, ta, tb}; g.beta = 1.f; g.gate = true; out.push_back(g);
      Case gm{m, 77, k, ta, tb}; gm.beta = 1.f; gm.gate_mask = true; gm.pad = 1; out.push_back(gm);
      Case sa{m, 45, k, ta, tb}; sa.sums = true; sa.sums_acc = true; sa.beta = 1.f; out.push_back(sa);
    }
  // several k-blocks, column blocks (NC) and row blocks (MC)
  out.push_back(Case{40, 70, 1100, false, false});
  out.push_back(Case{40, 70, 1100, true, true, 0.75f, 0.25f});
  out.push_back(Case{20, 4200, 20, false, true});
  out.push_back(Case{20, 4200, 20, true, false, 1.f, 0.f, 0, 1, false, false, true, true});
  out.push_back(Case{700, 50, 40, false, false});
  out.push_back(Case{700, 50, 40, true, true, 1.f, 1.f, 2});
  out.push_back(Case{3, 2100, 300, false, false, 1.f, 0.f, 1});  // small path, several column tiles
  out.push_back(Case{9, 2100, 300, true, true, 1.f, 0.5f, 1, 1, false, false, true, true});
  // strided batches: per-entry threading (many small), team threading (few large), shared operands
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    Case b1{12, 20, 30, ta, tb}; b1.batch = 9; out.push_back(b1);
    Case b2{40, 50, 60, ta, tb}; b2.batch = 9; b2.share_b = true; b2.beta = 0.5f; out.push_back(b2);
    Case b3{300, 70, 200, ta, tb}; b3.batch = 2; b3.share_a = true; b3.bias = true; out.push_back(b3);
    Case b4{3, 300, 64, ta, tb}; b4.batch = 3; out.push_back(b4);
  }
  return out;
}

void test_gemm_all_isas() {
  const std::vector<Case> cs = cases();
  std::vector<std::vector<float>> portable(cs.size());
  for (const std::string& isa : attnode::supported_isas()) {  // portable first
    CHECK(attnode::set_isa(isa).empty());
    for (size_t i = 0; i < cs.size(); ++i) check_case(cs[i], 1000 + i, &portable[i]);
  }
}

// n floats that end exactly where an inaccessible page begins: a kernel that reads (or writes) one
// element past them faults.
struct Guarded {
  float* data = nullptr;
  void* base = nullptr;
  size_t bytes = 0;
  explicit Guarded(const std::vector<float>& v) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t need = (v.size() * 4 + page - 1) / page * page;
    bytes = need + page;
    base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(base != MAP_FAILED);
    char* guard = static_cast<char*>(base) + need;
    CHECK(mprotect(guard, page, PROT_NONE) == 0);
    data = reinterpret_cast<float*>(guard) - v.size();
    std::memcpy(data, v.data(), v.size() * 4);
  }
  ~Guarded() { munmap(base, bytes); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;
};

// Operands and outputs that end at an inaccessible page, unpadded (the last row of each is the end
// of its buffer): every path, transpose and edge-panel height must stay inside them (a transposed
// op(A) is read in place with whole-vector row sums, B panels are built from the last rows, C's
// last tile is written), and give the bits of the same call on ordinary memory.
void test_gemm_guard_pages() {
  const int64_t ms[] = {1, 5, 17, 29, 33, 257, 400};
  for (const std::string& isa : attnode::supported_isas()) {
    CHECK(attnode::set_isa(isa).empty());
    for (int64_t m : ms)
      for (int64_t n : {1, 33, 70})
        for (int64_t k : {7, 300})
          for (int t = 0; t < 4; ++t) {
            Case cs{m, n, k, (t & 1) != 0, (t & 2) != 0};
            cs.sums = true;
            cs.bias = (m + n) % 2 == 0;
            Data d = make(cs, 7000 + m * 31 + n * 7 + k + t);
            std::vector<float> sums_ref, sums_got;
            std::vector<uint8_t> mask;
            attnode::set_num_threads(2);
            const std::vector<float> want = run(d, true, &sums_ref, &mask);
            Guarded a(d.a), b(d.b), c(d.c0), sums(std::vector<float>(m, 0.f));
            GemmParams p = d.p;
            p.a = a.data; p.b = b.data; p.c = c.data;
            p.bias = d.bias.empty() ? nullptr : d.bias.data();
            p.row_sums_a = sums.data;
            attnode::gemm(p);
            context() = isa + " guard pages " + describe(cs);
            CHECK_MSG(std::memcmp(c.data, want.data(), want.size() * 4) == 0, "result differs from ordinary memory");
            CHECK_MSG(std::memcmp(sums.data, sums_ref.data(), m * 4) == 0, "row sums differ from ordinary memory");
          }
  }
  context().clear();
}

// Linear forward/backward against float64 sums, on both GEMM paths.
void test_linear() {
  for (const std::string& isa : attnode::supported_isas()) {
    CHECK(attnode::set_isa(isa).empty());
    for (int64_t rows : {1, 5, 37}) {
      const int64_t in = 45, out = 29;
      context() = isa + " linear rows=" + std::to_string(rows);
      Rng rng(77 + rows);
      std::vector<float> x(rows * in), w(out * in), b(out), dy(rows * out);
      fill(x, rng, 1.f); fill(w, rng, 1.f); fill(b, rng, 1.f); fill(dy, rng, 1.f);
      std::vector<float> y(rows * out), dx(rows * in), dw(out * in), db(out);
      poison(y); poison(dx); poison(dw); poison(db);
      attnode::linear_forward(rows, in, out, x.data(), w.data(), b.data(), y.data());
      attnode::linear_backward(rows, in, out, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
      std::vector<double> ry(rows * out), rdx(rows * in, 0.0), rdw(out * in, 0.0), rdb(out, 0.0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) {
          double s = b[o];
          for (int64_t i = 0; i < in; ++i) s += double(x[r * in + i]) * w[o * in + i];
          ry[r * out + o] = s;
          rdb[o] += dy[r * out + o];
          for (int64_t i = 0; i < in; ++i) {
            rdx[r * in + i] += double(dy[r * out + o]) * w[o * in + i];
            rdw[o * in + i] += double(dy[r * out + o]) * x[r * in + i];
          }
        }
      CHECK(gemm_error(y, ry) <= kTol);
      CHECK(gemm_error(dx, rdx) <= kTol);
      CHECK(gemm_error(dw, rdw) <= kTol);
      CHECK(gemm_error(db, rdb) <= kTol);
      // no input gradient, no bias: dx untouched
      poison(dx);
      attnode::linear_backward(rows, in, out, x.data(), w.data(), dy.data(), nullptr, dw.data(), nullptr);
      CHECK(gemm_error(dw, rdw) <= kTol);
      attnode::linear_forward(rows, in, out, x.data(), w.data(), nullptr, y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) ry[r * out + o] -= b[o];
      CHECK(gemm_error(y, ry) <= kTol);
    }
  }
}

// fp32 -> bf16 (nearest even) -> fp32: what the bf16 GEMM's packing does to each operand.
float round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) << 16;
  std::memcpy(&x, &u, 4);
  return x;
}

// The bf16 GEMM (GemmParams::bf16 on the avx512bf16 variant), padded leading dimensions, every
// transpose, odd sizes, bias and beta over a NaN-poisoned C: within the fp32 accumulation bound
// k 2^-24 sum |a b| of the float64 product of the rounded inputs, and the same bits for 1, 2, 3
// threads.
void test_gemm_bf16() {
  bool have = false;
  for (const std::string& isa : attnode::supported_isas()) have = have || isa == "avx512bf16";
  if (!have) { std::printf("bf16 GEMM: not tested (this CPU has no AVX512_BF16)\n"); return; }
  CHECK(attnode::set_isa("avx512bf16").empty());
  Rng rng(99);
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 40, 7}, {15, 33, 64}, {29, 65, 130}, {200, 31, 2}, {64, 96, 513},
                               {1, 300, 1000}, {8, 70, 129}, {5, 17, 31}};
  for (const auto& sh : shapes)
    for (int t = 0; t < 4; ++t) {
      const int64_t M = sh[0], N = sh[1], K = sh[2];
      GemmParams p;
      p.M = M; p.N = N; p.K = K; p.trans_a = t & 1; p.trans_b = t & 2; p.bf16 = true;
      p.lda = (p.trans_a ? M : K) + 3; p.ldb = (p.trans_b ? K : N) + 5; p.ldc = N + 2;
      const bool with_beta = (M + t) % 2 == 0;
      p.beta = with_beta ? 0.5f : 0.f;
      std::vector<float> a((p.trans_a ? K : M) * p.lda), b((p.trans_b ? N : K) * p.ldb), bias(N), c0(M * p.ldc);
      fill(a, rng, 1.f); fill(b, rng, 1.f); fill(bias, rng, 1.f); fill(c0, rng, 1.f);
      p.a = a.data(); p.b = b.data(); p.bias = bias.data();
      context() = "bf16 gemm M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) + " t=" + std::to_string(t);
      std::vector<float> results[3];
      for (int threads = 1; threads <= 3; ++threads) {
        std::vector<float> c = c0;
        if (!with_beta) poison(c);
        p.c = c.data();
        attnode::set_num_threads(threads);
        attnode::gemm(p);
        results[threads - 1] = c;
      }
      attnode::set_num_threads(2);
      CHECK_MSG(bitwise_equal(results[0], results[1]) && bitwise_equal(results[0], results[2]), "bits differ across thread counts");
      {
        // B given as bf16 bits (GemmParams::b16, an exactly sized array: an overread is an ASan
        // error): the same bits as rounding b while packing, on the few-row and the packed paths.
        std::vector<uint16_t> bits(b.size());
        attnode::to_bf16(b.data(), bits.data(), static_cast<int64_t>(b.size()));
        for (size_t i = 0; i < b.size(); i += 7) CHECK(attnode::bf16_widen(bits[i]) == round_bf16(b[i]));
        GemmParams q = p;
        std::vector<float> c = c0;
        if (!with_beta) poison(c);
        q.c = c.data(); q.b = nullptr; q.b16 = bits.data();
        attnode::gemm(q);
        CHECK_MSG(bitwise_equal(c, results[0]), "B as bf16 bits differs from fp32 B rounded while packing");
      }
      double worst = 0;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double s = 0, mag = 0;
          for (int64_t k = 0; k < K; ++k) {
            const double x = round_bf16(p.trans_a ? a[k * p.lda + i] : a[i * p.lda + k]);
            const double y = round_bf16(p.trans_b ? b[j * p.ldb + k] : b[k * p.ldb + j]);
            s += x * y; mag += std::fabs(x * y);
          }
          const double want = s + (with_beta ? 0.5 * c0[i * p.ldc + j] : 0.0) + bias[j];
          const double err = std::fabs(results[0][i * p.ldc + j] - want) / (K * std::ldexp(1.0, -24) * mag + 4e-7 * (1 + std::fabs(want)));
          worst = err > worst || std::isnan(err) ? err : worst;
        }
      CHECK_MSG(worst <= 1.0, "error above the fp32 accumulation bound: " + std::to_string(worst) + " of it");
      // Columns past N of each row of C (ldc padding) are never written.
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = N; j < p.ldc; ++j)
          CHECK_MSG(bitwise_equal(std::vector<float>{results[0][i * p.ldc + j]}, std::vector<float>{with_beta ? c0[i * p.ldc + j] : std::numeric_limits<float>::quiet_NaN()}) ||
                    (!with_beta && std::isnan(results[0][i * p.ldc + j])), "ldc padding written");
    }
  context().clear();
}

}  // namespace

int main() {
  test_gemm_all_isas();
  test_gemm_guard_pages();
  test_linear();
  test_gemm_bf16();
  attnode::set_isa(attnode::best_isa());
  return finish();
}
