// Native timing of the attention kernels without Node: best-of-N forward and backward ms and
// GFLOP/s (allowed scores only) for one shape. For profiling (perf record) and tuning.
// usage: attention_kernel B H T D causal(0|1) [reps] [isa]
#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/dispatch.h"

int main(int argc, char** argv) {
  if (argc < 6) { std::fprintf(stderr, "usage: %s B H T D causal [reps] [isa]\n", argv[0]); return 2; }
  attnode::AttnShape s;
  s.B = std::atol(argv[1]); s.H = s.Hkv = std::atol(argv[2]); s.Tq = s.Tk = std::atol(argv[3]); s.D = std::atol(argv[4]);
  attnode::AttnMasks m; m.causal = std::atoi(argv[5]) != 0;
  const int reps = argc > 6 ? std::atoi(argv[6]) : 10;
  if (argc > 7) { std::string e = attnode::set_isa(argv[7]); if (!e.empty()) { std::fprintf(stderr, "%s\n", e.c_str()); return 2; } }
  attnode::AttnParams p; p.scale = 1.f / std::sqrt(float(s.D));
  const size_t n = size_t(s.B * s.Tq * s.H * s.D);
  std::vector<float> q(n), k(n), v(n), out(n), dout(n), dq(n), dk(n), dv(n), lse(size_t(s.B * s.H * s.Tq));
  std::mt19937 g(1); std::uniform_real_distribution<float> u(-1, 1);
  for (size_t i = 0; i < n; ++i) { q[i] = u(g); k[i] = u(g); v[i] = u(g); dout[i] = u(g); }
  // With ATTNODE_NUM_THREADS=1, CPU time (not wall time) is robust to other processes on the machine.
  const bool cpu_clock = std::getenv("ATTNODE_BENCH_CPUTIME") != nullptr;
  auto now = [cpu_clock] {
    timespec ts;
    clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  };
  double bf = 1e9, bb = 1e9;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    attnode::attention_forward(s, m, p, q.data(), k.data(), v.data(), out.data(), lse.data());
    const double t1 = now();
    attnode::attention_backward(s, m, p, q.data(), k.data(), v.data(), out.data(), lse.data(), dout.data(), dq.data(), dk.data(), dv.data());
    const double t2 = now();
    bf = std::min(bf, t1 - t0);
    bb = std::min(bb, t2 - t1);
  }
  const double pairs = m.causal ? double(s.B * s.H) * s.Tq * (s.Tq + 1) / 2 : double(s.B * s.H) * s.Tq * s.Tk;
  const double ff = 4.0 * s.D * pairs;
  std::printf("%s B=%ld H=%ld T=%ld D=%ld %s: fwd %.2f ms (%.0f GF/s) bwd %.2f ms (%.0f GF/s) fwd+bwd %.2f ms (%.0f GF/s)\n",
              attnode::active_kernels().name, long(s.B), long(s.H), long(s.Tq), long(s.D), m.causal ? "causal" : "none",
              bf, ff / bf / 1e6, bb, 2.5 * ff / bb / 1e6, bf + bb, 3.5 * ff / (bf + bb) / 1e6);
}
