// Measures the effective core clock and the FP32 FMA throughput, to state this CPU's FP32 peak
// (bench/attention.mjs prints the peak formula with these numbers; shared/reference/performance.md §3).
//
// Clock: a chain of dependent instructions with a known latency runs at (instructions x latency)
// cycles, so GHz = instructions x latency / ns. Two chains, as a cross-check:
//   - imul r64, r64: 3 cycles latency on every Intel core since Sandy Bridge. (A dependent
//     `add reg, imm` chain is NOT used: Golden Cove-class renamers can fold immediate adds.)
//   - vfmadd231ps zmm: 4 cycles latency on Skylake-SP .. Sapphire Rapids.
// Throughput: 12 independent zmm FMA accumulators (more than ports x latency = 2 x 4 = 8 in flight)
// give FMA/ns; divided by the measured GHz it gives FMA instructions per cycle per core (the number
// of 512-bit FMA units, 2 on Sapphire Rapids). With AVX512_BF16, 12 independent vdpbf16ps
// accumulators give the bf16 dot-product peak (64 flops per instruction).
//
// Time is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time: on a machine
// shared with other processes a thread that is descheduled would otherwise count as a slow clock.
// The share of wall time the threads actually ran is reported too ("cpu_share").
//
// Inline asm keeps the compiler from folding the chains; this file is built with the CMake benches'
// -march=x86-64-v2, so the AVX-512 parts run only when cpuid reports avx512f.
// Usage: clock [--threads N] [--reps R] [--ms M] [--json]   (N: run N copies at once, default: 1 then
// hardware threads; the multi-thread figure is the all-core clock).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

namespace {

using Clock = std::chrono::steady_clock;

// 8 dependent imuls per iteration: 24 cycles, the loop counter runs alongside.
uint64_t imul_chain(uint64_t iters) {
  uint64_t x = 1;
  for (uint64_t i = 0; i < iters; ++i) {
    asm volatile(
        "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
        "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
        : "+r"(x));
  }
  return x;
}

// 8 dependent FMAs on zmm0 per iteration (all zeros: no denormal slowdowns).
void fma_chain(uint64_t iters) {
  asm volatile("vpxord %%zmm0, %%zmm0, %%zmm0\n\tvpxord %%zmm1, %%zmm1, %%zmm1\n\t"
               "vpxord %%zmm2, %%zmm2, %%zmm2" ::: "xmm0", "xmm1", "xmm2");
  for (uint64_t i = 0; i < iters; ++i) {
    asm volatile(
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\tvfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\tvfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\tvfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\tvfmadd231ps %%zmm1, %%zmm2, %%zmm0\n\t"
        ::: "xmm0", "xmm1", "xmm2");
  }
  asm volatile("vzeroupper" ::: "memory");
}

// 12 independent FMA accumulators per iteration: the throughput limit.
void fma_throughput(uint64_t iters) {
  asm volatile(
      "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvpxord %%zmm1, %%zmm1, %%zmm1\n\tvpxord %%zmm2, %%zmm2, %%zmm2\n\t"
      "vpxord %%zmm3, %%zmm3, %%zmm3\n\tvpxord %%zmm4, %%zmm4, %%zmm4\n\tvpxord %%zmm5, %%zmm5, %%zmm5\n\t"
      "vpxord %%zmm6, %%zmm6, %%zmm6\n\tvpxord %%zmm7, %%zmm7, %%zmm7\n\tvpxord %%zmm8, %%zmm8, %%zmm8\n\t"
      "vpxord %%zmm9, %%zmm9, %%zmm9\n\tvpxord %%zmm10, %%zmm10, %%zmm10\n\tvpxord %%zmm11, %%zmm11, %%zmm11\n\t"
      "vpxord %%zmm12, %%zmm12, %%zmm12\n\tvpxord %%zmm13, %%zmm13, %%zmm13"
      ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13");
  for (uint64_t i = 0; i < iters; ++i) {
    asm volatile(
        "vfmadd231ps %%zmm12, %%zmm13, %%zmm0\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm1\n\t"
        "vfmadd231ps %%zmm12, %%zmm13, %%zmm2\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm3\n\t"
        "vfmadd231ps %%zmm12, %%zmm13, %%zmm4\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm5\n\t"
        "vfmadd231ps %%zmm12, %%zmm13, %%zmm6\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm7\n\t"
        "vfmadd231ps %%zmm12, %%zmm13, %%zmm8\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm9\n\t"
        "vfmadd231ps %%zmm12, %%zmm13, %%zmm10\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm11\n\t"
        ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11");
  }
  asm volatile("vzeroupper" ::: "memory");
}

// 12 independent vdpbf16ps zmm accumulators (AVX512_BF16): each instruction is 16 lanes x 2 bf16
// products added to fp32, 64 flops; the bf16 peak the bf16 GEMM is held against.
void bf16_throughput(uint64_t iters) {
  asm volatile(
      "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvpxord %%zmm1, %%zmm1, %%zmm1\n\tvpxord %%zmm2, %%zmm2, %%zmm2\n\t"
      "vpxord %%zmm3, %%zmm3, %%zmm3\n\tvpxord %%zmm4, %%zmm4, %%zmm4\n\tvpxord %%zmm5, %%zmm5, %%zmm5\n\t"
      "vpxord %%zmm6, %%zmm6, %%zmm6\n\tvpxord %%zmm7, %%zmm7, %%zmm7\n\tvpxord %%zmm8, %%zmm8, %%zmm8\n\t"
      "vpxord %%zmm9, %%zmm9, %%zmm9\n\tvpxord %%zmm10, %%zmm10, %%zmm10\n\tvpxord %%zmm11, %%zmm11, %%zmm11\n\t"
      "vpxord %%zmm12, %%zmm12, %%zmm12\n\tvpxord %%zmm13, %%zmm13, %%zmm13"
      ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13");
  for (uint64_t i = 0; i < iters; ++i) {
    asm volatile(
        "vdpbf16ps %%zmm12, %%zmm13, %%zmm0\n\tvdpbf16ps %%zmm12, %%zmm13, %%zmm1\n\t"
        "vdpbf16ps %%zmm12, %%zmm13, %%zmm2\n\tvdpbf16ps %%zmm12, %%zmm13, %%zmm3\n\t"
        "vdpbf16ps %%zmm12, %%zmm13, %%zmm4\n\tvdpbf16ps %%zmm12, %%zmm13, %%zmm5\n\t"
        "vdpbf16ps %%zmm12, %%zmm13, %%zmm6\n\tvdpbf16ps %%zmm12, %%zmm13, %%zmm7\n\t"
        "vdpbf16ps %%zmm12, %%zmm13, %%zmm8\n\tvdpbf16ps %%zmm12, %%zmm13, %%zmm9\n\t"
        "vdpbf16ps %%zmm12, %%zmm13, %%zmm10\n\tvdpbf16ps %%zmm12, %%zmm13, %%zmm11\n\t"
        ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11");
  }
  asm volatile("vzeroupper" ::: "memory");
}

enum class Kind { Imul, FmaChain, FmaThroughput, Bf16Throughput };
constexpr double kImulLatency = 3, kFmaLatency = 4;
constexpr double kInstrPerIter[] = {8, 8, 12, 12};

double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct Rate {
  double per_ns = 0;     // instructions per nanosecond of this thread's CPU time
  double cpu_share = 0;  // CPU time / wall time of the run
};

// Runs `kind` for about `ms` milliseconds of CPU time on one thread.
Rate rate(Kind kind, double ms) {
  // Calibrate the iteration count on a short run, then time the real one.
  uint64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_ns();
    if (kind == Kind::Imul) {
      volatile uint64_t sink = imul_chain(iters);
      (void)sink;
    } else if (kind == Kind::FmaChain) {
      fma_chain(iters);
    } else if (kind == Kind::FmaThroughput) {
      fma_throughput(iters);
    } else {
      bf16_throughput(iters);
    }
    const double ns = thread_cpu_ns() - c0;
    const double wall = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    if (ns >= ms * 1e6 * 0.9) return {kInstrPerIter[static_cast<int>(kind)] * iters / ns, ns / std::max(wall, 1.0)};
    iters = static_cast<uint64_t>(iters * std::min(64.0, std::max(1.5, ms * 1e6 / std::max(ns, 1.0))));
  }
}

struct Result {
  double imul_ghz = 0, fma_chain_ghz = 0, fma_per_ns = 0, bf16_per_ns = 0, cpu_share = 1;
};

// Best of `reps` on each of `threads` concurrent copies (copies start together at a barrier).
std::vector<Result> measure(int threads, int reps, double ms, bool avx512, bool bf16) {
  std::vector<Result> res(threads);
  std::atomic<int> ready{0};
  auto body = [&](int t) {
    ready.fetch_add(1);
    while (ready.load() < threads) {
    }
    Result& r = res[t];
    for (int i = 0; i < reps; ++i) {
      const Rate a = rate(Kind::Imul, ms);
      r.imul_ghz = std::max(r.imul_ghz, a.per_ns * kImulLatency);
      r.cpu_share = std::min(r.cpu_share, a.cpu_share);
      if (avx512) {
        const Rate b = rate(Kind::FmaChain, ms), c = rate(Kind::FmaThroughput, ms);
        r.fma_chain_ghz = std::max(r.fma_chain_ghz, b.per_ns * kFmaLatency);
        r.fma_per_ns = std::max(r.fma_per_ns, c.per_ns);
        r.cpu_share = std::min({r.cpu_share, b.cpu_share, c.cpu_share});
      }
      if (bf16) {
        const Rate d = rate(Kind::Bf16Throughput, ms);
        r.bf16_per_ns = std::max(r.bf16_per_ns, d.per_ns);
        r.cpu_share = std::min(r.cpu_share, d.cpu_share);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(body, t);
  for (auto& th : pool) th.join();
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  int only_threads = 0, reps = 5;
  double ms = 40;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) only_threads = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--ms" && i + 1 < argc) ms = std::max(1.0, std::atof(argv[++i]));
    else if (a == "--json") json = true;
    else {
      std::fprintf(stderr, "usage: clock [--threads N] [--reps R] [--ms M] [--json]\n");
      return 2;
    }
  }
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> counts;
  if (only_threads > 0) counts.push_back(only_threads);
  else {
    counts.push_back(1);
    if (hw > 1) counts.push_back(hw);
  }

  std::string out = "{\"avx512f\":" + std::string(avx512 ? "true" : "false") +
                    ",\"avx512bf16\":" + std::string(bf16 ? "true" : "false") +
                    ",\"imul_latency_cycles\":3,\"fma_latency_cycles\":4,\"fp32_lanes\":16,\"runs\":[";
  for (size_t c = 0; c < counts.size(); ++c) {
    const int n = counts[c];
    const std::vector<Result> r = measure(n, reps, ms, avx512, bf16);
    // Per-copy figures: the clock is the slowest copy's (what a parallel kernel sees), the FMA
    // throughput is summed over the copies.
    double imul = 1e30, chain = 1e30, fma = 0, fma_min = 1e30, share = 1, bfdp = 0;
    for (const Result& x : r) {
      share = std::min(share, x.cpu_share);
      imul = std::min(imul, x.imul_ghz);
      chain = std::min(chain, x.fma_chain_ghz);
      fma += x.fma_per_ns;
      fma_min = std::min(fma_min, x.fma_per_ns);
      bfdp += x.bf16_per_ns;
    }
    const double ghz = avx512 ? chain : imul;
    const double fma_per_cycle = avx512 && ghz > 0 ? fma_min / ghz : 0;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"threads\":%d,\"imul_ghz\":%.3f,\"fma_chain_ghz\":%.3f,\"fma_per_ns_total\":%.3f,"
                  "\"fma_per_cycle_per_core\":%.3f,\"fp32_fma_gflops_total\":%.1f,\"bf16_dp_per_ns_total\":%.3f,"
                  "\"bf16_dp_gflops_total\":%.1f,\"min_cpu_share\":%.2f}",
                  c ? "," : "", n, imul, avx512 ? chain : 0.0, fma, fma_per_cycle, fma * 32, bfdp, bfdp * 64, share);
    out += buf;
    if (!json)
      std::printf("%d thread(s): clock %.2f GHz (imul chain) / %.2f GHz (zmm FMA chain); "
                  "zmm FMA %.2f/ns total = %.2f per cycle per core -> %.0f GFLOP/s fp32 "
                  "(per CPU-second; threads got >= %.0f%% of wall time)\n",
                  n, imul, avx512 ? chain : 0.0, fma, fma_per_cycle, fma * 32, 100 * share);
    if (!json && bf16)
      std::printf("%d thread(s): zmm vdpbf16ps %.2f/ns total -> %.0f GFLOP/s bf16 (64 flops each)\n", n, bfdp, bfdp * 64);
  }
  out += "]}";
  if (json) std::printf("%s\n", out.c_str());
  return 0;
}
