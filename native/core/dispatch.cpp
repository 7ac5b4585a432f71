#include "core/dispatch.h"

#include <atomic>
#include <cstdlib>

#include "core/cpu_features.h"

namespace attnode {

#if ATTNODE_HAVE_AVX512 && ATTNODE_HAVE_AVX512BF16
// avx512 plus the bf16 GEMM: bf16 calls with work to do go to it, the rest (fp32 calls, and
// M, N, K or alpha zero, where A and B are not read) to avx512's fp32 GEMM.
static void gemm_avx512bf16(const GemmParams& p) {
  if (p.bf16 && p.M > 0 && p.N > 0 && p.K > 0 && p.alpha != 0.f) avx512bf16::gemm_bf16(p);
  else avx512::kernel_table().gemm(p);
}
// Attention likewise: bf16 requests to the bf16 kernel, fp32 ones to avx512's, unchanged.
static unsigned attention_forward_avx512bf16(const AttnShape& s, const AttnMasks& m, const AttnParams& p,
                                             const float* q, const float* k, const float* v, float* out, float* lse) {
  if (p.bf16) return avx512bf16::attention_forward_bf16(s, m, p, q, k, v, out, lse);
  return avx512::kernel_table().attention_forward(s, m, p, q, k, v, out, lse);
}
static unsigned attention_backward_avx512bf16(const AttnShape& s, const AttnMasks& m, const AttnParams& p,
                                              const float* q, const float* k, const float* v, const float* out,
                                              const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  if (p.bf16) return avx512bf16::attention_backward_bf16(s, m, p, q, k, v, out, lse, dout, dq, dk, dv);
  return avx512::kernel_table().attention_backward(s, m, p, q, k, v, out, lse, dout, dq, dk, dv);
}
static const KernelTable& avx512bf16_table() {
  const KernelTable& base = avx512::kernel_table();
  static const KernelTable t{"avx512bf16", attention_forward_avx512bf16, attention_backward_avx512bf16, base.ops,
                             gemm_avx512bf16};
  return t;
}
#endif

static const KernelTable* table_by_name(const std::string& name) {
  const CpuFeatures& f = cpu_features();
  if (name == "portable") return &portable::kernel_table();
  if (name == "avx2") return (f.avx2 && f.fma) ? &avx2::kernel_table() : nullptr;
#if ATTNODE_HAVE_AVX512
  if (name == "avx512")
    return (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma) ? &avx512::kernel_table() : nullptr;
#endif
#if ATTNODE_HAVE_AVX512 && ATTNODE_HAVE_AVX512BF16
  if (name == "avx512bf16")
    return (table_by_name("avx512") && f.avx512_bf16) ? &avx512bf16_table() : nullptr;
#endif
  return nullptr;
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (const char* n : {"portable", "avx2", "avx512", "avx512bf16"})
    if (table_by_name(n)) out.emplace_back(n);
  return out;
}

std::string best_isa() { return supported_isas().back(); }

static std::string& env_error() {
  static std::string e;
  return e;
}
const std::string& isa_env_error() { return env_error(); }

static const KernelTable* initial_table() {
  if (const char* env = std::getenv("ATTNODE_ISA")) {
    if (*env) {
      if (const KernelTable* t = table_by_name(env)) return t;
      std::string list;
      for (const auto& n : supported_isas()) list += (list.empty() ? "" : ", ") + n;
      env_error() = std::string("ATTNODE_ISA=") + env + " is not a variant this CPU and build support (supported: " + list + ")";
    }
  }
  return table_by_name(best_isa());
}

static std::atomic<const KernelTable*>& active() {
  static std::atomic<const KernelTable*> t{initial_table()};
  return t;
}

const KernelTable& active_kernels() { return *active().load(std::memory_order_acquire); }

std::string set_isa(const std::string& name) {
  const KernelTable* t = table_by_name(name);
  if (!t) {
    std::string list;
    for (const auto& n : supported_isas()) list += (list.empty() ? "" : ", ") + n;
    return "isa '" + name + "' is not supported here (supported: " + list + ")";
  }
  active().store(t, std::memory_order_release);
  return "";
}

unsigned attention_forward(const AttnShape& s, const AttnMasks& m, const AttnParams& p, const float* q,
                           const float* k, const float* v, float* out, float* lse) {
  return active_kernels().attention_forward(s, m, p, q, k, v, out, lse);
}

unsigned attention_backward(const AttnShape& s, const AttnMasks& m, const AttnParams& p, const float* q,
                            const float* k, const float* v, const float* out, const float* lse,
                            const float* dout, float* dq, float* dk, float* dv) {
  return active_kernels().attention_backward(s, m, p, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace attnode
